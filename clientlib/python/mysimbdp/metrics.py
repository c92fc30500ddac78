"""Metric reports to the monitor, sent for the app by the package.

:class:`Sink` counts the rows it is given and the time of each unit,
:class:`Stream` the messages settled and their time, :class:`Rows` the
rows rejected, all into :func:`default_metrics`: a handle opened from
``ZMQ_METRICS_ENDPOINT`` on first use, reporting every second, closed
(one last report) when the interpreter exits, after the Streams still
open have handed it their counts. An app that reports by itself passes
``metrics=None`` to them, or its own :class:`Metrics`.
Reporting never blocks the app for a monitor that is absent or slow.
"""
from __future__ import annotations

import atexit
import ctypes
import threading
import weakref
from typing import Optional

from ._lib import LIB, TEMPFAIL, U32_MAX, U64_MAX, Handle, MysimbdpError, \
    c_int_in, cstr

MESSAGES, ROWS, BYTES, ERRORS, INGEST_US = 1, 2, 3, 4, 5


class Metrics(Handle):
    """A report channel to the monitor (libmysimbdp's msb_metrics).
    Closing sends a last report, waiting at most 1 s. Safe to share
    between threads (the shared default is): calls take turns."""

    _close_fn = "msb_metrics_close"

    def __init__(self, endpoint: Optional[str] = None, app: str = "batch",
                 instance: Optional[str] = None, *, env=None):
        """Opens from the environment contract when endpoint is None
        (a stream app's reports then carry its tenant and stream), else
        to endpoint ("" counts but never sends)."""
        # The C object has a lock of its own; this one keeps close()
        # from freeing it under a call in flight on another thread
        # (ctypes lets go of the GIL in each call). Re-entrant: a signal
        # handler or a __del__ run by the GC between two bytecodes of
        # add's loop may report on the thread that holds it (a SIGTERM
        # handler closing a Sink or Stream), which deadlocked on a plain
        # Lock. It comes only between two C calls: the object is sound.
        self._lock = threading.RLock()
        if endpoint is None:
            from .env import c_env
            self._h = LIB.msb_metrics_open_env(ctypes.byref(
                env if env is not None else c_env()))
        else:
            self._h = LIB.msb_metrics_open(cstr("endpoint", endpoint),
                                           cstr("app", app),
                                           cstr("instance", instance or ""))
        if not self._h:
            raise MysimbdpError("metrics: cannot open: "
                                f"{ctypes.get_errno() or 'error'}")

    def add(self, *, messages: int = 0, rows: int = 0, bytes: int = 0,
            errors: int = 0, ingest_us: Optional[int] = None) -> None:
        """Counts figures; ingest_us is one ingest time sample. Sends a
        report when the interval has passed."""
        counts = [(metric, c_int_in("count", n, 0, U64_MAX))
                  for metric, n in ((MESSAGES, messages), (ROWS, rows),
                                    (BYTES, bytes), (ERRORS, errors)) if n]
        if ingest_us is not None:
            counts.append((INGEST_US, min(U64_MAX, max(0, int(ingest_us)))))
        with self._lock:
            for metric, n in counts:
                LIB.msb_metrics_add(self._h, metric, n)

    def set_interval(self, ms: int) -> None:
        """The report interval (default 1000 ms; 0: only flush())."""
        ms = c_int_in("ms", ms, 0, U32_MAX)
        with self._lock:
            LIB.msb_metrics_set_interval(self._h, ms)

    def flush(self) -> bool:
        """Sends a report now. False when it was dropped (no monitor)."""
        with self._lock:
            rc = LIB.msb_metrics_flush(self._h)
        if rc < 0 and rc != TEMPFAIL:
            raise MysimbdpError("metrics: send failed", rc)
        return rc == 0

    def tick(self) -> None:
        """Sends a report, even empty, if the interval has passed: call
        it while idle so the monitor hears from the app."""
        with self._lock:
            LIB.msb_metrics_tick(self._h)

    def counts(self) -> tuple[int, int]:
        """(reports sent, reports dropped) so far."""
        sent, dropped = ctypes.c_uint64(), ctypes.c_uint64()
        with self._lock:
            LIB.msb_metrics_counts(self._h, ctypes.byref(sent),
                                   ctypes.byref(dropped))
        return sent.value, dropped.value

    def close(self) -> None:
        with self._lock:
            super().close()


_default: Optional[Metrics] = None
_default_failed = False
# Objects that keep counts for the shared handle until their next report
# (a Stream reports between batches). One the app left open is destroyed
# only at the interpreter's teardown, after the atexit handlers: the
# handler has them report first, then closes the handle.
_holders: "weakref.WeakSet" = weakref.WeakSet()


def hold_counts(obj, metrics: Optional[Metrics]) -> None:
    """Notes obj when it reports into the shared handle (metrics): at
    exit, before the last report, obj._report_at_exit() hands over what
    obj still counts."""
    if metrics is not None and metrics is _default:
        _holders.add(obj)


def _close_default() -> None:
    try:
        for obj in list(_holders):
            obj._report_at_exit()
    finally:
        if _default is not None:
            _default.close()


def default_metrics() -> Optional[Metrics]:
    """The process's handle, opened from the environment on first use;
    None when the environment has no contract (an app run by hand)."""
    global _default, _default_failed
    if _default is None and not _default_failed:
        try:
            _default = Metrics()
        except MysimbdpError:
            _default_failed = True
            return None
        atexit.register(_close_default)
    return _default


class _Auto:
    """The default of ``metrics=``: :func:`default_metrics`."""

    def __repr__(self) -> str:
        return "AUTO"


AUTO = _Auto()


def resolve(metrics) -> Optional[Metrics]:
    return default_metrics() if metrics is AUTO else metrics

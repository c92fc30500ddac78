"""Stream apps: messages from streammgr, in batches, each acked, nacked
or rejected (docs/protocols.md, "Work").

Delivery is at least once: a message not settled within the stream's
ack_timeout, or whose instance dies, comes again, so process messages
idempotently (upsert by a key of the message, as the samples do).
"""
from __future__ import annotations

import _thread
import array
import ctypes
import os
import signal
import threading
import time
from typing import Iterator, List, Optional

from ._lib import (LIB, OK, STOPPED, TEMPFAIL, Handle, MysimbdpError, c_int_in,
                   c_ms, check, cstr, errbuf, text)
from .metrics import AUTO, hold_counts, resolve

# A batch's per-message loops, and msg.ack(), in C
# (clientlib/python/batch.c), where it was built; the same in Python
# otherwise, or with MYSIMBDP_PYTHON_PURE=1.
_batch = None
if os.environ.get("MYSIMBDP_PYTHON_PURE", "") in ("", "0"):
    try:
        import _mysimbdp_batch as _batch
    except ImportError:
        pass

if _batch is not None:
    _MessageBase = _batch.MessageBase
else:
    class _MessageBase:
        __slots__ = ("id", "data", "_stream", "settled")

        def __init__(self, stream: "Stream", id: int, data: bytes):
            self.id = id
            self.data = data
            self._stream = stream
            self.settled = False


class Message(_MessageBase):
    """One delivery: ``id`` (pass to ack/nack/reject), ``data`` (bytes);
    ``settled`` once acked, nacked or rejected here."""

    __slots__ = ()

    def _ack(self) -> None:
        """Done: stored, or nothing to store."""
        self._stream._settle(self, LIB.msb_stream_ack(self._stream.handle,
                                                      self.id), error=False)

    # With the module, ack is MessageBase's: _ack's work in C (the
    # library's msb_stream_ack, the message settled and counted in the
    # Stream's Acker), and _ack itself for what it leaves to Python.
    if _batch is None:
        ack = _ack

    def nack(self, reason: Optional[str] = None) -> None:
        """Give it back for another delivery, now (a passing failure)."""
        self._stream._settle(self, LIB.msb_stream_nack(
            self._stream.handle, self.id, _b(reason)), error=True)

    def reject(self, reason: str) -> None:
        """It never can be processed: to the dead letters with reason."""
        self._stream._settle(self, LIB.msb_stream_reject(
            self._stream.handle, self.id, _b(reason)), error=True)

    def __repr__(self) -> str:
        return f"Message(id={self.id}, data={self.data[:40]!r})"


def _b(s: Optional[str]) -> Optional[bytes]:
    return s.encode("utf-8", "replace") if s is not None else None


class Batch(List[Message]):
    """The messages that were waiting, up to the batch size."""

    def ack_all(self) -> None:
        """Acks every message of the batch not settled yet (one call into
        the library for them all)."""
        if _batch is not None:
            self._ack_all_c()
            return
        todo = [m for m in self if not m.settled]
        if not todo:
            return
        stream = todo[0]._stream
        # array fills from a list in C; a ctypes array filled item by
        # item cost nearly as much as building the batch's messages.
        ids = array.array("Q", [m.id for m in todo])
        check(LIB.msb_stream_ack_many(
            stream.handle, (ctypes.c_uint64 * len(todo)).from_buffer(ids),
            len(todo)), stream._error)
        nbytes = 0
        for m in todo:
            m.settled = True
            nbytes += len(m.data)
        stream._count(len(todo), nbytes, 0)

    def _ack_all_c(self) -> None:
        ids = (ctypes.c_uint64 * max(len(self), 1))()
        todo, nbytes = _batch.unsettled(self, ctypes.addressof(ids),
                                        len(self))
        if not todo:
            return
        stream = todo[0]._stream
        check(LIB.msb_stream_ack_many(stream.handle, ids, len(todo)),
              stream._error)
        # The ones acked, not the batch: another thread may have added
        # to it while the acks went out (ctypes lets go of the GIL).
        _batch.settle(todo)
        stream._count(len(todo), nbytes, 0)


# The library installs its SIGTERM/SIGINT handlers, when the first stream
# opens, only where the disposition is SIG_DFL; Python's own SIGINT
# handler would only run once the library's wait returned. The library's
# handler it is: the first Stream stands Python's aside, and the last to
# close puts it back (every Stream open needs the library's, as the
# library counts its streams). signal.signal() works only in the main
# thread: a last close on another has the main thread put it back, as a
# pending call (Py_AddPendingCall), between two of its bytecodes. The
# lock is re-entrant for that call: it may come while the main thread
# itself holds the lock, and the state is sound at every bytecode.
_sigint_lock = threading.RLock()
_sigint_users = 0
_sigint_saved = None     # Python's handler, while the library's stands
_sigint_pending = False  # a give-back waits for the main thread


def _sigint_hold() -> None:
    global _sigint_users, _sigint_saved
    with _sigint_lock:
        _sigint_users += 1
        if (_sigint_users == 1 and _sigint_saved is None and
                threading.current_thread() is threading.main_thread() and
                signal.getsignal(signal.SIGINT) is
                signal.default_int_handler):
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _sigint_saved = signal.default_int_handler


def _sigint_release() -> None:
    global _sigint_users, _sigint_pending
    with _sigint_lock:
        _sigint_users -= 1
        if threading.current_thread() is threading.main_thread():
            _sigint_give_back()
        elif (_sigint_users == 0 and _sigint_saved is not None and
                not _sigint_pending and _PENDING is not None and
                _PENDING(_SIGINT_ON_MAIN, None) == 0):
            _sigint_pending = True
        # Else (no pending call: not CPython, or its queue full) the next
        # last close in the main thread gives it back.


def _sigint_give_back() -> None:
    # On the main thread, with _sigint_lock held.
    global _sigint_saved
    if _sigint_users > 0 or _sigint_saved is None:
        return
    # Unless the app has put its own in the meantime.
    if signal.getsignal(signal.SIGINT) is signal.SIG_DFL:
        signal.signal(signal.SIGINT, _sigint_saved)
    _sigint_saved = None


def _sigint_on_main(_arg) -> int:
    # The pending call. It returns 0 whatever happens: an exception
    # would be lost in ctypes, and -1 makes the main thread raise.
    global _sigint_pending
    try:
        with _sigint_lock:
            _sigint_pending = False
            _sigint_give_back()
    except KeyboardInterrupt:
        # A SIGINT taken by the handler just put back: raised again
        # where the main thread's code runs.
        try:
            _thread.interrupt_main()
        except Exception:
            pass
    except Exception:
        # Modules torn down at exit: nothing to give back to.
        pass
    return 0


def _pending_call():
    api = getattr(ctypes, "pythonapi", None)
    if api is None or not hasattr(api, "Py_AddPendingCall"):
        return None, None
    proto = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
    add = ctypes.PYFUNCTYPE(ctypes.c_int, proto, ctypes.c_void_p)(
        ("Py_AddPendingCall", api))
    cb = proto(_sigint_on_main)
    # Never freed: a call still queued when the modules are torn down
    # at exit would jump to a freed closure.
    ctypes.PYFUNCTYPE(None, ctypes.py_object)(("Py_IncRef", api))(cb)
    return add, cb


_PENDING, _SIGINT_ON_MAIN = _pending_call()


class Stream(Handle):
    """The app's connection to streammgr.

    ``Stream()`` connects to ``ZMQ_STREAM_ENDPOINT`` as
    ``MYSIMBDP_INSTANCE``. credit is how many unacked messages the app may
    hold (default 1024); keep it several times the batch size, so
    streammgr sends the next batch while the app stores this one. SIGTERM
    (and SIGINT) ask the stream to stop, as in a C app: iteration ends
    once streammgr has answered the app's BYE; settle what you got, then
    close (``with`` does); SIGINT is Python's again once the last Stream
    has closed (closed on another thread: once the main thread runs
    Python code again). Metrics (messages, bytes, rejected, ingest time
    from delivery to settling) are reported by themselves.
    """

    _close_fn = "msb_stream_close"
    _holds_sigint = False
    _acker = None

    def __init__(self, credit: int = 0, *, endpoint: Optional[str] = None,
                 instance: Optional[str] = None, metrics=AUTO):
        if endpoint is None or instance is None:
            from .env import Env
            env = Env.load()
            endpoint = endpoint or env.stream_endpoint
            instance = instance or env.instance
        h, err = ctypes.c_void_p(), errbuf()
        credit = c_int_in("credit", credit, 0, 65536)
        endpoint_b = cstr("endpoint", endpoint or "")
        instance_b = cstr("instance", instance or "")
        _sigint_hold()
        self._holds_sigint = True
        rc = LIB.msb_stream_open(ctypes.byref(h), endpoint_b, instance_b,
                                 credit, err, len(err))
        if rc != OK:
            self._release_sigint()
            check(rc, lambda: text(err.value))
        self._h = h
        self._metrics = resolve(metrics)
        # Over the counts and the mark: the app's threads settle, and
        # the report at exit runs on the main thread. Re-entrant, as a
        # signal handler closing the Stream may come inside _count.
        self._counts_lock = threading.RLock()
        if _batch is not None:
            # With the module the counts and mark are the Acker's:
            # msg.ack() counts into it in C, each change whole under the
            # GIL, without a Python call (batch.c).
            self._acker = _batch.Acker(self, h.value, ctypes.cast(
                LIB.msb_stream_ack, ctypes.c_void_p).value)
        else:
            # messages, bytes, errors, ingest ns
            self._counts = [0, 0, 0, 0]
            self._mark = time.monotonic_ns()
        self._stopped = False
        self._max = 0                 # the arrays below hold this many
        hold_counts(self, self._metrics)

    def _release_sigint(self) -> None:
        if self._holds_sigint:
            self._holds_sigint = False
            _sigint_release()

    def _error(self) -> str:
        return text(LIB.msb_stream_error(self._h))

    def _settle(self, m: Message, rc: int, error: bool) -> None:
        check(rc, self._error)
        m.settled = True
        self._count(1, len(m.data), error)

    def _count(self, n: int, nbytes: int, errors: int) -> None:
        if self._acker is not None:
            self._acker.count(n, nbytes, errors)
            return
        # Ingest time: from the batch's arrival or the last settling to
        # now, so the samples add up to the time spent on the messages:
        # in ns, cut to us only when reported (cut a sample, an ack a
        # microsecond apart lost half of it).
        now = time.monotonic_ns()
        with self._counts_lock:
            c = self._counts
            c[0] += n
            c[1] += nbytes
            c[2] += errors
            c[3] += now - self._mark
            self._mark = now

    def _counted(self) -> List[int]:
        """messages, bytes, errors, ingest ns counted since the last
        report."""
        if self._acker is not None:
            return self._acker.counts()
        return list(self._counts)

    def _report(self) -> None:
        # The counts are taken before add, which may wait (for the
        # Metrics' lock, or up to 1 s for a connection): the report at
        # exit on another thread meanwhile does not add them again, and
        # what is settled meanwhile waits for the next report. _metrics
        # is read once, as that report sets it to None.
        m = self._metrics
        if m is None:
            return
        with self._counts_lock:
            if self._acker is not None:
                c = self._acker.take()
            else:
                c = self._counts
                if c[0]:
                    # The part of a microsecond not reported goes to
                    # the next report.
                    self._counts = [0, 0, 0, c[3] % 1000]
        if c[0]:
            m.add(messages=c[0], rows=c[0] - c[2], bytes=c[1],
                  errors=c[2], ingest_us=c[3] // 1000)
        else:
            m.tick()

    def _report_at_exit(self) -> None:
        # The shared Metrics closes next: what is counted after (by a
        # close at teardown) has nowhere to go.
        try:
            if self._counted()[0]:
                self._report()
        finally:
            self._metrics = None

    def _arrays(self, max_messages: int) -> None:
        if max_messages > self._max:
            self._ids = (ctypes.c_uint64 * max_messages)()
            self._lens = (ctypes.c_size_t * max_messages)()
            self._data = ctypes.c_void_p()
            self._n = ctypes.c_size_t()
            self._refs = (ctypes.byref(self._data), ctypes.byref(self._n))
            self._max = max_messages

    def _recv_batch(self, max_messages: int, timeout_ms: int):
        """The messages waiting (one call into the library), or None."""
        rc = LIB.msb_stream_recv_batch(self.handle, max_messages, timeout_ms,
                                       self._ids, self._lens, *self._refs)
        if rc == OK:
            n, batch = self._n.value, Batch()
            if _batch is not None:
                # data is NULL (None) while every payload so far was
                # empty: the library has no buffer yet.
                _batch.fill(batch, Message, self, n,
                            ctypes.addressof(self._ids),
                            ctypes.addressof(self._lens),
                            self._data.value or 0)
            else:
                lens = self._lens[:n]
                blob = ctypes.string_at(self._data.value, sum(lens))
                off = 0
                for mid, ln in zip(self._ids[:n], lens):
                    batch.append(Message(self, mid, blob[off:off + ln]))
                    off += ln
            if self._acker is not None:
                self._acker.mark()
            else:
                self._mark = time.monotonic_ns()
            return batch
        if rc == STOPPED:
            self._stopped = True
        if rc in (TEMPFAIL, STOPPED):
            return None
        raise MysimbdpError(self._error(), rc)

    def batches(self, max_messages: int = 256,
                timeout: float = 1.0) -> Iterator[Batch]:
        """Yields the messages waiting, up to max_messages (1 to 65536)
        at a time, waiting for the first one (between waits of
        ``timeout`` seconds metrics are reported); ends when a stop was
        asked and done. ValueError for max_messages out of range."""
        # Checked here, not when iteration starts: the arrays the library
        # writes into are max_messages long.
        max_messages = c_int_in("max_messages", max_messages, 1, 65536)
        wait_ms = c_ms("timeout", max(0.0, timeout))
        self._arrays(max_messages)
        return self._batches(max_messages, wait_ms)

    def _batches(self, max_messages: int, wait_ms: int) -> Iterator[Batch]:
        while True:
            self._report()
            batch = self._recv_batch(max_messages, wait_ms)
            if batch is not None:
                yield batch
            elif self._stopped:
                return

    def __iter__(self) -> Iterator[Message]:
        """The messages one at a time (see batches)."""
        for batch in self.batches():
            yield from batch

    @property
    def stopped(self) -> bool:
        """A stop was asked and is complete: nothing more will come."""
        return self._stopped

    @property
    def stopping(self) -> bool:
        """A stop was asked (SIGTERM, SIGINT or stop())."""
        return bool(LIB.msb_stream_stopping(self.handle))

    def stop(self) -> None:
        """Asks to stop, as SIGTERM does."""
        LIB.msb_stream_stop(self.handle)

    def flush(self) -> None:
        """Sends the queued acks."""
        check(LIB.msb_stream_flush(self.handle), self._error)

    def close(self) -> None:
        """Sends the queued acks and closes (at most 1 s)."""
        if self._h:
            try:
                self._report()
            finally:
                # Before the library's close: an ack in C after it
                # would go to a freed stream.
                if self._acker is not None:
                    self._acker.close()
                super().close()
                self._release_sigint()

"""The C library, loaded once, with the prototypes of what the package calls.

libmysimbdp is found, in this order, at ``$MYSIMBDP_LIBRARY`` (a path:
how an app uses a library built in the tree), then by the dynamic linker
as ``libmysimbdp.so.0`` (an installed library: ``/usr/local/lib`` once
``ldconfig`` has run, or ``LD_LIBRARY_PATH``).
"""
from __future__ import annotations

import ctypes
import operator
import os
import warnings
import weakref
from typing import Optional
from ctypes import (CFUNCTYPE, POINTER, Structure, c_bool, c_char_p, c_int,
                    c_int32, c_size_t, c_uint, c_uint32, c_uint64, c_void_p)

from . import __version__

OK, ERROR, TEMPFAIL, BADDOC, STOPPED = 0, -1, -2, -3, 1
ERRLEN = 1024


class MysimbdpError(Exception):
    """A failure reported by libmysimbdp, with the library's message.

    ``code`` is the library's return code; ``exit_code`` the status an
    app exits with for it (75: try again later, 65: bad data, 1: other),
    as the managers expect.
    """

    code = ERROR

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def exit_code(self) -> int:
        return LIB.msb_exit_code(self.code)


class TempFail(MysimbdpError):
    """Try again later (the store is unreachable, the disk is full):
    exit 75 and the manager retries without using up a retry."""

    code = TEMPFAIL


class BadDocument(MysimbdpError):
    """One document was refused; the sink stays usable."""

    code = BADDOC


def error_for(rc: int, message: str) -> MysimbdpError:
    """The exception for return code rc."""
    cls = {TEMPFAIL: TempFail, BADDOC: BadDocument}.get(rc, MysimbdpError)
    return cls(message, rc)


def check(rc: int, message) -> int:
    """Raises for a negative return code; message may be a callable."""
    if rc < 0:
        raise error_for(rc, message() if callable(message) else message)
    return rc


INT_MAX = 2**31 - 1
U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
SIZE_MAX = 2**(8 * ctypes.sizeof(ctypes.c_size_t)) - 1


def c_int_in(name: str, value, lo: int, hi: int) -> int:
    """value, an integer from lo to hi, for a C parameter; ValueError
    otherwise. ctypes wraps an integer out of a C type's range without a
    word (-1 as size_t is SIZE_MAX: the library would write that many)."""
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, not "
                        f"{type(value).__name__}") from None
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be {lo} to {hi}, not {v}")
    return v


def c_ms(name: str, seconds: float, lo: int = 0) -> int:
    """seconds as milliseconds for a C int parameter (c_int_in)."""
    return c_int_in(name, int(seconds * 1000), lo, INT_MAX)


def cstr(name: str, value) -> Optional[bytes]:
    """value (str, bytes or a path; None stays None) as a C string,
    encoded as os.environ and file names are (os.fsencode: bytes that
    are not UTF-8 come back as they were). ValueError for a NUL, where C
    would cut the string short ("evil\\0../x" naming "evil")."""
    if value is None:
        return None
    b = os.fsencode(value)
    if b"\0" in b:
        raise ValueError(f"{name} holds a NUL byte: {value!r}")
    return b


def errbuf():
    return ctypes.create_string_buffer(ERRLEN)


def text(b: bytes | None) -> str:
    return b.decode("utf-8", "replace") if b else ""


class Env(Structure):
    _fields_ = [(name, c_char_p) if name != "kind" else (name, c_int)
                for name in ("kind", "tenant", "instance", "mongo_url",
                             "mongo_db", "metrics_endpoint", "input_file",
                             "dataset", "result_file", "stream",
                             "stream_endpoint")]


class SinkStats(Structure):
    _fields_ = [("added", c_uint64), ("inserted", c_uint64),
                ("already_present", c_uint64), ("units", c_uint64),
                ("rejected", c_uint64)]


REJECT_FN = CFUNCTYPE(None, c_void_p, c_uint64, c_char_p)
REPLY_CB = CFUNCTYPE(None, c_uint64, c_int, c_char_p, c_void_p)

_PROTOS = {
    "msb_init": (c_int, []),
    "msb_version": (c_char_p, []),
    "msb_strerror": (c_char_p, [c_int]),
    "msb_exit_code": (c_int, [c_int]),
    "msb_env_load": (c_int, [POINTER(Env), c_char_p, c_size_t]),
    "msb_sha256_hex": (None, [c_char_p, c_size_t, c_char_p]),
    "msb_file_hash": (c_int, [c_char_p, c_char_p]),
    "msb_doc_id": (c_char_p, [c_char_p, c_char_p, c_uint64]),
    "msb_sink_open": (c_int, [POINTER(c_void_p), c_char_p, c_char_p,
                              c_char_p, c_char_p, c_size_t]),
    "msb_sink_set_write_concern": (c_int, [c_void_p, c_int, c_bool,
                                           c_int32]),
    "msb_sink_set_batch_size": (c_int, [c_void_p, c_size_t]),
    "msb_sink_add_bson": (c_int, [c_void_p, c_char_p, c_size_t]),
    "msb_sink_upsert_bson": (c_int, [c_void_p, c_char_p, c_size_t]),
    "msb_sink_commit": (c_int, [c_void_p, c_char_p]),
    "msb_sink_on_reject": (None, [c_void_p, REJECT_FN, c_void_p]),
    "msb_sink_all_rejected": (c_bool, [c_void_p]),
    "msb_sink_outcome": (c_char_p, [c_void_p]),
    "msb_sink_error": (c_char_p, [c_void_p]),
    "msb_sink_kind": (c_char_p, [c_void_p]),
    "msb_sink_stats": (None, [c_void_p, POINTER(SinkStats)]),
    "msb_sink_close": (None, [c_void_p]),
    "msb_rows_open": (c_int, [POINTER(c_void_p), c_char_p, c_char_p, c_uint,
                              c_char_p, c_size_t]),
    "msb_rows_next": (c_int, [c_void_p, POINTER(c_void_p), POINTER(c_size_t),
                              POINTER(c_uint64)]),
    "msb_rows_hash": (c_char_p, [c_void_p]),
    "msb_rows_error": (c_char_p, [c_void_p]),
    "msb_rows_errno": (c_int, [c_void_p]),
    "msb_rows_counts": (None, [c_void_p, POINTER(c_uint64),
                               POINTER(c_uint64)]),
    "msb_rows_close": (None, [c_void_p]),
    "msb_result_write_sink_bson": (c_int, [c_char_p, c_uint64, c_uint64,
                                           c_void_p, c_char_p, c_size_t]),
    "msb_metrics_open": (c_void_p, [c_char_p, c_char_p, c_char_p]),
    "msb_metrics_open_env": (c_void_p, [POINTER(Env)]),
    "msb_metrics_set_interval": (None, [c_void_p, c_uint32]),
    "msb_metrics_add": (None, [c_void_p, c_int, c_uint64]),
    "msb_metrics_flush": (c_int, [c_void_p]),
    "msb_metrics_tick": (c_int, [c_void_p]),
    "msb_metrics_counts": (None, [c_void_p, POINTER(c_uint64),
                                  POINTER(c_uint64)]),
    "msb_metrics_close": (None, [c_void_p]),
    "msb_stream_open": (c_int, [POINTER(c_void_p), c_char_p, c_char_p,
                                c_uint32, c_char_p, c_size_t]),
    "msb_stream_recv_batch": (c_int, [c_void_p, c_size_t, c_int,
                                      POINTER(c_uint64), POINTER(c_size_t),
                                      POINTER(c_void_p), POINTER(c_size_t)]),
    "msb_stream_ack": (c_int, [c_void_p, c_uint64]),
    "msb_stream_ack_many": (c_int, [c_void_p, POINTER(c_uint64), c_size_t]),
    "msb_stream_nack": (c_int, [c_void_p, c_uint64, c_char_p]),
    "msb_stream_reject": (c_int, [c_void_p, c_uint64, c_char_p]),
    "msb_stream_flush": (c_int, [c_void_p]),
    "msb_stream_stop": (None, [c_void_p]),
    "msb_stream_stopping": (c_int, [c_void_p]),
    "msb_stream_error": (c_char_p, [c_void_p]),
    "msb_stream_close": (None, [c_void_p]),
    "msb_producer_open": (c_int, [POINTER(c_void_p), c_char_p, c_uint32,
                                  REPLY_CB, c_void_p, c_char_p, c_size_t]),
    "msb_producer_open_remote": (c_int, [POINTER(c_void_p), c_char_p,
                                         c_char_p, c_char_p, c_char_p,
                                         c_uint32, REPLY_CB, c_void_p,
                                         c_char_p, c_size_t]),
    "msb_producer_send": (c_int, [c_void_p, c_char_p, c_size_t,
                                  POINTER(c_uint64)]),
    "msb_producer_send_many": (c_int, [c_void_p, c_char_p, c_void_p,
                                       c_size_t,
                                       POINTER(c_size_t), POINTER(c_uint64)]),
    "msb_producer_poll": (c_int, [c_void_p, c_int]),
    "msb_producer_flush": (c_int, [c_void_p, c_int]),
    "msb_producer_outstanding": (c_uint32, [c_void_p]),
    "msb_producer_set_reply_timeout": (None, [c_void_p, c_int]),
    "msb_producer_set_quiet_ok": (None, [c_void_p, c_bool]),
    "msb_producer_set_batch": (None, [c_void_p, c_size_t, c_int]),
    "msb_producer_counts": (None, [c_void_p, POINTER(c_uint64 * 3)]),
    "msb_producer_error": (c_char_p, [c_void_p]),
    "msb_producer_close": (None, [c_void_p]),
}


def weak_method(obj, name: str):
    """A function calling obj's method name while obj lives (then
    nothing), for a callback obj keeps for the library: a bound method
    kept there would be a reference cycle, and obj dropped without
    close() would hold its library object until a garbage collection."""
    ref = weakref.ref(obj)

    def call(*args):
        o = ref()
        return getattr(o, name)(*args) if o is not None else None
    return call


class Handle:
    """A library object held by a Python one: closed once, by close(),
    at the end of a ``with`` block, or when its last reference goes (no
    cycle holds it: callbacks kept for the library use weak_method); used
    after that, it raises MysimbdpError. A subclass sets ``_h``, passes
    ``handle`` to the library, and names the library's close function in
    ``_close_fn``."""

    _h = None
    _close_fn = ""

    @property
    def handle(self):
        """The library's object; raises MysimbdpError once closed."""
        if not self._h:
            raise MysimbdpError(f"{type(self).__name__}: closed")
        return self._h

    def close(self) -> None:
        if self._h:
            getattr(LIB, self._close_fn)(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_h", None):
            self.close()


def _load() -> ctypes.CDLL:
    path = os.environ.get("MYSIMBDP_LIBRARY") or "libmysimbdp.so.0"
    try:
        lib = ctypes.CDLL(path, use_errno=True)
    except OSError as e:
        raise ImportError(
            f"mysimbdp: cannot load libmysimbdp ({path}): {e}; install it "
            "(meson install) or set MYSIMBDP_LIBRARY to its path") from e
    for name, (restype, argtypes) in _PROTOS.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    lib.msb_init()
    version = lib.msb_version().decode()
    if version != __version__:
        warnings.warn(f"mysimbdp {__version__} on libmysimbdp {version}: "
                      "the package and the library should be one version")
    return lib


LIB = _load()

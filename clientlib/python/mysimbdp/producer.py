"""Producers: messages into a stream's ingress socket, each with its reply
(docs/protocols.md, "Ingress"): OK once stored, REJECT (never, as it is),
THROTTLE (not now: send it again later)."""
from __future__ import annotations

import array
import ctypes
import enum
import os
from typing import Callable, NamedTuple, Optional, Sequence, Union

from ._lib import (LIB, OK, REPLY_CB, SIZE_MAX, TEMPFAIL, U32_MAX, Handle,
                   c_int_in, c_ms, check, cstr, errbuf, error_for, text,
                   weak_method)


class Status(enum.IntEnum):
    OK = 0
    REJECT = 1
    THROTTLE = 2


_STATUSES = (Status.OK, Status.REJECT, Status.THROTTLE)
# The array typecode of size_t.
_SIZE_T = next(t for t in "LQI" if array.array(t).itemsize ==
               ctypes.sizeof(ctypes.c_size_t))


class Reply(NamedTuple):
    """A message's outcome: seq (what send returned), status, reason
    (None for OK; "too-large: ...", "rate: ...", "no-reply: ...")."""

    seq: int
    status: Status
    reason: Optional[str]


ReplyFn = Callable[[Reply], None]


def ingress_endpoint(state_dir: str, tenant: str,
                     stream: str = "default") -> str:
    """The ingress endpoint of a stream on this host:
    ``ipc://<state_dir>/run/<tenant>/<stream>.in``."""
    return f"ipc://{os.path.abspath(state_dir)}/run/{tenant}/{stream}.in"


class Producer(Handle):
    """Sends messages to one stream; up to ``window`` await their reply.

    Each message's reply goes to the callback given to :meth:`send` or,
    without one, to ``on_reply``; without either, a reply other than OK
    is kept in :attr:`failed` and :attr:`counts` has them all (the OKs
    are then counted in C, not called back: the fast path). Callbacks run
    inside send, poll and flush; one may close the producer: it is the
    last, and the call that made it raises MysimbdpError. A THROTTLE,
    and a "no-reply" (streammgr restarted, or no reply within
    reply_timeout), means: send it again later. Closing waits at most
    1 s for sent messages to leave, and drops the replies not handled:
    flush first (``with`` does, unless an exception ends the block).

    Messages sent while others await their reply travel together in
    batches of up to ``batch_bytes`` (default 64 KiB; 0: each alone),
    held at most ``linger`` seconds (default 0.001) or until the next
    call: see msb_producer_set_batch() in mysimbdp.h.

    A producer on another host gives the node's ``tcp://HOST:PORT`` as
    endpoint with ``stream="TENANT/STREAM"``, ``key`` (the file of the
    tenant's key pair, from ``mysimbdp keygen``) and ``server_key`` (the
    node's public key, or a file of it): see msb_producer_open_remote().
    """

    _close_fn = "msb_producer_close"

    def __init__(self, endpoint: str, window: int = 1000, *,
                 on_reply: Optional[ReplyFn] = None,
                 reply_timeout: Optional[float] = None,
                 batch_bytes: Optional[int] = None,
                 linger: Optional[float] = None,
                 stream: Optional[str] = None,
                 key: Optional[str] = None,
                 server_key: Optional[str] = None):
        self._on_reply = on_reply
        self._callbacks: dict[int, ReplyFn] = {}
        self._raised: Optional[BaseException] = None
        self.failed: list[Reply] = []
        # Alive with the producer, and not keeping it alive.
        self._cb = REPLY_CB(weak_method(self, "_trampoline"))
        window = c_int_in("window", window, 0, U32_MAX)
        if reply_timeout is not None:
            reply_ms = c_ms("reply_timeout", reply_timeout, 1)
        if batch_bytes is not None:
            batch_bytes = c_int_in("batch_bytes", batch_bytes, 0, SIZE_MAX)
        linger_ms = -1 if linger is None else c_ms("linger", linger)
        h, err = ctypes.c_void_p(), errbuf()
        if stream is None and key is None and server_key is None:
            rc = LIB.msb_producer_open(ctypes.byref(h),
                                       cstr("endpoint", endpoint),
                                       window, self._cb, None, err,
                                       len(err))
        else:
            rc = LIB.msb_producer_open_remote(
                ctypes.byref(h), cstr("endpoint", endpoint),
                cstr("stream", stream), cstr("key", key),
                cstr("server_key", server_key),
                window, self._cb, None, err, len(err))
        check(rc, lambda: text(err.value))
        self._h = h
        self._seq = ctypes.c_uint64()
        self._seq_ref = ctypes.byref(self._seq)
        self._send = LIB.msb_producer_send
        self._quiet = on_reply is None
        LIB.msb_producer_set_quiet_ok(h, self._quiet)
        if reply_timeout is not None:
            LIB.msb_producer_set_reply_timeout(h, reply_ms)
        if batch_bytes is not None or linger is not None:
            LIB.msb_producer_set_batch(
                h, 65536 if batch_bytes is None else batch_bytes, linger_ms)

    def _trampoline(self, seq, status, reason, _arg) -> None:
        reply = Reply(seq, _STATUSES[status], text(reason) if reason
                      else None)
        fn = self._callbacks.pop(seq, None) or self._on_reply
        try:
            if fn is not None:
                fn(reply)
            elif reply.status != Status.OK:
                self.failed.append(reply)
        except BaseException as e:     # raised again once out of C
            if self._raised is None:
                self._raised = e

    def _raise(self, rc: int, **attrs) -> None:
        """After a call into the library: raises its error for rc < 0
        (with attrs), chained to what a callback raised meanwhile, else
        what a callback raised, if anything."""
        raised, self._raised = self._raised, None
        if rc < 0:
            err = error_for(rc, self._error())
            err.__dict__.update(attrs)
            raise err from raised
        if raised is not None:
            raise raised

    def _error(self) -> str:
        if not self._h:    # after a call whose callback closed it
            return "Producer: closed by a reply callback"
        return text(LIB.msb_producer_error(self._h))

    def send(self, data: Union[bytes, str],
             callback: Optional[ReplyFn] = None) -> int:
        """Sends one message; returns its seq. Waits only while the
        window is full. Raises TempFail when no streammgr took it (it was
        not sent). What a callback raised meanwhile is raised once the
        message went (callback then gets its reply), or chained to the
        error."""
        if isinstance(data, str):
            data = data.encode()
        if callback is not None and self._quiet:
            # OKs matter from now on: call them back.
            LIB.msb_producer_set_quiet_ok(self.handle, False)
            self._quiet = False
        rc = self._send(self.handle, data, len(data), self._seq_ref)
        seq = self._seq.value
        if rc == OK and callback is not None:
            self._callbacks[seq] = callback
        if rc or self._raised is not None:
            self._raise(rc)
        return seq

    def send_many(self, messages: Sequence[Union[bytes, str]]) -> range:
        """Sends messages in order with one call into the library (the
        fast way to send many); returns their seqs. Their replies go to
        ``on_reply`` (or :attr:`failed`). Raises TempFail when one could
        not be sent: ``sent`` on the exception says how many were (what
        a callback raised meanwhile is chained to it)."""
        data = messages if isinstance(messages, (list, tuple)) \
            else list(messages)
        n = len(data)
        if n == 0:
            return range(0)
        # Back to back in one buffer, lengths in a size_t array; str
        # messages (join refuses them) are encoded first.
        try:
            blob = b"".join(data)
        except TypeError:
            data = [m.encode() if isinstance(m, str) else m for m in data]
            blob = b"".join(data)
        lens = array.array(_SIZE_T, map(len, data))
        sent, first = ctypes.c_size_t(), ctypes.c_uint64()
        rc = LIB.msb_producer_send_many(self.handle, blob,
                                        lens.buffer_info()[0], n,
                                        ctypes.byref(sent),
                                        ctypes.byref(first))
        self._raise(rc, sent=sent.value)
        return range(first.value, first.value + n)

    def poll(self, timeout: float = 0) -> int:
        """Handles the replies that came, waiting up to timeout seconds
        for one; returns how many. A malformed reply from streammgr read
        after some is raised (MysimbdpError) by the next call."""
        n = LIB.msb_producer_poll(self.handle, c_ms("timeout", timeout))
        self._raise(n)
        return n

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Waits for every reply (timeout None: the reply timeout). True
        when all came; False when some were written off as no-reply."""
        rc = LIB.msb_producer_flush(
            self.handle, -1 if timeout is None else c_ms("timeout", timeout))
        self._raise(OK if rc == TEMPFAIL else rc)
        return rc == OK

    @property
    def counts(self) -> dict:
        """Replies so far: {"ok": n, "rejected": n, "throttled": n}
        (messages written off as no-reply count as throttled)."""
        c = (ctypes.c_uint64 * 3)()
        LIB.msb_producer_counts(self.handle, ctypes.byref(c))
        return {"ok": c[0], "rejected": c[1], "throttled": c[2]}

    @property
    def outstanding(self) -> int:
        """Messages sent and not yet replied to."""
        return LIB.msb_producer_outstanding(self.handle)

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None and self._h:
                self.flush()
        finally:
            self.close()

"""Documents into the store: MongoDB or the embedded store of BSON files.

A thin layer over libmysimbdp's sink, which holds the store's format, the
checks every document passes and the counts of what the store did, so a
document written from Python is stored byte for byte as one from C.
"""
from __future__ import annotations

import ctypes
import time
from typing import Any, Callable, Mapping, NamedTuple, Optional

import bson
from bson.raw_bson import RawBSONDocument

from ._lib import (INT_MAX, LIB, REJECT_FN, SIZE_MAX, Handle,
                   SinkStats as CStats, c_int_in, check, cstr, errbuf,
                   error_for, text, weak_method)
from .metrics import AUTO, resolve

MAJORITY, DEFAULT = -3, -2


class SinkStats(NamedTuple):
    """What the store did with the documents (see msb_sink_stats)."""

    added: int
    inserted: int
    already_present: int
    units: int
    rejected: int


def encode(doc: Mapping[str, Any] | bytes) -> bytes:
    """BSON bytes of a document: a dict (``bson`` types), a
    RawBSONDocument, or bytes already BSON."""
    if isinstance(doc, (bytes, bytearray, memoryview)):
        return bytes(doc)
    if isinstance(doc, RawBSONDocument):
        return doc.raw
    return bson.encode(doc)


class Sink(Handle):
    """One collection of a store, written in units of work.

    ``Sink("listings")`` opens the store of the environment contract
    (``MONGO_URL``, ``MONGO_DB``); ``url`` and ``db`` name another. Rows
    are counted for the monitor (``metrics=None``: not).
    insert and upsert return the document's seq (0, 1, 2, ... for the
    documents this sink accepted). The store may refuse a document for
    good at a later write (another unique index, validation): its seq
    and the store's reason land in :attr:`rejections` (a stream app
    rejects that message instead of acking it), and ``on_reject(seq,
    reason)`` is called if given. Closing drops what was not committed
    (the file store; MongoDB may hold batches sent before).
    """

    _close_fn = "msb_sink_close"

    def __init__(self, collection: str, url: Optional[str] = None,
                 db: Optional[str] = None, *, metrics=AUTO,
                 on_reject: Optional[Callable[[int, str], None]] = None):
        if url is None or db is None:
            from .env import Env
            env = Env.load()
            url = url or env.mongo_url
            db = db or env.mongo_db
        h, err = ctypes.c_void_p(), errbuf()
        rc = LIB.msb_sink_open(ctypes.byref(h), cstr("url", url or ""),
                               cstr("db", db or ""),
                               cstr("collection", collection), err, len(err))
        check(rc, lambda: text(err.value))
        self._h = h
        self._metrics = resolve(metrics)
        self._unit_start = time.monotonic()
        self._added = 0
        self.rejections: dict[int, str] = {}
        self._raised: Optional[BaseException] = None
        self._user_reject = on_reject
        # Alive with the sink, and not keeping it alive.
        self._reject_cb = REJECT_FN(weak_method(self, "_rejected"))
        LIB.msb_sink_on_reject(h, self._reject_cb, None)

    def _error(self) -> str:
        return text(LIB.msb_sink_error(self._h))

    def _rejected(self, _arg, seq: int, reason: bytes) -> None:
        self.rejections[seq] = text(reason)
        try:
            if self._user_reject is not None:
                self._user_reject(seq, text(reason))
        except BaseException as e:     # ctypes would print and drop it
            if self._raised is None:
                self._raised = e

    def _check(self, rc: int) -> None:
        """After a call into the library: its error for rc < 0, chained
        to what on_reject raised meanwhile, else that, if anything."""
        raised, self._raised = self._raised, None
        if rc < 0:
            raise error_for(rc, self._error()) from raised
        if raised is not None:
            raise raised

    def on_reject(self, fn: Callable[[int, str], None]) -> None:
        """Calls fn(seq, reason) for each document the store rejects."""
        self._user_reject = fn

    def set_write_concern(self, w: int = MAJORITY, journal: bool = True,
                          wtimeout_ms: int = 10000) -> None:
        """MongoDB's write concern (w: nodes, 1 or more, MAJORITY or
        DEFAULT; 0, unacknowledged, is refused)."""
        check(LIB.msb_sink_set_write_concern(
            self.handle, c_int_in("w", w, -INT_MAX - 1, INT_MAX), journal,
            c_int_in("wtimeout_ms", wtimeout_ms, 0, INT_MAX)), self._error)

    def set_batch_size(self, ndocs: int) -> None:
        """Documents per bulk write to MongoDB (default 1000)."""
        check(LIB.msb_sink_set_batch_size(
            self.handle, c_int_in("ndocs", ndocs, 0, SIZE_MAX)), self._error)

    def _accepted(self) -> int:
        if self._metrics is not None:
            self._metrics.add(rows=1)
        self._added += 1
        return self._added - 1

    def insert(self, doc: Mapping[str, Any] | bytes) -> int:
        """Adds doc to the unit; returns its seq. Raises BadDocument
        when doc is refused (the sink stays usable), TempFail or
        MysimbdpError when a batch sent to MongoDB failed."""
        data = encode(doc)
        self._check(LIB.msb_sink_add_bson(self.handle, data, len(data)))
        return self._accepted()

    def upsert(self, key: Any, doc: Mapping[str, Any]) -> int:
        """At commit, the document whose _id is key becomes doc (with
        _id key, first); returns its seq. The last upsert of a key in a
        unit wins."""
        body = {"_id": key}
        body.update((k, v) for k, v in doc.items() if k != "_id")
        data = bson.encode(body)
        self._check(LIB.msb_sink_upsert_bson(self.handle, data, len(data)))
        return self._accepted()

    def commit(self, unit: Optional[str] = None) -> None:
        """Ends the unit: everything inserted or upserted is durable when
        it returns. unit names it (a batch file: its content hash, so a
        rerun replaces it); None for a stream. A unit name is committed
        once per Sink: a second commit of it raises (MSB_ERROR)."""
        self._check(LIB.msb_sink_commit(self.handle, cstr("unit", unit)))
        if self._metrics is not None:
            now = time.monotonic()
            self._metrics.add(ingest_us=(now - self._unit_start) * 1e6)
            self._unit_start = now

    @property
    def stats(self) -> SinkStats:
        st = CStats()
        LIB.msb_sink_stats(self.handle, ctypes.byref(st))
        return SinkStats(st.added, st.inserted, st.already_present,
                         st.units, st.rejected)

    @property
    def outcome(self) -> str:
        """"I inserted, P already present, S rejected"."""
        return text(LIB.msb_sink_outcome(self.handle))

    @property
    def all_rejected(self) -> bool:
        """The store rejected every document it was given: exit 65."""
        return bool(LIB.msb_sink_all_rejected(self.handle))

    @property
    def error(self) -> str:
        return self._error()

    @property
    def kind(self) -> str:
        """"mongodb" or "file"."""
        return text(LIB.msb_sink_kind(self.handle))



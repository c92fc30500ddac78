"""CSV files as typed rows, read by the library's CSV reader and schema."""
from __future__ import annotations

import ctypes
import os
from typing import Any, Callable, Iterator, Mapping, Optional, Union

import bson
from bson.raw_bson import RawBSONDocument

from ._lib import (BADDOC, ERROR, LIB, OK, STOPPED, Handle, MysimbdpError,
                   check, cstr, errbuf, error_for, text)
from .metrics import AUTO, resolve

NO_ID = 0x1
SchemaSpec = Union[str, Mapping[str, Any], None]


class DataError(MysimbdpError):
    """The input will never work as it is (malformed CSV, a header
    without the schema's columns): exit 65, the file goes to failed/."""

    @property
    def exit_code(self) -> int:
        return 65


def rows_error(rc: int, message: str, read_errno: int = 0) -> MysimbdpError:
    """The exception for a failed msb_rows_next(): DataError for
    MSB_ERROR (the input will never work) unless a read failed (EIO is
    no fault of the data: a plain MysimbdpError, retried as batchmgr's
    ``retries`` say); otherwise the library's (TempFail for out of
    memory, a read error that may pass)."""
    if rc == ERROR and read_errno == 0:
        return DataError(message, rc)
    return error_for(rc, message)


def schema_text(schema: SchemaSpec) -> Optional[str]:
    """Schema text from a spec: text as in a schema file
    (``"id:integer:required\\nprice:double\\n*:string"``), or a mapping of
    column to type (``{"id": ("integer", "required"), "price": "double",
    "*": "string"}``), or None (every column a string)."""
    if schema is None or isinstance(schema, str):
        return schema
    lines = []
    for name, spec in schema.items():
        parts = [spec] if isinstance(spec, str) else list(spec)
        lines.append(":".join([name] + parts))
    return "\n".join(lines) + "\n"


class Rows(Handle):
    """An iterator over the rows of a CSV file, as dicts (or, with
    ``raw=True``, RawBSONDocument: no decoding, the fastest way to pass
    rows to a sink unchanged).

    Each row starts with ``_id``: the document id of the file's content
    and the record number, as ``mysimbdp load`` gives (``ids=False``:
    none). A record that does not convert is not yielded: it is counted,
    passed to ``on_reject(record, reason)`` if given, and its reason kept
    in ``rejects`` (the first 100). Iterating raises DataError for
    malformed CSV or a missing column (TempFail for out of memory or a
    read error that may pass, MysimbdpError for another read error such
    as EIO: not the data's fault), after the rows before it. A file
    written to since it was opened (hashed) raises TempFail ("changed
    while it was read") before any row read after the write, so a Sink
    sending batches as it goes stores none under ids of other content.
    """

    MAX_KEPT = 100
    _close_fn = "msb_rows_close"

    def __init__(self, path: str | os.PathLike, schema: SchemaSpec = None,
                 *, ids: bool = True, raw: bool = False,
                 on_reject: Optional[Callable[[int, str], None]] = None,
                 metrics=AUTO):
        h, err = ctypes.c_void_p(), errbuf()
        text_ = schema_text(schema)
        rc = LIB.msb_rows_open(ctypes.byref(h), cstr("path", path),
                               cstr("schema", text_),
                               0 if ids else NO_ID, err, len(err))
        check(rc, lambda: text(err.value))
        self._h = h
        self._raw = raw
        self._on_reject = on_reject
        self._metrics = resolve(metrics)
        self.rejects: list[tuple[int, str]] = []
        self.path = os.fspath(path)

    @property
    def content_hash(self) -> str:
        """The SHA-256 of the file: the unit key for Sink.commit()."""
        return text(LIB.msb_rows_hash(self.handle))

    @property
    def counts(self) -> tuple[int, int]:
        """(rows converted, rows rejected) so far."""
        n, rej = ctypes.c_uint64(), ctypes.c_uint64()
        LIB.msb_rows_counts(self.handle, ctypes.byref(n), ctypes.byref(rej))
        return n.value, rej.value

    def __iter__(self) -> Iterator[Any]:
        data, length, record = ctypes.c_void_p(), ctypes.c_size_t(), \
            ctypes.c_uint64()
        nxt = LIB.msb_rows_next
        refs = ctypes.byref(data), ctypes.byref(length), ctypes.byref(record)
        decode = RawBSONDocument if self._raw else bson.decode
        while True:
            rc = nxt(self.handle, *refs)
            if rc == OK:
                yield decode(ctypes.string_at(data.value, length.value))
            elif rc == BADDOC:
                self._rejected(record.value)
            elif rc == STOPPED:
                return
            else:
                raise rows_error(rc, text(LIB.msb_rows_error(self._h)),
                                 LIB.msb_rows_errno(self._h))

    def _rejected(self, record: int) -> None:
        reason = text(LIB.msb_rows_error(self.handle))
        if len(self.rejects) < self.MAX_KEPT:
            self.rejects.append((record, reason))
        if self._metrics is not None:
            self._metrics.add(errors=1)
        if self._on_reject is not None:
            self._on_reject(record, reason)



def read_csv(path: str | os.PathLike, schema: SchemaSpec = None,
             **kwargs) -> Rows:
    """Opens a CSV file with a header row for reading typed rows (see
    :class:`Rows`); types: string, integer, double, boolean, date."""
    return Rows(path, schema, **kwargs)

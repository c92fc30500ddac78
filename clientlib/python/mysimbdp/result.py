"""The result summary a batch app leaves for its manager."""
from __future__ import annotations

import os
from typing import Any, Optional

import bson

from ._lib import LIB, MysimbdpError, cstr
from .sink import Sink


def write_result(rows: int, rejected_rows: int = 0,
                 sink: Optional[Sink] = None, path: Optional[str] = None,
                 **extra: Any) -> None:
    """Writes {"rows", "rejected_rows", ["inserted", "already_present",
    "store_rejected", "store_error",] **extra} to path (default
    ``MYSIMBDP_RESULT_FILE``; unset: nothing is written), atomically.
    rows are the documents given to the sink, rejected_rows the input rows
    the app refused itself; with sink, what the store did with them."""
    if path is None:
        path = os.environ.get("MYSIMBDP_RESULT_FILE", "")
    if not path:
        return
    data = bson.encode(extra) if extra else b""
    rc = LIB.msb_result_write_sink_bson(cstr("path", path), rows, rejected_rows,
                                        sink.handle if sink else None,
                                        data or None, len(data))
    if rc != 0:
        raise MysimbdpError(f"result file {path}: cannot write", rc)

"""Content hashes and deterministic document ids (the library's)."""
from __future__ import annotations

import ctypes
import os

from ._lib import LIB, U64_MAX, MysimbdpError, c_int_in, cstr


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of data as 64 lowercase hex digits."""
    out = ctypes.create_string_buffer(65)
    LIB.msb_sha256_hex(data, len(data), out)
    return out.value.decode()


def file_hash(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's content: the unit key of a batch file."""
    out = ctypes.create_string_buffer(65)
    if LIB.msb_file_hash(cstr("path", path), out) != 0:
        err = ctypes.get_errno() or 0
        raise MysimbdpError(f"{os.fsdecode(path)}: {os.strerror(err)}"
                            if err else f"{os.fsdecode(path)}: cannot hash")
    return out.value.decode()


def doc_id(content_hash: str, row: int) -> str:
    """``"<first 24 hex of the hash>:<row>"``: the same content and row
    always give the same id, so a rerun inserts nothing twice."""
    out = ctypes.create_string_buffer(48)
    if LIB.msb_doc_id(out, cstr("content_hash", content_hash),
                      c_int_in("row", row, 0, U64_MAX)) is None:
        raise ValueError("content_hash must start with 24 hex digits")
    return out.value.decode()

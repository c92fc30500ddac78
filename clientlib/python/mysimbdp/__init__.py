"""mysimbdp: tenant apps in Python, on libmysimbdp.

The package binds the C client library (ctypes), so the work and ingress
protocols, the embedded store's format and the document ids have one
implementation, shared with the C apps and ``mysimbdp load``:

- :class:`Env` reads the environment contract the managers give an app;
- :func:`read_csv` reads a CSV file as typed rows, each with the
  deterministic ``_id`` of the file's content and record number;
- :class:`Sink` writes documents (dicts with ``bson`` types) to MongoDB
  or to the embedded store, as units of work;
- :class:`Stream` receives a stream's messages in batches, to ack, nack
  or reject; :class:`Producer` sends messages and gets each one's reply;
- :func:`write_result` writes a batch app's result summary;
- metric reports go to the monitor by themselves (:mod:`.metrics`).

Errors are :class:`MysimbdpError` (``TempFail``: exit 75, try again
later; ``DataError``: exit 65, the input will never work) with the
library's message.
"""
__version__ = "0.1.0"

# Exit statuses the managers understand (docs/tenant-guide.md).
EXIT_DATAERR = 65     # batch: the file will never work: failed/ at once
EXIT_TEMPFAIL = 75    # try again later: no retry used up
EXIT_PERMANENT = 125  # stream: do not restart (the set-up is wrong)

# The names below load their modules on first use (PEP 562): a producer
# does not pay for the bson module, a stream app not for the CSV reader.
_WHERE = {
    "BadDocument": "_lib", "MysimbdpError": "_lib", "TempFail": "_lib",
    "Env": "env", "doc_id": "ids", "file_hash": "ids", "sha256_hex": "ids",
    "Metrics": "metrics", "default_metrics": "metrics",
    "Producer": "producer", "Reply": "producer", "Status": "producer",
    "ingress_endpoint": "producer", "write_result": "result",
    "DataError": "rows", "Rows": "rows", "read_csv": "rows",
    "Sink": "sink", "SinkStats": "sink", "Batch": "stream",
    "Message": "stream", "Stream": "stream",
}


def __getattr__(name: str):
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'mysimbdp' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f".{where}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_WHERE))


__all__ = [
    "BadDocument", "Batch", "DataError", "Env", "Message", "Metrics",
    "MysimbdpError", "Producer", "Reply", "Rows", "Sink", "SinkStats",
    "Status", "Stream", "TempFail", "default_metrics", "doc_id",
    "file_hash", "ingress_endpoint", "read_csv", "sha256_hex",
    "write_result", "library_version",
]


def library_version() -> str:
    """The version of the libmysimbdp loaded."""
    from ._lib import LIB
    return LIB.msb_version().decode()

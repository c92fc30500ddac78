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

from ._lib import (BadDocument, MysimbdpError,  # noqa: E402
                   TempFail)
from .env import Env  # noqa: E402
from .ids import doc_id, file_hash, sha256_hex  # noqa: E402
from .metrics import Metrics, default_metrics  # noqa: E402
from .producer import Producer, Reply, Status, ingress_endpoint  # noqa: E402
from .result import write_result  # noqa: E402
from .rows import DataError, Rows, read_csv  # noqa: E402
from .sink import Sink, SinkStats  # noqa: E402
from .stream import Batch, Message, Stream  # noqa: E402

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

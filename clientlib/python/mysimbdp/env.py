"""The environment contract: what the managers give every app."""
from __future__ import annotations

import ctypes
import os
from typing import NamedTuple, Optional

from ._lib import LIB, MysimbdpError, errbuf, text

BATCH, STREAM = 1, 2


class Env(NamedTuple):
    """The contract's variables (docs/tenant-guide.md); None when unset.
    Values are decoded as os.environ's are (os.fsdecode): a file name
    that is not UTF-8 keeps its bytes, and os.fsencode gives them back.

    ``kind`` is ``"batch"`` (``MYSIMBDP_INPUT_FILE`` set) or
    ``"stream"`` (``MYSIMBDP_STREAM`` or ``ZMQ_STREAM_ENDPOINT`` set).
    """

    kind: str
    tenant: Optional[str]
    instance: Optional[str]
    mongo_url: Optional[str]
    mongo_db: Optional[str]
    metrics_endpoint: Optional[str]
    input_file: Optional[str]
    dataset: Optional[str]
    result_file: Optional[str]
    stream: Optional[str]
    stream_endpoint: Optional[str]

    @classmethod
    def load(cls) -> "Env":
        """Reads and checks the environment. Raises MysimbdpError naming
        every variable that is wrong ("MONGO_DB: not set; ...")."""
        raw = _load_raw()
        values = {name: (os.fsdecode(getattr(raw, name))
                         if getattr(raw, name) is not None else None)
                  for name, _ in raw._fields_ if name != "kind"}
        return cls(kind="stream" if raw.kind == STREAM else "batch",
                   **values)   # type: ignore[call-arg]


def _load_raw():
    from ._lib import Env as CEnv
    raw, err = CEnv(), errbuf()
    if LIB.msb_env_load(ctypes.byref(raw), err, len(err)) != 0:
        raise MysimbdpError(text(err.value))
    return raw


def c_env():
    """The library's struct msb_env, for the functions that take one."""
    return _load_raw()

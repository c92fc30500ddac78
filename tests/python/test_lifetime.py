"""What an object holds lives as long as the object, and no longer: a
Sink or Producer dropped without close() is closed when its last
reference goes (no reference cycle waits for the garbage collector)."""
import gc
import os
import shutil
import socket
import tempfile
import weakref
from contextlib import contextmanager

import mysimbdp
from conftest import FACTOR


@contextmanager
def gc_disabled():
    # Only reference counting frees: what a cycle holds stays held.
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def test_a_sink_dropped_unclosed_drops_its_unit(tmp_path):
    coll = tmp_path / "t/c"
    with gc_disabled():
        sink = mysimbdp.Sink("c", f"file://{tmp_path}", "t", metrics=None)
        sink.insert({"_id": 1, "v": "x"})
        assert [p.name for p in coll.glob(".unit-*.tmp")], \
            "the unit's temporary file"
        ref = weakref.ref(sink)
        del sink
        assert ref() is None, "a dropped sink is still alive"
        # Closed: the unit was not committed and its file is removed
        # (docs/store-format.md, "Removing files").
        assert sorted(p.name for p in coll.iterdir()) == []


def test_a_producer_dropped_unclosed_closes_its_socket():
    # Short: the socket path must fit in sun_path.
    top = tempfile.mkdtemp(prefix="mysbp.", dir="/tmp")
    path = os.path.join(top, "x.in")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv, \
                gc_disabled():
            srv.bind(path)
            srv.listen(1)
            srv.settimeout(20 * FACTOR)
            producer = mysimbdp.Producer(f"ipc://{path}")
            conn, _ = srv.accept()
            with conn:
                ref = weakref.ref(producer)
                del producer
                assert ref() is None, "a dropped producer is still alive"
                # Its connection ends: ZMTP's greeting, then end of file.
                conn.settimeout(20 * FACTOR)
                while conn.recv(4096):
                    pass
    finally:
        shutil.rmtree(top, ignore_errors=True)


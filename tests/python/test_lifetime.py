"""What an object holds lives as long as the object, and no longer: a
Sink or Producer dropped without close() is closed when its last
reference goes (no reference cycle waits for the garbage collector), and
SIGINT, which each Stream needs in the library's hands, is given back
when the last Stream closes, in any order and on any thread."""
import gc
import os
import shutil
import socket
import subprocess
import tempfile
import weakref
from contextlib import contextmanager

import mysimbdp
from conftest import FACTOR, PYTHON


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


# Python installs its SIGINT handler only when SIGINT is not ignored at
# start, and a shell's background job (CI started with &) starts with it
# ignored: each child below puts Python's handler in place first.
SIGINT_USERS = """
import signal
signal.signal(signal.SIGINT, signal.default_int_handler)
import mysimbdp

def who():
    h = signal.getsignal(signal.SIGINT)
    if h is signal.SIG_DFL:
        return "library"       # the package stood Python's handler aside
    if h is signal.default_int_handler:
        return "python"
    return h.__name__

def stream():
    return mysimbdp.Stream(endpoint="ipc:///nonexistent/work",
                           instance="t-1", metrics=None)

for first in (0, 1):
    pair = [stream(), stream()]
    print(who())
    pair[first].close()
    print(who())
    # Still the library's: SIGINT asks the open stream to stop (Python's
    # handler would raise KeyboardInterrupt here).
    signal.raise_signal(signal.SIGINT)
    print("stopping", pair[1 - first].stopping)
    pair[1 - first].close()
    print(who())

# A Stream that could not be made gives SIGINT back.
try:
    mysimbdp.Stream(-1, endpoint="ipc:///nonexistent/work", instance="t-1",
                    metrics=None)
except ValueError:
    pass
print(who())

# A handler the app put in place meanwhile stays.
s = stream()
def mine(signo, frame):
    pass
signal.signal(signal.SIGINT, mine)
s.close()
print(who())
"""


def test_sigint_is_given_back_by_the_last_stream():
    # In a child: it sends itself SIGINT.
    r = subprocess.run([str(PYTHON), "-c", SIGINT_USERS],
                       capture_output=True, text=True, timeout=30 * FACTOR,
                       env=dict(os.environ, ZMQ_METRICS_ENDPOINT=""))
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == [
        "library", "library", "stopping True", "python"] * 2 + [
        "python", "mine"], r


SIGINT_THREAD = """
import os, signal, sys, threading, time
signal.signal(signal.SIGINT, signal.default_int_handler)
import mysimbdp

deadline = time.monotonic() + float(sys.argv[1])

def stream():
    return mysimbdp.Stream(endpoint="ipc:///nonexistent/work",
                           instance="t-1", metrics=None)

# Opened on the main thread (which stands Python's handler aside), the
# first closed there, the last on another thread.
pair = [stream(), stream()]
pair[0].close()
closer = threading.Thread(target=pair[1].close)
closer.start()
closer.join()
# The main thread puts Python's handler back at its next bytecodes.
while signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
    if time.monotonic() > deadline:
        print("SIGINT still", signal.getsignal(signal.SIGINT))
        sys.exit(1)
    time.sleep(0.01)
try:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(max(0, deadline - time.monotonic()))
    print("no KeyboardInterrupt")
except KeyboardInterrupt:
    print("KeyboardInterrupt")
"""


def test_sigint_is_given_back_by_a_last_close_on_another_thread():
    # In a child: it sends itself SIGINT. Before, SIGINT stayed SIG_DFL
    # (the library's last close puts that back) until a Stream opened
    # and closed on the main thread: a SIGINT killed the process.
    r = subprocess.run([str(PYTHON), "-c", SIGINT_THREAD, str(20 * FACTOR)],
                       capture_output=True, text=True, timeout=60 * FACTOR,
                       env=dict(os.environ, ZMQ_METRICS_ENDPOINT=""))
    assert (r.returncode, r.stdout) == (0, "KeyboardInterrupt\n"), r

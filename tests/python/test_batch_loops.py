"""A batch's per-message loops and msg.ack(): in C (_mysimbdp_batch,
where the build has it) and in Python (MYSIMBDP_PYTHON_PURE=1, or no
module) the same messages, the same acks and errors, the same counts.
Each mode in a child: the package picks its loops when it is
imported."""
import json
import os
import subprocess

import pytest

from conftest import BUILD, PYTHON

CHILD = r"""
import ctypes, json, os, sys, threading
import mysimbdp, mysimbdp.stream as st

# Deliveries as msb_stream_recv_batch gives them: ids, lengths, payloads
# one after the other; acks recorded, nothing sent.
payloads = [b"a", b"", b"ccc", bytes(range(256))]
blob = ctypes.create_string_buffer(b"".join(payloads))
# A stream's first batch, its payloads all empty: the library has no
# buffer yet and gives data as NULL.
batches = [(3, [b"", b""], None),
           (7, payloads, ctypes.addressof(blob))]
calls = []

def ack(h, mid):
    calls.append(["ack", mid])
    if mid == 50:
        # A failure of the library's, with its message: the stream was
        # never connected.
        return REAL.msb_stream_nack(h, mid, None)
    return st.OK

REAL = st.LIB

class Lib:
    # msg.ack() calls msb_stream_ack through ctypes or, with the module,
    # at its address: a C function either way, here calling ack.
    msb_stream_ack = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p,
                                      ctypes.c_uint64)(ack)
    def __getattr__(self, name):        # open, error: the library's
        return getattr(REAL, name)
    def msb_stream_recv_batch(self, h, max_n, ms, ids, lens, data, n):
        first, ps, at = batches.pop(0)
        for k, p in enumerate(ps):
            ids[k], lens[k] = first + k, len(p)
        stream._data.value = at
        stream._n.value = len(ps)
        return st.OK
    during_ack = None
    def msb_stream_ack_many(self, h, ids, n):
        calls.append(["ack_many", [ids[k] for k in range(n)]])
        if self.during_ack is not None:
            self.during_ack()
        return st.OK
    def msb_stream_nack(self, h, mid, reason):
        calls.append(["nack", mid, reason.decode()])
        return st.OK

def raised(f):
    try:
        f()
    except mysimbdp.MysimbdpError as e:
        return [type(e).__name__, e.code, str(e)]

# Before the Stream opens: it takes the ack it calls from st.LIB.
st.LIB = Lib()
stream = mysimbdp.Stream(endpoint="ipc:///nonexistent/work",
                         instance="t-1", metrics=None)
stream._arrays(16)
empty = [[m.id, m.data.hex()] for m in stream._recv_batch(16, 0)]
batch = stream._recv_batch(16, 0)
got = [[type(m).__name__, m.id, m.data.hex(), m.settled] for m in batch]
batch[1].ack()
batch.ack_all()
batch.ack_all()                         # nothing left: no call
batch[2].ack()                          # settled already: acked again
mine = mysimbdp.Message(stream=stream, id=40, data=b"xy")
done = mysimbdp.Message(stream, 41, b"z")
done.settled = True
mysimbdp.Batch([done, mine]).ack_all()
# Another thread appends to the batch while ack_all is in the library
# (ctypes lets go of the GIL): the new message was not acked, so it
# stays unsettled for the next ack_all.
grown = mysimbdp.Batch([mysimbdp.Message(stream, 42, b"q")])
late = mysimbdp.Message(stream, 43, b"r")
st.LIB.during_ack = lambda: grown.append(late)
grown.ack_all()
st.LIB.during_ack = None
late_settled = late.settled
grown.ack_all()
# The library refuses an ack: raised at the ack, with its message;
# neither settled nor counted.
bad = mysimbdp.Message(stream, 50, b"bad")
refused = raised(bad.ack)
nacked = mysimbdp.Message(stream, 51, b"nn")
nacked.nack("later")
# Threads acking at once: every ack counted.
many = [mysimbdp.Message(stream, 100 + k, b"m" * (k % 7)) for k in range(800)]
go = threading.Barrier(4)
def acks(ms):
    go.wait()
    for m in ms:
        m.ack()
threads = [threading.Thread(target=acks, args=(many[k::4],))
           for k in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
threaded = [sorted(c[1] for c in calls if c[0] == "ack" and c[1] >= 100),
            all(m.settled for m in many)]
del calls[-800:]
# An ack makes no call to the package's Python with the module.
ours = os.path.dirname(mysimbdp.__file__)
python_calls = []
def profile(frame, event, arg):
    if event == "call" and frame.f_code.co_filename.startswith(ours):
        python_calls.append(frame.f_code.co_name)
one = mysimbdp.Message(stream, 60, b"one")
sys.setprofile(profile)
one.ack()
sys.setprofile(None)
counts = stream._counted()[:3]
stream.close()
closed = mysimbdp.Message(stream, 61, b"c")
after_close = raised(closed.ack)
print(json.dumps({"c": st._batch is not None, "empty": empty, "batch": got,
                  "settled": [m.settled for m in batch] + [mine.settled],
                  "late": [late_settled, late.settled],
                  "refused": refused, "bad": bad.settled,
                  "nacked": nacked.settled, "threaded": threaded,
                  "python_calls": len(python_calls) > 0,
                  "after_close": after_close + [closed.settled],
                  "calls": calls, "counts": counts,
                  "repr": repr(mine), "isinstance": isinstance(
                      batch, list) and isinstance(batch, mysimbdp.Batch)}))
"""


def run(pure):
    env = dict(os.environ, ZMQ_METRICS_ENDPOINT="",
               MYSIMBDP_PYTHON_PURE="1" if pure else "0")
    r = subprocess.run([str(PYTHON), "-c", CHILD], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 0, r
    return json.loads(r.stdout)


def test_c_and_python_loops_agree():
    pure, c = run(True), run(False)
    assert pure["c"] is False
    if not list((BUILD / "clientlib/python").glob("_mysimbdp_batch*.so")):
        pytest.skip("no _mysimbdp_batch in this build (Python's headers)")
    assert c["c"] is True
    assert pure["empty"] == [[3, ""], [4, ""]]
    payloads = ["61", "", "636363", bytes(range(256)).hex()]
    assert pure["batch"] == [["Message", 7 + k, p, False]
                             for k, p in enumerate(payloads)]
    assert pure["calls"] == [["ack", 8], ["ack_many", [7, 9, 10]],
                             ["ack", 9], ["ack_many", [40]],
                             ["ack_many", [42]], ["ack_many", [43]],
                             ["ack", 50], ["nack", 51, "later"], ["ack", 60]]
    assert pure["settled"] == [True] * 5
    assert pure["late"] == [False, True]
    assert pure["refused"] == ["MysimbdpError", -1,
                               "send to streammgr: not connected"]
    assert pure["bad"] is False and pure["nacked"] is True
    assert pure["threaded"] == [list(range(100, 900)), True]
    assert pure["after_close"] == ["MysimbdpError", -1, "Stream: closed",
                                   False]
    # messages: the batch's 4 and 9 again, 40, 42, 43, the nack, the
    # threads' 800, 60; bytes: 1 + 0 + 3 + 256, 3, 2 + 1 + 1, 2, the
    # threads' 2395 (k % 7 for k < 800), 3; errors: the nack
    assert pure["counts"] == [810, 260 + 3 + 4 + 2 + 2395 + 3, 1]
    assert pure["repr"] == "Message(id=40, data=b'xy')"
    assert pure["isinstance"] is True
    # Only the module's ack runs without the package's Python.
    assert pure["python_calls"] is True and c["python_calls"] is False
    del pure["c"], c["c"], pure["python_calls"], c["python_calls"]
    assert c == pure


INGEST = r"""
import json, time
import mysimbdp

class Fake:
    adds = []
    def add(self, **kw):
        self.adds.append(kw)
    def tick(self):
        pass

# Never connected: acks are queued (256 before a send is tried). The
# first sample runs from the Stream's making, as from a batch's arrival.
t0 = time.monotonic_ns()
stream = mysimbdp.Stream(endpoint="ipc:///nonexistent/work",
                         instance="t-1", metrics=Fake())
t1 = time.monotonic_ns()
msgs = [mysimbdp.Message(stream, k, b"k v") for k in range(1, 201)]
for m in msgs[:-1]:
    m.ack()
t2 = time.monotonic_ns()
msgs[-1].ack()
t3 = time.monotonic_ns()
stream._report()
print(json.dumps({"adds": Fake.adds, "t": [t0, t1, t2, t3]}))
stream.close()
"""


@pytest.mark.parametrize("pure", [True, False])
def test_ingest_time_adds_up(pure):
    # The ingest time of a report is the time from the batch's arrival
    # (here the Stream's making) to the last settling: its samples, one
    # a settling, add up to it. Before, each sample was cut to whole
    # microseconds: with an ack a microsecond apart about half of it
    # was lost (200 acks: some 100 us short).
    env = dict(os.environ, ZMQ_METRICS_ENDPOINT="",
               MYSIMBDP_PYTHON_PURE="1" if pure else "0")
    r = subprocess.run([str(PYTHON), "-c", INGEST], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 0, r
    out = json.loads(r.stdout)
    t0, t1, t2, t3 = out["t"]
    (add,) = out["adds"]
    assert (add["messages"], add["bytes"], add["errors"]) == (200, 600, 0)
    # At most from before the Stream to after the last ack, at least
    # from after the Stream to before it (microseconds cut once).
    assert (t2 - t1) // 1000 - 1 <= add["ingest_us"] <= (t3 - t0) // 1000, \
        out

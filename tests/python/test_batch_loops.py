"""A batch's per-message loops: in C (_mysimbdp_batch, where the build
has it) and in Python (MYSIMBDP_PYTHON_PURE=1, or no module) the same
messages, the same acks, the same counts. Each mode in a child: the
package picks its loops when it is imported."""
import json
import os
import subprocess

import pytest

from conftest import BUILD, PYTHON

CHILD = r"""
import ctypes, json
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

class Lib:
    def msb_stream_recv_batch(self, h, max_n, ms, ids, lens, data, n):
        first, ps, at = batches.pop(0)
        for k, p in enumerate(ps):
            ids[k], lens[k] = first + k, len(p)
        stream._data.value = at
        stream._n.value = len(ps)
        return st.OK
    def msb_stream_ack(self, h, mid):
        calls.append(["ack", mid])
        return st.OK
    during_ack = None
    def msb_stream_ack_many(self, h, ids, n):
        calls.append(["ack_many", [ids[k] for k in range(n)]])
        if self.during_ack is not None:
            self.during_ack()
        return st.OK

stream = mysimbdp.Stream(endpoint="ipc:///nonexistent/work",
                         instance="t-1", metrics=None)
st.LIB = Lib()
stream._arrays(16)
empty = [[m.id, m.data.hex()] for m in stream._recv_batch(16, 0)]
batch = stream._recv_batch(16, 0)
got = [[type(m).__name__, m.id, m.data.hex(), m.settled] for m in batch]
batch[1].ack()
batch.ack_all()
batch.ack_all()                         # nothing left: no call
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
print(json.dumps({"c": st._batch is not None, "empty": empty, "batch": got,
                  "settled": [m.settled for m in batch] + [mine.settled],
                  "late": [late_settled, late.settled],
                  "calls": calls, "counts": stream._counts[:3],
                  "repr": repr(mine), "isinstance": isinstance(
                      batch, list) and isinstance(batch, mysimbdp.Batch)}))
stream.close()
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
                             ["ack_many", [40]], ["ack_many", [42]],
                             ["ack_many", [43]]]
    assert pure["settled"] == [True] * 5
    assert pure["late"] == [False, True]
    # messages, bytes, errors: 4 + 1 + 2 acked; 1 + 0 + 3 + 256 + 2 + 2
    assert pure["counts"] == [7, 264, 0]
    assert pure["repr"] == "Message(id=40, data=b'xy')"
    assert pure["isinstance"] is True
    del pure["c"], c["c"]
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

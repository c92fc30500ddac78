"""The Python package's own cost a message in a stream batch, without
streammgr: Stream._recv_batch making 256 Messages from the arrays the
library fills, then Batch.ack_all, or msg.ack() for each message (the
README's stream app), with the library's receive and acks stubbed out
(docs/benchmarks.md, "Python tenants"). Prints microseconds a message
for the loops the package uses: run it twice, with and without
MYSIMBDP_PYTHON_PURE=1.

  build-bench/clientlib/python/mysimbdp-python tests/bench/pyloops.py
"""
import ctypes
import sys
import time

import mysimbdp
import mysimbdp.stream as st

N, ROUNDS = 256, 4000
blob = ctypes.create_string_buffer(b"x" * 100 * N)
REAL = st.LIB


class Lib:
    """The library's receive and acks: arrays filled, nothing sent; the
    rest is the library's."""

    def __init__(self):
        # msg.ack() calls C, through ctypes or (the module) a pointer,
        # so its stub is a C function that does nothing:
        # msb_stream_stopping(stream) reads two flags and returns 0; the
        # id, one argument more, is left in its register.
        self.msb_stream_ack = ctypes.CFUNCTYPE(
            ctypes.c_int, ctypes.c_void_p, ctypes.c_uint64)(
                ("msb_stream_stopping", REAL))

    def __getattr__(self, name):
        return getattr(REAL, name)

    def msb_stream_recv_batch(self, h, max_n, ms, ids, lens, data, n):
        for k in range(N):
            ids[k], lens[k] = k + 1, 100
        stream._data.value = ctypes.addressof(blob)
        stream._n.value = N
        return st.OK

    def msb_stream_ack_many(self, h, ids, n):
        return st.OK


# Before the Stream opens: it takes the ack it calls from st.LIB.
st.LIB = Lib()
stream = mysimbdp.Stream(endpoint="ipc:///nonexistent/pyloops",
                         instance="t-1", metrics=None)
stream._arrays(N)


def timed(loop) -> float:
    t0 = time.perf_counter()
    for _ in range(ROUNDS):
        loop()
    return (time.perf_counter() - t0) * 1e6 / (ROUNDS * N)


def each():
    for m in stream._recv_batch(N, 0):
        m.ack()


whole = timed(lambda: stream._recv_batch(N, 0).ack_all())
one = timed(each)
# The stub's own fill of the arrays is not the package's: taken out.
fill = timed(lambda: st.LIB.msb_stream_recv_batch(
    None, N, 0, stream._ids, stream._lens, None, None))
loops = 'C' if st._batch else 'Python'
print(f"batch loops in {loops}: {whole - fill:.3f} us a message "
      "(recv_batch's messages and ack_all)")
print(f"batch loops in {loops}: {one - fill:.3f} us a message "
      "(recv_batch's messages and msg.ack() for each)")
stream.close()
sys.exit(0)

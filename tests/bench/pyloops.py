"""The Python package's own cost a message in a stream batch, without
streammgr: Stream._recv_batch making 256 Messages from the arrays the
library fills, then Batch.ack_all, with the library's receive and ack
stubbed out (docs/benchmarks.md, "Python tenants"). Prints microseconds
a message for the batch loops the package uses: run it twice, with and
without MYSIMBDP_PYTHON_PURE=1.

  build-bench/clientlib/python/mysimbdp-python tests/bench/pyloops.py
"""
import ctypes
import sys
import time

import mysimbdp
import mysimbdp.stream as st

N, ROUNDS = 256, 4000
blob = ctypes.create_string_buffer(b"x" * 100 * N)


class Lib:
    """The library's receive and ack: arrays filled, nothing sent."""

    def msb_stream_recv_batch(self, h, max_n, ms, ids, lens, data, n):
        for k in range(N):
            ids[k], lens[k] = k + 1, 100
        stream._data.value = ctypes.addressof(blob)
        stream._n.value = N
        return st.OK

    def msb_stream_ack_many(self, h, ids, n):
        return st.OK


stream = mysimbdp.Stream(endpoint="ipc:///nonexistent/pyloops",
                         instance="t-1", metrics=None)
st.LIB = Lib()
stream._arrays(N)
t0 = time.perf_counter()
for _ in range(ROUNDS):
    stream._recv_batch(N, 0).ack_all()
us = (time.perf_counter() - t0) * 1e6 / (ROUNDS * N)
# The stub's own fill of the arrays is not the package's: taken out.
t0 = time.perf_counter()
for _ in range(ROUNDS):
    Lib().msb_stream_recv_batch(None, N, 0, stream._ids, stream._lens,
                                None, None)
us -= (time.perf_counter() - t0) * 1e6 / (ROUNDS * N)
print(f"batch loops in {'C' if st._batch else 'Python'}: "
      f"{us:.3f} us a message (recv_batch's messages and ack_all)")
stream.close()
sys.exit(0)

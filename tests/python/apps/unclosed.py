"""A stream app on the package for the tests that forgets to close: it
acks every message until N (argv[1]) are acked, then ends with its
Stream still open in a global, so the Stream is destroyed only at the
interpreter's teardown, after the atexit handlers have run. The counts
of its last batch are reported by no batches() round: only at exit."""
import sys

import mysimbdp

n = int(sys.argv[1])
stream = mysimbdp.Stream(64)
acked = 0
for batch in stream.batches(64):
    batch.ack_all()
    acked += len(batch)
    if acked >= n:
        break

"""A stream app on the package for the tests: the main thread reads,
a pool of four threads acks each message it read, while the main thread
waits in the library for the next batch (a long wait: with the credit
all handed to the pool, only the pool's acks, sent as they come, bring
the next). Exits 1 if an ack failed."""
import sys
from concurrent.futures import ThreadPoolExecutor

import mysimbdp


def main() -> int:
    failed = []

    def done(future):
        if future.exception() is not None:
            failed.append(future.exception())

    with mysimbdp.Stream(32) as stream, \
            ThreadPoolExecutor(max_workers=4) as pool:
        for batch in stream.batches(16, timeout=30):
            for msg in batch:
                pool.submit(msg.ack).add_done_callback(done)
        # The pool's last acks before the stream closes, which sends
        # them.
        pool.shutdown(wait=True)
    for e in failed:
        print(f"poolack: {e}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

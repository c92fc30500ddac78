"""A stream app on the package for the tests: in each batch it acks the
first message alone, then the rest with Batch.ack_all(), which must ack
each of them once and skip the one settled already."""
import sys

import mysimbdp


def main() -> int:
    with mysimbdp.Stream(64) as stream:
        for batch in stream.batches(16):
            batch[0].ack()
            batch.ack_all()
            if not all(m.settled for m in batch):
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Python no-op stream app of scripts/bench python: acks every
message, in batches, as tests/bench/streamnoop does in C."""
import sys

import mysimbdp


def main() -> int:
    with mysimbdp.Stream(1024, metrics=None) as stream:
        for batch in stream.batches(256):
            batch.ack_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A stream app on the package for the tests: each message "KEY VALUE"
is upserted into "events" as {"_id": KEY, "value": VALUE, "instance"}
and acked after its batch is committed; a message without a space is
rejected ("no key"). --slow-ms N waits N ms per batch (to hold messages
in flight for a kill)."""
import os
import sys
import time

import mysimbdp


def main() -> int:
    slow = float(sys.argv[sys.argv.index("--slow-ms") + 1]) / 1000 \
        if "--slow-ms" in sys.argv else 0
    instance = os.environ.get("MYSIMBDP_INSTANCE", "")
    with mysimbdp.Stream(64) as stream, mysimbdp.Sink("events") as sink:
        for batch in stream.batches(16):
            keep = []
            for msg in batch:
                key, sep, value = msg.data.decode().partition(" ")
                if not sep:
                    msg.reject("no key")
                    continue
                sink.upsert(key, {"value": value, "instance": instance})
                keep.append(msg)
            time.sleep(slow)
            sink.commit()
            for msg in keep:
                msg.ack()
    return 0


if __name__ == "__main__":
    sys.exit(main())

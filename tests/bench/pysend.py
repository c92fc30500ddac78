"""The Python producer of scripts/bench python: sends each line of FILE
to ENDPOINT with the mysimbdp package (window W), waits for every
reply, and prints {"messages", "ok", "seconds"} as JSON. The C figure
beside it is `mysimbdp send --file FILE --window W`."""
import json
import sys
import time

import mysimbdp

CHUNK = 1000     # messages per send_many: a window's worth


def main() -> int:
    endpoint, path, window = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(path, "rb") as f:
        lines = [line.rstrip(b"\n") for line in f]
    with mysimbdp.Producer(endpoint, window) as producer:
        # As streambench times the C producer: first send to last reply.
        start = time.monotonic()
        for i in range(0, len(lines), CHUNK):
            producer.send_many(lines[i:i + CHUNK])
        producer.flush()
        seconds = time.monotonic() - start
        ok = producer.counts["ok"]
    print(json.dumps({"messages": len(lines), "ok": ok,
                      "seconds": seconds},
                     separators=(",", ":")))
    return 0 if ok == len(lines) else 1


if __name__ == "__main__":
    sys.exit(main())

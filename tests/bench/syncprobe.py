"""What one group commit's fdatasync costs on a filesystem, by the way
the file grows (docs/benchmarks.md, "What limits each figure": fsync/2).
streammgr appends each commit to its segment and syncs it; a commit of
1,000 messages of 100 B is about 117 KB of records. Compared:

  append     pwrite at the end, fdatasync (streammgr's way): the size
             and the block map change, so the sync writes the inode too
  overwrite  the same into a file written with zeros and synced before:
             only data to sync
  fallocate  into space posix_fallocate reserved (unwritten extents: the
             sync converts them, a metadata write again)
  2 threads  appends by two threads, a sync each, at once

  python3 tests/bench/syncprobe.py DIR [COMMIT_BYTES]

DIR: a folder on the filesystem to probe (where state_dir is). Prints
syncs/s and the median time of a write and its sync, twice each.
"""
import os
import sys
import threading
import time

TOTAL = 64 << 20


def timed(fd, commit, offsets, lat):
    buf = b"x" * commit
    for off in offsets:
        t0 = time.perf_counter()
        os.pwrite(fd, buf, off)
        os.fdatasync(fd)
        lat.append(time.perf_counter() - t0)


def probe(path, how, commit):
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if how == "overwrite":
            zeros = b"\0" * (1 << 20)
            for off in range(0, TOTAL + commit, len(zeros)):
                os.pwrite(fd, zeros, off)
            os.fsync(fd)
        elif how == "fallocate":
            os.posix_fallocate(fd, 0, TOTAL + commit)
            os.fsync(fd)
        offsets = list(range(0, TOTAL, commit))
        lat = []
        threads = 2 if how == "2 threads" else 1
        # Two threads take every other commit: both ends of the file
        # grow as one writer's would, a sync each at once.
        parts = [offsets[k::threads] for k in range(threads)]
        t0 = time.perf_counter()
        run = [threading.Thread(target=timed, args=(fd, commit, p, lat))
               for p in parts]
        for t in run:
            t.start()
        for t in run:
            t.join()
        span = time.perf_counter() - t0
    finally:
        os.close(fd)
        os.unlink(path)
    lat.sort()
    print(f"{how:10s} {len(lat) / span:7.0f} syncs/s  "
          f"median {lat[len(lat) // 2] * 1e6:6.0f} us a write and sync")


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    path = os.path.join(sys.argv[1], f"syncprobe.{os.getpid()}")
    commit = int(sys.argv[2]) if len(sys.argv) == 3 else 117 * 1000
    for _ in range(2):
        for how in ("append", "overwrite", "fallocate", "2 threads"):
            probe(path, how, commit)


if __name__ == "__main__":
    main()

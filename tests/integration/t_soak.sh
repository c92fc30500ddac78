#!/usr/bin/env bash
# Soak, short: 40 s of steady mixed load on the three daemons
# (tests/integration/soaklib.sh, the same code as scripts/soak), sampled
# every 2 s after each round; after 12 s of warm-up no daemon's open
# files may grow, and its RSS not beyond the tolerance (10% or 1 MB).
# Under AddressSanitizer RSS is shown but not judged: its quarantine
# keeps freed memory by design (and ASAN_OPTIONS here keep it small, so
# the figures stay readable). Leaks there are LeakSanitizer's job, at the
# daemons' exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/soaklib.sh"

SOAK_INTERVAL=2
SOAK_WARMUP=12
if sanitized; then
	SOAK_RSS=0
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4
	echo "# AddressSanitizer build: open files judged, RSS shown but not judged (its quarantine holds freed memory)"
fi
soak_setup
soak_run 40
soak_verdict || fail "a daemon is not flat (table above)"
ok "every daemon flat over $SOAK_ROUNDS rounds"
stop_daemon batchmgr
stop_daemon streammgr
stop_daemon monitor

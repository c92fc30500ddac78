#!/bin/bash
# A dead letter of a subscription requeued with `dead-letters --requeue`
# goes back to its own member only, under a new number of the stream
# (docs/architecture.md, "Fan-out"), across a SIGKILL too: the other
# members' settled-list entries (they never take that number) are
# written before the letter's journal record, not at the end of the
# loop's turn. gdb kills streammgr right after stream_requeue returns;
# at the restart the stream's own app holds k1 alone. Before, it held
# the requeued letter too.
. "$(dirname "$0")/lib.sh"
command -v gdb >/dev/null || { echo "SKIP: gdb is not installed"; exit 77; }

platform
slow_dead_letter
assert_eq 1 "$(substat default .backlog)" "default (no instance) holds k1"

rm -f "$T/scratch/outage"
# SIGKILL right after stream_requeue returns (journal committed, dead
# letter file rewritten, settled notes not yet flushed).
out=$T/out/gdb.requeue
gdb_start "$SM_PID" "$out" 'break stream_requeue' continue finish kill
wait_for_gdb "$out" "$GDB_PID" || { echo "SKIP: gdb cannot attach: $(tail -n 3 "$out")"; exit 77; }
cli dead-letters alpha --stream default.slow --requeue --id "$DL_ID" --timeout 2s \
	>"$T/out/rq" 2>&1 || true
gdb_wait "$out"
reap "$SM_PID" "streammgr killed by gdb" || true
grep -q 'Value returned is .* = 0$' "$out" || fail "stream_requeue did not return 0: $(cat "$out")"
ok "streammgr SIGKILLed right after stream_requeue"

start_daemon streammgr
wait_for 20 "status after the restart" listed default.slow
echo "# default backlog=$(substat default .backlog) default.slow backlog=$(substat default.slow .backlog)"
echo "# dead letters left in default.slow's file: $(cli dead-letters alpha --stream default.slow --json | jq -c 'length')"
assert_eq 1 "$(substat default .backlog)" \
	"default holds k1 only (the requeued letter of default.slow is not its own)"
ok "a requeued dead letter of a subscription stays its own across a SIGKILL"

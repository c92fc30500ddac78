#!/usr/bin/env bash
# Hostile control requests (tests/hostile/control/requests.msgs: not JSON,
# two objects, NUL, non-UTF-8, wrong types, unknown and repeated fields,
# names that could leave their folders, huge) sent by rawzmq to a real
# streammgr and batchmgr: each gets the reply the daemon's .expected file
# documents; nothing changes state but the one valid scale, whose reason
# stays on one line in streammgr's log and on the monitor's dashboard;
# both daemons answer status, log one line per refusal and exit cleanly
# (under ASan: without a leak).
. "$(dirname "$0")/lib.sh"
CORPUS=$MYSIMBDP_SRC/tests/hostile/control
RAW=$MYSIMBDP_BUILD/tests/integration/rawzmq

platform
stream_tenant alpha 'instances = { min = 1; max = 2; };'
start_daemon streammgr
start_daemon batchmgr
start_daemon monitor
wait_for 20 "alpha's instance" ready_is alpha 1

for d in streammgr batchmgr; do
	"$RAW" "ipc://$VAR/run/$d.ctl" dealer 5000 <"$CORPUS/requests.msgs" >"$T/out/$d" ||
		fail "rawzmq: $(cat "$T/out/$d")"
	diff -u "$CORPUS/$d.expected" "$T/out/$d" || fail "$d's replies differ from $d.expected"
	ok "$d: every request got its documented reply ($(wc -l <"$T/out/$d"))"
done

# Only the one valid scale (to 2, its reason with a newline) went through.
wait_for 20 "alpha's second instance" ready_is alpha 2
assert_eq running "$(sstat alpha .state)" "alpha's stream is still running"
grep -aq 'a?forged line' "$SM_LOG" || fail "the scale's reason is not in streammgr's log"
grep -aq '^forged line' "$SM_LOG" && fail "a reason's newline started a line in streammgr's log"
ok "a reason with a newline stays on one log line"
# The monitor's dashboard shows the scale with its reason, on one line.
wait_for 20 "the scale on the dashboard" grep -aq ' scaled ' "$DASH"
grep -aq '^forged line' "$DASH" && fail "a reason's newline started a line on the dashboard"
grep -aq ' scaled .*a?forged line' "$DASH" || fail "the scale's reason is not on its dashboard line"
ok "a reason with a newline stays on one dashboard line"
cli status >/dev/null 2>&1 || fail "status does not answer"
ok "both daemons answer status"
stop_daemon monitor
stop_daemon streammgr
stop_daemon batchmgr
ok "the daemons exit cleanly"

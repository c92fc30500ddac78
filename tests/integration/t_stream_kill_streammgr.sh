#!/bin/bash
# streammgr is killed with SIGKILL at random moments while a producer
# sends a bounded load, and restarted each time. Every message the
# producer got OK for must reach the sink afterwards: the producer resends
# only what it has no OK for, so a message lost after its OK is missing
# for good and the final count shows it.
. "$(dirname "$0")/lib.sh"

N=${N:-6000}
ROUNDS=${ROUNDS:-5}
platform stream.segment_size='"64K"'
# Slow instances (2 x ~600 messages/s against 1,500 sent a second) keep a
# backlog on disk at the moments of the kills.
STREAMAPP_ARGS=', "-d", "1500"'
stream_tenant alpha 'instances = { min = 2; max = 2; };' \
	"durability = \"${DURABILITY:-fsync}\";"
start_daemon streammgr
wait_for 20 "alpha's instances" ready_is alpha 2

# About 1,500 messages a second: the load lasts ~4 s plus the outages.
"$MYSIMBDP_BUILD/tests/integration/durproducer" -r 1500 -w 200 -t 100 \
	"ipc://$VAR/run/alpha/default.in" "$N" >"$T/out/producer" 2>&1 &
producer=$!
STARTED_PIDS+=("$producer")

for round in $(seq 1 "$ROUNDS"); do
	# A random moment, 0.2 to 1.0 s into this round: the kill is the
	# event under test, not a stand-in for waiting on one.
	sleep "0.$(( RANDOM % 9 + 2 ))"
	kill -KILL "$SM_PID"
	wait "$SM_PID" 2>/dev/null || true
	start_daemon streammgr
	echo "# round $round: killed and restarted; $(grep -c 'restored from the queue' "$SM_LOG") restores so far"
done

rc=0; wait "$producer" || rc=$?
assert_eq 0 $rc "the producer got an OK for every message ($(cat "$T/out/producer"))"
ok "producer: $(cat "$T/out/producer")"

delivered() { [ "$(store_docs alpha | jq -r ._id | sort -u | wc -l)" -ge "$N" ]; }
wait_for 60 "every OK'd message in the sink" delivered
store_docs alpha | jq -r ._id | sort -u >"$T/out/keys"
seq 1 "$N" | sed 's/^/k/' | sort >"$T/out/want"
missing=$(comm -23 "$T/out/want" "$T/out/keys" | wc -l)
assert_eq 0 "$missing" "keys missing from the sink"
ok "all $N keys delivered after $ROUNDS SIGKILLs of streammgr"
# A kill leaves at most a torn tail: never damage, not even in a reused
# segment file (fsync: a spare), whose old records past the new never
# read.
! grep -q 'damaged queue segment' "$SM_LOG" ||
	fail "damage reported after a kill: $(grep 'damaged queue segment' "$SM_LOG" | head -1)"
ok "no damage found at any restart"

# Released for good: nothing waits, and the old segments are gone.
wait_for 20 "backlog and in-flight at 0" eval \
	'[ "$(sstat alpha ".backlog + .inflight")" = 0 ]'
segs=$(find "$VAR/queue/alpha/default" -name 'seg-*.log' | wc -l)
[ "$segs" -le 2 ] || fail "$segs segments left after everything was acked"
ok "fully acked segments deleted ($segs left)"
stop_daemon streammgr

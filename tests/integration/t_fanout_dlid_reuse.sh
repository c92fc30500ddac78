#!/bin/bash
# Dead-letter ids stay unique while the queue's folder exists, across a
# subscription removed while streammgr was down and put back: its
# dead-letters.jsonl stays, and the stream's numbers start above its
# ids too. Under durability "memory" the journal keeps no trace of the
# numbers; before, they were given again, and the subscription put back
# had two letters of each id (a requeue by id would take both).
. "$(dirname "$0")/lib.sh"

platform
SUB='subscriptions = ( { name = "slow"; app = [ "'"$STREAMAPP"'", "-C", "slow", "-n" ];
	    instances = { min = 1; max = 1; }; max_deliveries = 1; } );'
profile() { main_stream 'min = 1; max = 1;' memory "${1:-}"; }
profile "$SUB"
start_daemon streammgr
wait_for 20 "default.slow ready" sub_ready_is default.slow 1
send_keys alpha 1 3 >/dev/null || fail send
wait_for 20 "3 dead letters" eval '[ "$(substat default.slow .dead_letters)" = 3 ]'
profile ""
kill -KILL "$SM_PID"; wait "$SM_PID" 2>/dev/null || true
start_daemon streammgr
wait_for 20 "default ready" sub_ready_is default 1
profile "$SUB"
sm_reload
wait_for 20 "default.slow back" sub_ready_is default.slow 1
send_keys alpha 4 6 >/dev/null || fail send
wait_for 20 "3 more dead letters" eval '[ "$(substat default.slow .dead_letters)" = 3 ]'
ids=$(jq -r '.id' "$VAR/queue/alpha/default.slow/dead-letters.jsonl" | xargs)
echo "# ids in default.slow's dead-letters.jsonl: $ids"
assert_eq 6 "$(echo "$ids" | tr ' ' '\n' | sort -u | wc -l)" "dead-letter ids unique"
ok "six letters, six ids, across the removal and the return"

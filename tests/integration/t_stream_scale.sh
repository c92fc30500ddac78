#!/bin/bash
# Scale 1 -> 4 -> 1 under steady load: nothing is lost, the instances let
# go are drained (they finish and exit 0, none is killed) and one remains.
. "$(dirname "$0")/lib.sh"

platform
STREAMAPP_ARGS=', "-d", "500"' stream_tenant alpha \
	'instances = { min = 1; max = 4; initial = 1; };'
start_daemon streammgr
wait_for 20 "one instance" ready_is alpha 1

seq 1 6000 | sed 's/^/k/; s/$/ v-alpha/' >"$T/scratch/keys"
cli send alpha --rate 1500 --file "$T/scratch/keys" >"$T/out/send" 2>&1 &
sender=$!
wait_for 20 "the load to flow" acked_at_least alpha 300
cli scale alpha 4 --reason "test: up" >/dev/null || fail "scale to 4"
wait_for 20 "4 instances" ready_is alpha 4
assert_eq 4 "$(sstat alpha .desired)" "desired is 4"
wait_for 30 "more acks" acked_at_least alpha 3000
cli scale alpha 1 --reason "test: down" >/dev/null || fail "scale to 1"
wait_for 30 "back to one instance" eval '[ "$(sstat alpha ".instances | length")" = 1 ]'
wait $sender || fail "send: $(cat "$T/out/send")"
grep -q "accepted 6000" "$T/out/send" || fail "send: $(cat "$T/out/send")"

wait_for 40 "every message acked" acked_at_least alpha 6000
assert_eq 6000 "$(sstat alpha .acked)" "6000 acked"
assert_eq 1 "$(sstat alpha .running)" "one instance running"
store_docs alpha >"$T/out/docs"
assert_eq 6000 "$(jq -r ._id "$T/out/docs" | sort -u | wc -l)" "every key is in the store"
assert_eq 3 "$(grep -c 'stopping instance' "$SM_LOG")" "three instances were stopped"
assert_eq 0 "$(grep -c 'killed by signal' "$SM_LOG")" "none had to be killed"
assert_eq 3 "$(grep -c ') exited 0' "$SM_LOG")" "the three drained instances exited 0"
assert_eq 0 "$(sstat alpha .restarts)" "no crash"
stop_daemon streammgr

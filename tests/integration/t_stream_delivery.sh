#!/bin/bash
# Two tenants, two producers at once: every message reaches only its own
# tenant's instances, every acked message is in that tenant's store once
# per key, and sending a key again replaces its document (upsert).
. "$(dirname "$0")/lib.sh"

platform
stream_tenant alpha 'instances = { min = 1; max = 4; initial = 2; };'
stream_tenant beta 'instances = { min = 1; max = 2; initial = 1; };'
start_daemon streammgr
wait_for 20 "alpha's 2 instances" ready_is alpha 2
wait_for 20 "beta's instance" ready_is beta 1

send_keys alpha 1 3000 a >"$T/out/alpha.send" 2>&1 &
pa=$!
send_keys beta 1 2000 b >"$T/out/beta.send" 2>&1 &
pb=$!
wait $pa || fail "send alpha: $(cat "$T/out/alpha.send")"
wait $pb || fail "send beta: $(cat "$T/out/beta.send")"
grep -q "accepted 3000" "$T/out/alpha.send" || fail "alpha: $(cat "$T/out/alpha.send")"
grep -q "accepted 2000" "$T/out/beta.send" || fail "beta: $(cat "$T/out/beta.send")"
ok "both producers got OK for every message"

wait_for 30 "alpha's acks" acked_at_least alpha 3000
wait_for 30 "beta's acks" acked_at_least beta 2000
assert_eq 3000 "$(sstat alpha .acked)" "alpha: each message acked once"
assert_eq 0 "$(sstat alpha .backlog)" "alpha: nothing left waiting"

for t in alpha beta; do
	store_docs $t >"$T/out/$t.docs"
done
assert_eq 3000 "$(wc -l <"$T/out/alpha.docs")" "alpha's store holds 3000 documents"
assert_eq 3000 "$(jq -r ._id "$T/out/alpha.docs" | sort -u | wc -l)" "alpha: one document per key"
assert_eq 2000 "$(wc -l <"$T/out/beta.docs")" "beta's store holds 2000 documents"
assert_eq 2000 "$(jq -r ._id "$T/out/beta.docs" | sort -u | wc -l)" "beta: one document per key"
# Each message names its producer's tenant; the document names the tenant
# of the instance that stored it.
assert_eq 0 "$(jq -c 'select(.value != "v-" + .tenant)' "$T/out/alpha.docs" "$T/out/beta.docs" | wc -l)" \
	"no message reached another tenant's instances"
assert_eq 0 "$(jq -c 'select(.tenant != "alpha" or (._id | startswith("a") | not))' "$T/out/alpha.docs" | wc -l)" \
	"alpha's store holds alpha's keys only"
assert_eq 2 "$(jq -r .instance "$T/out/alpha.docs" | sort -u | wc -l)" "both alpha instances took a share"

# The same keys again, new values: replaced, not added.
seq 1 100 | sed 's/^/a/; s/$/ second/' >"$T/scratch/again"
cli send alpha --file "$T/scratch/again" >/dev/null
wait_for 20 "the second round's acks" acked_at_least alpha 3100
store_docs alpha >"$T/out/alpha.docs"
assert_eq 3000 "$(wc -l <"$T/out/alpha.docs")" "a key sent twice is still one document"
assert_eq 100 "$(jq -c 'select(.value == "second")' "$T/out/alpha.docs" | wc -l)" "the later value won"

pids=$( (sstat alpha '.instances[].pid'; sstat beta '.instances[].pid') | tr '\n' ' ')
stop_daemon streammgr
alive=0
for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive=$((alive + 1)); done
assert_eq 0 $alive "no instance outlives streammgr"

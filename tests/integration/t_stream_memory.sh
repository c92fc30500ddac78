#!/bin/bash
# stream.max_memory bounds what every stream's queue holds in memory
# together (blocks of messages, each its payload and about 80 bytes of
# overhead), which max_queue_bytes (payloads only) does not: a tenant
# sending tiny messages to a stream without instances fills the node's
# bound long before its own queue bytes, producers then hear THROTTLE
# no-memory (any tenant's: the bound is the node's), counted in
# no_memory, and room comes back as the messages are acked.
. "$(dirname "$0")/lib.sh"

MAX=65536
platform "stream.max_memory=\"$MAX\""
stream_tenant alpha 'instances = { min = 0; max = 1; initial = 0; };' \
	'max_queue_bytes = "1M";'
stream_tenant beta
start_daemon streammgr
wait_for 20 "beta's instance" ready_is beta 1

status_all() { cli status --json | jq ".streammgr"; }
assert_eq "$MAX" "$(status_all | jq .max_memory)" "status: max_memory"
sm_log_has "queues may hold $MAX bytes in memory (stream.max_memory)" ||
	fail "no start-up line for stream.max_memory"

# A message that alone passes the bound never fits, however empty the
# queues: a REJECT, which a producer does not send again (a THROTTLE
# would have it sent for ever).
{ head -c 70000 /dev/zero | tr '\0' x; echo; } >"$T/scratch/big"
rc=0; cli send beta --file "$T/scratch/big" --json >"$T/out/big" || rc=$?
assert_eq 65 $rc "a message past the bound alone: send exits 65"
reason=$(jq -r '.reasons[0] | "\(.status) \(.reason)"' "$T/out/big")
[[ $reason =~ ^"REJECT too-large: 70000 bytes hold "[0-9]+" in memory with the copies of its members, over stream.max_memory $MAX"$ ]] ||
	fail "the big one's reason: $reason"
assert_eq 1 "$(sstat beta .no_memory)" "the big one counted as no_memory"
assert_eq 0 "$(status_all | jq .queue_memory)" "nothing held for it"

# 2,000 messages of a few bytes: about 4 KB of payload, far under alpha's
# max_queue_bytes, but each costs its overhead too.
for i in $(seq 1 2000); do echo "m$i x"; done >"$T/scratch/tiny"
rc=0; cli send alpha --file "$T/scratch/tiny" --json >"$T/out/tiny" || rc=$?
assert_eq 75 $rc "past the node's memory: send exits 75"
accepted=$(jq .accepted "$T/out/tiny")
throttled=$(jq .throttled "$T/out/tiny")
[ "$accepted" -gt 0 ] && [ "$throttled" -gt 0 ] &&
	[ $(( accepted + throttled )) = 2000 ] || fail "tiny: $(cat "$T/out/tiny")"
reason=$(jq -r '.reasons[0] | "\(.status) \(.reason)"' "$T/out/tiny")
[[ $reason =~ ^"THROTTLE no-memory: the node's queues hold "([0-9]+)" bytes of stream.max_memory $MAX"$ ]] ||
	fail "the reason: $reason"
held=$(status_all | jq .queue_memory)
[ "$held" -le "$MAX" ] && [ "$held" -gt $(( MAX / 2 )) ] ||
	fail "queue_memory $held against max_memory $MAX"
payload=$(sstat alpha .queue_bytes)
[ "$payload" -lt $(( held / 4 )) ] ||
	fail "alpha's payload $payload is not a small part of $held held"
assert_eq "$accepted" "$(sstat alpha .backlog)" "alpha holds what it accepted"
assert_eq "$throttled" "$(sstat alpha .no_memory)" "counted as no_memory"
ok "$accepted accepted ($payload payload bytes, $held held), $throttled throttled"
cli status | grep -q "^stream queues hold [0-9.]*K in memory of stream.max_memory 64K (past it, producers hear THROTTLE no-memory)$" ||
	fail "status does not say the queues are near the bound: $(cli status)"
wait_for 10 "the violation line" sm_log_has "tenant alpha: stream default: violation memory: the node's queues hold"

# Another tenant is refused too: the bound is the node's.
rc=0; send_keys beta 1 50 >"$T/out/beta" 2>&1 || rc=$?
grep -q "throttled [1-9]" "$T/out/beta" || fail "beta was not throttled: $(cat "$T/out/beta")"
[ "$(sstat beta .no_memory)" -gt 0 ] || fail "beta's no_memory not counted"
ok "beta throttled while alpha's backlog holds the node's memory"

# alpha's instance drains the backlog: the memory comes back, and with
# it beta's messages.
cli scale alpha 1 >/dev/null || fail "scale alpha 1"
wait_for 30 "alpha's backlog acked" acked_at_least alpha "$accepted"
wait_for 10 "the memory given back" eval '[ "$(status_all | jq .queue_memory)" -lt 1000 ]'
rc=0; send_keys beta 101 150 >"$T/out/beta2" 2>&1 || rc=$?
assert_eq 0 $rc "beta's send once the memory is back"
assert_eq "sent 50, accepted 50, rejected 0, throttled 0, unanswered 0" \
	"$(head -n 1 "$T/out/beta2")" "beta, after the drain"
stop_daemon streammgr

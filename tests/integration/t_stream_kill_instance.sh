#!/bin/bash
# SIGKILL of an instance under load: what it held goes to the others at
# once (streammgr learns of the death from SIGCHLD; the ack timeout is a
# minute, longer than this test may take) and nothing is lost.
. "$(dirname "$0")/lib.sh"

platform
STREAMAPP_ARGS=', "-d", "1000", "-c", "50"' stream_tenant alpha \
	'instances = { min = 1; max = 3; initial = 3; }; ack_timeout = "60s";'
start_daemon streammgr
wait_for 20 "3 instances" ready_is alpha 3

send_keys alpha 1 4000 k >"$T/out/send" 2>&1 || fail "send: $(cat "$T/out/send")"
grep -q "accepted 4000" "$T/out/send" || fail "send: $(cat "$T/out/send")"
wait_for 20 "some acks" acked_at_least alpha 300

# The victim holds deliveries it has not acked.
victim=$(cli status alpha --json | jq -r '[.streams[0].instances[] | select(.inflight > 0)][0].pid')
[ -n "$victim" ] && [ "$victim" != null ] || fail "no instance holds messages"
kill -KILL "$victim"
wait_for 10 "the death to be seen" sm_log_has "(pid $victim) killed by signal 9"
held=$(grep "(pid $victim) killed by signal 9" "$SM_LOG" | sed -n 's/.*holding \([0-9]*\) message.*/\1/p')
[ "${held:-0}" -gt 0 ] || fail "the victim held nothing"
ok "the killed instance held $held unacked messages"

wait_for 40 "every message acked" acked_at_least alpha 4000
assert_eq 4000 "$(sstat alpha .acked)" "4000 messages acked"
[ "$(sstat alpha .redelivered)" -ge "$held" ] || fail "redelivered $(sstat alpha .redelivered) < $held"
ok "its messages were delivered again"
store_docs alpha >"$T/out/docs"
assert_eq 4000 "$(jq -r ._id "$T/out/docs" | sort -u | wc -l)" "every key is in the store"
assert_eq 4000 "$(wc -l <"$T/out/docs")" "and only once"
wait_for 10 "a replacement" ready_is alpha 3
stop_daemon streammgr

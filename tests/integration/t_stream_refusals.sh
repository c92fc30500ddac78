#!/bin/bash
# Producers hear about every message that was not stored: too large ->
# REJECT with the reason (over max_message_size, or over max_queue_bytes
# alone); over the queue's bytes -> THROTTLE. Another tenant is not
# affected.
. "$(dirname "$0")/lib.sh"

platform
stream_tenant alpha 'max_message_size = "1K"; max_queue_bytes = "2K";'
stream_tenant beta
stream_tenant gamma 'max_queue_bytes = "1K";'
start_daemon streammgr
wait_for 20 "alpha's instance" ready_is alpha 1

{ echo "small fits"; head -c 2000 /dev/zero | tr '\0' x; echo; echo "also fits"; } >"$T/scratch/mixed"
rc=0; cli send alpha --file "$T/scratch/mixed" >"$T/out/send" 2>&1 || rc=$?
assert_eq 65 $rc "a refused message makes send exit 65"
grep -q "accepted 2, rejected 1" "$T/out/send" || fail "counts: $(cat "$T/out/send")"
grep -q "too-large: 2000 bytes > max_message_size 1024" "$T/out/send" || fail "reason: $(cat "$T/out/send")"
ok "the large message is refused with its reason"
assert_eq 1 "$(sstat alpha .rejected)" "status counts the refusal"

# Under max_message_size but larger than the whole queue: it can never
# be stored, so it is a REJECT too, not a THROTTLE to send again for ever.
head -c 2000 /dev/zero | tr '\0' y >"$T/scratch/whole"; echo >>"$T/scratch/whole"
rc=0; cli send gamma --file "$T/scratch/whole" >"$T/out/whole" 2>&1 || rc=$?
assert_eq 65 $rc "a message over max_queue_bytes: send exits 65"
grep -q "too-large: 2000 bytes > max_queue_bytes 1024" "$T/out/whole" ||
	fail "reason: $(cat "$T/out/whole")"
assert_eq 1 "$(sstat gamma .too_large)" "counted as too_large"

# Stop the instances so the queue fills: 30 x 100 bytes > 2K.
cli stop alpha >/dev/null
wait_for 20 "no instance" eval '[ "$(sstat alpha ".instances | length")" = 0 ]'
for i in $(seq 1 30); do printf 'k%s %098d\n' "$i" 0; done >"$T/scratch/fill"
rc=0; cli send alpha --file "$T/scratch/fill" >"$T/out/fill" 2>&1 || rc=$?
assert_eq 75 $rc "throttled messages make send exit 75"
throttled=$(head -n 1 "$T/out/fill" | sed -n 's/.*throttled \([0-9]*\).*/\1/p')
accepted=$(head -n 1 "$T/out/fill" | sed -n 's/.*accepted \([0-9]*\).*/\1/p')
grep -q "^  throttled $throttled: queue-full: max_queue_bytes 2048 reached$" "$T/out/fill" ||
	fail "the reason: $(cat "$T/out/fill")"
[ "$throttled" -gt 0 ] && [ $(( accepted + throttled )) -eq 30 ] || fail "fill: $(cat "$T/out/fill")"
ok "$accepted accepted, $throttled throttled: none silently dropped"
assert_eq "$accepted" "$(sstat alpha .backlog)" "the accepted ones wait in the queue"

send_keys beta 1 10 >"$T/out/beta" || fail "beta: $(cat "$T/out/beta")"
ok "beta is not affected"
cli start alpha >/dev/null
wait_for 20 "alpha's backlog delivered" acked_at_least alpha $(( accepted + 2 ))
stop_daemon streammgr

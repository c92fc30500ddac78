#!/bin/bash
# A damaged queue on disk: one segment with a flipped bit in a message and
# a record cut short at its end. streammgr starts anyway, reports what
# was lost (the damaged message by number, the torn bytes), keeps every
# readable message, sets the damaged file aside, and serves again.
# Then segments cut to 0 bytes: one between two others (its messages
# numbered by theirs), then the oldest (its losses cannot be numbered):
# both reported as damage, never passed over.
. "$(dirname "$0")/lib.sh"

platform
# No instance until the test asks for one: the messages wait on disk.
stream_tenant alpha 'instances = { min = 0; max = 1; initial = 0; };'
start_daemon streammgr

# Ten messages wait in the queue (durability fsync: on disk at their OK).
send_keys alpha 1 10 >"$T/out/send" || fail "send: $(cat "$T/out/send")"
assert_eq 10 "$(sstat alpha .backlog)" "backlog"
kill -KILL "$SM_PID"
wait "$SM_PID" 2>/dev/null || true

dir=$VAR/queue/alpha/default
seg=$(find "$dir" -name 'seg-*.log' -size +0 | sort | tail -n 1)
[ -n "$seg" ] || fail "no segment in $dir"
# Flip a bit in k5's payload, then cut the last record (k10) short.
at=$(grep -obUa 'k5 v-alpha' "$seg" | cut -d: -f1)
[ -n "$at" ] || fail "k5 not found in $seg"
flip_bits "$seg" $(( at + 1 ))
truncate -s -4 "$seg"

start_daemon streammgr
sm_log_has "1 damaged queue segment" || fail "damage not reported"
sm_log_has "1 message lost (numbers 5..5)" || fail "loss not reported by number"
sm_log_has "bytes of a write cut short by a crash removed" || fail "torn tail not reported"
ok "the loss is reported: message 5, and the torn tail"
assert_eq 1 "$(sstat alpha .recovered.lost)" "status: recovered.lost"
assert_eq 1 "$(sstat alpha .recovered.damaged_segments)" "status: damaged segments"
[ "$(sstat alpha .recovered.torn_bytes)" -gt 0 ] || fail "status: torn bytes"
assert_eq 8 "$(sstat alpha .backlog)" "the eight readable messages are back"
[ "$(find "$dir" -name 'damaged-seg-*.log' | wc -l)" = 1 ] || fail "the damaged segment is not set aside"
ok "eight messages restored, the damaged segment kept as damaged-seg-*"

# Serving again: the restored ones and new ones are delivered.
cli scale alpha 1 >/dev/null
send_keys alpha 11 12 >"$T/out/send2" || fail "send: $(cat "$T/out/send2")"
wait_for 20 "ten deliveries" eval '[ "$(store_docs alpha | wc -l)" = 10 ]'
assert_eq "k1 k11 k12 k2 k3 k4 k6 k7 k8 k9" \
	"$(store_docs alpha | jq -r ._id | sort | xargs)" "delivered keys"
ok "serving again: the eight restored and two new messages delivered"

# The loss is reported once: a restart finds nothing wrong.
stop_daemon streammgr
start_daemon streammgr
assert_eq 0 "$(sstat alpha .recovered.lost)" "no loss on the next start"
assert_eq 0 "$(sstat alpha .recovered.messages)" "nothing left to restore"
stop_daemon streammgr

# Three starts, two messages stored in each: one segment each.
for first in 21 23 25; do
	start_daemon streammgr
	send_keys alpha "$first" $(( first + 1 )) >"$T/out/send3" ||
		fail "send: $(cat "$T/out/send3")"
	stop_daemon streammgr
done
segs=($(find "$dir" -name 'seg-*.log' | sort))
[ "${#segs[@]}" = 3 ] || fail "three segments expected: ${segs[*]}"
truncate -s 0 "${segs[1]}"		# k23, k24
from=$(wc -l <"$SM_LOG")
start_daemon streammgr
sm_log_after "$from" "1 damaged queue segment (0 unreadable bytes)" ||
	fail "a segment cut to 0 bytes is not reported"
line=$(tail -n +"$(( from + 1 ))" "$SM_LOG" | grep -o '2 messages lost (numbers [0-9]*\.\.[0-9]*)') ||
	fail "the loss is not reported by number"
nums=${line#*numbers }
nums=${nums%)}
assert_eq 1 "$(( ${nums#*..} - ${nums%..*} ))" "two consecutive numbers lost ($nums)"
assert_eq 4 "$(sstat alpha .backlog)" "k21 k22 k25 k26 kept"
stop_daemon streammgr

# The oldest now: nothing before it tells its first number.
truncate -s 0 "${segs[0]}"		# k21, k22
from=$(wc -l <"$SM_LOG")
start_daemon streammgr
sm_log_after "$from" "what 1 of them lost cannot be counted" ||
	fail "losses without numbers are not reported"
assert_eq 1 "$(sstat alpha .recovered.uncounted)" "status: recovered.uncounted"
assert_eq 1 "$(sstat alpha .recovered.damaged_segments)" "status: damaged segments (oldest)"
assert_eq 2 "$(sstat alpha .backlog)" "k25 k26 kept"
[ "$(find "$dir" -name 'damaged-seg-*.log' | wc -l)" = 3 ] || fail "the emptied segments are not set aside"
ok "segments cut to 0 bytes reported and set aside, the rest kept"
stop_daemon streammgr

#!/bin/bash
# streammgr starts while the queue's disk is full (after a SIGKILL, say)
# and a segment is damaged. The stream is served all the same: status
# lists it, its readable backlog is restored (served from the damaged
# segment, left in place), new messages get THROTTLE no-space; once space
# returns it accepts again and delivers everything, without a reload, and
# the damaged segment is set aside.
# And dead letters the full disk refuses: the messages are held back,
# not sent round again as fast as the app refuses them, and said once.
#
# Needs root: the tenant's queue folder is a 192 KiB tmpfs (a file-size
# limit, as t_stream_disk_full uses otherwise, cannot fill a disk).
. "$(dirname "$0")/lib.sh"

platform stream.segment_size='"1M"'
stream_tenant alpha 'instances = { min = 0; max = 1; initial = 0; };'
# beta's app nacks while $outage exists; one delivery, then dead letters.
outage=$T/scratch/downstream-down
STREAMAPP_ARGS=", \"-P\", \"$outage\"" stream_tenant beta \
	'max_deliveries = 1; ack_timeout = "20s";'
qdir=$VAR/queue/alpha
bdir=$VAR/queue/beta
small_queue_disks alpha beta

start_daemon streammgr
for i in $(seq 1 3000); do printf 'k%s %096d\n' "$i" "$i"; done >"$T/scratch/fill"
rc=0; cli send alpha --file "$T/scratch/fill" --json >"$T/out/fill" 2>&1 || rc=$?
assert_eq 75 $rc "send exits 75: the disk filled up"
accepted=$(jq .accepted "$T/out/fill")
[ "$accepted" -gt 0 ] || fail "fill: $(cat "$T/out/fill")"
kill -KILL "$SM_PID"
wait "$SM_PID" 2>/dev/null || true

# And the queue is damaged: a bit of k7 flipped. A start copies a damaged
# segment's readable messages into a new one: no room for that either.
seg=$(find "$qdir/default" -name 'seg-*.log' -size +0 | sort | head -n 1)
at=$(grep -obUa 'k7 0' "$seg" | cut -d: -f1)
[ -n "$at" ] || fail "k7 not found in $seg"
printf 'x' | dd of="$seg" bs=1 seek=$(( at + 1 )) conv=notrunc 2>/dev/null

# Not a byte left: not even the new segment's first record fits.
dd if=/dev/zero of="$qdir/pad" bs=1k 2>/dev/null || true
from=$(wc -l <"$SM_LOG")
start_daemon streammgr
readable=$(( accepted - 1 ))
assert_eq "$readable" "$(sstat alpha .recovered.messages)" "the backlog restored"
assert_eq 1 "$(sstat alpha .recovered.lost)" "k7 lost"
assert_eq 1 "$(sstat alpha .recovered.damaged_kept)" "the damaged segment kept"
sm_log_after "$from" "stream default: no room on disk for the queue's writes" ||
	fail "no full-disk warning: $(tail -n 5 "$SM_LOG")"
sm_log_after "$from" "left in place for want of room" ||
	fail "no word of the damaged segment kept: $(tail -n 5 "$SM_LOG")"
ok "started on a full disk, the queue damaged: the stream is served, $readable restored"

printf 'n1 v\n' >"$T/scratch/one"
rc=0; cli send alpha --file "$T/scratch/one" --json >"$T/out/one" 2>&1 || rc=$?
assert_eq 75 $rc "send on the full disk exits 75"
jq -e '.reasons[] | select(.reason | startswith("no-space: "))' "$T/out/one" \
	>/dev/null || fail "no no-space reason: $(cat "$T/out/one")"
ok "a new message gets THROTTLE no-space"

# Space returns: no reload, the next write creates the segment.
rm -f "$qdir/pad"
mount -o remount,size=8m "$qdir"
want=$(( readable + 100 ))
space_back_delivered alpha "$want"
wait_for 30 "every ack written" eval '[ "$(sstat alpha ".backlog + .inflight")" = 0 ]'
ok "the backlog and the new messages delivered: $want"
[ -s "$qdir/default/damaged-${seg##*/}" ] ||
	fail "the damaged segment not set aside once delivered: $(ls "$qdir/default")"
ok "the damaged segment set aside once its messages were delivered"

# The acks reached the disk: nothing comes back after a restart, and
# k7's loss is not counted again.
stop_daemon streammgr
start_daemon streammgr
assert_eq 0 "$(sstat alpha .recovered.messages)" "restored after a clean stop"
assert_eq 0 "$(sstat alpha .recovered.lost)" "lost after a clean stop"

# ---- dead letters on a full disk ------------------------------------------
# The app, stopped, holds two messages; the disk fills; the app nacks
# them (max_deliveries 1): their dead letters are refused.
wait_for 20 "beta's instance" ready_is beta 1
app=$(sstat beta '.instances[0].pid')
kill -STOP "$app"
send_keys beta 1 2 >"$T/out/beta" || fail "beta: $(cat "$T/out/beta")"
wait_for 20 "both sent to the app" eval '[ "$(sstat beta .inflight)" = 2 ]'
touch "$outage"
dd if=/dev/zero of="$bdir/pad" bs=1k 2>/dev/null || true
from=$(wc -l <"$SM_LOG")
kill -CONT "$app"
wait_for 30 "the first dead letter refused" sm_log_after "$from" "cannot write it to dead-letters.jsonl"
rm -f "$bdir/pad"
wait_for 60 "both dead-lettered" eval '[ "$(sstat beta .dead_letters)" = 2 ]'
sm_log_after "$from" "stream default: dead letters are written again" ||
	fail "no 'written again' in the log"
warned=$(tail -n +"$(( from + 1 ))" "$SM_LOG" | grep -c "cannot write it to dead-letters.jsonl" || true)
assert_eq 1 "$warned" "one warning for the whole episode"
assert_eq 2 "$(cli dead-letters beta --json | jq length)" "two dead letters listed"
ok "dead letters refused by the disk: held back, said once, written once there is room"
stop_daemon streammgr

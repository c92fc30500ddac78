#!/bin/bash
# Instances start while the queue's disk is full, past the block of
# instance numbers reserved before it filled: the block is reserved by
# overwriting queue/<tenant>/<stream>/instances in place (no new file
# fits), the backlog is delivered all the same, and after a SIGKILL of
# streammgr on the full disk no instance number comes back. beta's
# stream never had an instance before its disk filled: its file, made
# at open, serves all the same.
#
# Needs root: the tenants' queue folders are 192 KiB tmpfs, as in
# t_stream_full_start.
. "$(dirname "$0")/lib.sh"

# min_uptime 0: a killed instance is restarted at once, no backoff.
platform stream.segment_size='"1M"' stream.min_uptime='"0s"'
stream_tenant alpha 'instances = { min = 0; max = 8; initial = 1; };'
stream_tenant beta 'instances = { min = 0; max = 1; initial = 0; };'
INSTNUM_BLOCK=$(awk '$2 == "INSTNUM_BLOCK" { print $3 }' "$MYSIMBDP_SRC/manager/streammgr/instnum.h")
qdir=$VAR/queue/alpha
bdir=$VAR/queue/beta
small_queue_disks alpha beta

ninst() { cli status alpha --json | jq '.streams[0].instances | length'; }
started() { grep -o 'tenant alpha: stream default: started instance default-[0-9]*' "$SM_LOG" | sed 's/.*-//'; }
disk_full() { [ "$(stat -f -c %a "${1:-$qdir}")" = 0 ]; }
delivered() { [ "$(store_docs "${2:-alpha}" | jq -r ._id | sort -u | wc -l)" -ge "$1" ]; }

start_daemon streammgr
wait_for 20 "alpha's first instance" ready_is alpha 1
# No instance while the disk fills: the backlog waits for those started
# on the full disk.
cli scale alpha 0 >/dev/null
wait_for 30 "alpha's instance gone" eval '[ "$(ninst)" = 0 ]'
for i in $(seq 1 3000); do printf 'k%s %096d\n' "$i" "$i"; done >"$T/scratch/fill"
rc=0; cli send alpha --file "$T/scratch/fill" --json >"$T/out/fill" 2>&1 || rc=$?
assert_eq 75 $rc "send exits 75: the disk filled up"
accepted=$(jq .accepted "$T/out/fill")
[ "$accepted" -gt 0 ] || fail "fill: $(cat "$T/out/fill")"

# beta: no instance yet, its disk filled up; one is asked for.
rc=0; cli send beta --file "$T/scratch/fill" --json >"$T/out/bfill" 2>&1 || rc=$?
assert_eq 75 $rc "beta: send exits 75: the disk filled up"
baccepted=$(jq .accepted "$T/out/bfill")
dd if=/dev/zero of="$bdir/pad" bs=1k 2>/dev/null || true
disk_full "$bdir" || fail "beta's disk is not full: $(df "$bdir")"
from=$(wc -l <"$SM_LOG")
cli scale beta 1 >/dev/null
wait_for 30 "beta's instance on the full disk" ready_is beta 1
sm_log_after "$from" "tenant beta: stream default: instance numbers reserved in place" ||
	fail "beta: no reservation in place in the log"
wait_for 60 "beta's backlog delivered" delivered "$baccepted" beta
ok "beta's first instance started on its full disk and delivered all $baccepted"

# A SIGKILL, and not a byte left: the restart's first instance needs a
# block at once, the file says the first number not reserved.
kill9_daemon streammgr
dd if=/dev/zero of="$qdir/pad" bs=1k 2>/dev/null || true
disk_full || fail "the disk is not full: $(df "$qdir")"
reserved=$(sed 's/^0*//' "$qdir/default/instances")
from=$(wc -l <"$SM_LOG")
start_daemon streammgr
assert_eq "$accepted" "$(sstat alpha .recovered.messages)" "the backlog restored"
wait_for 30 "an instance on the full disk" ready_is alpha 1
sm_log_after "$from" "tenant alpha: stream default: instance numbers reserved in place: .*alpha/default/instances: write: No space left on device" ||
	fail "no reservation in place in the log"
wait_for 60 "the backlog delivered on the full disk" delivered "$accepted"
ok "an instance started on the full disk ($(started | tail -n 1)) and delivered all $accepted"
# The delivered segment gives its room back once all of it is acked:
# the newest on disk while the new one waits for room, it becomes that
# one in place (cut to an H record naming the next number, renamed
# seg-2; deleted, the next start would give out numbers from 1 again).
# Fill the disk up again.
wait_for 30 "all acked" eval '[ "$(sstat alpha ".backlog + .inflight")" = 0 ]'
wait_for 30 "the delivered segment made the new one" \
	test ! -e "$qdir/default/seg-0000000000000001.log"
seg2=$qdir/default/seg-0000000000000002.log
[ -e "$seg2" ] && [ "$(stat -c %s "$seg2")" -lt 16384 ] ||
	fail "no small seg-2: $(ls -l "$qdir/default")"
dd if=/dev/zero of="$qdir/pad2" bs=1k 2>/dev/null || true
disk_full || fail "the disk is not full: $(df "$qdir")"

# Past the next block: 8 instances, all killed again and again until
# the numbers run past another block, the disk full all along.
cli scale alpha 8 >/dev/null
wait_for 60 "8 instances" ready_is alpha 8
rounds=0
while [ "$(started | sort -n | tail -n 1)" -lt $(( reserved + INSTNUM_BLOCK )) ]; do
	rounds=$(( rounds + 1 ))
	[ $rounds -le 20 ] || fail "20 rounds and still no instance past $(( reserved + INSTNUM_BLOCK ))"
	n=$(started | wc -l)
	kill -KILL $(cli status alpha --json | jq -r '.streams[0].instances[].pid') 2>/dev/null || true
	wait_for 60 "8 restarts" eval '[ "$(started | wc -l)" -ge $(( n + 8 )) ]'
	wait_for 60 "8 instances again" ready_is alpha 8
done
disk_full || fail "the disk had room: $(df "$qdir")"
inplace=$(tail -n +"$(( from + 1 ))" "$SM_LOG" | grep -c "tenant alpha: stream default: instance numbers reserved in place" || true)
[ "$inplace" -ge 2 ] || fail "$inplace reservations in place, not 2"
last=$(started | sort -n | tail -n 1)
ok "$rounds rounds of kills on the full disk: up to default-$last, $inplace blocks reserved in place"

# A SIGKILL on the full disk: the numbers go on after the last block
# reserved in place. (The recovery may free some room: not asserted.)
kill9_daemon streammgr
from=$(wc -l <"$SM_LOG")
before=$(started | wc -l)
start_daemon streammgr
cli scale alpha 8 >/dev/null
wait_for 60 "8 instances after SIGKILL" ready_is alpha 8
first=$(tail -n +"$(( from + 1 ))" "$SM_LOG" | grep -o 'tenant alpha: stream default: started instance default-[0-9]*' | sed 's/.*-//' | sort -n | head -n 1)
[ "$first" -gt "$last" ] || fail "after SIGKILL default-$first, up to default-$last before"
dup=$(started | sort -n | uniq -d | tr '\n' ' ')
assert_eq "" "$dup" "no instance number started twice ($(started | wc -l) starts, $before before the SIGKILL)"
ok "after a SIGKILL on the full disk: from default-$first, none used before"

# Space returns: accepted and delivered again.
rm -f "$qdir/pad" "$qdir/pad2"
mount -o remount,size=8m "$qdir"
space_back_delivered alpha $(( accepted + 100 ))
stop_daemon streammgr

#!/bin/bash
# The queue's disk fills up. Producers get THROTTLE no-space for what
# could not be stored, never an OK; streammgr keeps running, other
# tenants are unaffected; what was accepted survives a SIGKILL; and once
# space returns the stream accepts and delivers again.
#
# As root the tenant's queue folder is a 192 KiB tmpfs (ENOSPC); otherwise
# streammgr runs with a 192 KiB file-size limit (EFBIG); FULL_DISK=fsize
# chooses the latter as root too.
. "$(dirname "$0")/lib.sh"

platform stream.segment_size='"1M"'
stream_tenant alpha 'instances = { min = 0; max = 1; initial = 0; };'
stream_tenant beta
qdir=$VAR/queue/alpha
mkdir -p "$qdir"
mode=fsize
if [ "${FULL_DISK:-}" != fsize ] && [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=192k,mode=0700 tmpfs "$qdir" 2>/dev/null; then
	mode=tmpfs
	on_cleanup() { umount "$qdir" 2>/dev/null; }
fi
echo "# full disk simulated by: $mode"
start_daemon streammgr
[ $mode = fsize ] && prlimit --pid "$SM_PID" --fsize=196608

for i in $(seq 1 3000); do printf 'k%s %096d\n' "$i" "$i"; done >"$T/scratch/fill"
rc=0; cli send alpha --file "$T/scratch/fill" --json >"$T/out/fill" 2>&1 || rc=$?
assert_eq 75 $rc "send exits 75: messages were throttled"
accepted=$(jq .accepted "$T/out/fill")
throttled=$(jq .throttled "$T/out/fill")
[ "$accepted" -gt 0 ] && [ "$throttled" -gt 0 ] &&
	[ $(( accepted + throttled )) = 3000 ] || fail "fill: $(cat "$T/out/fill")"
jq -e '.reasons[] | select(.status == "THROTTLE" and (.reason | startswith("no-space: write ")))' \
	"$T/out/fill" >/dev/null || fail "no no-space reason: $(cat "$T/out/fill")"
ok "$accepted accepted, $throttled refused with THROTTLE no-space"
running "$SM_PID" || fail "streammgr died"
[ "$(sstat alpha .no_space)" = "$throttled" ] || fail "status no_space: $(sstat alpha .no_space)"
assert_eq "$accepted" "$(sstat alpha .backlog)" "the accepted ones wait"
sm_log_has "violation disk: write" || fail "no violation in the log"
send_keys beta 1 10 >"$T/out/beta" || fail "beta: $(cat "$T/out/beta")"
ok "streammgr runs on; beta is not affected"

# What was accepted is on disk: a crash loses none of it. Space returns.
kill -KILL "$SM_PID"
wait "$SM_PID" 2>/dev/null || true
if [ $mode = tmpfs ]; then mount -o remount,size=8m "$qdir"; fi
start_daemon streammgr
assert_eq "$accepted" "$(sstat alpha .recovered.messages)" "restored after SIGKILL"

for i in $(seq 3001 3100); do printf 'k%s %096d\n' "$i" "$i"; done >"$T/scratch/more"
cli send alpha --file "$T/scratch/more" >"$T/out/more" 2>&1 || fail "after space returned: $(cat "$T/out/more")"
ok "space back: new messages accepted"

cli scale alpha 1 >/dev/null
want=$(( accepted + 100 ))
wait_for 60 "$want deliveries" eval '[ "$(store_docs alpha | wc -l)" -ge $want ]'
store_docs alpha | jq -r ._id | sort -u >"$T/out/keys"
assert_eq "$want" "$(wc -l <"$T/out/keys")" "distinct keys delivered"
bad=$(grep -cvxE 'k[0-9]+' "$T/out/keys" || true)
assert_eq 0 "$bad" "only keys that were sent"
ok "every accepted message delivered: $want"
stop_daemon streammgr

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
# gamma: a stream with a subscription "copy", neither with an instance
# (what they are owed stays queued), for the last part.
tenant gamma <<EOF
id = "gamma";
streams = ( { app = ["$STREAMAPP"]; stop_timeout = "2s";
  instances = { min = 0; max = 1; initial = 0; };
  subscriptions = ( { name = "copy"; app = ["$STREAMAPP"]; stop_timeout = "2s";
    instances = { min = 0; max = 1; initial = 0; }; } ); } );
EOF
qdir=$VAR/queue/alpha
gdir=$VAR/queue/gamma
mkdir -p "$qdir" "$gdir"
mode=fsize
if [ "${FULL_DISK:-}" != fsize ] && [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=192k,mode=0700 tmpfs "$qdir" 2>/dev/null; then
	mode=tmpfs
	# Lazily: after a failure streammgr, still running, holds files there.
	on_cleanup() { umount -l "$qdir" 2>/dev/null; umount -l "$gdir" 2>/dev/null; }
	mount -t tmpfs -o size=192k,mode=0700 tmpfs "$gdir" || fail "mount a tmpfs on $gdir"
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

want=$(( accepted + 100 ))
space_back_delivered alpha "$want"
bad=$(grep -cvxE 'k[0-9]+' "$T/out/keys" || true)
assert_eq 0 "$bad" "only keys that were sent"
ok "every accepted message delivered: $want"
stop_daemon streammgr

# ---- fan-out: numbers the disk refused are given out again ----------------
# While gamma's subscription "copy" is drained it takes no copies, and
# each new message is noted as settled for it. The disk refuses some;
# their numbers are given out again once space returns and copy takes
# copies again: those must not be taken for settled, or copy loses them
# at the next start.
start_daemon streammgr
[ $mode = fsize ] && prlimit --pid "$SM_PID" --fsize=196608
gsub() { cli status gamma --json | jq -r ".streams[] | select(.stream == \"default.copy\") | $1"; }
cli drain gamma --stream default.copy >"$T/out/gdrain" 2>&1 || fail "drain copy: $(cat "$T/out/gdrain")"
for i in $(seq 1 3000); do printf 'g%s %096d\n' "$i" "$i"; done >"$T/scratch/gfill"
rc=0; cli send gamma --file "$T/scratch/gfill" --json >"$T/out/gfill" 2>&1 || rc=$?
assert_eq 75 $rc "gamma: send exits 75: messages were throttled"
[ "$(jq .throttled "$T/out/gfill")" -gt 0 ] || fail "gamma fill: $(cat "$T/out/gfill")"
if [ $mode = tmpfs ]; then mount -o remount,size=8m "$gdir"; else prlimit --pid "$SM_PID" --fsize=unlimited; fi
cli start gamma --stream default.copy >"$T/out/gstart" 2>&1 || fail "start copy: $(cat "$T/out/gstart")"
for i in $(seq 1 100); do printf 'h%s %096d\n' "$i" "$i"; done >"$T/scratch/gmore"
cli send gamma --file "$T/scratch/gmore" >"$T/out/gmore" 2>&1 || fail "gamma, space back: $(cat "$T/out/gmore")"
assert_eq 100 "$(gsub .backlog)" "copy's backlog: the 100 sent since it was started"
# The stream's own instance acks all it has: its releases write what
# was noted as settled (as any loop turn with releases does).
cli scale gamma 1 --stream default >"$T/out/gscale" 2>&1 || fail "scale gamma: $(cat "$T/out/gscale")"
wait_for 60 "gamma's stream to deliver all" eval \
	'[ "$(sstat gamma ".backlog + .inflight")" = 0 ]'
kill -KILL "$SM_PID"
wait "$SM_PID" 2>/dev/null || true
start_daemon streammgr
assert_eq 100 "$(gsub .backlog)" "copy's backlog after a SIGKILL and a restart"
ok "numbers refused by the disk and given out again are not settled for copy"
stop_daemon streammgr

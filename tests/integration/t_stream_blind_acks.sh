#!/bin/bash
# An instance that never reads its deliveries and acks ids it never read
# (tests/apps/workflood blindack): each ack frees a message from the
# queue but not its copy on the way to the instance. streammgr's memory
# stays bounded all the same (its send queue to one instance holds a few
# deliveries: docs/hostile-input.md), while a producer offers 150 MB in
# 60 KB messages; the rest waits in the queue, within max_queue_bytes,
# and the producer hears THROTTLE. Another tenant is served meanwhile.
. "$(dirname "$0")/lib.sh"

WORKFLOOD=$MYSIMBDP_BUILD/tests/integration/workflood
MESSAGES=2500		# of 60,000 bytes: 150 MB
BOUND_KB=$(( 32 * 1024 ))	# RSS growth allowed, generously
if sanitized; then
	# Freed memory sits in AddressSanitizer's quarantine (256 MB by
	# default): kept small, so that RSS says what streammgr holds.
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4
fi

platform
tenant rogue <<-EOF
id = "rogue";
streams = ( { app = ["$WORKFLOOD", "blindack"]; stop_timeout = "1s";
  max_queue_bytes = "1M"; durability = "memory"; } );
EOF
stream_tenant beta
start_daemon streammgr
wait_for 20 "beta's instance" ready_is beta 1
wait_for 20 "the blind acker" ready_is rogue 1

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SM_PID/status"; }
before=$(rss_kb)
# Paced, so that without a bound the acks would empty the queue in time
# for nearly every message (a few seconds).
rc=0
awk -v n=$MESSAGES 'BEGIN {
	v = "x"; while (length(v) < 60000) v = v v; v = substr(v, 1, 60000)
	for (i = 1; i <= n; i++) print "k" i " " v
}' | cli send rogue --rate 500 --json >"$T/out/rogue" 2>"$T/out/rogue.err" || rc=$?
[ $rc = 0 ] || [ $rc = 75 ] || fail "send to rogue exited $rc: $(cat "$T/out/rogue" "$T/out/rogue.err")"
after=$(rss_kb)
echo "# streammgr RSS ${before} kB before, ${after} kB after; offered $MESSAGES, accepted $(jq .accepted "$T/out/rogue"), throttled $(jq .throttled "$T/out/rogue")"
[ $(( after - before )) -lt $BOUND_KB ] ||
	fail "streammgr grew by $(( (after - before) / 1024 )) MiB (bound $(( BOUND_KB / 1024 )) MiB) under blind acks"
ok "streammgr grew by $(( (after - before) / 1024 )) MiB while 150 MB were offered"
[ "$(sstat rogue .queue_bytes)" -le $(( 1024 * 1024 )) ] ||
	fail "the queue holds more than max_queue_bytes: $(sstat rogue .queue_bytes)"
ok "the queue within max_queue_bytes"

# Another tenant is served beside it.
rc=0; send_keys beta 1 200 >"$T/out/beta" || rc=$?
assert_eq 0 $rc "beta's send: $(cat "$T/out/beta")"
wait_for 30 "beta's 200 acks" acked_at_least beta 200
ok "beta served"

# The acks of ids it was never given are counted, for the stream and
# for the instance (read from one status: the flood goes on); beta's app
# acks only what it holds.
read -r stray mine acked < <(sstat rogue \
	'"\(.stray_acks) \(.instances | map(.stray_acks) | add) \(.acked)"')
[ "$stray" -gt "$acked" ] ||
	fail "rogue's stray acks: $stray, not more than its $acked acks"
assert_eq "$stray" "$mine" "the instance's stray acks (one instance)"
assert_eq 0 "$(sstat beta .stray_acks)" "beta's stray acks"
ok "stray acks counted: $stray"

stop_daemon streammgr

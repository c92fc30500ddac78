#!/bin/bash
# A crash-looping app is detected, restarted with growing delays and
# reported in `status`; an app that exits 125 is not restarted until an
# operator starts it again; a crash loop ends with an instance that ran
# min_uptime, even one that exited before it said HELLO.
. "$(dirname "$0")/lib.sh"

# min_uptime far above the app's start-up (it exits at once), even under
# load: an instance up that long would reset the backoff checked below.
platform stream.crashloop_restarts=3 stream.restart_backoff='"100ms"' \
	stream.restart_backoff_max='"800ms"' stream.min_uptime="\"$(scaled 2)s\""
STREAMAPP_ARGS=', "-x", "3"' stream_tenant alpha
STREAMAPP_ARGS=', "-x", "125"' stream_tenant beta
# gamma: three quick exits (a crash loop), then a run longer than
# min_uptime that exits before it says HELLO (so no statistics tick sees
# it ready), then the real app for good.
cat >"$T/recovers" <<EOF
#!/bin/sh
n=\$(( \$(cat "\$HOME/runs" 2>/dev/null || echo 0) + 1 ))
echo "\$n" >"\$HOME/runs"
[ "\$n" -le 3 ] && exit 1
[ "\$n" -eq 4 ] && { sleep $(scaled 3); exit 1; }
exec "$STREAMAPP"
EOF
chmod 755 "$T/recovers"
# Its fourth run outlasts the default start_timeout at a large time
# factor: that one is for apps stuck before their HELLO
# (t_stream_start_timeout), not this one.
tenant gamma <<EOF
id = "gamma";
streams = ( { app = ["$T/recovers"]; stop_timeout = "2s"; start_timeout = "1d"; } );
EOF
start_daemon streammgr

state_is() { [ "$(sstat "$1" .state)" = "$2" ]; }
wait_for 20 "alpha to be in a crash loop" state_is alpha crashloop
ok "status reports alpha as crashloop"
sm_log_has "tenant alpha: stream default: crash loop" || fail "no crash loop line in the log"
ok "the crash loop is logged"

# Backoff: the time from an instance's death to the next start grows
# (100, 200, 400, 800 ms, then 800 ms, the maximum), whatever the app's
# own start-up time. Each gap is checked against its own minimum: a
# loaded machine only makes gaps longer (the first one, say, as long as
# the fourth), never shorter.
gaps() {
	grep -E 'tenant alpha: stream default: (started instance|instance .* exited)' "$SM_LOG" | log_ms |
		awk '/ exited / { dead = $1; next } dead != "" { print $1 - dead; dead = "" }'
}
wait_for 20 "five restarts" eval '[ "$(gaps | wc -l)" -ge 5 ]'
gaps >"$T/out/gaps"
echo "# from death to restart (ms): $(tr '\n' ' ' <"$T/out/gaps")"
# The log's times are to the millisecond, hence the 1 ms off each minimum.
awk 'NR <= 5 { want = 100 * 2 ^ (NR - 1); if (want > 800) want = 800
	if ($1 < want - 1) { printf "gap %d: %d ms, below its backoff of %d ms\n", NR, $1, want; bad = 1 } }
	END { exit bad }' "$T/out/gaps" >"$T/out/short" ||
	fail "restarts are not backed off: $(cat "$T/out/short")"
ok "restarts are backed off"
[ "$(sstat alpha .restarts)" -ge 5 ] || fail "restarts: $(sstat alpha .restarts)"
ok "status counts the restarts"

wait_for 20 "beta to be failed" state_is beta failed
assert_eq 1 "$(sstat beta .restarts)" "exit 125 is not restarted"
assert_eq 0 "$(sstat beta '.instances | length')" "beta has no instance"
cli start beta >/dev/null || fail "start beta"
wait_for 20 "beta's second start" sm_log_has "tenant beta: stream default: started instance default-2"
ok "start runs a failed stream again"

wait_for 20 "gamma's crash loop" sm_log_has "tenant gamma: stream default: crash loop:"
wait_for 30 "gamma running again" state_is gamma running
sm_log_has "tenant gamma: stream default: crash loop over: instance default-4 ran" ||
	fail "the crash loop did not end with default-4's late exit"
wait_for 20 "gamma's app ready" ready_is gamma 1
assert_eq running "$(sstat gamma .state)" "gamma's state once its app is up"
ok "a late exit ends a crash loop, for good"

stop_daemon streammgr

#!/bin/bash
# A crash-looping app is detected, restarted with growing delays and
# reported in `status`; an app that exits 125 is not restarted until an
# operator starts it again.
. "$(dirname "$0")/lib.sh"

platform stream.crashloop_restarts=3 stream.restart_backoff='"100ms"' \
	stream.restart_backoff_max='"800ms"' stream.min_uptime='"1s"'
STREAMAPP_ARGS=', "-x", "3"' stream_tenant alpha
STREAMAPP_ARGS=', "-x", "125"' stream_tenant beta
start_daemon streammgr

state_is() { [ "$(sstat "$1" .state)" = "$2" ]; }
wait_for 20 "alpha to be in a crash loop" state_is alpha crashloop
ok "status reports alpha as crashloop"
sm_log_has "tenant alpha: stream default: crash loop" || fail "no crash loop line in the log"
ok "the crash loop is logged"

# Backoff: the time from an instance's death to the next start grows
# (100, 200, 400, 800 ms), whatever the app's own start-up time.
ms() { awk '{ split(substr($1, 12, 12), t, ":"); print (t[1] * 3600 + t[2] * 60 + t[3]) * 1000, $0 }'; }
gaps() {
	grep -E 'tenant alpha: stream default: (started instance|instance .* exited)' "$SM_LOG" | ms |
		awk '/ exited / { dead = $1; next } dead != "" { print $1 - dead; dead = "" }'
}
wait_for 20 "five restarts" eval '[ "$(gaps | wc -l)" -ge 5 ]'
gaps >"$T/out/gaps"
first=$(sed -n 1p "$T/out/gaps"); fourth=$(sed -n 4p "$T/out/gaps")
echo "# from death to restart (ms): $(tr '\n' ' ' <"$T/out/gaps")"
[ "${fourth%.*}" -ge $(( ${first%.*} * 3 )) ] || fail "restarts are not backed off: $(tr '\n' ' ' <"$T/out/gaps")"
ok "restarts are backed off"
[ "$(sstat alpha .restarts)" -ge 5 ] || fail "restarts: $(sstat alpha .restarts)"
ok "status counts the restarts"

wait_for 20 "beta to be failed" state_is beta failed
assert_eq 1 "$(sstat beta .restarts)" "exit 125 is not restarted"
assert_eq 0 "$(sstat beta '.instances | length')" "beta has no instance"
cli start beta >/dev/null || fail "start beta"
wait_for 20 "beta's second start" sm_log_has "tenant beta: stream default: started instance default-2"
ok "start runs a failed stream again"

stop_daemon streammgr

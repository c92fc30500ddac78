#!/bin/bash
# An instance that never says HELLO (an app hung in its start-up, or
# connected to the wrong endpoint) does not keep its place for ever: at
# its stream's start_timeout it gets SIGTERM, then SIGKILL to its group
# after stop_timeout, and its exit is a failed start however long it ran:
# the next one waits restart_backoff, doubling, and the stream is marked
# crashloop. Its replacement starts once it is gone (it counts against
# instances.max meanwhile). Another tenant's stream, whose app says
# HELLO, is served and never stopped, long past its own start_timeout.
. "$(dirname "$0")/lib.sh"

# min_uptime (lib.sh: 500ms) is below start_timeout: each stuck instance
# runs longer than it, and still its exit must count as a quick one.
platform stream.restart_backoff='"200ms"' stream.restart_backoff_max='"800ms"' \
	stream.crashloop_restarts=3
# Never says HELLO, and SIGTERM does not stop it either.
cat >"$T/mute" <<'EOF'
#!/bin/sh
trap '' TERM
exec sleep 1000
EOF
chmod 755 "$T/mute"
tenant mute <<EOF
id = "mute";
streams = ( { app = ["$T/mute"]; start_timeout = "1s"; stop_timeout = "1s"; } );
EOF
beta_timeout=$(scaled 5)
stream_tenant beta "start_timeout = \"${beta_timeout}s\";"
start_daemon streammgr

# pid_of TENANT ID: the pid of that instance in status (fails while none).
pid_of() {
	cli status "$1" --json |
		jq -er ".streams[0].instances[] | select(.id == \"$2\") | .pid"
}
state_is() { [ "$(sstat "$1" .state)" = "$2" ]; }

wait_for 20 "mute's first instance" pid_of mute default-1
first=$(pid_of mute default-1)
wait_for 30 "default-1 stopped for want of a HELLO" sm_log_has \
	"tenant mute: stream default: instance default-1 (pid $first) did not say HELLO within start_timeout (1s): a failed start"
wait_for 30 "default-1 (pid $first) gone" gone "$first"
sm_log_has "tenant mute: stream default: instance default-1 did not stop within stop_timeout: SIGKILL" ||
	fail "default-1 (SIGTERM ignored) was not killed"
ok "an instance with no HELLO within start_timeout gets SIGTERM, then SIGKILL"

wait_for 30 "mute's second instance" pid_of mute default-2
# instances.max is 1: the stuck one is gone before its replacement starts.
first_of=$(grep -m 1 "tenant mute: stream default: \(started instance default-2 \|instance default-1 (pid [0-9]*) killed\)" "$SM_LOG")
case $first_of in
*"instance default-1 (pid $first) killed"*) ;;
*) fail "default-2 started before default-1 was gone: $first_of" ;;
esac
ok "a new instance is started once the stuck one is gone"

wait_for 60 "mute in a crash loop" state_is mute crashloop
sm_log_has "tenant mute: stream default: crash loop: 3 quick exits in a row" ||
	fail "no crash loop line for mute in the log"
wait_for 60 "mute's fourth instance" pid_of mute default-4
# From each exit to the next start: at least the backoff (200, 400 then
# 800 ms), however late the exits come (the log's times are to the ms).
grep -E 'tenant mute: stream default: (started instance|instance default-[0-9]+ \(pid [0-9]+\) killed)' "$SM_LOG" |
	log_ms | awk '/ killed / { dead = $1; next } dead != "" { print $1 - dead; dead = "" }' >"$T/out/gaps"
echo "# from a stuck instance's death to the next start (ms): $(tr '\n' ' ' <"$T/out/gaps")"
awk 'NR <= 3 { want = 200 * 2 ^ (NR - 1); n++
	if ($1 < want - 1) { printf "gap %d: %d ms, below its backoff of %d ms\n", NR, $1, want; bad = 1 } }
	END { if (n < 3) { print "fewer than 3 restarts"; bad = 1 }; exit bad }' "$T/out/gaps" >"$T/out/short" ||
	fail "the restarts are not backed off: $(cat "$T/out/short")"
[ "$(sstat mute .restarts)" -ge 3 ] || fail "mute's restarts: $(sstat mute .restarts)"
ok "the failed starts are backed off, counted and shown as crashloop in status"

# beta's app says HELLO: served, and still its first instance once that
# has run past its start_timeout.
wait_for 30 "beta ready" ready_is beta 1
beta_pid=$(pid_of beta default-1)
send_keys beta 1 5 >"$T/out/send" || fail "send to beta: $(cat "$T/out/send")"
wait_for 30 "beta's acks" acked_at_least beta 5
past() {
	[ "$(sstat beta '.instances[0].uptime_ms')" -gt $(( beta_timeout * 1000 + 1000 )) ]
}
wait_for 60 "beta's instance up past its start_timeout" past
ready_is beta 1 || fail "beta's instance is not ready: $(sstat beta .instances)"
assert_eq "$beta_pid" "$(pid_of beta default-1)" "beta's instance pid"
assert_eq running "$(sstat beta .state)" "beta's state"
assert_eq 0 "$(sstat beta .restarts)" "beta's restarts"
! sm_log_has "tenant beta: .*did not say HELLO" || fail "beta's instance was taken for a stuck one"
ok "an instance that said HELLO is not stopped, past its start_timeout"

cli stop mute >/dev/null || fail "stop mute"
wait_for 30 "mute without instances" eval '[ "$(sstat mute ".instances | length")" = 0 ]'
assert_eq stopped "$(sstat mute .state)" "mute's state after stop"
stop_daemon streammgr

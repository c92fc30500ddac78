#!/bin/bash
# An instance that says BYE and then hangs (tests/apps/streamapp -L: an
# app stuck on its sink after closing its stream) is stopped: SIGTERM
# once its stop_timeout after the BYE is over, SIGKILL to its group after
# another. While it lingers it counts against instances.max, so a
# replacement starts at once only while there is room, and the stream
# never has more processes than max. `stop` leaves none behind.
. "$(dirname "$0")/lib.sh"

platform
tenant alpha <<EOF2
id = "alpha";
streams = ( { app = ["$STREAMAPP", "-L"]; stop_timeout = "1s";
  instances = { min = 1; max = 2; initial = 1; }; } );
EOF2
start_daemon streammgr

# procs: the stream's processes (streammgr's children), alive or not yet
# reaped.
procs() { pgrep -c -P "$SM_PID" || true; }
# started N: instance default-N was started, or (in $over) more processes
# than max were seen: either ends the wait (wait_for hides what fail says).
over=
started() {
	local n
	n=$(procs)
	if [ "$n" -gt 2 ]; then
		over="$n instance processes, over instances.max 2: $(cli status alpha --json | jq -c '[.streams[0].instances[] | [.id, .state]]')"
		return 0
	fi
	sm_log_has "tenant alpha: stream default: started instance default-$1 "
}
pid_of() {
	cli status alpha --json |
		jq -er ".streams[0].instances[] | select(.id == \"$1\") | .pid"
}

wait_for 20 "the first instance" pid_of default-1
first=$(pid_of default-1)
wait_for 20 "its BYE" sm_log_has "instance default-1 said BYE"
# Each leaver goes by its own timer (2 x stop_timeout), so the
# generations follow one another whatever the machine's speed.
wait_for 60 "the fifth instance, never more than 2 at once" started 5
[ -z "$over" ] || fail "$over"
ok "leavers are replaced without more processes than instances.max"
# Which came first in the log: default-2's start or default-1's exit.
first_of=$(grep -m 1 "started instance default-2 \|stream default: instance default-1 (pid" "$SM_LOG")
case $first_of in
*"started instance default-2 "*) ;;
*) fail "default-2 was not started while default-1 lingered: $first_of" ;;
esac
ok "the first replacement started while the leaver lingered (max left room)"

wait_for 30 "the first leaver to be gone" gone "$first"
sm_log_has "instance default-1 did not exit within stop_timeout of its BYE" ||
	fail "no line on default-1 lingering after its BYE"
sm_log_has "instance default-1 did not stop within stop_timeout: SIGKILL" ||
	fail "default-1 (SIGTERM only asks it to stop) was not killed"
ok "a leaver that lingers gets SIGTERM, then SIGKILL"

cli stop alpha >/dev/null || fail "stop alpha"
wait_for 30 "no instance process left after stop" eval '[ "$(procs)" = 0 ]'
assert_eq stopped "$(sstat alpha .state)" "alpha's state"
assert_eq 0 "$(sstat alpha '.instances | length')" "alpha's instances"
ok "stop leaves no instance, leaving or not"

stop_daemon streammgr

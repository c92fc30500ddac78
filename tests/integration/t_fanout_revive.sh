#!/bin/bash
# A subscription removed by reload and put back before streammgr freed it
# (its instance, lingering after its BYE, has up to stop_timeout to exit)
# serves again as one added anew: it gets the messages accepted from then
# on, after a SIGKILL of streammgr too, none of those accepted before it
# came back (docs/configuration.md "streams[].subscriptions"). "default"'s
# instances are stopped, so every message stays in the journal.
. "$(dirname "$0")/lib.sh"

platform
# The lingering instance (streamapp -L says BYE at once, then hangs)
# keeps the removed subscription from being freed for up to 2 x
# stop_timeout; streammgr's SIGKILL ends it at the end.
LINGER="subscriptions = ( {
	    name = \"slow\";
	    app = [ \"$STREAMAPP\", \"-L\", \"-C\", \"slow\" ];
	    instances = { min = 1; max = 1; };
	    stop_timeout = \"300s\";
	  } );"
SERVE="subscriptions = ( {
	    name = \"slow\";
	    app = [ \"$STREAMAPP\", \"-C\", \"slow\" ];
	    instances = { min = 1; max = 1; };
	  } );"

# profile [SUBSCRIPTIONS]: alpha's profile, with the subscriptions given.
profile() { main_stream 'min = 1; max = 1;' fsync "${1:-}"; }

send() {
	printf '%s v\n' "$1" >"$T/scratch/$1"
	cli send alpha --file "$T/scratch/$1" >/dev/null || fail "send $1"
}

profile "$LINGER"
start_daemon streammgr
wait_for 20 "default's instance" sub_ready_is default 1
wait_for 20 "default.slow's instance to say BYE and linger" \
	sm_log_has "instance default.slow-1 said BYE"
cli stop alpha --stream default >"$T/out/stop" 2>&1 ||
	fail "stop default: $(cat "$T/out/stop")"
wait_for 20 "default's instance to stop" eval \
	'[ "$(substat default ".instances | length")" = 0 ]'

send old1
wait_for 20 "default.slow holding old1" eval \
	'[ "$(substat default.slow .backlog)" = 1 ]'
profile
kill -HUP "$SM_PID"
wait_for 20 "default.slow removed" unlisted default.slow
sm_log_has "subscription default.slow: removed from the profile" ||
	fail "no removal of default.slow in streammgr's log"
send mid1
profile "$SERVE"
kill -HUP "$SM_PID"
wait_for 20 "default.slow back" \
	sm_log_has "subscription default.slow: profile back; serving again"
ok "default.slow, put back while its instance lingered, was revived"
send new1
wait_for 30 "new1 in slow" eval '[ "$(coll_keys slow | grep -cx new1)" = 1 ]'
wait_for 30 "default.slow idle" sub_idle default.slow
# Each member's settled list is written at the end of the loop turn of
# its acks: a status answered after the one that saw it idle comes later.
cli status alpha --json >/dev/null

kill -KILL "$SM_PID"
wait "$SM_PID" 2>/dev/null || true
start_daemon streammgr
wait_for 30 "default.slow's instance after the restart" sub_ready_is default.slow 1
# One more message: default.slow gets it after anything restored for it
# (lower numbers go first).
send after1
wait_for 30 "after1 in slow" eval '[ "$(coll_keys slow | grep -cx after1)" = 1 ]'
wait_for 30 "default.slow idle" sub_idle default.slow
assert_eq "after1 new1" "$(coll_keys slow | xargs)" \
	"slow after a SIGKILL: only the messages sent after it came back"
ok "a revived subscription got none of the messages before it came back"

#!/bin/bash
# start, stop, drain and scale through the CLI; malformed control requests
# get an error reply and change nothing.
. "$(dirname "$0")/lib.sh"

platform
stream_tenant alpha 'instances = { min = 1; max = 3; initial = 1; };'
start_daemon streammgr
wait_for 20 "one instance" ready_is alpha 1

# Statistics and events on the PUB socket (run/streammgr.pub): once the
# subscriber has seen statistics it is connected, and sees the event.
"$MYSIMBDP_BUILD/tests/integration/subscribe" "ipc://$VAR/run/streammgr.pub" \
	"" 1000000 20000 >"$T/out/pub" 2>/dev/null &
subscriber=$!
STARTED_PIDS+=("$subscriber")
wait_for 10 "statistics" grep -q "^stats alpha default" "$T/out/pub"
assert_eq "alpha default running 1" "$(grep -m 1 "^stats alpha default" "$T/out/pub" | cut -f 2 |
	jq -r '"\(.tenant) \(.stream) \(.state) \(.desired)"')" "statistics are published per stream"
cli scale alpha 3 >/dev/null || fail "scale alpha 3"
wait_for 10 "the scale event" grep -q "^event alpha default" "$T/out/pub"
assert_eq "scale 1 -> 3: operator" "$(grep -m 1 "^event alpha default" "$T/out/pub" | cut -f 2 |
	jq -r '"\(.event) \(.detail)"')" "the scale is published as an event"
kill "$subscriber"
wait_for 20 "3 instances" ready_is alpha 3
out=$(cli control '{"cmd":"scale","tenant":"alpha","instances":9,"reason":"test"}')
assert_eq "3 true" "$(jq -r '"\(.desired) \(.clamped)"' <<<"$out")" "a scale past max is clamped"

# Malformed or wrong requests: an error each, and nothing changes.
bad=(
	'not json'
	'[1, 2]'
	'{}'
	'{"cmd":"explode"}'
	'{"cmd":42}'
	'{"cmd":"scale","tenant":"alpha","instances":"two"}'
	'{"cmd":"scale","tenant":"alpha","instances":-1}'
	'{"cmd":"scale","tenant":"alpha","instances":1.5}'
	'{"cmd":"scale","tenant":"alpha"}'
	'{"cmd":"scale","tenant":"nobody","instances":1}'
	'{"cmd":"scale","tenant":"alpha","stream":"nope","instances":1}'
	'{"cmd":"scale","tenant":"alpha","instances":1,"extra":true}'
	'{"cmd":"stop"}'
	'{"cmd":"stop","tenant":"alpha","instances":1}'
)
for req in "${bad[@]}"; do
	rc=0
	out=$(cli control "$req" 2>&1) || rc=$?
	[ $rc -ne 0 ] || fail "accepted: $req -> $out"
	grep -q '"ok" *: *false' <<<"$out" || grep -q 'mysimbdp: ' <<<"$out" || fail "no error for $req: $out"
done
ok "${#bad[@]} malformed requests refused"
assert_eq "running 3 3" "$(sstat alpha '"\(.state) \(.desired) \(.running)"')" "and nothing changed"
running "$SM_PID" || fail "streammgr died"

rc=0; cli scale alpha two >/dev/null 2>&1 || rc=$?
assert_eq 64 $rc "a bad count is a usage error"

# stop: instances go, producers are still accepted and wait.
cli stop alpha >/dev/null || fail "stop"
wait_for 20 "no instance" eval '[ "$(sstat alpha ".instances | length")" = 0 ]'
assert_eq stopped "$(sstat alpha .state)" "stop"
send_keys alpha 1 50 >"$T/out/send" || fail "send while stopped: $(cat "$T/out/send")"
assert_eq 50 "$(sstat alpha .backlog)" "messages wait while stopped"

# start: the desired count comes back and the backlog is delivered.
cli start alpha >/dev/null || fail "start"
wait_for 20 "3 instances again" ready_is alpha 3
wait_for 20 "the backlog delivered" acked_at_least alpha 50
assert_eq running "$(sstat alpha .state)" "start"

# drain: new messages refused, the rest delivered, then instances stop.
cli drain alpha >/dev/null || fail "drain"
wait_for 20 "drained" eval '[ "$(sstat alpha .state)" = drained ]'
wait_for 20 "no instance" eval '[ "$(sstat alpha ".instances | length")" = 0 ]'
# THROTTLE, not REJECT: a drain passes, so the producer sends again later.
rc=0; send_keys alpha 51 52 >"$T/out/send" 2>&1 || rc=$?
assert_eq 75 $rc "sending to a drained stream is throttled (try again later)"
grep -q "throttled 2: draining: " "$T/out/send" || fail "no reason: $(cat "$T/out/send")"
ok "with the reason"
cli start alpha >/dev/null || fail "start after drain"
wait_for 20 "running again" ready_is alpha 3
send_keys alpha 51 52 >"$T/out/send" 2>&1 || fail "the same messages after start: $(cat "$T/out/send")"
grep -q "accepted 2" "$T/out/send" || fail "after start: $(cat "$T/out/send")"
ok "the same messages are accepted once the stream is started"

# A stream whose profile is removed while it holds messages is retiring;
# its profile back before it is freed, it serves again.
stream_tenant held 'instances = { min = 1; max = 1; initial = 1; };'
sed -i "s|app = \[\"$STREAMAPP\"|app = [\"$STREAMAPP\", \"-H\"|" "$T/conf/tenants/held.cfg"
grep -q -- '"-H"' "$T/conf/tenants/held.cfg" || fail "held's app does not hold: $(cat "$T/conf/tenants/held.cfg")"
kill -HUP "$SM_PID"
wait_for 20 "held's instance" ready_is held 1
printf 'k1 v\nk2 v\n' >"$T/scratch/held"
cli send held --file "$T/scratch/held" >/dev/null || fail "send to held"
wait_for 20 "held's instance holding both" eval '[ "$(sstat held .inflight)" = 2 ]'
mv "$T/conf/tenants/held.cfg" "$T/held.cfg"
kill -HUP "$SM_PID"
wait_for 20 "held retiring (not in status)" eval '! cli status held --json >/dev/null 2>&1'
mv "$T/held.cfg" "$T/conf/tenants/held.cfg"
kill -HUP "$SM_PID"
wait_for 20 "held served again" eval '[ "$(sstat held .state)" = running ]'
printf 'k3 v\n' >"$T/scratch/held3"
cli send held --file "$T/scratch/held3" >"$T/out/held3" 2>&1 || fail "send to held after its profile came back: $(cat "$T/out/held3")"
ok "a retiring stream whose profile came back serves again"

rc=0; cli status nobody >/dev/null 2>&1 || rc=$?
assert_eq 65 $rc "status of an unknown tenant"
stop_daemon streammgr
rc=0; cli status >/dev/null 2>&1 || rc=$?
assert_eq 69 $rc "status without streammgr says it is not running"

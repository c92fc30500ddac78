#!/usr/bin/env bash
# The stream commands of mysimbdp without streammgr: argument checks (64),
# no daemon (69), a stale socket (69), and against a fake control socket
# (tests/integration/fakezmq.c): the requests sent, the replies shown,
# {"ok":false} (65), a reply that is not JSON (76), no reply (75). status
# asks batchmgr too, which is not running here: its columns show "-".
. "$(dirname "$0")/lib.sh"

FAKE=$MYSIMBDP_BUILD/tests/integration/fakezmq
platform
CFG=$T/conf/mysimbdp.cfg
CTL=$VAR/run/streammgr.ctl

# run EXPECTED-RC WHAT ARGS...: runs the CLI, keeps stdout and stderr in
# $out and $err, and checks its exit status.
run() {
	local want=$1 what=$2 rc=0
	shift 2
	"$CLI" -c "$CFG" "$@" >"$T/stdout" 2>"$T/stderr" || rc=$?
	out=$(cat "$T/stdout")
	err=$(cat "$T/stderr")
	[ "$rc" = "$want" ] || fail "$what: expected exit $want, got $rc (stdout: $out; stderr: $err)"
	ok "$what (exit $rc)"
}

# Usage errors come before anything else, daemon or not.
run 64 "status with two tenants" status acme globex
run 64 "status with a bad tenant id" status ../acme
run 64 "status --stream without a tenant" status --stream default
run 64 "status with an unknown option" status --bogus
run 64 "status --timeout 0" status --timeout 0
run 64 "status --timeout nonsense" status --timeout soon
run 64 "start without a tenant" start
run 64 "start with an upper-case tenant" start Acme
run 64 "stop with a bad stream name" stop acme --stream ../x
run 64 "drain with a tenant id over 32 characters" drain "$(printf 'a%.0s' {1..33})"
run 64 "scale without N" scale acme
run 64 "scale with a negative N" scale acme -1
run 64 "scale with N not a number" scale acme two
run 64 "scale with N and junk" scale acme 2x
run 64 "scale with an empty reason" scale acme 2 --reason ""
run 64 "scale --streams (not an option of scale)" scale acme 2 --streams
run 64 "control without a request" control
run 64 "control with two requests" control '{}' '{}'
grep -q "usage: mysimbdp control" <<<"$err" || fail "control: no usage text"
for c in status start stop drain scale control; do
	run 0 "$c --help" "$c" --help
	grep -q "usage: mysimbdp $c" <<<"$out" || fail "$c --help: no usage"
done
run 0 "start TENANT --help" start acme --help

# No streammgr: 69 and where the socket was looked for.
for args in "start acme" "stop acme --stream default" \
	"drain acme" "scale acme 2" "control {}"; do
	# shellcheck disable=SC2086
	run 69 "$args without streammgr" $args
	assert_eq "mysimbdp: streammgr is not running (no $CTL)" "$err" "$args: message"
done
# status asks both daemons: neither runs.
for args in "status" "status acme --json"; do
	# shellcheck disable=SC2086
	run 69 "$args without either daemon" $args
	grep -qxF "mysimbdp: streammgr is not running (no $CTL)" <<<"$err" || fail "$args: $err"
	grep -qxF "mysimbdp: batchmgr is not running (no $VAR/run/batchmgr.ctl)" <<<"$err" || fail "$args: $err"
	assert_eq "" "$out" "$args: nothing on stdout"
done

# A socket file nobody listens on (streammgr was killed): still 69.
mkdir -p "$VAR/run"
perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $ARGV[0], Listen => 1) or die "$!"' "$CTL"
run 69 "status with a stale socket" status
grep -qxF "mysimbdp: streammgr is not running (nothing listens on $CTL)" <<<"$err" ||
	fail "stale socket: message: $err"
rm -f "$CTL"

# A fake streammgr answering the requests below in this order.
STATUS='{"ok":true,"streams":[{"time":"2026-11-21T10:00:00.000Z","tenant":"acme","stream":"default","state":"running","desired":2,"running":2,"min":1,"max":4,"backlog":120,"inflight":64,"queue_bytes":51200,"lag":184,"in_rate":5000.0,"out_rate":4980.5,"accepted":100000,"acked":99816,"redelivered":12,"dead_letters":1,"rejected":3,"throttled":4,"restarts":1,"instances":[]},{"tenant":"globex","stream":"ticks","state":"crashloop","desired":1,"running":0,"min":1,"max":1,"backlog":0,"inflight":0,"in_rate":0,"out_rate":0,"redelivered":0,"dead_letters":0,"rejected":0,"throttled":0,"restarts":9}]}'
"$FAKE" ctl "ipc://$CTL" \
	"$STATUS" \
	"$STATUS" \
	'{"ok":true,"streams":[]}' \
	"$STATUS" \
	"$STATUS" \
	'{"ok":true,"tenant":"acme","stream":"default","previous":2,"desired":4,"clamped":true}' \
	'{"ok":true,"desired":0}' \
	'{"ok":true}' \
	'{"ok":true,"streams":[{"tenant":"acme","stream":"default","state":"draining","desired":2,"running":2}]}' \
	'{"ok":false,"error":"start: unknown tenant \"nosuch\""}' \
	'{"ok":false,"error":"unknown cmd \"nope\""}' \
	'{"ok":true,"streams":[]}' \
	'this is not json' \
	'{"streams":[]}' \
	'-' >"$T/ctl.out" 2>"$T/ctl.err" &
FAKE_PID=$!
STARTED_PIDS+=("$FAKE_PID")
wait_for 10 "the fake control socket" grep -q ready "$T/ctl.out"
# request N: the N-th request the fake received, as compact JSON.
request() { sed -n "$(( $1 + 1 ))p" "$T/ctl.out" | jq -c .; }

# One row per tenant; the batch columns are "-" as batchmgr is not running.
run 0 "status" status
grep -Eq '^acme +running +- +- +2/2 \(1\.\.4\) +120 +5000\.0 +4980\.5$' <<<"$out" ||
	fail "status row for acme: $out"
grep -Eq '^globex +crashloop +- +- +0/1 \(1\.\.1\) +0 +0\.0 +0\.0$' <<<"$out" ||
	fail "status row for globex: $out"
assert_eq 3 "$(wc -l <<<"$out")" "status: a header and one row per tenant"
grep -qxF "mysimbdp: batchmgr is not running (no $VAR/run/batchmgr.ctl)" <<<"$err" ||
	fail "status: no note that batchmgr is not running: $err"
grep -qF 'batchmgr did not answer: no batch figures ("-")' <<<"$err" ||
	fail "status: no note about the batch columns: $err"
assert_eq '{"cmd":"status"}' "$(request 1)" "status: request"

run 0 "status --streams" status --streams
grep -Eq '^acme +default +running +2/2 \(1\.\.4\) +120 +64 +184 +5000\.0 +4980\.5 +12 +1 +7 +1$' <<<"$out" ||
	fail "stream row for acme: $out"
grep -Eq '^globex +ticks +crashloop +0/1 \(1\.\.1\)' <<<"$out" || fail "stream row for globex: $out"
assert_eq 7 "$(wc -l <<<"$out")" "status --streams: tenants, a blank line, streams"
assert_eq '{"cmd":"status"}' "$(request 2)" "status --streams: request"

run 65 "status of a tenant no daemon knows" status acme --stream default
grep -q 'no tenant "acme"' <<<"$err" || fail "unknown tenant: $err"
assert_eq "" "$out" "unknown tenant: nothing on stdout"

run 0 "status --json" status --json
assert_eq '2 2' "$(jq -r '"\(.tenants | length) \(.streams | length)"' <<<"$out")" \
	"status --json: a row per tenant, the streams"
assert_eq '"acme" 120 4980.5 "globex"' "$(jq -r '@json "\(.streams[0].tenant) \(.streams[0].backlog) \(.streams[0].out_rate) \(.streams[1].tenant)"' <<<"$out")" \
	"status --json: stream fields as sent"
assert_eq '"running" 2 4 null "crashloop"' "$(jq -r '@json "\(.tenants[0].state) \(.tenants[0].streams.running) \(.tenants[0].streams.max) \(.tenants[0].batch) \(.tenants[1].state)"' <<<"$out")" \
	"status --json: the tenants' rows"
assert_eq 'true false 69' "$(jq -r '"\(.streammgr.ok) \(.batchmgr.ok) \(.batchmgr.exit)"' <<<"$out")" \
	"status --json: who answered"

run 65 "status of a stream the tenant does not have" status globex --stream nosuch
grep -q 'tenant globex has no stream "nosuch"' <<<"$err" || fail "unknown stream: $err"

run 0 "scale, clamped" scale acme 10 --stream default
assert_eq "acme/default: 4 instances desired (asked for 10, clamped to the stream's min..max)" "$out" "scale: clamped"
assert_eq '{"cmd":"scale","tenant":"acme","stream":"default","instances":10,"reason":"operator"}' "$(request 6)" "scale: request"

run 0 "scale to 0 with a reason" scale acme 0 --reason "night: \"quiet\""
assert_eq "acme: 0 instances desired" "$out" "scale: not clamped"
assert_eq '{"cmd":"scale","tenant":"acme","instances":0,"reason":"night: \"quiet\""}' "$(request 7)" "scale: reason"

run 0 "stop --json" stop acme --json
assert_eq '{"ok":true}' "$(jq -c . <<<"$out")" "stop --json: the reply"
assert_eq '{"cmd":"stop","tenant":"acme"}' "$(request 8)" "stop: request"
run 0 "drain --stream" drain acme --stream default
assert_eq '{"cmd":"drain","tenant":"acme","stream":"default"}' "$(request 9)" "drain: request"
assert_eq "acme/default: drain: state draining, 2/2 instances running" "$out" "drain: the streams of the reply"

run 65 "start refused by streammgr" start nosuch
assert_eq 'mysimbdp: start: unknown tenant "nosuch"' "$err" "start: the error"
assert_eq '{"cmd":"start","tenant":"nosuch"}' "$(request 10)" "start: request"

run 65 "control with an unknown cmd" control '{"cmd":"nope"}'
assert_eq '{"ok":false,"error":"unknown cmd \"nope\""}' "$out" "control: the raw reply"
assert_eq '{"cmd":"nope"}' "$(request 11)" "control: the raw request"
run 0 "control" control '{"cmd":"status"}'
assert_eq '{"ok":true,"streams":[]}' "$out" "control: the raw reply"

run 76 "a reply that is not JSON" start acme
grep -q "not a JSON object" <<<"$err" || fail "not JSON: $err"
run 76 "a reply without ok" status

start=$(date +%s%N)
run 75 "no reply within --timeout" scale acme 1 --timeout 300ms
assert_eq "mysimbdp: no reply from streammgr within 300ms ($CTL)" "$err" "no reply: message"
[ $(( ($(date +%s%N) - start) / 1000000 )) -lt $(( 3000 * TIME_FACTOR )) ] || fail "no reply: the timeout was not kept"

kill -TERM "$FAKE_PID"
wait "$FAKE_PID" || fail "the fake control socket exited $?"

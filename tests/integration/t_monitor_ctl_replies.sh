#!/bin/bash
# The monitor's control requests to streammgr are told apart by an id
# their replies echo: a reply never settles another request. A fake
# streammgr (tests/integration/fakezmq.c) leaves the first drain
# unanswered, as a streammgr that restarted would, and answers the
# second. The answered one pauses its stream; the other fails at
# control_timeout and pauses nothing. (Matched by order, the second's
# reply paused the first's stream, and the second timed out.)
. "$(dirname "$0")/lib.sh"

FAKE=$MYSIMBDP_BUILD/tests/integration/fakezmq
CTL=$VAR/run/streammgr.ctl
platform monitor.control_timeout='"10s"'
for t in alpha beta; do
	stream_tenant "$t" 'max_message_size = "16";
	instances = { min = 1; max = 1; };
	scaling = { target_backlog_per_instance = 1000; pause_after = "400ms"; };'
done
start_daemon streammgr
wait_for 20 "alpha's instance" ready_is alpha 1
wait_for 20 "beta's instance" ready_is beta 1

mv "$CTL" "$CTL.real"
"$FAKE" ctl "ipc://$CTL" - '{"ok":true}' >"$T/out/fake" 2>"$T/out/fake.err" &
fake=$!
STARTED_PIDS+=("$fake")
wait_for 10 "the fake control socket" grep -q ready "$T/out/fake"
start_daemon monitor

# Too large all along, on both streams: both want a pause.
seq 1 5000 | sed 's/^/key-/; s/$/ a-value-far-too-long-for-16-bytes/' >"$T/scratch/big"
for t in alpha beta; do
	cli send "$t" --rate 50 --file "$T/scratch/big" >"$T/out/send.$t" 2>&1 &
	STARTED_PIDS+=("$!")
done
wait_for 30 "two drains at the fake" eval \
	'[ "$(grep -c "\"cmd\" : \"drain\"" "$T/out/fake")" -ge 2 ]'
first=$(grep '"cmd" : "drain"' "$T/out/fake" | head -n 1 | jq -r .tenant)
second=$(grep '"cmd" : "drain"' "$T/out/fake" | sed -n 2p | jq -r .tenant)
[ "$first" != "$second" ] || fail "two drains for $first: $(cat "$T/out/fake")"

# outcome TENANT: its stream's first pause or failed request.
outcome() {
	grep -Eo "$1/default (pause|request-failed)" "$DASH" | head -n 1 |
		cut -d ' ' -f 2
}
wait_for 60 "$first's drain to fail" \
	dash_has "$first/default request-failed drain: no reply from streammgr within 10s"
wait_for 20 "$second's pause" dash_has "$second/default pause intake paused"
assert_eq "request-failed pause" "$(outcome "$first") $(outcome "$second")" \
	"the unanswered drain ($first) and the answered one ($second)"
ok "each reply settled its own request"
kill -TERM "$fake"
wait "$fake" || fail "fakezmq exited $?"
mv -f "$CTL.real" "$CTL"
stop_daemon monitor
stop_daemon streammgr

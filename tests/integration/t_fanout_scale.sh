#!/bin/bash
# A subscription is scaled by the monitor on its own backlog: the stream
# alpha/default has a fast app of its own (one instance, no scaling) and
# the subscription "idx", slow (2 ms a message) with scaling on its
# backlog. A backlog step makes the monitor scale default.idx up, with
# the reason on the dashboard, while default stays as it is.
. "$(dirname "$0")/lib.sh"

platform
tenant alpha <<EOF
id = "alpha";
streams = ( { app = ["$STREAMAPP"]; stop_timeout = "2s";
  instances = { min = 1; max = 1; };
  subscriptions = ( { name = "idx";
    app = ["$STREAMAPP", "-C", "idx", "-d", "2000", "-r", "200"];
    stop_timeout = "2s";
    instances = { min = 1; max = 3; initial = 1; };
    scaling = { target_backlog_per_instance = 200; scale_down_delay = "1h";
      cooldown = "0"; }; } ); } );
EOF
start_daemon streammgr
start_daemon monitor

# member_stat STREAM JQ: a field of alpha's STREAM in status --json.
member_stat() {
	cli status alpha --json 2>/dev/null |
		jq -r --arg s "$1" ".streams[] | select(.stream == \$s) | $2"
}
wait_for 20 "default.idx's instance" eval \
	'[ "$(member_stat default.idx "[.instances[] | select(.state == \"ready\")] | length")" = 1 ]'
wait_for 20 "the monitor to see default.idx" \
	dash_has 'alpha/default.idx stat state=running instances=1/1'

seq 1 4000 | sed 's/^/k/; s/$/ v/' >"$T/scratch/keys"
cli send alpha --file "$T/scratch/keys" >"$T/out/send" 2>&1 ||
	fail "send: $(cat "$T/out/send")"
wait_for 30 "the monitor to scale default.idx up" \
	dash_has 'alpha/default.idx scale-up 1->[23] unacked [0-9]+ \([0-9]+/instance, target 200\)'
ok "the dashboard says why default.idx scaled up"
wait_for 20 "default.idx at 3 instances" eval \
	'[ "$(member_stat default.idx .desired)" = 3 ]'
assert_eq 1 "$(member_stat default .desired)" "default, not scaled"
dash_has 'alpha/default scale' && fail "the monitor scaled default: $(grep 'alpha/default scale' "$DASH")"
ok "default.idx scaled on its own backlog, default untouched"
wait_for 60 "default.idx to ack every message" eval \
	'[ "$(member_stat default.idx .acked)" -ge 4000 ]'
assert_eq 4000 "$(member_stat default .acked)" "default acked every message once"
stop_daemon monitor
stop_daemon streammgr

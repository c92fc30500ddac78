#!/bin/bash
# A backlog step: the monitor asks streammgr for more instances (the
# decision, its reason, the request and its record are checked) and
# streammgr starts them. The time from the step to a new instance's first
# ack is printed, not asserted (this machine is shared).
. "$(dirname "$0")/lib.sh"

platform
STREAMAPP_ARGS=', "-d", "2000", "-r", "200"' stream_tenant alpha \
	'instances = { min = 1; max = 4; initial = 1; };
	 scaling = { target_backlog_per_instance = 200; scale_down_delay = "1h";
	   cooldown = "0"; };'
start_daemon streammgr
start_daemon monitor
wait_for 20 "one instance" ready_is alpha 1
wait_for 20 "the monitor to see the stream" dash_has 'alpha/default stat state=running instances=1/1'

# new_instance_acked: an instance other than the first has acked.
new_instance_acked() {
	[ "$(cli status alpha --json | jq '[.streams[0].instances[] |
		select(.id != "default-1" and .acked > 0)] | length')" -gt 0 ]
}

seq 1 4000 | sed 's/^/k/; s/$/ v/' >"$T/scratch/keys"
step=$(now_ms)
cli send alpha --file "$T/scratch/keys" >"$T/out/send" 2>&1 ||
	fail "send: $(cat "$T/out/send")"
wait_for 30 "a new instance's first ack" new_instance_acked
echo "# reaction: $(( $(now_ms) - step )) ms from the backlog step to a new instance's first ack"

# The monitor writes its line once streammgr has answered, and the new
# instance may have acked before the monitor runs again.
wait_for 20 "the scale-up line in the dashboard" \
	dash_has 'alpha/default scale-up 1->[234] unacked [0-9]+ \([0-9]+/instance, target 200\)'
ok "the dashboard says why it scaled up"
sm_log_has 'scale 1 -> [234]: monitor: unacked' || fail "streammgr got no scale request"
ok "streammgr got the monitor's scale request with the reason"
wait_for 20 "four instances" ready_is alpha 4
assert_eq 4 "$(sstat alpha .desired)" "desired is max"
jq -e -s 'map(select(.type == "decision" and .action == "scale-up" and .sent
	and .from == 1 and .tenant == "alpha")) | length >= 1' \
	"$VAR/log/metrics.jsonl" >/dev/null || fail "no decision in metrics.jsonl"
ok "the decision is in log/metrics.jsonl"
wait_for 60 "every message acked" acked_at_least alpha 4000
assert_eq 0 "$(grep -c 'scale-down' "$DASH")" "no scale-down within the delay"
stop_daemon monitor
stop_daemon streammgr

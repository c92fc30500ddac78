#!/bin/bash
# The monitor killed with SIGKILL in the middle of a load: ingestion goes
# on untouched (every message accepted and acked, no instance restarted,
# reporting never blocks). Restarted, it binds its sockets again, takes
# reports and decides again.
. "$(dirname "$0")/lib.sh"

platform
STREAMAPP_ARGS=', "-d", "300", "-r", "100"' stream_tenant alpha \
	'instances = { min = 1; max = 3; initial = 1; };
	 scaling = { target_backlog_per_instance = 500; scale_down_delay = "1h";
	   cooldown = "0"; };'
start_daemon streammgr
start_daemon monitor
wait_for 20 "one instance" ready_is alpha 1

seq 1 3000 | sed 's/^/k/; s/$/ v/' >"$T/scratch/paced"
cli send alpha --rate 1000 --file "$T/scratch/paced" >"$T/out/send" 2>&1 &
sender=$!
wait_for 20 "the load to flow" acked_at_least alpha 300
wait_for 20 "reports from the instance" eval \
	'[ "$(grep -c "\"type\":\"report\"" "$VAR/log/metrics.jsonl")" -gt 0 ]'
kill9_daemon monitor
ok "monitor killed during the load"
wait $sender || fail "send: $(cat "$T/out/send")"
grep -q "accepted 3000" "$T/out/send" || fail "send: $(cat "$T/out/send")"
wait_for 30 "every message acked" acked_at_least alpha 3000
assert_eq 3000 "$(sstat alpha .acked)" "every message acked without the monitor"
assert_eq 0 "$(sstat alpha .restarts)" "no instance restarted"
# Back to one instance by hand (the monitor is down; its delay is an
# hour), so the restarted monitor has something to decide.
cli scale alpha 1 --reason "test: reset" >/dev/null || fail "scale to 1"
wait_for 20 "one instance" eval '[ "$(sstat alpha ".instances | length")" = 1 ]'

reports=$(grep -c '"type":"report"' "$VAR/log/metrics.jsonl")
start_daemon monitor
wait_for 20 "reports again after the restart" eval \
	'[ "$(grep -c "\"type\":\"report\"" "$VAR/log/metrics.jsonl")" -gt "$reports" ]'
ok "reports arrive at the restarted monitor"
from=$(dash_lines)
seq 3001 9000 | sed 's/^/k/; s/$/ v/' >"$T/scratch/step"
cli send alpha --file "$T/scratch/step" >"$T/out/send2" 2>&1 ||
	fail "send: $(cat "$T/out/send2")"
wait_for 20 "a decision after the restart" dash_after "$from" 'alpha/default scale-up 1->[23] '
ok "the restarted monitor decides"
wait_for 60 "every message acked" acked_at_least alpha 9000
stop_daemon monitor
stop_daemon streammgr

#!/bin/bash
# One tenant floods its metrics endpoint with valid reports: past
# monitor.max_reports_per_second the monitor drops them (counted
# `rate-limited` for that tenant only, said once per interval on the
# dashboard and once in the log, not per report), so they cannot rotate
# another tenant's records out of the shared log/metrics.jsonl
# (docs/hostile-input.md, "Metric reports"). Counts, not rates: 5000
# reports at 10 a second would need 8 minutes to be taken; taken at once
# they are eight times what the two files kept here hold.
. "$(dirname "$0")/lib.sh"

platform monitor.max_reports_per_second=10 \
	'monitor.logs={ max_size = "64K"; backups = 1; }'
stream_tenant alpha
stream_tenant beta
start_daemon monitor
A=ipc://$VAR/run/alpha/metrics.sock
B=ipc://$VAR/run/beta/metrics.sock
LOG=$VAR/log

taken() { prom_value "mysimbdp_batch_reports_total{tenant=\"$1\"}"; }
limited() { prom_value "mysimbdp_monitor_reports_dropped_total{tenant=\"$1\",reason=\"rate-limited\"}"; }
# report INSTANCE: a valid batch report.
report() { echo '{"v":1,"app":"batch","instance":"'"$1"'","window_ms":1000,"rows":7}'; }

report beta-canary | "$PUSHREPORT" "$B" >"$T/out/push" 2>&1 || fail "push: $(cat "$T/out/push")"
wait_for 20 "beta's report taken" prom_at_least "mysimbdp_batch_reports_total{tenant=\"beta\"}" 1

# In ten rounds of 500, each handled (taken or dropped) before the next
# is sent: a pusher that exits while more than the socket's high-water
# mark (1000) waits for the monitor can have the rest lost in ZeroMQ.
for i in $(seq 1 500); do report "flood-$(( i % 100 ))"; done >"$T/scratch/flood"
handled() { [ $(( $(taken alpha) + $(limited alpha) )) -ge "$1" ]; }
for round in $(seq 1 10); do
	"$PUSHREPORT" "$A" 60000 <"$T/scratch/flood" >"$T/out/flood" 2>&1 ||
		fail "flood: $(cat "$T/out/flood")"
	wait_for 30 "the monitor to have handled $(( round * 500 )) of alpha's reports" \
		handled $(( round * 500 ))
done
echo "# alpha: $(taken alpha) taken, $(limited alpha) dropped as rate-limited"
grep -q '"instance":"beta-canary"' "$LOG"/metrics.jsonl* ||
	fail "beta's report was rotated out of metrics.jsonl by alpha's flood"
[ "$(limited alpha)" -gt 0 ] || fail "no report of alpha's dropped as rate-limited"
assert_eq 0 "$(limited beta)" "beta's reports dropped as rate-limited"
ok "alpha's flood dropped past its rate; beta's record kept"

report beta-after | "$PUSHREPORT" "$B" >"$T/out/push" 2>&1 || fail "push: $(cat "$T/out/push")"
wait_for 20 "beta's second report taken" prom_at_least "mysimbdp_batch_reports_total{tenant=\"beta\"}" 2
assert_eq 0 "$(limited beta)" "beta's reports dropped as rate-limited, after the flood"
ok "beta's reports are still taken"

# Said per interval, not per report: a dashboard line with the count, a
# log line only when an interval with drops follows one without.
wait_for 20 "the dashboard's count" dash_has 'alpha/- dropped (.* )?rate-limited=[0-9]+'
said=$(grep -c 'tenant alpha: over monitor.max_reports_per_second (10)' "$MON_LOG" || true)
lines=$(grep -cE 'alpha/- dropped (.* )?rate-limited=' "$LOG"/monitor.log* | awk -F: '{ n += $NF } END { print n }')
[ "$said" -ge 1 ] && [ "$said" -le "$lines" ] ||
	fail "log lines on the rate: $said, dashboard lines: $lines"
ok "said in $said log line(s) and $lines dashboard line(s)"

running "$MON_PID" || fail "the monitor died"
stop_daemon monitor

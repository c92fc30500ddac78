#!/bin/bash
# One tenant floods its metrics endpoint with valid reports: past
# monitor.max_reports_per_second the monitor drops them (counted
# `rate-limited` for that tenant only, said once per interval on the
# dashboard and once in the log, not per report), so they cannot rotate
# another tenant's records out of the shared log/metrics.jsonl
# (docs/hostile-input.md, "Metric reports"). Then, the count unlimited
# by a reload, a flood of large reports past
# monitor.max_report_bytes_per_second: dropped as `byte-limited`, the
# same way. Counts, not rates: 5000 reports at 10 a second would need 8
# minutes to be taken (5000 of 670 bytes at 4K a second, 14); taken at
# once they are eight times what the two files kept here hold.
. "$(dirname "$0")/lib.sh"

logs='monitor.logs={ max_size = "64K"; backups = 1; }'
platform monitor.max_reports_per_second=10 "$logs"
stream_tenant alpha
stream_tenant beta
start_daemon monitor
A=ipc://$VAR/run/alpha/metrics.sock
B=ipc://$VAR/run/beta/metrics.sock
LOG=$VAR/log

taken() { prom_value "mysimbdp_batch_reports_total{tenant=\"$1\"}"; }
# dropped TENANT REASON
dropped() { prom_value "mysimbdp_monitor_reports_dropped_total{tenant=\"$1\",reason=\"$2\"}"; }
# report INSTANCE [QUALITY]: a valid batch report.
report() { echo '{"v":1,"app":"batch","instance":"'"$1"'","window_ms":1000,"rows":7'"${2:-}"'}'; }

# canary NAME N: beta's report NAME, its Nth, taken.
canary() {
	report "$1" | "$PUSHREPORT" "$B" >"$T/out/push" 2>&1 || fail "push: $(cat "$T/out/push")"
	wait_for 20 "beta's report $1 taken" prom_at_least "mysimbdp_batch_reports_total{tenant=\"beta\"}" "$2"
}

# flood REASON: alpha sends $T/scratch/flood ten times, in rounds of 500,
# each handled (taken or dropped for REASON) before the next is sent: a
# pusher that exits while more than the socket's high-water mark (1000)
# waits for the monitor can have the rest lost in ZeroMQ. Then beta's
# canary is still in metrics.jsonl, and none of beta's reports dropped.
flood() {
	local reason=$1 round before
	before=$(( $(taken alpha) + $(dropped alpha "$reason") ))
	handled() { [ $(( $(taken alpha) + $(dropped alpha "$reason") - before )) -ge "$1" ]; }
	for round in $(seq 1 10); do
		"$PUSHREPORT" "$A" 60000 <"$T/scratch/flood" >"$T/out/flood" 2>&1 ||
			fail "flood: $(cat "$T/out/flood")"
		wait_for 30 "the monitor to have handled $(( round * 500 )) of alpha's reports" \
			handled $(( round * 500 ))
	done
	echo "# alpha: $(taken alpha) taken, $(dropped alpha "$reason") dropped as $reason"
	[ "$(dropped alpha "$reason")" -gt 0 ] || fail "no report of alpha's dropped as $reason"
	assert_eq 0 "$(dropped beta "$reason")" "beta's reports dropped as $reason"
}

canary beta-canary 1
for i in $(seq 1 500); do report "flood-$(( i % 100 ))"; done >"$T/scratch/flood"
flood rate-limited
grep -q '"instance":"beta-canary"' "$LOG"/metrics.jsonl* ||
	fail "beta's report was rotated out of metrics.jsonl by alpha's flood"
ok "alpha's flood dropped past its rate; beta's record kept"

canary beta-after 2
assert_eq 0 "$(dropped beta rate-limited)" "beta's reports dropped as rate-limited, after the flood"
ok "beta's reports are still taken"

# Said per interval, not per report: a dashboard line with the count, a
# log line only when an interval with drops follows one without.
wait_for 20 "the dashboard's count" dash_has 'alpha/- dropped (.* )?rate-limited=[0-9]+'
said=$(grep -c 'tenant alpha: over monitor.max_reports_per_second (10)' "$MON_LOG" || true)
lines=$(grep -cE 'alpha/- dropped (.* )?rate-limited=' "$LOG"/monitor.log* | awk -F: '{ n += $NF } END { print n }')
[ "$said" -ge 1 ] && [ "$said" -le "$lines" ] ||
	fail "log lines on the rate: $said, dashboard lines: $lines"
ok "said in $said log line(s) and $lines dashboard line(s)"

# ---- bytes: reports of about 670 bytes (16 quality rules), no count limit
platform monitor.max_reports_per_second=0 \
	monitor.max_report_bytes_per_second='"4K"' "$logs"
from=$(wc -l <"$MON_LOG")
kill -HUP "$MON_PID"
wait_for 10 "the reload" mon_log_after "$from" 'reloading configuration'
limited_before=$(dropped alpha rate-limited)
# Oversized reports are called so, and take none of the bytes a second
# (5,000 bytes: more than the 4K a second the bucket holds).
big=$(printf '{"v":1,"app":"batch","instance":"big","window_ms":1000,"rows":7}%5000s' '')
for i in 1 2 3; do echo "$big"; done | "$PUSHREPORT" "$A" >"$T/out/push" 2>&1 ||
	fail "push: $(cat "$T/out/push")"
wait_for 20 "alpha's three oversized reports" eval '[ "$(dropped alpha oversized)" = 3 ]'
assert_eq 0 "$(dropped alpha byte-limited)" "byte-limited before the flood"
ok "oversized reports counted as such, not against the byte rate"
canary beta-bytes 3
rules=$(for r in $(seq 10 25); do printf ',"rule-%s-of-a-long-name-for-bytes":1' "$r"; done)
for i in $(seq 1 500); do report "flood-$(( i % 100 ))" ",\"quality\":{${rules#,}}"; done >"$T/scratch/flood"
size=$(head -n 1 "$T/scratch/flood" | wc -c)
[ "$size" -gt 600 ] || fail "a flood report of $size bytes"
flood byte-limited
grep -q '"instance":"beta-bytes"' "$LOG"/metrics.jsonl* ||
	fail "beta's report was rotated out of metrics.jsonl by alpha's large reports"
assert_eq "$limited_before" "$(dropped alpha rate-limited)" "rate-limited with no count limit"
mon_log_after "$from" 'tenant alpha: over monitor.max_report_bytes_per_second (4096 bytes)' ||
	fail "no log line on the byte rate"
ok "alpha's large reports dropped past its byte rate; beta's record kept"

running "$MON_PID" || fail "the monitor died"
stop_daemon monitor

#!/bin/bash
# The monitor's own files are rotated by size (monitor.logs), as the apps'
# logs are: log/metrics.jsonl and the dashboard never pass max_size, keep
# `backups` older files, hold whole lines (every line of metrics.jsonl
# parses), and the newest report is in the current file. A reload applies
# a larger max_size at once. No streammgr runs: the dashboard still gets
# a line per stream per interval.
. "$(dirname "$0")/lib.sh"

platform 'monitor.logs={ max_size = "4K"; backups = 2; }'
stream_tenant alpha 'instances = { min = 1; max = 2; };'
start_daemon monitor
EP=ipc://$VAR/run/alpha/metrics.sock
LOG=$VAR/log

# reports N FROM: N valid batch reports, rows FROM .. FROM+N-1.
reports() {
	local i
	for ((i = $2; i < $2 + $1; i++)); do
		echo '{"v":1,"app":"batch","instance":"j-1","window_ms":1000,"rows":'"$i"'}'
	done | "$PUSHREPORT" "$EP" >"$T/out/push" 2>&1 || fail "pushreport: $(cat "$T/out/push")"
}
taken() { [ "$(prom_value 'mysimbdp_batch_reports_total{tenant="alpha"}')" -ge "$1" ]; }
newest_rows() { tail -n 1 "$LOG/metrics.jsonl" | jq -r '.rows'; }

# ~100 bytes a line: 200 reports are 20K, five files of 4K.
reports 200 1
wait_for 20 "200 reports taken" taken 200
wait_for 10 "the last report recorded" eval '[ "$(newest_rows)" = 200 ]'
ok "the newest report is in metrics.jsonl"
assert_file "$LOG/metrics.jsonl.1"
assert_file "$LOG/metrics.jsonl.2"
assert_no_file "$LOG/metrics.jsonl.3"
ok "metrics.jsonl rotated, two older files kept, the oldest dropped"

# big_files LIMIT NAME...: the files among NAME... larger than LIMIT.
big_files() {
	local f
	for f in "${@:2}"; do
		[ ! -e "$f" ] || [ "$(stat -c %s "$f")" -le "$1" ] || echo "$f"
	done
}
[ -z "$(big_files 4096 "$LOG"/metrics.jsonl*)" ] ||
	fail "past 4K: $(big_files 4096 "$LOG"/metrics.jsonl*)"
jq -e -s 'length > 0 and all(.type == "report")' "$LOG"/metrics.jsonl* >/dev/null ||
	fail "metrics.jsonl files that do not parse line by line"
# The three files hold the newest reports, in order, without a gap.
jq -r '.rows' "$LOG/metrics.jsonl.2" "$LOG/metrics.jsonl.1" "$LOG/metrics.jsonl" >"$T/out/rows"
assert_eq "$(seq "$(head -n 1 "$T/out/rows")" 200 | tr '\n' ' ')" "$(tr '\n' ' ' <"$T/out/rows")" \
	"the kept files hold the newest reports in order, each line whole"

# The dashboard: a line per stream five times a second, about 100 bytes.
wait_for 30 "the dashboard's first rotation" test -e "$LOG/monitor.log.1"
[ -z "$(big_files 4096 "$LOG"/monitor.log*)" ] ||
	fail "past 4K: $(big_files 4096 "$LOG"/monitor.log*)"
ok "the dashboard rotated within 4K"

# A reload takes a larger max_size at once: the current file grows past 4K.
platform 'monitor.logs={ max_size = "64K"; backups = 2; }'
from=$(wc -l <"$MON_LOG")
kill -HUP "$MON_PID"
wait_for 10 "the reload" mon_log_after "$from" 'reloading configuration'
reports 100 201
wait_for 20 "300 reports taken" taken 300
wait_for 10 "the last report recorded" eval '[ "$(newest_rows)" = 300 ]'
size=$(stat -c %s "$LOG/metrics.jsonl")
[ "$size" -gt 4096 ] || fail "metrics.jsonl is $size bytes after the reload: 64K not applied"
ok "after the reload metrics.jsonl grew to $size bytes (max_size 64K)"

running "$MON_PID" || fail "the monitor died"
stop_daemon monitor

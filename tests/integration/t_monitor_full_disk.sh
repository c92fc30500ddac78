#!/bin/bash
# The monitor's log/metrics.jsonl on a full disk (a file-size limit in its
# place, exact to the byte, as t_quality_full_disk): a report line the
# limit cuts short mid-way is cut off again, so once there is room the
# next report is a whole line of its own and every line of the file
# parses (docs/architecture.md "Intake": the monitor's files).
. "$(dirname "$0")/lib.sh"

platform
stream_tenant alpha 'instances = { min = 1; max = 2; };'
start_daemon monitor
EP=ipc://$VAR/run/alpha/metrics.sock
JSONL=$VAR/log/metrics.jsonl

# report INSTANCE: one valid batch report from INSTANCE.
report() {
	echo '{"v":1,"app":"batch","instance":"'"$1"'","window_ms":1000,"rows":1}' |
		"$PUSHREPORT" "$EP" >"$T/out/push" 2>&1 || fail "pushreport: $(cat "$T/out/push")"
}
recorded() { grep -q "\"instance\":\"$1\"" "$JSONL"; }

report first
wait_for 20 "the first report recorded" recorded first

# Room for 30 bytes more: the next line is cut short by the limit. (The
# limit holds for every file the monitor writes, its stderr too: the
# warning is not seen until it is lifted.)
taken() { prom_at_least 'mysimbdp_batch_reports_total{tenant="alpha"}' "$1"; }
wait_for 20 "the first report counted" taken 1
from=$(wc -l <"$MON_LOG")
prlimit --pid "$MON_PID" --fsize=$(( $(stat -c %s "$JSONL") + 30 )):unlimited
report cut-short
wait_for 20 "the second report taken" taken 2

prlimit --pid "$MON_PID" --fsize=unlimited:unlimited
report after
wait_for 20 "the third report taken" taken 3
wait_for 20 "the report after the limit recorded" recorded after
mon_log_after "$from" "writing $JSONL again" ||
	fail "no line on writing metrics.jsonl again"
jq -e . "$JSONL" >/dev/null || fail "lines of metrics.jsonl that do not parse: $(cat "$JSONL")"
assert_eq "first after" "$(jq -r 'select(.type == "report") | .instance' "$JSONL" | tr '\n' ' ' | sed 's/ $//')" \
	"the reports in metrics.jsonl, each a whole line"
ok "a line cut short by the full disk is cut off; the next one is whole"

running "$MON_PID" || fail "the monitor died"
stop_daemon monitor

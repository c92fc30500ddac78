#!/bin/bash
# `mysimbdp load` reports its rows and ingest time to the monitor, and a
# one-shot load's only report (sent at exit) arrives; `--no-metrics`
# sends nothing, for a wrapper that reports itself (rows would count
# twice). clientlib-metrics checks the library's first and last reports
# against a bare PULL socket.
. "$(dirname "$0")/lib.sh"

platform
stream_tenant alpha 'instances = { min = 1; max = 2; };'
start_daemon monitor
printf 'id,name\n1,one\n2,two\n' >"$T/scratch/two.csv"

# load_as INSTANCE [OPTION...]: loads two.csv as a batch app of alpha.
load_as() {
	local inst=$1
	shift
	MYSIMBDP_TENANT=alpha MYSIMBDP_INSTANCE=$inst MONGO_URL="file://$T/store" \
	MONGO_DB=alpha ZMQ_METRICS_ENDPOINT="ipc://$VAR/run/alpha/metrics.sock" \
		"$CLI" load -C items --no-progress "$@" "$T/scratch/two.csv" \
		>"$T/out/load-$inst" 2>&1 || fail "load: $(cat "$T/out/load-$inst")"
}
report_of() {
	[ -f "$VAR/log/metrics.jsonl" ] &&
		jq -c --arg i "$1" 'select(.instance == $i)' "$VAR/log/metrics.jsonl"
}
has_report() { [ -n "$(report_of "$1")" ]; }

load_as quiet --no-metrics
load_as once
wait_for 20 "the one-shot load's report" has_report once
rep=$(report_of once)
[ "$(jq -s 'map(.rows) | add' <<<"$rep")" = 2 ] || fail "rows: $rep"
jq -e -s 'map(.ingest_us_sum) | add > 0' <<<"$rep" >/dev/null ||
	fail "no ingest time: $rep"
ok "the only report of a one-shot load arrived: 2 rows, with ingest time"
# quiet ran and exited before once started: its report would be first.
has_report quiet && fail "--no-metrics sent a report: $(report_of quiet)"
ok "load --no-metrics sent nothing"


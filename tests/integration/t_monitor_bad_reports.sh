#!/bin/bash
# Reports that are malformed, invalid, oversized, inconsistent or from
# the wrong tenant are counted by reason and dropped; good ones are taken;
# the monitor lives on. No streammgr runs: the monitor does not need one.
. "$(dirname "$0")/lib.sh"

platform 'monitor.max_report_size="1K"'
stream_tenant alpha 'instances = { min = 1; max = 2; };'
stream_tenant beta 'instances = { min = 1; max = 2; };'
start_daemon monitor
EP=ipc://$VAR/run/alpha/metrics.sock
good='"app":"batch","instance":"j-1","window_ms":1000'
big=$(printf '%*s' 1500 '' | tr ' ' x)
{
	echo '{"v":1,'"$good"',"rows":5}'
	echo '{"v":1,"tenant":"alpha","app":"stream","stream":"default","instance":"default-9","window_ms":1000,"messages":3,"ingest_us_sum":300,"ingest_us_max":200}'
	echo 'not json at all'
	echo '{"v":1,'"$good"
	echo '[1,2,3]'
	echo 'MULTI {"v":1,'"$good"'}'
	echo '{"v":1,"app":"batch","window_ms":1}'
	echo '{"v":1,'"$good"',"cpu":5}'
	echo '{"v":1,'"$good"',"pad":"'"$big"'"}'
	echo '{"v":1,'"$good"',"messages":1,"ingest_us_sum":5,"ingest_us_max":9}'
	echo '{"v":1,"app":"stream","stream":"nosuch","instance":"s-1","window_ms":1}'
	echo '{"v":1,"tenant":"beta",'"$good"'}'
} | "$PUSHREPORT" "$EP" >"$T/out/push" 2>&1 || fail "pushreport: $(cat "$T/out/push")"

dropped() { echo "mysimbdp_monitor_reports_dropped_total{tenant=\"alpha\",reason=\"$1\"}"; }
wait_for 20 "the wrong-tenant report to be counted" prom_at_least "$(dropped wrong-tenant)" 1
assert_eq 4 "$(prom_value "$(dropped malformed)")" "malformed reports dropped"
assert_eq 2 "$(prom_value "$(dropped invalid)")" "invalid reports dropped"
assert_eq 1 "$(prom_value "$(dropped oversized)")" "oversized report dropped"
assert_eq 2 "$(prom_value "$(dropped inconsistent)")" "inconsistent reports dropped"
assert_eq 1 "$(prom_value "$(dropped wrong-tenant)")" "wrong-tenant report dropped"
assert_eq 0 "$(prom_value 'mysimbdp_monitor_reports_dropped_total{tenant="beta",reason="wrong-tenant"}')" \
	"nothing counted for the tenant named in the report"
assert_eq 1 "$(prom_value 'mysimbdp_batch_reports_total{tenant="alpha"}')" "the batch report is taken"
assert_eq 1 "$(prom_value 'mysimbdp_stream_reports_total{tenant="alpha",stream="default"}')" \
	"the stream report is taken"
assert_eq 0 "$(prom_value 'mysimbdp_batch_reports_total{tenant="beta"}')" "beta got nothing"
wait_for 10 "the dashboard's dropped line" dash_has \
	'alpha/- dropped malformed=4 oversized=1 invalid=2 inconsistent=2 wrong-tenant=1'
assert_eq 2 "$(grep -c '"type":"report"' "$VAR/log/metrics.jsonl")" "only good reports recorded"
dash_has 'alpha/default stat state=unknown' || fail "no stat line without streammgr"
ok "the stream's line says streammgr is not heard from"
running "$MON_PID" || fail "the monitor died"
stop_daemon monitor

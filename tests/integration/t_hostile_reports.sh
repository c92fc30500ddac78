#!/usr/bin/env bash
# Hostile metric reports (tests/hostile/reports/reports.msgs: empty, NUL,
# not UTF-8, BSON, two frames, two objects, deep nesting, oversized, wrong
# types, floats, overflow, extended JSON, repeated keys, another tenant)
# pushed by rawzmq to a real monitor: each is counted under the reason
# expected.tsv documents, only the good one is taken, a 2 MB report is
# cut by ZeroMQ, and the monitor serves on (Prometheus) and exits cleanly
# (under ASan: without a leak). t_monitor_bad_reports has the ordinary
# bad reports; these are the hostile ones.
. "$(dirname "$0")/lib.sh"
CORPUS=$MYSIMBDP_SRC/tests/hostile/reports
RAW=$MYSIMBDP_BUILD/tests/integration/rawzmq

platform 'monitor.max_report_size="1K"'
stream_tenant alpha
stream_tenant beta
start_daemon monitor
EP=ipc://$VAR/run/alpha/metrics.sock
taken='mysimbdp_batch_reports_total{tenant="alpha"}'
dropped() { echo "mysimbdp_monitor_reports_dropped_total{tenant=\"alpha\",reason=\"$1\"}"; }

"$RAW" "$EP" push <"$CORPUS/reports.msgs" >/dev/null || fail "rawzmq could not send"
# One connection keeps the order: once the last (good) one is taken,
# every report before it has been judged.
wait_for 20 "the good reports" prom_at_least "$taken" 2
while IFS=$'\t' read -r reason n; do
	case $reason in '#'*|'') continue ;; taken) s=$taken ;; *) s=$(dropped "$reason") ;; esac
	assert_eq "$n" "$(prom_value "$s")" "$reason: $n"
done <"$CORPUS/expected.tsv"
assert_eq 0 "$(prom_value 'mysimbdp_batch_reports_total{tenant="beta"}')" "nothing counted for beta"

echo 'r:2000000:x' | "$RAW" "$EP" push >/dev/null || fail "rawzmq could not send 2 MB"
echo 't:{"v":1,"app":"batch","instance":"j","window_ms":1,"rows":1}' |
	"$RAW" "$EP" push >/dev/null || fail "rawzmq could not send"
wait_for 20 "a good report after the 2 MB one" prom_at_least "$taken" 3
assert_eq 1 "$(prom_value "$(dropped oversized)")" "the 2 MB report never reached the parser"
# Three frames of 900,000 bytes: each under the 1 MiB a frame, the
# message over it; the connection is cut before the whole is buffered,
# so the message is never counted (libzmq's PULL took it whole, 2.7 MB,
# and it came out as malformed: several frames).
echo 'r:900000:x r:900000:x r:900000:x' | "$RAW" "$EP" push >/dev/null ||
	fail "rawzmq could not send three frames of 900 KB"
echo 't:{"v":1,"app":"batch","instance":"k","window_ms":1,"rows":1}' |
	"$RAW" "$EP" push >/dev/null || fail "rawzmq could not send"
wait_for 20 "a good report after the three frames" prom_at_least "$taken" 4
assert_eq "$(awk -F'\t' '$1 == "malformed" { print $2 }' "$CORPUS/expected.tsv")" \
	"$(prom_value "$(dropped malformed)")" "the 2.7 MB message was never read whole"
kill -0 "$MON_PID" || fail "the monitor died"
ok "the monitor takes reports on"
stop_daemon monitor
ok "the monitor exits cleanly"

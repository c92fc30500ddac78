#!/bin/bash
# The Prometheus endpoint, fetched with curl, is valid text exposition
# (format 0.0.4) with the expected series; SIGHUP adds a tenant; SIGTERM
# ends the monitor with 0.
. "$(dirname "$0")/lib.sh"

platform
STREAMAPP_ARGS=', "-r", "200"' stream_tenant alpha \
	'instances = { min = 1; max = 2; };
	 scaling = { target_backlog_per_instance = 1000; };'
start_daemon streammgr
start_daemon monitor
url=$(prom_url)
case $url in http://127.0.0.1:[0-9]*/metrics) ok "listens on loopback: $url" ;;
*) fail "no loopback URL in the log: $url" ;; esac
wait_for 20 "one instance" ready_is alpha 1
send_keys alpha 1 100 >/dev/null || fail "send"
wait_for 20 "acks in the exposition" prom_at_least \
	'mysimbdp_stream_acked_total{tenant="alpha",stream="default"}' 100
wait_for 20 "reports in the exposition" prom_at_least \
	'mysimbdp_stream_messages_total{tenant="alpha",stream="default"}' 100

curl -sf -D "$T/out/headers" -o "$T/out/body" "$url" || fail "curl $url"
grep -qi '^content-type: text/plain; version=0.0.4' "$T/out/headers" ||
	fail "content type: $(cat "$T/out/headers")"
ok "content type is text exposition 0.0.4"
# Every line a HELP, a TYPE or a sample of a family TYPEd before it; no
# series twice; values are numbers.
awk '
	/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$/ { next }
	/^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge)$/ { typed[$3] = 1; next }
	/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? [-+0-9.eE]+$/ {
		name = $1; sub(/\{.*/, "", name)
		if (!typed[name]) { print "untyped: " $0; bad = 1 }
		if (seen[$1]++) { print "twice: " $1; bad = 1 }
		next
	}
	{ print "bad line: " $0; bad = 1 }
	END { exit bad }' "$T/out/body" || fail "not valid exposition text"
ok "valid exposition text ($(grep -vc '^#' "$T/out/body") samples)"
for series in \
	'mysimbdp_stream_instances_running{tenant="alpha",stream="default"} 1' \
	'mysimbdp_stream_instances_desired{tenant="alpha",stream="default"} 1' \
	'mysimbdp_stream_instances_max{tenant="alpha",stream="default"} 2' \
	'mysimbdp_stream_acked_total{tenant="alpha",stream="default"} 100' \
	'mysimbdp_stream_backlog{tenant="alpha",stream="default"} 0' \
	'mysimbdp_monitor_reports_dropped_total{tenant="alpha",reason="malformed"} 0' \
	'mysimbdp_monitor_scale_requests_total{tenant="alpha",stream="default",direction="up"} 0'; do
	grep -qxF "$series" "$T/out/body" || fail "missing: $series"
done
ok "the expected series and values"
for family in mysimbdp_stream_in_rate mysimbdp_stream_ingest_time_seconds \
	mysimbdp_stream_rows_total mysimbdp_monitor_statistics_total \
	mysimbdp_monitor_decisions_total mysimbdp_batch_rows_total; do
	grep -q "^# TYPE $family " "$T/out/body" || fail "no family $family"
done
ok "every family is there"
code=$(curl -s -o /dev/null -w '%{http_code}' "${url%/metrics}/other")
assert_eq 404 "$code" "other paths are not found"
# A request whose headers never end (here 64 KB of one) is refused, not
# buffered; the next scrape is served.
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Long: $(head -c 65536 /dev/zero | tr '\0' a)" "$url" || true)
[ "$code" != 200 ] || fail "a request with 64 KB of headers was served"
curl -sf -o /dev/null "$url" || fail "no scrape after the long request"
ok "a request with 64 KB of headers is refused (HTTP ${code:-none}); the next is served"

stream_tenant beta 'instances = { min = 1; max = 1; };'
from=$(wc -l <"$MON_LOG")
kill -HUP "$MON_PID"
wait_for 20 "the new tenant" mon_log_after "$from" 'tenant beta: listening for reports'
[ -S "$VAR/run/beta/metrics.sock" ] || fail "no metrics socket for beta"
prom_value 'mysimbdp_monitor_reports_dropped_total{tenant="beta",reason="malformed"}' |
	grep -qx 0 || fail "beta is not in the exposition"
ok "SIGHUP added tenant beta"

# The tenant's run/<tenant>/ is its own: a symlink it puts in place of
# metrics.sock between the bind and the chmod (gdb stops the monitor
# there) must not make the link's target writable by all.
if command -v gdb >/dev/null; then
	victim=$VAR/log/victim
	echo secret >"$victim"
	chmod 600 "$victim"
	stream_tenant gamma 'instances = { min = 1; max = 1; };'
	out=$T/out/gdb.chmod
	gdb_start "$MON_PID" "$out" 'break chmod' 'break fchmodat' continue \
		"shell rm -f $VAR/run/gamma/metrics.sock; ln -s $victim $VAR/run/gamma/metrics.sock" \
		finish detach
	if wait_for_gdb "$out" "$GDB_PID" 2; then
		kill -HUP "$MON_PID"
		gdb_wait "$out"
		grep -q 'Breakpoint [12],' "$out" || fail "gdb saw no chmod: $(cat "$out")"
		assert_eq 600 "$(stat -c %a "$victim")" "the mode of a file a tenant's symlink pointed to"
		ok "a symlink in place of metrics.sock is not followed by the chmod"
	else
		echo "# gdb cannot attach to the monitor: $(tail -n 2 "$out")"
	fi
fi
stop_daemon monitor
stop_daemon streammgr

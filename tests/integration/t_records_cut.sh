#!/usr/bin/env bash
# log/metrics.jsonl cut back in place (monitor.logs.backups = 0 rotates
# so): the monitor's copy into MongoDB goes on from the file's new start
# and says what it may have missed, instead of waiting for the file to
# grow past where it was (which, under max_size, it may never do).
#
# A FerretDB of the test's own; skipped without one, said so.
. "$(dirname "$0")/lib.sh"

MONGOPREP=$MYSIMBDP_BUILD/tests/integration/mongoprep

own_ferretdb
DB=cut_$$
platform "top.mongo_url=\"${URL}?serverSelectionTimeoutMS=500&connectTimeoutMS=500\"" \
	"top.mongo_records_db=\"$DB\"" 'monitor.logs={ max_size = "4K"; backups = 0; }'
tenant a <<CFG
id = "a";
mongo_url = "file://$VAR/coredms";
batch = { formats = ["csv"]; apps = ( { app = ["exit-with", "0"]; } ); };
CFG
start_daemon monitor

EP_A=ipc://$VAR/run/a/metrics.sock
reports() { push_reports "$EP_A" "$@"; }	# N FIRST
stored_instance() {
	"$MONGOPREP" dump "$URL" "$DB" metrics 2>/dev/null | jq -r '.instance // empty' | grep -qx "$1"
}

# Lines stored, then reports one at a time until the file is cut back
# (a report is about 200 bytes): the next report must be stored.
reports 10 1
wait_for 60 "the first reports stored" stored_instance j-10
size=$(stat -c %s "$VAR/log/metrics.jsonl")
for ((i = 11; i <= 60; i++)); do
	reports 1 "$i"
	now=$(stat -c %s "$VAR/log/metrics.jsonl")
	[ "$now" -ge "$size" ] || break
	size=$now
done
[ "$i" -le 60 ] || fail "metrics.jsonl was never cut back"
wait_for 30 "the cut said in the monitor's log" \
	grep -q "records: metrics.jsonl: the file was cut back in place" "$MON_LOG"
reports 1 100
wait_for 60 "the report after the cut stored" stored_instance j-100
stored_instance "j-$i" || fail "j-$i, the first report after the cut, is not stored"
ok "metrics.jsonl cut back in place: the copy goes on from its start"
stop_daemon monitor

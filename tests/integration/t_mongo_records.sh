#!/usr/bin/env bash
# The platform's own records in MongoDB (issue 17): with a mongodb://
# mongo_url, the monitor copies every line of log/ingest.jsonl into
# <mongo_records_db>.ingestions and of log/metrics.jsonl (rotated as it
# goes) into .metrics, each exactly once: with a SIGKILL of each daemon in
# the middle, and the server down for a while (caught up with once it is
# back; the killed monitor leaves no /dev/shm/mongoc-<pid>). Each
# document is its line, with the _id "<log>:<position>";
# `status` shows the backlog, and `mysimbdp stats --mongo` gives the same
# figures as `mysimbdp stats` (and with the server down, says why not).
#
# A FerretDB of the test's own (it is stopped); skipped without Go, said so.
. "$(dirname "$0")/lib.sh"

FERRETDB=$MYSIMBDP_SRC/scripts/ferretdb
MONGOPREP=$MYSIMBDP_BUILD/tests/integration/mongoprep

own_ferretdb
DB=rec_$$

platform "top.mongo_url=\"${URL}?serverSelectionTimeoutMS=500&connectTimeoutMS=500\"" \
	"top.mongo_records_db=\"$DB\"" 'monitor.logs={ max_size = "4K"; backups = 20; }'
# The tenants' data goes to the embedded store: only the records go to
# the server.
tenant a <<CFG
id = "a";
mongo_url = "file://$VAR/coredms";
batch = { formats = ["csv"];
  apps = ( { app = ["exit-with", "0"]; timeout = "20s"; } ); };
CFG
tenant b <<CFG
id = "b";
mongo_url = "file://$VAR/coredms";
batch = { formats = ["csv"];
  apps = ( { app = ["exit-with", "3"]; timeout = "20s"; retries = 1; } ); };
CFG
# The monitor without MONGOC_DISABLE_SHM (scripts/test exports it): its
# msb_init must set it before libmongoc loads, or the SIGKILL below
# leaves /dev/shm/mongoc-<pid> behind for a later process to trip on.
unset MONGOC_DISABLE_SHM
start_daemon monitor
export MONGOC_DISABLE_SHM=1
start_daemon batchmgr
start_daemon streammgr

EP_A=ipc://$VAR/run/a/metrics.sock
reports() { push_reports "$EP_A" "$@"; }	# N FIRST
files() {	# N FIRST
	local i
	for ((i = $2; i < $2 + $1; i++)); do
		drop a "f$i.csv"
		drop b "g$i.csv"
	done
}
backlog() {	# the status's backlog of both logs, "I M"
	cli status --json 2>/dev/null |
		jq -r '.records | "\(.ingest_backlog_bytes) \(.metrics_backlog_bytes)"'
}
caught_up() { [ "$(backlog)" = "0 0" ]; }
stored() { "$MONGOPREP" count "$URL" "$DB" "$1" 2>/dev/null || echo 0; }

# ---- a first part, with a SIGKILL of each daemon in the middle --------
files 5 1
reports 40 1
wait_for 30 "the first records stored" eval '[ "$(stored ingestions)" -gt 0 ]'
mon_pid=$MON_PID
kill9_daemon monitor
[ ! -e "/dev/shm/mongoc-$mon_pid" ] ||
	fail "/dev/shm/mongoc-$mon_pid left behind by the killed monitor"
kill9_daemon batchmgr
kill9_daemon streammgr
files 5 6
start_daemon batchmgr
start_daemon streammgr
start_daemon monitor
reports 40 41
wait_for 60 "both logs stored" caught_up
ok "the backlog drains to 0 after a SIGKILL of each daemon, no libmongoc counters file left"

# ---- the server down for a while ------------------------------------------
kill -9 "$(cat "$FDB/pid")"
rm -f "$FDB/pid"
files 5 11
reports 60 81
wait_for 30 "the monitor to see the server gone" grep -q "records: MongoDB unavailable" "$MON_LOG"
[ "$(backlog)" != "0 0" ] || fail "no backlog while the server is down"
ok "status shows a backlog while the server is down: $(backlog)"
# stats --mongo says why it has no figures (libmongoc's reason), and
# exits EX_UNAVAILABLE.
rc=0
cli stats --mongo >"$T/out/stats.down" 2>&1 || rc=$?
assert_eq 69 "$rc" "stats --mongo with the server down: exit status"
grep -q "^mysimbdp stats: MongoDB: ." "$T/out/stats.down" ||
	fail "stats --mongo with the server down: $(cat "$T/out/stats.down")"
ok "stats --mongo with the server down says why and fails"
"$FERRETDB" start "$FDB" "$PORT" >/dev/null || fail "FerretDB did not restart"
wait_for 90 "the records caught up with" caught_up
ok "caught up once the server is back"
[ -e "$VAR/log/metrics.jsonl.1" ] || fail "metrics.jsonl never rotated: the test means less"

# ---- every line once, as it is in the log ---------------------------------
# expected LOG FILES...: the documents the lines of FILES (oldest first)
# should be, _id included, keys sorted.
expected() {
	local log=$1 base=0 f
	shift
	for f in "$@"; do
		LC_ALL=C awk -v lg="$log" -v base="$base" '{ printf "%s:%d\t%s\n", lg, base, $0; base += length($0) + 1 }' "$f"
		base=$((base + $(stat -c %s "$f")))
	done | while IFS=$'\t' read -r id line; do
		jq -cS --arg id "$id" '. + {_id: $id}' <<<"$line"
	done | sort
}
rotated=()
for ((k = 20; k >= 1; k--)); do
	[ -e "$VAR/log/metrics.jsonl.$k" ] && rotated+=("$VAR/log/metrics.jsonl.$k")
done
expected ingest "$VAR/log/ingest.jsonl" >"$T/out/want.ingest"
expected metrics "${rotated[@]}" "$VAR/log/metrics.jsonl" >"$T/out/want.metrics"
for c in ingest:ingestions metrics:metrics; do
	"$MONGOPREP" dump "$URL" "$DB" "${c#*:}" | jq -cS . | sort >"$T/out/got.${c%%:*}"
	if ! cmp -s "$T/out/want.${c%%:*}" "$T/out/got.${c%%:*}"; then
		diff "$T/out/want.${c%%:*}" "$T/out/got.${c%%:*}" | head -n 6 || true
		fail "${c#*:}: the documents differ from the log's lines (first differences above)"
	fi
	ok "${c#*:}: $(wc -l <"$T/out/got.${c%%:*}") documents, each line of the log exactly once"
done

cli stats --json >"$T/out/stats.file" || fail "stats"
cli stats --mongo --json >"$T/out/stats.mongo" 2>"$T/out/stats.mongo.err" ||
	fail "stats --mongo: $(cat "$T/out/stats.mongo" "$T/out/stats.mongo.err")"
# Not even libmongoc's warning at its end (FerretDB has no endSessions).
[ ! -s "$T/out/stats.mongo.err" ] ||
	fail "stats --mongo wrote to stderr: $(cat "$T/out/stats.mongo.err")"
assert_eq "$(jq -S . "$T/out/stats.file")" "$(jq -S . "$T/out/stats.mongo")" \
	"stats --mongo gives the figures of stats"

#!/usr/bin/env bash
# The MongoDB server goes away in the middle of the work and comes back
# (issue 17): a FerretDB of the test's own, stopped while acme-listings
# loads a file and while acme's stream flows, then started again on the
# same port. The batch app exits 75, batchmgr retries, and once the
# server is back the file lands: every row stored once, nothing doubled.
# The stream's messages in flight are nacked and redelivered: every one
# stored once, none lost, no dead letter.
#
# Needs Go for FerretDB (scripts/ferretdb); scripts/test sets
# MYSIMBDP_TEST_MONGO_URL when it has one, and without it this test is
# skipped, said so.
. "$(dirname "$0")/lib.sh"

ACME_APP=$MYSIMBDP_BUILD/tenants/acme/acme-listings
ACME_STREAM=$MYSIMBDP_BUILD/tenants/acme/acme-stream
MONGOPREP=$MYSIMBDP_BUILD/tests/integration/mongoprep
FERRETDB=$MYSIMBDP_SRC/scripts/ferretdb
GEN=$MYSIMBDP_SRC/scripts/gen-data

own_ferretdb
# A short selection timeout: an app finds the server gone quickly.
APP_URL="${URL}?serverSelectionTimeoutMS=1000&connectTimeoutMS=1000"

platform retry_backoff='"200ms"' retry_backoff_max='"1s"'
tenant b <<CFG
id = "b";
mongo_url = "$APP_URL";
batch = {
  formats = ["csv"];
  apps = ( { app = ["$ACME_APP"]; timeout = "120s"; retries = 0; } );
};
CFG
tenant s <<CFG
id = "s";
mongo_url = "$APP_URL";
streams = ( { app = ["$ACME_STREAM"]; stop_timeout = "2s"; } );
CFG
start_daemon batchmgr
start_daemon streammgr

stored() { "$MONGOPREP" count "$URL" "$1" "$2" 2>/dev/null || echo 0; }
more_than() { [ "$(stored "$1" "$2")" -gt "$3" ]; }
# The server dies (SIGKILL: a graceful stop would let the writes in
# progress finish first).
server_killed() {
	kill -9 "$(cat "$FDB/pid")"
	rm -f "$FDB/pid"
	ok "server killed ($1)"
}
server_up() {
	local o
	o=$("$FERRETDB" start "$FDB" "$PORT") || fail "FerretDB did not restart on $PORT"
	ok "server back at ${o%% *}"
}

# ---- batch: the server goes away mid-file ------------------------------
"$GEN" acme 12M >"$T/scratch/big.csv"
drop_file b big.csv "$T/scratch/big.csv"
wait_for 60 "the first rows in the server" more_than b listings 500
server_killed "mid-batch"
wait_for 60 "a retry after exit 75" have_records 1 b retry
r=$(records '.tenant == "b" and .status == "retry"' | head -n 1)
assert_eq 75 "$(jq .exit_code <<<"$r")" "the app exited 75 when the server went away"
server_up
wait_for 120 "the file to land" have_records 1 b ok
r=$(records '.tenant == "b" and .status == "ok"')
rows=$(jq .rows <<<"$r")
[ "$rows" -gt 10000 ] || fail "too few rows for the test to mean anything: $rows"
assert_eq "$rows" "$(stored b listings)" "every row stored once, nothing doubled"
assert_eq "$rows" "$(jq '.inserted + .already_present' <<<"$r")" \
	"the last attempt accounts for every row (stored then or before)"
[ "$(jq .already_present <<<"$r")" -gt 0 ] ||
	fail "the rows stored before the outage should be already_present: $r"
ok "rows stored before the outage counted as already present: $(jq .already_present <<<"$r")"

# ---- stream: the server goes away while messages flow ------------------
# Few: FerretDB v1 (SQLite) scans the collection for each upsert, so
# thousands take minutes.
N=400
"$GEN" acme-updates 1M >"$T/scratch/raw.jsonl"
awk -v n="$N" 'NR <= n' "$T/scratch/raw.jsonl" |
	jq -c '.id = input_line_number' >"$T/scratch/updates.jsonl"
assert_eq "$N" "$(wc -l <"$T/scratch/updates.jsonl")" "$N distinct updates to send"
wait_for 20 "s's instance ready" ready_is s 1
cli send s --file "$T/scratch/updates.jsonl" --rate 100 >"$T/out/send" 2>&1 &
send_pid=$!
wait_for 60 "the first messages in the server" more_than s listings_live 40
server_killed "while messages flow"
wait_for 30 "an instance to exit 75" sm_log_has "exited 75"
server_up
wait "$send_pid" || fail "send: $(cat "$T/out/send")"
wait_for 120 "all $N messages acked" eval '[ "$(sstat s .acked)" -ge '"$N"' ]'
assert_eq 0 "$(sstat s .dead_letters)" "no dead letter"
assert_eq "$N" "$(stored s listings_live)" "every message stored once, none lost"
[ "$(sstat s .redelivered)" -gt 0 ] || [ "$(sstat s .restarts)" -gt 0 ] ||
	fail "the outage touched nothing: neither a redelivery nor a restart"
ok "messages in flight came again ($(sstat s .redelivered) redelivered, $(sstat s .restarts) restarts)"

#!/usr/bin/env bash
# The sink is down (MongoDB on a closed loopback port): both sample apps
# exit 75, batchmgr retries with growing backoff without using up
# `retries`, every record says why, and the file is never lost: it stays
# in processing/ (never failed/, never deleted) and, once the sink is
# back, is loaded and moves to done/.
. "$(dirname "$0")/lib.sh"

ACME_APP=$MYSIMBDP_BUILD/tenants/acme/acme-listings
GLOBEX_APP=$MYSIMBDP_SRC/tenants/globex/ingest-cases
BSONCOUNT=$MYSIMBDP_BUILD/tenants/bsoncount
ACME_CSV=$MYSIMBDP_SRC/tenants/acme/samples/listings-small.csv
GLOBEX_CSV=$MYSIMBDP_SRC/tenants/globex/samples/cases-small.csv
DOWN='mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200&connectTimeoutMS=200'

platform retry_backoff='"100ms"' retry_backoff_max='"800ms"'
# profiles MONGO_URL_SETTING: both tenants, with one retry only, so a
# tempfail that counted as a failure would end in failed/ at once.
profiles() {
	tenant acme <<-CFG
	id = "acme";
	$1
	batch = {
	  formats = ["csv"];
	  apps = ( { app = ["$ACME_APP"]; timeout = "30s"; retries = 1; } );
	};
	CFG
	tenant globex <<-CFG
	id = "globex";
	$1
	batch = {
	  formats = ["csv"];
	  apps = ( { name = "cases"; app = ["$GLOBEX_APP", "$CLI"]; datasets = ["cases"];
	             timeout = "30s"; retries = 1; } );
	};
	CFG
}
profiles "mongo_url = \"$DOWN\";"
start_daemon batchmgr

deliver() {	# TENANT [DATASET/]NAME SOURCE
	local dest=$VAR/staging/$1/incoming/$2
	mkdir -p "$(dirname "$dest")"
	cp "$3" "$(dirname "$dest")/.$(basename "$2").part"
	mv "$(dirname "$dest")/.$(basename "$2").part" "$dest"
}
deliver acme l.csv "$ACME_CSV"
deliver globex cases/c.csv "$GLOBEX_CSV"

# settled N TENANT: N retry records, or an outcome that is not a retry
# (which the checks below then report at once instead of timing out).
settled() {
	have_records "$1" "$2" retry ||
		[ "$(records ".tenant == \"$2\" and .status != \"retry\"" | wc -l)" -gt 0 ]
}
wait_for 30 "acme: 4 attempts" settled 4 acme
wait_for 30 "globex: 4 attempts" settled 4 globex

for t in acme globex; do
	assert_eq 0 "$(records ".tenant == \"$t\" and .status != \"retry\"" | wc -l)" \
		"$t: only retry records while the sink is down"
	records ".tenant == \"$t\"" | jq -e -s 'all(.[]; .exit_code == 75 and
		(.reason | startswith("tempfail: exit 75")) and .rows == 0 and
		(.summary.error | test("MongoDB unavailable")))' >/dev/null ||
		fail "$t: records do not say exit 75 and why: $(records ".tenant == \"$t\"" | head -1)"
	ok "$t: each record has exit_code 75, reason tempfail, and the app's error (MongoDB unavailable)"
	assert_eq "1 2 3 4" "$(records ".tenant == \"$t\"" | jq -r .attempt | head -4 | xargs)" \
		"$t: attempts go on past retries = 1"
	# The backoff doubles from 100ms: 400ms before attempt 4 (the record's
	# end is taken a moment before the timer starts, hence 380).
	e3=$(records ".tenant == \"$t\" and .attempt == 3" | jq -r .end)
	s4=$(records ".tenant == \"$t\" and .attempt == 4" | jq -r .start)
	gap=$(( $(date -d "$s4" +%s%3N) - $(date -d "$e3" +%s%3N) ))
	[ "$gap" -ge 380 ] || fail "$t: backoff before attempt 4 was ${gap}ms, expected about 400ms"
	ok "$t: backoff grows (${gap}ms before attempt 4)"
done

# Never lost: still in processing/, unchanged; nothing failed or deleted.
cmp -s "$ACME_CSV" "$VAR/staging/acme/processing/l.csv" || fail "acme: l.csv is not in processing/ unchanged"
cmp -s "$GLOBEX_CSV" "$VAR/staging/globex/processing/cases/c.csv" || fail "globex: c.csv is not in processing/ unchanged"
ok "both files wait in processing/, unchanged"
for t in acme globex; do
	assert_eq 0 "$(files_in $t failed)" "$t: nothing in failed/"
	assert_eq 0 "$(files_in $t done)" "$t: nothing in done/"
done
assert_eq 0 "$(find "$VAR/coredms" -name '*.bson' 2>/dev/null | wc -l)" "nothing written anywhere else"

# The sink comes back (here: the embedded store). A restart picks the
# files up from processing/ and loads them.
stop_daemon batchmgr
profiles ""
start_daemon batchmgr
wait_for 30 "acme ok" have_records 1 acme ok
wait_for 30 "globex ok" have_records 1 globex ok
assert_eq true "$(records '.tenant == "acme" and .status == "ok"' | jq .recovered)" "acme: rerun after the restart"
wait_file "$VAR/staging/acme/done/l.csv"
wait_file "$VAR/staging/globex/done/cases/c.csv"
assert_eq 40 "$("$BSONCOUNT" "$VAR/coredms/acme/listings" | wc -l)" "acme: every row loaded once the sink is back"
assert_eq 71 "$("$BSONCOUNT" "$VAR/coredms/globex/cases" | wc -l)" "globex: every row loaded once the sink is back"
# Under sanitizers (the clean environment drops ASAN/UBSAN_OPTIONS, so a
# UBSan report does not stop the app), reports land in the tenant logs.
if grep -r -l -E 'runtime error|Sanitizer' "$VAR/log" >&2; then
	fail "sanitizer reports in the tenant logs above"
fi
ok "no sanitizer reports in the tenant logs"
stop_daemon batchmgr

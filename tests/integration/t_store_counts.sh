#!/usr/bin/env bash
# Every outcome counts what the store did (issue 17): acme-listings run by
# batchmgr into the embedded store and into a MongoDB server records
# inserted, already_present and store_rejected, with
# rows = inserted + already_present + store_rejected, for a first run
# (all inserted) and a rerun of the same content (all already present).
# On the MongoDB server, a unique index the tenant's DBA made on another
# field: the clashing row is rejected with the server's reason and the
# rest stored; a file whose every row clashes is not ok; a stream message
# whose document clashes goes to the dead letters with the reason, the
# others are stored. `mysimbdp stats` sums the same figures.
#
# The MongoDB half needs MYSIMBDP_TEST_MONGO_URL (scripts/test starts
# FerretDB); without it only the embedded store is checked, and said so.
. "$(dirname "$0")/lib.sh"

ACME_APP=$MYSIMBDP_BUILD/tenants/acme/acme-listings
ACME_STREAM=$MYSIMBDP_BUILD/tenants/acme/acme-stream
MONGOPREP=$MYSIMBDP_BUILD/tests/integration/mongoprep
SAMPLE=$MYSIMBDP_SRC/tenants/acme/samples/listings-small.csv
MONGO=${MYSIMBDP_TEST_MONGO_URL:-}
DB=mysbt_counts_$$

stores=(fil)
platform
batch_tenant() {	# ID [MONGO SETTINGS]
	tenant "$1" <<-CFG
	id = "$1";
	${2:-}
	batch = {
	  formats = ["csv"];
	  apps = ( { app = ["$ACME_APP"]; timeout = "60s"; retries = 0; } );
	};
	CFG
}
batch_tenant fil
if [ -n "$MONGO" ]; then
	stores+=(mgo)
	batch_tenant mgo "mongo_url = \"$MONGO\"; mongo_db = \"$DB\";"
	# A database of its own: the rows of mgo's runs would clash too.
	batch_tenant dba "mongo_url = \"$MONGO\"; mongo_db = \"${DB}_dba\";"
	tenant live <<-CFG
	id = "live";
	mongo_url = "$MONGO";
	mongo_db = "${DB}_live";
	streams = ( { app = ["$ACME_STREAM"]; stop_timeout = "2s"; } );
	CFG
	on_cleanup() {
		"$MONGOPREP" drop "$MONGO" "$DB" || true
		"$MONGOPREP" drop "$MONGO" "${DB}_dba" || true
		"$MONGOPREP" drop "$MONGO" "${DB}_live" || true
	}
else
	echo "note: MYSIMBDP_TEST_MONGO_URL is not set: the MongoDB half is" \
		"skipped (scripts/test starts FerretDB when Go is there)"
fi
start_daemon batchmgr

# The last ok or failed record of TENANT's FILE.
outcome() {
	records ".tenant == \"$1\" and .file == \"$2\" and
		(.status == \"ok\" or .status == \"failed\")" | tail -n 1
}
# counts TENANT FILE: "rows inserted already_present store_rejected".
counts() {
	outcome "$1" "$2" | jq -r '"\(.rows) \(.inserted) \(.already_present) \(.store_rejected)"'
}
# The record adds up: every row the app handed the store is accounted for.
adds_up() {
	local r=$1 what=$2
	[ "$(jq '.rows == .inserted + .already_present + .store_rejected' <<<"$r")" = true ] ||
		fail "$what: rows != inserted + already_present + store_rejected: $r"
}

# ---- both stores: a first run, then the same content again ------------
for t in "${stores[@]}"; do
	drop_file "$t" first.csv "$SAMPLE"
	wait_for 30 "$t: first run" have_records 1 "$t" ok
	assert_eq "40 40 0 0" "$(counts "$t" first.csv)" "$t: first run: all 40 inserted"
	adds_up "$(outcome "$t" first.csv)" "$t: first run"
	drop_file "$t" again.csv "$SAMPLE"
	wait_for 30 "$t: the rerun" have_records 2 "$t" ok
	assert_eq "40 0 40 0" "$(counts "$t" again.csv)" "$t: rerun: all 40 already present"
	adds_up "$(outcome "$t" again.csv)" "$t: rerun"
	assert_eq 3 "$(jq .rejected_rows <<<"$(outcome "$t" again.csv)")" \
		"$t: the app's own rejected rows stay apart"
done
assert_eq "40 40" "$(cli stats --tenant fil --json |
	jq -r '.tenants.fil | "\(.inserted) \(.already_present)"')" \
	"stats: inserted and already_present summed"

[ -n "$MONGO" ] || exit 0

# ---- MongoDB: a unique index on another field ------------------------
# Listing 100999's id taken by another document: the row added below
# clashes.
"$MONGOPREP" unique "$MONGO" "${DB}_dba" listings id 100999 ||
	fail "could not create the unique index"
# The sample and one more row.
sed '$a 100999,https://example.org/rooms/100999,"Added",,1,Ann,2015-01-01,West,52.3,4.9,"Entire loft",Shared room,2,1,"[]","$10.00",1,0,,' \
	"$SAMPLE" >"$T/scratch/clash.csv"
drop_file dba clash.csv "$T/scratch/clash.csv"
wait_for 30 "the clashing file" have_records 1 dba ok
r=$(outcome dba clash.csv)
assert_eq "ok 41 40 0 1" "$(jq -r '"\(.status) \(.rows) \(.inserted) \(.already_present) \(.store_rejected)"' <<<"$r")" \
	"clash: 40 stored, the clashing row rejected, the file ok"
adds_up "$r" "clash"
jq -r .summary.store_error <<<"$r" | grep -q E11000 ||
	fail "clash: the server's reason is not in the record: $r"
# The 40 rows and the index's own document.
assert_eq 41 "$("$MONGOPREP" count "$MONGO" "${DB}_dba" listings)" \
	"clash: the server holds every stored row, once"

# Every row clashes: nothing stored, so not ok.
{ head -n 1 "$SAMPLE"; tail -n 1 "$T/scratch/clash.csv" | sed 's/Added/Again/'; } \
	>"$T/scratch/allbad.csv"
drop_file dba allbad.csv "$T/scratch/allbad.csv"
wait_for 30 "the all-rejected file" have_records 1 dba failed
r=$(outcome dba allbad.csv)
assert_eq "failed 1 0 0 1" "$(jq -r '"\(.status) \(.rows) \(.inserted) \(.already_present) \(.store_rejected)"' <<<"$r")" \
	"all rows rejected by the store: not ok, and counted"
jq -r .reason <<<"$r" | grep -q 'exit 65' || fail "all rejected: reason: $r"
jq -r .summary.error <<<"$r" | grep -q 'the store rejected every row' ||
	fail "all rejected: the app's error: $r"

# ---- MongoDB: a stream message whose document clashes ------------------
"$MONGOPREP" unique "$MONGO" "${DB}_live" listings_live host_id 424242 ||
	fail "could not create the unique index (stream)"
start_daemon streammgr
wait_for 20 "live's instance ready" ready_is live 1
# Three sample updates as listings 1, 2 and 3; the second with the host
# id the index already holds.
head -n 3 "$MYSIMBDP_SRC/tenants/acme/samples/updates.jsonl" |
	jq -c --argjson clash 424242 '.id = input_line_number |
		if .id == 2 then .host_id = $clash else . end' >"$T/scratch/updates.jsonl"
cli send live --file "$T/scratch/updates.jsonl" >"$T/out/send" 2>&1 ||
	fail "send: $(cat "$T/out/send")"
wait_for 20 "one dead letter" eval '[ "$(sstat live .dead_letters)" = 1 ]'
wait_for 20 "two acked" eval '[ "$(sstat live .acked)" -ge 2 ]'
cli dead-letters live --json >"$T/out/dl" || fail "dead-letters: $(cat "$T/out/dl")"
grep -q E11000 "$T/out/dl" || fail "the dead letter has not the server's reason: $(cat "$T/out/dl")"
grep -q '424242' "$T/out/dl" || fail "not the clashing message: $(cat "$T/out/dl")"
ok "the clashing message is a dead letter with the server's reason"
assert_eq 3 "$("$MONGOPREP" count "$MONGO" "${DB}_live" listings_live)" \
	"the other two messages are stored (beside the index's own document)"

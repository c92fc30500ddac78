#!/usr/bin/env bash
# Data quality (issue 20, docs/quality.md): a tenant's profile gives its
# datasets rules and a threshold; libmysimbdp checks every document the
# app (acme-listings, C) stores against them. Checked: every rule's
# rejections are counted under its name, in the ingest record and in
# the rejects file kept beside the file in done/, and nothing it refused
# is stored; a file over its dataset's threshold is quarantined with its
# report and nothing of it stored; `mysimbdp retry --force` ingests it
# past the threshold; `mysimbdp stats --quality` sums what the records
# say; a stream's rule turns the message it refuses into a dead letter
# with the rule's reason; a stream whose refused share goes over its
# threshold is reported by the monitor and paused; check-config refuses
# a rule that checks nothing. With a MongoDB
# server (MYSIMBDP_TEST_MONGO_URL, which scripts/test sets), the monitor
# stores log/quality.jsonl in <mongo_records_db>.quality and `stats
# --quality --mongo` agrees with the file.
. "$(dirname "$0")/lib.sh"

ACME_APP=$MYSIMBDP_BUILD/tenants/acme/acme-listings
SAMPLE=$MYSIMBDP_SRC/tenants/acme/samples/listings-small.csv
BSONCOUNT=$MYSIMBDP_BUILD/tenants/bsoncount

MONGO=${MYSIMBDP_TEST_MONGO_URL:-}
MONGOPREP=$MYSIMBDP_BUILD/tests/integration/mongoprep
DB=mysbt_quality_$$
if [ -n "$MONGO" ]; then
	platform "top.mongo_url=\"$MONGO\"" "top.mongo_records_db=\"$DB\""
	on_cleanup() { "$MONGOPREP" drop "$MONGO" "$DB" || true; }
else
	platform
	echo "note: MYSIMBDP_TEST_MONGO_URL is not set: the MongoDB half is" \
		"skipped (scripts/test starts FerretDB when Go is there)"
fi
tenant q <<CFG
id = "q";
mongo_url = "file://$VAR/coredms";
batch = {
  formats = ["csv"];
  quality = (
    { datasets = ["listings"]; max_rejected_percent = 50;
      rules = (
        { name = "price-range"; field = "price"; min = "1"; max = "500"; },
        { name = "room-types"; field = "room_type";
          values = ["Entire home/apt", "Private room", "Shared room", "Hotel room"]; },
        { name = "https"; field = "listing_url"; pattern = "^https://"; },
        { name = "recent"; field = "last_review"; max_age = "3650d"; },
        { name = "unique-id"; field = "id"; unique = true; },
        { name = "has-host"; field = "host_name"; required = true; }
      ); },
    { datasets = ["strict"]; max_rejected_percent = 5;
      rules = (
        { name = "price-range"; field = "price"; min = "1"; max = "500"; },
        { name = "https"; field = "listing_url"; pattern = "^https://"; }
      ); },
    { datasets = ["flaky"];
      rules = ( { name = "price-range"; field = "price"; max = "500"; } ); }
  );
  apps = ( { app = ["$ACME_APP"]; datasets = ["listings", "strict"];
             timeout = "$(scaled 60)s"; retries = 0; },
           { name = "flaky"; app = ["$T/flaky"]; datasets = ["flaky"];
             timeout = "$(scaled 60)s"; retries = 1; } );
};
CFG
# acme-listings, then a failure the first time: the attempt is retried.
cat >"$T/flaky" <<EOF
#!/bin/sh
"$ACME_APP" || exit
[ -e "$T/flaked" ] && exit 0
: >"$T/flaked"
exit 1
EOF
chmod 755 "$T/flaky"
# A stream the monitor watches for its refused share (streammgr starts
# below).
tenant gate <<CFG
id = "gate";
mongo_url = "file://$VAR/coredms";
streams = ( { app = ["$MYSIMBDP_BUILD/tenants/acme/acme-stream"]; stop_timeout = "2s";
  quality = { max_rejected_percent = 20; window = "1s"; pause = true;
    rules = ( { name = "host"; field = "host_id"; max = "400000"; } ); }; } );
CFG
start_daemon batchmgr
start_daemon monitor

# make_csv TAG: 13 good rows, then one row that breaks each rule once
# (price-range twice): 20 rows, 7 of them refused. TAG makes the
# content (and so the documents' ids) differ between files.
make_csv() {
	python3 - "$SAMPLE" "$1" <<'PY'
import csv, sys
src, tag = sys.argv[1], sys.argv[2]
rows = list(csv.reader(open(src, newline="")))
head, base = rows[0], rows[1]
col = {name: i for i, name in enumerate(head)}
out = csv.writer(sys.stdout, lineterminator="\n")
out.writerow(head)
def row(n, **changes):
    r = list(base)
    r[col["id"]] = str(300000 + n)
    r[col["name"]] = f"{tag} listing {n}"
    r[col["price"]] = "$120.00"
    r[col["room_type"]] = "Private room"
    r[col["last_review"]] = "2025-06-01"
    for k, v in changes.items():
        r[col[k]] = v
    out.writerow(r)
for n in range(13):
    row(n)
row(13, price="$999.00")
row(14, price="$0.50")
row(15, room_type="Castle")
row(16, listing_url="http://example.org/rooms/16")
row(17, last_review="2001-01-01")
row(0)                              # id 300000 again
row(19, host_name="")
PY
}
docs() { "$BSONCOUNT" "$VAR/coredms/q/listings" | jq -c .doc; }
last() {	# FILE: its last record
	records ".tenant == \"q\" and .file == \"$1\"" | tail -n 1
}
want_rules='{"price-range":2,"room-types":1,"https":1,"recent":1,"unique-id":1,"has-host":1}'

# ---- within the threshold: ingested, the refused rows kept ------------------
make_csv a >"$T/scratch/a.csv"
drop_file q listings/a.csv "$T/scratch/a.csv"
wait_for 60 "a.csv ingested" have_records 1 q ok
r=$(last a.csv)
assert_eq ok "$(jq -r .status <<<"$r")" "a.csv's status"
assert_eq "20 7 $want_rules" \
	"$(jq -c '"\(.quality.checked) \(.quality.rejected) \(.quality.rules | tojson)"' <<<"$r" | jq -r .)" \
	"a.csv's quality counts"
assert_eq "13 13" "$(jq -r '"\(.rows) \(.inserted)"' <<<"$r")" "a.csv's rows and inserts"
assert_eq 13 "$(docs | wc -l)" "documents stored"
docs | jq -r .name | grep -q "listing 1[3-9]" && fail "a refused row was stored"
rej=$VAR/staging/q/done/listings/a.csv.rejects.jsonl
wait_file "$rej"
assert_eq "$want_rules" \
	"$(jq -s -c 'group_by(.rule) | map({(.[0].rule): length}) | add' "$rej" |
	    jq -c --argjson w "$want_rules" '. as $g | $w | with_entries(.value = $g[.key])')" \
	"the rejects file's lines per rule"
assert_eq '["Castle","quality: room-types: room_type: \"Castle\" is not an allowed value"]' \
	"$(jq -c 'select(.rule == "room-types") | [.doc.room_type, .reason]' "$rej")" \
	"the room-types reject: its row and reason"
ok "within the threshold (35% of 50%): 13 stored, 7 refused, counted per rule and kept with their rule"

# ---- over the threshold: quarantined, nothing stored ------------------------
make_csv b >"$T/scratch/b.csv"
drop_file q strict/b.csv "$T/scratch/b.csv"
wait_for 60 "b.csv quarantined" have_records 1 q quarantined
r=$(last b.csv)
jq -r .reason <<<"$r" | grep -q "^quality: 3 of 20 rows (15.0%) broke the rules, over max_rejected_percent 5" ||
	fail "b.csv's reason: $(jq -r .reason <<<"$r")"
assert_eq "validate 20 3" "$(jq -r '"\(.quality.pass) \(.quality.checked) \(.quality.rejected)"' <<<"$r")" \
	"b.csv's first-pass counts"
assert_eq 13 "$(docs | wc -l)" "documents after the quarantined file"
qdir=$VAR/staging/q/quarantine/strict
# The record is written first, then the file moves and its report.
wait_for 60 "b.csv's quality report" test -s "$qdir/b.csv.quality.json"
cmp -s "$qdir/b.csv" "$T/scratch/b.csv" || fail "quarantine/strict/b.csv is not the file sent"
assert_eq '{"price-range":2,"https":1}' "$(jq -c .quality.rules "$qdir/b.csv.quality.json")" \
	"the quality report's counts"
assert_eq 3 "$(wc -l <"$qdir/b.csv.rejects.jsonl")" "the quarantined file's rejects"
ok "over the threshold (15% of 5%): quarantined with its report and rejects, nothing stored"

# ---- retry --force: ingested past the threshold -----------------------------
cli retry q strict/b.csv --force >/dev/null
wait_for 60 "b.csv forced in" have_records 2 q ok
r=$(last b.csv)
assert_eq "ok true 17 17 3" \
	"$(jq -r '"\(.status) \(.forced) \(.rows) \(.inserted) \(.quality.rejected)"' <<<"$r")" \
	"the forced run"
assert_eq 30 "$(docs | wc -l)" "documents after the forced run"
ok "retry --force: the quarantined file ingested past its threshold (17 stored, 3 refused)"

# ---- stats --quality: the records' sums -------------------------------------
# batchmgr writes a file's line of log/quality.jsonl just after its record.
q_lines() { jq -c 'select(.tenant == "q")' "$VAR/log/quality.jsonl" | wc -l; }
wait_for 20 "the forced run's line in log/quality.jsonl" eval '[ "$(q_lines)" -ge 3 ]'
out=$(cli stats --quality --json)
assert_eq "20 7 0" "$(jq -r '.quality["q/listings"] | "\(.checked) \(.rejected) \(.quarantined)"' <<<"$out")" \
	"stats --quality: q/listings"
assert_eq "20 3 1" "$(jq -r '.quality["q/strict"] | "\(.checked) \(.rejected) \(.quarantined)"' <<<"$out")" \
	"stats --quality: q/strict (the forced ingest; the first pass only as its quarantine)"
assert_eq "40 10 4" "$(jq -r '.platform | "\(.checked) \(.rejected) \(.rules["price-range"])"' <<<"$out")" \
	"stats --quality: the platform"
cli stats --quality | grep -q "rule price-range" || fail "stats --quality prints no rule: $(cli stats --quality)"
assert_eq 3 "$(q_lines)" "log/quality.jsonl lines (a.csv, b.csv quarantined, b.csv forced)"
ok "stats --quality: per dataset and rule, as log/quality.jsonl and the records say"

# ---- the monitor's metrics: the apps' reports carry the same counts -------
# a.csv's 2 refusals for price-range, and b.csv's 2 when it was forced
# (its first pass reports nothing: it has no metrics endpoint).
q_rule() {
	prom_value 'mysimbdp_batch_quality_rejected_total{tenant="q",rule="price-range"}'
}
wait_for 30 "the monitor's count of price-range" eval '[ "$(q_rule)" = 4 ]'
assert_eq 4 "$(jq -s '[.[] | select(.type == "report" and .tenant == "q") |
	.quality["price-range"] // 0] | add' "$VAR/log/metrics.jsonl")" \
	"price-range in the reports of log/metrics.jsonl"
ok "the monitor's metrics: price-range 4, as the records and stats --quality say"

# ---- MongoDB: the same lines in <mongo_records_db>.quality -----------------
# all_shipped: wait until the monitor stored every line of
# log/quality.jsonl in MongoDB; sets all to their number.
all_shipped() {
	stored() { "$MONGOPREP" count "$MONGO" "$DB" quality 2>/dev/null || echo 0; }
	all=$(wc -l <"$VAR/log/quality.jsonl")
	wait_for 60 "the monitor to store $all quality lines" \
		eval '[ "$(stored)" -eq "$all" ]'
}
if [ -n "$MONGO" ]; then
	all_shipped
	assert_eq "$(jq -c .platform <<<"$out")" \
		"$(cli stats --quality --mongo --json | jq -c .platform)" \
		"stats --quality --mongo against the file"
	ok "MongoDB: $all lines in $DB.quality; stats --quality --mongo agrees"
fi

# ---- a stream's rules: the refused message a dead letter with its rule ------
tenant live <<CFG
id = "live";
mongo_url = "file://$VAR/coredms";
streams = ( { app = ["$MYSIMBDP_BUILD/tenants/acme/acme-stream"]; stop_timeout = "2s";
  quality = { rules = ( { name = "host"; field = "host_id"; max = "400000"; } ); }; } );
CFG
start_daemon streammgr
wait_for 30 "live's instance ready" ready_is live 1
head -n 3 "$MYSIMBDP_SRC/tenants/acme/samples/updates.jsonl" |
	jq -c '.id = input_line_number | if .id == 2 then .host_id = 424242 else . end' \
	>"$T/scratch/updates.jsonl"
cli send live --file "$T/scratch/updates.jsonl" >"$T/out/send" 2>&1 ||
	fail "send: $(cat "$T/out/send")"
wait_for 30 "one dead letter" eval '[ "$(sstat live .dead_letters)" = 1 ]'
wait_for 30 "two acked" eval '[ "$(sstat live .acked)" -ge 2 ]'
dl=$(cli dead-letters live --json)
grep -q 'quality: host: host_id: 424242 is above 400000' <<<"$dl" ||
	fail "the dead letter has not the rule's reason: $dl"
ok "a stream's rule: the message it refuses is a dead letter with the rule's reason"

# ---- a stream over its threshold: a violation, and paused ------------------
wait_for 30 "gate's instance ready" ready_is gate 1
# The monitor counts what settles after it has seen the stream.
wait_for 30 "the monitor to follow gate" dash_has 'gate/default stat state=running'
head -n 10 "$MYSIMBDP_SRC/tenants/acme/samples/updates.jsonl" |
	jq -c '.id = input_line_number | if .id % 2 == 0 then .host_id = 424242 else . end' \
	>"$T/scratch/gate.jsonl"
cli send gate --file "$T/scratch/gate.jsonl" >"$T/out/send" 2>&1 ||
	fail "send: $(cat "$T/out/send")"
wait_for 30 "five dead letters" eval '[ "$(sstat gate .dead_letters)" = 5 ]'
assert_eq 5 "$(sstat gate .quality_rejected)" "streammgr's quality_rejected"
wait_for 30 "a quality violation on the dashboard" \
	dash_has 'gate/default quality-violation quality: [0-9]+ of [0-9]+ messages \([0-9.]+%\) refused by quality rules in 1s, over max_rejected_percent 20'
wait_for 30 "the pause" dash_has 'gate/default pause intake paused \(drain\): monitor: quality:'
wait_for 30 "gate's intake to stop" eval \
	'[ "$(sstat gate .state)" = drained ] || [ "$(sstat gate .state)" = draining ]'
grep -q '"type":"quality-violation".*"tenant":"gate"' "$VAR/log/metrics.jsonl" ||
	fail "no quality-violation record in metrics.jsonl"
ok "a stream over its threshold (5 of 10): a violation on the dashboard and in metrics.jsonl, intake paused ($(sstat gate .state))"

# ---- a stream's quality over time: per rule, in the log, stats, MongoDB ----
assert_eq 5 "$(sstat gate .quality_rules.host)" "streammgr's count for the rule host"
gate_lines() {
	jq -s -r '[.[] | select(.tenant == "gate" and .stream == "default")] |
		"\(map(.checked) | add) \(map(.rejected) | add) \(map(.rules.host // 0) | add)"' \
		"$VAR/log/quality.jsonl"
}
# gate_stats [--mongo]: stats --quality's figures for gate's stream.
gate_stats() {
	cli stats --quality "$@" --json |
		jq -r '.quality["gate/stream:default"] | "\(.checked) \(.rejected) \(.rules.host)"'
}
wait_for 30 "gate's lines in log/quality.jsonl" eval '[ "$(gate_lines)" = "10 5 5" ]'
assert_eq "10 5 5" "$(gate_stats)" "stats --quality: gate's stream"
wait_for 30 "the rule's count in the monitor's Prometheus metrics" prom_at_least \
	'mysimbdp_stream_quality_rejected_by_rule_total{tenant="gate",stream="default",rule="host"}' 5
cli stats --quality | grep -q '^gate/stream:default ' ||
	fail "stats --quality prints no row for gate's stream: $(cli stats --quality)"
if [ -n "$MONGO" ]; then
	all_shipped
	assert_eq "10 5 5" "$(gate_stats --mongo)" "stats --quality --mongo: gate's stream"
fi
ok "a stream's quality: per rule in its statistics, the monitor's metrics, log/quality.jsonl, stats --quality${MONGO:+ and MongoDB}"

# ---- a retried attempt: its refused rows not left behind --------------------
drop_file q flaky/f.csv "$T/scratch/a.csv"
wait_for 60 "f.csv ingested at its second attempt" eval \
	'[ "$(last f.csv | jq -r .status)" = ok ]'
assert_eq "2 1" "$(last f.csv | jq -r '"\(.attempt) \(.quality.rejected)"')" \
	"f.csv's attempts and refused rows"
wait_file "$VAR/staging/q/done/flaky/f.csv.rejects.jsonl"
assert_eq 1 "$(wc -l <"$VAR/staging/q/done/flaky/f.csv.rejects.jsonl")" \
	"f.csv's kept rejects: the last attempt's"
left=$(find "$VAR/work" -name '.rejects-*')
[ -z "$left" ] || fail "rejects files left in work/: $left"
ok "a retried file: the last attempt's rejects kept, none left in work/"

# ---- check-config: a rule that checks nothing -------------------------------
tenant bad <<CFG
id = "bad";
batch = {
  formats = ["csv"];
  quality = ( { rules = ( { name = "idle"; field = "x"; } ); } );
  apps = ( { app = ["$ACME_APP"]; } );
};
CFG
out=$(cli check-config 2>&1) && fail "check-config took a rule that checks nothing"
grep -q 'bad.cfg:[0-9]*: batch.quality\[0\]: rule "idle" checks nothing' <<<"$out" ||
	fail "check-config said: $out"
rm "$T/conf/tenants/bad.cfg"
ok "check-config: $(grep -o 'bad.cfg:[0-9]*: batch.quality\[0\]: rule "idle" checks nothing' <<<"$out")"

# ---- a quarantined file whose name is not UTF-8 -----------------------------
# Its report says why with the name as the records show it (the report
# was not written: libbson cannot write invalid UTF-8 as JSON).
name=$'c\xff.csv'
drop_file q "strict/$name" "$T/scratch/b.csv"
wait_for 60 "$name quarantined" have_records 2 q quarantined
report=$VAR/staging/q/quarantine/strict/$name.quality.json
# The record is written first, then the file moves and its report.
wait_for 60 "the quality report beside the quarantined $name" test -s "$report"
assert_eq 'c\xFF.csv {"price-range":2,"https":1}' "$(jq -r '"\(.file) \(.quality.rules | tojson)"' "$report")" \
	"the report's file and counts"
ok "a quarantined file named in bytes that are not UTF-8 has its report"

#!/usr/bin/env bash
# The sample tenants' apps end to end, run by the real batchmgr into the
# embedded store: acme-listings (C on libmysimbdp) and globex's
# ingest-cases (shell + awk + `mysimbdp load`). Documents are read back
# from the store's BSON files: one per good row, with the right types;
# malformed rows are counted, skipped and reported in the record; the same
# file twice, and a run killed halfway then rerun, leave exactly one
# document per row.
. "$(dirname "$0")/lib.sh"

ACME_APP=$MYSIMBDP_BUILD/tenants/acme/acme-listings
GLOBEX_APP=$MYSIMBDP_SRC/tenants/globex/ingest-cases
BSONCOUNT=$MYSIMBDP_BUILD/tenants/bsoncount
GEN=$MYSIMBDP_SRC/scripts/gen-data
SAMPLES=$MYSIMBDP_SRC/tenants
LISTINGS=$VAR/coredms/acme/listings
CASES=$VAR/coredms/globex/cases

platform
# acme's app is a wrapper that execs the built binary, for big.csv (a run
# killed halfway, below) with tests/apps/stopshim.c preloaded: the app
# stops itself right after its first write into the store's temporary
# unit, on its first attempt only (the shim's marker, $T/big.stopped,
# then holds its pid). batchmgr cleans the app's environment, so the
# wrapper sets the variables. Under ASan its runtime comes first.
STOPSHIM=$MYSIMBDP_BUILD/tenants/libstopshim.so
assert_file "$STOPSHIM"
preload=$STOPSHIM
if sanitized; then
	preload=$(ldd "$ACME_APP" | awk '/libasan/ { print $3 }'):$STOPSHIM
fi
cat >"$T/acme-listings" <<WRAPPER
#!/bin/sh
case \$MYSIMBDP_INPUT_FILE in
*/big.csv)
	export LD_PRELOAD='$preload' STOPSHIM_NAME='.unit-*.tmp' \\
		STOPSHIM_ONCE='$T/big.stopped' ;;
esac
exec '$ACME_APP' "\$@"
WRAPPER
chmod 755 "$T/acme-listings"
# Absolute app paths: the built binary (through that wrapper), the script
# and, as the script's argument, the mysimbdp command it loads with.
tenant acme <<CFG
id = "acme";
batch = {
  formats = ["csv"];
  apps = ( { app = ["$T/acme-listings"]; timeout = "60s"; retries = 2; stop_timeout = "1s"; } );
};
CFG
tenant globex <<CFG
id = "globex";
batch = {
  formats = ["csv", "jsonl"];
  apps = ( { name = "cases"; app = ["$GLOBEX_APP", "$CLI"]; datasets = ["cases"];
             timeout = "60s"; retries = 1; } );
};
CFG
# `mysimbdp load` is an app by itself too: CSV typed by a schema.
cat >"$T/items.schema" <<'SCHEMA'
id:integer:required
price:double
when:date
*:string
SCHEMA
tenant shop <<CFG
id = "shop";
batch = {
  formats = ["csv"];
  apps = ( { app = ["$CLI", "load", "--collection", "items", "--schema", "$T/items.schema"];
             timeout = "30s"; retries = 0; } );
};
CFG
start_daemon batchmgr

# deliver TENANT [DATASET/]NAME SOURCE: copies beside, renames in.
deliver() {
	local dest=$VAR/staging/$1/incoming/$2
	mkdir -p "$(dirname "$dest")"
	cp "$3" "$(dirname "$dest")/.$(basename "$2").part"
	mv "$(dirname "$dest")/.$(basename "$2").part" "$dest"
}
hash_of() { sha256sum "$1" | cut -d' ' -f1; }
# docs PATH...: the store's documents, one JSON line each (bsoncount).
docs() { "$BSONCOUNT" "$@"; }
ok_record() { records ".status == \"ok\" and .file == \"$1\""; }

# ---- acme: the committed sample (40 good rows, 3 malformed) ----------
deliver acme listings-1.csv "$SAMPLES/acme/samples/listings-small.csv"
wait_for 20 "acme sample ok" have_records 1 acme ok
r=$(ok_record listings-1.csv)
assert_eq 40 "$(jq .rows <<<"$r")" "acme: record rows"
assert_eq 3 "$(jq .rejected_rows <<<"$r")" "acme: record rejected_rows"
assert_eq '1 1 1 0' "$(jq -r '.summary.rejected_by | "\(.id) \(.price) \(.columns) \(.coordinates)"' <<<"$r")" \
	"acme: rejected by id, price and column count"
h=$(hash_of "$SAMPLES/acme/samples/listings-small.csv")
unit=$LISTINGS/$h.bson
assert_file "$unit"
docs "$unit" >"$T/acme1.json"
assert_eq 40 "$(wc -l <"$T/acme1.json")" "acme: one document per good row"
assert_eq 40 "$(jq -r '.doc._id' "$T/acme1.json" | grep -c "^${h:0:24}:[0-9]*\$")" \
	"acme: ids are <content hash>:<row>"
assert_eq 40 "$(jq -r '.doc._id' "$T/acme1.json" | sort -u | wc -l)" "acme: ids are unique"
assert_eq 0 "$(jq -r '.doc.id' "$T/acme1.json" | grep -c -E '^(100999|100998|100997)$')" \
	"acme: the malformed rows are not stored"
jq -e -s 'all(.[]; .types.id == "long" and .types.price == "double" and
	.types.host_since == "date" and .types.amenities == "array" and
	(.types.last_review == "date" or .types.last_review == "null") and
	.types.latitude == "double" and .types.accommodates == "long" and
	.types.location == "object")' "$T/acme1.json" >/dev/null ||
	fail "acme: types: $(head -1 "$T/acme1.json" | jq -c .types)"
ok "acme: price double, dates BSON dates, amenities array, integers long"
d=$(jq -c 'select(.doc.id == 100035) | .doc' "$T/acme1.json")
assert_eq 1193.67 "$(jq .price <<<"$d")" 'acme: "$1,193.67" is 1193.67'
assert_eq '{"type":"Point","coordinates":[4.75181,52.33312]}' "$(jq -c .location <<<"$d")" \
	"acme: location is a GeoJSON point [lon, lat]"
assert_eq '2020-10-07T00:00:00Z' "$(jq -r '.host_since["$date"]' <<<"$d")" "acme: host_since as a date"
assert_eq '["Elevator","Wifi","Elevator","Hair dryer","TV"]' "$(jq -c .amenities <<<"$d")" \
	"acme: amenities as an array of strings"
jq -e '.description | endswith("workspace.\nSecond line: no parties, please.")' <<<"$d" >/dev/null ||
	fail "acme: embedded line break lost: $(jq .description <<<"$d")"
ok "acme: a quoted line break survives"
jq -e -s 'map(select(.doc.id == 100001))[0].doc.description ==
	"Our room is \"Cosy\", with Heating, TV."' "$T/acme1.json" >/dev/null ||
	fail "acme: doubled quotes not undone"
ok "acme: doubled quotes become one"

# ---- acme: edge cases, each row on purpose ----------------------------
H='id,listing_url,name,description,host_id,host_name,host_since,neighbourhood,latitude,longitude,property_type,room_type,accommodates,bedrooms,amenities,price,minimum_nights,number_of_reviews,last_review,review_scores_rating'
cat >"$T/scratch/edge.csv" <<CSV
$H
1,u,"  Padded name  ",d,7,Ann,2015-01-01,Oost,-90,180,t,r,2,1,"[]","\$2,500.00",1,0,,
2,u,n,d,7,Ann,2015-01-01,Oost,52.3,180.5,t,r,2,1,"[""Wifi""]","\$80.00",1,0,,
3,u,n,d,7,Ann,2015-01-01,Oost,,4.9,t,r,2,1,"[""Wifi""]","\$80.00",1,0,,
4,u,n,d,7,Ann,2015-01-01,Oost,52.3,4.9,t,r,2,1,"[""Wifi""]","\$12,34",1,0,,
5,u,n,d,7,Ann,2015-13-01,Oost,52.3,4.9,t,r,2,1,"[""Wifi""]","\$80.00",1,0,,
6,u,n,d,7,Ann,2015-01-01,Oost,52.3,4.9,t,r,2,1,"[""Wifi""]","\$80.00",1,0,,,extra
7,u,n,d,7,Ann,2015-01-01,Oost,52.3,4.9,t,r,2,1,"[""caf\\u00e9"", ""TV""]",80,1,0,2024-02-29,4.5
CSV
deliver acme edge.csv "$T/scratch/edge.csv"
wait_for 20 "acme edge ok" have_records 2 acme ok
r=$(ok_record edge.csv)
assert_eq '2 5' "$(jq -r '"\(.rows) \(.rejected_rows)"' <<<"$r")" "edge: 2 rows stored, 5 rejected"
assert_eq '2 1 1 1' "$(jq -r '.summary.rejected_by | "\(.coordinates) \(.price) \(.value) \(.columns)"' <<<"$r")" \
	"edge: rejected for coordinates (2), price, date, column count"
docs "$LISTINGS/$(hash_of "$T/scratch/edge.csv").bson" >"$T/edge.json"
assert_eq '1 7' "$(jq -r .doc.id "$T/edge.json" | xargs)" "edge: the two good rows"
d=$(jq -c 'select(.doc.id == 1) | .doc' "$T/edge.json")
assert_eq '"Padded name" 2500 [] [180,-90]' \
	"$(jq -c '[.name, .price, .amenities, .location.coordinates]' <<<"$d" | jq -r 'map(tojson) | join(" ")')" \
	"edge: trimmed name, grouped price, empty list, boundary coordinates"
d=$(jq -c 'select(.doc.id == 7) | .doc' "$T/edge.json")
assert_eq '["café","TV"] 80 2024-02-29T00:00:00Z 4.5' \
	"$(jq -r '"\(.amenities | tojson) \(.price) \(.last_review["$date"]) \(.review_scores_rating)"' <<<"$d")" \
	"edge: escaped amenity, plain price, leap day"

# ---- globex: the committed sample (71 good rows, 2 malformed) ---------
deliver globex cases/cases-1.csv "$SAMPLES/globex/samples/cases-small.csv"
wait_for 20 "globex sample ok" have_records 1 globex ok
r=$(ok_record cases-1.csv)
assert_eq '71 2 2' "$(jq -r '"\(.rows) \(.rejected_rows) \(.summary.rejected_by.malformed)"' <<<"$r")" \
	"globex: record rows, rejected_rows (awk's malformed count)"
assert_eq 71 "$(docs "$CASES" | wc -l)" "globex: one document per good row"
docs "$CASES" | jq -e -s 'all(.[]; .types.date == "date" and .types.cases_7d_avg == "double" and
	.types.cases == "int" and .types.country == "string")' >/dev/null ||
	fail "globex: types: $(docs "$CASES" | head -1 | jq -c .types)"
ok "globex: date is a BSON date, cases_7d_avg a double"

# A bigger generated file: full 7-day windows. The average is checked
# against a second implementation (jq over the stored documents), and the
# count against the generator's three kinds of defect.
"$GEN" globex 48K 7 >"$T/scratch/cases-48k.csv"
good=$(awk -F, 'NR > 1 && $1 !~ /^32\/13\// && $5 != "n/a" && $6 != ""' "$T/scratch/cases-48k.csv" | wc -l)
ls "$CASES" >"$T/units.before"
deliver globex cases/cases-48k.csv "$T/scratch/cases-48k.csv"
wait_for 30 "globex generated ok" have_records 2 globex ok
gunit=$CASES/$(ls "$CASES" | comm -13 "$T/units.before" -)
r=$(ok_record cases-48k.csv)
assert_eq "$good" "$(jq .rows <<<"$r")" "globex: rows = the generator's good rows"
[ "$(jq .rejected_rows <<<"$r")" -gt 0 ] || fail "globex: the generated file has no rejected rows"
ok "globex: $(jq .rejected_rows <<<"$r") malformed rows rejected"
assert_eq "$good" "$(docs "$gunit" | wc -l)" "globex: its unit holds one document per good row"
docs "$gunit" | jq -s '
	[.[].doc | select(.geo_id == "DE")] |
	map({d: (.date["$date"] | fromdateiso8601 / 86400), c: .cases, a: .cases_7d_avg}) as $s |
	[$s[] | . as $x | [$s[] | select(.d <= $x.d and .d > $x.d - 7) | .c] |
	 {want: (add / length), got: $x.a, n: length}] |
	{max_n: (map(.n) | max), bad: map(select((.want - .got) | fabs > 0.001))}' >"$T/avg.json"
assert_eq '7 0' "$(jq -r '"\(.max_n) \(.bad | length)"' "$T/avg.json")" \
	"globex: cases_7d_avg is the mean over the 7 days ending that day"

# ---- mysimbdp load on its own: CSV with a schema, JSON lines ---------
printf '%s\n' 'id,name,price,when' '1,"Lamp, red",12.5,2024-01-02' '2,Chair,oops,2024-01-02' \
	'3,Desk,120,' '4,Bed' '5,"Sofa ""XL""",999.99,2024-03-04T10:00:00Z' >"$T/scratch/items.csv"
deliver shop items.csv "$T/scratch/items.csv"
wait_for 20 "shop ok" have_records 1 shop ok
assert_eq '3 2' "$(ok_record items.csv | jq -r '"\(.rows) \(.rejected_rows)"')" \
	"load: 3 rows, 2 rejected (a bad number, a short row)"
docs "$VAR/coredms/shop/items" >"$T/items.json"
assert_eq '1 3 5' "$(jq -r .doc.id "$T/items.json" | xargs)" "load: the good rows"
assert_eq '{"_id":"string","id":"long","price":"double","when":"date","name":"string"}' \
	"$(head -1 "$T/items.json" | jq -c .types)" "load: typed by the schema, other columns strings"
assert_eq 'Sofa "XL"' "$(jq -r 'select(.doc.id == 5) | .doc.name' "$T/items.json")" "load: CSV quoting undone"
# An integer past 64 bits is refused, not stored wrapped around (libbson
# alone would); so are two objects on one line.
printf '%s\n' '{"geo_id": "AT", "cases": 1}' 'not json' '' '{"geo_id": "BE", "cases": 2}' \
	'{"geo_id": "CH", "cases": 18446744073709551617}' '{"a": 1} {"b": 2}' >"$T/scratch/extra.jsonl"
deliver globex cases/extra.jsonl "$T/scratch/extra.jsonl"
wait_for 20 "globex jsonl ok" have_records 3 globex ok
assert_eq '2 3' "$(ok_record extra.jsonl | jq -r '"\(.rows) \(.rejected_rows)"')" \
	"globex: a JSON-lines file is loaded as it is (2 rows, 3 rejected)"
jsonl_docs=2

# ---- idempotency: the same content again ------------------------------
before=$(find "$LISTINGS" -name '*.bson' | wc -l)
deliver acme listings-again.csv "$SAMPLES/acme/samples/listings-small.csv"
deliver globex cases/cases-again.csv "$SAMPLES/globex/samples/cases-small.csv"
wait_for 20 "acme rerun ok" have_records 3 acme ok
wait_for 20 "globex rerun ok" have_records 4 globex ok
assert_eq "$before" "$(find "$LISTINGS" -name '*.bson' | wc -l)" "acme: same content, same unit file"
assert_eq 40 "$(docs "$unit" | wc -l)" "acme: still one document per row"
assert_eq 42 "$(docs "$LISTINGS" | wc -l)" "acme: the collection holds each row once (40 + 2)"
assert_eq $((71 + good + jsonl_docs)) "$(docs "$CASES" | wc -l)" "globex: the collection holds each row once"

# ---- a run killed halfway, then rerun ---------------------------------
"$GEN" acme 8M 11 >"$T/scratch/big.csv"
bh=$(hash_of "$T/scratch/big.csv")
# proc_state PID: the state letter in /proc/PID/stat (T: stopped).
proc_state() { sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null; }
# big_held: the first attempt stopped itself (its pid in the shim's
# marker), or big.csv has a record (it never stopped: fail at once).
big_held() {
	local pid
	pid=$(cat "$T/big.stopped" 2>/dev/null) && [ -n "$pid" ] &&
		[ "$(proc_state "$pid")" = T ] && return 0
	[ -n "$(records '.file == "big.csv"')" ]
}
deliver acme big.csv "$T/scratch/big.csv"
# Halfway: the app has written part of its unit (a hidden temporary file)
# and not committed it. stopshim stops it right after its first write
# there, so no poll races the app; check, then kill it.
wait_for 30 "acme-listings to stop itself in big.csv's temporary unit" big_held
pid=$(cat "$T/big.stopped" 2>/dev/null) || true
[ -n "$pid" ] && [ "$(proc_state "$pid")" = T ] ||
	fail "acme-listings did not stop in big.csv's temporary unit (stopshim not in effect?): $(records '.file == "big.csv"')"
assert_eq "$BM_PID" "$(ps -o ppid= -p "$pid" | tr -d ' ')" "the stopped process is batchmgr's app"
tmp=$(find "$LISTINGS" -name ".unit-$pid-*.tmp" -size +0 -printf '%s')
[ -n "$tmp" ] || fail "no temporary unit of acme-listings ($pid) with data in $LISTINGS"
[ ! -e "$LISTINGS/$bh.bson" ] || fail "big.csv was committed before the stop"
ok "stopped acme-listings halfway (unit not committed, $tmp bytes written)"
kill -KILL "$pid"
wait_for 60 "big.csv rerun ok" have_records 4 acme ok
assert_eq 9 "$(records '.file == "big.csv" and .attempt == 1' | jq .signal)" "the first run was killed"
r=$(ok_record big.csv)
assert_eq 2 "$(jq .attempt <<<"$r")" "the rerun succeeded"
rows=$(jq .rows <<<"$r")
[ "$rows" -gt 20000 ] || fail "big.csv: only $rows rows"
assert_eq "$rows" "$(docs "$LISTINGS/$bh.bson" | jq -r .doc._id | sort -u | wc -l)" \
	"big.csv: exactly one document per row after kill and rerun"
assert_eq "$rows" "$(docs "$LISTINGS/$bh.bson" | wc -l)" "big.csv: no duplicates"
assert_eq 0 "$(find "$LISTINGS" -name '.unit-*' | wc -l)" "no temporary unit left behind"
assert_eq 0 "$(find "$VAR/work" -name 'ingest-cases.*' | wc -l)" "globex left no work files"
# Under sanitizers (the clean environment drops ASAN/UBSAN_OPTIONS, so a
# UBSan report does not stop the app), reports land in the tenant logs.
if grep -r -l -E 'runtime error|Sanitizer' "$VAR/log" >&2; then
	fail "sanitizer reports in the tenant logs above"
fi
ok "no sanitizer reports in the tenant logs"
stop_daemon batchmgr

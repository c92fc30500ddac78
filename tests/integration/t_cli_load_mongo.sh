#!/usr/bin/env bash
# `mysimbdp load` into MongoDB of a file written to between its content
# hash and its reading (tests/apps/readshim.c's append: a row appended
# when the hash has read to the end): the load fails (75, "changed while
# it was read") before any batch goes, where it used to send two batches
# of 1000 under ids of the content hashed and fail only at the end; the
# retry, of the file as it now is, then stored every row again under the
# new ids (4501 documents for 2501 rows). Checked for CSV and JSON
# lines: after the failed load the collection is empty, and after the
# retry it holds exactly the file's rows, each under the id of the
# file's content and its row, all reported inserted.
#
# Needs MYSIMBDP_TEST_MONGO_URL (scripts/test starts FerretDB); skipped
# without it, said so.
. "$(dirname "$0")/lib.sh"

MONGOPREP=$MYSIMBDP_BUILD/tests/integration/mongoprep
MONGO=${MYSIMBDP_TEST_MONGO_URL:-}
DB=mysbt_loadchg_$$
if [ -z "$MONGO" ]; then
	echo "SKIPPED: no MongoDB server for the tests (MYSIMBDP_TEST_MONGO_URL;" \
		"scripts/test starts FerretDB when Go is there)"
	exit 77
fi
on_cleanup() { "$MONGOPREP" drop "$MONGO" "$DB" || true; }

mkdir -p "$T/scratch" "$T/out"
S=$T/scratch

# load_mongo COLLECTION FILE: runs load into $DB.COLLECTION, output in
# $T/out/COLLECTION, its exit status in $T/out/COLLECTION.rc.
load_mongo() {
	local rc=0
	MONGO_URL=$MONGO MONGO_DB=$DB MYSIMBDP_RESULT_FILE="$T/out/$1.result" \
		"$CLI" load -C "$1" --no-progress --no-metrics "$2" \
		>"$T/out/$1" 2>&1 || rc=$?
	echo "$rc" >"$T/out/$1.rc"
}
rc_of() { cat "$T/out/$1.rc"; }
stored() { "$MONGOPREP" count "$MONGO" "$DB" "$1"; }
# ids_of COLLECTION: its documents' _id, sorted.
ids_of() { "$MONGOPREP" dump "$MONGO" "$DB" "$1" | jq -r ._id | sort; }
# ids_for FILE N: the ids of rows 1..N of FILE as it is now, sorted.
ids_for() {
	local h
	h=$(sha256sum "$1" | cut -c 1-24)
	seq 1 "$2" | sed "s/^/$h:/" | sort
}

seq 1 2500 | awk 'BEGIN { print "id,name" } { print $1 ",row" $1 }' >"$S/grow.csv"
seq 1 2500 | awk '{ print "{\"n\":" $1 "}" }' >"$S/grow.jsonl"

for f in grow.csv grow.jsonl; do
	c=${f/./}
	case $f in
	*.csv) row='2501,row2501' ;;
	*) row='{"n":2501}' ;;
	esac
	# Two batches of 1000 would have gone before the end of the file.
	readshim "$S/$f" "append:$row"$'\n' load_mongo "$c" "$S/$f"
	assert_eq "$row" "$(tail -n 1 "$S/$f")" "$c: a row was appended while it was loaded"
	[ "$(rc_of "$c")" = 75 ] || fail "$c: exit $(rc_of "$c"), not 75: $(cat "$T/out/$c")"
	assert_eq 0 "$(stored "$c")" "$c: nothing stored under the ids of the content hashed"
	grep -q 'changed while it was read (written to since it was hashed)' "$T/out/$c" ||
		fail "$c: no reason: $(cat "$T/out/$c")"
	assert_eq 0 "$(jq -r .rows "$T/out/$c.result")" "$c: the result says 0 rows"
	ok "$c: written to after its hash: exit 75 before any batch went"

	load_mongo "$c" "$S/$f"
	[ "$(rc_of "$c")" = 0 ] || fail "$c retry: exit $(rc_of "$c"): $(cat "$T/out/$c")"
	grep -q ": 2501 rows, 0 rejected -> $DB.$c (mongodb): 2501 inserted, 0 already present, 0 rejected" \
		"$T/out/$c" || fail "$c retry: what load printed: $(cat "$T/out/$c")"
	# Nothing else, not libmongoc's warning at its end (FerretDB has
	# no endSessions).
	assert_eq 1 "$(wc -l <"$T/out/$c")" "$c retry: lines printed"
	assert_eq 2501 "$(stored "$c")" "$c: after the retry, one document per row"
	[ "$(ids_of "$c")" = "$(ids_for "$S/$f" 2501)" ] ||
		fail "$c: the ids are not those of the file's content and rows: $(ids_of "$c" | head -n 3)"
	ok "$c: the retry stored exactly the file's rows, under its content's ids"
done

echo "all load-into-MongoDB change tests passed"

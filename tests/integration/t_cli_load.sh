#!/usr/bin/env bash
# `mysimbdp load` of JSON lines: a line past the bound (16 MiB, as a
# message) is rejected and skipped to its newline, the lines after it
# load; out of memory while reading a line fails the load (75, nothing
# committed) instead of ending the file there and committing the rows
# before it as the whole file. A file rewritten while it is read fails
# (75, nothing committed): its rows' ids are of the content hashed first;
# so does one whose bytes parsed are not those hashed, though the file
# is as it was by the end.
# A file whose every row is rejected is not what it should be: 65.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/scratch" "$T/out" "$T/store"
S=$T/scratch

# load_file COLLECTION FILE [ULIMIT_V_KIB]: runs load into $T/store,
# output in $T/out/COLLECTION, its exit status in $T/out/COLLECTION.rc.
load_file() {
	local rc=0
	(
		[ -z "${3:-}" ] || ulimit -v "$3"
		MONGO_URL="file://$T/store" MONGO_DB=t \
		MYSIMBDP_RESULT_FILE="$T/out/$1.result" \
			exec "$CLI" load -C "$1" --no-progress --no-metrics "$2"
	) >"$T/out/$1" 2>&1 || rc=$?
	echo "$rc" >"$T/out/$1.rc"
}
rc_of() { cat "$T/out/$1.rc"; }
# big_line BYTES: a JSON object line of about BYTES.
big_line() { printf '{"b":"'; head -c "$1" /dev/zero | tr '\0' x; printf '"}\n'; }
units() { find "$T/store/t/$1" -name '*.bson' 2>/dev/null | wc -l; }

# ---- a line past the bound ---------------------------------------------------

{ echo '{"a":1}'; big_line $((17 * 1024 * 1024)); echo '{"c":3}'; } >"$S/over.jsonl"
load_file over "$S/over.jsonl"
[ "$(rc_of over)" = 0 ] || fail "over: exit $(rc_of over): $(cat "$T/out/over")"
grep -q 'rejected: line 2: too large' "$T/out/over" ||
	fail "over: no reason for line 2: $(cat "$T/out/over")"
assert_eq "2 1" "$(jq -r '"\(.rows) \(.rejected_rows)"' "$T/out/over.result")" \
	"over: the lines either side loaded, the long one rejected"
ok "a line past 16 MiB is rejected with its reason, the lines after it load"

# ---- not JSON lines (nor CSV of the schema) at all -----------------------------

printf 'hello\nworld\n' >"$S/junk.jsonl"
load_file junk "$S/junk.jsonl"
printf 'n\nx\ny\n' >"$S/junk.csv"
printf 'n:integer\n' >"$S/int.schema"
rc=0
MONGO_URL="file://$T/store" MONGO_DB=t "$CLI" load -C junkcsv --no-progress \
	--no-metrics --schema "$S/int.schema" "$S/junk.csv" >"$T/out/junkcsv" 2>&1 || rc=$?
echo "$rc" >"$T/out/junkcsv.rc"
for c in junk junkcsv; do
	[ "$(rc_of $c)" = 65 ] || fail "$c: exit $(rc_of $c), not 65: $(cat "$T/out/$c")"
	grep -q 'all 2 rows rejected, the first: ' "$T/out/$c" ||
		fail "$c: no first reason: $(cat "$T/out/$c")"
	assert_eq 0 "$(units $c)" "$c: no unit committed"
done
grep -q 'line 1: not a JSON object' "$T/out/junk.result" ||
	fail "junk: the result's error has no reason: $(cat "$T/out/junk.result")"
ok "every row rejected: exit 65 with the first reason (JSON lines, CSV)"

# ---- out of memory in a line ---------------------------------------------------

if sanitized; then
	echo "SKIP: out of memory: AddressSanitizer does not run under ulimit -v"
else
	# The least address space a load of one small line needs (found by
	# halving: the program's own, with its libraries), then 8 MiB more:
	# not enough to hold a 15 MiB line (under the bound).
	echo '{"a":1}' >"$S/tiny.jsonl"
	lo=1024 hi=4194304
	load_file tiny "$S/tiny.jsonl" "$hi"
	[ "$(rc_of tiny)" = 0 ] || fail "tiny: exit $(rc_of tiny) under 4 GiB: $(cat "$T/out/tiny")"
	while [ $((hi - lo)) -gt 1024 ]; do
		mid=$(((lo + hi) / 2))
		load_file tiny "$S/tiny.jsonl" "$mid"
		if [ "$(rc_of tiny)" = 0 ]; then hi=$mid; else lo=$mid; fi
	done
	{ echo '{"a":1}'; big_line $((15 * 1024 * 1024)); echo '{"c":3}'; } >"$S/oom.jsonl"
	load_file oom "$S/oom.jsonl" $((hi + 8192))
	[ "$(rc_of oom)" = 75 ] ||
		fail "oom: exit $(rc_of oom), not 75 (ulimit -v $((hi + 8192))): $(cat "$T/out/oom")"
	grep -q 'line 2: read: Cannot allocate memory' "$T/out/oom" ||
		fail "oom: no reason: $(cat "$T/out/oom")"
	assert_eq 0 "$(units oom)" "oom: no unit committed"
	assert_eq "0" "$(jq -r .rows "$T/out/oom.result")" "oom: the result says 0 rows"
	ok "out of memory in a line: exit 75, nothing committed"
fi

# ---- a file rewritten while it is read ----------------------------------------

# With tests/apps/readshim.c preloaded (readshim), the file is rewritten
# in place at the end of its first full read (the content hash): the
# rows read after it are of other content than their ids.
# load_rewritten COLLECTION FILE TEXT: loads FILE, rewritten to TEXT.
load_rewritten() { readshim "$2" "rewrite:$3" load_file "$1" "$2"; }
printf 'id,name\n1,one\n2,two\n' >"$S/changed.csv"
load_rewritten changedcsv "$S/changed.csv" "$(printf 'id,name\n7,seven\n')"
printf '{"a":1}\n{"a":2}\n' >"$S/changed.jsonl"
load_rewritten changedjsonl "$S/changed.jsonl" '{"a":7}'
for c in changedcsv changedjsonl; do
	[ "$(rc_of $c)" = 75 ] || fail "$c: exit $(rc_of $c), not 75: $(cat "$T/out/$c")"
	grep -q 'changed while it was read' "$T/out/$c" || fail "$c: no reason: $(cat "$T/out/$c")"
	assert_eq 0 "$(units $c)" "$c: no unit committed"
done
ok "a file rewritten while it is read: exit 75, nothing committed (CSV, JSON lines)"

# What the parse read is checked, not the file read again: a change the
# file no longer shows at the end (readshim's garble: the parse's first
# read has a byte changed, the file not) fails all the same. The large
# CSV is read in several reads on the reader's thread: unchanged, it
# loads, the hash of what was parsed the same as the first.
big_csv "$S/big.csv" 3072
load_file bigcsv "$S/big.csv"
[ "$(rc_of bigcsv)" = 0 ] || fail "bigcsv: exit $(rc_of bigcsv): $(cat "$T/out/bigcsv")"
assert_eq 1 "$(units bigcsv)" "bigcsv: 3 MiB of CSV, unchanged, committed"
printf 'id,name\n1,one\n2,two\n' >"$S/changed.csv"
printf '{"a":1}\n{"a":2}\n' >"$S/changed.jsonl"
for f in changed.csv changed.jsonl big.csv; do
	c=garbled${f/./}
	readshim "$S/$f" garble load_file "$c" "$S/$f"
	[ "$(rc_of $c)" = 75 ] || fail "$c: exit $(rc_of $c), not 75: $(cat "$T/out/$c")"
	grep -q 'changed while it was read' "$T/out/$c" || fail "$c: no reason: $(cat "$T/out/$c")"
	assert_eq 0 "$(units $c)" "$c: no unit committed"
done
ok "a file changed only while it is parsed: exit 75, nothing committed (CSV, JSON lines)"

echo "all load input tests passed"

#!/usr/bin/env bash
# The example app of clientlib/README.md, end to end, with nothing but the
# contract's environment: a CSV into the file store, the result file, a
# rerun that replaces instead of duplicating, exit 75 when MongoDB is
# unreachable, and a clear error for a missing variable.
# usage: t_example.sh path/to/example-load-csv
set -euo pipefail
app=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/msb-example-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

cat > "$tmp/listings.csv" <<'CSV'
id,name,price,last_review
1001,"Sunny loft, near the park",120.00,2024-05-01
1002,"Quiet room ""with view""",oops,2024-04-12
1003,"Basement
studio",1234.5,
CSV
cat > "$tmp/listings.schema" <<'SCHEMA'
# acme listings
id:integer:required
price:double
last_review:date
*:string
SCHEMA

# Runs the app as batchmgr does: a clean environment. $1 is MONGO_URL;
# more NAME=VALUE arguments override the defaults.
run() {
  local url=$1
  shift
  env -i PATH=/usr/bin:/bin HOME="$tmp" LANG=C.UTF-8 TMPDIR="$tmp" \
    MYSIMBDP_TENANT=acme MYSIMBDP_INSTANCE=job-1 \
    MONGO_URL="$url" MONGO_DB=acme \
    ZMQ_METRICS_ENDPOINT="ipc://$tmp/metrics.sock" \
    MYSIMBDP_INPUT_FILE="$tmp/listings.csv" \
    MYSIMBDP_RESULT_FILE="$tmp/result.json" \
    "$@" "$app" "$tmp/listings.schema" listings
}

store="$tmp/store/acme/listings"
hash=$(sha256sum "$tmp/listings.csv" | cut -d' ' -f1)

rc=0; run "file://$tmp/store" >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" -eq 0 ] || { cat "$tmp/err"; fail "exit $rc, want 0"; }
grep -q 'record 2: price: not a number: "oops"' "$tmp/err" ||
  fail "rejected row not reported: $(cat "$tmp/err")"
grep -Eq '"rows" *: *2[,} ]' "$tmp/result.json" ||
  fail "result: $(cat "$tmp/result.json")"
grep -Eq '"rejected_rows" *: *1[,} ]' "$tmp/result.json" ||
  fail "result: $(cat "$tmp/result.json")"
[ -f "$store/$hash.bson" ] || fail "no $store/$hash.bson: $(ls -la "$store")"
grep -aq 'Sunny loft, near the park' "$store/$hash.bson" || fail "content"
cp "$store/$hash.bson" "$tmp/first.bson"

# A rerun of the same file replaces its unit: one file, same bytes.
run "file://$tmp/store" >/dev/null 2>&1 || fail "rerun failed"
n=$(find "$store" -type f | wc -l)
[ "$n" -eq 1 ] || fail "$n files after a rerun: $(ls -la "$store")"
cmp -s "$tmp/first.bson" "$store/$hash.bson" || fail "rerun changed the unit"

# MongoDB down: exit 75, so batchmgr retries later.
rc=0
run "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200" >/dev/null \
  2>"$tmp/err" || rc=$?
[ "$rc" -eq 75 ] || { cat "$tmp/err"; fail "exit $rc, want 75"; }
grep -q 'MongoDB unavailable' "$tmp/err" || fail "$(cat "$tmp/err")"

# A missing variable is named.
rc=0
run "file://$tmp/store" MONGO_DB= >/dev/null 2>"$tmp/err" || rc=$?
[ "$rc" -eq 1 ] || fail "exit $rc without MONGO_DB, want 1"
grep -q 'MONGO_DB: not set' "$tmp/err" || fail "$(cat "$tmp/err")"

echo "ok"

#!/usr/bin/env bash
# The two stream apps end to end against fakework (a stand-in for
# streammgr's work socket) and the embedded store: every sample message
# is acked or rejected, the store holds each key once with its latest
# document, a rerun (redelivery) changes nothing, SIGTERM in the middle
# leaves nothing unacked and exits 0, an unreachable sink exits 75 and a
# broken environment 125.
#
# The guide's example app runs too, also against fakemongod (a stand-in
# MongoDB server) refusing some documents: their messages are rejected.
#
# usage: t_stream_apps.sh FAKEWORK ACME_STREAM GLOBEX_STREAM EXAMPLE_STREAM
#        BSONCOUNT FAKEMONGOD ACME_UPDATES GLOBEX_CASES STOPSHIM
set -euo pipefail

fakework=$1 acme=$2 globex=$3 example=$4 bsoncount=$5 fakemongod=$6
acme_file=$7 globex_file=$8 stopshim=$(realpath "$9")
# ipc paths must fit sun_path: a short folder.
tmp=$(mktemp -d /tmp/msb-ts.XXXXXX)
fw_pid= app_pid= fm_pid=
cleanup() {
	[ -n "$app_pid" ] && kill -9 "$app_pid" 2>/dev/null
	[ -n "$fw_pid" ] && kill -9 "$fw_pid" 2>/dev/null
	[ -n "$fm_pid" ] && kill -9 "$fm_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# The apps get a clean environment, as from streammgr; a sanitizer build's
# options still reach them, so its findings fail the test.
sanitizer_env=()
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
	if [ -n "${!v:-}" ]; then sanitizer_env+=("$v=${!v}"); fi
done

# Deadlines scale as in tests/integration/lib.sh (docs/testing.md,
# "Deadlines"): a loaded machine is slower, not failing.
time_factor=${MYSIMBDP_TEST_TIME_FACTOR:-1}
[[ $time_factor =~ ^[1-9][0-9]{0,2}$ ]] ||
	fail "MYSIMBDP_TEST_TIME_FACTOR must be a whole number from 1 to 999"

# wait_until COMMAND...: polls COMMAND every 50 ms, up to 15 s times the
# time factor. Returns its status at the end.
wait_until() {
	for _ in $(seq $((300 * time_factor))); do
		"$@" && return 0
		sleep 0.05
	done
	"$@"
}

# Waits for a line matching $2 in file $1.
wait_for() {
	wait_until grep -q "$2" "$1" 2>/dev/null ||
		fail "no \"$2\" in $1 within $((15 * time_factor)) s: $(cat "$1")"
}

# run_app APP TENANT FILE [MONGO_URL]: starts fakework on FILE and the app
# under the stream contract's environment (no monitor), with app_env's
# variables too.
app_env=()
run_app() {
	local app=$1 tenant=$2 file=$3 url=${4:-file://$tmp/store}

	rm -f "$tmp/fw.out" "$tmp/app.err"
	"$fakework" "ipc://$tmp/work" "$file" >"$tmp/fw.out" &
	fw_pid=$!
	wait_for "$tmp/fw.out" '^ready$'
	env -i "${sanitizer_env[@]}" PATH=/usr/bin:/bin MYSIMBDP_TENANT="$tenant" \
	    MYSIMBDP_INSTANCE="$tenant-default-1" MYSIMBDP_STREAM=default \
	    ZMQ_STREAM_ENDPOINT="ipc://$tmp/work" ZMQ_METRICS_ENDPOINT= \
	    MONGO_URL="$url" MONGO_DB="$tenant" ${app_env[@]+"${app_env[@]}"} \
	    "$app" 2>"$tmp/app.err" &
	app_pid=$!
}

# stop_app EXPECTED_STATUS: SIGTERM to the app, then to fakework.
stop_app() {
	local status=0

	kill -TERM "$app_pid"
	wait "$app_pid" || status=$?
	app_pid=
	[ "$status" -eq "$1" ] ||
		fail "exit $status, expected $1: $(tail -5 "$tmp/app.err")"
	kill -TERM "$fw_pid"
	wait "$fw_pid" || fail "fakework: $(grep error "$tmp/fw.out")"
	fw_pid=
}

# expect_summary "acked A rejected R": fakework's last line.
expect_summary() {
	local got

	got=$(tail -1 "$tmp/fw.out")
	case $got in
	"$1 "*"unsettled 0") ;;
	*) fail "fakework says \"$got\", expected \"$1 ... unsettled 0\"" ;;
	esac
}

# Documents of a collection as JSON lines (bsoncount skips hidden files).
docs() { "$bsoncount" "$tmp/store/$1"; }

# acme: 301 updates of 100 listings, 8 of them bad.
run_app "$acme" acme "$acme_file"
wait_for "$tmp/fw.out" '^settled$'
stop_app 0
expect_summary "acked 293 rejected 8"
[ "$(grep -c '^reject ' "$tmp/fw.out")" -eq 8 ] || fail "8 rejects"
grep -q '^reject [0-9]* not JSON' "$tmp/fw.out" || fail "not-JSON reason"
grep -q '^reject [0-9]* price: not a price' "$tmp/fw.out" ||
	fail "price reason"
grep -q 'rejected: id: required value is missing' "$tmp/app.err" ||
	fail "rejects are not logged"
[ "$(docs acme/listings_live | wc -l)" -eq 100 ] || fail "100 listings"
[ "$(docs acme/listings_live | jq -r .doc._id | sort -u | wc -l)" -eq 100 ] ||
	fail "a listing is there twice"
# The last update of 100001 is the one kept.
[ "$(docs acme/listings_live | jq -r 'select(.doc._id == 100001) | .doc.price')" = 1234.56 ] ||
	fail "100001 does not have its latest price"
[ -f "$tmp/store/acme/listings_live/i=100001.bson" ] || fail "file name"
echo "ok: acme-stream: 293 acked, 8 rejected, 100 listings"

# A redelivery of everything changes nothing.
run_app "$acme" acme "$acme_file"
wait_for "$tmp/fw.out" '^settled$'
stop_app 0
[ "$(docs acme/listings_live | wc -l)" -eq 100 ] || fail "rerun: 100"
echo "ok: acme-stream: a rerun keeps 100 listings"

# globex: 298 reports of 10 countries x 28 days, 10 corrections, 8 bad.
run_app "$globex" globex "$globex_file"
wait_for "$tmp/fw.out" '^settled$'
stop_app 0
expect_summary "acked 290 rejected 8"
[ "$(docs globex/cases_live | wc -l)" -eq 280 ] || fail "280 days"
[ "$(docs globex/cases_live | jq -r 'select(.doc._id == "AT:2020-03-03") | .doc.cases')" = -2 ] ||
	fail "AT:2020-03-03 is not corrected"
[ "$(docs globex/cases_live | jq -r 'select(.doc._id == "BQ:2020-03-14") | .types.population')" = null ] ||
	fail "BQ has a population"
echo "ok: globex-stream: 290 acked, 8 rejected, 280 country-days"

# SIGTERM while messages are in flight. stopshim holds the app right
# after it writes its first document (an upsert's temporary file), so
# that message is delivered and not yet acked (acks follow the commit);
# SIGTERM comes while it is held. Then everything delivered is acked,
# rejected or given back, nothing is left unsettled, exit 0. Under ASan
# its runtime comes first.
rm -rf "$tmp/store" "$tmp/held"
preload=$(ldd "$acme" | awk '/libasan/ { print $3 }')
app_env=(LD_PRELOAD="${preload:+$preload:}$stopshim"
    STOPSHIM_NAME='.unit-*-k*' STOPSHIM_ONCE="$tmp/held")
run_app "$acme" acme "$acme_file"
app_env=()
wait_for "$tmp/held" '^[0-9]'
held() { [ "$(awk '{ print $3 }' "/proc/$app_pid/stat")" = T ]; }
wait_until held ||
	fail "acme-stream was not held by stopshim: $(cat "$tmp/app.err")"
kill -TERM "$app_pid"
kill -CONT "$app_pid"
stop_app 0
expect_summary "acked"
[ "$(tail -1 "$tmp/fw.out" | awk '{ print $2 }')" -ge 1 ] ||
	fail "nothing acked: $(tail -1 "$tmp/fw.out")"
[ "$(docs acme/listings_live | wc -l)" -ge 1 ] ||
	fail "SIGTERM in flight: acked, but no document stored"
echo "ok: acme-stream: SIGTERM in flight: $(tail -1 "$tmp/fw.out")"

# The sink unreachable: exit 75 (try again later).
run_app "$globex" globex "$globex_file" \
    "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200"
status=0
wait "$app_pid" || status=$?
app_pid=
[ "$status" -eq 75 ] || fail "sink down: exit $status, expected 75"
kill -TERM "$fw_pid"; wait "$fw_pid" || true; fw_pid=
echo "ok: globex-stream: sink down: exit 75"

# The guide's example: JSON objects with an _id, upserted into "events".
printf '%s\n' '{"_id": "a", "v": 1}' '{"_id": "b", "v": 1}' 'not json' \
    '{"v": 2}' '{"_id": "a", "v": 2}' >"$tmp/events.jsonl"
run_app "$example" acme "$tmp/events.jsonl"
wait_for "$tmp/fw.out" '^settled$'
stop_app 0
expect_summary "acked 3 rejected 2"
[ "$(docs acme/events | wc -l)" -eq 2 ] || fail "example: 2 documents"
[ "$(docs acme/events | jq -r 'select(.doc._id == "a") | .doc.v')" = 2 ] ||
	fail "example: a is not 2"
echo "ok: example-stream: 3 acked, 2 rejected, 2 documents"

# The store refuses a document (a validator): commit succeeds, the sink
# tells the app, and the example rejects that message instead of acking
# it. fakemongod refuses documents with a "refuse" field.
printf '%s\n' '{"_id": "a", "v": 1}' '{"_id": "b", "refuse": 1}' \
    '{"_id": "c", "v": 1}' '{"_id": "d", "refuse": 1}' >"$tmp/refuse.jsonl"
"$fakemongod" refuse >"$tmp/fm.out" &
fm_pid=$!
wait_for "$tmp/fm.out" '^port '
run_app "$example" acme "$tmp/refuse.jsonl" \
    "mongodb://127.0.0.1:$(awk '{ print $2 }' "$tmp/fm.out")/"
wait_for "$tmp/fw.out" '^settled$'
stop_app 0
kill -TERM "$fm_pid"; wait "$fm_pid" || fail "fakemongod failed"; fm_pid=
expect_summary "acked 2 rejected 2"
[ "$(grep -c '^reject [0-9]* .*Document failed validation' "$tmp/fw.out")" \
    -eq 2 ] || fail "example: the store's reason: $(cat "$tmp/fw.out")"
grep -q '^reject 2 ' "$tmp/fw.out" && grep -q '^reject 4 ' "$tmp/fw.out" ||
	fail "example: b and d are not the ones rejected"
echo "ok: example-stream: the 2 documents the store refused are rejected"

# A broken environment cannot be cured by a restart: exit 125.
status=0
env -i "${sanitizer_env[@]}" PATH=/usr/bin:/bin MYSIMBDP_TENANT=acme \
    MYSIMBDP_STREAM=default \
    "$acme" 2>"$tmp/app.err" || status=$?
[ "$status" -eq 125 ] || fail "broken environment: exit $status"
grep -q MONGO_URL "$tmp/app.err" || fail "the message names MONGO_URL"
echo "ok: acme-stream: broken environment: exit 125"

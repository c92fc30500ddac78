#!/usr/bin/env bash
# --json of the commands that read (check-config, stats, dead-letters) and
# of those that change something and say what they did (retry, load): one
# JSON document on stdout, which jq parses, holding what a user checks.
# status --json is in t_cli_status.sh, send --json in t_send_cli.sh, the
# stream commands' in t_stream_cli.sh.
. "$(dirname "$0")/lib.sh"

CFG=$T/conf/mysimbdp.cfg
platform
simple_tenant good '"exit-with", "0"'
simple_tenant flop '"exit-with", "3"' 'max_concurrent = 1;'
sed -i 's/retries = 2/retries = 0/' "$T/conf/tenants/flop.cfg"

# one_doc FILE: FILE holds exactly one JSON document (jq -s: an array of
# everything it parsed).
one_doc() { [ "$(jq -s length "$1")" = 1 ] || fail "$1 is not one JSON document: $(cat "$1")"; }

# ---- check-config ---------------------------------------------------------

cli check-config --json >"$T/out/cc" || fail "check-config --json: exit $?"
one_doc "$T/out/cc"
assert_eq "true 0 $CFG" "$(jq -r '"\(.valid) \(.errors | length) \(.path)"' "$T/out/cc")" \
	"check-config --json: a valid configuration"

bad=$T/conf/tenants/bad.cfg
printf 'id = "bad";\nbatch = {\n  formats = ["csv"];\n  colour = "blue";\n  apps = ( { app = ["x"]; retries = -1; } );\n};\n' >"$bad"
rc=0; cli check-config --json >"$T/out/cc" 2>"$T/out/cc.err" || rc=$?
assert_eq 78 "$rc" "check-config --json with errors exits 78"
one_doc "$T/out/cc"
assert_eq "false 2" "$(jq -r '"\(.valid) \(.errors | length)"' "$T/out/cc")" "check-config --json: the errors"
assert_eq "$bad|4|batch.colour|unknown setting" \
	"$(jq -r '.errors[0] | "\(.file)|\(.line)|\(.setting)|\(.problem)"' "$T/out/cc")" \
	"check-config --json: file, line, setting, problem"
assert_eq "$bad|5|batch.apps[0].retries" \
	"$(jq -r '.errors[1] | "\(.file)|\(.line)|\(.setting)"' "$T/out/cc")" \
	"check-config --json: the second error"
printf 'id = "bad";\nbatch = {\n formats = ["csv";\n};\n' >"$bad"
rc=0; cli check-config --json "$bad" >"$T/out/cc" 2>/dev/null || rc=$?
assert_eq 78 "$rc" "check-config --json of a file with a syntax error"
assert_eq "$bad 3 null" "$(jq -r '.errors[0] | "\(.file) \(.line) \(.setting)"' "$T/out/cc")" \
	"check-config --json: a syntax error has a line, no setting"
rm "$bad"
# A file name that is not UTF-8: its byte shown as \xE9 (libbson refused
# the raw name, and the command crashed).
odd=$T/scratch/bad$'\xe9'.cfg
printf 'id = "bad";\nbatch = {\n formats = ["csv";\n};\n' >"$odd"
rc=0; cli check-config --json "$odd" >"$T/out/cc" 2>/dev/null || rc=$?
assert_eq 78 "$rc" "check-config --json of a name not UTF-8"
assert_eq "$T/scratch/bad\\xE9.cfg $T/scratch/bad\\xE9.cfg" \
	"$(jq -r '"\(.path) \(.errors[0].file)"' "$T/out/cc")" \
	"check-config --json: the name's byte as \\xE9"
rc=0; cli check-config --json "$T/nosuch.cfg" >"$T/out/cc" 2>/dev/null || rc=$?
assert_eq "66 0" "$rc $(wc -c <"$T/out/cc")" "check-config --json of no file: 66, nothing on stdout"

# ---- batch outcomes: stats, retry ----------------------------------------

start_daemon batchmgr
drop good a.csv
drop good b.csv
drop flop x.csv
wait_for 20 "two files ok" have_records 2 good ok
wait_for 20 "x.csv failed" have_records 1 flop failed

cli stats --json >"$T/out/stats" || fail "stats --json"
one_doc "$T/out/stats"
assert_eq "2 0 1 3" "$(jq -r '"\(.tenants.good.files_ok) \(.tenants.good.files_failed) \(.tenants.flop.files_failed) \(.platform.files_ok + .platform.files_failed)"' "$T/out/stats")" \
	"stats --json: per tenant and for the platform"

cli retry flop x.csv --json >"$T/out/retry" || fail "retry --json"
one_doc "$T/out/retry"
assert_eq "flop x.csv incoming/x.csv" "$(jq -r '"\(.tenant) \(.file) \(.to)"' "$T/out/retry")" \
	"retry --json: where the file went"
wait_for 20 "x.csv failed again" have_records 2 flop failed
stop_daemon batchmgr

# ---- dead-letters (read from the queue folder) ----------------------------

dl=$VAR/queue/good/default
mkdir -p "$dl"
printf '%s\n' '{"time":"2026-11-21T10:00:00.000Z","tenant":"good","stream":"default","id":7,"deliveries":5,"reason":"nacked","payload":"k1 v"}' \
	'{"time":"2026-11-21T10:00:01.000Z","tenant":"good","stream":"default","id":9,"deliveries":5,"reason":"nacked","payload":"k2 v"}' \
	>"$dl/dead-letters.jsonl"
cli dead-letters good --json >"$T/out/dl" || fail "dead-letters --json"
one_doc "$T/out/dl"
assert_eq "2 7 k2 v" "$(jq -r '"\(length) \(.[0].id) \(.[1].payload)"' "$T/out/dl")" \
	"dead-letters --json: the letters as stored"

# ---- load -----------------------------------------------------------------

printf 'id,name\n1,a\n2,b\nbad\n' >"$T/scratch/items.csv"
MONGO_URL="file://$T/store" MONGO_DB=good cli load --collection items --json \
	"$T/scratch/items.csv" >"$T/out/load" 2>/dev/null || fail "load --json"
one_doc "$T/out/load"
assert_eq "2 1 good items file csv" "$(jq -r '"\(.rows) \(.rejected) \(.db) \(.collection) \(.sink) \(.format)"' "$T/out/load")" \
	"load --json: rows, rejected, where"
# A file name that is not UTF-8, as a tenant's upload may have: its byte
# as \xE9 on stdout, and the result file written (with the error of a
# load that fails, which quotes the name).
odd=$T/scratch/items$'\xe9'.csv
cp "$T/scratch/items.csv" "$odd"
MONGO_URL="file://$T/store" MONGO_DB=good cli load --collection items --json \
	"$odd" >"$T/out/load" 2>/dev/null || fail "load --json of a name not UTF-8"
assert_eq "$T/scratch/items\\xE9.csv 2" "$(jq -r '"\(.file) \(.rows)"' "$T/out/load")" \
	"load --json: the name's byte as \\xE9"
mkdir "$T/scratch/dir"$'\xe9'.csv
rc=0; MONGO_URL="file://$T/store" MONGO_DB=good MYSIMBDP_RESULT_FILE=$T/out/result \
	cli load --collection items "$T/scratch/dir"$'\xe9'.csv >/dev/null 2>&1 || rc=$?
assert_eq "66 $T/scratch/dir\\xE9.csv: not a regular file" "$rc $(jq -r .error "$T/out/result")" \
	"load of a folder whose name is not UTF-8: the result file says why"
rc=0; MONGO_URL="file://$T/store" MONGO_DB=good MYSIMBDP_RESULT_FILE=$T/out/result \
	cli load --collection x$'\xe9' "$T/scratch/items.csv" >/dev/null 2>&1 || rc=$?
assert_eq "69 x\\xE9" "$rc $(jq -r .collection "$T/out/result")" \
	"load into a collection whose name is not UTF-8: refused, the result file written"

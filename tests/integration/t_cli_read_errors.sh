#!/usr/bin/env bash
# A read error in the files the CLI lists or sums is not their end:
# `dead-letters` and `stats` (ingest and --quality) name the file and
# the error and exit 74, rather than exit 0 with what came before it as
# the whole answer. The read fails through tests/apps/readshim.c (the
# second read() of the file: EIO, past the first 8 KiB stdio reads).
. "$(dirname "$0")/lib.sh"

platform
mkdir -p "$VAR/log" "$T/out"
EIO='read: Input/output error'

# run NAME COMMAND...: the CLI's stdout in $T/out/NAME, its stderr in
# $T/out/NAME.err, its exit status in $T/out/NAME.rc.
run() {
	local name=$1 rc=0
	shift
	"$@" >"$T/out/$name" 2>"$T/out/$name.err" || rc=$?
	echo "$rc" >"$T/out/$name.rc"
}
# failed NAME FILE WHO: NAME exited 74, and WHO said FILE could not be read.
failed() {
	assert_eq 74 "$(cat "$T/out/$1.rc")" "$1: exit 74"
	grep -qF "mysimbdp $3: $2: $EIO" "$T/out/$1.err" ||
		fail "$1: no message naming $2: $(cat "$T/out/$1.err")"
}

# ---- dead-letters -----------------------------------------------------------

dl=$VAR/queue/acme/default/dead-letters.jsonl
mkdir -p "${dl%/*}"
for i in $(seq 1 200); do
	printf '{"time":"2026-11-21T10:00:00.000Z","tenant":"acme","stream":"default","id":%d,"deliveries":5,"reason":"nacked by default-1: bad row","payload":"row %d of the dead letters"}\n' "$i" "$i"
done >"$dl"
run dl cli dead-letters acme
assert_eq "0 200 dead letters" "$(cat "$T/out/dl.rc") $(tail -n 1 "$T/out/dl")" \
	"dead-letters: the whole file, read"
run dlbad readshim "$dl" eio:2 cli dead-letters acme
failed dlbad "$dl" dead-letters
# The line the error cut short is not a bad line: only the error is said.
assert_eq 1 "$(wc -l <"$T/out/dlbad.err")" "dead-letters: the error alone on stderr"
run dlbadjson readshim "$dl" eio:2 cli dead-letters acme --json
failed dlbadjson "$dl" dead-letters
ok "dead-letters: a read error names the file, exit 74"

# ---- stats -----------------------------------------------------------------

for i in $(seq 1 200); do
	printf '{"time":"2026-11-21T10:00:%02d.000Z","tenant":"acme","dataset":"","file":"f%d.csv","bytes":100,"status":"ok","attempt":1,"start":"2026-11-21T10:00:00.000Z","end":"2026-11-21T10:00:01.000Z","duration_ms":1000,"rows":10,"rejected_rows":0}\n' $((i % 60)) "$i"
done >"$INGEST"
run stats cli stats --json
assert_eq "0 200" "$(cat "$T/out/stats.rc") $(jq .platform.files_ok "$T/out/stats")" \
	"stats: the whole log, read"
run statsbad readshim "$INGEST" eio:2 cli stats --json
failed statsbad "$INGEST" stats
assert_eq 0 "$(wc -c <"$T/out/statsbad")" "stats: no figures of part of the log"

quality=$VAR/log/quality.jsonl
for i in $(seq 1 200); do
	printf '{"time":"2026-11-21T10:00:%02d.000Z","tenant":"acme","dataset":"d","file":"f%d.csv","status":"ok","pass":"ingest","checked":10,"rejected":1,"rules":{"required":1}}\n' $((i % 60)) "$i"
done >"$quality"
run quality cli stats --quality --json
assert_eq "0 200" "$(cat "$T/out/quality.rc") $(jq .platform.units "$T/out/quality")" \
	"stats --quality: the whole log, read"
run qualitybad readshim "$quality" eio:2 cli stats --quality
failed qualitybad "$quality" stats
ok "stats: a read error names the file, exit 74, no figures"

echo "all CLI read error tests passed"

#!/usr/bin/env bash
# `mysimbdp stats` figures checked against a known set of records.
. "$(dirname "$0")/lib.sh"

platform
mkdir -p "$VAR/log"
rec() {	# TENANT STATUS BYTES START_S DURATION_MS ROWS [TIME]
	local start=$4 dur=$5
	local s e
	s=$(date -u -d "@$start" +%Y-%m-%dT%H:%M:%S.000Z)
	e=$(date -u -d "@$(( start + dur / 1000 ))" +%Y-%m-%dT%H:%M:%S).$(printf '%03d' $(( dur % 1000 )))Z
	jq -nc --arg t "$1" --arg st "$2" --argjson b "$3" --arg s "$s" --arg e "$e" \
		--argjson d "$dur" --argjson r "$6" --arg time "${7:-$e}" \
		'{time: $time, tenant: $t, dataset: "", file: "f", bytes: $b, status: $st,
		  attempt: 1, start: $s, end: $e, duration_ms: $d, rows: $r, rejected_rows: 1}'
}
base=1767225600   # 2026-01-01T00:00:00Z
{
	rec acme ok 1048576 $base 1000 100
	rec acme ok 2097152 $((base + 1)) 2000 200
	rec acme ok 1048576 $((base + 3)) 3000 300
	rec acme ok 1048576 $((base + 6)) 4000 400      # last end: base + 10
	rec acme retry 10 $base 100 0
	rec acme failed 500 $base 100 0
	rec acme timeout 700 $base 100 0
	rec acme rejected 64 $base 0 0
	echo 'this line is not json'
	rec globex ok 4096 $((base + 86400)) 500 7 2026-01-02T00:00:01.000Z
} >"$INGEST"

s=$("$CLI" -c "$T/conf/mysimbdp.cfg" stats --json)
a=$(jq -c .tenants.acme <<<"$s")
assert_eq 4 "$(jq .files_ok <<<"$a")" "ok files"
assert_eq 2 "$(jq .files_failed <<<"$a")" "failed and timed-out files"
assert_eq 1 "$(jq .files_rejected <<<"$a")" "rejected files"
assert_eq 1 "$(jq .retries <<<"$a")" "retries"
assert_eq 5242880 "$(jq .bytes_ok <<<"$a")" "bytes ok"
assert_eq 1200 "$(jq .bytes_failed <<<"$a")" "bytes failed"
assert_eq 1000 "$(jq .rows <<<"$a")" "rows"
assert_eq 4 "$(jq .rejected_rows <<<"$a")" "rejected rows (ok runs)"
assert_eq 2500 "$(jq .duration_avg_ms <<<"$a")" "average duration"
assert_eq 2000 "$(jq .duration_p50_ms <<<"$a")" "p50 duration"
assert_eq 4000 "$(jq .duration_p95_ms <<<"$a")" "p95 duration"
# 5 MiB and 1000 rows between the first start and the last end (10 s).
assert_eq 0.5 "$(jq .throughput_mb_s <<<"$a")" "throughput MB/s"
assert_eq 100 "$(jq .throughput_rows_s <<<"$a")" "throughput rows/s"
assert_eq 5 "$(jq .platform.files_ok <<<"$s")" "platform ok files"
assert_eq 1007 "$(jq .platform.rows <<<"$s")" "platform rows"
assert_eq 1 "$(jq .malformed_records <<<"$s")" "malformed line counted"

s=$("$CLI" -c "$T/conf/mysimbdp.cfg" stats --json --tenant globex)
assert_eq '["globex"]' "$(jq -c '.tenants | keys' <<<"$s")" "--tenant selects one tenant"
s=$("$CLI" -c "$T/conf/mysimbdp.cfg" stats --json --since 2026-01-02)
assert_eq 1 "$(jq .platform.files_ok <<<"$s")" "--since keeps later records only"
s=$("$CLI" -c "$T/conf/mysimbdp.cfg" stats --json --since 1h)
assert_eq 0 "$(jq .platform.files_ok <<<"$s")" "--since 1h: nothing that recent"
"$CLI" -c "$T/conf/mysimbdp.cfg" stats | grep '^acme ' >/dev/null || fail "table has no acme row"
"$CLI" -c "$T/conf/mysimbdp.cfg" stats | grep '^(platform) ' >/dev/null || fail "table has no platform row"
ok "the table shows tenants and the platform"
rc=0
"$CLI" -c "$T/conf/mysimbdp.cfg" stats --since yesterday 2>/dev/null || rc=$?
assert_eq 64 "$rc" "a bad --since is a usage error"

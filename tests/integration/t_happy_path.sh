#!/usr/bin/env bash
# Two tenants drop files; each file runs through its tenant's app and ends
# in done/, with an "ok" record carrying the app's summary.
. "$(dirname "$0")/lib.sh"

platform
simple_tenant acme '"flaky", "0"'
tenant globex <<CFG
id = "globex";
batch = {
  formats = ["csv", "jsonl"];
  apps = (
    { name = "cases"; app = ["flaky", "0"]; datasets = ["cases"]; },
    { name = "other"; app = "flaky"; datasets = ["other"]; }
  );
};
CFG
start_daemon batchmgr

drop acme a1.csv "id,v
1,2"
drop acme a2.csv
drop globex cases/c1.csv
drop globex cases/c2.jsonl '{"a":1}'
wait_for 10 "acme ok records" have_records 2 acme ok
wait_for 10 "globex ok records" have_records 2 globex ok

wait_file "$VAR/staging/acme/done/a1.csv"
wait_file "$VAR/staging/acme/done/a2.csv"
wait_file "$VAR/staging/globex/done/cases/c1.csv"
wait_file "$VAR/staging/globex/done/cases/c2.jsonl"
assert_eq 0 "$(files_in acme incoming)" "acme incoming/ is empty"
assert_eq 0 "$(files_in acme processing)" "acme processing/ is empty"
assert_eq "id,v
1,2" "$(cat "$VAR/staging/acme/done/a1.csv")" "content unchanged in done/"

r=$(records '.file == "c1.csv"')
assert_eq cases "$(jq -r .dataset <<<"$r")" "record names the dataset"
assert_eq cases "$(jq -r .app <<<"$r")" "record names the app"
assert_eq 1 "$(jq -r .attempt <<<"$r")" "first attempt"
assert_eq 0 "$(jq -r .exit_code <<<"$r")" "exit code recorded"
assert_eq 3 "$(jq -r .rows <<<"$r")" "rows from the app's summary"
assert_eq 1 "$(jq -r .rejected_rows <<<"$r")" "rejected_rows from the summary"
for f in time start end duration_ms cpu_ms max_rss_kb bytes job; do
	[ "$(jq "has(\"$f\")" <<<"$r")" = true ] || fail "record lacks $f"
done
ok "record has time, start, end, duration, cpu, max RSS, bytes, job"
assert_eq "$(stat -c %s "$VAR/staging/globex/done/cases/c1.csv")" \
	"$(jq -r .bytes <<<"$r")" "bytes recorded"
# The result file is consumed, not left in the tenant's work folder.
assert_eq 0 "$(find "$VAR/work/globex" -name '.result-*' | wc -l)" "result files removed"

# A file dropped with the same name as one in done/ is ingested again;
# done/ keeps both.
drop acme a1.csv
wait_for 10 "third acme ok" have_records 3 acme ok
wait_file "$VAR/staging/acme/done/a1.csv.1"
stop_daemon batchmgr

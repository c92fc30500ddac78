#!/usr/bin/env bash
# With workers = 2, tenant A drops 200 files and then tenant B drops 5:
# B's 5 finish before A's last 100 (round-robin over tenants, not FIFO
# over files).
. "$(dirname "$0")/lib.sh"

platform workers=2
simple_tenant aaa '"sleepy", "0.02"' 'max_concurrent = 2;'
simple_tenant bbb '"sleepy", "0.02"' 'max_concurrent = 2;'
start_daemon batchmgr

mkdir -p "$T/scratch/a" "$T/scratch/b"
for i in $(seq 1 200); do echo "id" >"$T/scratch/a/a$i.csv"; done
for i in $(seq 1 5); do echo "id" >"$T/scratch/b/b$i.csv"; done
move_all "$T/scratch/a" "$VAR/staging/aaa/incoming"
move_all "$T/scratch/b" "$VAR/staging/bbb/incoming"

wait_for 60 "all of B's files" have_records 5 bbb ok
wait_for 90 "all of A's files" have_records 200 aaa ok
# Records are appended as jobs finish: their order is completion order.
last_b=$(jq -r 'select(.status == "ok") | .tenant' "$INGEST" | grep -n bbb | tail -1 | cut -d: -f1)
a_101=$(jq -r 'select(.status == "ok") | .tenant' "$INGEST" | grep -n aaa | sed -n 101p | cut -d: -f1)
[ "$last_b" -lt "$a_101" ] || fail "B's last file finished at position $last_b, after A's 101st ($a_101)"
ok "B's 5 files finished at or before position $last_b, A's 101st at $a_101"
assert_eq 200 "$(files_in aaa done)" "A's 200 files in done/"
assert_eq 5 "$(files_in bbb done)" "B's 5 files in done/"
stop_daemon batchmgr

#!/usr/bin/env bash
# SIGTERM stops intake, lets running apps finish within shutdown_grace,
# then stops them and leaves their files in processing/ for the next
# start, which reruns them.
. "$(dirname "$0")/lib.sh"

platform workers=2 shutdown_grace='"700ms"'
simple_tenant quick '"sleepy", "0.3"'
simple_tenant stuck '"sleepy", "30"'
start_daemon batchmgr

drop stuck s.csv
drop quick q.csv
wait_for 10 "both apps running" bash -c "[ \$(pgrep -P $BM_PID | wc -l) -ge 2 ]"
t0=$(date +%s%N)
stop_daemon batchmgr
elapsed=$(( ($(date +%s%N) - t0) / 1000000 ))
ok "batchmgr stopped in ${elapsed}ms"

# The quick app finished within the grace; the stuck one was stopped.
assert_file "$VAR/staging/quick/done/q.csv"
assert_eq 1 "$(count quick ok)" "the quick job completed during the grace"
assert_file "$VAR/staging/stuck/processing/s.csv"
r=$(records '.tenant == "stuck"')
assert_eq retry "$(jq -r .status <<<"$r")" "the interrupted attempt is recorded as retry"
jq -e '.reason | startswith("interrupted:")' <<<"$r" >/dev/null || fail "reason: $r"

# Files dropped while stopped wait in incoming/; the next start reruns the
# interrupted file and picks up the new one.
drop stuck s2.csv
simple_tenant stuck '"sleepy", "0"'
start_daemon batchmgr
wait_for 20 "stuck files done" have_records 2 stuck ok
assert_eq true "$(records '.tenant == "stuck" and .status == "ok" and .file == "s.csv"' | jq -r .recovered)" \
	"the interrupted file reran after restart"
assert_file "$VAR/staging/stuck/done/s.csv"
assert_file "$VAR/staging/stuck/done/s2.csv"
stop_daemon batchmgr

#!/usr/bin/env bash
# SIGTERM stops intake, lets running apps finish within shutdown_grace,
# then stops them and leaves their files in processing/ for the next
# start, which reruns them.
. "$(dirname "$0")/lib.sh"

# The grace is long enough for the quick app to end on a loaded machine;
# the stuck one never ends by itself, so it is what the grace expires on.
platform workers=2 shutdown_grace="\"$(scaled 5)s\""
# gated NAME GATE: an app that notes it started in out/NAME.started,
# then ends well once the file GATE exists.
gated() {
	cat >"$T/$1" <<-EOF
	#!/bin/sh
	: >"$T/out/$1.started"
	until [ -e "$2" ]; do sleep 0.05; done
	EOF
	chmod 755 "$T/$1"
}
gated quick "$T/go"
gated stuck "$T/never"
simple_tenant quick "\"$T/quick\""
simple_tenant stuck "\"$T/stuck\""
start_daemon batchmgr

drop stuck s.csv
drop quick q.csv
wait_for 10 "both apps running" test -e "$T/out/quick.started" -a -e "$T/out/stuck.started"
# SIGTERM while both run; quick ends only once the shutdown has begun.
from=$(wc -l <"$BM_LOG")
t0=$(date +%s%N)
kill -TERM "$BM_PID"
wait_for 10 "batchmgr to begin stopping" bm_log_after "$from" "stopping: 2 jobs still running"
: >"$T/go"
stop_wait=0
reap "$BM_PID" "batchmgr after SIGTERM" || stop_wait=$?
[ $stop_wait -eq 0 ] || fail "batchmgr exited $stop_wait after SIGTERM"
BM_PID=
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
wait_file "$VAR/staging/stuck/done/s.csv"
wait_file "$VAR/staging/stuck/done/s2.csv"
stop_daemon batchmgr

#!/usr/bin/env bash
# Scan rounds go round the tenants: a round marked again while tenants
# are being scanned goes on from the tenant after the last one, not from
# the first. batchmgr runs with tests/apps/nowatch.c preloaded: no watch
# on a dataset folder, so a file in one is found by a scan alone; and
# each readdir waits 1 ms, so that alpha's incoming/ of 300 entries
# takes 300 ms or more to list, longer than scan_interval (100 ms) on
# any machine. Before, each round began again at the first tenant:
# alpha, first in the list, was scanned over and over, and zulu's file
# was never taken.
. "$(dirname "$0")/lib.sh"

export NOWATCH_READDIR_US=1000
preloaded_daemon batchmgr "$MYSIMBDP_BUILD/tests/integration/libnowatch.so"

platform 'scan_interval="100ms"' 'settle="0s"'
for id in alpha zulu; do
	tenant "$id" <<-CFG
	id = "$id";
	batch = {
	  formats = ["csv"];
	  apps = ( { app = ["exit-with", "0"]; datasets = ["d1"]; timeout = "20s"; } );
	};
	CFG
done
# Partial names: left alone for partial_grace (an hour), listed by
# every scan of alpha.
in=$VAR/staging/alpha/incoming
mkdir -p "$in"
for i in $(seq 300); do : >"$in/f$i.csv.part"; done
start_daemon batchmgr
wait_for 20 "the shim in effect" grep -q 'nowatch: only incoming/ is watched' "$BM_LOG"

zin=$VAR/staging/zulu/incoming
from=$(wc -l <"$BM_LOG")
mkdir "$zin/d1"
# Its watch refused, then the file: found by a scan of zulu alone.
wait_for 20 "zulu's d1 not watched" log_after "$BM_LOG" "$from" \
	"tenant zulu: inotify_add_watch .*/d1"
printf 'id,v\n1,1\n' >"$zin/d1/f.csv"
wait_for 60 "zulu's file done" eval '[ "$(files_in zulu done)" -eq 1 ]'
assert_eq 1 "$(count zulu ok)" "zulu's file recorded ok"
assert_eq 300 "$(ls "$in" | wc -l)" "alpha's partial files left alone"
ok "a tenant after one slower to scan than scan_interval is scanned"
stop_daemon batchmgr
ok "batchmgr exits cleanly"

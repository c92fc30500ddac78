#!/usr/bin/env bash
# A file sent again under the name of one still running waits in
# incoming/ (processing/ holds the name) and is taken once that job
# ends: its end starts a scan of the tenant, in steps (before, every
# app's exit, any tenant's, scanned the tenant whole at once). With
# scan_interval at an hour, only that scan can find it.
. "$(dirname "$0")/lib.sh"

platform 'scan_interval="1h"'
gate=$T/scratch/gate
simple_tenant acme "\"/bin/sh\", \"-c\", \"while [ ! -e $gate ]; do sleep 0.05; done\""
start_daemon batchmgr
drop acme f.csv
wait_for 20 "the first f.csv running" test -e "$VAR/staging/acme/processing/f.csv"
from=$(wc -l <"$BM_LOG")
drop acme f.csv 'id,value
2,2'
wait_for 20 "the second f.csv waiting" log_after "$BM_LOG" "$from" \
	"tenant acme: f.csv waits for its namesake in processing/"
: >"$gate"
wait_for 20 "both done" have_records 2 acme ok
wait_file "$VAR/staging/acme/done/f.csv"	# moved after its record
wait_file "$VAR/staging/acme/done/f.csv.1"
assert_eq 0 "$(files_in acme incoming)" "incoming/ is empty"
ok "a name that waited for its namesake is taken once that one ends"
stop_daemon batchmgr
ok "batchmgr exits cleanly"

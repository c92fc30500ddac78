#!/usr/bin/env bash
# The retention sweep runs in steps (64 entries a turn of the loop, a
# dataset folder's entries too), at a tenant's start and every hour or at half the
# tenant's retention if shorter, so that a tenant keeping many files does
# not hold the others for the whole walk. batchmgr runs with
# tests/apps/nowatch.c preloaded, each readdir waiting 1 ms: alpha's
# 3,000 files in done/ds/, all past its retention, take 3 s or more to
# sweep on any machine. beta's file, sent once alpha's removals have
# begun, must be recorded before the last of them (swept in one turn,
# all were removed by then). Before, the periodic sweep was hourly
# (none in this test) and walked the tenant whole in one turn.
. "$(dirname "$0")/lib.sh"

export NOWATCH_READDIR_US=1000
preloaded_daemon batchmgr "$MYSIMBDP_BUILD/tests/integration/libnowatch.so"
platform 'scan_interval="100ms"'
simple_tenant alpha '"exit-with", "0"' 'retention = "0";'
simple_tenant beta '"exit-with", "0"'
start_daemon batchmgr
wait_for 20 "the shim in effect" grep -q 'nowatch: only incoming/ is watched' "$BM_LOG"

# Kept for ever first (no sweep), until all are older than the
# retention the reload then sets: a sweep walks them all in one go.
ds=$VAR/staging/alpha/done/ds
mkdir -p "$ds"
(cd "$ds" && seq 3000 | sed 's/^/f/; s/$/.csv/' | xargs touch)
old_enough() { [ $(( $(date +%s) - $(stat -c %Z "$ds/f3000.csv") )) -ge 2 ]; }
wait_for 10 "alpha's files older than 1 s" old_enough
sed -i 's/retention = "0";/retention = "1s";/' "$T/conf/tenants/alpha.cfg"
kill -HUP "$BM_PID"
wait_for 60 "alpha's removals begun" have_records 1 alpha removed
drop beta b.csv
wait_for 60 "beta's file done" have_records 1 beta ok
wait_for 120 "alpha's 3,000 files removed" have_records 3000 alpha removed
beta_at=$(grep -n '"tenant":"beta"' "$INGEST" | head -n 1 | cut -d: -f1)
last_removed=$(grep -n '"status":"removed"' "$INGEST" | tail -n 1 | cut -d: -f1)
[ "$beta_at" -lt "$last_removed" ] ||
	fail "beta's record (line $beta_at) came after alpha's whole sweep (last removal: line $last_removed)"
assert_eq 0 "$(ls "$ds" | wc -l)" "alpha's done/ds/ swept"
ok "another tenant's file is taken while a sweep goes on in steps"
stop_daemon batchmgr
ok "batchmgr exits cleanly"

# The sweep at a start runs in steps too: alpha's 3,000 new old files are
# swept after its start, beta's file (there before the start; beta starts
# after alpha) recorded before the last of them. Before, alpha's start
# swept them whole before beta's began.
(cd "$ds" && seq 3000 | sed 's/^/g/; s/$/.csv/' | xargs touch)
old_enough() { [ $(( $(date +%s) - $(stat -c %Z "$ds/g3000.csv") )) -ge 2 ]; }
wait_for 10 "alpha's new files older than 1 s" old_enough
drop beta c.csv
start_daemon batchmgr
wait_for 60 "beta's file done" have_records 2 beta ok
wait_for 120 "alpha's 3,000 new files removed" have_records 6000 alpha removed
beta_at=$(grep -n '"tenant":"beta"' "$INGEST" | tail -n 1 | cut -d: -f1)
last_removed=$(grep -n '"status":"removed"' "$INGEST" | tail -n 1 | cut -d: -f1)
[ "$beta_at" -lt "$last_removed" ] ||
	fail "beta's record (line $beta_at) came after alpha's start sweep (last removal: line $last_removed)"
assert_eq 0 "$(ls "$ds" | wc -l)" "alpha's done/ds/ swept at its start"
ok "the sweep at a start goes in steps"
stop_daemon batchmgr

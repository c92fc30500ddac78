#!/usr/bin/env bash
# The periodic scan takes a tenant's incoming/ in steps of 64 entries, one
# a turn of the loop, and goes on where the last step stopped. batchmgr
# runs with tests/apps/nowatch.c preloaded: no watch on a dataset folder
# (as at fs.inotify.max_user_watches), so a file dropped in one is found
# by a scan alone. One file in each of 150 dataset folders must all be
# taken. Each step ended the scan once, rounds would look at the same
# first 64 folders again and again: the others' files would never go.
. "$(dirname "$0")/lib.sh"

preloaded_daemon batchmgr "$MYSIMBDP_BUILD/tests/integration/libnowatch.so"

platform
datasets=$(seq -s, -f '"d%g"' 150)
tenant acme <<CFG
id = "acme";
batch = {
  formats = ["csv"];
  apps = ( { app = ["exit-with", "0"]; datasets = [$datasets]; timeout = "20s"; } );
};
CFG
start_daemon batchmgr
wait_for 20 "the shim in effect" grep -q 'nowatch: only incoming/ is watched' "$BM_LOG"

in=$VAR/staging/acme/incoming
for i in $(seq 150); do mkdir "$in/d$i"; done
for i in $(seq 150); do printf 'id,v\n%d,1\n' "$i" >"$in/d$i/f.csv"; done
wait_for 60 "all 150 files done" eval '[ "$(files_in acme done)" -eq 150 ]'
assert_eq 0 "$(files_in acme incoming)" "incoming/ is empty"
assert_eq 150 "$(count acme ok)" "an ok record each"
ok "every dataset folder of a listing larger than a step was scanned"
stop_daemon batchmgr
ok "batchmgr exits cleanly"

#!/usr/bin/env bash
# batchmgr on a filesystem that leaves readdir's d_type DT_UNKNOWN (XFS
# without ftype, some network and FUSE filesystems), stood in for by
# tests/apps/dtunknown.c preloaded into it. At its start a file left in
# processing/<dataset>/ must run again, a file in incoming/<dataset>/
# be taken, and the retention sweep remove an old file in
# done/<dataset>/, not take the dataset folder for a file (a "removed"
# record for it, an unlinkat failing on a folder).
. "$(dirname "$0")/lib.sh"

preloaded_daemon batchmgr "$MYSIMBDP_BUILD/tests/integration/libdtunknown.so"

platform
tenant acme <<CFG
id = "acme";
batch = {
  formats = ["csv"];
  retention = "1s";
  apps = ( { app = ["exit-with", "0"]; datasets = ["ds"]; timeout = "20s"; } );
};
CFG
S=$VAR/staging/acme
mkdir -p "$S/processing/ds" "$S/done/ds" "$S/incoming/ds"
echo 'id,value' >"$S/processing/ds/left.csv"
echo 'id,value' >"$S/done/ds/old.csv"
echo 'id,value' >"$S/incoming/ds/waiting.csv"
old_enough() { [ $(( $(date +%s) - $(stat -c %Z "$S/done/ds/old.csv") )) -ge 2 ]; }
wait_for 10 "old.csv older than its retention" old_enough

start_daemon batchmgr
grep -q "^dtunknown: readdir leaves d_type unknown" "$BM_LOG" ||
	fail "the readdir shim is not in effect"
wait_for 20 "left.csv and waiting.csv run" have_records 2 acme ok
assert_eq "left.csv true|waiting.csv false" \
	"$(records '.tenant == "acme" and .status == "ok"' | jq -r '"\(.file) \(.recovered == true)"' | sort | paste -sd'|' -)" \
	"the ok records"
wait_file "$S/done/ds/left.csv"	# moved after their records
wait_file "$S/done/ds/waiting.csv"
assert_eq "ds old.csv" \
	"$(records '.tenant == "acme" and .status == "removed"' | jq -r '"\(.dataset) \(.file)"' | paste -sd'|' -)" \
	"the removed records"
assert_no_file "$S/done/ds/old.csv"
if grep -q "retention: unlink" "$BM_LOG"; then
	fail "the sweep tried to unlink a folder"
fi
ok "the sweep removed done/ds/old.csv only"
stop_daemon batchmgr

#!/usr/bin/env bash
# A folder a tenant swapped in for its file at the claim, left in
# processing/ by a stop that cut its rejection short: at the next start
# it is rejected `replaced` (its name, a file's with its extension, is no
# dataset's), not taken for a dataset's folder whose files run. A
# dataset's folder left there is recovered as before: its file runs.
# Retention then leaves that rejected folder whole (not walked as a
# dataset's).
. "$(dirname "$0")/lib.sh"

platform
tenant plain <<CFG
id = "plain";
batch = {
  formats = ["csv"];
  apps = ( { app = ["exit-with", "0"]; retries = 0; },
           { name = "ds"; app = ["exit-with", "0"]; datasets = ["ds"]; retries = 0; } );
};
CFG
start_daemon batchmgr
stop_daemon batchmgr

proc=$VAR/staging/plain/processing
mkdir -p "$proc/x.csv" "$proc/ds"
echo 'a,b' >"$proc/x.csv/inner.csv"
echo 'a,b' >"$proc/ds/left.csv"
start_daemon batchmgr

has_record() {
	[ "$(records ".tenant == \"plain\" and .file == \"$1\" and .status == \"$2\"" | wc -l)" -ge 1 ]
}
wait_for 30 "x.csv rejected" has_record x.csv rejected
reason=$VAR/staging/plain/rejected/x.csv.reason
assert_file "$reason"
grep -q '^replaced: a directory in processing/ at start-up' "$reason" ||
	fail "x.csv.reason: $(cat "$reason")"
[ -d "$VAR/staging/plain/rejected/x.csv" ] || fail "rejected/x.csv is not the folder"
assert_file "$VAR/staging/plain/rejected/x.csv/inner.csv"
ok "the folder swapped in is rejected: $(cat "$reason")"

wait_for 30 "ds/left.csv run again" has_record left.csv ok
assert_eq 0 "$(records '.file == "inner.csv"' | wc -l)" "records of the folder's inner.csv"
ok "a dataset's folder is still recovered; nothing in the swapped folder ran"

# Retention leaves the rejected folder alone (it is no dataset's folder,
# whose files it would remove): its reason goes, the folder stays whole.
sed -i 's/^batch = {/batch = {\n  retention = "1s";/' "$T/conf/tenants/plain.cfg"
from=$(wc -l <"$BM_LOG")
kill -HUP "$BM_PID"
wait_for 30 "x.csv.reason removed" has_record x.csv.reason removed
wait_for 30 "the folder said left alone" bm_log_after "$from" \
	'rejected/x.csv is a folder, not a file: left alone'
assert_file "$VAR/staging/plain/rejected/x.csv/inner.csv"
assert_eq 0 "$(records '.file == "inner.csv"' | wc -l)" "records of the folder's inner.csv"
ok "retention leaves the rejected folder whole"
stop_daemon batchmgr

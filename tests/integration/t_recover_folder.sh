#!/usr/bin/env bash
# A folder a tenant swapped in for its file at the claim, left in
# processing/ by a stop that cut its rejection short: at the next start
# it is rejected `replaced` (its name, a file's with its extension, is no
# dataset's), not taken for a dataset's folder whose files run. A
# dataset's folder left there is recovered as before: its file runs.
# Retention then removes its files in time, and the folder once empty.
. "$(dirname "$0")/lib.sh"

platform
dataset_tenant plain ds
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
# The record comes first, then the reason, then the move.
wait_file "$reason"
wait_file "$VAR/staging/plain/rejected/x.csv/inner.csv"
grep -q '^replaced: a directory in processing/ at start-up' "$reason" ||
	fail "x.csv.reason: $(cat "$reason")"
[ -d "$VAR/staging/plain/rejected/x.csv" ] || fail "rejected/x.csv is not the folder"
assert_file "$VAR/staging/plain/rejected/x.csv/inner.csv"
ok "the folder swapped in is rejected: $(cat "$reason")"

wait_for 30 "ds/left.csv run again" has_record left.csv ok
assert_eq 0 "$(records '.file == "inner.csv"' | wc -l)" "records of the folder's inner.csv"
ok "a dataset's folder is still recovered; nothing in the swapped folder ran"

# Retention removes what the rejected folder holds in time, each file
# with its record, its reason, and then the folder left empty (no
# dataset's: none will need it); and the same of a folder a tenant made
# in incoming/ with a name no dataset can have, whose file was rejected
# unknown-dataset.
mkdir "$VAR/staging/plain/incoming/My Data"
echo 'a,b' >"$VAR/staging/plain/incoming/My Data/d.csv"
wait_for 30 "My Data/d.csv rejected" has_record d.csv rejected
sed -i 's/^batch = {/batch = {\n  retention = "1s";/' "$T/conf/tenants/plain.cfg"
kill -HUP "$BM_PID"
for f in x.csv.reason inner.csv d.csv d.csv.reason; do
	wait_for 30 "$f removed" has_record "$f" removed
done
gone() { [ ! -e "$VAR/staging/plain/rejected/$1" ]; }
wait_for 30 "rejected/x.csv removed once empty" gone x.csv
wait_for 30 "rejected/My Data removed once empty" gone "My Data"
[ -d "$VAR/staging/plain/rejected" ] || fail "rejected/ itself gone"
ok "retention removes the rejected folders' files, then the folders"
stop_daemon batchmgr

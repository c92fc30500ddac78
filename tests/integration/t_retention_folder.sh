#!/usr/bin/env bash
# Retention sweeps files out of done/ and rejected/. A folder inside a
# dataset's folder there is no file batchmgr put (a tenant can get one
# into rejected/ by swapping a folder in for a file at the claim's
# rename: rejected "replaced"). It is left alone and said in the log,
# not recorded as removed (unlinkat fails on it) at every sweep.
. "$(dirname "$0")/lib.sh"

platform
simple_tenant acme '"exit-with", "0"' 'retention = "1s";'
rej=$VAR/staging/acme/rejected
mkdir -p "$rej/ds/x.csv"
echo data >"$rej/ds/x.csv/inner"
echo a >"$rej/ds/y.csv"
old_enough() { [ $(( $(date +%s) - $(stat -c %Z "$rej/ds/x.csv") )) -ge 2 ] &&
	[ $(( $(date +%s) - $(stat -c %Z "$rej/ds/y.csv") )) -ge 2 ]; }
wait_for 10 "entries older than the retention" old_enough
for start in 1 2; do
	start_daemon batchmgr
	wait_for 20 "the folder said in the log ($start)" grep -q \
		"retention: rejected/ds/x.csv is a folder, not a file: left alone" "$BM_LOG"
	stop_daemon batchmgr
	: >"$BM_LOG"
done
assert_eq 1 "$(count acme removed)" "one removal recorded (y.csv)"
assert_eq 0 "$(records '.file == "x.csv"' | wc -l)" "no record of the folder"
assert_file "$rej/ds/x.csv/inner"
assert_no_file "$rej/ds/y.csv"
ok "a folder in rejected/ is left alone, not recorded as removed"

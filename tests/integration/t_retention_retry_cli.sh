#!/usr/bin/env bash
# Retention removes done/ and rejected/ files older than the profile says
# (and records it); failed/ is kept until an operator runs
# `mysimbdp retry`, which sends the file round again.
. "$(dirname "$0")/lib.sh"

platform
simple_tenant acme '"flaky", "1", "3"' 'retention = "1s";'
sed -i 's/retries = 2;/retries = 0;/' "$T/conf/tenants/acme.cfg"
start_daemon batchmgr

drop acme good.txt             # rejected: format
drop acme bad.csv              # fails once (exit 3), no retries: failed/
wait_for 10 "rejected" have_records 1 acme rejected
wait_for 10 "failed" have_records 1 acme failed
assert_file "$VAR/staging/acme/failed/bad.csv"
stop_daemon batchmgr

# Wait until the rejected file has been kept longer than its retention.
old_enough() { [ $(( $(date +%s) - $(stat -c %Z "$VAR/staging/acme/rejected/good.txt") )) -ge 2 ]; }
wait_for 10 "rejected file older than retention" old_enough
start_daemon batchmgr
wait_for 10 "retention removal recorded" have_records 2 acme removed
assert_no_file "$VAR/staging/acme/rejected/good.txt"
assert_no_file "$VAR/staging/acme/rejected/good.txt.reason"
records '.status == "removed"' | jq -e 'select(.reason | startswith("retention:"))' >/dev/null ||
	fail "removal record has no retention reason"
assert_file "$VAR/staging/acme/failed/bad.csv"
ok "retention removed rejected/ files, kept failed/"

# The operator sends the failed file round again.
out=$("$CLI" -c "$T/conf/mysimbdp.cfg" retry acme bad.csv)
ok "retry: $out"
wait_for 10 "retried file ok" have_records 1 acme ok
assert_file "$VAR/staging/acme/done/bad.csv"
assert_no_file "$VAR/staging/acme/failed/bad.csv"

rc=0
"$CLI" -c "$T/conf/mysimbdp.cfg" retry acme bad.csv 2>/dev/null || rc=$?
assert_eq 66 "$rc" "retry of a file not in failed/ exits 66 (EX_NOINPUT)"
for evil in ../../etc/passwd ../x "a/b/c" .. ""; do
	rc=0
	"$CLI" -c "$T/conf/mysimbdp.cfg" retry acme "$evil" 2>/dev/null || rc=$?
	assert_eq 64 "$rc" "retry refuses the name '$evil'"
done
rc=0
"$CLI" -c "$T/conf/mysimbdp.cfg" retry ../acme bad.csv 2>/dev/null || rc=$?
assert_eq 64 "$rc" "retry refuses a tenant id with a path in it"
stop_daemon batchmgr

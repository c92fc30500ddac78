#!/usr/bin/env bash
# Retention removes done/ and rejected/ files older than the profile says
# (and records it); failed/ is kept until an operator runs
# `mysimbdp retry`, which sends the file round again.
. "$(dirname "$0")/lib.sh"

platform
simple_tenant acme '"flaky", "1", "3"' 'retention = "1s";'
simple_tenant beta '"exit-with", "1"'
sed -i 's/retries = 2;/retries = 0;/' "$T/conf/tenants/acme.cfg" \
	"$T/conf/tenants/beta.cfg"
start_daemon batchmgr

drop acme good.txt             # rejected: format
drop acme bad.csv              # fails once (exit 3), no retries: failed/
wait_for 10 "rejected" have_records 1 acme rejected
wait_for 10 "failed" have_records 1 acme failed
wait_file "$VAR/staging/acme/failed/bad.csv"
stop_daemon batchmgr

# Wait until the rejected file has been kept longer than its retention.
old_enough() { [ $(( $(date +%s) - $(stat -c %Z "$VAR/staging/acme/rejected/good.txt") )) -ge 2 ]; }
wait_for 10 "rejected file older than retention" old_enough
start_daemon batchmgr
wait_for 10 "retention removal recorded" have_records 2 acme removed
wait_no_file "$VAR/staging/acme/rejected/good.txt"
wait_no_file "$VAR/staging/acme/rejected/good.txt.reason"
records '.status == "removed"' | jq -e 'select(.reason | startswith("retention:"))' >/dev/null ||
	fail "removal record has no retention reason"
assert_file "$VAR/staging/acme/failed/bad.csv"
ok "retention removed rejected/ files, kept failed/"

# The operator sends the failed file round again.
out=$("$CLI" -c "$T/conf/mysimbdp.cfg" retry acme bad.csv)
ok "retry: $out"
wait_for 10 "retried file ok" have_records 1 acme ok
wait_file "$VAR/staging/acme/done/bad.csv"
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

# A name that is not UTF-8 (batchmgr takes it): --json shows its byte as
# \xE9 (libbson refused the raw name, and the command crashed).
odd=$'caf\xe9.csv'
drop acme "$odd"
wait_for 10 "its failure" have_records 2 acme failed
wait_file "$VAR/staging/acme/failed/$odd"
out=$("$CLI" -c "$T/conf/mysimbdp.cfg" retry acme "$odd" --json) ||
	fail "retry --json of a name not UTF-8: exit $?"
assert_eq 'caf\xE9.csv incoming/caf\xE9.csv' "$(jq -r '"\(.file) \(.to)"' <<<"$out")" \
	"retry --json: the name's byte as \\xE9"
wait_for 10 "it ran again, ok" have_records 2 acme ok

# The second x.csv to fail became failed/x.csv.1: it goes back as x.csv
# (as x.csv.1 batchmgr rejected it for its extension "1").
drop beta x.csv
wait_for 10 "beta's first failure" have_records 1 beta failed
drop beta x.csv
wait_for 10 "beta's second failure" have_records 2 beta failed
wait_file "$VAR/staging/beta/failed/x.csv.1"
out=$("$CLI" -c "$T/conf/mysimbdp.cfg" retry beta x.csv.1) || fail "retry x.csv.1: exit $?"
assert_eq "beta: x.csv.1 moved back from failed/ to incoming/x.csv" "$out" "retry of a suffixed name"
wait_for 10 "x.csv run again" have_records 3 beta failed
assert_eq 0 "$(count beta rejected)" "beta's files rejected"
ok "a name failed/ gave a suffix runs again under its own"
stop_daemon batchmgr

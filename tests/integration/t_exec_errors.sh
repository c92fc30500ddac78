#!/usr/bin/env bash
# An app that cannot be executed is recorded with the exec error, and
# batchmgr keeps serving the other tenants.
. "$(dirname "$0")/lib.sh"

platform
cp "$APPS/exit-with" "$T/out/not-executable"
chmod -x "$T/out/not-executable"
simple_tenant missing "\"$T/out/no-such-app\""
simple_tenant noexec "\"$T/out/not-executable\""
simple_tenant fine '"exit-with", "0"'
start_daemon batchmgr

drop missing m.csv
drop noexec n.csv
drop fine f.csv
wait_for 20 "missing failed" have_records 1 missing failed
wait_for 20 "noexec failed" have_records 1 noexec failed
wait_for 20 "fine ok" have_records 1 fine ok

r=$(records '.tenant == "missing" and .status == "failed"')
jq -e '.reason | test("exec .*no-such-app: No such file or directory")' <<<"$r" >/dev/null ||
	fail "missing app reason: $r"
ok "missing app: $(jq -r .reason <<<"$r")"
r=$(records '.tenant == "noexec" and .status == "failed"')
jq -e '.reason | test("exec .*not-executable: Permission denied")' <<<"$r" >/dev/null ||
	fail "non-executable app reason: $r"
ok "non-executable app: $(jq -r .reason <<<"$r")"
wait_file "$VAR/staging/missing/failed/m.csv"
wait_file "$VAR/staging/noexec/failed/n.csv"

# Still serving: another file for the healthy tenant.
drop fine g.csv
wait_for 10 "fine second ok" have_records 2 fine ok
running "$BM_PID" || fail "batchmgr died"
ok "batchmgr still serves other tenants"
stop_daemon batchmgr

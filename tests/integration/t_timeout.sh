#!/usr/bin/env bash
# A run past its timeout gets SIGTERM, then SIGKILL for its whole process
# group after stop_timeout; a grandchild dies with it. The attempt is
# recorded as "timeout" and the file ends in failed/.
. "$(dirname "$0")/lib.sh"

platform
tenant slow <<CFG
id = "slow";
batch = {
  formats = ["csv"];
  apps = ( { app = ["family", "$T/out", "ignore-term"]; timeout = "500ms";
             retries = 0; stop_timeout = "300ms"; } );
};
CFG
start_daemon batchmgr

drop slow f.csv
# family writes app.pid last.
wait_for 10 "the app to start its grandchild" test -s "$T/out/app.pid"
gc=$(cat "$T/out/grandchild.pid")
app=$(cat "$T/out/app.pid")
# Not checked running here: the timeout (500 ms) may have killed it by
# now on a slow machine; it is a sleep 1000, which only a signal ends.
wait_for 10 "timeout record" have_records 1 slow timeout

r=$(records '.status == "timeout"')
jq -e '.reason | startswith("timeout: ")' <<<"$r" >/dev/null || fail "reason: $r"
assert_eq 9 "$(jq -r .signal <<<"$r")" "app ignored SIGTERM and got SIGKILL"
wait_file "$VAR/staging/slow/failed/f.csv"
# The grandchild is in the app's group: it must be gone, not orphaned.
wait_for 5 "grandchild gone" bash -c "! kill -0 $gc"
! kill -0 "$app" 2>/dev/null || fail "app still running"
ok "the whole process group was killed"
grep -q "ignored SIGTERM, killing its group" "$BM_LOG" || fail "no SIGKILL log line"
ok "operator log says why"
stop_daemon batchmgr

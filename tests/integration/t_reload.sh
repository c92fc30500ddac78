#!/usr/bin/env bash
# SIGHUP reloads profiles: a new tenant is watched and served, a removed
# one retired, a broken file keeps the previous profile, and jobs that
# are running are not disturbed.
. "$(dirname "$0")/lib.sh"

platform
simple_tenant acme '"sleepy", "1"'
start_daemon batchmgr

drop acme long.csv
wait_for 10 "acme job running" bm_running

# Add a tenant while acme's job runs.
simple_tenant newco '"exit-with", "0"'
from=$(wc -l <"$BM_LOG")
kill -HUP "$BM_PID"
wait_for 10 "newco added" bm_log_after "$from" 'tenant newco: added'
wait_for 10 "newco incoming/" test -d "$VAR/staging/newco/incoming"
drop newco n1.csv
wait_for 10 "newco file ran" have_records 1 newco ok
wait_for 10 "acme's running job finished" have_records 1 acme ok
assert_eq 1 "$(records '.tenant == "acme" and .status == "ok"' | jq -r .attempt)" \
	"acme's job ran undisturbed by the reload"

# A broken profile on SIGHUP changes nothing: acme keeps its old profile.
cp "$T/conf/tenants/acme.cfg" "$T/acme.good"
printf 'id = "acme";\nbatch = { formats = ["csv"]; max_file_size = "lots"; apps = ( { app = "exit-with"; } ); };\n' \
	>"$T/conf/tenants/acme.cfg"
from=$(wc -l <"$BM_LOG")
kill -HUP "$BM_PID"
wait_for 10 "reload error logged" bm_log_after "$from" "acme.cfg:2: batch.max_file_size"
bm_log_after "$from" "keeping the previous profile" || fail "not said that the old profile is kept"
ok "the broken file is logged with file:line: setting"
drop acme after.csv
wait_for 10 "acme still served" have_records 2 acme ok

# A brand-new broken profile never had one to keep: it says so.
printf 'id = "fresh";\nbatch = { formats = ["csv"]; max_file_size = "lots"; apps = ( { app = "exit-with"; } ); };\n' \
	>"$T/conf/tenants/fresh.cfg"
from=$(wc -l <"$BM_LOG")
kill -HUP "$BM_PID"
wait_for 10 "fresh's error logged" bm_log_after "$from" "fresh.cfg:2: batch.max_file_size"
line=$(tail -n +"$((from + 1))" "$BM_LOG" | grep "fresh.cfg:2:")
[[ $line == *"(tenant not loaded: it has no previous profile)" ]] || fail "new broken profile: $line"
ok "a new broken profile is logged as not loaded, not as kept"
rm "$T/conf/tenants/fresh.cfg"

# Removing a tenant's file retires it; its files are left alone.
rm "$T/conf/tenants/newco.cfg"
from=$(wc -l <"$BM_LOG")
kill -HUP "$BM_PID"
wait_for 10 "newco retired" bm_log_after "$from" 'tenant newco: profile removed'
drop newco n2.csv
drop acme after2.csv
wait_for 10 "acme served after the removal" have_records 3 acme ok
assert_file "$VAR/staging/newco/incoming/n2.csv"
assert_eq 1 "$(count newco ok)" "a retired tenant's new files are not run"

# Removed and added back while its job runs: the file left in
# processing/ by the running job is that job's, not one to run again.
simple_tenant back '"sleepy", "4"'
from=$(wc -l <"$BM_LOG")
kill -HUP "$BM_PID"
wait_for 10 "back added" bm_log_after "$from" 'tenant back: added'
wait_for 10 "back's incoming/" test -d "$VAR/staging/back/incoming"
drop back once.csv
wait_for 10 "back's job running" test -e "$VAR/staging/back/processing/once.csv"
mv "$T/conf/tenants/back.cfg" "$T/back.cfg"
from=$(wc -l <"$BM_LOG")
kill -HUP "$BM_PID"
wait_for 10 "back retired" bm_log_after "$from" 'tenant back: profile removed'
mv "$T/back.cfg" "$T/conf/tenants/back.cfg"
from=$(wc -l <"$BM_LOG")
kill -HUP "$BM_PID"
wait_for 10 "back added again" bm_log_after "$from" 'tenant back: added'
wait_for 20 "once.csv's outcome" have_records 1 back ok
drop back later.csv
wait_for 20 "later.csv run" eval '[ "$(records ".tenant == \"back\" and .file == \"later.csv\"" | wc -l)" -ge 1 ]'
assert_eq 1 "$(records '.tenant == "back" and .file == "once.csv"' | wc -l)" \
	"once.csv's records: run once ($(records '.tenant == "back"' | jq -c '[.file, .status, .recovered]' | paste -sd' ' -))"
stop_daemon batchmgr

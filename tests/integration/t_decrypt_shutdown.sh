#!/usr/bin/env bash
# An encrypted file whose decryption ends while batchmgr is shutting
# down: its app is not started (it would outlast shutdown_grace, or start
# after it and be killed). The attempt is recorded as retry with the
# reason, the file stays in processing/, batchmgr exits; the next start
# decrypts it again and runs the app. age is a wrapper that waits for
# the test's go file, so the shutdown comes first. Skipped without age.
. "$(dirname "$0")/lib.sh"

AGE=$(command -v age) || { echo "SKIP: no age (apt-get install age)"; exit 77; }

# A grace and timeouts far longer than any wait below: an app started
# during the shutdown shows as its ran file, and batchmgr waits for it.
platform shutdown_grace='"10m"' age="\"$T/age\""
mkdir -p "$VAR"
cat >"$T/age" <<EOF2
#!/bin/sh
: >"$T/age.started"
until [ -e "$T/go" ]; do sleep 0.05; done
exec "$AGE" "\$@"
EOF2
cat >"$T/app" <<EOF2
#!/bin/sh
: >"$T/app.ran"
cat >/dev/null
EOF2
chmod 755 "$T/age" "$T/app"
# (mysimbdp keygen would run the age-keygen beside batch.age.)
KEY=$T/sec.key
"$(dirname "$AGE")/age-keygen" -o "$KEY" 2>/dev/null || fail "age-keygen"
chmod 600 "$KEY"
R=$("$(dirname "$AGE")/age-keygen" -y "$KEY")
tenant sec <<CFG
id = "sec";
batch = {
  formats = ["csv"];
  encryption = { method = "age"; keys = [ "$KEY" ]; };
  apps = ( { app = ["$T/app"]; timeout = "10m"; stop_timeout = "10m";
             retries = 0; } );
};
CFG
last() { records '.tenant == "sec" and .file == "a.csv.age"' | tail -n 1; }

start_daemon batchmgr
mkdir -p "$VAR/staging/sec/incoming"
printf 'id,value\n1,one\n' | "$AGE" -r "$R" -o "$VAR/staging/sec/incoming/.a.part"
mv "$VAR/staging/sec/incoming/.a.part" "$VAR/staging/sec/incoming/a.csv.age"
wait_for 60 "age started on a.csv.age" test -e "$T/age.started"
from=$(wc -l <"$BM_LOG")
kill -TERM "$BM_PID"
wait_for 60 "batchmgr to stop" bm_log_after "$from" "stopping: 1 job still running"
: >"$T/go"
wait_for 60 "batchmgr to exit" gone "$BM_PID"
rc=0
wait "$BM_PID" || rc=$?
BM_PID=
assert_eq 0 "$rc" "batchmgr's exit status"
assert_no_file "$T/app.ran"
ok "the app was not started during the shutdown"
r=$(last)
assert_eq retry "$(jq -r .status <<<"$r")" "a.csv.age's status"
assert_eq "interrupted: batchmgr is shutting down; the app runs on the file at the next start" \
	"$(jq -r .reason <<<"$r")" "a.csv.age's reason"
assert_file "$VAR/staging/sec/processing/a.csv.age"
ok "a.csv.age waits in processing/"

start_daemon batchmgr
wait_for 60 "a.csv.age ingested" have_records 1 sec ok
assert_eq "ok true" "$(jq -r '"\(.status) \(.recovered)"' <<<"$(last)")" "a.csv.age's last record"
assert_file "$T/app.ran"
wait_file "$VAR/staging/sec/done/a.csv.age"	# moved after its record
stop_daemon batchmgr

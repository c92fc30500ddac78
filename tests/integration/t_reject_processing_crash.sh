#!/usr/bin/env bash
# A rejection from processing/ (here a decrypt failure) writes its
# rejected/<name>.reason before its move, as one from incoming/ does.
# batchmgr is killed between the two (tests/apps/killshim.c, preloaded,
# SIGKILLs it at the rename processing/a.csv.age -> rejected/) while a
# new upload of the same name waits in incoming/ for the first to be
# done. The next start must not take that reason for one of a rejection
# from incoming/: the new upload must run, with its record; the rejected
# file, left in processing/, is run again (decrypted, rejected again).
# It used to move the new upload to rejected/ with no record, beside a
# reason about the other file. age is a wrapper that waits for the
# test's go file, so the new upload is there first.
# Then the same kill on b.csv.age, but the restart's rerun succeeds (the
# tenant's key for it is added): that start removes the reason left
# alone, and the rerun ends in done/ during a SIGTERM that keeps the new
# upload waiting in incoming/. The start after must claim and run it,
# with its record; the lone reason left behind made it move the upload
# to rejected/ with no record. Skipped without age.
. "$(dirname "$0")/lib.sh"

AGE=$(command -v age) || { echo "SKIP: no age (apt-get install age)"; exit 77; }
preloaded_daemon batchmgr "$MYSIMBDP_BUILD/tests/integration/libkillshim.so"

# A grace and a stop_timeout far longer than any wait below: batchmgr
# waits for the app started before its SIGTERM.
platform shutdown_grace='"10m"' age="\"$T/age\""
cat >"$T/age" <<EOF2
#!/bin/sh
: >"$T/age.started"
until [ -e "$T/go" ]; do sleep 0.05; done
exec "$AGE" "\$@"
EOF2
chmod 755 "$T/age"
KEY=$T/sec.key OTHER=$T/other.key
"$(dirname "$AGE")/age-keygen" -o "$KEY" 2>/dev/null || fail "age-keygen"
"$(dirname "$AGE")/age-keygen" -o "$OTHER" 2>/dev/null || fail "age-keygen"
chmod 600 "$KEY" "$OTHER"
tenant sec <<CFG
id = "sec";
batch = {
  formats = ["csv"];
  encryption = { method = "age"; keys = [ "$KEY" ]; };
  apps = ( { app = ["exit-with", "0"]; } );
};
CFG
S=$VAR/staging/sec
mkdir -p "$S/incoming"
# encrypt KEYFILE OUT: a small CSV encrypted for KEYFILE's recipient.
encrypt() {
	printf 'id,value\n1,one\n' |
		"$AGE" -r "$("$(dirname "$AGE")/age-keygen" -y "$1")" -o "$2"
}
encrypt "$OTHER" "$T/scratch/first"	# no identity of the tenant's opens it
encrypt "$KEY" "$T/scratch/second"

KILLSHIM_FROM=processing/ KILLSHIM_TO=rejected/ start_daemon batchmgr
cp "$T/scratch/first" "$T/scratch/f"
mv "$T/scratch/f" "$S/incoming/a.csv.age"
wait_for 20 "age started on the first a.csv.age" test -e "$T/age.started"
assert_file "$S/processing/a.csv.age"
cp "$T/scratch/second" "$T/scratch/f"
mv "$T/scratch/f" "$S/incoming/a.csv.age"
: >"$T/go"
rc=0
reap "$BM_PID" "batchmgr killed by the shim" || rc=$?	# if it gets to the move
BM_PID=
assert_eq 137 "$rc" "batchmgr's exit status (SIGKILL)"
grep -q "^killshim: SIGKILL at rename processing/a.csv.age -> rejected/a.csv.age" \
	"$BM_LOG" || fail "not killed at the rejection's move"
assert_file "$S/rejected/a.csv.age.reason"
assert_no_file "$S/rejected/a.csv.age"
cmp -s "$T/scratch/first" "$S/processing/a.csv.age" || fail "processing/ lost the first"
cmp -s "$T/scratch/second" "$S/incoming/a.csv.age" || fail "incoming/ lost the second"
assert_eq 1 "$(count sec rejected)" "the first's rejected record"
ok "killed between the rejection's reason and its move"

start_daemon batchmgr
wait_for 60 "the second a.csv.age run" have_records 1 sec ok
wait_for 20 "the first rejected again" have_records 2 sec rejected
wait_for 20 "processing/ empty" test ! -e "$S/processing/a.csv.age"
cmp -s "$T/scratch/second" "$S/done/a.csv.age" || fail "done/ does not hold the second"
cmp -s "$T/scratch/first" "$S/rejected/a.csv.age" || fail "rejected/ does not hold the first"
assert_no_file "$S/rejected/a.csv.age.1"
grep -q "finished the move" "$BM_LOG" &&
	fail "the start finished a rejection from incoming/ that never was"
ok "the new upload ran; the file rejected from processing/ was run again"
stop_daemon batchmgr

# b.csv.age: the rerun of the file whose rejection was cut succeeds.
rm -f "$T/go" "$T/age.started"
KILLSHIM_FROM=processing/b.csv.age KILLSHIM_TO=rejected/ start_daemon batchmgr
cp "$T/scratch/first" "$T/scratch/f"
mv "$T/scratch/f" "$S/incoming/b.csv.age"
wait_for 20 "age started on the first b.csv.age" test -e "$T/age.started"
cp "$T/scratch/second" "$T/scratch/f"
mv "$T/scratch/f" "$S/incoming/b.csv.age"
: >"$T/go"
rc=0
reap "$BM_PID" "batchmgr killed by the shim at b.csv.age" || rc=$?
BM_PID=
assert_eq 137 "$rc" "batchmgr's exit status (SIGKILL at b.csv.age)"
assert_file "$S/rejected/b.csv.age.reason"
assert_no_file "$S/rejected/b.csv.age"
assert_file "$S/processing/b.csv.age"

# The key the first was encrypted for is added, and the app waits for
# the test's app.go file, so a SIGTERM comes while it runs.
cat >"$T/app" <<EOF2
#!/bin/sh
: >"$T/app.started"
until [ -e "$T/app.go" ]; do sleep 0.05; done
cat >/dev/null
EOF2
chmod 755 "$T/app"
tenant sec <<CFG
id = "sec";
batch = {
  formats = ["csv"];
  encryption = { method = "age"; keys = [ "$KEY", "$OTHER" ]; };
  apps = ( { app = ["$T/app"]; timeout = "10m"; stop_timeout = "10m"; } );
};
CFG
b_ok() { records '.tenant == "sec" and .file == "b.csv.age" and .status == "ok"' | wc -l; }
b_ran() { [ "$(b_ok)" -ge "$1" ]; }
start_daemon batchmgr
wait_for 60 "the app started on the first b.csv.age" test -e "$T/app.started"
from=$(wc -l <"$BM_LOG")
kill -TERM "$BM_PID"
wait_for 60 "batchmgr to stop" bm_log_after "$from" "stopping: 1 job still running"
: >"$T/app.go"
wait_for 60 "batchmgr to exit" gone "$BM_PID"
rc=0
wait "$BM_PID" || rc=$?
BM_PID=
assert_eq 0 "$rc" "batchmgr's exit status"
assert_eq 1 "$(b_ok)" "b.csv.age's ok records"
cmp -s "$T/scratch/first" "$S/done/b.csv.age" || fail "done/ does not hold the first b.csv.age"
cmp -s "$T/scratch/second" "$S/incoming/b.csv.age" || fail "incoming/ lost the second b.csv.age"
assert_no_file "$S/rejected/b.csv.age"
ok "the rerun ended in done/ during a stop; the new upload waits in incoming/"

from=$(wc -l <"$BM_LOG")
start_daemon batchmgr
wait_for 60 "the second b.csv.age run" b_ran 2
assert_no_file "$S/rejected/b.csv.age"
assert_no_file "$S/rejected/b.csv.age.reason"
assert_no_file "$S/incoming/b.csv.age"
bm_log_after "$from" "finished the move" &&
	fail "a later start finished a rejection from incoming/ that never was"
ok "a later start ran the new b.csv.age"
stop_daemon batchmgr

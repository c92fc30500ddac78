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
# test's go file, so the new upload is there first. Skipped without age.
. "$(dirname "$0")/lib.sh"

AGE=$(command -v age) || { echo "SKIP: no age (apt-get install age)"; exit 77; }
SHIM=$MYSIMBDP_BUILD/tests/integration/libkillshim.so
assert_file "$SHIM"
# Under ASan its runtime must come first among the preloaded libraries.
preload=$SHIM
if sanitized; then
	preload=$(ldd "$BATCHMGR" | awk '/libasan/ { print $3 }'):$SHIM
fi
REAL_BATCHMGR=$BATCHMGR
BATCHMGR=$T/batchmgr
printf '#!/bin/sh\nLD_PRELOAD="%s" exec "%s" "$@"\n' "$preload" \
	"$REAL_BATCHMGR" >"$BATCHMGR"
chmod 755 "$BATCHMGR"

platform age="\"$T/age\""
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
wait "$BM_PID" || rc=$?
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

#!/usr/bin/env bash
# batchmgr killed at the narrowest moments of a file's last move, which
# t_chaos's random kills almost never hit: gdb stops it right after the
# rename of the file into done/, failed/ or rejected/ and kills it
# there (SIGKILL). After a restart every file must be in its place with
# its record in log/ingest.jsonl, and a rejected one with its .reason: a
# rerun may add a record, none may be missing. Skipped without gdb (or
# when the system does not let it attach).
. "$(dirname "$0")/lib.sh"

command -v gdb >/dev/null || { echo "SKIP: gdb is not installed"; exit 77; }

platform
tenant acme <<CFG
id = "acme";
batch = {
  formats = ["csv"];
  apps = ( { app = ["exit-with", "0"]; timeout = "20s"; retries = 0; },
           { name = "bad"; app = ["exit-with", "1"]; datasets = ["bad"];
             timeout = "20s"; retries = 0; } );
};
CFG
tenant old <<CFG
id = "old";
batch = {
  formats = ["csv"];
  retention = "1s";
  apps = ( { app = ["exit-with", "0"]; timeout = "20s"; retries = 0; } );
};
CFG
start_daemon batchmgr

# kill_after_move AREA WHAT DROP...: attaches gdb to batchmgr, stops it
# when state_move into AREA (an enum stage_area name) returns, kills it
# there, then runs DROP... (the drop that leads to that move).
kill_after_move() {
	kill_after "state_move if to == $1" "$@"
}

# kill_after BREAK NAME WHAT DROP...: the same for any breakpoint BREAK
# (a function whose return gdb waits for), its output in gdb.NAME.
kill_after() {
	local bp=$1 area=$2 what=$3 out=$T/out/gdb.$2
	shift 3
	gdb_start "$BM_PID" "$out" "break $bp" continue finish kill
	if ! wait_for_gdb "$out" "$GDB_PID"; then
		echo "SKIP: gdb cannot attach to batchmgr: $(tail -n 3 "$out")"
		exit 77
	fi
	"$@"
	gdb_wait "$out"
	local rc=0
	reap "$BM_PID" "batchmgr killed by gdb" || rc=$?
	BM_PID=
	[ $rc = 137 ] || fail "$what: batchmgr was not killed by gdb (status $rc): $(cat "$out")"
	grep -q 'Value returned is .* = 0$' "$out" ||
		fail "$what: gdb did not see ${bp%% *} return 0: $(cat "$out")"
	ok "$what: batchmgr killed right after ${bp%% *} (${area#AREA_})"
}

# has_record TENANT FILE STATUS: at least one such record.
has_record() {
	[ "$(records ".tenant == \"$1\" and .file == \"$2\" and .status == \"$3\"" | wc -l)" -ge 1 ]
}

kill_after_move AREA_DONE "ok" drop acme good.csv
assert_file "$VAR/staging/acme/done/good.csv"
start_daemon batchmgr
wait_for 20 "the ok record of good.csv" has_record acme good.csv ok
assert_eq 0 "$(files_in acme processing)" "good.csv: nothing left in processing/"
assert_file "$VAR/staging/acme/done/good.csv"

kill_after_move AREA_FAILED "failed" drop acme bad/bad.csv
assert_file "$VAR/staging/acme/failed/bad/bad.csv"
start_daemon batchmgr
wait_for 20 "the failed record of bad.csv" has_record acme bad.csv failed
assert_eq 0 "$(files_in acme processing)" "bad.csv: nothing left in processing/"

kill_after_move AREA_REJECTED "rejected" drop acme notes.txt
assert_file "$VAR/staging/acme/rejected/notes.txt"
start_daemon batchmgr
wait_for 20 "the rejected record of notes.txt" has_record acme notes.txt rejected
assert_file "$VAR/staging/acme/rejected/notes.txt.reason"
grep -q '^format' "$VAR/staging/acme/rejected/notes.txt.reason" ||
	fail "notes.txt.reason: $(cat "$VAR/staging/acme/rejected/notes.txt.reason")"
ok "notes.txt: its reason beside it"
assert_eq 0 "$(find "$VAR/staging/acme/incoming" -type f | wc -l)" "nothing left in incoming/"
stop_daemon batchmgr

# A retention removal (made when batchmgr starts, for files kept longer
# than retention): batchmgr runs under gdb, killed right after the unlink
# of gone.csv; the removed record must be there (it is written first: a
# rerun may repeat it, none may miss it).
start_daemon batchmgr
drop old gone.csv
wait_for 20 "gone.csv in done/" test -e "$VAR/staging/old/done/gone.csv"
stop_daemon batchmgr
old_enough() { [ $(( $(date +%s) - $(stat -c %Z "$VAR/staging/old/done/gone.csv") )) -ge 2 ]; }
wait_for 10 "gone.csv older than its retention" old_enough
out=$T/out/gdb.retention
rc=0
timeout $(( 60 * TIME_FACTOR )) gdb -batch -nx -ex 'set confirm off' \
	-ex 'break unlinkat if $_streq((char *)$rsi, "gone.csv")' -ex run \
	-ex finish -ex kill --args "$MYSIMBDP_BUILD/manager/batchmgr" -d -c \
	"$T/conf/mysimbdp.cfg" >"$out" 2>&1 || rc=$?
# (libc has no debug information: gdb shows where unlinkat returned to.)
grep -q 'in sweep_entry ' "$out" || {
	echo "SKIP: gdb could not stop batchmgr at the unlink (status $rc): $(tail -n 3 "$out")"
	exit 77
}
assert_no_file "$VAR/staging/old/done/gone.csv"
ok "retention: batchmgr killed right after the unlink of gone.csv"
start_daemon batchmgr
wait_for 20 "the removed record of gone.csv" has_record old gone.csv removed
ok "gone.csv: its removal recorded"
stop_daemon batchmgr

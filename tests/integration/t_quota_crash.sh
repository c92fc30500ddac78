#!/usr/bin/env bash
# A quota rejection cut short by a kill: batchmgr killed (from gdb)
# after the rejected record and the reason are written, before the file
# moves to rejected/. The restart, whose quota window starts empty, must
# finish the rejection (b.csv in rejected/ with its quota reason, no
# second record), not ingest the file. A file an operator moves back
# from rejected/ to incoming/ (its reason left behind) while batchmgr is
# stopped is looked at afresh. Skipped without gdb.
. "$(dirname "$0")/lib.sh"

command -v gdb >/dev/null || { echo "SKIP: gdb is not installed"; exit 77; }

platform
simple_tenant acme '"exit-with", "0"' 'quota = { window = "1h"; max_files = 1; };'
start_daemon batchmgr
drop acme a.csv
wait_for 20 "a.csv in done/" test -e "$VAR/staging/acme/done/a.csv"

out=$T/out/gdb
# kill_at_reject FILE: drops FILE and kills batchmgr (from gdb) between
# its rejected record and its move.
kill_at_reject() {
	gdb_start "$BM_PID" "$out" 'break state_move if to == AREA_REJECTED' \
		continue kill
	if ! wait_for_gdb "$out" "$GDB_PID"; then
		echo "SKIP: gdb cannot attach to batchmgr: $(tail -n 3 "$out")"
		exit 77
	fi
	drop acme "$1"
	gdb_wait "$out"
	rc=0
	reap "$BM_PID" "batchmgr killed by gdb" || rc=$?
	BM_PID=
	[ $rc = 137 ] || fail "batchmgr was not killed by gdb (status $rc): $(cat "$out")"
	assert_file "$VAR/staging/acme/incoming/$1"
	assert_file "$VAR/staging/acme/rejected/$1.reason"
	ok "killed between $1's rejected record and its move"
}
kill_at_reject b.csv

b_records() { records '.tenant == "acme" and .file == "b.csv"'; }
start_daemon batchmgr
wait_for 20 "b.csv to leave incoming/" eval '[ "$(files_in acme incoming)" = 0 ]'
assert_file "$VAR/staging/acme/rejected/b.csv"
grep -q '^quota' "$VAR/staging/acme/rejected/b.csv.reason" ||
	fail "b.csv.reason: $(cat "$VAR/staging/acme/rejected/b.csv.reason")"
assert_eq "rejected" "$(b_records | jq -r .status | paste -sd' ' -)" "b.csv's records"
ok "b.csv in rejected/ with its quota reason, recorded once"
stop_daemon batchmgr

# The operator moves b.csv back while batchmgr is stopped: a new start
# (its quota window empty) ingests it.
mv "$VAR/staging/acme/rejected/b.csv" "$VAR/staging/acme/incoming/b.csv"
start_daemon batchmgr
wait_for 20 "b.csv moved back, ingested" have_records 2 acme ok
assert_eq "rejected ok" "$(b_records | jq -r .status | paste -sd' ' -)" "b.csv's records"
wait_file "$VAR/staging/acme/done/b.csv"	# moved after its record
stop_daemon batchmgr

# The same cut short, then a stop longer than the retention: the start's
# sweep came first and removed the lone reason, so the file was looked
# at afresh and ingested (a rejected and an ok record). The start now
# finishes the rejection first; the sweep then removes the old reason.
sed -i 's/quota = {/retention = "1s"; quota = {/' "$T/conf/tenants/acme.cfg"
start_daemon batchmgr
drop acme d.csv			# the window's one file
wait_for 20 "d.csv in done/" test -e "$VAR/staging/acme/done/d.csv"
kill_at_reject c.csv
reason=$VAR/staging/acme/rejected/c.csv.reason
old_enough() { [ $(( $(date +%s) - $(stat -c %Z "$reason") )) -ge 2 ]; }
wait_for 10 "c.csv's reason older than the retention" old_enough
start_daemon batchmgr
wait_for 20 "c.csv to leave incoming/" eval '[ "$(files_in acme incoming)" = 0 ]'
assert_file "$VAR/staging/acme/rejected/c.csv"
assert_eq "rejected" "$(records '.tenant == "acme" and .file == "c.csv"' | jq -r .status | paste -sd' ' -)" \
	"c.csv's records after a stop longer than the retention"
ok "a rejection cut short is finished before the sweep, whatever the stop's length"
stop_daemon batchmgr

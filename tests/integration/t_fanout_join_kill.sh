#!/bin/bash
# A subscription added by reload gets only the messages accepted from
# then on, after a restart too. Its settled list is made in a file of
# its own with its JOINING entry, synced, then renamed into place: gdb
# kills streammgr at that first write, and the next start makes the
# list afresh (joining), the three messages held before it not its own.
# Before, the list was created empty and then written: killed between
# the two, it read as an old member's and took all three.
. "$(dirname "$0")/lib.sh"
command -v gdb >/dev/null || { echo "SKIP: gdb is not installed"; exit 77; }
platform
profile() { main_stream 'min = 0; max = 1; initial = 0;' fsync "${1:-}"; }
backlog_is() { [ "$(substat "$1" .backlog)" = "$2" ]; }
profile ""
start_daemon streammgr
send_keys alpha 1 3 >/dev/null || fail send
wait_for 20 "default holding k1..k3" backlog_is default 3
profile 'subscriptions = ( { name = "slow"; app = [ "'"$STREAMAPP"'", "-C", "slow" ];
	    instances = { min = 0; max = 1; initial = 0; }; } );'
out=$T/out/gdb.join
gdb_start "$SM_PID" "$out" 'break settled_open if $rsi == 1' continue \
	'break write' continue 'bt 3' kill
wait_for_gdb "$out" "$GDB_PID" || { echo "SKIP: gdb: $(tail -n 3 "$out")"; exit 77; }
kill -HUP "$SM_PID"
gdb_wait "$out"
reap "$SM_PID" "streammgr killed by gdb" || true
grep -A3 "^#0" "$out" | head -4 | sed 's/^/# /'
start_daemon streammgr
wait_for 20 "default's 3 restored" backlog_is default 3
echo "# default.slow backlog after restart: $(substat default.slow .backlog)"
assert_eq 0 "$(substat default.slow .backlog)" "default.slow gets none of the messages accepted before it"
ok "a subscription added while messages wait takes none of them across a kill"

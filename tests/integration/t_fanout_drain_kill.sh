#!/bin/bash
# A drained subscription takes no copies of new messages: each is noted
# as settled in its list ("never take this number"), and after a restart
# (which does not keep the drain) it does not get them either
# (docs/architecture.md, "Fan-out"), across a SIGKILL too: the entries
# are written before the messages' journal record, not at the end of the
# loop's turn. gdb kills streammgr in that turn's flush (on_flush), after
# the journal's write; at the restart default.slow holds nothing. Before,
# it held k1, accepted while it was drained.
. "$(dirname "$0")/lib.sh"
command -v gdb >/dev/null || { echo "SKIP: gdb is not installed"; exit 77; }

platform
main_stream "min = 0; max = 1; initial = 0;" fsync "subscriptions = ( {
    name = \"slow\";
    app = [ \"$STREAMAPP\", \"-C\", \"slow\" ];
    instances = { min = 0; max = 1; initial = 0; };
  } );"

backlog_is() { [ "$(substat "$1" .backlog)" = "$2" ]; }

start_daemon streammgr
cli drain alpha --stream default.slow >"$T/out/drain" 2>&1 ||
	fail "drain default.slow: $(cat "$T/out/drain")"
wait_for 20 "default.slow drained" eval '[ "$(substat default.slow .state)" = drained ]'

out=$T/out/gdb.drain
gdb_start "$SM_PID" "$out" 'break on_flush' continue 'bt 3' kill
wait_for_gdb "$out" "$GDB_PID" || { echo "SKIP: gdb cannot attach: $(tail -n 3 "$out")"; exit 77; }
# No OK comes (streammgr is killed before the sync's reply); k1 is on
# disk all the same: written before the flush.
seq 1 1 | sed "s/^/k/" | cli send alpha --timeout 2s >"$T/out/send" 2>&1 || true
gdb_wait "$out"
reap "$SM_PID" "streammgr killed by gdb" || true
grep -q '^#0 .*on_flush' "$out" || fail "not killed in on_flush: $(cat "$out")"
ok "streammgr SIGKILLed in the flush of k1's turn"

start_daemon streammgr
wait_for 20 "default's k1 restored" backlog_is default 1
echo "# default.slow: state $(substat default.slow .state), backlog $(substat default.slow .backlog)"
assert_eq 0 "$(substat default.slow .backlog)" \
	"default.slow gets none of the messages accepted while it was drained"
ok "a drained subscription's refused message stays refused across a SIGKILL"

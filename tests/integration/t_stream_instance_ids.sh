#!/bin/bash
# Instance ids are never handed out twice for a stream, across a clean
# restart and a SIGKILL of streammgr: an id names an instance's files,
# and "<stream>-1" after every restart made them collide. A garbled
# record of the numbers is a clear error, not a reuse.
. "$(dirname "$0")/lib.sh"

platform
stream_tenant alpha 'instances = { min = 2; max = 2; };'
ids() { cli status alpha --json | jq -r '.streams[0].instances[].id' | sort; }
start_daemon streammgr
wait_for 20 "two instances" ready_is alpha 2
ids >"$T/out/ids1"
stop_daemon streammgr
start_daemon streammgr
wait_for 20 "two instances after the restart" ready_is alpha 2
ids >"$T/out/ids2"
kill9_daemon streammgr
start_daemon streammgr
wait_for 20 "two instances after SIGKILL" ready_is alpha 2
ids >"$T/out/ids3"
all=$(cat "$T/out/ids1" "$T/out/ids2" "$T/out/ids3")
assert_eq 6 "$(sort -u <<<"$all" | wc -l)" "six instances, six ids: $(echo $all)"
ok "no id came back after a restart or a SIGKILL: $(echo $all)"
stop_daemon streammgr

echo garbage >"$VAR/queue/alpha/default/instances"
start_daemon streammgr
wait_for 20 "the error in the log" sm_log_has "queue/alpha/default/instances: not a number of instances"
ok "a garbled instances file is named in the log"
stop_daemon streammgr

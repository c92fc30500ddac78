#!/usr/bin/env bash
# SIGKILL of batchmgr while apps run, then a restart: every file ends in
# done/ exactly once, and the records show the reruns.
. "$(dirname "$0")/lib.sh"

platform workers=2
simple_tenant acme '"sleepy", "0.4"' 'max_concurrent = 2;'
start_daemon batchmgr

mkdir -p "$T/scratch/f"
for i in $(seq 1 8); do echo "id" >"$T/scratch/f/f$i.csv"; done
move_all "$T/scratch/f" "$VAR/staging/acme/incoming"

for round in 1 2; do
	# Kill while two apps are running: right after a job has started.
	wait_for 20 "round $round: a job running" bm_running
	kill9_daemon batchmgr
	ok "round $round: batchmgr killed with $(files_in acme processing) files in processing/"
	start_daemon batchmgr
done
wait_for 60 "every file done" bash -c "[ \$(find '$VAR/staging/acme/done' -type f | wc -l) -ge 8 ]"
assert_eq 0 "$(files_in acme processing)" "processing/ drained"
assert_eq 0 "$(files_in acme incoming)" "incoming/ drained"
assert_eq "$(printf 'f%s.csv\n' $(seq 1 8) | sort)" \
	"$(ls "$VAR/staging/acme/done" | sort)" "each file in done/ exactly once"
reruns=$(records '.recovered == true and .status == "ok"' | wc -l)
[ "$reruns" -ge 1 ] || fail "no record shows a rerun"
ok "$reruns ok records are marked as reruns (recovered)"
grep -q "left in processing/" "$BM_LOG" || fail "the rerun is not logged"
stop_daemon batchmgr

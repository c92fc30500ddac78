#!/usr/bin/env bash
# The demo of scripts/run, as a new operator runs it, but without a
# terminal: the sample tenants and the sample configuration, the binaries
# of this build, the state in a temporary folder. What the operator would
# check: data from the three tenants reaches the store (initech's through
# its Python apps and producer), the dashboard shows the
# burst scaling acme up (and down after its 30 s scale_down_delay), Ctrl-C
# (SIGINT to the whole process group, as a terminal sends it) stops every
# daemon and app cleanly, and the next run starts from the state left.
. "$(dirname "$0")/lib.sh"

OUT=$T/run.out
RUN_PID=
# A failed run must not leave the demo's daemons behind: they are in the
# demo's process group (its apps are in groups of their own and die with
# their daemon through PR_SET_PDEATHSIG).
on_cleanup() { [ -z "$RUN_PID" ] || kill -KILL -- "-$RUN_PID" 2>/dev/null || true; }

# A sanitized build's apps cannot live under the sample profiles' memory
# limits (RLIMIT_AS: ASan reserves terabytes of address space): there the
# demo runs on copies of the profiles without them.
PROFILES=()
if sanitized; then
	mkdir -p "$T/tenants"
	for f in "$MYSIMBDP_SRC"/conf/tenants/*.cfg; do
		sed -E 's/ *memory = "[^"]*";//' "$f" >"$T/tenants/${f##*/}"
	done
	PROFILES=(--tenants "$T/tenants")
	ok "sanitized build: the sample profiles without their memory limits"
fi

# run_demo ARGS...: starts scripts/run in a process group of its own. With
# job control on, bash leaves SIGINT at its default in the background job,
# as in a terminal (it ignores SIGINT in background jobs otherwise).
run_demo() {
	: >"$OUT"
	set -m
	"$MYSIMBDP_SRC/scripts/run" --build "$MYSIMBDP_BUILD" --state "$VAR" \
		--http-port 0 "${PROFILES[@]}" "$@" >"$OUT" 2>&1 &
	RUN_PID=$!
	set +m
}
out_has() { grep -Eq -- "$1" "$OUT"; }
daemon_pid() { sed -n "s/^$1 is running (pid \([0-9]*\)).*/\1/p" "$OUT" | tail -n 1; }

# ctrl_c: SIGINT to the demo's process group; it must exit 0 by itself.
ctrl_c() {
	local rc=0
	kill -INT -- "-$RUN_PID"
	wait_for 60 "scripts/run to exit after SIGINT" gone "$RUN_PID"
	wait "$RUN_PID" || rc=$?
	assert_eq 0 "$rc" "scripts/run exits 0 after Ctrl-C"
	RUN_PID=
}

# store_count TENANT COLLECTION: documents in the embedded store.
store_count() {
	local dir=$VAR/coredms/$1/$2
	[ -d "$dir" ] || { echo 0; return; }
	"$BSONCOUNT" "$dir" | wc -l
}

# ---- the demo --------------------------------------------------------
run_demo
wait_for 60 "the three daemons to start" out_has "batchmgr is running"
pids=("$(daemon_pid monitor)" "$(daemon_pid streammgr)" "$(daemon_pid batchmgr)")
ok "monitor, streammgr and batchmgr started (pids ${pids[*]})"

wait_for 60 "the burst to be sent" out_has "^stream +acme: sent [0-9]{5}"
wait_for 60 "acme/default to scale up on the dashboard" dash_has "acme/default scale-up 1->"
wait_for 10 "the scale-up in scripts/run's output" out_has "^dashboard .* acme/default scale-up 1->"
ok "the dashboard shows the burst scaling acme up: $(grep -m1 'acme/default scale-up' "$DASH" | cut -d' ' -f4-)"

# Both tenants' data in the store: the batch apps' files and the stream
# apps' upserts.
wait_for 60 "the three tenants' sample files ingested" bash -c \
	"[ \"\$(jq -r 'select(.status == \"ok\") | .tenant' '$INGEST' | sort -u | tr '\n' ' ')\" = 'acme globex initech ' ]"
ok "the three tenants' sample files ingested ok (initech's by a Python app)"
# initech's file: 300 rows, 2 that do not convert and 1 out of range.
assert_eq "297 3" "$(jq -r 'select(.tenant == "initech" and .status == "ok") | "\(.rows) \(.rejected_rows)"' "$INGEST")" \
	"initech's Python batch app: rows and rejected rows"
out_has "^stream +initech: sent 200: 200 ok" || fail "initech's Python producer: $(grep 'initech: sent' "$OUT")"
ok "initech's Python producer had its 200 messages stored"
assert_eq "acme globex" "$(jq -r 'select(.status == "rejected") | .tenant' "$INGEST" | sort | tr '\n' ' ' | sed 's/ $//')" \
	"one bad sample file of each tenant rejected"
wait_for 60 "initech's stream messages upserted" eval \
	'[ "$(store_count initech readings_live)" = 197 ]'
ok "initech's Python stream app upserted 197 readings (3 malformed: dead letters)"
for c in acme/listings acme/listings_live globex/cases globex/cases_live \
	initech/readings initech/readings_live; do
	n=$(store_count "${c%/*}" "${c#*/}")
	[ "$n" -gt 0 ] || fail "no documents in the store's $c"
	ok "$c holds $n documents"
done
wait_for 60 "acme's burst fully acknowledged" bash -c \
	"[ \"\$('$CLI' -c '$VAR/run.cfg' control '{\"cmd\":\"status\",\"tenant\":\"acme\"}' | jq '.streams[0].backlog + .streams[0].inflight')\" = 0 ]"
assert_eq 5000 "$(store_count acme listings_live)" "the burst's 5,000 listings are in listings_live (the sample's 100 among them)"

wait_for 90 "acme/default to scale down after its scale_down_delay" dash_has "acme/default scale-down [0-9]+->"
ok "the dashboard shows acme scaling down again"

# ---- Ctrl-C ------------------------------------------------------------
ctrl_c
for pid in "${pids[@]}"; do
	running "$pid" && fail "daemon pid $pid still running after Ctrl-C"
done
ok "no daemon left running"
! out_has "did not stop within" || fail "scripts/run had to kill: $(grep 'did not stop' "$OUT")"
for d in batchmgr streammgr monitor-daemon; do
	tail -n 1 "$VAR/log/$d.log" | grep -q ": stopped$" || fail "$d.log does not end with a clean stop"
done
ok "each daemon logged a clean stop"
grep -q "streammgr: tenant .*: instance .* exited 0" "$VAR/log/streammgr.log" ||
	fail "the stream apps were not stopped gracefully"
ok "the stream apps exited 0 on their SIGTERM"
out_has "^stopped; the next scripts/run goes on from" || fail "no summary after Ctrl-C"
assert_eq 0 "$(find "$VAR/staging" -path '*/processing/*' -type f | wc -l)" "no file left in processing/"

# ---- the next run ------------------------------------------------------
# It starts from the state left: the queues are restored (nothing lost,
# nothing damaged) and the platform runs without the demo's feed.
run_demo --no-demo
wait_for 60 "the second run's daemons to start" out_has "batchmgr is running"
sm_log_lines=$(grep -c 'streammgr: started' "$VAR/log/streammgr.log")
assert_eq 2 "$sm_log_lines" "streammgr started twice on the same state"
grep -q "damaged\|lost" "$VAR/log/streammgr.log" && fail "streammgr found damage in the queue left by Ctrl-C"
ok "the queue left by Ctrl-C restores without damage"
wait_for 30 "streammgr's status in the second run" bash -c \
	"'$CLI' -c '$VAR/run.cfg' control '{\"cmd\":\"status\"}' | jq -e '.streams | length == 3'"
ctrl_c
ok "the second run stops cleanly too"
# Under sanitizers, the daemons' and apps' reports land in their logs.
if grep -r -l -E 'runtime error|Sanitizer' "$VAR/log" >&2; then
	fail "sanitizer reports in the logs above"
fi
ok "no sanitizer reports in the daemons' and apps' logs"

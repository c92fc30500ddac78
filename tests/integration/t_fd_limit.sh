#!/bin/bash
# A tenant opens connections to its sockets until the daemon has no
# descriptor left (its limit lowered here so that 60 suffice). libzmq's
# IPC listener asserts on EMFILE: without a descriptor held in reserve
# the monitor and streammgr aborted. Now the connections past the limit
# are closed at once, the operator is told which socket, and once the
# tenant lets go the daemons serve as before.
. "$(dirname "$0")/lib.sh"

platform
stream_tenant alpha
start_daemon monitor
start_daemon streammgr
wait_for 20 "alpha's instance" ready_is alpha 1

# hold SOCKET N: N connections to SOCKET, held until killed; says
# "held" in $T/out/held.<pid> once every connect returned.
hold() {
	python3 - "$1" "$2" "$T/out" <<-'PYEOF' &
	import os, signal, socket, sys
	path, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
	held = []
	for _ in range(n):
	    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	    s.connect(path)
	    held.append(s)
	with open(os.path.join(out, "held.%d" % os.getpid()), "w") as f:
	    f.write("held %d\n" % len(held))
	signal.pause()
	PYEOF
	HOLDER=$!
	STARTED_PIDS+=("$HOLDER")
}

# exhaust NAME PID SOCKET: lowers daemon NAME's descriptor limit to what
# it holds now and 20 more, has 60 connections held to SOCKET, waits for
# the warning, then lets them go.
exhaust() {
	local name=$1 pid=$2 sock=$3 log=$4 from open
	from=$(wc -l <"$log")
	open=$(ls "/proc/$pid/fd" | wc -l)
	prlimit --pid "$pid" --nofile=$((open + 20)):$((open + 20)) ||
		fail "prlimit $name"
	hold "$sock" 60
	wait_file "$T/out/held.$HOLDER"
	wait_for 30 "$name's warning" log_after "$log" "$from" \
		"descriptor limit: closed .* to ${sock}"
	running "$pid" || fail "$name died"
	kill "$HOLDER"
	wait "$HOLDER" 2>/dev/null || true
	ok "$name lived through its descriptor limit on $(basename "$sock")"
}

exhaust monitor "$MON_PID" "$VAR/run/alpha/metrics.sock" "$MON_LOG"
push_reports "ipc://$VAR/run/alpha/metrics.sock" 1 1
wait_for 30 "the report after the flood" prom_at_least \
	'mysimbdp_batch_reports_total{tenant="alpha"}' 1
ok "the monitor takes reports again"

exhaust streammgr "$SM_PID" "$VAR/run/alpha/default.in" "$SM_LOG"
rc=0; send_keys alpha 1 20 >"$T/out/send" 2>&1 || rc=$?
assert_eq 0 $rc "the send after the flood: $(cat "$T/out/send")"
assert_eq "sent 20, accepted 20, rejected 0, throttled 0, unanswered 0" \
	"$(head -n 1 "$T/out/send")" "the messages after the flood"
wait_for 30 "the 20 acks" acked_at_least alpha 20
ok "streammgr takes messages again"

stop_daemon streammgr
stop_daemon monitor

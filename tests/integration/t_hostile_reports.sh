#!/usr/bin/env bash
# Hostile metric reports (tests/hostile/reports/reports.msgs: empty, NUL,
# not UTF-8, BSON, two frames, two objects, deep nesting, oversized, wrong
# types, floats, overflow, extended JSON, repeated keys, another tenant)
# pushed by rawzmq to a real monitor: each is counted under the reason
# expected.tsv documents, only the good one is taken, a 2 MB report is
# cut by ZeroMQ, and the monitor serves on (Prometheus) and exits cleanly
# (under ASan: without a leak). t_monitor_bad_reports has the ordinary
# bad reports; these are the hostile ones.
. "$(dirname "$0")/lib.sh"
CORPUS=$MYSIMBDP_SRC/tests/hostile/reports
RAW=$MYSIMBDP_BUILD/tests/integration/rawzmq

platform 'monitor.max_report_size="1K"'
stream_tenant alpha
stream_tenant beta
start_daemon monitor
EP=ipc://$VAR/run/alpha/metrics.sock
taken='mysimbdp_batch_reports_total{tenant="alpha"}'
dropped() { echo "mysimbdp_monitor_reports_dropped_total{tenant=\"alpha\",reason=\"$1\"}"; }

"$RAW" "$EP" push <"$CORPUS/reports.msgs" >/dev/null || fail "rawzmq could not send"
# One connection keeps the order: once the last (good) one is taken,
# every report before it has been judged.
wait_for 20 "the good reports" prom_at_least "$taken" 2
while IFS=$'\t' read -r reason n; do
	case $reason in '#'*|'') continue ;; taken) s=$taken ;; *) s=$(dropped "$reason") ;; esac
	assert_eq "$n" "$(prom_value "$s")" "$reason: $n"
done <"$CORPUS/expected.tsv"
assert_eq 0 "$(prom_value 'mysimbdp_batch_reports_total{tenant="beta"}')" "nothing counted for beta"

echo 'r:2000000:x' | "$RAW" "$EP" push >/dev/null || fail "rawzmq could not send 2 MB"
echo 't:{"v":1,"app":"batch","instance":"j","window_ms":1,"rows":1}' |
	"$RAW" "$EP" push >/dev/null || fail "rawzmq could not send"
wait_for 20 "a good report after the 2 MB one" prom_at_least "$taken" 3
assert_eq 1 "$(prom_value "$(dropped oversized)")" "the 2 MB report never reached the parser"
# Three frames of 900,000 bytes: each under the 1 MiB a frame, the
# message over it; the connection is cut before the whole is buffered,
# so the message is never counted (libzmq's PULL took it whole, 2.7 MB,
# and it came out as malformed: several frames).
echo 'r:900000:x r:900000:x r:900000:x' | "$RAW" "$EP" push >/dev/null ||
	fail "rawzmq could not send three frames of 900 KB"
echo 't:{"v":1,"app":"batch","instance":"k","window_ms":1,"rows":1}' |
	"$RAW" "$EP" push >/dev/null || fail "rawzmq could not send"
wait_for 20 "a good report after the three frames" prom_at_least "$taken" 4
assert_eq "$(awk -F'\t' '$1 == "malformed" { print $2 }' "$CORPUS/expected.tsv")" \
	"$(prom_value "$(dropped malformed)")" "the 2.7 MB message was never read whole"

# Eight connections, each partway through a report of 900,000 bytes
# (800,000 sent, in a buffer grown to 1 MiB), held open: the monitor
# holds 4 MiB of such input for a tenant's apps in all (PARTWAY_MAX in
# monitor/collect.c), so four stay and four are cut, the largest first;
# a good report still comes. Without the bound all eight stayed (and
# 100 held 102 MB).
python3 - "$VAR/run/alpha/metrics.sock" <<'PYEOF' >"$T/partway" &
import fcntl, select, signal, socket, struct, sys, termios, time
greeting = b"\xff" + bytes(8) + b"\x7f\x03\x01NULL" + bytes(48)
ready = (b"\x04\x1a\x05READY\x0bSocket-Type" + struct.pack(">I", 4) +
    b"PUSH")
held = []
for _ in range(8):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    try:
        s.sendall(greeting + ready + b"\x02" + struct.pack(">Q", 900000) +
            b"x" * 800000)
    except OSError:
        pass    # cut while sending: counted below
    held.append(s)
def cut(s):
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        while s.recv(65536):
            pass
    except BlockingIOError:
        return False
    except OSError:
        pass
    return True
for s in held:
    s.setblocking(False)
# Until the monitor read all that was sent and cut four (it cuts in
# the turn it reads, so a fifth would show by then too); past the
# deadline, what there is.
def unread(s):
    return struct.unpack("i", fcntl.ioctl(s, termios.TIOCOUTQ,
        bytes(4)))[0]
until = time.monotonic() + 60
while (any(unread(s) > 0 for s in held if not cut(s)) or
        sum(cut(s) for s in held) < 4) and time.monotonic() < until:
    time.sleep(0.05)
n = sum(cut(s) for s in held)
print("cut %d open %d" % (n, len(held) - n), flush=True)
signal.pause()
PYEOF
HOLDER=$!
STARTED_PIDS+=("$HOLDER")
wait_for 60 "the connections partway" test -s "$T/partway"
assert_eq "cut 4 open 4" "$(cat "$T/partway")" "four of eight connections partway cut"
grep -q "metrics.sock: peer [0-9]* cut: it held 1048576 of the" "$MON_LOG" ||
	fail "the monitor's log does not say why it cut them"
echo 't:{"v":1,"app":"batch","instance":"l","window_ms":1,"rows":1}' |
	"$RAW" "$EP" push >/dev/null || fail "rawzmq could not send"
wait_for 20 "a good report beside them" prom_at_least "$taken" 5
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null || true
kill -0 "$MON_PID" || fail "the monitor died"
ok "the monitor takes reports on"
stop_daemon monitor
ok "the monitor exits cleanly"

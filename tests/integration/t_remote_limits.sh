#!/bin/bash
# What a stranger costs the CURVE listeners (docs/hostile-input.md,
# "Producers and operators on other hosts"): before its handshake is
# over, a client that announces a frame larger than the listener serves
# (streammgr's producers' port, its control port PORT + 1, batchmgr's
# PORT + 2) is cut at once, not buffered for the handshake's lifetime;
# the producers' port still takes the largest message a profile allows,
# and a reload that raises it past the bound says so.
. "$(dirname "$0")/lib.sh"

node_keys node ops acme
pub() { pubkey "$K/$1.pub"; }
platform top.remote="{ listen = \"tcp://$NODE\"; server_key = \"$K/node\"; operator_keys = [\"$(pub ops)\"]; }"
# 3 MiB: over the 1 MiB a batch is given, so the bound follows it.
tenant acme <<EOT
id = "acme";
streams = ( { app = ["$STREAMAPP"]; stop_timeout = "2s"; max_message_size = "3M"; } );
producer_keys = ["$(pub acme)"];
EOT
start_daemon streammgr
start_daemon batchmgr
wait_for 20 "acme's instance" ready_is acme 1

# oversized PORT: a ZMTP 3 greeting for CURVE, then a command frame that
# claims 200 MiB, then up to 64 MiB of it. Prints how many bytes of the
# frame were taken before the connection was cut, or "kept" when all of
# them were (streammgr buffering a stranger's frame).
oversized() {
	python3 - "$1" <<'PYEOF'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"\xff" + b"\0" * 8 + b"\x7f" + bytes([3, 0]) +
          b"CURVE".ljust(20, b"\0") + b"\0" * 32)
# flags: command | long
s.sendall(bytes([0x06]) + struct.pack(">Q", 200 << 20))
chunk, sent = b"\0" * (1 << 20), 0
try:
    for _ in range(64):
        s.sendall(chunk)
        sent += len(chunk)
except OSError:
    print(sent)
    sys.exit(0)
print("kept")
PYEOF
}
# Loopback's socket buffers take a few MiB before the peer reads a byte;
# a listener that cuts at the frame's header takes no more than that.
for p in "$port" "$((port + 1))" "$((port + 2))"; do
	taken=$(oversized "$p") || fail "port $p: the client failed"
	[ "$taken" != kept ] || fail "port $p: a stranger's 200 MiB frame was taken whole (64 MiB sent)"
	[ "$taken" -lt $((16 << 20)) ] || fail "port $p: $taken bytes of a stranger's frame taken"
done
running "$SM_PID" && running "$BM_PID" || fail "a daemon is gone"
ok "a stranger's oversized frame cuts its connection on every CURVE port"

# The bound follows the profiles: a 2.5 MiB message is decided on (OK),
# one a byte over max_message_size still gets its REJECT, not a cut.
cli send acme --node "$NODE" --key "$K/acme" --server-key "$K/node.pub" \
	--file <(head -c $((5 << 19)) /dev/zero | tr '\0' x; echo) >"$T/out/send" 2>&1 ||
	fail "a 2.5 MiB message: $(cat "$T/out/send")"
grep -q "accepted 1" "$T/out/send" || fail "a 2.5 MiB message: $(cat "$T/out/send")"
rc=0
cli send acme --node "$NODE" --key "$K/acme" --server-key "$K/node.pub" \
	--file <(head -c $(((3 << 20) + 1)) /dev/zero | tr '\0' x; echo) >"$T/out/send" 2>&1 || rc=$?
assert_eq 65 $rc "a message a byte too large ($(cat "$T/out/send"))"
grep -q "too-large" "$T/out/send" || fail "no too-large: $(cat "$T/out/send")"
sm_log_has "frames up to $(( (3 << 20) + 4096 )) bytes" || fail "the bound not logged"
ok "the producers' port takes what the profile allows, and refuses the rest"

# libzmq fixed the bound at the bind: a reload that raises a stream's
# max_message_size over it says so, naming the stream.
sed -i 's/max_message_size = "3M"/max_message_size = "5M"/' "$T/conf/tenants/acme.cfg"
from=$(wc -l <"$SM_LOG")
kill -HUP "$SM_PID"
wait_for 20 "the warning" sm_log_after "$from" \
	"tenant acme: stream default: max_message_size 5242880 is over what the producers' port was opened for"
ok "a reload that raises max_message_size over the bound warns until a restart"

stop_daemon batchmgr
stop_daemon streammgr

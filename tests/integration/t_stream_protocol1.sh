#!/bin/bash
# An app in another language, on plain libzmq and protocol 1 (HELLO
# without "batch": each delivery alone, tests/apps/zmqnoop): streammgr
# writes its deliveries many to a write (zrouter_queue, flushed at the end
# of each fill, and whenever 64 KiB wait); every message reaches it once
# and in order, and is acked, with nothing redelivered, stray or dead.
# The messages (about 220 bytes) and credit (1,000) make a fill larger
# than 64 KiB; then one message alone to the idle instance, which no ack
# of its would write out: only the flush at the end of the fill does.
. "$(dirname "$0")/lib.sh"

ZMQNOOP=$MYSIMBDP_BUILD/tests/integration/zmqnoop
N=3000
GOT=$T/scratch/got

platform
tenant plain <<-EOF
id = "plain";
streams = ( { app = ["$ZMQNOOP", "1000", "$GOT"];
  instances = { min = 1; max = 1; }; stop_timeout = "1s";
  ack_timeout = "$(scaled 600)s"; } );
EOF
start_daemon streammgr
wait_for 20 "zmqnoop's HELLO" ready_is plain 1
assert_eq "false 1000" "$(sstat plain '.instances[0] | "\(.batch) \(.credit)"')" \
	"the instance's batch and credit"

for i in $(seq 1 $N); do printf 'k%s %0200d\n' "$i" "$i"; done >"$T/scratch/msgs"
cli send plain --file "$T/scratch/msgs" >"$T/out/send" ||
	fail "send: $(cat "$T/out/send")"
wait_for 30 "$N acks" acked_at_least plain $N
read -r acked redelivered stray dead backlog inflight < <(sstat plain \
	'"\(.acked) \(.redelivered) \(.stray_acks) \(.dead_letters) \(.backlog) \(.inflight)"')
assert_eq "$N 0 0 0 0 0" "$acked $redelivered $stray $dead $backlog $inflight" \
	"acked, redelivered, stray_acks, dead_letters, backlog, inflight"
cmp -s "$T/scratch/msgs" "$GOT" ||
	fail "what zmqnoop got is not what was sent, in order: $(diff "$T/scratch/msgs" "$GOT" | head -5)"
ok "$N messages in single deliveries: each once, in order, acked"

echo "k-alone $(printf '%0200d' 0)" >"$T/scratch/alone"
cli send plain --file "$T/scratch/alone" >"$T/out/send" ||
	fail "send: $(cat "$T/out/send")"
wait_for 30 "the message alone acked" acked_at_least plain $((N + 1))
assert_eq "k-alone $(printf '%0200d' 0)" "$(tail -n 1 "$GOT")" "the last message got"
ok "a message alone to an idle instance goes at once"

stop_daemon streammgr

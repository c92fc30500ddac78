#!/bin/bash
# A NACK or REJECT from an instance that no longer holds the message (it
# was given to another after ack_timeout) must not act: the instance
# holding it decides. tests/apps/handoff passes one message from the
# first instance (A) to the second (B), then A settles it late while B
# holds it, then B acks it. A late NACK used to put the message back
# while B worked on it (one more delivery after B's ack: "late" in the
# app's log); a late REJECT dead-lettered a message B then acked.
. "$(dirname "$0")/lib.sh"

HANDOFF=$MYSIMBDP_BUILD/tests/integration/handoff

platform
for mode in nack reject; do
	mkdir -m 0777 "$T/scratch/$mode"
	tenant "$mode" <<-EOF
	id = "$mode";
	streams = ( { app = ["$HANDOFF", "$mode", "$T/scratch/$mode"];
	  instances = { min = 2; max = 2; }; ack_timeout = "$(scaled 5)s";
	  max_deliveries = 100; stop_timeout = "2s"; } );
	EOF
done
start_daemon streammgr
for mode in nack reject; do
	wait_for 20 "$mode's instances" ready_is "$mode" 2
	echo "k1 v" | cli send "$mode" --file - >"$T/out/send.$mode" ||
		fail "send: $(cat "$T/out/send.$mode")"
done

settled() { [ "$(sstat "$1" '.acked + .dead_letters')" -ge 1 ]; }
for mode in nack reject; do
	wait_for 120 "$mode: the message settled" settled "$mode"
	assert_eq "1 0" "$(sstat "$mode" '"\(.acked) \(.dead_letters)"')" \
		"$mode: acked and dead letters"
done
ok "late NACK and REJECT ignored: B's ack settled the message"

stop_daemon streammgr
for mode in nack reject; do
	log=$T/scratch/$mode/deliveries
	grep -q '^A ' "$log" && grep -q '^B ' "$log" ||
		fail "$mode: no handoff from A to B: $(cat "$log")"
	! grep -q ' late$' "$log" ||
		fail "$mode: delivered again after the late $mode: $(cat "$log")"
	[ ! -s "$VAR/queue/$mode/default/dead-letters.jsonl" ] ||
		fail "$mode: dead letter: $(cat "$VAR/queue/$mode/default/dead-letters.jsonl")"
done
ok "no delivery after the late settle, no dead letter"

#!/bin/bash
# A NACK, REJECT or ACK from an instance that no longer holds the message
# (it was given to another after ack_timeout) must not act: the instance
# holding it decides, and the late one is counted as its stray ack.
# tests/apps/handoff passes one message from the first instance (A) to
# the second (B), then A settles it late while B holds it, then B acks
# it. A late NACK used to put the message back while B worked on it (one
# more delivery after B's ack: "late" in the app's log); a late REJECT
# dead-lettered a message B then acked; a late ACK settled it, counted
# as A's ack, and B's own ack was the stray one.
. "$(dirname "$0")/lib.sh"

HANDOFF=$MYSIMBDP_BUILD/tests/integration/handoff

platform
for mode in nack reject ack; do
	mkdir -m 0777 "$T/scratch/$mode"
	tenant "$mode" <<-EOF
	id = "$mode";
	streams = ( { app = ["$HANDOFF", "$mode", "$T/scratch/$mode"];
	  instances = { min = 2; max = 2; }; ack_timeout = "$(scaled 5)s";
	  max_deliveries = 100; stop_timeout = "2s"; } );
	EOF
done
start_daemon streammgr
for mode in nack reject ack; do
	wait_for 20 "$mode's instances" ready_is "$mode" 2
	echo "k1 v" | cli send "$mode" --file - >"$T/out/send.$mode" ||
		fail "send: $(cat "$T/out/send.$mode")"
done

settled() { [ "$(sstat "$1" '.acked + .dead_letters')" -ge 1 ]; }
# counts MODE ==|!= ID: "acked stray_acks" of the instance that is (or
# is not) ID.
counts() {
	sstat "$1" ".instances[] | select(.id $2 \"$3\") |
		\"\\(.acked) \\(.stray_acks)\""
}
a_counted() { [ "$(sstat "$1" ".instances[] | select(.id == \"$2\") |
	.acked + .stray_acks")" -ge 1 ]; }
for mode in nack reject ack; do
	wait_for 120 "$mode: the message settled" settled "$mode"
	assert_eq "1 0" "$(sstat "$mode" '"\(.acked) \(.dead_letters)"')" \
		"$mode: acked and dead letters"
	# A's settle and B's ack come on two connections: A's counted
	# either way, perhaps after B's.
	a=$(cat "$T/scratch/$mode/a-id")
	wait_for 30 "$mode: A's settle counted" a_counted "$mode" "$a"
	assert_eq "0 1" "$(counts "$mode" == "$a")" "$mode: A's acked and stray acks"
	assert_eq "1 0" "$(counts "$mode" != "$a")" "$mode: B's acked and stray acks"
done
ok "late NACK, REJECT and ACK ignored, counted stray: B's ack settled the message"

stop_daemon streammgr
for mode in nack reject ack; do
	log=$T/scratch/$mode/deliveries
	grep -q '^A ' "$log" && grep -q '^B ' "$log" ||
		fail "$mode: no handoff from A to B: $(cat "$log")"
	! grep -q ' late$' "$log" ||
		fail "$mode: delivered again after the late $mode: $(cat "$log")"
	[ ! -s "$VAR/queue/$mode/default/dead-letters.jsonl" ] ||
		fail "$mode: dead letter: $(cat "$VAR/queue/$mode/default/dead-letters.jsonl")"
done
ok "no delivery after the late settle, no dead letter"

#!/bin/bash
# An instance settles messages in flight to another instance of its
# stream (tests/apps/workflood foreign): a NACK, a REJECT, an ACK of
# every id and an ACKR of their range. None of it acts: each id is a
# stray ack of the thief's (the stream's too), the holder still holds
# every message, and when it acks them they are all acked, each
# delivered once, to it, with no dead letter. An ACK used to free
# another's message: counted acked, and the holder's own ack was stray.
. "$(dirname "$0")/lib.sh"

WORKFLOOD=$MYSIMBDP_BUILD/tests/integration/workflood
N=20
DIR=$T/scratch/foreign

platform
mkdir -m 0777 "$DIR"
# No redelivery within the test: only the instances settle.
tenant rogue <<-EOF
id = "rogue";
streams = ( { app = ["$WORKFLOOD", "foreign", "$DIR"];
  instances = { min = 2; max = 2; }; stop_timeout = "1s";
  ack_timeout = "$(scaled 600)s"; start_timeout = "$(scaled 600)s"; } );
EOF
start_daemon streammgr
wait_for 20 "the holder and the thief" test -e "$DIR/holder-id" -a -e "$DIR/thief-id"
HOLDER=$(cat "$DIR/holder-id")
THIEF=$(cat "$DIR/thief-id")
wait_for 20 "the holder's HELLO" ready_is rogue 1

# istat ID JQ: a field of instance ID of rogue's stream.
istat() { sstat rogue ".instances[] | select(.id == \"$1\") | $2"; }
holds() { [ "$(istat "$HOLDER" .inflight)" = "$1" ]; }
got() { [ "$(cat "$DIR/holder-got" 2>/dev/null | wc -l)" = "$1" ]; }

send_keys rogue 1 $N >"$T/out/send" || fail "send: $(cat "$T/out/send")"
wait_for 30 "the holder to hold $N messages" holds $N
wait_for 30 "the holder to have read $N messages" got $N
sort -n "$DIR/holder-got" >"$T/scratch/steal"
mv "$T/scratch/steal" "$DIR/steal"

# 1 NACK + 1 REJECT + N ACK + N ACKR ids, all named by the thief.
NAMED=$(( 2 * N + 2 ))
named_all() { [ "$(istat "$THIEF" '.acked + .stray_acks')" = "$NAMED" ]; }
wait_for 30 "the thief's $NAMED ids counted" named_all
assert_eq 0 "$(istat "$THIEF" .acked)" "the thief's acks"
assert_eq $NAMED "$(istat "$THIEF" .stray_acks)" "the thief's stray acks"
read -r acked stray dead < <(sstat rogue '"\(.acked) \(.stray_acks) \(.dead_letters)"')
assert_eq "0 $NAMED 0" "$acked $stray $dead" "the stream's acked, stray_acks, dead_letters"
holds $N || fail "the holder holds $(istat "$HOLDER" .inflight), not $N"
ok "another instance's NACK, REJECT, ACK and ACKR settled nothing"

touch "$DIR/release"
wait_for 30 "the holder's $N acks" acked_at_least rogue $N
idle() { [ "$(sstat rogue '.backlog + .inflight')" = 0 ]; }
wait_for 30 "the queue empty" idle
assert_eq "$N 0" "$(istat "$HOLDER" '"\(.acked) \(.stray_acks)"')" "the holder's acks and stray acks"
read -r acked stray dead < <(sstat rogue '"\(.acked) \(.stray_acks) \(.dead_letters)"')
assert_eq "$N $NAMED 0" "$acked $stray $dead" "the stream's acked, stray_acks, dead_letters"
assert_eq $N "$(sort -u "$DIR/holder-got" | wc -l)" "distinct deliveries to the holder"
assert_eq $N "$(wc -l <"$DIR/holder-got")" "deliveries to the holder (none again)"
assert_no_file "$DIR/thief-got"
ok "the holder acked all $N, each delivered once; nothing lost or dead-lettered"

stop_daemon streammgr
[ ! -s "$VAR/queue/rogue/default/dead-letters.jsonl" ] ||
	fail "dead letters: $(cat "$VAR/queue/rogue/default/dead-letters.jsonl")"

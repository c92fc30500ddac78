#!/bin/bash
# An instance says BYE while streammgr's queue to it is full (it has
# read nothing: tests/apps/workflood byeheld). streammgr cannot queue the
# answer then; it owes it, and sends it once the instance has read what
# waited (the work socket's room callback): after every delivery queued
# before it, none after. Without the room callback's answer_bye the BYE
# never comes (the instance writes "no bye").
. "$(dirname "$0")/lib.sh"

WORKFLOOD=$MYSIMBDP_BUILD/tests/integration/workflood
DIR=$T/scratch/bye
N=300			# of 32 KiB: 9.6 MB, over the 4 MiB queue and the socket's

platform
mkdir -m 0777 "$DIR"
tenant held <<-EOF
id = "held";
streams = ( { app = ["$WORKFLOOD", "byeheld", "$DIR", "$(scaled 30)"];
  instances = { min = 1; max = 1; }; stop_timeout = "$(scaled 60)s";
  ack_timeout = "$(scaled 600)s"; start_timeout = "$(scaled 600)s"; } );
EOF
start_daemon streammgr
wait_for 20 "the instance's HELLO" ready_is held 1
ID=$(sstat held '.instances[0].id')

for i in $(seq 1 $N); do printf 'k%s %032768d\n' "$i" "$i"; done >"$T/scratch/msgs"
cli send held --file "$T/scratch/msgs" >"$T/out/send" ||
	fail "send: $(cat "$T/out/send")"
# Full: messages wait in the queue although the credit (65536) has room,
# because the queue to the instance refused more.
full() {
	read -r backlog inflight < <(sstat held '"\(.backlog) \(.inflight)"')
	[ "$backlog" -gt 0 ] && [ "$inflight" -gt 0 ] && [ "$inflight" -lt 65536 ]
}
wait_for 30 "the queue to the instance full" full

touch "$DIR/bye"
# istat JQ: a field of the instance.
istat() { sstat held ".instances[] | select(.id == \"$ID\") | $1"; }
leaving() { [ "$(istat .state)" = leaving ]; }
wait_for 30 "streammgr to take the BYE" leaving
# Nothing is delivered to a leaver: what it holds now is what was queued.
INFLIGHT=$(istat .inflight)
touch "$DIR/read"
wait_for 60 "the instance's result" test -e "$DIR/$ID.result"
assert_eq "bye after $INFLIGHT" "$(cat "$DIR/$ID.result")" "what the instance read"
ok "the BYE owed while the queue was full came after its $INFLIGHT deliveries"

stop_daemon streammgr

#!/bin/bash
# An instance settles each message it holds twice, back to back, the two
# frames usually in one read of streammgr's (tests/apps/workflood
# twice): every other message REJECT then ACK, the rest ACK then REJECT.
# The first word decides: a REJECT first makes a dead letter, and the
# ACK after it, while the letter waits for its turn's write, finds the
# message held by no instance, a stray ack; an ACK first acks it, and
# the REJECT after it is stray. Nothing is both acked and dead-lettered,
# nothing is delivered again, and each dead letter has the app's reason.
. "$(dirname "$0")/lib.sh"

WORKFLOOD=$MYSIMBDP_BUILD/tests/integration/workflood
N=40
DIR=$T/scratch/twice

platform
mkdir -m 0777 "$DIR"
# No redelivery within the test: only the instance settles.
tenant twice <<-EOF
id = "twice";
streams = ( { app = ["$WORKFLOOD", "twice", "$DIR"]; stop_timeout = "1s";
  ack_timeout = "$(scaled 600)s"; max_deliveries = 100; } );
EOF
start_daemon streammgr
wait_for 20 "the instance's HELLO" ready_is twice 1

send_keys twice 1 $N >"$T/out/send" || fail "send: $(cat "$T/out/send")"
settled() { [ "$(sstat twice '.acked + .dead_letters')" -ge $N ]; }
wait_for 30 "$N messages settled" settled
strays() { [ "$(sstat twice .stray_acks)" -ge $N ]; }
wait_for 30 "$N second words counted" strays
read -r acked dead stray held < <(sstat twice \
	'"\(.acked) \(.dead_letters) \(.stray_acks) \(.backlog + .inflight)"')
assert_eq "$((N / 2)) $((N / 2)) $N 0" "$acked $dead $stray $held" \
	"acked, dead letters, stray acks, messages left"
assert_eq $N "$(wc -l <"$DIR/got")" "deliveries (none again)"
assert_eq $N "$(awk '{ print $2 }' "$DIR/got" | sort -u | wc -l)" "distinct deliveries"
ok "$N messages settled twice: the first word counted, the second stray"

stop_daemon streammgr
file=$VAR/queue/twice/default/dead-letters.jsonl
assert_eq $((N / 2)) "$(wc -l <"$file")" "dead letters in the tenant's file"
jq -r '"reject-first \(.id) \(.reason)"' "$file" | sort >"$T/out/dead"
awk '$1 == "reject-first" { print $0, "rejected by default-1: reject-first" }' \
	"$DIR/got" | sort >"$T/out/want"
diff "$T/out/want" "$T/out/dead" >"$T/out/diff" ||
	fail "dead letters are not the messages rejected first: $(cat "$T/out/diff")"
ok "the dead letters are the $((N / 2)) rejected first, with the app's reason"

#!/bin/bash
# A requeue takes as many dead letters as the queue has room for (its
# max_queue_bytes, as for a producer's messages; the node's
# stream.max_memory too): the others stay in the file, in their order,
# and the command says how many and exits 75; requeued again once the
# queue drains, they all come through, each acked once. A requeue holds
# the letters it takes, not the file.
. "$(dirname "$0")/lib.sh"

platform
outage=$T/scratch/downstream-down
touch "$outage"
STREAMAPP_ARGS=", \"-P\", \"$outage\"" stream_tenant alpha \
	'instances = { min = 0; max = 1; initial = 1; };' \
	'max_deliveries = 1; max_queue_bytes = "1K";'
start_daemon streammgr
wait_for 20 "alpha's instance" ready_is alpha 1

# 30 messages of about 100 bytes, five at a time (each five fits the
# queue): 3 KB of dead letters, three times its room.
for b in 0 1 2 3 4 5; do
	for i in $(seq $((b * 5 + 1)) $((b * 5 + 5))); do
		printf 'k%s %096d\n' "$i" "$i"
	done >"$T/scratch/m$b"
	cli send alpha --file "$T/scratch/m$b" >"$T/out/send" 2>&1 ||
		fail "send $b: $(cat "$T/out/send")"
	wait_for 20 "$((b * 5 + 5)) dead letters" eval \
		"[ \"\$(sstat alpha .dead_letters)\" = $((b * 5 + 5)) ]"
done
cli scale alpha 0 >/dev/null || fail "scale alpha 0"
wait_for 20 "no instance" ready_is alpha 0
rm "$outage"

# No instance: what is requeued stays queued, within the bound.
rc=0; cli dead-letters alpha --requeue >"$T/out/rq" 2>"$T/out/rq.err" || rc=$?
assert_eq 75 $rc "a requeue past the queue's room exits 75"
n=$(sed -n 's/^alpha: \([0-9]*\) dead letters* requeued$/\1/p' "$T/out/rq")
[ -n "$n" ] && [ "$n" -gt 0 ] && [ "$n" -lt 30 ] || fail "requeued: $(cat "$T/out/rq")"
assert_eq "mysimbdp dead-letters: $((30 - n)) more left in the file: the queue has no room for them (max_queue_bytes); requeue them once it drains" \
	"$(cat "$T/out/rq.err")" "what is left, and why"
[ "$(sstat alpha .queue_bytes)" -le 1024 ] ||
	fail "queue_bytes $(sstat alpha .queue_bytes) past max_queue_bytes 1K"
assert_eq "$n" "$(sstat alpha .backlog)" "the requeued ones queued"
assert_eq $((30 - n)) "$(cli dead-letters alpha --json | jq length)" "the rest in the file"
assert_eq "k$((n + 1)) $(printf '%096d' $((n + 1)))" \
	"$(cli dead-letters alpha --json | jq -r '.[0].payload')" "the first left is the next in order"
ok "$n requeued within max_queue_bytes 1K, $((30 - n)) left in the file, exit 75"

# The queue drains: requeue again until nothing is left.
cli scale alpha 1 >/dev/null || fail "scale alpha 1"
wait_for 20 "the first requeued acked" acked_at_least alpha "$n"
done_n=$n rounds=1
while [ "$done_n" -lt 30 ]; do
	rounds=$((rounds + 1))
	[ $rounds -le 30 ] || fail "still $((30 - done_n)) left after 30 requeues"
	rc=0; cli dead-letters alpha --requeue >"$T/out/rq" 2>"$T/out/rq.err" || rc=$?
	n=$(sed -n 's/^alpha: \([0-9]*\) dead letters* requeued$/\1/p' "$T/out/rq")
	[ -n "$n" ] || fail "requeue: $(cat "$T/out/rq" "$T/out/rq.err")"
	done_n=$((done_n + n))
	if [ "$done_n" -lt 30 ]; then
		assert_eq 75 $rc "with letters left"
	else
		assert_eq 0 $rc "the last requeue"
	fi
	wait_for 20 "$done_n acked" acked_at_least alpha "$done_n"
done
assert_eq 0 "$(cli dead-letters alpha --json | jq length)" "no letter left"
assert_eq 30 "$(sstat alpha .acked)" "each of the 30 acked once"
assert_eq 30 "$(store_docs alpha | jq -r ._id | sort -u | wc -l)" "30 keys stored"
ok "all 30 requeued in $rounds requeues and acked once each"

# A letter past max_queue_bytes alone (as after a reload lowered it)
# would wait for ever: it stays in the file, said apart (exit 65), and
# the letters after it are requeued all the same.
file=$VAR/queue/alpha/default/dead-letters.jsonl
letter() {
	printf '{"time":"2026-01-01T00:00:00.000Z","tenant":"alpha","stream":"default","id":%s,"deliveries":1,"reason":"x","payload":"%s"}\n' "$1" "$2"
}
{ letter 900001 "huge $(printf '%02000d' 1)"; letter 900002 "small one"; } >>"$file"
rc=0; cli dead-letters alpha --requeue >"$T/out/rq" 2>"$T/out/rq.err" || rc=$?
assert_eq 65 $rc "a letter that never fits: exit 65"
assert_eq "alpha: 1 dead letter requeued" "$(cat "$T/out/rq")" "the one after it requeued"
assert_eq "mysimbdp dead-letters: 1 left in the file for good: each alone is past the stream's max_queue_bytes or the node's stream.max_memory" \
	"$(cat "$T/out/rq.err")" "the one that never fits, said"
assert_eq 900001 "$(cli dead-letters alpha --json | jq -r '.[].id')" "it stays in the file"
wait_for 20 "the small one stored" eval \
	'store_docs alpha | jq -r ._id | grep -qx small'
ok "a letter past the bound alone stays, the next one is requeued"

# A requeue holds the letters it takes, not the file: one letter out of
# 100 MB of them costs streammgr no memory to speak of (the lines it
# keeps are written to the new file as they are read).
awk 'BEGIN { p = sprintf("%01000d", 7); for (i = 1; i <= 100000; i++)
	printf "{\"time\":\"2026-01-01T00:00:00.000Z\",\"tenant\":\"alpha\",\"stream\":\"default\",\"id\":%d,\"deliveries\":1,\"reason\":\"x\",\"payload\":\"big%d %s\"}\n", 1000000 + i, i, p }' >>"$file"
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$SM_PID/status"; }
before=$(hwm)
cli dead-letters alpha --requeue --id 1050000 >"$T/out/rqbig" 2>&1 ||
	fail "requeue one of 100,000: $(cat "$T/out/rqbig")"
assert_eq "alpha: 1 dead letter requeued" "$(cat "$T/out/rqbig")" "one of 100,000"
after=$(hwm)
# AddressSanitizer keeps freed memory aside (its quarantine, 256 MB):
# the peak says nothing there.
sanitized || [ $((after - before)) -lt 40000 ] ||
	fail "peak RSS grew by $((after - before)) kB for a 100 MB file"
assert_eq 100000 "$(wc -l <"$file")" "the others kept"
wait_for 20 "big50000 stored" eval \
	'store_docs alpha | jq -r ._id | grep -qx big50000'
ok "one letter requeued out of 100 MB of them: peak RSS $before -> $after kB"
stop_daemon streammgr

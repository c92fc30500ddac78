#!/bin/bash
# A backlog drained gives its memory back: once the queues hold half or
# less of their most, and 8 MiB less or more, streammgr trims its heap on
# the stats timer (queue_trim). Before, the freed blocks of a drained
# backlog stayed in its RSS for good (1,000,000 messages of 100 bytes
# drained: 176 MB, queue_memory 0).
. "$(dirname "$0")/lib.sh"

platform
stream_tenant alpha 'instances = { min = 0; max = 1; initial = 0; };' \
	'max_queue_bytes = "64M";'
start_daemon streammgr
wait_for 20 "streammgr's status" eval 'cli status alpha --json >/dev/null'

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$SM_PID/status"; }
queue_memory() { cli status --json | jq .streammgr.queue_memory; }
before=$(rss)

# 20,000 messages of about 1,000 bytes, no instance: about 21 MB held.
N=20000
awk -v n=$N 'BEGIN { for (i = 1; i <= n; i++) printf "k%d %0994d\n", i, i }' \
	>"$T/scratch/backlog"
cli send alpha --file "$T/scratch/backlog" >"$T/out/send" 2>&1 ||
	fail "send: $(cat "$T/out/send")"
assert_eq $N "$(sstat alpha .backlog)" "the backlog queued"
held=$(queue_memory)
[ "$held" -gt $((16 << 20)) ] || fail "queue_memory $held for $N messages"
full=$(rss)

cli scale alpha 1 >/dev/null || fail "scale alpha 1"
wait_for 120 "$N acked" acked_at_least alpha $N
assert_eq 0 "$(queue_memory)" "nothing held once acked"
if sanitized; then
	# ASan's allocator keeps freed memory in its quarantine.
	ok "backlog of $N drained (RSS not judged under ASan)"
	exit 0
fi
[ $((full - before)) -gt $((held / 2048)) ] ||
	fail "RSS grew by $((full - before)) KB for $held bytes held"
back_half() { [ "$(rss)" -lt $(((before + full) / 2)) ]; }
wait_for 20 "half of the backlog's RSS given back (before $before KB, full $full KB)" back_half
ok "backlog of $N drained: RSS $before -> $full -> $(rss) KB"

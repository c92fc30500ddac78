#!/bin/bash
# An app that rejects every message (tests/apps/streamapp rejects those
# without a space): each one is a dead letter in the tenant's file, with
# its reason, and counted; streammgr's own log gets a line a second at
# most for the stream, each saying how many went unlogged since the one
# before, so that a tenant's bad data cannot flood the platform's log.
# The same for an app that holds every message (ack timeouts). A turn's
# dead letters are written together: none is lost to a SIGKILL.
. "$(dirname "$0")/lib.sh"

platform
stream_tenant alpha
STREAMAPP_ARGS=', "-H"' stream_tenant beta 'ack_timeout = "200ms";' \
	'max_deliveries = 1;'
start_daemon streammgr
wait_for 20 "alpha's instance" ready_is alpha 1
wait_for 20 "beta's instance" ready_is beta 1

dead() { sstat alpha .dead_letters; }
lines() { grep -c 'tenant alpha: stream default: message .* dead-lettered' "$SM_LOG"; }

# flood TENANT N FORMAT: N messages (seq -f FORMAT) sent to TENANT, which
# had no dead letter, until all N are; secs: about how long that took.
flood() {
	local t0
	seq -f "$3" 1 "$2" >"$T/scratch/$1.msgs"
	t0=$(date +%s%N)
	cli send "$1" --file "$T/scratch/$1.msgs" >"$T/out/send.$1" ||
		fail "send to $1: $(cat "$T/out/send.$1")"
	wait_for 60 "$2 dead letters of $1" \
		eval '[ "$(sstat '"$1"' .dead_letters)" = '"$2"' ]'
	secs=$(( ($(date +%s%N) - t0) / 1000000000 ))
}
# few_lines N WHAT: N log lines, at least one and one a second at most.
few_lines() {
	[ "$1" -ge 1 ] && [ "$1" -le $((secs + 2)) ] ||
		fail "$1 log lines for $2 in about ${secs}s (at most a second's one)"
}

N=2000
flood alpha "$N" 'bad%g'
file=$VAR/queue/alpha/default/dead-letters.jsonl
assert_eq "$N" "$(wc -l <"$file")" "dead letters in the tenant's file"
assert_eq "$N" "$(grep -c '"reason":"rejected by default-1: no space in message"' "$file")" \
	"each with the app's reason"
n=$(lines)
few_lines "$n" "$N dead letters"
ok "$N rejected messages: all in dead-letters.jsonl, $n lines in streammgr's log"

# One more at a time until the next line comes (a second after the
# last): it counts the letters not logged since, so the lines account
# for every dead letter.
before=$n
i=0
while [ "$(lines)" = "$before" ]; do
	i=$((i + 1))
	[ $i -le $((200 * TIME_FACTOR)) ] || fail "no new line after $i more dead letters"
	echo "more$i" | cli send alpha --file - >/dev/null || fail "send more$i"
	wait_for 20 "dead letter $((N + i))" eval '[ "$(dead)" = '"$((N + i))"' ]'
done
sum=$(grep -o 'dead-lettered after .*' "$SM_LOG" | awk '
	{ n++ } match($0, /\(([0-9]+) more dead-lettered since the last such line\)$/) {
		s = substr($0, RSTART + 1); sub(/ .*/, "", s); more += s }
	END { print n + more }')
assert_eq "$((N + i))" "$sum" "lines plus the counts they carry"
grep -q "message $((N + i)) dead-lettered after 1 deliveries: rejected by default-1: no space in message (" "$SM_LOG" ||
	fail "the last line is not the last letter's with its count: $(grep dead-lettered "$SM_LOG" | tail -n 1)"
ok "the next line, $i letters later, counts those not logged: every dead letter accounted for"

# beta's app holds every message it gets: each times out after
# ack_timeout, and with max_deliveries 1 is a dead letter at once.
H=500
flood beta "$H" 'k%g held'
assert_eq "$H" "$(grep -c '"reason":"ack timeout (delivered 1 times, max_deliveries 1)"' \
	"$VAR/queue/beta/default/dead-letters.jsonl")" "beta's dead letters, each timed out"
n=$(grep -c 'tenant beta: stream default: message .* not acked by' "$SM_LOG" || true)
few_lines "$n" "$H ack timeouts"
ok "$H messages held past ack_timeout: all dead letters, $n ack-timeout lines"

# The dead letters of a turn go in one write (and, with durability
# "fsync", the default here, one sync) before their messages are
# released. streammgr SIGKILLed while its instance rejects a backlog:
# after the restart every message is in the file, none lost.
M=5000
pid=$(cli status alpha --json | jq -r '.streams[0].instances[0].pid')
kill -STOP "$pid"
seq -f 'kill%g' 1 "$M" >"$T/scratch/kill"
cli send alpha --file "$T/scratch/kill" >"$T/out/send2" || fail "send: $(cat "$T/out/send2")"
base=$(dead)
kill -CONT "$pid"
wait_for 20 "the first dead letters of the backlog" eval '[ "$(dead)" -gt '"$base"' ]'
kill -KILL "$SM_PID"
wait "$SM_PID" 2>/dev/null || true
got=$(grep -c '"payload":"kill' "$file" || true)
start_daemon streammgr
wait_for 20 "alpha's instance" ready_is alpha 1
all_in() { [ "$(grep -o '"payload":"kill[0-9]*"' "$file" | sort -u | wc -l)" = "$M" ]; }
wait_for 60 "every message of the backlog dead-lettered" all_in
cli dead-letters alpha --json >"$T/out/all" || fail "the file cannot be read back"
ok "SIGKILL after $got of $M dead letters: all $M in the file after the restart"
stop_daemon streammgr

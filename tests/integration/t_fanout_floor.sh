#!/bin/bash
# A subscription's floor outlives a stream's time in "memory" durability.
# Added by reload while the stream keeps its queue in memory, it gets a
# floor at the next message number; a SIGKILL then loses the memory-only
# messages and, without a trace of them on disk, their numbers. Switched
# to "fsync" after the restart, the stream must still number its new
# messages above that floor: below it, the subscription would count them
# as settled and a second SIGKILL would lose them for it.
#
# Then a subscription added while streammgr was down: it starts, as one
# added by reload, with the messages accepted from then on, not with
# whatever the journal still held for the stream's own app. Last, the
# numbers in the app's settled list past what the journal holds (a power
# cut's state) are not given to new messages either.
# Nobody runs an instance, so every message waits in the queues.
. "$(dirname "$0")/lib.sh"

platform

# profile DURABILITY [SUBSCRIPTIONS...]: alpha's profile (SUB_TENANT's).
profile() {
	local durability=$1 subs="" name
	shift
	for name in "$@"; do
		subs+="{ name = \"$name\"; app = [ \"$STREAMAPP\", \"-C\", \"$name\" ];
		    instances = { min = 0; max = 1; initial = 0; }; },"
	done
	[ -z "$subs" ] || subs="subscriptions = ( ${subs%,} );"
	tenant "${SUB_TENANT:-alpha}" <<-EOF
	id = "${SUB_TENANT:-alpha}";
	streams = ( {
	  name = "default";
	  app = [ "$STREAMAPP", "-C", "main" ];
	  instances = { min = 0; max = 1; initial = 0; };
	  durability = "$durability";
	  $subs
	} );
	EOF
}

# send FIRST LAST: messages kFIRST..kLAST, each answered OK.
send() { send_keys "${SUB_TENANT:-alpha}" "$1" "$2" >/dev/null || fail "send k$1..k$2"; }

# backlog_is STREAM N: STREAM holds N messages.
backlog_is() { [ "$(substat "$1" .backlog)" = "$2" ]; }

restart() {
	kill -KILL "$SM_PID"
	wait "$SM_PID" 2>/dev/null || true
	start_daemon streammgr
}

profile memory
start_daemon streammgr
send 1 10
profile memory slow
kill -HUP "$SM_PID"
wait_for 20 "default.slow added" listed default.slow
send 11 12
wait_for 20 "default.slow holding k11, k12" backlog_is default.slow 2
ok "a subscription added by reload under durability memory"

restart
wait_for 20 "the queue empty after the restart (memory)" backlog_is default 0
profile fsync slow
kill -HUP "$SM_PID"
wait_for 20 "durability fsync" eval '[ "$(substat default .durability)" = fsync ]'
send 13 15
wait_for 20 "default.slow holding k13..k15" backlog_is default.slow 3
restart
wait_for 20 "default's 3 messages restored" backlog_is default 3
assert_eq 3 "$(substat default.slow .backlog)" \
	"default.slow's messages after a SIGKILL, accepted under fsync"
ok "messages accepted under fsync after a memory spell kept for the subscription"

# le64 N...: each N as 8 bytes, little-endian (a settled.log entry).
le64() {
	local n i
	for n in "$@"; do
		for i in 0 1 2 3 4 5 6 7; do
			printf "\\x$(printf %02x $(( (n >> (8 * i)) & 255 )))"
		done
	done
}

# Added while streammgr is down.
stop_streammgr
profile fsync slow late
start_daemon streammgr
wait_for 20 "default.late listed" listed default.late
assert_eq 0 "$(substat default.late .backlog)" \
	"default.late, added while streammgr was down, at its start"
send 16 17
wait_for 20 "default.late holding k16, k17" backlog_is default.late 2
restart
wait_for 20 "default's 5 messages restored" backlog_is default 5
assert_eq "2 5" "$(substat default.late .backlog) $(substat default.slow .backlog)" \
	"default.late and default.slow after a SIGKILL"
ok "a subscription added while streammgr was down starts with what comes next"

# Removed while streammgr is down, then put back while it is down again.
stop_streammgr
profile fsync slow
start_daemon streammgr
wait_for 20 "default.late gone" unlisted default.late
sm_log_has "subscription default.late: removed from the profile while streammgr was down" ||
	fail "no word of default.late's removal in streammgr's log"
send 18 18
wait_for 20 "default.slow holding k13..k18" backlog_is default.slow 6
stop_streammgr
profile fsync slow late
start_daemon streammgr
wait_for 20 "default.late listed again" listed default.late
assert_eq "0 6" "$(substat default.late .backlog) $(substat default.slow .backlog)" \
	"default.late, removed and put back while streammgr was down"
ok "a subscription removed and put back while streammgr was down starts afresh"

# Added while streammgr was down, and the start that made its list
# failed before recovery (the queue folder unreadable): the next start
# still finds it joining (its list says so, synced, until its floor).
stop_streammgr
profile fsync slow late third
mkdir "$VAR/queue/alpha/default/seg-00000000000000ff.log"
start_daemon streammgr
wait_for 20 "default not served" sm_log_has "stream default: .*not served"
stop_streammgr
rmdir "$VAR/queue/alpha/default/seg-00000000000000ff.log"
start_daemon streammgr
wait_for 20 "default.third listed" listed default.third
assert_eq "0 6" "$(substat default.third .backlog) $(substat default.slow .backlog)" \
	"default.third, after a start that failed before recovery"
ok "a subscription still joins after a start that failed before its floor"

# Every subscription removed while streammgr is down, after the stream's
# own app settled what they still held: the stream's list says so, and
# recovery does not give those messages to its app again.
cli scale alpha 1 --stream default >"$T/out/scale" 2>&1 ||
	fail "scale default: $(cat "$T/out/scale")"
wait_for 30 "default's app done with k13..k18" sub_idle default
# The list is written at the end of the loop turn of the acks.
cli status alpha --json >/dev/null
stop_streammgr
profile fsync
start_daemon streammgr
wait_for 20 "default.slow gone" unlisted default.slow
assert_eq 0 "$(substat default .backlog)" \
	"default, its subscriptions removed while streammgr was down"
[ ! -e "$VAR/queue/alpha/default/settled.log" ] ||
	fail "default kept a settled list with no subscription"
ok "the last subscription removed while down: nothing settled comes back"

# Numbers the stream's app settled whose messages a power cut took off
# the journal (written, delivered and acked before their sync; the list
# is not synced and kept them). They were given out: a start gives them
# no new message, which at the next recovery would count as settled for
# the app and never reach it. Tenant beta: default and default.slow, no
# instance, every message waits in both queues.
SUB_TENANT=beta
profile fsync slow
kill -HUP "$SM_PID"
wait_for 20 "beta's default.slow listed" listed default.slow
send 1 3
wait_for 20 "beta's default.slow holding k1..k3" backlog_is default.slow 3
restart
wait_for 20 "beta's 3 messages restored" backlog_is default 3
stop_streammgr
# The newest segment is the start's: its H holds the next number.
seg=$(ls "$VAR/queue/beta/default"/seg-*.log | tail -n 1)
next=$(od -An -t u8 -j 9 -N 8 "$seg" | tr -d ' ')
le64 "$next" $((next + 1)) >>"$VAR/queue/beta/default/settled.log"
start_daemon streammgr
wait_for 20 "beta's 3 messages restored" backlog_is default 3
send 4 5
wait_for 20 "beta's default holding k1..k5" backlog_is default 5
restart
wait_for 20 "beta's default.slow restored" backlog_is default.slow 5
assert_eq 5 "$(substat default .backlog)" \
	"beta's default after a SIGKILL (k4, k5 numbered past its list's $next, $((next + 1)))"
ok "numbers a member settled before a power cut are not given again"

#!/bin/bash
# Subscriptions (fan-out): the stream "default" of alpha has its own app
# (the subscription "default", 2 instances writing to the collection
# "main") and the subscription "slow" (stream "default.slow", 1 instance
# ~300 us per message writing to "slow"). A producer sends N messages,
# stored once and delivered to both. Meanwhile default.slow lags, its
# held bytes reach max_queue_bytes, so the producer is throttled with the
# subscription's name; an instance of "default" and then streammgr are
# SIGKILLed. Every key must reach both collections, once per key. Then
# default.slow is stopped (messages keep queueing for it), removed from
# the profile and streammgr reloaded: it goes, what it held is released
# and the journal's segments reclaimed, "default" undisturbed.
. "$(dirname "$0")/lib.sh"

N=${N:-50000}
DURPRODUCER=$MYSIMBDP_BUILD/tests/integration/durproducer
INGRESS=ipc://$VAR/run/alpha/default.in
# Held bytes are the messages' payloads: "k12345 v12345" is ~13 bytes,
# so 64K is ~5,000 messages of lag for default.slow.
QBYTES=65536
# Small segments (the kill test's are 64K): the 500 messages of the last
# part span several of them, so their reclamation shows.
platform stream.segment_size='"8K"'

SLOW="subscriptions = ( {
	    name = \"slow\";
	    app = [ \"$STREAMAPP\", \"-C\", \"slow\", \"-d\", \"300\" ];
	    instances = { min = 1; max = 1; };
	    stop_timeout = \"2s\";
	  } );"

# profile [SUBSCRIPTIONS]: alpha's profile, with the subscriptions given.
profile() {
	main_stream 'min = 2; max = 2;' fsync "max_queue_bytes = \"$QBYTES\";
	  stop_timeout = \"2s\";
	  ${1:-}"
}

# has_all COLLECTION: COLLECTION holds N distinct keys.
has_all() { [ "$(coll_keys "$1" | wc -l)" -ge "$N" ]; }

# with_prefix COLLECTION PREFIX: how many of its keys start with PREFIX.
with_prefix() {
	coll_keys "$1" | awk -v p="$2" 'index($0, p) == 1 { n++ } END { print n + 0 }'
}

segs() { find "$VAR/queue/alpha/default" -name 'seg-*.log' | wc -l; }

# restart_streammgr: SIGKILL streammgr, start it again, wait for both
# subscriptions' instances.
restart_streammgr() {
	kill -KILL "$SM_PID"
	wait "$SM_PID" 2>/dev/null || true
	start_daemon streammgr
	wait_for 20 "default's instances after the restart" sub_ready_is default 2
	wait_for 20 "default.slow's instance after the restart" sub_ready_is default.slow 1
}

profile "$SLOW"
start_daemon streammgr
wait_for 20 "default's instances" sub_ready_is default 2
wait_for 20 "default.slow's instance" sub_ready_is default.slow 1
slow_pid=$(substat default.slow '.instances[0].pid')
assert_eq MYSIMBDP_STREAM=default.slow \
	"$(tr '\0' '\n' <"/proc/$slow_pid/environ" | grep '^MYSIMBDP_STREAM=')" \
	"default.slow's instance is told its stream"
[ -S "$VAR/run/alpha/default.slow.work" ] || fail "no socket run/alpha/default.slow.work"
ok "default.slow has its own work endpoint"
rc=0; err=$(cli send alpha --stream default.slow </dev/null 2>&1) || rc=$?
assert_eq 64 "$rc" "send to a subscription: usage error"
assert_eq "mysimbdp send: default.slow is a subscription (fan-out); producers send to its stream, default" \
	"$err" "send to a subscription: what to do instead"

# ---- the load, with kills ------------------------------------------------

# 5,000 messages a second offered, default.slow takes ~2,000 (300 us
# asleep per message, and its commits): it falls behind, reaches
# max_queue_bytes within a few seconds, and from then on paces the
# producer (~25 s for 50,000).
"$DURPRODUCER" -r 5000 -w 200 -t $(( 100 * TIME_FACTOR )) "$INGRESS" "$N" \
	>"$T/out/producer" 2>&1 &
producer=$!
STARTED_PIDS+=("$producer")

wait_for 30 "default.slow to lag (backlog > 0)" eval \
	'[ "$(substat default.slow .backlog)" -gt 0 ]'
ok "default.slow lags: backlog $(substat default.slow .backlog), default's $(substat default .backlog)"
wait_for 30 "a THROTTLE for default.slow's held bytes" \
	sm_log_has "reached by subscription default.slow"
qf=$(substat default .queue_full)
[ "${qf:-0}" -gt 0 ] || fail "default's queue_full is '$qf' after a queue-full THROTTLE"
ok "the producer is throttled for default.slow (queue_full $qf)"

# A random moment, 0.2 to 1.0 s later: SIGKILL an instance of "default",
# the one holding the most.
sleep "0.$(( RANDOM % 9 + 2 ))"
victim=$(substat default \
	'[.instances[] | select(.state == "ready")] | sort_by(-.inflight) | .[0].pid')
[ -n "$victim" ] && [ "$victim" != null ] || fail "no ready instance of default"
kill -KILL "$victim"
wait_for 10 "the death of default's instance $victim" \
	sm_log_has "(pid $victim) killed by signal 9"
ok "killed default's instance $victim"

# Another random moment: SIGKILL streammgr and restart it.
sleep "0.$(( RANDOM % 9 + 2 ))"
restart_streammgr
ok "streammgr killed and restarted ($(grep -c 'restored from the queue' "$SM_LOG") restores logged)"

rc=0; wait "$producer" || rc=$?
assert_eq 0 $rc "the producer got an OK for every message ($(cat "$T/out/producer"))"
grep -Eq "violation.*max_queue_bytes $QBYTES reached by subscription default\.slow" "$SM_LOG" ||
	fail "no violation line naming default.slow in streammgr's log"
ok "streammgr logged the violation: $(grep -m 1 'reached by subscription default.slow' "$SM_LOG")"

# ---- every key in both collections, once ---------------------------------

wait_for 120 "default to deliver everything" sub_idle default
wait_for 120 "default.slow to deliver everything" sub_idle default.slow
wait_for 60 "every key in main" has_all main
wait_for 60 "every key in slow" has_all slow
seq 1 "$N" | sed 's/^/k/' | sort >"$T/out/want"
for c in main slow; do
	coll_keys "$c" >"$T/out/keys.$c"
	assert_eq 0 "$(comm -23 "$T/out/want" "$T/out/keys.$c" | wc -l)" \
		"keys missing from the collection $c"
	assert_eq "$N" "$(wc -l <"$T/out/keys.$c")" "distinct keys in $c"
done
ok "all $N keys in both collections after SIGKILLs of an instance and of streammgr"
wait_for 20 "fully released segments deleted" eval '[ "$(segs)" -le 2 ]'
ok "journal segments reclaimed ($(segs) left)"

# ---- stop: new messages wait for default.slow -------------------------------

cli stop alpha --stream default.slow >"$T/out/stop" 2>&1 ||
	fail "stop default.slow: $(cat "$T/out/stop")"
wait_for 20 "default.slow's instances to stop" eval \
	'[ "$(substat default.slow ".instances | length")" = 0 ]'
assert_eq stopped "$(substat default.slow .state)" "default.slow stopped"
assert_eq running "$(substat default .state)" "default still running"

# send_500 PREFIX: 500 messages keyed PREFIX<k>, ~88 bytes each (44K
# held for default.slow, under max_queue_bytes), ~105 in the journal:
# ~52K, at least 5 segments of 8K (a segment ends after the batch that
# passes 8K, and a window of 20 keeps batches to ~2K). Waits until
# default took them all and stopped default.slow holds them all.
send_500() {
	"$DURPRODUCER" -r 2000 -w 20 -t $(( 30 * TIME_FACTOR )) -p "$1" \
		"$INGRESS" 500 >"$T/out/producer-$1" 2>&1 ||
		fail "500 more messages: $(cat "$T/out/producer-$1")"
	wait_for 30 "default to take the 500 more" sub_idle default
	wait_for 30 "default.slow's backlog at 500" eval \
		'[ "$(substat default.slow .backlog)" = 500 ]'
}
XP=$(printf '%80s' '' | tr ' ' x)-
send_500 "$XP"
assert_eq 500 "$(with_prefix main "$XP")" "main got the 500 more"
assert_eq 0 "$(with_prefix slow "$XP")" "slow, stopped, got none of them"

# The producer's side of the limit: a 25K message on top of the 44K
# default.slow holds is refused, with the subscription's name.
qf=$(substat default .queue_full)
printf 'big %025000d\n' 0 >"$T/scratch/big"
rc=0; cli send alpha --file "$T/scratch/big" --json >"$T/out/big" || rc=$?
assert_eq 75 $rc "a message past default.slow's max_queue_bytes: send exits 75"
assert_eq "THROTTLE queue-full: max_queue_bytes $QBYTES reached by subscription default.slow" \
	"$(jq -r '.reasons[] | select(.reason | startswith("queue-full")) |
		"\(.status) \(.reason)"' "$T/out/big")" "the queue-full reason names the subscription"
[ "$(substat default .queue_full)" -gt "$qf" ] || fail "queue_full not counted"
ok "counted in default's queue_full"

# ---- a crash with only default.slow holding: default gets nothing again ---

# Each member's settled list is written at the end of the loop turn of
# its acks; a status request answered after the one that saw default
# idle comes in a later turn, so the list is on disk before the kill.
cli status alpha --json >/dev/null
[ -s "$VAR/queue/alpha/default/settled.log" ] ||
	fail "no settled list for default while default.slow holds its messages"
restart_streammgr
assert_eq "0 500" "$(substat default '.backlog + .inflight + .acked') $(substat default.slow '.backlog + .inflight + .acked')" \
	"restored: nothing for default (it had acked all), 500 for default.slow"
# One more message: default gets it after anything restored for it
# (lower numbers go first), so its acked count then tells all.
printf 'marker m\n' >"$T/scratch/marker"
cli send alpha --file "$T/scratch/marker" >/dev/null || fail "send the marker"
wait_for 30 "default.slow to take its 500 and the marker" eval \
	'[ "$(with_prefix slow "$XP")" = 500 ] && [ "$(coll_keys slow | grep -cx marker)" = 1 ]'
wait_for 30 "default to take the marker" eval '[ "$(substat default .acked)" -ge 1 ] && sub_idle default'
assert_eq 1 "$(substat default .acked)" "default's acks after the restart: the marker only"
wait_for 30 "default.slow idle" sub_idle default.slow
assert_eq 500 "$(with_prefix slow "$XP")" "slow got the 500 after the restart"
ok "after a SIGKILL, each subscription got again only what it had not settled"

# ---- stop, then removal by reload ------------------------------------------

cli stop alpha --stream default.slow >"$T/out/stop" 2>&1 ||
	fail "stop default.slow: $(cat "$T/out/stop")"
wait_for 20 "default.slow's instances to stop" eval \
	'[ "$(substat default.slow ".instances | length")" = 0 ]'
YP=$(printf '%80s' '' | tr ' ' y)-
send_500 "$YP"

before=$(segs)
[ "$before" -ge 3 ] || fail "only $before segments hold default.slow's 500 messages"
pids=$(substat default '[.instances[].pid] | sort | map(tostring) | join(" ")')
profile
kill -HUP "$SM_PID"
wait_for 20 "default.slow gone from status" unlisted default.slow
listed default >/dev/null || fail "default is gone from status too"
wait_for 20 "default idle" sub_idle default
wait_for 20 "default.slow's segments reclaimed" eval '[ "$(segs)" -le 2 ]'
ok "default.slow removed: $before segments down to $(segs)"
assert_eq "$pids" "$(substat default '[.instances[].pid] | sort | map(tostring) | join(" ")')" \
	"default's instances untouched by the reload"
assert_eq 500 "$(with_prefix main "$YP")" "main has the last 500"
assert_eq $(( N + 501 )) "$(coll_keys slow | wc -l)" \
	"slow has its $N keys, the 500 of the restart and the marker, and none of the last 500"

# Added again by reload (its stream has had no subscription since): it
# gets the messages accepted from then on, and after a crash too, none
# of those accepted before that "default" still held (its instances
# stopped) when it came.
cli stop alpha --stream default >"$T/out/stop" 2>&1 ||
	fail "stop default: $(cat "$T/out/stop")"
wait_for 20 "default's instances to stop" eval \
	'[ "$(substat default ".instances | length")" = 0 ]'
printf 'before1 a\nbefore2 b\n' >"$T/scratch/before"
cli send alpha --file "$T/scratch/before" >/dev/null || fail "send before re-adding"
profile "$SLOW"
kill -HUP "$SM_PID"
wait_for 20 "default.slow's instance again" sub_ready_is default.slow 1
printf 'again a\n' >"$T/scratch/again"
cli send alpha --file "$T/scratch/again" >/dev/null || fail "send after re-adding"
wait_for 30 "the new message in slow" eval '[ "$(coll_keys slow | grep -cx again)" = 1 ]'
ok "a subscription added by reload gets the new messages"
restart_streammgr
wait_for 30 "default to take what it held" eval \
	'[ "$(coll_keys main | grep -c "^before\|^again$")" = 3 ] && sub_idle default'
wait_for 30 "default.slow idle after the restart" sub_idle default.slow
assert_eq "again" "$(coll_keys slow | grep "^before\|^again$" | xargs)" \
	"slow after a crash: the message after its re-adding only"
ok "after a crash, the re-added subscription got none of the messages before it"

# The stream's own backlog full (its instances stopped, default.slow
# taking its copies): the refusal names no subscription.
cli stop alpha --stream default >"$T/out/stop" 2>&1 ||
	fail "stop default: $(cat "$T/out/stop")"
wait_for 20 "default's instances to stop" eval \
	'[ "$(substat default ".instances | length")" = 0 ]'
for k in 1 2; do
	cli send alpha --file "$T/scratch/big" >/dev/null || fail "big message $k"
done
wait_for 30 "default.slow idle" sub_idle default.slow
rc=0; cli send alpha --file "$T/scratch/big" --json >"$T/out/big2" || rc=$?
assert_eq 75 $rc "a message past default's own max_queue_bytes: send exits 75"
assert_eq "THROTTLE queue-full: max_queue_bytes $QBYTES reached" \
	"$(jq -r '.reasons[] | select(.reason | startswith("queue-full")) |
		"\(.status) \(.reason)"' "$T/out/big2")" "the queue-full reason names no subscription"

# A subscription removed while its instance, already draining (stopped
# by an operator), holds messages: once they are released the instance
# is stopped, not left running. The instance is frozen (SIGSTOP) before
# the messages come, so that it takes them (streammgr sends up to its
# credit) but acks none: it still holds them when the reload comes, however
# long the steps between take.
cli start alpha --stream default >"$T/out/start" 2>&1 ||
	fail "start default: $(cat "$T/out/start")"
wait_for 20 "default's instances again" sub_ready_is default 2
slow_pid=$(substat default.slow '.instances[0].pid')
kill -STOP "$slow_pid"
"$DURPRODUCER" -r 5000 -w 100 -t $(( 60 * TIME_FACTOR )) -p z "$INGRESS" 600 \
	>"$T/out/producer-z" 2>&1 &
zp=$!
STARTED_PIDS+=("$zp")
wait_for 20 "default.slow holding messages" eval \
	'[ "$(substat default.slow .inflight)" -gt 0 ]'
cli stop alpha --stream default.slow >"$T/out/stop" 2>&1 ||
	fail "stop default.slow: $(cat "$T/out/stop")"
assert_eq draining "$(substat default.slow '.instances[0].state')" \
	"default.slow's frozen instance, holding messages, after stop"
profile
kill -HUP "$SM_PID"
wait_for 20 "default.slow gone from status" unlisted default.slow
kill -CONT "$slow_pid"
wait_for 20 "default.slow's instance $slow_pid to exit" eval \
	"! kill -0 $slow_pid 2>/dev/null"
rc=0; wait "$zp" || rc=$?
assert_eq 0 $rc "the producer's 600 ($(cat "$T/out/producer-z"))"
ok "default.slow removed while holding messages: its instance stopped"
stop_daemon streammgr

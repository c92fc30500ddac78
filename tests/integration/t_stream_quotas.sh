#!/bin/bash
# Each quota refuses with its reason, is counted in the statistics and
# reported as a violation event: max_message_size (REJECT too-large),
# max_messages_per_second (THROTTLE rate), max_queue_bytes (THROTTLE
# queue-full). A tenant without quotas sending at full speed meanwhile
# is not refused anything.
. "$(dirname "$0")/lib.sh"

platform
stream_tenant alpha 'instances = { min = 0; max = 1; initial = 0; };' \
	'max_message_size = "1K"; max_messages_per_second = 100;' \
	'max_queue_bytes = "8K";'
stream_tenant beta
start_daemon streammgr
wait_for 20 "beta's instance" ready_is beta 1

"$MYSIMBDP_BUILD/tests/integration/subscribe" "ipc://$VAR/run/streammgr.pub" \
	"" 1000000 30000 >"$T/out/pub" 2>/dev/null &
subscriber=$!
STARTED_PIDS+=("$subscriber")
wait_for 10 "statistics" grep -q "^stats alpha default" "$T/out/pub"
event() { grep "^event alpha default" "$T/out/pub" | cut -f 2 | jq -r "select(.event == \"violation\") | .detail"; }

# Size.
head -c 2000 /dev/zero | tr '\0' x >"$T/scratch/big"; echo >>"$T/scratch/big"
rc=0; cli send alpha --file "$T/scratch/big" --json >"$T/out/big" || rc=$?
assert_eq 65 $rc "too large: send exits 65"
assert_eq "too-large: 2000 bytes > max_message_size 1024" \
	"$(jq -r '.reasons[0].reason' "$T/out/big")" "the size reason"
assert_eq 1 "$(sstat alpha .too_large)" "counted as too_large"

# Rate: 400 small messages at once against 100 a second (a bucket of one
# second's worth); beta sends 4000 at the same time.
for i in $(seq 1 400); do echo "r$i x"; done >"$T/scratch/burst"
send_keys beta 1 4000 >"$T/out/beta" &
beta_send=$!
rc=0; cli send alpha --file "$T/scratch/burst" --json >"$T/out/rate" || rc=$?
assert_eq 75 $rc "over the rate: send exits 75"
throttled=$(jq .throttled "$T/out/rate")
accepted=$(jq .accepted "$T/out/rate")
[ "$throttled" -gt 0 ] && [ "$accepted" -ge 100 ] &&
	[ $(( accepted + throttled )) = 400 ] || fail "rate: $(cat "$T/out/rate")"
assert_eq "THROTTLE rate: over max_messages_per_second 100" \
	"$(jq -r '.reasons[0] | "\(.status) \(.reason)"' "$T/out/rate")" "the rate reason"
assert_eq "$throttled" "$(sstat alpha .rate_limited)" "counted as rate_limited"
ok "$accepted accepted, $throttled throttled for the rate"
wait "$beta_send" || fail "beta was refused: $(cat "$T/out/beta")"
assert_eq "sent 4000, accepted 4000, rejected 0, throttled 0, unanswered 0" \
	"$(head -n 1 "$T/out/beta")" "beta, sending at full speed meanwhile"

# Queue bytes: 100-byte messages paced under the rate until 8K is held.
for i in $(seq 1 120); do printf 'q%s %095d\n' "$i" 0; done >"$T/scratch/fill"
rc=0; cli send alpha --file "$T/scratch/fill" --rate 80 --json >"$T/out/fill" || rc=$?
assert_eq 75 $rc "over the queue bytes: send exits 75"
assert_eq "THROTTLE queue-full: max_queue_bytes 8192 reached" \
	"$(jq -r '.reasons[] | select(.reason | startswith("queue-full")) |
		"\(.status) \(.reason)"' "$T/out/fill")" "the queue reason"
[ "$(sstat alpha .queue_bytes)" -le 8192 ] || fail "queue over its bytes"
[ "$(sstat alpha .queue_full)" -gt 0 ] || fail "queue_full not counted"

wait_for 10 "three kinds of violation events" eval \
	'[ "$(event | cut -d: -f1 | sort -u | xargs)" = "queue-bytes rate size" ]'
ok "violation events: $(event | cut -d: -f1 | sort | uniq -c | xargs)"
stop_daemon streammgr

#!/bin/bash
# Constraint violations are reported; a profile with pause_after has the
# monitor pause the stream's intake (a drain) when they go on that long,
# and `mysimbdp start` resumes it.
. "$(dirname "$0")/lib.sh"

platform
stream_tenant alpha 'max_message_size = "16";
	instances = { min = 1; max = 1; };
	scaling = { target_backlog_per_instance = 1000; pause_after = "400ms"; };'
start_daemon streammgr
start_daemon monitor
wait_for 20 "one instance" ready_is alpha 1

seq 1 150 | sed 's/^/key-/; s/$/ a-value-far-too-long-for-16-bytes/' >"$T/scratch/big"
cli send alpha --rate 50 --file "$T/scratch/big" >"$T/out/send" 2>&1 &
sender=$!
wait_for 20 "a violation line" dash_has 'alpha/default violation refused=[0-9]+ rejected=[0-9]+ throttled=0'
wait_for 20 "the pause" dash_has 'alpha/default pause intake paused \(drain\)'
wait_for 20 "the stream to stop taking messages" eval \
	'[ "$(sstat alpha .state)" = drained ] || [ "$(sstat alpha .state)" = draining ]'
ok "intake paused: state $(sstat alpha .state)"
sm_log_has 'drain (control request)' || fail "streammgr got no drain"
rc=0
wait $sender || rc=$?
assert_eq 65 "$rc" "send: the too-large messages were rejected"
send_keys alpha 1 1 >"$T/out/after" 2>&1 || true
grep -q 'draining' "$T/out/after" || fail "a message after the pause: $(cat "$T/out/after")"
ok "new messages are refused while paused"
assert_eq 1 "$(grep -c 'alpha/default pause ' "$DASH")" "paused once"

cli start alpha >/dev/null || fail "start"
wait_for 20 "running again" eval '[ "$(sstat alpha .state)" = running ]'
send_keys alpha 2 2 >/dev/null || fail "a message after start"
ok "start resumes intake"
# The refusals while it was paused do not pause it again.
from=$(dash_lines)
wait_for 20 "a second of dashboard" eval \
	'[ "$(tail -n +$((from + 1)) "$DASH" | grep -c "alpha/default stat state=running")" -ge 5 ]'
assert_eq 1 "$(grep -c 'alpha/default pause ' "$DASH")" "not paused again"
assert_eq running "$(sstat alpha .state)" "still running"
stop_daemon monitor
stop_daemon streammgr

#!/bin/bash
# A pause whose drain fails is tried again: the monitor's control socket
# is first a fake streammgr (tests/integration/fakezmq.c) that refuses
# the first drain and leaves the second unanswered (control_timeout);
# neither pauses the stream, and once the real streammgr is back the
# next drain pauses it, on the dashboard once.
. "$(dirname "$0")/lib.sh"

FAKE=$MYSIMBDP_BUILD/tests/integration/fakezmq
CTL=$VAR/run/streammgr.ctl
platform
stream_tenant alpha 'max_message_size = "16";
	instances = { min = 1; max = 1; };
	scaling = { target_backlog_per_instance = 1000; pause_after = "400ms"; };'
start_daemon streammgr
wait_for 20 "one instance" ready_is alpha 1

# The monitor connects to the fake; streammgr's socket waits aside.
mv "$CTL" "$CTL.real"
"$FAKE" ctl "ipc://$CTL" '{"ok":false,"error":"refused by the test"}' - \
	>"$T/out/fake" 2>"$T/out/fake.err" &
fake=$!
STARTED_PIDS+=("$fake")
wait_for 10 "the fake control socket" grep -q ready "$T/out/fake"
start_daemon monitor

# Too large all along: refused until the stream is paused.
seq 1 5000 | sed 's/^/key-/; s/$/ a-value-far-too-long-for-16-bytes/' >"$T/scratch/big"
cli send alpha --rate 50 --file "$T/scratch/big" >"$T/out/send" 2>&1 &
sender=$!
STARTED_PIDS+=("$sender")
wait_for 20 "the refused drain" \
	dash_has 'alpha/default request-failed drain: refused by the test'
wait_for 20 "the unanswered drain" \
	dash_has 'alpha/default request-failed drain: no reply from streammgr within 1s'
[ "$(grep -c '"cmd" : "drain"' "$T/out/fake")" -ge 2 ] ||
	fail "the fake got: $(cat "$T/out/fake")"
! dash_has 'alpha/default pause ' || fail "paused by a drain that failed"
ok "a refused and an unanswered drain: not paused"

# streammgr back: the next drain is its, and pauses the stream.
kill -TERM "$fake"
wait "$fake" || fail "fakezmq exited $?"
mv -f "$CTL.real" "$CTL"
wait_for 20 "the pause" dash_has 'alpha/default pause intake paused \(drain\)'
wait_for 20 "the stream to stop taking messages" eval \
	'[ "$(sstat alpha .state)" = drained ] || [ "$(sstat alpha .state)" = draining ]'
ok "paused at a later try: state $(sstat alpha .state)"
kill -TERM "$sender" 2>/dev/null || true
wait "$sender" 2>/dev/null || true

from=$(dash_lines)
wait_for 20 "a second of dashboard" eval \
	'[ "$(tail -n +$((from + 1)) "$DASH" | grep -c "alpha/default stat state=drain")" -ge 5 ]'
assert_eq 1 "$(grep -c 'alpha/default pause ' "$DASH")" "paused once"
assert_eq 1 "$(grep -c 'drain (control request)' "$SM_LOG")" "streammgr drained once"
stop_daemon monitor
stop_daemon streammgr

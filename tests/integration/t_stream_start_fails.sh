#!/bin/bash
# A stream app that cannot even be started (no such file), with
# restart_backoff and restart_backoff_max "0s": streammgr tries again
# after LIFECYCLE_BACKOFF_MIN_MS, not at once (it recursed until its stack
# overflowed), logs the failures at most once a second and goes on
# serving another tenant's stream.
. "$(dirname "$0")/lib.sh"

platform stream.restart_backoff='"0s"' stream.restart_backoff_max='"0s"'
tenant acme <<EOF2
id = "acme";
streams = ( { app = ["/nonexistent/app"]; stop_timeout = "1s"; } );
EOF2
stream_tenant beta
t0=$SECONDS
start_daemon streammgr

wait_for 30 "beta ready" ready_is beta 1
printf 'k1 v\n' >"$T/scratch/one"
cli send beta --file "$T/scratch/one" >"$T/out/send" 2>&1 ||
	fail "send: $(cat "$T/out/send")"
wait_for 30 "beta's ack" acked_at_least beta 1
ok "another tenant's stream is served"

wait_for 30 "acme's failed start logged" sm_log_has \
	"tenant acme: stream default: cannot start an instance: /nonexistent/app: exec: No such file or directory"
state_is() { [ "$(sstat "$1" .state)" = "$2" ]; }
wait_for 30 "acme in a crash loop" state_is acme crashloop
# Tried again and again: the once-a-second line counts the ones between.
wait_for 30 "a count of the failed starts not logged" sm_log_has \
	"cannot start an instance: .* ([1-9][0-9]* more failed since the last report)"
ok "the failed starts are retried and logged"

# At most one line a second (an upper bound: a slow machine logs fewer).
lines=$(grep -c "tenant acme: stream default: cannot start an instance" "$SM_LOG")
[ "$lines" -le $(( SECONDS - t0 + 2 )) ] ||
	fail "$lines lines on failed starts in $(( SECONDS - t0 )) s"
ok "$lines lines on failed starts in $(( SECONDS - t0 )) s: no flood"

running "$SM_PID" || fail "streammgr is gone"
stop_daemon streammgr

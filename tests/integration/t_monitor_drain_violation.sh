#!/bin/bash
# The dashboard's violation line counts what the tenant had refused, not
# what streammgr refused for its own reasons: messages sent while the
# stream drains get THROTTLE draining (streammgr's `throttled` counts
# them) and give no violation line; messages over the tenant's queue
# quota (THROTTLE queue-full) still give one (docs/architecture.md,
# "Violations"). A refusal for a subscription's backlog is the stream's
# violation: the subscription's own line does not say it again.
. "$(dirname "$0")/lib.sh"

platform
# No instance: the queue keeps what is accepted, so 1K of it fills.
stream_tenant alpha 'max_queue_bytes = "1K";
	instances = { min = 0; max = 1; initial = 0; };'
# beta's own app takes its messages; its subscription "sub" has no
# instance, so its backlog reaches 1K.
stream_tenant beta 'max_queue_bytes = "1K";
	instances = { min = 1; max = 1; };
	subscriptions = ( { name = "sub"; app = ["'"$STREAMAPP"'"];
	  instances = { min = 0; max = 1; initial = 0; }; } );'
start_daemon streammgr
start_daemon monitor
THROTTLED='mysimbdp_stream_throttled_total{tenant="alpha",stream="default"}'

# stat_lines_after LINE N: N dashboard lines of alpha's stream after LINE,
# so the intervals after what the monitor has seen are written.
stat_lines_after() {
	[ "$(tail -n +$(( $1 + 1 )) "$DASH" | grep -c 'alpha/default stat ')" -ge "$2" ]
}

# The monitor has joined streammgr's statistics: the stream's state shows.
wait_for 20 "the monitor's first statistics" dash_has 'alpha/default stat state=running'
cli drain alpha >"$T/out/drain" 2>&1 || fail "drain: $(cat "$T/out/drain")"
wait_for 20 "the monitor to see the drain" dash_has 'alpha/default stat state=drain(ed|ing) '
from=$(dash_lines)
send_keys alpha 1 5 >"$T/out/drained" 2>&1 && fail "accepted while drained: $(cat "$T/out/drained")"
grep -q 'draining' "$T/out/drained" || fail "not refused for the drain: $(cat "$T/out/drained")"
wait_for 20 "the monitor to see the 5 refusals" prom_at_least "$THROTTLED" 5
mark=$(dash_lines)
wait_for 20 "two dashboard intervals more" stat_lines_after "$mark" 2
if dash_after "$from" 'alpha/default violation refused='; then
	fail "a violation for the drain's refusals: $(grep ' violation ' "$DASH")"
fi
ok "refusals while draining: counted by streammgr, no violation line"

cli start alpha >"$T/out/start" 2>&1 || fail "start: $(cat "$T/out/start")"
mark=$(dash_lines)
wait_for 20 "the monitor to see it running" dash_after "$mark" 'alpha/default stat state=running'
for i in $(seq 1 40); do printf 'q%s %096d\n' "$i" "$i"; done >"$T/scratch/fill"
rc=0
cli send alpha --file "$T/scratch/fill" >"$T/out/fill" 2>&1 || rc=$?
assert_eq 75 "$rc" "send exits 75: messages were throttled"
grep -q 'queue-full' "$T/out/fill" || fail "no queue-full refusal: $(cat "$T/out/fill")"
wait_for 20 "a violation line for the queue quota" dash_after "$mark" \
	'alpha/default violation refused=[1-9][0-9]* rejected=0 throttled=[1-9]'
ok "refusals over the queue quota: a violation line"

wait_for 20 "beta's instance" ready_is beta 1
# 8 messages of 99 bytes, taken by beta's app: they stay in sub's
# backlog only, so the next ones are refused for sub's, never the
# stream's own (2 of them at most wait for beta's app).
for i in $(seq 1 8); do printf 'b%s %096d\n' "$i" "$i"; done >"$T/scratch/bfirst"
cli send beta --file "$T/scratch/bfirst" >"$T/out/bfirst" 2>&1 ||
	fail "beta's first 8: $(cat "$T/out/bfirst")"
wait_for 20 "beta's app to ack the 8" acked_at_least beta 8
mark=$(dash_lines)
for i in $(seq 11 40); do printf 'b%s %096d\n' "$i" "$i"; done >"$T/scratch/bfill"
rc=0
cli send beta --file "$T/scratch/bfill" >"$T/out/bfill" 2>&1 || rc=$?
assert_eq 75 "$rc" "beta's send exits 75: messages were throttled"
grep -q 'by subscription default.sub' "$T/out/bfill" ||
	fail "not refused for the subscription: $(cat "$T/out/bfill")"
wait_for 20 "beta's violation line" dash_after "$mark" \
	'beta/default violation refused=[1-9][0-9]* rejected=0 throttled=[1-9]'
from=$(dash_lines)
sub_stats_after() {
	[ "$(tail -n +$(( $1 + 1 )) "$DASH" | grep -c 'beta/default.sub stat ')" -ge "$2" ]
}
wait_for 20 "two intervals of the subscription's line" sub_stats_after "$from" 2
if dash_after "$mark" 'beta/default.sub violation'; then
	fail "the subscription's line says the stream's refusals: $(grep ' violation ' "$DASH")"
fi
ok "a subscription's backlog refusals: the stream's violation line only"

stop_daemon monitor
stop_daemon streammgr

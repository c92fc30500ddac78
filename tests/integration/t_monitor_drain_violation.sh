#!/bin/bash
# The dashboard's violation line counts what the tenant had refused, not
# what streammgr refused for its own reasons: messages sent while the
# stream drains get THROTTLE draining (streammgr's `throttled` counts
# them) and give no violation line; messages over the tenant's queue
# quota (THROTTLE queue-full) still give one (docs/architecture.md,
# "Violations").
. "$(dirname "$0")/lib.sh"

platform
# No instance: the queue keeps what is accepted, so 1K of it fills.
stream_tenant alpha 'max_queue_bytes = "1K";
	instances = { min = 0; max = 1; initial = 0; };'
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

stop_daemon monitor
stop_daemon streammgr

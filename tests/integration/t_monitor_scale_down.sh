#!/bin/bash
# Load removed: the monitor scales down only after the load stayed low
# for scale_down_delay, to min and never below, and never up again.
. "$(dirname "$0")/lib.sh"

platform
STREAMAPP_ARGS=', "-d", "1000", "-r", "200"' stream_tenant alpha \
	'instances = { min = 2; max = 4; initial = 2; };
	 scaling = { target_backlog_per_instance = 100; scale_down_delay = "3s";
	   cooldown = "0"; };'
start_daemon streammgr
start_daemon monitor
wait_for 20 "two instances" ready_is alpha 2

seq 1 3000 | sed 's/^/k/; s/$/ v/' >"$T/scratch/keys"
cli send alpha --file "$T/scratch/keys" >"$T/out/send" 2>&1 ||
	fail "send: $(cat "$T/out/send")"
# One step or two, as the statistics catch the load coming in.
wait_for 20 "a scale-up to max" dash_has 'alpha/default scale-up [23]->4 '
wait_for 60 "every message acked" acked_at_least alpha 3000
wait_for 30 "a scale-down" dash_has 'alpha/default scale-down '
down=$(grep -m1 'alpha/default scale-down ' "$DASH")
# To the highest recommendation of the delay: 2 (min) once the queue is
# empty, or 3 when a statistic caught the last 201-300 messages.
case $down in
*" scale-down 4->"[23]" "*"(low for 3s)") ok "scaled down: ${down#* }" ;;
*) fail "unexpected scale-down: $down" ;;
esac
wait_for 20 "min instances" eval '[ "$(sstat alpha .desired)" = 2 ]'

# The last statistics at which the load asked for as many instances as
# ran, before the scale-down: the delay counts from after it.
busy=$(awk -v target=100 -v min=2 '
	/ scale-down / { exit }
	/ alpha\/default stat state=running / {
		for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		split(v["instances"], rd, "/")
		u = v["backlog"] + v["inflight"]
		rec = int((u + target - 1) / target); if (rec < min) rec = min
		if (rec >= rd[2]) last = $1
	}
	END { print last }' "$DASH")
[ -n "$busy" ] || fail "no busy statistics before the scale-down"
gap=$(( $(ms_of "${down%% *}") - $(ms_of "$busy") ))
echo "# scale-down came ${gap} ms after the last busy statistics (delay 3000 ms)"
# The dashboard line trails the statistics by up to one line interval.
[ "$gap" -ge 2700 ] || fail "scaled down ${gap} ms after the load went away"
ok "no scale-down before the delay"

# Another delay with no load: still at min, no further change.
from=$(dash_lines)
wait_for 20 "4 s more of dashboard" eval \
	'[ "$(tail -n +$((from + 1)) "$DASH" | grep -c "alpha/default stat")" -ge 20 ]'
grep 'alpha/default scale-down' "$DASH" | grep -Eqv ' scale-down [34]->[23] ' &&
	fail "a scale-down below min: $(grep 'scale-down' "$DASH")"
ok "never below min"
assert_eq 0 "$(sed -n '/alpha\/default scale-down/,$p' "$DASH" | grep -c 'scale-up')" \
	"no scale-up after it: no flapping"
assert_eq 2 "$(sstat alpha .desired)" "desired stays at min"
assert_eq 2 "$(sstat alpha .running)" "two instances run"
stop_daemon monitor
stop_daemon streammgr

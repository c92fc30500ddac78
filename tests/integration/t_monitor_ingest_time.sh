#!/bin/bash
# The apps' reports say each message takes 20 ms, the profile's maximum
# is 5 ms: the monitor asks for ceil(1 * 20/5) = 4, clamped to max 3.
. "$(dirname "$0")/lib.sh"

platform
STREAMAPP_ARGS=', "-d", "20000", "-r", "200", "-c", "10"' stream_tenant alpha \
	'instances = { min = 1; max = 3; initial = 1; };
	 scaling = { max_ingest_time = "5ms"; scale_down_delay = "1h";
	   cooldown = "0"; };'
start_daemon streammgr
start_daemon monitor
wait_for 20 "one instance" ready_is alpha 1

seq 1 300 | sed 's/^/k/; s/$/ v/' >"$T/scratch/keys"
cli send alpha --file "$T/scratch/keys" >"$T/out/send" 2>&1 ||
	fail "send: $(cat "$T/out/send")"
wait_for 30 "a scale-up on ingest time" dash_has \
	'alpha/default scale-up 1->3 ingest time [0-9.]+ms/message, max 5.00ms'
ok "$(grep -m1 'alpha/default scale-up' "$DASH" | cut -d' ' -f3-)"
wait_for 20 "the average ingest time in the dashboard" dash_has \
	'alpha/default stat .* ingest_avg=([2-9][0-9]|1[5-9])\.[0-9]+ms'
ok "the dashboard shows the average ingest time"
wait_for 20 "three instances" ready_is alpha 3
wait_for 60 "every message acked" acked_at_least alpha 300
stop_daemon monitor
stop_daemon streammgr

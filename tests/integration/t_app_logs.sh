#!/usr/bin/env bash
# Tenant apps' stdout/stderr are capped and rotated by size (app_logs):
# a batch app and a stream app each write 1 GB to stdout as fast as they
# can. Their logs never pass (backups + 1) x max_size (sampled while they
# run), name.log.1 and .2 exist, and the line written after the flood is
# the last of name.log. Meanwhile another tenant's batch files (in
# batchmgr, beside the batch flood) and stream messages (in streammgr,
# beside the stream flood) all go through; their turnaround is printed,
# not judged (a latency beside a flood is a benchmark's figure, not a
# test's verdict). An app that closes stdout and
# stderr and then works has its outcome recorded normally. As root, a log
# on a full disk drops the output, says so once, and the run is recorded
# as usual. Those floods run unpaced (app_logs.rate = 0). A tenant whose
# profile sets its own app_logs.rate is paced all the same, and while its
# app waits, `mysimbdp status` names the log. Then, with a rate set by a
# reload, a flood goes into the log no faster than the rate, and whole:
# the app waits for the daemon, nothing is dropped.
. "$(dirname "$0")/lib.sh"

FLOOD=${APP_LOGS_FLOOD:-1G}
MAX=$((1024 * 1024))
BACKUPS=2
CAP=$(( (BACKUPS + 1) * MAX ))
FILES=20	# calm's batch files per measure
KEYS=500	# calm's stream messages per measure

platform workers=4
echo "app_logs = { max_size = \"1M\"; backups = $BACKUPS; rate = 0; };" >>"$T/conf/mysimbdp.cfg"
tenant calm <<EOF
id = "calm";
batch = {
  formats = ["csv"];
  max_concurrent = 2;
  apps = ( { app = ["exit-with", "0"]; timeout = "20s"; } );
};
streams = ( { app = ["$STREAMAPP"]; stop_timeout = "2s";
  instances = { min = 1; max = 1; }; } );
EOF
tenant floodb <<EOF
id = "floodb";
batch = { formats = ["csv"];
  apps = ( { app = ["floodlog", "$FLOOD"]; timeout = "2m"; } ); };
EOF
# floodlog never says HELLO: no start_timeout before its flood ends.
tenant floods <<EOF
id = "floods";
streams = ( { app = ["floodlog", "$FLOOD", "stay"]; stop_timeout = "2s";
  start_timeout = "1d"; instances = { min = 0; max = 1; initial = 0; }; } );
EOF
simple_tenant closer '"closeout"'
PACED=$((768 * 1024))	# bytes paced's flood writes, before its last line
RATE=$((256 * 1024))	# the app_logs.rate it runs under
simple_tenant paced "\"floodlog\", \"$PACED\""
OWN_RATE=$((128 * 1024))	# tenant own's app_logs.rate, in its profile
simple_tenant own "\"floodlog\", \"$PACED\""
echo "app_logs = { rate = $OWN_RATE; };" >>"$T/conf/tenants/own.cfg"
# As root, tenant "full" logs into a 256 KiB tmpfs (ENOSPC).
simple_tenant full '"floodlog", "2M"'
fulldir=$VAR/log/full
mkdir -p "$fulldir"
full=no
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=256k,mode=0750 tmpfs "$fulldir" 2>/dev/null; then
	full=yes
	on_cleanup() { umount "$fulldir" 2>/dev/null; }
fi
start_daemon batchmgr
start_daemon streammgr
wait_for 20 "calm's stream instance" ready_is calm 1

# batch_turnaround: ms from dropping FILES files for calm to their
# records, in TURN_MS (not printed: a command substitution's subshell
# would lose the round and message counters).
round=0
batch_turnaround() {
	local before t0 i
	round=$((round + 1))
	before=$(count calm ok)
	mkdir -p "$T/scratch/r$round"
	for i in $(seq 1 $FILES); do echo id >"$T/scratch/r$round/f$round-$i.csv"; done
	t0=$(now_ms)
	move_all "$T/scratch/r$round" "$VAR/staging/calm/incoming"
	wait_for 60 "calm's round $round" have_records $((before + FILES)) calm ok
	TURN_MS=$(( $(now_ms) - t0 ))
}

# stream_turnaround: ms from sending KEYS messages to calm to their
# acks, in TURN_MS.
sent=0
stream_turnaround() {
	local t0
	t0=$(now_ms)
	send_keys calm $((sent + 1)) $((sent + KEYS)) >/dev/null
	sent=$((sent + KEYS))
	wait_for 60 "calm's acks" acked_at_least calm $sent
	TURN_MS=$(( $(now_ms) - t0 ))
}

# turnaround WHAT FUNCTION: runs FUNCTION (which fails the test unless
# all of calm's work goes through) and says how long it took.
turnaround() {
	"$2"
	ok "$1 all went through (${TURN_MS} ms)"
}

# Calm's work goes through before the floods too.
turnaround "calm's $FILES batch files, quiet" batch_turnaround
turnaround "calm's $KEYS stream messages, quiet" stream_turnaround

# Sample the flooding tenants' log folders every 20 ms; keep the largest.
# A file rotated away between find's listing and its stat is skipped.
folder_bytes() {
	{ find "$VAR/log/$1" -type f -printf '%s\n' 2>/dev/null || true; } |
		awk '{ s += $1 } END { print s + 0 }'
}
sampler() {
	local b s maxb=0 maxs=0 n=0
	while :; do
		b=$(folder_bytes floodb)
		s=$(folder_bytes floods)
		[ "$b" -gt $maxb ] && maxb=$b
		[ "$s" -gt $maxs ] && maxs=$s
		n=$((n + 1))
		echo "$maxb $maxs $n" >"$T/out/max.new"
		mv "$T/out/max.new" "$T/out/max"
		sleep 0.02
	done
}
sampler &
STARTED_PIDS+=($!)
sampler_pid=$!

flooding() { ! grep -qs "the end of the flood" "$1"; }
blog=$VAR/log/floodb/default.log
slog=$VAR/log/floods/stream-default.log

# ---- the batch flood, beside calm's batch files ------------------------
drop floodb big.csv
wait_for 30 "the batch flood's first rotation" test -e "$blog.1"
turnaround "calm's $FILES batch files beside the batch flood" batch_turnaround
flooding "$blog" || echo "  (the batch flood ended before calm's files did: a larger APP_LOGS_FLOOD would overlap them)"

# ---- the stream flood, beside calm's stream messages -------------------
cli scale floods 1 >/dev/null
wait_for 30 "the stream flood's first rotation" test -e "$slog.1"
turnaround "calm's $KEYS stream messages beside the stream flood" stream_turnaround
flooding "$slog" || echo "  (the stream flood ended before calm's messages did: a larger APP_LOGS_FLOOD would overlap them)"

# 1 GB through the capped log: about 10 s on an idle machine.
wait_for 120 "the batch flood's end" have_records 1 floodb ok
echo "  the batch flood of $FLOOD took $(records '.tenant == "floodb"' | jq .duration_ms) ms"
wait_for 120 "the stream flood's last line" grep -q "the end of the flood" "$slog"
kill "$sampler_pid"
wait "$sampler_pid" 2>/dev/null || true
read -r maxb maxs samples <"$T/out/max"
echo "  largest log folder seen in $samples samples: floodb $maxb bytes, floods $maxs bytes (cap $CAP)"
[ "$maxb" -gt $((2 * MAX)) ] || fail "floodb's logs never passed 2 x max_size ($maxb): no rotation seen"
[ "$maxb" -le $CAP ] || fail "floodb's logs reached $maxb bytes, over the cap $CAP"
[ "$maxs" -le $CAP ] || fail "floods's logs reached $maxs bytes, over the cap $CAP"
ok "the flooding tenants' logs stayed under (backups + 1) x max_size"

for log in "$blog" "$slog"; do
	for f in "$log" "$log.1" "$log.2"; do
		assert_file "$f"
		size=$(stat -c %s "$f")
		[ "$size" -le $MAX ] || fail "$f holds $size bytes, over max_size"
	done
	assert_no_file "$log.3"
	[ "$(stat -c %a "$log")" = 640 ] || fail "$log has mode $(stat -c %a "$log")"
	tail -n 1 "$log" | grep -q "^the end of the flood from" ||
		fail "$log does not end with the flood's last line: $(tail -c 200 "$log")"
	tail -n 1 "$log.1" | grep -q "^flood from" ||
		fail "$log.1 does not end with flood lines: $(tail -c 200 "$log.1")"
	ok "${log#"$VAR"/}: rotated into .1 and .2, the newest line last in name.log"
done

# ---- an app that closes stdout and stderr, then works ------------------
drop closer quiet.csv
wait_for 20 "closer's record" have_records 1 closer ok
assert_eq 7 "$(records '.tenant == "closer"' | jq .rows)" "closer: its summary recorded"
wait_file "$VAR/staging/closer/done/quiet.csv"

# ---- a full disk ------------------------------------------------------
if [ $full = yes ]; then
	drop full big.csv
	wait_for 30 "full's record" have_records 1 full ok
	wait_for 10 "the dropped count" grep -q "closed $fulldir/default.log; [0-9]* bytes of output were dropped" "$BM_LOG"
	assert_eq 1 "$(grep -c "write $fulldir/default.log: No space left on device; dropping" "$BM_LOG")" \
		"a full disk: the app's run recorded, its output dropped, said once"
	running "$BM_PID" || fail "batchmgr died"
else
	echo "# a full disk: skipped (needs root for a tmpfs)"
fi

# paced_whole TENANT RATE: TENANT's flood of PACED bytes (dropped after
# line $from of batchmgr's log) ran at RATE and is all in its log, and
# batchmgr said it paces it. Sets PACED_D (its ms) and PACED_LEAST. The
# daemon reads at most RATE at once (a full bucket), then RATE a second;
# the app can exit with a pipe's worth (64K) unread, which comes after
# its record, at the rate. A slow machine only makes the run longer.
flood_ended() { tail -n 1 "$1" | grep -q "^the end of the flood from"; }
paced_whole() {
	local tenant=$1 rate=$2 log=$VAR/log/$1/default.log size
	wait_for 60 "$tenant's record" have_records 1 "$tenant" ok
	wait_for 30 "$log's last line, the flood's" flood_ended "$log"
	size=$(stat -c %s "$log")
	[ "$size" -gt $PACED ] || fail "$log holds $size bytes of a flood of $PACED and more: output lost"
	PACED_LEAST=$(( 1000 * (PACED - 65536 - rate) / rate ))
	PACED_D=$(records ".tenant == \"$tenant\"" | jq .duration_ms)
	[ "$PACED_D" -ge $PACED_LEAST ] ||
		fail "$tenant's flood ran $PACED_D ms: faster than its app_logs.rate allows ($PACED_LEAST ms at least)"
	bm_log_after "$from" "tenant $tenant: output for $log comes faster than app_logs.rate ($rate bytes a second)" ||
		fail "batchmgr did not say it paces $tenant's output"
}

# ---- a tenant's own app_logs.rate, seen in status ------------------------
# paced_json: status --json's paced_logs entry for own's log, held now.
paced_json() {
	cli status --json 2>/dev/null | jq -e --argjson r $OWN_RATE \
		'.batchmgr.paced_logs[] | select(.tenant == "own" and
		 .log == "default.log" and .rate == $r and .pauses > 0 and .held)'
}
from=$(wc -l <"$BM_LOG")
drop own big.csv
wait_for 60 "own's log held, in status" paced_json
# streammgr lists its own (stream apps' logs): none held here.
cli status --json | jq -e '.streammgr.paced_logs == []' >/dev/null ||
	fail "streammgr's status has no paced_logs: $(cli status --json | jq -c .streammgr)"
cli status own | grep -q "^tenant own: output to default.log (batchmgr) read at app_logs.rate, 128K a second: held [0-9]* times, .* in all, held now$" ||
	fail "status does not show own's log held: $(cli status own)"
paced_whole own $OWN_RATE
ok "own's app_logs.rate (the platform's is 0): its flood of $PACED bytes took $PACED_D ms (at least $PACED_LEAST), shown held in status"

# ---- app_logs.rate: a flood read at the rate, none of it lost ---------
sed -i "s/rate = 0;/rate = $RATE;/" "$T/conf/mysimbdp.cfg"
from=$(wc -l <"$BM_LOG")
kill -HUP "$BM_PID"
wait_for 20 "batchmgr's reload" bm_log_after "$from" "reloading configuration"
drop paced big.csv
paced_whole paced $RATE
ok "app_logs.rate: a flood of $PACED bytes took $PACED_D ms (at least $PACED_LEAST), all of it in the log"

stop_daemon streammgr
stop_daemon batchmgr

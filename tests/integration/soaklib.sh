# The soak, shared by tests/integration/t_soak.sh (under a minute) and
# scripts/soak (minutes): the three daemons with two sample-like tenants,
# a steady mixed load in rounds, a sample of each daemon's resident memory
# (VmRSS) and open files (/proc/PID/fd) after every round, then a table
# and a verdict. Sourced after lib.sh, whose platform, tenants and daemon
# helpers it uses.
#
# The load, one round every SOAK_INTERVAL seconds: per tenant one sample
# file (the same content each round, so the store stays the same size:
# the apps replace their unit) and one file of the wrong format
# (rejected/), and the tenant's sample stream messages through `mysimbdp
# send` (upserts by key). The round ends when everything is through:
# nothing in incoming/ or processing/, no backlog, nothing in flight. The
# sample is taken there, at a quiet point, so a file or a message being
# handled at that moment does not count as growth.
#
# The verdict, per daemon, after a warm-up (SOAK_WARMUP seconds: caches,
# allocator arenas and the stream queue's first segments settle):
#   fds  the last sample is not above the first post-warm-up one (no
#        tolerance: at a quiet point every fd is accounted for);
#   RSS  the median of the last three samples is not above the median of
#        the first three post-warm-up ones by more than SOAK_RSS_PCT
#        percent (default 10) or SOAK_RSS_KB (default 1024), whichever is
#        larger. SOAK_RSS=0 leaves RSS out of the verdict (the table still
#        shows it): t_soak does so under AddressSanitizer, whose
#        quarantine holds freed memory by design.
# Instances are pinned (min = max = 2) and nothing scales, so the fds of
# streammgr and the monitor do not change with the number of instances.

SOAK_INTERVAL=${SOAK_INTERVAL:-5}
SOAK_WARMUP=${SOAK_WARMUP:-30}
SOAK_RSS=${SOAK_RSS:-1}
SOAK_RSS_PCT=${SOAK_RSS_PCT:-10}
SOAK_RSS_KB=${SOAK_RSS_KB:-1024}
SOAK_SAMPLES=$T/out/soak.samples
SOAK_TENANTS=(acme globex)

# soak_setup: the platform, the two tenants, the three daemons.
soak_setup() {
	local b=$MYSIMBDP_BUILD s=$MYSIMBDP_SRC
	platform workers=4 monitor.interval='"1s"'
	tenant acme <<-CFG
	id = "acme";
	batch = {
	  formats = ["csv"];
	  max_concurrent = 2;
	  apps = ( { app = ["$b/tenants/acme/acme-listings"]; timeout = "60s"; retries = 2; } );
	};
	streams = ( { app = ["$b/tenants/acme/acme-stream"];
	  instances = { min = 2; max = 2; }; durability = "fsync"; } );
	CFG
	tenant globex <<-CFG
	id = "globex";
	batch = {
	  formats = ["csv"];
	  max_concurrent = 2;
	  apps = ( { name = "cases"; app = ["$s/tenants/globex/ingest-cases", "$CLI"];
	    datasets = ["cases"]; timeout = "60s"; retries = 2; } );
	};
	streams = ( { app = ["$b/tenants/globex/globex-stream"];
	  instances = { min = 2; max = 2; }; durability = "os"; } );
	CFG
	start_daemon monitor
	start_daemon streammgr
	start_daemon batchmgr
	wait_for 30 "the stream instances" eval 'ready_is acme 2 && ready_is globex 2'
}

# soak_round N: one round of load, returned once it is all through.
soak_round() {
	local n=$1 s=$MYSIMBDP_SRC/tenants t pids=()
	drop_file acme "listings-$n.csv" "$s/acme/samples/listings-small.csv"
	drop_file globex "cases/cases-$n.csv" "$s/globex/samples/cases-small.csv"
	for t in "${SOAK_TENANTS[@]}"; do
		echo "round $n" >"$T/scratch/notes.txt"
		drop_file "$t" "notes-$n.txt" "$T/scratch/notes.txt"
	done
	cli send acme --file "$s/acme/samples/updates.jsonl" >"$T/out/send.acme" 2>&1 &
	pids+=($!)
	cli send globex --file "$s/globex/samples/cases-stream.csv" >"$T/out/send.globex" 2>&1 &
	pids+=($!)
	for t in 0 1; do
		wait "${pids[$t]}" || fail "round $n: send ${SOAK_TENANTS[$t]}: $(cat "$T/out/send.${SOAK_TENANTS[$t]}")"
	done
	wait_for 60 "round $n: the files through" soak_files_through "$n"
	for t in "${SOAK_TENANTS[@]}"; do
		wait_for 60 "round $n: $t's stream drained" eval \
			"[ \"\$(sstat $t '.backlog + .inflight')\" = 0 ]"
	done
}

# soak_files_through N: the N rounds' files are all in done/, failed/ or
# rejected/ (4 a round) and none waits.
soak_files_through() {
	[ "$(find "$VAR/staging"/*/incoming "$VAR/staging"/*/processing -type f | wc -l)" = 0 ] &&
	[ "$(find "$VAR/staging"/*/done "$VAR/staging"/*/failed "$VAR/staging"/*/rejected \
		-type f ! -name '*.reason' | wc -l)" -ge $(( 4 * $1 )) ]
}

# soak_fds PID: open files of PID; the least of five reads 20 ms apart,
# so a connection a just-exited app left for the daemon's I/O thread to
# close is not counted; a leaked fd stays in every read.
soak_fds() {
	local i n min=
	for i in 1 2 3 4 5; do
		n=$(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
		[ -z "$min" ] || [ "$n" -lt "$min" ] && min=$n
		[ $i = 5 ] || sleep 0.02
	done
	echo "$min"
}

soak_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# soak_sample SECONDS: appends "seconds rss fds rss fds rss fds" (KB) for
# batchmgr, streammgr and the monitor.
soak_sample() {
	local pid line=$1
	for pid in "$BM_PID" "$SM_PID" "$MON_PID"; do
		running "$pid" || fail "a daemon (pid $pid) exited during the soak"
		line="$line $(soak_rss "$pid") $(soak_fds "$pid")"
	done
	echo "$line" >>"$SOAK_SAMPLES"
}

# soak_run SECONDS: rounds of load for SECONDS, one every SOAK_INTERVAL
# (or back to back when a round takes longer), a sample after each.
soak_run() {
	local secs=$1 start n=0 next
	start=$(date +%s)
	: >"$SOAK_SAMPLES"
	soak_sample 0
	while [ $(( $(date +%s) - start )) -lt "$secs" ]; do
		n=$((n + 1))
		soak_round "$n"
		soak_sample $(( $(date +%s) - start ))
		# Pacing: the load is a steady rate, not as fast as it goes.
		next=$(( start + n * SOAK_INTERVAL - $(date +%s) ))
		[ "$next" -le 0 ] || sleep "$next"
	done
	SOAK_ROUNDS=$n
}

# soak_verdict: prints the table and the verdict; returns 1 when a daemon
# is not flat (or there are too few samples after the warm-up to say).
soak_verdict() {
	echo "soak: $SOAK_ROUNDS rounds (each: 4 files, $(wc -l <"$MYSIMBDP_SRC/tenants/acme/samples/updates.jsonl") +" \
		"$(wc -l <"$MYSIMBDP_SRC/tenants/globex/samples/cases-stream.csv") messages), a sample after each"
	awk -v warm="$SOAK_WARMUP" -v rss="$SOAK_RSS" -v pct="$SOAK_RSS_PCT" -v abskb="$SOAK_RSS_KB" '
	function median3(a, b, c) { return a + b + c - (a < b ? (a < c ? a : c) : (b < c ? b : c)) - (a > b ? (a > c ? a : c) : (b > c ? b : c)) }
	BEGIN {
		split("batchmgr streammgr monitor", name, " ")
		printf "%7s", "time(s)"
		for (d = 1; d <= 3; d++) printf "  %10s %9s", name[d] " RSS", "fds"
		printf "\n"
	}
	{
		printf "%7d", $1
		for (d = 1; d <= 3; d++) printf "  %8d K %9d", $(2 * d), $(2 * d + 1)
		printf "%s\n", $1 < warm ? "   (warm-up)" : ""
		if ($1 < warm) next
		n++
		for (d = 1; d <= 3; d++) { r[n, d] = $(2 * d); f[n, d] = $(2 * d + 1) }
	}
	END {
		if (n < 6) {
			printf "verdict: too few samples after the warm-up (%d, need 6): run longer\n", n
			exit 1
		}
		bad = 0
		for (d = 1; d <= 3; d++) {
			r0 = median3(r[1, d], r[2, d], r[3, d]); r1 = median3(r[n - 2, d], r[n - 1, d], r[n, d])
			tol = r0 * pct / 100; if (tol < abskb) tol = abskb
			fdok = f[n, d] <= f[1, d]
			rok = r1 <= r0 + tol
			printf "%-9s fds %d -> %d %s; RSS %d -> %d KB (%+.1f%%, tolerance %d KB) %s\n", name[d],
			    f[1, d], f[n, d], fdok ? "flat" : "GROWING",
			    r0, r1, r0 ? (r1 - r0) * 100 / r0 : 0, tol,
			    !rss ? "not judged" : rok ? "flat" : "GROWING"
			if (!fdok || (rss && !rok)) bad++
		}
		print bad ? "verdict: NOT FLAT" : "verdict: flat"
		exit bad ? 1 : 0
	}' "$SOAK_SAMPLES"
}

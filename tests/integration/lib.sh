# Shared helpers for the black-box scenarios: each test sources this file,
# builds a platform in a temporary folder, starts the real daemons, drops
# real files and asserts on what an operator would look at: the staging
# folders, log/ingest.jsonl and the daemon's log.
#
# Environment (set by tests/integration/meson.build):
#   MYSIMBDP_BUILD  build folder holding the binaries
#   MYSIMBDP_SRC    source folder (tests/apps lives there)
# and, optionally:
#   MYSIMBDP_TEST_TIME_FACTOR  a whole number (1 unless set; scripts/test
#                   sets 3): every deadline a test waits for an event
#                   with is multiplied by it (wait_for, scaled), so that
#                   a loaded machine is slower, not failing
#                   (docs/testing.md, "Deadlines")
set -euo pipefail

: "${MYSIMBDP_BUILD:?set by meson}" "${MYSIMBDP_SRC:?set by meson}"
BATCHMGR=$MYSIMBDP_BUILD/manager/batchmgr
STREAMMGR=$MYSIMBDP_BUILD/manager/streammgr
MONITOR=$MYSIMBDP_BUILD/monitor/monitor
PUSHREPORT=$MYSIMBDP_BUILD/tests/integration/pushreport
STREAMAPP=$MYSIMBDP_BUILD/tests/integration/streamapp
CLI=$MYSIMBDP_BUILD/cli/mysimbdp
APPS=$MYSIMBDP_SRC/tests/apps
BSONCOUNT=$MYSIMBDP_BUILD/tenants/bsoncount
# Short, so ipc socket paths fit in sun_path.
T=$(mktemp -d /tmp/mysbt.XXXXXX)
VAR=$T/var
INGEST=$VAR/log/ingest.jsonl
BM_PID=
BM_LOG=$T/batchmgr.log
SM_PID=
SM_LOG=$T/streammgr.log
MON_PID=
MON_LOG=$T/monitor.log
DASH=$VAR/log/monitor.log
STARTED_PIDS=()
AT_EXIT=()
TIME_FACTOR=${MYSIMBDP_TEST_TIME_FACTOR:-1}
if ! [[ $TIME_FACTOR =~ ^[1-9][0-9]{0,2}$ ]]; then
	echo "MYSIMBDP_TEST_TIME_FACTOR must be a whole number from 1 to 999, not '$TIME_FACTOR'" >&2
	exit 1
fi

# A daemon's start-up line, up to the base cgroup it names (cgroup.c;
# daemon_cgroup, remove_cgroups).
CGROUP_LINE='cgroup v2: .*\(contained in\|not available under\) /[^:,]*'

cleanup() {
	local rc=$?
	# A test's own undo (an unmount, say) runs first, once.
	if [ "$(type -t on_cleanup)" = function ]; then
		on_cleanup || true
	fi
	# The helpers' own undo (ssh_top, netns_lan), last made first.
	local i
	for (( i = ${#AT_EXIT[@]} - 1; i >= 0; i-- )); do
		eval "${AT_EXIT[$i]}" || true
	done
	[ -z "${FDB:-}" ] || "$MYSIMBDP_SRC/scripts/ferretdb" stop "$FDB" || true
	for pid in "${STARTED_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	# The trees of the daemons killed above or during the test, named
	# in whichever of its files logged their start (grep finding none
	# is no error here).
	local logs=()
	if [ -d "$T" ]; then
		mapfile -t logs < <(find "$T" -maxdepth 3 -type f -size -16M \
		    -print0 | xargs -0 -r grep -lIs 'cgroup v2: ' || true)
	fi
	[ ${#logs[@]} -eq 0 ] || remove_cgroups "${logs[@]}" || true
	if [ $rc -ne 0 ] || [ -n "${KEEP:-}" ]; then
		echo "(state kept in $T)" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$BM_LOG" ]; then
		echo "--- batchmgr log (last 40 lines)" >&2
		tail -n 40 "$BM_LOG" >&2
	fi
	if [ -f "$SM_LOG" ]; then
		echo "--- streammgr log (last 40 lines)" >&2
		tail -n 40 "$SM_LOG" >&2
	fi
	if [ -f "$MON_LOG" ]; then
		echo "--- monitor log (last 40 lines)" >&2
		tail -n 40 "$MON_LOG" >&2
	fi
	if [ -f "$DASH" ]; then
		echo "--- log/monitor.log (last 30 lines)" >&2
		tail -n 30 "$DASH" >&2
	fi
	if [ -f "$INGEST" ]; then
		echo "--- ingest.jsonl (last 20 lines)" >&2
		tail -n 20 "$INGEST" >&2
	fi
	exit 1
}

ok() { echo "ok - $*"; }

assert_eq() {	# EXPECTED ACTUAL WHAT
	[ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
	ok "$3"
}

assert_file() { [ -e "$1" ] || fail "missing $1"; }
assert_no_file() { [ ! -e "$1" ] || fail "unexpected $1"; }

# wait_file PATH, wait_no_file PATH: wait for PATH to be there, or gone.
# batchmgr appends a file's record before it moves the file (to done/,
# failed/, quarantine/, rejected/) or removes it, so a test that has seen
# the record may look in between: it waits for the move instead.
wait_file() { wait_for 20 "$1 to be in place" test -e "$1"; }
wait_no_file() { wait_for 20 "$1 to be gone" test ! -e "$1"; }

# scaled SECONDS: SECONDS (a decimal number too) times the time factor,
# for a deadline a test gives another command (timeout N, --timeout N).
scaled() { awk -v s="$1" -v f="$TIME_FACTOR" 'BEGIN { printf "%g", s * f }'; }

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 20 ms until it
# succeeds; the deadline, SECONDS times the time factor, only bounds a
# hung test: it is not a measure of the platform's speed.
wait_for() {
	local secs=$1 what=$2
	shift 2
	local ns=$(( secs * TIME_FACTOR * 1000000000 ))
	local deadline=$(( $(date +%s%N) + ns ))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s%N)" -lt "$deadline" ] ||
			fail "timed out after $(( secs * TIME_FACTOR ))s (${secs}s x time factor $TIME_FACTOR) waiting for: $what"
		sleep 0.02
	done
}

# platform [SETTING=VALUE ...]: writes conf/mysimbdp.cfg (top.NAME=VALUE for a
# setting outside the groups, e.g. top.mongo_url=...); the batch settings
# given (and stream.SETTING=VALUE, monitor.SETTING=VALUE ones) override the
# test defaults (fast scans, short backoffs, statistics five times a
# second, a dashboard line five times a second, Prometheus on a free port).
# Batch apps run at app_nice 0, not the default 19: at nice 19 a machine
# saturated by other work starves them (a no-op app took 6 s, memhog 150
# more than a minute, beside two nice-0 spinners on 2 CPUs), which no
# time factor can cover; at 0 they share the CPU like the test itself.
# t_misbehave keeps 19, part of the containment it checks.
platform() {
	declare -A s=(
		[workers]=4 [scan_interval]='"1s"' [settle]='"200ms"'
		[shutdown_grace]='"2s"' [retry_backoff]='"100ms"'
		[retry_backoff_max]='"1s"' [app_nice]=0
	)
	declare -A st=(
		[stats_interval]='"200ms"' [shutdown_grace]='"3s"'
		[restart_backoff]='"100ms"' [restart_backoff_max]='"2s"'
		[min_uptime]='"500ms"' [crashloop_restarts]=3
	)
	declare -A mo=(
		[interval]='"200ms"' [http_port]=0 [report_ttl]='"2s"'
		[control_timeout]='"1s"'
	)
	declare -A top=()
	local kv
	for kv in "$@"; do
		case $kv in
		top.*) kv=${kv#top.}; top[${kv%%=*}]=${kv#*=} ;;
		stream.*) kv=${kv#stream.}; st[${kv%%=*}]=${kv#*=} ;;
		monitor.*) kv=${kv#monitor.}; mo[${kv%%=*}]=${kv#*=} ;;
		*) s[${kv%%=*}]=${kv#*=} ;;
		esac
	done
	mkdir -p "$T/conf/tenants" "$T/scratch" "$T/out"
	{
		echo "state_dir = \"$VAR\";"
		echo 'tenants_dir = "tenants";'
		echo "apps_dir = \"$APPS\";"
		for kv in "${!top[@]}"; do echo "$kv = ${top[$kv]};"; done
		echo 'batch = {'
		for kv in "${!s[@]}"; do echo "  $kv = ${s[$kv]};"; done
		echo '};'
		echo 'stream = {'
		for kv in "${!st[@]}"; do echo "  $kv = ${st[$kv]};"; done
		echo '};'
		echo 'monitor = {'
		for kv in "${!mo[@]}"; do echo "  $kv = ${mo[$kv]};"; done
		echo '};'
	} >"$T/conf/mysimbdp.cfg"
}

# tenant ID: writes conf/tenants/ID.cfg from standard input.
tenant() { cat >"$T/conf/tenants/$1.cfg"; }

# simple_tenant ID APP [EXTRA BATCH SETTINGS...]: a one-app csv tenant.
simple_tenant() {
	local id=$1 app=$2
	shift 2
	tenant "$id" <<-EOF
	id = "$id";
	batch = {
	  formats = ["csv"];
	  $*
	  apps = ( { app = [$app]; timeout = "$(scaled 20)s"; retries = 2; stop_timeout = "1s"; } );
	};
	EOF
}

# dataset_tenant ID DATASET: CSV files at the top and in DATASET/, each
# served by an app that exits 0, never retried.
dataset_tenant() {
	tenant "$1" <<-EOF
	id = "$1";
	batch = {
	  formats = ["csv"];
	  apps = ( { app = ["exit-with", "0"]; retries = 0; },
	           { name = "$2"; app = ["exit-with", "0"]; datasets = ["$2"]; retries = 0; } );
	};
	EOF
}

# main_stream INSTANCES DURABILITY [MORE]: tenant alpha with one stream,
# "default", served by the stream test app (-C main), its instances
# group's settings INSTANCES ("min = 1; max = 1;"), the durability
# given, and MORE settings of the stream (subscriptions, say).
main_stream() {
	tenant alpha <<-EOF
	id = "alpha";
	streams = ( {
	  name = "default";
	  app = [ "$STREAMAPP", "-C", "main" ];
	  instances = { $1 };
	  durability = "$2";
	  ${3:-}
	} );
	EOF
}

# slow_dead_letter: for the requeue tests, tenant alpha's stream
# "default" (fsync, no instance) and its subscription "slow", whose app
# fails every message while $T/scratch/outage exists (max_deliveries 1):
# streammgr started, k1 sent and dead-lettered by default.slow, which is
# then stopped; the letter's id in DL_ID.
slow_dead_letter() {
	main_stream 'min = 0; max = 1; initial = 0;' fsync "subscriptions = ( {
	    name = \"slow\";
	    app = [ \"$STREAMAPP\", \"-C\", \"slow\", \"-P\", \"$T/scratch/outage\" ];
	    instances = { min = 0; max = 1; initial = 1; };
	    max_deliveries = 1;
	    stop_timeout = \"1s\";
	  } );"
	touch "$T/scratch/outage"
	start_daemon streammgr
	wait_for 20 "default.slow's instance" sub_ready_is default.slow 1
	send_keys alpha 1 1 >/dev/null || fail "send k1"
	wait_for 20 "k1 dead-lettered by default.slow" eval \
		'[ "$(substat default.slow .dead_letters)" = 1 ]'
	cli stop alpha --stream default.slow >/dev/null ||
		fail "stop default.slow"
	wait_for 20 "default.slow stopped" eval \
		'[ "$(substat default.slow ".instances | length")" = 0 ]'
	DL_ID=$(cli dead-letters alpha --stream default.slow --json |
		jq -r '.[0].id // .dead_letters[0].id')
	[ -n "$DL_ID" ] && [ "$DL_ID" != null ] || fail "no dead letter id:" \
		"$(cli dead-letters alpha --stream default.slow --json)"
}

# ---- the daemons ------------------------------------------------------------

# daemon_var NAME: sets DV_PID (the name of the variable holding its
# pid), DV_BIN and DV_LOG for daemon NAME (batchmgr, streammgr or
# monitor). Not in a subshell: an unknown name fails the test.
daemon_var() {
	case $1 in
	batchmgr) DV_PID=BM_PID DV_BIN=$BATCHMGR DV_LOG=$BM_LOG ;;
	streammgr) DV_PID=SM_PID DV_BIN=$STREAMMGR DV_LOG=$SM_LOG ;;
	monitor) DV_PID=MON_PID DV_BIN=$MONITOR DV_LOG=$MON_LOG ;;
	*) fail "no daemon '$1' (batchmgr, streammgr or monitor)" ;;
	esac
}

# start_daemon NAME [OPTION...]: starts daemon NAME in the foreground
# mode (-d -v) on this platform's configuration, with OPTIONs added,
# its output appended to its log ($BM_LOG, $SM_LOG, $MON_LOG), its pid
# in BM_PID, SM_PID or MON_PID; returns once it logged that it started.
start_daemon() {
	local name=$1 log from
	shift
	daemon_var "$name"
	log=$DV_LOG
	from=$( [ -f "$log" ] && wc -l <"$log" || echo 0)
	"$DV_BIN" -d -v -c "$T/conf/mysimbdp.cfg" "$@" >>"$log" 2>&1 &
	printf -v "$DV_PID" '%s' "$!"
	STARTED_PIDS+=("$!")
	wait_for 20 "$name to start" log_after "$log" "$from" "$name: started"
}

# reap PID [WHAT]: waits for PID (a child of the test) to exit, 60 s
# times the time factor at most (a process that hangs fails the test here,
# with the logs), and returns its status.
reap() {
	wait_for 60 "${2:-process $1} to exit" gone "$1"
	wait "$1"
}

# stop_daemon NAME: SIGTERM, then the daemon must exit 0 by itself.
stop_daemon() {
	local var pid rc=0
	daemon_var "$1"
	var=$DV_PID pid=${!DV_PID}
	[ -n "$pid" ] || fail "stop_daemon $1: it is not running"
	kill -TERM "$pid"
	reap "$pid" "$1 after SIGTERM" || rc=$?
	[ $rc -eq 0 ] || fail "$1 exited $rc after SIGTERM"
	printf -v "$var" '%s' ''
}

# kill9_daemon NAME: SIGKILL, and reaps it.
kill9_daemon() {
	local var pid
	daemon_var "$1"
	var=$DV_PID pid=${!DV_PID}
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	printf -v "$var" '%s' ''
}

# gdb_start PID OUT GDB-COMMAND...: gdb in batch mode attached to PID in
# the background (its pid in GDB_PID), each GDB-COMMAND an -ex, output in
# OUT. OUT is emptied before gdb starts: wait_for_gdb would otherwise take
# an earlier gdb's "Breakpoint 1 at" in the same file for this one's and
# let the test go on before the breakpoint is set. gdb is given 60 s
# (times the time factor) to get through its commands, so a breakpoint
# never reached fails the test in gdb_wait instead of hanging it.
gdb_start() {
	local pid=$1 out=$2 cmd args=()
	shift 2
	for cmd; do args+=(-ex "$cmd"); done
	: >"$out"
	timeout "$(scaled 60)" gdb -p "$pid" -batch -nx -ex 'set confirm off' \
		"${args[@]}" >"$out" 2>&1 &
	GDB_PID=$!
	STARTED_PIDS+=("$GDB_PID")
}

# gdb_wait OUT: waits for gdb_start's gdb to end; fails when it was cut
# off at its deadline (the breakpoint was never reached).
gdb_wait() {
	local rc=0
	wait "$GDB_PID" || rc=$?
	[ $rc -ne 124 ] ||
		fail "gdb gave up after $(scaled 60)s, its breakpoint never reached: $(tail -n 5 "$1")"
}

# wait_for_gdb OUT PID [N]: true once gdb (its output in OUT) is attached
# and its breakpoint N (default 1) set: what the daemon does from then
# on, it does under the breakpoint. False when gdb exited (it cannot
# attach) or did not get there within 20 s.
wait_for_gdb() {
	local i
	for (( i = 0; i < 1000 * TIME_FACTOR; i++ )); do
		grep -q "^Breakpoint ${3:-1} at" "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.02
	done
	return 1
}

# log_after LOG LINE PATTERN: PATTERN appears in LOG after line LINE.
log_after() { tail -n +"$(( $2 + 1 ))" "$1" | grep -- "$3" >/dev/null; }
bm_log_after() { log_after "$BM_LOG" "$@"; }
sm_log_after() { log_after "$SM_LOG" "$@"; }
# sm_reload: SIGHUP to streammgr, then until its log says it reloads (the
# reload ends in that turn of its loop: a request sent next sees it).
sm_reload() {
	local from
	from=$(wc -l <"$SM_LOG")
	kill -HUP "$SM_PID"
	wait_for 20 "streammgr's reload" sm_log_after "$from" "reloading configuration"
}
mon_log_after() { log_after "$MON_LOG" "$@"; }

# scripts/soak (outside the tests' folder) still stops the daemons by
# their old names.
stop_batchmgr() { stop_daemon batchmgr; }
stop_streammgr() { stop_daemon streammgr; }
stop_monitor() { stop_daemon monitor; }

# drop TENANT [DATASET/]NAME [CONTENT]: delivers a file the way tenants
# must, by writing it elsewhere and renaming it in.
drop() {
	local dest=$VAR/staging/$1/incoming/$2
	mkdir -p "$(dirname "$dest")"
	printf '%s\n' "${3:-id,value}" >"$T/scratch/.drop.$$"
	mv "$T/scratch/.drop.$$" "$dest"
}

# flip_bits FILE OFFSET [MASK]: the byte at OFFSET of FILE, xor MASK
# (default 0x04): changed whatever it was (a byte written over it could
# be the same).
flip_bits() {
	local byte
	byte=$(dd if="$1" bs=1 skip="$2" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
	[ -n "$byte" ] || fail "flip_bits: no byte at $2 in $1"
	printf "$(printf '\\%03o' $(( byte ^ ${3:-4} )))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# move_all FROM_DIR TO_DIR: renames every file of FROM_DIR into TO_DIR in
# one process, as fast as a tenant's bulk upload would land them.
move_all() {
	perl -e 'my ($from, $to) = @ARGV; opendir(my $d, $from) or die "$from: $!";
		for (grep { !/^\.\.?$/ } readdir $d) { rename("$from/$_", "$to/$_") or die "$_: $!" }' "$1" "$2"
}

# records JQ-FILTER: the ingest records matching the filter, compact.
records() {
	[ -f "$INGEST" ] || return 0
	jq -c "select($1)" "$INGEST"
}

# count TENANT STATUS: how many records of that status the tenant has.
count() {
	records ".tenant == \"$1\" and .status == \"$2\"" | wc -l
}

# have_records N TENANT STATUS: for wait_for.
have_records() { [ "$(count "$2" "$3")" -ge "$1" ]; }

files_in() { find "$VAR/staging/$1/$2" -type f | wc -l; }

# bm_running: batchmgr has at least one app running right now (a file in
# processing/ whose start was logged since the daemon last started).
bm_running() {
	[ "$(find "$VAR/staging" -path '*/processing/*' -type f | wc -l)" -gt 0 ] &&
		pgrep -P "$BM_PID" >/dev/null
}

# ---- batchmgr at its limits (records refused, claims swapped) ---------------

# limited_batchmgr: starts batchmgr under a soft file-size limit of
# LIMIT_KB (default 1024) KiB, its own, not the test's: past it a record's
# write fails with EFBIG, as on a full disk.
limited_batchmgr() {
	local real=$BATCHMGR
	cat >"$T/limited" <<-EOF
	#!/usr/bin/env bash
	ulimit -S -f ${LIMIT_KB:-1024}
	exec "$real" "\$@"
	EOF
	chmod +x "$T/limited"
	BATCHMGR=$T/limited
	start_daemon batchmgr
	BATCHMGR=$real
}

# fill_log: pads log/ingest.jsonl with whole JSON lines to 100 bytes under
# limited_batchmgr's limit, too little for any record; prints the size it
# had (truncate back to it for room again).
fill_log() {
	python3 - "$INGEST" "${LIMIT_KB:-1024}" <<'PY'
import os, sys
path, limit = sys.argv[1], int(sys.argv[2]) * 1024
before = os.path.getsize(path) if os.path.exists(path) else 0
left = limit - 100 - before
with open(path, 'a') as f:
    while left > 0:
        n = 200 if left >= 400 else left
        f.write('{"pad":"' + 'x' * (n - 11) + '"}\n')
        left -= n
print(before)
PY
}

# swap_at_claim TENANT NAME CONTENT COMMAND: delivers NAME (CONTENT) to
# TENANT's incoming/ and runs COMMAND (a shell command) while gdb holds
# batchmgr at the claim's rename of it. Skips the test (77) when gdb
# cannot attach.
swap_at_claim() {
	local out=$T/out/gdb.$2
	gdb_start "$BM_PID" "$out" 'break state_move if to == AREA_PROCESSING' \
		continue "shell $4" detach
	wait_for_gdb "$out" "$GDB_PID" || {
		echo "SKIP: gdb cannot attach to batchmgr: $(tail -n 3 "$out")"
		exit 77
	}
	drop "$1" "$2" "$3"
	gdb_wait "$out"
	grep -q 'hit Breakpoint 1,' "$out" ||
		fail "gdb saw no claim of $2: $(cat "$out")"
}

# ---- streams ------------------------------------------------------------

# stream_tenant ID [STREAM SETTINGS...]: a tenant with one stream
# "default" served by tests/apps/streamapp (args in STREAMAPP_ARGS).
stream_tenant() {
	local id=$1
	shift
	tenant "$id" <<-EOF
	id = "$id";
	streams = ( { app = ["$STREAMAPP" ${STREAMAPP_ARGS:-}];
	  stop_timeout = "2s"; $* } );
	EOF
}

sm_log_has() { grep -q -- "$1" "$SM_LOG"; }

# cli ARGS...: the mysimbdp command on this platform.
cli() { "$CLI" -c "$T/conf/mysimbdp.cfg" "$@"; }

# sstat TENANT JQ: a field of the tenant's (first) stream in `status`.
sstat() {
	cli status "$1" --json | jq -r ".streams[0] | $2"
}

# running_is TENANT N: N instances running and ready (HELLO said).
ready_is() {
	[ "$(cli status "$1" --json |
		jq '[.streams[0].instances[] | select(.state == "ready")] | length')" = "$2" ]
}

# acked_is TENANT N: streammgr counted N acks for the tenant's stream.
acked_at_least() { [ "$(sstat "$1" .acked)" -ge "$2" ]; }

# store_docs TENANT: the tenant's "events" documents, one JSON line each.
store_docs() {
	local dir=$VAR/coredms/$1/events
	[ -d "$dir" ] || return 0
	"$BSONCOUNT" "$dir" | jq -c .doc
}

# send_keys TENANT FIRST LAST [PREFIX]: sends "PREFIXk VALUE" for k in
# FIRST..LAST through `mysimbdp send`, one message per key.
send_keys() {
	local f=$T/scratch/keys.$1.$BASHPID
	seq "$2" "$3" | sed "s/^/${4:-k}/; s/\$/ v-$1/" >"$f"
	cli send "$1" --file "$f"
}

# space_back_delivered TENANT WANT: for the full-disk tests, once the
# disk has room again: 100 more messages (k3001..k3100) are accepted, and
# with one instance WANT distinct keys (those accepted before and the 100)
# reach the store; the keys in $T/out/keys.
space_back_delivered() {
	local sbd_tenant=$1 sbd_want=$2 i
	for i in $(seq 3001 3100); do printf 'k%s %096d\n' "$i" "$i"; done >"$T/scratch/more"
	cli send "$sbd_tenant" --file "$T/scratch/more" >"$T/out/more" 2>&1 ||
		fail "after space returned: $(cat "$T/out/more")"
	ok "space back: new messages accepted"
	cli scale "$sbd_tenant" 1 >/dev/null
	wait_for 60 "$sbd_want deliveries" \
		eval '[ "$(store_docs "$sbd_tenant" | wc -l)" -ge "$sbd_want" ]'
	store_docs "$sbd_tenant" | jq -r ._id | sort -u >"$T/out/keys"
	assert_eq "$sbd_want" "$(wc -l <"$T/out/keys")" "distinct keys delivered"
}

# small_queue_disks TENANT...: each tenant's queue folder on a tmpfs of
# its own of 192 KiB, for the full-disk tests; skips the test (77) when
# the first cannot be mounted (root only). Unmounted at the end, lazily:
# after a failure streammgr, still running, holds files there.
small_queue_disks() {
	local t dir first=1
	for t in "$@"; do
		dir=$VAR/queue/$t
		mkdir -p "$dir"
		if ! { [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=192k,mode=0700 tmpfs "$dir" 2>/dev/null; }; then
			[ $first = 1 ] || fail "mount a tmpfs on $dir"
			echo "SKIP: needs root to mount a small tmpfs"
			exit 77
		fi
		AT_EXIT+=("umount -l '$dir' 2>/dev/null")
		first=0
	done
}

# ---- subscriptions (fan-out) -------------------------------------------------
# Of tenant $SUB_TENANT (default alpha).

# substat STREAM JQ: a field of the tenant's stream or subscription STREAM
# in `status --json` (nothing when status does not list it).
substat() {
	cli status "${SUB_TENANT:-alpha}" --json |
		jq -r --arg s "$1" ".streams[] | select(.stream == \$s) | $2"
}

# sub_ready_is STREAM N: N instances of STREAM ready.
sub_ready_is() {
	[ "$(substat "$1" '[.instances[] | select(.state == "ready")] | length')" = "$2" ]
}

# sub_idle STREAM: nothing waiting nor in flight for STREAM.
sub_idle() { [ "$(substat "$1" '.backlog + .inflight')" = 0 ]; }

# listed STREAM, unlisted STREAM: status answers, and lists the tenant's
# STREAM or not.
listed() {
	cli status "${SUB_TENANT:-alpha}" --json |
		jq -e --arg s "$1" 'any(.streams[]; .stream == $s)'
}
unlisted() {
	cli status "${SUB_TENANT:-alpha}" --json |
		jq -e --arg s "$1" 'all(.streams[]; .stream != $s)'
}

# coll_keys COLLECTION: the distinct _id of the tenant's COLLECTION in
# the embedded store, sorted (store_docs reads "events" only).
coll_keys() {
	local dir=$VAR/coredms/${SUB_TENANT:-alpha}/$1
	[ -d "$dir" ] || return 0
	"$BSONCOUNT" "$dir" | jq -r .doc._id | sort -u
}

# ---- monitor ------------------------------------------------------------

# dash_has PATTERN: the dashboard has a line matching PATTERN (grep -E).
dash_has() { [ -f "$DASH" ] && grep -Eq -- "$1" "$DASH"; }

# dash_after LINE PATTERN: PATTERN in the dashboard after line LINE.
dash_after() { tail -n +"$(( $1 + 1 ))" "$DASH" | grep -Eq -- "$2"; }

dash_lines() { [ -f "$DASH" ] && wc -l <"$DASH" || echo 0; }

# prom_url: the Prometheus URL the monitor last logged it listens on.
prom_url() { grep -o 'http://[^ ]*/metrics' "$MON_LOG" | tail -n 1; }

# prom_value SERIES: the value of one series (name{labels} exactly).
prom_value() {
	curl -sf "$(prom_url)" | awk -v s="$1" '$1 == s { print $2 }'
}

# prom_at_least SERIES N: for wait_for.
prom_at_least() {
	local v
	v=$(prom_value "$1")
	[ -n "$v" ] && awk -v v="$v" -v n="$2" 'BEGIN { exit !(v >= n) }'
}

# ms_of TIME: milliseconds since the epoch of a dashboard time stamp.
ms_of() { date -d "$1" +%s%3N; }

now_ms() { date +%s%3N; }

# log_ms: each log line read, behind the milliseconds of its day in its
# time stamp. printf, not print: an awk prints a number that is not whole
# (43.624 * 1000 is not, in binary) with %.6g, 3.28636e+07.
log_ms() {
	awk '{ split(substr($1, 12, 12), t, ":")
		printf "%.0f %s\n", (t[1] * 3600 + t[2] * 60 + t[3]) * 1000, $0 }'
}

# ---- helpers added for chaos and soak -------------------------------------

# drop_file TENANT [DATASET/]NAME SOURCE: delivers a copy of SOURCE the
# way tenants must: copied beside under a hidden name, then renamed in.
drop_file() {
	local dest=$VAR/staging/$1/incoming/$2
	mkdir -p "$(dirname "$dest")"
	cp "$3" "$(dirname "$dest")/.$(basename "$2").part"
	mv "$(dirname "$dest")/.$(basename "$2").part" "$dest"
}

# running PID: PID is a live process (kill -0 is true of a zombie too: a
# daemon that exited stays one until the test waits for it).
running() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st%% *}" != Z ]
}
# gone PID: the process has exited (a zombie counts as gone).
gone() { ! running "$1"; }

# ---- cgroups (common/cgroup.c) -------------------------------------------

# sanitized: the build under test is instrumented by AddressSanitizer.
# (Not "ldd | grep -q": under pipefail grep's early exit can fail ldd.)
sanitized() {
	case $(ldd "$MYSIMBDP_BUILD/manager/batchmgr") in *libasan*) return 0 ;; esac
	return 1
}

# preload_list BIN SHIM: the LD_PRELOAD that loads SHIM into BIN, a
# program of this build. Under ASan its runtime must come first among
# the preloaded libraries; its interceptors call on to the shim's.
preload_list() {
	if sanitized; then
		printf '%s:%s' "$(ldd "$1" | awk '/libasan/ { print $3 }')" "$2"
	else
		printf '%s' "$2"
	fi
}

# readshim FILE WHAT COMMAND...: runs COMMAND (a program, or a function
# that runs one) with tests/apps/readshim.c preloaded: read() of FILE
# misbehaves as WHAT (its READSHIM_DO) says.
readshim() {
	LD_PRELOAD=$(preload_list "$CLI" "$MYSIMBDP_BUILD/tests/integration/libreadshim.so") \
		READSHIM_FILE=$1 READSHIM_DO=$2 "${@:3}"
}

# preloaded_daemon NAME SHIM: from now on start_daemon runs daemon NAME
# with the shared object SHIM preloaded, through a wrapper script in $T
# (the daemon's own environment: what it spawns does not inherit it).
preloaded_daemon() {
	local var bin
	case $1 in
	batchmgr) var=BATCHMGR ;;
	streammgr) var=STREAMMGR ;;
	*) fail "preloaded_daemon: no daemon '$1'" ;;
	esac
	bin=${!var}
	assert_file "$2"
	printf '#!/bin/sh\nLD_PRELOAD="%s" exec "%s" "$@"\n' \
		"$(preload_list "$bin" "$2")" "$bin" >"$T/$1"
	chmod 755 "$T/$1"
	printf -v "$var" '%s' "$T/$1"
}

# daemon_cgroup LOG: the base cgroup a daemon's start-up line names in
# LOG, or nothing (no writable cgroup v2).
daemon_cgroup() {
	grep -o "$CGROUP_LINE" "$1" 2>/dev/null | tail -n 1 | sed 's/.* //'
}

# remove_cgroups FILE...: every base cgroup a daemon's start-up line
# names in FILEs (their logs): what is left in its apps' cgroups is
# killed, and the tree removed. For daemons that are gone: one killed
# leaves its tree behind (its next start on the same state would take
# it over), and each test's state is its own, so nothing else would
# remove it. Best effort: nothing here fails the test.
remove_cgroups() {
	local base leaf n
	for base in $(grep -hoIs "$CGROUP_LINE" "$@" | sed 's/.* //' |
	    sort -u); do
		[ -d "$base" ] || continue
		for leaf in "$base"/tenant-*/*/; do
			[ -e "$leaf/cgroup.kill" ] && echo 1 >"$leaf/cgroup.kill"
		done
		# The killed exit before their leaf can go (5 s x time factor).
		for leaf in "$base"/tenant-*/*/; do
			for (( n = 0; n < 250 * TIME_FACTOR; n++ )); do
				[ -d "$leaf" ] && ! rmdir "$leaf" 2>/dev/null ||
					break
				sleep 0.02
			done
		done
		rmdir "$base"/tenant-* "$base" 2>/dev/null || true
	done
}

# kill_daemon_cgroups: SIGKILLs batchmgr and streammgr, then everything
# in their apps' cgroups, and removes those. For a failed test's
# cleanup: a daemon killed there leaves its apps' descendants running
# (only the apps themselves have a parent-death signal).
kill_daemon_cgroups() {
	local pid
	for pid in $BM_PID $SM_PID; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	remove_cgroups "$BM_LOG" "$SM_LOG"
}

# ---- users for the tests run as root ---------------------------------------

# need_root: skips the test (77) unless it runs as root, which creating
# users and switching to them takes.
need_root() {
	[ "$(id -u)" -eq 0 ] && return
	echo "SKIP: needs root to create users and switch to them"
	exit 77
}
# test_users NAME...: system users without a home or a shell, made unless
# they exist.
test_users() {
	local u
	for u in "$@"; do
		id "$u" >/dev/null 2>&1 ||
			useradd --system --no-create-home --shell /usr/sbin/nologin "$u"
	done
}

# ---- a MongoDB server of the test's own ----------------------------------

# own_ferretdb: starts a FerretDB of the test's own (a test that stops the
# server needs one nobody else uses): sets FDB (its folder), URL and PORT;
# stopped when the test ends. Without MYSIMBDP_TEST_MONGO_URL (scripts/test
# sets it when Go is there to build FerretDB) the test is skipped, said so.
own_ferretdb() {
	local out
	if [ -z "${MYSIMBDP_TEST_MONGO_URL:-}" ]; then
		echo "SKIPPED: no MongoDB server for the tests (MYSIMBDP_TEST_MONGO_URL;" \
			"scripts/test starts FerretDB when Go is there)"
		exit 77
	fi
	FDB=$T/ferretdb
	mkdir -p "$FDB"
	# On a port of free_ports: the test may stop it and start it again
	# on the same one.
	out=$("$MYSIMBDP_SRC/scripts/ferretdb" start "$FDB" "$(free_ports 1)") ||
		fail "FerretDB did not start: $(tail -n 5 "$FDB/log")"
	URL=${out%% *}
	PORT=${URL##*:}
	PORT=${PORT%/}
	echo "our own server: $out"
}

# push_reports ENDPOINT N FIRST: N batch metric reports to ENDPOINT,
# from instances j-FIRST, j-FIRST+1, ... (rows = the instance's number).
push_reports() {
	local i
	for ((i = $3; i < $3 + $2; i++)); do
		echo '{"v":1,"app":"batch","instance":"j-'"$i"'","window_ms":1000,"rows":'"$i"'}'
	done | "$PUSHREPORT" "$1" >"$T/out/push" 2>&1 || fail "pushreport: $(cat "$T/out/push")"
}

# ---- nodes on other hosts ---------------------------------------------------

# node_keys NAME...: three free ports from $port (NODE=127.0.0.1:$port:
# streammgr's producers, its control, batchmgr's control) and a CURVE key
# pair $K/NAME(.pub) for each NAME (`mysimbdp keygen`).
node_keys() {
	local k
	port=$(free_ports 3)
	[ -n "$port" ] || fail "no three free ports"
	NODE=127.0.0.1:$port
	K=$T/keys
	mkdir -p "$K"
	for k in "$@"; do
		"$CLI" keygen "$K/$k" >/dev/null || fail "keygen $k"
	done
}

# free_ports N: the first of N consecutive loopback TCP ports found free
# now (a node takes three: producers, streammgr's and batchmgr's control),
# below the kernel's ephemeral range (tests/python/freeports.py says why).
free_ports() { python3 "$MYSIMBDP_SRC/tests/python/freeports.py" "$1"; }

# pubkey FILE: the public key in a key file of `mysimbdp keygen`.
pubkey() { sed -n 's/^ *public-key = "\(.*\)"$/\1/p' "$1"; }

# ---- uploads over SSH --------------------------------------------------------

# ssh_prereqs: skips the test (77), said so, without root, OpenSSH's
# server and client, or rsync.
ssh_prereqs() {
	need_root
	local p
	for p in /usr/sbin/sshd sftp scp ssh-keygen rsync; do
		command -v "$p" >/dev/null ||
			{ echo "SKIP: no $p (Debian's openssh-server, rsync)"; exit 77; }
	done
}

# upload_user NAME: a test user sshd lets in with a key. useradd leaves
# the password locked ("!"), which sshd without PAM refuses even for a
# key: "*" is no password, not a locked account.
upload_user() {
	test_users "$1"
	usermod -p '*' "$1"
}

# ssh_top: sets SSH_TOP, a folder under /run removed at the end: sshd
# chroots only below folders of root's that others cannot write, which
# /tmp is not, so a state folder to upload into lives there.
ssh_top() {
	SSH_TOP=$(mktemp -d /run/mysbt-ssh.XXXXXX)
	chmod 0755 "$SSH_TOP"
	AT_EXIT+=("rm -rf '$SSH_TOP'")
}

# sshd_start DIR USER ADDR PORT BLOCKS [PREFIX...]: an sshd of the test's
# own on ADDR:PORT (run through PREFIX, e.g. nsenter), with host and
# client keys in DIR, key login for USER only, and the Match blocks of
# file BLOCKS. Sets SSH_OPTS for sftp (scp takes the same).
sshd_start() {
	local dir=$1 user=$2 addr=$3 port=$4 blocks=$5
	shift 5
	mkdir -p "$dir" /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$dir/host"
	ssh-keygen -q -t ed25519 -N '' -f "$dir/client"
	cp "$dir/client.pub" "$dir/authorized_keys.$user"
	{
		echo "Port $port"
		echo "ListenAddress $addr"
		echo "HostKey $dir/host"
		echo "PidFile $dir/sshd.pid"
		echo "AuthorizedKeysFile $dir/authorized_keys.%u"
		echo "StrictModes no"
		echo "UsePAM no"
		echo "PasswordAuthentication no"
		echo "KbdInteractiveAuthentication no"
		# Debian's own line: the Match blocks' ForceCommand decides.
		echo "Subsystem sftp /usr/lib/openssh/sftp-server"
		cat "$blocks"
	} >"$dir/sshd_config"
	/usr/sbin/sshd -t -f "$dir/sshd_config" || fail "sshd -t refuses $dir/sshd_config"
	"$@" /usr/sbin/sshd -D -e -f "$dir/sshd_config" 2>"$dir/sshd.log" &
	STARTED_PIDS+=("$!")
	SSH_OPTS=(-o BatchMode=yes -o StrictHostKeyChecking=no
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
		-i "$dir/client" -P "$port")
}

# big_csv FILE KB: a CSV file of about KB kilobytes.
big_csv() {
	awk -v n="$(( $2 * 1024 / 50 ))" 'BEGIN { for (i = 0; i < n; i++)
		printf "%d,b,c,01234567890123456789012345678901234567\n", i }' >"$1"
}

# cut_off FILE PID: kills a slow upload once it has written into FILE.
cut_off() {
	wait_for 20 "the upload under way" eval "[ -s '$1' ]"
	kill -KILL "$2"
	wait "$2" 2>/dev/null || true
}

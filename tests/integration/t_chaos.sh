#!/usr/bin/env bash
# Chaos: a bounded mixed load (batch files for two tenants, some of them
# bad; stream messages for the same two tenants from durproducer; the
# monitor scaling) while a seeded random loop SIGKILLs batchmgr,
# streammgr, the monitor, a running batch app or a stream instance at
# random moments and restarts the daemons. Then the killing stops,
# everything drains, the daemons stop cleanly, and the invariants are
# checked:
#   - every file dropped left incoming/: a good one is in done/ (or in
#     failed/ when the kills used up its retries, with the killed
#     attempts in its records), a bad one in failed/ or rejected/ (with
#     a .reason), each with its final record in log/ingest.jsonl, and
#     nothing is left in processing/;
#   - every message durproducer got OK for is in the sink, and no dead
#     letters;
#   - no document is duplicated: each _id once in every collection, and
#     a batch collection holds exactly the rows its ok records count
#     (the apps derive ids from content hash and row, so a rerun after a
#     kill replaces its unit instead of adding to it).
# The seed is printed; MYSBT_CHAOS_SEED=N replays the same sequence of
# choices and delays (the machine's timing still varies). Seed 273188
# with CHAOS_SECS=60 once left a good file in done/ with no record
# (batchmgr recorded after the move); t_crash_windows.sh hits that
# window every time.
#   CHAOS_SECS  length of the chaos phase (default 30)
. "$(dirname "$0")/lib.sh"

SEED=${MYSBT_CHAOS_SEED:-$(( $(date +%s%N) / 1000 % 1000000 ))}
CHAOS_SECS=${CHAOS_SECS:-30}
RATE=250	# stream messages a second, per tenant
N=$(( RATE * CHAOS_SECS ))
RANDOM=$SEED
echo "# seed $SEED (replay: MYSBT_CHAOS_SEED=$SEED), $CHAOS_SECS s of chaos"

ACME_APP=$MYSIMBDP_BUILD/tenants/acme/acme-listings
GLOBEX_APP=$MYSIMBDP_SRC/tenants/globex/ingest-cases
GEN=$MYSIMBDP_SRC/scripts/gen-data
DURPRODUCER=$MYSIMBDP_BUILD/tests/integration/durproducer

# Chaos kills instances young: no crash-loop verdict, short backoffs.
# A message held by an instance counts a delivery each time one dies, so
# max_deliveries is high: a dead letter here would be the kills' doing.
platform workers=4 stream.segment_size='"64K"' stream.crashloop_restarts=1000 \
	stream.min_uptime='"100ms"' stream.restart_backoff_max='"500ms"'
STREAM="streams = ( { app = [\"$STREAMAPP\", \"-r\", \"200\"];
  instances = { min = 1; max = 3; }; stop_timeout = \"2s\";
  durability = \"fsync\"; max_deliveries = 1000;
  scaling = { target_backlog_per_instance = 300; cooldown = \"1s\";
    scale_down_delay = \"2s\"; }; } );"
tenant acme <<CFG
id = "acme";
batch = {
  formats = ["csv"];
  max_concurrent = 2;
  apps = ( { app = ["$ACME_APP"]; timeout = "30s"; retries = 4; stop_timeout = "1s"; } );
};
$STREAM
CFG
tenant globex <<CFG
id = "globex";
batch = {
  formats = ["csv"];
  max_concurrent = 2;
  apps = ( { name = "cases"; app = ["$GLOBEX_APP", "$CLI"]; datasets = ["cases"];
             timeout = "30s"; retries = 4; stop_timeout = "1s"; } );
};
$STREAM
CFG
start_daemon monitor
start_daemon streammgr
start_daemon batchmgr
wait_for 20 "the stream instances" eval 'ready_is acme 1 && ready_is globex 1'

# ---- load ----------------------------------------------------------------
# The dropper: a file about every 150 ms, the tenants in turn, until
# $T/stop exists. Each file has its own content (seed = its number); one
# in six is bad: a .txt (rejected) or, for globex, a csv that is not a
# cases file (the app exits 65 every time: failed/). It lists what it
# dropped as "tenant path kind".
dropper() {
	local i=0 tenant name kind
	mkdir -p "$T/scratch/gen"
	while [ ! -e "$T/stop" ] && [ $i -lt 2000 ]; do
		i=$((i + 1))
		if [ $((i % 2)) = 0 ]; then tenant=acme; else tenant=globex; fi
		case $tenant/$((i % 12)) in
		*/5) name=notes-$i.txt kind=rejected
			echo "not for us" >"$T/scratch/gen/$i" ;;
		globex/11) name=cases/junk-$i.csv kind=failed
			printf 'a,b\n1,2\n' >"$T/scratch/gen/$i" ;;
		acme/*) name=listings-$i.csv kind=good
			"$GEN" acme 6K "$i" >"$T/scratch/gen/$i" ;;
		globex/*) name=cases/cases-$i.csv kind=good
			"$GEN" globex 4K "$i" >"$T/scratch/gen/$i" ;;
		esac
		drop_file "$tenant" "$name" "$T/scratch/gen/$i"
		echo "$tenant $name $kind" >>"$T/out/dropped"
		sleep 0.15
	done
}
: >"$T/out/dropped"
dropper &
dropper_pid=$!
STARTED_PIDS+=("$dropper_pid")

# Each producer resends what it has no OK for, across streammgr's
# deaths; its deadline only bounds a hung run.
for t in acme globex; do
	"$DURPRODUCER" -r "$RATE" -w 200 -t $(( CHAOS_SECS + 150 )) \
		"ipc://$VAR/run/$t/default.in" "$N" >"$T/out/producer.$t" 2>&1 &
	eval "producer_$t=\$!"
	STARTED_PIDS+=("$!")
done

# ---- chaos ---------------------------------------------------------------
declare -A kills=([batchmgr]=0 [streammgr]=0 [monitor]=0 [batch-app]=0
	[instance]=0 [none-running]=0)

# pause: a random 0 to 0.59 s.
pause() { sleep "0.$(( RANDOM % 6 ))$(( RANDOM % 10 ))"; }

# alive NAME PID: the daemon did not exit on its own.
alive() { running "$2" || fail "$1 (pid $2) exited by itself"; }

# kill_child_of PARENT KIND: SIGKILLs one of PARENT's children, chosen
# with $RANDOM (the apps and instances the daemons started for us). A
# batch app runs for a fraction of a second: it waits up to a second for
# one to appear.
kill_child_of() {
	local kids=() i
	for (( i = 0; i < 50; i++ )); do
		mapfile -t kids < <(pgrep -P "$1")
		[ ${#kids[@]} = 0 ] || break
		sleep 0.02
	done
	if [ ${#kids[@]} = 0 ]; then
		kills[none-running]=$(( kills[none-running] + 1 ))
		return 0
	fi
	kill -KILL "${kids[RANDOM % ${#kids[@]}]}" 2>/dev/null || true
	kills[$2]=$(( kills[$2] + 1 ))
}

end=$(( $(date +%s) + CHAOS_SECS ))
while [ "$(date +%s)" -lt "$end" ]; do
	pause
	alive batchmgr "$BM_PID"
	alive streammgr "$SM_PID"
	alive monitor "$MON_PID"
	case $(( RANDOM % 8 )) in
	0) kill9_daemon batchmgr; pause; start_daemon batchmgr; kills[batchmgr]=$(( kills[batchmgr] + 1 )) ;;
	1) kill9_daemon streammgr; pause
	   start_daemon streammgr; kills[streammgr]=$(( kills[streammgr] + 1 )) ;;
	2) kill9_daemon monitor; pause; start_daemon monitor; kills[monitor]=$(( kills[monitor] + 1 )) ;;
	3|4|5) kill_child_of "$BM_PID" batch-app ;;
	6|7) kill_child_of "$SM_PID" instance ;;
	esac
done
touch "$T/stop"
wait "$dropper_pid" || fail "the dropper failed"
echo "# kills: $(for k in batchmgr streammgr monitor batch-app instance; do
	printf '%s %s, ' "$k" "${kills[$k]}"; done)no app to kill ${kills[none-running]} times"
[ $(( kills[batchmgr] + kills[streammgr] + kills[monitor] )) -gt 0 ] ||
	fail "no daemon was killed: the chaos phase is too short"

# ---- drain ---------------------------------------------------------------
for t in acme globex; do
	eval "pid=\$producer_$t"
	rc=0; wait "$pid" || rc=$?
	assert_eq 0 $rc "$t: the producer got an OK for every message ($(cat "$T/out/producer.$t"))"
done
dropped=$(wc -l <"$T/out/dropped")
settled() {	# every dropped file in done/, failed/ or rejected/
	[ "$(find "$VAR/staging"/*/incoming "$VAR/staging"/*/processing -type f | wc -l)" = 0 ] &&
	[ "$(find "$VAR/staging"/*/done "$VAR/staging"/*/failed "$VAR/staging"/*/rejected \
		-type f ! -name '*.reason' | wc -l)" -ge "$dropped" ]
}
wait_for 120 "every dropped file out of incoming/ and processing/" settled
all_keys() { [ "$(store_docs "$1" | jq -r ._id | sort -u | wc -l)" -ge "$N" ]; }
wait_for 120 "every acme message in the sink" all_keys acme
wait_for 120 "every globex message in the sink" all_keys globex
stop_daemon batchmgr
stop_daemon streammgr
stop_daemon monitor
ok "the daemons stopped cleanly after the chaos"

# ---- invariants: files -----------------------------------------------------
# final TENANT FILE: the status of the file's last record (ok, failed,
# rejected; a retry or a rerun is not final).
jq -r 'select(.status == "ok" or .status == "failed" or .status == "rejected") |
	"\(.tenant) \(if .dataset == "" or .dataset == null then "" else .dataset + "/" end)\(.file) \(.status)"' \
	"$INGEST" >"$T/out/finals"
bad=0 good_failed=0 good_failed_files=()
while read -r tenant name kind; do
	st=$VAR/staging/$tenant
	where=
	for d in done failed rejected; do
		[ -f "$st/$d/$name" ] && where="$where$d"
	done
	final=$(awk -v t="$tenant" -v f="$name" '$1 == t && $2 == f { s = $3 } END { print s }' "$T/out/finals")
	case $kind/$where/$final in
	good/done/ok|failed/failed/failed|rejected/rejected/rejected) ;;
	good/failed/failed)
		# Allowed only when the kills used up its retries.
		killed=$(records ".tenant == \"$tenant\" and .status == \"retry\" and
			(.signal == 9) and (.dataset // \"\" | if . == \"\" then \"\" else . + \"/\" end) + .file == \"$name\"" | wc -l)
		[ "$killed" -ge 1 ] || { echo "FAIL: $tenant $name: good file in failed/ and no killed attempt" >&2; bad=$((bad + 1)); }
		good_failed_files+=("$tenant $name")
		good_failed=$((good_failed + 1)) ;;
	*) echo "FAIL: $tenant $name ($kind): in '${where:-nowhere}', last record '${final:-none}'" >&2
	   bad=$((bad + 1)) ;;
	esac
	if [ "$kind" = rejected ] && [ ! -s "$st/rejected/$name.reason" ]; then
		echo "FAIL: $tenant $name: no .reason beside the rejected file" >&2
		bad=$((bad + 1))
	fi
done <"$T/out/dropped"
[ $bad = 0 ] || fail "$bad files out of place or without their record (above)"
ok "$dropped files each in done/, failed/ or rejected/ with their record ($good_failed good ones failed by the kills)"
assert_eq 0 "$(find "$VAR/staging"/*/processing -type f | wc -l)" "nothing stuck in processing/"

# A good file the kills failed keeps in the store what its killed
# attempts inserted, and has no ok record. The operator's retry
# finishes it (the rows already there are found present), and then
# each collection holds exactly the rows of the ok records.
has_ok_record() {	# TENANT [DATASET/]FILE
	[ -n "$(records ".tenant == \"$1\" and .status == \"ok\" and
		(.dataset // \"\" | if . == \"\" then \"\" else . + \"/\" end) + .file == \"$2\"")" ]
}
if [ "$good_failed" -gt 0 ]; then
	start_daemon batchmgr
	for f in "${good_failed_files[@]}"; do
		read -r tenant name <<<"$f"
		cli retry "$tenant" "$name" >"$T/out/retry" 2>&1 ||
			fail "retry $tenant $name: $(cat "$T/out/retry")"
	done
	for f in "${good_failed_files[@]}"; do
		read -r tenant name <<<"$f"
		wait_for 60 "$tenant $name ok after its retry" has_ok_record "$tenant" "$name"
	done
	stop_daemon batchmgr
	ok "the $good_failed good files the kills failed are ok after a retry"
fi

# ---- invariants: documents -------------------------------------------------
# dups DIR: documents of the collection whose _id another one has too.
docs_of() { [ -d "$1" ] && "$BSONCOUNT" "$1" | jq -r .doc._id || true; }
dups() { docs_of "$1" | sort | uniq -d | wc -l; }
# rows_ok TENANT: rows of the ok records, one per file (a file run again
# after a kill has its ok record once, the rerun's replaces nothing).
rows_ok() {
	records ".tenant == \"$1\" and .status == \"ok\"" |
		jq -s 'group_by(.dataset, .file) | map(.[-1].rows) | add // 0'
}
for c in acme/listings globex/cases; do
	dir=$VAR/coredms/$c
	n=$(docs_of "$dir" | wc -l)
	assert_eq 0 "$(dups "$dir")" "$c: no _id twice ($n documents)"
	assert_eq "$(rows_ok "${c%/*}")" "$n" "$c: the documents are the rows of the ok records"
done
for t in acme globex; do
	dir=$VAR/coredms/$t/events
	assert_eq 0 "$(dups "$dir")" "$t/events: no _id twice"
	docs_of "$dir" | sort -u >"$T/out/keys.$t"
	seq 1 "$N" | sed 's/^/k/' | sort >"$T/out/want"
	assert_eq 0 "$(comm -23 "$T/out/want" "$T/out/keys.$t" | wc -l)" \
		"$t: every one of the $N OK'd messages is in the sink"
	assert_file "$VAR/queue/$t/default"
	assert_eq 0 "$(cat "$VAR/queue/$t/default/dead-letters.jsonl" 2>/dev/null | wc -l)" \
		"$t: no dead letters"
done
echo "# reruns: $(records '.recovered == true' | wc -l) of files left in processing/ by a killed" \
	"batchmgr, $(records '.status == "retry" and .signal == 9' | wc -l) of killed apps"
echo "# summary: seed $SEED; files $dropped ($(awk '{ print $3 }' "$T/out/dropped" | sort | uniq -c | xargs));" \
	"messages $N per tenant; documents listings $(docs_of "$VAR/coredms/acme/listings" | wc -l)," \
	"cases $(docs_of "$VAR/coredms/globex/cases" | wc -l), events $(( $(wc -l <"$T/out/keys.acme") + $(wc -l <"$T/out/keys.globex") ))"

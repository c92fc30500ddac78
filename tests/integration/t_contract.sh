#!/usr/bin/env bash
# The app sees exactly the contract: its environment holds only the
# contract variables, its rlimits are the profile's, and the rest of the
# set-up (umask, stdin, fds, cwd, process group, no_new_privs) holds.
. "$(dirname "$0")/lib.sh"

platform
tenant acme <<CFG
id = "acme";
mongo_db = "acme_db";
batch = {
  formats = ["csv"];
  apps = ( { name = "dump"; app = ["envdump", "$T/out"]; datasets = ["listings"];
             limits = { cpu = "7s"; memory = "256M"; open_files = 50;
                        file_size = "10M"; processes = 40; }; } );
};
CFG
tenant hog <<CFG
id = "hog";
batch = {
  formats = ["csv"];
  apps = ( { app = ["memhog", "150"]; retries = 0; limits = { memory = "64M"; }; } );
};
CFG
tenant roomy <<CFG
id = "roomy";
batch = {
  formats = ["csv"];
  apps = ( { app = ["memhog", "150"]; retries = 0; } );
};
CFG
# Nothing of the daemon's environment may reach an app.
SECRET_TOKEN=hunter2 start_daemon batchmgr

drop acme listings/l.csv
wait_for 10 "acme ok" have_records 1 acme ok
job=$(records '.tenant == "acme"' | jq -r .job)
cat >"$T/out/env.expected" <<ENV
HOME=$VAR/work/acme
LANG=C.UTF-8
MONGOC_DISABLE_SHM=1
MONGO_DB=acme_db
MONGO_URL=file://$VAR/coredms
MYSIMBDP_DATASET=listings
MYSIMBDP_INPUT_FILE=$VAR/staging/acme/processing/listings/l.csv
MYSIMBDP_INSTANCE=$job
MYSIMBDP_RESULT_FILE=$VAR/work/acme/.result-$job.json
MYSIMBDP_TENANT=acme
PATH=/usr/local/bin:/usr/bin:/bin
TMPDIR=$VAR/work/acme/tmp
ZMQ_METRICS_ENDPOINT=ipc://$VAR/run/acme/metrics.sock
ENV
diff -u "$T/out/env.expected" "$T/out/env" || fail "environment is not exactly the contract"
ok "environment is exactly the contract"

limit() { awk -v n="$1" 'index($0, n) == 1 { print $(NF-2), $(NF-1) }' "$T/out/limits"; }
assert_eq "7 8" "$(limit 'Max cpu time')" "RLIMIT_CPU from limits.cpu (hard = soft + 1)"
assert_eq "268435456 268435456" "$(limit 'Max address space')" "RLIMIT_AS from limits.memory"
assert_eq "50 50" "$(limit 'Max open files')" "RLIMIT_NOFILE from limits.open_files"
assert_eq "10485760 10485760" "$(limit 'Max file size')" "RLIMIT_FSIZE from limits.file_size"
assert_eq "40 40" "$(limit 'Max processes')" "RLIMIT_NPROC from limits.processes"
assert_eq "0 0" "$(limit 'Max core file size')" "RLIMIT_CORE is 0"

assert_eq 0077 "$(cat "$T/out/umask")" "umask 077"
assert_eq /dev/null "$(cat "$T/out/stdin")" "stdin is /dev/null"
assert_eq "$VAR/work/acme" "$(cat "$T/out/cwd")" "cwd is work/<tenant>"
assert_eq "$(cat "$T/out/pid")" "$(cat "$T/out/pgid")" "own process group"
assert_eq 1 "$(cat "$T/out/nonewprivs")" "no_new_privs is set"
# batchmgr's event loop runs with a short time slice, so that it wakes
# ahead of the apps it starts; the apps must not inherit it.
loop_slice=$(awk '$1 == "se.slice" { print $3 }' "/proc/$BM_PID/sched" 2>/dev/null)
if [ "$loop_slice" = 100000 ]; then
	app_slice=$(cat "$T/out/slice")
	[ -n "$app_slice" ] && [ "$app_slice" != 100000 ] ||
		fail "the app has the event loop's short time slice ($app_slice ns)"
	ok "the event loop's short time slice is not the app's ($app_slice ns)"
else
	grep -q 'no short time slice for the event loop' "$BM_LOG" ||
		fail "batchmgr's loop has a slice of ${loop_slice:-?} ns and did not say why it is not 0.1 ms"
	ok "the kernel has no short time slices: batchmgr said so"
fi
# No daemon fd (inotify, ingest log, lock, event loop) reached the app:
# besides stdio, only the shell's own handle on its script may be open.
leaks=$(cat "$T/out/fds" | while read -r fd; do
	[ "$fd" -le 2 ] && continue
	t=$(readlink "/proc/$(cat "$T/out/pid")/fd/$fd" 2>/dev/null || echo gone)
	case $t in */envdump|gone) ;; *) echo "$fd->$t" ;; esac
done)
assert_eq "" "$leaks" "no inherited fds beyond stdio"
# envdump writes nothing to stdout or stderr: its log is opened at the
# first output, so none was made (hog's, below, shows one that was).
assert_no_file "$VAR/log/acme/dump.log"
ok "a silent app leaves no log file"

drop hog h.csv
drop roomy r.csv
wait_for 20 "hog failed" have_records 1 hog failed
wait_for 20 "roomy ok" have_records 1 roomy ok
ok "an app allocating past limits.memory fails; without the limit it works"
grep -qi "memory\|allocate" "$VAR/log/hog/default.log" || fail "hog's log does not show the allocation failure"
ok "the app's stderr reached log/hog/default.log"
stop_daemon batchmgr

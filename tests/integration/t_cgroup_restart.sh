#!/usr/bin/env bash
# Each app's cgroup (common/cgroup.c): the app joins a leaf of its own;
# after a kill -9 of batchmgr, the parent-death signal kills the app but
# not its grandchild; the next batchmgr on the same state folder kills
# that when it clears its predecessor's leaves. A grandchild that left
# its group (setsid) dies when its job ends, and a clean stop leaves no
# cgroup behind. Skipped where cgroup v2 is not
# writable (the daemon says so at start-up).
. "$(dirname "$0")/lib.sh"

MISBEHAVE=$MYSIMBDP_BUILD/tests/integration/misbehave
on_cleanup() { kill_daemon_cgroups; }
platform
tenant acme <<CFG
id = "acme";
batch = {
  formats = ["csv"];
  max_concurrent = 2;
  apps = ( { app = ["family", "$T/out"]; timeout = "1m"; retries = 0; },
           { name = "escape"; app = ["$MISBEHAVE", "escape", "$T/esc"];
             datasets = ["escape"]; retries = 0; },
           { name = "where"; datasets = ["where"]; retries = 0;
             app = ["/bin/sh", "-c", "grep '^0::' /proc/self/cgroup >>$T/where"]; } );
};
CFG
mkdir -p "$T/esc"
start_daemon batchmgr
if ! grep -q "cgroup v2: .*contained" "$BM_LOG"; then
	echo "SKIP: no writable cgroup v2 here: $(grep -o 'cgroup v2: .*' "$BM_LOG")"
	exit 77
fi
base=$(daemon_cgroup "$BM_LOG")
[ -d "$base" ] || fail "no base cgroup $base"
ok "batchmgr's base cgroup: $base"

# The app runs in a leaf of its tenant's cgroup.
drop acme f.csv
# family writes app.pid last.
wait_for 10 "the app and its grandchild" test -s "$T/out/app.pid"
app=$(cat "$T/out/app.pid") gc=$(cat "$T/out/grandchild.pid")
cg=$(awk -F: '$1 == 0 { print $3 }' "/proc/$app/cgroup")
case $cg in
*/tenant-acme/acme-*) ok "the app runs in its own cgroup ($cg)" ;;
*) fail "the app's cgroup is $cg" ;;
esac
assert_eq "$cg" "$(awk -F: '$1 == 0 { print $3 }' "/proc/$gc/cgroup")" \
	"its grandchild is in the same cgroup"

kill9_daemon batchmgr
wait_for 10 "the app to die of its parent's death" bash -c "! kill -0 $app"
kill -0 "$gc" || fail "the grandchild died with the app (nothing to clean up)"
ok "after kill -9 of batchmgr, the grandchild (pid $gc) outlives the app"
start_daemon batchmgr
wait_for 10 "the leftover to be killed" bash -c "! kill -0 $gc"
grep -q "cgroup v2: killed what was left in 1 app cgroup of a previous batchmgr" "$BM_LOG" ||
	fail "no log line for the leftovers"
ok "the next batchmgr killed what its predecessor left in its cgroups"

# An escapee of a job that ends normally dies at the job's end.
drop acme escape/e.csv
wait_for 20 "the escapee's record" have_records 1 acme ok
esc=$(cat "$T/esc/escapee.pid")
wait_for 10 "the escapee to die" bash -c "! kill -0 $esc"
ok "the setsid escapee (pid $esc) is gone when its job ends"

# A leaf with nothing left in it when its app ends is kept for the
# tenant's next app: two jobs in a row run in the same leaf.
where_done() {
	[ "$(records '.tenant == "acme" and .dataset == "where" and .status == "ok"' |
		wc -l)" -ge "$1" ]
}
drop acme where/a.csv
wait_for 20 "the first where job's record" where_done 1
drop acme where/b.csv
wait_for 20 "the second where job's record" where_done 2
[ "$(sort -u "$T/where" | wc -l)" = 1 ] || fail "two leaves: $(cat "$T/where")"
ok "an empty leaf is reused by the tenant's next app ($(head -n 1 "$T/where"))"

# The file of the first job was recovered and runs again: stop with it
# running, then nothing is left of batchmgr's cgroups.
stop_daemon batchmgr
[ ! -e "$base" ] || fail "$base is left after a clean stop: $(find "$base" -type d)"
ok "a clean stop removes batchmgr's cgroups"

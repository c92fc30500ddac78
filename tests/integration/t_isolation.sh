#!/bin/bash
# Running as root with a user per tenant, all three daemons up: from
# inside tenant alpha's running app (tests/apps/prober), nothing of tenant
# beta (staging areas and files, queue, logs, sockets, work folder, store,
# processes) nor of the platform (its logs, control sockets, the daemons'
# environments) can be listed, read, written or connected to; alpha's own
# things can. Nothing of the daemons' environment reaches a batch app or a
# stream instance.
. "$(dirname "$0")/lib.sh"

need_root
test_users mysbt-a mysbt-b
# The users must reach the state folder (and only it) below $T.
chmod 711 "$T"

platform
tenant alpha <<CFG
id = "alpha";
user = "mysbt-a";
batch = {
  formats = ["csv"];
  apps = ( { app = ["prober", "$T/probe/targets", "$T/probe/report"]; retries = 0; } );
};
CFG
tenant beta <<CFG
id = "beta";
user = "mysbt-b";
batch = {
  formats = ["csv"];
  partial_grace = "1h";
  max_concurrent = 3;
  apps = (
    { app = ["sleepy", "60"]; stop_timeout = "1s"; },
    { name = "good"; app = ["exit-with", "0"]; datasets = ["good"]; },
    { name = "bad"; app = ["exit-with", "1", "bad: no good"];
      datasets = ["bad"]; retries = 0; }
  );
};
streams = ( { app = ["$STREAMAPP"]; stop_timeout = "2s"; } );
CFG
# An installed configuration is the operator's, not the tenants'.
chmod -R go-rwx "$T/conf"
mkdir -m 700 "$T/probe"
chown mysbt-a "$T/probe"

# A canary in the daemons' environment must reach no app; a careless
# umask must open nothing.
export MYSBT_SECRET=canary-4711
umask 000
start_daemon monitor
start_daemon streammgr
start_daemon batchmgr
umask 022
unset MYSBT_SECRET

wait_for 20 "beta's instance" ready_is beta 1
pid=$(sstat beta '.instances[0].pid')
assert_eq mysbt-b "$(ps -o user= -p "$pid")" "beta's instance runs as beta's user"
env=$(tr '\0' '\n' <"/proc/$pid/environ")
grep -q '^MYSIMBDP_STREAM=default$' <<<"$env" || fail "not the instance's environment: $env"
grep -q MYSBT_SECRET <<<"$env" && fail "the daemons' environment reached a stream instance"
ok "nothing of streammgr's environment reaches a stream instance"

# Fill beta's places: a queue with messages (no instance to take them),
# a file in each staging area, app logs.
cli stop beta >/dev/null
wait_for 20 "no beta instance" eval '[ "$(sstat beta ".instances | length")" = 0 ]'
send_keys beta 1 20 >/dev/null
drop beta good/g.csv
drop beta bad/b.csv
drop beta n.txt
drop beta s.csv
echo pending >"$VAR/staging/beta/incoming/.upload.csv"
wait_for 20 "beta's done file" have_records 1 beta ok
wait_for 20 "beta's failed file" have_records 1 beta failed
wait_for 20 "beta's rejected file" have_records 1 beta rejected
wait_for 20 "beta's running app" test -e "$VAR/staging/beta/processing/s.csv"
sleepy=$(pgrep -P "$BM_PID" -u mysbt-b) || fail "beta's batch app is not running"

# What alpha's app tries: every folder, file and socket of beta's, the
# platform's files and sockets, the daemons' and beta's processes...
targets=$T/probe/targets
{
	for top in staging/beta queue/beta log/beta run/beta work/beta coredms/beta; do
		find "$VAR/$top" -type d -printf 'list %p\ncreate %p\n'
		find "$VAR/$top" -type f -printf 'read %p\n'
		find "$VAR/$top" -type s -printf 'connect %p\n'
	done
	find "$VAR/log" -maxdepth 1 -type f -printf 'read %p\n'
	find "$VAR/run" -maxdepth 1 -type s -printf 'connect %p\n'
	for top in staging queue run log coredms work; do echo "create $VAR/$top"; done
	for p in "$BM_PID" "$SM_PID" "$MON_PID" $sleepy; do echo "read /proc/$p/environ"; done
} >"$targets.other"
# ... and, so the probe itself is known to work, alpha's own things.
cat >"$targets.own" <<EOF
list $VAR/staging/alpha/incoming
create $VAR/staging/alpha/incoming
read $VAR/staging/alpha/processing/a.csv
create $VAR/work/alpha
connect $VAR/run/alpha/metrics.sock
EOF
cat "$targets.own" "$targets.other" >"$targets"
chown mysbt-a "$targets"
grep -q "^read $VAR/queue/beta/default/" "$targets" || fail "beta's queue has no segment to probe"
grep -q "^read $VAR/log/beta/.*\.log$" "$targets" || fail "beta has no app log to probe"

drop alpha a.csv
wait_for 20 "alpha's probe" have_records 1 alpha ok
report=$T/probe/report
assert_eq "$(wc -l <"$targets")" "$(grep -vc '^env ' "$report")" "every target was tried"
bad=$(grep -vxF -f <(sed 's/^/allowed /' "$targets.own") "$report" |
	grep -vxF -f <(sed 's/^/denied /' "$targets.other") | grep -v '^env ' || true)
[ -z "$bad" ] || fail "alpha's app could do more (or less) than its own things:
$bad"
ok "alpha's app reaches its own things ($(wc -l <"$targets.own") probes)"
ok "and none of beta's or the platform's ($(wc -l <"$targets.other") probes, all EACCES)"
grep -q '^env MYSIMBDP_TENANT=alpha$' "$report" || fail "no app environment in the report"
grep -q MYSBT_SECRET "$report" && fail "the daemons' environment reached a batch app"
ok "nothing of the daemons' environment reaches a batch app"

stop_daemon batchmgr
stop_daemon streammgr
stop_daemon monitor

#!/usr/bin/env bash
# A tenant removed and added back by reloads while its job runs, and
# that job ends in a retry (exit 75): the tenant's new self takes the
# file over and retries it, without a restart. (It was left in
# processing/ until the next start, and the same name sent again waited
# there with it.)
. "$(dirname "$0")/lib.sh"

platform
# The first attempt at a file waits for the file go, then exits 75
# ("try again later"); later attempts end well at once. started.N: the
# Nth attempt has begun.
cat >"$T/once75" <<EOF2
#!/bin/sh
n=\$(( \$(ls "$T"/started.* 2>/dev/null | wc -l) + 1 ))
: >"$T/started.\$n"
[ "\$n" -gt 1 ] && exit 0
until [ -e "$T/go" ]; do sleep 0.05; done
exit 75
EOF2
chmod 755 "$T/once75"
simple_tenant acme "\"$T/once75\""
cp "$T/conf/tenants/acme.cfg" "$T/acme.cfg"
start_daemon batchmgr

drop acme a.csv
wait_for 20 "a.csv's first attempt" test -e "$T/started.1"

rm "$T/conf/tenants/acme.cfg"
from=$(wc -l <"$BM_LOG")
kill -HUP "$BM_PID"
wait_for 20 "acme retired" bm_log_after "$from" 'tenant acme: profile removed'
cp "$T/acme.cfg" "$T/conf/tenants/acme.cfg"
from=$(wc -l <"$BM_LOG")
kill -HUP "$BM_PID"
wait_for 20 "acme added back" bm_log_after "$from" 'tenant acme: added'
assert_file "$VAR/staging/acme/processing/a.csv"

# The tenant sends the same name again while the first one runs: it
# waits in incoming/ for the first to leave processing/.
drop acme a.csv "id,value,again"
: >"$T/go"
wait_for 30 "a.csv retried and ingested" have_records 1 acme ok
assert_eq "retry 1|ok 2" \
	"$(records '.tenant == "acme" and .file == "a.csv"' | jq -r '"\(.status) \(.attempt)"' | head -n 2 | paste -sd'|' -)" \
	"a.csv's records: the retry, then the retried attempt, with no restart"
wait_file "$VAR/staging/acme/done/a.csv"	# moved after its record
ok "a.csv in done/"
wait_for 30 "the second a.csv ingested" have_records 2 acme ok
wait_file "$VAR/staging/acme/done/a.csv.1"
assert_eq 0 "$(files_in acme processing)" "files left in processing/"
assert_eq 0 "$(files_in acme incoming)" "files left in incoming/"
assert_eq 2 "$(files_in acme done)" "files in done/"
stop_daemon batchmgr

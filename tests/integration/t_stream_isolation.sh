#!/bin/bash
# Running as root with a user per tenant: instances run as their tenant's
# user, and a process of another tenant's user cannot reach this tenant's
# endpoints.
. "$(dirname "$0")/lib.sh"

need_root
test_users mysbt-a mysbt-b
# The users must be able to read the configuration and run the binaries.
chmod 755 "$T"

platform
stream_tenant alpha 'instances = { min = 1; max = 1; };'
sed -i 's/^id = "alpha";/&\nuser = "mysbt-a";/' "$T/conf/tenants/alpha.cfg"
stream_tenant beta
sed -i 's/^id = "beta";/&\nuser = "mysbt-b";/' "$T/conf/tenants/beta.cfg"
chmod -R a+rX "$T/conf"
start_daemon streammgr
wait_for 20 "alpha's instance" ready_is alpha 1
wait_for 20 "beta's instance" ready_is beta 1

pid=$(sstat alpha '.instances[0].pid')
assert_eq mysbt-a "$(ps -o user= -p "$pid")" "alpha's instance runs as alpha's user"
assert_eq 700 "$(stat -c %a "$VAR/run/alpha")" "alpha's socket folder is 0700"
assert_eq mysbt-a "$(stat -c %U "$VAR/run/alpha")" "and alpha's user owns it"

echo "k1 v-alpha" >"$T/scratch/one"
chmod a+r "$T/scratch/one"
out=$(runuser -u mysbt-a -- "$CLI" -c "$T/conf/mysimbdp.cfg" send alpha --file "$T/scratch/one" 2>&1) ||
	fail "alpha's user cannot send to alpha: $out"
ok "alpha's user sends to alpha"
rc=0
out=$(runuser -u mysbt-b -- "$CLI" -c "$T/conf/mysimbdp.cfg" send alpha --file "$T/scratch/one" 2>&1) || rc=$?
[ $rc -ne 0 ] || fail "beta's user could send to alpha: $out"
grep -qi "permission denied" <<<"$out" || fail "no clear error: $out"
ok "beta's user cannot reach alpha's endpoint: $out"
rc=0
out=$(runuser -u mysbt-b -- "$CLI" -c "$T/conf/mysimbdp.cfg" send beta --file "$T/scratch/one" 2>&1) || rc=$?
assert_eq 0 $rc "beta's user sends to its own tenant"
wait_for 20 "alpha's ack" acked_at_least alpha 1
stop_daemon streammgr

#!/usr/bin/env bash
# A tenant with a user of its own cannot change a file once batchmgr has
# claimed it (docs/hostile-input.md, "batchmgr's claim"): its group may
# look into processing/, where its apps read, and the file was its
# user's, so it could append to it by path past max_file_size and the
# quota, or link it into incoming/ (both seen before). Claimed, the file
# is root's, 0440 with the tenant's group: the app still reads it.
. "$(dirname "$0")/lib.sh"
need_root
test_users mysbt-own
chmod 711 "$T"
platform
tenant acme <<'CFG'
id = "acme";
user = "mysbt-own";
batch = {
  formats = ["csv"];
  max_file_size = "1K";
  apps = ( { app = ["/bin/sh", "-c", "cat \"$MYSIMBDP_INPUT_FILE\" >copy.csv && sleep 2"]; } );
};
CFG
start_daemon batchmgr
in=$VAR/staging/acme/incoming
proc=$VAR/staging/acme/processing
as_tenant() { runuser -u mysbt-own -- sh -c "$1" 2>/dev/null; }
root_owned() { [ "$(stat -c %u "$1" 2>/dev/null)" = 0 ]; }

as_tenant "echo a,b >$in/.x.tmp && mv $in/.x.tmp $in/x.csv" || fail "the tenant cannot upload"
wait_for 10 "x.csv claimed, and taken from the tenant" root_owned "$proc/x.csv"
assert_eq "440 mysbt-own" "$(stat -c '%a %G' "$proc/x.csv")" "claimed: 0440, the tenant's group"
as_tenant "echo more >>$proc/x.csv" && fail "the tenant's user appended to its claimed file"
as_tenant "ln $proc/x.csv $in/y.csv" && fail "the tenant's user linked its claimed file into incoming/"
ok "the tenant's user can neither append to nor link its claimed file"
wait_for 20 "x.csv's record" have_records 1 acme ok
assert_eq "a,b" "$(cat "$VAR/work/acme/copy.csv")" "the app, as the tenant's user, read its file"
assert_eq 4 "$(records '.tenant == "acme"' | jq .bytes)" "the record has the size claimed"
assert_eq "4 1" "$(stat -c '%s %h' "$VAR/staging/acme/done/x.csv")" "done/x.csv as it was claimed"
stop_daemon batchmgr

# A stop between a claim's rename and its taking the file left it the
# user's in processing/: the next start takes it before it runs again.
cp "$VAR/staging/acme/done/x.csv" "$proc/z.csv"
chown mysbt-own "$proc/z.csv"
chmod 644 "$proc/z.csv"
start_daemon batchmgr
wait_for 20 "z.csv's record" have_records 2 acme ok
assert_eq "0 440" "$(stat -c '%u %a' "$VAR/staging/acme/done/z.csv")" \
	"a file left the user's in processing/ was taken before it ran again"
stop_daemon batchmgr

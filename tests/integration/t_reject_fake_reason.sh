#!/usr/bin/env bash
# A tenant's own upload named like the daemon's reason of an interrupted
# rejection (data.csv.reason, its mtime set to 2099 by touch -d or
# rsync -t), rejected into rejected/data.csv.reason for its format, must
# not make the next start take a good data.csv sent while batchmgr was
# down for the other half of that rejection: it must run, with its
# record. The start compared the file's ctime with the reason's mtime,
# which the tenant sets, and moved data.csv to rejected/ unrecorded.
. "$(dirname "$0")/lib.sh"

platform
simple_tenant acme '"exit-with", "0"'
start_daemon batchmgr
A=$VAR/staging/acme
printf 'not a reason\n' >"$T/scratch/f"
touch -d '2099-01-01' "$T/scratch/f"
mv "$T/scratch/f" "$A/incoming/data.csv.reason"
wait_for 20 "data.csv.reason rejected" test -e "$A/rejected/data.csv.reason"
assert_eq 1 "$(count acme rejected)" "the tenant's data.csv.reason has its record"
stop_daemon batchmgr

drop acme data.csv "id,value"
start_daemon batchmgr
wait_for 20 "data.csv run" have_records 1 acme ok
wait_file "$A/done/data.csv"	# moved after its record
assert_eq "id,value" "$(cat "$A/done/data.csv")" "data.csv ran"
assert_no_file "$A/rejected/data.csv"
assert_eq "not a reason" "$(cat "$A/rejected/data.csv.reason")" \
	"the tenant's file is kept as it is"
grep -q "finished the move" "$BM_LOG" &&
	fail "the start took the tenant's file for its own reason"
ok "a tenant's file named like a reason is not taken for the daemon's"
stop_daemon batchmgr

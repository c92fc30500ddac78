#!/usr/bin/env bash
# A tenant swaps its file for something else between batchmgr's checks
# and its claim (the rename into processing/): gdb stops batchmgr in
# state_move on its way to processing/, the test swaps the entry, then
# batchmgr goes on. What it moved must be rejected `replaced`, never run:
# - a fifo, for a tenant with batch.encryption: batchmgr opened it to
#   see whether it is an age file, and waited in that open for ever for
#   a writer: no tenant's file ran again;
# - a symlink to a file outside: the app was handed the link;
# - a hard link made to the file: a second name for what the app reads;
# - the file appended to, or opened for writing: it could grow past
#   max_file_size and the quota once claimed.
# Skipped without gdb (or when the system does not let it attach) or age.
. "$(dirname "$0")/lib.sh"

command -v gdb >/dev/null || { echo "SKIP: gdb is not installed"; exit 77; }
command -v age-keygen >/dev/null || { echo "SKIP: no age (apt-get install age)"; exit 77; }

# Only inotify can find a file within the test's deadlines.
platform scan_interval='"1h"'
age-keygen -o "$T/key.txt" 2>/dev/null
chmod 600 "$T/key.txt"
tenant sec <<CFG
id = "sec";
batch = {
  formats = ["csv"];
  encryption = { method = "age"; keys = [ "$T/key.txt" ]; };
  apps = ( { app = ["exit-with", "0"]; timeout = "$(scaled 20)s"; retries = 0; } );
};
CFG
simple_tenant plain '"exit-with", "0"'
simple_tenant other '"exit-with", "0"'
start_daemon batchmgr

# has_record TENANT FILE STATUS: at least one such record.
has_record() {
	[ "$(records ".tenant == \"$1\" and .file == \"$2\" and .status == \"$3\"" | wc -l)" -ge 1 ]
}


# assert_replaced TENANT NAME TEST WHAT: NAME is rejected `replaced`,
# rejected/NAME passes `test TEST`, and it never ran.
assert_replaced() {
	local reason=$VAR/staging/$1/rejected/$2.reason
	wait_for 30 "$1's $2 rejected" has_record "$1" "$2" rejected
	# The record comes first, then the reason, then the move.
	wait_file "$reason"
	wait_file "$VAR/staging/$1/rejected/$2"
	grep -q '^replaced: ' "$reason" || fail "$2.reason: $(cat "$reason")"
	test "$3" "$VAR/staging/$1/rejected/$2" || fail "rejected/$2 is not $3"
	assert_eq 0 "$(records ".file == \"$2\" and .status != \"rejected\"" | wc -l)" \
		"no other record of $2"
	ok "$4 rejected: $(cat "$reason")"
}

mkfifo "$T/scratch/fifo"
swap_at_claim sec x.csv.age 'age-encryption.org/v1' \
	"mv $T/scratch/fifo $VAR/staging/sec/incoming/x.csv.age"
assert_replaced sec x.csv.age -p "a fifo swapped in for an encrypted file"
drop other y.csv
wait_for 30 "other's y.csv taken" has_record other y.csv ok
ok "batchmgr serves the other tenants"

echo 'id,value' >"$T/secret.csv"	# outside the tenant's folder
ln -s "$T/secret.csv" "$T/scratch/link"
swap_at_claim plain z.csv 'id,value' \
	"mv $T/scratch/link $VAR/staging/plain/incoming/z.csv"
assert_replaced plain z.csv -L "a symlink swapped in"

swap_at_claim plain h.csv 'id,value' \
	"ln $VAR/staging/plain/incoming/h.csv $T/scratch/h.hard"
assert_replaced plain h.csv -f "a hard link made to the file"

swap_at_claim plain r.csv 'id,value' \
	"echo 1,2 >>$VAR/staging/plain/incoming/r.csv"
assert_replaced plain r.csv -f "a file appended to"

# A writer that keeps the file open (it could write past max_file_size
# once the file is claimed); stopped once the file is rejected. gdb lets
# batchmgr go on only once the writer has the file open: its background
# child opens it after the shell has returned.
swap_at_claim plain w.csv 'id,value' \
	"sleep 600 3>>$VAR/staging/plain/incoming/w.csv </dev/null >/dev/null 2>&1 & p=\$!; echo \$p >$T/writer.pid; while [ -d /proc/\$p ] && [ ! -e /proc/\$p/fd/3 ]; do sleep 0.01; done"
STARTED_PIDS+=("$(cat "$T/writer.pid")")
assert_replaced plain w.csv -f "a file opened for writing"
kill "$(cat "$T/writer.pid")"

drop plain after.csv
wait_for 30 "plain's after.csv taken" has_record plain after.csv ok
wait_file "$VAR/staging/plain/done/after.csv"	# moved after its record
assert_eq 0 "$(find "$VAR/staging" -path '*/processing/*' | wc -l)" \
	"nothing left in processing/"
stop_daemon batchmgr

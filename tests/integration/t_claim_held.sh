#!/usr/bin/env bash
# A claim rejected `replaced` (t_claim_swap.sh: gdb holds batchmgr at the
# claim's rename while the test swaps the file) at a moment its record
# cannot be written (log/ingest.jsonl at batchmgr's file-size limit, as
# in t_records_full.sh; a full disk fails the same way):
# - what the claim moved stays in processing/ and never runs; its record
#   and its move are tried again, and with room again it is in rejected/
#   with its reason and one record (it used to wait there, unrecorded,
#   for the next start);
# - batchmgr killed while such entries sit in processing/ (a hard link,
#   a fifo): its next start rejects them the same way, log full or not.
#   They used to be run (the hard link: the start looked at the type
#   only) or left there for ever, unreported (the fifo).
# Skipped without gdb (or when the system does not let it attach).
. "$(dirname "$0")/lib.sh"

command -v gdb >/dev/null || { echo "SKIP: gdb is not installed"; exit 77; }

# Only inotify can find a file within the test's deadlines.
platform scan_interval='"1h"'
# Any run of the app leaves $T/out/ran/pid.
mkdir -p "$T/out/ran"
simple_tenant plain "\"envdump\", \"$T/out/ran\""
P=$VAR/staging/plain

# The rejection's record of FILE failed (since log line $from); how many
# times it was tried; whether more than N times.
failed_for() { bm_log_after "$from" "append to log/ingest.jsonl (tenant plain, file $1, rejected)"; }
tries() { tail -n +"$(( from + 1 ))" "$BM_LOG" | grep -c "append to log/ingest.jsonl (tenant plain, file $1, rejected)"; }
more_tries() { [ "$(tries "$1")" -gt "$2" ]; }	# FILE THAN

# held NAME TEST: NAME sits in processing/ (passing `test TEST`), not in
# rejected/, and no app has run.
held() {
	test "$2" "$P/processing/$1" || fail "processing/$1 is not $2"
	assert_no_file "$P/rejected/$1"
	assert_no_file "$T/out/ran/pid"
}

# assert_rejected NAME TEST WHAT: NAME is in rejected/ (passing `test
# TEST`) with a `replaced` reason and exactly one record, a rejection;
# it is not left in processing/ and no app has run.
assert_rejected() {
	local reason=$P/rejected/$1.reason
	wait_file "$P/rejected/$1"
	wait_file "$reason"
	grep -q '^replaced: ' "$reason" || fail "$1.reason: $(cat "$reason")"
	test "$2" "$P/rejected/$1" || fail "rejected/$1 is not $2"
	assert_no_file "$P/processing/$1"
	assert_eq 1 "$(records ".file == \"$1\"" | wc -l)" "records of $1"
	assert_eq 1 "$(records ".file == \"$1\" and .status == \"rejected\"" | wc -l)" \
		"one rejected record of $1"
	assert_no_file "$T/out/ran/pid"
	ok "$3: $(cat "$reason")"
}

# While running: the claim's rejection is held, then settled.
limited_batchmgr
size=$(fill_log)
from=$(wc -l <"$BM_LOG")
swap_at_claim plain h.csv "" "ln $P/incoming/h.csv $T/scratch/h.hard"
wait_for 20 "h.csv's rejection's record failing" failed_for h.csv
held h.csv -f
wait_for 20 "h.csv's rejection's record tried again" more_tries h.csv "$(tries h.csv)"
held h.csv -f
ok "log full: the hard-linked h.csv held in processing/, not run"
truncate -s "$size" "$INGEST"
assert_rejected h.csv -f "room again: h.csv rejected"

# Killed while two sit in processing/ with no record: the next start,
# the log still full, rejects them (held again), and settles them once
# there is room.
size=$(fill_log)
from=$(wc -l <"$BM_LOG")
swap_at_claim plain k.csv "" "ln $P/incoming/k.csv $T/scratch/k.hard"
mkfifo "$T/scratch/fifo"
swap_at_claim plain f.csv "" "mv $T/scratch/fifo $P/incoming/f.csv"
wait_for 20 "k.csv's rejection's record failing" failed_for k.csv
wait_for 20 "f.csv's rejection's record failing" failed_for f.csv
kill9_daemon batchmgr
held k.csv -f
held f.csv -p
from=$(wc -l <"$BM_LOG")
limited_batchmgr
wait_for 20 "k.csv rejected again at the start, its record failing" failed_for k.csv
wait_for 20 "f.csv rejected again at the start, its record failing" failed_for f.csv
wait_for 20 "k.csv's rejection's record tried again" more_tries k.csv "$(tries k.csv)"
held k.csv -f
held f.csv -p
ok "after a kill, log full: k.csv and f.csv rejected at the start, held, not run"
truncate -s "$size" "$INGEST"
assert_rejected k.csv -f "room again: the hard-linked k.csv rejected"
assert_rejected f.csv -p "room again: the fifo f.csv rejected"
assert_eq 0 "$(find "$P/processing" -mindepth 1 | wc -l)" \
	"nothing left in processing/"
stop_daemon batchmgr

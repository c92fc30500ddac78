#!/usr/bin/env bash
# A record that cannot be written holds the file's move
# (docs/architecture.md, "Records"): with log/ingest.jsonl at batchmgr's
# file-size limit (a full disk fails the same way), a file that ran stays
# in processing/, one to reject stays in incoming/, one past its retention
# is not removed, and the log keeps whole lines (no stump of a record cut
# short). With room again each is settled with exactly one record; one
# held across a restart runs again (recovered).
. "$(dirname "$0")/lib.sh"

platform
simple_tenant acme '"exit-with", "0"' 'retention = "1s";'
A=$VAR/staging/acme

# whole_log: every line of the log is one JSON object, the last ends
# with a newline: no stump of a record cut short, none glued to another.
whole_log() {
	python3 - "$INGEST" <<'PY' || fail "ingest.jsonl is not whole lines"
import json, sys
data = open(sys.argv[1], 'rb').read()
if not data.endswith(b'\n'):
    sys.exit('no newline at the end: %r' % data[-120:])
for line in data.split(b'\n')[:-1]:
    try:
        assert isinstance(json.loads(line), dict)
    except Exception:
        sys.exit('not one JSON object: %r' % line[:160])
PY
}

failed_for() { bm_log_after "$from" "append to log/ingest.jsonl (tenant acme, file $1,"; }
tries() { grep -c "append to log/ingest.jsonl (tenant acme, file $1," "$BM_LOG"; }
more_tries() { [ "$(tries "$1")" -gt "$2" ]; }	# FILE THAN
one_record() {	# FILE STATUS
	assert_eq 1 "$(records ".file == \"$1\" and .status == \"$2\"" | wc -l)" \
		"one $2 record for $1"
}

# A rejected file, old enough for retention at the next start.
start_daemon batchmgr
drop acme old.txt
wait_for 10 "old.txt rejected" have_records 1 acme rejected
stop_daemon batchmgr
old_enough() { [ $(( $(date +%s) - $(stat -c %Z "$A/rejected/old.txt") )) -ge 2 ]; }
wait_for 10 "old.txt older than its retention" old_enough

# No room: nothing moves, nothing is removed, no line is torn.
size=$(fill_log)
full=$(stat -c %s "$INGEST")
from=$(wc -l <"$BM_LOG")
limited_batchmgr
wait_for 20 "the removal of old.txt failing" failed_for old.txt
drop acme a.csv
drop acme b.txt
wait_for 20 "a.csv's record failing" failed_for a.csv
wait_for 20 "b.txt's record failing" failed_for b.txt
held() {
	assert_file "$A/processing/a.csv"
	assert_no_file "$A/done/a.csv"
	assert_file "$A/incoming/b.txt"
	assert_no_file "$A/rejected/b.txt"
	assert_file "$A/rejected/old.txt"
}
held
# A few tries more each (their backoff is 100 ms to 1 s): still held.
wait_for 20 "a.csv's record tried again" more_tries a.csv "$(tries a.csv)"
wait_for 20 "b.txt's record tried again (the next scan)" more_tries b.txt 1
held
assert_eq "$full" "$(stat -c %s "$INGEST")" "ingest.jsonl not written past its limit"
whole_log
ok "full log: a.csv in processing/, b.txt in incoming/, old.txt kept; whole lines"

# Stopped while a.csv waits for its record: it stays, and runs again.
stop_daemon batchmgr
grep -q "a.csv: left in processing/ with no record" "$BM_LOG" ||
	fail "the stop did not say a.csv was left without a record"
assert_file "$A/processing/a.csv"
from=$(wc -l <"$BM_LOG")
limited_batchmgr
drop acme c.csv
wait_for 20 "c.csv's record failing" failed_for c.csv
wait_for 20 "a.csv's rerun's record failing" failed_for a.csv
assert_file "$A/processing/a.csv"
assert_file "$A/processing/c.csv"

# Room again (the padding cut off): each is settled, one record each.
truncate -s "$size" "$INGEST"
wait_for 20 "a.csv in done/" test -e "$A/done/a.csv"
wait_for 20 "c.csv in done/" test -e "$A/done/c.csv"
wait_for 20 "b.txt in rejected/" test -e "$A/rejected/b.txt"
wait_for 20 "records written again said" grep -q "records are written again" "$BM_LOG"
# The periodic sweep (at half the retention of 1 s) removes old.txt,
# its record written now.
old_removed() { [ -n "$(records '.file == "old.txt" and .status == "removed"')" ]; }
wait_for 20 "old.txt removed" old_removed
assert_no_file "$A/rejected/old.txt"
stop_daemon batchmgr
whole_log
one_record a.csv ok
assert_eq true "$(records '.file == "a.csv" and .status == "ok"' | jq -r '.recovered')" \
	"a.csv's record says it was run again"
one_record c.csv ok
one_record b.txt rejected
one_record old.txt rejected
one_record old.txt removed
ok "room again: every file settled with exactly one record"

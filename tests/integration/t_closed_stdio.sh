#!/usr/bin/env bash
# batchmgr started with fds 0, 1 and 2 closed (a careless init script, a
# supervisor's bug): the files it opens must not take their numbers, or
# its log lines (to stderr, -d) would be written into one of them and an
# app's set-up would replace it with /dev/null. The file is processed and
# log/ingest.jsonl holds its record alone, intact.
. "$(dirname "$0")/lib.sh"

platform
simple_tenant acme '"exit-with", "0"'

"$BATCHMGR" -d -v -c "$T/conf/mysimbdp.cfg" 0<&- 1>&- 2>&- &
BM_PID=$!
STARTED_PIDS+=("$BM_PID")
wait_for 20 "acme's incoming/ made" test -d "$VAR/staging/acme/incoming"
drop acme a.csv
wait_for 20 "a.csv in done/" test -e "$VAR/staging/acme/done/a.csv"
stop_daemon batchmgr

assert_eq 1 "$(wc -l <"$INGEST")" "ingest.jsonl holds one line"
assert_eq "a.csv ok" "$(jq -r '.file + " " + .status' "$INGEST")" \
	"that line is a.csv's record"
for f in "$VAR"/log/*.jsonl; do
	jq -e . "$f" >/dev/null 2>&1 || fail "$f holds something not JSON"
	grep -q "batchmgr:" "$f" && fail "$f holds batchmgr's log lines"
done
ok "closed stdio: the record is intact, no log line in the logs' files"

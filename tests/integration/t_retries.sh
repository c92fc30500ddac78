#!/usr/bin/env bash
# exit 75 means "try again later": retried with backoff until it works. A
# crashing app is retried `retries` times, then its file goes to failed/.
# Exit 65 (EX_DATAERR) and 66 (EX_NOINPUT) mean "this file will never
# work": failed/ after that one attempt, with the app's reason.
. "$(dirname "$0")/lib.sh"

platform retry_backoff='"100ms"'
simple_tenant temp '"flaky", "2", "75"'
tenant crashy <<CFG
id = "crashy";
batch = {
  formats = ["csv"];
  apps = ( { app = ["crash"]; retries = 2; } );
};
CFG
for st in 65 66; do
	simple_tenant "refuse$st" '"refuse", "'"$st"'", "not a listings export"'
done
start_daemon batchmgr

for st in 65 66; do
	drop "refuse$st" r.csv
	wait_for 20 "refuse$st failed" have_records 1 "refuse$st" failed
	r=$(records '.tenant == "refuse'"$st"'" and .status == "failed"')
	assert_eq 0 "$(count "refuse$st" retry)" "exit $st: no retry"
	assert_eq "1 $st" "$(jq -r '"\(.attempt) \(.exit_code)"' <<<"$r")" "exit $st: one attempt"
	jq -e '.reason | test("^data: exit '"$st"' .*: not a listings export$")' <<<"$r" >/dev/null ||
		fail "exit $st: reason: $(jq -r .reason <<<"$r")"
	wait_file "$VAR/staging/refuse$st/failed/r.csv"
done
ok "exit 65 and 66 go to failed/ at once with the app's reason"

drop temp t.csv
wait_for 20 "temp ok" have_records 1 temp ok
assert_eq 2 "$(count temp retry)" "two retry records for exit 75"
assert_eq 3 "$(records '.tenant == "temp" and .status == "ok"' | jq -r .attempt)" \
	"ok on the third attempt"
assert_eq "1 2" "$(records '.tenant == "temp" and .status == "retry"' | jq -r .attempt | xargs)" \
	"retry records number the attempts"
records '.tenant == "temp" and .status == "retry"' | jq -e 'select(.exit_code == 75 and (.reason | startswith("tempfail:")))' >/dev/null ||
	fail "retry record does not say exit 75"
wait_file "$VAR/staging/temp/done/t.csv"
# The backoff doubles: the gap before attempt 3 is at least 200ms.
s2=$(records '.tenant == "temp" and .attempt == 2' | jq -r .end)
s3=$(records '.tenant == "temp" and .attempt == 3' | jq -r .start)
gap=$(( $(date -d "$s3" +%s%3N) - $(date -d "$s2" +%s%3N) ))
[ "$gap" -ge 200 ] || fail "second backoff was ${gap}ms, expected >= 200ms"
ok "backoff grows (${gap}ms before the third attempt)"

drop crashy c.csv
wait_for 20 "crashy failed" have_records 1 crashy failed
assert_eq 2 "$(count crashy retry)" "retried twice"
r=$(records '.tenant == "crashy" and .status == "failed"')
assert_eq 3 "$(jq -r .attempt <<<"$r")" "failed after 1 + retries attempts"
assert_eq 11 "$(jq -r .signal <<<"$r")" "the signal is recorded"
jq -e '.reason | test("signal 11")' <<<"$r" >/dev/null || fail "reason: $r"
wait_file "$VAR/staging/crashy/failed/c.csv"
assert_eq 0 "$(files_in crashy processing)" "nothing left in processing/"
stop_daemon batchmgr

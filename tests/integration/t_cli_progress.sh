#!/usr/bin/env bash
# The progress line of `mysimbdp load` and `mysimbdp send --file`: on
# stderr, rewritten in place with \r at most four times a second, ended
# with a newline; shown on a terminal (a pty made by script(1)) or with
# --progress, never in a pipe by default, never with --no-progress.
. "$(dirname "$0")/lib.sh"

FAKE=$MYSIMBDP_BUILD/tests/integration/fakezmq
platform
CFG=$T/conf/mysimbdp.cfg
export MONGO_URL="file://$T/store" MONGO_DB=acme

# A CSV file of 200000 rows (about 3 MB).
big=$T/scratch/big.csv
seq 1 200000 | awk 'BEGIN { print "id,value" } { print $1 ",v" $1 }' >"$big"

# lines FILE: the progress lines in FILE, one per \r-rewrite.
lines() { tr '\r' '\n' <"$1" | grep -v '^$' || true; }

# ---- load -----------------------------------------------------------------

"$CLI" load --collection items --progress "$big" >"$T/out/load" 2>"$T/out/load.err" ||
	fail "load --progress: $(cat "$T/out/load.err")"
grep -q "^$big: 200000 rows, 0 rejected" "$T/out/load" || fail "load: summary: $(cat "$T/out/load")"
last=$(lines "$T/out/load.err" | tail -n 1)
[[ $last =~ ^$big:\ 100%\ [0-9.]+[KM]?/[0-9.]+[KM]?,\ 200000\ rows,\ [0-9.]+\ rows/s\ *$ ]] ||
	fail "load --progress: last line: '$last'"
[ "$(tail -c 1 "$T/out/load.err" | od -An -c | tr -d ' ')" = '\n' ] ||
	fail "load --progress: the line is not ended"
grep -q $'^\r' "$T/out/load.err" || fail "load --progress: not drawn with \\r"
ok "load --progress: bytes/total, rows, rate, ended with a newline"

"$CLI" load --collection items "$big" >"$T/out/load" 2>"$T/out/load.err" || fail "load in a pipe"
assert_eq 0 "$(wc -c <"$T/out/load.err")" "load in a pipe: no progress by default"

# On a terminal: script(1) (util-linux, in every Debian) gives the command
# a pty for stdout and stderr.
command -v script >/dev/null || fail "script(1) is needed to give load a terminal"
script -qec "'$CLI' load --collection items '$big'" /dev/null >"$T/out/tty" </dev/null ||
	fail "load on a tty: $(cat "$T/out/tty")"
grep -q "200000 rows, [0-9.]* rows/s" "$T/out/tty" || fail "load on a tty: no progress: $(cat -A "$T/out/tty")"
script -qec "'$CLI' load --collection items --no-progress '$big'" /dev/null >"$T/out/tty" </dev/null ||
	fail "load --no-progress on a tty"
if grep -q "rows/s" "$T/out/tty"; then fail "load --no-progress on a tty: $(cat -A "$T/out/tty")"; fi
ok "load: progress on a terminal by default, not with --no-progress"

# ---- send --file ------------------------------------------------------------

IN=$VAR/run/acme/default.in
mkdir -p "$VAR/run/acme"
"$FAKE" ingress "ipc://$IN" >"$T/fake.out" 2>"$T/fake.err" &
STARTED_PIDS+=("$!")
wait_for 10 "the fake ingress socket" grep -q ready "$T/fake.out"

seq 1 40 | sed 's/^/k/; s/$/ v/' >"$T/scratch/msgs"
size=$(wc -c <"$T/scratch/msgs")
start=$(date +%s%N)
"$CLI" -c "$CFG" send acme --file "$T/scratch/msgs" --rate 40 --progress \
	>"$T/out/send" 2>"$T/out/send.err" || fail "send --progress: $(cat "$T/out/send.err")"
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
assert_eq "sent 40, accepted 40, rejected 0, throttled 0, unanswered 0" "$(cat "$T/out/send")" \
	"send --progress: the summary on stdout"
n=$(lines "$T/out/send.err" | wc -l)
last=$(lines "$T/out/send.err" | tail -n 1)
[[ $last =~ ^$T/scratch/msgs:\ 100%\ ${size}B?/${size}B?,\ 40\ messages,\ [0-9.]+\ messages/s\ *$ ]] ||
	fail "send --progress: last line: '$last'"
# About a second of sending: redrawn at least once before the end, and
# never more than four times a second (plus the final line).
[ "$n" -ge 2 ] || fail "send --progress: drawn $n times in ${elapsed}ms: $(cat -A "$T/out/send.err")"
[ "$n" -le $(( elapsed / 250 + 2 )) ] || fail "send --progress: drawn $n times in ${elapsed}ms"
lines "$T/out/send.err" | head -n -1 | grep -qv ' 40 messages' ||
	fail "send --progress: no line before the end: $(cat -A "$T/out/send.err")"
ok "send --progress: $n lines in ${elapsed}ms, the last at 100%"

"$CLI" -c "$CFG" send acme --file "$T/scratch/msgs" >"$T/out/send" 2>"$T/out/send.err" ||
	fail "send in a pipe"
assert_eq 0 "$(wc -c <"$T/out/send.err")" "send in a pipe: no progress by default"
"$CLI" -c "$CFG" send acme --progress <"$T/scratch/msgs" >"$T/out/send" 2>"$T/out/send.err" ||
	fail "send from stdin --progress"
lines "$T/out/send.err" | tail -n 1 | grep -q "^stdin: 100% .*, 40 messages" ||
	fail "send from a redirected stdin: $(cat -A "$T/out/send.err")"
ok "send: no progress in a pipe; stdin from a file has a total too"

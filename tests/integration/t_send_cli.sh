#!/usr/bin/env bash
# mysimbdp send without streammgr: argument checks (64), no stream socket
# (69), a missing file (66), then against a fake ingress socket
# (tests/integration/fakezmq.c) that answers by the payload's first word:
# what is sent, the summary, the reasons, the exit statuses, --rate,
# --json and lines over 16 MiB.
. "$(dirname "$0")/lib.sh"

FAKE=$MYSIMBDP_BUILD/tests/integration/fakezmq
platform
CFG=$T/conf/mysimbdp.cfg
IN=$VAR/run/acme/default.in

# run EXPECTED-RC WHAT ARGS... (standard input from $T/input): keeps stdout
# and stderr in $out and $err, and checks the exit status.
run() {
	local want=$1 what=$2 rc=0
	shift 2
	"$CLI" -c "$CFG" "$@" <"$T/input" >"$T/stdout" 2>"$T/stderr" || rc=$?
	out=$(cat "$T/stdout")
	err=$(cat "$T/stderr")
	[ "$rc" = "$want" ] || fail "$what: expected exit $want, got $rc (stdout: $out; stderr: $err)"
	ok "$what (exit $rc)"
}
: >"$T/input"

run 64 "send without a tenant" send
run 64 "send with a bad tenant" send ../acme
run 64 "send with two tenants" send acme globex
run 64 "send with a bad stream" send acme --stream 'a b'
run 64 "send --rate 0" send acme --rate 0
run 64 "send --rate not a number" send acme --rate fast
run 64 "send --window 0" send acme --window 0
run 64 "send --window too large" send acme --window 100000
run 64 "send --timeout 0" send acme --timeout 0
run 64 "send --key without --node" send acme --key "$T/k"
run 64 "send --node without --key" send acme --node 127.0.0.1:1
grep -q -- "--node needs --key FILE and --server-key KEY" <<<"$err" || fail "--node alone: $err"
run 64 "send --node that is not HOST:PORT" send acme --node nohost --key "$T/nosuch" --server-key "$T/nosuch"
assert_eq 'mysimbdp send: --node "nohost": must be HOST:PORT, the node'"'"'s remote.listen, with PORT 1 to 65535' "$err" "bad --node: one line"
run 66 "send --node to a key file that is not there" send acme --node 127.0.0.1:1 --key "$T/nosuch" --server-key "$T/nosuch"
grep -q "nosuch: No such file" <<<"$err" || fail "no key file: $err"
run 0 "send --help" send --help
grep -q "usage: mysimbdp send" <<<"$out" || fail "send --help: $out"
run 0 "send TENANT --help" send acme --help
grep -q -- "--rate N" <<<"$out" || fail "send acme --help: $out"

run 69 "send without streammgr" send acme
assert_eq "mysimbdp: streammgr is not running, or acme has no stream \"default\" (no $IN)" "$err" "no socket: message"
run 66 "send a file that is not there" send acme --file "$T/nosuch"

mkdir -p "$VAR/run/acme"
"$FAKE" ingress "ipc://$IN" >"$T/fake.out" 2>"$T/fake.err" &
FAKE_PID=$!
STARTED_PIDS+=("$FAKE_PID")
wait_for 10 "the fake ingress socket" grep -q ready "$T/fake.out"
# seen: what the fake received since the last mark.
mark() { SEEN_FROM=$(wc -l <"$T/fake.out"); }
seen() { tail -n +"$(( SEEN_FROM + 1 ))" "$T/fake.out"; }

# Empty lines are skipped, the newline is not part of a message, the last
# line needs none.
printf 'one\ntwo\n\n\nthree with spaces \nfour' >"$T/input"
mark
run 0 "send from standard input" send acme
assert_eq "sent 4, accepted 4, rejected 0, throttled 0, unanswered 0" "$out" "summary"
assert_eq "$(printf 'one\ntwo\nthree with spaces \nfour')" "$(seen)" "the messages as the ingress got them"

printf 'ok 1\nreject:too-large: 10 bytes\nreject:empty: x\nreject:too-large: 10 bytes\nthrottle\nok 2\n' >"$T/file"
: >"$T/input"
run 65 "rejections" send acme --file "$T/file"
assert_eq "sent 6, accepted 2, rejected 3, throttled 1, unanswered 0
  rejected 2: too-large: 10 bytes
  rejected 1: empty: x" "$out" "summary with the reasons, most frequent first"

run 65 "rejections, --json" send acme --file "$T/file" --json
assert_eq '{"sent":6,"accepted":2,"rejected":3,"throttled":1,"unanswered":0,"too_long":0,"reasons":[{"status":"REJECT","reason":"too-large: 10 bytes","count":2},{"status":"REJECT","reason":"empty: x","count":1}],"other_reasons":0}' \
	"$(jq -c . <<<"$out")" "--json summary"

printf 'ok\nthrottle\nthrottle\n' >"$T/input"
run 75 "throttled, none rejected" send acme
assert_eq "sent 3, accepted 1, rejected 0, throttled 2, unanswered 0" "$out" "throttled summary"

# At most 10 distinct reasons; the others are counted together.
for i in $(seq 1 12); do echo "reject:code$i: detail"; done >"$T/input"
run 65 "twelve distinct reasons" send acme
assert_eq 10 "$(grep -c '^  rejected' <<<"$out")" "ten reasons, then the rest"
grep -qx "  refused 2: (other reasons)" <<<"$out" || fail "other reasons: $out"

# A reply that never comes: unanswered after --timeout, and exit 75.
# The timeout covers the other message's whole round trip too: 2 s.
printf 'ok\nsilent\n' >"$T/input"
start=$(date +%s%N)
run 75 "a message without a reply" send acme --timeout 2s
assert_eq "sent 2, accepted 1, rejected 0, throttled 0, unanswered 1" "$out" "unanswered summary"
[ $(( ($(date +%s%N) - start) / 1000000 )) -lt $(( 2000 + 3000 * TIME_FACTOR )) ] || fail "the reply timeout was not kept"

# --rate: 10 messages at 20/s take 9/20 s at least.
seq 1 10 >"$T/input"
start=$(date +%s%N)
run 0 "--rate 20" send acme --rate 20 --window 2
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -ge 440 ] && [ "$ms" -lt $(( 3000 * TIME_FACTOR )) ] || fail "--rate 20: 10 messages in $ms ms"
ok "--rate 20: 10 messages in $ms ms"

# streammgr goes away: a second fake quits on the first message, without
# an answer. The end of the connection writes that message off at once
# (unanswered), not at its reply timeout. The next line comes through a
# FIFO only once the fake is gone: with --rate, pace's wait sees the end
# first; the line then finds no streammgr within its 2 s, and the rest is
# not sent. That is "unanswered" (75), as without --rate, not a failure
# (70).
gone_fake() {
	: >"$T/gone.out"	# the last fake's "ready" must not pass for this one's
	"$FAKE" ingress "ipc://$VAR/run/acme/gone.in" >"$T/gone.out" 2>"$T/gone.err" &
	GONE_PID=$!
	STARTED_PIDS+=("$GONE_PID")
	wait_for 10 "the second fake ingress socket" grep -q ready "$T/gone.out"
}
gone_fake
printf 'quit\n' >"$T/input"
run 75 "streammgr gone" send acme --stream gone --timeout 60s
assert_eq "sent 1, accepted 0, rejected 0, throttled 0, unanswered 1" "$out" "streammgr gone: summary"
grep -q "^mysimbdp send: 1 unanswered: the connection to streammgr ended" <<<"$err" || fail "streammgr gone: $err"
wait "$GONE_PID" || fail "the second fake ingress exited $?"

gone_fake
rm -f "$T/fifo"
mkfifo "$T/fifo"
exec 7<>"$T/fifo"
"$CLI" -c "$CFG" send acme --stream gone --rate 2 --timeout 2s <"$T/fifo" \
	>"$T/stdout" 2>"$T/stderr" &
send_pid=$!
echo quit >&7
wait "$GONE_PID" || fail "the second fake ingress exited $?"
printf 'two\nthree\n' >&7
exec 7>&-
rc=0
wait "$send_pid" || rc=$?
out=$(cat "$T/stdout") err=$(cat "$T/stderr")
assert_eq 75 "$rc" "--rate, streammgr gone: exit 75 ($err)"
assert_eq "sent 1, accepted 0, rejected 0, throttled 0, unanswered 1" "$out" "--rate, streammgr gone: summary"
grep -q "^mysimbdp send: line 2: no streammgr took the message within 2000 ms" <<<"$err" || fail "--rate, streammgr gone: $err"

# A line over 16 MiB is refused here; one of exactly 16 MiB is sent.
{
	echo first
	head -c $(( 16 * 1024 * 1024 + 1 )) /dev/zero | tr '\0' x; echo
	head -c $(( 16 * 1024 * 1024 )) /dev/zero | tr '\0' y; echo
	echo last
} >"$T/input"
mark
run 65 "a line over 16 MiB" send acme
assert_eq "sent 3, accepted 3, rejected 0, throttled 0, unanswered 0
not sent: 1 lines longer than 16 MiB" "$out" "too long: summary"
assert_eq "mysimbdp send: line 2: 16777217 bytes, more than the 16 MiB a message may have; not sent" "$err" "too long: message"
assert_eq "first 16777216 last" "$(seen | awk '{ print (length > 100 ? length : $0) }' | paste -sd' ')" "too long: what was sent"

run 69 "send to a stream that is not there" send acme --stream other
grep -q "no $VAR/run/acme/other.in" <<<"$err" || fail "other stream: $err"

kill -TERM "$FAKE_PID"
wait "$FAKE_PID" || fail "the fake ingress exited $?"

#!/usr/bin/env bash
# Hostile producer messages (tests/hostile/messages/ingress.msgs: empty,
# oversized, non-UTF-8, binary, bad frames, odd msg-ids, 10 MB frames,
# batches with bad headers and records) and
# a hostile instance's frames (work.msgs) sent by rawzmq to a real
# streammgr: each gets the reply its .expected file documents, the good
# messages are stored and counted, the stream's real instance keeps
# working, and streammgr answers status and exits cleanly (under ASan:
# without a leak).
. "$(dirname "$0")/lib.sh"
CORPUS=$MYSIMBDP_SRC/tests/hostile/messages
RAW=$MYSIMBDP_BUILD/tests/integration/rawzmq

platform
stream_tenant alpha 'max_message_size = "1K";'
start_daemon streammgr
wait_for 20 "alpha's instance" ready_is alpha 1

"$RAW" "ipc://$VAR/run/alpha/default.in" dealer 5000 <"$CORPUS/ingress.msgs" >"$T/out/ingress" ||
	fail "rawzmq: $(cat "$T/out/ingress")"
diff -u "$CORPUS/ingress.expected" "$T/out/ingress" || fail "ingress replies differ from ingress.expected"
ok "every producer message got its documented reply ($(wc -l <"$T/out/ingress"))"
# A batch's reply holds a status per record (u16 length, text): "OK" is
# \x00\x02OK there; every REJECT, of one message or a whole batch, counts.
ok_n=$(grep -oE '(\| |\\x00\\x02)OK' "$CORPUS/ingress.expected" | wc -l)
rej_n=$(grep -o 'REJECT' "$CORPUS/ingress.expected" | wc -l)
assert_eq "$ok_n" "$(sstat alpha .accepted)" "status counts the stored ones"
assert_eq "$rej_n" "$(sstat alpha .rejected)" "and the refused ones"
# The instance takes "key value" lines; the binary payloads are its to
# refuse (they end as dead letters), the others it acks.
wait_for 20 "every stored message handled" eval \
	'[ $(( $(sstat alpha .acked) + $(sstat alpha .dead_letters) )) -eq '"$ok_n"' ]'
ok "each stored message was delivered and answered by the instance"

"$RAW" "ipc://$VAR/run/alpha/default.work" dealer 5000 <"$CORPUS/work.msgs" >"$T/out/work" ||
	fail "rawzmq: $(cat "$T/out/work")"
diff -u "$CORPUS/work.expected" "$T/out/work" || fail "work replies differ from work.expected"
ok "every hostile instance frame got its documented reply ($(wc -l <"$T/out/work"))"

send_keys alpha 1 5 >/dev/null || fail "a good producer is refused afterwards"
wait_for 20 "the real instance still acks" acked_at_least alpha 5
ready_is alpha 1 || fail "the real instance is gone"
ok "the stream works on"
stop_daemon streammgr
ok "streammgr exits cleanly"

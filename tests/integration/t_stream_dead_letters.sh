#!/bin/bash
# Messages an app nacks max_deliveries times go to the dead letters with
# the reason and the count; `mysimbdp dead-letters` lists them and, once
# the app's trouble is over, requeues them (by id, or all) to be delivered.
# Their ids stay unique across a restart with durability "memory".
. "$(dirname "$0")/lib.sh"

platform
outage=$T/scratch/downstream-down
touch "$outage"
STREAMAPP_ARGS=", \"-P\", \"$outage\"" stream_tenant alpha 'max_deliveries = 3;'
start_daemon streammgr
wait_for 20 "alpha's instance" ready_is alpha 1

printf 'k1 one\nk2 two\nk3 \xff\xfe binary\n' >"$T/scratch/msgs"
cli send alpha --file "$T/scratch/msgs" >"$T/out/send" || fail "send: $(cat "$T/out/send")"
wait_for 20 "three dead letters" eval '[ "$(sstat alpha .dead_letters)" = 3 ]'
ok "three messages dead-lettered after 3 nacks each"

cli dead-letters alpha >"$T/out/list" || fail "list: $(cat "$T/out/list")"
grep -q "^3 dead letters$" "$T/out/list" || fail "list: $(cat "$T/out/list")"
grep -q "nacked by default-1: told to (delivered 3 times, max_deliveries 3)" \
	"$T/out/list" || fail "reason: $(cat "$T/out/list")"
grep -q "payload: k1 one" "$T/out/list" || fail "payload: $(cat "$T/out/list")"
grep -q "payload: (12 bytes, binary)" "$T/out/list" || fail "binary: $(cat "$T/out/list")"
ok "listed with reason, deliveries and payload"
cli dead-letters alpha --json >"$T/out/json" || fail "json"
assert_eq "3 3 3" "$(jq -r '[.[].deliveries] | join(" ")' "$T/out/json")" "deliveries"
assert_eq "k1 one" "$(jq -r '.[0].payload' "$T/out/json")" "payload as JSON"
id1=$(jq -r '.[] | select(.payload == "k1 one") | .id' "$T/out/json")
id2=$(jq -r '.[] | select(.payload == "k2 two") | .id' "$T/out/json")

# The downstream is back: requeue k1 by its id, then k2.
rm "$outage"
cli dead-letters alpha --requeue --id "$id1" >"$T/out/rq1" || fail "requeue: $(cat "$T/out/rq1")"
assert_eq "alpha: 1 dead letter requeued" "$(cat "$T/out/rq1")" "requeue one"
wait_for 20 "k1 delivered" eval '[ "$(store_docs alpha | jq -r ._id)" = k1 ]'
assert_eq 2 "$(cli dead-letters alpha --json | jq length)" "two left"
ok "k1 requeued by id and delivered; two letters left"

rc=0; cli dead-letters alpha --requeue --id 999999 >"$T/out/rq0" 2>&1 || rc=$?
assert_eq 65 $rc "an id that is not a dead letter"
grep -q "1 of the ids given are not dead letters" "$T/out/rq0" || fail "$(cat "$T/out/rq0")"

# The same id twice is one letter: requeued once, and not "1 of the ids
# given are not dead letters" (exit 65).
cli dead-letters alpha --requeue --id "$id2" --id "$id2" >"$T/out/rq2" 2>&1 ||
	fail "requeue k2 named twice: $(cat "$T/out/rq2")"
assert_eq "alpha: 1 dead letter requeued" "$(cat "$T/out/rq2")" "the same id twice"
wait_for 20 "k2 delivered" eval '[ "$(store_docs alpha | jq -r ._id | sort | xargs)" = "k1 k2" ]'
assert_eq 1 "$(cli dead-letters alpha --json | jq length)" "one left: the binary one"
ok "k2 requeued (its id given twice) and delivered; the binary letter stays"

# A requeue that cannot make the file's new version (a folder where its
# temporary file goes) moves nothing: it says why, and the letter stays
# in the file, not queued (the kept lines are written as the file is
# read, before any letter is stored).
id3=$(jq -r ".[] | select(.id != $id1 and .id != $id2) | .id" "$T/out/json")
acked=$(sstat alpha .acked)
mkdir "$VAR/queue/alpha/default/dead-letters.jsonl.tmp"
rc=0; cli dead-letters alpha --requeue --id "$id3" >"$T/out/rq3" 2>&1 || rc=$?
rmdir "$VAR/queue/alpha/default/dead-letters.jsonl.tmp"
[ $rc != 0 ] || fail "a requeue without its new file: exit 0 ($(cat "$T/out/rq3"))"
grep -q "dead-letters.jsonl.tmp: Is a directory" "$T/out/rq3" || fail "$(cat "$T/out/rq3")"
assert_eq 1 "$(cli dead-letters alpha --json | jq length)" "the letter still listed"
assert_eq "0 $acked" "$(sstat alpha '"\(.backlog) \(.acked)"')" "nothing queued"
ok "a requeue that cannot write the new file moves nothing (exit $rc)"

# One whose new file cannot be put in place once the letter is stored
# (gdb has dead_letter_keep fail): the letter is queued and still in the
# file, which the command says, exiting 74, not "1 dead letter
# requeued" and 0 (a second requeue would queue it again).
if command -v gdb >/dev/null; then
	out=$T/out/gdb.keep
	gdb_start "$SM_PID" "$out" 'break dead_letter_keep' continue \
		'set var err[0] = 103' 'set var err[1] = 100' \
		'set var err[2] = 98' 'set var err[3] = 0' \
		'return (int)-1' detach
	if wait_for_gdb "$out" "$GDB_PID"; then
		rc=0; cli dead-letters alpha --requeue --id "$id3" >"$T/out/rq3" 2>&1 || rc=$?
		assert_eq 74 $rc "a requeue that left the letter in the file ($(cat "$T/out/rq3"))"
		grep -q "still in the dead-letter file as well" "$T/out/rq3" || fail "$(cat "$T/out/rq3")"
		gdb_wait "$out"		# it detached after the return
		running "$SM_PID" || fail "streammgr died as gdb left: $(tail -n 5 "$out")"
	else
		echo "# gdb cannot attach to streammgr: $(tail -n 2 "$out")"
	fi
fi

rc=0; cli dead-letters ../etc >/dev/null 2>&1 || rc=$?
assert_eq 64 $rc "a tenant id that could leave its folder is refused"

# Durability "memory" keeps no number on disk: after a restart the
# queue's numbers start above the dead letters' ids, so `--requeue --id`
# names one letter.
stop_daemon streammgr
STREAMAPP_ARGS=', "-n"' stream_tenant beta 'max_deliveries = 1; durability = "memory";'
start_daemon streammgr
wait_for 20 "beta's instance" ready_is beta 1
echo "b1 one" | cli send beta --file - >/dev/null || fail "send b1"
wait_for 20 "b1 dead-lettered" eval '[ "$(sstat beta .dead_letters)" = 1 ]'
stop_daemon streammgr
# A SIGKILL inside the write of a (long) dead letter leaves its stump:
# cut off at the next start, or the next letter is glued to it and
# neither can be read (its message was not released: it comes back).
printf '{"id":7,"reason":"cut sh' >>"$VAR/queue/beta/default/dead-letters.jsonl"
# A SIGKILL inside a requeue, before its rename, leaves the new file
# (the kept lines; the file itself is whole): removed at the next start.
head -c 5000 /dev/zero >"$VAR/queue/beta/default/dead-letters.jsonl.tmp"
start_daemon streammgr
wait_for 20 "beta's instance" ready_is beta 1
[ ! -e "$VAR/queue/beta/default/dead-letters.jsonl.tmp" ] ||
	fail "a requeue's new file cut short by a crash is still there"
sm_log_has "dead-letters.jsonl.tmp: the 5000 bytes a requeue cut short by a crash left removed" ||
	fail "its removal not logged"
echo "b2 two" | cli send beta --file - >/dev/null || fail "send b2"
wait_for 20 "b2 dead-lettered" eval '[ "$(sstat beta .dead_letters)" = 1 ]'
cli dead-letters beta --json >"$T/out/beta" || fail "list beta"
assert_eq 2 "$(jq '[.[].id] | unique | length' "$T/out/beta")" \
	"distinct ids across a restart: $(jq -c '[.[].id]' "$T/out/beta")"
ok "durability memory: dead-letter ids not given again after a restart; a requeue's stale new file removed"
stop_daemon streammgr

# A requeue replaces the file (the letters kept, renamed over it): the
# dead letters after it go to the new file, even when opening it again
# by its name would fail (gdb makes any such open fail; the new file is
# opened before the rename, so none is made).
if command -v gdb >/dev/null; then
	start_daemon streammgr
	wait_for 20 "beta's instance" ready_is beta 1
	b1=$(jq -r '.[] | select(.payload == "b1 one") | .id' "$T/out/beta")
	bfile=$VAR/queue/beta/default/dead-letters.jsonl
	out=$T/out/gdb.reopen
	gdb_start "$SM_PID" "$out" \
		"break open64 if \$_streq((char *)\$rdi, \"$bfile\") && (\$rsi & 3) == 1" \
		continue 'return (int)-1' detach
	if wait_for_gdb "$out" "$GDB_PID"; then
		cli dead-letters beta --requeue --id "$b1" >"$T/out/rqb" 2>&1 ||
			fail "requeue b1: $(cat "$T/out/rqb")"
		# beta's app nacks it: a dead letter again, with a new id.
		wait_for 20 "b1 dead-lettered again" eval \
			'[ "$(sstat beta .dead_letters)" = 1 ]'
		cli dead-letters beta --json >"$T/out/beta2" || fail "list beta"
		assert_eq "b1 one,b2 two" \
			"$(jq -r '[.[].payload] | sort | join(",")' "$T/out/beta2")" \
			"beta's dead letters after the requeue of b1"
		ok "a dead letter after a requeue is in the file listed"
		# gdb leaves (detaching: a traced process cannot check its
		# leaks at exit under ASan), streammgr runs on.
		kill -TERM "$GDB_PID"
		wait "$GDB_PID" || true
		running "$SM_PID" || fail "streammgr died as gdb left: $(tail -n 5 "$out")"
		cli status beta --json >/dev/null || fail "status after gdb left"
	else
		echo "# gdb cannot attach to streammgr: $(tail -n 2 "$out")"
	fi
	stop_daemon streammgr
fi

#!/bin/bash
# A requeued dead letter of a subscription under durability "fsync": the
# other members' settled-list entries (they never take its number) are
# synced before the journal's fdatasync that makes the letter durable,
# so that no power cut keeps the letter and loses them, which would hand
# it to every member at the restart. A power cut cannot be made here:
# strace records streammgr's fdatasync calls during the requeue, and
# default's settled.log must be synced, before the segment. Before, the
# entries were written and not synced (a kill could not lose them,
# t_fanout_requeue_kill; a power cut could).
. "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || { echo "SKIP: strace is not installed"; exit 77; }

platform
slow_dead_letter

out=$T/out/strace
strace -f -p "$SM_PID" -e trace=fdatasync -y -o "$out" 2>"$out.err" &
strace_pid=$!
STARTED_PIDS+=("$strace_pid")
# (With -f, strace says "attached with N threads" once it holds them all.)
attached() { grep -q "Process $SM_PID attached" "$out.err"; }
# wait_for fails the test at its deadline: an strace that gave up (not
# allowed to attach here) ends the wait, and the test is skipped.
attached_or_gone() { attached || gone "$strace_pid"; }
wait_for 20 "strace attached" attached_or_gone
attached || { echo "SKIP: strace cannot attach: $(cat "$out.err")"; exit 77; }
cli dead-letters alpha --stream default.slow --requeue --id "$DL_ID" \
	>"$T/out/rq" 2>&1 || fail "requeue: $(cat "$T/out/rq")"
kill "$strace_pid"
wait "$strace_pid" 2>/dev/null || true
sed 's/^/# /' "$out"
q=$VAR/queue/alpha/default
list=$(grep -n "fdatasync([0-9]*<$q/settled.log>" "$out" | head -n 1 | cut -d: -f1)
seg=$(grep -n "fdatasync([0-9]*<$q/seg-[0-9a-f]*\.log>" "$out" | head -n 1 | cut -d: -f1)
[ -n "$seg" ] || fail "no fdatasync of default's segment during the requeue"
[ -n "$list" ] || fail "default's settled.log not synced during the requeue"
[ "$list" -lt "$seg" ] || fail "default's settled.log synced after the segment"
ok "the requeue's entries are synced before the letter's record"
assert_eq 1 "$(substat default.slow .backlog)" "default.slow holds its letter again"
assert_eq 1 "$(substat default .backlog)" "default holds k1 only"

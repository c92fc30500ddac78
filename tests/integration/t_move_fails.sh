#!/usr/bin/env bash
# A job's record is written, then the move of its file out of
# processing/ fails (here done/ is another file system: EXDEV; in life,
# no inode left for done/<dataset>). The job is held and only the move
# is tried again, with backoff, until it succeeds: one record, the file
# in done/ at last. Before, the job was freed as if all went well: the
# file stayed in processing/, its name blocked for new uploads until a
# restart, which ran it again (a second ok record). The same for a
# rejection from incoming/, which every scan recorded again. Root only
# (mounts).
. "$(dirname "$0")/lib.sh"

platform
simple_tenant acme '"exit-with", "0"'
start_daemon batchmgr
done_dir=$VAR/staging/acme/done
mkdir -p "$done_dir"
if ! { [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=64k tmpfs "$done_dir" 2>/dev/null; }; then
	echo "SKIP: needs root to mount a tmpfs on done/"
	exit 77
fi
AT_EXIT+=("umount -l '$done_dir' 2>/dev/null")

from=$(wc -l <"$BM_LOG")
drop acme f.csv
wait_for 20 "the failed move logged" log_after "$BM_LOG" "$from" \
	"tenant acme: move f.csv from processing to done"
wait_for 20 "a second try of the move" eval \
	'[ "$(tail -n +$((from + 1)) "$BM_LOG" | grep -c "move f.csv from processing to done")" -ge 2 ]'
assert_eq 1 "$(count acme ok)" "one ok record"
assert_file "$VAR/staging/acme/processing/f.csv"

umount "$done_dir" || fail "umount done/"
wait_for 20 "f.csv in done/" test -e "$done_dir/f.csv"
assert_eq 0 "$(files_in acme processing)" "processing/ is empty"
assert_eq 1 "$(count acme ok)" "still one ok record: the move alone was tried again"
ok "a move that failed after the record is tried again, the record not"

# A rejection from incoming/: the file stays there, each scan (every
# second here) tries the move again, and records it once.
rej_dir=$VAR/staging/acme/rejected
mkdir -p "$rej_dir"
mount -t tmpfs -o size=64k tmpfs "$rej_dir" || fail "mount a tmpfs on rejected/"
AT_EXIT+=("umount -l '$rej_dir' 2>/dev/null")
from=$(wc -l <"$BM_LOG")
drop acme bad.txt
wait_for 20 "the move to rejected/ tried three times" eval \
	'[ "$(tail -n +$((from + 1)) "$BM_LOG" | grep -c "move bad.txt to rejected")" -ge 3 ]'
assert_eq 1 "$(count acme rejected)" "one rejected record"
# Another file of that name in its place: a record of its own.
rm "$VAR/staging/acme/incoming/bad.txt"
drop acme bad.txt 'another'
wait_for 20 "the second bad.txt recorded" have_records 2 acme rejected
umount "$rej_dir" || fail "umount rejected/"
wait_for 20 "bad.txt in rejected/" test -e "$rej_dir/bad.txt"
assert_eq 2 "$(count acme rejected)" "a record for each of the two files"
assert_eq another "$(cat "$rej_dir/bad.txt")" "the second bad.txt moved"
ok "a rejection whose move failed is moved by a later scan, recorded once"
stop_daemon batchmgr
ok "batchmgr exits cleanly"

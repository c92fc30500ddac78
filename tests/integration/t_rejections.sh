#!/usr/bin/env bash
# Every rejection reason moves the file to rejected/ with a .reason beside
# it and writes a "rejected" record; nothing is deleted or altered.
. "$(dirname "$0")/lib.sh"

platform
tenant acme <<'CFG'
id = "acme";
batch = {
  formats = ["csv"];
  max_file_size = "4K";
  partial_grace = "1s";
  quota = { window = "1h"; max_files = 5; max_bytes = "5K"; };
  apps = (
    { name = "main"; app = ["exit-with", "0"]; },
    { name = "sales"; app = ["exit-with", "0"]; datasets = ["sales"]; }
  );
};
CFG
# A file waiting for its namesake to finish is charged to the quota once,
# when it runs, not at every look while it waits.
tenant defer <<'CFG'
id = "defer";
batch = {
  formats = ["csv"];
  quota = { window = "1h"; max_files = 3; };
  apps = ( { app = ["sleepy", "4"]; } );
};
CFG
start_daemon batchmgr
in=$VAR/staging/acme/incoming
rej=$VAR/staging/acme/rejected

# expect_rejected NAME CODE: NAME ends in rejected/ with a reason starting
# with CODE, and a rejected record saying the same.
expect_rejected() {
	local name=$1 code=$2
	wait_for 10 "$name in rejected/" test -e "$rej/$name.reason"
	# The reason is written before the move: the file's move awaited.
	wait_no_file "$in/$name"
	grep -q "^$code: " "$rej/$name.reason" || fail "$name: reason '$(cat "$rej/$name.reason")' is not $code"
	local r
	r=$(records ".status == \"rejected\" and .file == \"${name##*/}\"")
	[ -n "$r" ] || fail "$name: no rejected record"
	jq -e --arg c "$code: " '.reason | startswith($c)' <<<"$r" >/dev/null ||
		fail "$name: record reason $(jq .reason <<<"$r")"
	ok "$name rejected as $code"
}

drop acme notes.txt "hello"
expect_rejected notes.txt format
assert_eq hello "$(cat "$rej/notes.txt")" "rejected file kept intact"

drop acme noext "x"
expect_rejected noext format

head -c 5000 /dev/zero | tr '\0' a >"$T/scratch/big"
mv "$T/scratch/big" "$in/big.csv"
expect_rejected big.csv too-large
assert_eq 5000 "$(stat -c %s "$rej/big.csv")" "oversized file kept whole"

echo secret >"$T/out/target"
ln -s "$T/out/target" "$in/link.csv"
expect_rejected link.csv symlink
[ -L "$rej/link.csv" ] || fail "the symlink itself was moved"
assert_eq secret "$(cat "$T/out/target")" "symlink target untouched"

echo data >"$T/out/original.csv"
ln "$T/out/original.csv" "$in/hard.csv"
expect_rejected hard.csv hard-link
assert_file "$T/out/original.csv"

mkfifo "$in/pipe.csv"
expect_rejected pipe.csv not-regular
[ -p "$rej/pipe.csv" ] || fail "fifo moved as is"

# A hidden or partial name is left alone while it may still be delivered,
# and rejected once it has been unchanged for partial_grace.
echo "half" >"$in/upload.csv.part"
echo "hidden" >"$in/.rsync-tmp.csv"
wait_for 10 "partial upload rejected" test -e "$rej/upload.csv.part.reason"
expect_rejected upload.csv.part partial
expect_rejected .rsync-tmp.csv partial

drop acme mystery/x.csv
expect_rejected mystery/x.csv unknown-dataset

# A tenant's own file named like a reason is never replaced: the reason
# of the file it is named after goes beside it as NAME.reason.1.
drop acme clash.reason "the tenant's own words"
expect_rejected clash.reason format
drop acme clash "x"
wait_for 10 "clash's reason" test -e "$rej/clash.reason.1"
assert_eq "the tenant's own words" "$(cat "$rej/clash.reason")" \
	"the tenant's clash.reason kept intact"
grep -q "^format: " "$rej/clash.reason.1" || fail "clash's reason: $(cat "$rej/clash.reason.1")"
ok "a reason never replaces a tenant's file: clash's went to clash.reason.1"

# Quota: 5 files and 5K per hour; files rejected for other reasons do not
# count. 4000 bytes pass, 1200 more would pass max_bytes; then four small
# files fill max_files and the fifth is refused.
head -c 4000 /dev/zero | tr '\0' b >"$T/scratch/q1"
mv "$T/scratch/q1" "$in/q1.csv"
wait_for 10 "q1 ok" have_records 1 acme ok
head -c 1200 /dev/zero | tr '\0' b >"$T/scratch/q2"
mv "$T/scratch/q2" "$in/q2.csv"
expect_rejected q2.csv quota-bytes
for i in 3 4 5 6 7; do drop acme "small$i.csv" x; done
wait_for 10 "quota-files rejection" test -e "$rej/small7.csv.reason"
expect_rejected small7.csv quota-files
# small3..6, claimed before small7 was refused, may still be running.
wait_for 20 "small3..6 ok" have_records 5 acme ok
assert_eq 5 "$(count acme ok)" "files within quota ran"

# Nothing was deleted: every dropped file is somewhere in staging/.
assert_eq 0 "$(files_in acme incoming)" "incoming/ drained"
total=$(find "$VAR/staging/acme" \( -type f -o -type l -o -type p \) \
	\( ! -name '*.reason' -o -name clash.reason \) ! -name clash.reason.1 | wc -l)
assert_eq 18 "$total" "all 18 dropped files accounted for"

din=$VAR/staging/defer/incoming
drop defer same.csv "a"
wait_for 10 "the first same.csv running" test -e "$VAR/staging/defer/processing/same.csv"
drop defer same.csv "b"
wait_for 30 "both same.csv done" eval '[ "$(count defer ok)" = 2 ]'
drop defer other.csv "c"
wait_for 30 "other.csv done" eval '[ "$(count defer ok)" = 3 ]'
assert_eq 0 "$(count defer rejected)" "defer's rejections (3 files, max_files 3)"
ok "a file deferred behind its namesake is charged to the quota once"
stop_daemon batchmgr

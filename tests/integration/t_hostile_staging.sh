#!/usr/bin/env bash
# The odd staging entries of tests/hostile/staging/entries.tsv, made at
# test time by make-entries.sh (names with newlines, control and
# non-UTF-8 bytes, 255-byte names, a 4 TB sparse file, a file still being
# written, symlinks, a fifo, a socket, a device, hard links, an unreadable
# file, a tree deeper than PATH_MAX, mtimes in 2099): each gets the
# answer the table documents (docs/hostile-input.md), batchmgr stays up,
# answers status and exits cleanly (under ASan: without a leak).
. "$(dirname "$0")/lib.sh"
CORPUS=$MYSIMBDP_SRC/tests/hostile/staging
. "$CORPUS/make-entries.sh"

platform
tenant t <<'CFG'
id = "t";
batch = {
  formats = ["csv"];
  max_file_size = "1M";
  partial_grace = "1s";
  max_concurrent = 4;
  apps = (
    { app = ["exit-with", "0"]; },
    { name = "sales"; app = ["exit-with", "0"]; datasets = ["sales"]; },
    { name = "held"; app = ["sleepy", "60"]; datasets = ["held"];
      stop_timeout = "1s"; }
  );
};
CFG
start_daemon batchmgr
in=$VAR/staging/t/incoming
st=$VAR/staging/t

# The file still being written stays in incoming/ through scans (every
# second) and the close events of the writer's children (its sleeps)
# until the writer itself closes it, then runs whole.
export WRITER_SECONDS=3
keys=() answers=() names=()
while IFS=$'\t' read -r key answer name; do
	case $key in '#'*|'') continue ;; esac
	if [ "$(id -u)" -ne 0 ] && [[ $key == char-device || $key == unreadable ]]; then
		echo "# skipping $key: needs root"
		continue
	fi
	name=$(printf '%b' "$name")
	make_entry "$key" "$in/$name" "$T/scratch" || fail "cannot make $key"
	keys+=("$key") answers+=("$answer") names+=("$name")
done <"$CORPUS/entries.tsv"
ok "${#keys[@]} entries made"

until [ -e "$T/scratch/writer-closing" ]; do
	[ -e "$in/slow.csv" ] || fail "slow.csv was claimed while still being written"
	# (The writer makes writer-closing, then exits: looked at once it
	# is gone, it tells a writer that ended there from one that died.)
	running "$WRITER_PID" || [ -e "$T/scratch/writer-closing" ] ||
		fail "slow.csv's writer ended before it closed the file"
	sleep 0.05
done
ok "a file still being written is left alone"
wait "$WRITER_PID"
# make-entries.sh's writer: "id,value\n" ten times a second.
written=$(( WRITER_SECONDS * 10 * 9 ))

n_ok=0 n_rej=0
in_rejected() { [ -e "$st/rejected/$1" ] || [ -L "$st/rejected/$1" ]; }
for i in "${!keys[@]}"; do
	key=${keys[$i]} name=${names[$i]}
	set -- ${answers[$i]}
	case $1 in
	ok)
		wait_for 20 "$key in done/" test -e "$st/done/$name"
		n_ok=$(( n_ok + 1 ))
		;;
	rejected)
		wait_for 20 "$key's reason" test -e "$st/rejected/$name.reason"
		grep -q "^$2: " "$st/rejected/$name.reason" ||
			fail "$key: reason $(cat "$st/rejected/$name.reason"), not $2"
		# The reason is written before the move.
		wait_for 20 "$key in rejected/" in_rejected "$name"
		n_rej=$(( n_rej + 1 ))
		;;
	rejected-noreason)
		wait_for 20 "$key in rejected/" test -e "$st/rejected/$name"
		# The tenant's file under its own name, with its own bytes;
		# nothing under a cut name (the reason once took the file's
		# name, or name.reas; the file then went to <244 bytes>.1).
		assert_eq "$(printf 'id,value\n1,x')" "$(cat "$st/rejected/$name")" \
			"$key: rejected/ holds the tenant's file under its name"
		assert_eq 1 "$(ls -A "$st/rejected" | grep -c "^${name:0:200}")" \
			"$key: and nothing else under its name or a cut one"
		grep -qF -- "rejected $name: no reason file" "$BM_LOG" ||
			fail "$key: no log line for the missing reason file"
		[ "$(records ".status == \"rejected\" and (.file | length) == ${#name}" |
			jq -r .reason)" = "$(records ".status == \"rejected\" and (.file | length) == ${#name}" |
			jq -r .reason | grep "^$2: ")" ] || fail "$key: the record's reason is not $2"
		n_rej=$(( n_rej + 1 ))
		;;
	left) ;;
	*) fail "$key: unknown answer ${answers[$i]}" ;;
	esac
	ok "$key: ${answers[$i]}"
done
assert_eq "$written" "$(stat -c %s "$st/done/slow.csv")" "the written file ran whole"
assert_eq "$written" "$(records '.file == "slow.csv"' | jq .bytes)" "and its record counts every byte"
assert_eq "$n_ok" "$(count t ok)" "one ok record per file run"
assert_eq "$n_rej" "$(count t rejected)" "one rejected record per rejection"
# What is left is left for good: still there after another full scan.
from=$(wc -l <"$BM_LOG")
wait_for 10 "another scan" bm_log_after "$from" 'ignoring nested folder deep/d'
for i in "${!keys[@]}"; do
	[ "${answers[$i]}" = left ] || continue
	[ -e "$in/${names[$i]}" ] || fail "${keys[$i]} moved"
done
[ -e "$in/deep/d/d/d" ] || fail "the deep tree was touched"
ok "folders below a dataset folder stay where they are"
assert_eq 0 "$(find "$in" -maxdepth 1 ! -type d | wc -l)" "no file left in incoming/"

cli status t >/dev/null 2>&1 || fail "batchmgr does not answer status"
ok "batchmgr answers status"
# While a file whose name is not UTF-8 runs, status shows it as its
# record will (batchmgr used to exit: its reply could not be JSON).
drop t $'held/bad\xff\xfe.csv'
held() { cli status --json t 2>/dev/null | jq -r '.tenants[0].batch.jobs[0].file'; }
held_running() { [ "$(held)" = 'bad\xFF\xFE.csv' ]; }
wait_for 20 "the held file in status" held_running
kill -0 "$BM_PID" || fail "batchmgr exited"
ok "status shows a running file named in bytes that are not UTF-8"

# A long name that is taken where its file goes cannot get a ".N" (cut,
# it was another name: retry gave it back without its extension). The
# file waits under its name: in incoming/ when rejected/ holds the name,
# in processing/ (its record held) when done/ does.
long_bad=$(printf 'n%.0s' $(seq 251)).txt long_ok=$(printf 'n%.0s' $(seq 251)).csv
from=$(wc -l <"$BM_LOG")
drop t "$long_bad" second-bad
drop t "$long_ok" second-ok
wait_for 20 "the long rejected name waits" bm_log_after "$from" \
	"rejected/$long_bad is taken and the name is too long"
wait_for 20 "the long done name waits" bm_log_after "$from" \
	"done/$long_ok is taken and the name is too long"
assert_eq second-bad "$(cat "$in/$long_bad")" "the second rejected file waits in incoming/ as it is"
assert_eq second-ok "$(cat "$st/processing/$long_ok")" "the second run file waits in processing/ as it is"
assert_eq 1 "$(ls -A "$st/rejected" | grep -c "^${long_bad:0:200}")" "rejected/ holds one of that name"
assert_eq 1 "$(ls -A "$st/done" | grep -c "^${long_ok:0:200}")" "done/ holds one of that name"
assert_eq "$n_ok" "$(count t ok)" "no record for the file held"
assert_eq "$n_rej" "$(count t rejected)" "no record for the file waiting"
stop_daemon batchmgr
ok "batchmgr exits cleanly"
rm -f -- "$in/$long_bad" "$st/processing/$long_ok"

# A batchmgr that is not root cannot open a mode-000 file: rejected, not
# left to be warned about at every scan. As root, run one as a user of
# its own (setpriv execs it, so its pid is the daemon's), on a state
# folder of its own.
from=$(wc -l <"$BM_LOG")
if [ "$(id -u)" -eq 0 ]; then
	test_users mysbt-a
	chmod 711 "$T"
	VAR=$T/uvar
	sed "s|^state_dir = .*|state_dir = \"$VAR\";|" "$T/conf/mysimbdp.cfg" >"$T/conf/user.cfg"
	mkdir -p "$VAR"
	chown -R mysbt-a "$T/conf" "$VAR"
	setpriv --reuid mysbt-a --regid "$(id -g mysbt-a)" --clear-groups -- \
		"$BATCHMGR" -d -v -c "$T/conf/user.cfg" >>"$BM_LOG" 2>&1 &
	BM_PID=$!
	STARTED_PIDS+=("$BM_PID")
	wait_for 20 "batchmgr as mysbt-a" bm_log_after "$from" 'batchmgr: started'
else
	start_daemon batchmgr
fi
printf 'id,value\n' >"$T/scratch/locked"
chmod 000 "$T/scratch/locked"
[ "$(id -u)" -ne 0 ] || chown mysbt-a "$T/scratch/locked"
mv "$T/scratch/locked" "$VAR/staging/t/incoming/locked.csv"
wait_for 20 "locked.csv rejected" test -e "$VAR/staging/t/rejected/locked.csv.reason"
grep -q "^unreadable: " "$VAR/staging/t/rejected/locked.csv.reason" ||
	fail "reason: $(cat "$VAR/staging/t/rejected/locked.csv.reason")"
ok "a file the daemon may not read is rejected as unreadable"
stop_daemon batchmgr

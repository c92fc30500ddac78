#!/usr/bin/env bash
# A tenant swaps its new dataset folder for a symlink to another tenant's
# while batchmgr adds the folder's inotify watch (gdb stops batchmgr in
# inotify_add_watch for that path). The link must not be followed: no
# watch for it (logged), and the other tenant's watch stays its own, so
# its next file is taken at once, not at the rescan an hour later.
# Skipped without gdb (or when the system does not let it attach).
. "$(dirname "$0")/lib.sh"

command -v gdb >/dev/null || { echo "SKIP: gdb is not installed"; exit 77; }

# Only inotify can find a file within the test's deadlines.
platform scan_interval='"1h"'
for id in alpha beta; do
	tenant "$id" <<-CFG
	id = "$id";
	batch = {
	  formats = ["csv"];
	  apps = ( { app = ["exit-with", "0"]; timeout = "20s"; retries = 0; },
	           { name = "sales"; app = ["exit-with", "0"];
	             datasets = ["sales"]; timeout = "20s"; retries = 0; } );
	};
	CFG
done
mkdir -p "$VAR/staging/beta/incoming/sales"
start_daemon batchmgr

# has_record TENANT DATASET FILE STATUS: at least one such record.
has_record() {
	[ "$(records ".tenant == \"$1\" and .dataset == \"$2\" and .file == \"$3\" and .status == \"$4\"" | wc -l)" -ge 1 ]
}

drop beta sales/before.csv
wait_for 60 "beta's sales/before.csv taken through inotify" \
	has_record beta sales before.csv ok
ok "beta's sales folder is watched"

# Stopped where the watch of alpha's new incoming/sales is added, the
# folder becomes a symlink to beta's; then batchmgr goes on. (libc has
# no debug information: the path is the second argument, in $rsi.)
out=$T/out/gdb.watch
a=$VAR/staging/alpha/incoming/sales
gdb_start "$BM_PID" "$out" \
	"break inotify_add_watch if \$_regex((char *)\$rsi, \".*/staging/alpha/incoming/sales/?\$\")" \
	continue "shell rmdir $a && ln -s $VAR/staging/beta/incoming/sales $a" detach
wait_for_gdb "$out" "$GDB_PID" || {
	echo "SKIP: gdb cannot attach to batchmgr: $(tail -n 3 "$out")"
	exit 77
}
from=$(wc -l <"$BM_LOG")
mkdir "$a"
gdb_wait "$out"
grep -q 'hit Breakpoint 1,' "$out" || fail "gdb saw no inotify_add_watch: $(cat "$out")"
ok "alpha's sales swapped for a symlink to beta's while its watch was added"

wait_for 60 "alpha's symlink rejected" has_record alpha "" sales rejected
wait_file "$VAR/staging/alpha/rejected/sales.reason"
grep -q '^symlink' "$VAR/staging/alpha/rejected/sales.reason" ||
	fail "sales.reason: $(cat "$VAR/staging/alpha/rejected/sales.reason")"
ok "alpha's symlink rejected as a symlink, the link itself moved"

drop beta sales/after.csv
wait_for 60 "beta's sales/after.csv taken through inotify" \
	has_record beta sales after.csv ok
wait_file "$VAR/staging/beta/done/sales/after.csv"
ok "beta's sales folder is still watched as beta's"
wait_for 60 "batchmgr to say it does not watch alpha's symlink" bm_log_after \
	"$from" "tenant alpha: inotify_add_watch .*/alpha/incoming/sales: Not a directory"
ok "the symlink is not watched (logged)"
assert_eq 0 "$(records '.tenant == "alpha" and .dataset == "sales"' | wc -l)" \
	"no record of alpha's for the files of beta's folder"
assert_eq 0 "$(find "$VAR/staging/alpha" -type f ! -path '*/rejected/*' | wc -l)" \
	"nothing in alpha's areas but the rejected link"
stop_daemon batchmgr

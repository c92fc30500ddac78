#!/usr/bin/env bash
# batchmgr's inotify watches are shared by every tenant (the daemon
# user's fs.inotify.max_user_watches): a tenant's folders in incoming/
# that no app of its serves get none, so that making thousands of them
# cannot leave other tenants' new dataset folders unwatched. Their files
# are still rejected `unknown-dataset`, by the periodic scan; a dataset
# folder an app serves is watched and its file taken.
. "$(dirname "$0")/lib.sh"

platform scan_interval='"500ms"'
dataset_tenant acme ds
start_daemon batchmgr
inc=$VAR/staging/acme/incoming
mkdir "$inc/ds"
for i in $(seq 1 50); do mkdir "$inc/other$i"; done
echo 'a,b' >"$inc/other7/x.csv"
wait_for 30 "other7/x.csv rejected" eval \
	"[ \"\$(records '.file == \"x.csv\" and .status == \"rejected\"' | wc -l)\" -ge 1 ]"
grep -q '^unknown-dataset' "$VAR/staging/acme/rejected/other7/x.csv.reason" ||
	fail "reason: $(cat "$VAR/staging/acme/rejected/other7/x.csv.reason")"
echo 'a,b' >"$inc/ds/y.csv"
wait_for 30 "ds/y.csv done" eval \
	"[ \"\$(records '.file == \"y.csv\" and .status == \"ok\"' | wc -l)\" -ge 1 ]"

# The watches batchmgr holds: incoming/ and incoming/ds/, none of the 50.
watches() {
	local fd
	for fd in /proc/"$BM_PID"/fd/*; do
		[ "$(readlink "$fd")" = 'anon_inode:inotify' ] || continue
		grep -c '^inotify wd:' /proc/"$BM_PID"/fdinfo/"${fd##*/}"
	done
}
assert_eq 2 "$(watches)" "inotify watches"
ok "50 folders no app serves: no watch, their file rejected unknown-dataset; ds watched"
stop_daemon batchmgr

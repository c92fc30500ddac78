#!/usr/bin/env bash
# Entries a tenant drops to jam batchmgr's rejections (docs/hostile-input.md,
# "Staging entries"): a fifo named like the reason file of a file it
# drops next, which batchmgr must not wait on (it did, in the open of the
# fifo: no tenant was served again and SIGTERM went unheard), while
# another tenant's file runs; and a file named like a dataset, rejected,
# so in the way of that dataset's folder in rejected/ (each of the
# dataset's rejections failed to move, and was recorded again at every
# scan).
. "$(dirname "$0")/lib.sh"

platform
simple_tenant t '"exit-with", "0"'
simple_tenant u '"exit-with", "0"'
start_daemon batchmgr
in=$VAR/staging/t/incoming
rej=$VAR/staging/t/rejected

mkfifo "$in/data.txt.reason"
wait_for 20 "the fifo rejected" have_records 1 t rejected
[ -p "$rej/data.txt.reason" ] || fail "the fifo is not in rejected/ as it was"
drop t data.txt
wait_for 20 "data.txt rejected" have_records 2 t rejected
[ -f "$rej/data.txt" ] || fail "data.txt is not in rejected/"
grep -q "^format: " "$rej/data.txt.reason.1" ||
	fail "data.txt's reason is not beside it: $(ls "$rej")"
ok "a fifo where the reason goes: the reason written beside it, not waited on"
drop u good.csv
wait_for 20 "u's file" have_records 1 u ok
ok "another tenant is served"

drop t sales "the file named like the dataset"
wait_for 20 "sales rejected" have_records 3 t rejected
[ -f "$rej/sales" ] || fail "sales is not in rejected/"
drop t sales/x.txt
wait_for 20 "x.txt in rejected/sales/" test -f "$rej/sales/x.txt"
[ ! -e "$in/sales/x.txt" ] || fail "x.txt is still in incoming/"
grep -q "the file named like the dataset" "$rej/sales.1" ||
	fail "the file in the way is not kept as sales.1: $(ls "$rej")"
assert_eq 1 "$(records '.tenant == "t" and .file == "x.txt"' | wc -l)" \
	"a file named like a dataset, in rejected/: moved aside (sales.1), the dataset's rejection recorded once"
stop_daemon batchmgr
ok "batchmgr exits cleanly"

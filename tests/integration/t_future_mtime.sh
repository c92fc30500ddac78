#!/usr/bin/env bash
# Files whose mtime is in the future, as `rsync -t` or `scp -p` from a
# client whose clock is ahead, or `touch -d`, leave them. A file is
# taken once unchanged for the settle, and that is counted from its
# ctime (its last write, rename or touch), not from an mtime a client
# sets: such a file was never taken nor rejected, and batchmgr rescanned
# every tenant each settle (every 250 ms here) until the clock reached
# it. Checked with upload_settle at its default (0) and at 1s, for a file
# announced by inotify and one found by the start-up scan, and for a
# partial name, which must still be rejected after partial_grace.
. "$(dirname "$0")/lib.sh"

platform
simple_tenant acme '"exit-with", "0"' 'partial_grace = "1s";'
simple_tenant slow '"exit-with", "0"' 'upload_settle = "1s";'

# future TENANT NAME: delivers NAME by a rename, with a 2099 mtime.
future() {
	printf 'id,value\n1,2\n' >"$T/scratch/f"
	touch -m -d '2099-01-01' "$T/scratch/f"
	mv "$T/scratch/f" "$VAR/staging/$1/incoming/$2"
}

has_record() {	# TENANT FILE STATUS
	[ "$(records ".tenant == \"$1\" and .file == \"$2\" and .status == \"$3\"" | wc -l)" -ge 1 ]
}

# In incoming/ before the start: the start-up scan finds them.
mkdir -p "$VAR/staging/acme/incoming" "$VAR/staging/slow/incoming"
future acme scanned.csv
future slow scanned.csv
start_daemon batchmgr
future acme closed.csv
future slow closed.csv
future acme .hidden.csv

for t in acme slow; do
	for f in scanned.csv closed.csv; do
		wait_for 30 "$t's $f (mtime 2099) taken" has_record "$t" "$f" ok
		wait_file "$VAR/staging/$t/done/$f"	# moved after its record
	done
	ok "$t: files with a 2099 mtime taken, found by a scan and by inotify"
done
wait_for 30 "acme's .hidden.csv (mtime 2099) rejected" \
	has_record acme .hidden.csv rejected
wait_file "$VAR/staging/acme/rejected/.hidden.csv"	# the reason is written by then
grep -q '^partial: ' "$VAR/staging/acme/rejected/.hidden.csv.reason" ||
	fail ".hidden.csv.reason: $(cat "$VAR/staging/acme/rejected/.hidden.csv.reason")"
ok "a hidden name with a 2099 mtime rejected after partial_grace"
stop_daemon batchmgr

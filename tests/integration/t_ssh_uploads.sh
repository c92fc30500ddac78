#!/bin/bash
# Uploads over SSH (docs/deployment.md, "Uploads over SSH"): an sshd of
# the test's own on loopback, configured with `mysimbdp sshd-config`'s
# Match block after `mysimbdp sshd-jail`; the tenant's user uploads with
# sftp, scp and rsync, chrooted into its staging folder, where the upload
# shell runs sftp-server and rsync and nothing else. An upload to a
# temporary name cut off is never ingested, its rename is; an upload
# written in place, cut off and resumed within the tenant's
# upload_settle, is ingested once, whole; an rsync cut off is never
# ingested, and its rerun is, once.
# Needs root (users, chroot), sshd and rsync; skipped, said so, without.
. "$(dirname "$0")/lib.sh"

ssh_prereqs
U=mysbt-up1
upload_user "$U"
ssh_top
VAR=$SSH_TOP/var
INGEST=$VAR/log/ingest.jsonl

platform
tenant acme <<EOF
id = "acme";
user = "$U";
batch = {
  formats = ["csv"];
  upload_settle = "$(scaled 4)s";
  apps = ( { app = ["$APPS/flaky", "0"]; timeout = "$(scaled 20)s"; } );
};
EOF
start_daemon batchmgr

cli sshd-config >"$T/blocks" || fail "sshd-config: $(cli sshd-config 2>&1 >/dev/null)"
grep -q "^Match User $U\$" "$T/blocks" || fail "no Match block: $(cat "$T/blocks")"
grep -q "ChrootDirectory $VAR/staging/acme\$" "$T/blocks" || fail "no chroot: $(cat "$T/blocks")"
grep -q "ForceCommand internal-sftp " "$T/blocks" || fail "not internal-sftp before sshd-jail: $(cat "$T/blocks")"
# The upload shell, sftp-server and rsync go into the staging folder,
# with the libraries they load; the block then runs the shell.
rc=0; cli sshd-jail nosuch >"$T/out/jail" 2>&1 || rc=$?
assert_eq 65 "$rc" "sshd-jail of an unknown tenant: $(cat "$T/out/jail")"
[ ! -e "$VAR/sshd-jail" ] || fail "sshd-jail of an unknown tenant wrote its stock copy"
rc=0; setpriv --reuid="$U" --regid="$U" --clear-groups "$CLI" -c "$T/conf/mysimbdp.cfg" \
	sshd-jail >"$T/out/jail" 2>&1 || rc=$?
assert_eq 77 "$rc" "sshd-jail not as root: $(cat "$T/out/jail")"
[ ! -e "$VAR/staging/acme/usr" ] || fail "a refused sshd-jail wrote into the staging folder"
# Never through a symlink: a folder on the way that is not root's own
# folder stops it, and nothing is written where the link points.
mkdir "$T/elsewhere"
ln -s "$T/elsewhere" "$VAR/staging/acme/lib64"
rc=0; cli sshd-jail >"$T/out/jail" 2>&1 || rc=$?
assert_eq 73 "$rc" "sshd-jail through a symlink: $(cat "$T/out/jail")"
grep -q "lib64: not a folder of root's" "$T/out/jail" || fail "no reason: $(cat "$T/out/jail")"
assert_eq "" "$(ls -A "$T/elsewhere")" "files written through the symlink"
rm "$VAR/staging/acme/lib64"
cli sshd-jail >"$T/out/jail" 2>&1 || fail "sshd-jail: $(cat "$T/out/jail")"
cli sshd-jail >"$T/out/jail" 2>&1 || fail "sshd-jail, again: $(cat "$T/out/jail")"
cli sshd-config >"$T/blocks" || fail "sshd-config: $(cli sshd-config 2>&1 >/dev/null)"
grep -q "ForceCommand /usr/libexec/mysimbdp/upload-shell\$" "$T/blocks" ||
	fail "not the upload shell after sshd-jail: $(cat "$T/blocks")"
# The user reads its authorized keys: not under $T (0700).
port=$(free_ports 1)
sshd_start "$SSH_TOP/ssh" "$U" 127.0.0.1 "$port" "$T/blocks"
ssh_opts=("${SSH_OPTS[@]}")
wait_for 20 "sshd listening" sftp "${ssh_opts[@]}" -b /dev/null "$U@127.0.0.1"
ok "sshd takes mysimbdp sshd-config's Match block"

# sftp_do COMMANDS: an sftp session of the tenant's user running them.
sftp_do() { sftp "${ssh_opts[@]}" -b - "$U@127.0.0.1" <<<"$1"; }

# Chrooted: it starts in incoming/, sees only its staging folder.
sftp_do $'pwd\nls /\ncd /..\nls' >"$T/out/ls" || fail "sftp ls: $(cat "$T/out/ls")"
grep -q "Remote working directory: /incoming" "$T/out/ls" || fail "not in incoming: $(cat "$T/out/ls")"
grep -q "/processing" "$T/out/ls" || fail "its staging folder not seen: $(cat "$T/out/ls")"
grep -Eq "(coredms|queue|/run|streammgr)" "$T/out/ls" && fail "sees outside its staging folder: $(cat "$T/out/ls")"
echo x >"$T/scratch/x.csv"
sftp_do "put $T/scratch/x.csv /processing/x.csv" >"$T/out/put" 2>&1 && fail "wrote into processing/"
rsh="ssh ${ssh_opts[*]/-P/-p}"
for cmd in id "rsync --server --daemon ." "scp -t ."; do
	rc=0; $rsh "$U@127.0.0.1" "$cmd" >"$T/out/shell" 2>&1 || rc=$?
	[ $rc -ne 0 ] || fail "$cmd ran: $(cat "$T/out/shell")"
	grep -q "^mysimbdp: " "$T/out/shell" || fail "$cmd not refused by the upload shell: $(cat "$T/out/shell")"
done
ok "chrooted into its staging folder, sftp and rsync only"

records_of() { [ -f "$INGEST" ] && jq -c --arg f "$1" 'select(.file == $f)' "$INGEST" || true; }
ingested() { [ "$(records_of "$1" | jq -r 'select(.status == "ok") | .bytes' | head -n 1)" = "$2" ]; }

# 1. A temporary name, then a rename: cut off, the .part is left alone.
big_csv "$T/scratch/a.csv" 400
sftp -l 400 "${ssh_opts[@]}" -b - "$U@127.0.0.1" <<<"put $T/scratch/a.csv a.csv.part" >/dev/null 2>&1 &
cut_off "$VAR/staging/acme/incoming/a.csv.part" $!
sleep_until=$(( $(now_ms) + $(scaled 6) * 1000 ))
# Nothing can announce a file that is never taken: the settle window,
# twice over, passes first.
while [ "$(now_ms)" -lt "$sleep_until" ]; do sleep 0.2; done
assert_file "$VAR/staging/acme/incoming/a.csv.part"
assert_eq "" "$(records_of a.csv.part)$(records_of a.csv)" "records of the cut-off upload"
sftp_do $'rm a.csv.part\nput '"$T/scratch/a.csv"$' a.csv.part\nrename a.csv.part a.csv' >/dev/null ||
	fail "the upload and rename"
wait_for 30 "a.csv ingested whole" ingested a.csv "$(stat -c %s "$T/scratch/a.csv")"
ok "an upload to a temporary name cut off is not ingested; after its rename it is, whole"

# 2. In place: cut off, resumed within upload_settle: ingested once, whole.
big_csv "$T/scratch/b.csv" 400
sftp -l 400 "${ssh_opts[@]}" -b - "$U@127.0.0.1" <<<"put $T/scratch/b.csv b.csv" >/dev/null 2>&1 &
cut_off "$VAR/staging/acme/incoming/b.csv" $!
partial=$(stat -c %s "$VAR/staging/acme/incoming/b.csv")
[ "$partial" -lt "$(stat -c %s "$T/scratch/b.csv")" ] || fail "the upload was not cut off"
sftp_do "reput $T/scratch/b.csv b.csv" >/dev/null || fail "reput"
wait_for 30 "b.csv ingested whole" ingested b.csv "$(stat -c %s "$T/scratch/b.csv")"
assert_eq 1 "$(records_of b.csv | wc -l)" "records of b.csv"
ok "an in-place upload cut off at $partial bytes and resumed is ingested once, whole"

# scp speaks sftp to the same block.
big_csv "$T/scratch/c.csv" 10
scp -q "${ssh_opts[@]}" "$T/scratch/c.csv" "$U@127.0.0.1:c.csv" || fail "scp"
wait_for 30 "c.csv ingested" ingested c.csv "$(stat -c %s "$T/scratch/c.csv")"
ok "scp uploads too"

# rsync writes into a hidden temporary name and renames it when done.
big_csv "$T/scratch/d.csv" 10
rsync -e "$rsh" "$T/scratch/d.csv" "$U@127.0.0.1:" >"$T/out/rsync" 2>&1 || fail "rsync: $(cat "$T/out/rsync")"
wait_for 30 "d.csv ingested" ingested d.csv "$(stat -c %s "$T/scratch/d.csv")"
ok "rsync uploads into incoming/"

# Cut off, rsync's receiver removes its temporary file: nothing is taken;
# run again, the file is ingested once, whole.
big_csv "$T/scratch/e.csv" 400
rsync --bwlimit=100 -e "$rsh" "$T/scratch/e.csv" "$U@127.0.0.1:" >/dev/null 2>&1 &
rpid=$!
wait_for 20 "the rsync under way" eval "compgen -G '$VAR/staging/acme/incoming/.e.csv.*' >/dev/null"
kill -KILL "$rpid"
wait "$rpid" 2>/dev/null || true
wait_for 20 "the cut-off rsync's temporary file gone" eval "! compgen -G '$VAR/staging/acme/incoming/.e.csv.*' >/dev/null"
sleep_until=$(( $(now_ms) + $(scaled 6) * 1000 ))
while [ "$(now_ms)" -lt "$sleep_until" ]; do sleep 0.2; done
assert_eq "" "$(records_of e.csv)" "records of the cut-off rsync"
rsync -e "$rsh" "$T/scratch/e.csv" "$U@127.0.0.1:" >"$T/out/rsync" 2>&1 || fail "rsync again: $(cat "$T/out/rsync")"
wait_for 30 "e.csv ingested whole" ingested e.csv "$(stat -c %s "$T/scratch/e.csv")"
assert_eq 1 "$(records_of e.csv | wc -l)" "records of e.csv"
ok "an rsync cut off is not ingested; run again, it is, once, whole"

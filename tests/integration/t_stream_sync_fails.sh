#!/bin/bash
# The disk fails a sync of the queue (durability fsync, the default)
# (docs/architecture.md, "Durability"):
# - over TCP a turn is synced on the loop; a failed sync with nothing
#   else awaiting one is refused like a failed write (THROTTLE
#   no-space, the file cut back) and streammgr runs on;
# - over ipc the sync runs on streammgr's thread while later turns are
#   written: streammgr stops with the reason in its log and answers no
#   OK for what the failed sync was to cover; what was OK'd before
#   survives, and after a restart the producer's unanswered messages
#   are accepted and every message is delivered.
#
# tests/apps/syncshim.c is preloaded into streammgr: while the cue file
# exists, fdatasync and fsync of files under the queue folder fail with
# EIO. Breaking streammgr's stop (on_synced in stream.c answering on)
# fails the "stopped" check.
. "$(dirname "$0")/lib.sh"

preloaded_daemon streammgr "$MYSIMBDP_BUILD/tests/integration/libsyncshim.so"
NODE=127.0.0.1:$(free_ports 1)
K=$T/keys
mkdir -p "$K"
for k in node beta; do
	cli keygen "$K/$k" >/dev/null || fail "keygen $k"
done
platform top.remote="{ listen = \"tcp://$NODE\"; server_key = \"$K/node\"; }"
stream_tenant alpha 'instances = { min = 0; max = 1; initial = 0; };'
tenant beta <<EOF
id = "beta";
streams = ( { app = ["$STREAMAPP"]; stop_timeout = "2s";
  instances = { min = 0; max = 1; initial = 0; }; } );
producer_keys = ["$(pubkey "$K/beta.pub")"];
EOF
mkdir -p "$VAR/queue"
SYNCSHIM_DIR=$(realpath "$VAR/queue")/
SYNCSHIM_CUE=$T/scratch/syncs-fail
export SYNCSHIM_DIR SYNCSHIM_CUE

start_daemon streammgr

# ---- over TCP: the sync on the loop, refused --------------------------------
remote_send() {
	cli send beta --node "$NODE" --key "$K/beta" --server-key "$K/node.pub" "$@"
}
seq 1 50 | sed 's/^/r/; s/$/ v-beta/' >"$T/scratch/remote"
: >"$SYNCSHIM_CUE"
rc=0
remote_send --file "$T/scratch/remote" --json >"$T/out/remote" 2>"$T/out/remote.err" || rc=$?
assert_eq 75 "$rc" "remote send exits 75: throttled"
assert_eq "0 50" "$(jq -r '"\(.accepted) \(.throttled)"' "$T/out/remote")" \
	"accepted and throttled while the sync fails"
jq -e '.reasons[] | select(.status == "THROTTLE" and
	(.reason | startswith("no-space: fdatasync ")))' "$T/out/remote" >/dev/null ||
	fail "no no-space reason: $(cat "$T/out/remote")"
running "$SM_PID" || fail "streammgr stopped on a refused sync"
rm "$SYNCSHIM_CUE"
remote_send --file "$T/scratch/remote" >"$T/out/remote2" 2>&1 ||
	fail "sent again: $(cat "$T/out/remote2")"
assert_eq 50 "$(cli status beta --json 2>/dev/null | jq -r '.streams[0].backlog')" \
	"beta's backlog: the 50 sent again"
ok "over TCP a failed sync is refused (THROTTLE no-space), streammgr runs on"

# ---- over ipc: the sync on the thread, streammgr stops ----------------------
send_keys alpha 1 100 >"$T/out/first" 2>&1 || fail "first 100: $(cat "$T/out/first")"
ok "100 accepted while the syncs succeed"

: >"$SYNCSHIM_CUE"
seq 101 200 | sed 's/^/k/; s/$/ v-alpha/' >"$T/scratch/second"
rc=0
cli send alpha --file "$T/scratch/second" --timeout 5s --json \
	>"$T/out/second" 2>"$T/out/second.err" || rc=$?
wait_for 30 "streammgr to stop after the failed sync" gone "$SM_PID"
smrc=0
wait "$SM_PID" || smrc=$?
SM_PID=
[ $smrc -ne 0 ] || fail "streammgr exited 0 after a failed sync"
grep -q 'fdatasync of the queue in .*: Input/output error: stopping' "$SM_LOG" ||
	fail "no reason in the log: $(tail -n 5 "$SM_LOG")"
ok "streammgr stopped (exit $smrc), the reason in its log"
assert_eq 75 "$rc" "send exits 75: no reply"
assert_eq 0 "$(jq .accepted "$T/out/second")" "OKs for what the failed sync was to cover"
ok "no OK for a message whose sync failed"

rm "$SYNCSHIM_CUE"
start_daemon streammgr
recovered=$(sstat alpha .recovered.messages)
[ "$recovered" -ge 100 ] || fail "restored $recovered messages, fewer than the 100 OK'd"
ok "restored $recovered messages, the 100 OK'd among them"
# The producer sends again what got no OK.
cli send alpha --file "$T/scratch/second" >"$T/out/again" 2>&1 ||
	fail "sent again: $(cat "$T/out/again")"
cli scale alpha 1 >/dev/null
wait_for 60 "200 distinct keys delivered" \
	eval '[ "$(store_docs alpha | jq -r ._id | sort -u | wc -l)" -ge 200 ]'
store_docs alpha | jq -r ._id | sort -u >"$T/out/keys"
seq 1 200 | sed 's/^/k/' | sort >"$T/out/want"
diff "$T/out/want" "$T/out/keys" >/dev/null ||
	fail "delivered keys differ: $(diff "$T/out/want" "$T/out/keys" | head)"
ok "every message delivered after the restart"
stop_daemon streammgr

#!/bin/bash
# Producers on other hosts (docs/protocols.md, "Producers on other
# hosts"), over loopback TCP with CURVE: keys made by `mysimbdp keygen`;
# a tenant's key sends into its streams and every OK'd message is stored;
# its key at another tenant's stream, an unknown key and a node with
# another server key are refused, counted and logged; keys rotate by
# reload; a key moves from a tenant that leaves (its stream stuck
# retiring) to another at once; streammgr killed with SIGKILL under a remote producer loses
# nothing it OK'd.
. "$(dirname "$0")/lib.sh"

# A port found free now, fixed so that a restarted streammgr keeps it.
port=$(free_ports 1)
NODE=127.0.0.1:$port
platform top.remote="{ listen = \"tcp://$NODE\"; server_key = \"$T/keys/node\"; }"
K=$T/keys
mkdir -p "$K"
for k in node acme acme2 globex initech stranger; do
	cli keygen "$K/$k" >"$K/$k.out" || fail "keygen $k"
done
pub() { pubkey "$K/$1.pub"; }
assert_eq "$(pub acme)" "$(cat "$K/acme.out")" "keygen prints the public key"
assert_eq 600 "$(stat -c %a "$K/acme")" "the secret key file is 0600"
assert_eq 644 "$(stat -c %a "$K/acme.pub")" "the public key file is 0644"
grep -q secret-key "$K/acme.pub" && fail "the .pub file holds the secret key"
rc=0; cli keygen "$K/acme" 2>"$T/out/err" || rc=$?
assert_eq 73 $rc "keygen over an existing key ($(cat "$T/out/err"))"
ok "keygen: a pair, 0600 and 0644, never overwritten"

# remote_tenant ID KEY...: a tenant with one stream and the keys' public
# halves as its producer_keys.
remote_tenant() {
	local id=$1 keys="" k
	shift
	for k in "$@"; do keys+="${keys:+, }\"$(pub "$k")\""; done
	tenant "$id" <<EOT
id = "$id";
streams = ( { app = ["$STREAMAPP"]; stop_timeout = "2s"; durability = "fsync"; } );
producer_keys = [$keys];
EOT
}
# Keys are Z85: full of characters that mean something to grep -E.
sm_log_fixed() { grep -qF -- "$1" "$SM_LOG"; }
remote_tenant acme acme
remote_tenant globex globex
cli check-config >/dev/null || fail "check-config: $(cli check-config 2>&1)"
# One key in two profiles: check-config names the file, line and setting.
remote_tenant globex globex acme
rc=0; cli check-config >/dev/null 2>"$T/out/check" || rc=$?
assert_eq 78 $rc "check-config with a key in two profiles"
grep -qF "globex.cfg:3: producer_keys: \"$(pub acme)\" is tenant acme's too" "$T/out/check" ||
	fail "the shared key not named: $(cat "$T/out/check")"
remote_tenant globex globex
ok "check-config refuses a producer key two tenants list"

# A secret key others may read: streammgr refuses to start, saying why.
chmod 640 "$K/node"
rc=0; "$STREAMMGR" -d -c "$T/conf/mysimbdp.cfg" >"$T/out/sm-bad" 2>&1 || rc=$?
assert_eq 78 $rc "streammgr with a readable server key"
grep -q "remote.server_key: .*others may read this secret key" "$T/out/sm-bad" ||
	fail "no reason given: $(cat "$T/out/sm-bad")"
chmod 600 "$K/node"
ok "a server key others may read is refused at start"

start_daemon streammgr
wait_for 20 "acme's instance" ready_is acme 1
wait_for 20 "globex's instance" ready_is globex 1

# rsend TENANT KEY [ARGS...]: mysimbdp send over TCP, the node pinned.
rsend() {
	local t=$1 key=$2
	shift 2
	cli send "$t" --node "$NODE" --key "$K/$key" --server-key "$K/node.pub" "$@"
}

seq 1 2000 | sed 's/^/r/; s/$/ v-acme/' >"$T/scratch/keys"
rsend acme acme --file "$T/scratch/keys" >"$T/out/send" 2>&1 ||
	fail "remote send: $(cat "$T/out/send")"
grep -q "accepted 2000" "$T/out/send" || fail "remote send: $(cat "$T/out/send")"
wait_for 30 "acme's acks" acked_at_least acme 2000
assert_eq 2000 "$(store_docs acme | jq -r ._id | sort -u | wc -l)" "every remote message stored once"
ok "2000 messages over TCP+CURVE, each OK'd and stored"

# acme's key at globex's stream: every message refused, none stored.
echo "x1 intruder" >"$T/scratch/one"
rc=0; rsend globex acme --file "$T/scratch/one" >"$T/out/send" 2>&1 || rc=$?
assert_eq 65 $rc "acme's key at globex ($(cat "$T/out/send"))"
grep -q "rejected 1: forbidden: this key is not one of tenant globex's producer_keys" "$T/out/send" ||
	fail "no reason: $(cat "$T/out/send")"
assert_eq 0 "$(store_docs globex | wc -l)" "globex's store after acme's attempt"
assert_eq 0 "$(sstat globex .accepted)" "globex accepted nothing"
sm_log_fixed "remote: key $(pub acme) may not send to tenant globex" ||
	fail "the refusal is not logged"
ok "a tenant's key cannot send into another tenant's stream"

rc=0; rsend acme acme --stream nosuch --file "$T/scratch/one" >"$T/out/send" 2>&1 || rc=$?
assert_eq 65 $rc "an unknown stream"
grep -q "unknown-stream: tenant acme has no stream nosuch" "$T/out/send" ||
	fail "unknown stream: $(cat "$T/out/send")"

rc=0; rsend acme stranger --file "$T/scratch/one" >"$T/out/send" 2>&1 || rc=$?
assert_eq 77 $rc "an unknown key ($(cat "$T/out/send"))"
grep -q "the node refused this producer's key" "$T/out/send" || fail "unknown key: $(cat "$T/out/send")"
sm_log_fixed "key $(pub stranger) is no tenant's producer key" || fail "unknown key not logged"

rc=0; cli send acme --node "$NODE" --key "$K/acme" --server-key "$K/globex.pub" \
	--timeout 3s --file "$T/scratch/one" >"$T/out/send" 2>&1 || rc=$?
[ $rc = 77 ] || [ $rc = 75 ] || fail "a node without the pinned key: exit $rc ($(cat "$T/out/send"))"
grep -q "sent 0" "$T/out/send" || fail "something went to the wrong node: $(cat "$T/out/send")"
remote() { cli status acme --json 2>/dev/null | jq -r ".streammgr.remote.$1"; }
assert_eq "tcp://$NODE" "$(remote listen)" "status: the listener"
[ "$(remote forbidden)" -ge 1 ] || fail "forbidden not counted"
[ "$(remote unknown_keys)" -ge 1 ] || fail "unknown keys not counted"
[ "$(remote unknown_streams)" -ge 1 ] || fail "unknown streams not counted"
cli status 2>/dev/null | grep -q "remote producers on tcp://$NODE: .* 1 unknown keys\\?, " ||
	fail "status: $(cli status 2>&1)"
ok "unknown keys and streams, and a wrong node, refused and counted"

# Hostile route frames from an admitted key: each refused (never OK'd),
# counted, and streammgr goes on serving.
before=$(remote unknown_streams)
long=$(printf 'a%.0s' $(seq 1 300))
for route in "acme" "" "../etc/x" "acme/default/x" "$long/default" "ACME/default"; do
	rc=0
	"$MYSIMBDP_BUILD/tests/integration/durproducer" -t "$(scaled 2)" -R "$route" -k "$K/acme" \
		-s "$K/node.pub" "tcp://$NODE" 1 >"$T/out/hostile" 2>&1 || rc=$?
	assert_eq 1 $rc "route \"${route:0:20}\": no OK ($(cat "$T/out/hostile"))"
done
kill -0 "$SM_PID" || fail "streammgr died"
[ "$(remote unknown_streams)" -ge $((before + 6)) ] || fail "malformed routes not counted"
ok "malformed route frames refused and counted; streammgr still serving"

# Rotation: a second key added by reload works; the first, removed, no longer.
remote_tenant acme acme2 acme
sm_reload
echo "n1 new-key" >"$T/scratch/new"
rsend acme acme2 --file "$T/scratch/new" >"$T/out/send" 2>&1 || fail "the new key: $(cat "$T/out/send")"
rsend acme acme --file "$T/scratch/new" >"$T/out/send" 2>&1 || fail "the old key, still listed: $(cat "$T/out/send")"
remote_tenant acme acme2
sm_reload
rc=0; rsend acme acme --file "$T/scratch/one" >"$T/out/send" 2>&1 || rc=$?
assert_eq 77 $rc "the removed key ($(cat "$T/out/send"))"
ok "keys rotate by reload: the new one in, the removed one out"

# A tenant leaves while its stream still holds a message its app never
# takes (retiring until the backlog drains: here, never); its key, given
# to acme by the same reload, sends into acme's stream at once.
tenant initech <<EOT
id = "initech";
streams = ( { app = ["/bin/sleep", "1000"]; stop_timeout = "1s"; durability = "memory"; } );
producer_keys = ["$(pub initech)"];
EOT
sm_reload
rc=0; rsend initech initech --file "$T/scratch/one" >"$T/out/send" 2>&1 || rc=$?
assert_eq 0 $rc "initech's message ($(cat "$T/out/send"))"
rm "$T/conf/tenants/initech.cfg"
remote_tenant acme acme2 initech
sm_reload
sm_log_has "tenant initech: stream default: profile removed; retiring" ||
	fail "initech's stream not retiring"
echo "m1 moved-key" >"$T/scratch/moved"
rc=0; rsend acme initech --file "$T/scratch/moved" >"$T/out/send" 2>&1 || rc=$?
assert_eq 0 $rc "the moved key at acme ($(cat "$T/out/send"))"
sm_log_fixed "tenant initech: stream default: retired" && fail "initech's stream is gone: the test proves nothing"
sm_log_fixed "listed by tenants" && fail "a retiring tenant still claims the key: $(grep -F "listed by tenants" "$SM_LOG")"
rc=0; rsend initech initech --file "$T/scratch/one" >"$T/out/send" 2>&1 || rc=$?
assert_eq 65 $rc "the key at the tenant that left ($(cat "$T/out/send"))"
ok "a key moved from a tenant that left works at once, its stream still retiring"

# SIGKILL under a remote producer: every OK'd key reaches the store.
N=3000
"$MYSIMBDP_BUILD/tests/integration/durproducer" -r 1500 -w 200 -t 100 \
	-R acme/default -k "$K/acme2" -s "$K/node.pub" -p d \
	"tcp://$NODE" "$N" >"$T/out/producer" 2>&1 &
producer=$!
STARTED_PIDS+=("$producer")
for round in 1 2 3; do
	sleep "0.$(( RANDOM % 9 + 2 ))"
	kill -KILL "$SM_PID"
	wait "$SM_PID" 2>/dev/null || true
	start_daemon streammgr
done
rc=0; wait "$producer" || rc=$?
assert_eq 0 $rc "the remote producer got an OK for every message ($(cat "$T/out/producer"))"
delivered() { [ "$(store_docs acme | jq -r 'select(._id | startswith("d")) | ._id' | sort -u | wc -l)" -ge "$N" ]; }
wait_for 60 "every OK'd message in the store" delivered
ok "3 SIGKILLs of streammgr under a remote producer: all $N keys stored"
stop_daemon streammgr

#!/bin/bash
# Several hosts on one machine (docs/deployment.md): network namespaces
# joined by veth pairs to a bridge in a namespace of their own, so that
# nothing touches the machine's own network. Three nodes split the
# tenants, a client host runs the producers, operators and uploads, a
# store host runs one FerretDB every node writes to. Checks: every
# message OK'd over TCP+CURVE is stored once; tenant A's key is refused
# at tenant B's node; a node's streammgr killed with SIGKILL mid-stream,
# its producer resumes after the restart with nothing OK'd lost;
# status --cluster with a node down; a tenant moved between nodes under
# load without loss; an sftp upload from the client host as the
# tenant's user, and an interrupted one that is not ingested.
# Needs root, iproute2, OpenSSH's server and a FerretDB (scripts/test
# builds it); skipped, said so, where network namespaces cannot be made.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodelib.sh"

ssh_prereqs
for p in ip nsenter; do
	command -v $p >/dev/null || { echo "SKIP: no $p (iproute2, util-linux)"; exit 77; }
done
if [ -z "${MYSIMBDP_TEST_MONGO_URL:-}" ]; then
	echo "SKIP: no FerretDB for the store host (scripts/test builds one when Go is there)"
	exit 77
fi
MONGOPREP=$MYSIMBDP_BUILD/tests/integration/mongoprep

# ---- the hosts -------------------------------------------------------------
sfx=$(printf '%04x' $((RANDOM)))
LAN=mysbt-lan-$sfx
if ! ip netns add "$LAN" 2>"$T/netns.err"; then
	echo "SKIP: network namespaces cannot be made here: $(cat "$T/netns.err")"
	exit 77
fi
AT_EXIT+=("ip netns del $LAN")
ip -n "$LAN" link add br0 type bridge
ip -n "$LAN" link set br0 up
declare -A NS=() IP=([n1]=10.77.0.1 [n2]=10.77.0.2 [n3]=10.77.0.3
	[client]=10.77.0.4 [db]=10.77.0.10)
for h in n1 n2 n3 client db; do
	NS[$h]=mysbt-$h-$sfx
	ip netns add "${NS[$h]}"
	AT_EXIT+=("ip netns del ${NS[$h]}")
	ip -n "$LAN" link add "v$h" type veth peer name eth0 netns "${NS[$h]}"
	ip -n "$LAN" link set "v$h" master br0 up
	ip -n "${NS[$h]}" addr add "${IP[$h]}/24" dev eth0
	ip -n "${NS[$h]}" link set eth0 up
	ip -n "${NS[$h]}" link set lo up
done
ok "five hosts: three nodes, a client and a store, on one bridge"

FDB=$T/ferretdb
mkdir -p "$FDB"
out=$(FERRETDB_ADDR=${IP[db]} in_ns db "$MYSIMBDP_SRC/scripts/ferretdb" start "$FDB") ||
	fail "FerretDB did not start on the store host: $(tail -n 5 "$FDB/log")"
STORE_URL=${out%% *}
in_ns client "$MONGOPREP" collections "$STORE_URL" acme >/dev/null ||
	fail "the client host does not reach the store at $STORE_URL"
ok "the store host: $out"

# ---- the nodes -------------------------------------------------------------
NODES=(n1 n2 n3)
declare -A ADDR=([n1]=${IP[n1]} [n2]=${IP[n2]} [n3]=${IP[n3]})
declare -A PORT=([n1]=7100 [n2]=7100 [n3]=7100)
declare -A OWNER=([acme]=n1 [globex]=n2 [initech]=n3)
U=mysbt-up2
upload_user "$U"
ssh_top
NODE_TOP=$SSH_TOP
keys n1 n2 n3 ops acme globex initech
write_cluster
for n in "${NODES[@]}"; do
	write_node $n
done
write_stream_tenant acme "user = \"$U\";" 'batch = { formats = ["csv"];' \
	"  apps = ( { app = [\"$APPS/flaky\", \"0\"]; timeout = \"$(scaled 20)s\"; } ); };"
write_stream_tenant globex
write_stream_tenant initech
for n in "${NODES[@]}"; do
	node_start $n streammgr
	node_start $n batchmgr
	wait_for 20 "$n serving its tenants" serves $n "$(owned $n | paste -sd' ' -)"
done
ok "each node serves its own tenants"

# stored TENANT PREFIX: the distinct keys with PREFIX in its store.
stored() {
	in_ns client "$MONGOPREP" dump "$STORE_URL" "$1" events 2>/dev/null |
		jq -r '._id' | grep "^$2" | sort -u
}
# produce TENANT N PREFIX [ARGS...]: a durproducer on the client host to
# the tenant's node, following it if it moves; its pid in PRODUCER.
produce() {
	local t=$1 n=$2 p=$3 node=${OWNER[$1]}
	shift 3
	ns_cmd client
	"${NS_CMD[@]}" "$MYSIMBDP_BUILD/tests/integration/durproducer" -p "$p" \
		-R "$t/default" -k "$K/$t" -s "$K/$node.pub" -c "$T/cluster.cfg" "$@" \
		"tcp://${ADDR[$node]}:${PORT[$node]}" "$n" >"$T/producer.$t.$p" 2>&1 &
	PRODUCER=$!
	STARTED_PIDS+=("$PRODUCER")
}
accepted_at_least() {
	[ "$(on "$1" status "$2" --json 2>/dev/null | jq -r '.streams[0].accepted // 0')" -ge "$3" ]
}

# ---- every OK'd message stored once, a node killed mid-stream ---------------
N=2000
declare -A PRODUCERS=()
for t in acme globex initech; do
	# globex slower: its node is killed while it still has much to send.
	rate=800
	[ $t = globex ] && rate=250
	produce $t $N a -r $rate -w 200 -t 120
	PRODUCERS[$t]=$PRODUCER
done
wait_for 30 "globex under way on n2" accepted_at_least n2 globex 300
kill -0 "${PRODUCERS[globex]}" || fail "globex's producer is done before the kill"
node_kill n2 streammgr
node_start n2 streammgr
for t in acme globex initech; do
	rc=0; wait "${PRODUCERS[$t]}" || rc=$?
	assert_eq 0 $rc "$t's producer: an OK for every message ($(cat "$T/producer.$t.a"))"
done
for t in acme globex initech; do
	wait_for 60 "$t's $N keys in the store" eval "[ \"\$(stored $t a | wc -l)\" = $N ]"
done
ok "3 x $N messages from the client host over TCP+CURVE, each stored once, n2 killed mid-stream"

# ---- A's key at B's node --------------------------------------------------
echo "x1 intruder" >"$T/one"
rc=0; in_ns client "$CLI" send globex --node "${ADDR[n2]}:7100" --key "$K/acme" \
	--server-key "$K/n2.pub" --file "$T/one" >"$T/send" 2>&1 || rc=$?
assert_eq 77 $rc "acme's key at globex's node ($(cat "$T/send"))"
assert_eq 0 "$(stored globex x | wc -l)" "nothing of it stored"
ok "a tenant's key is refused at another tenant's node"

# ---- status --cluster with a node down ----------------------------------------
node_kill n3 streammgr
node_kill n3 batchmgr
rc=0; op status --cluster --timeout "$(scaled 2)s" >"$T/table" 2>/dev/null || rc=$?
assert_eq 0 $rc "status --cluster with n3 down"
grep -q "^n3 .*(no answer" "$T/table" || fail "n3 not shown as down: $(cat "$T/table")"
grep -qE "^n1 +acme " "$T/table" || fail "n1's row: $(cat "$T/table")"
node_start n3 streammgr
node_start n3 batchmgr
ok "status --cluster from the client host shows n3 down, exit 0"

# ---- a tenant moved under load ------------------------------------------------
base=$(on n2 status globex --json | jq -r '.streams[0].accepted')
produce globex 3000 m -r 800 -w 200 -t 120
wait_for 30 "globex's load on n2" accepted_at_least n2 globex $((base + 500))
op move globex --to n3 >"$T/move" 2>&1 || fail "move: $(cat "$T/move")"
rc=0; wait "$PRODUCER" || rc=$?
assert_eq 0 $rc "globex's producer across the move ($(cat "$T/producer.globex.m"))"
wait_for 60 "globex's 3000 keys in the store" eval "[ \"\$(stored globex m | wc -l)\" = 3000 ]"
wait_for 20 "n3 serving globex" serves n3 "globex initech"
ok "globex moved from n2 to n3 under load: $(cat "$T/producer.globex.m"), all stored"

# ---- uploads from the client host ---------------------------------------------
on n1 sshd-config >"$T/blocks" || fail "sshd-config on n1"
ns_cmd n1
sshd_start "$SSH_TOP/ssh" "$U" "${ADDR[n1]}" 22 "$T/blocks" "${NS_CMD[@]}"
sftp_do() { in_ns client sftp "${SSH_OPTS[@]}" -b - "$U@${ADDR[n1]}" <<<"$1"; }
wait_for 20 "n1's sshd" eval 'sftp_do "pwd" >/dev/null 2>&1'
N1_INGEST=$NODE_TOP/n1/var/log/ingest.jsonl
incoming=$NODE_TOP/n1/var/staging/acme/incoming
ingested() { [ -f "$N1_INGEST" ] && [ "$(jq -r --arg f "$1" 'select(.file == $f and .status == "ok") | .bytes' "$N1_INGEST")" = "$2" ]; }
big_csv "$T/up.csv" 300
ns_cmd client
"${NS_CMD[@]}" sftp -l 400 "${SSH_OPTS[@]}" -b - "$U@${ADDR[n1]}" <<<"put $T/up.csv up.csv.part" >/dev/null 2>&1 &
cut_off "$incoming/up.csv.part" $!
sftp_do "put $T/up.csv whole.csv.part"$'\n'"rename whole.csv.part whole.csv" >/dev/null || fail "sftp upload"
wait_for 30 "whole.csv ingested" ingested whole.csv "$(stat -c %s "$T/up.csv")"
assert_file "$incoming/up.csv.part"
assert_eq "" "$(jq -r 'select(.file | startswith("up.csv"))' "$N1_INGEST")" "records of the cut-off upload"
ok "sftp from the client host: a whole upload ingested, a cut-off one left alone"

#!/bin/bash
# Several nodes sharing the tenants (docs/deployment.md), here three on
# loopback, each its own state folder and daemons, one cluster
# description, one store: each node serves only its own tenants;
# `status --cluster` shows every node's in one table, a node killed
# with SIGKILL as not answering (still exit 0); `send --cluster` finds
# a tenant's node; `move` takes a tenant from one node to another under
# a producer's load (which follows the "moved" answer) and every OK'd
# message is stored; a move to a node that does not answer is refused
# with nothing changed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nodelib.sh"

NODES=(n1 n2 n3)
base=$(free_ports 9)
declare -A ADDR=([n1]=127.0.0.1 [n2]=127.0.0.1 [n3]=127.0.0.1)
declare -A PORT=([n1]=$base [n2]=$((base + 3)) [n3]=$((base + 6)))
declare -A OWNER=([acme]=n1 [globex]=n2 [initech]=n3)
declare -A NS=()
STORE_URL=file://$T/coredms
keys n1 n2 n3 ops acme globex initech
write_cluster
for n in "${NODES[@]}"; do
	write_node $n
done
for t in acme globex initech; do
	write_stream_tenant $t
done
on n1 check-config >/dev/null || fail "check-config: $(on n1 check-config 2>&1)"
for n in "${NODES[@]}"; do
	node_start $n streammgr
	node_start $n batchmgr
done

for n in n1 n2 n3; do
	want=$(owned $n | paste -sd' ' -)
	wait_for 20 "$n serving $want" serves $n "$want"
done
ok "each node serves only the tenants the cluster file gives it"

op status --cluster --json >"$T/out.json" 2>"$T/err" || fail "status --cluster: $(cat "$T/err")"
for n in n1 n2 n3; do
	got=$(jq -r --arg n $n '.nodes[] | select(.node == $n) | "\(.answered) \([.tenants[].tenant] | join(","))"' "$T/out.json")
	want=$(owned $n)
	assert_eq "true $want" "$got" "status --cluster: node $n"
done
op status --cluster >"$T/table" 2>/dev/null || fail "status --cluster (table)"
assert_eq 3 "$(grep -cE '^n[123] +(acme|globex|initech) ' "$T/table")" "one row per tenant with its node ($(cat "$T/table"))"
ok "status --cluster: every node's tenants in one table"

for t in acme globex initech; do
	seq 1 100 | sed "s/^/c/; s/\$/ v-$t/" >"$T/keys.$t"
	"$CLI" -c "$T/no-such.cfg" --cluster-file "$T/cluster.cfg" send "$t" --cluster \
		--key "$K/$t" --file "$T/keys.$t" >"$T/send" 2>&1 || fail "send --cluster $t: $(cat "$T/send")"
	grep -q "accepted 100" "$T/send" || fail "send --cluster $t: $(cat "$T/send")"
done
stored() { [ -d "$T/coredms/$1/events" ] && "$BSONCOUNT" "$T/coredms/$1/events" | jq -r .doc._id | sort -u; }
for t in acme globex initech; do
	wait_for 30 "$t's 100 documents" eval "[ \"\$(stored $t | grep -c '^c')\" = 100 ]"
done
ok "send --cluster: each tenant's messages go to its node and are stored"

node_kill n3 streammgr
node_kill n3 batchmgr
rc=0; op status --cluster --timeout "$(scaled 2)s" >"$T/table" 2>"$T/err" || rc=$?
assert_eq 0 $rc "status --cluster with n3 down ($(cat "$T/err"))"
grep -q "^n3 .*(no answer: streammgr .*, batchmgr " "$T/table" || fail "n3 not shown as silent: $(cat "$T/table")"
grep -qE "^n1 +acme " "$T/table" || fail "n1 missing: $(cat "$T/table")"
op status --cluster --json --timeout "$(scaled 2)s" >"$T/out.json" 2>/dev/null
assert_eq false "$(jq -r '.nodes[] | select(.node == "n3") | .answered' "$T/out.json")" "n3: answered"
ok "status --cluster: a node killed with SIGKILL is shown as not answering, exit 0"

# A move to a node that does not answer: refused, nothing changed.
cp "$T/cluster.cfg" "$T/cluster.before"
rc=0; op move globex --to n3 >"$T/move" 2>&1 || rc=$?
[ $rc = 75 ] || [ $rc = 69 ] || fail "move to a silent node: exit $rc ($(cat "$T/move"))"
grep -q "nothing changed" "$T/move" || fail "move: $(cat "$T/move")"
cmp -s "$T/cluster.cfg" "$T/cluster.before" || fail "the cluster file changed"
assert_eq running "$(on n2 status globex --json 2>/dev/null | jq -r '.streams[0].state')" "globex on n2"
ok "a move to a node that does not answer is refused, nothing changed"
node_start n3 streammgr
node_start n3 batchmgr

# acme from n1 to n2 under a producer's load.
N=4000
"$MYSIMBDP_BUILD/tests/integration/durproducer" -r 800 -w 200 -t 120 -p m \
	-R acme/default -k "$K/acme" -s "$K/n1.pub" -c "$T/cluster.cfg" \
	"tcp://127.0.0.1:${PORT[n1]}" "$N" >"$T/producer" 2>&1 &
producer=$!
STARTED_PIDS+=("$producer")
accepted_on() { [ "$(on "$1" status acme --json 2>/dev/null | jq -r '.streams[0].accepted // 0')" -ge "$2" ]; }
base=$(on n1 status acme --json | jq -r '.streams[0].accepted')
wait_for 30 "n1 taking acme's load" accepted_on n1 $((base + 500))
op move acme --to n2 >"$T/move" 2>&1 || fail "move: $(cat "$T/move")"
grep -q "moved acme from n1 to n2" "$T/move" || fail "move: $(cat "$T/move")"
# (Z85 keys may hold braces: the tenants line is found by its name.)
grep -A4 'name = "n2"' "$T/cluster.cfg" | grep '^ *tenants = ' | grep -q '"acme"' ||
	fail "the cluster file does not give acme to n2: $(cat "$T/cluster.cfg")"
grep -A4 'name = "n1"' "$T/cluster.cfg" | grep '^ *tenants = ' | grep -q '"acme"' &&
	fail "the cluster file still gives acme to n1: $(cat "$T/cluster.cfg")"
rc=0; wait "$producer" || rc=$?
assert_eq 0 $rc "the producer got an OK for every message across the move ($(cat "$T/producer"))"
wait_for 60 "all $N keys stored" eval "[ \"\$(stored acme | grep -c '^m')\" = $N ]"
assert_eq "" "$(on n1 status --json 2>/dev/null | jq -r '[.streams[] | select(.tenant == "acme")] | length' | grep -v '^0$')" "n1 no longer serves acme"
op status --cluster --json >"$T/out.json" 2>/dev/null
assert_eq "globex,acme" "$(jq -r '.nodes[] | select(.node == "n2") | [.tenants[].tenant] | sort_by(. != "globex") | join(",")' "$T/out.json")" "status --cluster: acme on n2"
ok "acme moved from n1 to n2 under load: $(cat "$T/producer"), all stored"

# A tenant the cluster file gives to a node that has no profile for it:
# refused there, not "moved" to the node it is on (a loop).
OWNER[acme]=n2 OWNER[ghost]=n3
write_cluster
kill -HUP "${PID[n3.streammgr]}"
ghost_refused() {
	timeout 20 "$CLI" -c "$T/no-such.cfg" --cluster-file "$T/cluster.cfg" \
		send ghost --cluster --key "$K/initech" --file "$T/keys.acme" \
		>"$T/send" 2>&1
	grep -q "forbidden" "$T/send"
}
wait_for 30 "n3 to refuse ghost's message (see $T/send)" ghost_refused
grep -q "moved" "$T/send" && fail "ghost's message was moved: $(cat "$T/send")"
ok "a tenant given to a node without its profile is refused there: $(grep -m 1 forbidden "$T/send")"

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

K=$T/keys
mkdir -p "$K" "$T/tenants"
for k in n1 n2 n3 ops acme globex initech; do
	"$CLI" keygen "$K/$k" >/dev/null || fail "keygen $k"
done
base=$(free_ports 9)
declare -A PORT=([n1]=$base [n2]=$((base + 3)) [n3]=$((base + 6)))
declare -A OWNER=([acme]=n1 [globex]=n2 [initech]=n3)
# owned NODE: its tenants at the start, sorted, one per line.
owned() {
	local t
	for t in acme globex initech; do
		if [ "${OWNER[$t]}" = "$1" ]; then echo "$t"; fi
	done
}

entries=()
for n in n1 n2 n3; do
	list=$(owned $n | sed 's/.*/"&"/' | paste -sd, -)
	entries+=("  { name = \"$n\"; address = \"127.0.0.1:${PORT[$n]}\";
    server_key = \"$(pubkey "$K/$n.pub")\"; tenants = [$list]; }")
done
{
	echo "nodes = ("
	printf '%s' "${entries[0]}"
	printf ',\n%s' "${entries[@]:1}"
	printf '\n);\n'
} >"$T/cluster.cfg"

for n in n1 n2 n3; do
	mkdir -p "$T/$n"
	cat >"$T/$n/mysimbdp.cfg" <<EOF
state_dir = "$T/$n/var";
tenants_dir = "$T/tenants";
apps_dir = "$APPS";
mongo_url = "file://$T/coredms";
batch = { scan_interval = "1s"; settle = "200ms"; shutdown_grace = "2s"; app_nice = 0; };
stream = { stats_interval = "200ms"; shutdown_grace = "3s"; restart_backoff = "100ms";
  restart_backoff_max = "2s"; min_uptime = "500ms"; };
monitor = { http_port = 0; };
remote = { listen = "tcp://127.0.0.1:${PORT[$n]}"; server_key = "$K/$n";
  operator_keys = ["$(pubkey "$K/ops.pub")"]; };
cluster = { file = "$T/cluster.cfg"; node = "$n"; };
EOF
done
for t in "${!OWNER[@]}"; do
	cat >"$T/tenants/$t.cfg" <<EOF
id = "$t";
streams = ( { app = ["$STREAMAPP"]; stop_timeout = "2s"; durability = "fsync"; } );
producer_keys = ["$(pubkey "$K/$t.pub")"];
EOF
done
"$CLI" -c "$T/n1/mysimbdp.cfg" check-config >/dev/null ||
	fail "check-config: $("$CLI" -c "$T/n1/mysimbdp.cfg" check-config 2>&1)"

declare -A PID
# node_start NODE DAEMON: starts it on the node's platform file.
node_start() {
	local log=$T/$1/$2.log from
	from=$( [ -f "$log" ] && wc -l <"$log" || echo 0)
	"$MYSIMBDP_BUILD/manager/$2" -d -v -c "$T/$1/mysimbdp.cfg" >>"$log" 2>&1 &
	PID[$1.$2]=$!
	STARTED_PIDS+=("$!")
	wait_for 20 "$1's $2" log_after "$log" "$from" "$2: started"
}
node_kill() {
	kill -KILL "${PID[$1.$2]}"
	wait "${PID[$1.$2]}" 2>/dev/null || true
}
for n in n1 n2 n3; do
	node_start $n streammgr
	node_start $n batchmgr
done
# on NODE ARGS...: mysimbdp on that node's own host.
on() { local n=$1; shift; "$CLI" -c "$T/$n/mysimbdp.cfg" "$@"; }
# op ARGS...: mysimbdp as an operator with the cluster file.
op() { "$CLI" -c "$T/no-such.cfg" --cluster-file "$T/cluster.cfg" --key "$K/ops" "$@"; }

for n in n1 n2 n3; do
	want=$(owned $n)
	served() { [ "$(on "$1" status --json 2>/dev/null | jq -r '[.streams[].tenant] | join(" ")')" = "$2" ]; }
	wait_for 20 "$n serving $want" served $n "$want"
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
rc=0; op status --cluster --timeout 2s >"$T/table" 2>"$T/err" || rc=$?
assert_eq 0 $rc "status --cluster with n3 down ($(cat "$T/err"))"
grep -q "^n3 .*(no answer: streammgr .*, batchmgr " "$T/table" || fail "n3 not shown as silent: $(cat "$T/table")"
grep -qE "^n1 +acme " "$T/table" || fail "n1 missing: $(cat "$T/table")"
op status --cluster --json --timeout 2s >"$T/out.json" 2>/dev/null
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
wait_for 30 "n1 taking acme's load" accepted_on n1 500
op move acme --to n2 >"$T/move" 2>&1 || fail "move: $(cat "$T/move")"
grep -q "moved acme from n1 to n2" "$T/move" || fail "move: $(cat "$T/move")"
assert_eq n2 "$(sed -n '/name = "n2"/,/}/p' "$T/cluster.cfg" | grep -q '"acme"' && echo n2)" "the cluster file gives acme to n2"
rc=0; wait "$producer" || rc=$?
assert_eq 0 $rc "the producer got an OK for every message across the move ($(cat "$T/producer"))"
wait_for 60 "all $N keys stored" eval "[ \"\$(stored acme | grep -c '^m')\" = $N ]"
assert_eq "" "$(on n1 status --json 2>/dev/null | jq -r '[.streams[] | select(.tenant == "acme")] | length' | grep -v '^0$')" "n1 no longer serves acme"
op status --cluster --json >"$T/out.json" 2>/dev/null
assert_eq "globex,acme" "$(jq -r '.nodes[] | select(.node == "n2") | [.tenants[].tenant] | sort_by(. != "globex") | join(",")' "$T/out.json")" "status --cluster: acme on n2"
ok "acme moved from n1 to n2 under load: $(cat "$T/producer"), all stored"

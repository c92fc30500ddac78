# Several nodes of one cluster in one test (t_cluster.sh on loopback,
# t_netns.sh in network namespaces): their keys, the cluster description,
# each node's platform file and daemons. Sourced after lib.sh.
#
# The test sets, before calling these:
#   NODES       the node names, e.g. (n1 n2 n3)
#   ADDR[n]     the address others reach node n at (127.0.0.1 on loopback)
#   PORT[n]     its remote.listen port (PORT+1, +2: its control sockets)
#   OWNER[t]    the node serving tenant t at the start
#   NS[n]       its network namespace, or unset: none (also for "client",
#               the host producers and operators run on)
#   STORE_URL   every node's mongo_url
#   NODE_TOP    where the nodes' state folders go (default $T)

K=$T/keys
declare -A PID=()

# keys NAME...: a key pair each, $K/NAME and $K/NAME.pub.
keys() {
	mkdir -p "$K"
	local k
	for k in "$@"; do
		"$CLI" keygen "$K/$k" >/dev/null || fail "keygen $k"
	done
}

# owned NODE: the tenants OWNER gives it, sorted, one a line.
owned() {
	local t
	for t in $(printf '%s\n' "${!OWNER[@]}" | sort); do
		if [ "${OWNER[$t]}" = "$1" ]; then echo "$t"; fi
	done
}

# in_ns HOST CMD...: runs CMD in HOST's network namespace (if it has
# one), in the foreground (a background job's $! would be a subshell's:
# use ns_cmd for those).
in_ns() {
	ns_cmd "$1"
	shift
	"${NS_CMD[@]}" "$@"
}

# write_cluster: $T/cluster.cfg from NODES, ADDR, PORT and OWNER.
write_cluster() {
	local n list entries=()
	for n in "${NODES[@]}"; do
		list=$(owned "$n" | sed 's/.*/"&"/' | paste -sd, -)
		entries+=("  { name = \"$n\"; address = \"${ADDR[$n]}:${PORT[$n]}\";
    server_key = \"$(pubkey "$K/$n.pub")\"; tenants = [$list]; }")
	done
	{
		echo "nodes = ("
		printf '%s' "${entries[0]}"
		printf ',\n%s' "${entries[@]:1}"
		printf '\n);\n'
	} >"$T/cluster.cfg"
}

# write_node NODE: its platform file $T/NODE/mysimbdp.cfg (state in
# $NODE_TOP/NODE/var, the shared tenants folder $T/tenants, the operator
# key "ops").
write_node() {
	local n=$1
	mkdir -p "$T/$n" "$T/tenants"
	cat >"$T/$n/mysimbdp.cfg" <<EOF
state_dir = "${NODE_TOP:-$T}/$n/var";
tenants_dir = "$T/tenants";
apps_dir = "$APPS";
mongo_url = "$STORE_URL";
batch = { scan_interval = "1s"; settle = "200ms"; shutdown_grace = "2s"; app_nice = 0; };
stream = { stats_interval = "200ms"; shutdown_grace = "3s"; restart_backoff = "100ms";
  restart_backoff_max = "2s"; min_uptime = "500ms"; };
monitor = { http_port = 0; };
remote = { listen = "tcp://${ADDR[$n]}:${PORT[$n]}"; server_key = "$K/$n";
  operator_keys = ["$(pubkey "$K/ops.pub")"]; };
cluster = { file = "$T/cluster.cfg"; node = "$n"; };
EOF
}

# write_stream_tenant ID [EXTRA...]: a tenant with one fsync stream and
# its producer key $K/ID; EXTRA lines go at the top level of its profile.
write_stream_tenant() {
	local t=$1
	shift
	{
		echo "id = \"$t\";"
		echo "streams = ( { app = [\"$STREAMAPP\"]; stop_timeout = \"2s\"; durability = \"fsync\"; } );"
		echo "producer_keys = [\"$(pubkey "$K/$t.pub")\"];"
		printf '%s\n' "$@"
	} >"$T/tenants/$t.cfg"
}

# ns_cmd HOST: the words that run a command in HOST's namespace
# (nsenter execs it: the pid stays the command's), in NS_CMD.
ns_cmd() {
	NS_CMD=()
	if [ -n "${NS[$1]:-}" ]; then
		NS_CMD=(nsenter "--net=/run/netns/${NS[$1]}")
	fi
}

# node_start NODE DAEMON: starts it in the node's namespace on its
# platform file; returns once it logged that it started.
node_start() {
	local log=$T/$1/$2.log from
	from=$( [ -f "$log" ] && wc -l <"$log" || echo 0)
	ns_cmd "$1"
	"${NS_CMD[@]}" "$MYSIMBDP_BUILD/manager/$2" -d -v -c "$T/$1/mysimbdp.cfg" >>"$log" 2>&1 &
	PID[$1.$2]=$!
	STARTED_PIDS+=("$!")
	wait_for 20 "$1's $2" log_after "$log" "$from" "$2: started"
}

# node_kill NODE DAEMON: SIGKILL.
node_kill() {
	kill -KILL "${PID[$1.$2]}"
	wait "${PID[$1.$2]}" 2>/dev/null || true
}

# on NODE ARGS...: mysimbdp on that node's own host.
on() { local n=$1; shift; in_ns "$n" "$CLI" -c "$T/$n/mysimbdp.cfg" "$@"; }

# op ARGS...: mysimbdp as an operator on the client host, with the
# cluster description and the "ops" key, no platform file.
op() {
	in_ns client "$CLI" -c "$T/no-such.cfg" --cluster-file "$T/cluster.cfg" \
		--key "$K/ops" "$@"
}

# serves NODE "TENANTS": the node's streammgr runs exactly those tenants.
serves() {
	[ "$(on "$1" status --json 2>/dev/null | jq -r '[.streams[].tenant] | sort | join(" ")')" = "$2" ]
}

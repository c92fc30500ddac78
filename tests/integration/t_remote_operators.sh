#!/bin/bash
# Operators on other hosts (docs/protocols.md, "Operators on other
# hosts"): with remote.operator_keys, streammgr's control socket listens
# at remote.listen's PORT + 1 and batchmgr's at PORT + 2, CURVE only.
# `mysimbdp --node HOST:PORT --key FILE` then works without the platform
# file: status from both daemons, scale, drain and start take effect;
# another key (a tenant's producer key too) is refused, a key removed by
# reload as well, also on a connection made before the reload, while a
# key kept goes on working there; commands that need the node's files
# refuse --node.
. "$(dirname "$0")/lib.sh"

node_keys node ops ops2 intruder acme
pub() { pubkey "$K/$1.pub"; }
remote_conf() {
	echo "{ listen = \"tcp://$NODE\"; server_key = \"$K/node\"; operator_keys = [$1]; }"
}
platform top.remote="$(remote_conf "\"$(pub ops)\", \"$(pub ops2)\"")"
tenant acme <<EOT
id = "acme";
streams = ( { app = ["$STREAMAPP"]; stop_timeout = "2s"; instances = { min = 1; max = 3; }; } );
producer_keys = ["$(pub acme)"];
EOT
start_daemon streammgr
start_daemon batchmgr
wait_for 20 "acme's instance" ready_is acme 1

# op ARGS...: mysimbdp as an operator elsewhere: no platform file at all.
op() {
	"$CLI" -c "$T/no-such.cfg" --node "$NODE" --key "$K/ops" --server-key "$K/node.pub" "$@"
}
op status --json >"$T/out/status" 2>"$T/out/err" || fail "remote status: $(cat "$T/out/err")"
assert_eq acme "$(jq -r '.tenants[0].tenant' "$T/out/status")" "remote status: the tenant"
assert_eq true "$(jq -r '.streammgr.ok != false' "$T/out/status")" "streammgr answered"
assert_eq true "$(jq -r '.batchmgr.ok != false' "$T/out/status")" "batchmgr answered"
assert_eq "tcp://$NODE" "$(jq -r .streammgr.remote.listen "$T/out/status")" "its producers' port"
op status acme >"$T/out/table" || fail "remote status table"
grep -q "^acme " "$T/out/table" || fail "no acme row: $(cat "$T/out/table")"
ok "status from another host, both daemons, without the platform file"

op scale acme 3 --reason "remote operator" >/dev/null || fail "remote scale"
wait_for 20 "3 instances after a remote scale" ready_is acme 3
op drain acme >/dev/null || fail "remote drain"
wait_for 20 "drained" eval '[ "$(sstat acme .state)" = drained ]'
op start acme >/dev/null || fail "remote start"
wait_for 20 "running again" eval '[ "$(sstat acme .state)" = running ]'
echo "k1 v" | op send acme >"$T/out/send" 2>&1 && fail "an operator key sent as a producer: $(cat "$T/out/send")"
ok "scale, drain and start from another host take effect"

# Keys that are not operators': refused at the handshake, no answer.
for who in intruder acme; do
	rc=0
	"$CLI" -c "$T/no-such.cfg" --node "$NODE" --key "$K/$who" --server-key "$K/node.pub" \
		status --timeout 2s >"$T/out/status" 2>"$T/out/err" || rc=$?
	assert_eq 75 $rc "status with $who's key ($(cat "$T/out/err"))"
	grep -q "remote.operator_keys" "$T/out/err" || fail "no hint: $(cat "$T/out/err")"
done
wait_for 10 "the refusal logged" grep -qF "key $(pub intruder) is not one of remote.operator_keys" "$SM_LOG"
ok "other keys, a tenant's producer key too, are refused"

# Commands that read or write the node's files refuse --node.
for c in "stats" "retry acme a.csv" "dead-letters acme" "check-config"; do
	rc=0
	# shellcheck disable=SC2086
	op $c >/dev/null 2>"$T/out/err" || rc=$?
	assert_eq 64 $rc "$c with --node ($(cat "$T/out/err"))"
done
rc=0; "$CLI" --node "$NODE" status >/dev/null 2>&1 || rc=$?
assert_eq 64 $rc "--node without --key"
ok "local commands refuse --node; --node needs keys"

# A --node that is not HOST:PORT is a usage error (64), said in one line
# naming it, before the key files (not there) are read; the control
# ports must fit after PORT, except for send. A key file that cannot be
# read: 66, send too.
for n in nohost :7100 127.0.0.1:0 127.0.0.1:7100x 127.0.0.1:65534; do
	rc=0; "$CLI" --node "$n" --key k --server-key s status >/dev/null 2>"$T/out/err" || rc=$?
	assert_eq 64 $rc "status with --node $n ($(cat "$T/out/err"))"
	assert_eq 1 "$(wc -l <"$T/out/err")" "--node $n: one line"
	grep -qF -- "--node \"$n\": must be HOST:PORT" "$T/out/err" || fail "--node $n: $(cat "$T/out/err")"
done
rc=0; MYSIMBDP_NODE=nohost "$CLI" --key k --server-key s status >/dev/null 2>"$T/out/err" || rc=$?
assert_eq 64 $rc "\$MYSIMBDP_NODE nohost"
grep -qF '$MYSIMBDP_NODE "nohost"' "$T/out/err" || fail "\$MYSIMBDP_NODE: $(cat "$T/out/err")"
rc=0; "$CLI" --node 127.0.0.1:65535 --key "$K/nosuch" --server-key "$K/node.pub" send acme </dev/null >/dev/null 2>"$T/out/err" || rc=$?
assert_eq 66 $rc "send to PORT 65535 with a key file that is not there ($(cat "$T/out/err"))"
rc=0; "$CLI" -c "$T/no-such.cfg" --node "$NODE" --key "$K/nosuch" --server-key "$K/node.pub" status >/dev/null 2>"$T/out/err" || rc=$?
assert_eq 66 $rc "status with a key file that is not there ($(cat "$T/out/err"))"
grep -q "nosuch: No such file" "$T/out/err" || fail "no key file: $(cat "$T/out/err")"
ok "a bad --node exits 64 in one line; a key file not there 66"

# Operators connected before the reload, one connection each kept open
# (rawzmq fed from a FIFO): ops (to be removed) and ops2 (kept), at each
# daemon's control port.
RAW=$MYSIMBDP_BUILD/tests/integration/rawzmq
secret() { sed -n 's/^ *secret-key = "\(.*\)"$/\1/p' "$1"; }
declare -A CONN
# ask NAME N: sends status on connection NAME and waits for its Nth reply.
# rawzmq prints a status (over 200 bytes) as "(N bytes)", a refusal whole.
answered() { sed -n "$2p" "$T/out/conn-$1" | grep -Eq '^\([0-9]+ bytes\)$'; }
ask() {
	echo 't:{"cmd":"status"}' >&"${CONN[$1]}"
	wait_for 30 "reply $2 on $1" eval "[ \$(wc -l <\"$T/out/conn-$1\") -ge $2 ]"
}
for who in ops ops2; do
	for d in streammgr:1 batchmgr:2; do
		name=$who-${d%:*}
		mkfifo "$T/conn-$name"
		"$RAW" "tcp://127.0.0.1:$((port + ${d#*:}))" dealer 30000 \
			"$(pub "$who")" "$(secret "$K/$who")" "$(pub node)" \
			<"$T/conn-$name" >"$T/out/conn-$name" 2>&1 &
		STARTED_PIDS+=("$!")
		exec {fd}>"$T/conn-$name"
		CONN[$name]=$fd
		ask "$name" 1
		answered "$name" 1 || fail "$name before the reload: $(cat "$T/out/conn-$name")"
	done
done

# The operator's key removed by reload: refused from then on.
sed -i '/^remote = /d' "$T/conf/mysimbdp.cfg"
echo "remote = $(remote_conf "\"$(pub intruder)\", \"$(pub ops2)\"");" >>"$T/conf/mysimbdp.cfg"
for d in streammgr batchmgr; do
	daemon_var $d
	from=$(wc -l <"$DV_LOG")
	kill -HUP "${!DV_PID}"
	wait_for 20 "$d's reload" log_after "$DV_LOG" "$from" "reloading configuration"
done
rc=0; op status --timeout 2s >/dev/null 2>&1 || rc=$?
assert_eq 75 $rc "the removed operator key"
for d in streammgr batchmgr; do
	ask "ops-$d" 2
	sed -n 2p "$T/out/conn-ops-$d" | grep -qF "\"ok\" : false, \"error\" : \"operator key $(pub ops) is not one of remote.operator_keys\"" ||
		fail "the removed key on $d's open connection: $(cat "$T/out/conn-ops-$d")"
	ask "ops2-$d" 2
	answered "ops2-$d" 2 ||
		fail "the kept key on $d's open connection: $(cat "$T/out/conn-ops2-$d")"
done
sm_log_has "a request from key .*, no longer one of remote.operator_keys" || fail "streammgr did not log the refusal"
bm_log_after 0 "a request from key .*, no longer one of remote.operator_keys" || fail "batchmgr did not log the refusal"
"$CLI" -c "$T/no-such.cfg" --node "$NODE" --key "$K/intruder" --server-key "$K/node.pub" \
	status --json >"$T/out/status" || fail "the new operator key"
ok "operator keys change by reload, on connections made before it too"
for fd in "${CONN[@]}"; do exec {fd}>&-; done
stop_daemon batchmgr
stop_daemon streammgr

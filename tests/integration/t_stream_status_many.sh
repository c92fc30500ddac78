#!/bin/bash
# `status` lists every stream, however many: 5 tenants, each with one
# stream of 820 subscriptions (a subscription costs fewer descriptors
# than a stream), 4,105 in all, past the 4,096 an earlier fixed array
# held: status lists all of them, a tenant's status all of its own.
. "$(dirname "$0")/lib.sh"

TENANTS=5
SUBS=820
# About 4 descriptors a subscription (its work socket and its eventfd,
# settled.log, dead-letters.jsonl): raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 18000 ]; then
	echo "SKIP: open files limited to $(ulimit -n), 18000 needed"
	exit 77
fi
platform
for t in $(seq 1 "$TENANTS"); do
	{
		echo "id = \"t$t\";"
		echo "streams = ( { app = [\"$STREAMAPP\"]; durability = \"memory\";"
		echo "  instances = { min = 0; max = 1; initial = 0; };"
		echo "  subscriptions = ("
		for k in $(seq 1 "$SUBS"); do
			[ "$k" = 1 ] || echo ","
			echo "{ name = \"u$k\"; app = [\"$STREAMAPP\"];"
			echo "  instances = { min = 0; max = 1; initial = 0; }; }"
		done
		echo "); } );"
	} | tenant "t$t"
done
start_daemon streammgr
total=$(( TENANTS * (SUBS + 1) ))
# listed [TENANT]: the distinct streams status lists.
listed() {
	cli status ${1:+"$1"} --json 2>/dev/null |
		jq '[.streams[] | "\(.tenant)/\(.stream)"] | unique | length'
}
wait_for 120 "status to answer" eval '[ -n "$(listed)" ]'
sm_log_has "not served" && fail "streams not served: $(grep -m 1 'not served' "$SM_LOG")"
assert_eq "$total" "$(listed)" "streams in status"
assert_eq $(( SUBS + 1 )) "$(listed t5)" "streams in t5's status"
ok "status lists all $total streams"

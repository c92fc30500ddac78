#!/bin/bash
# An instance floods streammgr with ACKR frames of 65536 ids it was never
# given (tests/apps/workflood ackflood): such a range costs nothing
# beyond the ids in flight, and the work socket gets a turn of the loop
# like every other socket. Another tenant's producer is answered all
# along: all of its messages OK, its instance acks them.
. "$(dirname "$0")/lib.sh"

WORKFLOOD=$MYSIMBDP_BUILD/tests/integration/workflood
# More frames than streammgr could ever look through at 65536 ids each;
# the flood ends with the test.
FRAMES=100000000

platform
tenant rogue <<-EOF
id = "rogue";
streams = ( { app = ["$WORKFLOOD", "ackflood", "$FRAMES", "$T/out/flooding"];
  stop_timeout = "1s"; instances = { min = 0; max = 1; initial = 0; }; } );
EOF
stream_tenant beta
start_daemon streammgr
wait_for 20 "beta's instance" ready_is beta 1
cli scale rogue 1 >/dev/null
wait_for 20 "the flood" test -e "$T/out/flooding"

seq 1 200 | sed 's/^/k/; s/$/ v/' >"$T/scratch/keys"
rc=0
cli send beta --file "$T/scratch/keys" --timeout "$(scaled 60)s" \
	>"$T/out/beta" 2>&1 || rc=$?
assert_eq 0 $rc "beta's send during the flood: $(cat "$T/out/beta")"
assert_eq "sent 200, accepted 200, rejected 0, throttled 0, unanswered 0" \
	"$(head -n 1 "$T/out/beta")" "beta's messages"
wait_for 60 "beta's 200 acks" acked_at_least beta 200
ok "beta answered and served during the flood"

stop_daemon streammgr

#!/bin/bash
# A reload that changes a stream's durability holds for the messages
# accepted from then on (the ones held stay as they were stored): after
# memory -> os, a SIGKILL loses the memory ones and brings the os ones
# back; after os -> memory, the os ones still come back, the new memory
# ones do not.
. "$(dirname "$0")/lib.sh"

durability() {
	stream_tenant alpha 'instances = { min = 0; max = 1; initial = 0; };' \
		"durability = \"$1\";"
}
killed_and_back() {
	kill -KILL "$SM_PID"
	wait "$SM_PID" 2>/dev/null || true
	start_daemon streammgr
}

platform
durability memory
start_daemon streammgr
send_keys alpha 1 5 >"$T/out/send" || fail "send: $(cat "$T/out/send")"
durability os
kill -HUP "$SM_PID"
wait_for 20 "durability os" eval '[ "$(sstat alpha .durability)" = os ]'
send_keys alpha 6 10 >"$T/out/send" || fail "send: $(cat "$T/out/send")"
assert_eq 10 "$(sstat alpha .backlog)" "ten held"
killed_and_back
assert_eq 5 "$(sstat alpha .backlog)" "k6..k10 (os) back, k1..k5 (memory) not"
ok "memory -> os by reload: the messages after it survive a SIGKILL"

durability memory
kill -HUP "$SM_PID"
wait_for 20 "durability memory" eval '[ "$(sstat alpha .durability)" = memory ]'
send_keys alpha 11 15 >"$T/out/send" || fail "send: $(cat "$T/out/send")"
assert_eq 10 "$(sstat alpha .backlog)" "ten held"
killed_and_back
assert_eq 5 "$(sstat alpha .backlog)" "k6..k10 (os) back, k11..k15 (memory) not"
cli scale alpha 1 >/dev/null || fail "scale alpha 1"
wait_for 20 "k6..k10 delivered" eval '[ "$(store_docs alpha | wc -l)" = 5 ]'
assert_eq "k10 k6 k7 k8 k9" "$(store_docs alpha | jq -r ._id | sort | xargs)" "delivered keys"
ok "os -> memory by reload: the messages held stay on disk, the new ones do not"

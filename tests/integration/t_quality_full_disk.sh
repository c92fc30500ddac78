#!/bin/bash
# A stream's quality rule refuses a message while its dead letter cannot
# be written (the file-size limit of a full disk): the message is held
# back and rejected again after each ack_timeout, and counted in
# quality_rejected only once, when its dead letter is written
# (docs/configuration.md "streams[].quality": "of the dead letters").
. "$(dirname "$0")/lib.sh"

platform
tenant live <<CFG
id = "live";
mongo_url = "file://$VAR/coredms";
streams = ( { app = ["$MYSIMBDP_BUILD/tenants/acme/acme-stream"]; stop_timeout = "2s";
  durability = "memory"; ack_timeout = "1s"; max_deliveries = 1000;
  quality = { rules = ( { name = "host"; field = "host_id"; max = "400000"; } ); }; } );
CFG
# The dead-letter file already past the limit set below: the next line
# cannot be written (EFBIG); lines that do not parse are kept as they are.
dir=$VAR/queue/live/default
mkdir -p "$dir"
printf '%0200000d\n' 0 >"$dir/dead-letters.jsonl"
start_daemon streammgr
# The soft limit only: raised again below.
prlimit --pid "$SM_PID" --fsize=196608:unlimited
wait_for 30 "live's instance ready" ready_is live 1

head -n 1 "$MYSIMBDP_SRC/tenants/acme/samples/updates.jsonl" |
	jq -c '.id = 1 | .host_id = 424242' >"$T/scratch/bad.jsonl"
cli send live --file "$T/scratch/bad.jsonl" >"$T/out/send" 2>&1 ||
	fail "send: $(cat "$T/out/send")"
# A third delivery: the first two were rejected and held back.
wait_for 60 "the refused message delivered a third time" eval \
	'[ "$(sstat live .redelivered)" -ge 2 ]'
sm_log_has "cannot write it to dead-letters.jsonl" ||
	fail "no line on the dead letter that cannot be written"
assert_eq "0 0" "$(sstat live '"\(.dead_letters) \(.quality_rejected)"')" \
	"dead_letters and quality_rejected while the dead letter cannot be written"
ok "refused twice, no dead letter written: not counted"

prlimit --pid "$SM_PID" --fsize=unlimited:unlimited
wait_for 60 "the dead letter written" eval '[ "$(sstat live .dead_letters)" = 1 ]'
assert_eq 1 "$(sstat live .quality_rejected)" "quality_rejected once written"
assert_eq 1 "$(sstat live .quality_rules.host)" "the rule's count"
cli dead-letters live --json | grep -q 'quality: host: host_id: 424242' ||
	fail "the dead letter has not the rule's reason"
ok "counted once, with its dead letter"

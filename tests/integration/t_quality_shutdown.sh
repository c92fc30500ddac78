#!/usr/bin/env bash
# The quality gate across a shutdown (docs/quality.md): a file whose
# first pass ends well while batchmgr is stopping gets no second pass.
# Its attempt is recorded as retry with the reason, the file stays in
# processing/ and batchmgr exits; the next start runs both passes and
# ingests it. Twice: the first pass ends by itself within
# shutdown_grace, then it ends (exit 0) on the SIGTERM sent after the
# grace, which no second pass started then would ever get.
. "$(dirname "$0")/lib.sh"

ACME_APP=$MYSIMBDP_BUILD/tenants/acme/acme-listings
SAMPLE=$MYSIMBDP_SRC/tenants/acme/samples/listings-small.csv

# Grace and timeouts far longer than any wait below: a pass that should
# not run shows as a batchmgr that does not exit.
platform shutdown_grace='"10m"'
tenant q <<CFG
id = "q";
mongo_url = "file://$VAR/coredms";
batch = {
  formats = ["csv"];
  quality = ( { datasets = ["listings"]; max_rejected_percent = 50;
    rules = ( { name = "has-id"; field = "id"; required = true; } ); } );
  apps = ( { app = ["$T/gated"]; datasets = ["listings"]; timeout = "10m";
             stop_timeout = "10m"; retries = 0; } );
};
CFG
# acme-listings, each pass noted in passes: a first pass waits for the
# file go (or a SIGTERM, then ends well), a second one for go2.
cat >"$T/gated" <<EOF
#!/bin/sh
if [ "\${MYSIMBDP_QUALITY_PASS:-}" = validate ]; then
	trap 'exec "$ACME_APP"' TERM
	echo validate >>"$T/passes"
	until [ -e "$T/go" ]; do sleep 0.05; done
else
	echo ingest >>"$T/passes"
	until [ -e "$T/go2" ]; do sleep 0.05; done
fi
exec "$ACME_APP"
EOF
chmod 755 "$T/gated"
: >"$T/passes"

passes() { paste -s -d ' ' "$T/passes"; }
docs() {
	[ -d "$VAR/coredms/q/listings" ] || return 0
	"$BSONCOUNT" "$VAR/coredms/q/listings" | jq -c .doc
}
last() { records '.tenant == "q" and .file == "a.csv"' | tail -n 1; }
# first_pass N: the Nth first pass has started.
first_pass() { [ "$(grep -c validate "$T/passes")" -ge "$1" ]; }

# stopped_between WHAT: batchmgr exited 0; the attempt is a retry with
# the reason, no second pass ran, nothing is stored, the file waits in
# processing/.
stopped_between() {
	local rc=0 r
	wait_for 60 "batchmgr to exit ($1)" gone "$BM_PID"
	wait "$BM_PID" || rc=$?
	BM_PID=
	assert_eq 0 "$rc" "batchmgr's exit status ($1)"
	r=$(last)
	assert_eq retry "$(jq -r .status <<<"$r")" "a.csv's status ($1)"
	assert_eq "interrupted: batchmgr is shutting down; the quality gate's second pass waits for the next start" \
		"$(jq -r .reason <<<"$r")" "a.csv's reason ($1)"
	grep -q ingest "$T/passes" && fail "a second pass ran ($1): $(passes)"
	assert_eq 0 "$(docs | wc -l)" "documents stored ($1)"
	assert_file "$VAR/staging/q/processing/listings/a.csv"
	ok "$1: batchmgr exited, no second pass, retry recorded, a.csv in processing/"
}

# ---- the first pass ends well within the grace ------------------------------
start_daemon batchmgr
drop_file q listings/a.csv "$SAMPLE"
wait_for 60 "the first pass" first_pass 1
from=$(wc -l <"$BM_LOG")
kill -TERM "$BM_PID"
wait_for 60 "batchmgr to stop" bm_log_after "$from" "stopping: 1 job still running"
: >"$T/go"
stopped_between "within the grace"

# ---- the first pass ends well on the SIGTERM after the grace ----------------
rm "$T/go"
platform shutdown_grace='"1s"'
start_daemon batchmgr
wait_for 60 "the first pass again" first_pass 2
from=$(wc -l <"$BM_LOG")
kill -TERM "$BM_PID"
wait_for 60 "the grace to end" bm_log_after "$from" "stopping pid .* for shutdown"
stopped_between "after the grace"

# ---- the next start runs both passes ----------------------------------------
: >"$T/go"
: >"$T/go2"
start_daemon batchmgr
wait_for 60 "a.csv ingested" have_records 1 q ok
r=$(last)
assert_eq "ok true" "$(jq -r '"\(.status) \(.recovered)"' <<<"$r")" "a.csv's last record"
assert_eq "validate validate validate ingest" "$(passes)" "the passes run"
n=$(jq -r .inserted <<<"$r")
[ "$n" -gt 0 ] || fail "nothing inserted: $r"
assert_eq "$n" "$(docs | wc -l)" "documents stored"
wait_file "$VAR/staging/q/done/listings/a.csv"
stop_daemon batchmgr
ok "restarted: both passes, a.csv ingested ($n documents)"

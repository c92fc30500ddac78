#!/usr/bin/env bash
# mysimbdp status against the real daemons: one row per tenant with the
# batch queue and the running jobs from batchmgr's control socket and the
# stream figures from streammgr's, summed over a tenant's streams; the
# per-stream and per-job rows of `status TENANT`; --json; and what is
# shown when only streammgr, only batchmgr or neither is running.
. "$(dirname "$0")/lib.sh"

platform workers=4
# acme: batch only, one job at a time, a slow app: one file runs while
# the others wait.
tenant acme <<EOF2
id = "acme";
batch = {
  formats = ["csv"];
  max_concurrent = 1;
  apps = ( { app = ["sleepy", "60"]; timeout = "120s"; stop_timeout = "1s"; } );
};
EOF2
# globex: two streams, no batch app.
tenant globex <<EOF2
id = "globex";
streams = (
  { name = "default"; app = ["$STREAMAPP"]; stop_timeout = "2s";
    instances = { min = 1; max = 2; initial = 1; }; },
  { name = "ticks"; app = ["$STREAMAPP"]; stop_timeout = "2s";
    instances = { min = 1; max = 3; initial = 1; }; }
);
EOF2

start_daemon batchmgr
start_daemon streammgr

# json JQ: a field of `status --json`.
json() { cli status --json 2>/dev/null | jq -r "$1"; }
acme() { json ".tenants[] | select(.tenant == \"acme\") | $1"; }
# acme_is JQ VALUE: acme's row in `status --json` has JQ = VALUE.
acme_is() { [ "$(acme "$1")" = "$2" ]; }
globex_ready() {
	[ "$(json '[.streams[] | select(.tenant == "globex") | .instances[] |
		select(.state == "ready")] | length')" = 2 ]
}

drop acme a.csv
wait_for 20 "a.csv running" acme_is .batch.running 1
drop acme b.csv
drop acme c.csv
# A second a.csv cannot be claimed while the first runs: it waits in
# incoming/.
drop acme a.csv
wait_for 20 "two files queued, one in incoming/" \
	acme_is '"\(.batch.queued) \(.batch.incoming)"' "2 1"
wait_for 20 "globex's instances" globex_ready

# ---- both daemons ---------------------------------------------------------

out=$(cli status 2>"$T/err") || fail "status: exit $?: $(cat "$T/err")"
echo "$out"
assert_eq "" "$(cat "$T/err")" "status: nothing on stderr when both answer"
assert_eq 3 "$(wc -l <<<"$out")" "status: a header and one row per tenant"
head -n 1 <<<"$out" | grep -Eq '^tenant +state +queue +jobs +instances +backlog +in/s +acks/s$' ||
	fail "status: header: $out"
grep -Eq '^acme +batch-only +3 +1/1 +- +- +- +-$' <<<"$out" ||
	fail "status: acme's row (3 waiting, 1 of 1 running, no streams): $out"
grep -Eq '^globex +running +0 +0/[0-9]+ +2/2 \(2\.\.5\) +0 +0\.0 +0\.0$' <<<"$out" ||
	fail "status: globex's row (two streams summed): $out"
ok "one row per tenant: batch queue, jobs, instances summed over streams"

s=$(cli status --json)
assert_eq "1 2 1 0 1" "$(jq -r '.tenants[] | select(.tenant == "acme") | .batch |
	"\(.running) \(.queued) \(.incoming) \(.retry_waiting) \(.max_concurrent)"' <<<"$s")" \
	"--json: acme's batch figures"
pid=$(jq -r '.tenants[] | select(.tenant == "acme") | .batch.jobs[0].pid' <<<"$s")
assert_eq "a.csv 1" "$(jq -r '.tenants[] | select(.tenant == "acme") | .batch.jobs[0] |
	"\(.file) \(.attempt)"' <<<"$s")" "--json: the running job's file and attempt"
kill -0 "$pid" || fail "--json: the running job's pid $pid is not a live process"
assert_eq "4 1 2" "$(jq -r '.batchmgr | "\(.workers) \(.busy) \(.queued)"' <<<"$s")" \
	"--json: batchmgr's pool"
assert_eq "2 2 2 5 running" "$(jq -r '.tenants[] | select(.tenant == "globex") |
	"\(.streams.count) \(.streams.running) \(.streams.min) \(.streams.max) \(.state)"' <<<"$s")" \
	"--json: globex's streams summed"
assert_eq "2 true true" "$(jq -r '"\(.streams | length) \(.streammgr.ok) \(.batchmgr.ok)"' <<<"$s")" \
	"--json: every stream, both daemons answered"

out=$(cli status acme) || fail "status acme"
echo "$out"
assert_eq 1 "$(grep -Ec '^acme +batch-only +3 +1/1 ' <<<"$out")" "status acme: its tenant row"
grep -Eq "^acme +default +acme-[^ ]+ +$pid +1 +[0-9.]+m?s +a\.csv$" <<<"$out" ||
	fail "status acme: the running job's row: $out"
if grep -q '^globex' <<<"$out"; then fail "status acme shows globex: $out"; fi
out=$(cli status globex) || fail "status globex"
grep -Eq '^globex +default +running +1/1 \(1\.\.2\)' <<<"$out" || fail "status globex: stream default: $out"
grep -Eq '^globex +ticks +running +1/1 \(1\.\.3\)' <<<"$out" || fail "status globex: stream ticks: $out"
out=$(cli status globex --stream ticks) || fail "status globex --stream ticks"
grep -Eq '^globex +running +0 +0/[0-9]+ +1/1 \(1\.\.3\) ' <<<"$out" ||
	fail "status --stream: the tenant row is the stream's: $out"
if grep -q ' default ' <<<"$out"; then fail "status --stream ticks shows default: $out"; fi
ok "status TENANT: its streams and its running jobs"

rc=0; cli status nosuch >/dev/null 2>&1 || rc=$?
assert_eq 65 "$rc" "status of a tenant neither daemon knows"
rc=0; cli status acme --stream nosuch >/dev/null 2>&1 || rc=$?
assert_eq 65 "$rc" "status of a stream the tenant does not have"

# batchmgr's control socket refuses what it does not know.
for req in '{"cmd":"nope"}' '{"cmd":"status","tenant":"acme"}' '{"cmd":1}' '{}' 'not json'; do
	rc=0
	out=$(cli control --daemon batchmgr "$req") || rc=$?
	assert_eq "65 false" "$rc $(jq -r .ok <<<"$out")" "batchmgr refuses $req"
	jq -re .error <<<"$out" >/dev/null || fail "$req: no error: $out"
done
out=$(cli control --daemon batchmgr '{"cmd":"status"}') || fail "raw status to batchmgr"
assert_eq "true 2" "$(jq -r '"\(.ok) \(.tenants | length)"' <<<"$out")" "batchmgr answers status"

# ---- only batchmgr --------------------------------------------------------

stop_daemon streammgr
rc=0; out=$(cli status 2>"$T/err") || rc=$?
echo "$out"
assert_eq 0 "$rc" "only batchmgr: status exits 0"
grep -Eq '^acme +active +3 +1/1 +- +- +- +-$' <<<"$out" || fail "only batchmgr: acme: $out"
grep -Eq '^globex +active +0 +0/[0-9]+ +- +- +- +-$' <<<"$out" || fail "only batchmgr: globex: $out"
grep -q "streammgr is not running" "$T/err" || fail "only batchmgr: no note: $(cat "$T/err")"
grep -q 'streammgr did not answer: no stream figures ("-")' "$T/err" ||
	fail "only batchmgr: no note on the columns: $(cat "$T/err")"
s=$(cli status --json 2>/dev/null)
assert_eq "false 69 true null 0" "$(jq -r '"\(.streammgr.ok) \(.streammgr.exit) \(.batchmgr.ok) \(.tenants[0].streams) \(.streams | length)"' <<<"$s")" \
	"only batchmgr: --json says who answered"
ok "only batchmgr: the stream columns are \"-\""

# ---- only streammgr -------------------------------------------------------

start_daemon streammgr
stop_daemon batchmgr
wait_for 20 "globex's instances again" globex_ready
rc=0; out=$(cli status 2>"$T/err") || rc=$?
echo "$out"
assert_eq 0 "$rc" "only streammgr: status exits 0"
assert_eq 2 "$(wc -l <<<"$out")" "only streammgr: the tenants with streams"
grep -Eq '^globex +running +- +- +2/2 \(2\.\.5\) +0 +0\.0 +0\.0$' <<<"$out" ||
	fail "only streammgr: globex: $out"
grep -q "batchmgr is not running" "$T/err" || fail "only streammgr: no note: $(cat "$T/err")"
assert_eq "false 69 true null" "$(cli status --json 2>/dev/null |
	jq -r '"\(.batchmgr.ok) \(.batchmgr.exit) \(.streammgr.ok) \(.tenants[0].batch)"')" \
	"only streammgr: --json says who answered"
rc=0; cli status acme >/dev/null 2>&1 || rc=$?
assert_eq 65 "$rc" "only streammgr: acme (batch only) is unknown"
ok "only streammgr: the batch columns are \"-\""

# ---- neither --------------------------------------------------------------

stop_daemon streammgr
rc=0; out=$(cli status 2>"$T/err") || rc=$?
assert_eq 69 "$rc" "neither daemon: status exits 69"
assert_eq "" "$out" "neither daemon: nothing on stdout"
assert_eq 2 "$(grep -c "is not running" "$T/err")" "neither daemon: both are named"

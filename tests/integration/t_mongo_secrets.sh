#!/usr/bin/env bash
# A tenant's own MongoDB URL, with its credentials, reaches that tenant's
# apps and nowhere else (issue 17): not another tenant's apps, not the
# daemons' logs, the ingest records, `status` or `stats`, even when the
# server cannot be reached and every attempt fails. The write concern of
# the platform (or of the tenant) is added to the URL the apps get.
. "$(dirname "$0")/lib.sh"

ACME_APP=$MYSIMBDP_BUILD/tenants/acme/acme-listings
SAMPLE=$MYSIMBDP_SRC/tenants/acme/samples/listings-small.csv
SECRET=S3cretPw-$$
# A closed port: every attempt fails, and says why.
URL="mongodb://sec:$SECRET@127.0.0.1:1/?serverSelectionTimeoutMS=200&connectTimeoutMS=200"

platform retry_backoff='"100ms"' retry_backoff_max='"200ms"'
tenant sec <<CFG
id = "sec";
mongo_url = "$URL";
mongo_write = { w = "2"; wtimeout = "3s"; };
batch = {
  formats = ["csv"];
  apps = ( { app = ["$ACME_APP"]; timeout = "30s"; retries = 0; },
           { name = "dump"; app = ["envdump", "$T/out/sec"]; datasets = ["dump"]; } );
};
CFG
tenant other <<CFG
id = "other";
batch = { formats = ["csv"];
  apps = ( { app = ["envdump", "$T/out/other"]; timeout = "20s"; } ); };
CFG
mkdir -p "$T/out/sec" "$T/out/other"
start_daemon batchmgr
start_daemon streammgr

drop_file sec l.csv "$SAMPLE"
drop_file sec dump/d.csv "$SAMPLE"
drop other o.csv
wait_for 30 "three failed attempts of sec's file" have_records 3 sec retry
wait_for 30 "sec's dump" have_records 1 sec ok
wait_for 30 "other's dump" have_records 1 other ok

grep -q "^MONGO_URL=mongodb://sec:$SECRET@127.0.0.1:1/?serverSelectionTimeoutMS=200&connectTimeoutMS=200&w=2&journal=true&wtimeoutMS=3000$" \
	"$T/out/sec/env" || fail "sec's app: MONGO_URL: $(grep MONGO_URL "$T/out/sec/env")"
ok "sec's apps get its URL, with its write concern added"
grep -q '^MONGO_URL=file://' "$T/out/other/env" ||
	fail "other's app: MONGO_URL: $(grep MONGO_URL "$T/out/other/env")"
! grep -rq "$SECRET" "$T/out/other" || fail "other's app saw sec's credentials"
ok "another tenant's app never sees it"

cli status --json >"$T/out/status" 2>&1 || true
cli status sec >>"$T/out/status" 2>&1 || true
cli stats --json >>"$T/out/stats" 2>&1 || true
cli check-config >>"$T/out/check" 2>&1 || true
# Everywhere the platform writes but the tenant's own apps' output.
leaks=$(grep -rl -- "$SECRET" "$VAR/log" "$VAR/staging" "$BM_LOG" "$SM_LOG" \
	"$T/out/status" "$T/out/stats" "$T/out/check" 2>/dev/null |
	grep -v "^$VAR/log/sec/" || true)
[ -z "$leaks" ] || fail "the credentials leaked into: $leaks"
ok "no log, record, status, stats or check-config output shows the credentials"

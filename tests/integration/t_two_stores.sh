#!/usr/bin/env bash
# The same documents in both stores (issue 17): the sample tenants, with
# their real profiles, run the demo's data once into the embedded store
# (acme, globex) and once into a MongoDB server (acmem, globexm: the same
# profiles with a mongo_url), side by side: the sample files (good ones,
# one that is not a csv, one in a dataset no app serves), the sample
# messages (some malformed) and a burst of each tenant's generated
# messages. Then every collection of each database is compared document by
# document, in canonical extended JSON: the same _ids, fields, values and
# BSON types. The first difference is printed.
#
# The bursts are smaller than scripts/run's (a hundred, not 20,000), and
# the server's copies wait longer for acks: FerretDB v1 (SQLite) commits
# each upsert on its own, about 30 a second on the machines of
# docs/benchmarks.md, so 256 messages in flight take past acme's 30 s
# ack_timeout on a loaded machine.
. "$(dirname "$0")/lib.sh"

MONGOPREP=$MYSIMBDP_BUILD/tests/integration/mongoprep
GEN=$MYSIMBDP_SRC/scripts/gen-data
SAMPLES=$MYSIMBDP_SRC/tenants
MONGO=${MYSIMBDP_TEST_MONGO_URL:-}
if [ -z "$MONGO" ]; then
	echo "SKIPPED: no MongoDB server for the tests (MYSIMBDP_TEST_MONGO_URL;" \
		"scripts/test starts FerretDB when Go is there)"
	exit 77
fi
SUFFIX=_two_$$
on_cleanup() {
	"$MONGOPREP" drop "$MONGO" "acme$SUFFIX" || true
	"$MONGOPREP" drop "$MONGO" "globex$SUFFIX" || true
}

platform
# A sanitized build's apps cannot live under the profiles' memory limits
# (ASan reserves terabytes of address space), as in t_demo.sh.
strip='s/^//'
sanitized && strip='s/ *memory = "[^"]*";//'
# profile SOURCE ID [MONGO SETTINGS]: the shipped profile, its apps from
# this build, under another id and with the settings in place of its
# mongo_db when asked.
profile() {
	sed -e "s#\"build/#\"$MYSIMBDP_BUILD/#g" \
		-e "s#\"tenants/globex/ingest-cases\"#\"$MYSIMBDP_SRC/tenants/globex/ingest-cases\"#g" \
		-e "s#^id = \"$1\";#id = \"$2\";#" \
		-e "s#^mongo_db = .*#${3:-&}#" \
		-e "${3:+s#ack_timeout = \"[^\"]*\"#ack_timeout = \"10m\"#}" \
		-e "$strip" \
		"$MYSIMBDP_SRC/conf/tenants/$1.cfg" >"$T/conf/tenants/$2.cfg"
	grep -q "^id = \"$2\";" "$T/conf/tenants/$2.cfg" || fail "profile $2: no id line"
}
profile acme acme
profile globex globex
profile acme acmem "mongo_url = \"$MONGO\"; mongo_db = \"acme$SUFFIX\";"
profile globex globexm "mongo_url = \"$MONGO\"; mongo_db = \"globex$SUFFIX\";"
cli check-config >"$T/out/check" 2>&1 || fail "profiles: $(cat "$T/out/check")"
start_daemon streammgr
start_daemon batchmgr

"$GEN" acme-updates 64K 7 >"$T/scratch/burst.jsonl"
"$GEN" globex 8K 7 | tail -n +2 >"$T/scratch/cases.csv"
# Files first, then messages: FerretDB v1 (SQLite) wedges when an insert
# and an upsert write one database at the same time.
for t in acme acmem; do
	drop_file "$t" listings.csv "$SAMPLES/acme/samples/listings-small.csv"
	drop_file "$t" notes.txt "$MYSIMBDP_SRC/README"
done
for t in globex globexm; do
	drop_file "$t" cases/cases.csv "$SAMPLES/globex/samples/cases-small.csv"
	drop_file "$t" weather/w.csv "$SAMPLES/globex/samples/cases-small.csv"
done
outcomes() {
	[ "$(records ".tenant == \"$1\" and (.status == \"ok\" or .status == \"rejected\")" |
		wc -l)" -ge 2 ]
}
for t in acme acmem globex globexm; do
	wait_for 120 "$t: both files' outcomes" outcomes "$t"
done
for t in acme acmem; do
	cli send "$t" --file "$SAMPLES/acme/samples/updates.jsonl" >/dev/null 2>&1 || true
	cli send "$t" --file "$T/scratch/burst.jsonl" >/dev/null 2>&1 || true
done
for t in globex globexm; do
	cli send "$t" --file "$SAMPLES/globex/samples/cases-stream.csv" >/dev/null 2>&1 || true
	cli send "$t" --file "$T/scratch/cases.csv" >/dev/null 2>&1 || true
done

# settled TENANT: the stream holds nothing: every message accepted was
# acked or dead-lettered.
settled() {
	[ "$(cli status "$1" --json 2>/dev/null | jq -r '.streams[0] |
			(.accepted > 0 and .backlog == 0 and .inflight == 0 and
			 .acked + .dead_letters >= .accepted)')" = true ]
}
for t in acme acmem globex globexm; do
	wait_for 240 "$t: every message acked or dead-lettered" settled "$t"
done
for t in acme globex; do
	assert_eq "$(sstat "$t" .dead_letters)" "$(sstat "${t}m" .dead_letters)" \
		"$t: as many dead letters with both stores"
done
stop_daemon batchmgr
stop_daemon streammgr

# ---- every collection, document by document -------------------------
for db in acme globex; do
	ls "$VAR/coredms/$db" | sort >"$T/out/colls.file.$db"
	"$MONGOPREP" collections "$MONGO" "$db$SUFFIX" | sort >"$T/out/colls.mongo.$db"
	[ -s "$T/out/colls.file.$db" ] || fail "$db: the embedded store holds nothing"
	cmp -s "$T/out/colls.file.$db" "$T/out/colls.mongo.$db" ||
		fail "$db: collections differ: embedded [$(xargs <"$T/out/colls.file.$db")]," \
			"MongoDB [$(xargs <"$T/out/colls.mongo.$db")]"
	while read -r coll; do
		f=$T/out/$db.$coll.file m=$T/out/$db.$coll.mongo
		"$MONGOPREP" canonfile "$VAR/coredms" "$db" "$coll" | jq -cS . | sort >"$f"
		"$MONGOPREP" canon "$MONGO" "$db$SUFFIX" "$coll" | jq -cS . | sort >"$m"
		if ! cmp -s "$f" "$m"; then
			echo "first difference in $db.$coll (< embedded, > MongoDB):"
			diff "$f" "$m" | grep '^[<>]' | head -n 2 || true
			fail "$db.$coll: the stores hold different documents"
		fi
		ok "$db.$coll: $(wc -l <"$f") documents, the same in both stores"
	done <"$T/out/colls.file.$db"
done

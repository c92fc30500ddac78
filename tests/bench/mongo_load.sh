#!/usr/bin/env bash
# Loading one CSV into a MongoDB server, the platform's ways beside what
# users would run instead, into one FerretDB (scripts/ferretdb) in one
# run (issue 17, docs/benchmarks.md "CSV into MongoDB"):
#   pandas   Python: pandas.read_csv + pymongo insert_many (from PyPI, in a
#            virtualenv of the cache folder)
#   app      acme-listings with the contract's environment (typed columns,
#            deterministic ids, checked rows, the result summary)
#   load     mysimbdp load (the same, for any CSV with a schema)
# mongoimport is not there: the Go module proxy refuses mongo-tools'
# versions (its tags are not semantic versions), so `go install` cannot
# fetch it. Each loader writes its own database; its documents are
# counted on the server after it.
#
# usage: mongo_load.sh --build DIR [--size SIZE] [--json]
# Exit 3: no FerretDB (no Go): the caller skips and says so.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build='' size=20M json=0
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift ;;
	--size) size=$2; shift ;;
	--json) json=1 ;;
	*) echo "mongo_load: unknown option $1" >&2; exit 64 ;;
	esac
	shift
done
[ -n "$build" ] || { echo "mongo_load: --build DIR" >&2; exit 64; }
app=$build/tenants/acme/acme-listings
cli=$build/cli/mysimbdp
prep=$build/tests/integration/mongoprep
cache=${MYSIMBDP_BENCH_CACHE:-/tmp/mysimbdp-bench-cache}
data=$cache/acme-$size.csv
mkdir -p "$cache"
if [ ! -s "$data" ]; then
	"$src/scripts/gen-data" acme "$size" >"$data.part"
	mv "$data.part" "$data"
fi

work=$(mktemp -d /tmp/msb-mongo-bench.XXXXXX)
trap '"$src/scripts/ferretdb" stop "$work/fdb" || true; rm -rf "$work"' EXIT
mkdir -p "$work/fdb"
rc=0
out=$("$src/scripts/ferretdb" start "$work/fdb" 2>"$work/fdb.err") || rc=$?
[ "$rc" -eq 0 ] || { cat "$work/fdb.err" >&2; exit "$rc"; }
url=${out%% *}

# The Python reference's virtualenv, once per cache folder.
venv=$cache/venv-pandas
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pandas, pymongo' 2>/dev/null; then
	python3 -m venv "$venv" >&2
	"$venv/bin/pip" install --quiet pandas pymongo >&2
fi

seconds() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" || return
	t1=$(date +%s%N)
	awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f\n", ns / 1e9 }'
}
pandas_load() {
	"$venv/bin/python" - "$url" "$data" <<'EOF'
import sys
import pandas
import pymongo
client = pymongo.MongoClient(sys.argv[1])
frame = pandas.read_csv(sys.argv[2], on_bad_lines="skip")
# Missing values as null: FerretDB refuses NaN on the wire.
frame = frame.astype(object).where(frame.notna(), None)
client["py"]["listings"].insert_many(frame.to_dict("records"), ordered=False)
EOF
}
app_load() {
	env -i PATH=/usr/bin:/bin MYSIMBDP_TENANT=acme MYSIMBDP_INSTANCE=bench-1 \
		MONGO_URL="$url" MONGO_DB=app ZMQ_METRICS_ENDPOINT= \
		MONGOC_DISABLE_SHM=1 MYSIMBDP_INPUT_FILE="$data" \
		MYSIMBDP_RESULT_FILE="$work/app.json" "$app" >/dev/null 2>"$work/app.err"
}
load_load() {
	env -i PATH=/usr/bin:/bin MONGO_URL="$url" MONGO_DB=load \
		MONGOC_DISABLE_SHM=1 "$cli" load "$data" --collection listings \
		--no-progress >/dev/null 2>"$work/load.err"
}
t_py=$(seconds pandas_load 2>"$work/py.err") ||
	{ tail -n 3 "$work/py.err" >&2; exit 1; }
t_app=$(seconds app_load) || { cat "$work/app.err" >&2; exit 1; }
t_load=$(seconds load_load) || { cat "$work/load.err" >&2; exit 1; }
n_py=$("$prep" count "$url" py listings)
n_app=$("$prep" count "$url" app listings)
n_load=$("$prep" count "$url" load listings)
ver=${out#* }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
if [ "$json" = 1 ]; then
	printf '{"server":"%s","bytes":%s,"py_s":%s,"py_docs":%s,"app_s":%s,"app_docs":%s,"load_s":%s,"load_docs":%s}\n' \
		"$ver" "$(stat -c %s "$data")" "$t_py" "$n_py" "$t_app" "$n_app" "$t_load" "$n_load"
else
	printf '%-8s %8s %10s %10s\n' loader seconds documents docs/s
	printf '%-8s %8s %10s %10s\n' pandas "$t_py" "$n_py" "$(rate "$n_py" "$t_py")"
	printf '%-8s %8s %10s %10s\n' app "$t_app" "$n_app" "$(rate "$n_app" "$t_app")"
	printf '%-8s %8s %10s %10s\n' load "$t_load" "$n_load" "$(rate "$n_load" "$t_load")"
	echo "server: $ver"
fi

#!/usr/bin/env bash
# CSV ingestion benchmark: acme's listings file into the embedded store.
# Runs acme-listings directly, with the contract's environment (as
# batchmgr would start it), on a generated acme file, and in the same run
# times a plain read of that file (cat, warm cache: the second of two
# reads) as the I/O bound. Prints MB/s and rows/s of both and their ratio;
# the goal is the app within 3x of the plain read.
#
# usage: tests/bench/csv_ingest.sh [--size SIZE] [--build DIR] [--json]
#            [--wrap COMMAND] [--digest]
#   --size SIZE   generated input size, e.g. 100M, 1G (default 1G)
#   --build DIR   build folder holding tenants/acme/acme-listings
#                 (default: build/ of this source tree)
#   --json        one JSON line instead (scripts/bench csv): bytes, rows,
#                 rejected, read_s, parse_s, app_s, out_bytes
#   --wrap CMD    runs the app under CMD (split on blanks), to look into
#                 it: --wrap 'perf record -o /tmp/app.perf',
#                 --wrap 'strace -f -T -e trace=fsync -o /tmp/app.strace'
#   --digest      also prints the SHA-256 of the store's unit files, to
#                 show that two builds store the same bytes
# parse_s is tests/bench/csvparse: libcsv alone parsing the file (warm
# cache), the parser's own speed.
# The input is generated once into $MYSIMBDP_BENCH_CACHE (default
# /tmp/mysimbdp-bench-cache) and reused; the store is a temporary folder,
# removed at the end.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
size=1G
build=$src/build
json=0
wrap=''
digest=0
while [ $# -gt 0 ]; do
	case $1 in
	--size) size=${2:?--size needs a value}; shift ;;
	--build) build=${2:?--build needs a folder}; shift ;;
	--json) json=1 ;;
	--wrap) wrap=${2:?--wrap needs a command}; shift ;;
	--digest) digest=1 ;;
	-h|--help) sed -n '2,/^set -e/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "csv_ingest: unknown option $1 (see --help)" >&2; exit 64 ;;
	esac
	shift
done

app=$build/tenants/acme/acme-listings
parser=$build/tests/bench/csvparse
for p in "$app" "$parser"; do
	[ -x "$p" ] || { echo "csv_ingest: $p not built (ninja -C $build)" >&2; exit 66; }
done
data=$("$src/tests/bench/acme_input.sh" "$size")

work=$(mktemp -d /tmp/msb-csv-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# seconds COMMAND...: wall-clock seconds of a command, to the ms.
seconds() {
	local t0 t1
	t0=$(date +%s%N)
	"$@"
	t1=$(date +%s%N)
	awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f\n", ns / 1e9 }'
}
# div A B [DECIMALS]: A / B, as awk prints it (no bc needed).
div() { awk -v a="$1" -v b="$2" -v d="${3:-1}" 'BEGIN { fmt = "%." d "f\n"; printf fmt, (b > 0 ? a / b : 0) }'; }

bytes=$(stat -c %s "$data")
mb=$(div "$bytes" 1048576)

# The I/O bound: the second of two plain reads (page cache warm).
cat "$data" >/dev/null
t_read=$(seconds sh -c 'cat "$1" >/dev/null' sh "$data")

# The app, as batchmgr starts it: a clean environment with the contract.
run_app() {
	env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 HOME="$work" \
		TMPDIR="$work" MYSIMBDP_TENANT=acme MYSIMBDP_INSTANCE=bench-1 \
		MONGO_URL="file://$work/store" MONGO_DB=acme ZMQ_METRICS_ENDPOINT= \
		MYSIMBDP_INPUT_FILE="$data" MYSIMBDP_RESULT_FILE="$work/result.json" \
		$wrap "$app" >"$work/app.out" 2>"$work/app.err"
}
t_parse=$("$parser" "$data" | jq .seconds)
# The app's fsync waits for the disk's queue: what earlier work left
# dirty (scripts/bench's batch part before, the last run's store being
# removed) is written out first, so the app pays for its own writes only.
sync
t_app=$(seconds run_app) || { cat "$work/app.err" >&2; exit 1; }
rows=$(jq .rows "$work/result.json")
rejected=$(jq .rejected_rows "$work/result.json")
out_bytes=$(find "$work/store" -name '*.bson' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
if [ "$json" = 1 ]; then
	printf '{"bytes":%s,"rows":%s,"rejected":%s,"read_s":%s,"parse_s":%s,"app_s":%s,"out_bytes":%s}\n' \
		"$bytes" "$rows" "$rejected" "$t_read" "$t_parse" "$t_app" "$out_bytes"
	exit 0
fi

printf 'input      %s (%s MB, %s rows, %s rejected)\n' "$data" "$mb" "$rows" "$rejected"
printf 'plain read %8.3f s  %8.1f MB/s   (cat, warm cache)\n' "$t_read" "$(div "$mb" "$t_read")"
printf 'libcsv     %8.3f s  %8.1f MB/s   (parse only, warm cache)\n' "$t_parse" "$(div "$mb" "$t_parse")"
printf 'app        %8.3f s  %8.1f MB/s  %10.0f rows/s   (acme-listings -> file store, %s MB of BSON, fsynced)\n' \
	"$t_app" "$(div "$mb" "$t_app")" "$(div "$rows" "$t_app" 0)" \
	"$(div "$out_bytes" 1048576)"
ratio=$(div "$t_app" "$t_read")
printf 'ratio      %sx the plain read (goal: within 3x): %s\n' "$ratio" \
	"$(awk -v r="$ratio" 'BEGIN { print (r <= 3 ? "met" : "missed") }')"
if [ "$digest" = 1 ]; then
	printf 'store      %s (SHA-256 of the unit files, by name)\n' \
	    "$(find "$work/store" -name '*.bson' -printf '%P\n' | sort |
	    (cd "$work/store" && xargs cat) | sha256sum | cut -d' ' -f1)"
fi

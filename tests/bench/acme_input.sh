#!/usr/bin/env bash
# usage: tests/bench/acme_input.sh SIZE
# Prints the path of a generated acme listings file of SIZE (20M, 1G, ...),
# generated once with scripts/gen-data into $MYSIMBDP_BENCH_CACHE (default
# /tmp/mysimbdp-bench-cache) and reused by later runs.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
size=${1:?usage: acme_input.sh SIZE}
cache=${MYSIMBDP_BENCH_CACHE:-/tmp/mysimbdp-bench-cache}
data=$cache/acme-$size.csv
mkdir -p "$cache"
if [ ! -s "$data" ]; then
	echo "generating $data (once; reused by later runs) ..." >&2
	"$src/scripts/gen-data" acme "$size" >"$data.part"
	mv "$data.part" "$data"
fi
echo "$data"

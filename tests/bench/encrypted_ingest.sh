#!/usr/bin/env bash
# The cost of encrypted files (docs/encryption.md): batchmgr ingests the
# same generated acme file twice with acme-listings into the embedded
# store, once in plaintext for one tenant and once encrypted with age for
# another (batch.encryption), and each job's time is taken from its
# ingest record (start to end: for the encrypted file, age decrypting it
# into memory, then the app). Prints both rates and their ratio.
#
# usage: tests/bench/encrypted_ingest.sh [--size SIZE] [--build DIR] [--json]
#   --size SIZE   generated input size, e.g. 20M, 200M (default 200M)
#   --build DIR   build folder (default: build/ of this source tree)
#   --json        one JSON line instead (scripts/bench csv): bytes,
#                 plain_s, encrypted_s
# The input is generated once into $MYSIMBDP_BENCH_CACHE (default
# /tmp/mysimbdp-bench-cache), as tests/bench/csv_ingest.sh does.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
size=200M
build=$src/build
json=0
while [ $# -gt 0 ]; do
	case $1 in
	--size) size=${2:?--size needs a value}; shift ;;
	--build) build=${2:?--build needs a folder}; shift ;;
	--json) json=1 ;;
	-h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "encrypted_ingest: unknown option $1 (see --help)" >&2; exit 64 ;;
	esac
	shift
done

app=$build/tenants/acme/acme-listings
bm=$build/manager/batchmgr
cli=$build/cli/mysimbdp
for p in "$app" "$bm" "$cli"; do
	[ -x "$p" ] || { echo "encrypted_ingest: $p not built (ninja -C $build)" >&2; exit 66; }
done
command -v age >/dev/null || { echo "encrypted_ingest: no age (apt-get install age)" >&2; exit 69; }
data=$("$src/tests/bench/acme_input.sh" "$size")

work=$(mktemp -d /tmp/msb-enc-bench.XXXXXX)
bm_pid=
cleanup() {
	[ -z "$bm_pid" ] || { kill "$bm_pid" 2>/dev/null; wait "$bm_pid" 2>/dev/null || true; }
	rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/conf/tenants" "$work/var"
cat >"$work/conf/mysimbdp.cfg" <<EOF
state_dir = "$work/var";
tenants_dir = "tenants";
apps_dir = "$build";
batch = { workers = 1; settle = "0s"; app_nice = 0; };
EOF
cli() { "$cli" -c "$work/conf/mysimbdp.cfg" "$@"; }
recipient=$(cli keygen --tenant enc --encryption "$work/enc.key" 2>"$work/keygen.err") ||
	{ cat "$work/keygen.err" >&2; exit 1; }
profile() {	# ID [EXTRA]
	cat >"$work/conf/tenants/$1.cfg" <<-EOF
	id = "$1";
	mongo_url = "file://$work/store";
	batch = {
	  formats = ["csv"];
	  max_file_size = "4G";
	  ${2:-}
	  apps = ( { app = ["$app"]; timeout = "1h"; retries = 0; } );
	};
	EOF
}
profile plain
profile enc "encryption = { keys = [\"$work/enc.key\"]; };"
age -r "$recipient" -o "$work/listings.csv.age" "$data"

"$bm" -d -c "$work/conf/mysimbdp.cfg" >"$work/bm.log" 2>&1 &
bm_pid=$!
# until COMMAND: polls (a benchmark's set-up; the figures come from the
# records), for 10 minutes at most.
until_true() {
	local i
	for ((i = 0; i < 6000; i++)); do
		"$@" && return 0
		kill -0 "$bm_pid" 2>/dev/null || { cat "$work/bm.log" >&2; exit 1; }
		sleep 0.1
	done
	echo "encrypted_ingest: timed out waiting for: $*" >&2
	exit 1
}
until_true grep -q "batchmgr: started" "$work/bm.log"

# deliver TENANT NAME FILE: copied in under a hidden name, then renamed.
deliver() {
	local in=$work/var/staging/$1/incoming
	cp "$3" "$in/.$2"
	mv "$in/.$2" "$in/$2"
}
# records N TENANT: the tenant has N outcomes.
records() {
	[ -f "$work/var/log/ingest.jsonl" ] &&
		[ "$(jq -c "select(.tenant == \"$2\")" \
		    "$work/var/log/ingest.jsonl" | wc -l)" -ge "$1" ]
}
job_s() {	# TENANT: seconds, start to end of its record; fails unless ok
	local r
	r=$(jq -c "select(.tenant == \"$1\")" "$work/var/log/ingest.jsonl" | tail -n 1)
	[ "$(jq -r .status <<<"$r")" = ok ] ||
		{ echo "encrypted_ingest: $1: $r" >&2; exit 1; }
	jq -r '.duration_ms / 1000' <<<"$r"
}
# A small file first for each: the app's first start (its libraries,
# the store's folders) is not what is measured.
head -n 100 "$data" >"$work/warm.csv"
age -r "$recipient" -o "$work/warm.csv.age" "$work/warm.csv"
deliver plain warm.csv "$work/warm.csv"
deliver enc warm.csv.age "$work/warm.csv.age"
until_true records 1 plain
until_true records 1 enc
cat "$data" >/dev/null	# the plaintext's read warm, as the encrypted one's
deliver plain listings.csv "$data"
until_true records 2 plain
deliver enc listings.csv.age "$work/listings.csv.age"
until_true records 2 enc
bytes=$(stat -c %s "$data")
plain_s=$(job_s plain)
enc_s=$(job_s enc)
if [ "$json" = 1 ]; then
	printf '{"bytes":%s,"plain_s":%s,"encrypted_s":%s}\n' "$bytes" \
	    "$plain_s" "$enc_s"
	exit 0
fi
awk -v b="$bytes" -v p="$plain_s" -v e="$enc_s" 'BEGIN {
	mb = b / 1048576
	printf "plaintext  %8.3f s  %8.1f MB/s\n", p, mb / p
	printf "encrypted  %8.3f s  %8.1f MB/s   (age into memory, then the app)\n", e, mb / e
	printf "ratio      %.2fx the plaintext rate\n", p / e
}'

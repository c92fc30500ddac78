# shellcheck shell=bash
# scripts/bench mongo: one CSV into one MongoDB server, the platform's
# ways beside pandas + pymongo (docs/benchmarks.md, "CSV into MongoDB").
# Sourced by scripts/bench; mongo_part runs in a subshell.
#
# tests/bench/mongo_load.sh --json, --runs times on the generated acme
# listings file (--csv-size, smaller than the csv part's: FerretDB writes
# about ten thousand documents a second here). mongoimport cannot be had
# (the Go module proxy refuses mongo-tools' versions): said so.

# shellcheck disable=SC2086 # the lists of figures are meant to be split
mongo_part() {
	local k out rc runs=${runs:-$((quick ? 1 : 3))} size=${mongo_size}
	local py app load n_py n_app n_load pys='' apps='' loads=''
	skip mongoimport "the Go module proxy refuses mongo-tools' versions" \
	    "(its tags are not semantic versions): go install cannot fetch it"
	echo "csv into MongoDB: the generated $size acme file into one FerretDB;" \
	    "$runs runs"
	echo
	printf '%-4s %12s %12s %12s %10s\n' run pandas_rows/s app_rows/s \
	    load_rows/s app/pandas
	for ((k = 1; k <= runs; k++)); do
		rc=0
		out=$("$root/tests/bench/mongo_load.sh" --size "$size" \
		    --build "$bdir" --json 2>"$tmp/mongo.err") || rc=$?
		if ((rc == 3)); then
			skip mongo "no Go toolchain to build FerretDB"
			return 0
		fi
		((rc == 0)) || { tail -n 5 "$tmp/mongo.err" >&2; return 1; }
		n_py=$(json_num "$out" py_docs) n_app=$(json_num "$out" app_docs)
		n_load=$(json_num "$out" load_docs)
		py=$(awk -v n="$n_py" -v s="$(json_num "$out" py_s)" \
		    'BEGIN { printf "%.0f", n / s }')
		app=$(awk -v n="$n_app" -v s="$(json_num "$out" app_s)" \
		    'BEGIN { printf "%.0f", n / s }')
		load=$(awk -v n="$n_load" -v s="$(json_num "$out" load_s)" \
		    'BEGIN { printf "%.0f", n / s }')
		record mongo.pandas_rows_s "$py"
		record mongo.app_rows_s "$app"
		record mongo.load_rows_s "$load"
		pys+=" $py" apps+=" $app" loads+=" $load"
		printf '%-4s %12s %12s %12s %10s\n' "m$k" "$py" "$app" "$load" \
		    "$(awk -v a="$app" -v p="$py" 'BEGIN { printf "%.2fx", a / p }')"
	done
	note mongo.server "$(sed -n 's/.*"server":"\([^"]*\)".*/\1/p' <<<"$out")"
	note mongo.docs "pandas $n_py, app $n_app, load $n_load documents" \
	    "(pandas keeps the malformed rows; the app and load check them)"
	echo
	echo "summary: medians of $runs runs: pandas+pymongo $(median $pys)" \
	    "rows/s, acme-listings $(median $apps), mysimbdp load" \
	    "$(median $loads); documents: pandas $n_py, app $n_app, load $n_load"
	warn_busy
}

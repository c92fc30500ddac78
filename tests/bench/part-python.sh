# shellcheck shell=bash
# scripts/bench python: the Python package (clientlib/python) beside the
# C library it binds (docs/benchmarks.md, "Python tenants"). Sourced by
# scripts/bench; python_part runs in a subshell.
#
# Producer: --messages messages of 100 bytes to a memory stream served
# by one streamnoop, window --window, every reply OK. The goal's figure
# is the steady rate, first send to the last reply: libmysimbdp's
# producer (streambench produce's ok_rate; `mysimbdp send` is that
# producer) against tests/bench/pysend.py (the package's Producer, timed
# inside). Beside it, a user's view: `mysimbdp send --file` and pysend.py
# timed from process start to exit (the interpreter's start included).
# Consumer: the same number of messages sent by streambench produce to a
# memory stream served by one instance of streamnoop (C) or of
# tests/bench/pynoop.py (the package's Stream, acking every batch, its
# batch loops in C where the build has _mysimbdp_batch, as it says); the
# figure is streambench's rate: first send to every message acked.

python_part() {
	local k d out t0 c_s py_s rate runs=${runs:-$((quick ? 2 : 3))}
	local n=$messages csend='' pysend='' cnoop='' pynoop='' app
	local cprod pyprod loops
	local py=$bdir/clientlib/python/mysimbdp-python
	if ! "$py" -c 'import bson' 2>/dev/null; then
		skip python "no Python with the bson module (apt-get install" \
		    "python3-bson)"
		return 0
	fi
	on_cleanup stream_cleanup
	d=$(short_dir python)
	ingress=ipc://$d/state/run/bench/default.in
	ctl=ipc://$d/state/run/streammgr.ctl
	awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "%099d\n", i }' \
	    >"$d/msgs"
	# The package's batch loops: in C (_mysimbdp_batch) or in Python.
	loops=$("$py" -c 'import mysimbdp.stream as s
print("C (_mysimbdp_batch)" if s._batch else "Python (no _mysimbdp_batch)")')
	note python.setup "$n messages of 100 bytes, window $window, memory" \
	    "durability, one instance; $runs runs; batch loops in $loops"
	echo "Python package beside the C library: $n messages of 100 bytes," \
	    "window $window, $runs runs; the package's batch loops in $loops"
	echo
	printf '%-4s %12s %12s %12s %12s %12s %12s\n' run C_prod/s py_prod/s \
	    C_send_cmd/s py_send_cmd/s C_noop/s py_noop/s
	for ((k = 1; k <= runs; k++)); do
		rm -rf "$d/state"
		stream_conf "$d" 1 memory
		sm_start "$d" 1
		out=$(timeout "$((60 + n / 1000))" "$STREAMBENCH" produce \
		    "$ingress" "$n" 100 "$window" "$ctl" bench) ||
		    die "streambench produce failed (log: $sm_log)"
		cprod=$(json_num "$out" ok_rate)
		t0=$(now_ms)
		out=$("$py" "$root/tests/bench/pysend.py" "$ingress" "$d/msgs" \
		    "$window") || die "pysend failed: $out"
		py_s=$(( $(now_ms) - t0 ))
		pyprod=$(awk -v n="$n" -v s="$(json_num "$out" seconds)" \
		    'BEGIN { printf "%.0f", n / s }')
		t0=$(now_ms)
		"$CLIBIN" -c "$d/mysimbdp.cfg" send bench --file "$d/msgs" \
		    --window "$window" --no-progress >"$d/send.out" 2>&1 ||
		    die "mysimbdp send failed: $(tail -n 3 "$d/send.out")"
		c_s=$(( $(now_ms) - t0 ))
		sm_stop
		csend=$(awk -v n="$n" -v ms="$c_s" 'BEGIN { printf "%.0f", n * 1000 / ms }')
		pysend=$(awk -v n="$n" -v ms="$py_s" 'BEGIN { printf "%.0f", n * 1000 / ms }')
		record python.c_prod_rate "$cprod"
		record python.py_prod_rate "$pyprod"
		record python.c_send_rate "$csend"
		record python.py_send_rate "$pysend"
		for app in c py; do
			rm -rf "$d/state"
			if [[ $app == c ]]; then
				stream_conf "$d" 1 memory
			else
				stream_conf "$d" 1 memory \
				    "\"$py\", \"$root/tests/bench/pynoop.py\""
			fi
			sm_start "$d" 1
			out=$(timeout "$((60 + n / 1000))" "$STREAMBENCH" produce \
			    "$ingress" "$n" 100 "$window" "$ctl" bench) ||
			    die "produce to the $app no-op app failed (log: $sm_log)"
			rate=$(json_num "$out" rate)
			record "python.${app}_noop_rate" "$rate"
			[[ $app == c ]] && cnoop=$rate || pynoop=$rate
			sm_stop
		done
		printf '%-4s %12s %12s %12s %12s %12s %12s\n' "p$k" "$cprod" \
		    "$pyprod" "$csend" "$pysend" "$cnoop" "$pynoop"
	done
	echo
	echo "msgs/s: prod: messages / (first send to the last reply);" \
	    "send_cmd: messages / (process start to exit, every reply in);"
	echo "noop: messages / (first send to every message acked)"
	warn_busy
}

# shellcheck shell=bash
# Shared by scripts/bench and its parts (tests/bench/part-*.sh), sourced,
# never run. Processes, clean-up, waits, statistics and the results file.
#
# Every process a part starts is tracked by pid (track, start_ready) and
# stopped by stop_all when the part ends, fails or is interrupted; parts
# with servers of their own register a clean-up function (on_cleanup).
# Every wait is bounded.

pids=()		# what we run, stopped newest first
copiers=()	# cats copying their stderr; they end when those have gone
cleanups=()	# functions run (newest first) before stop_all at the end

die() {
	echo "bench: $*" >&2
	exit 1
}

track() { pids+=("$1"); }
on_cleanup() { cleanups+=("$1"); }

# Stops one pid we started: SIGTERM, up to 5 s, then SIGKILL; then reaps it.
stop_pid() {
	local pid=$1 i
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || true
}

# Stops every tracked pid, newest first, then the stderr copiers (which
# have normally seen EOF by then), and forgets them.
stop_all() {
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		stop_pid "${pids[i]}"
	done
	for ((i = 0; i < ${#copiers[@]}; i++)); do
		stop_pid "${copiers[i]}"
	done
	pids=() copiers=()
}

# part_exit: the EXIT trap of a part's subshell: its own clean-ups first
# (a server is stopped its own way before its pid gets SIGTERM), then
# every tracked process.
part_exit() {
	local rc=$? i
	trap - EXIT
	for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do
		"${cleanups[i]}" || true
	done
	stop_all
	exit "$rc"
}

# run_part NAME FUNC KIND: runs FUNC in a subshell that cleans up after
# itself whatever happens; returns its status. Its figures reach the main
# shell through the results file, never through variables. KIND: ours or
# ref (a reference), for the report.
run_part() {
	local name=$1 func=$2 kind=$3 t0 rc=0
	t0=$(now_ms)
	(
		trap part_exit EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM
		"$func"
	) || rc=$?
	printf 'part %s %s %s %s\n' "$name" "$rc" "$(($(now_ms) - t0))" "$kind" \
	    >>"$results"
	# Interrupted: the subshell cleaned up and exited by its trap, so
	# this shell, which waited for it, saw no signal of its own.
	if ((rc == 130 || rc == 143)); then
		exit "$rc"
	fi
	return "$rc"
}

# --- the results file ----------------------------------------------------------

# record KEY VALUE...: files one run's figure (or several) under KEY;
# scripts/bench gathers every KEY's values at the end.
record() {
	local key=$1
	shift
	printf 'value %s %s\n' "$key" "$*" >>"$results"
}

# note KEY TEXT: a fact about the run (a version, a setting, a finding).
note() {
	local key=$1
	shift
	printf 'note %s %s\n' "$key" "$*" >>"$results"
}

# skip PART REASON: a reference that could not run, and why.
skip() {
	local part=$1
	shift
	echo "bench: $part: skipped: $*" >&2
	printf 'skip %s %s\n' "$part" "$*" >>"$results"
}

# --- clocks, waits and processes -------------------------------------------------

# now_ms: wall clock in ms, from the shell's own clock (no fork).
now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# await_line FD REGEX TIMEOUT_S COPY: reads lines from FD (a FIFO on a
# starting process's stderr), appending them to COPY, until one matches
# REGEX. Fails on EOF (the process died) or after TIMEOUT_S seconds.
await_line() {
	local fd=$1 re=$2 timeout=$3 copy=$4 line left end i
	end=$(($(now_ms) + timeout * 1000))
	for ((i = 0; i < 100000; i++)); do
		left=$((end - $(now_ms)))
		((left > 0)) || return 1
		IFS= read -r -t "$((left / 1000)).$((left % 1000 + 1000))" \
		    -u "$fd" line || return 1
		printf '%s\n' "$line" >>"$copy"
		[[ $line =~ $re ]] && return 0
	done
	return 1
}

# start_ready VAR REGEX LOG OUT CMD...: starts CMD in the background with
# stdout to OUT and stderr on a FIFO, waits (up to start_timeout, 30 s
# unless set) for a stderr line matching REGEX (the readiness event), then
# leaves a cat copying the rest of stderr to LOG. The pid goes into VAR.
start_ready() {
	local var=$1 re=$2 log=$3 out=$4 fifo pid fd
	shift 4
	fifo=$(mktemp -u "$tmp/stderr.XXXXXX")
	mkfifo "$fifo"
	"$@" >"$out" 2>"$fifo" &
	pid=$!
	track "$pid"
	printf -v "$var" '%s' "$pid"
	exec {fd}<"$fifo"
	rm -f "$fifo"
	if ! await_line "$fd" "$re" "${start_timeout:-30}" "$log"; then
		exec {fd}<&-
		tail -n 20 "$log" >&2 || true
		die "$1 did not become ready (no line matching /$re/ on stderr)"
	fi
	# The copier ends by itself at EOF, when CMD has gone.
	cat <&"$fd" >>"$log" &
	copiers+=("$!")
	exec {fd}<&-
}

# await_exit PID SECONDS WHAT: waits for PID (a child of this shell) to
# exit; dies when it is still there after SECONDS or exited non-zero.
await_exit() {
	local pid=$1 secs=$2 what=$3 rc=0 i
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null &&
	    die "$what (pid $pid) still running $secs s after SIGTERM"
	wait "$pid" || rc=$?
	((rc == 0)) || die "$what exited $rc after SIGTERM"
}

# children PID: the pids of PID's children (all its threads), one line.
children() {
	local t kids=() k
	for t in /proc/"$1"/task/*/children; do
		[[ -r $t ]] || continue
		# The list has no newline at its end: read says EOF.
		k=()
		read -r -a k 2>/dev/null <"$t" || true
		kids+=("${k[@]}")
	done
	echo "${kids[*]}"
}

# CPU accounting from /proc/stat (all CPUs), read without forking.
cpu_mark() {
	local _c user nice sys idle iow irq sirq steal _rest
	read -r _c user nice sys idle iow irq sirq steal _rest </proc/stat
	cpu_busy0=$((user + nice + sys + irq + sirq))
	cpu_steal0=$steal
	cpu_total0=$((user + nice + sys + idle + iow + irq + sirq + steal))
}

# cpu_since: "busy% steal%" of all CPUs since cpu_mark.
cpu_since() {
	local _c user nice sys idle iow irq sirq steal _rest total
	read -r _c user nice sys idle iow irq sirq steal _rest </proc/stat
	total=$((user + nice + sys + idle + iow + irq + sirq + steal - cpu_total0))
	((total > 0)) || total=1
	echo "$(((user + nice + sys + irq + sirq - cpu_busy0) * 100 / total))" \
	    "$(((steal - cpu_steal0) * 100 / total))"
}

# ticks PID...: user + system CPU ticks of the processes (0 for one gone).
# /proc/PID/stat counts every thread of the process.
ticks() {
	local pid f sum=0
	for pid in "$@"; do
		read -r -a f <"/proc/$pid/stat" 2>/dev/null || continue
		sum=$((sum + f[13] + f[14]))
	done
	echo "$sum"
}

# rq_wait_ns PID: nanoseconds PID's main thread has spent runnable but
# waiting for a CPU (/proc/PID/schedstat's second field; 0 when gone).
rq_wait_ns() {
	local _run wait=0 _slices
	read -r _run wait _slices <"/proc/$1/schedstat" 2>/dev/null || true
	echo "${wait:-0}"
}

# us_per_msg TICKS COUNT: CPU clock ticks (1/100 s) as microseconds per
# message.
us_per_msg() {
	awk -v t="$1" -v n="$2" 'BEGIN { printf "%.2f", t * 10000 / n }'
}

# mem PID: "VmRSS VmHWM fds threads" of PID, sizes in kB.
mem() {
	local k v _u rss=0 hwm=0 thr=0 fds
	while read -r k v _u; do
		case $k in
		VmRSS:) rss=$v ;;
		VmHWM:) hwm=$v ;;
		Threads:) thr=$v ;;
		esac
	done <"/proc/$1/status"
	fds=$(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	echo "$rss $hwm $fds $thr"
}

# mem_settled PID [SAME]: mem of PID once its VmRSS has not changed over
# SAME samples 100 ms apart (default 5; at most 100 + SAME samples):
# start-up is over.
mem_settled() {
	local pid=$1 want=${2:-5} last='' same=0 i m
	for ((i = 0; i < 100 + want && same < want; i++)); do
		m=$(mem "$pid")
		if [[ ${m%% *} == "$last" ]]; then
			same=$((same + 1))
		else
			same=0 last=${m%% *}
		fi
		sleep 0.1
	done
	echo "$m"
}

# kb_to_mb KB: megabytes (MiB), one decimal.
kb_to_mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# --- statistics --------------------------------------------------------------------

# median V...: the median of numbers (mean of the middle two when even).
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
	    END { if (NR % 2) print v[(NR + 1) / 2]
		  else printf "%.10g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# minmax V...: "min-max".
minmax() {
	printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 }
	    END { printf "%s-%s", lo, hi }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# json_num JSON KEY: the number KEY holds in a one-line JSON object.
json_num() {
	[[ $1 =~ \"$2\":([-0-9.]+) ]] || die "no $2 in: $1"
	echo "${BASH_REMATCH[1]}"
}

# us_to_ms JSON KEY: the microseconds under KEY, in ms.
us_to_ms() {
	awk -v v="$(json_num "$1" "$2")" 'BEGIN { printf "%.2f", v / 1000 }'
}

# warn_busy: a line when the machine was busy before the run.
warn_busy() {
	if ((idle_busy + idle_steal > 10)); then
		echo "warning: the machine was not idle before the run" \
		    "(${idle_busy}% busy, ${idle_steal}% stolen); the figures are noisy"
	fi
}

# --- TCP ports on loopback -----------------------------------------------------------

# listening PORT: something listens on 127.0.0.1 or anywhere on TCP PORT.
listening() {
	local hex
	printf -v hex ':%04X' "$1"
	awk -v h="$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == h \
	    { found = 1 } END { exit !found }' /proc/net/tcp /proc/net/tcp6 \
	    2>/dev/null
}

# free_ports N: N distinct TCP ports in 20000-52767 that nothing listens
# on, chosen at random (a race with other programs is possible but
# unlikely; start-up then fails and says so).
free_ports() {
	local n=$1 got=() p i
	for ((i = 0; i < 200 && ${#got[@]} < n; i++)); do
		p=$((20000 + RANDOM))
		[[ " ${got[*]} " == *" $p "* ]] && continue
		listening "$p" || got+=("$p")
	done
	((${#got[@]} == n)) || die "no $n free TCP ports"
	echo "${got[*]}"
}

# short_dir NAME: a scratch folder for a part whose ipc paths must fit
# sun_path (107 bytes): under $tmp when that is short enough, else a
# mktemp -d in /tmp (removed with the scratch directory).
short_dir() {
	local d=$tmp/$1
	if ((${#d} + 48 > 107)); then
		d=$(mktemp -d "/tmp/mb-$1.XXXXXX")
		echo "$d" >>"$tmp/extra-dirs"
	else
		mkdir -p "$d"
	fi
	echo "$d"
}

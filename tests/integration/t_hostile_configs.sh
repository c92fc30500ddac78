#!/usr/bin/env bash
# The bad configuration files of tests/hostile/configs (and the binary,
# deep and big ones make-generated.sh writes): every daemon and
# check-config refuse them with exit 78 and the "file:line: problem"
# lines of expected.tsv; a running daemon given them on SIGHUP logs the
# same lines, keeps serving the good tenant, answers status and exits
# cleanly (under ASan: without a leak).
. "$(dirname "$0")/lib.sh"
CORPUS=$MYSIMBDP_SRC/tests/hostile/configs
. "$CORPUS/make-generated.sh"

platform
stream_tenant good
sed -i 's/^id = "good";/&\nbatch = { formats = ["csv"]; apps = ( { app = ["exit-with", "0"]; } ); };/' \
	"$T/conf/tenants/good.cfg"
mkdir -p "$T/bad"
cp "$CORPUS"/tenants/*.cfg "$T/bad/"
make_generated "$T/bad"

# expected KIND DIR: the lines expected.tsv gives for tenants/ and
# generated/ (KIND tenants) or platform/ files, as found in DIR.
expected() {
	local file where problem
	while IFS=$'\t' read -r file where problem; do
		case $file in '#'*|'') continue ;; esac
		case $1:$file in
		tenants:tenants/*|tenants:generated/*) ;;
		platform:platform/*) ;;
		*) continue ;;
		esac
		problem=$(printf '%b' "$problem")
		case $where in
		-) echo "$2/${file#*/}: $problem" ;;
		[0-9]*) echo "$2/${file#*/}:$where: $problem" ;;
		*) echo "$where: $problem" ;;
		esac
	done <"$CORPUS/expected.tsv"
}

# has_all OUTPUT_FILE: every expected line (read on stdin) is in it.
has_all() {
	local line missing=0
	while IFS= read -r line; do
		grep -qF -- "$line" "$1" || { echo "missing: $line" >&2; missing=1; }
	done
	return $missing
}

rc=0
"$CLI" check-config "$T/bad" >"$T/out/cc" 2>&1 || rc=$?
assert_eq 78 $rc "check-config of the bad folder exits 78"
expected tenants "$T/bad" | has_all "$T/out/cc" || fail "check-config: $(head -c 3000 "$T/out/cc")"
ok "check-config names file, line and problem for each of $(expected tenants "$T/bad" | wc -l)"

cp "$T/conf/mysimbdp.cfg" "$T/out/good-platform.cfg"
sed -i "s|^tenants_dir = .*|tenants_dir = \"$T/bad\";|" "$T/conf/mysimbdp.cfg"
for d in "$BATCHMGR" "$STREAMMGR" "$MONITOR"; do
	rc=0
	"$d" -d -c "$T/conf/mysimbdp.cfg" >"$T/out/d" 2>&1 || rc=$?
	assert_eq 78 $rc "$(basename "$d") refuses to start on them"
	expected tenants "$T/bad" | has_all "$T/out/d" || fail "$(basename "$d"): $(head -c 3000 "$T/out/d")"
done
ok "every daemon lists every error"
cp "$T/out/good-platform.cfg" "$T/conf/mysimbdp.cfg"

for f in "$CORPUS"/platform/*.cfg; do
	rc=0
	"$BATCHMGR" -n -c "$f" >"$T/out/p" 2>&1 || rc=$?
	assert_eq 78 $rc "platform/$(basename "$f") refused"
	expected platform "$CORPUS/platform" | grep -F "/$(basename "$f"):" |
		has_all "$T/out/p" || fail "$(cat "$T/out/p")"
done

# Live: the bad files arrive in a running platform's tenants folder, then
# a bad platform file; each daemon logs the errors and goes on.
start_daemon monitor
start_daemon streammgr
start_daemon batchmgr
wait_for 20 "good's instance" ready_is good 1
cp "$T/bad"/*.cfg "$T/conf/tenants/"
for pid in "$BM_PID" "$SM_PID" "$MON_PID"; do kill -HUP "$pid"; done
for log in "$BM_LOG" "$SM_LOG" "$MON_LOG"; do
	wait_for 20 "$(basename "$log") to log the reload" grep -qF "wrongid.cfg:1: id:" "$log"
	expected tenants "$T/conf/tenants" | has_all "$log" || fail "$(basename "$log") misses errors"
done
ok "on SIGHUP each daemon logs every error"
echo 'colour = "blue";' >>"$T/conf/mysimbdp.cfg"
from_bm=$(wc -l <"$BM_LOG")
for pid in "$BM_PID" "$SM_PID" "$MON_PID"; do kill -HUP "$pid"; done
wait_for 20 "batchmgr to refuse the platform file" bm_log_after "$from_bm" "mysimbdp.cfg:[0-9]*: colour: unknown setting"
wait_for 20 "streammgr too" grep -q "mysimbdp.cfg:[0-9]*: colour: unknown setting" "$SM_LOG"
wait_for 20 "monitor too" grep -q "mysimbdp.cfg:[0-9]*: colour: unknown setting" "$MON_LOG"
ok "a bad platform file on SIGHUP is logged and changes nothing"
cp "$T/out/good-platform.cfg" "$T/conf/mysimbdp.cfg"

drop good g.csv
wait_for 20 "good's file" have_records 1 good ok
send_keys good 1 5 >/dev/null || fail "good's stream refuses messages"
wait_for 20 "good's acks" acked_at_least good 5
cli status good >/dev/null || fail "status does not answer"
ok "the good tenant is served all along; status answers"
stop_daemon batchmgr
stop_daemon streammgr
stop_daemon monitor
ok "every daemon exits cleanly"

#!/usr/bin/env bash
# A broken configuration stops the daemon with exit 78 and names file,
# line and setting; check-config reports every error at once.
. "$(dirname "$0")/lib.sh"

platform
simple_tenant good '"exit-with", "0"'
tenant bad <<'CFG'
id = "bad";
batch = {
  formats = ["csv"];
  max_file_size = "10 furlongs";
  colour = "blue";
  apps = ( { app = ["x"]; timeout = 30; retries = -1; } );
};
CFG

rc=0
"$BATCHMGR" -d -c "$T/conf/mysimbdp.cfg" >"$T/out/bm" 2>&1 || rc=$?
assert_eq 78 "$rc" "batchmgr exits 78 (EX_CONFIG)"
cfg=$T/conf/tenants/bad.cfg
grep -qF "$cfg:4: batch.max_file_size: \"10 furlongs\"" "$T/out/bm" || fail "no size error: $(cat "$T/out/bm")"
grep -qF "$cfg:5: batch.colour: unknown setting" "$T/out/bm" || fail "no unknown-setting error"
grep -qF "$cfg:6: batch.apps[0].timeout: must be a duration" "$T/out/bm" || fail "no type error"
grep -qF "$cfg:6: batch.apps[0].retries: out of range" "$T/out/bm" || fail "no range error"
ok "every error names file:line: setting"
[ ! -d "$VAR/staging" ] || fail "nothing is created when the configuration is broken"

rc=0
"$CLI" -c "$T/conf/mysimbdp.cfg" check-config >"$T/out/cc" 2>&1 || rc=$?
assert_eq 78 "$rc" "check-config exits 78"
assert_eq 4 "$(grep -c "^$cfg:" "$T/out/cc")" "check-config lists all 4 errors"
rc=0
"$CLI" check-config "$cfg" >/dev/null 2>&1 || rc=$?
assert_eq 78 "$rc" "check-config of one tenant file"

# A syntax error names its line too; a bad tenant id and a mismatched
# file name are refused.
printf 'id = "bad";\nbatch = {\n formats = ["csv";\n apps = ();\n};\n' >"$cfg"
# check CONTENT PATTERN: check-config of that tenant file prints PATTERN.
check() {
	printf "$1" >"$cfg"
	local out
	out=$("$CLI" check-config "$cfg" 2>&1) && fail "check-config passed: $1"
	grep -qF -- "$2" <<<"$out" || fail "expected '$2', got: $out"
}
check 'id = "bad";\nbatch = {\n formats = ["csv";\n apps = ();\n};\n' "$cfg:3: syntax error"
check 'id = "Not Valid";\n' "$cfg:1: id: \"Not Valid\": must be"
check 'id = "other";\n' "$cfg:1: id: \"other\" does not match the file name"
ok "syntax errors, bad ids and mismatched names are reported"
# An instance could never say HELLO in time.
check 'id = "bad";\nstreams = ( { app = ["x"];\n  start_timeout = "0s"; } );\n' \
	"$cfg:3: streams[0].start_timeout: out of range (100ms to 1d)"
ok "a stream's start_timeout out of range is reported"

rm "$cfg"
out=$("$CLI" -c "$T/conf/mysimbdp.cfg" check-config)
assert_eq "configuration OK" "$out" "a valid configuration passes"

# An app that is not there, or not executable, loads (it may be installed
# later) but cannot start: a warning naming file, line and setting.
tenant noapp <<'CFG'
id = "noapp";
batch = {
  formats = ["csv"];
  apps = ( { app = ["no-such-app"]; } );
};
streams = (
  { app = ["bsoncount.c"]; }
);
CFG
rc=0
out=$("$CLI" -c "$T/conf/mysimbdp.cfg" check-config 2>"$T/out/warn") || rc=$?
assert_eq "0 configuration OK" "$rc $out" "warnings do not fail the check"
w=$T/conf/tenants/noapp.cfg
grep -qF "warning: $w:4: batch.apps[0].app: $APPS/no-such-app: No such file or directory: the app cannot start" "$T/out/warn" ||
	fail "missing app: $(cat "$T/out/warn")"
grep -qF "warning: $w:7: streams[0].app: $APPS/bsoncount.c: not an executable file: the app cannot start" "$T/out/warn" ||
	fail "not executable: $(cat "$T/out/warn")"
out=$("$CLI" -c "$T/conf/mysimbdp.cfg" check-config --json)
assert_eq "true 0 2" "$(jq -r '"\(.valid) \(.errors | length) \(.warnings | length)"' <<<"$out")" \
	"--json lists the warnings"
ok "an app that cannot start is a warning with file:line: setting"
rm "$w"
out=$("$BATCHMGR" -n -c "$T/conf/mysimbdp.cfg")
assert_eq "configuration OK" "$out" "batchmgr -n agrees"

# Platform errors are fatal too.
echo 'log_level = "loud";' >>"$T/conf/mysimbdp.cfg"
rc=0
"$BATCHMGR" -d -c "$T/conf/mysimbdp.cfg" >"$T/out/bm" 2>&1 || rc=$?
assert_eq 78 "$rc" "platform error exits 78"
grep -qE "mysimbdp.cfg:[0-9]+: log_level: \"loud\"" "$T/out/bm" || fail "platform error location: $(cat "$T/out/bm")"
ok "platform file errors name file and line"

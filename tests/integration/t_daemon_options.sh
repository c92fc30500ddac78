#!/usr/bin/env bash
# The daemons' command lines: --help and --version (and -h, -V) print to
# stdout and exit 0, an unknown option or a stray argument exits 64 with
# the usage on stderr, -n checks a configuration. The version is the one
# the CLI reports (one MYSIMBDP_VERSION for all).
. "$(dirname "$0")/lib.sh"

platform
version=$("$CLI" --version | awk '{ print $2 }')
[ -n "$version" ] || fail "mysimbdp --version printed no version"
for d in "$BATCHMGR" "$STREAMMGR" "$MONITOR"; do
	name=${d##*/}
	for h in --help -h; do
		out=$("$d" "$h") || fail "$name $h exited $?"
		grep -q "^usage: $name " <<<"$out" || fail "$name $h: no usage on stdout: $out"
		grep -q -- "--version" <<<"$out" || fail "$name $h does not mention --version"
	done
	for v in --version -V; do
		assert_eq "$name $version" "$("$d" "$v")" "$name $v"
	done
	rc=0; "$d" --no-such-option >"$T/stdout" 2>"$T/stderr" || rc=$?
	assert_eq 64 "$rc" "$name --no-such-option exits 64 (EX_USAGE)"
	grep -q "^usage: $name " "$T/stderr" || fail "$name: no usage on stderr for a bad option"
	[ ! -s "$T/stdout" ] || fail "$name: a bad option printed to stdout"
	rc=0; "$d" -c "$T/conf/mysimbdp.cfg" stray >/dev/null 2>&1 || rc=$?
	assert_eq 64 "$rc" "$name with a stray argument exits 64"
	assert_eq "configuration OK" "$("$d" --config "$T/conf/mysimbdp.cfg" --check)" "$name --config FILE --check"
done

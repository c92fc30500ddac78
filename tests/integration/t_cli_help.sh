#!/usr/bin/env bash
# Every mysimbdp command answers --help and --version wherever they stand
# among its arguments (stdout, exit 0, nothing on stderr), and an unknown
# option or a missing option value exits 64 (EX_USAGE) with the command's
# usage on stderr. No daemon is needed: help and usage come first.
. "$(dirname "$0")/lib.sh"

platform
CFG=$T/conf/mysimbdp.cfg
VERSION=$("$CLI" --version)
[[ $VERSION =~ ^mysimbdp\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "mysimbdp --version: $VERSION"
ok "mysimbdp --version: $VERSION"

# run EXPECTED-RC WHAT ARGS...: keeps stdout and stderr in $out and $err.
run() {
	local want=$1 what=$2 rc=0
	shift 2
	"$CLI" -c "$CFG" "$@" </dev/null >"$T/stdout" 2>"$T/stderr" || rc=$?
	out=$(cat "$T/stdout")
	err=$(cat "$T/stderr")
	[ "$rc" = "$want" ] || fail "$what: expected exit $want, got $rc (stdout: $out; stderr: $err)"
}

# The commands, as the top-level help lists them.
run 0 "mysimbdp --help" --help
mapfile -t commands < <(sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' <<<"$out" | grep -v '^-')
assert_eq "check-config status stats retry load send keygen start stop drain scale dead-letters sshd-config sshd-jail move control" \
	"${commands[*]}" "the commands listed by mysimbdp --help"

# Arguments that make each command valid up to its options, so --help and
# --version are tried after them as well as alone.
declare -A args=(
	[check-config]="$CFG" [status]="acme" [stats]="" [retry]="acme a.csv"
	[load]="--collection c x.csv" [send]="acme" [keygen]="$T/k" [start]="acme"
	[stop]="acme" [drain]="acme" [scale]="acme 2"
	[dead-letters]="acme" [move]="acme --to n2" [sshd-config]="acme" [sshd-jail]="acme" [control]='{}'
)
for c in "${commands[@]}"; do
	# shellcheck disable=SC2086
	for pos in "$c --help" "$c ${args[$c]} --help" "$c -h"; do
		run 0 "$pos" $pos
		grep -q "^usage: mysimbdp $c " <<<"$out" || fail "$pos: no usage line: $out"
		grep -q "^Exit status: 0 " <<<"$out" || fail "$pos: no exit statuses: $out"
		grep -q -- "--version" <<<"$out" || fail "$pos: --version not listed: $out"
		assert_eq "" "$err" "$pos: nothing on stderr"
	done
	for pos in "$c --version" "$c ${args[$c]} --version" "$c -V"; do
		# shellcheck disable=SC2086
		run 0 "$pos" $pos
		assert_eq "$VERSION" "$out" "$pos: the version"
	done
	# An option no command has, and one whose value is missing.
	# shellcheck disable=SC2086
	run 64 "$c --no-such-option" $c ${args[$c]} --no-such-option
	grep -q "^mysimbdp $c: bad option \"--no-such-option\"" <<<"$err" || fail "$c: no reason: $err"
	grep -q "^usage: mysimbdp $c " <<<"$err" || fail "$c: no usage on stderr: $err"
	assert_eq "" "$out" "$c --no-such-option: nothing on stdout"
	# shellcheck disable=SC2086
	run 64 "$c -Z" $c ${args[$c]} -Z
	ok "$c: --help, --version (alone and after arguments), bad options exit 64"
done

# Options missing their value, per command that has them.
for pos in "status --timeout" "stats --since" "send acme --rate" "send acme --node" \
	"scale acme 2 --reason" "load --collection" "dead-letters acme --id" \
	"control --daemon"; do
	# shellcheck disable=SC2086
	run 64 "$pos (no value)" $pos
	grep -q "bad option \"${pos##* }\"" <<<"$err" || fail "$pos: $err"
done
ok "an option without its value exits 64 and is named"

# Usage errors of the arguments themselves.
run 64 "no command"
run 64 "an unknown command" frobnicate
grep -q 'unknown command "frobnicate"' <<<"$err" || fail "unknown command: $err"
run 64 "a global option unknown" --frob status
run 64 "retry without a file" retry acme
run 64 "load without --collection" load x.csv
run 64 "check-config with two paths" check-config a b
run 64 "stats with an argument" stats acme
run 64 "stats --tenant not an id" stats --tenant ../x
run 64 "control --daemon of no such daemon" control --daemon monitor '{}'
ok "usage errors exit 64"

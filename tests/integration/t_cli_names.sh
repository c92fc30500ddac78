#!/usr/bin/env bash
# Every command refuses, with exit 64 and one clear line, a tenant id,
# stream name, dataset or file name that could leave its folder or is not
# a name at all; the line shows the name escaped (no raw newline or
# non-UTF-8 byte from the command line reaches the terminal) and cut when
# long. Nothing in the state folder moves. The daemons' control requests
# with such names are in t_hostile_control.sh.
. "$(dirname "$0")/lib.sh"

platform
simple_tenant acme '"exit-with", "0"'
mkdir -p "$VAR/staging/acme/failed" "$VAR/staging/acme/incoming"
echo keep >"$VAR/staging/acme/failed/f.csv"
echo outside >"$T/outside.csv"

long=$(printf 'a%.0s' $(seq 1 300))
bad_names=('../x' 'a/b' '.' '..' '' $'a\nb' "$long" $'a\xffb' 'A' 'a b' '/etc' 'x/../y')

# refused WHAT ARGS...: the command exits 64 with exactly one line naming
# the problem, free of raw control and non-ASCII bytes.
refused() {
	local what=$1 rc=0 out
	shift
	out=$(cli "$@" 2>&1 </dev/null) || rc=$?
	[ $rc -eq 64 ] || fail "$what: exit $rc, not 64: $out"
	[ "$(wc -l <<<"$out")" -eq 1 ] || fail "$what: not one line: $out"
	grep -q "is not a" <<<"$out" || fail "$what: unclear: $out"
	LC_ALL=C grep -q '[^ -~]' <<<"$out" && fail "$what: raw bytes in: $out"
	return 0
}

n=0
for name in "${bad_names[@]}"; do
	for cmd in status start stop drain send dead-letters; do
		refused "$cmd tenant $(printf %q "$name")" "$cmd" -- "$name"
		refused "$cmd --stream $(printf %q "$name")" "$cmd" acme --stream "$name"
		n=$(( n + 2 ))
	done
	refused "send --cluster tenant" send --cluster -- "$name"
	refused "scale tenant" scale -- "$name" 2
	refused "scale --stream" scale acme 2 --stream "$name"
	refused "stats --tenant" stats --tenant "$name"
	refused "retry tenant" retry -- "$name" f.csv
	n=$(( n + 5 ))
done
ok "$n tenant ids and stream names refused by every command that takes one"

# retry's FILE is [DATASET/]NAME inside failed/: no other folder, no
# dataset that is not an id, no name the file system could not hold.
for file in '../x' '../../outside.csv' "../../../../$T/outside.csv" \
	'/etc/passwd' 'a/b/c' 'x/../f.csv' '.' '..' '' 'ds/' 'ds/..' \
	'BAD/f.csv' "$long" "$long/f.csv" "ds/$long"; do
	refused "retry $(printf %q "$file")" retry acme "$file"
	n=$(( n + 1 ))
done
ok "retry refuses file names outside failed/"
out=$(cli status $'\n\xff' 2>&1) || true
assert_eq 'mysimbdp status: "\x0a\xff" is not a tenant id (1 to 32 characters from a-z, 0-9, '"'_' and '-')" \
	"$out" "the name is shown escaped"
out=$(cli status "$long" 2>&1) || true
[ "${#out}" -lt 200 ] || fail "a long name floods the message: $out"
ok "a long name is cut in the message"

# A leading dash is an option, never a name; after -- it is a valid id
# (the id syntax allows '-') and names no folder outside staging/.
rc=0; out=$(cli status -rf 2>&1) || rc=$?
assert_eq 64 $rc "status -rf is a bad option"
grep -q 'bad option "-r"' <<<"$out" || fail "unclear: $out"

assert_eq keep "$(cat "$VAR/staging/acme/failed/f.csv")" "failed/f.csv untouched"
assert_eq outside "$(cat "$T/outside.csv")" "the file outside untouched"
assert_eq 0 "$(find "$VAR/staging/acme/incoming" -mindepth 1 | wc -l)" "nothing moved into incoming/"

#!/usr/bin/env bash
# docs/configuration.md against the code: every setting the loader's
# tables know (common/conf.c, printed by tests/apps/confschema) is
# documented, and every documented setting exists; for each, the type
# column names the code's type, "required" is said exactly of the
# required ones, and a literal default ("5s", 4, true) is the code's. The
# two example files of its last section pass `mysimbdp check-config` and
# set every setting.
. "$(dirname "$0")/lib.sh"

DOC=$MYSIMBDP_SRC/docs/configuration.md
CONFSCHEMA=$MYSIMBDP_BUILD/tests/integration/confschema

# The documented settings, one per line: "KIND PATH|TYPE COLUMN|DEFAULT
# COLUMN". A "## " heading starts a file kind; a "### `X`" heading under
# the tenant profile makes the rows of its table members of X.
awk -F'|' '
	/^## Platform file/ { kind = "platform"; base = ""; next }
	/^## Tenant profile/ { kind = "tenant"; base = ""; next }
	/^## / { kind = ""; next }
	/^### `/ && kind != "" { split($0, h, "`"); base = h[2] "."; next }
	kind != "" && /^\| `/ {
		split($2, n, "`")
		gsub(/^ +| +$/, "", $3); gsub(/^ +| +$/, "", $4)
		print kind " " base n[2] "|" $3 "|" $4
	}' "$DOC" >"$T/doc"
"$CONFSCHEMA" >"$T/code"
[ -s "$T/doc" ] || fail "no settings found in $DOC (has its layout changed?)"
[ -s "$T/code" ] || fail "confschema printed nothing"
ok "$(wc -l <"$T/doc") documented settings, $(wc -l <"$T/code") in the code's tables"

problems=0
problem() { echo "  $*" >&2; problems=$((problems + 1)); }

# doc_has "KIND PATH": a row for exactly that.
doc_has() { awk -F'|' -v k="$1" '$1 == k { f = 1 } END { exit !f }' "$T/doc"; }

# documented: KIND PATH: exactly, or through a "X.*" row.
documented() {
	local prefix=$2
	doc_has "$1 $2" && return 0
	while [[ $prefix == *.* ]]; do
		prefix=${prefix%.*}
		doc_has "$1 $prefix.*" && return 0
	done
	return 1
}

# Code -> docs. A group counts as documented when it or a member is.
while read -r kind path type def; do
	if documented "$kind" "$path"; then
		continue
	fi
	if [ "$type" = group ] || [ "$type" = list ]; then
		grep -qF "$kind $path." "$T/doc" && continue
		grep -qF "$kind $path[]." "$T/doc" && continue
	fi
	problem "$kind setting $path ($type) is not in docs/configuration.md"
done <"$T/code"

# Docs -> code, with type, required and default.
type_words() {
	case $1 in
	integer) echo "integer" ;;
	size) echo "size" ;;
	duration) echo "duration" ;;
	string) echo "string|path" ;;
	boolean) echo "boolean" ;;
	strings) echo "array of strings" ;;
	argv) echo "string or array of strings" ;;
	group) echo "group" ;;
	list) echo "list of groups" ;;
	esac
}
while IFS='|' read -r key dtype ddef; do
	kind=${key%% *} path=${key#* }
	if [[ $path == *.\* ]]; then
		grep -qF "$kind ${path%\*}" "$T/code" ||
			problem "$kind $path: no such settings in the code"
		continue
	fi
	line=$(grep -F "$kind $path " "$T/code" | awk -v p="$path" '$2 == p') ||
		{ problem "$kind $path is documented but the code has no such setting"; continue; }
	read -r _ _ ctype cdef <<<"$line"
	[[ $dtype =~ ^($(type_words "$ctype"))([ ,]|$) ]] ||
		problem "$kind $path: documented type \"$dtype\", the code's is $ctype"
	if [ "$cdef" = required ]; then
		[[ $dtype == *required* ]] || problem "$kind $path: required in the code, not in the docs"
		continue
	fi
	[[ $dtype != *required* ]] || problem "$kind $path: documented as required, optional in the code"
	# A literal default: `"5s"`, `4`, `true` (possibly followed by words).
	if [[ $ddef =~ ^\`(\"[^\"]*\"|-?[0-9]+|true|false)\`( |$) ]]; then
		lit=${BASH_REMATCH[1]}
		lit=${lit#\"} lit=${lit%\"}
		[ "$lit" = "$cdef" ] ||
			problem "$kind $path: documented default \"$lit\", the code's is \"$cdef\""
	fi
done <"$T/doc"

# The examples: the first block after each "### A platform file",
# "### A tenant profile" and "## The cluster description" heading.
example() {
	awk -v h="$1" 'index($0, h) == 1 { on = 1; next }
		on && /^```/ { if (inside) exit; inside = 1; next }
		inside { print }' "$DOC"
}
mkdir -p "$T/ex/tenants"
example "### A platform file" >"$T/ex/mysimbdp.cfg"
example "### A tenant profile" >"$T/ex/tenants/globex.cfg"
# The platform example names the cluster description's example.
example "## The cluster description" >"$T/ex/cluster.cfg"
"$CLI" check-config "$T/ex/mysimbdp.cfg" >"$T/check.out" 2>&1 ||
	problem "the examples fail check-config: $(cat "$T/check.out")"
while read -r kind path type def; do
	[ "$type" = group ] || [ "$type" = list ] && continue
	f=$T/ex/mysimbdp.cfg
	[ "$kind" = tenant ] && f=$T/ex/tenants/globex.cfg
	grep -Eq "(^|[ {])${path##*.} = " "$f" || problem "the $kind example does not set $path"
done <"$T/code"

[ "$problems" -eq 0 ] || fail "docs/configuration.md and common/conf.c disagree ($problems problems above)"
ok "docs/configuration.md documents exactly the code's settings, with their types, required ones and defaults"
ok "its examples are valid and set every setting"

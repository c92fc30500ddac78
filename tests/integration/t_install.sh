#!/usr/bin/env bash
# meson install into a staging folder (--destdir) of this very build: the
# programs, libmysimbdp with its header and pkg-config file, the sample
# configuration made for the installed paths, and the systemd units
# (checked by systemd-analyze verify when it is there). Then a tenant's
# batch app written here, outside the tree, is built against the
# installed library through the installed mysimbdp.pc, the way
# docs/tenant-guide.md tells a tenant, and the installed batchmgr runs it
# on a dropped file into the embedded store.
. "$(dirname "$0")/lib.sh"

DEST=$T/dest
# meson test points LD_LIBRARY_PATH at the build's libmysimbdp; what is
# installed must do without it.
unset LD_LIBRARY_PATH
INFO=$MYSIMBDP_BUILD/meson-info

meson install -C "$MYSIMBDP_BUILD" --destdir "$DEST" --no-rebuild --quiet \
	>"$T/install.log" 2>&1 || { cat "$T/install.log" >&2; fail "meson install"; }
ok "meson install --destdir"

# opt NAME: a directory option of this build, absolute (meson gives
# sysconfdir as /etc for the /usr prefix, as etc otherwise).
opt() {
	local v
	v=$(jq -r --arg n "$1" '.[] | select(.name == $n) | .value' "$INFO/intro-buildoptions.json")
	case $v in
	/*) echo "$v" ;;
	*) echo "$PREFIX/$v" ;;
	esac
}
PREFIX=$(jq -r '.[] | select(.name == "prefix") | .value' "$INFO/intro-buildoptions.json")
BINDIR=$(opt bindir) SBINDIR=$(opt sbindir) LIBDIR=$(opt libdir)
INCLUDEDIR=$(opt includedir) LIBEXECDIR=$(opt libexecdir)
ETC=$(opt sysconfdir)/mysimbdp
VERSION=$(jq -r .version "$INFO/intro-projectinfo.json")
# Where the units went: the option, or systemd.pc (systemd/meson.build).
UNITDIR=$(jq -r 'to_entries[] | select(.key | endswith("/systemd/mysimbdp.target"))
	| .value' "$INFO/intro-installed.json" | xargs -r dirname)

# ---- the files, where they belong ------------------------------------
assert_exec() { [[ -f $DEST$1 && -x $DEST$1 ]] || fail "not installed as a program: $1"; }
for p in "$SBINDIR/batchmgr" "$SBINDIR/streammgr" "$SBINDIR/monitor" "$BINDIR/mysimbdp" \
	"$LIBEXECDIR/mysimbdp/tenants/acme/acme-listings" \
	"$LIBEXECDIR/mysimbdp/tenants/acme/acme-stream" \
	"$LIBEXECDIR/mysimbdp/tenants/globex/globex-stream" \
	"$LIBEXECDIR/mysimbdp/tenants/globex/ingest-cases" \
	"$LIBEXECDIR/mysimbdp/tenants/initech/initech-batch" \
	"$LIBEXECDIR/mysimbdp/tenants/initech/initech-stream" \
	"$LIBEXECDIR/mysimbdp/mysimbdp-python" \
	"$LIBEXECDIR/mysimbdp/mysimbdp-upload-shell"; do
	assert_exec "$p"
done
# `mysimbdp sshd-jail` copies the upload shell from where it is installed.
strings -a "$DEST$BINDIR/mysimbdp" >"$T/strings"
grep -qxF "$LIBEXECDIR/mysimbdp" "$T/strings" ||
	fail "mysimbdp does not look for its upload shell in $LIBEXECDIR/mysimbdp"
ok "daemons in sbindir, mysimbdp in bindir, sample apps and the upload shell in libexecdir/mysimbdp"
for f in "$LIBDIR/libmysimbdp.so.0" "$LIBDIR/libmysimbdp.so" "$LIBDIR/libmysimbdp.a" \
	"$LIBDIR/libmysimbdp-mongo.so.0" \
	"$INCLUDEDIR/mysimbdp.h" "$LIBDIR/pkgconfig/mysimbdp.pc"; do
	assert_file "$DEST$f"
done
ok "libmysimbdp shared and static, its MongoDB back end, its header and mysimbdp.pc"
# The Python package, and its batch loops in C where this build has them.
assert_file "$DEST$LIBDIR/mysimbdp/python/mysimbdp/stream.py"
if compgen -G "$MYSIMBDP_BUILD/clientlib/python/_mysimbdp_batch*.so" >/dev/null; then
	compgen -G "$DEST$LIBDIR/mysimbdp/python/_mysimbdp_batch*.so" >/dev/null ||
		fail "_mysimbdp_batch not installed beside the package"
fi
ok "the Python package in libdir/mysimbdp/python, _mysimbdp_batch beside it"
# The shared library does not need libmongoc: its back end does.
readelf -d "$DEST$LIBDIR/libmysimbdp.so.0" | grep -q 'NEEDED.*libmongoc' &&
	fail "libmysimbdp.so.0 links libmongoc"
readelf -d "$DEST$LIBDIR/libmysimbdp-mongo.so.0" | grep -q 'NEEDED.*libmongoc' ||
	fail "libmysimbdp-mongo.so.0 does not link libmongoc"
ok "libmongoc only behind libmysimbdp-mongo.so.0"
# Nor do the monitor and the CLI: they reach MongoDB through that back
# end, so they start without libmongoc's tree of libraries.
for p in "$SBINDIR/monitor" "$BINDIR/mysimbdp"; do
	readelf -d "$DEST$p" | grep -q 'NEEDED.*libmongoc' &&
		fail "$p links libmongoc"
	readelf -d "$DEST$p" | grep -q 'NEEDED.*libmysimbdp\.so\.0' ||
		fail "$p does not link libmysimbdp.so.0"
done
ok "monitor and mysimbdp on libmysimbdp.so.0, without libmongoc"

# The sample configuration: the platform file and every profile of conf/.
assert_file "$DEST$ETC/mysimbdp.cfg"
assert_eq "$(cd "$MYSIMBDP_SRC/conf/tenants" && ls -- *.cfg)" \
	"$(cd "$DEST$ETC/tenants" && ls -- *.cfg)" "every profile of conf/tenants/ installed"
assert_eq 644 "$(stat -c %a "$DEST$ETC/mysimbdp.cfg")" "configuration mode 0644"
cfg_value() { sed -n "s|^$1 = \"\\([^\"]*\\)\";.*|\\1|p" "$DEST$ETC/mysimbdp.cfg"; }
assert_eq /var/lib/mysimbdp "$(cfg_value state_dir)" "installed state_dir"
assert_eq "$LIBEXECDIR/mysimbdp" "$(cfg_value apps_dir)" "installed apps_dir: the sample apps' folder"
assert_eq "configuration OK" "$("$DEST$SBINDIR/batchmgr" -n -c "$DEST$ETC/mysimbdp.cfg")" \
	"the installed configuration loads"
usage=$("$DEST$SBINDIR/batchmgr" -x 2>&1) || true
[[ $usage == *" or $ETC/mysimbdp.cfg)"* ]] ||
	fail "batchmgr's default configuration is not $ETC/mysimbdp.cfg: $usage"
ok "the installed configuration is the daemons' default"
# Every app of the installed profiles, and every argument that is a path
# (globex's mysimbdp, initech's scripts), is an installed program;
# relative apps start at apps_dir.
n=0
while read -r app args; do
	case $app in
	/*) assert_exec "$app" ;;
	*) assert_exec "$LIBEXECDIR/mysimbdp/$app" ;;
	esac
	for a in $args; do
		case $a in /*) assert_exec "$a" ;; */*) fail "relative path argument $a" ;; esac
	done
	n=$((n + 1))
done < <(grep -h '^ *app = \[' "$DEST$ETC"/tenants/*.cfg |
	sed 's/^ *app = \[\(.*\)\];.*/\1/; s/"//g; s/, */ /g')
[ "$n" -ge 4 ] || fail "only $n app paths found in the installed profiles"
ok "the installed profiles name installed programs ($n apps)"
# A second install keeps the operator's configuration.
echo '# the operator was here' >>"$DEST$ETC/tenants/acme.cfg"
meson install -C "$MYSIMBDP_BUILD" --destdir "$DEST" --no-rebuild --quiet \
	>"$T/install.log" 2>&1 || { cat "$T/install.log" >&2; fail "meson install, again"; }
assert_eq '# the operator was here' "$(tail -n 1 "$DEST$ETC/tenants/acme.cfg")" \
	"a second meson install keeps an edited configuration file"
if ! grep -rn '"build/' "$DEST$ETC" >/dev/null; then
	ok "no source-tree path left in the installed configuration"
else
	fail "source-tree paths: $(grep -rn '"build/' "$DEST$ETC")"
fi

# The sample C apps find the installed library by their rpath (started
# with a clean environment, they get no LD_LIBRARY_PATH), and so do the
# monitor and the mysimbdp command (no ldconfig after meson install).
if [ "$PREFIX" != /usr ]; then
	for p in "$LIBEXECDIR/mysimbdp/tenants/acme/acme-listings" \
	    "$LIBEXECDIR/mysimbdp/tenants/acme/acme-stream" \
	    "$LIBEXECDIR/mysimbdp/tenants/globex/globex-stream" \
	    "$SBINDIR/monitor" "$BINDIR/mysimbdp"; do
		readelf -d "$DEST$p" | grep "R.*PATH.*\[$LIBDIR\]" >/dev/null ||
			fail "$p: no rpath $LIBDIR: $(readelf -d "$DEST$p" | grep PATH)"
	done
	ok "sample apps, monitor and mysimbdp carry the rpath $LIBDIR"
fi

# ---- the systemd units -------------------------------------------------
if [ -z "$UNITDIR" ]; then
	echo "ok - (units not installed: -Dsystemdsystemunitdir=no)"
else
	units=(mysimbdp-batchmgr.service mysimbdp-streammgr.service mysimbdp-monitor.service
		mysimbdp.target)
	for u in "${units[@]}"; do assert_file "$DEST$UNITDIR/$u"; done
	for d in batchmgr streammgr monitor; do
		u=$DEST$UNITDIR/mysimbdp-$d.service
		assert_eq "ExecStart=$SBINDIR/$d -c $ETC/mysimbdp.cfg" "$(grep '^ExecStart=' "$u")" "$d: ExecStart"
		# shellcheck disable=SC2016 # $MAINPID is systemd's
		for key in 'Type=exec' 'ExecReload=/bin/kill -HUP $MAINPID' 'Restart=on-failure' \
			'StateDirectory=mysimbdp' 'ProtectSystem=strict' 'NoNewPrivileges=yes' \
			'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' 'PartOf=mysimbdp.target'; do
			grep -qxF -- "$key" "$u" || fail "$d: no line $key"
		done
		grep -q '^CapabilityBoundingSet=' "$u" || fail "$d: no CapabilityBoundingSet"
		if grep -q '@[a-zA-Z_]*@' "$u"; then fail "$d: unsubstituted: $(grep '@[a-zA-Z_]*@' "$u")"; fi
	done
	for d in batchmgr streammgr; do
		grep -qxF 'KillMode=mixed' "$DEST$UNITDIR/mysimbdp-$d.service" ||
			fail "$d: KillMode is not mixed (it stops its apps itself)"
	done
	if grep -E '^CapabilityBoundingSet=.*CAP_(SETUID|SETGID|KILL)' "$DEST$UNITDIR/mysimbdp-monitor.service"; then
		fail "the monitor runs no app: it needs no setuid, setgid or kill"
	fi
	ok "units: ExecStart on the installed daemons and configuration, reload, sandbox"
	if command -v systemd-analyze >/dev/null; then
		# verify wants the programs at their paths: copies of the units
		# that point into the staging folder. It exits 0 on unknown keys
		# and bad values too, so anything it prints fails the test.
		mkdir "$T/units"
		for u in "${units[@]}"; do
			sed "s|=$PREFIX/|=$DEST$PREFIX/|" "$DEST$UNITDIR/$u" >"$T/units/$u"
		done
		out=$(cd "$T/units" && systemd-analyze verify "${units[@]}" 2>&1) ||
			fail "systemd-analyze verify: $out"
		[ -z "$out" ] || fail "systemd-analyze verify: $out"
		ok "systemd-analyze verify: no complaint"
	else
		echo "ok - (systemd-analyze not found: units checked by their lines only)"
	fi
fi

# ---- a tenant's app, built outside the tree --------------------------
# A copy of mysimbdp.pc with the prefix where the files are now: what a
# tenant's pkg-config sees after a real install.
mkdir -p "$T/pc" "$T/app"
grep -qx "libdir=\${prefix}/${LIBDIR#"$PREFIX"/}" "$DEST$LIBDIR/pkgconfig/mysimbdp.pc" ||
	fail "mysimbdp.pc: libdir is not relative to prefix"
sed "s|^prefix=.*|prefix=$DEST$PREFIX|" "$DEST$LIBDIR/pkgconfig/mysimbdp.pc" >"$T/pc/mysimbdp.pc"
export PKG_CONFIG_PATH=$T/pc
assert_eq "$VERSION" "$(pkg-config --modversion mysimbdp)" "pkg-config: version"
cflags=$(pkg-config --cflags mysimbdp) libs=$(pkg-config --libs mysimbdp)
static=$(pkg-config --static --libs mysimbdp)
app_libdir=$(pkg-config --variable=libdir mysimbdp)
for w in "-I$DEST$INCLUDEDIR" $(pkg-config --cflags-only-I libbson-1.0); do
	[[ " $cflags " == *" $w "* ]] || fail "pkg-config --cflags: no $w in: $cflags"
done
for w in "-L$DEST$LIBDIR" -lmysimbdp -lbson-1.0; do
	[[ " $libs " == *" $w "* ]] || fail "pkg-config --libs: no $w in: $libs"
done
for w in -lmysimbdp -lcsv -lmongoc-1.0 -lzmq -lbson-1.0 -lm -pthread; do
	[[ " $static " == *" $w "* ]] || fail "pkg-config --static --libs: no $w in: $static"
done
ok "mysimbdp.pc: header, library, libbson; --static adds libmongoc, libzmq, libcsv"

cat >"$T/app/readings.c" <<'C'
/*
 * readings: loads a "sensor,value" CSV into the collection "readings",
 * one document per good row; a value that is not a number rejects the
 * row. Exit 0, or 75 (try again later), as the contract asks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysimbdp.h>

struct job {
	struct msb_sink	*sink;
	char		 hash[MSB_HASH_HEX_SIZE];
	unsigned long	 rows, rejected;
};

static int
row(const struct msb_csv_record *rec, void *arg)
{
	struct job *j = arg;
	bson_t doc = BSON_INITIALIZER;
	char *end;
	double v;
	int rc;

	if (rec->nfields != 2) {
		j->rejected++;
		return 0;
	}
	v = strtod(rec->fields[1], &end);
	if (end == rec->fields[1] || *end != '\0') {
		j->rejected++;
		return 0;
	}
	msb_doc_append_id(&doc, j->hash, rec->num);
	BSON_APPEND_UTF8(&doc, "sensor", rec->fields[0]);
	BSON_APPEND_DOUBLE(&doc, "value", v);
	rc = msb_sink_add(j->sink, &doc);
	bson_destroy(&doc);
	if (rc == MSB_OK)
		j->rows++;
	return rc == MSB_BADDOC ? 0 : rc;
}

int
main(void)
{
	struct msb_csv_options opts = { .flags = MSB_CSV_HEADER };
	struct job j = { 0 };
	struct msb_env env;
	bson_t extra = BSON_INITIALIZER;
	char err[512] = "";
	int rc;

	msb_init();
	rc = msb_env_load(&env, err, sizeof(err));
	if (rc == MSB_OK)
		rc = msb_file_hash(env.input_file, j.hash);
	if (rc == MSB_OK)
		rc = msb_sink_open_env(&j.sink, &env, "readings", err, sizeof(err));
	if (rc == MSB_OK)
		rc = msb_csv_read_file(env.input_file, &opts, row, &j, err,
		    sizeof(err));
	if (rc == MSB_OK)
		rc = msb_sink_commit(j.sink, j.hash);
	if (rc == MSB_OK) {
		BSON_APPEND_UTF8(&extra, "built_with", msb_version());
		rc = msb_result_write(env.result_file, j.rows, j.rejected, &extra);
	} else
		fprintf(stderr, "readings: %s\n",
		    err[0] ? err : j.sink ? msb_sink_error(j.sink) : "error");
	bson_destroy(&extra);
	msb_sink_close(j.sink);
	msb_cleanup();
	return msb_exit_code(rc);
}
C
# The installed library of a sanitized build needs its runtime loaded
# first: an app linked to it is built with the same sanitizers.
san=()
if readelf -d "$DEST$LIBDIR/libmysimbdp.so.0" | grep 'NEEDED.*libasan' >/dev/null; then
	# shellcheck disable=SC2054 # one flag, its commas are the compiler's
	san=(-fsanitize=address,undefined)
fi
# shellcheck disable=SC2086 # pkg-config's words are separate arguments
cc -std=c17 -Wall -Wextra -Werror "${san[@]}" -o "$T/app/readings" "$T/app/readings.c" \
	$cflags $libs -Wl,-rpath,"$app_libdir" 2>"$T/app/cc.log" ||
	{ cat "$T/app/cc.log" >&2; fail "cc readings.c \$(pkg-config --cflags --libs mysimbdp)"; }
ok "an app outside the tree builds against the installed library${san:+ (${san[*]})}"
assert_eq "$DEST$LIBDIR/libmysimbdp.so.0" \
	"$(ldd "$T/app/readings" | awk '$1 == "libmysimbdp.so.0" { print $3 }')" \
	"the app loads the installed libmysimbdp, by its rpath"

# ---- run by the installed batchmgr -----------------------------------
# shellcheck disable=SC2034 # lib.sh's start_daemon batchmgr runs it
BATCHMGR=$DEST$SBINDIR/batchmgr
platform
tenant sensors <<CFG
id = "sensors";
batch = {
  formats = ["csv"];
  apps = ( { app = ["$T/app/readings"]; timeout = "30s"; retries = 0; } );
};
CFG
start_daemon batchmgr
printf 'sensor,value\nt1,20.5\nt2,oops\nt3,-4\n' >"$T/scratch/r.csv"
hash=$(sha256sum "$T/scratch/r.csv" | cut -d' ' -f1)
mv "$T/scratch/r.csv" "$VAR/staging/sensors/incoming/r.csv"
# retries = 0: the first record is the outcome, ok or not.
has_outcome() { [ -n "$(records '.tenant == "sensors" and .status != "retry"')" ]; }
wait_for 30 "the outcome of r.csv" has_outcome
r=$(records '.tenant == "sensors"')
[ "$(jq -r .status <<<"$r")" = ok ] ||
	fail "not ok: $r; the app said: $(cat "$VAR"/log/sensors/*.log 2>/dev/null)"
ok "record: ok"
assert_eq 2 "$(jq .rows <<<"$r")" "record: rows"
assert_eq 1 "$(jq .rejected_rows <<<"$r")" "record: rejected_rows"
assert_eq "$VERSION" "$(jq -r .summary.built_with <<<"$r")" "record: the app's summary"
wait_file "$VAR/staging/sensors/done/r.csv"
unit=$VAR/coredms/sensors/readings/$hash.bson
assert_file "$unit"
assert_eq "${hash:0:24}:1 t1 20.5 double|${hash:0:24}:3 t3 -4 double" \
	"$("$BSONCOUNT" "$unit" | jq -r '"\(.doc._id) \(.doc.sensor) \(.doc.value) \(.types.value)"' |
		paste -sd'|')" "the documents in the store"
stop_daemon batchmgr
ok "the installed batchmgr ran the app; its documents are in the store"

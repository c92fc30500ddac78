#!/bin/bash
# The child of a spawn changes only its own credentials (common/spawn.c;
# issue 16): run as root, tests/apps/credspawn starts $N apps
# (tests/apps/idcheck) through spawn_start, alternating between two tenant
# users, half of them into a cgroup v2 leaf (clone3 with
# CLONE_INTO_CGROUP; half of those into the leaf held open) and half
# without (vfork), while four threads of its own create and join
# threads and check their own credentials. Every app
# must run with exactly its tenant's uid and gid (real, effective,
# saved), no supplementary group, no_new_privs, no signal blocked or
# ignored, in its cgroup; no thread of the "daemon" may ever see other
# credentials than its own. Without a writable cgroup v2 only the vfork
# half runs (said so). Skipped unless root.
. "$(dirname "$0")/lib.sh"

need_root
test_users mysbt-a mysbt-b
CREDSPAWN=$MYSIMBDP_BUILD/tests/integration/credspawn
IDCHECK=$MYSIMBDP_BUILD/tests/integration/idcheck
# Thousands: each pair of users and paths a few hundred times at least.
N=${SPAWN_CREDS_N:-2000}

# A folder of the test's own below its cgroup, with a leaf per user.
CG_DIR=
on_cleanup() {
	local leaf
	[ -n "$CG_DIR" ] && [ -d "$CG_DIR" ] || return 0
	for leaf in "$CG_DIR"/a "$CG_DIR"/b; do
		[ -d "$leaf" ] || continue
		[ -e "$leaf/cgroup.kill" ] && echo 1 >"$leaf/cgroup.kill"
		wait_for 5 "$leaf to empty" rmdir "$leaf"
	done
	rmdir "$CG_DIR"
}

cg_args=()
mnt=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") {
	if ($(i + 1) == "cgroup2") print $5; break } }' /proc/self/mountinfo |
	head -n 1)
own=$(sed -n 's/^0:://p' /proc/self/cgroup)
name=${own%/}/mysbt-spawn-$$
if [ -z "$mnt" ] || [ -z "$own" ]; then
	echo "note: no cgroup v2 here: the clone3 half is skipped"
elif ! mkdir "$mnt$name" 2>/dev/null; then
	echo "note: cgroup v2 at $mnt is not writable: the clone3 half is skipped"
else
	CG_DIR=$mnt$name
	mkdir "$CG_DIR/a" "$CG_DIR/b"
	# Can a process live there (not so below a cgroup whose controllers
	# are given to its children)? The probe moves itself, then exits.
	if bash -c 'echo 0 >"$1/cgroup.procs"' _ "$CG_DIR/a" 2>/dev/null; then
		cg_args=("$CG_DIR/a" "$name/a" "$CG_DIR/b" "$name/b")
	else
		echo "note: no process may join $CG_DIR/a: the clone3 half is skipped"
	fi
fi

out=$T/credspawn.out
rc=0
"$CREDSPAWN" "$IDCHECK" "$N" "$(id -u mysbt-a)" "$(id -g mysbt-a)" \
	"$(id -u mysbt-b)" "$(id -g mysbt-b)" "${cg_args[@]}" >"$out" 2>&1 ||
	rc=$?
cat "$out"
[ $rc -ne 77 ] || exit 77
[ $rc -eq 0 ] || fail "credspawn exited $rc"
grep -q "^$N apps in .* 0 failed" "$out" || fail "not $N apps started"
ok "$N apps started as two tenant users, each with its own ids only"
ok "the daemon's threads kept their credentials throughout"
if [ ${#cg_args[@]} -gt 0 ]; then
	grep -q "s: [1-9][0-9]* with a cgroup (clone3; [1-9][0-9]* into the folder held open)" "$out" ||
		fail "no app was started into a cgroup, or none into one held open"
	ok "half of them started into their cgroup, half of those into the folder held open"
fi

/*
 * The app that tests/apps/credspawn.c starts thousands of times through
 * spawn_start (t_spawn_creds.sh): checks what the child of a spawn set up
 * before exec, and exits 0 if all is as expected, else prints what
 * differs to stderr and exits 1.
 *
 *   idcheck UID GID [CGROUP]
 *
 * Real, effective and saved uid UID and gid GID, no supplementary group,
 * no_new_privs, no standard signal (1-31) blocked or ignored, and, when
 * given, membership of the cgroup v2 CGROUP (as /proc/self/cgroup names
 * it, "/a/b").
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int bad;

static void
differs(const char *what, const char *want, const char *got)
{
	fprintf(stderr, "idcheck: %s: expected %s, got %s\n", what, want, got);
	bad = 1;
}

/* Compares the value of the "Key:\t" line of /proc/self/status. */
static void
check_status(const char *key, const char *want)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	size_t klen = strlen(key);

	if (f == NULL) {
		differs(key, want, "no /proc/self/status");
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			char *v = line + klen + 1;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			fclose(f);
			if (strcmp(v, want) != 0)
				differs(key, want, v);
			return;
		}
	fclose(f);
	differs(key, want, "no such line");
}

/* The signals 1-31 of a /proc/self/status mask must all be clear. */
static void
check_sigmask(const char *key)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	size_t klen = strlen(key);

	if (f == NULL) {
		differs(key, "0", "no /proc/self/status");
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			char *v = line + klen + 1;
			uint64_t mask;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			mask = strtoull(v, NULL, 16);
			fclose(f);
			if ((mask & 0x7fffffffULL) != 0)
				differs(key, "none of signals 1-31", v);
			return;
		}
	fclose(f);
	differs(key, "0", "no such line");
}

static void
check_cgroup(const char *want)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096];

	if (f == NULL) {
		differs("cgroup", want, "no /proc/self/cgroup");
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = '\0';
			fclose(f);
			if (strcmp(line + 3, want) != 0)
				differs("cgroup", want, line + 3);
			return;
		}
	fclose(f);
	differs("cgroup", want, "no cgroup v2 line");
}

int
main(int argc, char **argv)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	char want[64], got[96];
	long uid, gid;
	int ngroups;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: idcheck UID GID [CGROUP]\n");
		return 2;
	}
	uid = strtol(argv[1], NULL, 10);
	gid = strtol(argv[2], NULL, 10);
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0) {
		perror("idcheck: getresuid");
		return 1;
	}
	if (ru != (uid_t)uid || eu != (uid_t)uid || su != (uid_t)uid) {
		snprintf(want, sizeof(want), "%ld", uid);
		snprintf(got, sizeof(got), "%u %u %u (real, effective, saved)",
		    (unsigned)ru, (unsigned)eu, (unsigned)su);
		differs("uid", want, got);
	}
	if (rg != (gid_t)gid || eg != (gid_t)gid || sg != (gid_t)gid) {
		snprintf(want, sizeof(want), "%ld", gid);
		snprintf(got, sizeof(got), "%u %u %u (real, effective, saved)",
		    (unsigned)rg, (unsigned)eg, (unsigned)sg);
		differs("gid", want, got);
	}
	if ((ngroups = getgroups(0, NULL)) != 0) {
		snprintf(got, sizeof(got), "%d", ngroups);
		differs("supplementary groups", "0", got);
	}
	check_status("NoNewPrivs", "1");
	check_sigmask("SigBlk");
	check_sigmask("SigIgn");
	if (argc == 4)
		check_cgroup(argv[3]);
	return bad;
}

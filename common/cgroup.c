#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "crc32c.h"
#include "log.h"

/* The controllers a tenant's cgroup uses, as bits. */
enum {
	CTL_MEMORY = 1 << 0,
	CTL_CPU = 1 << 1,
	CTL_PIDS = 1 << 2,
	CTL_ALL = CTL_MEMORY | CTL_CPU | CTL_PIDS,
};

static const char *const ctl_names[] = { "memory", "cpu", "pids" };
#define NCTL (sizeof(ctl_names) / sizeof(ctl_names[0]))

/* The leaf the daemon moves itself into when its own cgroup must be empty. */
#define SELF_LEAF "daemon"
#define TENANT_PREFIX "tenant-"
/* cpu.max period: 100 ms, the kernel's default. */
#define CPU_PERIOD_US 100000
/* How long the exit and the start-up wait for killed processes to go. */
#define DRAIN_MS 2000

/*
 * Empty leaves kept for the next app of their tenant, at most this many
 * (about one per active tenant; an empty cgroup costs the kernel a few
 * KiB): mkdir and rmdir in cgroupfs were a quarter of batchmgr's CPU in
 * a burst (docs/benchmarks.md, "Batch dispatch").
 */
#define POOL_MAX 1024

/*
 * Leaves held open, at most: the folder (clone3 starts the app into it)
 * and its cgroup.events (read at the app's end). Opened and closed by
 * path, the two were about a tenth of batchmgr's CPU per file in a
 * burst; more held would cost every spawn, whose child copies and
 * closes each of the daemon's descriptors (docs/benchmarks.md, "Leaves
 * held open").
 */
#define LEAF_FDS 32

struct cgroup_leaf {
	char		 *cl_dir;
	int		  cl_fd;	/* the folder, or -1: by name */
	int		  cl_events;	/* its cgroup.events, when cl_fd is */
	struct tenant_cg *cl_tc;	/* its tenant's record */
	struct cgroup_leaf *cl_next;	/* in its tenant's pool */
};

/*
 * A tenant's cgroup as last written: made, and these limits in it; and
 * its empty leaves, ready for its next app. Found by id through a hash
 * table: with a thousand tenants, a scan per app start was a visible
 * part of the daemon's CPU (docs/benchmarks.md, "Batch dispatch").
 */
struct tenant_cg {
	char	*tc_id;
	char	 tc_limits[3][48];	/* memory.max, cpu.max, pids.max */
	struct cgroup_leaf *tc_pool;
};

static struct {
	bool	 active;
	char	*base;		/* absolute path of the daemon's base cgroup */
	bool	 in_base;	/* the daemon moved itself into base/daemon */
	unsigned ctl;		/* controllers enabled for tenant cgroups */
	char	**pending;	/* ended leaves not yet empty */
	size_t	 npending;
	size_t	 npool;		/* empty leaves kept, all tenants */
	size_t	 nheld;		/* leaves held open (LEAF_FDS) */
	struct tenant_cg **tenants;	/* open addressing, by id */
	size_t	 tenants_cap;	/* a power of two, or 0 */
	size_t	 ntenants;
} cg;

static char *
xasprintf(const char *fmt, ...) __attribute__((__format__(printf, 1, 2)));

static char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("%s: vasprintf", __func__);
	return s;
}

/* Writes s to dir/file. Returns 0 or -1 with errno set. */
static int
write_file(const char *dir, const char *file, const char *s)
{
	char path[PATH_MAX];
	size_t len = strlen(s);
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	n = write(fd, s, len);
	err = errno;
	close(fd);
	errno = err;
	return n == (ssize_t)len ? 0 : -1;
}

/* Reads the first line of dir/file into buf. Returns 0 or -1. */
static int
read_line(const char *dir, const char *file, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* The controllers named in a space-separated list, as bits. */
static unsigned
parse_ctl(char *list)
{
	unsigned bits = 0;
	char *save = NULL;

	for (char *w = strtok_r(list, " ", &save); w;
	    w = strtok_r(NULL, " ", &save))
		for (size_t i = 0; i < NCTL; i++)
			if (strcmp(w, ctl_names[i]) == 0)
				bits |= 1u << i;
	return bits;
}

static unsigned
read_ctl(const char *dir, const char *file)
{
	char buf[512];

	return read_line(dir, file, buf, sizeof(buf)) < 0 ? 0 : parse_ctl(buf);
}

/* "memory, cpu, pids" for the bits set. */
static void
ctl_list(unsigned bits, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i < NCTL; i++)
		if (bits & (1u << i))
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
			    buf[0] ? ", " : "", ctl_names[i]);
}

/* The mount point of the cgroup2 file system, or NULL (malloc'd). */
static char *
find_mount(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *mnt = NULL;
	size_t cap = 0;

	if (f == NULL)
		return NULL;
	while (mnt == NULL && getline(&line, &cap, f) > 0) {
		char point[PATH_MAX], *sep = strstr(line, " - ");

		/* id parent maj:min root point ... - fstype source opts */
		if (sep == NULL || strncmp(sep, " - cgroup2 ", 11) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", point) == 1 &&
		    strchr(point, '\\') == NULL)	/* no escaped names */
			mnt = strdup(point);
	}
	free(line);
	fclose(f);
	return mnt;
}

/* The daemon's own cgroup v2 path ("/..."), or NULL (malloc'd). */
static char *
find_own(void)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char *line = NULL, *own = NULL;
	size_t cap = 0;

	if (f == NULL)
		return NULL;
	while (own == NULL && getline(&line, &cap, f) > 0)
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = '\0';
			own = strdup(line + 3);
		}
	free(line);
	fclose(f);
	return own;
}

/*
 * SIGKILLs every process in dir. cgroup.kill (Linux 5.14) does it in one
 * step, forks racing it included; without it, the pids are killed one by
 * one, a few rounds so that children forked meanwhile go too.
 */
static void
kill_all(const char *dir)
{
	char path[PATH_MAX];

	if (write_file(dir, "cgroup.kill", "1") == 0 || errno != ENOENT)
		return;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	for (int round = 0; round < 8; round++) {
		FILE *f = fopen(path, "re");
		long pid;
		int n = 0;

		if (f == NULL)
			return;
		while (fscanf(f, "%ld", &pid) == 1) {
			kill((pid_t)pid, SIGKILL);
			n++;
		}
		fclose(f);
		if (n == 0)
			return;
	}
}

/* rmdir that waits up to ms for the killed processes to exit. */
static int
rmdir_wait(const char *dir, int64_t ms)
{
	int64_t deadline = clock_mono_ms() + ms;
	struct timespec tick = { 0, 10 * 1000000 };

	while (rmdir(dir) < 0) {
		if (errno != EBUSY || clock_mono_ms() >= deadline)
			return -1;
		nanosleep(&tick, NULL);
	}
	return 0;
}

/* Calls fn(dir/name) for each subfolder of dir but "skip". */
static int
each_subdir(const char *dir, const char *skip, void (*fn)(const char *))
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char path[PATH_MAX];

		if (e->d_type != DT_DIR || e->d_name[0] == '.' ||
		    (skip && strcmp(e->d_name, skip) == 0))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		fn(path);
		n++;
	}
	closedir(d);
	return n;
}

/* Whether the first line of cgroup.events says no process is left. */
static bool
events_empty(char *line)
{
	line[strcspn(line, "\n")] = '\0';
	return strcmp(line, "populated 0") == 0;
}

/* Whether cgroup dir holds no process ("populated 0"). */
static bool
dir_empty(const char *dir)
{
	char line[64];

	return read_line(dir, "cgroup.events", line, sizeof(line)) == 0 &&
	    events_empty(line);
}

static int leftovers;

/* A previous daemon's leaf: what is left in it killed (counted), and
 * removed; an empty one (kept for reuse) only removed. */
static void
remove_leftover_leaf(const char *dir)
{
	if (!dir_empty(dir)) {
		kill_all(dir);
		leftovers++;
	}
	if (rmdir_wait(dir, DRAIN_MS) < 0)
		log_warn("cgroup v2: rmdir %s", dir);
}

/* A previous daemon's tenant cgroup: kill its leaves' processes. */
static void
remove_leftover_tenant(const char *dir)
{
	each_subdir(dir, NULL, remove_leftover_leaf);
	if (rmdir(dir) < 0)
		log_warn("cgroup v2: rmdir %s", dir);
}

/*
 * Enables the controllers in want below own and below the base. A cgroup
 * with processes cannot give controllers to its children (cgroup v2's
 * "no internal processes" rule; the root is exempt), so when own says
 * EBUSY the daemon moves itself into base/daemon and tries again.
 * Returns the controllers enabled for the tenant cgroups.
 */
static unsigned
enable_controllers(const char *own, unsigned want)
{
	char list[64] = "";

	for (size_t i = 0; i < NCTL; i++)
		if (want & (1u << i))
			snprintf(list + strlen(list), sizeof(list) - strlen(list),
			    "%s+%s", list[0] ? " " : "", ctl_names[i]);
	if ((read_ctl(own, "cgroup.subtree_control") & want) != want &&
	    write_file(own, "cgroup.subtree_control", list) < 0) {
		char *self = xasprintf("%s/" SELF_LEAF, cg.base);

		if (errno != EBUSY || (mkdir(self, 0755) < 0 &&
		    errno != EEXIST) ||
		    write_file(self, "cgroup.procs", "0") < 0) {
			log_debug("cgroup v2: enable %s in %s: %s", list, own,
			    strerror(errno));
			free(self);
			return 0;
		}
		cg.in_base = true;
		free(self);
		if (write_file(own, "cgroup.subtree_control", list) < 0)
			return 0;
	}
	if (write_file(cg.base, "cgroup.subtree_control", list) < 0)
		return 0;
	return read_ctl(cg.base, "cgroup.subtree_control") & want;
}

static void
log_outcome(void)
{
	char have[64], missing[64];

	ctl_list(cg.ctl, have, sizeof(have));
	ctl_list(CTL_ALL & ~cg.ctl, missing, sizeof(missing));
	if (cg.ctl == CTL_ALL)
		log_info("cgroup v2: apps contained in %s, tenants' memory, "
		    "cpu and pids limits enforced there", cg.base);
	else
		log_info("cgroup v2: %s controller%s not available under %s: "
		    "per-app rlimits only for %s (apps are still contained "
		    "and killed through their cgroup%s%s)", missing,
		    strchr(missing, ',') ? "s" : "", cg.base,
		    strchr(missing, ',') ? "those" : "that", have[0] ?
		    "; enforced: " : "", have);
}

void
cgroup_init(const char *daemon, const char *state_dir)
{
	char *mnt = find_mount(), *own = NULL, *own_dir = NULL;
	uint32_t h = crc32c(0, state_dir, strlen(state_dir));

	if (mnt == NULL || (own = find_own()) == NULL) {
		log_info("cgroup v2: not mounted: per-app rlimits only; "
		    "descendants that leave their process group are killed "
		    "when reparented to %s", daemon);
		goto out;
	}
	own_dir = xasprintf("%s%s", mnt, strcmp(own, "/") == 0 ? "" : own);
	cg.base = xasprintf("%s/mysimbdp-%s-%08" PRIx32, own_dir, daemon, h);
	if (mkdir(cg.base, 0755) < 0 && errno != EEXIST) {
		log_info("cgroup v2: mkdir %s: %s: per-app rlimits only; "
		    "descendants that leave their process group are killed "
		    "when reparented to %s", cg.base, strerror(errno), daemon);
		free(cg.base);
		cg.base = NULL;
		goto out;
	}
	leftovers = 0;
	each_subdir(cg.base, SELF_LEAF, remove_leftover_tenant);
	if (leftovers)
		log_info("cgroup v2: killed what was left in %d app cgroup%s "
		    "of a previous %s", leftovers, leftovers == 1 ? "" : "s",
		    daemon);
	cg.active = true;
	cg.ctl = enable_controllers(own_dir, read_ctl(own_dir,
	    "cgroup.controllers") & CTL_ALL);
	log_outcome();
out:
	free(mnt);
	free(own);
	free(own_dir);
}

bool
cgroup_active(void)
{
	return cg.active;
}

/* "max" for 0, else the number. */
static void
fmt_limit(char *buf, size_t len, int64_t v)
{
	if (v <= 0)
		snprintf(buf, len, "max");
	else
		snprintf(buf, len, "%" PRId64, v);
}

/* t's resources as memory.max, cpu.max and pids.max say them. */
static void
limits_of(const struct conf_tenant *t, char v[3][48])
{
	const struct conf_resources *r = &t->t_resources;

	/* Whole arrays are compared with the last written: no stray bytes. */
	memset(v, 0, 3 * sizeof(v[0]));
	fmt_limit(v[0], sizeof(v[0]), (int64_t)r->r_memory);
	if (r->r_cpu_percent > 0)
		snprintf(v[1], sizeof(v[1]), "%" PRId64 " %d",
		    r->r_cpu_percent * CPU_PERIOD_US / 100, CPU_PERIOD_US);
	else
		snprintf(v[1], sizeof(v[1]), "max %d", CPU_PERIOD_US);
	fmt_limit(v[2], sizeof(v[2]), r->r_processes);
}

/* Writes limits v into the tenant cgroup dir, where the controller is. */
static void
apply_resources(const char *tenant, const char *dir, char v[3][48])
{
	static const struct { unsigned ctl; const char *file; } files[3] = {
		{ CTL_MEMORY, "memory.max" }, { CTL_CPU, "cpu.max" },
		{ CTL_PIDS, "pids.max" } };

	for (int k = 0; k < 3; k++)
		if ((cg.ctl & files[k].ctl) &&
		    write_file(dir, files[k].file, v[k]) < 0)
			log_warn("tenant %s: cgroup v2: %s %s", tenant,
			    files[k].file, v[k]);
}

/* The slot of id in a table of cap (a power of two) slots. */
static size_t
tenant_slot(struct tenant_cg **tab, size_t cap, const char *id)
{
	size_t i = crc32c(0, id, strlen(id)) & (cap - 1);

	while (tab[i] != NULL && strcmp(tab[i]->tc_id, id) != 0)
		i = (i + 1) & (cap - 1);
	return i;
}

/* Doubles the table (or makes its first one), rehashing every record. */
static void
tenants_grow(void)
{
	size_t cap = cg.tenants_cap ? cg.tenants_cap * 2 : 64;
	struct tenant_cg **tab = calloc(cap, sizeof(*tab));

	if (tab == NULL)
		fatal("%s: calloc", __func__);
	for (size_t i = 0; i < cg.tenants_cap; i++)
		if (cg.tenants[i] != NULL)
			tab[tenant_slot(tab, cap, cg.tenants[i]->tc_id)] =
			    cg.tenants[i];
	free(cg.tenants);
	cg.tenants = tab;
	cg.tenants_cap = cap;
}

/* The record of tenant id's cgroup, made if need be. */
static struct tenant_cg *
tenant_cg(const char *id)
{
	struct tenant_cg *v;
	size_t i;

	if (cg.tenants_cap > 0) {
		i = tenant_slot(cg.tenants, cg.tenants_cap, id);
		if (cg.tenants[i] != NULL)
			return cg.tenants[i];
	}
	if (2 * (cg.ntenants + 1) > cg.tenants_cap)
		tenants_grow();
	if ((v = calloc(1, sizeof(*v))) == NULL)
		fatal("%s: calloc", __func__);
	v->tc_id = xasprintf("%s", id);
	cg.tenants[tenant_slot(cg.tenants, cg.tenants_cap, id)] = v;
	cg.ntenants++;
	return v;
}

/*
 * Makes t's cgroup and writes its limits, unless they are what was last
 * written: a reloaded profile's take effect with its next app, and an
 * unchanged one costs no write. Returns 0, or -1 (logged).
 */
static int
tenant_prepare(const struct conf_tenant *t, struct tenant_cg *tc,
    const char *tdir)
{
	char v[3][48];

	limits_of(t, v);
	if (memcmp(v, tc->tc_limits, sizeof(v)) == 0)
		return 0;
	if (mkdir(tdir, 0755) < 0 && errno != EEXIST) {
		log_warn("tenant %s: cgroup v2: mkdir %s", t->t_id, tdir);
		return -1;
	}
	apply_resources(t->t_id, tdir, v);
	memcpy(tc->tc_limits, v, sizeof(v));
	return 0;
}


void
cgroup_tenant_prepare(const struct conf_tenant *t)
{
	char *tdir;

	if (!cg.active)
		return;
	tdir = xasprintf("%s/" TENANT_PREFIX "%s", cg.base, t->t_id);
	(void)tenant_prepare(t, tenant_cg(t->t_id), tdir);
	free(tdir);
}

/*
 * Holds the leaf's folder and cgroup.events open while fewer than
 * LEAF_FDS leaves are: the first ones made, which keep them in the pool
 * too (with one busy tenant, all of its leaves). Others go by name.
 */
static void
leaf_hold(struct cgroup_leaf *leaf)
{
	if (leaf->cl_fd >= 0 || cg.nheld >= LEAF_FDS)
		return;
	if ((leaf->cl_fd = open(leaf->cl_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		return;
	if ((leaf->cl_events = openat(leaf->cl_fd, "cgroup.events",
	    O_RDONLY | O_CLOEXEC)) < 0) {
		close(leaf->cl_fd);
		leaf->cl_fd = -1;
		return;
	}
	cg.nheld++;
}

/* Closes what leaf_hold opened, before the leaf is removed. */
static void
leaf_release(struct cgroup_leaf *leaf)
{
	if (leaf->cl_fd < 0)
		return;
	close(leaf->cl_events);
	close(leaf->cl_fd);
	leaf->cl_fd = leaf->cl_events = -1;
	cg.nheld--;
}

struct cgroup_leaf *
cgroup_leaf_new(const struct conf_tenant *t, const char *name)
{
	struct tenant_cg *tc;
	struct cgroup_leaf *leaf;
	char *tdir;

	if (!cg.active)
		return NULL;
	tc = tenant_cg(t->t_id);
	tdir = xasprintf("%s/" TENANT_PREFIX "%s", cg.base, t->t_id);
	if (tenant_prepare(t, tc, tdir) < 0) {
		free(tdir);
		return NULL;
	}
	if ((leaf = tc->tc_pool) != NULL) {
		tc->tc_pool = leaf->cl_next;
		leaf->cl_next = NULL;
		cg.npool--;
		free(tdir);
		leaf_hold(leaf);
		return leaf;
	}
	if ((leaf = calloc(1, sizeof(*leaf))) == NULL)
		fatal("%s: calloc", __func__);
	leaf->cl_fd = leaf->cl_events = -1;
	leaf->cl_tc = tc;
	leaf->cl_dir = xasprintf("%s/%s", tdir, name);
	free(tdir);
	if (mkdir(leaf->cl_dir, 0755) < 0 && errno != EEXIST) {
		log_warn("tenant %s: cgroup v2: mkdir %s", t->t_id,
		    leaf->cl_dir);
		/* Made again at the next start (removed under us?). */
		memset(tc->tc_limits, 0, sizeof(tc->tc_limits));
		free(leaf->cl_dir);
		free(leaf);
		return NULL;
	}
	leaf_hold(leaf);
	return leaf;
}

const char *
cgroup_leaf_dir(const struct cgroup_leaf *leaf)
{
	return leaf->cl_dir;
}

int
cgroup_leaf_fd(const struct cgroup_leaf *leaf)
{
	return leaf->cl_fd >= 0 ? leaf->cl_fd : 0;
}

/* Whether the leaf holds no process, read where it is held open. */
static bool
leaf_empty(const struct cgroup_leaf *leaf)
{
	char line[64];
	ssize_t n;

	if (leaf->cl_fd < 0)
		return dir_empty(leaf->cl_dir);
	/* From offset 0, kernfs renders the file anew. */
	if ((n = pread(leaf->cl_events, line, sizeof(line) - 1, 0)) < 0)
		return false;
	line[n] = '\0';
	return events_empty(line);
}

void
cgroup_leaf_end(struct cgroup_leaf *leaf)
{
	char **p;

	if (leaf == NULL)
		return;
	/* Kept as it is when nothing is left in it. A leaf that needs
	 * cgroup.kill is never kept: an app started into one was killed
	 * at once (Linux 6.18). */
	if (cg.npool < POOL_MAX && leaf_empty(leaf)) {
		leaf->cl_next = leaf->cl_tc->tc_pool;
		leaf->cl_tc->tc_pool = leaf;
		cg.npool++;
		return;
	}
	leaf_release(leaf);
	kill_all(leaf->cl_dir);
	if (rmdir(leaf->cl_dir) == 0 || errno != EBUSY) {
		free(leaf->cl_dir);
	} else {
		/* The killed processes are still exiting. */
		p = realloc(cg.pending, (cg.npending + 1) * sizeof(*p));
		if (p == NULL)
			fatal("%s: realloc", __func__);
		cg.pending = p;
		cg.pending[cg.npending++] = leaf->cl_dir;
	}
	free(leaf);
}

void
cgroup_sweep(void)
{
	size_t kept = 0;

	for (size_t i = 0; i < cg.npending; i++) {
		if (rmdir(cg.pending[i]) < 0 && errno == EBUSY) {
			/* Something got in between kill and exit: again. */
			kill_all(cg.pending[i]);
			cg.pending[kept++] = cg.pending[i];
		} else
			free(cg.pending[i]);
	}
	cg.npending = kept;
}

static void
remove_tenant_dir(const char *dir)
{
	if (rmdir(dir) < 0)
		log_warn("cgroup v2: rmdir %s", dir);
}

/* Removes tc's empty leaves and frees it (NULL: nothing). */
static void
tenant_cg_free(struct tenant_cg *tc)
{
	struct cgroup_leaf *leaf;

	if (tc == NULL)
		return;
	while ((leaf = tc->tc_pool) != NULL) {
		tc->tc_pool = leaf->cl_next;
		leaf_release(leaf);
		if (rmdir(leaf->cl_dir) < 0)
			log_warn("cgroup v2: rmdir %s", leaf->cl_dir);
		free(leaf->cl_dir);
		free(leaf);
	}
	free(tc->tc_id);
	free(tc);
}

void
cgroup_cleanup(void)
{
	if (!cg.active)
		return;
	for (size_t i = 0; i < cg.tenants_cap; i++)
		tenant_cg_free(cg.tenants[i]);
	free(cg.tenants);
	cg.tenants = NULL;
	cg.tenants_cap = cg.ntenants = cg.npool = 0;
	for (size_t i = 0; i < cg.npending; i++) {
		if (rmdir_wait(cg.pending[i], DRAIN_MS) < 0)
			log_warn("cgroup v2: rmdir %s", cg.pending[i]);
		free(cg.pending[i]);
	}
	free(cg.pending);
	cg.pending = NULL;
	cg.npending = 0;
	each_subdir(cg.base, SELF_LEAF, remove_tenant_dir);
	/* A daemon that sits in base/daemon keeps both: systemd removes
	 * them with the service's cgroup. */
	if (!cg.in_base && rmdir(cg.base) < 0)
		log_warn("cgroup v2: rmdir %s", cg.base);
	free(cg.base);
	cg.base = NULL;
	cg.active = false;
}

void
cgroup_app_limits(const struct conf_tenant *t, const struct conf_limits *app,
    struct conf_limits *out)
{
	*out = *app;
	if (!(cg.ctl & CTL_MEMORY) && out->l_memory == 0)
		out->l_memory = t->t_resources.r_memory;
	if (!(cg.ctl & CTL_PIDS) && out->l_processes == 0)
		out->l_processes = t->t_resources.r_processes;
}

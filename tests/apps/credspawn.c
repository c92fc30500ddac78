/*
 * The child of a spawn changes only its own credentials
 * (t_spawn_creds.sh; issue 16). Run as root, like a daemon with a user per
 * tenant: four busy threads stand for libzmq's and libmongoc's (each
 * loops over malloc/free, pthread_create + join of a short-lived thread,
 * which takes glibc's stack-cache lock, and a check of its own
 * credentials), while the main thread starts N apps through spawn_start,
 * alternating between two tenant users, each other pair with a cgroup
 * (clone3 into it; half of those into the folder held open, as the
 * daemons hold their first leaves) and without (vfork). Every app is
 * tests/apps/idcheck, which checks its ids, groups, signals and cgroup.
 * Fails (exit 1) on an app that did not exit 0, a spawn that failed, a
 * thread whose credentials changed, or the daemon's own credentials
 * changed at the end; 77 when not root.
 *
 *   credspawn IDCHECK N UID_A GID_A UID_B GID_B [DIR_A CG_A DIR_B CG_B]
 *
 * DIR_x is a cgroup v2 folder for user x's apps and CG_x its name as
 * /proc/self/cgroup shows it; without them only vfork is exercised.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"

#define NTHREADS	4
#define WINDOW		16	/* apps running at once */

/* The supplementary groups the "daemon" runs with: an app must not keep
 * them. */
static const gid_t daemon_groups[] = { 1, 2 };

struct creds {
	uid_t	uid[3];
	gid_t	gid[3];
	gid_t	groups[16];
	int	ngroups;
};

static atomic_bool stop;
static atomic_long progress;	/* spawns and reaps so far */
static atomic_int changed;	/* checks that saw other credentials */
static struct creds daemon_creds;

struct busy {
	pthread_t	 b_thread;
	unsigned long	 b_loops;
	unsigned long	 b_threads;
};

/* Raw system calls: glibc's getters are the same, but keep to the kernel's
 * view of this very thread. */
static void
get_creds(struct creds *c)
{
	memset(c, 0, sizeof(*c));
	syscall(SYS_getresuid, &c->uid[0], &c->uid[1], &c->uid[2]);
	syscall(SYS_getresgid, &c->gid[0], &c->gid[1], &c->gid[2]);
	c->ngroups = getgroups(16, c->groups);
}

static bool
same_creds(const struct creds *a, const struct creds *b)
{
	return memcmp(a->uid, b->uid, sizeof(a->uid)) == 0 &&
	    memcmp(a->gid, b->gid, sizeof(a->gid)) == 0 &&
	    a->ngroups == b->ngroups &&
	    memcmp(a->groups, b->groups,
	    sizeof(gid_t) * (size_t)(a->ngroups > 0 ? a->ngroups : 0)) == 0;
}

static void
print_creds(const char *who, const struct creds *c)
{
	fprintf(stderr, "credspawn: %s: uid %u %u %u, gid %u %u %u, %d groups",
	    who, (unsigned)c->uid[0], (unsigned)c->uid[1],
	    (unsigned)c->uid[2], (unsigned)c->gid[0], (unsigned)c->gid[1],
	    (unsigned)c->gid[2], c->ngroups);
	for (int i = 0; i < c->ngroups; i++)
		fprintf(stderr, " %u", (unsigned)c->groups[i]);
	fprintf(stderr, "\n");
}

static void
check_own_creds(const char *who)
{
	struct creds c;

	get_creds(&c);
	if (!same_creds(&c, &daemon_creds)) {
		if (atomic_fetch_add(&changed, 1) < 5)
			print_creds(who, &c);
	}
}

static void *
short_lived(void *arg)
{
	char *p = malloc(256);

	if (p != NULL)
		memset(p, 1, 256);
	free(p);
	check_own_creds("a short-lived thread");
	return arg;
}

static void *
busy(void *arg)
{
	struct busy *b = arg;

	while (!atomic_load(&stop)) {
		pthread_t t;
		size_t len = 64 + (b->b_loops % 64) * 1024;
		char *p = malloc(len);

		if (p != NULL)
			memset(p, 2, len);
		free(p);
		if (pthread_create(&t, NULL, short_lived, NULL) == 0) {
			pthread_join(t, NULL);
			b->b_threads++;
		}
		check_own_creds("a busy thread");
		b->b_loops++;
		/* Busy, not spinning: a few thousand thread creations a
		 * second in all leave CPU for the spawns and for the tests
		 * that run beside this one. */
		nanosleep(&(struct timespec){ 0, 200 * 1000 }, NULL);
	}
	return NULL;
}

/*
 * What glibc's set-id protocol does when a child sharing the daemon's
 * memory runs it: it signals (tgkill) every other thread on the daemon's
 * list. Forbidden to the spawning thread and so to its children (filters
 * are inherited), before they exec or after: SIGSYS kills the process.
 * The busy threads, started before, are not filtered. Returns 0 or -1.
 */
static int
forbid_tgkill(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_tgkill, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_tkill, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

/*
 * A spawn that never returns: the parent waits in vfork until its child
 * execs, and a child blocked on a lock that an earlier child died holding
 * never does (nor does the daemon then). Ends the test when nothing has
 * progressed for WATCHDOG_S seconds.
 */
#define WATCHDOG_S 20

static void *
watchdog(void *arg)
{
	long last = -1;
	int still = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		long p = atomic_load(&progress);

		nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
		if (p != last) {
			last = p;
			still = 0;
		} else if (++still >= WATCHDOG_S * 10) {
			fprintf(stderr, "credspawn: no spawn returned for %d s "
			    "(after %ld spawns and reaps): a child stuck on a "
			    "lock in the daemon's memory?\n", WATCHDOG_S, p);
			_exit(1);
		}
	}
	return NULL;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The environment the apps get: the sanitizers' settings, if any. */
static char **
app_env(void)
{
	static const char *const keep[] = { "ASAN_OPTIONS=", "UBSAN_OPTIONS=",
	    "LSAN_OPTIONS=" };
	static char *env[8];
	extern char **environ;
	int n = 0;

	env[n++] = "PATH=/usr/bin:/bin";
	for (char **e = environ; *e != NULL; e++)
		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
			if (strncmp(*e, keep[i], strlen(keep[i])) == 0)
				env[n++] = *e;
	env[n] = NULL;
	return env;
}

static void
reap(pid_t pid, long i, int *failed)
{
	struct rusage ru;
	int status;

	if (spawn_collect(pid, &status, &ru) < 0) {
		fprintf(stderr, "credspawn: app %ld: wait4: %s\n", i,
		    strerror(errno));
		(*failed)++;
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "credspawn: app %ld (pid %d): status %#x\n",
		    i, (int)pid, status);
		(*failed)++;
	}
}

int
main(int argc, char **argv)
{
	struct busy b[NTHREADS];
	struct creds end;
	const char *dir[2] = { NULL, NULL };
	char *cg[2] = { NULL, NULL };
	char uid_s[2][16], gid_s[2][16];
	uid_t uid[2];
	gid_t gid[2];
	pid_t pids[WINDOW];
	long idx[WINDOW], n, head = 0, count = 0, by_clone3 = 0, by_vfork = 0;
	long by_held = 0;
	int dfd[2] = { 0, 0 };
	char **env = app_env();
	int failed = 0, stuck = 0;
	struct timespec deadline;
	pthread_t wd;
	double t0, took;
	sigset_t usr2;

	if (argc != 7 && argc != 11) {
		fprintf(stderr, "usage: credspawn IDCHECK N UID_A GID_A UID_B "
		    "GID_B [DIR_A CG_A DIR_B CG_B]\n");
		return 2;
	}
	if (geteuid() != 0) {
		printf("SKIP: credspawn needs root\n");
		return 77;
	}
	n = strtol(argv[2], NULL, 10);
	for (int u = 0; u < 2; u++) {
		uid[u] = (uid_t)strtoul(argv[3 + 2 * u], NULL, 10);
		gid[u] = (gid_t)strtoul(argv[4 + 2 * u], NULL, 10);
		snprintf(uid_s[u], sizeof(uid_s[u]), "%u", (unsigned)uid[u]);
		snprintf(gid_s[u], sizeof(gid_s[u]), "%u", (unsigned)gid[u]);
		if (uid[u] == 0 || gid[u] == daemon_groups[0] ||
		    gid[u] == daemon_groups[1] || gid[u] == 0) {
			fprintf(stderr, "credspawn: tenant user %s:%s would "
			    "not show a change\n", uid_s[u], gid_s[u]);
			return 2;
		}
		if (argc == 11) {
			dir[u] = argv[7 + 2 * u];
			cg[u] = argv[8 + 2 * u];
			if ((dfd[u] = open(dir[u], O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC)) < 0) {
				fprintf(stderr, "credspawn: %s: %s\n", dir[u],
				    strerror(errno));
				return 1;
			}
		}
	}

	/* The daemon: supplementary groups the apps must not keep, ignored
	 * and blocked signals they must not inherit, its threads. */
	if (setgroups(2, daemon_groups) < 0) {
		perror("credspawn: setgroups");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &usr2, NULL);
	spawn_init();
	get_creds(&daemon_creds);
	print_creds("the daemon", &daemon_creds);
	/* Is clone3 there at all (a seccomp filter may answer ENOSYS)? With
	 * size 0 the kernel refuses it before doing anything. */
	if (dir[0] != NULL && syscall(SYS_clone3, NULL, 0) < 0 &&
	    errno == ENOSYS)
		printf("note: no clone3 here (ENOSYS): the cgroup half runs "
		    "vfork and cgroup.procs\n");

	memset(b, 0, sizeof(b));
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&b[i].b_thread, NULL, busy, &b[i]) != 0) {
			perror("credspawn: pthread_create");
			return 1;
		}

	if (pthread_create(&wd, NULL, watchdog, NULL) != 0) {
		perror("credspawn: pthread_create");
		return 1;
	}
	if (forbid_tgkill() < 0)
		printf("note: no seccomp filter (%s): a child that signals the "
		    "daemon's threads is not caught as such\n",
		    strerror(errno));

	t0 = now();
	for (long i = 0; i < n; i++) {
		int u = (int)(i & 1);
		bool in_cg = dir[u] != NULL && (i & 2);
		bool held = in_cg && (i & 4);
		char *const app_argv[] = { argv[1], uid_s[u], gid_s[u],
		    in_cg ? cg[u] : NULL, NULL };
		struct spawn_req req = {
			.sr_argv = app_argv, .sr_envp = env, .sr_cwd = "/",
			.sr_out_fd = STDERR_FILENO, .sr_set_ids = true,
			.sr_uid = uid[u], .sr_gid = gid[u],
			.sr_cgroup = in_cg ? dir[u] : NULL,
			.sr_cgroup_fd = held ? dfd[u] : 0,
			.sr_nice = (int)(i % 3 == 0 ? 19 : 0),
		};
		const char *stage = "?";
		pid_t pid;

		if (count == WINDOW) {
			reap(pids[head], idx[head], &failed);
			head = (head + 1) % WINDOW;
			count--;
		}
		atomic_fetch_add(&progress, 1);
		if (spawn_start(&req, &pid, &stage) < 0) {
			fprintf(stderr, "credspawn: app %ld: %s: %s\n", i, stage,
			    strerror(errno));
			failed++;
			continue;
		}
		if (in_cg)
			by_clone3++;
		else
			by_vfork++;
		if (held)
			by_held++;
		pids[(head + count) % WINDOW] = pid;
		idx[(head + count) % WINDOW] = i;
		count++;
		check_own_creds("the spawning thread");
		if (failed > 20)
			break;
	}
	while (count > 0) {
		reap(pids[head], idx[head], &failed);
		head = (head + 1) % WINDOW;
		count--;
		atomic_fetch_add(&progress, 1);
	}
	took = now() - t0;
	/* A child that died holding one of glibc's locks in the daemon's
	 * memory (the stack cache's: glibc's set-id protocol takes it) leaves
	 * the busy threads stuck in pthread_create or pthread_join. */
	atomic_store(&stop, true);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_timedjoin_np(b[i].b_thread, NULL, &deadline) != 0) {
			fprintf(stderr, "credspawn: busy thread %d is stuck "
			    "(after %lu loops): a lock left held by a child?\n",
			    i, b[i].b_loops);
			stuck++;
		}
	if (stuck) {
		printf("%ld apps: %d failed, %d busy threads stuck\n",
		    by_clone3 + by_vfork, failed, stuck);
		fflush(stdout);
		_exit(1);	/* exit() would wait for the stuck threads */
	}
	pthread_join(wd, NULL);

	printf("%ld apps in %.2f s: %ld with a cgroup (clone3; %ld into the "
	    "folder held open), %ld without (vfork), %d failed\n",
	    by_clone3 + by_vfork, took, by_clone3, by_held, by_vfork, failed);
	for (int i = 0; i < NTHREADS; i++) {
		printf("busy thread %d: %lu loops, %lu threads created\n", i,
		    b[i].b_loops, b[i].b_threads);
		if (b[i].b_loops == 0) {
			fprintf(stderr, "credspawn: busy thread %d never ran\n",
			    i);
			failed++;
		}
	}
	get_creds(&end);
	if (!same_creds(&end, &daemon_creds)) {
		print_creds("the daemon at the end", &end);
		failed++;
	}
	if (atomic_load(&changed) > 0) {
		fprintf(stderr, "credspawn: %d checks by the daemon's threads "
		    "saw other credentials\n", atomic_load(&changed));
		failed++;
	}
	return failed ? 1 : 0;
}

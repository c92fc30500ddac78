#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/sched.h>	/* SCHED_FLAG_RESET_ON_FORK */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "build_config.h"
#include "fdreserve.h"
#include "log.h"
#include "spawn.h"
#include "state.h"

static void
usage(FILE *out, const char *name)
{
	fprintf(out, "usage: %s [-dhnvV] [-c file]\n"
	    "  -c, --config file  platform configuration (default: "
	    "$MYSIMBDP_CONF or %s)\n"
	    "  -d, --foreground   stay in the foreground and log to stderr\n"
	    "  -n, --check        check the configuration and exit\n"
	    "  -v, --verbose      verbose (debug) logging\n"
	    "  -h, --help         this help\n"
	    "  -V, --version      print the version\n"
	    "SIGHUP rereads the configuration, SIGTERM or SIGINT stops.\n",
	    name, MYSIMBDP_DEFAULT_CONF);
}

/*
 * Started with fd 0, 1 or 2 closed, the daemon's first open (log/
 * ingest.jsonl, an app's log pipe) would take it: stderr's log lines
 * would land in that file, and a child's stdio set-up would replace it
 * with /dev/null. /dev/null holds them instead (as OpenBSD's daemons do).
 */
static void
stdio_hold(void)
{
	int fd;

	do {
		if ((fd = open("/dev/null", O_RDWR)) < 0)
			_exit(EX_OSERR);
	} while (fd < STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

char *
daemon_start(const char *name, int argc, char *argv[],
    struct conf_platform **pp, struct conf_tenant_set *set)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'd' },
		{ "check", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = getenv("MYSIMBDP_CONF");
	bool foreground = false, verbose = false, check_only = false;
	char err[512], *copy;
	int ch;

	stdio_hold();
	fdreserve_init();
	while ((ch = getopt_long(argc, argv, "c:dnvhV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': file = optarg; break;
		case 'd': foreground = true; break;
		case 'n': check_only = true; break;
		case 'v': verbose = true; break;
		case 'h': usage(stdout, name); exit(0);
		case 'V': printf("%s %s\n", name, MYSIMBDP_VERSION); exit(0);
		default: usage(stderr, name); exit(EX_USAGE);
		}
	}
	if (optind != argc) {
		usage(stderr, name);
		exit(EX_USAGE);
	}
	if (file == NULL)
		file = MYSIMBDP_DEFAULT_CONF;
	log_init(name, foreground || check_only, verbose);
	daemon_load_or_exit(name, file, pp, set);
	if (check_only) {
		printf("configuration OK\n");
		conf_tenant_set_free(set);
		conf_platform_free(*pp);
		exit(0);
	}
	if (strcmp((*pp)->p_log_level, "debug") == 0)
		log_set_verbose(true);
	/* ZeroMQ binds the control sockets (run/streammgr.ctl, batchmgr.ctl,
	 * streammgr.pub) with the mode the umask leaves: started with umask
	 * 000, any tenant's app could connect and stop other tenants. Every
	 * other file and folder is made with an explicit mode. */
	umask(022);
	if (state_prepare(*pp, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", name, err);
		exit(EX_CANTCREAT);
	}
	daemon_lock_or_exit(name, *pp);
	if (spawn_init() < 0)
		log_warn("prctl(PR_SET_CHILD_SUBREAPER)");
	signal(SIGPIPE, SIG_IGN);
	/* Past a file-size limit a write fails with EFBIG, handled like a
	 * full disk, instead of killing the daemon. */
	signal(SIGXFSZ, SIG_IGN);
	if ((copy = strdup(file)) == NULL)
		fatal("%s: strdup", __func__);
	return copy;
}

void
daemon_load_or_exit(const char *name, const char *file,
    struct conf_platform **pp, struct conf_tenant_set *set)
{
	struct conf_errors errs = { 0 };

	*pp = conf_platform_load(file, &errs);
	if (*pp != NULL)
		conf_tenants_load((*pp)->p_tenants_dir, (*pp)->p_apps_dir, set,
		    &errs);
	if (errs.e_count == 0) {
		conf_tenant_set_keep_served(*pp, set);
		return;
	}
	conf_errors_print(&errs);
	fprintf(stderr, "%s: %zu configuration error%s\n", name, errs.e_count,
	    errs.e_count == 1 ? "" : "s");
	conf_errors_free(&errs);
	conf_tenant_set_free(set);
	conf_platform_free(*pp);
	exit(EX_CONFIG);
}

void
daemon_lock_or_exit(const char *name, const struct conf_platform *p)
{
	char *path = state_path(p, "run/%s.pid", name), pid[32];
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0) {
		fprintf(stderr, "%s: open %s: %s\n", name, path,
		    strerror(errno));
		exit(EX_CANTCREAT);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "%s: %s is locked: another %s runs on this "
		    "state directory\n", name, path, name);
		exit(EX_TEMPFAIL);
	}
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || write(fd, pid, strlen(pid)) < 0)
		log_warn("write %s", path);
	free(path);
}

/*
 * The tenant a profile's error is about, from its file name (a profile
 * is <id>.cfg): whether the daemon runs it says what stays in force.
 */
static const char *
after_error(const struct conf_error *e, daemon_known_fn *known, void *arg)
{
	const char *base = strrchr(e->ce_file, '/');
	char id[64];
	size_t n;

	base = base != NULL ? base + 1 : e->ce_file;
	n = strlen(base);
	if (n > 4 && strcmp(base + n - 4, ".cfg") == 0 && n - 4 < sizeof(id)) {
		memcpy(id, base, n - 4);
		id[n - 4] = '\0';
		if (!known(arg, id))
			return "tenant not loaded: it has no previous profile";
	}
	return "keeping the previous profile";
}

int
daemon_reload(const char *name, const char *file,
    const struct conf_platform *cur, struct conf_platform **pp,
    struct conf_tenant_set *set, daemon_known_fn *known, void *arg)
{
	struct conf_errors errs = { 0 };
	struct conf_platform *p;

	log_info("reloading configuration");
	p = conf_platform_load(file, &errs);
	if (p != NULL && strcmp(p->p_state_dir, cur->p_state_dir) != 0) {
		log_warnx("%s: state_dir changed: restart %s to use it; "
		    "keeping the running configuration", p->p_file, name);
		conf_platform_free(p);
		p = NULL;
	}
	if (p == NULL || conf_tenants_load(p->p_tenants_dir, p->p_apps_dir,
	    set, &errs) < 0) {
		for (size_t i = 0; i < errs.e_count; i++)
			log_warnx("%s", errs.e_msgs[i]);
		log_warnx("reload failed; keeping the running configuration");
		conf_errors_free(&errs);
		conf_platform_free(p);
		return -1;
	}
	conf_tenant_set_keep_served(p, set);
	for (size_t i = 0; i < errs.e_count; i++)
		log_warnx("%s (%s)", errs.e_msgs[i], after_error(
		    &errs.e_list[i], known, arg));
	conf_errors_free(&errs);
	*pp = p;
	return 0;
}

/* Reads what the signalfd holds and hands each signal to the callback. */
static void
on_signals(evutil_socket_t fd, short what, void *arg)
{
	struct daemon_signals *ds = arg;
	struct signalfd_siginfo si[8];
	ssize_t n;

	(void)what;
	do {
		n = read(fd, si, sizeof(si));
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(si[0]); i++)
			ds->ds_cb((evutil_socket_t)si[i].ssi_signo, EV_SIGNAL,
			    ds->ds_arg);
	} while (n == (ssize_t)sizeof(si));
}

void
daemon_signals(struct daemon_signals *ds, struct event_base *base,
    const int *sigs, size_t nsigs, event_callback_fn cb, void *arg)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < nsigs; i++)
		sigaddset(&set, sigs[i]);
	if ((errno = pthread_sigmask(SIG_BLOCK, &set, NULL)) != 0)
		fatal("%s: pthread_sigmask", __func__);
	if ((ds->ds_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		fatal("%s: signalfd", __func__);
	ds->ds_cb = cb;
	ds->ds_arg = arg;
	ds->ds_ev = event_new(base, ds->ds_fd, EV_READ | EV_PERSIST,
	    on_signals, ds);
	if (ds->ds_ev == NULL || event_add(ds->ds_ev, NULL) < 0)
		fatalx("%s: event_new", __func__);
}

void
daemon_signals_free(struct daemon_signals *ds)
{
	if (ds->ds_ev == NULL)
		return;
	event_free(ds->ds_ev);
	close(ds->ds_fd);
	ds->ds_ev = NULL;
}

/*
 * The kernel's struct sched_attr as of its first version (48 bytes),
 * which has the slice (sched_runtime); spelt out here because glibc's
 * <sched.h> declares its own from 2.41 on, and the kernel's header
 * would then clash with it.
 */
struct kernel_sched_attr {
	uint32_t	ka_size;
	uint32_t	ka_policy;
	uint64_t	ka_flags;
	int32_t		ka_nice;
	uint32_t	ka_priority;
	uint64_t	ka_runtime;	/* SCHED_NORMAL: the time slice, ns */
	uint64_t	ka_deadline;
	uint64_t	ka_period;
};

/* The kernel's shortest custom slice. */
#define SHORT_SLICE_NS 100000

/*
 * Without it the loop waited about 150 us a file for a CPU in a batch
 * burst, behind the app it had just started: under EEVDF the running
 * task keeps the CPU through its slice (RUN_TO_PARITY) unless the one
 * that wakes has a shorter slice, and the apps' nice 19 did not make up
 * for it (docs/benchmarks.md, "The event loop's time slice"). Reset on
 * fork: no app inherits it. The nice value stays as it is.
 */
void
daemon_short_slice(void)
{
	struct kernel_sched_attr a;

	memset(&a, 0, sizeof(a));
	a.ka_size = sizeof(a);
	if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) < 0) {
		log_info("no short time slice for the event loop: "
		    "sched_getattr: %s", strerror(errno));
		return;
	}
	a.ka_size = sizeof(a);
	a.ka_flags = SCHED_FLAG_RESET_ON_FORK;
	a.ka_runtime = SHORT_SLICE_NS;
	if (a.ka_policy != SCHED_NORMAL ||
	    syscall(SYS_sched_setattr, 0, &a, 0) < 0 ||
	    syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) < 0 ||
	    a.ka_runtime != SHORT_SLICE_NS)
		log_info("no short time slice for the event loop: the "
		    "kernel has no custom slices (Linux 6.12) or the "
		    "policy is not SCHED_NORMAL");
}

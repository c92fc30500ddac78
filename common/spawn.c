#include "spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>	/* clone3's struct clone_args */
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

/*
 * What runs in the child before exec (docs/architecture.md, "Running an
 * app"; STYLE.md, "What the child of a spawn may do"). The child shares
 * the daemon's memory while the daemon's other threads (libzmq,
 * libmongoc) run, so it makes system calls only, on data the parent
 * prepared:
 *  - raw syscall() for everything glibc wraps with state: the credentials
 *    (glibc's setgroups/setgid/setuid run its all-threads set-id protocol:
 *    they take the stack-cache lock and write into every other thread's
 *    descriptor, here the daemon's), signal dispositions and mask (glibc's
 *    sigaction and sigprocmask keep its reserved signals 32 and 33 apart,
 *    and sanitizers intercept them), and open, write and close (glibc's are
 *    cancellation points, which flip the calling thread's cancellation
 *    state around the call in a process with threads);
 *  - glibc's thin wrappers otherwise, each one system call and nothing
 *    else: dup2, chdir, umask, setsid, prctl, getppid, setpriority,
 *    setrlimit (prlimit64), close_range, execve, _exit;
 *  - no malloc, stdio, locks or memset (AddressSanitizer intercepts it):
 *    structures are static or have initialisers;
 *  - arguments that the kernel takes as 64-bit (sizes) are passed as such
 *    to syscall(), which reads every argument as a long.
 * Not instrumented by AddressSanitizer (the child may run on the small
 * stack of clone_into, which ASan does not know) nor by
 * UndefinedBehaviorSanitizer (whose reports would take locks and use
 * stdio in the daemon's memory).
 */
#define CHILD_CODE __attribute__((no_sanitize("address", "undefined")))

/*
 * The 32-bit ids: on 32-bit x86 and ARM the plain calls are the old 16-bit
 * ones (glibc uses these too).
 */
#ifdef SYS_setresuid32
#define SYS_SETGROUPS	SYS_setgroups32
#define SYS_SETRESGID	SYS_setresgid32
#define SYS_SETRESUID	SYS_setresuid32
#else
#define SYS_SETGROUPS	SYS_setgroups
#define SYS_SETRESGID	SYS_setresgid
#define SYS_SETRESUID	SYS_setresuid
#endif

/*
 * The kernel's sigset_t, as rt_sigaction and rt_sigprocmask take it: 64
 * signals (glibc's sigset_t has 1024 bits, which the kernel refuses).
 */
#define KERNEL_SIGSET_SIZE ((size_t)8)

/*
 * The kernel's struct sigaction, all zero: SIG_DFL, no flags, empty mask
 * (whatever the architecture's order of its fields, zero is SIG_DFL).
 */
struct kernel_sigaction {
	unsigned long	ks_words[4];
};

/* The steps of the child's set-up, named when one fails. */
enum stage {
	ST_EXEC, ST_SETSID, ST_PDEATHSIG, ST_SIGNALS, ST_STDIO, ST_CHDIR,
	ST_RLIMIT, ST_SETGROUPS, ST_SETRESGID, ST_SETRESUID, ST_NONEWPRIVS,
	ST_CLOSEFDS, ST_CGROUP, ST_NICE,
	ST_COUNT	/* not a stage: how many there are */
};

static const char *const stage_names[] = {
	[ST_EXEC] = "exec", [ST_SETSID] = "setsid",
	[ST_PDEATHSIG] = "prctl(PR_SET_PDEATHSIG)", [ST_SIGNALS] = "signals",
	[ST_STDIO] = "stdio", [ST_CHDIR] = "chdir", [ST_RLIMIT] = "setrlimit",
	[ST_SETGROUPS] = "setgroups", [ST_SETRESGID] = "setresgid",
	[ST_SETRESUID] = "setresuid",
	[ST_NONEWPRIVS] = "prctl(PR_SET_NO_NEW_PRIVS)",
	[ST_CLOSEFDS] = "close_range", [ST_CGROUP] = "cgroup",
	[ST_NICE] = "setpriority",
};
_Static_assert(sizeof(stage_names) / sizeof(stage_names[0]) == ST_COUNT,
    "a name for every stage");

struct child_error {
	int	ce_stage;
	int	ce_errno;
};

#define MAX_RLIMITS 6

struct rlimit_plan {
	int		 rp_resource[MAX_RLIMITS];
	struct rlimit	 rp_limit[MAX_RLIMITS];
	int		 rp_count;
};

/*
 * The soft limit of open files the daemon was started with, given back to
 * its apps (set by spawn_init when it raised the daemon's own).
 */
static struct rlimit app_nofile;
static bool app_nofile_set;

/*
 * A daemon holds a few descriptors per tenant (streammgr: two ZeroMQ
 * sockets per stream, each a listener and a mailbox; the monitor: one
 * socket per tenant; batchmgr: the staging folder), so a thousand tenants
 * do not fit in the usual soft limit of 1024. The daemons wait with epoll
 * (libevent, libzmq) and poll (libmongoc), never select(), so they can
 * use the hard limit; their apps, which may use select(), get the
 * original soft limit back.
 */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	app_nofile = rl;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		app_nofile_set = true;
}

int
spawn_init(void)
{
	raise_nofile();
	return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

static void
plan_add(struct rlimit_plan *plan, int resource, uint64_t soft, uint64_t hard)
{
	plan->rp_resource[plan->rp_count] = resource;
	plan->rp_limit[plan->rp_count].rlim_cur = (rlim_t)soft;
	plan->rp_limit[plan->rp_count].rlim_max = (rlim_t)hard;
	plan->rp_count++;
}

/* Computed before fork: the child may only make system calls. */
static void
plan_rlimits(const struct conf_limits *l, struct rlimit_plan *plan)
{
	plan->rp_count = 0;
	plan_add(plan, RLIMIT_CORE, 0, 0);
	if (app_nofile_set && (l == NULL || !l->l_open_files))
		plan_add(plan, RLIMIT_NOFILE, app_nofile.rlim_cur,
		    app_nofile.rlim_max);
	if (l == NULL)
		return;
	if (l->l_cpu_ms) {
		/* Round up to whole seconds; the hard limit one second later
		 * turns the SIGXCPU warning into SIGKILL. */
		uint64_t secs = (l->l_cpu_ms + 999) / 1000;

		plan_add(plan, RLIMIT_CPU, secs, secs + 1);
	}
	if (l->l_memory)
		plan_add(plan, RLIMIT_AS, l->l_memory, l->l_memory);
	if (l->l_open_files)
		plan_add(plan, RLIMIT_NOFILE, (uint64_t)l->l_open_files,
		    (uint64_t)l->l_open_files);
	if (l->l_file_size)
		plan_add(plan, RLIMIT_FSIZE, l->l_file_size, l->l_file_size);
	if (l->l_processes)
		plan_add(plan, RLIMIT_NPROC, (uint64_t)l->l_processes,
		    (uint64_t)l->l_processes);
}

/*
 * Where the child shares the daemon's memory (vfork, and clone_into on
 * x86-64) it reports a failed step here, read by the parent once the
 * kernel lets it go on, at the child's exec or exit: a stage of -1 means
 * the exec succeeded (or the child died first, which the exit status
 * shows). No descriptors: a pipe per spawn costs four system calls on a
 * path that runs once per file of a batch burst.
 */
static volatile struct child_error shared_report;

/*
 * Elsewhere (clone_into with fork semantics) it reports through the
 * close-on-exec pipe errfd: its write end closes by itself when execve
 * succeeds, so the parent reads either this record or end-of-file.
 */
static CHILD_CODE __attribute__((__noreturn__)) void
child_fail(int errfd, enum stage stage)
{
	struct child_error ce = { (int)stage, errno };

	shared_report.ce_stage = ce.ce_stage;
	shared_report.ce_errno = ce.ce_errno;
	if (errfd >= 0)
		(void)syscall(SYS_write, errfd, &ce, sizeof(ce));
	_exit(127);
}

/*
 * Closes every descriptor above stderr but those in keep (-1: none).
 * System calls only (see CHILD_CODE).
 */
static CHILD_CODE void
close_all_but(int *keep, int n)
{
	unsigned lo = STDERR_FILENO + 1;

	/* A handful of values: sort them in place. */
	for (int i = 0; i < n - 1; i++)
		for (int j = 0; j < n - 1 - i; j++)
			if (keep[j] > keep[j + 1]) {
				int t = keep[j];

				keep[j] = keep[j + 1];
				keep[j + 1] = t;
			}
	for (int i = 0; i < n; i++) {
		if (keep[i] < (int)lo)
			continue;
		if ((unsigned)keep[i] > lo)
			(void)close_range(lo, (unsigned)keep[i] - 1, 0);
		lo = (unsigned)keep[i] + 1;
	}
	(void)close_range(lo, ~0U, 0);
}

/*
 * Lowers the child's CPU priority: its own nice value and, where the
 * kernel groups sessions for the scheduler (autogroups, in which a task's
 * nice only weighs against its own session's), its session's. Not
 * SCHED_IDLE: the kernel weighs the session's autogroup, not the policy
 * of the task in it, and on Linux 6.18 (EEVDF) a SCHED_IDLE spinner
 * raised another tenant's p99 from 0.6 to 4 ms (t_misbehave.sh; nice 19
 * is the default, docs/architecture.md). Lowering needs no privilege.
 * System calls only (see CHILD_CODE).
 */
static CHILD_CODE void
set_nice(int nice, int errfd)
{
	char buf[4] = { (char)('0' + nice / 10), (char)('0' + nice % 10),
	    '\n', '\0' };
	long fd;

	if (setpriority(PRIO_PROCESS, 0, nice) < 0)
		child_fail(errfd, ST_NICE);
	fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/autogroup",
	    O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;		/* no autogroups: the nice value is enough */
	(void)syscall(SYS_write, fd, buf, (size_t)3);
	(void)syscall(SYS_close, fd);
}

/*
 * Runs in the child between vfork (or clone_into) and exec, in the
 * parent's memory (on its stack after vfork) while the parent waits and
 * the parent's other threads run. Only system calls are made here (see
 * CHILD_CODE), and everything the child needs was prepared by the parent.
 */
static CHILD_CODE __attribute__((__noreturn__)) void
child_setup(const struct spawn_req *req, const struct rlimit_plan *plan,
    pid_t parent, int errfd, int cgfd)
{
	/* Static: no code (or memset) to initialise them in the child. */
	static const struct kernel_sigaction dfl;
	static const uint64_t none;	/* the kernel's empty sigset_t */
	long null_fd;
	int keep[5] = { errfd, cgfd, req->sr_out_fd, req->sr_in_fd,
	    req->sr_err_fd };

	/* The daemon's descriptors go first (this is the child's own copy of
	 * the table): joining a cgroup below can wait for the kernel's cgroup
	 * lock for milliseconds, and a daemon killed meanwhile must not leave
	 * its pid lock (run/<daemon>.pid) or its sockets held by a child. */
	close_all_but(keep, 5);

	/* Into the app's own cgroup before anything else, while still
	 * privileged (only where clone3 could not start the child there):
	 * whatever the app starts is born there and is killed with it,
	 * whichever process group or session it ends up in. */
	if (cgfd >= 0 && syscall(SYS_write, cgfd, "0", (size_t)1) != 1)
		child_fail(errfd, ST_CGROUP);

	/* Own process group first, so a timeout can signal everything the
	 * app starts, even if it is killed a moment after the spawn. A
	 * session rather than just a group: with the kernel's autogroups
	 * (CONFIG_SCHED_AUTOGROUP) each session is one scheduling entity, so
	 * an app that spins, or forks spinners, gets one share of the CPU
	 * rather than one per thread, even without a cgroup cpu controller. */
	if (setsid() < 0)
		child_fail(errfd, ST_SETSID);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		child_fail(errfd, ST_PDEATHSIG);
	/* The parent may have died before the prctl took effect. */
	if (getppid() != parent)
		_exit(127);

	/* The parent blocked every signal before vfork, so none of its
	 * handlers can run here on its memory. Give the app default
	 * dispositions for the standard signals 1-31 (ignored ones would stay
	 * ignored across exec; handled ones are reset by exec anyway), then an
	 * empty mask just before exec. The real-time ones are left alone:
	 * glibc reserves 32 and 33 for itself and the daemons set none. The
	 * child has its own copy of the dispositions (no CLONE_SIGHAND). */
	for (int sig = 1; sig < 32; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)syscall(SYS_rt_sigaction, sig, &dfl, NULL,
			    KERNEL_SIGSET_SIZE);

	null_fd = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR);
	if (null_fd < 0 || dup2(req->sr_in_fd > STDERR_FILENO ?
	    req->sr_in_fd : (int)null_fd, STDIN_FILENO) < 0)
		child_fail(errfd, ST_STDIO);
	if (req->sr_out_fd >= 0) {
		if (dup2(req->sr_out_fd, STDOUT_FILENO) < 0 ||
		    dup2(req->sr_out_fd, STDERR_FILENO) < 0)
			child_fail(errfd, ST_STDIO);
	} else if (dup2((int)null_fd, STDOUT_FILENO) < 0 ||
	    dup2((int)null_fd, STDERR_FILENO) < 0)
		child_fail(errfd, ST_STDIO);
	if (req->sr_err_fd > STDERR_FILENO &&
	    dup2(req->sr_err_fd, STDERR_FILENO) < 0)
		child_fail(errfd, ST_STDIO);

	if (req->sr_cwd && chdir(req->sr_cwd) < 0)
		child_fail(errfd, ST_CHDIR);
	umask(077);
	if (req->sr_nice > 0)
		set_nice(req->sr_nice, errfd);
	for (int i = 0; i < plan->rp_count; i++)
		if (setrlimit(plan->rp_resource[i], &plan->rp_limit[i]) < 0)
			child_fail(errfd, ST_RLIMIT);

	/* Groups before gid before uid: each step needs the privilege the
	 * next one gives up. Raw system calls, as glibc's own posix_spawn
	 * child makes them: they change this process only (see CHILD_CODE).
	 * Real, effective and saved ids alike, so the app cannot get root
	 * back. */
	if (req->sr_set_ids) {
		if (syscall(SYS_SETGROUPS, 0L, NULL) < 0)
			child_fail(errfd, ST_SETGROUPS);
		if (syscall(SYS_SETRESGID, (long)req->sr_gid, (long)req->sr_gid,
		    (long)req->sr_gid) < 0)
			child_fail(errfd, ST_SETRESGID);
		if (syscall(SYS_SETRESUID, (long)req->sr_uid, (long)req->sr_uid,
		    (long)req->sr_uid) < 0)
			child_fail(errfd, ST_SETRESUID);
		/* A change of credentials clears the parent-death signal:
		 * set it again, and check the parent once more. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
			child_fail(errfd, ST_PDEATHSIG);
		if (getppid() != parent)
			_exit(127);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(errfd, ST_NONEWPRIVS);

	/* Every fd above stderr is internal to the daemon: close them all at
	 * exec. */
	if (close_range(STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		child_fail(errfd, ST_CLOSEFDS);

	/* Unblocked only now: a signal sent to the new group before this
	 * point waits for the app itself. */
	if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL,
	    KERNEL_SIGSET_SIZE) < 0)
		child_fail(errfd, ST_SIGNALS);
	execve(req->sr_argv[0], req->sr_argv, req->sr_envp);
	child_fail(errfd, ST_EXEC);
}

/* What child_setup needs, for the child that clone_into starts. */
struct child_args {
	const struct spawn_req	*ca_req;
	const struct rlimit_plan *ca_plan;
	pid_t			 ca_parent;
	int			 ca_errfd;
};

static CHILD_CODE __attribute__((__noreturn__)) void
child_main(void *arg)
{
	const struct child_args *a = arg;

	child_setup(a->ca_req, a->ca_plan, a->ca_parent, a->ca_errfd, -1);
}

#if defined(CLONE_INTO_CGROUP) && defined(__x86_64__)
/*
 * clone3 sharing the parent's memory, as vfork does: the child runs
 * fn(arg) on stack (its top given by the kernel from ca) and exits with
 * 127 should fn return. syscall() cannot do this: the child would return
 * through the frames the suspended parent still needs. Registers other
 * than rax, rcx and r11 survive the system call in both processes.
 *
 * The only hand-written assembly in the tree, kept because the fork
 * semantics of the portable branch of clone_into copy the daemon's page
 * tables for every app (that halved the batch burst rate). fn must be
 * CHILD_CODE: ASan does not know this stack, so nothing on it may be
 * instrumented. t_spawn_creds.sh starts a thousand apps through it while
 * four threads create threads, in the plain and the ASan build.
 */
static pid_t
clone3_vm(struct clone_args *ca, void (*fn)(void *), void *arg)
{
	register void (*r12)(void *) __asm__("r12") = fn;
	register void *r13 __asm__("r13") = arg;
	long ret;

	__asm__ volatile(
	    "syscall\n\t"
	    "test %%rax, %%rax\n\t"
	    "jnz 1f\n\t"
	    "xor %%ebp, %%ebp\n\t"
	    "mov %%r13, %%rdi\n\t"
	    "call *%%r12\n\t"
	    "mov $60, %%eax\n\t"		/* SYS_exit */
	    "mov $127, %%edi\n\t"
	    "syscall\n\t"
	    "1:\n\t"
	    : "=a"(ret)
	    : "0"((long)SYS_clone3), "D"(ca), "S"(sizeof(*ca)), "r"(r12),
	      "r"(r13)
	    : "rcx", "r11", "memory", "cc");
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return (pid_t)ret;
}
#endif

/*
 * Starts the child right inside the cgroup folder cgdir (clone3 with
 * CLONE_INTO_CGROUP, Linux 5.7): moving a running process by writing to
 * cgroup.procs waits for an RCU grace period, about 10 ms here when
 * spawns are spaced out (measured: 10.8 ms mean against 0.46 ms), and
 * the daemon waits with it. With CLONE_VFORK the parent waits until the
 * exec, as with vfork; on x86-64 the child shares the parent's memory too
 * (CLONE_VM, on a stack of its own), elsewhere it gets a copy (fork
 * semantics: the page tables are copied, slower for a daemon holding many
 * queued jobs). Returns the child's pid, or -1 with errno (ENOSYS where
 * the kernel or its headers lack it).
 */
static pid_t
clone_into(int cgdir, struct child_args *a)
{
#if defined(CLONE_INTO_CGROUP) && defined(__x86_64__)
	/* One spawn at a time (the daemons start apps from their event
	 * loop) and the parent is suspended while the child uses it. */
	static char stack[64 * 1024] __attribute__((aligned(16)));
	struct clone_args ca;

	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP;
	ca.exit_signal = SIGCHLD;
	ca.cgroup = (uint64_t)cgdir;
	ca.stack = (uint64_t)(uintptr_t)stack;
	ca.stack_size = sizeof(stack);
	return clone3_vm(&ca, child_main, a);
#elif defined(CLONE_INTO_CGROUP)
	struct clone_args ca;
	pid_t pid;

	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_VFORK | CLONE_INTO_CGROUP;
	ca.exit_signal = SIGCHLD;
	ca.cgroup = (uint64_t)cgdir;
	if ((pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca))) == 0)
		child_main(a);
	return pid;
#else
	(void)cgdir;
	(void)a;
	errno = ENOSYS;
	return -1;
#endif
}

/* Kernels without clone3 or CLONE_INTO_CGROUP answer these. */
static bool
clone_into_missing(int err)
{
	return err == ENOSYS || err == EINVAL || err == E2BIG;
}

/*
 * The fallback's cgroup.procs in the folder cgdir, opened by the parent
 * (with the daemon's credentials: the child may no longer be allowed to
 * once it has switched users) only where clone_into is missing. Returns
 * the descriptor, or -1 with errno.
 */
static int
open_procs(int cgdir)
{
	return openat(cgdir, "cgroup.procs", O_WRONLY | O_CLOEXEC);
}

/* Whether clone_into's child shares the parent's memory (shared_report). */
#if defined(CLONE_INTO_CGROUP) && defined(__x86_64__)
#define CLONE_INTO_SHARES 1
#else
#define CLONE_INTO_SHARES 0
#endif

/*
 * The child's report once the parent goes on: 0 when it exec'd (or died
 * before it could say otherwise), else -1 with *stage and errno set.
 * errfd is the read end of the report pipe, or -1 for shared_report.
 */
static int
child_outcome(int errfd, const char **stage)
{
	struct child_error ce;
	ssize_t n;

	if (errfd < 0) {
		ce.ce_stage = shared_report.ce_stage;
		ce.ce_errno = shared_report.ce_errno;
		n = ce.ce_stage < 0 ? 0 : (ssize_t)sizeof(ce);
	} else {
		do
			n = read(errfd, &ce, sizeof(ce));
		while (n < 0 && errno == EINTR);
	}
	if (n == 0)
		return 0;
	if (n == (ssize_t)sizeof(ce) && ce.ce_stage >= 0 &&
	    ce.ce_stage < ST_COUNT) {
		*stage = stage_names[ce.ce_stage];
		errno = ce.ce_errno;
	} else {
		*stage = "child set-up";
		errno = EIO;
	}
	return -1;
}

/*
 * Without a cgroup: vfork rather than fork, the parent's page tables are
 * not copied, which matters when a daemon spawns thousands of short apps
 * (a fork of a few MB of parent costs more than the exec). With one:
 * clone_into, else vfork and the child moves itself. The parent is
 * suspended until the child execs or exits; shared_report or the pipe
 * then holds the outcome.
 */
int
spawn_start(const struct spawn_req *req, pid_t *pid, const char **stage)
{
	struct rlimit_plan plan;
	sigset_t all, saved;
	pid_t parent = getpid(), child = -1;
	int pfd[2] = { -1, -1 }, status, err, rc, dfd = -1;
	/* volatile: live across vfork, so they must not sit in registers. */
	volatile int cgfd = -1, cgdir;
	/* The cgroup folder is opened here unless the caller holds it. */
	volatile bool own_dir = req->sr_cgroup != NULL &&
	    req->sr_cgroup_fd <= STDERR_FILENO;

	plan_rlimits(req->sr_limits, &plan);
	if (req->sr_cgroup != NULL && !own_dir)
		dfd = req->sr_cgroup_fd;
	else if (own_dir && (dfd = open(req->sr_cgroup,
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		*stage = "cgroup";
		return -1;
	}
	cgdir = dfd;
	if (cgdir >= 0 && !CLONE_INTO_SHARES && pipe2(pfd, O_CLOEXEC) < 0) {
		err = errno;
		if (own_dir)
			close(cgdir);
		errno = err;
		*stage = "pipe";
		return -1;
	}
	shared_report.ce_stage = -1;
	*stage = "fork";
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &saved);
	if (cgdir >= 0) {
		struct child_args a = { req, &plan, parent, pfd[1] };

		child = clone_into(cgdir, &a);
		if (child < 0 && clone_into_missing(errno) &&
		    (cgfd = open_procs(cgdir)) < 0)
			*stage = "cgroup";
	}
	if (cgdir < 0 || cgfd >= 0) {
		child = vfork();
		if (child == 0)
			child_setup(req, &plan, parent, pfd[1], cgfd);
	}
	err = errno;
	sigprocmask(SIG_SETMASK, &saved, NULL);
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (cgdir >= 0 && own_dir)
		close(cgdir);
	if (cgfd >= 0)
		close(cgfd);
	if (child < 0) {
		if (pfd[0] >= 0)
			close(pfd[0]);
		errno = err;
		return -1;
	}
	rc = child_outcome(pfd[0], stage);
	err = errno;
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (rc == 0) {
		*pid = child;
		return 0;
	}
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	errno = err;
	return -1;
}

/* Kills the untracked pids listed in one /proc/self/task/<tid>/children. */
static int
kill_strays_of(const char *children, bool (*tracked)(pid_t, void *),
    void *arg)
{
	FILE *f = fopen(children, "re");
	long pid;
	int n = 0;

	if (f == NULL)
		return 0;
	while (fscanf(f, "%ld", &pid) == 1) {
		if (tracked((pid_t)pid, arg) || kill((pid_t)pid, SIGKILL) < 0)
			continue;
		log_warnx("killed pid %ld: it left its app's process group and "
		    "outlived the app (reparented to this daemon)", pid);
		n++;
	}
	fclose(f);
	return n;
}

int
spawn_kill_strays(bool (*tracked)(pid_t, void *), void *arg)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return 0;
	/* Children belong to the thread that forked them (or adopted
	 * them), so every thread's list is read. */
	while ((e = readdir(d)) != NULL) {
		char path[sizeof(e->d_name) + 32];

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children",
		    e->d_name);
		n += kill_strays_of(path, tracked, arg);
	}
	closedir(d);
	return n;
}

int
spawn_signal_group(pid_t pid, int sig)
{
	return kill(-pid, sig);
}

pid_t
spawn_peek_exited(void)
{
	siginfo_t si;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0)
			return si.si_pid;
		if (errno != EINTR)
			return -1;
	}
}

int
spawn_collect(pid_t pid, int *status, struct rusage *ru)
{
	pid_t r;

	do
		r = wait4(pid, status, 0, ru);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -1 : 0;
}

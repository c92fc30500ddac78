/*
 * Starting tenant apps as black boxes, the way the design's contract says:
 * own session (so its own process group and, where the kernel groups
 * sessions for the scheduler, its own share of CPU) and cgroup, clean
 * environment, rlimits, tenant uid/gid, no new
 * privileges, umask 077, stdin /dev/null, stdout/stderr to the tenant's
 * log, every other fd closed, parent-death signal. Shared by batchmgr and
 * streammgr.
 */
#ifndef MYSIMBDP_SPAWN_H
#define MYSIMBDP_SPAWN_H

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "conf.h"

struct spawn_req {
	char *const	*sr_argv;	/* argv[0] is the absolute path */
	char *const	*sr_envp;
	const char	*sr_cwd;
	int		 sr_out_fd;	/* stdout and stderr; -1: /dev/null */
	/* Above stderr, or left 0: stdin is /dev/null, stderr sr_out_fd. */
	int		 sr_in_fd;	/* stdin */
	int		 sr_err_fd;	/* stderr apart from stdout */
	const struct conf_limits *sr_limits;	/* NULL: none but core = 0 */
	bool		 sr_set_ids;	/* switch to sr_uid/sr_gid */
	uid_t		 sr_uid;
	gid_t		 sr_gid;
	const char	*sr_cgroup;	/* the cgroup v2 folder to start in;
					   NULL: the daemon's */
	int		 sr_cgroup_fd;	/* that folder, open already; 0 (never
					   a cgroup's: stdin): opened here */
	int		 sr_nice;	/* 0..19: lower CPU priority */
};

/*
 * Makes the calling process a child subreaper, so orphaned grandchildren
 * of tenant apps are reparented to it and reaped, and raises its soft
 * limit of open files to the hard limit (a thousand tenants need more
 * than 1024); the apps it starts get the original soft limit back unless
 * their profile sets limits.open_files. Returns 0 or -1 (the subreaper).
 */
int spawn_init(void);

/*
 * Starts req: vfork + exec, or with sr_cgroup clone3 into that cgroup +
 * exec (spawn.c). The child makes only system calls, so this is safe in a
 * daemon whose libraries run threads; it is not reentrant (one spawn at
 * a time, from the daemon's event loop). Returns 0 with *pid set once
 * the exec succeeded.
 * On failure returns -1 with errno set to the cause and *stage naming the
 * step that failed ("exec", "chdir", "setresuid", "fork", ...); a child
 * that failed has been reaped already.
 */
int spawn_start(const struct spawn_req *req, pid_t *pid, const char **stage);

/*
 * The fallback containment where apps have no cgroup: SIGKILLs every
 * child of the daemon for which tracked(pid, arg) is false. Only the
 * descendants of tenant apps can be reparented to the daemon (a child
 * subreaper), so such a child escaped its app's process group (setsid)
 * and outlived it. Each kill is logged with the pid. Returns how many.
 */
int spawn_kill_strays(bool (*tracked)(pid_t, void *), void *arg);

/* Sends sig to the whole process group led by pid. Returns 0 or -1. */
int spawn_signal_group(pid_t pid, int sig);

/*
 * Looks for an exited child without reaping it, so that its pid (and so
 * its process-group id) cannot be reused while the caller cleans up the
 * group. Returns its pid, 0 if none has exited, -1 (ECHILD) if there are
 * no children.
 */
pid_t spawn_peek_exited(void);

/* Reaps pid (which has exited); fills status and resource usage. */
int spawn_collect(pid_t pid, int *status, struct rusage *ru);

#endif

/*
 * The contract for tenant apps (docs/DESIGN: "The contract for tenant
 * apps"), kept in one place for both managers: batchmgr runs a job's app
 * with app_start and streammgr an instance's; both reap with app_reap.
 *
 * What an app gets, batch (B) and stream (S):
 *
 *   environment, nothing of the daemon's own:
 *     MYSIMBDP_TENANT       B S  tenant id
 *     MYSIMBDP_INSTANCE     B S  job id / instance id (as_instance)
 *     MONGO_URL             B S  the tenant's sink (mongodb://... or file://...)
 *     MONGO_DB              B S  the tenant's database
 *     ZMQ_METRICS_ENDPOINT  B S  ipc://<state>/run/<tenant>/metrics.sock ("" in
 *                                a quality first pass: no monitor)
 *     PATH, LANG            B S  /usr/local/bin:/usr/bin:/bin, C.UTF-8
 *     HOME, TMPDIR          B S  <state>/work/<tenant>, and its tmp/
 *     MONGOC_DISABLE_SHM    B S  1 (see app.c)
 *     MYSIMBDP_INPUT_FILE   B    the claimed file in processing/
 *     MYSIMBDP_DATASET      B    its dataset, when it has one
 *     MYSIMBDP_RESULT_FILE  B    where it may write its JSON summary
 *     MYSIMBDP_QUALITY      B S  the dataset's (stream's) quality rules (JSON)
 *     MYSIMBDP_QUALITY_PASS B    "validate": check the rules, store nothing
 *     MYSIMBDP_REJECTS_FILE B    where rows the rules refused are kept
 *     ZMQ_STREAM_ENDPOINT   S    the stream's work endpoint
 *     MYSIMBDP_STREAM       S    stream name
 *   cwd         <state>/work/<tenant>
 *   stdout/err  a pipe drained into log/<tenant>/<as_log>.log (applog.c);
 *               /dev/null when that log cannot be opened
 *   stdin       /dev/null, or as_input_fd: a decrypted batch file, whose
 *               MYSIMBDP_INPUT_FILE is then /dev/stdin
 *   limits      the app's limits, plus the tenant's resources as rlimits
 *               where its cgroup cannot enforce them (cgroup_app_limits)
 *   uid/gid     the tenant's user, when the daemon runs as root and the
 *               profile names one; else the daemon's
 *   cgroup      a leaf named as_instance in the tenant's cgroup, where
 *               cgroup v2 is writable (cgroup.c)
 *   nice        as_nice (batch.app_nice for batch apps, 0 for stream)
 *   and from spawn.c: own session and process group, parent-death
 *   signal, no_new_privs, umask 077, every other fd closed.
 *
 * Exit status: APP_EXIT_DONE, APP_EXIT_TEMPFAIL (try again later, not
 * counted against retries), APP_EXIT_PERMANENT (stream apps: do not
 * restart), APP_EXIT_DATAERR and APP_EXIT_NOINPUT (batch apps: this file
 * will never work: no retry); any other exit or a signal is a failure.
 */
#ifndef MYSIMBDP_APP_H
#define MYSIMBDP_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sysexits.h>

#include <event2/event.h>

#include "applog.h"
#include "cgroup.h"
#include "conf.h"

#define APP_EXIT_DONE		0
#define APP_EXIT_TEMPFAIL	EX_TEMPFAIL	/* 75 */
#define APP_EXIT_PERMANENT	125		/* as s6's ./finish */
#define APP_EXIT_DATAERR	EX_DATAERR	/* 65 */
#define APP_EXIT_NOINPUT	EX_NOINPUT	/* 66 */

/* One run of an app: what app_start needs. */
struct app_spec {
	const struct conf_platform *as_platform;
	struct event_base *as_base;		/* drains the log pipe */
	const struct conf_tenant *as_tenant;	/* the profile it runs under */
	char *const	*as_argv;		/* argv[0] is the absolute path */
	const struct conf_limits *as_limits;	/* the app's own */
	const char	*as_instance;		/* unique per run */
	const char	*as_log;		/* the log's name, without .log */
	int		 as_nice;		/* 0..19 */
	/* Batch apps; NULL for stream apps (as_dataset "": none). */
	const char	*as_input_file;
	int		 as_input_fd;		/* above stderr: the app's stdin
						   (a decrypted file); else none */
	const char	*as_dataset;
	const char	*as_result_file;
	const char	*as_quality;		/* MYSIMBDP_QUALITY: rules' JSON */
	bool		 as_validate;		/* a first pass: store nothing */
	const char	*as_rejects_file;	/* rows the rules refused */
	/* Stream apps; NULL for batch apps. */
	const char	*as_stream_endpoint;
	const char	*as_stream;
};

/* A started app. */
struct app {
	pid_t		 ap_pid;
	struct cgroup_leaf *ap_leaf;	/* NULL: no cgroup; ended by app_reap */
	struct applog	*ap_log;	/* its output; ended by app_reap */
};

/*
 * Starts the app spec describes, set up as the table above says. Returns
 * 0 with out filled once the exec succeeded, or -1 with errno set and
 * *stage naming the step that failed ("exec", "chdir", "fork", ...; see
 * spawn_start), having undone what it made (the cgroup leaf).
 */
int app_start(const struct app_spec *spec, struct app *out,
    const char **stage);

/* Where app_reap finds the caller's run of an app (a job, an instance). */
struct app_found {
	void		*af_run;
	struct cgroup_leaf **af_leaf;	/* where the run keeps its leaf */
	struct applog	**af_log;	/* and its log */
};

struct app_reaper {
	/*
	 * Fills f and returns true when pid is the app of one of the
	 * caller's runs; false for any other child (a grandchild reparented
	 * to the daemon, a stray).
	 */
	bool	(*ar_find)(pid_t pid, struct app_found *f, void *arg);
	/*
	 * pid's app has ended and been reaped (the run's leaf is ended and
	 * NULL): status and ru are wait4's. The run may be freed here, and
	 * new apps started.
	 */
	void	(*ar_exited)(void *run, int status, const struct rusage *ru,
		    void *arg);
	void	*ar_arg;
};

/*
 * SIGCHLD: reaps every exited child, hands those ar_find knows to
 * ar_exited, then removes emptied cgroup leaves or, without cgroups,
 * kills the strays (children ar_find does not know). Returns how many
 * children were reaped.
 */
int app_reap(const struct app_reaper *r);

/*
 * Describes a wait status: "exited N", "killed by signal N (name)" or
 * "ended (status 0x...)".
 */
void app_describe_exit(int status, char *buf, size_t len);

#endif

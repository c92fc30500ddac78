#include "app.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "applog.h"
#include "log.h"
#include "spawn.h"
#include "state.h"

#define APP_ENV_MAX	19	/* the table in app.h has 18 variables */

/*
 * The environment of the table in app.h, in its order: a NULL-terminated
 * envp of allocated strings. Allocation failure is fatal.
 */
static char **
app_env(const struct app_spec *s)
{
	const struct conf_platform *p = s->as_platform;
	const struct conf_tenant *t = s->as_tenant;
	char *work = state_path(p, "work/%s", t->t_id);
	char *metrics = state_path(p, "run/%s/metrics.sock", t->t_id);
	char *mongo = conf_tenant_app_mongo_url(p, t);
	char **env;
	size_t n = 0;

	if ((env = calloc(APP_ENV_MAX + 1, sizeof(*env))) == NULL)
		fatal("%s: calloc", __func__);
#define ENV(...) do {						\
	if (asprintf(&env[n++], __VA_ARGS__) < 0)		\
		fatal("%s: asprintf", __func__);		\
} while (0)
	ENV("MYSIMBDP_TENANT=%s", t->t_id);
	ENV("MYSIMBDP_INSTANCE=%s", s->as_instance);
	ENV("MONGO_URL=%s", mongo);
	ENV("MONGO_DB=%s", t->t_mongo_db);
	/* A first pass stores nothing: nothing for the monitor to count. */
	if (s->as_validate)
		ENV("ZMQ_METRICS_ENDPOINT=");
	else
		ENV("ZMQ_METRICS_ENDPOINT=ipc://%s", metrics);
	ENV("PATH=/usr/local/bin:/usr/bin:/bin");
	ENV("LANG=C.UTF-8");
	ENV("HOME=%s", work);
	ENV("TMPDIR=%s/tmp", work);
	/*
	 * libmongoc initialises itself when it is loaded, before an app can
	 * say otherwise, and its shared-memory counters leave a file in
	 * /dev/shm behind every app that is killed.
	 */
	ENV("MONGOC_DISABLE_SHM=1");
	if (s->as_input_file)
		ENV("MYSIMBDP_INPUT_FILE=%s", s->as_input_file);
	if (s->as_dataset && *s->as_dataset)
		ENV("MYSIMBDP_DATASET=%s", s->as_dataset);
	if (s->as_result_file)
		ENV("MYSIMBDP_RESULT_FILE=%s", s->as_result_file);
	if (s->as_quality)
		ENV("MYSIMBDP_QUALITY=%s", s->as_quality);
	if (s->as_validate)
		ENV("MYSIMBDP_QUALITY_PASS=validate");
	if (s->as_rejects_file)
		ENV("MYSIMBDP_REJECTS_FILE=%s", s->as_rejects_file);
	if (s->as_stream_endpoint)
		ENV("ZMQ_STREAM_ENDPOINT=%s", s->as_stream_endpoint);
	if (s->as_stream)
		ENV("MYSIMBDP_STREAM=%s", s->as_stream);
#undef ENV
	free(work);
	free(metrics);
	free(mongo);
	return env;
}

static void
app_env_free(char **env)
{
	for (char **e = env; *e; e++)
		free(*e);
	free(env);
}

int
app_start(const struct app_spec *spec, struct app *out, const char **stage)
{
	const struct conf_tenant *t = spec->as_tenant;
	struct conf_limits limits;
	struct conf_app_logs logs;
	struct spawn_req req;
	struct app a = { 0 };
	char **env, *cwd;
	int out_fd, rc, err;

	env = app_env(spec);
	cwd = state_path(spec->as_platform, "work/%s", t->t_id);
	logs = conf_tenant_app_logs(spec->as_platform, t);
	a.ap_log = applog_open(spec->as_base, spec->as_platform, t->t_id,
	    spec->as_log, &logs, &out_fd);
	if (a.ap_log == NULL)
		out_fd = -1;
	cgroup_app_limits(t, spec->as_limits, &limits);
	a.ap_leaf = cgroup_leaf_new(t, spec->as_instance);
	req = (struct spawn_req){
		.sr_argv = spec->as_argv,
		.sr_envp = env,
		.sr_cwd = cwd,
		.sr_out_fd = out_fd,
		.sr_in_fd = spec->as_input_fd,
		.sr_limits = &limits,
		.sr_set_ids = t->t_user != NULL && geteuid() == 0,
		.sr_uid = t->t_uid,
		.sr_gid = t->t_gid,
		.sr_cgroup = a.ap_leaf ? cgroup_leaf_dir(a.ap_leaf) : NULL,
		.sr_cgroup_fd = a.ap_leaf ? cgroup_leaf_fd(a.ap_leaf) : 0,
		.sr_nice = spec->as_nice,
	};
	rc = spawn_start(&req, &a.ap_pid, stage);
	err = errno;
	app_env_free(env);
	free(cwd);
	if (rc < 0) {
		applog_app_end(a.ap_log);
		cgroup_leaf_end(a.ap_leaf);
		errno = err;
		return -1;
	}
	*out = a;
	return 0;
}

static bool
app_tracked(pid_t pid, void *arg)
{
	const struct app_reaper *r = arg;
	struct app_found f;

	return r->ar_find(pid, &f, r->ar_arg);
}

int
app_reap(const struct app_reaper *r)
{
	struct app_found f;
	struct rusage ru;
	pid_t pid;
	int status, n = 0;
	bool found;

	while ((pid = spawn_peek_exited()) > 0) {
		n++;
		found = r->ar_find(pid, &f, r->ar_arg);
		/*
		 * The leader is a zombie until collected, so its pid, and so
		 * its process-group id, cannot be reused yet: whatever it
		 * left behind dies now, in its group and, wherever it went,
		 * in its cgroup. Collected first, the group id could already
		 * name someone else's processes.
		 */
		if (found) {
			spawn_signal_group(pid, SIGKILL);
			cgroup_leaf_end(*f.af_leaf);
			*f.af_leaf = NULL;
			applog_app_end(*f.af_log);
			*f.af_log = NULL;
		}
		if (spawn_collect(pid, &status, &ru) < 0) {
			log_warn("%s: wait4 %d", __func__, (int)pid);
			continue;
		}
		if (!found) {
			log_debug("reaped orphan pid %d (not an app)", (int)pid);
			continue;
		}
		r->ar_exited(f.af_run, status, &ru, r->ar_arg);
	}
	if (n > 0 && cgroup_active())
		cgroup_sweep();
	else if (n > 0) {
		struct app_reaper copy = *r;	/* spawn_kill_strays' arg is not const */

		spawn_kill_strays(app_tracked, &copy);
	}
	return n;
}

void
app_describe_exit(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "ended (status %#x)", status);
}

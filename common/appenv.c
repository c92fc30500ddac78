#include "appenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "state.h"

#define APPENV_BASE 10	/* the variables appenv_build always sets */

char **
appenv_build(const struct conf_platform *p, const struct conf_tenant *t,
    const char *instance, char *const *extra)
{
	char *work = state_path(p, "work/%s", t->t_id);
	char *metrics = state_path(p, "run/%s/metrics.sock", t->t_id);
	size_t nextra = 0, n = 0;
	char **env;

	while (extra && extra[nextra])
		nextra++;
	if ((env = calloc(APPENV_BASE + nextra + 1, sizeof(*env))) == NULL)
		fatal("%s: calloc", __func__);
#define ENV(...) do {						\
	if (asprintf(&env[n++], __VA_ARGS__) < 0)		\
		fatal("%s: asprintf", __func__);		\
} while (0)
	ENV("MYSIMBDP_TENANT=%s", t->t_id);
	ENV("MYSIMBDP_INSTANCE=%s", instance);
	ENV("MONGO_URL=%s", conf_tenant_mongo_url(p, t));
	ENV("MONGO_DB=%s", t->t_mongo_db);
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
	for (size_t i = 0; i < nextra; i++)
		ENV("%s", extra[i]);
#undef ENV
	free(work);
	free(metrics);
	return env;
}

void
appenv_free(char **env)
{
	if (env == NULL)
		return;
	for (char **e = env; *e; e++)
		free(*e);
	free(env);
}

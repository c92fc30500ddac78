/*
 * The environment a tenant app starts with: the contract's table and
 * nothing of the daemon's own. Shared by batchmgr (jobs) and streammgr
 * (instances).
 */
#ifndef MYSIMBDP_APPENV_H
#define MYSIMBDP_APPENV_H

#include "conf.h"

/*
 * Builds a NULL-terminated envp with the variables every app gets
 * (MYSIMBDP_TENANT, MYSIMBDP_INSTANCE, MONGO_URL, MONGO_DB,
 * ZMQ_METRICS_ENDPOINT, PATH, LANG, HOME, TMPDIR) followed by extra, the
 * run's own "NAME=value" strings (NULL-terminated, copied; may be NULL).
 * Never fails: allocation failure is fatal.
 */
char **appenv_build(const struct conf_platform *p, const struct conf_tenant *t,
    const char *instance, char *const *extra);

void appenv_free(char **env);

#endif

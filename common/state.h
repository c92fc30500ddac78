/*
 * The state directory: staging/, queue/, run/, log/, coredms/, work/.
 * See docs/architecture.md for the layout and who owns what.
 */
#ifndef MYSIMBDP_STATE_H
#define MYSIMBDP_STATE_H

#include <stddef.h>

#include "conf.h"

/* The areas of a tenant's staging folder, in the order files move. */
enum stage_area {
	AREA_INCOMING, AREA_PROCESSING, AREA_DONE, AREA_FAILED, AREA_REJECTED,
	AREA_COUNT
};

extern const char *const state_area_names[AREA_COUNT];

/* sun_path holds 108 bytes including the terminating NUL. */
#define STATE_SUN_PATH_MAX 107

/*
 * Creates the platform-wide folders. Returns 0, or -1 with a message
 * ("mkdir PATH: reason") in err.
 */
int state_prepare(const struct conf_platform *p, char *err, size_t errlen);

/*
 * Creates a tenant's folders: staging areas, run/<id> (0700), log/<id>,
 * work/<id> and its tmp/. When the daemon runs as root and the tenant has
 * a user, incoming/, run/<id> and work/<id> belong to that user and the
 * other staging areas are readable by its group. Also checks that the
 * tenant's ipc socket paths fit sun_path. Returns 0 or -1 with err set.
 */
int state_prepare_tenant(const struct conf_platform *p,
    const struct conf_tenant *t, char *err, size_t errlen);

/* Formats a path under the state dir; returns a malloc'd string. */
char *state_path(const struct conf_platform *p, const char *fmt, ...)
    __attribute__((__format__(__printf__, 2, 3)));

/* Creates dir and its parents with mode. Returns 0 or -1 with errno. */
int state_mkdirs(const char *dir, int mode);

#endif

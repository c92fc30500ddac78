/*
 * streammgr's control socket (JSON requests: status, start, stop, drain,
 * scale) and its statistics publisher (a PUB socket: per-stream figures
 * every stats_interval, and events as they happen). See docs/protocols.md.
 */
#ifndef MYSIMBDP_SCONTROL_H
#define MYSIMBDP_SCONTROL_H

#include <stddef.h>

#include <bson/bson.h>

#include "smgr.h"

/* Binds run/streammgr.ctl and run/streammgr.pub. Returns 0 or -1 (err). */
int scontrol_init(struct smgr *m, char *err, size_t errlen);

void scontrol_free(struct smgr *m);

/* Publishes every stream's statistics and updates their rates. */
void scontrol_publish_stats(struct smgr *m);

/*
 * Checks a request (a JSON object, parsed) without carrying it out: every
 * field known and of its type, a known command, only the fields that
 * command takes. What scontrol_handle does before it looks at the
 * streams, without sockets or streams: for the fuzz target. Returns 0, or
 * -1 with the reason in err ("scale: instances: must be an integer").
 */
int scontrol_check(const bson_t *doc, char *err, size_t errlen);

/*
 * Handles one request (a JSON text) and returns the reply, a JSON text
 * the caller frees with bson_free. Exposed for the unit tests.
 */
char *scontrol_handle(struct smgr *m, const char *req, size_t len);

#endif

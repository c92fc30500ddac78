/*
 * Producers on other hosts: one TCP listener with CurveZMQ for every
 * tenant and stream of the node (docs/protocols.md, "Producers on other
 * hosts"). The ZAP handler lets in only keys that exactly one tenant
 * lists in producer_keys; each message names its stream and is admitted
 * only when the tenant of that stream lists the sender's key, so a key
 * of tenant A never sends into a stream of tenant B.
 */
#ifndef MYSIMBDP_REMOTE_H
#define MYSIMBDP_REMOTE_H

#include <bson/bson.h>
#include <stddef.h>

#include "smgr.h"

/*
 * Starts the listener when the platform file has remote.listen, its
 * frames bounded for the streams of set (the profiles at start). Returns
 * 0 (also when there is none), or -1 with "FILE: remote.SETTING: problem"
 * in err.
 */
int remote_start(struct smgr *m, const struct conf_tenant_set *set,
    char *err, size_t errlen);
/*
 * After a reload: warns of each stream whose max_message_size is now
 * over the producers' frame bound, which holds until a restart.
 */
void remote_reloaded(struct smgr *m);
void remote_stop(struct smgr *m);

/* The listener's address and refusals, for status (nothing if none). */
void remote_stats(const struct smgr *m, bson_t *doc);

/*
 * Parses a route frame "TENANT/STREAM" into its two ids. Pure. Returns
 * 0, or -1 when it is not two valid ids joined by one '/'.
 */
int remote_parse_route(const void *data, size_t len, char *tenant,
    char *stream);

#endif

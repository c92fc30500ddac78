/*
 * Requests to streammgr's control socket (run/streammgr.ctl): the
 * monitor's scale and drain decisions. A DEALER that never waits: a
 * request is sent only while streammgr is connected (ZMQ_IMMEDIATE),
 * replies come back in order, and one that does not come within
 * monitor.control_timeout fails every request still waiting and starts a
 * fresh socket, so a late reply cannot be taken for another's. The
 * monitor runs on without streammgr.
 */
#ifndef MYSIMBDP_MONITOR_SMGRCTL_H
#define MYSIMBDP_MONITOR_SMGRCTL_H

#include <stdbool.h>
#include <stddef.h>

#include "mon.h"

/*
 * What became of a request: ok, or not with the reason (streammgr's
 * error, "no reply within 2s", "streammgr is not connected").
 */
typedef void (*smgrctl_done_cb)(struct mon *m, const char *cmd,
    const char *tenant, const char *stream, bool ok, const char *detail);

/* Connects to run/streammgr.ctl (it need not be there yet). */
struct smgrctl *smgrctl_new(struct mon *m, smgrctl_done_cb done);

/* Forgets what waits (no callbacks) and closes. Accepts NULL. */
void smgrctl_free(struct smgrctl *c);

/*
 * Sends {"cmd":cmd,"tenant":...,"stream":...,"reason":...} with
 * "instances" when instances >= 0. Returns 0 when sent (done is called
 * later), or -1 with the reason in err: nothing was sent.
 */
int smgrctl_request(struct smgrctl *c, const char *cmd, const char *tenant,
    const char *stream, int instances, const char *reason, char *err,
    size_t errlen);

#endif

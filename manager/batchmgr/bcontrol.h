/*
 * batchmgr's control socket, run/batchmgr.ctl (common/ctlsock): the
 * request {"cmd":"status"} is answered with what batchmgr holds, the
 * worker pool and, per tenant, the files waiting in incoming/ and the
 * jobs queued, running and waiting to retry. See docs/protocols.md.
 */
#ifndef MYSIMBDP_BCONTROL_H
#define MYSIMBDP_BCONTROL_H

#include <stddef.h>

#include "batch.h"

/*
 * Creates the ZeroMQ context and binds the control socket in b's loop.
 * Returns 0, or -1 with the reason in err.
 */
int bcontrol_init(struct batch *b, char *err, size_t errlen);

/* Closes the socket (removing its file) and the context. */
void bcontrol_free(struct batch *b);

#endif

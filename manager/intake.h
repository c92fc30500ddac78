/*
 * Intake: noticing files in tenants' incoming/ folders (inotify, plus
 * scans at start-up, on queue overflow and periodically), checking them
 * against the profile, and claiming them by rename into processing/ or
 * moving them to rejected/ with a reason. Also the start-up recovery of
 * processing/ and the retention sweep of done/ and rejected/.
 */
#ifndef MYSIMBDP_INTAKE_H
#define MYSIMBDP_INTAKE_H

#include "batch.h"

/* Sets up inotify and the periodic scan. Returns 0 or -1 (logged). */
int intake_init(struct batch *b);

/*
 * Brings a tenant into service: retention sweep, recovery of files left
 * in processing/, watches, and a first scan of incoming/.
 */
void intake_tenant_start(struct batch *b, struct tenant *t);

/* Removes a tenant's watches (it is being retired). */
void intake_tenant_stop(struct batch *b, struct tenant *t);

/* Scans every tenant's incoming/ folders. */
void intake_scan_all(struct batch *b);

/* Rescans tenants that had a name wait for a running file of the same name. */
void intake_rescan_deferred(struct batch *b);

/* Stops noticing new files (shutdown). */
void intake_stop(struct batch *b);

/* Releases inotify and the timers (after intake_stop, at exit). */
void intake_free(struct batch *b);

#endif

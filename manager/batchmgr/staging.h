/*
 * Intake: noticing files in tenants' incoming/ folders (inotify, plus
 * scans at start-up, on queue overflow and periodically), checking them
 * against the profile, and claiming them by rename into processing/ or
 * moving them to rejected/ with a reason. Also the start-up recovery of
 * processing/ and the retention sweep of done/ and rejected/.
 */
#ifndef MYSIMBDP_STAGING_H
#define MYSIMBDP_STAGING_H

#include "batch.h"
#include "state.h"

/* Sets up inotify and the periodic scan. Returns 0 or -1 (logged). */
int staging_init(struct batch *b);

/*
 * Brings a tenant into service: recovery of files left in processing/
 * and of rejections cut short before their move, retention sweep,
 * watches, and a first scan of incoming/.
 */
void staging_tenant_start(struct batch *b, struct tenant *t);

/* Removes a tenant's watches (it is being retired). */
void staging_tenant_stop(struct batch *b, struct tenant *t);

/* Scans every tenant's incoming/ folders. */
void staging_scan_all(struct batch *b);

/* Frees an entry of a tenant's t_unmoved (NULL: nothing). */
void unmoved_free(struct unmoved *u);

/* One of t's jobs ended: a name that waited for it is looked at again. */
void staging_job_ended(struct batch *b, struct tenant *t);

/*
 * Moves a file from incoming/ (or processing/) to rejected/ with its
 * reason beside it, and records it (unless recorded: done before).
 * Returns 0; -1, the file left where it is, when the record could not be
 * written; 1 when it was, but the move failed (the file left where it
 * is: only the move is to be tried again).
 */
int staging_reject(struct batch *b, struct tenant *t, enum stage_area from,
    const char *dataset, const char *name, uint64_t bytes,
    const char *reason, bool recorded);

/* Stops noticing new files (shutdown). */
void staging_stop(struct batch *b);

/* Releases inotify and the timers (after staging_stop, at exit). */
void staging_free(struct batch *b);

#endif

/*
 * Running a tenant's batch app on one claimed file and recording what
 * happened: done/, a retry with backoff, or failed/.
 */
#ifndef MYSIMBDP_JOB_H
#define MYSIMBDP_JOB_H

#include "batch.h"

/*
 * Queues a file that sits in processing/ for its tenant. recovered marks
 * a file found there at start-up (a rerun after a crash).
 */
void job_enqueue(struct tenant *t, const char *dataset, const char *name,
    uint64_t bytes, bool recovered);

/*
 * Holds the rejection of processing/[dataset/]name, whose record could
 * not be written (staging_reject returned -1), as a job that never runs:
 * its record and its move to rejected/ are tried again with backoff, as
 * a finished job's are (JOB_RECORDING). Left in processing/ otherwise,
 * the file would wait there for the next start.
 */
void job_hold_rejection(struct tenant *t, const char *dataset,
    const char *name, uint64_t bytes, const char *reason, bool recorded);

/* Starts queued jobs while the scheduler has free slots. */
void job_dispatch(struct batch *b);

/* Reaps every exited child and settles the jobs they ran (SIGCHLD). */
void job_reap(struct batch *b);

/*
 * Forgets the queued and backing-off jobs of a tenant (their files stay
 * in processing/ and run at the next start or when the tenant returns).
 */
void job_forget_tenant(struct batch *b, struct tenant *t);

/*
 * Whether a job of tenant id (its current or a retired struct) has
 * dataset/name: a file in processing/ that is not left over.
 */
bool job_holds(const struct batch *b, const char *id, const char *dataset,
    const char *name);

/*
 * Begins a shutdown: no new jobs, waiting jobs forgotten, running jobs
 * given shutdown_grace to finish and then stopped (their files stay in
 * processing/). Returns the number of jobs still running.
 */
int job_shutdown(struct batch *b);

/* Jobs still running. */
int job_running(const struct batch *b);

#endif

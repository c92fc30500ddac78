/*
 * Keeping a stream's instances running, by lifecycle.c's transitions:
 * start toward the desired count, drain and stop beyond it, restart
 * crashed ones (at once after a stable run, with capped exponential
 * backoff after quick crashes and failed starts), stop those that linger
 * after their BYE and those with no HELLO within start_timeout (failed
 * starts too), detect crash loops, and reap. stream.c reports what
 * instances say (HELLO, BYE, settled messages) and when the queue
 * empties; scontrol.c and the main loop report the operator's requests,
 * reloads and shutdown.
 */
#ifndef MYSIMBDP_SUPERVISE_H
#define MYSIMBDP_SUPERVISE_H

#include "smgr.h"

/* An event of the stream's supervisor; then reconciles. */
void supervise_event(struct stream *s, enum sv_event ev);

/* An event of one instance (not IE_EXIT: reaping reports that). */
void supervise_instance(struct instance *i, enum inst_event ev);

/* Starts or drains instances until the running count meets the target
 * (those leaving count against instances.max: lifecycle_starts). */
void supervise_reconcile(struct stream *s);

/* The instance with this MYSIMBDP_INSTANCE, or NULL. */
struct instance *supervise_find_id(struct stream *s, const char *id);

/* Gives back what a reaped instance held (stream_release). */
typedef void supervise_release_fn(struct stream *, struct instance *,
    const char *why);

/* SIGCHLD: reaps every exited child and acts on instances among them. */
void supervise_reap(struct smgr *m, supervise_release_fn *release);

/* Shutdown grace over: SIGTERM to every instance of s (SIGKILL after
 * stop_timeout). */
void supervise_stop_all(struct stream *s);

/* Once a second: a crash loop is over once an instance ran stably. */
void supervise_tick(struct stream *s);

/* Instances of every stream. */
int supervise_count_all(const struct smgr *m);

#endif

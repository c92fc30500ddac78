/*
 * Keeping a stream's instances running: start toward the desired count,
 * drain and stop beyond it, restart crashed ones (at once after a stable
 * run, with capped exponential backoff after quick crashes), detect crash
 * loops, and reap.
 */
#ifndef MYSIMBDP_SUPERVISE_H
#define MYSIMBDP_SUPERVISE_H

#include "smgr.h"

/* How many instances the stream should have now. */
int supervise_target(const struct stream *s);

/* Instances counted as running: starting or ready, not leaving. */
int supervise_running(const struct stream *s);

/* Starts or drains instances until the running count meets the target. */
void supervise_reconcile(struct stream *s);

/* The instance with this MYSIMBDP_INSTANCE, or NULL. */
struct instance *supervise_find_id(struct stream *s, const char *id);

/* A draining instance that holds nothing more gets SIGTERM. */
void supervise_check_drained(struct instance *i);

/* SIGCHLD: reaps every exited child and acts on instances among them. */
void supervise_reap(struct smgr *m);

/* Shutdown: SIGTERM to every instance of s (SIGKILL after stop_timeout). */
void supervise_stop_all(struct stream *s);

/* Once a second: clears a crash loop once an instance has run stably. */
void supervise_tick(struct stream *s);

/* Instances of every stream. */
int supervise_count_all(const struct smgr *m);

#endif

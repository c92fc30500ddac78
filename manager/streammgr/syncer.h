/*
 * fdatasync off the loop's thread, for the OKs of durability "fsync".
 *
 * With the sync on the loop, a turn of a stream's ingress wrote its
 * batch, synced it and only then read the next messages, so the loop's
 * work and the sync took turns. With syncer, a turn writes its batch and
 * holds its OKs; the loop goes on reading and writing while one sync per
 * journal runs, and everything written meanwhile goes in that journal's
 * next sync (group commit across turns). fsync/2 took 4-41% more
 * messages a second so (docs/benchmarks.md, "The sync on a thread").
 *
 * One thread syncs, in the order asked, and hands each result back to
 * the loop's thread through an eventfd. Until syncer_start has run (and
 * in programs that never run it: the tests, the fuzzers) syncer_sync
 * syncs at once and calls back before it returns.
 */
#ifndef MYSIMBDP_SYNCER_H
#define MYSIMBDP_SYNCER_H

#include <stdint.h>

struct event_base;

/* Called on the loop's thread: err is 0 or fdatasync's errno. */
typedef void (*syncer_fn)(void *cookie, uint64_t gen, int err);

/*
 * Starts the thread, whose results reach base's loop: after the signal
 * mask is set (the thread inherits it). Returns 0, or -1 with errno
 * (then syncs stay on the caller's thread).
 */
int	 syncer_start(struct event_base *base);

/*
 * fdatasync(fd) on the thread, then fn(cookie, gen, err) on the loop's
 * thread; fd is the syncer's from here (closed once synced).
 */
void	 syncer_sync(int fd, uint64_t gen, syncer_fn fn, void *cookie);

/* Waits until every sync asked for is done and its fn has run. */
void	 syncer_wait(void);

/* Ends the thread after syncer_wait (at exit). */
void	 syncer_stop(void);

#endif

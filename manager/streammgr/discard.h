/*
 * Files streammgr no longer needs, removed off its loop's thread.
 *
 * Unlinking a journal segment of 64 MB takes about 14 ms on ext4, 3.6 ms
 * of it CPU (its extents freed), the rest waiting on the file system;
 * with 1 KiB messages in fsync mode segments go at several a second,
 * and each held the loop, every stream's messages and acks, for that
 * long (docs/benchmarks.md, "Durability modes"). The journal renames a
 * segment it is done with to gone-seg-....log at once, in order (the
 * rename decides: recovery never reads a gone-* file, and removes any
 * left by a crash), and hands the unlink to discard_unlink.
 *
 * discard_start runs one thread that unlinks, in the order given. Until
 * it has started (and in programs that never start it: the tests, the
 * fuzzers) discard_unlink unlinks at once, as it does when its queue is
 * full (that one then goes before those queued: harmless, as a gone-*
 * file is never read).
 */
#ifndef MYSIMBDP_DISCARD_H
#define MYSIMBDP_DISCARD_H

/*
 * Starts the thread: after the signal mask is set (the thread inherits
 * it). Returns 0, or -1 with errno (then unlinks stay on the caller's
 * thread).
 */
int	 discard_start(void);

/* Unlinks path, later on the thread or at once (see above); a failure
 * other than ENOENT is logged. */
void	 discard_unlink(const char *path);

/* Waits until every unlink asked for is done (the thread keeps going). */
void	 discard_wait(void);

#endif

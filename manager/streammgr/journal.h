/*
 * A stream's durable queue on disk (queue/<tenant>/<stream>/): what keeps
 * every message a producer got OK for across a crash of streammgr.
 *
 * The folder holds append-only segments seg-<number, 16 hex>.log of
 * records: a little-endian u32 body length, the CRC-32C of the body, then
 * the body, one type byte and a u64:
 *   H next-seq "mysimbdp-queue 1" before
 *                                    first record of every segment;
 *                                    before: the highest M seq in the
 *                                    segment before it, copies
 *                                    included (0: none; all ones:
 *                                    not known, it was damaged;
 *                                    older segments end after the
 *                                    magic)
 *   M seq payload                    a message
 *   A count seq...                   messages released (acked or
 *                                    dead-lettered)
 * Messages and releases are appended to the newest segment; a new one is
 * started past segment_size. The oldest segments are deleted once every
 * message in them was released (oldest first, so an A record is never
 * deleted before the messages it releases).
 *
 * journal_open rebuilds the unreleased messages. A record cut short at the
 * end of the newest segment is a write a crash interrupted (never answered
 * OK in fsync mode): it is cut off; an empty newest segment is one a crash
 * left while creating it: removed (one cut to nothing looks the same).
 * Anything else unreadable is damage (the newest cut inside its H, or
 * unreadable from its first byte, too: no crash leaves part of its H, and
 * cut to nothing it would be an older empty one at the next start), and
 * so is an older segment that ends before its successor's "before" (cut
 * short, even at a record's end) with messages lost, or any older one of
 * 0 bytes (every segment begins with its H; one that held only releases
 * is followed by a "before" of 0 too):
 * the readable messages of that segment are copied into the new segment
 * with the releases it held, the segment is renamed damaged-seg-....log
 * and kept for the operator, and the messages lost are counted by
 * sequence number (from the segments around it when its H is gone), or
 * counted in r_uncounted when nothing tells their numbers. Copies go first
 * in the new segment, numbered below its H: which numbers were copied no
 * record tells, so copies lost later (damage among them, or a cut before
 * the last, which the next "before" names) count in r_uncounted (the
 * segment's own messages after them still by number, from its H), and so
 * does a segment of 0 bytes whose successor's "before" is 0 while numbers
 * were given out in between (versions before wrote 0 after copies only).
 *
 * Writes are grouped: journal_add and journal_release only fill a buffer;
 * journal_commit writes it with one write() and, in fsync mode, one
 * fdatasync() -- the group commit the producers' OKs wait for.
 */
#ifndef MYSIMBDP_JOURNAL_H
#define MYSIMBDP_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Message numbers run from 1 to JOURNAL_SEQ_MAX (2^63 - 1: a million
 * messages a second for 292,000 years); a record with another is damage.
 */
#define JOURNAL_SEQ_MAX (UINT64_MAX >> 1)

/*
 * FSYNC: a commit of messages ends with fdatasync. OS: with write only.
 * MEMORY: the stream keeps new messages out of the journal; only the
 * releases of messages restored from disk are written.
 */
enum journal_mode { JOURNAL_MEMORY, JOURNAL_OS, JOURNAL_FSYNC };

/* What journal_open found; each count is 0 on a clean start. */
struct journal_report {
	uint64_t	 r_segments;	/* segments read */
	uint64_t	 r_messages;	/* unreleased messages restored */
	uint64_t	 r_bytes;	/* their payload bytes */
	uint64_t	 r_torn_bytes;	/* cut from the newest segment's end */
	uint64_t	 r_bad_bytes;	/* unreadable bytes in damaged segments */
	uint64_t	 r_damaged;	/* damaged segments found */
	uint64_t	 r_kept;	/* of them, left in place for want of
					   room (set aside later) */
	uint64_t	 r_lost;	/* messages known lost (seq gaps) */
	uint64_t	 r_lost_first;	/* the lowest and highest of them */
	uint64_t	 r_lost_last;
	uint64_t	 r_uncounted;	/* damaged ones whose losses have no
					   known numbers */
	int		 r_no_space;	/* errno: new segment or a rescue's
					   copies wait for room */
};

/* Called for each restored message, in sequence order. */
typedef int (*journal_restore_fn)(void *arg, uint64_t seq, uint64_t seg,
    const void *data, size_t len);

struct journal;

/*
 * Opens (creating) the queue in dir, restores its unreleased messages
 * through fn and starts a new segment. *next_seq is the number the next
 * message gets. Returns NULL with err set ("open .../seg-...: EACCES").
 * When the disk has no room for the new segment it opens all the same
 * (r_no_space says why): the first commit that finds room creates it.
 * r_no_space is set too when a rescue's copies found no room.
 */
struct journal *journal_open(const char *dir, enum journal_mode mode,
    uint64_t segment_size, journal_restore_fn fn, void *arg,
    uint64_t *next_seq, struct journal_report *rep, char *err, size_t errlen);

/* Closes; what was not committed is not written. */
void journal_close(struct journal *j);

/* Adds a message to the batch; returns the segment it goes to. */
uint64_t journal_add(struct journal *j, uint64_t seq, const void *data,
    size_t len);

/* Bytes added since the last commit. */
size_t journal_pending(const struct journal *j);

/*
 * Writes the batch (and the releases noted since the last commit) and,
 * in fsync mode when it holds messages, waits for the disk. Returns 0; or
 * -1 with errno (ENOSPC, EFBIG, EIO...) and err set: the file is as before
 * the batch, none of its messages is stored, releases stay noted. A
 * failed fdatasync while earlier writes await a sync stops the process
 * (journal_sync).
 */
int journal_commit(struct journal *j, char *err, size_t errlen);

/*
 * journal_commit without waiting for the disk: the messages are written,
 * and in fsync mode on disk once a sync begun after this write has
 * ended (journal_sync_begin). Before it starts a new segment it syncs
 * the one written, at once. Returns as journal_commit.
 */
int journal_write(struct journal *j, char *err, size_t errlen);

/*
 * Fsync mode counts its writes of messages: the latest, and the latest
 * known on disk (synced by a commit or a sync that began after it).
 */
uint64_t journal_written(const struct journal *j);
uint64_t journal_synced(const struct journal *j);

/*
 * Takes out a sync of what has been written: returns a descriptor of
 * the newest segment for fdatasync, with *gen the write it covers; -1
 * when one is out already or nothing waits, -2 (errno) when no
 * descriptor can be had. journal_sync_end(gen) once it succeeded.
 */
int journal_sync_begin(struct journal *j, uint64_t *gen);
void journal_sync_end(struct journal *j, uint64_t gen);
bool journal_syncing(const struct journal *j);

/*
 * Syncs what has been written, here and now. A failed fdatasync of
 * writes not known synced stops the process (fatalx), as it does in
 * journal_commit and before a new segment: Linux reports a write-back
 * error once, so no later sync could be trusted for them.
 */
void journal_sync(struct journal *j);

/* The queue's folder, for messages. */
const char *journal_dir(const struct journal *j);

/*
 * Forgets the messages added since the last commit, as a failed commit
 * does (their queue entries were dropped); releases stay noted.
 */
void journal_drop_batch(struct journal *j);

/* Notes that message seq, held in segment seg, is released. */
void journal_release(struct journal *j, uint64_t seg, uint64_t seq);

/*
 * Durability of the batches committed from now on. From MEMORY to another
 * mode the next message starts a new segment whose first number is
 * next_seq: numbers given out in memory only never fall inside a
 * segment's range (which recovery uses to count losses).
 */
void journal_set_mode(struct journal *j, enum journal_mode mode,
    uint64_t next_seq);

/*
 * The next message gets next_seq at least (numbers below it were given
 * out where the journal does not see them); when that raises it, the
 * next message starts a new segment, for the same reason as above.
 */
void journal_set_next(struct journal *j, uint64_t next_seq);

/* Segments on disk and their total size. */
void journal_usage(const struct journal *j, uint64_t *segments,
    uint64_t *bytes);

#endif

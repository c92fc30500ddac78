/*
 * What one member of a fanned-out stream (the stream's own app or a
 * subscription, docs/architecture.md "Fan-out") has settled while
 * another still holds the message: queue/<tenant>/<member>/settled.log,
 * a list of little-endian u64 message numbers, appended once per loop
 * turn and not synced (a lost entry means one more delivery after a
 * crash, never a lost message). The journal releases a message (A
 * record) only when no member holds it; at recovery a member gets the
 * unreleased messages that are not in its list.
 *
 * An entry is kept only while some other member still holds its
 * message: settled_compact rewrites the list (a new file renamed over
 * the old) with the live ones once it has grown. An entry with the top
 * bit set is a floor instead (settled_set_floor).
 */
#ifndef MYSIMBDP_SETTLED_H
#define MYSIMBDP_SETTLED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct settled;

/*
 * Opens (creating) dir/settled.log and loads its numbers for
 * settled_has. A torn last entry (a crash mid-write) is cut off. With
 * joins, a list made now starts with a JOINING entry, synced: the member
 * joins until settled_set_floor gives it its floor (settled_joining).
 * Returns NULL with err set (a list made now is removed).
 */
struct settled *settled_open(const char *dir, bool joins, char *err,
    size_t errlen);

/* Whether seq was in the list when it was opened, or is below its
 * floor (recovery); false for st NULL (a member without a list). */
bool settled_has(const struct settled *st, uint64_t seq);

/* Whether the member joins: its list was made for it (settled_open's
 * joins), and no floor has been set since. */
bool settled_joining(const struct settled *st);

/* The highest floor set (0: none); 0 for st NULL. */
uint64_t settled_floor(const struct settled *st);

/*
 * The highest message number in the list when it was opened, floors
 * aside (0: none, or st NULL), until settled_loaded_free. A number a
 * member settled was given out, even when a power cut left its message
 * off the journal (the list is not synced, nor was that write yet).
 */
uint64_t settled_top(const struct settled *st);

/*
 * Notes that the member takes no message numbered below floor (one
 * added to a running stream holds no copy of the messages accepted
 * before it) and writes it with what was noted, as settled_flush; kept
 * by settled_compact and settled_unnote_from.
 */
int settled_set_floor(struct settled *st, uint64_t floor, char *err,
    size_t errlen);

/* Frees what settled_open loaded, once recovery is over; NULL: no-op. */
void settled_loaded_free(struct settled *st);

/* Notes seq, written at the next settled_flush. */
void settled_note(struct settled *st, uint64_t seq);

/*
 * Forgets the numbers from seq on noted since the last flush: messages
 * the disk refused, whose numbers are given out again. NULL: no-op.
 */
void settled_unnote_from(struct settled *st, uint64_t seq);

/* Writes what was noted. Returns 0 or -1 with err set (kept noted). */
int settled_flush(struct settled *st, char *err, size_t errlen);

/*
 * Syncs what was written since the list was opened or last synced (no
 * system call when nothing was). Returns 0 or -1 with err set.
 */
int settled_sync(struct settled *st, char *err, size_t errlen);

/* Whether the list has grown enough since its last rewrite. */
bool settled_wants_compact(const struct settled *st);

/*
 * Rewrites the list with the numbers for which live(arg, seq) is true.
 * Returns 0 or -1 with err set (the old list is kept).
 */
int settled_compact(struct settled *st, bool (*live)(void *, uint64_t),
    void *arg, char *err, size_t errlen);

/* Closes; with drop, removes the file (the member is gone for good). */
void settled_close(struct settled *st, bool drop);

#endif

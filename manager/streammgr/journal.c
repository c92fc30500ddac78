#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "byteorder.h"
#include "crc32c.h"
#include "discard.h"
#include "log.h"

#define HDR		8			/* length, crc */
#define BODY_MIN	9			/* type, u64 */
#define RECORD_MAX	((256u << 20) + BODY_MIN) /* max_message_size + body */
#define ACKS_MAX	((RECORD_MAX - BODY_MIN) / 8)	/* per A record */
_Static_assert(RECORD_MAX <= UINT32_MAX, "a record's length fits 32 bits");
/*
 * Version 2: the records after a segment's H are checksummed from a
 * start value its number gives (seg_seed). A segment file is reused for
 * a later one (a spare, below): a record its last use left past the new
 * one's end then never reads as valid, whatever its bytes. Version 1
 * (the H's magic ends in 1) started every checksum from 0.
 */
#define MAGIC		"mysimbdp-queue 2"
#define HEAD_N		(sizeof(MAGIC) - 1)	/* H's extra: the magic... */
#define HEAD_N_BEFORE	(HEAD_N + 8)	/* ...then the number before it */
#define HEAD_SIZE	(HDR + BODY_MIN + HEAD_N_BEFORE) /* the H written */
/* H's "before" when the segment before it was damaged: what it held is
 * not known, which is not "none" (0). Builds before it read such an H as
 * damage (a downgrade already does: their H had no "before"). */
#define BEFORE_UNKNOWN	UINT64_MAX
#define SEG_FMT		"seg-%016" PRIx64 ".log"
#define SEG_NAME_MAX	32
/* Numbers given to segments stay below it: 2^63 segments of 4K take
 * longer to write than anything lasts, and a name past it is not ours. */
#define SEG_ID_MAX	(UINT64_C(1) << 63)
#define GONE_PREFIX	"gone-"	/* a segment done with (discard.h) */
#define SPARE_NAME	"spare-seg.log"	/* a released segment to reuse */
/* A reused file's mark: an A record of no release right after its H,
 * written with it (no other writer makes one; older builds read it as
 * nothing). */
#define REUSED_MARK	0
/*
 * Zeros written past the records of a reused file, over its last use's
 * bytes: a length of 0, which no record has. Until the file is cut to
 * its records (cut_tail, a stop), a crash leaves the last use's bytes
 * after them, where the reader of the newest stops; a record sealed for
 * this segment lying exactly there (a producer's payload in the last
 * use: its number and its offset can be told ahead) would be read as
 * the next one.
 */
#define GUARD		4
/* A record's length is its first 4 bytes: commit writes them last. */
_Static_assert(GUARD == 4 && GUARD < HDR + BODY_MIN, "the guard is a length");
#define SPARE_GONE	GONE_PREFIX "seg-spare.log"
#define DAMAGED_PREFIX	"damaged-"	/* set aside, never read or deleted */

enum { REC_HEAD = 'H', REC_MSG = 'M', REC_ACK = 'A' };

struct seg {
	uint64_t	 id;
	uint64_t	 live;		/* messages not yet released */
	bool		 damaged;	/* kept in place: set aside when done */
	bool		 old_head;	/* an older version's H: not recycled */
	bool		 recycle_said;	/* a failed recycle logged */
};

struct buf {
	unsigned char	*b_data;
	size_t		 b_len;
	size_t		 b_cap;
};

struct journal {
	char		*j_dir;
	int		 j_dirfd;
	int		 j_fd;		/* the newest segment */
	enum journal_mode j_mode;
	uint64_t	 j_segsize;
	struct seg	*j_segs;	/* oldest first; the last is written */
	size_t		 j_nsegs;
	size_t		 j_segcap;
	uint64_t	 j_size;	/* bytes of the newest segment */
	uint64_t	 j_end;		/* its file's size: more when reused */
	uint64_t	 j_spare;	/* the spare's size, or 0: none */
	bool		 j_no_spare;	/* a write found no room: none kept */
	uint64_t	 j_next;	/* seq after the last one added */
	uint64_t	 j_seg_max;	/* the highest M seq in the newest */
	uint64_t	 j_batch_max;	/* the highest seq in the batch */
	bool		 j_rotate;	/* the next batch starts a segment */
	struct buf	 j_buf;		/* the batch */
	uint64_t	 j_batch_msgs;
	uint64_t	 j_batch_next;	/* j_next when the batch began */
	uint64_t	 j_batch_seg;	/* its segment, told at its first add */
	uint64_t	*j_acks;	/* released since the last commit */
	size_t		 j_nacks;
	size_t		 j_ackcap;
	uint64_t	 j_disk;	/* bytes of all segments */
	uint64_t	 j_written;	/* fsync: writes of messages so far */
	uint64_t	 j_synced;	/* the last of them known synced */
	bool		 j_syncing;	/* a sync taken out is not back */
};

/* Unlinks dir/name, off the loop's thread once discard_start ran. */
static void
discard_at(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) <
	    (int)sizeof(path))
		discard_unlink(path);
}

/*
 * Takes the spare off the disk as a released segment goes: renamed
 * gone-*, then unlinked off the loop's thread (a later spare is never
 * the file the thread unlinks), at once when the rename fails.
 */
static void
spare_discard(int dirfd, const char *dir)
{
	if (renameat(dirfd, SPARE_NAME, dirfd, SPARE_GONE) == 0)
		discard_at(dir, SPARE_GONE);
	else if (errno != ENOENT && unlinkat(dirfd, SPARE_NAME, 0) < 0 &&
	    errno != ENOENT)
		log_warn("%s: unlink %s", dir, SPARE_NAME);
}

/* ---- encoding ----------------------------------------------------- */

static void *
xrealloc(void *p, size_t n, size_t size)
{
	if ((p = reallocarray(p, n, size)) == NULL)
		fatal("journal: realloc");
	return p;
}

static unsigned char *
buf_reserve(struct buf *b, size_t n)
{
	if (b->b_len + n > b->b_cap) {
		size_t cap = b->b_cap ? b->b_cap : 4096;

		while (cap < b->b_len + n)
			cap *= 2;
		b->b_data = xrealloc(b->b_data, cap, 1);
		b->b_cap = cap;
	}
	b->b_len += n;
	return b->b_data + b->b_len - n;
}

/* Appends a record whose body is type, v, then n bytes of extra. */
static unsigned char *
put_record(struct buf *b, int type, uint64_t v, const void *extra, size_t n)
{
	unsigned char *p = buf_reserve(b, HDR + BODY_MIN + n);

	put_le32(p, (uint32_t)(BODY_MIN + n));
	p[HDR] = (unsigned char)type;
	put_le64(p + HDR + 1, v);
	if (extra != NULL && n > 0)
		memcpy(p + HDR + BODY_MIN, extra, n);
	return p;
}

/*
 * The start value of the checksums after segment id's H. Two start
 * values differ in the checksum of every body (CRC-32C is affine in
 * it), so none repeats among the 2^31 numbers around a segment's, and
 * none is version 1's 0.
 */
static uint32_t
seg_seed(uint64_t id)
{
	return UINT32_C(0x80000000) | (uint32_t)(id & 0x7fffffff);
}

/* Fills in the checksum, from seed, once the body is complete. */
static void
seal(unsigned char *rec, uint32_t seed)
{
	uint32_t len = get_le32(rec);

	put_le32(rec + 4, crc32c(seed, rec + HDR, len));
}

/* ---- decoding ------------------------------------------------------- */

struct rec {
	int		 type;
	uint64_t	 v;		/* H: next seq; M: seq; A: count */
	uint64_t	 before;	/* H: the previous one's highest M */
	const unsigned char *extra;	/* M: payload; A: the seqs */
	size_t		 n;
	size_t		 size;		/* of the whole record */
};

/*
 * Reads the record at p (avail bytes left), checksummed from seed (an H
 * from 0). M records must have a seq in [lo, hi]: when searching past
 * damage that is what tells a real record from bytes that only look like
 * one. Returns true when it is valid.
 */
static bool
read_record(const unsigned char *p, size_t avail, uint64_t lo, uint64_t hi,
    uint32_t seed, struct rec *r)
{
	uint32_t len;

	if (avail < HDR + BODY_MIN)
		return false;
	len = get_le32(p);
	if (len < BODY_MIN || len > RECORD_MAX || len > avail - HDR)
		return false;
	r->type = p[HDR];
	r->v = get_le64(p + HDR + 1);
	r->extra = p + HDR + BODY_MIN;
	r->n = len - BODY_MIN;
	r->size = HDR + len;
	switch (r->type) {
	case REC_HEAD:
		/* Segments written before the number was added have none. */
		if (r->v == 0 || r->v > JOURNAL_SEQ_MAX ||
		    (r->n != HEAD_N && r->n != HEAD_N_BEFORE))
			return false;
		r->before = r->n == HEAD_N_BEFORE ? get_le64(r->extra +
		    HEAD_N) : 0;
		if (r->before > JOURNAL_SEQ_MAX && r->before != BEFORE_UNKNOWN)
			return false;
		break;
	case REC_MSG:
		if (r->v < lo || r->v > hi || r->v == 0 ||
		    r->v > JOURNAL_SEQ_MAX)
			return false;
		break;
	case REC_ACK:
		/* v * 8 must not wrap round to a small length. */
		if (r->v > RECORD_MAX / 8 || r->n != r->v * 8)
			return false;
		break;
	default:
		return false;
	}
	return crc32c(r->type == REC_HEAD ? 0 : seed, p + HDR, len) ==
	    get_le32(p + 4);
}

/*
 * Whether the bytes at p (avail to the file's end) are a record cut
 * short: fewer than a record's least, or a header of a known type whose
 * length runs past the end. A crash in a write leaves that at the end of
 * the newest segment, and nothing inside it is a record: its payload is
 * a producer's bytes, which may look like one.
 */
static bool
torn_record(const unsigned char *p, size_t avail)
{
	uint32_t len;

	if (avail < HDR + BODY_MIN)
		return true;
	len = get_le32(p);
	return len >= BODY_MIN && len <= RECORD_MAX && len > avail - HDR &&
	    (p[HDR] == REC_HEAD || p[HDR] == REC_MSG || p[HDR] == REC_ACK);
}

struct scanned;
static bool read_in(const struct scanned *, const unsigned char *, size_t,
    uint64_t, uint64_t, struct rec *);

/*
 * Where a valid record follows the unreadable one at p when its length
 * still holds (its body was damaged, not its header), or 0: the search
 * then steps over that body, which holds a producer's bytes, instead of
 * looking for records in it.
 */
static size_t
past_body(const struct scanned *g, const unsigned char *p, size_t avail,
    uint64_t hi)
{
	uint32_t len;
	struct rec r;

	if (avail < HDR + BODY_MIN)
		return 0;
	len = get_le32(p);
	if (len < BODY_MIN || len > RECORD_MAX || len >= avail - HDR ||
	    !read_in(g, p + HDR + len, avail - HDR - len, 1, hi, &r))
		return 0;
	return HDR + len;
}

/* ---- recovery ------------------------------------------------------- */

/* A message record found on disk. */
struct found {
	uint64_t	 seq;
	const unsigned char *data;
	uint32_t	 seg;		/* index into the scan's segments */
	uint32_t	 len;		/* at most RECORD_MAX */
};

struct scanned {
	uint64_t	 id;
	int		 fd;
	unsigned char	*map;
	size_t		 size;
	size_t		 good_end;	/* end of the last valid record */
	bool		 damaged;
	bool		 kept;		/* damaged, left in place (no room) */
	bool		 torn;		/* the newest, cut short by a crash */
	uint32_t	 seed;		/* its records' checksums start from */
	bool		 seed_known;	/* its H read: its version known */
	bool		 reused;	/* a spare's file (REUSED_MARK) */
	uint64_t	 first_msg;	/* lowest and highest M from first_of */
	uint64_t	 last_msg;	/* (not copies from older ones) */
	uint64_t	 top;		/* highest M, copies included */
	bool		 copies;	/* M below first_of: a rescue's */
	bool		 bad_early;	/* unreadable before its own M */
	uint64_t	 head;		/* H: first seq it may hold, or 0 */
	uint64_t	 floor;		/* highest seq of the ones before */
	bool		 has_floor;	/* a segment before it was readable */
	uint64_t	 bound;		/* next one's H: highest seq before */
	bool		 bound_known;	/* that H is read and says it */
	uint64_t	 next_head;	/* and its first seq */
	size_t		 acks_from;	/* its releases in the unsorted acks */
	size_t		 acks_to;
	size_t		 last_use;	/* restore: 1 + its last msgs index */
};

struct scan {
	struct scanned	*segs;
	size_t		 nsegs;
	struct found	*msgs;
	size_t		 nmsgs;
	size_t		 msgcap;
	uint64_t	*acks;
	size_t		 nacks;
	size_t		 ackcap;
	uint64_t	 max_seq;
	uint64_t	 max_ack;	/* the highest release, if a seq */
	uint64_t	 next;		/* the highest H value */
	uint64_t	*lost;		/* seqs with no readable copy */
	size_t		 nlost;
	uint64_t	*dacks;		/* releases read in damaged segments */
	size_t		 ndacks;
};

/* qsort, which must not see NULL even for 0 elements. */
static void
sort(void *base, size_t n, size_t size, int (*cmp)(const void *,
    const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

static int
cmp_seg(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static int
cmp_seq(const void *a, const void *b)
{
	const struct found *x = a, *y = b;

	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* By seq, then by segment: the last copy of a seq wins. */
static int
cmp_found(const void *a, const void *b)
{
	const struct found *x = a, *y = b;

	if (x->seq != y->seq)
		return (x->seq > y->seq) - (x->seq < y->seq);
	return (x->seg > y->seg) - (x->seg < y->seg);
}

/*
 * The segment ids in dir, sorted; removes the segments a crash left
 * renamed gone-* and not yet unlinked (every message in them was
 * released, as for every older segment). Returns -1 with errno.
 */
static int
list_segments(int dirfd, const char *dir, uint64_t **ids, size_t *n)
{
	DIR *d;
	struct dirent *de;
	int fd = dup(dirfd);
	size_t cap = 0;

	*ids = NULL;
	*n = 0;
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		char check[SEG_NAME_MAX];
		unsigned long long id;
		char *end;

		if (strncmp(de->d_name, GONE_PREFIX "seg-",
		    strlen(GONE_PREFIX "seg-")) == 0) {
			discard_at(dir, de->d_name);
			continue;
		}
		if (strcmp(de->d_name, SPARE_NAME) == 0) {
			spare_discard(dirfd, dir);	/* the last run's */
			continue;
		}
		if (strncmp(de->d_name, "seg-", 4) != 0)
			continue;
		errno = 0;
		id = strtoull(de->d_name + 4, &end, 16);
		if (errno || strcmp(end, ".log") != 0)
			continue;
		snprintf(check, sizeof(check), SEG_FMT, (uint64_t)id);
		if (strcmp(check, de->d_name) != 0)
			continue;	/* not a name we write */
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*ids = xrealloc(*ids, cap, sizeof(**ids));
		}
		(*ids)[(*n)++] = id;
	}
	closedir(d);
	sort(*ids, *n, sizeof(**ids), cmp_u64);
	return 0;
}

/*
 * The first number segment g may hold: its H's, or without one the number
 * after the highest of the segments before it (every number is given once,
 * in order); 0 when that is unknown.
 */
static uint64_t
first_of(const struct scanned *g)
{
	if (g->head != 0)
		return g->head;
	return g->has_floor && g->floor < JOURNAL_SEQ_MAX ? g->floor + 1 : 0;
}

/*
 * Segment g's records' start value, by its H's version; with its H
 * unreadable, not known: either version's is taken (a reused file whose
 * last use was version 1, with its H damaged, could then show an old
 * record: docs/protocols.md). And whether it is a reused file: its H
 * followed by REUSED_MARK.
 */
static void
find_seed(struct scanned *g)
{
	struct rec r, m;

	g->seed = seg_seed(g->id);
	g->seed_known = g->reused = false;
	if (g->size == 0 || !read_record(g->map, g->size, 0, UINT64_MAX, 0,
	    &r) || r.type != REC_HEAD)
		return;
	g->seed_known = true;
	if (memcmp(r.extra, MAGIC, HEAD_N) != 0)
		g->seed = 0;	/* version 1 */
	else
		g->reused = read_record(g->map + r.size, g->size - r.size, 0,
		    UINT64_MAX, g->seed, &m) && m.type == REC_ACK && m.v == 0;
}

/*
 * A record of segment g (read_record from g's start value). An H only
 * at its start: one found further on, checksummed from 0 as every H
 * is, is a producer's payload that looks like one.
 */
static bool
read_in(const struct scanned *g, const unsigned char *p, size_t avail,
    uint64_t lo, uint64_t hi, struct rec *r)
{
	if (!read_record(p, avail, lo, hi, g->seed, r) && (g->seed_known ||
	    !read_record(p, avail, lo, hi, 0, r)))
		return false;
	return r->type != REC_HEAD || p == g->map;
}

static void
note_record(struct scan *sc, uint32_t segi, const struct rec *r)
{
	struct scanned *g = &sc->segs[segi];

	switch (r->type) {
	case REC_HEAD:
		if (g->head == 0)
			g->head = r->v;
		if (r->v > sc->next)
			sc->next = r->v;
		break;
	case REC_MSG:
		if (r->v > sc->max_seq)
			sc->max_seq = r->v;
		if (sc->nmsgs == sc->msgcap) {
			sc->msgcap = sc->msgcap ? sc->msgcap * 2 : 1024;
			sc->msgs = xrealloc(sc->msgs, sc->msgcap,
			    sizeof(*sc->msgs));
		}
		sc->msgs[sc->nmsgs++] = (struct found){ .seq = r->v,
		    .data = r->extra, .seg = segi, .len = (uint32_t)r->n };
		if (r->v > g->top)
			g->top = r->v;
		/* Numbered below its first: a copy a start's rescue put
		 * there, ahead of its own messages. */
		if (r->v < first_of(g)) {
			g->copies = true;
			break;
		}
		if (g->first_msg == 0 || r->v < g->first_msg)
			g->first_msg = r->v;
		if (r->v > g->last_msg)
			g->last_msg = r->v;
		break;
	case REC_ACK:
		if (sc->nacks + r->v > sc->ackcap) {
			while (sc->nacks + r->v > sc->ackcap)
				sc->ackcap = sc->ackcap ? sc->ackcap * 2 : 1024;
			sc->acks = xrealloc(sc->acks, sc->ackcap,
			    sizeof(*sc->acks));
		}
		for (uint64_t k = 0; k < r->v; k++) {
			uint64_t seq = get_le64(r->extra + 8 * k);

			sc->acks[sc->nacks++] = seq;
			if (seq <= JOURNAL_SEQ_MAX && seq > sc->max_ack)
				sc->max_ack = seq;
		}
		break;
	}
}

/*
 * Reads every valid record of one segment. In the newest, a record cut
 * short at the end after a readable one is a torn tail (unreadable from
 * byte 0, the newest is damage); so is, in a reused file, everything
 * from its first unreadable record on: its last use's bytes are there,
 * whose payloads (a producer's) may hold a record sealed for this
 * segment (its number can be told ahead). Elsewhere, past an
 * unreadable record the next valid one is where its length says when
 * that holds, else searched for byte by byte; a stretch with none after
 * it to the end of the newest is a torn tail too.
 */
static void
scan_segment(struct scan *sc, uint32_t segi, bool newest, uint64_t cap,
    struct journal_report *rep)
{
	struct scanned *g = &sc->segs[segi];
	size_t off = 0;
	uint64_t last = sc->max_seq;	/* the last seq seen before */

	find_seed(g);
	while (off < g->size) {
		/* Records are at least HDR bytes: that bounds the seqs a
		 * segment can hold beyond what came before. Without its
		 * H record, what comes before is unknown: the bound is
		 * the next segment's H (cap). */
		uint64_t base = last > g->head ? last : g->head;
		uint64_t hi = g->head != 0 ? base + g->size / HDR + 1 : cap;
		struct rec r;
		size_t bad, skip;

		if (read_in(g, g->map + off, g->size - off, 0, UINT64_MAX,
		    &r)) {
			note_record(sc, segi, &r);
			if (r.type == REC_MSG && r.v > last)
				last = r.v;
			off += r.size;
			g->good_end = off;
			continue;
		}
		bad = off;
		/* Copies go in first: this stretch may have held some. */
		if (g->last_msg == 0)
			g->bad_early = true;
		if (newest && bad > 0 && (g->reused ||
		    torn_record(g->map + bad, g->size - bad)))
			off = g->size;
		else if ((skip = past_body(g, g->map + bad, g->size - bad,
		    hi)) > 0)
			off = bad + skip;
		else
			while (++off < g->size && !read_in(g, g->map + off,
			    g->size - off, 1, hi, &r))
				;
		/* The H record goes in with one write into the empty
		 * file before anything else: no crash leaves part of it.
		 * So the newest unreadable from its first byte is damage,
		 * not a torn write: cut to 0 bytes, what it held would go
		 * unreported, and at the next start it would be an older
		 * segment of 0 bytes, damage found then. */
		if (off >= g->size && newest && bad > 0) {
			rep->r_torn_bytes += g->size - bad;
			g->torn = true;
			break;
		}
		g->damaged = true;
		rep->r_bad_bytes += off - bad;
	}
}

/*
 * What segment id's H record says of the segment before it. *cap: the
 * seqs below its first, for that segment when its own H is unreadable
 * (every message written before a segment began is numbered below its
 * H), JOURNAL_SEQ_MAX when this H cannot be read either. *bound: the
 * highest message number written in the segment before it (0: none, or
 * unknown: *known is false when the H cannot be read or is of a version
 * that did not write it). Copies count: a start writes the highest of
 * the segment before it as a rotation does.
 */
static void
head_of(struct journal *j, uint64_t id, uint64_t *cap, uint64_t *bound,
    bool *known)
{
	unsigned char buf[HEAD_SIZE];
	char name[SEG_NAME_MAX];
	struct rec r;
	ssize_t n = -1;
	int fd;

	snprintf(name, sizeof(name), SEG_FMT, id);
	if ((fd = openat(j->j_dirfd, name, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW)) >= 0) {
		n = pread(fd, buf, sizeof(buf), 0);
		close(fd);
	}
	*cap = JOURNAL_SEQ_MAX;
	*bound = 0;
	*known = false;
	if (n > 0 && read_record(buf, (size_t)n, 0, UINT64_MAX, 0, &r) &&
	    r.type == REC_HEAD) {
		*cap = r.v - 1;
		*known = r.n == HEAD_N_BEFORE && r.before != BEFORE_UNKNOWN;
		*bound = *known ? r.before : 0;
	}
}

/*
 * Maps segment g for the scan. Only the newest keeps its descriptor (a
 * torn tail is cut off through it): a backlog of thousands of segments
 * behind one unreleased message must not need a descriptor each.
 */
static int
map_segment(struct journal *j, struct scanned *g, bool newest, char *err,
    size_t errlen)
{
	char name[SEG_NAME_MAX];
	struct stat st;

	snprintf(name, sizeof(name), SEG_FMT, g->id);
	g->fd = openat(j->j_dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (g->fd < 0 || fstat(g->fd, &st) < 0) {
		snprintf(err, errlen, "open %s/%s: %s", j->j_dir, name,
		    strerror(errno));
		return -1;
	}
	g->size = (size_t)st.st_size;
	if (g->size > 0 && (g->map = mmap(NULL, g->size, PROT_READ,
	    MAP_PRIVATE, g->fd, 0)) == MAP_FAILED) {
		g->map = NULL;
		snprintf(err, errlen, "mmap %s/%s: %s", j->j_dir, name,
		    strerror(errno));
		return -1;
	}
	if (!newest) {
		close(g->fd);
		g->fd = -1;
	}
	return 0;
}

static void
scan_free(struct scan *sc)
{
	for (size_t k = 0; k < sc->nsegs; k++) {
		if (sc->segs[k].map != NULL)
			munmap(sc->segs[k].map, sc->segs[k].size);
		if (sc->segs[k].fd >= 0)
			close(sc->segs[k].fd);
	}
	free(sc->segs);
	free(sc->msgs);
	free(sc->acks);
	free(sc->lost);
	free(sc->dacks);
}

static bool
acked(const struct scan *sc, uint64_t seq)
{
	return sc->nacks > 0 && bsearch(&seq, sc->acks, sc->nacks,
	    sizeof(*sc->acks), cmp_u64) != NULL;
}

static bool
present(const struct scan *sc, uint64_t seq)
{
	struct found key = { .seq = seq };

	return sc->nmsgs > 0 && bsearch(&key, sc->msgs, sc->nmsgs,
	    sizeof(*sc->msgs), cmp_seq) != NULL;
}

/* Some number from lo to hi has no readable copy and no release. */
static bool
missing(const struct scan *sc, uint64_t lo, uint64_t hi)
{
	for (uint64_t seq = lo; seq <= hi; seq++)
		if (!present(sc, seq) && !acked(sc, seq))
			return true;
	return false;
}

/*
 * Whether g held a message past its readable ones: the next segment's H
 * names the highest number written in g, copies included, and none that
 * high is read. A segment cut at a record boundary (or to nothing) reads
 * as clean: this is what tells.
 */
static bool
cut_short(const struct scanned *g)
{
	return g->bound > g->top;
}

/*
 * Whether g was cut among its copies: they go first, numbered below its
 * first (a start's rescue copies those it found unreleased: no record
 * says which), and the highest readable M is one of them with more
 * numbers below its first after it.
 */
static bool
cut_in_copies(const struct scanned *g)
{
	return cut_short(g) && g->top != 0 && g->top + 1 < first_of(g);
}

/*
 * Where g's lost tail starts when its numbers can be told one by one
 * (they run to g->bound), or 0. Cut among its copies, only its own
 * numbers can, from its first on (the copies lost go uncounted: untold),
 * and none when "before" is below its first (it held only copies); none
 * either when nothing is readable and nothing tells g's first.
 */
static uint64_t
cut_from(const struct scanned *g)
{
	uint64_t first = first_of(g);
	uint64_t lo = g->top != 0 ? g->top + 1 : first;

	if (cut_in_copies(g))
		lo = first;
	if (!cut_short(g) || lo == 0 || lo > g->bound)
		return 0;
	return lo;
}

/*
 * Whether g, read whole, lost messages at its end: numbers up to the next
 * segment's bound neither readable nor released; a cut among copies with
 * none of them readable has no range to check and counts as one.
 */
static bool
cut_off(const struct scan *sc, const struct scanned *g)
{
	uint64_t lo = g->top != 0 ? g->top + 1 : first_of(g);

	if (!cut_short(g))
		return false;
	if (lo == 0 || lo > g->bound)
		return true;
	return missing(sc, lo, g->bound);
}

/*
 * Whether some loss of damaged segment g has no number: it held copies
 * and may have lost some (they go in right after its H, so an unreadable
 * stretch before its own first message may have held some, and so may a
 * cut among them, besides its own numbers cut_from counts), or its tail
 * was cut where cut_from cannot count it.
 */
static bool
untold(const struct scanned *g)
{
	return (g->copies && g->bad_early) || cut_in_copies(g) ||
	    (cut_short(g) && cut_from(g) == 0);
}

/*
 * Whether segment g held no message, by the next segment's H: it says so
 * and no number was given out from g's first to that H's (one written
 * before this version said 0 too of a segment of copies only).
 */
static bool
held_none(const struct scanned *g)
{
	uint64_t first = first_of(g);

	return g->bound_known && g->bound == 0 && first != 0 &&
	    g->next_head <= first;
}

/*
 * Counts the messages a damaged segment lost: the numbers from its first
 * (its H record, or the number after the segments before it) to the last
 * one it held (the last readable, or the next segment's bound) that have
 * no readable copy and were not released. Only damaged segments count: a
 * number may be missing elsewhere for good reasons (durability "memory"
 * writes nothing). The lost numbers are released in the new segment, so
 * the next start does not count them again. A damaged segment with no
 * such range, or one wider than a segment holds, is counted in
 * r_uncounted, unless it held no message (held_none); so is one that lost
 * copies (untold), besides the losses it can count.
 */
static void
count_lost(struct scan *sc, const struct scanned *g, uint64_t segsize,
    struct journal_report *rep)
{
	uint64_t seq = first_of(g) ? first_of(g) : g->first_msg;
	uint64_t last = g->last_msg;
	uint64_t room = g->size / (HDR + BODY_MIN);	/* records it fits */
	/* What it could have held: a segment ends with the record that
	 * takes it past segsize (or past its own size, from an older
	 * setting). */
	uint64_t held_max = (g->size > segsize ? g->size : segsize) /
	    (HDR + BODY_MIN) + 1;
	size_t cap = sc->nlost;

	/*
	 * A range wider than the segment could hold comes from a record
	 * that only looks valid: count the numbers it had room for, the
	 * last ones. (The bound is from a valid H: no such doubt.)
	 */
	if (last != 0 && last - seq >= room)
		seq = last - room + 1;
	if (cut_from(g) != 0)
		last = g->bound;
	if (last == 0 && !untold(g) && held_none(g))
		return;		/* it held no message */
	/* A range no segment could hold: numbers that cannot be told,
	 * rather than counting (and noting) up to 2^63 of them. */
	if (last == 0 || seq == 0 || (last >= seq && last - seq >= held_max)) {
		rep->r_uncounted++;
		return;
	}
	if (untold(g))
		rep->r_uncounted++;
	for (; seq <= last; seq++) {
		if (present(sc, seq) || acked(sc, seq))
			continue;
		if (rep->r_lost++ == 0 || seq < rep->r_lost_first)
			rep->r_lost_first = seq;
		if (seq > rep->r_lost_last)
			rep->r_lost_last = seq;
		if (sc->nlost == cap) {
			cap = cap ? cap * 2 : 64;
			sc->lost = xrealloc(sc->lost, cap, sizeof(*sc->lost));
		}
		sc->lost[sc->nlost++] = seq;
	}
}

/*
 * The n releases a damaged segment holds: it is set aside, and messages
 * they released in other segments must stay released.
 */
static void
keep_damaged_acks(struct scan *sc, const uint64_t *acks, size_t n)
{
	if (n == 0)
		return;
	sc->dacks = xrealloc(sc->dacks, sc->ndacks + n, sizeof(*sc->dacks));
	memcpy(sc->dacks + sc->ndacks, acks, n * sizeof(*sc->dacks));
	sc->ndacks += n;
}

/* ---- segments ------------------------------------------------------- */

static struct seg *
seg_find(struct journal *j, uint64_t id)
{
	size_t lo = 0, hi = j->j_nsegs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (j->j_segs[mid].id == id)
			return &j->j_segs[mid];
		if (j->j_segs[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void
seg_push(struct journal *j, uint64_t id)
{
	if (j->j_nsegs == j->j_segcap) {
		j->j_segcap = j->j_segcap ? j->j_segcap * 2 : 16;
		j->j_segs = xrealloc(j->j_segs, j->j_segcap,
		    sizeof(*j->j_segs));
	}
	j->j_segs[j->j_nsegs++] = (struct seg){ .id = id };
}

/* Segment id, added in order when it is not there yet. */
static struct seg *
seg_get(struct journal *j, uint64_t id)
{
	struct seg *s = seg_find(j, id);

	if (s == NULL) {
		seg_push(j, id);
		sort(j->j_segs, j->j_nsegs, sizeof(*j->j_segs), cmp_seg);
		s = seg_find(j, id);
	}
	return s;
}

static uint64_t
newest_id(const struct journal *j)
{
	return j->j_segs[j->j_nsegs - 1].id;
}

/* fd, size bytes of records in a file of end bytes, is the segment
 * written from now on. */
static void
newest_is(struct journal *j, int fd, uint64_t size, uint64_t end)
{
	if (j->j_fd >= 0)
		close(j->j_fd);
	j->j_fd = fd;
	j->j_rotate = false;
	j->j_size = size;
	j->j_end = end;
	j->j_seg_max = 0;
}

/*
 * Renames name to to in dirfd, never over a file there (EEXIST); on a
 * filesystem without RENAME_NOREPLACE, after a look.
 */
static int
rename_new(int dirfd, const char *name, const char *to)
{
	if (renameat2(dirfd, name, dirfd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL)
		return -1;
	if (faccessat(dirfd, to, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	if (errno != ENOENT)
		return -1;
	return renameat(dirfd, name, dirfd, to);
}

/*
 * Renames damaged segment name to damaged-<name>, or damaged-<n>-<name>
 * when that is taken: never over one set aside before, the operator's
 * to look at.
 */
static int
set_aside(int dirfd, const char *name)
{
	char aside[SEG_NAME_MAX + 16];

	for (unsigned n = 0; n < 100; n++) {
		if (n == 0)
			snprintf(aside, sizeof(aside), DAMAGED_PREFIX "%s",
			    name);
		else
			snprintf(aside, sizeof(aside), DAMAGED_PREFIX "%u-%s",
			    n, name);
		if (rename_new(dirfd, name, aside) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/*
 * Whether a released segment of st's size is kept as the spare: under
 * "fsync", when there is none, one that filled up, unless a write found
 * the disk full since the queue opened. An append and its
 * fdatasync write the file's new size and blocks too; a write into
 * blocks written before syncs the data alone, in about half the time
 * (docs/benchmarks.md, "What limits each figure": fsync/2).
 */
static bool
spare_wanted(const struct journal *j, const struct stat *st)
{
	return j->j_mode == JOURNAL_FSYNC && j->j_spare == 0 &&
	    !j->j_no_spare && S_ISREG(st->st_mode) &&
	    (uint64_t)st->st_size >= j->j_segsize &&
	    (uint64_t)st->st_size > HEAD_SIZE;
}

/* The spare, off the disk (a full disk, or durability no longer
 * "fsync"). */
static void
spare_drop(struct journal *j)
{
	if (j->j_spare == 0)
		return;
	spare_discard(j->j_dirfd, j->j_dir);
	j->j_disk -= j->j_spare <= j->j_disk ? j->j_spare : j->j_disk;
	j->j_spare = 0;
}

/*
 * Takes the oldest segment, released whole, off the disk: renamed gone-*
 * and unlinked off the loop's thread (discard.h), at once when the rename
 * fails; or renamed the spare, its space kept for the next segment
 * (spare_wanted); a damaged one kept in place is set aside instead (its
 * unreadable bytes kept for a look, as a start's rescue keeps them).
 * False: it could not be, and stays listed.
 */
static bool
seg_discard(struct journal *j, const struct seg *s)
{
	char name[SEG_NAME_MAX], gone[SEG_NAME_MAX + 8];
	struct stat st;
	bool sized;

	snprintf(name, sizeof(name), SEG_FMT, s->id);
	sized = fstatat(j->j_dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (s->damaged) {
		if (set_aside(j->j_dirfd, name) < 0) {
			log_warn("set aside %s/%s (tried again at the next "
			    "release)", j->j_dir, name);
			return false;
		}
	} else if (sized && spare_wanted(j, &st) && renameat(j->j_dirfd,
	    name, j->j_dirfd, SPARE_NAME) == 0) {
		j->j_spare = (uint64_t)st.st_size;	/* still in j_disk */
		return true;
	} else {
		snprintf(gone, sizeof(gone), GONE_PREFIX "%s", name);
		if (renameat(j->j_dirfd, name, j->j_dirfd, gone) == 0)
			discard_at(j->j_dir, gone);
		else if (unlinkat(j->j_dirfd, name, 0) < 0 && errno != ENOENT)
			log_warn("unlink %s/%s", j->j_dir, name);
	}
	if (sized && (uint64_t)st.st_size <= j->j_disk)
		j->j_disk -= (uint64_t)st.st_size;
	return true;
}

/*
 * The H record of a segment whose first number is next; before is the
 * highest message of the segment before it, copies included.
 */
static void
put_head(struct buf *b, uint64_t next, uint64_t before)
{
	unsigned char *rec = put_record(b, REC_HEAD, next, NULL,
	    HEAD_N_BEFORE);

	memcpy(rec + HDR + BODY_MIN, MAGIC, HEAD_N);
	put_le64(rec + HDR + BODY_MIN + HEAD_N, before);
	seal(rec, 0);
}

/*
 * Segment s, the newest on disk, is released whole while the new one
 * (the last listed) waits for room: a start on a full disk. Deleted, it
 * would give the room back but leave no segment to tell the next start
 * where numbers go on. It becomes the new one in place instead: its H
 * rewritten as the new one's (its first number, s's highest before it;
 * synced under "fsync", before the cut), cut to that H, renamed to the
 * new one's name. Each step is in blocks it has, so none needs room, and
 * the cut gives the room back. A crash before the rename leaves s under
 * its own name with the new H, its old records (if not cut yet) behind
 * it, numbered below it: read as copies, released by the releases
 * written there (one not written yet means one more delivery). Only an
 * H of this version is rewritten (an older, shorter one would run into
 * the next record; version 1's records, checksummed from 0, would not
 * read behind a version 2 H): an older one is said once and marked, so
 * that the commits that find no room while it stays neither read it nor
 * say it again. False when it could not be done: the old H is back
 * then, and a later commit tries again (a failure said once: every
 * commit tries while the disk stays full).
 */
static bool
recycle(struct journal *j, struct seg *s)
{
	char name[SEG_NAME_MAX], to[SEG_NAME_MAX];
	struct buf b = { NULL, 0, 0 };
	unsigned char old[HEAD_SIZE];
	struct rec r;
	struct stat st;
	int fd;

	snprintf(name, sizeof(name), SEG_FMT, s->id);
	snprintf(to, sizeof(to), SEG_FMT, newest_id(j));
	if ((fd = openat(j->j_dirfd, name, O_RDWR | O_CLOEXEC |
	    O_NOFOLLOW)) < 0 || fstat(fd, &st) < 0 ||
	    ((uint64_t)st.st_size >= HEAD_SIZE &&
	    pread(fd, old, HEAD_SIZE, 0) != (ssize_t)HEAD_SIZE))
		goto fail;	/* a read error: not marked, tried again */
	/* Version 1's records, from 0, would not read under the new H
	 * should a crash come before the cut: its releases lost. */
	if ((uint64_t)st.st_size < HEAD_SIZE ||
	    !read_record(old, HEAD_SIZE, 0, 0, 0, &r) || r.type != REC_HEAD ||
	    r.size != HEAD_SIZE || memcmp(r.extra, MAGIC, HEAD_N) != 0) {
		log_warnx("%s/%s: released, kept until the next segment "
		    "finds room: its H is an older version's, not rewritten "
		    "in place", j->j_dir, name);
		s->old_head = true;
		close(fd);
		return false;
	}
	put_head(&b, j->j_batch_msgs > 0 ? j->j_batch_next : j->j_next,
	    j->j_seg_max);
	if (pwrite(fd, b.b_data, b.b_len, 0) != (ssize_t)b.b_len ||
	    (j->j_mode == JOURNAL_FSYNC && fdatasync(fd) < 0) ||
	    ftruncate(fd, (off_t)b.b_len) < 0) {
		if (pwrite(fd, old, HEAD_SIZE, 0) != (ssize_t)HEAD_SIZE)
			log_warn("%s/%s: its H record back", j->j_dir, name);
		goto fail;
	}
	j->j_disk -= (uint64_t)st.st_size - b.b_len;
	newest_is(j, fd, b.b_len, b.b_len);
	free(b.b_data);
	/* Cut, it holds only the new H: under its own name if the rename
	 * fails, it is the new one all the same, the one waiting dropped. */
	if (rename_new(j->j_dirfd, name, to) < 0) {
		log_warn("%s: rename %s to %s", j->j_dir, name, to);
		j->j_nsegs--;
		return false;
	}
	if (j->j_mode == JOURNAL_FSYNC && fsync(j->j_dirfd) < 0)
		log_warn("fsync %s", j->j_dir);
	return true;
fail:
	if (!s->recycle_said)
		log_warn("%s/%s: not made the new segment in place (tried "
		    "again at each write, said once)", j->j_dir, name);
	s->recycle_said = true;
	if (fd >= 0)
		close(fd);
	free(b.b_data);
	return false;
}

/*
 * Deletes the oldest segments once nothing in them is unreleased, oldest
 * first; never the newest on disk. While the new one waits for room
 * (j_fd < 0), the one before it is that: made the new one (recycle: its
 * room given back, the numbers going on from it), or kept when it is
 * damaged (its bytes are the operator's to look at).
 */
static void
trim(struct journal *j)
{
	size_t k = 0;

	while (k + 1 < j->j_nsegs && j->j_segs[k].live == 0) {
		if (j->j_fd < 0 && k + 2 == j->j_nsegs) {
			/* It leaves the list, the new one written. */
			if (!j->j_segs[k].damaged && !j->j_segs[k].old_head &&
			    recycle(j, &j->j_segs[k]))
				k++;
			break;
		}
		if (!seg_discard(j, &j->j_segs[k]))
			break;
		k++;
	}
	if (k > 0) {
		memmove(j->j_segs, j->j_segs + k, (j->j_nsegs - k) *
		    sizeof(*j->j_segs));
		j->j_nsegs -= k;
	}
}

/* Cuts the newest segment's file to its records (j_size), synced when
 * sync is set; a reused file's last use goes with it (j_end moves only
 * once it is done). */
static int
cut_newest(struct journal *j, bool sync)
{
	if (ftruncate(j->j_fd, (off_t)j->j_size) < 0 ||
	    (sync && fdatasync(j->j_fd) < 0))
		return -1;
	if (j->j_end > j->j_size) {
		j->j_disk -= j->j_end - j->j_size;
		j->j_end = j->j_size;
	}
	return 0;
}

/*
 * Cuts a reused newest segment to its records, synced, before a newer
 * one is named: only the newest may end in bytes that do not read
 * (docs/protocols.md). Failing, -1 and the newer one is not named: left
 * behind it, the last use's bytes (a producer's payloads, which may
 * hold a record sealed for this segment) would be searched as damage
 * at the next start. j_end moves only once the cut is synced, so a
 * later try syncs it again.
 */
static int
cut_tail(struct journal *j)
{
	if (j->j_fd < 0 || j->j_end <= j->j_size)
		return 0;
	return cut_newest(j, true);
}

/* The guard's bytes after records ending at end in a file of size
 * bytes: over a reused file's last use, none past its end. */
static size_t
guard_len(uint64_t size, uint64_t end)
{
	if (size <= end)
		return 0;
	return size - end < GUARD ? (size_t)(size - end) : GUARD;
}

/*
 * Makes the spare segment id's file, the one written: its H and mark
 * over the last use's, then the guard, synced, then its name (a crash
 * before leaves the spare, which the next start removes). The last
 * use's records stay past them, read as nothing (version 2: checksums
 * from the segment's number), until the next segment starts
 * (cut_tail). False when it could not be: the spare is gone then, and
 * the caller makes a new file.
 */
static bool
seg_reuse(struct journal *j, uint64_t id, uint64_t next)
{
	char name[SEG_NAME_MAX];
	struct buf b = { NULL, 0, 0 };
	size_t head, guard;
	bool named = false;
	int fd;

	snprintf(name, sizeof(name), SEG_FMT, id);
	put_head(&b, next, j->j_seg_max);
	seal(put_record(&b, REC_ACK, REUSED_MARK, NULL, 0), seg_seed(id));
	head = b.b_len;
	guard = guard_len(j->j_spare, head);
	memset(buf_reserve(&b, guard), 0, guard);
	/* The spare's own name on disk first: after a power cut the file
	 * is never its last use's name with the new H. */
	fd = -1;
	if (fsync(j->j_dirfd) == 0)
		fd = openat(j->j_dirfd, SPARE_NAME, O_RDWR | O_CLOEXEC |
		    O_NOFOLLOW);
	if (fd >= 0 && pwrite(fd, b.b_data, b.b_len, 0) == (ssize_t)b.b_len &&
	    fdatasync(fd) == 0 && (named = rename_new(j->j_dirfd, SPARE_NAME,
	    name) == 0) && fsync(j->j_dirfd) == 0) {
		newest_is(j, fd, head, j->j_spare);
		j->j_spare = 0;		/* its size, the newest's in j_disk */
		free(b.b_data);
		return true;
	}
	log_warn("%s: %s not reused as %s (a new file instead)", j->j_dir,
	    SPARE_NAME, name);
	if (fd >= 0)
		close(fd);
	if (named) {
		if (unlinkat(j->j_dirfd, name, 0) < 0)
			log_warn("%s: unlink %s", j->j_dir, name);
		j->j_disk -= j->j_spare;
		j->j_spare = 0;
	} else
		spare_drop(j);
	free(b.b_data);
	return false;
}

/* Writes all of b at at bytes past the newest segment's end; on failure
 * cuts it back to that end. */
static int
write_all(struct journal *j, const unsigned char *p, size_t len, size_t at)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(j->j_fd, p + done, len - done,
		    (off_t)(j->j_size + at + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int saved = n < 0 ? errno : ENOSPC;

			/* Leave no partial record behind for the next write
			 * to follow. */
			if (cut_newest(j, false) < 0)
				log_warn("ftruncate %s", j->j_dir);
			errno = saved;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

/*
 * Creates the file of segment id with its H record (next is its first
 * number) and makes it the one written; seg_create also lists it.
 */
static int
seg_file(struct journal *j, uint64_t id, uint64_t next, char *err,
    size_t errlen)
{
	char name[SEG_NAME_MAX];
	struct buf b = { NULL, 0, 0 };
	int fd, saved;

	if (cut_tail(j) < 0) {
		saved = errno;
		snprintf(err, errlen, "cut %s/" SEG_FMT " to its records: %s",
		    j->j_dir, newest_id(j), strerror(saved));
		errno = saved;
		return -1;
	}
	if (j->j_spare > 0 && seg_reuse(j, id, next))
		return 0;
	snprintf(name, sizeof(name), SEG_FMT, id);
	fd = openat(j->j_dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "create %s/%s: %s", j->j_dir, name,
		    strerror(errno));
		return -1;
	}
	put_head(&b, next, j->j_seg_max);
	errno = 0;	/* a short write sets none: a full disk */
	if (write(fd, b.b_data, b.b_len) != (ssize_t)b.b_len ||
	    (j->j_mode == JOURNAL_FSYNC && (fdatasync(fd) < 0 ||
	    fsync(j->j_dirfd) < 0))) {
		saved = errno ? errno : ENOSPC;
		snprintf(err, errlen, "write %s/%s: %s", j->j_dir, name,
		    strerror(saved));
		close(fd);
		unlinkat(j->j_dirfd, name, 0);
		free(b.b_data);
		errno = saved;
		return -1;
	}
	newest_is(j, fd, b.b_len, b.b_len);
	j->j_disk += b.b_len;
	free(b.b_data);
	return 0;
}

static int
seg_create(struct journal *j, uint64_t id, uint64_t next, char *err,
    size_t errlen)
{
	if (seg_file(j, id, next, err, errlen) < 0)
		return -1;
	seg_push(j, id);
	return 0;
}

/* The disk has no room (or the file-size limit): it may have later. */
static bool
no_space(int e)
{
	return e == ENOSPC || e == EDQUOT || e == EFBIG;
}

/* ---- open ------------------------------------------------------------ */

/*
 * Sorts what the scan found and finds the segments cut short: each
 * segment holding messages lost at its end is damaged, its releases set
 * aside with it.
 */
static void
sort_found(struct scan *sc)
{
	uint64_t *raw = NULL;
	size_t w = 0;

	for (size_t k = 0; k < sc->nsegs && raw == NULL; k++)
		if (!sc->segs[k].damaged && cut_short(&sc->segs[k]))
			raw = xrealloc(NULL, sc->nacks + 1, sizeof(*raw));
	if (raw != NULL && sc->nacks > 0)
		memcpy(raw, sc->acks, sc->nacks * sizeof(*raw));
	sort(sc->acks, sc->nacks, sizeof(*sc->acks), cmp_u64);
	sort(sc->msgs, sc->nmsgs, sizeof(*sc->msgs), cmp_found);
	/* One entry per seq: the last copy. */
	for (size_t k = 0; k < sc->nmsgs; k++) {
		if (w > 0 && sc->msgs[w - 1].seq == sc->msgs[k].seq)
			w--;
		sc->msgs[w++] = sc->msgs[k];
	}
	sc->nmsgs = w;
	for (size_t k = 0; raw != NULL && k < sc->nsegs; k++) {
		struct scanned *g = &sc->segs[k];

		if (g->damaged || !cut_off(sc, g))
			continue;
		g->damaged = true;
		keep_damaged_acks(sc, raw + g->acks_from,
		    g->acks_to - g->acks_from);
	}
	free(raw);
}

/*
 * Removes the newest segments that are empty: what a crash leaves while a
 * segment is created (the file made, its H record not written or not on
 * disk yet; nothing else goes in before the H is synced). They hold
 * nothing; the new segment takes the first one's number, so the segment
 * before them is bounded by the new one's H. (The newest cut to nothing
 * looks the same: what it held, messages or releases, goes unreported.)
 * Returns how many went.
 */
static size_t
drop_empty_newest(struct journal *j, const uint64_t *ids, size_t *n)
{
	size_t gone = 0;

	while (*n > 0) {
		char name[SEG_NAME_MAX];
		struct stat st;

		snprintf(name, sizeof(name), SEG_FMT, ids[*n - 1]);
		if (fstatat(j->j_dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_size != 0)
			break;
		if (unlinkat(j->j_dirfd, name, 0) < 0) {
			log_warn("unlink %s/%s", j->j_dir, name);
			break;
		}
		gone++;
		(*n)--;
	}
	return gone;
}

/*
 * What segment k may hold is bounded by the segments before it (their
 * highest number) and the H of the one after it.
 */
static void
bound_segment(struct journal *j, struct scan *sc, size_t k, uint64_t *cap)
{
	struct scanned *g = &sc->segs[k];

	*cap = JOURNAL_SEQ_MAX;
	if (k > 0 && (sc->next != 0 || sc->max_seq != 0 || sc->max_ack != 0)) {
		g->has_floor = true;
		g->floor = sc->max_seq > sc->max_ack ? sc->max_seq : sc->max_ack;
		if (sc->next > g->floor + 1)
			g->floor = sc->next - 1;
	}
	if (k + 1 < sc->nsegs) {
		uint64_t bound;
		bool known;

		head_of(j, sc->segs[k + 1].id, cap, &bound, &known);
		/* Its bound: the one after it was started after it,
		 * none set aside in between (which leaves a gap in
		 * the numbers of the files). */
		if (sc->segs[k + 1].id == g->id + 1) {
			g->bound = bound;
			g->bound_known = known;
			g->next_head = *cap + 1;
		}
	}
}

static int
scan_all(struct journal *j, struct scan *sc, struct journal_report *rep,
    char *err, size_t errlen)
{
	uint64_t *ids;
	size_t gone;

	if (list_segments(j->j_dirfd, j->j_dir, &ids, &sc->nsegs) < 0) {
		snprintf(err, errlen, "read %s: %s", j->j_dir,
		    strerror(errno));
		return -1;
	}
	gone = drop_empty_newest(j, ids, &sc->nsegs);
	sc->segs = xrealloc(NULL, sc->nsegs ? sc->nsegs : 1,
	    sizeof(*sc->segs));
	for (size_t k = 0; k < sc->nsegs; k++)
		sc->segs[k] = (struct scanned){ .id = ids[k], .fd = -1 };
	free(ids);
	for (size_t k = 0; k < sc->nsegs; k++) {
		size_t acks_before = sc->nacks;
		uint64_t cap;

		if (map_segment(j, &sc->segs[k], k + 1 == sc->nsegs, err,
		    errlen) < 0)
			return -1;
		bound_segment(j, sc, k, &cap);
		/* Empty, though an empty newest went above: cut to
		 * nothing, since every segment is written with its H
		 * first. Even when the next H says it held no message,
		 * it may have held releases (a start's segment often
		 * holds nothing else), which no other record tells. */
		if (sc->segs[k].size == 0)
			sc->segs[k].damaged = true;
		scan_segment(sc, (uint32_t)k, k + 1 == sc->nsegs, cap, rep);
		sc->segs[k].acks_from = acks_before;
		sc->segs[k].acks_to = sc->nacks;
		/* Scanned: its pages leave this process's memory (they stay
		 * in the page cache) until the restore reads them again, so
		 * a large backlog's segments are not all resident at once. */
		if (sc->segs[k].map != NULL)
			(void)madvise(sc->segs[k].map, sc->segs[k].size,
			    MADV_DONTNEED);
		if (sc->segs[k].damaged && sc->nacks > acks_before)
			keep_damaged_acks(sc, sc->acks + acks_before,
			    sc->nacks - acks_before);
		/* Synced: the new segment must not be named while an
		 * older one could still end in bytes that do not read (a
		 * reused file's last use: damage at the next start). */
		if (sc->segs[k].torn && (ftruncate(sc->segs[k].fd,
		    (off_t)sc->segs[k].good_end) < 0 ||
		    fdatasync(sc->segs[k].fd) < 0)) {
			snprintf(err, errlen, "truncate %s/" SEG_FMT ": %s",
			    j->j_dir, sc->segs[k].id, strerror(errno));
			return -1;
		}
		j->j_disk += sc->segs[k].torn ? sc->segs[k].good_end :
		    sc->segs[k].size;
	}
	rep->r_segments = sc->nsegs + gone;
	sort_found(sc);
	for (size_t k = 0; k < sc->nsegs; k++)
		if (sc->segs[k].damaged)
			count_lost(sc, &sc->segs[k], j->j_segsize, rep);
	return 0;
}

/*
 * No room to copy the damaged segments' messages out: they stay where
 * they are, served and counted as any segment's, and each is set aside
 * once its messages are released (trim) or by a later start. The
 * releases of the lost numbers stay noted for the first write that finds
 * room, so that start does not count them again.
 */
static void
keep_damaged(struct scan *sc, struct journal_report *rep)
{
	for (size_t k = 0; k < sc->nsegs; k++)
		if (sc->segs[k].damaged) {
			sc->segs[k].damaged = false;
			sc->segs[k].kept = true;
			rep->r_kept++;
		}
}

/*
 * Moves the unreleased messages of damaged segments into the new segment,
 * with the releases they held, then sets the damaged files aside under a
 * name nothing reads; without room for that, keeps them (keep_damaged).
 */
static int
rescue_damaged(struct journal *j, struct scan *sc, struct journal_report *rep,
    char *err, size_t errlen)
{
	for (size_t k = 0; k < sc->nmsgs; k++) {
		struct found *f = &sc->msgs[k];

		if (sc->segs[f->seg].damaged && !acked(sc, f->seq))
			journal_add(j, f->seq, f->data, f->len);
	}
	for (size_t k = 0; k < sc->ndacks; k++)
		if (present(sc, sc->dacks[k]))
			journal_release(j, 0, sc->dacks[k]);
	for (size_t k = 0; k < sc->nlost; k++)
		journal_release(j, 0, sc->lost[k]);
	if (journal_commit(j, err, errlen) < 0) {
		if (!no_space(errno))
			return -1;
		rep->r_no_space = errno;	/* the new segment has its H */
		keep_damaged(sc, rep);
		return 0;
	}
	for (size_t k = 0; k < sc->nsegs; k++) {
		char name[SEG_NAME_MAX];

		if (!sc->segs[k].damaged)
			continue;
		snprintf(name, sizeof(name), SEG_FMT, sc->segs[k].id);
		if (set_aside(j->j_dirfd, name) < 0) {
			snprintf(err, errlen, "rename %s/%s: %s", j->j_dir,
			    name, strerror(errno));
			return -1;
		}
		/* What scan_all counted of it. */
		j->j_disk -= sc->segs[k].torn ? sc->segs[k].good_end :
		    sc->segs[k].size;
	}
	return 0;
}

/*
 * Restores the unreleased messages and counts them per segment (those of
 * damaged segments were counted in the new one as they were copied).
 */
static int
restore(struct journal *j, struct scan *sc, journal_restore_fn fn,
    void *arg, struct journal_report *rep)
{
	uint64_t fresh = newest_id(j);

	for (size_t k = 0; k < sc->nmsgs; k++)
		sc->segs[sc->msgs[k].seg].last_use = k + 1;
	for (size_t k = 0; k < sc->nmsgs; k++) {
		struct found *f = &sc->msgs[k];
		struct scanned *g = &sc->segs[f->seg];
		uint64_t id = g->damaged ? fresh : g->id;

		if (!acked(sc, f->seq)) {
			if (!g->damaged)
				seg_get(j, id)->live++;
			rep->r_messages++;
			rep->r_bytes += f->len;
			if (fn(arg, f->seq, id, f->data, f->len) < 0)
				return -1;
		}
		/* Restored in the order of their numbers, a segment's
		 * messages are done at its last: unmapped then, the restore
		 * holds about one segment's pages, not the backlog's. */
		if (k + 1 == g->last_use) {
			munmap(g->map, g->size);
			g->map = NULL;
		}
	}
	return 0;
}

/*
 * Lists the segments kept (the damaged ones were set aside) and deletes
 * the oldest that hold nothing unreleased.
 */
static void
keep_scanned(struct journal *j, struct scan *sc)
{
	for (size_t k = 0; k < sc->nsegs; k++)
		if (!sc->segs[k].damaged)
			seg_get(j, sc->segs[k].id)->damaged = sc->segs[k].kept;
	trim(j);
}

struct journal *
journal_open(const char *dir, enum journal_mode mode, uint64_t segment_size,
    journal_restore_fn fn, void *arg, uint64_t *next_seq,
    struct journal_report *rep, char *err, size_t errlen)
{
	struct journal *j = calloc(1, sizeof(*j));
	struct scan sc = { 0 };
	uint64_t fresh;

	if (j == NULL || (j->j_dir = strdup(dir)) == NULL)
		fatal("%s: calloc", __func__);
	memset(rep, 0, sizeof(*rep));
	j->j_fd = -1;
	j->j_mode = mode;
	j->j_segsize = segment_size;
	if ((j->j_dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "open %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (scan_all(j, &sc, rep, err, errlen) < 0)
		goto fail;
	if (sc.nsegs && sc.segs[sc.nsegs - 1].id >= SEG_ID_MAX) {
		snprintf(err, errlen, "%s/" SEG_FMT ": segment number past "
		    "the last this queue gives out (%" PRIx64 ")", dir,
		    sc.segs[sc.nsegs - 1].id, SEG_ID_MAX - 1);
		goto fail;
	}
	/* The segment before the new one: its highest message, copies
	 * included, as a rotation writes it (journal_commit): the new H
	 * must not say it held none when it held only copies. Damaged with
	 * no message readable, it is not known: a crash before the segment
	 * is set aside must not leave an H saying it held none. */
	j->j_seg_max = sc.nsegs ? sc.segs[sc.nsegs - 1].top : 0;
	if (sc.nsegs && sc.segs[sc.nsegs - 1].damaged && j->j_seg_max == 0)
		j->j_seg_max = BEFORE_UNKNOWN;
	/* Above every release too: a number released once is never
	 * given again, or its old release would hide the new message. */
	j->j_next = sc.max_seq > sc.max_ack ? sc.max_seq : sc.max_ack;
	j->j_next = j->j_next + 1 > sc.next ? j->j_next + 1 : sc.next;
	/* And above every number counted lost: it was given out. */
	if (rep->r_lost > 0 && rep->r_lost_last >= j->j_next)
		j->j_next = rep->r_lost_last + 1;
	if (j->j_next == 0)
		j->j_next = 1;
	fresh = sc.nsegs ? sc.segs[sc.nsegs - 1].id + 1 : 1;
	if (seg_create(j, fresh, j->j_next, err, errlen) < 0) {
		/* A full disk: the queue opens all the same (its backlog
		 * can be delivered) and the new segment is created by the
		 * first commit that finds room. */
		if (!no_space(errno))
			goto fail;
		rep->r_no_space = errno;
		/* No spare either (commit): the released segments trimmed
		 * below give their room back. */
		j->j_no_spare = true;
		seg_push(j, fresh);
	}
	for (size_t k = 0; k < sc.nsegs; k++)
		rep->r_damaged += sc.segs[k].damaged;
	if (rescue_damaged(j, &sc, rep, err, errlen) < 0 ||
	    restore(j, &sc, fn, arg, rep) < 0)
		goto fail;
	keep_scanned(j, &sc);
	scan_free(&sc);
	*next_seq = j->j_next;
	return j;
fail:
	scan_free(&sc);
	journal_close(j);
	return NULL;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	/* A start reads no torn tail where none was; failing, it cuts
	 * the last use's bytes as one (the newest's). */
	if (cut_tail(j) < 0)
		log_warn("%s/" SEG_FMT ": cut to its records", j->j_dir,
		    newest_id(j));
	spare_drop(j);	/* a stream removed would keep it for good */
	if (j->j_fd >= 0)
		close(j->j_fd);
	if (j->j_dirfd >= 0)
		close(j->j_dirfd);
	free(j->j_dir);
	free(j->j_segs);
	free(j->j_buf.b_data);
	free(j->j_acks);
	free(j);
}

/* ---- writing ----------------------------------------------------------- */

/* The segment the current batch goes to: a new one once it is full. */
static uint64_t
batch_segment(const struct journal *j)
{
	bool full = j->j_size >= j->j_segsize;

	if (j->j_fd < 0)
		return newest_id(j);	/* not created yet (full disk) */

	return newest_id(j) + (full || j->j_rotate ? 1 : 0);
}

uint64_t
journal_add(struct journal *j, uint64_t seq, const void *data, size_t len)
{
	unsigned char *rec;

	/* A batch goes where its first add said: the caller counts its
	 * messages there. A rotation asked meanwhile (journal_set_mode,
	 * journal_set_next) starts with the next batch. */
	if (j->j_batch_msgs == 0) {
		j->j_batch_next = j->j_next;
		j->j_batch_seg = batch_segment(j);
	}
	rec = put_record(&j->j_buf, REC_MSG, seq, data, len);
	seal(rec, seg_seed(j->j_batch_seg));
	j->j_batch_msgs++;
	if (seq > j->j_batch_max)
		j->j_batch_max = seq;
	if (seq >= j->j_next)
		j->j_next = seq + 1;
	return j->j_batch_seg;
}

size_t
journal_pending(const struct journal *j)
{
	return j->j_buf.b_len;
}

void
journal_release(struct journal *j, uint64_t seg, uint64_t seq)
{
	struct seg *s = seg_find(j, seg);

	if (j->j_nacks == j->j_ackcap) {
		j->j_ackcap = j->j_ackcap ? j->j_ackcap * 2 : 1024;
		j->j_acks = xrealloc(j->j_acks, j->j_ackcap,
		    sizeof(*j->j_acks));
	}
	j->j_acks[j->j_nacks++] = seq;
	if (s != NULL && s->live > 0 && --s->live == 0)
		trim(j);
}

/*
 * Appends the releases noted as A records of at most ACKS_MAX each (a
 * disk full for long keeps noting them; the reader takes no record
 * longer than RECORD_MAX).
 */
static void
put_acks(struct journal *j)
{
	for (size_t done = 0; done < j->j_nacks; ) {
		size_t n = j->j_nacks - done < ACKS_MAX ? j->j_nacks - done :
		    ACKS_MAX;
		unsigned char *rec = put_record(&j->j_buf, REC_ACK, n, NULL,
		    n * 8);

		for (size_t k = 0; k < n; k++)
			put_le64(rec + HDR + BODY_MIN + 8 * k,
			    j->j_acks[done + k]);
		seal(rec, seg_seed(newest_id(j)));
		done += n;
	}
}

static void
batch_reset(struct journal *j)
{
	j->j_buf.b_len = 0;
	j->j_batch_msgs = 0;
	j->j_batch_max = 0;
}

/*
 * An fdatasync failed while writes whose OKs wait for a sync were not
 * known synced: Linux reports a write-back error once, so a later sync
 * of them could succeed without their pages. Stop rather than answer
 * OK for them (docs/architecture.md, "Durability").
 */
static void
sync_failed(const struct journal *j, int err)
{
	if (j->j_synced != j->j_written)
		fatalx("fdatasync %s/" SEG_FMT ": %s: stopping, as what is on "
		    "disk is unknown (a restart reads it back)", j->j_dir,
		    newest_id(j), strerror(err));
}

/*
 * Syncs the newest segment at once, when writes of messages in it may
 * not be on disk yet: before the journal moves on to a new segment,
 * whose syncs would not cover them.
 */
static void
sync_newest(struct journal *j)
{
	if (j->j_synced == j->j_written)
		return;
	if (fdatasync(j->j_fd) < 0)
		sync_failed(j, errno);
	j->j_synced = j->j_written;
}

/* journal_commit, and journal_write when sync is false. */
static int
commit(struct journal *j, bool sync, char *err, size_t errlen)
{
	uint64_t msgs = j->j_batch_msgs;
	uint64_t target = msgs > 0 ? j->j_batch_seg : batch_segment(j);
	bool fsync = msgs > 0 && j->j_mode == JOURNAL_FSYNC;
	size_t guard, lead;
	int rc;

	if (j->j_buf.b_len == 0 && j->j_nacks == 0)
		return 0;
	/* The newest segment could not be created at open (full disk);
	 * once it is, the one before may go (trim). */
	if (j->j_fd < 0) {
		trim(j);	/* a recycle that failed may do now */
		if (j->j_fd < 0) {
			if (seg_file(j, newest_id(j), msgs > 0 ?
			    j->j_batch_next : j->j_next, err, errlen) < 0)
				goto fail;
			trim(j);
		}
	}
	if (target != newest_id(j) && msgs > 0) {
		sync_newest(j);
		if (seg_create(j, target, j->j_batch_next, err, errlen) < 0)
			goto fail;
	}
	put_acks(j);
	guard = guard_len(j->j_end, j->j_size + j->j_buf.b_len);
	memset(buf_reserve(&j->j_buf, guard), 0, guard);
	/* Over a last use, the first record's length goes last: a write
	 * cut short (a kill stops it at a page's end, which may be a
	 * record's) leaves the last guard's zeros where the reader starts,
	 * not the last use's bytes after the records it got. */
	lead = j->j_end > j->j_size ? GUARD : 0;
	rc = write_all(j, j->j_buf.b_data + lead, j->j_buf.b_len - lead, lead);
	if (rc == 0 && lead > 0)
		rc = write_all(j, j->j_buf.b_data, lead, 0);
	j->j_buf.b_len -= guard;
	if (rc < 0) {
		snprintf(err, errlen, "write %s/" SEG_FMT ": %s", j->j_dir,
		    newest_id(j), strerror(errno));
		goto fail;
	}
	if (fsync && sync && fdatasync(j->j_fd) < 0) {
		int saved = errno;

		sync_failed(j, saved);
		snprintf(err, errlen, "fdatasync %s/" SEG_FMT ": %s",
		    j->j_dir, newest_id(j), strerror(saved));
		if (cut_newest(j, false) < 0)
			log_warn("ftruncate %s", j->j_dir);
		errno = saved;
		goto fail;
	}
	if (fsync) {
		j->j_written++;
		if (sync)
			j->j_synced = j->j_written;
	}
	j->j_size += j->j_buf.b_len;
	if (j->j_size > j->j_end) {	/* past a reused file's end */
		j->j_disk += j->j_size - j->j_end;
		j->j_end = j->j_size;
	}
	j->j_segs[j->j_nsegs - 1].live += msgs;
	if (j->j_batch_max > j->j_seg_max)
		j->j_seg_max = j->j_batch_max;
	j->j_nacks = 0;
	batch_reset(j);
	return 0;
fail:
	{
		int saved = errno;

		journal_drop_batch(j);
		/* Room for the next try, and none held back while this
		 * queue is open: on a disk nearly full, each new spare
		 * would cost a batch refused again. */
		if (no_space(saved)) {
			spare_drop(j);
			j->j_no_spare = true;
		}
		errno = saved;
	}
	return -1;
}

int
journal_commit(struct journal *j, char *err, size_t errlen)
{
	return commit(j, true, err, errlen);
}

int
journal_write(struct journal *j, char *err, size_t errlen)
{
	return commit(j, false, err, errlen);
}

uint64_t
journal_written(const struct journal *j)
{
	return j->j_written;
}

uint64_t
journal_synced(const struct journal *j)
{
	return j->j_synced;
}

int
journal_sync_begin(struct journal *j, uint64_t *gen)
{
	int fd;

	if (j->j_syncing || j->j_synced == j->j_written)
		return -1;
	*gen = j->j_written;
	if ((fd = fcntl(j->j_fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return -2;
	j->j_syncing = true;
	return fd;
}

bool
journal_syncing(const struct journal *j)
{
	return j->j_syncing;
}

void
journal_sync(struct journal *j)
{
	sync_newest(j);
}

void
journal_sync_end(struct journal *j, uint64_t gen)
{
	j->j_syncing = false;
	if (gen > j->j_synced)
		j->j_synced = gen;
}

const char *
journal_dir(const struct journal *j)
{
	return j->j_dir;
}

void
journal_drop_batch(struct journal *j)
{
	if (j->j_batch_msgs > 0)
		j->j_next = j->j_batch_next;
	batch_reset(j);
}

void
journal_set_mode(struct journal *j, enum journal_mode mode,
    uint64_t next_seq)
{
	if (j->j_mode == JOURNAL_MEMORY && mode != JOURNAL_MEMORY) {
		j->j_rotate = true;
		journal_set_next(j, next_seq);
	}
	/* The newest segment's name may not be on disk yet (created
	 * without a sync of the folder): synced now, for a batch pending
	 * for it; a new one is, once created. */
	if (j->j_mode != JOURNAL_FSYNC && mode == JOURNAL_FSYNC) {
		j->j_rotate = true;
		if (j->j_fd >= 0 && fsync(j->j_dirfd) < 0)
			log_warn("fsync %s", j->j_dir);
	}
	if (mode != JOURNAL_FSYNC)
		spare_drop(j);
	j->j_mode = mode;
}

void
journal_set_next(struct journal *j, uint64_t next_seq)
{
	if (next_seq > j->j_next) {
		j->j_next = next_seq;
		j->j_rotate = true;
	}
}

void
journal_usage(const struct journal *j, uint64_t *segments, uint64_t *bytes)
{
	*segments = j->j_nsegs - (j->j_fd < 0 ? 1 : 0);
	*bytes = j->j_disk;
}

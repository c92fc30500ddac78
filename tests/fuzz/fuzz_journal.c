/*
 * Fuzz target: the queue-segment reader (manager/streammgr/journal.c, journal_open's
 * recovery). The input is a queue folder: its first byte holds flags, the
 * rest is split at "SEG|" into up to four segment files seg-...1.log,
 * seg-...2.log, ... With flag 1 the target first fixes the checksum of
 * every record it can walk from each segment's start (as the version its
 * H says checksums them), so the fuzzer gets past the CRC and reaches the
 * record logic.
 *
 * Invariants: recovery never fails on a readable folder and never
 * crashes or hangs; every message it restores is a valid message record
 * of the input (so it never reports more messages than were written),
 * once, in order, with the counts it reports; the next number is above
 * every restored one; and it leaves a readable state: opened again, the
 * folder gives the same messages and finds no damage, and a message added
 * after recovery comes back too.
 *
 * With flag 2 the target goes on under "fsync", where a segment released
 * whole is kept as the spare and written again as the next new one
 * (reuse_step): messages whose payloads are the input's bytes fill three
 * segments; all are released, one that filled up kept as the spare; a
 * few known messages go into the spare's file, over the start of its
 * last use. In the middle of their write, at a place the input picks,
 * tests/tearwrite.c's pwrite copies the folder as a kill there leaves it:
 * opened, that copy gives back none of them (the first length goes
 * last), the next number their first, no damage or loss, every byte
 * past the mark torn. Opened as a crash leaves that file after the
 * write, the folder gives back
 * exactly those few, the next number after them, no damage, no loss,
 * the last use's bytes (all of them) cut as a torn tail; opened again,
 * nothing torn.
 * Right where the new records end, the image holds the guard's zeros
 * (journal.c), never a record sealed for the reused segment, whatever
 * the payloads were (libFuzzer can solve the 32-bit compare that makes
 * one). With the top bit of the byte that picks the few (pick), the
 * image holds a record sealed for the segment a little past them,
 * which must be cut with the rest: the reader stops at the first
 * unreadable record.
 * With bit 2 of pick, before the stop a further batch names a newer
 * segment (rotate_step): the reused one filled to exactly its size by
 * one message (bit 3), or the next number moved on (journal_set_next).
 * A record sealed for the reused segment, the message numbered after
 * the batch, is put past its records first; once the newer one is
 * named the reused file ends exactly at its records, the forged one
 * gone. Opened, with the newest's crash image (top bit; a new file, no
 * spare left for it: its records) or as the stop left it, the folder
 * gives back the few, the filler and the batch, no damage, nothing
 * torn: none counted for the reused segment.
 * With bit 6 too, the few are released first (release_few): the reused
 * segment's live count reaches 0, so trim keeps the segment before it,
 * full, as the spare, and the batch's new segment reuses it (an A record
 * of the releases goes with the filler, else with the batch). Its crash
 * image then holds the last use's bytes past its records, a record
 * sealed for it (numbered after the batch) forged a little past them:
 * opened, the folder gives back the filler and the batch, two segments
 * read, every byte past the newest's records torn (none without the
 * image).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "byteorder.h"
#include "crc32c.h"
#include "fuzz.h"
#include "journal.h"
#include "tearwrite.h"

#define SEP		"SEG|"
#define SEGS_MAX	4
#define HDR		8	/* length, crc */
#define BODY_MIN	9	/* type, u64 */
#define SEGMENT_SIZE	4096
#define HEAD_SIZE	(HDR + BODY_MIN + 24)	/* H: magic, before */
#define MARK_SIZE	(HDR + BODY_MIN)	/* a reused file's mark */
#define FILL_BATCHES	3	/* two segments rotated, one written */
#define FILL_LEN_MAX	(64 + 255 * 4)
#define REUSE_MSGS	4
/* A record forged in the last use, past the new records (forge_past):
 * both within any spare (SEGMENT_SIZE at least). */
#define FORGE_AT	32
#define FORGE_LEN	6
#define GUARD		4	/* zeros after a write into a reused file */
#define ROTATE_MSGS	3	/* the batch in the newer segment */
#define ROTATE_GAP	3	/* numbers skipped by journal_set_next */
#define ACK_SIZE(m)	(HDR + BODY_MIN + 8 * (m))	/* an A of m releases */
/* Numbers the reuse step gives out, at most: FILL_BATCHES batches of
 * SEGMENT_SIZE bytes of payloads of 64 at least, REUSE_MSGS, and
 * rotate_step's filler, gap and batch. */
#define REUSE_SEQS	(FILL_BATCHES * (SEGMENT_SIZE / 64 + 1) + \
	REUSE_MSGS + 1 + ROTATE_GAP + ROTATE_MSGS)

struct restored {
	uint64_t	 seq;
	uint64_t	 seg;		/* for journal_release */
	unsigned char	*data;
	size_t		 len;
};

struct restored_set {
	struct restored	*v;
	size_t		 n;
	size_t		 cap;
};

static int
collect(void *arg, uint64_t seq, uint64_t seg, const void *data, size_t len)
{
	struct restored_set *rs = arg;
	struct restored *r;

	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 64;
		rs->v = realloc(rs->v, rs->cap * sizeof(*rs->v));
		FUZZ_CHECK(rs->v != NULL, "realloc");
	}
	r = &rs->v[rs->n++];
	r->seq = seq;
	r->seg = seg;
	r->len = len;
	r->data = malloc(len ? len : 1);
	FUZZ_CHECK(r->data != NULL, "malloc");
	memcpy(r->data, data, len);
	return 0;
}

static void
set_free(struct restored_set *rs)
{
	for (size_t k = 0; k < rs->n; k++)
		free(rs->v[k].data);
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

/*
 * Where the checksums of segment id's records start (docs/protocols.md,
 * "The queue on disk"): version 2, the H's magic ending in 2, from a
 * value the segment's number gives; version 1 from 0. The H's own is
 * always from 0.
 */
static uint32_t
seg_seed(uint64_t id)
{
	return UINT32_C(0x80000000) | (uint32_t)(id & 0x7fffffff);
}

/* Sets the checksum of each record walked from the start of segment id,
 * seg, by the version its H says. */
static void
reseal(unsigned char *seg, size_t size, uint64_t id)
{
	size_t off = 0;
	uint32_t seed = 0;

	while (size - off >= HDR + BODY_MIN) {
		uint32_t len = get_le32(seg + off);
		unsigned char *body = seg + off + HDR;

		if (len < BODY_MIN || len > size - off - HDR)
			break;
		put_le32(seg + off + 4, crc32c(body[0] == 'H' ? 0 : seed, body,
		    len));
		if (off == 0 && body[0] == 'H' && len >= BODY_MIN + 16 &&
		    memcmp(body + BODY_MIN, "mysimbdp-queue 2", 16) == 0)
			seed = seg_seed(id);
		off += HDR + len;
	}
}

/* Whether the input holds message seq with this payload, checksum right
 * by version 1 or by version 2 in one of its nsegs segments. */
static bool
written(const unsigned char *in, size_t size, size_t nsegs,
    const struct restored *r)
{
	size_t reclen = HDR + BODY_MIN + r->len;
	unsigned char *rec = malloc(reclen);
	bool found = false;

	FUZZ_CHECK(rec != NULL, "malloc");
	put_le32(rec, (uint32_t)(BODY_MIN + r->len));
	rec[HDR] = 'M';
	put_le64(rec + HDR + 1, r->seq);
	if (r->len > 0)
		memcpy(rec + HDR + BODY_MIN, r->data, r->len);
	for (size_t id = 0; id <= nsegs && !found; id++) {
		put_le32(rec + 4, crc32c(id == 0 ? 0 : seg_seed(id), rec + HDR,
		    BODY_MIN + r->len));
		found = memmem(in, size, rec, reclen) != NULL;
	}
	free(rec);
	return found;
}

static bool
same_set(const struct restored_set *a, const struct restored_set *b)
{
	if (a->n != b->n)
		return false;
	for (size_t k = 0; k < a->n; k++)
		if (a->v[k].seq != b->v[k].seq || a->v[k].len != b->v[k].len ||
		    memcmp(a->v[k].data, b->v[k].data, a->v[k].len) != 0)
			return false;
	return true;
}

static struct journal *
open_mode(const char *dir, enum journal_mode mode, struct restored_set *rs,
    uint64_t *next, struct journal_report *rep)
{
	char err[512];
	struct journal *j;

	j = journal_open(dir, mode, SEGMENT_SIZE, collect, rs, next, rep, err,
	    sizeof(err));
	FUZZ_CHECK(j != NULL, "journal_open: %s", err);
	return j;
}

static struct journal *
open_dir(const char *dir, struct restored_set *rs, uint64_t *next,
    struct journal_report *rep)
{
	return open_mode(dir, JOURNAL_OS, rs, next, rep);
}

/* What the first recovery restored and reported. */
static void
check_first(const unsigned char *in, size_t size, size_t nsegs,
    const struct restored_set *rs, uint64_t next,
    const struct journal_report *rep)
{
	uint64_t bytes = 0;

	FUZZ_CHECK(rep->r_segments == nsegs, "%" PRIu64 " segments read of "
	    "%zu", rep->r_segments, nsegs);
	FUZZ_CHECK(rep->r_messages == rs->n, "reported %" PRIu64 " messages,"
	    " restored %zu", rep->r_messages, rs->n);
	for (size_t k = 0; k < rs->n; k++) {
		const struct restored *r = &rs->v[k];

		FUZZ_CHECK(k == 0 || r->seq > rs->v[k - 1].seq, "message %"
		    PRIu64 " after %" PRIu64, r->seq, rs->v[k - 1].seq);
		FUZZ_CHECK(written(in, size, nsegs, r), "message %" PRIu64 " (%zu "
		    "bytes) restored, never written", r->seq, r->len);
		FUZZ_CHECK(r->seq < next, "message %" PRIu64 " restored, next "
		    "number %" PRIu64, r->seq, next);
		bytes += r->len;
	}
	FUZZ_CHECK(rep->r_bytes == bytes, "reported %" PRIu64 " bytes, "
	    "restored %" PRIu64, rep->r_bytes, bytes);
	FUZZ_CHECK(next >= 1, "next number 0");
	FUZZ_CHECK(rep->r_torn_bytes + rep->r_bad_bytes <= size, "%" PRIu64
	    " torn and %" PRIu64 " bad bytes of %zu", rep->r_torn_bytes,
	    rep->r_bad_bytes, size);
	/* A segment cut short lost what it held: at most what a segment
	 * of the input's size or of SEGMENT_SIZE holds, one record more. */
	FUZZ_CHECK(rep->r_lost <= (size + nsegs * SEGMENT_SIZE) /
	    (HDR + BODY_MIN) + nsegs, "%" PRIu64 " messages lost from %zu "
	    "bytes in %zu segments", rep->r_lost, size, nsegs);
	FUZZ_CHECK(rep->r_damaged <= nsegs, "%" PRIu64 " damaged of %zu",
	    rep->r_damaged, nsegs);
}

/* Opened again, the folder holds the same messages, and one more added. */
static void
check_again(const char *dir, const struct restored_set *first, uint64_t next)
{
	struct restored_set again = { 0 }, after = { 0 };
	struct journal_report rep;
	struct journal *j;
	uint64_t next2, next3;
	char err[512];

	j = open_dir(dir, &again, &next2, &rep);
	FUZZ_CHECK(same_set(first, &again), "opened again: %zu messages "
	    "instead of %zu, or others", again.n, first->n);
	FUZZ_CHECK(next2 == next, "opened again: next number %" PRIu64
	    " instead of %" PRIu64, next2, next);
	FUZZ_CHECK(rep.r_damaged == 0 && rep.r_torn_bytes == 0 &&
	    rep.r_bad_bytes == 0 && rep.r_lost == 0 && rep.r_uncounted == 0,
	    "opened again: damage found (%" PRIu64 " segments, %" PRIu64
	    " torn, %" PRIu64 " bad, %" PRIu64 " lost, %" PRIu64 " uncounted)",
	    rep.r_damaged, rep.r_torn_bytes, rep.r_bad_bytes, rep.r_lost,
	    rep.r_uncounted);
	if (next2 > JOURNAL_SEQ_MAX) {
		/* The input used the last number: no message can follow. */
		journal_close(j);
		set_free(&again);
		return;
	}
	journal_add(j, next2, "fuzz", 4);
	FUZZ_CHECK(journal_commit(j, err, sizeof(err)) == 0, "commit: %s",
	    err);
	journal_close(j);
	j = open_dir(dir, &after, &next3, &rep);
	journal_close(j);
	FUZZ_CHECK(after.n == again.n + 1 && after.v[again.n].seq == next2 &&
	    after.v[again.n].len == 4 &&
	    memcmp(after.v[again.n].data, "fuzz", 4) == 0 &&
	    next3 == next2 + 1, "the message added after recovery did not "
	    "come back as %" PRIu64, next2);
	set_free(&again);
	set_free(&after);
}

static void
commit_ok(struct journal *j)
{
	char err[512];

	FUZZ_CHECK(journal_commit(j, err, sizeof(err)) == 0, "commit: %s",
	    err);
}

/* A whole file; *len its size. */
static unsigned char *
read_whole(const char *path, size_t *len)
{
	unsigned char *buf;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	FUZZ_CHECK(fd >= 0 && fstat(fd, &st) == 0, "open %s", path);
	*len = (size_t)st.st_size;
	buf = malloc(*len ? *len : 1);
	FUZZ_CHECK(buf != NULL, "malloc");
	FUZZ_CHECK(pread(fd, buf, *len, 0) == (ssize_t)*len, "read %s",
	    path);
	close(fd);
	return buf;
}

/*
 * Whether the bytes at off of segment id's file read as a record of its
 * own, checksummed from its number (what the guard keeps from where a
 * reused file's new records end: header comment).
 */
static bool
sealed_for(const unsigned char *file, size_t size, size_t off, uint64_t id)
{
	uint32_t len;

	if (size - off < HDR + BODY_MIN)
		return false;
	len = get_le32(file + off);
	if (len < BODY_MIN || len > size - off - HDR)
		return false;
	return crc32c(seg_seed(id), file + off + HDR, len) ==
	    get_le32(file + off + 4);
}

/*
 * What a producer could leave in the last use: a record sealed for
 * segment id, the next number's message, FORGE_AT bytes past where the
 * new records end, none readable before it. A reader that searched
 * past the end of the records as it does past damage would take it.
 */
static void
forge_past(unsigned char *file, size_t end, uint64_t id, uint64_t seq)
{
	unsigned char *rec = file + end + FORGE_AT;

	memset(file + end, 0, FORGE_AT);
	put_le32(rec, BODY_MIN + FORGE_LEN);
	rec[HDR] = 'M';
	put_le64(rec + HDR + 1, seq);
	memset(rec + HDR + BODY_MIN, 'f', FORGE_LEN);
	put_le32(rec + 4, crc32c(seg_seed(id), rec + HDR,
	    BODY_MIN + FORGE_LEN));
}

/*
 * Step 1: FILL_BATCHES batches of messages, each past a segment's size
 * so that the next starts a segment, their payloads the input's bytes
 * (cycled from a place of each, of a length its byte there gives): what
 * the spare's file will hold past the new records. Returns the segment
 * of the last batch.
 */
static uint64_t
fill_segments(struct journal *j, const uint8_t *data, size_t size,
    uint64_t *next, struct restored_set *added)
{
	static unsigned char payload[FILL_LEN_MAX];
	uint64_t first = 0, seg = 0;
	size_t i = 0;

	for (uint64_t b = 0; b < FILL_BATCHES; b++) {
		size_t bytes = 0;

		while (bytes < SEGMENT_SIZE) {
			size_t start = i++ * 131 % size;
			size_t len = 64 + (size_t)data[start] * 4;

			for (size_t k = 0; k < len; k++)
				payload[k] = data[(start + k) % size];
			seg = journal_add(j, *next, payload, len);
			collect(added, (*next)++, seg, payload, len);
			bytes += len;
		}
		if (b == 0)
			first = seg;
		FUZZ_CHECK(seg == first + b, "batch %" PRIu64 " of a full "
		    "segment's size went to segment %" PRIu64 ", not %" PRIu64,
		    b, seg, first + b);
		commit_ok(j);
	}
	return seg;
}

/*
 * With bit 6 of pick: the few in the reused segment, seg, all released
 * (*want emptied), the segment before it left with none, so trim keeps
 * it as the spare (it filled up). Returns the A record's size, which the
 * next commit writes.
 */
static size_t
release_few(struct journal *j, const char *dir, uint64_t seg,
    struct restored_set *want)
{
	char spare[PATH_MAX];
	size_t m = want->n;

	for (size_t k = 0; k < m; k++)
		journal_release(j, seg, want->v[k].seq);
	set_free(want);
	snprintf(spare, sizeof(spare), "%s/spare-seg.log", dir);
	FUZZ_CHECK(access(spare, F_OK) == 0, "no spare once segment %" PRIu64
	    "'s messages were all released", seg);
	return ACK_SIZE(m);
}

/*
 * Step 3b, with bit 2 of pick: a newer segment named after the reused
 * one, seg, whose records end at *end in the file at path (header
 * comment). The filler and the batch go to *want; *end becomes the
 * reused file's records' end, *newest_end the newest's. Returns the
 * newest's file, read before the stop: what a crash leaves (*imlen).
 */
static unsigned char *
rotate_step(struct journal *j, const char *dir, const char *path,
    uint64_t seg, uint8_t pick, uint64_t *next, struct restored_set *want,
    size_t *end, size_t *newest_end, size_t *imlen)
{
	static unsigned char payload[SEGMENT_SIZE];
	unsigned char *before, *after;
	char newest[PATH_MAX];
	size_t n = 1 + (size_t)(pick >> 5) % ROTATE_MSGS, blen, alen;
	size_t acks = 0;

	/* The newest: a new file, or the spare's with its mark. */
	*newest_end = HEAD_SIZE;
	if (pick & 0x40) {
		acks = release_few(j, dir, seg, want);
		*newest_end += MARK_SIZE;
	}
	if (pick & 0x08) {
		/* One message fills the reused segment to exactly its size,
		 * so the next batch starts a segment: the last use (a spare
		 * filled up, mostly past that size) still lies past it. The
		 * releases' A record goes in after it. */
		size_t len = SEGMENT_SIZE - *end - acks - HDR - BODY_MIN;

		memset(payload, 'z', len);
		FUZZ_CHECK(journal_add(j, *next, payload, len) == seg,
		    "the filler did not go to segment %" PRIu64, seg);
		collect(want, (*next)++, seg, payload, len);
		commit_ok(j);
		*end = SEGMENT_SIZE;
	} else {
		uint64_t to = *next + 1 + (pick >> 4) % ROTATE_GAP;

		journal_set_next(j, to);
		*next = to;
		*newest_end += acks;	/* after the batch, in the newest */
	}
	/* The forged record the cut must take: where the last use has
	 * room for it past the records (a spare of an input's segment may
	 * end just past SEGMENT_SIZE). Its number is the one after the
	 * batch, which no message has: read, it comes back as one more
	 * (one of the batch's own numbers would be a copy, the batch's
	 * in the newer segment taken over it). */
	before = read_whole(path, &blen);
	if (blen >= *end + FORGE_AT + HDR + BODY_MIN + FORGE_LEN) {
		forge_past(before, *end, seg, *next + n);
		fuzz_write_file(path, before, blen);
	}

	for (size_t k = 0; k < n; k++) {
		size_t len = (pick * 3 + 71 * k) % 256;

		memset(payload, 'A' + (int)k, len);
		FUZZ_CHECK(journal_add(j, *next, payload, len) == seg + 1,
		    "the batch after segment %" PRIu64 " was asked to rotate "
		    "did not go to the next", seg);
		collect(want, (*next)++, seg + 1, payload, len);
		*newest_end += HDR + BODY_MIN + len;
	}
	commit_ok(j);

	/* Named a newer one, the reused file is cut to its records, them
	 * unchanged, while the queue is still open (a stop cuts the newest
	 * only). */
	after = read_whole(path, &alen);
	FUZZ_CHECK(alen == *end && memcmp(before, after, alen) == 0,
	    "segment %" PRIu64 " no longer the newest: its file is %zu "
	    "bytes, its records' %zu (or they changed)", seg, alen, *end);
	free(before);
	free(after);
	if (pick & 0x40) {
		snprintf(newest, sizeof(newest), "%s/spare-seg.log", dir);
		FUZZ_CHECK(access(newest, F_OK) < 0, "the spare not taken by "
		    "segment %" PRIu64, seg + 1);
	}
	snprintf(newest, sizeof(newest), "%s/seg-%016" PRIx64 ".log", dir,
	    seg + 1);
	return read_whole(newest, imlen);
}

/* Where a kill in the middle of a write is copied from and to. */
struct kill_copy {
	const char	*from;
	const char	*to;
};

/* Copies the files of folder from into folder to; a gone-* file the
 * unlinking thread takes meanwhile is not (a start never reads one). */
static void
copy_folder(const char *from, const char *to)
{
	char src[PATH_MAX], dst[PATH_MAX];
	DIR *d = opendir(from);
	struct dirent *de;

	FUZZ_CHECK(d != NULL, "opendir %s", from);
	while ((de = readdir(d)) != NULL) {
		unsigned char *buf;
		struct stat st;
		int fd;

		if (de->d_name[0] == '.' ||
		    strncmp(de->d_name, "gone-", 5) == 0)
			continue;
		snprintf(src, sizeof(src), "%s/%s", from, de->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", to, de->d_name);
		fd = open(src, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue;
		FUZZ_CHECK(fd >= 0 && fstat(fd, &st) == 0, "open %s", src);
		buf = malloc(st.st_size ? (size_t)st.st_size : 1);
		FUZZ_CHECK(buf != NULL && pread(fd, buf, (size_t)st.st_size,
		    0) == (ssize_t)st.st_size, "read %s", src);
		close(fd);
		fuzz_write_file(dst, buf, (size_t)st.st_size);
		free(buf);
	}
	closedir(d);
}

static void
kill_copy_cb(void *arg)
{
	const struct kill_copy *kc = arg;

	copy_folder(kc->from, kc->to);
}

/*
 * Step 3's batch written into reused segment seg, cut short by a kill at
 * a place the input picks (copied to torn by kill_copy_cb): its first
 * record's length goes last, so the zeros written after the mark stay
 * where the batch starts. Opened, the copy gives back none of the batch
 * (every message before it is released) and the next number is its
 * first, with nothing damaged or lost: every byte past the mark torn.
 */
static void
check_torn(const char *torn, uint64_t seg, uint64_t first)
{
	struct restored_set back = { 0 };
	struct journal_report rep;
	char path[PATH_MAX];
	struct stat st;
	uint64_t next;

	snprintf(path, sizeof(path), "%s/seg-%016" PRIx64 ".log", torn, seg);
	FUZZ_CHECK(stat(path, &st) == 0, "no %s in the kill's copy", path);
	journal_close(open_mode(torn, JOURNAL_FSYNC, &back, &next, &rep));
	FUZZ_CHECK(back.n == 0 && next == first && rep.r_damaged == 0 &&
	    rep.r_bad_bytes == 0 && rep.r_lost == 0 && rep.r_uncounted == 0 &&
	    rep.r_torn_bytes == (uint64_t)st.st_size - HEAD_SIZE - MARK_SIZE,
	    "after a kill in a batch's write into a reused file: %zu "
	    "messages, next %" PRIu64 " (not %" PRIu64 "), %" PRIu64
	    " damaged, %" PRIu64 " bad, %" PRIu64 " lost, %" PRIu64
	    " uncounted, %" PRIu64 " torn of %jd bytes", back.n, next, first,
	    rep.r_damaged, rep.r_bad_bytes, rep.r_lost, rep.r_uncounted,
	    rep.r_torn_bytes, (intmax_t)st.st_size);
	set_free(&back);
	fuzz_empty_dir(torn);
}

/*
 * With flag 2: segment reuse as a writer, under "fsync" (header
 * comment), then its recovery from a crash's image of the reused file.
 */
static void
reuse_step(const char *dir, const uint8_t *data, size_t size)
{
	struct restored_set old = { 0 }, added = { 0 }, want = { 0 },
	    back = { 0 };
	unsigned char payload[256], *image, *newest = NULL;
	char spare[PATH_MAX], path[PATH_MAX], killed[PATH_MAX];
	struct kill_copy kc;
	off_t tear;
	struct journal_report rep;
	struct journal *j;
	uint64_t next, next4, last, seg = 0, nsegs, bytes, first;
	/* Where the new records end in the old file moves with the input. */
	uint8_t pick = (uint8_t)(data[size - 1] + size);
	size_t nwant = 1 + pick % REUSE_MSGS;
	size_t end = HEAD_SIZE + MARK_SIZE, imlen, newest_end = 0, newlen = 0;
	uint64_t torn, segs = 2;
	struct stat st;

	j = open_mode(dir, JOURNAL_FSYNC, &old, &next, &rep);
	if (next > JOURNAL_SEQ_MAX - REUSE_SEQS) {
		/* The input took numbers near the last: no room for the
		 * step's. */
		journal_close(j);
		set_free(&old);
		return;
	}
	last = fill_segments(j, data, size, &next, &added);

	/* Step 2: every segment but the newest released whole, the first
	 * that filled up (the first batch's, if none before it) kept as
	 * the spare: one the open kept was taken by step 1's rotations. */
	for (size_t k = 0; k < old.n; k++)
		journal_release(j, old.v[k].seg, old.v[k].seq);
	for (size_t k = 0; k < added.n; k++)
		journal_release(j, added.v[k].seg, added.v[k].seq);
	commit_ok(j);
	journal_usage(j, &nsegs, &bytes);
	FUZZ_CHECK(nsegs == 1, "%" PRIu64 " segments left, all released "
	    "but the newest", nsegs);
	snprintf(spare, sizeof(spare), "%s/spare-seg.log", dir);
	FUZZ_CHECK(access(spare, F_OK) == 0, "no spare after segments of "
	    "%d bytes were released whole", SEGMENT_SIZE);

	/* Step 3: the newest is full; the next batch goes into the
	 * spare's file, over the start of its last use. */
	first = next;
	for (size_t k = 0; k < nwant; k++) {
		size_t len = (pick + 53 * k) % sizeof(payload);

		memset(payload, 'a' + (int)k, len);
		seg = journal_add(j, next, payload, len);
		collect(&want, next++, seg, payload, len);
		FUZZ_CHECK(seg == last + 1, "message after a full segment "
		    "%" PRIu64 " went to %" PRIu64, last, seg);
		end += HDR + BODY_MIN + len;
	}
	/* A kill somewhere in the batch's write (after its first length,
	 * which goes last), its copy checked below. */
	snprintf(killed, sizeof(killed), "%s/killed", fuzz_tmpdir());
	FUZZ_CHECK(mkdir(killed, 0700) == 0 || errno == EEXIST, "mkdir %s",
	    killed);
	kc = (struct kill_copy){ dir, killed };
	tear = (off_t)(HEAD_SIZE + MARK_SIZE + GUARD + (size * 7 + pick) %
	    (end - HEAD_SIZE - MARK_SIZE));
	tear_write_at(tear, kill_copy_cb, &kc);
	commit_ok(j);
	FUZZ_CHECK(tear_write_done(), "the batch's write did not reach "
	    "offset %jd", (intmax_t)tear);
	FUZZ_CHECK(access(spare, F_OK) < 0, "the spare not taken by "
	    "segment %" PRIu64, seg);
	check_torn(killed, seg, first);
	snprintf(path, sizeof(path), "%s/seg-%016" PRIx64 ".log", dir, seg);
	/* What a crash leaves: the records, then the last use's. */
	image = read_whole(path, &imlen);
	FUZZ_CHECK(imlen > end, "reused file of %zu bytes, its records end "
	    "at %zu: no last use left", imlen, end);
	if (pick & 0x04) {
		/* No spare for the newer one (the reused took it; the
		 * segment before it stays listed): a new file. Unless the
		 * few are released first (bit 6): that segment is then
		 * kept as the spare, which the newer one takes. */
		newest = rotate_step(j, dir, path, seg, pick, &next, &want,
		    &end, &newest_end, &newlen);
		/* Released, the segment before the reused one went. */
		segs = pick & 0x40 ? 2 : 3;
	}
	journal_close(j);
	FUZZ_CHECK(stat(path, &st) == 0 && (size_t)st.st_size == end,
	    "closed, the reused file is %jd bytes, not its records' %zu",
	    (intmax_t)st.st_size, end);
	if (newest != NULL) {
		/* A crash after the newer one was named leaves the reused
		 * file as it was cut: only the newest's image differs, a
		 * reused one's (bit 6) the last use's bytes past its
		 * records, a record sealed for it forged there. */
		FUZZ_CHECK(pick & 0x40 ? newlen > newest_end :
		    newlen == newest_end, "the newest segment is %zu bytes, "
		    "its records %zu (%s)", newlen, newest_end, pick & 0x40 ?
		    "reused: no last use" : "a new file");
		snprintf(path, sizeof(path), "%s/seg-%016" PRIx64 ".log", dir,
		    seg + 1);
		FUZZ_CHECK(stat(path, &st) == 0 &&
		    (size_t)st.st_size == newest_end, "closed, the newest "
		    "segment is %jd bytes, not its records' %zu",
		    (intmax_t)st.st_size, newest_end);
		torn = 0;
		if (pick & 0x80) {
			/* Room in a reused one always: a spare is a
			 * segment that filled up. */
			if (newlen >= newest_end + FORGE_AT + HDR + BODY_MIN +
			    FORGE_LEN)
				forge_past(newest, newest_end, seg + 1, next);
			fuzz_write_file(path, newest, newlen);
			torn = newlen - newest_end;
		}
	} else {
		/* The guard: no record right where the new ones end, whatever
		 * the last use held there. */
		FUZZ_CHECK(!sealed_for(image, imlen, end, seg), "a record "
		    "sealed for reused segment %" PRIu64 " at its records' "
		    "end (%zu): no guard", seg, end);
		if (pick & 0x80)
			forge_past(image, end, seg, next);
		fuzz_write_file(path, image, imlen);
		torn = imlen - end;
	}

	/* Step 4: exactly step 3's messages (and 3b's), the last use torn
	 * off. */
	j = open_mode(dir, JOURNAL_FSYNC, &back, &next4, &rep);
	journal_close(j);
	FUZZ_CHECK(same_set(&want, &back), "after a crash in a reused file: "
	    "%zu messages instead of the %zu written there, or others",
	    back.n, want.n);
	FUZZ_CHECK(next4 == next, "after a crash in a reused file: next "
	    "number %" PRIu64 " instead of %" PRIu64, next4, next);
	FUZZ_CHECK(rep.r_segments == segs && rep.r_damaged == 0 &&
	    rep.r_bad_bytes == 0 && rep.r_lost == 0 && rep.r_uncounted == 0 &&
	    rep.r_torn_bytes == torn, "after a crash in a reused file: "
	    "%" PRIu64 " segments of %" PRIu64 ", %" PRIu64 " damaged, %"
	    PRIu64 " bad, %" PRIu64 " lost, %" PRIu64 " uncounted, %" PRIu64
	    " torn of %" PRIu64 " left", rep.r_segments, segs, rep.r_damaged,
	    rep.r_bad_bytes, rep.r_lost, rep.r_uncounted, rep.r_torn_bytes,
	    torn);
	check_again(dir, &back, next4);
	free(image);
	free(newest);
	set_free(&old);
	set_free(&added);
	set_free(&want);
	set_free(&back);
}

/* Writes the segments; returns how many. */
static size_t
write_segments(const char *dir, unsigned char *in, size_t size, bool fix)
{
	size_t nsegs = 0, off = 0;

	while (nsegs < SEGS_MAX) {
		unsigned char *sep = nsegs + 1 < SEGS_MAX ? memmem(in + off,
		    size - off, SEP, strlen(SEP)) : NULL;
		size_t len = sep ? (size_t)(sep - (in + off)) : size - off;
		char path[PATH_MAX];

		if (fix)
			reseal(in + off, len, nsegs + 1);
		snprintf(path, sizeof(path), "%s/seg-%016zx.log", dir,
		    nsegs + 1);
		fuzz_write_file(path, in + off, len);
		nsegs++;
		if (sep == NULL)
			break;
		off += len + strlen(SEP);
	}
	return nsegs;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[PATH_MAX];
	struct restored_set first = { 0 };
	struct journal_report rep;
	unsigned char *in;
	size_t nsegs;
	uint64_t next;

	if (size == 0)
		return 0;
	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "%s/queue", fuzz_tmpdir());
		FUZZ_CHECK(mkdir(dir, 0700) == 0, "mkdir %s", dir);
	}
	/* A copy: resealing writes, and the checks read what was written. */
	in = malloc(size);
	FUZZ_CHECK(in != NULL, "malloc");
	memcpy(in, data, size);
	nsegs = write_segments(dir, in + 1, size - 1, data[0] & 1);
	journal_close(open_dir(dir, &first, &next, &rep));
	check_first(in + 1, size - 1, nsegs, &first, next, &rep);
	check_again(dir, &first, next);
	if (data[0] & 2)
		reuse_step(dir, data, size);
	set_free(&first);
	free(in);
	fuzz_empty_dir(dir);
	return 0;
}

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
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "byteorder.h"
#include "crc32c.h"
#include "fuzz.h"
#include "journal.h"

#define SEP		"SEG|"
#define SEGS_MAX	4
#define HDR		8	/* length, crc */
#define BODY_MIN	9	/* type, u64 */
#define SEGMENT_SIZE	4096

struct restored {
	uint64_t	 seq;
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

	(void)seg;
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 64;
		rs->v = realloc(rs->v, rs->cap * sizeof(*rs->v));
		FUZZ_CHECK(rs->v != NULL, "realloc");
	}
	r = &rs->v[rs->n++];
	r->seq = seq;
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
open_dir(const char *dir, struct restored_set *rs, uint64_t *next,
    struct journal_report *rep)
{
	char err[512];
	struct journal *j;

	j = journal_open(dir, JOURNAL_OS, SEGMENT_SIZE, collect, rs, next,
	    rep, err, sizeof(err));
	FUZZ_CHECK(j != NULL, "journal_open: %s", err);
	return j;
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
	set_free(&first);
	free(in);
	fuzz_empty_dir(dir);
	return 0;
}

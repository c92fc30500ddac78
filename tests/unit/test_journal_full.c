/*
 * Unit tests for manager/streammgr/journal.c on a full disk: the newest
 * segment, released whole while the new one waits for room, becomes the
 * new one in place (recycle), so that room comes back and the numbers go
 * on. A "full disk" here is write() refused (seg_file creates a segment
 * with write(); recycle and the batches use pwrite), which a file-size
 * limit cannot stand in for; pwrite at offset 0 can be made to fail
 * once, ftruncate a number of times. (A review's tests, kept.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crc32c.h"
#include "journal.h"
#include "log.h"

static int full_disk;		/* write() fails with ENOSPC */
static int fail_pwrite0;	/* the next pwrite at offset 0 fails */
static int fail_ftruncate;	/* the next ones (a count) fail */
static int full_batches;	/* pwrite past offset 0 fails */

ssize_t
write(int fd, const void *buf, size_t n)
{
	if (full_disk && fd > 2) {
		errno = ENOSPC;
		return -1;
	}
	return syscall(SYS_write, fd, buf, n);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if ((fail_pwrite0 && off == 0) || (full_batches && off > 0)) {
		fail_pwrite0 = 0;
		errno = ENOSPC;
		return -1;
	}
	return syscall(SYS_pwrite64, fd, buf, n, off);
}

int
ftruncate(int fd, off_t len)
{
	if (fail_ftruncate) {
		fail_ftruncate--;
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_ftruncate, fd, len);
}

struct fx {
	char dir[64];
	uint64_t next, seqs[64], segs[64];
	size_t n;
	struct journal_report rep;
	char err[300];
};

static int
collect(void *arg, uint64_t seq, uint64_t seg, const void *d, size_t l)
{
	struct fx *fx = arg;

	(void)d;
	(void)l;
	fx->seqs[fx->n] = seq;
	fx->segs[fx->n++] = seg;
	return 0;
}

static struct journal *
jopen(struct fx *fx, uint64_t segsize)
{
	struct journal *j;

	fx->n = 0;
	j = journal_open(fx->dir, JOURNAL_FSYNC, segsize, collect, fx,
	    &fx->next, &fx->rep, fx->err, sizeof(fx->err));
	if (j == NULL)
		fail_msg("journal_open: %s", fx->err);
	return j;
}

static uint64_t
add(struct journal *j, uint64_t seq)
{
	char t[16];

	snprintf(t, sizeof(t), "m%" PRIu64, seq);
	return journal_add(j, seq, t, strlen(t));
}

static int
jcommit(struct fx *fx, struct journal *j)
{
	return journal_commit(j, fx->err, sizeof(fx->err));
}

/* Messages first..last, a commit each; their segments into seg[s] when
 * seg is not NULL. */
static void
add_each(struct fx *fx, struct journal *j, uint64_t first, uint64_t last,
    uint64_t *seg)
{
	for (uint64_t s = first; s <= last; s++) {
		uint64_t id = add(j, s);

		if (seg != NULL)
			seg[s] = id;
		assert_int_equal(jcommit(fx, j), 0);
	}
}

static off_t
seg_size(struct fx *fx, uint64_t id)
{
	char p[128];
	struct stat st;

	snprintf(p, sizeof(p), "%s/seg-%016" PRIx64 ".log", fx->dir, id);
	return stat(p, &st) == 0 ? st.st_size : -1;
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test-journal-full-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	full_disk = fail_pwrite0 = fail_ftruncate = full_batches = 0;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	full_disk = fail_pwrite0 = fail_ftruncate = full_batches = 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

/* Messages 1..3 in segment 1, then a start on a full disk. */
static struct journal *
full_start_with_three(struct fx *fx)
{
	struct journal *j = jopen(fx, 1 << 20);

	for (uint64_t s = 1; s <= 3; s++)
		add(j, s);
	assert_int_equal(jcommit(fx, j), 0);
	journal_close(j);
	full_disk = 1;
	j = jopen(fx, 1 << 20);
	assert_int_not_equal(fx->rep.r_no_space, 0);
	assert_int_equal(fx->n, 3);
	return j;
}

/*
 * Closes j, then a start with room: m4 alone restored, the numbers going
 * on from 5, no damage.
 */
static void
restart_with_m4_alone(struct fx *fx, struct journal *j)
{
	journal_close(j);
	full_disk = 0;
	j = jopen(fx, 1 << 20);
	assert_int_equal(fx->n, 1);
	assert_int_equal(fx->seqs[0], 4);
	assert_int_equal(fx->next, 5);
	assert_int_equal(fx->rep.r_damaged, 0);
	journal_close(j);
}

/*
 * Released whole on the full disk, segment 1 becomes segment 2 (cut to
 * its H), where the next message goes; the next start restores it, the
 * numbers going on.
 */
static void
recycled_at_runtime(void **state)
{
	struct fx *fx = *state;
	struct journal *j = full_start_with_three(fx);

	for (uint64_t s = 1; s <= 3; s++)
		journal_release(j, 1, s);
	assert_int_equal(seg_size(fx, 1), -1);
	assert_int_equal(seg_size(fx, 2), 41);
	assert_int_equal(add(j, 4), 2);
	assert_int_equal(jcommit(fx, j), 0);
	restart_with_m4_alone(fx, j);
}

/*
 * A try that failed (pwrite refused once: a copy-on-write filesystem,
 * EIO) is made again by the next commit, which then finds room.
 */
static void
failed_recycle_is_tried_again(void **state)
{
	struct fx *fx = *state;
	struct journal *j = full_start_with_three(fx);

	fail_pwrite0 = 1;
	for (uint64_t s = 1; s <= 3; s++)
		journal_release(j, 1, s);
	assert_int_equal(fail_pwrite0, 0);	/* it was tried */
	assert_true(seg_size(fx, 1) > 41);
	add(j, 4);
	if (jcommit(fx, j) < 0)
		fail_msg("commit: %s", fx->err);
	assert_int_equal(seg_size(fx, 1), -1);
	assert_true(seg_size(fx, 2) > 41);
	journal_close(j);
}

/* A cut that failed puts the old H back (numbers from 1), and is tried
 * again by the next commit. */
static void
failed_cut_puts_the_head_back(void **state)
{
	struct fx *fx = *state;
	struct journal *j = full_start_with_three(fx);
	char p[128];
	unsigned char h[41];
	int fd;

	fail_ftruncate = 1;
	for (uint64_t s = 1; s <= 3; s++)
		journal_release(j, 1, s);
	assert_int_equal(fail_ftruncate, 0);	/* it was tried */
	snprintf(p, sizeof(p), "%s/seg-%016x.log", fx->dir, 1);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, h, sizeof(h), 0), 41);
	close(fd);
	assert_int_equal(h[9], 1);		/* its first number, 1 */
	add(j, 4);
	if (jcommit(fx, j) < 0)
		fail_msg("commit: %s", fx->err);
	assert_int_equal(seg_size(fx, 1), -1);
	journal_close(j);
}

/* Puts a sealed record in p: body type, v, extra. */
static size_t
rec(unsigned char *p, int type, uint64_t v, const void *x, size_t n)
{
	uint32_t len = (uint32_t)(9 + n);

	memcpy(p, &len, 4);
	p[8] = (unsigned char)type;
	memcpy(p + 9, &v, 8);
	if (n)
		memcpy(p + 17, x, n);
	{
		uint32_t c = crc32c(0, p + 8, len);

		memcpy(p + 4, &c, 4);
	}
	return 8 + len;
}

/*
 * Writes segment 1 as version 1 wrote it (every checksum from 0), its H
 * with the number before it (41 bytes, before) or as a build before
 * that wrote it (33): messages 1..3, all released. Returns its size.
 */
static size_t
v1_segment(struct fx *fx, bool before)
{
	unsigned char b[512], acks[24], x[24];
	size_t n = 0;
	char p[128];
	uint64_t zero = 0, one = 1, two = 2, three = 3;
	int fd;

	memcpy(x, "mysimbdp-queue 1", 16);
	memcpy(x + 16, &zero, 8);
	n += rec(b + n, 'H', 1, x, before ? 24 : 16);
	n += rec(b + n, 'M', 1, "m1", 2);
	n += rec(b + n, 'M', 2, "m2", 2);
	n += rec(b + n, 'M', 3, "m3", 2);
	memcpy(acks, &one, 8);
	memcpy(acks + 8, &two, 8);
	memcpy(acks + 16, &three, 8);
	n += rec(b + n, 'A', 3, acks, 24);
	snprintf(p, sizeof(p), "%s/seg-%016x.log", fx->dir, 1);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(syscall(SYS_write, fd, b, n), (ssize_t)n);
	close(fd);
	return n;
}

/* Segment 1 as a build whose H had no "before" wrote it. */
static size_t
old_head_segment(struct fx *fx)
{
	return v1_segment(fx, false);
}

/*
 * A segment of a build whose H had no "before" (33 bytes): a 41-byte H
 * would run into its next record. It is kept as it is.
 */
static void
old_head_is_kept(void **state)
{
	struct fx *fx = *state;
	size_t n = old_head_segment(fx);
	struct journal *j;

	full_disk = 1;
	j = jopen(fx, 1 << 20);	/* all released: kept, not recycled */
	journal_close(j);
	assert_int_equal(seg_size(fx, 1), (off_t)n);
	full_disk = 0;
	j = jopen(fx, 1 << 20);
	assert_int_equal(fx->rep.r_damaged, 0);
	assert_int_equal(fx->next, 4);
	journal_close(j);
}

/*
 * A version 1 segment whose H is of this size is kept too: rewritten in
 * place, a version 2 H over records checksummed from 0 would leave them
 * unreadable should a crash come before the cut (its releases gone, the
 * rest a torn tail). Once there is room it goes as any other; nothing
 * comes back.
 */
static void
v1_head_is_kept(void **state)
{
	struct fx *fx = *state;
	size_t n = v1_segment(fx, true);
	struct journal *j;

	full_disk = 1;
	j = jopen(fx, 1 << 20);	/* all released: kept, not recycled */
	assert_int_equal(fx->n, 0);
	assert_int_equal(seg_size(fx, 1), (off_t)n);
	assert_int_equal(seg_size(fx, 2), -1);
	assert_int_equal(add(j, 4), 2);
	assert_int_not_equal(jcommit(fx, j), 0);	/* no room */
	full_disk = 0;
	assert_int_equal(add(j, 4), 2);
	if (jcommit(fx, j) < 0)
		fail_msg("commit with room: %s", fx->err);
	assert_int_equal(seg_size(fx, 1), -1);
	restart_with_m4_alone(fx, j);
	assert_int_equal(fx->rep.r_torn_bytes, 0);
}

/* Times needle occurs in hay. */
static int
occurrences(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* stderr (the log) goes to a temporary file until said_end. */
static FILE *
said_begin(int *saved)
{
	FILE *f;

	log_init("test", true, false);
	assert_non_null(f = tmpfile());
	fflush(stderr);
	assert_true((*saved = dup(STDERR_FILENO)) >= 0);
	assert_int_equal(dup2(fileno(f), STDERR_FILENO), STDERR_FILENO);
	return f;
}

/* stderr back; what was logged in said, and on stderr too. */
static void
said_end(FILE *f, int saved, char *said, size_t len)
{
	ssize_t n;

	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fileno(f), said, len - 1, 0);
	assert_true(n > 0);
	said[n] = '\0';
	fclose(f);
	fprintf(stderr, "%s", said);
}

/*
 * The older H kept on the full disk is said once, with the segment and
 * why, not again at each commit that finds no room (each tries the
 * segments that could go first): before, a line a commit. Once there
 * is room, it goes all the same.
 */
static void
old_head_said_once(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char said[8192];
	int saved, failed = 0, room;
	off_t kept, gone;
	FILE *f;

	old_head_segment(fx);
	/* Checked once stderr is back: a failure says why there. */
	f = said_begin(&saved);
	full_disk = 1;
	j = jopen(fx, 1 << 20);
	for (uint64_t s = 4; s <= 8; s++) {
		add(j, s);
		failed += jcommit(fx, j) < 0;	/* no room */
	}
	kept = seg_size(fx, 1);
	full_disk = 0;
	add(j, 9);	/* a failed commit drops its batch */
	room = jcommit(fx, j);		/* the new one made */
	gone = seg_size(fx, 1);		/* and the old one gone */
	journal_close(j);
	said_end(f, saved, said, sizeof(said));
	assert_int_equal(failed, 5);
	assert_true(kept > 0);
	if (room < 0)
		fail_msg("commit with room: %s", fx->err);
	assert_int_equal(gone, -1);
	assert_int_equal(occurrences(said, "seg-0000000000000001.log: "
	    "released, kept"), 1);
	assert_int_equal(occurrences(said, "older version"), 1);
}

/*
 * A recycle that keeps failing (the cut refused: EIO) is tried at each
 * commit, which finds no room, and said once, not at each; once it
 * works, the segment becomes the new one and the commit goes.
 */
static void
failing_recycle_said_once(void **state)
{
	struct fx *fx = *state;
	struct journal *j = full_start_with_three(fx);
	char said[8192];
	int saved, failed = 0;
	FILE *f;

	f = said_begin(&saved);
	fail_ftruncate = 4;
	for (uint64_t s = 1; s <= 3; s++)
		journal_release(j, 1, s);
	for (uint64_t s = 4; s <= 6 && fail_ftruncate > 0; s++) {
		add(j, s);
		failed += jcommit(fx, j) < 0;
	}
	add(j, 7);
	if (jcommit(fx, j) < 0)
		fail_msg("commit once the cut works: %s", fx->err);
	journal_close(j);
	said_end(f, saved, said, sizeof(said));
	assert_int_equal(fail_ftruncate, 0);	/* tried four times */
	assert_int_equal(failed, 3);
	assert_int_equal(seg_size(fx, 1), -1);
	assert_true(seg_size(fx, 2) > 41);
	assert_int_equal(occurrences(said, "not made the new segment in "
	    "place"), 1);
}

/*
 * The H written names the highest number of the segment it follows.
 * Should an older segment come back (its removal lost to a power cut),
 * nothing reads as lost.
 */
static void
before_names_the_segment_before(void **state)
{
	struct fx *fx = *state;
	struct journal *j = jopen(fx, 100);
	char p1[128], keep[160], cmd[400];

	add_each(fx, j, 1, 8, NULL);
	assert_true(seg_size(fx, 2) > 0);
	assert_true(seg_size(fx, 3) < 0);
	snprintf(p1, sizeof(p1), "%s/seg-%016x.log", fx->dir, 1);
	snprintf(keep, sizeof(keep), "%s/keep1", fx->dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", p1, keep);
	assert_int_equal(system(cmd), 0);
	for (uint64_t s = 1; s <= 8; s++)
		journal_release(j, s <= 4 ? 1 : 2, s);
	assert_int_equal(jcommit(fx, j), 0);	/* A records in segment 2 */
	journal_close(j);
	assert_true(seg_size(fx, 1) < 0);	/* deleted */
	full_disk = 1;
	j = jopen(fx, 100);			/* segment 2 recycled */
	journal_close(j);
	full_disk = 0;
	assert_int_equal(seg_size(fx, 3), 41);	/* segment 2, made 3 */
	assert_int_equal(rename(keep, p1), 0);	/* its removal lost */
	j = jopen(fx, 100);
	assert_int_equal(fx->rep.r_lost + fx->rep.r_uncounted +
	    fx->rep.r_damaged, 0);
	journal_close(j);
}

/*
 * A batch pending when a release makes segment 1 the new one goes into
 * it: the new one takes the name its adds said (2), its H the batch's
 * first number.
 */
static void
batch_pending_at_recycle(void **state)
{
	struct fx *fx = *state;
	struct journal *j = full_start_with_three(fx);

	assert_int_equal(add(j, 4), 2);
	for (uint64_t s = 1; s <= 3; s++)
		journal_release(j, 1, s);
	assert_int_equal(seg_size(fx, 2), 41);
	if (jcommit(fx, j) < 0)
		fail_msg("commit: %s", fx->err);
	restart_with_m4_alone(fx, j);
}

/*
 * A crash after the new H, before the cut (the H written here by hand,
 * version 2 as recycle writes it): the old records behind the new H
 * read as copies, released: nothing comes back, no damage, nothing cut.
 */
static void
cut_lost_reads_as_copies(void **state)
{
	struct fx *fx = *state;
	struct journal *j = jopen(fx, 1 << 20);
	unsigned char h[64], x[24];
	uint64_t before = 0;
	char p[128];
	int fd;

	for (uint64_t s = 1; s <= 3; s++)
		add(j, s);
	assert_int_equal(jcommit(fx, j), 0);
	for (uint64_t s = 1; s <= 3; s++)
		journal_release(j, 1, s);
	assert_int_equal(jcommit(fx, j), 0);
	journal_close(j);
	/* The new H, first number 4, in place of the old; no cut. */
	memcpy(x, "mysimbdp-queue 2", 16);
	memcpy(x + 16, &before, 8);
	assert_int_equal(rec(h, 'H', 4, x, 24), 41);
	snprintf(p, sizeof(p), "%s/seg-%016x.log", fx->dir, 1);
	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(syscall(SYS_pwrite64, fd, h, 41, 0), 41);
	close(fd);
	j = jopen(fx, 1 << 20);
	assert_int_equal(fx->rep.r_damaged, 0);
	assert_int_equal(fx->rep.r_torn_bytes, 0);	/* read, not cut */
	assert_int_equal(fx->n, 0);
	assert_int_equal(fx->next, 4);
	journal_close(j);
}

/*
 * A batch that finds the disk full under "fsync" takes the spare off the
 * disk, for the next try's room, and no spare is kept again while the
 * queue stays open: on a disk nearly full each would cost a batch
 * refused again.
 */
static void
no_spare_after_a_full_disk(void **state)
{
	struct fx *fx = *state;
	uint64_t segsize = 41 + 2 * 19;
	struct journal *j = jopen(fx, segsize);
	char spare[128];
	uint64_t seg[16];

	snprintf(spare, sizeof(spare), "%s/spare-seg.log", fx->dir);
	add_each(fx, j, 1, 4, seg);
	for (uint64_t s = 1; s <= 2; s++)
		journal_release(j, seg[s], s);
	assert_int_equal(access(spare, F_OK), 0);
	full_batches = 1;
	add(j, 5);
	assert_int_equal(jcommit(fx, j), -1);
	assert_int_equal(access(spare, F_OK), -1);
	full_batches = 0;
	add_each(fx, j, 5, 8, seg);
	for (uint64_t s = 3; s <= 6; s++)
		journal_release(j, seg[s], s);
	assert_int_equal(jcommit(fx, j), 0);
	assert_int_equal(access(spare, F_OK), -1);
	journal_close(j);
}

/*
 * A start whose new segment finds the disk full keeps no spare either:
 * the released segments it deletes give their room back, the newest
 * made the new one in place, rather than one of them held as a spare
 * that the first batch would find in its way.
 */
static void
no_spare_at_a_full_start(void **state)
{
	struct fx *fx = *state;
	uint64_t segsize = 41 + 2 * 19;
	struct journal *j = jopen(fx, segsize);
	char spare[128];

	snprintf(spare, sizeof(spare), "%s/spare-seg.log", fx->dir);
	add_each(fx, j, 1, 4, NULL);
	/* Released with no segment named: none deleted before the start. */
	for (uint64_t s = 1; s <= 4; s++)
		journal_release(j, 0, s);
	assert_int_equal(jcommit(fx, j), 0);
	journal_close(j);
	assert_true(seg_size(fx, 1) >= (off_t)segsize);
	full_disk = 1;
	j = jopen(fx, segsize);
	assert_int_not_equal(fx->rep.r_no_space, 0);
	assert_int_equal(fx->n, 0);
	assert_int_equal(seg_size(fx, 1), -1);
	assert_int_equal(access(spare, F_OK), -1);
	journal_close(j);
}

/*
 * A reused segment is cut to its records before a newer one is named;
 * that cut refused (ftruncate EIO), the newer one is not named: the
 * file would stay behind it with its last use's bytes, whose payloads
 * (a producer's) the next start searches past the damage they read
 * as. Here segment 1's message holds a release of message 4 sealed for
 * segment 3, the number its file is reused as.
 */
static void
reused_file_not_left_uncut(void **state)
{
	struct fx *fx = *state;
	uint64_t segsize = 200, four = 4, seg[8];
	unsigned char p[400] = { 0 }, *forged = p + 362;
	char spare[128];
	struct journal *j = jopen(fx, segsize);
	uint32_t c;

	/* An A record (count 1: 4) at offset 420 of segment 1's file,
	 * past the records segment 3 will hold there. */
	rec(forged, 'A', 1, &four, 8);
	c = crc32c(0x80000000u | 3, forged + 8, 17);
	memcpy(forged + 4, &c, 4);
	snprintf(spare, sizeof(spare), "%s/spare-seg.log", fx->dir);
	seg[1] = journal_add(j, 1, p, sizeof(p));
	assert_int_equal(jcommit(fx, j), 0);
	seg[2] = add(j, 2);
	assert_int_equal(jcommit(fx, j), 0);
	journal_release(j, seg[1], 1);
	assert_int_equal(access(spare, F_OK), 0);
	seg[3] = journal_add(j, 3, p, 200);
	assert_int_equal(jcommit(fx, j), 0);
	seg[4] = add(j, 4);		/* into the spare's file */
	assert_int_equal(jcommit(fx, j), 0);
	assert_int_equal(seg[4], 3);
	seg[5] = journal_add(j, 5, p, 150);
	assert_int_equal(jcommit(fx, j), 0);
	assert_int_equal(seg[5], 3);
	fail_ftruncate = 1;
	add(j, 6);
	assert_int_equal(jcommit(fx, j), -1);
	assert_non_null(strstr(fx->err, "to its records"));
	assert_int_equal(seg_size(fx, 4), -1);	/* not named */
	seg[6] = add(j, 6);			/* tried again: cut */
	assert_int_equal(jcommit(fx, j), 0);
	assert_int_equal(seg[6], 4);
	assert_int_equal(seg_size(fx, 3), 244);
	journal_close(j);
	j = jopen(fx, segsize);
	assert_int_equal(fx->n, 5);
	for (uint64_t s = 2; s <= 6; s++)
		assert_int_equal(fx->seqs[s - 2], s);
	assert_int_equal(fx->rep.r_damaged, 0);
	assert_int_equal(fx->rep.r_bad_bytes, 0);
	journal_close(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(recycled_at_runtime),
		T(failed_recycle_is_tried_again),
		T(failed_cut_puts_the_head_back),
		T(old_head_is_kept),
		T(v1_head_is_kept),
		T(old_head_said_once),
		T(failing_recycle_said_once),
		T(before_names_the_segment_before),
		T(batch_pending_at_recycle),
		T(cut_lost_reads_as_copies),
		T(no_spare_after_a_full_disk),
		T(no_spare_at_a_full_start),
		T(reused_file_not_left_uncut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for manager/streammgr/journal.c (the queue on disk) and common/crc32c.c:
 * messages survive a close and reopen in order, released ones do not come
 * back, numbering goes on, old segments are deleted (renamed gone-*,
 * unlinked off the caller's thread, or at the next open if a crash came
 * first), a torn tail is cut off (nothing inside it read, whatever
 * records its payload looks like), a damaged segment loses only the
 * unreadable message (counted once; a body whose header holds is
 * stepped over, not searched),
 * an older segment cut short counts the messages cut off (cut to 0 bytes
 * or inside its H record too: set aside, counted by the numbers around
 * it; cut to 0 bytes holding only releases: damage all the same), the
 * copies a rescue wrote are named by the next segment's H and their loss
 * is never silent (nor is a damaged segment's when a crash comes before
 * it is set aside), an empty newest segment left by a crash while creating
 * it is no damage, a damaged segment found with no room to copy it out is
 * served in place and set aside later (never deleted, its losses counted
 * once), a write the disk refuses leaves the file as it was, a switch to
 * "fsync" starts a segment,
 * writes left for a sync off the caller's thread are counted until
 * one covers them, and segment numbers go on past 32 bits.
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
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "discard.h"
#include "journal.h"
#include "tearwrite.h"

#define MAX_MSGS 4096
/* An H record: 8 + 9 bytes, the magic (16), the number before (8). */
#define HEAD_SIZE 41
/* An M record of "m1".."m9". */
#define MSG_SIZE 19
#define MARK_SIZE 17	/* a reused file's mark: an A of no release */

struct fx;
static void crash_copy(struct fx *);

static void
crash_copy_cb(void *fx)
{
	crash_copy(fx);
}

/* What a reopen handed back. */
struct restored {
	size_t		 n;
	uint64_t	 seq[MAX_MSGS];
	uint64_t	 seg[MAX_MSGS];
	char		 text[MAX_MSGS][32];
};

struct fx {
	char		 dir[64];
	struct restored	 r;
	struct journal_report rep;
	uint64_t	 next;
	char		 err[300];
};

static int
collect(void *arg, uint64_t seq, uint64_t seg, const void *data, size_t len)
{
	struct restored *r = arg;

	assert_true(r->n < MAX_MSGS);
	assert_true(len < sizeof(r->text[0]));
	r->seq[r->n] = seq;
	r->seg[r->n] = seg;
	memcpy(r->text[r->n], data, len);
	r->text[r->n][len] = '\0';
	r->n++;
	return 0;
}

static struct journal *
reopen(struct fx *fx, uint64_t segsize)
{
	struct journal *j;

	memset(&fx->r, 0, sizeof(fx->r));
	j = journal_open(fx->dir, JOURNAL_FSYNC, segsize, collect, &fx->r,
	    &fx->next, &fx->rep, fx->err, sizeof(fx->err));
	if (j == NULL)
		fail_msg("journal_open: %s", fx->err);
	return j;
}

/*
 * A start after one that set damage aside: nothing damaged, lost or
 * uncounted any more, and n messages restored.
 */
static void
clean_restart(struct fx *fx, uint64_t segsize, size_t n)
{
	struct journal *j = reopen(fx, segsize);

	assert_int_equal(fx->rep.r_damaged, 0);
	assert_int_equal(fx->rep.r_lost, 0);
	assert_int_equal(fx->rep.r_uncounted, 0);
	assert_int_equal(fx->r.n, n);
	journal_close(j);
}

/* Adds "m<seq>" as message seq; returns its segment. */
static uint64_t
add(struct journal *j, uint64_t seq)
{
	char text[32];

	snprintf(text, sizeof(text), "m%llu", (unsigned long long)seq);
	return journal_add(j, seq, text, strlen(text));
}

static void
commit(struct fx *fx, struct journal *j)
{
	if (journal_commit(j, fx->err, sizeof(fx->err)) < 0)
		fail_msg("journal_commit: %s", fx->err);
}

/* Stores messages first..last in one commit and closes the journal. */
static void
store_and_close(struct fx *fx, struct journal *j, uint64_t first,
    uint64_t last)
{
	for (uint64_t seq = first; seq <= last; seq++)
		add(j, seq);
	commit(fx, j);
	journal_close(j);
}

static int
count_files(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

/* The path of the segment with the given id. */
static void
seg_path(const struct fx *fx, uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/seg-%016" PRIx64 ".log", fx->dir, id);
}

static void
copy_file(const char *from, const char *to)
{
	char buf[4096];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	size_t n;

	assert_true(in != NULL && out != NULL);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

static off_t
file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test-journal-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	struct rlimit lim;
	char cmd[128];

	/* A test that failed under a file-size limit leaves none behind. */
	if (getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != lim.rlim_max) {
		lim.rlim_cur = lim.rlim_max;
		(void)setrlimit(RLIMIT_FSIZE, &lim);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

static void
crc32c_known_values(void **state)
{
	const char *check = "123456789";
	unsigned char buf[1000];

	(void)state;
	assert_int_equal(crc32c(0, check, 9), 0xe3069283);
	assert_int_equal(crc32c_portable(0, check, 9), 0xe3069283);
	assert_int_equal(crc32c(0, "", 0), 0);
	/* Split anywhere, any length: both ways agree. */
	for (size_t k = 0; k < sizeof(buf); k++)
		buf[k] = (unsigned char)(k * 131 + 7);
	for (size_t len = 0; len < 64; len++)
		assert_int_equal(crc32c(0, buf + 3, len),
		    crc32c_portable(0, buf + 3, len));
	assert_int_equal(crc32c(crc32c(0, buf, 300), buf + 300, 700),
	    crc32c(0, buf, 1000));
}

static void
messages_come_back_in_order(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 1 << 20);

	assert_int_equal(fx->next, 1);
	assert_int_equal(fx->r.n, 0);
	store_and_close(fx, j, 1, 5);

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->r.n, 5);
	assert_int_equal(fx->rep.r_messages, 5);
	assert_int_equal(fx->rep.r_lost, 0);
	for (size_t k = 0; k < 5; k++) {
		char want[32];

		snprintf(want, sizeof(want), "m%zu", k + 1);
		assert_int_equal(fx->r.seq[k], k + 1);
		assert_string_equal(fx->r.text[k], want);
	}
	assert_int_equal(fx->next, 6);
	journal_close(j);
}

static void
released_messages_stay_released(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 1 << 20);
	uint64_t seg[6];

	for (uint64_t seq = 1; seq <= 5; seq++)
		seg[seq] = add(j, seq);
	commit(fx, j);
	journal_release(j, seg[2], 2);
	journal_release(j, seg[4], 4);
	commit(fx, j);
	journal_close(j);

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->r.n, 3);
	assert_int_equal(fx->r.seq[0], 1);
	assert_int_equal(fx->r.seq[1], 3);
	assert_int_equal(fx->r.seq[2], 5);
	/* Releases of restored messages work through their segment. */
	for (size_t k = 0; k < fx->r.n; k++)
		journal_release(j, fx->r.seg[k], fx->r.seq[k]);
	commit(fx, j);
	journal_close(j);

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->r.n, 0);
	assert_int_equal(fx->next, 6);	/* numbering goes on */
	journal_close(j);
}

static void
uncommitted_messages_are_not_stored(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 1 << 20);

	add(j, 1);
	commit(fx, j);
	add(j, 2);
	assert_true(journal_pending(j) > 0);
	journal_close(j);
	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->r.n, 1);
	assert_int_equal(fx->next, 2);
	journal_close(j);
}

/* A dropped batch (a requeue that ran out of memory half way) is not
 * written by the next commit; the numbering and the releases noted
 * before it go on as if it had never been added. */
static void
dropped_batch_is_not_stored(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 1 << 20);
	uint64_t seg1 = add(j, 1);

	add(j, 2);
	commit(fx, j);
	journal_release(j, seg1, 1);
	add(j, 3);
	add(j, 4);
	journal_drop_batch(j);
	assert_int_equal(journal_pending(j), 0);
	add(j, 3);
	commit(fx, j);
	journal_close(j);

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->r.n, 2);
	assert_int_equal(fx->r.seq[0], 2);
	assert_int_equal(fx->r.seq[1], 3);
	assert_int_equal(fx->next, 4);
	journal_close(j);
}

/*
 * A segment done with is renamed gone-* and unlinked by discard's thread
 * (streammgr starts it): once discard_wait returns it is gone, and no
 * gone-* file is left. One a crash left renamed and not unlinked is
 * removed at the next open, never read: its messages were released.
 */
static void
gone_segments_are_unlinked_and_never_read(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 4096);
	static uint64_t seg[1001];
	char from[128], to[160];
	uint64_t nsegs, bytes;
	size_t restored;

	assert_int_equal(discard_start(), 0);
	for (uint64_t seq = 1; seq <= 1000; seq++) {
		seg[seq] = add(j, seq);
		if (seq % 50 == 0)
			commit(fx, j);
	}
	for (uint64_t seq = 1; seq <= 900; seq++)
		journal_release(j, seg[seq], seq);
	commit(fx, j);
	discard_wait();
	journal_usage(j, &nsegs, &bytes);
	assert_int_equal(count_files(fx->dir, "seg-"), (int)nsegs);
	assert_int_equal(count_files(fx->dir, "gone-"), 0);
	journal_close(j);

	/* A crash after a rename: a gone-* file left, here a copy of the
	 * segment holding messages 901.. under an id no segment has. It is
	 * removed, and what comes back is what came back without it. */
	j = reopen(fx, 4096);
	restored = fx->r.n;
	assert_int_equal(fx->r.seq[0], 901);
	journal_close(j);
	seg_path(fx, seg[901], from, sizeof(from));
	snprintf(to, sizeof(to), "%s/gone-seg-%016x.log", fx->dir,
	    0xfffffff0u);
	copy_file(from, to);
	j = reopen(fx, 4096);
	discard_wait();		/* the open hands gone-* to the thread */
	assert_int_equal(count_files(fx->dir, "gone-"), 0);
	assert_int_equal(fx->r.n, restored);
	assert_int_equal(fx->r.seq[0], 901);
	assert_int_equal(fx->rep.r_damaged, 0);
	journal_close(j);
}

/*
 * The start value of the checksums of segment id's records after its H
 * in version 2 (docs/protocols.md, "The queue on disk").
 */
static uint32_t
seg_seed(uint64_t id)
{
	return UINT32_C(0x80000000) | (uint32_t)(id & 0x7fffffff);
}

/* A record image checksummed from seed, into buf; returns its size. */
static size_t
rec_image_from(unsigned char *buf, uint32_t seed, int type, uint64_t v,
    const void *extra, size_t n)
{
	uint32_t len = (uint32_t)(9 + n), crc;

	for (int b = 0; b < 4; b++)
		buf[b] = (unsigned char)(len >> (8 * b));
	buf[8] = (unsigned char)type;
	for (int b = 0; b < 8; b++)
		buf[9 + b] = (unsigned char)(v >> (8 * b));
	memcpy(buf + 17, extra, n);
	crc = crc32c(seed, buf + 8, len);
	for (int b = 0; b < 4; b++)
		buf[4 + b] = (unsigned char)(crc >> (8 * b));
	return 8 + len;
}

/* A record image as version 1 wrote one (every checksum from 0). */
static size_t
rec_image(unsigned char *buf, int type, uint64_t v, const void *extra,
    size_t n)
{
	return rec_image_from(buf, 0, type, v, extra, n);
}

/* Writes record type v extra as version 1 did, at fd's end. */
static void
put_rec(int fd, int type, uint64_t v, const void *extra, size_t n)
{
	unsigned char rec[64];
	size_t size;

	assert_true(17 + n <= sizeof(rec));
	size = rec_image(rec, type, v, extra, n);
	assert_int_equal(write(fd, rec, size), (ssize_t)size);
}

/*
 * Segment numbers are not bounded by 32 bits: at segment_size 4K that
 * is 16 TiB through one stream. The one after seg-00000000ffffffff is
 * seg-0000000100000000, read after it, in order; releases through it
 * delete both. A name past the last number the queue gives out is
 * refused at open, named. (The first is written as a build of version 1
 * wrote it: a file of version 2 renamed would not do, its records being
 * checksummed from its own number.)
 */
static void
segment_numbers_go_past_32_bits(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	uint64_t last32 = UINT32_MAX, top;
	char to[128], spare[128];
	int fd;

	seg_path(fx, last32, to, sizeof(to));
	fd = open(to, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	put_rec(fd, 'H', 1, "mysimbdp-queue 1", 16);
	put_rec(fd, 'M', 1, "m1", 2);
	close(fd);
	snprintf(spare, sizeof(spare), "%s/spare", fx->dir);
	copy_file(to, spare);
	/* Two messages a segment from here on. */
	j = reopen(fx, HEAD_SIZE + 2 * MSG_SIZE);
	assert_int_equal(fx->r.n, 1);
	assert_int_equal(fx->r.seg[0], last32);
	for (uint64_t seq = 2; seq <= 7; seq++) {
		add(j, seq);
		commit(fx, j);
	}
	journal_close(j);

	j = reopen(fx, HEAD_SIZE + 2 * MSG_SIZE);
	assert_int_equal(fx->r.n, 7);
	for (size_t k = 0; k < 7; k++) {
		assert_int_equal(fx->r.seq[k], k + 1);
		assert_true(k == 0 || fx->r.seg[k] > last32);
		assert_true(k == 0 || fx->r.seg[k] >= fx->r.seg[k - 1]);
	}
	seg_path(fx, last32 + 1, to, sizeof(to));
	assert_int_equal(access(to, F_OK), 0);
	top = fx->r.seg[6];
	for (size_t k = 0; k < fx->r.n; k++)
		journal_release(j, fx->r.seg[k], fx->r.seq[k]);
	commit(fx, j);
	journal_close(j);

	j = reopen(fx, HEAD_SIZE + 2 * MSG_SIZE);
	assert_int_equal(fx->r.n, 0);
	assert_int_equal(fx->next, 8);
	seg_path(fx, last32, to, sizeof(to));
	assert_int_equal(access(to, F_OK), -1);
	seg_path(fx, top, to, sizeof(to));
	assert_int_equal(access(to, F_OK), -1);
	journal_close(j);

	seg_path(fx, UINT64_C(1) << 63, to, sizeof(to));
	copy_file(spare, to);
	assert_null(journal_open(fx->dir, JOURNAL_FSYNC, 4096, collect,
	    &fx->r, &fx->next, &fx->rep, fx->err, sizeof(fx->err)));
	assert_non_null(strstr(fx->err, "seg-8000000000000000.log: "
	    "segment number past"));
}

static void
old_segments_are_deleted_once_released(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 4096);
	static uint64_t seg[2001];
	uint64_t nsegs, bytes;

	for (uint64_t seq = 1; seq <= 2000; seq++) {
		seg[seq] = add(j, seq);
		if (seq % 50 == 0)
			commit(fx, j);
	}
	journal_usage(j, &nsegs, &bytes);
	assert_true(nsegs > 5);
	assert_int_equal(count_files(fx->dir, "seg-"), (int)nsegs);
	/* Releasing a later segment first deletes nothing: an older one
	 * still holds messages. */
	for (uint64_t seq = 1001; seq <= 2000; seq++)
		journal_release(j, seg[seq], seq);
	commit(fx, j);
	assert_int_equal(count_files(fx->dir, "seg-"), (int)nsegs);
	for (uint64_t seq = 1; seq <= 1000; seq++)
		journal_release(j, seg[seq], seq);
	commit(fx, j);
	journal_usage(j, &nsegs, &bytes);
	assert_true(nsegs <= 2);
	assert_int_equal(count_files(fx->dir, "seg-"), (int)nsegs);
	discard_wait();
	assert_int_equal(count_files(fx->dir, "gone-"), 0);
	journal_close(j);

	j = reopen(fx, 4096);
	assert_int_equal(fx->r.n, 0);
	assert_int_equal(fx->next, 2001);
	journal_close(j);
}

/* Flips one bit of the file at offset at. */
static void
flip(const char *path, off_t at)
{
	unsigned char byte;
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &byte, 1, at), 1);
	byte ^= 0x10;
	assert_int_equal(pwrite(fd, &byte, 1, at), 1);
	close(fd);
}

static void
torn_tail_is_cut_off(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 1 << 20);
	char path[128];
	off_t size;

	for (uint64_t seq = 1; seq <= 3; seq++)
		add(j, seq);
	commit(fx, j);
	add(j, 4);
	commit(fx, j);
	journal_close(j);
	/* Message 4's record loses its last 3 bytes, as in a crash. */
	seg_path(fx, 1, path, sizeof(path));
	size = file_size(path);
	assert_int_equal(truncate(path, size - 3), 0);

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->r.n, 3);
	assert_int_equal(fx->rep.r_torn_bytes, 19 - 3);
	assert_int_equal(fx->rep.r_damaged, 0);
	assert_int_equal(fx->rep.r_lost, 0);
	assert_int_equal(fx->next, 4);
	journal_close(j);
	/* Cut off for good: the next start finds nothing wrong. */
	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->r.n, 3);
	assert_int_equal(fx->rep.r_torn_bytes, 0);
	journal_close(j);
}

/*
 * An A record releasing n seqs, as bytes a producer could send, sealed
 * for segment id (its checksum as the journal would write it there).
 */
static size_t
forged_release(unsigned char *buf, uint64_t id, const uint64_t *seqs,
    size_t n)
{
	unsigned char extra[64];

	assert_true(n * 8 <= sizeof(extra));
	for (size_t k = 0; k < n; k++)
		for (int b = 0; b < 8; b++)
			extra[8 * k + b] = (unsigned char)(seqs[k] >> (8 * b));
	return rec_image_from(buf, seg_seed(id), 'A', n, extra, 8 * n);
}

/*
 * A crash cuts the write of message 4, whose payload (a producer's
 * bytes) holds what looks like a release of 1 to 3 and a message 2 of
 * other bytes. The cut record is a torn tail, nothing inside it is
 * read: 1 to 3 come back as they were, at this start and the next.
 * (The search past it found both: 1 to 3 released, silently, for good.)
 */
static void
forged_records_in_a_torn_tail_are_not_read(void **state)
{
	static const uint64_t seqs[] = { 1, 2, 3 };
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 1 << 20);
	unsigned char payload[400], rec[500];
	size_t at, cut;
	char path[128];
	int fd;

	store_and_close(fx, j, 1, 3);
	memset(payload, 'x', sizeof(payload));
	at = 100 + forged_release(payload + 100, 1, seqs, 3);
	at += rec_image_from(payload + at, seg_seed(1), 'M', 2, "FORGED", 6);
	cut = rec_image_from(rec, seg_seed(1), 'M', 4, payload,
	    sizeof(payload)) - 150;
	seg_path(fx, 1, path, sizeof(path));
	assert_true((fd = open(path, O_WRONLY | O_APPEND)) >= 0);
	assert_int_equal(write(fd, rec, cut), (ssize_t)cut);
	close(fd);

	for (int start = 0; start < 2; start++) {
		j = reopen(fx, 1 << 20);
		assert_int_equal(fx->r.n, 3);
		for (size_t k = 0; k < 3; k++) {
			char want[8];

			snprintf(want, sizeof(want), "m%zu", k + 1);
			assert_string_equal(fx->r.text[k], want);
		}
		assert_int_equal(fx->rep.r_torn_bytes, start == 0 ? cut : 0);
		assert_int_equal(fx->rep.r_damaged, 0);
		assert_int_equal(fx->rep.r_lost, 0);
		journal_close(j);
	}
}

/*
 * Message 2's payload holds what looks like a release of 1 and 3, and a
 * bit of it flips: its header still says where it ends, and the search
 * steps over its body to message 3. Only 2 is lost. (Searched byte by
 * byte, the release in it was read: 1 and 3 gone, silently.)
 */
static void
forged_record_in_a_damaged_body_is_not_read(void **state)
{
	static const uint64_t seqs[] = { 1, 3 };
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 1 << 20);
	unsigned char payload[100];
	char path[128];

	memset(payload, 'x', sizeof(payload));
	forged_release(payload + 20, 1, seqs, 2);
	add(j, 1);
	journal_add(j, 2, payload, sizeof(payload));
	add(j, 3);
	commit(fx, j);
	journal_close(j);
	seg_path(fx, 1, path, sizeof(path));
	flip(path, HEAD_SIZE + MSG_SIZE + 17 + 2);	/* message 2's body */

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->r.n, 2);
	assert_string_equal(fx->r.text[0], "m1");
	assert_string_equal(fx->r.text[1], "m3");
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_lost, 1);
	assert_int_equal(fx->rep.r_lost_first, 2);
	journal_close(j);
	clean_restart(fx, 1 << 20, 2);
}

/*
 * One message unreleased keeps the ~500 segments after it; a start under
 * a limit of open files below that count opens the queue all the same
 * (it held every segment's descriptor until the scan's end).
 */
static void
many_segments_need_no_descriptor_each(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	struct rlimit was, low;
	unsigned char pay[1000];
	uint64_t seg;

	/* Written without a sync each: 2,000 commits. */
	j = journal_open(fx->dir, JOURNAL_OS, 4096, collect, &fx->r,
	    &fx->next, &fx->rep, fx->err, sizeof(fx->err));
	assert_non_null(j);

	memset(pay, 'p', sizeof(pay));
	add(j, 1);
	commit(fx, j);
	for (uint64_t seq = 2; seq <= 2000; seq++) {
		seg = journal_add(j, seq, pay, sizeof(pay));
		commit(fx, j);
		journal_release(j, seg, seq);
	}
	commit(fx, j);
	journal_close(j);
	assert_true(count_files(fx->dir, "seg-") > 400);

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
	low = (struct rlimit){ 256, was.rlim_max };
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	memset(&fx->r, 0, sizeof(fx->r));
	j = journal_open(fx->dir, JOURNAL_FSYNC, 4096, collect, &fx->r,
	    &fx->next, &fx->rep, fx->err, sizeof(fx->err));
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
	if (j == NULL)
		fail_msg("journal_open: %s", fx->err);
	assert_int_equal(fx->r.n, 1);
	assert_string_equal(fx->r.text[0], "m1");
	journal_close(j);
}

static void
bit_flip_loses_only_that_message(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 1 << 20);
	char path[128];

	store_and_close(fx, j, 1, 10);
	/* Segment 1: H record, then M records of 8 + 9 + 2 bytes ("m1"..
	 * "m9"). Flip a payload bit of message 5. */
	seg_path(fx, 1, path, sizeof(path));
	flip(path, HEAD_SIZE + 4 * 19 + 17 + 1);

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_lost, 1);
	assert_int_equal(fx->rep.r_lost_first, 5);
	assert_int_equal(fx->rep.r_lost_last, 5);
	assert_true(fx->rep.r_bad_bytes >= 19);
	assert_int_equal(fx->r.n, 9);
	for (size_t k = 0; k < 9; k++)
		assert_int_equal(fx->r.seq[k], k < 4 ? k + 1 : k + 2);
	assert_string_equal(fx->r.text[4], "m6");
	assert_int_equal(count_files(fx->dir, "damaged-seg-"), 1);
	assert_int_equal(fx->next, 11);
	journal_close(j);

	/* Reported once: the next start restores the nine, loses nothing. */
	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->rep.r_damaged, 0);
	assert_int_equal(fx->rep.r_lost, 0);
	assert_int_equal(fx->r.n, 9);
	assert_string_equal(fx->r.text[8], "m10");
	journal_close(j);
}

/*
 * Stores m1..m10 in segment 1 with message 5 damaged, then opens the
 * journal under a file-size limit of room bytes, too small for the
 * copies a rescue writes: the damaged segment stays in place and its
 * nine readable messages are served from it.
 */
static struct journal *
open_damaged_with_room(struct fx *fx, struct rlimit *old, rlim_t room)
{
	struct journal *j = reopen(fx, 1 << 20);
	struct rlimit lim;
	char path[128];

	store_and_close(fx, j, 1, 10);
	seg_path(fx, 1, path, sizeof(path));
	flip(path, HEAD_SIZE + 4 * MSG_SIZE + 17 + 1);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, old), 0);
	lim = *old;
	lim.rlim_cur = room;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	j = reopen(fx, 1 << 20);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, old), 0);
	assert_int_not_equal(fx->rep.r_no_space, 0);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_kept, 1);
	assert_int_equal(fx->rep.r_lost, 1);
	assert_int_equal(fx->rep.r_lost_first, 5);
	assert_int_equal(fx->r.n, 9);
	for (size_t k = 0; k < 9; k++) {
		assert_int_equal(fx->r.seq[k], k < 4 ? k + 1 : k + 2);
		assert_int_equal(fx->r.seg[k], 1);
	}
	assert_int_equal(count_files(fx->dir, "damaged-seg-"), 0);
	return j;
}

/* No room for the new segment either (the limit is below an H record). */
static struct journal *
open_damaged_on_a_full_disk(struct fx *fx, struct rlimit *old)
{
	return open_damaged_with_room(fx, old, 10);
}

/*
 * Room for the new segment's H but not for the copies: the start says
 * it found no room all the same (streammgr logs it; new messages get
 * THROTTLE no-space until a write succeeds).
 */
static void
rescue_without_room_reported(void **state)
{
	struct fx *fx = *state;
	struct rlimit old;
	struct journal *j = open_damaged_with_room(fx, &old, HEAD_SIZE + 10);

	assert_int_equal(count_files(fx->dir, "seg-"), 2);
	journal_close(j);
}

/*
 * A damaged segment found on a full disk is kept and served; the next
 * start with room sets it aside as usual, without counting message 5
 * lost again (its release went with the first write that found room).
 */
static void
damaged_segment_kept_on_a_full_disk(void **state)
{
	struct fx *fx = *state;
	struct rlimit old;
	struct journal *j = open_damaged_on_a_full_disk(fx, &old);

	assert_int_equal(add(j, 11), 2);
	commit(fx, j);
	journal_close(j);

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_kept, 0);
	assert_int_equal(fx->rep.r_lost, 0);
	assert_int_equal(fx->r.n, 10);
	assert_string_equal(fx->r.text[9], "m11");
	assert_int_equal(count_files(fx->dir, "damaged-seg-"), 1);
	journal_close(j);
	clean_restart(fx, 1 << 20, 10);
}

/*
 * Kept, it is set aside (not deleted) once its messages are released and
 * it is no longer the newest on disk: the new segment, created by the
 * first write that finds room, takes over (before, the start after would
 * have found no segment, and given out numbers again from 1).
 */
static void
kept_damaged_segment_set_aside_when_released(void **state)
{
	struct fx *fx = *state;
	struct rlimit old;
	struct journal *j = open_damaged_on_a_full_disk(fx, &old);

	for (size_t k = 0; k < 9; k++)
		journal_release(j, 1, fx->r.seq[k]);
	assert_int_equal(count_files(fx->dir, "seg-"), 1);
	assert_int_equal(count_files(fx->dir, "damaged-seg-"), 0);
	assert_int_equal(add(j, 11), 2);
	commit(fx, j);
	assert_int_equal(count_files(fx->dir, "damaged-seg-"), 1);
	assert_int_equal(count_files(fx->dir, "gone-"), 0);
	journal_close(j);
	clean_restart(fx, 1 << 20, 1);
	assert_int_equal(fx->next, 12);
}

/*
 * From "os" to "fsync" by a reload: the segment written under "os" was
 * created without a sync of the folder, so the first write under
 * "fsync" starts a new one, whose creation syncs it.
 */
static void
fsync_after_os_starts_a_segment(void **state)
{
	struct fx *fx = *state;
	struct journal *j;

	memset(&fx->r, 0, sizeof(fx->r));
	j = journal_open(fx->dir, JOURNAL_OS, 1 << 20, collect, &fx->r,
	    &fx->next, &fx->rep, fx->err, sizeof(fx->err));
	assert_non_null(j);
	assert_int_equal(add(j, 1), 1);
	commit(fx, j);
	journal_set_mode(j, JOURNAL_FSYNC, 2);
	assert_int_equal(add(j, 2), 2);
	commit(fx, j);
	assert_int_equal(add(j, 3), 2);
	commit(fx, j);
	journal_close(j);
	clean_restart(fx, 1 << 20, 3);
}

/* A segment set aside never replaces one set aside before. */
static void
set_aside_never_replaces(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 1 << 20);
	char path[128], earlier[192];
	int fd;

	store_and_close(fx, j, 1, 10);
	snprintf(earlier, sizeof(earlier), "%s/damaged-seg-%016x.log",
	    fx->dir, 1);
	fd = open(earlier, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "before", 6), 6);
	close(fd);
	seg_path(fx, 1, path, sizeof(path));
	flip(path, HEAD_SIZE + 4 * MSG_SIZE + 17 + 1);
	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->rep.r_damaged, 1);
	journal_close(j);
	assert_int_equal(file_size(earlier), 6);
	assert_int_equal(count_files(fx->dir, "damaged-1-seg-"), 1);
}

/*
 * A start on a full disk keeps the newest segment on disk though all it
 * holds is released: it is where the next start's numbers go on from
 * (before, it was deleted, and the next start gave out 1 again).
 */
static void
full_disk_start_keeps_the_newest(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 1 << 20);
	struct rlimit old, lim;

	for (uint64_t seq = 1; seq <= 3; seq++)
		add(j, seq);
	commit(fx, j);
	for (uint64_t seq = 1; seq <= 3; seq++)
		journal_release(j, 1, seq);
	commit(fx, j);
	journal_close(j);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 10;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	j = reopen(fx, 1 << 20);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_not_equal(fx->rep.r_no_space, 0);
	assert_int_equal(count_files(fx->dir, "seg-"), 1);
	journal_close(j);
	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->next, 4);
	journal_close(j);
}

/*
 * A switch to "fsync" while a batch waits: the batch goes where its adds
 * said (segment 1), the new segment starts with the next one. Before,
 * message 2 was written to segment 2 and counted there, and its release
 * as segment 1's let segment 1 go with message 1 in it.
 */
static void
switch_with_a_batch_pending(void **state)
{
	struct fx *fx = *state;
	struct journal *j;

	memset(&fx->r, 0, sizeof(fx->r));
	j = journal_open(fx->dir, JOURNAL_OS, 1 << 20, collect, &fx->r,
	    &fx->next, &fx->rep, fx->err, sizeof(fx->err));
	assert_non_null(j);
	assert_int_equal(add(j, 1), 1);
	commit(fx, j);
	assert_int_equal(add(j, 2), 1);
	journal_set_mode(j, JOURNAL_FSYNC, 3);
	commit(fx, j);
	journal_release(j, 1, 2);
	assert_int_equal(add(j, 3), 2);
	commit(fx, j);
	journal_close(j);
	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->r.n, 2);
	assert_string_equal(fx->r.text[0], "m1");
	assert_string_equal(fx->r.text[1], "m3");
	journal_close(j);
}

static void
memory_numbers_are_not_counted_as_lost(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128];
	unsigned char byte;
	off_t at;
	int fd;

	memset(&fx->r, 0, sizeof(fx->r));
	j = journal_open(fx->dir, JOURNAL_MEMORY, 1 << 20, collect, &fx->r,
	    &fx->next, &fx->rep, fx->err, sizeof(fx->err));
	assert_non_null(j);
	/* Numbers 1..5 went to memory-only messages; then durability "os". */
	journal_set_mode(j, JOURNAL_OS, 6);
	for (uint64_t seq = 6; seq <= 8; seq++)
		assert_int_equal(add(j, seq), 2);	/* a new segment */
	commit(fx, j);
	journal_close(j);
	/* Damage message 7 (segment 2: H, then "m6"). */
	seg_path(fx, 2, path, sizeof(path));
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	at = HEAD_SIZE + 19 + 17;
	assert_int_equal(pread(fd, &byte, 1, at), 1);
	byte ^= 0x01;
	assert_int_equal(pwrite(fd, &byte, 1, at), 1);
	close(fd);

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->rep.r_lost, 1);
	assert_int_equal(fx->rep.r_lost_first, 7);
	assert_int_equal(fx->r.n, 2);
	journal_close(j);
}

/* Numbers raised past those given out where the journal does not see
 * them (dead letters of durability "memory"): a new segment, and kept. */
static void
raised_numbers_start_a_segment(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 1 << 20);

	assert_int_equal(fx->next, 1);
	journal_set_next(j, 50);
	journal_set_next(j, 10);		/* never lowered */
	assert_int_equal(add(j, 50), 2);
	store_and_close(fx, j, 51, 51);
	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->next, 52);
	assert_int_equal(fx->r.n, 2);
	assert_int_equal(fx->r.seg[0], 2);
	assert_int_equal(fx->rep.r_lost, 0);
	journal_close(j);
}

static void
refused_write_leaves_the_file_as_it_was(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 1 << 20);
	struct rlimit old, lim;
	char path[128], big[2000];
	off_t size;

	add(j, 1);
	commit(fx, j);
	seg_path(fx, 1, path, sizeof(path));
	size = file_size(path);

	/* A file-size limit just above the file: the next batch fits only
	 * partly, and the write fails with EFBIG. */
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)size + 100;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	memset(big, 'x', sizeof(big));
	journal_add(j, 2, big, sizeof(big));
	assert_int_equal(journal_commit(j, fx->err, sizeof(fx->err)), -1);
	assert_int_equal(errno, EFBIG);
	assert_non_null(strstr(fx->err, "File too large"));
	assert_int_equal(file_size(path), size);
	assert_int_equal(journal_pending(j), 0);

	/* Space comes back: the number 2 is given out again and stored. */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	add(j, 2);
	commit(fx, j);
	journal_close(j);
	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->r.n, 2);
	assert_string_equal(fx->r.text[1], "m2");
	assert_int_equal(fx->rep.r_torn_bytes, 0);
	journal_close(j);
}


/* Stores 1..10, one commit each, in segments of four: {1-4} {5-8} {9 10}. */
static void
store_in_three_segments(struct fx *fx)
{
	struct journal *j = reopen(fx, 100);

	for (uint64_t seq = 1; seq <= 10; seq++) {
		assert_int_equal(add(j, seq), (seq - 1) / 4 + 1);
		commit(fx, j);
	}
	journal_close(j);
}

/*
 * An older segment cut short at a record's end reads as clean: the next
 * segment's H (the highest number written in this one) tells that messages
 * 3 and 4 are gone. Reported once, the readable ones kept.
 */
static void
cut_segment_counts_its_lost_messages(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128];

	store_in_three_segments(fx);
	seg_path(fx, 1, path, sizeof(path));
	assert_int_equal(truncate(path, HEAD_SIZE + 2 * MSG_SIZE), 0);

	j = reopen(fx, 100);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_bad_bytes, 0);
	assert_int_equal(fx->rep.r_lost, 2);
	assert_int_equal(fx->rep.r_lost_first, 3);
	assert_int_equal(fx->rep.r_lost_last, 4);
	assert_int_equal(fx->r.n, 8);
	assert_int_equal(count_files(fx->dir, "damaged-seg-"), 1);
	journal_close(j);

	clean_restart(fx, 100, 8);
}

/* Cut inside a record: damage, and the messages after it count too. */
static void
cut_inside_a_record_counts_the_rest(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128];

	store_in_three_segments(fx);
	seg_path(fx, 1, path, sizeof(path));
	assert_int_equal(truncate(path, HEAD_SIZE + 2 * MSG_SIZE + 5), 0);

	j = reopen(fx, 100);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_bad_bytes, 5);
	assert_int_equal(fx->rep.r_lost, 2);
	assert_int_equal(fx->rep.r_lost_first, 3);
	assert_int_equal(fx->rep.r_lost_last, 4);
	assert_int_equal(fx->r.n, 8);
	journal_close(j);
}

/* Messages released before their records were cut off are not lost. */
static void
cut_released_messages_are_not_lost(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128];

	store_in_three_segments(fx);
	j = reopen(fx, 100);
	journal_release(j, 1, 3);
	journal_release(j, 1, 4);
	commit(fx, j);
	journal_close(j);
	seg_path(fx, 1, path, sizeof(path));
	assert_int_equal(truncate(path, HEAD_SIZE + 2 * MSG_SIZE), 0);

	clean_restart(fx, 100, 8);
}

/*
 * A middle segment set aside as damaged: the one before it is bounded by
 * the one after it from then on, and the numbers between are those
 * rescued or released at that start: not lost again.
 */
static void
set_aside_segment_leaves_the_one_before_clean(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128];

	store_in_three_segments(fx);
	seg_path(fx, 2, path, sizeof(path));
	flip(path, HEAD_SIZE + MSG_SIZE + 17 + 1);	/* message 6 */

	j = reopen(fx, 100);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_lost, 1);
	assert_int_equal(fx->rep.r_lost_first, 6);
	journal_close(j);
	clean_restart(fx, 100, 9);
}

/*
 * Numbers given out in memory only, then a later segment set aside: the
 * segment before the gap they left is not bounded by the new segment.
 */
static void
memory_numbers_before_a_set_aside_segment(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 1 << 20);
	char path[128];

	store_and_close(fx, j, 1, 2);			/* segment 1 */
	memset(&fx->r, 0, sizeof(fx->r));
	j = journal_open(fx->dir, JOURNAL_MEMORY, 1 << 20, collect, &fx->r,
	    &fx->next, &fx->rep, fx->err, sizeof(fx->err));	/* 2 */
	assert_non_null(j);
	/* 3..5 went to memory-only messages. */
	journal_set_mode(j, JOURNAL_OS, 6);
	assert_int_equal(add(j, 6), 3);
	store_and_close(fx, j, 7, 8);
	seg_path(fx, 3, path, sizeof(path));
	flip(path, HEAD_SIZE + MSG_SIZE + 17 + 1);	/* message 7 */

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_lost, 1);
	assert_int_equal(fx->rep.r_lost_first, 7);
	journal_close(j);
	clean_restart(fx, 1 << 20, 4);
}

/* Segments written before H held the number before them are read. */
static void
old_segments_are_read(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128];
	int fd;

	for (uint32_t id = 1; id <= 2; id++) {
		seg_path(fx, id, path, sizeof(path));
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		put_rec(fd, 'H', id == 1 ? 1 : 3, "mysimbdp-queue 1", 16);
		put_rec(fd, 'M', id == 1 ? 1 : 3, id == 1 ? "m1" : "m3", 2);
		if (id == 1)
			put_rec(fd, 'M', 2, "m2", 2);
		close(fd);
	}
	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->r.n, 3);
	assert_string_equal(fx->r.text[2], "m3");
	assert_int_equal(fx->rep.r_damaged, 0);
	assert_int_equal(fx->rep.r_torn_bytes, 0);
	assert_int_equal(fx->next, 4);
	journal_close(j);
}

/*
 * A segment that is not the newest cut to 0 bytes: damage, as a cut at a
 * record's end is. The number before the next segment's H and the highest
 * number of the segments before it tell which messages were in it.
 */
static void
middle_segment_cut_to_nothing(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128];

	store_in_three_segments(fx);
	seg_path(fx, 2, path, sizeof(path));
	assert_int_equal(truncate(path, 0), 0);

	j = reopen(fx, 100);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_bad_bytes, 0);
	assert_int_equal(fx->rep.r_lost, 4);
	assert_int_equal(fx->rep.r_lost_first, 5);
	assert_int_equal(fx->rep.r_lost_last, 8);
	assert_int_equal(fx->rep.r_uncounted, 0);
	assert_int_equal(fx->r.n, 6);
	assert_int_equal(count_files(fx->dir, "damaged-seg-"), 1);
	journal_close(j);

	clean_restart(fx, 100, 6);
}

/* An H whose 8-byte "before" is before, as the journal writes it now. */
static void
put_head(int fd, uint64_t first, uint64_t before)
{
	unsigned char extra[24];

	memcpy(extra, "mysimbdp-queue 1", 16);
	for (int b = 0; b < 8; b++)
		extra[16 + b] = (unsigned char)(before >> (8 * b));
	put_rec(fd, 'H', first, extra, sizeof(extra));
}

/*
 * A segment cut to nothing before an H that says it held numbers up to
 * 2^40: more than any segment holds. Its losses are uncounted, at once,
 * not counted (and noted) one by one.
 */
static void
lost_range_wider_than_a_segment(void **state)
{
	struct fx *fx = *state;
	const uint64_t far = UINT64_C(1) << 40;
	struct journal *j;
	char path[128];
	int fd;

	for (uint32_t id = 1; id <= 3; id++) {
		seg_path(fx, id, path, sizeof(path));
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		if (id == 1) {
			put_head(fd, 1, 0);
			put_rec(fd, 'M', 1, "m1", 2);
			put_rec(fd, 'M', 2, "m2", 2);
		} else if (id == 3) {
			put_head(fd, far + 1, far);
			put_rec(fd, 'M', far + 1, "mf", 2);
		}
		close(fd);
	}
	j = reopen(fx, 100);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_lost, 0);
	assert_int_equal(fx->rep.r_uncounted, 1);
	assert_int_equal(fx->r.n, 3);
	journal_close(j);
}

/* Cut inside its H record: the same, the bytes left unreadable. */
static void
middle_segment_cut_inside_its_head(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128];

	store_in_three_segments(fx);
	seg_path(fx, 2, path, sizeof(path));
	assert_int_equal(truncate(path, 20), 0);

	j = reopen(fx, 100);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_bad_bytes, 20);
	assert_int_equal(fx->rep.r_lost, 4);
	assert_int_equal(fx->rep.r_lost_first, 5);
	assert_int_equal(fx->rep.r_lost_last, 8);
	assert_int_equal(fx->r.n, 6);
	assert_int_equal(count_files(fx->dir, "damaged-seg-"), 1);
	journal_close(j);
}

/*
 * The oldest segment cut to 0 bytes: no segment before it tells its first
 * number, so its losses cannot be counted; it is damage all the same.
 */
static void
oldest_segment_cut_to_nothing(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128];

	store_in_three_segments(fx);
	seg_path(fx, 1, path, sizeof(path));
	assert_int_equal(truncate(path, 0), 0);

	j = reopen(fx, 100);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_lost, 0);
	assert_int_equal(fx->rep.r_uncounted, 1);
	assert_int_equal(fx->r.n, 6);
	assert_int_equal(fx->r.seq[0], 5);
	assert_int_equal(count_files(fx->dir, "damaged-seg-"), 1);
	journal_close(j);

	clean_restart(fx, 100, 6);
}

/*
 * A crash while a start created its segment leaves it empty (its H is
 * written, then synced, before anything else goes in): no damage, and the
 * empty file goes, its number given to the segment that replaces it.
 */
static void
newest_left_empty_by_a_crash(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128];
	int fd;

	store_in_three_segments(fx);
	seg_path(fx, 4, path, sizeof(path));
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	close(fd);

	j = reopen(fx, 100);
	assert_int_equal(fx->rep.r_damaged, 0);
	assert_int_equal(fx->rep.r_torn_bytes, 0);
	assert_int_equal(fx->rep.r_uncounted, 0);
	assert_int_equal(fx->rep.r_segments, 4);
	assert_int_equal(fx->r.n, 10);
	assert_int_equal(add(j, 11), 4);
	commit(fx, j);
	assert_int_equal(count_files(fx->dir, "seg-"), 4);
	journal_close(j);

	/* And the segment before it stays bounded: cut, it counts. */
	seg_path(fx, 3, path, sizeof(path));
	assert_int_equal(truncate(path, HEAD_SIZE + MSG_SIZE), 0);
	j = reopen(fx, 100);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_lost, 1);
	assert_int_equal(fx->rep.r_lost_first, 10);
	assert_int_equal(fx->r.n, 10);
	journal_close(j);
}

/*
 * One left empty by a crash under an older version, which kept it and
 * started the next segment after it (its H: no message before it). It
 * looks the same as a segment of releases only cut to nothing (below):
 * damage, set aside, with nothing lost or uncounted.
 */
static void
empty_segment_with_nothing_before_the_next(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128];
	unsigned char before[24] = "mysimbdp-queue 1";	/* then 0 */
	int fd;

	store_in_three_segments(fx);
	seg_path(fx, 4, path, sizeof(path));
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	close(fd);
	seg_path(fx, 5, path, sizeof(path));
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	put_rec(fd, 'H', 11, before, sizeof(before));
	close(fd);

	j = reopen(fx, 100);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_uncounted, 0);
	assert_int_equal(fx->rep.r_lost, 0);
	assert_int_equal(fx->r.n, 10);
	assert_int_equal(count_files(fx->dir, "damaged-seg-"), 1);
	seg_path(fx, 4, path, sizeof(path));
	assert_int_equal(access(path, F_OK), -1);
	journal_close(j);
}

/*
 * A segment that held only releases (the one a start made, acks of
 * restored messages and no new message) cut to 0 bytes. The next
 * segment's H says it held no message, as it would of an empty one, but
 * its releases are gone: damage, reported, and the messages they released
 * come back (at least once) rather than silently.
 */
static void
releases_only_segment_cut_to_nothing(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 1 << 20);
	char path[128];

	store_and_close(fx, j, 1, 3);			/* segment 1 */
	j = reopen(fx, 1 << 20);			/* 2: releases */
	journal_release(j, 1, 1);
	journal_release(j, 1, 2);
	commit(fx, j);
	journal_close(j);
	j = reopen(fx, 1 << 20);			/* 3 */
	assert_int_equal(fx->r.n, 1);
	store_and_close(fx, j, 4, 4);
	seg_path(fx, 2, path, sizeof(path));
	assert_true(file_size(path) > HEAD_SIZE);
	assert_int_equal(truncate(path, 0), 0);

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_lost, 0);
	assert_int_equal(fx->rep.r_uncounted, 0);
	assert_int_equal(count_files(fx->dir, "damaged-seg-"), 1);
	assert_int_equal(fx->r.n, 4);
	assert_int_equal(fx->r.seq[0], 1);
	assert_int_equal(fx->next, 5);
	journal_close(j);

	/* Reported once. */
	clean_restart(fx, 1 << 20, 4);
}

/*
 * The newest cut inside its H: the H goes in with one write of HEAD_SIZE
 * bytes into the empty file, so no crash leaves part of it. Damage: set
 * aside, not cut off as a torn write, its losses not countable.
 */
static void
newest_cut_inside_its_head(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128];
	unsigned char before[24] = "mysimbdp-queue 1";
	int fd;

	store_in_three_segments(fx);
	seg_path(fx, 4, path, sizeof(path));
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	before[16] = 10;
	put_rec(fd, 'H', 11, before, sizeof(before));
	close(fd);
	assert_int_equal(truncate(path, 20), 0);

	j = reopen(fx, 100);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_torn_bytes, 0);
	assert_int_equal(fx->rep.r_bad_bytes, 20);
	assert_int_equal(fx->rep.r_uncounted, 1);
	assert_int_equal(fx->r.n, 10);
	assert_int_equal(count_files(fx->dir, "damaged-seg-"), 1);
	journal_close(j);
	clean_restart(fx, 100, 10);
}

/*
 * Messages 1..10 in three segments, then 11 alone in segment 4 (path),
 * made unreadable from its first byte: its H and its message damaged.
 * Returns the size of segment 4.
 */
static off_t
store_newest_unreadable(struct fx *fx, char *path, size_t len)
{
	struct journal *j;
	off_t size;

	store_in_three_segments(fx);
	j = reopen(fx, 100);
	store_and_close(fx, j, 11, 11);
	seg_path(fx, 4, path, len);
	size = file_size(path);
	flip(path, 20);					/* its H */
	flip(path, HEAD_SIZE + 17 + 1);			/* message 11 */
	return size;
}

/*
 * The newest unreadable from its first byte, its H damaged (no crash
 * leaves it so: it goes in with one write, synced, before anything else):
 * damage, set aside, what it held uncounted, not cut to 0 bytes as a torn
 * write. Cut so, it held message 11 without a word, and at the next start
 * it was an older segment of 0 bytes: damage found again. The same for
 * zeros where a file system kept the size and not the data.
 */
static void
newest_unreadable_from_its_head(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128];
	off_t size;
	int fd;

	size = store_newest_unreadable(fx, path, sizeof(path));

	j = reopen(fx, 100);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_torn_bytes, 0);
	assert_int_equal(fx->rep.r_bad_bytes, size);
	assert_int_equal(fx->rep.r_lost, 0);
	assert_int_equal(fx->rep.r_uncounted, 1);
	assert_int_equal(fx->r.n, 10);
	assert_int_equal(count_files(fx->dir, "damaged-seg-"), 1);
	journal_close(j);
	clean_restart(fx, 100, 10);

	/* The newest now 6, a start's: its H and nothing else. */
	seg_path(fx, 6, path, sizeof(path));
	assert_int_equal(file_size(path), HEAD_SIZE);
	assert_true((fd = open(path, O_WRONLY | O_TRUNC)) >= 0);
	close(fd);
	assert_int_equal(truncate(path, HEAD_SIZE), 0);
	j = reopen(fx, 100);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_torn_bytes, 0);
	assert_int_equal(fx->rep.r_uncounted, 1);
	assert_int_equal(fx->r.n, 10);
	assert_int_equal(count_files(fx->dir, "damaged-seg-"), 2);
	journal_close(j);
	clean_restart(fx, 100, 10);
}

/* The number before segment id's first, as its H record says. */
static uint64_t
head_before(const struct fx *fx, uint64_t id)
{
	unsigned char b[8];
	char path[128];
	uint64_t v = 0;
	int fd;

	seg_path(fx, id, path, sizeof(path));
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(pread(fd, b, sizeof(b), HEAD_SIZE - 8), 8);
	close(fd);
	for (int k = 7; k >= 0; k--)
		v = v << 8 | b[k];
	return v;
}

/*
 * A newest segment unreadable from its H, rescued at a start; a SIGKILL
 * comes before its rename to damaged-seg-*. The new segment's H cannot
 * say what the damaged one held (it says "unknown", not 0: nothing of it
 * was read), so the next start still counts its loss, uncounted, and
 * does not take it for a segment that held nothing.
 */
static void
rescue_cut_before_the_rename(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128], aside[160];

	store_newest_unreadable(fx, path, sizeof(path));

	j = reopen(fx, 100);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_uncounted, 1);
	journal_close(j);
	assert_true(head_before(fx, 5) == UINT64_MAX);	/* not known */
	/* As if the rename had not happened. */
	snprintf(aside, sizeof(aside), "%s/damaged-seg-%016x.log", fx->dir, 4);
	assert_int_equal(rename(aside, path), 0);
	j = reopen(fx, 100);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_lost, 0);
	assert_int_equal(fx->rep.r_uncounted, 1);
	assert_int_equal(fx->r.n, 10);
	journal_close(j);
	clean_restart(fx, 100, 10);
}

/*
 * Segment 1: 1..3; segment 2: 4..6, message 5 damaged. The start that
 * finds it makes segment 3 with copies of 4 and 6 (numbered below its H)
 * and the release of 5, then its own messages 7..8 when own is set; a
 * start with no new message makes segment 4, whose H must name 6 (or 8)
 * as segment 3's highest: a restart counts the copies as a rotation while
 * running does.
 */
static void
store_rescued_copies_and(struct fx *fx, bool own)
{
	struct journal *j = reopen(fx, 1 << 20);
	char path[128];

	store_and_close(fx, j, 1, 3);
	j = reopen(fx, 1 << 20);
	store_and_close(fx, j, 4, 6);
	seg_path(fx, 2, path, sizeof(path));
	flip(path, HEAD_SIZE + MSG_SIZE + 17 + 1);	/* message 5 */
	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_lost, 1);
	assert_int_equal(fx->rep.r_lost_first, 5);
	if (own)
		store_and_close(fx, j, 7, 8);
	else
		journal_close(j);
	clean_restart(fx, 1 << 20, own ? 7 : 5);
	assert_int_equal(head_before(fx, 3), 6);
	assert_int_equal(head_before(fx, 4), own ? 8 : 6);
}

static void
store_rescued_copies(struct fx *fx)
{
	store_rescued_copies_and(fx, false);
}

/*
 * The segment of copies cut to 0 bytes: the next H says it held up to 6,
 * so 4..6 count as lost (5 again: its release went with the segment),
 * not "nothing lost".
 */
static void
copies_segment_cut_to_nothing(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128];

	store_rescued_copies(fx);
	seg_path(fx, 3, path, sizeof(path));
	assert_int_equal(truncate(path, 0), 0);

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_lost, 3);
	assert_int_equal(fx->rep.r_lost_first, 4);
	assert_int_equal(fx->rep.r_lost_last, 6);
	assert_int_equal(fx->rep.r_uncounted, 0);
	assert_int_equal(fx->r.n, 3);
	assert_int_equal(fx->next, 7);
	journal_close(j);

	clean_restart(fx, 1 << 20, 3);
}

/*
 * Cut after the copy of 4, at a record's end: 6 is gone. Copies are not
 * numbered in a range (which numbers a rescue copied, no record tells),
 * so the loss is damage counted in r_uncounted, not silence.
 */
static void
copies_segment_cut_at_a_record_end(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128];

	store_rescued_copies(fx);
	seg_path(fx, 3, path, sizeof(path));
	assert_int_equal(truncate(path, HEAD_SIZE + MSG_SIZE), 0);

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_bad_bytes, 0);
	assert_int_equal(fx->rep.r_lost, 0);
	assert_int_equal(fx->rep.r_uncounted, 1);
	assert_int_equal(fx->r.n, 4);
	assert_int_equal(fx->r.seq[3], 4);
	assert_int_equal(count_files(fx->dir, "damaged-seg-"), 2);
	journal_close(j);

	clean_restart(fx, 1 << 20, 4);
}

/*
 * Segment 3 holds the copies of 4 and 6, the release of 5, then its own
 * 7 and 8 (segment 4's H: before = 8), and is cut after the copy of 4.
 * Its own numbers are told from its H on: 7..8 count as lost; the copy
 * of 6 lost is uncounted (no record says which numbers were copied).
 */
static void
copies_and_own_cut_among_the_copies(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128];

	store_rescued_copies_and(fx, true);
	seg_path(fx, 3, path, sizeof(path));
	assert_int_equal(truncate(path, HEAD_SIZE + MSG_SIZE), 0);

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_bad_bytes, 0);
	assert_int_equal(fx->rep.r_lost, 2);
	assert_int_equal(fx->rep.r_lost_first, 7);
	assert_int_equal(fx->rep.r_lost_last, 8);
	assert_int_equal(fx->rep.r_uncounted, 1);
	assert_int_equal(fx->r.n, 4);
	assert_int_equal(fx->r.seq[3], 4);
	assert_int_equal(fx->next, 9);
	journal_close(j);

	clean_restart(fx, 1 << 20, 4);
}

/*
 * The same segment read whole but for the copy of 4, damaged: an
 * unreadable stretch ahead of its own messages where copies go. Its own
 * 7 and 8 are read; the copy lost is uncounted, not silence.
 */
static void
copies_and_own_a_copy_damaged(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128];

	store_rescued_copies_and(fx, true);
	seg_path(fx, 3, path, sizeof(path));
	flip(path, HEAD_SIZE + 17 + 1);			/* the copy of 4 */

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_bad_bytes, MSG_SIZE);
	assert_int_equal(fx->rep.r_lost, 0);
	assert_int_equal(fx->rep.r_uncounted, 1);
	assert_int_equal(fx->r.n, 6);
	assert_int_equal(fx->r.seq[3], 6);
	assert_int_equal(fx->r.seq[5], 8);
	journal_close(j);

	clean_restart(fx, 1 << 20, 6);
}

/*
 * As versions before this one left it: a start after the rescue wrote
 * "before = 0" after the segment of copies (taken to hold no message),
 * and that segment was cut to 0 bytes. Numbers 4..6 were given out
 * between the segments around it, so its losses go uncounted.
 */
static void
copies_hidden_by_an_old_head(void **state)
{
	struct fx *fx = *state;
	struct journal *j;
	char path[128];
	int fd;

	for (uint32_t id = 1; id <= 3; id++) {
		seg_path(fx, id, path, sizeof(path));
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		if (id == 1) {
			put_head(fd, 1, 0);
			put_rec(fd, 'M', 1, "m1", 2);
			put_rec(fd, 'M', 2, "m2", 2);
			put_rec(fd, 'M', 3, "m3", 2);
		} else if (id == 3)
			put_head(fd, 7, 0);
		close(fd);
	}
	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_lost, 0);
	assert_int_equal(fx->rep.r_uncounted, 1);
	assert_int_equal(fx->r.n, 3);
	assert_int_equal(fx->next, 7);
	journal_close(j);
}

/* The sizes of the seg-*.log files and of the spare: what
 * journal_usage must say. */
static uint64_t
seg_bytes(const struct fx *fx)
{
	DIR *d = opendir(fx->dir);
	struct dirent *de;
	uint64_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[512];

		if (strncmp(de->d_name, "seg-", 4) != 0 &&
		    strcmp(de->d_name, "spare-seg.log") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", fx->dir, de->d_name);
		n += (uint64_t)file_size(path);
	}
	closedir(d);
	return n;
}

/*
 * Messages numbered far above the segment's size, in the oldest segment,
 * whose H record (the only bound on their numbers) is unreadable: found
 * all the same, bounded by the next segment's H, or by nothing in the
 * newest.
 */
static void
damaged_head_keeps_its_messages(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 1 << 20);
	char path[128];

	store_and_close(fx, j, 1001, 1010);
	seg_path(fx, 1, path, sizeof(path));
	flip(path, 20);		/* inside the H record's body */

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->r.n, 10);
	assert_int_equal(fx->r.seq[0], 1001);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_lost, 0);
	assert_int_equal(fx->rep.r_torn_bytes, 0);
	add(j, 1011);
	commit(fx, j);
	journal_close(j);
	j = reopen(fx, 1 << 20);
	add(j, 1012);
	commit(fx, j);
	journal_close(j);

	/* Now in the older of two: the newer one's H bounds it. */
	assert_int_equal(count_files(fx->dir, "seg-"), 2);
	seg_path(fx, 2, path, sizeof(path));
	flip(path, 20);
	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->r.n, 12);
	assert_int_equal(fx->r.seq[11], 1012);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_int_equal(fx->rep.r_lost, 0);
	journal_close(j);
}

/* Damage and a torn tail in the newest segment: the disk usage counts
 * the files as they are, not less. */
static void
usage_after_damage_and_a_torn_tail(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 1 << 20);
	uint64_t nsegs, bytes;
	char path[128];

	store_and_close(fx, j, 1, 10);
	seg_path(fx, 1, path, sizeof(path));
	flip(path, HEAD_SIZE + 4 * 19 + 17 + 1);	/* message 5's body */
	assert_int_equal(truncate(path, file_size(path) - 3), 0);

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->rep.r_damaged, 1);
	assert_true(fx->rep.r_torn_bytes > 0);
	journal_usage(j, &nsegs, &bytes);
	assert_int_equal(bytes, seg_bytes(fx));
	journal_close(j);
}

/*
 * More releases than one A record may hold (a disk full for long keeps
 * noting them): written as several, all read back.
 */
static void
many_releases_fit_in_records(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 1 << 20);
	const uint64_t many = ((256u << 20) / 8) + 10;
	uint64_t seg;

	seg = add(j, 1);
	add(j, 2);
	commit(fx, j);
	journal_release(j, seg, 1);
	for (uint64_t seq = 3; seq < many; seq++)
		journal_release(j, 0, seq);
	commit(fx, j);
	journal_close(j);

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->rep.r_damaged, 0);
	assert_int_equal(fx->rep.r_torn_bytes, 0);
	assert_int_equal(fx->r.n, 1);
	assert_int_equal(fx->r.seq[0], 2);
	journal_close(j);
}

/* Writes message seq alone with journal_write. */
static void
write_one(struct fx *fx, struct journal *j, uint64_t seq)
{
	add(j, seq);
	if (journal_write(j, fx->err, sizeof(fx->err)) < 0)
		fail_msg("journal_write: %s", fx->err);
}

/*
 * journal_write counts writes not yet synced; a sync taken out covers
 * those before it, one at a time; a commit, or a new segment, syncs
 * them all at once.
 */
static void
writes_wait_for_a_sync(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 100);
	uint64_t gen, other, seq = 3;
	int fd;

	assert_int_equal(journal_synced(j), journal_written(j));
	assert_int_equal(journal_sync_begin(j, &gen), -1);	/* none due */
	write_one(fx, j, 1);
	assert_true(journal_written(j) > journal_synced(j));
	fd = journal_sync_begin(j, &gen);
	assert_true(fd >= 0);
	assert_int_equal(gen, journal_written(j));
	assert_true(journal_syncing(j));
	assert_int_equal(journal_sync_begin(j, &other), -1);	/* one out */

	/* A write while it is out is not covered by it. */
	write_one(fx, j, 2);
	assert_int_equal(fdatasync(fd), 0);
	close(fd);
	journal_sync_end(j, gen);
	assert_false(journal_syncing(j));
	assert_int_equal(journal_synced(j), gen);
	assert_true(journal_written(j) > gen);

	/* Past 100 bytes a write starts a new segment, once the one
	 * written is synced: every write before it is. */
	while (count_files(fx->dir, "seg-") == 1 && seq < 10)
		write_one(fx, j, seq++);
	assert_int_equal(count_files(fx->dir, "seg-"), 2);
	assert_int_equal(journal_synced(j), journal_written(j) - 1);
	journal_sync(j);
	assert_int_equal(journal_synced(j), journal_written(j));

	/* A commit syncs what it writes, and what came before. */
	write_one(fx, j, seq++);
	add(j, seq);
	commit(fx, j);
	assert_int_equal(journal_synced(j), journal_written(j));
	journal_close(j);

	clean_restart(fx, 100, seq);
}

/* A copy of fx->dir's files, as a crash would leave them: fx->dir is
 * the copy from here on (the original is removed). */
static void
crash_copy(struct fx *fx)
{
	char crash[64], from[PATH_MAX], to[PATH_MAX], cmd[160];
	DIR *d = opendir(fx->dir);
	struct dirent *de;

	snprintf(crash, sizeof(crash), "/tmp/test-journal-XXXXXX");
	assert_non_null(mkdtemp(crash));
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(from, sizeof(from), "%s/%s", fx->dir, de->d_name);
		snprintf(to, sizeof(to), "%s/%s", crash, de->d_name);
		copy_file(from, to);
	}
	closedir(d);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	memcpy(fx->dir, crash, sizeof(crash));
}

/*
 * Under "fsync" a released segment that filled up is kept as the spare
 * and becomes the next segment: its file written again, not appended to
 * (half the time a sync). The usage counts it; a clean close cuts the
 * reused file to its records, and the next start finds all it should,
 * no damage, no torn tail, and no spare left.
 */
static void
released_segment_is_reused(void **state)
{
	struct fx *fx = *state;
	uint64_t segsize = HEAD_SIZE + 4 * MSG_SIZE, nsegs, bytes;
	struct journal *j = reopen(fx, segsize);
	static uint64_t seg[32];
	char spare[128], path[128];
	struct stat st;
	ino_t ino;

	snprintf(spare, sizeof(spare), "%s/spare-seg.log", fx->dir);
	for (uint64_t seq = 1; seq <= 8; seq++) {
		seg[seq] = add(j, seq);
		commit(fx, j);
	}
	assert_int_equal(access(spare, F_OK), -1);
	for (uint64_t seq = 1; seq <= 4; seq++)
		journal_release(j, seg[seq], seq);
	commit(fx, j);
	assert_int_equal(stat(spare, &st), 0);
	ino = st.st_ino;
	seg_path(fx, seg[1], path, sizeof(path));
	assert_int_equal(access(path, F_OK), -1);
	journal_usage(j, &nsegs, &bytes);
	assert_int_equal(bytes, seg_bytes(fx));
	for (uint64_t seq = 9; seq <= 9; seq++) {
		seg[seq] = add(j, seq);
		commit(fx, j);
	}
	/* Message 9 started a segment: in the spare's file. */
	assert_true(seg[9] > seg[8]);
	assert_int_equal(access(spare, F_OK), -1);
	seg_path(fx, seg[9], path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_ino == ino);
	assert_true(st.st_size > HEAD_SIZE + MARK_SIZE + MSG_SIZE);
	journal_usage(j, &nsegs, &bytes);
	assert_int_equal(bytes, seg_bytes(fx));
	journal_close(j);
	assert_int_equal(file_size(path), HEAD_SIZE + MARK_SIZE + MSG_SIZE);

	j = reopen(fx, segsize);
	assert_int_equal(fx->r.n, 5);
	for (size_t k = 0; k < 5; k++)
		assert_int_equal(fx->r.seq[k], k + 5);
	assert_int_equal(fx->rep.r_torn_bytes, 0);
	assert_int_equal(fx->rep.r_damaged, 0);
	assert_int_equal(count_files(fx->dir, "spare-"), 0);
	journal_usage(j, &nsegs, &bytes);
	assert_int_equal(bytes, seg_bytes(fx));
	journal_close(j);
}

/*
 * A crash while a reused file is the newest: past its records it still
 * holds its last use's (messages released by a segment gone since).
 * None of them is read back (version 2: checksums from the segment's
 * number): the start restores what was not released, finds no damage
 * and loses nothing; cut there, the file reads clean at the next start.
 */
static void
reused_file_old_records_never_read(void **state)
{
	struct fx *fx = *state;
	uint64_t segsize = HEAD_SIZE + 8 * MSG_SIZE;
	struct journal *j = reopen(fx, segsize);
	static uint64_t seg[32];
	char path[128];

	for (uint64_t seq = 1; seq <= 16; seq++) {
		seg[seq] = add(j, seq);
		commit(fx, j);
	}
	for (uint64_t seq = 1; seq <= 8; seq++)
		journal_release(j, seg[seq], seq);
	commit(fx, j);		/* releases 1 to 8 in message 16's segment */
	seg[17] = add(j, 17);
	commit(fx, j);		/* in the spare's file: message 1's */
	for (uint64_t seq = 9; seq <= 16; seq++)
		journal_release(j, seg[seq], seq);
	commit(fx, j);
	/* The releases of 1 to 8 went with message 16's segment; messages
	 * 7 and 8 of the file's last use are still there past the new
	 * records. */
	seg_path(fx, seg[16], path, sizeof(path));
	assert_int_equal(access(path, F_OK), -1);
	seg_path(fx, seg[17], path, sizeof(path));
	assert_int_equal(file_size(path), HEAD_SIZE + 8 * MSG_SIZE);
	crash_copy(fx);
	journal_close(j);

	j = reopen(fx, segsize);
	assert_int_equal(fx->r.n, 1);
	assert_int_equal(fx->r.seq[0], 17);
	assert_string_equal(fx->r.text[0], "m17");
	assert_int_equal(fx->next, 18);
	assert_int_equal(fx->rep.r_damaged, 0);
	assert_int_equal(fx->rep.r_bad_bytes, 0);
	assert_int_equal(fx->rep.r_lost, 0);
	assert_int_equal(fx->rep.r_uncounted, 0);
	assert_true(fx->rep.r_torn_bytes > 0);	/* the last use, cut */
	journal_close(j);
	clean_restart(fx, segsize, 1);
	assert_int_equal(fx->rep.r_torn_bytes, 0);
}

/*
 * Messages 1 to 8 fill segment 1 (segsize), message at's payload the
 * one given (a producer's bytes), 9 to 16 go to segment 2; 1 to 8
 * released, segment 1's file is the spare, and messages 17 to last go
 * into it as segment 3, in one batch. The folder is then copied as a
 * crash leaves it, or, with tear, as a kill leaves it in the middle of
 * the write across or from that offset of the file, and reopened from
 * the copy.
 */
static struct journal *
crash_in_reused_file(struct fx *fx, uint64_t segsize, uint64_t at,
    const unsigned char *payload, size_t n, uint64_t last, off_t tear)
{
	struct journal *j = reopen(fx, segsize);
	static uint64_t seg[32];

	for (uint64_t seq = 1; seq <= 16; seq++) {
		seg[seq] = seq == at ? journal_add(j, seq, payload, n) :
		    add(j, seq);
		commit(fx, j);
	}
	assert_int_equal(seg[8], 1);
	assert_int_equal(seg[9], 2);
	for (uint64_t seq = 1; seq <= 8; seq++)
		journal_release(j, seg[seq], seq);
	commit(fx, j);		/* segment 1 is the spare */
	for (uint64_t seq = 17; seq <= last; seq++)
		assert_int_equal(add(j, seq), 3);
	if (tear > 0)
		tear_write_at(tear, crash_copy_cb, fx);
	commit(fx, j);
	if (tear > 0)
		assert_true(tear_write_done());	/* the crash was copied */
	else
		crash_copy(fx);
	journal_close(j);
	return reopen(fx, segsize);
}

/* Messages first to last came back, the next number after them,
 * nothing damaged or lost, the last use's bytes cut as torn. */
static void
restored_from(struct fx *fx, struct journal *j, uint64_t first,
    uint64_t last)
{
	assert_int_equal(fx->r.n, last - first + 1);
	for (size_t k = 0; k < fx->r.n; k++)
		assert_int_equal(fx->r.seq[k], first + k);
	assert_int_equal(fx->next, last + 1);
	assert_int_equal(fx->rep.r_damaged, 0);
	assert_int_equal(fx->rep.r_bad_bytes, 0);
	assert_int_equal(fx->rep.r_lost, 0);
	assert_true(fx->rep.r_torn_bytes > 0);	/* the last use, cut */
	journal_close(j);
}

/*
 * Message 8's payload (a producer's bytes) holds what looks like a
 * release of message 9, checksummed as segment 3's would be (its number
 * is one the producer can tell ahead). Its segment, released, is the
 * spare that becomes segment 3, and a crash leaves message 17 over its
 * start with message 8 past it. That last use is never read: 9 to 17
 * come back, nothing damaged or lost. (Searched byte by byte as
 * damage, the release was read: message 9, which had its OK, gone.)
 */
static void
records_in_a_reused_file_last_use_are_not_read(void **state)
{
	static const uint64_t nine[] = { 9 };
	struct fx *fx = *state;
	unsigned char payload[32];
	size_t n = forged_release(payload, 3, nine, 1);
	uint64_t segsize = HEAD_SIZE + 7 * MSG_SIZE + 17 + n;

	restored_from(fx, crash_in_reused_file(fx, segsize, 8, payload, n,
	    17, 0), 9, 17);
	clean_restart(fx, segsize, 9);
}

/* Where segment 3's records end once it holds "m17": its H, the mark,
 * then m17. */
#define M17_END	(HEAD_SIZE + MARK_SIZE + MSG_SIZE + 1)

/*
 * Message 1's payload for crash_in_reused_file: padding, then a release
 * of message 9 sealed for segment 3, lying in segment 1's file where
 * segment 3's records end once they hold m17. Returns its length, and
 * in *segsize the size segment 1 fills with message 8.
 */
static size_t
release_at_m17_end(unsigned char payload[64], uint64_t *segsize)
{
	static const uint64_t nine[] = { 9 };
	/* Message 1's payload starts 17 bytes after the H. */
	size_t pad = M17_END - HEAD_SIZE - 17, n;

	memset(payload, 'p', pad);
	n = pad + forged_release(payload + pad, 3, nine, 1);
	assert_true(n <= 64);
	*segsize = HEAD_SIZE + 17 + n + 7 * MSG_SIZE;	/* "m2".."m8" */
	return n;
}

/*
 * The case the reader alone cannot tell (docs/protocols.md): message
 * 1's payload holds a release of message 9 checksummed as segment 3's
 * would be, at the offset where segment 3's records end once its file,
 * segment 1's reused, holds message 17. A crash before the cut leaves
 * that last use there, and the reader of the newest reads on to its
 * first unreadable record. The zeros written after each batch in a
 * reused file stop it where the records end: 9 to 17 come back.
 * (Without them the release was read: message 9, which had its OK,
 * gone.)
 */
static void
record_where_reused_records_end_is_not_read(void **state)
{
	struct fx *fx = *state;
	unsigned char payload[64];
	uint64_t segsize;
	size_t n = release_at_m17_end(payload, &segsize);

	restored_from(fx, crash_in_reused_file(fx, segsize, 1, payload, n,
	    17, 0), 9, 17);
	clean_restart(fx, segsize, 9);
}

/*
 * The same case right after the spare's H and mark: message 1's payload,
 * a release of message 9 sealed for segment 3, starts where they end.
 * A crash after the spare became segment 3, before message 17's write
 * (its bytes after the first length: commit), leaves the last use's
 * bytes right behind the mark; the zeros written with the H stop the
 * reader there: 9 to 16 come back, and the next number is the H's, 17.
 * (Without them message 9 was released.)
 */
static void
record_after_reused_head_is_not_read(void **state)
{
	static const uint64_t nine[] = { 9 };
	struct fx *fx = *state;
	unsigned char payload[32];
	size_t n = forged_release(payload, 3, nine, 1);
	uint64_t segsize = HEAD_SIZE + 17 + n + 7 * MSG_SIZE;

	restored_from(fx, crash_in_reused_file(fx, segsize, 1, payload, n,
	    17, HEAD_SIZE + MARK_SIZE + 4), 9, 16);
	clean_restart(fx, segsize, 8);
}

/*
 * As record_where_reused_records_end_is_not_read, but the crash is a
 * kill in the middle of the batch's write (m17, m18), which it stops
 * where m17 ends: a kill stops a write at a page's end, which a
 * producer can make a record's (the sizes are its own). The batch's own
 * zeros are not written yet; the first record's length, written last,
 * leaves the zeros written after the mark where the reader starts: 9 to
 * 16 come back. (Written in order, the release past m17 was read:
 * message 9 gone.)
 */
static void
torn_write_into_a_reused_file_stops_before_its_end(void **state)
{
	struct fx *fx = *state;
	unsigned char payload[64];
	uint64_t segsize;
	size_t n = release_at_m17_end(payload, &segsize);

	restored_from(fx, crash_in_reused_file(fx, segsize, 1, payload, n,
	    18, M17_END), 9, 16);
	clean_restart(fx, segsize, 8);
}

/*
 * An H is only a segment's first record: one inside a producer's
 * payload, reached by the search past a damaged header (every H is
 * checksummed from 0, so anyone can make one), is not read: the next
 * number stays where the messages put it, not at the forged H's 1000.
 */
static void
forged_head_in_a_payload_is_not_read(void **state)
{
	struct fx *fx = *state;
	struct journal *j = reopen(fx, 1 << 20);
	unsigned char extra[24] = "mysimbdp-queue 2", head[64];
	size_t n = rec_image(head, 'H', 1000, extra, sizeof(extra));
	char path[128];

	add(j, 1);
	journal_add(j, 2, head, n);
	add(j, 3);
	commit(fx, j);
	journal_close(j);
	seg_path(fx, 1, path, sizeof(path));
	flip(path, HEAD_SIZE + MSG_SIZE);	/* message 2's length */

	j = reopen(fx, 1 << 20);
	assert_int_equal(fx->next, 4);
	assert_int_equal(fx->r.n, 2);
	assert_int_equal(fx->r.seq[0], 1);
	assert_int_equal(fx->r.seq[1], 3);
	assert_int_equal(fx->rep.r_lost, 1);
	journal_close(j);
}

/* Durability leaving "fsync" takes the spare off the disk, and so does
 * a stop; a spare a start finds (a crash's) goes too. */
static void
spare_goes_without_fsync(void **state)
{
	struct fx *fx = *state;
	uint64_t segsize = HEAD_SIZE + 4 * MSG_SIZE, nsegs, bytes;
	struct journal *j = reopen(fx, segsize);
	static uint64_t seg[32];
	char spare[128], path[128], crashed[128];

	snprintf(spare, sizeof(spare), "%s/spare-seg.log", fx->dir);
	snprintf(crashed, sizeof(crashed), "%s/crashed", fx->dir);
	for (uint64_t seq = 1; seq <= 8; seq++) {
		seg[seq] = add(j, seq);
		commit(fx, j);
	}
	for (uint64_t seq = 1; seq <= 4; seq++)
		journal_release(j, seg[seq], seq);
	commit(fx, j);
	assert_int_equal(access(spare, F_OK), 0);
	seg_path(fx, seg[8], path, sizeof(path));
	copy_file(path, crashed);	/* a spare as a crash leaves it */
	journal_close(j);
	assert_int_equal(access(spare, F_OK), -1);
	assert_int_equal(rename(crashed, spare), 0);
	j = reopen(fx, segsize);
	assert_int_equal(access(spare, F_OK), -1);
	discard_wait();		/* the open hands gone-* to the thread */
	assert_int_equal(count_files(fx->dir, "gone-"), 0);
	assert_int_equal(fx->r.n, 4);
	for (uint64_t seq = 9; seq <= 16; seq++) {
		seg[seq] = add(j, seq);
		commit(fx, j);
	}
	for (size_t k = 0; k < fx->r.n; k++)
		journal_release(j, fx->r.seg[k], fx->r.seq[k]);
	commit(fx, j);
	assert_int_equal(access(spare, F_OK), 0);
	journal_set_mode(j, JOURNAL_OS, fx->next + 100);
	assert_int_equal(access(spare, F_OK), -1);
	journal_usage(j, &nsegs, &bytes);
	assert_int_equal(bytes, seg_bytes(fx));
	journal_close(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc32c_known_values),
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(messages_come_back_in_order),
		T(released_messages_stay_released),
		T(uncommitted_messages_are_not_stored),
		T(dropped_batch_is_not_stored),
		T(writes_wait_for_a_sync),
		T(old_segments_are_deleted_once_released),
		T(gone_segments_are_unlinked_and_never_read),
		T(segment_numbers_go_past_32_bits),
		T(torn_tail_is_cut_off),
		T(forged_records_in_a_torn_tail_are_not_read),
		T(forged_record_in_a_damaged_body_is_not_read),
		T(many_segments_need_no_descriptor_each),
		T(bit_flip_loses_only_that_message),
		T(damaged_segment_kept_on_a_full_disk),
		T(rescue_without_room_reported),
		T(kept_damaged_segment_set_aside_when_released),
		T(fsync_after_os_starts_a_segment),
		T(full_disk_start_keeps_the_newest),
		T(set_aside_never_replaces),
		T(switch_with_a_batch_pending),
		T(memory_numbers_are_not_counted_as_lost),
		T(raised_numbers_start_a_segment),
		T(refused_write_leaves_the_file_as_it_was),
		T(damaged_head_keeps_its_messages),
		T(usage_after_damage_and_a_torn_tail),
		T(many_releases_fit_in_records),
		T(cut_segment_counts_its_lost_messages),
		T(cut_inside_a_record_counts_the_rest),
		T(cut_released_messages_are_not_lost),
		T(set_aside_segment_leaves_the_one_before_clean),
		T(memory_numbers_before_a_set_aside_segment),
		T(old_segments_are_read),
		T(middle_segment_cut_to_nothing),
		T(middle_segment_cut_inside_its_head),
		T(oldest_segment_cut_to_nothing),
		T(newest_left_empty_by_a_crash),
		T(empty_segment_with_nothing_before_the_next),
		T(newest_cut_inside_its_head),
		T(newest_unreadable_from_its_head),
		T(rescue_cut_before_the_rename),
		T(releases_only_segment_cut_to_nothing),
		T(lost_range_wider_than_a_segment),
		T(copies_segment_cut_to_nothing),
		T(copies_segment_cut_at_a_record_end),
		T(copies_hidden_by_an_old_head),
		T(copies_and_own_cut_among_the_copies),
		T(copies_and_own_a_copy_damaged),
		T(released_segment_is_reused),
		T(reused_file_old_records_never_read),
		T(records_in_a_reused_file_last_use_are_not_read),
		T(record_where_reused_records_end_is_not_read),
		T(record_after_reused_head_is_not_read),
		T(torn_write_into_a_reused_file_stops_before_its_end),
		T(forged_head_in_a_payload_is_not_read),
		T(spare_goes_without_fsync),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

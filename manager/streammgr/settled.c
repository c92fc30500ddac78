#include "settled.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "byteorder.h"

#define COMPACT_MIN	(1u << 20)	/* bytes before a rewrite is worth it */
#define FLOOR_BIT	(UINT64_C(1) << 63)	/* never in a message number */
/* A floor entry no floor takes (2^63 - 1 messages never come): the
 * member joins, its floor is not known yet (settled_open). */
#define JOINING		UINT64_MAX

struct settled {
	char		*st_path;
	int		 st_fd;
	uint64_t	*st_loaded;	/* sorted, for settled_has */
	size_t		 st_nloaded;
	unsigned char	*st_buf;	/* noted, not written */
	size_t		 st_len, st_cap;
	uint64_t	 st_size;	/* bytes in the file */
	uint64_t	 st_base;	/* its size after the last rewrite */
	uint64_t	 st_synced;	/* bytes synced (settled_sync) */
	uint64_t	 st_floor;	/* numbers below it count as settled */
	bool		 st_joining;	/* a JOINING entry, no floor after */
};

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Reads the whole file (size bytes, a multiple of 8) into st_loaded. */
static int
load(struct settled *st, uint64_t size)
{
	size_t n = (size_t)(size / 8);
	unsigned char *raw = malloc(size ? size : 1);
	ssize_t got;

	if (raw == NULL || (st->st_loaded = calloc(n ? n : 1,
	    sizeof(uint64_t))) == NULL) {
		free(raw);
		return -1;
	}
	if ((got = pread(st->st_fd, raw, size, 0)) != (ssize_t)size) {
		if (got >= 0)
			errno = EIO;
		free(raw);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t v = get_le64(raw + 8 * i);

		if (v == JOINING)
			st->st_joining = true;
		else if (v & FLOOR_BIT) {
			st->st_joining = false;
			if ((v & ~FLOOR_BIT) > st->st_floor)
				st->st_floor = v & ~FLOOR_BIT;
		}
		st->st_loaded[i] = v;
	}
	free(raw);
	qsort(st->st_loaded, n, sizeof(uint64_t), cmp_u64);
	st->st_nloaded = n;
	return 0;
}

/*
 * Makes the list of a member that joins, in dir: its JOINING entry
 * written and synced in a file of its own, renamed into place, the
 * folder synced. Until its floor follows, every start finds the member
 * joining, whatever stopped the one that made it (a failed start, a
 * kill during recovery); and no crash leaves the list without it: an
 * empty list reads as an old member's, which takes every message held.
 * Returns its descriptor, or -1.
 */
static int
make_joining(const struct settled *st, const char *dir)
{
	unsigned char v[8];
	char *tmp;
	int fd, dfd, saved;

	if (asprintf(&tmp, "%s.new", st->st_path) < 0)
		return -1;
	put_le64(v, JOINING);
	fd = open(tmp, O_RDWR | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd < 0)
		goto fail;
	errno = EIO;		/* a short write sets none */
	if (write(fd, v, sizeof(v)) != (ssize_t)sizeof(v) ||
	    fdatasync(fd) < 0 || rename(tmp, st->st_path) < 0)
		goto fail;
	free(tmp);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fsync(dfd) < 0) {
		saved = errno;
		if (dfd >= 0)
			close(dfd);
		close(fd);
		errno = saved;
		return -1;	/* settled_open's failure removes it */
	}
	close(dfd);
	return fd;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	errno = saved;
	return -1;
}

struct settled *
settled_open(const char *dir, bool joins, char *err, size_t errlen)
{
	struct settled *st = calloc(1, sizeof(*st));
	bool created = false;
	struct stat sb;

	if (st == NULL || asprintf(&st->st_path, "%s/settled.log", dir) < 0) {
		free(st);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->st_fd = open(st->st_path, O_RDWR | O_APPEND | O_CLOEXEC |
	    O_NOFOLLOW);
	if (st->st_fd < 0 && errno == ENOENT) {
		st->st_fd = joins ? make_joining(st, dir) : open(st->st_path,
		    O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		    0600);
		created = true;
	}
	if (st->st_fd < 0 || fstat(st->st_fd, &sb) < 0 ||
	    ftruncate(st->st_fd, sb.st_size & ~(off_t)7) < 0 ||
	    load(st, (uint64_t)(sb.st_size & ~(off_t)7)) < 0)
		goto fail;
	st->st_size = st->st_base = (uint64_t)(sb.st_size & ~(off_t)7);
	/* settled_sync is for the entries written from now on: a requeue
	 * syncs its own before the journal's sync of the letters. */
	st->st_synced = st->st_size;
	return st;
fail:
	snprintf(err, errlen, "%s: %s", st->st_path, strerror(errno));
	/* Made now: no member is left half made. */
	settled_close(st, created);
	return NULL;
}

bool
settled_has(const struct settled *st, uint64_t seq)
{
	return st != NULL && (seq < st->st_floor || (st->st_nloaded > 0 &&
	    bsearch(&seq, st->st_loaded, st->st_nloaded, sizeof(uint64_t),
	    cmp_u64) != NULL));
}

bool
settled_joining(const struct settled *st)
{
	return st->st_joining;
}

uint64_t
settled_floor(const struct settled *st)
{
	return st != NULL ? st->st_floor : 0;
}

uint64_t
settled_top(const struct settled *st)
{
	/* Sorted: floors and JOINING (FLOOR_BIT set) come last. */
	for (size_t i = st != NULL ? st->st_nloaded : 0; i > 0; i--)
		if (!(st->st_loaded[i - 1] & FLOOR_BIT))
			return st->st_loaded[i - 1];
	return 0;
}

int
settled_set_floor(struct settled *st, uint64_t floor, char *err,
    size_t errlen)
{
	st->st_floor = floor;
	st->st_joining = false;
	settled_note(st, FLOOR_BIT | floor);
	/* Synced, unlike the entries: lost to a power cut, the list would
	 * read as joining still, and the member take none of the messages
	 * answered OK since. */
	if (settled_flush(st, err, errlen) < 0 ||
	    settled_sync(st, err, errlen) < 0)
		return -1;
	return 0;
}

void
settled_loaded_free(struct settled *st)
{
	if (st == NULL)
		return;
	free(st->st_loaded);
	st->st_loaded = NULL;
	st->st_nloaded = 0;
}

void
settled_note(struct settled *st, uint64_t seq)
{
	if (st->st_len + 8 > st->st_cap) {
		size_t cap = st->st_cap ? st->st_cap * 2 : 4096;
		unsigned char *b = realloc(st->st_buf, cap);

		if (b == NULL)
			return;		/* one more delivery after a crash */
		st->st_buf = b;
		st->st_cap = cap;
	}
	put_le64(st->st_buf + st->st_len, seq);
	st->st_len += 8;
}

void
settled_unnote_from(struct settled *st, uint64_t seq)
{
	size_t kept = 0;

	if (st == NULL)
		return;
	for (size_t off = 0; off < st->st_len; off += 8) {
		uint64_t v = get_le64(st->st_buf + off);

		if (v < seq || (v & FLOOR_BIT)) {
			memmove(st->st_buf + kept, st->st_buf + off, 8);
			kept += 8;
		}
	}
	st->st_len = kept;
}

int
settled_flush(struct settled *st, char *err, size_t errlen)
{
	ssize_t n;

	if (st->st_len == 0)
		return 0;
	if ((n = write(st->st_fd, st->st_buf, st->st_len)) !=
	    (ssize_t)st->st_len) {
		int e = n < 0 ? errno : EIO;

		/* A part written is cut back: whole entries only. */
		if (n > 0 && ftruncate(st->st_fd, (off_t)st->st_size) < 0)
			e = errno;
		snprintf(err, errlen, "write %s: %s", st->st_path,
		    strerror(e));
		return -1;
	}
	st->st_size += st->st_len;
	st->st_len = 0;
	return 0;
}

int
settled_sync(struct settled *st, char *err, size_t errlen)
{
	if (st->st_synced == st->st_size)
		return 0;
	if (fdatasync(st->st_fd) < 0) {
		snprintf(err, errlen, "fdatasync %s: %s", st->st_path,
		    strerror(errno));
		return -1;
	}
	st->st_synced = st->st_size;
	return 0;
}

bool
settled_wants_compact(const struct settled *st)
{
	return st->st_size >= COMPACT_MIN && st->st_size >= 2 * st->st_base;
}

/* The live entries of the file, in a new buffer; NULL with errno. */
static unsigned char *
live_entries(struct settled *st, bool (*live)(void *, uint64_t), void *arg,
    size_t *len)
{
	unsigned char *raw = malloc(st->st_size ? st->st_size : 1);
	size_t kept = 0;
	ssize_t got;

	if (raw == NULL)
		return NULL;
	if ((got = pread(st->st_fd, raw, st->st_size, 0)) !=
	    (ssize_t)st->st_size) {
		if (got >= 0)
			errno = EIO;
		free(raw);
		return NULL;
	}
	for (uint64_t off = 0; off < st->st_size; off += 8) {
		uint64_t v = get_le64(raw + off);

		if (v == JOINING ? st->st_joining : v & FLOOR_BIT ?
		    v == (FLOOR_BIT | st->st_floor) : live(arg, v)) {
			memmove(raw + kept, raw + off, 8);
			kept += 8;
		}
	}
	*len = kept;
	return raw;
}

int
settled_compact(struct settled *st, bool (*live)(void *, uint64_t),
    void *arg, char *err, size_t errlen)
{
	char *tmp = NULL;
	unsigned char *keep;
	size_t len = 0;
	int fd = -1;

	if (settled_flush(st, err, errlen) < 0)
		return -1;
	if ((keep = live_entries(st, live, arg, &len)) == NULL ||
	    asprintf(&tmp, "%s.new", st->st_path) < 0 ||
	    (fd = open(tmp, O_RDWR | O_APPEND | O_CREAT | O_TRUNC |
	    O_CLOEXEC | O_NOFOLLOW, 0600)) < 0 ||
	    write(fd, keep, len) != (ssize_t)len ||
	    /* Its floor and JOINING must not be lost to a power cut that
	     * keeps the rename: the list would read as an old member's. */
	    fdatasync(fd) < 0 ||
	    rename(tmp, st->st_path) < 0) {
		snprintf(err, errlen, "rewrite %s: %s", st->st_path,
		    strerror(errno ? errno : EIO));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		free(tmp);
		free(keep);
		return -1;
	}
	close(st->st_fd);
	st->st_fd = fd;
	st->st_size = st->st_base = st->st_synced = len;
	free(tmp);
	free(keep);
	return 0;
}

void
settled_close(struct settled *st, bool drop)
{
	if (st == NULL)
		return;
	if (st->st_fd >= 0)
		close(st->st_fd);
	if (drop)
		unlink(st->st_path);
	free(st->st_path);
	free(st->st_loaded);
	free(st->st_buf);
	free(st);
}

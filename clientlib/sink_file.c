/*
 * The embedded store (MONGO_URL=file://DIR): DIR/<db>/<collection>/ holds
 * concatenated BSON documents, the format bsondump and
 * bson_reader_new_from_file() read, in two kinds of files:
 *
 *   <unit key>.bson   the documents msb_sink_add put in one unit of work
 *   <_id name>.bson   one upserted document, named after its _id
 *                     (msb__sink_id_name: i=42.bson, s=AT:2020-03-01.bson)
 *
 * A reader takes every *.bson file and skips hidden names. Unit names
 * never hold '=', _id names always do, so the two never meet.
 *
 * A unit is written to a hidden temporary file in the collection folder,
 * then fsynced and renamed to a name derived from the unit's key. rename
 * is atomic and replaces what was there, so a reader sees either the old
 * unit or the new one, a crash leaves at most a temporary file behind, and
 * a rerun of the same unit (same key) replaces its file instead of adding
 * a second copy of its documents.
 *
 * An upsert is written at once to a hidden temporary file of its own,
 * named after the _id (a second upsert of the _id in the unit overwrites
 * it: the last one wins). At commit one syncfs() makes all of the unit's
 * files durable, each is renamed over its _id's file, and one fsync of
 * the folder makes the renames durable. A reader sees each _id's old
 * document or its new one, never both, never none.
 *
 * Documents whose ids wait for the input's hash (msb_sink_hash_input) go
 * into the unit like any other; the stretch of the unit they are in is
 * remembered, and when the hash is known (at the latest at the commit,
 * before the fsync) each of their ids gets it: in the buffer, or read
 * back from the temporary file and written again, a window at a time.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mysimbdp-internal.h"

#define BUFSIZE (256 * 1024)
#define TMP_PREFIX ".unit-"
/* Writeback is started for every this many bytes of a unit written. */
#define FLUSH_AHEAD (8 * 1024 * 1024)
/* The part of a unit read back at a time to write the input's hash in. */
#define PATCH_WINDOW (1024 * 1024)

struct file_sink {
	char		*f_path;	/* DIR/db/collection, for messages */
	int		 f_dirfd;	/* the collection folder */
	int		 f_fd;		/* the unit being written, or -1 */
	char		 f_tmp[96];	/* its name in f_dirfd */
	unsigned char	*f_buf;
	size_t		 f_nbuf;
	off_t		 f_written;	/* bytes of the unit written */
	off_t		 f_flushed;	/* of them, handed to writeback */
	uint64_t	 f_ndocs;	/* documents in the current unit */
	unsigned	 f_seq;
	unsigned	 f_tag;		/* unique per sink in this process */
	struct msb__names f_upserts;	/* _id names upserted in the unit */
	uint64_t	 f_nupserts;	/* upserts in the unit, each counted */
	bool		 f_later;	/* the unit holds ids that wait: */
	off_t		 f_later_from;	/* the first such document's offset */
	off_t		 f_later_to;	/* the end of the last one */
};

static int file_add(struct msb_sink *, const bson_t *);
static int file_upsert(struct msb_sink *, const bson_t *, const char *);
static int file_commit(struct msb_sink *, const char *);
static int file_add_later(struct msb_sink *, const bson_t *);
static int file_hash_known(struct msb_sink *, const char *);
static void file_close(struct msb_sink *);

/* Tells apart the upsert files of two sinks of one process. */
static atomic_uint next_tag;

static const struct msb__sink_ops file_ops = {
	.name = "file",
	.add = file_add,
	.upsert = file_upsert,
	.commit = file_commit,
	.add_later = file_add_later,
	.hash_known = file_hash_known,
	.set_write_concern = NULL,
	.close = file_close,
};

/* mkdir -p; folders are created 0750 (the umask may take more away). */
static int
mkdirs(const char *path)
{
	char *p, *s;
	int rc = 0;

	if ((p = strdup(path)) == NULL)
		return -1;
	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0750) == -1 && errno != EEXIST) {
			rc = -1;
			break;
		}
		*s = '/';
	}
	if (rc == 0 && mkdir(p, 0750) == -1 && errno != EEXIST)
		rc = -1;
	if (rc == -1) {
		int saved = errno;

		free(p);
		errno = saved;
		return -1;
	}
	free(p);
	return 0;
}

/*
 * Opens (creating it if needed) the folder name inside dirfd. Symbolic
 * links are not followed: the store's own folders are never links.
 */
static int
subdir(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0750) == -1 && errno != EEXIST)
		return -1;
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
}

/*
 * Removes the temporary files of writers that died (their pid is gone).
 * Files of live writers, including other instances writing the same
 * collection now, are left alone.
 */
static void
sweep(int dirfd)
{
	DIR *d;
	struct dirent *de;
	int fd;

	if ((fd = dup(dirfd)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		const char *s = de->d_name + strlen(TMP_PREFIX);
		char *end;
		long pid;

		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0)
			continue;
		errno = 0;
		pid = strtol(s, &end, 10);
		if (errno != 0 || end == s || *end != '-' || pid <= 0)
			continue;
		if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
			unlinkat(dirfd, de->d_name, 0);
	}
	closedir(d);
}

int
msb__sink_file_open(struct msb_sink *sink, const char *dir, const char *db,
    const char *collection, char *err, size_t errlen)
{
	struct file_sink *f;
	int topfd = -1, dbfd = -1, e = 0;

	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->f_buf = malloc(BUFSIZE)) == NULL ||
	    asprintf(&f->f_path, "%s/%s/%s", dir, db, collection) == -1) {
		if (f != NULL)
			free(f->f_buf);
		free(f);
		msb__seterr(err, errlen, "file store: out of memory");
		return MSB_TEMPFAIL;
	}
	f->f_fd = -1;
	f->f_dirfd = -1;
	f->f_tag = atomic_fetch_add(&next_tag, 1);

	if (mkdirs(dir) == -1 || (topfd = open(dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		e = errno;
		msb__seterr(err, errlen, "file store: %s: %s", dir,
		    strerror(e));
		goto fail;
	}
	if ((dbfd = subdir(topfd, db)) == -1) {
		e = errno;
		msb__seterr(err, errlen, "file store: %s/%s: %s", dir, db,
		    strerror(e));
		goto fail;
	}
	if ((f->f_dirfd = subdir(dbfd, collection)) == -1) {
		e = errno;
		msb__seterr(err, errlen, "file store: %s: %s", f->f_path,
		    strerror(e));
		goto fail;
	}
	close(topfd);
	close(dbfd);
	sweep(f->f_dirfd);
	sink->s_ops = &file_ops;
	sink->s_impl = f;
	return MSB_OK;

fail:
	if (topfd != -1)
		close(topfd);
	if (dbfd != -1)
		close(dbfd);
	free(f->f_buf);
	free(f->f_path);
	free(f);
	return msb__errno_rc(e);
}

/* Starts the current unit's temporary file. */
static int
start_unit(struct msb_sink *sink, struct file_sink *f)
{
	struct timespec ts;

	for (int tries = 0; tries < 100; tries++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(f->f_tmp, sizeof(f->f_tmp),
		    TMP_PREFIX "%ld-%u-%lx.tmp", (long)getpid(), f->f_seq++,
		    (unsigned long)ts.tv_nsec);
		/* Read too: ids that wait for a hash are written in. */
		f->f_fd = openat(f->f_dirfd, f->f_tmp, O_RDWR | O_CREAT |
		    O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
		if (f->f_fd != -1 || errno != EEXIST)
			break;
	}
	if (f->f_fd == -1)
		return msb__sink_fail(sink, msb__errno_rc(errno),
		    "file store: %s: create: %s", f->f_path, strerror(errno));
	f->f_nbuf = 0;
	f->f_written = f->f_flushed = 0;
	f->f_ndocs = 0;
	f->f_later = false;
	return MSB_OK;
}

int
msb__write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
write_failed(struct msb_sink *sink, struct file_sink *f, const char *what)
{
	int e = errno;

	return msb__sink_fail(sink, msb__errno_rc(e), "file store: %s/%s: "
	    "%s: %s", f->f_path, f->f_tmp, what, strerror(e));
}

/*
 * Writes len bytes to the unit. Every FLUSH_AHEAD bytes the kernel is
 * asked to start writing them to the disk (not to wait): the commit's
 * fsync then waits only for the last of them instead of for all of a
 * large unit (0.35 s of a 3 s load of 460 MB of BSON, measured), so the
 * disk works while the app goes on. The fsync is still what makes the
 * unit durable and reports errors.
 */
static int
unit_write(struct msb_sink *sink, struct file_sink *f, const void *data,
    size_t len)
{
	if (msb__write_all(f->f_fd, data, len) == -1)
		return write_failed(sink, f, "write");
	f->f_written += (off_t)len;
	if (f->f_written - f->f_flushed >= FLUSH_AHEAD) {
		(void)sync_file_range(f->f_fd, f->f_flushed,
		    f->f_written - f->f_flushed, SYNC_FILE_RANGE_WRITE);
		f->f_flushed = f->f_written;
	}
	return MSB_OK;
}

static int
flush_buf(struct msb_sink *sink, struct file_sink *f)
{
	int rc;

	if (f->f_nbuf > 0 && (rc = unit_write(sink, f, f->f_buf, f->f_nbuf)) !=
	    MSB_OK)
		return rc;
	f->f_nbuf = 0;
	return MSB_OK;
}

/* A document's bytes in the order they are stored: at most 4 pieces. */
struct id_first {
	const uint8_t	*i_data[4];
	size_t		 i_len[4];
	int		 i_n;
};

/*
 * The document's bytes with its _id first, as MongoDB stores a document
 * (every document stored has one: add gives one, upsert needs one): its
 * length, the _id element, the elements before it, those after it and
 * the final NUL. One piece when the _id is first already, as the
 * platform's ids are.
 */
static void
id_first(const bson_t *doc, struct id_first *out)
{
	const uint8_t *data = bson_get_data(doc);
	bson_iter_t it, next;
	size_t at, end;

	out->i_data[0] = data;
	out->i_len[0] = doc->len;
	out->i_n = 1;
	if (!bson_iter_init_find(&it, doc, "_id") ||
	    (at = bson_iter_offset(&it)) == 4)
		return;
	next = it;
	end = bson_iter_next(&next) ? bson_iter_offset(&next) : doc->len - 1;
	out->i_len[0] = 4;
	out->i_data[1] = data + at;
	out->i_len[1] = end - at;
	out->i_data[2] = data + 4;
	out->i_len[2] = at - 4;
	out->i_data[3] = data + end;
	out->i_len[3] = doc->len - end;
	out->i_n = 4;
}

static int
file_add(struct msb_sink *sink, const bson_t *doc)
{
	struct file_sink *f = sink->s_impl;
	struct id_first pc;
	int rc;

	if (f->f_fd == -1 && (rc = start_unit(sink, f)) != MSB_OK)
		return rc;
	if (f->f_nbuf + doc->len > BUFSIZE &&
	    (rc = flush_buf(sink, f)) != MSB_OK)
		return rc;
	id_first(doc, &pc);
	for (int i = 0; i < pc.i_n; i++) {
		if (doc->len > BUFSIZE) {
			if ((rc = unit_write(sink, f, pc.i_data[i],
			    pc.i_len[i])) != MSB_OK)
				return rc;
		} else {
			memcpy(f->f_buf + f->f_nbuf, pc.i_data[i],
			    pc.i_len[i]);
			f->f_nbuf += pc.i_len[i];
		}
	}
	f->f_ndocs++;
	return MSB_OK;
}

/* add, of a document whose _id (first) waits for the input's hash. */
static int
file_add_later(struct msb_sink *sink, const bson_t *doc)
{
	struct file_sink *f = sink->s_impl;
	off_t at;
	int rc;

	if (f->f_fd == -1 && (rc = start_unit(sink, f)) != MSB_OK)
		return rc;
	at = f->f_written + (off_t)f->f_nbuf;
	if ((rc = file_add(sink, doc)) != MSB_OK)
		return rc;
	if (!f->f_later) {
		f->f_later = true;
		f->f_later_from = at;
	}
	f->f_later_to = f->f_written + (off_t)f->f_nbuf;
	return MSB_OK;
}

/* A stretch of the unit's temporary file, read back to be written in. */
struct window {
	uint8_t		*w_buf;
	off_t		 w_off;
	size_t		 w_len;
	bool		 w_dirty;
};

static int
pio_all(int fd, uint8_t *buf, size_t len, off_t off, bool writing)
{
	while (len > 0) {
		ssize_t n = writing ? pwrite(fd, buf, len, off) :
		    pread(fd, buf, len, off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EIO;	/* the file is shorter than written */
		if (n <= 0)
			return -1;
		buf += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes back what the window holds if it was written into. */
static int
window_put(struct msb_sink *sink, struct file_sink *f, struct window *w)
{
	if (w->w_dirty && pio_all(f->f_fd, w->w_buf, w->w_len, w->w_off,
	    true) == -1)
		return write_failed(sink, f, "write");
	w->w_dirty = false;
	return MSB_OK;
}

/*
 * Makes the window hold [at, at + n) of the file (every document in the
 * file ends before f_written, so a head of n bytes is there) and points
 * *p at at. Returns MSB_OK, or a failure recorded on the sink.
 */
static int
window_at(struct msb_sink *sink, struct file_sink *f, struct window *w,
    off_t at, size_t n, uint8_t **p)
{
	int rc;

	if (at < w->w_off || at + (off_t)n > w->w_off + (off_t)w->w_len) {
		if ((rc = window_put(sink, f, w)) != MSB_OK)
			return rc;
		w->w_off = at;
		w->w_len = f->f_written - at < PATCH_WINDOW ?
		    (size_t)(f->f_written - at) : PATCH_WINDOW;
		if (pio_all(f->f_fd, w->w_buf, w->w_len, at, false) == -1)
			return write_failed(sink, f, "read back");
	}
	*p = w->w_buf + (at - w->w_off);
	return MSB_OK;
}

/* Writes the hash into the document at p (len bytes, at least its head
 * there) if its id waits for it; returns whether it did. */
static bool
patch_doc(uint8_t *p, size_t len, const char *hash)
{
	if (!msb__first_id_later(p, len))
		return false;
	msb__id_patch((char *)p + MSB__ID_AT, hash);
	return true;
}

static uint32_t
doc_len(const uint8_t *p)
{
	uint32_t n;

	memcpy(&n, p, sizeof(n));
	return BSON_UINT32_FROM_LE(n);
}

/*
 * The hash is known: every id of the unit that waits for it gets it, a
 * document at a time from the first of them: those still in the buffer
 * there, those written already read back a window at a time.
 */
static int
file_hash_known(struct msb_sink *sink, const char *hash)
{
	struct file_sink *f = sink->s_impl;
	struct window w = { 0 };
	off_t at = f->f_later_from;
	uint32_t len;
	uint8_t *p = NULL;
	int rc = MSB_OK;

	if (!f->f_later)
		return MSB_OK;
	f->f_later = false;
	if (at < f->f_written && (w.w_buf = malloc(PATCH_WINDOW)) == NULL)
		return msb__sink_fail(sink, MSB_TEMPFAIL, "out of memory");
	for (; at < f->f_later_to && rc == MSB_OK; at += len) {
		if (at >= f->f_written) {
			p = f->f_buf + (at - f->f_written);
			len = doc_len(p);
			(void)patch_doc(p, len, hash);
			continue;
		}
		if ((rc = window_at(sink, f, &w, at, 4, &p)) != MSB_OK)
			break;
		/* What this sink wrote, unless the file was written to. */
		if ((len = doc_len(p)) < 5 || at + len > f->f_written) {
			errno = EIO;
			rc = write_failed(sink, f, "read back: not the "
			    "documents written");
			break;
		}
		if ((rc = window_at(sink, f, &w, at, len < MSB__ID_HEAD ?
		    len : MSB__ID_HEAD, &p)) == MSB_OK && patch_doc(p, len,
		    hash))
			w.w_dirty = true;
	}
	if (rc == MSB_OK)
		rc = window_put(sink, f, &w);
	free(w.w_buf);
	return rc;
}

/*
 * The temporary file of an upserted _id. It is named after the _id, so a
 * second upsert of it in the unit finds and overwrites it, and starts like
 * a unit's temporary file, so sweep() removes it when its writer dies.
 */
static void
upsert_tmp(const struct file_sink *f, const char *name, char *out,
    size_t outlen)
{
	snprintf(out, outlen, TMP_PREFIX "%ld-k%u-%s", (long)getpid(),
	    f->f_tag, name);
}

static int
file_upsert(struct msb_sink *sink, const bson_t *doc, const char *name)
{
	struct file_sink *f = sink->s_impl;
	char tmp[MSB__ID_NAME_SIZE + 48];
	struct id_first pc;
	int fd, e = 0;

	upsert_tmp(f, name, tmp, sizeof(tmp));
	fd = openat(f->f_dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0640);
	if (fd == -1)
		e = errno;
	else {
		id_first(doc, &pc);
		for (int i = 0; i < pc.i_n && e == 0; i++)
			if (msb__write_all(fd, pc.i_data[i], pc.i_len[i]) == -1)
				e = errno;
		if (close(fd) == -1 && e == 0)
			e = errno;
	}
	if (e != 0) {
		/* Whatever it holds now is not the document: drop it. */
		unlinkat(f->f_dirfd, tmp, 0);
		return msb__sink_fail(sink, msb__errno_rc(e), "file store: "
		    "%s/%s: write: %s", f->f_path, tmp, strerror(e));
	}
	if (msb__names_add(&f->f_upserts, name) == -1) {
		unlinkat(f->f_dirfd, tmp, 0);
		return msb__sink_fail(sink, MSB_TEMPFAIL, "file store: out of "
		    "memory");
	}
	f->f_nupserts++;
	return MSB_OK;
}

/* The length of the tail a hashed unit name ends in: '-', 16 hex. */
#define HASH_TAIL 17

/*
 * Whether the plain key has the shape of a hashed name: it ends in '-'
 * and 16 lowercase hex digits, as unit_name's hashed names all do.
 */
static bool
hashed_shape(const char *key, size_t n)
{
	return n >= HASH_TAIL && key[n - HASH_TAIL] == '-' &&
	    strspn(key + n - HASH_TAIL + 1, "0123456789abcdef") ==
	    HASH_TAIL - 1;
}

/*
 * The file name of a unit: the key itself when it is a plain name (a
 * content hash is), otherwise its plain characters followed by '-' and
 * a hash of the key, so two different keys never share a file. Every
 * hashed name ends in '-' and 16 hex digits, and no plain name does: a
 * key of that shape is hashed too, or it would be the name of another
 * key's file (a 200-character key's, say).
 */
static void
unit_name(const char *key, char *out, size_t outlen)
{
	size_t n = strlen(key);
	char hex[MSB_HASH_HEX_SIZE];

	if (n > 0 && n <= MSB__PLAIN_MAX && key[0] != '.' &&
	    strspn(key, msb__sink_plain) == n && !hashed_shape(key, n)) {
		snprintf(out, outlen, "%s.bson", key);
		return;
	}
	msb_sha256_hex(key, n, hex);
	hex[HASH_TAIL - 1] = '\0';
	snprintf(out, outlen, "%.*s", 64, key);
	for (char *p = out; *p; p++)
		if (strchr(msb__sink_plain, *p) == NULL)
			*p = '_';
	if (out[0] == '.')
		out[0] = '_';
	snprintf(out + strlen(out), outlen - strlen(out), "-%s.bson", hex);
}

/* Drops the unit: its temporary file and those of its upserts. */
static void
discard_unit(struct file_sink *f)
{
	char tmp[MSB__ID_NAME_SIZE + 48];

	if (f->f_fd != -1) {
		close(f->f_fd);
		f->f_fd = -1;
		unlinkat(f->f_dirfd, f->f_tmp, 0);
	}
	f->f_nbuf = 0;
	f->f_ndocs = 0;
	f->f_nupserts = 0;
	f->f_later = false;
	for (size_t i = 0; i < f->f_upserts.n_cap; i++) {
		if (f->f_upserts.n_slots[i] == NULL)
			continue;
		upsert_tmp(f, f->f_upserts.n_slots[i], tmp, sizeof(tmp));
		unlinkat(f->f_dirfd, tmp, 0);
	}
	msb__names_clear(&f->f_upserts);
}

/* Renames each upsert of the unit over its _id's file. */
static int
publish_upserts(struct msb_sink *sink, struct file_sink *f)
{
	char tmp[MSB__ID_NAME_SIZE + 48];
	const char *name;
	int e;

	for (size_t i = 0; i < f->f_upserts.n_cap; i++) {
		if ((name = f->f_upserts.n_slots[i]) == NULL)
			continue;
		upsert_tmp(f, name, tmp, sizeof(tmp));
		if (renameat(f->f_dirfd, tmp, f->f_dirfd, name) == -1) {
			e = errno;
			return msb__sink_fail(sink, msb__errno_rc(e), "file "
			    "store: %s/%s: rename: %s", f->f_path, name,
			    strerror(e));
		}
	}
	return MSB_OK;
}

static int
file_commit(struct msb_sink *sink, const char *unit_key)
{
	struct file_sink *f = sink->s_impl;
	char name[MSB__PLAIN_MAX + 64];
	struct timespec ts;
	size_t nupserts = f->f_upserts.n_count;
	bool unit_file = f->f_fd != -1 || unit_key != NULL;
	bool rerun = false;
	int rc, e;

	if (!unit_file && nupserts == 0)
		return MSB_OK;	/* nothing added, nothing to name */
	if (unit_file) {
		if (unit_key != NULL)
			unit_name(unit_key, name, sizeof(name));
		else {
			clock_gettime(CLOCK_REALTIME, &ts);
			snprintf(name, sizeof(name), "unit-%lld%09ld-%ld-%u"
			    ".bson", (long long)ts.tv_sec, ts.tv_nsec,
			    (long)getpid(), f->f_seq++);
		}
		/* An empty unit still replaces an earlier run's file. */
		if ((f->f_fd == -1 && (rc = start_unit(sink, f)) != MSB_OK) ||
		    (rc = flush_buf(sink, f)) != MSB_OK)
			goto fail;
	}
	/*
	 * The data first: a rename made durable before the data it names
	 * would show an empty or torn file after a crash. A lone unit file
	 * takes one fsync; with upserts, one syncfs covers all the unit's
	 * files, where an fsync each would cost a journal commit per
	 * document.
	 */
	if (nupserts > 0 ? syncfs(f->f_dirfd) == -1 : fsync(f->f_fd) == -1) {
		e = errno;
		rc = msb__sink_fail(sink, msb__errno_rc(e), "file store: %s: "
		    "%s: %s", f->f_path, nupserts > 0 ? "syncfs" : "fsync",
		    strerror(e));
		goto fail;
	}
	if (unit_file) {
		const char *what = "close";

		e = close(f->f_fd) == -1 ? errno : 0;
		f->f_fd = -1;
		/* A named unit that is there already is an earlier run of
		 * the same input: its documents were stored then, as a
		 * rerun's duplicate _ids are in MongoDB. */
		rerun = unit_key != NULL && faccessat(f->f_dirfd, name, F_OK,
		    AT_SYMLINK_NOFOLLOW) == 0;
		if (e == 0 && renameat(f->f_dirfd, f->f_tmp, f->f_dirfd,
		    name) == -1) {
			e = errno;
			what = "rename";
		}
		if (e != 0) {
			unlinkat(f->f_dirfd, f->f_tmp, 0);
			rc = msb__sink_fail(sink, msb__errno_rc(e), "file "
			    "store: %s/%s: %s: %s", f->f_path, name, what,
			    strerror(e));
			goto fail;
		}
	}
	if ((rc = publish_upserts(sink, f)) != MSB_OK)
		goto fail;
	msb__names_clear(&f->f_upserts);
	/* The renames themselves are durable once the folder is synced. */
	if (fsync(f->f_dirfd) == -1) {
		e = errno;
		return msb__sink_fail(sink, msb__errno_rc(e), "file store: "
		    "%s: fsync: %s", f->f_path, strerror(e));
	}
	if (rerun)
		sink->s_stats.already_present += f->f_ndocs;
	else
		sink->s_stats.inserted += f->f_ndocs;
	/*
	 * Every upsert counts, as in MongoDB, which writes an _id upserted
	 * twice in a unit twice; here the second overwrote the first before
	 * the commit. Either way each was applied, the last one stays, and
	 * added = inserted + already_present + rejected holds.
	 */
	sink->s_stats.inserted += f->f_nupserts;
	f->f_nupserts = 0;
	f->f_ndocs = 0;
	return MSB_OK;

fail:
	discard_unit(f);
	return rc;
}

static void
file_close(struct msb_sink *sink)
{
	struct file_sink *f = sink->s_impl;

	discard_unit(f);
	msb__names_free(&f->f_upserts);
	if (f->f_dirfd != -1)
		close(f->f_dirfd);
	free(f->f_buf);
	free(f->f_path);
	free(f);
}

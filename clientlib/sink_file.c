/*
 * The embedded store (MONGO_URL=file://DIR): DIR/<db>/<collection>/ holds
 * one file per unit of work, the unit's documents as concatenated BSON,
 * the format bsondump and bson_reader_new_from_file() read.
 *
 * A unit is written to a hidden temporary file in the collection folder,
 * then fsynced and renamed to a name derived from the unit's key. rename
 * is atomic and replaces what was there, so a reader sees either the old
 * unit or the new one, a crash leaves at most a temporary file behind, and
 * a rerun of the same unit (same key) replaces its file instead of adding
 * a second copy of its documents.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mysimbdp-internal.h"

#define BUFSIZE (256 * 1024)
#define TMP_PREFIX ".unit-"
#define KEY_MAX 160

struct file_sink {
	char		*f_path;	/* DIR/db/collection, for messages */
	int		 f_dirfd;	/* the collection folder */
	int		 f_fd;		/* the unit being written, or -1 */
	char		 f_tmp[96];	/* its name in f_dirfd */
	unsigned char	*f_buf;
	size_t		 f_nbuf;
	uint64_t	 f_ndocs;	/* documents in the current unit */
	unsigned	 f_seq;
};

static int file_add(struct msb_sink *, const bson_t *);
static int file_commit(struct msb_sink *, const char *);
static void file_close(struct msb_sink *);

static const struct msb__sink_ops file_ops = {
	.name = "file",
	.add = file_add,
	.commit = file_commit,
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
		f->f_fd = openat(f->f_dirfd, f->f_tmp, O_WRONLY | O_CREAT |
		    O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
		if (f->f_fd != -1 || errno != EEXIST)
			break;
	}
	if (f->f_fd == -1)
		return msb__sink_fail(sink, msb__errno_rc(errno),
		    "file store: %s: create: %s", f->f_path, strerror(errno));
	f->f_nbuf = 0;
	f->f_ndocs = 0;
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

static int
flush_buf(struct msb_sink *sink, struct file_sink *f)
{
	if (f->f_nbuf > 0 && msb__write_all(f->f_fd, f->f_buf, f->f_nbuf) == -1)
		return write_failed(sink, f, "write");
	f->f_nbuf = 0;
	return MSB_OK;
}

static int
file_add(struct msb_sink *sink, const bson_t *doc)
{
	struct file_sink *f = sink->s_impl;
	const uint8_t *data = bson_get_data(doc);
	int rc;

	if (f->f_fd == -1 && (rc = start_unit(sink, f)) != MSB_OK)
		return rc;
	if (f->f_nbuf + doc->len > BUFSIZE &&
	    (rc = flush_buf(sink, f)) != MSB_OK)
		return rc;
	if (doc->len > BUFSIZE) {
		if (msb__write_all(f->f_fd, data, doc->len) == -1)
			return write_failed(sink, f, "write");
	} else {
		memcpy(f->f_buf + f->f_nbuf, data, doc->len);
		f->f_nbuf += doc->len;
	}
	f->f_ndocs++;
	return MSB_OK;
}

/*
 * The file name of a unit: the key itself when it is a plain name (a
 * content hash is), otherwise its plain characters followed by a hash of
 * the key, so two different keys never share a file.
 */
static void
unit_name(const char *key, char *out, size_t outlen)
{
	static const char plain[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-";
	size_t n = strlen(key);
	char hex[MSB_HASH_HEX_SIZE];

	if (n > 0 && n <= KEY_MAX && key[0] != '.' && strspn(key, plain) == n) {
		snprintf(out, outlen, "%s.bson", key);
		return;
	}
	msb_sha256_hex(key, n, hex);
	hex[16] = '\0';
	snprintf(out, outlen, "%.*s", 64, key);
	for (char *p = out; *p; p++)
		if (strchr(plain, *p) == NULL)
			*p = '_';
	if (out[0] == '.')
		out[0] = '_';
	snprintf(out + strlen(out), outlen - strlen(out), "-%s.bson", hex);
}

static void
discard_unit(struct file_sink *f)
{
	if (f->f_fd == -1)
		return;
	close(f->f_fd);
	f->f_fd = -1;
	unlinkat(f->f_dirfd, f->f_tmp, 0);
	f->f_nbuf = 0;
	f->f_ndocs = 0;
}

static int
file_commit(struct msb_sink *sink, const char *unit_key)
{
	struct file_sink *f = sink->s_impl;
	char name[KEY_MAX + 64];
	struct timespec ts;
	int rc;

	if (unit_key == NULL) {
		if (f->f_fd == -1)
			return MSB_OK;	/* nothing added, nothing to name */
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(name, sizeof(name), "unit-%lld%09ld-%ld-%u.bson",
		    (long long)ts.tv_sec, ts.tv_nsec, (long)getpid(),
		    f->f_seq++);
	} else
		unit_name(unit_key, name, sizeof(name));

	/* An empty unit still replaces an earlier run's file. */
	if (f->f_fd == -1 && (rc = start_unit(sink, f)) != MSB_OK)
		return rc;
	if ((rc = flush_buf(sink, f)) != MSB_OK) {
		discard_unit(f);
		return rc;
	}
	if (fsync(f->f_fd) == -1) {
		rc = write_failed(sink, f, "fsync");
		discard_unit(f);
		return rc;
	}
	if (close(f->f_fd) == -1) {
		f->f_fd = -1;
		rc = write_failed(sink, f, "close");
		unlinkat(f->f_dirfd, f->f_tmp, 0);
		return rc;
	}
	f->f_fd = -1;
	if (renameat(f->f_dirfd, f->f_tmp, f->f_dirfd, name) == -1) {
		int e = errno;

		unlinkat(f->f_dirfd, f->f_tmp, 0);
		return msb__sink_fail(sink, msb__errno_rc(e), "file store: "
		    "%s/%s: rename: %s", f->f_path, name, strerror(e));
	}
	/* The rename itself is durable once the folder is synced. */
	if (fsync(f->f_dirfd) == -1) {
		int e = errno;

		return msb__sink_fail(sink, msb__errno_rc(e), "file store: "
		    "%s: fsync: %s", f->f_path, strerror(e));
	}
	sink->s_stats.inserted += f->f_ndocs;
	f->f_ndocs = 0;
	return MSB_OK;
}

static void
file_close(struct msb_sink *sink)
{
	struct file_sink *f = sink->s_impl;

	discard_unit(f);
	if (f->f_dirfd != -1)
		close(f->f_dirfd);
	free(f->f_buf);
	free(f->f_path);
	free(f);
}

#include "instnum.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_NAME "instances"
/* "%010u\n": every unsigned fits, so every record is this long. */
#define RECORD_LEN 11

static char *
path_of(const struct instnum *in, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", in->in_dir, name) == -1)
		return NULL;
	return p;
}

/*
 * Reads path: 0 with *limit, 1 when it reserves nothing (no file, or an
 * empty one), or -1 with err.
 */
static int
read_limit(const char *path, unsigned *limit, char *err, size_t errlen)
{
	char buf[32], *end;
	unsigned long v;
	ssize_t n;
	int fd;

	*limit = 1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	/* Empty: made at open and cut off by a crash (make()); no other
	 * write leaves the file so. */
	if (n == 0)
		return 1;
	buf[n > 0 ? n : 0] = '\0';
	errno = 0;
	/* Base 10: the fixed width's leading zeros are not octal. */
	v = strtoul(buf, &end, 10);
	if (n < 0 || end == buf || (*end != '\n' && *end != '\0') ||
	    errno != 0 || v == 0 || v > UINT_MAX - INSTNUM_BLOCK) {
		snprintf(err, errlen, "%s: not a number of instances: \"%.20s\"",
		    path, buf);
		return -1;
	}
	*limit = (unsigned)v;
	return 0;
}

/*
 * Makes the file, of the fixed width, reserving nothing: a full disk
 * later finds a file to overwrite in place. Not fsynced, as it costs a
 * first start of many streams dearly and reserves nothing: a crash
 * leaves none, an empty one or this one, all read as nothing reserved.
 * The first block reserved is durable, whichever way it is written. A
 * disk with no room now leaves no file, as before.
 */
static void
make(struct instnum *in, const char *path)
{
	char line[RECORD_LEN + 1];
	int fd;

	(void)unlink(path);	/* an empty one */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1)
		return;
	snprintf(line, sizeof(line), "%010u\n", in->in_limit);
	if (write(fd, line, RECORD_LEN) != RECORD_LEN)
		(void)unlink(path);
	close(fd);
}

int
instnum_open(struct instnum *in, const char *dir, char *err, size_t errlen)
{
	char *path;
	int rc;

	memset(in, 0, sizeof(*in));
	in->in_next = in->in_limit = 1;
	if ((in->in_dir = strdup(dir)) == NULL ||
	    (path = path_of(in, FILE_NAME)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", dir);
		return -1;
	}
	if ((rc = read_limit(path, &in->in_limit, err, errlen)) == 1)
		make(in, path);
	in->in_next = in->in_limit;
	free(path);
	return rc == -1 ? -1 : 0;
}

/* Neither a new file nor a longer one fits: the file may be rewritten. */
static bool
no_room(int e)
{
	return e == ENOSPC || e == EDQUOT;
}

/*
 * Writes line as a new file renamed over the old one. Returns 0, or -1
 * with err and *room false when it failed for want of room before the
 * rename (the old file is as it was).
 */
static int
replace(struct instnum *in, const char *line, bool *room, char *err,
    size_t errlen)
{
	char *tmp = path_of(in, "." FILE_NAME ".new");
	char *path = path_of(in, FILE_NAME);
	int fd = -1, dfd = -1, rc = -1, e;
	const char *what = "open";
	ssize_t n;

	*room = true;
	if (tmp == NULL || path == NULL) {
		snprintf(err, errlen, "%s: out of memory", in->in_dir);
		goto out;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1)
		goto fail;
	what = "write";
	if ((n = write(fd, line, RECORD_LEN)) != RECORD_LEN) {
		/* A regular file is written short for want of room. */
		if (n >= 0)
			errno = ENOSPC;
		goto fail;
	}
	what = "fsync";
	if (fsync(fd) == -1)
		goto fail;
	what = "rename";
	if (rename(tmp, path) == -1)
		goto fail;
	/* Renamed: the old file is gone, what is left is to make the new
	 * name durable, and an in-place write could not stand for it. */
	what = "fsync of the folder";
	if ((dfd = open(in->in_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1 || fsync(dfd) == -1) {
		snprintf(err, errlen, "%s: %s: %s", path, what,
		    strerror(errno));
		goto out;
	}
	rc = 0;
	goto out;
fail:
	e = errno;
	*room = !no_room(e);
	snprintf(err, errlen, "%s: %s: %s", path, what, strerror(e));
	if (fd != -1)
		(void)unlink(tmp);	/* it may hold the disk's last pages */
out:
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	free(tmp);
	free(path);
	return rc;
}

/* Overwrites the file's fixed-width record with line. -1 with err. */
static int
overwrite(struct instnum *in, const char *line, char *err, size_t errlen)
{
	char *path = path_of(in, FILE_NAME);
	const char *what = "open";
	struct stat st;
	int fd = -1, dfd = -1, rc = -1;
	ssize_t n;

	if (path == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		goto fail;
	what = "fstat";
	if (fstat(fd, &st) == -1)
		goto fail;
	/* Another size would change with the write: not in place. */
	if (!S_ISREG(st.st_mode) || st.st_size != RECORD_LEN) {
		snprintf(err, errlen, "not of the fixed width (%d bytes): "
		    "written by an older streammgr", RECORD_LEN);
		goto out;
	}
	what = "write";
	if ((n = pwrite(fd, line, RECORD_LEN, 0)) != RECORD_LEN) {
		if (n >= 0)
			errno = ENOSPC;
		goto fail;
	}
	what = "fdatasync";
	if (fdatasync(fd) == -1)
		goto fail;
	/* The name may be a rename whose folder's fsync failed: were it
	 * lost, a crash would bring back the file it replaced. */
	what = "fsync of the folder";
	if ((dfd = open(in->in_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1 || fsync(dfd) == -1)
		goto fail;
	rc = 0;
	goto out;
fail:
	snprintf(err, errlen, "%s: %s", what, strerror(errno));
out:
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	free(path);
	return rc;
}

/*
 * Writes limit to the file durably. Returns 0; 1 when it was written in
 * place, err saying why a new file was not; -1 with err.
 */
static int
reserve(struct instnum *in, unsigned limit, char *err, size_t errlen)
{
	char line[RECORD_LEN + 1], why[128];
	size_t len;
	bool room;

	snprintf(line, sizeof(line), "%010u\n", limit);
	if (replace(in, line, &room, err, errlen) == 0)
		return 0;
	if (room)
		return -1;
	if (overwrite(in, line, why, sizeof(why)) == -1) {
		len = strlen(err);
		snprintf(err + len, errlen - len, "; nor in place: %s", why);
		return -1;
	}
	return 1;
}

int
instnum_next(struct instnum *in, unsigned *num, char *err, size_t errlen)
{
	int rc = 0;

	if (in->in_next == in->in_limit) {
		if (in->in_limit > UINT_MAX - INSTNUM_BLOCK) {
			snprintf(err, errlen, "%s: instance numbers used up",
			    in->in_dir);
			return -1;
		}
		if ((rc = reserve(in, in->in_limit + INSTNUM_BLOCK, err,
		    errlen)) == -1)
			return -1;
		in->in_limit += INSTNUM_BLOCK;
	}
	*num = in->in_next++;
	return rc;
}

void
instnum_close(struct instnum *in)
{
	free(in->in_dir);
	in->in_dir = NULL;
}

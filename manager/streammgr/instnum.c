#include "instnum.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILE_NAME "instances"

static char *
path_of(const struct instnum *in, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", in->in_dir, name) == -1)
		return NULL;
	return p;
}

int
instnum_open(struct instnum *in, const char *dir, char *err, size_t errlen)
{
	char buf[32], *end, *path;
	unsigned long v;
	ssize_t n;
	int fd, rc = 0;

	memset(in, 0, sizeof(*in));
	in->in_next = in->in_limit = 1;
	if ((in->in_dir = strdup(dir)) == NULL ||
	    (path = path_of(in, FILE_NAME)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", dir);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			rc = -1;
		}
		free(path);
		return rc;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (n <= 0 || end == buf || (*end != '\n' && *end != '\0') ||
	    errno != 0 || v == 0 || v > UINT_MAX - INSTNUM_BLOCK) {
		snprintf(err, errlen, "%s: not a number of instances: \"%.20s\"",
		    path, buf);
		rc = -1;
	} else
		in->in_next = in->in_limit = (unsigned)v;
	free(path);
	return rc;
}

/* Writes limit to the file durably. */
static int
reserve(struct instnum *in, unsigned limit, char *err, size_t errlen)
{
	char *tmp = path_of(in, "." FILE_NAME ".new");
	char *path = path_of(in, FILE_NAME);
	char line[16];
	int fd = -1, dfd = -1, len, rc = -1;
	const char *what = "open";

	if (tmp == NULL || path == NULL) {
		snprintf(err, errlen, "%s: out of memory", in->in_dir);
		goto out;
	}
	len = snprintf(line, sizeof(line), "%u\n", limit);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1)
		goto fail;
	what = "write";
	if (write(fd, line, (size_t)len) != len)
		goto fail;
	what = "fsync";
	if (fsync(fd) == -1)
		goto fail;
	what = "rename";
	if (rename(tmp, path) == -1)
		goto fail;
	what = "fsync of the folder";
	if ((dfd = open(in->in_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1 || fsync(dfd) == -1)
		goto fail;
	rc = 0;
	goto out;
fail:
	snprintf(err, errlen, "%s: %s: %s", path, what,
	    errno ? strerror(errno) : "short write");
out:
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	free(tmp);
	free(path);
	return rc;
}

int
instnum_next(struct instnum *in, unsigned *num, char *err, size_t errlen)
{
	if (in->in_next == in->in_limit) {
		if (in->in_limit > UINT_MAX - INSTNUM_BLOCK) {
			snprintf(err, errlen, "%s: instance numbers used up",
			    in->in_dir);
			return -1;
		}
		if (reserve(in, in->in_limit + INSTNUM_BLOCK, err,
		    errlen) == -1)
			return -1;
		in->in_limit += INSTNUM_BLOCK;
	}
	*num = in->in_next++;
	return 0;
}

void
instnum_close(struct instnum *in)
{
	free(in->in_dir);
	in->in_dir = NULL;
}

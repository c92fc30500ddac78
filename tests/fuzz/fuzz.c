#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bson/bson.h>

static char tmpdir[PATH_MAX];

void
fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: invariant broken: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void
remove_tmpdir(void)
{
	fuzz_empty_dir(tmpdir);
	rmdir(tmpdir);
}

const char *
fuzz_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (tmpdir[0] != '\0')
		return tmpdir;
	snprintf(tmpdir, sizeof(tmpdir), "%s/mysimbdp-fuzz.XXXXXX",
	    base && *base ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		fprintf(stderr, "mkdtemp %s: %s\n", tmpdir, strerror(errno));
		abort();
	}
	atexit(remove_tmpdir);
	return tmpdir;
}

void
fuzz_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || (len > 0 && write(fd, data, len) != (ssize_t)len) ||
	    close(fd) < 0) {
		fprintf(stderr, "write %s: %s\n", path, strerror(errno));
		abort();
	}
}

/* Removes what is in dir, folders too (the targets make no deep trees). */
void
fuzz_empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL) {
		if (errno == ENOENT)
			return;
		fprintf(stderr, "opendir %s: %s\n", dir, strerror(errno));
		abort();
	}
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX];

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) < 0 && errno == EISDIR) {
			fuzz_empty_dir(path);
			rmdir(path);
		}
	}
	closedir(d);
}

bool
fuzz_printable_utf8(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return bson_utf8_validate(s, len, false);
}

void
fuzz_split_frames(const uint8_t *data, size_t size, struct fuzz_frames *f)
{
	int want;
	size_t off = 1;

	f->n = 0;
	if (size == 0)
		return;
	want = data[0] % FUZZ_FRAMES_MAX + 1;
	while (f->n < want - 1 && off < size) {
		size_t len = data[off++];

		if (len > size - off)
			len = size - off;
		f->data[f->n] = data + off;
		f->len[f->n++] = len;
		off += len;
	}
	f->data[f->n] = data + off;
	f->len[f->n++] = size - off;
}

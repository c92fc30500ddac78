/*
 * Test shim (LD_PRELOAD): read() of one file misbehaving on cue, for
 * what a reader does when the file changes under it or a read fails.
 * READSHIM_FILE names the file (the descriptors of its inode are
 * watched); READSHIM_DO says what happens:
 *   rewrite:TEXT  at the first end of the file read (a content hash
 *                 done), the file is rewritten in place with TEXT;
 *   append:TEXT   at the same point TEXT is appended to the file, as a
 *                 writer adding a row while it is loaded;
 *   garble        the first read after the first end of the file (the
 *                 parse after the content hash) returns its bytes with
 *                 the first one changed, the file left as it is: as a
 *                 file changed and changed back while it was parsed;
 *   eio:N         the Nth read() of it fails with EIO.
 * stdio reads through glibc's own read(), which no preload reaches:
 * fopen() of the file for reading (fopen64, as the build's programs,
 * with 64-bit offsets, call it) gives a stream whose reads go through
 * the read() here. tests/integration/t_cli_load.sh,
 * t_cli_load_mongo.sh and t_cli_read_errors.sh use it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
watched(int fd)
{
	const char *path = getenv("READSHIM_FILE");
	struct stat a, b;

	return path != NULL && fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* Writes text into path, opened with flags (O_TRUNC or O_APPEND). */
static void
rewrite(const char *path, const char *text, int flags)
{
	int fd = open(path, O_WRONLY | flags);

	if (fd == -1 || write(fd, text, strlen(text)) == -1)
		_exit(99);
	close(fd);
}

ssize_t
read(int fd, void *buf, size_t n)
{
	static ssize_t (*real)(int, void *, size_t);
	static int calls, ended, garbled;
	const char *what = getenv("READSHIM_DO");
	ssize_t got;
	int mine;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "read");
	mine = what != NULL && watched(fd);
	if (mine && strncmp(what, "eio:", 4) == 0 &&
	    ++calls == atoi(what + 4)) {
		errno = EIO;
		return -1;
	}
	got = real(fd, buf, n);
	if (!mine)
		return got;
	if (got > 0 && ended && !garbled && strcmp(what, "garble") == 0) {
		garbled = 1;
		((unsigned char *)buf)[0] ^= 0x20;
	}
	if (got == 0 && !ended) {
		ended = 1;
		if (strncmp(what, "rewrite:", 8) == 0)
			rewrite(getenv("READSHIM_FILE"), what + 8, O_TRUNC);
		else if (strncmp(what, "append:", 7) == 0)
			rewrite(getenv("READSHIM_FILE"), what + 7, O_APPEND);
	}
	return got;
}

static ssize_t
cookie_read(void *cookie, char *buf, size_t n)
{
	return read((int)(intptr_t)cookie, buf, n);
}

static int
cookie_close(void *cookie)
{
	return close((int)(intptr_t)cookie);
}

FILE *
fopen(const char *path, const char *mode)
{
	static FILE *(*real)(const char *, const char *);
	static const cookie_io_functions_t io = {
		.read = cookie_read, .close = cookie_close,
	};
	FILE *f;
	int fd;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "fopen");
	if (getenv("READSHIM_DO") == NULL || mode[0] != 'r' ||
	    strchr(mode, '+') != NULL)
		return real(path, mode);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (!watched(fd)) {
		close(fd);
		return real(path, mode);
	}
	if ((f = fopencookie((void *)(intptr_t)fd, "r", io)) == NULL)
		close(fd);
	return f;
}

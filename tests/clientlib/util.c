#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

char *
tu_mkdtemp(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&path, "%s/msb-%s-XXXXXX", base, tag) == -1)
		fail_msg("asprintf");
	if (mkdtemp(path) == NULL)
		fail_msg("mkdtemp %s", path);
	return path;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

void
tu_rmtree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void
tu_write_file(const char *path, const char *data, ssize_t len)
{
	FILE *f = fopen(path, "w");
	size_t n = len < 0 ? strlen(data) : (size_t)len;

	if (f == NULL)
		fail_msg("fopen %s", path);
	if (fwrite(data, 1, n, f) != n || fclose(f) != 0)
		fail_msg("write %s", path);
}

char *
tu_read_file(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			if (buf == NULL)
				fail_msg("realloc");
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

char *
tu_join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) == -1)
		fail_msg("asprintf");
	return p;
}

int64_t
tu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
tu_time_factor(void)
{
	const char *s = getenv("MYSIMBDP_TEST_TIME_FACTOR");
	long f = s != NULL ? strtol(s, NULL, 10) : 1;

	return f >= 1 ? f : 1;
}

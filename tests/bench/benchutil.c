#include "benchutil.h"

#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

long
bench_number(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		errx(EX_USAGE, "%s: %s is not a number in %ld..%ld", what,
		    s, min, max);
	return v;
}

int64_t
bench_now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double
bench_cpu_seconds(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

char *
bench_payload(long size)
{
	char *buf = malloc((size_t)size);

	if (buf == NULL)
		err(1, "malloc");
	for (long i = 0; i < size; i++)
		buf[i] = (char)('a' + i % 26);
	return buf;
}

void
bench_read_full(int fd, void *buf, size_t len, const char *what)
{
	char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = read(fd, p, len)) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			errx(1, "%s: %s", what, n == 0 ? "the other process "
			    "exited" : strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

int
bench_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

double
bench_pct_us(const int64_t *v, uint64_t n, double p)
{
	uint64_t k = (uint64_t)((double)n * p / 100.0 + 0.999999);

	if (n == 0)
		return 0;
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1] / 1e3;
}

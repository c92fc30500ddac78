#include "benchutil.h"

#include <err.h>
#include <errno.h>
#include <stdlib.h>

long
bench_number(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		errx(EX_USAGE_CODE, "%s: %s is not a number in %ld..%ld", what,
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

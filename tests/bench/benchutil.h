/* Helpers shared by the benchmark programs (dropper, spawnrate, streamnoop,
 * streambench). */
#ifndef MYSIMBDP_BENCHUTIL_H
#define MYSIMBDP_BENCHUTIL_H

#include <stdint.h>
#include <time.h>

#define EX_USAGE_CODE 64

/* Parses a decimal in min..max, or exits 64 naming what it was for. */
long bench_number(const char *s, const char *what, long min, long max);

/* The clock in nanoseconds. */
int64_t bench_now_ns(clockid_t clock);

#endif

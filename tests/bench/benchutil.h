/* Helpers shared by the benchmark programs (dropper, spawnrate, streamnoop,
 * streambench, rabbitbench). */
#ifndef MYSIMBDP_BENCHUTIL_H
#define MYSIMBDP_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sysexits.h>

/* Parses a decimal in min..max, or exits 64 naming what it was for. */
long bench_number(const char *s, const char *what, long min, long max);

/* The clock in nanoseconds. */
int64_t bench_now_ns(clockid_t clock);

/* User and system CPU seconds of this process (RUSAGE_SELF) or of its
 * reaped children (RUSAGE_CHILDREN). */
double bench_cpu_seconds(int who);

/* SIZE bytes of letters, malloc'ed; exits on a failure. */
char *bench_payload(long size);

/* Reads exactly len bytes from fd (a pipe from another process of the
 * benchmark), or exits saying what it was waiting for. */
void bench_read_full(int fd, void *buf, size_t len, const char *what);

/* For qsort over int64_t. */
int bench_cmp_i64(const void *a, const void *b);

/* Percentile P of a sorted sample of N nanosecond values, by nearest rank,
 * in microseconds. */
double bench_pct_us(const int64_t *v, uint64_t n, double p);

#endif

/*
 * dropper: the load generator of the dispatch benchmark (scripts/bench).
 *
 * usage: dropper [-b bytes] [-r rate] [-t tenants] count prefix scratch
 *            target arrivals
 *
 * Writes count files of the given size (default 100 bytes) named
 * <prefix><number>.csv into scratch, then renames them into target:
 * all at once, or paced at rate files per second. scratch and target
 * must be on the same filesystem, so that each file appears in target
 * complete and in one step (one IN_MOVED_TO), the way a tenant is told to
 * deliver. Pacing sleeps to absolute deadlines on CLOCK_MONOTONIC, so a
 * late wake-up does not shift the files after it. With -t T, target is
 * the staging folder of T tenants t0001..tT and file i goes to
 * target/t<NNNN>/incoming, NNNN = i % T + 1: files arriving across all
 * of them.
 *
 * For each file one line "<name> <arrival ns>" goes to arrivals; the
 * arrival is CLOCK_REALTIME read just before the rename (the clock noop
 * stamps with). The lines are kept in memory and written at the end, so
 * no file I/O sits between two renames. A summary goes to stdout.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

#define NAME_LEN 64
#define MAX_COUNT 10000000L
#define MAX_BYTES 65536L

static __attribute__((__noreturn__)) void
usage(void)
{
	fprintf(stderr, "usage: dropper [-b bytes] [-r rate] [-t tenants] "
	    "count prefix scratch target arrivals\n"
	    "  -b bytes  size of each file (default 100)\n"
	    "  -r rate   files per second (default: all at once)\n"
	    "  -t T      spread over target/t0001/incoming .. tT's\n");
	exit(EX_USAGE);
}

static void
make_name(char *buf, const char *prefix, long i)
{
	if (snprintf(buf, NAME_LEN, "%s%06ld.csv", prefix, i) >= NAME_LEN)
		errx(EX_USAGE, "prefix %s is too long", prefix);
}

/* A small, valid CSV body of exactly len bytes. */
static void
fill_body(char *body, size_t len)
{
	static const char head[] = "id,value\n";
	size_t n = len < sizeof(head) - 1 ? len : sizeof(head) - 1;

	memcpy(body, head, n);
	for (size_t i = n; i < len; i++)
		body[i] = (i + 1 == len) ? '\n' : (char)('0' + i % 10);
}

static void
create_files(int sfd, const char *prefix, long count, const char *body,
    size_t len)
{
	char name[NAME_LEN];
	int fd;

	for (long i = 0; i < count; i++) {
		make_name(name, prefix, i);
		fd = openat(sfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0644);
		if (fd < 0)
			err(1, "create %s", name);
		if (write(fd, body, len) != (ssize_t)len)
			err(1, "write %s", name);
		if (close(fd) < 0)
			err(1, "close %s", name);
	}
}

/* Sleeps until the absolute CLOCK_MONOTONIC time ns. */
static void
sleep_until(int64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
	int rc;

	while ((rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
	    NULL)) == EINTR)
		;
	if (rc != 0) {
		errno = rc;
		err(1, "clock_nanosleep");
	}
}

int
main(int argc, char *argv[])
{
	const char *prefix, *scratch, *target, *arrivals;
	char name[NAME_LEN], *body, *to = NULL;
	int64_t *arrival, start, deadline, lag, max_lag = 0, wall;
	long count, rate = 0, bytes = 100, tenants = 0;
	int ch, sfd, tfd;
	FILE *out;

	while ((ch = getopt(argc, argv, "b:r:t:")) != -1) {
		switch (ch) {
		case 'b': bytes = bench_number(optarg, "-b", 1, MAX_BYTES); break;
		case 'r': rate = bench_number(optarg, "-r", 1, 1000000); break;
		case 't': tenants = bench_number(optarg, "-t", 1, 9999); break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 5)
		usage();
	count = bench_number(argv[0], "count", 1, MAX_COUNT);
	prefix = argv[1];
	scratch = argv[2];
	target = argv[3];
	arrivals = argv[4];

	if ((sfd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		err(1, "open %s", scratch);
	if ((tfd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		err(1, "open %s", target);
	if ((arrival = calloc((size_t)count, sizeof(*arrival))) == NULL ||
	    (body = malloc((size_t)bytes)) == NULL)
		err(1, "malloc");
	fill_body(body, (size_t)bytes);
	create_files(sfd, prefix, count, body, (size_t)bytes);

	start = bench_now_ns(CLOCK_MONOTONIC);
	for (long i = 0; i < count; i++) {
		make_name(name, prefix, i);
		if (rate > 0) {
			deadline = start + i * 1000000000LL / rate;
			sleep_until(deadline);
			lag = bench_now_ns(CLOCK_MONOTONIC) - deadline;
			if (lag > max_lag)
				max_lag = lag;
		}
		if (tenants > 0) {
			free(to);
			if (asprintf(&to, "t%04ld/incoming/%s", i % tenants + 1,
			    name) < 0)
				err(1, "asprintf");
		}
		arrival[i] = bench_now_ns(CLOCK_REALTIME);
		if (renameat(sfd, name, tfd, to ? to : name) < 0)
			err(1, "rename %s/%s to %s/%s", scratch, name, target,
			    to ? to : name);
	}
	wall = bench_now_ns(CLOCK_MONOTONIC) - start;
	free(to);

	if ((out = fopen(arrivals, "we")) == NULL)
		err(1, "open %s", arrivals);
	for (long i = 0; i < count; i++) {
		make_name(name, prefix, i);
		fprintf(out, "%s %lld\n", name, (long long)arrival[i]);
	}
	if (fclose(out) != 0)
		err(1, "write %s", arrivals);
	printf("dropper: %ld files in %.3f s (%.0f files/s), max lag behind "
	    "schedule %.3f ms\n", count, (double)wall / 1e9,
	    wall > 0 ? (double)count * 1e9 / (double)wall : 0.0,
	    (double)max_lag / 1e6);
	return 0;
}

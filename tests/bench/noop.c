/*
 * noop: the no-op batch app of the dispatch benchmark (scripts/bench).
 *
 * usage: noop LOGFILE [FILE]
 *
 * Appends "<basename of FILE> <CLOCK_REALTIME ns>\n" to LOGFILE and exits
 * 0. FILE defaults to $MYSIMBDP_INPUT_FILE, which is how batchmgr passes
 * it; inotifywait | xargs and spawnrate pass it as an argument.
 *
 * The clock is read first thing, so the stamp marks the moment the app
 * began to run. The line goes out in a single write() on an O_APPEND
 * descriptor: concurrent instances never interleave their lines. No stdio
 * on the normal path, so the app costs little more than its exec.
 */
#include <err.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sysexits.h>

/* Writes v in decimal ending just before end; returns where it starts. */
static char *
fmt_u64(char *end, unsigned long long v)
{
	char *p = end;

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	return p;
}

int
main(int argc, char *argv[])
{
	char line[NAME_MAX + 32], num[24], *digits;
	const char *file, *base;
	struct timespec ts;
	size_t blen, dlen, len;
	int fd;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (argc < 2 || argc > 3)
		errx(EX_USAGE, "usage: noop LOGFILE [FILE]");
	file = argc == 3 ? argv[2] : getenv("MYSIMBDP_INPUT_FILE");
	if (file == NULL || *file == '\0')
		errx(EX_USAGE, "no FILE argument and no MYSIMBDP_INPUT_FILE");
	base = strrchr(file, '/');
	base = base ? base + 1 : file;

	blen = strlen(base);
	if (blen > NAME_MAX)
		errx(1, "%s: name too long", file);
	digits = fmt_u64(num + sizeof(num), (unsigned long long)ts.tv_sec *
	    1000000000ULL + (unsigned long long)ts.tv_nsec);
	dlen = (size_t)(num + sizeof(num) - digits);
	memcpy(line, base, blen);
	line[blen] = ' ';
	memcpy(line + blen + 1, digits, dlen);
	line[blen + 1 + dlen] = '\n';
	len = blen + dlen + 2;

	fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		err(1, "open %s", argv[1]);
	if (write(fd, line, len) != (ssize_t)len)
		err(1, "write %s", argv[1]);
	return 0;
}

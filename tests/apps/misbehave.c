/*
 * misbehave: batch apps that break the rules, one per mode, for the
 * containment tests (tests/integration/t_misbehave.sh). Each writes the
 * pids a test needs to check into OUTDIR.
 *
 * usage: misbehave MODE OUTDIR
 *   forkbomb     every process forks for ever; a failed fork is noted
 *                once in OUTDIR/fork-failed (with its errno) and retried
 *                10 ms later
 *   spin         burns CPU for ever
 *   escape       a child calls setsid() and starts a grandchild that
 *                sleeps for ever (its pid in OUTDIR/escapee.pid), then
 *                the child and, once the pid is written, the app exit 0
 *   close-stdio  closes stdout and stderr, then works for 300 ms (writes
 *                to them fail), writes its result file (rows: 7) and
 *                exits 0
 *   big-file     appends 1 MiB blocks to OUTDIR/big for ever: past its
 *                file-size limit it gets SIGXFSZ, or, ignoring that,
 *                EFBIG (said in OUTDIR/big-file.err, exit 1)
 * Every mode writes its own pid to OUTDIR/app.pid first.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *outdir;

/* Writes text to OUTDIR/name by rename, so a reader never sees half. */
static void
note(const char *name, const char *text)
{
	char tmp[4096], path[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/.%s.%d", outdir, name, (int)getpid());
	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	fputs(text, f);
	if (fclose(f) == 0)
		rename(tmp, path);
}

static void
note_pid(const char *name, pid_t pid)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	note(name, buf);
}

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int
forkbomb(void)
{
	int noted = 0;

	for (;;) {
		pid_t pid = fork();

		if (pid < 0) {
			if (!noted++) {
				char buf[64];

				snprintf(buf, sizeof(buf), "%s\n",
				    strerror(errno));
				note("fork-failed", buf);
			}
			nap_ms(10);
		} else if (pid == 0)
			noted = 1;	/* one note from the first is enough */
	}
	return 0;	/* not reached */
}

static int
spin(void)
{
	volatile unsigned long n = 0;

	for (;;)
		n++;
	return 0;	/* not reached */
}

static int
escape(void)
{
	pid_t child = fork(), grandchild;

	if (child < 0)
		return 1;
	if (child == 0) {
		if (setsid() < 0)
			_exit(1);
		if ((grandchild = fork()) < 0)
			_exit(1);
		if (grandchild == 0) {
			note_pid("escapee.pid", getpid());
			for (;;)
				pause();
		}
		_exit(0);
	}
	/* Exits once the escapee is out of its group and recorded. */
	for (int i = 0; i < 500; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/escapee.pid", outdir);
		if (access(path, F_OK) == 0)
			return 0;
		nap_ms(10);
	}
	return 1;
}

static int
close_stdio(void)
{
	const char *result = getenv("MYSIMBDP_RESULT_FILE");
	ssize_t n;
	FILE *f;

	close(STDOUT_FILENO);
	close(STDERR_FILENO);
	n = write(STDOUT_FILENO, "lost\n", 5);
	(void)n;
	nap_ms(300);
	if (result == NULL || (f = fopen(result, "w")) == NULL)
		return 1;
	fprintf(f, "{\"rows\": 7}\n");
	return fclose(f) == 0 ? 0 : 1;
}

static int
big_file(void)
{
	static char block[1 << 20];
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/big", outdir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return 1;
	for (;;)
		if (write(fd, block, sizeof(block)) < 0) {
			char buf[64];

			snprintf(buf, sizeof(buf), "%s\n", strerror(errno));
			note("big-file.err", buf);
			return 1;
		}
}

int
main(int argc, char *argv[])
{
	static const struct {
		const char *name;
		int (*fn)(void);
	} modes[] = {
		{ "forkbomb", forkbomb }, { "spin", spin }, { "escape", escape },
		{ "close-stdio", close_stdio }, { "big-file", big_file },
	};

	if (argc != 3) {
		fprintf(stderr, "usage: misbehave MODE OUTDIR\n");
		return 64;
	}
	outdir = argv[2];
	note_pid("app.pid", getpid());
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(argv[1], modes[i].name) == 0)
			return modes[i].fn();
	fprintf(stderr, "misbehave: unknown mode %s\n", argv[1]);
	return 64;
}

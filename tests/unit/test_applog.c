/*
 * Unit tests for common/applog.c: where a chunk of app output is cut
 * before a rotation, the shift name.log -> name.log.1 -> ... with the
 * oldest dropped, and two writers of one log through real pipes and a
 * real event base, rotated under the cap with the newest lines in
 * name.log, that one turn of the event loop moves one chunk only, that
 * a pipe is read no faster than app_logs.rate and loses nothing to it,
 * nor gains from apps that end one after the other, that pipes held open
 * by others than the apps are bounded, and that a line a full disk cuts
 * short leaves no stump.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <bson/bson.h>
#include <event2/event.h>

#include "applog.h"
#include "clock.h"
#include "log.h"

static void
test_fit(void **state)
{
	const char *buf = "aaaa\nbbbb\ncccc";	/* 14 bytes, newlines at 4, 9 */

	(void)state;
	/* Everything fits. */
	assert_int_equal(applog_fit(buf, 14, 0, 100), 14);
	assert_int_equal(applog_fit(buf, 14, 86, 100), 14);
	/* Full: rotate first. */
	assert_int_equal(applog_fit(buf, 14, 100, 100), 0);
	assert_int_equal(applog_fit(buf, 14, 120, 100), 0);
	/* Cut after the last newline that fits. */
	assert_int_equal(applog_fit(buf, 14, 88, 100), 10);
	assert_int_equal(applog_fit(buf, 14, 91, 100), 5);
	/* No newline fits: the line starts the next file... */
	assert_int_equal(applog_fit(buf, 14, 97, 100), 0);
	/* ...unless the file is empty: then it is cut at the cap. */
	assert_int_equal(applog_fit("xxxxxxxx", 8, 0, 3), 3);
	assert_int_equal(applog_fit(buf, 14, 0, 4), 4);
}

static char *
tmpdir(void)
{
	char tmpl[] = "/tmp/test_applog.XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static void
put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

/* The content of dir/name, or "-" when it does not exist. */
static const char *
get(const char *dir, const char *name)
{
	static char buf[4][128];
	static int k;
	char path[512], *b = buf[k++ % 4];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "r")) == NULL)
		return "-";
	n = fread(b, 1, sizeof(buf[0]) - 1, f);
	b[n] = '\0';
	fclose(f);
	return b;
}

static void
rmtree(char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(dir);
}

static void
test_shift(void **state)
{
	char *dir = tmpdir(), path[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/a.log", dir);
	put(dir, "a.log", "new");
	put(dir, "a.log.1", "one");
	put(dir, "a.log.2", "two");
	put(dir, "a.log.3", "three");
	assert_int_equal(applog_shift(path, 3), 0);
	assert_string_equal(get(dir, "a.log"), "-");
	assert_string_equal(get(dir, "a.log.1"), "new");
	assert_string_equal(get(dir, "a.log.2"), "one");
	assert_string_equal(get(dir, "a.log.3"), "two");
	assert_string_equal(get(dir, "a.log.4"), "-");

	/* Gaps are skipped; a file beyond backups is left alone. */
	put(dir, "a.log", "x");
	put(dir, "a.log.4", "stray");
	assert_int_equal(applog_shift(path, 2), 0);
	assert_string_equal(get(dir, "a.log.1"), "x");
	assert_string_equal(get(dir, "a.log.2"), "new");
	assert_string_equal(get(dir, "a.log.3"), "two");
	assert_string_equal(get(dir, "a.log.4"), "stray");

	/* No backups: nothing moves (the caller truncates). */
	put(dir, "a.log", "y");
	assert_int_equal(applog_shift(path, 0), 0);
	assert_string_equal(get(dir, "a.log"), "y");
	assert_string_equal(get(dir, "a.log.1"), "x");
	rmtree(dir);
}

static uint64_t
file_size(const char *dir, const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Makes DIR/log/acme, the folder of tenant acme's app logs, into buf. */
static void
log_folder(const char *dir, char *buf, size_t len)
{
	snprintf(buf, len, "%s/log", dir);
	assert_int_equal(mkdir(buf, 0755), 0);
	snprintf(buf, len, "%s/log/acme", dir);
	assert_int_equal(mkdir(buf, 0755), 0);
}

/* A platform in dir whose app logs rotate past max_size; acme's log
 * folder into path. */
static void
platform_in(struct conf_platform *p, char *dir, uint64_t max_size,
    char *path, size_t len)
{
	p->p_state_dir = dir;
	p->p_app_logs.al_max_size = max_size;
	log_folder(dir, path, len);
}

/* What a test of the event loop leaves: the logs, the base, dir. */
static void
finish(struct event_base *base, char *dir)
{
	applog_shutdown();
	event_base_free(base);
	rmtree(dir);
}

/* Writes lines first..last as "<tag> line NNNNN" padded to 64 bytes. */
static void
write_lines(int fd, char tag, int first, int last)
{
	char line[65];

	for (int i = first; i <= last; i++) {
		snprintf(line, sizeof(line), "%c line %05d %-50s\n", tag, i, "");
		assert_int_equal(write(fd, line, 64), 64);
	}
}

/*
 * An app started with acme's log "app": the log, and the app's copy of
 * the write end (its stdout) in *copy.
 */
static struct applog *
app_started(struct event_base *base, const struct conf_platform *p,
    int *copy)
{
	struct applog *lg;
	int fd;

	assert_non_null(lg = applog_open(base, p, "acme", "app", &p->p_app_logs,
	    &fd));
	assert_true((*copy = dup(fd)) >= 0);
	return lg;
}

/* That app ended and was reaped. */
static void
app_ended(struct applog *lg, int copy)
{
	applog_app_end(lg);
	close(copy);
}

static void
test_two_writers(void **state)
{
	char *dir = tmpdir(), logdir[256], path[300], line[128] = "";
	struct conf_platform p = { 0 };
	struct event_base *base = event_base_new();
	struct applog *la, *lb;
	FILE *f;
	int a, b;

	(void)state;
	assert_non_null(base);
	platform_in(&p, dir, 4096, logdir, sizeof(logdir));
	p.p_app_logs.al_backups = 2;

	/* Running at once, the two apps share one pipe; each has a copy. */
	la = app_started(base, &p, &a);
	lb = app_started(base, &p, &b);
	/* 20000 bytes, under a pipe's capacity, against a cap of 12288. */
	write_lines(a, 'a', 1, 160);
	assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 0);
	write_lines(b, 'b', 1, 150);
	assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 0);
	write_lines(a, 'a', 161, 161);
	/* Both apps ended: the daemon lets go of its end, then theirs go. */
	app_ended(la, a);
	app_ended(lb, b);
	/* Returns 1 once the pipe reached EOF and left the loop. */
	assert_int_equal(event_base_loop(base, 0), 1);

	/* 311 lines of 64 bytes: four rotations of 64 lines, 55 left. */
	assert_int_equal(file_size(logdir, "app.log"), 55 * 64);
	assert_int_equal(file_size(logdir, "app.log.1"), 64 * 64);
	assert_int_equal(file_size(logdir, "app.log.2"), 64 * 64);
	assert_string_equal(get(logdir, "app.log.3"), "-");
	/* The newest line is the last line of app.log. */
	snprintf(path, sizeof(path), "%s/app.log", logdir);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		;
	fclose(f);
	assert_memory_equal(line, "a line 00161 ", 13);
	finish(base, dir);
}

/* The pipe an fd is an end of (its inode in pipefs). */
static ino_t
pipe_of(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	return st.st_ino;
}

/*
 * The shared pipe lives while any app of the log runs: an app that ended
 * does not end it for one still running, or for one started meanwhile;
 * after the last, the daemon lets go (EOF) and the next app gets a pipe
 * of its own.
 */
static void
test_shared_pipe(void **state)
{
	char *dir = tmpdir(), logdir[256];
	struct conf_platform p = { 0 };
	struct event_base *base = event_base_new();
	struct applog *la, *lb, *lc, *ld;
	int a, b, c, d;
	ino_t first;

	(void)state;
	assert_non_null(base);
	platform_in(&p, dir, 1 << 20, logdir, sizeof(logdir));

	la = app_started(base, &p, &a);
	lb = app_started(base, &p, &b);
	first = pipe_of(a);
	assert_true(pipe_of(b) == first);
	write_lines(a, 'a', 1, 2);
	app_ended(la, a);
	lc = app_started(base, &p, &c);
	assert_true(pipe_of(c) == first);
	write_lines(b, 'b', 3, 3);
	write_lines(c, 'c', 4, 4);
	app_ended(lb, b);
	app_ended(lc, c);
	/* Returns 1 once the pipe reached EOF and left the loop. */
	assert_int_equal(event_base_loop(base, 0), 1);
	assert_int_equal(file_size(logdir, "app.log"), 4 * 64);

	ld = app_started(base, &p, &d);
	assert_true(pipe_of(d) != first);
	write_lines(d, 'd', 5, 5);
	app_ended(ld, d);
	assert_int_equal(event_base_loop(base, 0), 1);
	assert_int_equal(file_size(logdir, "app.log"), 5 * 64);
	finish(base, dir);
}

/*
 * The file is opened at the first output: a silent app leaves none (a
 * thousand tenants' silent apps would cost an open each, and a file a
 * tenant); the next app's lines make it.
 */
static void
test_opened_at_output(void **state)
{
	char *dir = tmpdir(), logdir[256];
	struct conf_platform p = { 0 };
	struct event_base *base = event_base_new();
	struct applog *lg;
	int fd;

	(void)state;
	assert_non_null(base);
	platform_in(&p, dir, 1 << 20, logdir, sizeof(logdir));

	lg = app_started(base, &p, &fd);
	app_ended(lg, fd);
	assert_int_equal(event_base_loop(base, 0), 1);
	assert_string_equal(get(logdir, "app.log"), "-");

	lg = app_started(base, &p, &fd);
	write_lines(fd, 'a', 1, 2);
	app_ended(lg, fd);
	assert_int_equal(event_base_loop(base, 0), 1);
	assert_int_equal(file_size(logdir, "app.log"), 2 * 64);
	finish(base, dir);
}

/*
 * A pipe holding far more than one chunk: each turn of the event loop
 * moves one 64K chunk only, so a flooding app cannot hold the loop.
 */
static void
test_bounded_read(void **state)
{
	char *dir = tmpdir(), path[300], chunk[4096];
	struct conf_platform p = { 0 };
	struct event_base *base = event_base_new();
	size_t held = 0;
	struct applog *lg;
	int w;

	(void)state;
	platform_in(&p, dir, 16 << 20, path, sizeof(path));
	assert_non_null(lg = applog_open(base, &p, "acme", "big", &p.p_app_logs,
	    &w));
	assert_true(fcntl(w, F_SETPIPE_SZ, 256 * 1024) >= 256 * 1024);
	assert_int_equal(fcntl(w, F_SETFL, O_NONBLOCK), 0);
	memset(chunk, 'x', sizeof(chunk));
	while (write(w, chunk, sizeof(chunk)) == (ssize_t)sizeof(chunk))
		held += sizeof(chunk);
	assert_true(held >= 256 * 1024);

	/* One turn (EVLOOP_NONBLOCK alone turns until nothing is ready). */
	assert_int_equal(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
	assert_int_equal(file_size(path, "big.log"), 64 * 1024);
	assert_int_equal(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
	assert_int_equal(file_size(path, "big.log"), 128 * 1024);
	applog_app_end(lg);	/* w is the daemon's end: it closes */
	assert_int_equal(event_base_loop(base, 0), 1);
	assert_int_equal(file_size(path, "big.log"), held);
	finish(base, dir);
}

/* A platform in dir whose app logs are read at rate; acme's log folder
 * into path. */
static void
paced_platform(struct conf_platform *p, char *dir, uint64_t rate,
    char *path, size_t len)
{
	platform_in(p, dir, 16 << 20, path, len);
	p->p_app_logs.al_rate = rate;
}

/* The paced_logs applog_status gives for tenant (NULL: all), as JSON. */
static char *
paced_json(const char *tenant)
{
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it, list;
	char *json = NULL;

	applog_status(&doc, tenant);
	assert_true(bson_iter_init_find(&it, &doc, "paced_logs"));
	assert_true(BSON_ITER_HOLDS_ARRAY(&it));
	assert_true(bson_iter_recurse(&it, &list));
	json = bson_as_relaxed_extended_json(&doc, NULL);
	bson_destroy(&doc);
	return json;
}

/*
 * app_logs.rate: a pipe holding two seconds' worth is read one second's
 * worth at once (the bucket starts full), then no faster than the rate
 * (a bound a slow machine cannot break: it only reads later), and all
 * of it reaches the log: the app waits, nothing is dropped. While held,
 * the daemon's status names the log (its tenant's, or everyone's).
 */
static void
test_paced_read(void **state)
{
	const uint64_t rate = 128 * 1024;
	char *dir = tmpdir(), path[300], chunk[4096];
	struct conf_platform p = { 0 };
	struct event_base *base = clock_event_base();
	uint64_t held = 0, got;
	int64_t t0, t1, t2;
	struct applog *lg;
	char *json;
	int w;

	(void)state;
	assert_non_null(base);
	paced_platform(&p, dir, rate, path, sizeof(path));
	assert_non_null(lg = applog_open(base, &p, "acme", "paced",
	    &p.p_app_logs, &w));
	assert_true(fcntl(w, F_SETPIPE_SZ, 2 * rate) >= (int)(2 * rate));
	assert_int_equal(fcntl(w, F_SETFL, O_NONBLOCK), 0);
	memset(chunk, 'x', sizeof(chunk));
	while (write(w, chunk, sizeof(chunk)) == (ssize_t)sizeof(chunk))
		held += sizeof(chunk);
	assert_true(held >= 2 * rate);

	t0 = clock_mono_ms();
	/* Turns until nothing is ready: the pipe is paused, its timer set. */
	assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 0);
	t1 = clock_mono_ms();
	got = (uint64_t)file_size(path, "paced.log");
	assert_true(got >= rate);
	assert_true(got <= rate + rate * (uint64_t)(t1 - t0 + 1) / 1000);
	json = paced_json(NULL);
	assert_non_null(strstr(json, "\"paced_logs\" : [ { \"tenant\" : "
	    "\"acme\", \"log\" : \"paced.log\", \"rate\" : 131072, "
	    "\"pauses\" : 1, \"held_ms\" : "));
	assert_non_null(strstr(json, "\"held\" : true } ]"));
	bson_free(json);
	json = paced_json("globex");
	assert_non_null(strstr(json, "\"paced_logs\" : [  ]"));
	bson_free(json);

	applog_app_end(lg);	/* w is the daemon's end: it closes */
	assert_int_equal(event_base_loop(base, 0), 1);
	t2 = clock_mono_ms();
	assert_int_equal(file_size(path, "paced.log"), held);
	assert_true((held - rate) * 1000 / rate <= (uint64_t)(t2 - t0 + 1));
	json = paced_json(NULL);	/* closed with its last pipe */
	assert_non_null(strstr(json, "\"paced_logs\" : [  ]"));
	bson_free(json);
	finish(base, dir);
}

/*
 * Apps that each write just under the rate and end, one after the
 * other: the log closes between them, and the next one's takes over
 * the bucket, so the two are held to the rate as one app would be (a
 * new bucket each time let a tenant write the rate again per app).
 */
static void
test_paced_across_apps(void **state)
{
	const uint64_t rate = 64 * 1024;
	char *dir = tmpdir(), path[300], chunk[4096];
	struct conf_platform p = { 0 };
	struct event_base *base = clock_event_base();
	uint64_t got;
	int64_t t0, t1;
	struct applog *lg;
	int w;

	(void)state;
	assert_non_null(base);
	paced_platform(&p, dir, rate, path, sizeof(path));
	memset(chunk, 'x', sizeof(chunk));
	t0 = clock_mono_ms();
	for (int app = 0; app < 2; app++) {
		assert_non_null(lg = applog_open(base, &p, "acme", "burst",
		    &p.p_app_logs, &w));
		/* Under the rate: the first pipe is read whole at once. */
		for (uint64_t n = sizeof(chunk); n < rate; n += sizeof(chunk))
			assert_int_equal(write(w, chunk, sizeof(chunk)),
			    (ssize_t)sizeof(chunk));
		applog_app_end(lg);	/* w is the daemon's end: it closes */
		/* The first app's bytes all come: the log closes. */
		if (app == 0)
			assert_int_equal(event_base_loop(base, 0), 1);
	}
	/* Turns until nothing is ready: the second pipe waits its turn. */
	assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 0);
	t1 = clock_mono_ms();
	got = (uint64_t)file_size(path, "burst.log");
	assert_true(got <= rate + rate * (uint64_t)(t1 - t0 + 1) / 1000);
	assert_int_equal(event_base_loop(base, 0), 1);
	assert_int_equal(file_size(path, "burst.log"), 2 * (rate -
	    sizeof(chunk)));
	finish(base, dir);
}

/*
 * A process other than the apps (the test here) keeps a copy of each
 * app's stdout: their pipes never see EOF. The daemon keeps four of
 * them at most: the oldest are closed, so writing into them fails
 * (EPIPE), the newest still work, and the log is written on.
 */
static void
test_old_pipes_bounded(void **state)
{
	enum { RUNS = 10 };
	char *dir = tmpdir(), path[300];
	struct conf_platform p = { 0 };
	struct event_base *base = event_base_new();
	struct applog *lg;
	int copy[RUNS];

	(void)state;
	assert_non_null(base);
	signal(SIGPIPE, SIG_IGN);
	platform_in(&p, dir, 1 << 20, path, sizeof(path));
	for (int k = 0; k < RUNS; k++) {
		lg = app_started(base, &p, &copy[k]);
		write_lines(copy[k], 'a', k, k);
		applog_app_end(lg);	/* the copy keeps the pipe open */
		assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 0);
	}
	assert_int_equal(file_size(path, "app.log"), RUNS * 64);
	for (int k = 0; k < RUNS - 4; k++) {
		errno = 0;
		assert_int_equal(write(copy[k], "x\n", 2), -1);
		assert_int_equal(errno, EPIPE);
	}
	for (int k = RUNS - 4; k < RUNS; k++)
		assert_int_equal(write(copy[k], "y\n", 2), 2);
	for (int k = 0; k < RUNS; k++)
		close(copy[k]);
	assert_int_equal(event_base_loop(base, 0), 1);
	assert_int_equal(file_size(path, "app.log"), RUNS * 64 + 4 * 2);
	signal(SIGPIPE, SIG_DFL);
	finish(base, dir);
}

/* How many times what is in text. */
static int
count_in(const char *text, const char *what)
{
	int n = 0;

	while ((text = strstr(text, what)) != NULL) {
		n++;
		text += strlen(what);
	}
	return n;
}

/* Chunks written in turn: before a file-size limit, under it, after. */
struct limited {
	const char	*before[3], *under[3], *after[3];
	rlim_t		 limit;
};

static void
write_all(struct applog *lg, const char *const *chunks)
{
	for (size_t k = 0; k < 3 && chunks[k] != NULL; k++)
		applog_write(lg, chunks[k], strlen(chunks[k]));
}

/*
 * Writes w's chunks to a new log; got is then the file, err what was
 * said (into a pipe: a file would be under the limit too).
 */
static void
write_limited(const struct limited *w, char *got, size_t gotlen, char *err,
    size_t errlen)
{
	struct conf_app_logs c = { .al_max_size = 1 << 20 };
	char *dir = tmpdir(), path[300];
	struct rlimit old, rl;
	struct applog *lg;
	int saved, p[2];
	size_t n;
	FILE *f;

	signal(SIGXFSZ, SIG_IGN);
	snprintf(path, sizeof(path), "%s/app.log", dir);
	log_init("test", true, false);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0 && pipe(p) == 0);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);

	assert_non_null(lg = applog_file(path, "test", &c));
	write_all(lg, w->before);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	rl = old;
	rl.rlim_cur = w->limit;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
	write_all(lg, w->under);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	write_all(lg, w->after);
	applog_release(lg);

	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_true((n = (size_t)read(p[0], err, errlen - 1)) > 0);
	err[n] = '\0';
	close(p[0]);
	assert_non_null(f = fopen(path, "r"));
	got[fread(got, 1, gotlen - 1, f)] = '\0';
	fclose(f);
	rmtree(dir);
}

/*
 * Lines the file-size limit cuts short (as a full disk does) are cut off
 * again, the failure is said once however many lines fail after it, and
 * the first line written once the limit is lifted starts a line of its
 * own.
 */
static void
test_short_write(void **state)
{
	const struct limited w = {
		{ "one\n" }, { "two-two\n", "three-three\n" }, { "four\n" },
		4 + 3
	};
	char got[64], err[4096];

	(void)state;
	write_limited(&w, got, sizeof(got), err, sizeof(err));
	assert_string_equal(got, "one\nfour\n");
	assert_int_equal(count_in(err, "dropping output"), 1);
	assert_int_equal(count_in(err, "writing"), 1);
}

/*
 * A line comes in pieces (an app's output, read as the pipe gives it):
 * the first piece is written, the next fails. The piece already in the
 * file is cut off, and the line's rest, arriving once writing works
 * again, is dropped up to its newline, so no line is made of two.
 */
static void
test_line_in_pieces(void **state)
{
	const struct limited w = {
		{ "one\n", "tw" }, { "o-tw" }, { "o\nfo", "ur\n" }, 4 + 2
	};
	char got[64], err[4096];

	(void)state;
	write_limited(&w, got, sizeof(got), err, sizeof(err));
	assert_string_equal(got, "one\nfour\n");
	assert_int_equal(count_in(err, "dropping output"), 1);
	assert_int_equal(count_in(err, "8 bytes of output were dropped"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fit),
		cmocka_unit_test(test_shift),
		cmocka_unit_test(test_two_writers),
		cmocka_unit_test(test_shared_pipe),
		cmocka_unit_test(test_opened_at_output),
		cmocka_unit_test(test_bounded_read),
		cmocka_unit_test(test_paced_read),
		cmocka_unit_test(test_paced_across_apps),
		cmocka_unit_test(test_old_pipes_bounded),
		cmocka_unit_test(test_short_write),
		cmocka_unit_test(test_line_in_pieces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "applog.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bson/bson.h>

#include "bucket.h"
#include "clock.h"
#include "jsonline.h"
#include "log.h"
#include "state.h"
#include "tailq.h"

/*
 * At most this much is read per callback, so a flooding app costs the
 * event loop one read and one write per turn, like supervisord's one
 * read of 128K per output event. It is the default pipe capacity.
 */
#define APPLOG_CHUNK (64 * 1024)

/* At exit, at most this much more is read from each pipe. */
#define APPLOG_EXIT_DRAIN (16 * APPLOG_CHUNK)

/*
 * Pipes of one log still open after their apps ended, at most. EOF comes
 * once every copy of the write end is closed, and a process that is not
 * the app's (another app of the tenant, same uid, can open
 * /proc/<pid>/fd/1) can hold one for ever: past this, the oldest is
 * closed, or each run would leave the daemon a descriptor.
 */
#define APPLOG_OLD_PIPES 4

/* A paced log's bucket is kept this long after the log closes: by then
 * it is full again, as a new one would be. */
#define APPLOG_BUCKET_MS 1000

/* One log file, shared by every pipe that writes to its path. */
struct applog {
	TAILQ_ENTRY(applog) lg_entry;
	char		*lg_path;
	char		*lg_who;	/* in warnings: "tenant acme", "monitor" */
	char		*lg_tenant;	/* an app log's (status), or NULL */
	char		*lg_name;	/* its file name, "app.log" */
	int		 lg_fd;		/* -1: could not be (re)opened */
	int		 lg_refs;
	uint64_t	 lg_size;	/* of lg_path, as written by us */
	uint64_t	 lg_max_size;
	int		 lg_backups;
	uint64_t	 lg_dropped;	/* since writing last failed */
	uint64_t	 lg_open;	/* bytes of an unfinished line at
					   the file's end */
	bool		 lg_skip;	/* a line was lost: drop its rest,
					   up to its newline */
	bool		 lg_failing;	/* the failure was logged */
	bool		 lg_shift_failing;	/* that one too */
	int		 lg_wfd;	/* write end its running apps share;
					   -1: none running */
	int		 lg_apps;	/* apps started with lg_wfd, not ended */
	struct applog_pipe *lg_pipe;	/* lg_wfd's read end */
	uint64_t	 lg_rate;	/* bytes a second its pipes are read;
					   0: no limit */
	struct bucket	 lg_bucket;	/* of lg_rate, shared by its pipes */
	int		 lg_npipes;	/* its pipes open, lg_pipe too */
	bool		 lg_old_said;	/* an old pipe closed: logged */
	bool		 lg_paced_said;	/* the first pause was logged */
	uint64_t	 lg_pauses;	/* its pipes left unread (status) */
	uint64_t	 lg_held_ms;	/* for that long, summed */
};

/* The read end of one app's stdout/stderr. */
struct applog_pipe {
	TAILQ_ENTRY(applog_pipe) ap_entry;
	struct applog	*ap_log;
	struct event	*ap_ev;
	struct event	*ap_wait;	/* the rate used up: until it refills */
	int		 ap_fd;
};

/*
 * The bucket of a paced log that closed less than APPLOG_BUCKET_MS ago:
 * the next log of its path takes it over, so that apps which each write
 * just under the rate and end, one after the other, are held to it as
 * one app would be (a new log's bucket starts full).
 */
struct spent {
	TAILQ_ENTRY(spent) sp_entry;
	char		*sp_path;
	struct bucket	 sp_bucket;
	uint64_t	 sp_ms;		/* when the log closed */
};

static TAILQ_HEAD(, applog) logs = TAILQ_HEAD_INITIALIZER(logs);
static TAILQ_HEAD(, applog_pipe) pipes = TAILQ_HEAD_INITIALIZER(pipes);
static TAILQ_HEAD(, spent) spents = TAILQ_HEAD_INITIALIZER(spents);

static void
spent_free(struct spent *sp)
{
	TAILQ_REMOVE(&spents, sp, sp_entry);
	free(sp->sp_path);
	free(sp);
}

/* Forgets the buckets full again by now; in closing order, oldest first. */
static void
spent_expire(uint64_t now)
{
	struct spent *sp;

	while ((sp = TAILQ_FIRST(&spents)) != NULL &&
	    now - sp->sp_ms >= APPLOG_BUCKET_MS)
		spent_free(sp);
}

/* lg closes: its bucket is kept if it paces and was used. */
static void
spent_keep(struct applog *lg)
{
	uint64_t now = (uint64_t)clock_mono_ms();
	struct spent *sp;

	spent_expire(now);
	if (lg->lg_rate == 0 || lg->lg_bucket.b_ms == 0)
		return;
	if ((sp = calloc(1, sizeof(*sp))) == NULL)
		return;		/* a full bucket next time, no more */
	sp->sp_path = lg->lg_path;
	lg->lg_path = NULL;
	sp->sp_bucket = lg->lg_bucket;
	sp->sp_ms = now;
	TAILQ_INSERT_TAIL(&spents, sp, sp_entry);
}

/* A new log of lg's path takes over the bucket of one closed lately. */
static void
spent_take(struct applog *lg)
{
	struct spent *sp;

	spent_expire((uint64_t)clock_mono_ms());
	TAILQ_FOREACH(sp, &spents, sp_entry)
		if (strcmp(sp->sp_path, lg->lg_path) == 0) {
			lg->lg_bucket = sp->sp_bucket;
			spent_free(sp);
			return;
		}
}

size_t
applog_fit(const char *buf, size_t n, uint64_t size, uint64_t max)
{
	const char *nl;
	uint64_t room;

	if (size >= max)
		return 0;
	room = max - size;
	if (n <= room)
		return n;
	if ((nl = memrchr(buf, '\n', (size_t)room)) != NULL)
		return (size_t)(nl - buf) + 1;
	return size == 0 ? (size_t)room : 0;
}

static char *
backup_name(const char *path, int k)
{
	char *name;

	if (asprintf(&name, "%s.%d", path, k) < 0)
		fatal("%s: asprintf", __func__);
	return name;
}

int
applog_shift(const char *path, int backups)
{
	char *from, *to;
	int rc = 0, err = 0;

	if (backups <= 0)
		return 0;
	for (int k = backups; k >= 1 && rc == 0; k--) {
		from = k == 1 ? strdup(path) : backup_name(path, k - 1);
		to = backup_name(path, k);
		if (from == NULL)
			fatal("%s: strdup", __func__);
		/* rename replaces path.<k>: the oldest goes in the same step. */
		if (rename(from, to) < 0 && errno != ENOENT) {
			err = errno;
			rc = -1;
		}
		free(from);
		free(to);
	}
	errno = err;
	return rc;
}

/*
 * (Re)opens lg_path. A tenant never owns log/<tenant>/, but the open
 * still refuses a link or anything but a regular file there (O_NONBLOCK
 * keeps a fifo from blocking the daemon). Returns 0 or -1 with errno.
 */
static int
log_reopen(struct applog *lg, bool truncate)
{
	struct stat st = { 0 };	/* mode 0: fstat failed */
	int fd;

	fd = open(lg->lg_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW | O_NONBLOCK | (truncate ? O_TRUNC : 0), 0640);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int err = st.st_mode == 0 ? errno : EINVAL;

		close(fd);
		errno = err;
		return -1;
	}
	lg->lg_fd = fd;
	lg->lg_size = (uint64_t)st.st_size;
	lg->lg_open = 0;
	return 0;
}

static void
log_close(struct applog *lg)
{
	if (lg->lg_fd >= 0)
		close(lg->lg_fd);
	lg->lg_fd = -1;
}

/* Writing failed (disk full, ...): say so once, count what is lost. */
static void
log_dropping(struct applog *lg, const char *what, int err, size_t n)
{
	lg->lg_dropped += n;
	if (lg->lg_failing)
		return;
	lg->lg_failing = true;
	log_warnx("%s: %s %s: %s; dropping output until it works again",
	    lg->lg_who, what, lg->lg_path, strerror(err));
}

static void
log_recovered(struct applog *lg)
{
	if (!lg->lg_failing)
		return;
	log_warnx("%s: writing %s again; %llu bytes of output were dropped",
	    lg->lg_who, lg->lg_path,
	    (unsigned long long)lg->lg_dropped);
	lg->lg_failing = false;
	lg->lg_dropped = 0;
}

/*
 * name.log is closed, shifted to name.log.1 and a new one started; with
 * no backups it is truncated instead. A failed shift still truncates, so
 * the cap holds at the price of that file's lines.
 */
static int
log_rotate(struct applog *lg)
{
	int err = 0;

	log_close(lg);
	if (applog_shift(lg->lg_path, lg->lg_backups) < 0) {
		err = errno;
		if (!lg->lg_shift_failing)
			log_warn("%s: rotate %s (truncating it instead)",
			    lg->lg_who, lg->lg_path);
	}
	lg->lg_shift_failing = err != 0;
	if (log_reopen(lg, true) < 0)
		return -1;
	log_debug("%s: rotated %s%s", lg->lg_who, lg->lg_path,
	    err ? " (truncated)" : "");
	return 0;
}

/*
 * Writing buf[0..n) failed, or could not start. The open bytes of an
 * unfinished line already in the file (from this call or an earlier one:
 * apps' output comes in pieces that end anywhere) are cut off again, as
 * record_append does, and the rest of that line is dropped as it comes,
 * up to its newline: the next line written starts a line. Everything cut
 * or dropped counts as dropped.
 */
static void
write_failed(struct applog *lg, const char *what, int err, const char *buf,
    size_t n)
{
	struct stat st;
	size_t cut = 0;

	if (lg->lg_fd >= 0 && lg->lg_open > 0) {
		cut = (size_t)lg->lg_open;
		(void)jsonline_untear(lg->lg_fd, cut);
		if (fstat(lg->lg_fd, &st) == 0)
			lg->lg_size = (uint64_t)st.st_size;
	}
	lg->lg_open = 0;
	lg->lg_skip = n > 0 ? buf[n - 1] != '\n' : cut > 0;
	log_dropping(lg, what, err, cut + n);
}

/* While lg_skip, drops buf's bytes up to and with the next newline. */
static size_t
skip_lost_line(struct applog *lg, const char *buf, size_t n)
{
	const char *nl;
	size_t k;

	if (!lg->lg_skip)
		return 0;
	nl = memchr(buf, '\n', n);
	k = nl == NULL ? n : (size_t)(nl - buf) + 1;
	lg->lg_skip = nl == NULL;
	lg->lg_dropped += k;
	return k;
}

void
applog_write(struct applog *lg, const char *buf, size_t n)
{
	const char *nl;
	size_t take;
	ssize_t w;

	take = skip_lost_line(lg, buf, n);
	buf += take;
	n -= take;
	while (n > 0) {
		if (lg->lg_fd < 0 && log_reopen(lg, false) < 0) {
			write_failed(lg, "open", errno, buf, n);
			return;
		}
		take = applog_fit(buf, n, lg->lg_size, lg->lg_max_size);
		if (take == 0) {
			if (log_rotate(lg) < 0) {
				write_failed(lg, "reopen", errno, buf, n);
				return;
			}
			continue;
		}
		if ((w = write(lg->lg_fd, buf, take)) < 0) {
			if (errno == EINTR)
				continue;
			write_failed(lg, "write", errno, buf, n);
			return;
		}
		nl = memrchr(buf, '\n', (size_t)w);
		lg->lg_open = nl == NULL ? lg->lg_open + (uint64_t)w :
		    (uint64_t)(buf + w - (nl + 1));
		lg->lg_size += (uint64_t)w;
		buf += w;
		n -= (size_t)w;
	}
	/* Not after a short write: on a full disk the stump cut off frees
	 * room for the next one, which would say "again" each time. */
	if (!lg->lg_skip)
		log_recovered(lg);
}

/*
 * The log of path, shared with its writers or made; opened now when
 * open_now, else at its first write (applog_write opens a closed log).
 * NULL with errno when open_now and it cannot be opened.
 */
static struct applog *
log_get(const char *path, const char *who, const struct conf_app_logs *c,
    bool open_now)
{
	struct applog *lg;

	TAILQ_FOREACH(lg, &logs, lg_entry)
		if (strcmp(lg->lg_path, path) == 0)
			break;
	if (lg == NULL) {
		if ((lg = calloc(1, sizeof(*lg))) == NULL ||
		    (lg->lg_path = strdup(path)) == NULL ||
		    (lg->lg_who = strdup(who)) == NULL)
			fatal("%s: alloc", __func__);
		lg->lg_fd = lg->lg_wfd = -1;
		if (open_now && log_reopen(lg, false) < 0) {
			int err = errno;

			free(lg->lg_path);
			free(lg->lg_who);
			free(lg);
			errno = err;
			return NULL;
		}
		TAILQ_INSERT_TAIL(&logs, lg, lg_entry);
		spent_take(lg);
	}
	/* A reload's new settings apply from the next app started. */
	lg->lg_max_size = c->al_max_size;
	lg->lg_backups = (int)c->al_backups;
	lg->lg_rate = c->al_rate;
	lg->lg_refs++;
	return lg;
}

struct applog *
applog_file(const char *path, const char *who, const struct conf_app_logs *c)
{
	return log_get(path, who, c, true);
}

void
applog_release(struct applog *lg)
{
	if (--lg->lg_refs > 0)
		return;
	if (lg->lg_failing)
		log_warnx("%s: closed %s; %llu bytes of output were dropped",
		    lg->lg_who, lg->lg_path,
		    (unsigned long long)lg->lg_dropped);
	TAILQ_REMOVE(&logs, lg, lg_entry);
	log_close(lg);
	spent_keep(lg);
	free(lg->lg_path);
	free(lg->lg_who);
	free(lg->lg_tenant);
	free(lg->lg_name);
	free(lg);
}

/* Closes the daemon's write end of lg's shared pipe, if it has one. */
static void
wfd_close(struct applog *lg)
{
	if (lg->lg_wfd >= 0)
		close(lg->lg_wfd);
	lg->lg_wfd = -1;
	lg->lg_pipe = NULL;
}

static void
pipe_close(struct applog_pipe *ap)
{
	/* A read error: the next app gets a new pipe. */
	if (ap->ap_log->lg_pipe == ap)
		wfd_close(ap->ap_log);
	TAILQ_REMOVE(&pipes, ap, ap_entry);
	ap->ap_log->lg_npipes--;
	event_free(ap->ap_ev);
	if (ap->ap_wait != NULL)
		event_free(ap->ap_wait);
	close(ap->ap_fd);
	applog_release(ap->ap_log);
	free(ap);
}

static void
on_refilled(evutil_socket_t fd, short what, void *arg)
{
	struct applog_pipe *ap = arg;

	(void)fd;
	(void)what;
	if (event_add(ap->ap_ev, NULL) < 0)
		fatalx("%s: event_add", __func__);
}

/*
 * The log's rate is used up: the pipe is not watched until its bucket
 * holds a chunk again (or a second's worth, if less). Meanwhile the pipe
 * fills and the app blocks in write(), costing no CPU, so a flood from
 * one tenant cannot take the CPUs from the others; nothing is dropped.
 */
static void
pipe_pause(struct applog_pipe *ap)
{
	struct applog *lg = ap->ap_log;
	uint64_t ms = bucket_wait_ms(&lg->lg_bucket, (double)lg->lg_rate,
	    APPLOG_CHUNK);

	if (ap->ap_wait == NULL && (ap->ap_wait = evtimer_new(
	    event_get_base(ap->ap_ev), on_refilled, ap)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	if (ms == 0)
		ms = 1;
	if (event_del(ap->ap_ev) < 0 || clock_timer_in(ap->ap_wait, ms) < 0)
		fatalx("%s: event_del/add", __func__);
	lg->lg_pauses++;
	lg->lg_held_ms += ms;
	if (lg->lg_paced_said)
		return;
	lg->lg_paced_said = true;
	log_info("%s: output for %s comes faster than app_logs.rate "
	    "(%llu bytes a second): read at that rate, the app waits to "
	    "write", lg->lg_who, lg->lg_path, (unsigned long long)lg->lg_rate);
}

/*
 * How much the next read from ap may take: a chunk, or less when that
 * is all its log's rate has left. 0: none left, the pipe paused.
 */
static size_t
pipe_allowance(struct applog_pipe *ap)
{
	struct applog *lg = ap->ap_log;
	uint64_t room = bucket_room(&lg->lg_bucket, (double)lg->lg_rate,
	    (uint64_t)clock_mono_ms());

	if (room == 0)
		pipe_pause(ap);
	return room < APPLOG_CHUNK ? (size_t)room : APPLOG_CHUNK;
}

/*
 * Reads one chunk, at the log's rate when paced. Returns 1 if it read
 * some, 0 when the pipe is empty for now (or paused), -1 at EOF or on an
 * error (then the pipe is closed).
 */
static int
pipe_read_once(struct applog_pipe *ap, bool paced)
{
	static char buf[APPLOG_CHUNK];
	size_t want = paced ? pipe_allowance(ap) : sizeof(buf);
	ssize_t n;

	if (want == 0)
		return 0;
	if ((n = read(ap->ap_fd, buf, want)) > 0) {
		if (paced)
			bucket_spend(&ap->ap_log->lg_bucket, (uint64_t)n);
		applog_write(ap->ap_log, buf, (size_t)n);
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0)
		log_warn("%s: read app output for %s", ap->ap_log->lg_who,
		    ap->ap_log->lg_path);
	pipe_close(ap);
	return -1;
}

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pipe_read_once(arg, true);
}

/*
 * lg is about to get a new pipe while APPLOG_OLD_PIPES of its apps' pipes
 * wait for their EOF: the oldest is closed, unread, and whoever still
 * holds its write end gets EPIPE.
 */
static void
old_pipe_close(struct applog *lg)
{
	struct applog_pipe *ap;

	TAILQ_FOREACH(ap, &pipes, ap_entry)
		if (ap->ap_log == lg && ap != lg->lg_pipe)
			break;
	if (ap == NULL)
		return;
	if (!lg->lg_old_said) {
		lg->lg_old_said = true;
		log_warnx("%s: %s: a process other than its apps holds the "
		    "output pipes of %d apps that ended: the oldest closed "
		    "(its writes fail now)", lg->lg_who, lg->lg_path,
		    APPLOG_OLD_PIPES);
	}
	pipe_close(ap);
}

/*
 * A new pipe drained into lg, its write end held in lg_wfd. The pipe
 * holds a reference to lg until its EOF. Returns 0 or -1 (logged).
 */
static int
pipe_open(struct event_base *base, struct applog *lg)
{
	struct applog_pipe *ap;
	int fds[2];

	if (lg->lg_npipes >= APPLOG_OLD_PIPES)
		old_pipe_close(lg);

	/* Only the daemon's end is non-blocking: a full pipe blocks the app. */
	if (pipe2(fds, O_CLOEXEC) < 0) {
		log_warn("%s: %s: pipe", lg->lg_who, __func__);
		return -1;
	}
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0)
		fatal("%s: fcntl", __func__);
	if ((ap = calloc(1, sizeof(*ap))) == NULL)
		fatal("%s: calloc", __func__);
	ap->ap_log = lg;
	ap->ap_fd = fds[0];
	ap->ap_ev = event_new(base, fds[0], EV_READ | EV_PERSIST, on_readable,
	    ap);
	if (ap->ap_ev == NULL || event_add(ap->ap_ev, NULL) < 0)
		fatalx("%s: event_new", __func__);
	TAILQ_INSERT_TAIL(&pipes, ap, ap_entry);
	lg->lg_npipes++;
	lg->lg_refs++;
	lg->lg_wfd = fds[1];
	lg->lg_pipe = ap;
	return 0;
}

struct applog *
applog_open(struct event_base *base, const struct conf_platform *p,
    const char *tenant, const char *name, const struct conf_app_logs *c,
    int *fd)
{
	char *path = state_path(p, "log/%s/%s.log", tenant, name), *who;
	struct applog *lg;

	if (asprintf(&who, "tenant %s", tenant) < 0)
		fatal("%s: asprintf", __func__);
	/* Opened at the app's first output: over a thousand tenants'
	 * silent apps, an open and close per app and a file created per
	 * tenant were an eighth of batchmgr's CPU per file
	 * (docs/benchmarks.md). */
	lg = log_get(path, who, c, false);
	free(who);
	free(path);
	if (lg->lg_tenant == NULL && ((lg->lg_tenant = strdup(tenant)) ==
	    NULL || asprintf(&lg->lg_name, "%s.log", name) < 0))
		fatal("%s: alloc", __func__);
	/* The reference taken here is the app's, until applog_app_end. */
	if (lg->lg_wfd < 0 && pipe_open(base, lg) < 0) {
		applog_release(lg);
		return NULL;
	}
	lg->lg_apps++;
	*fd = lg->lg_wfd;
	return lg;
}

void
applog_app_end(struct applog *lg)
{
	if (lg == NULL)
		return;
	if (--lg->lg_apps == 0)
		wfd_close(lg);
	applog_release(lg);
}

/* Whether one of lg's pipes waits for its bucket now. */
static bool
held_now(const struct applog *lg)
{
	const struct applog_pipe *ap;

	TAILQ_FOREACH(ap, &pipes, ap_entry)
		if (ap->ap_log == lg && ap->ap_wait != NULL &&
		    evtimer_pending(ap->ap_wait, NULL))
			return true;
	return false;
}

void
applog_status(bson_t *reply, const char *tenant)
{
	const struct applog *lg;
	bson_t list, doc;
	char key[16];
	uint32_t n = 0;

	BSON_APPEND_ARRAY_BEGIN(reply, "paced_logs", &list);
	TAILQ_FOREACH(lg, &logs, lg_entry) {
		if (lg->lg_tenant == NULL || lg->lg_pauses == 0 ||
		    (tenant != NULL && strcmp(tenant, lg->lg_tenant) != 0))
			continue;
		snprintf(key, sizeof(key), "%" PRIu32, n++);
		BSON_APPEND_DOCUMENT_BEGIN(&list, key, &doc);
		BSON_APPEND_UTF8(&doc, "tenant", lg->lg_tenant);
		BSON_APPEND_UTF8(&doc, "log", lg->lg_name);
		BSON_APPEND_INT64(&doc, "rate", (int64_t)lg->lg_rate);
		BSON_APPEND_INT64(&doc, "pauses", (int64_t)lg->lg_pauses);
		BSON_APPEND_INT64(&doc, "held_ms", (int64_t)lg->lg_held_ms);
		BSON_APPEND_BOOL(&doc, "held", held_now(lg));
		bson_append_document_end(&list, &doc);
	}
	bson_append_array_end(reply, &list);
}

void
applog_shutdown(void)
{
	struct applog_pipe *ap, *next;

	TAILQ_FOREACH_SAFE(ap, &pipes, ap_entry, next) {
		int rc = 1;

		/* Apps still running at exit are not waited for. */
		wfd_close(ap->ap_log);

		for (size_t got = 0; rc == 1 && got < APPLOG_EXIT_DRAIN;
		    got += APPLOG_CHUNK)
			rc = pipe_read_once(ap, false);
		if (rc >= 0)
			pipe_close(ap);
	}
	while (!TAILQ_EMPTY(&spents))
		spent_free(TAILQ_FIRST(&spents));
}

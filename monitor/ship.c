#include "ship.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bson/bson.h>
#include <mysimbdp.h>

#include "clock.h"
#include "log.h"
#include "shipstate.h"
#include "state.h"

#define NLOGS		3
#define CHUNK		(1024 * 1024)	/* bytes read per batch */
#define POLL_MS		500		/* new lines are looked for this often */
#define BACKOFF_MAX_MS	30000		/* the server down: retries at most */
#define WARN_EVERY_MS	60000

struct shiplog {
	const char	*l_name;	/* its _ids' prefix */
	const char	*l_file;	/* below log/ */
	const char	*l_coll;
	char		*l_path;
	struct msb_sink	*l_sink;
};

struct ship {
	pthread_t	 s_thread;
	pthread_mutex_t	 s_lock;
	pthread_cond_t	 s_wake;
	bool		 s_stop;
	char		*s_url;		/* with the write concern */
	char		*s_db;
	char		*s_state;	/* log/records.state */
	struct shiplog	 s_logs[NLOGS];
	struct ship_mark s_marks[NLOGS];
	int64_t		 s_warned_ms;
};

/* The document of one line: _id first, then the line's fields; a line
 * that is not JSON keeps its text, so nothing of the log is dropped. */
static bson_t *
line_doc(const char *name, uint64_t pos, const char *line, size_t len)
{
	bson_t *parsed = bson_new_from_json((const uint8_t *)line,
	    (ssize_t)len, NULL);
	bson_t *doc = bson_new();
	char id[SHIP_LOG_NAME_MAX + 24];
	bson_iter_t it;

	snprintf(id, sizeof(id), "%s:%" PRIu64, name, pos);
	BSON_APPEND_UTF8(doc, "_id", id);
	if (parsed != NULL && bson_iter_init(&it, parsed)) {
		while (bson_iter_next(&it))
			if (strcmp(bson_iter_key(&it), "_id") != 0)
				bson_append_iter(doc, NULL, 0, &it);
	} else
		bson_append_utf8(doc, "unparsed", -1, line, (int)len);
	if (parsed != NULL)
		bson_destroy(parsed);
	return doc;
}

/*
 * Stores the complete lines of fd from mark's offset, at most CHUNK
 * bytes. Returns the bytes stored (0: none waiting), or -1 when the
 * server failed (the mark stays).
 */
static ssize_t
ship_chunk(struct ship *s, struct shiplog *l, struct ship_mark *m, int fd)
{
	char *buf = malloc(CHUNK), err[512];
	ssize_t n = pread(fd, buf, CHUNK, (off_t)m->sm_off), used = 0;
	int rc = MSB_OK;

	if (buf == NULL || n <= 0) {
		free(buf);
		return 0;
	}
	if (l->l_sink == NULL && (rc = msb_sink_open(&l->l_sink, s->s_url,
	    s->s_db, l->l_coll, err, sizeof(err))) != MSB_OK) {
		free(buf);
		return -1;
	}
	for (char *p = buf, *nl; (nl = memchr(p, '\n', (size_t)(buf + n - p)))
	    != NULL && rc == MSB_OK; p = nl + 1) {
		bson_t *doc = line_doc(l->l_name, m->sm_base + m->sm_off +
		    (uint64_t)(p - buf), p, (size_t)(nl - p));

		if (nl > p && (rc = msb_sink_add(l->l_sink, doc)) ==
		    MSB_BADDOC) {
			/* Not a document MongoDB takes: its text then. */
			bson_destroy(doc);
			doc = line_doc(l->l_name, m->sm_base + m->sm_off +
			    (uint64_t)(p - buf), "", 0);
			bson_append_utf8(doc, "unstorable", -1, p,
			    (int)(nl - p));
			if ((rc = msb_sink_add(l->l_sink, doc)) == MSB_BADDOC)
				rc = MSB_OK;	/* not UTF-8 even: skipped */
		}
		bson_destroy(doc);
		used = nl + 1 - buf;
	}
	free(buf);
	if (rc == MSB_OK && used > 0)
		rc = msb_sink_commit(l->l_sink, NULL);
	if (rc != MSB_OK) {
		msb_sink_close(l->l_sink);	/* a new client next time */
		l->l_sink = NULL;
		return -1;
	}
	m->sm_off += (uint64_t)used;
	return used;
}

/* Ships the rest of the file at index k (shipstate_index) from the
 * mark. Returns the bytes stored, -1 when the server failed, or -2 when
 * the file there is another one by now or cannot be opened (a rotation:
 * the next pass). */
static ssize_t
ship_file(struct ship *s, struct shiplog *l, struct ship_mark *m, int k)
{
	char *path = shipstate_path(l->l_path, k);
	ssize_t got, total = 0;
	int fd;

	struct stat st;

	/* Not there (a rotation renaming the files now) or not open: the
	 * next pass looks again; the mark stays. */
	if (path == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		free(path);
		return -2;
	}
	free(path);
	if (fstat(fd, &st) != 0 || !shipstate_same(m, fd)) {
		close(fd);
		return -2;
	}
	/* Its first bytes are known from now on (a mark of an older
	 * records.state, or a file that was short). */
	if (m->sm_headlen < SHIP_HEAD_MAX &&
	    (uint64_t)st.st_size > m->sm_headlen)
		(void)shipstate_mark_file(m, fd);
	/* The same file, shorter than the mark: cut back in place
	 * (monitor.logs.backups = 0 rotates so) and grown back to the same
	 * first bytes. Its lines before the cut that were not stored are
	 * lost; it is read again from its start, under new ids. */
	if ((uint64_t)st.st_size < m->sm_off) {
		log_warnx("records: %s: the file was cut back in place at "
		    "%" PRIu64 " bytes: lines not yet stored before the cut are "
		    "not in MongoDB", l->l_file, m->sm_off);
		m->sm_base += m->sm_off;
		m->sm_off = 0;
	}
	while ((got = ship_chunk(s, l, m, fd)) > 0)
		total += got;
	close(fd);
	return got < 0 ? -1 : total;
}

/* Moves mark to the file at index k, from its start: its bytes before
 * (those of mark's file) count in the base. Returns 0, or -1 when there
 * is no file there (rotating right now: the next pass). */
static int
mark_next(struct shiplog *l, struct ship_mark *m, int k)
{
	char *path = shipstate_path(l->l_path, k);
	int fd, rc;

	if (path == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		free(path);
		return -1;
	}
	free(path);
	rc = shipstate_mark_file(m, fd);
	close(fd);
	if (rc == 0) {
		m->sm_base += m->sm_off;
		m->sm_off = 0;
	}
	return rc;
}

/* Mark's file is gone, what was not stored of it with it: rotated away
 * (monitor.logs.backups too small for the outage), or, with no rotated
 * file there, cut back in place (backups = 0). */
static void
lost(struct shiplog *l, const struct ship_mark *m, int oldest)
{
	if (oldest == 0)
		log_warnx("records: %s: the file was cut back in place at "
		    "%" PRIu64 " bytes: lines not yet stored before the cut are "
		    "not in MongoDB", l->l_file, m->sm_off);
	else
		log_warnx("records: %s: a file was rotated away before it "
		    "was stored: its lines past byte %" PRIu64 " are not in "
		    "MongoDB", l->l_file, m->sm_off);
}

/*
 * Ships what is new in one log, file after file when it was rotated
 * since (the mark's file to its end, then each newer one). Returns the
 * bytes stored, or -1 when the server failed.
 */
static ssize_t
ship_log(struct ship *s, struct shiplog *l, struct ship_mark *m)
{
	ssize_t got, total = 0;
	int j, k, oldest;

	for (;;) {
		if (m->sm_ino == 0) {
			/* Nothing stored yet: from the oldest file there is
			 * (the log may have rotated before the first pass). */
			(void)shipstate_index(l->l_path, NULL, &oldest);
			if (mark_next(l, m, oldest) != 0)
				return total;
		}
		if ((k = shipstate_index(l->l_path, m, &oldest)) < 0) {
			/* Not there by its inode, birth and first bytes. */
			lost(l, m, oldest);
			k = oldest + 1;	/* the oldest there is comes next */
		} else {
			if ((got = ship_file(s, l, m, k)) == -1)
				return -1;
			if (got == -2)
				return total;
			total += got;
			if (k == 0)
				return total;
		}
		/* The file is done: the next newer one follows it (looked
		 * up again, in case a rotation moved them meanwhile). */
		if ((j = shipstate_index(l->l_path, m, &oldest)) > 0)
			k = j;
		if (mark_next(l, m, k - 1) != 0)
			return total;	/* rotating right now: next pass */
	}
}

/* One pass over the logs; the marks are saved when something moved.
 * Returns 0, or -1 when the server failed. */
static int
ship_pass(struct ship *s)
{
	bool moved = false;
	int rc = 0;

	for (int k = 0; k < NLOGS; k++) {
		ssize_t got = ship_log(s, &s->s_logs[k], &s->s_marks[k]);

		if (got < 0)
			rc = -1;
		else if (got > 0)
			moved = true;
	}
	if (moved && shipstate_write(s->s_state, s->s_marks, NLOGS) != 0)
		log_warn("records: %s", s->s_state);
	return rc;
}

/* The server failed: said at most once a minute, with the backlog. */
static void
warn_down(struct ship *s)
{
	int64_t now = clock_mono_ms();
	const char *why;

	if (s->s_warned_ms != 0 && now - s->s_warned_ms < WARN_EVERY_MS)
		return;
	s->s_warned_ms = now;
	why = s->s_logs[0].l_sink ? msb_sink_error(s->s_logs[0].l_sink) :
	    "cannot open the sink";
	log_warnx("records: MongoDB unavailable (%s); %" PRIu64 " bytes of "
	    "ingest.jsonl, %" PRIu64 " of metrics.jsonl and %" PRIu64 " of "
	    "quality.jsonl wait", why,
	    shipstate_backlog(s->s_logs[0].l_path, &s->s_marks[0]),
	    shipstate_backlog(s->s_logs[1].l_path, &s->s_marks[1]),
	    shipstate_backlog(s->s_logs[2].l_path, &s->s_marks[2]));
}

static void *
run(void *arg)
{
	struct ship *s = arg;
	int64_t wait_ms = POLL_MS;

	pthread_mutex_lock(&s->s_lock);
	while (!s->s_stop) {
		struct timespec until;

		pthread_mutex_unlock(&s->s_lock);
		if (ship_pass(s) < 0) {
			warn_down(s);
			wait_ms = wait_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
			    wait_ms * 2;
		} else {
			if (s->s_warned_ms != 0)
				log_info("records: MongoDB back; caught up");
			s->s_warned_ms = 0;
			wait_ms = POLL_MS;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait_ms / 1000;
		until.tv_nsec += (wait_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&s->s_lock);
		if (!s->s_stop)
			pthread_cond_timedwait(&s->s_wake, &s->s_lock, &until);
	}
	pthread_mutex_unlock(&s->s_lock);
	return NULL;
}

/* The marks from records.state, in the order of s_logs. */
static void
load_marks(struct ship *s)
{
	struct ship_mark seen[NLOGS * 2];
	int n = shipstate_read(s->s_state, seen, NLOGS * 2);

	if (n < 0)
		log_warn("records: %s: starting from the beginning of the logs",
		    s->s_state);
	for (int k = 0; k < NLOGS; k++) {
		snprintf(s->s_marks[k].sm_log, sizeof(s->s_marks[k].sm_log),
		    "%s", s->s_logs[k].l_name);
		for (int j = 0; j < n && j < NLOGS * 2; j++)
			if (strcmp(seen[j].sm_log, s->s_logs[k].l_name) == 0)
				s->s_marks[k] = seen[j];
	}
}

struct ship *
ship_start(const struct conf_platform *p)
{
	static const struct { const char *name, *file, *coll; } logs[NLOGS] = {
		{ "ingest", "ingest.jsonl", "ingestions" },
		{ "metrics", "metrics.jsonl", "metrics" },
		{ "quality", "quality.jsonl", "quality" },
	};
	struct ship *s;

	if (strncmp(p->p_mongo_url, "mongodb", 7) != 0)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("%s: calloc", __func__);
	s->s_url = conf_platform_app_mongo_url(p);
	if ((s->s_db = strdup(p->p_mongo_records_db)) == NULL)
		fatal("%s: strdup", __func__);
	s->s_state = state_path(p, "log/records.state");
	for (int k = 0; k < NLOGS; k++) {
		s->s_logs[k].l_name = logs[k].name;
		s->s_logs[k].l_file = logs[k].file;
		s->s_logs[k].l_coll = logs[k].coll;
		s->s_logs[k].l_path = state_path(p, "log/%s", logs[k].file);
	}
	load_marks(s);
	msb_init();
	pthread_mutex_init(&s->s_lock, NULL);
	pthread_cond_init(&s->s_wake, NULL);
	if ((errno = pthread_create(&s->s_thread, NULL, run, s)) != 0)
		fatal("%s: pthread_create", __func__);
	log_info("records: to MongoDB, database %s", s->s_db);
	return s;
}

void
ship_stop(struct ship *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->s_lock);
	s->s_stop = true;
	pthread_cond_signal(&s->s_wake);
	pthread_mutex_unlock(&s->s_lock);
	pthread_join(s->s_thread, NULL);
	for (int k = 0; k < NLOGS; k++) {
		msb_sink_close(s->s_logs[k].l_sink);
		free(s->s_logs[k].l_path);
	}
	pthread_mutex_destroy(&s->s_lock);
	pthread_cond_destroy(&s->s_wake);
	free(s->s_url);
	free(s->s_db);
	free(s->s_state);
	free(s);
}

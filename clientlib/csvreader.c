/*
 * A streaming CSV reader over libcsv. libcsv hands over one field at a
 * time, valid only during its callback; the reader copies the fields of
 * a record into a buffer (struct recs) and calls the app back once per
 * record with all of them.
 *
 * Fed by msb_csv_feed, the buffer holds one record: it is delivered as
 * soon as it is complete, so memory stays at one record whatever the
 * file size. msb_csv_read_fd parses ahead on a thread of its own: there
 * a buffer collects many records and goes through a small ring to the
 * caller's thread, which delivers them. The callbacks' work (converting,
 * checking, storing) then runs beside the parse instead of after it, and
 * the ring bounds memory to a few buffers.
 */
#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mysimbdp-internal.h"

#define DEFAULT_MAX_RECORD (64 * 1024 * 1024)
#define AHEAD_READ	(1024 * 1024)	/* bytes per read */
#define AHEAD_BYTES	(256 * 1024)	/* a buffer goes when it holds this */
#define AHEAD_RING	4		/* buffers parsed or being delivered */
#define SLICE		(64 * 1024)	/* bytes per csv_parse: see parse() */
#define HUGE_RECORD	(1024 * 1024)	/* out of memory in it: its fault */

/* What a field costs beyond its bytes and NUL: r_offs, r_lens, c_fields. */
#define FIELD_COST	(2 * sizeof(size_t) + sizeof(char *))

static const unsigned char bom[3] = { 0xef, 0xbb, 0xbf };

/* Records, complete but not yet delivered, and the one being parsed. */
struct recs {
	char		*r_data;	/* field bytes, each followed by NUL */
	size_t		 r_datalen, r_datacap;
	size_t		*r_offs;	/* per field: where in r_data */
	size_t		*r_lens;
	size_t		 r_nfields, r_fieldcap;
	size_t		*r_first;	/* per complete record: first field */
	size_t		 r_nrecs, r_reccap;
	size_t		 r_recdata;	/* r_datalen when this record began */
	size_t		 r_recfield;	/* r_nfields when this record began */
	uint64_t	 r_bytes;	/* input parsed into this buffer */
};

/* Parsing ahead: the ring between the parsing thread and the caller's. */
struct ahead {
	struct msb_csv	*a_csv;
	int		 a_fd;
	pthread_mutex_t	 a_lock;
	pthread_cond_t	 a_filled;	/* a buffer is ready, or a_done */
	pthread_cond_t	 a_emptied;	/* a buffer was delivered */
	struct recs	 a_ring[AHEAD_RING];
	unsigned	 a_head;	/* the next to deliver */
	unsigned	 a_count;	/* ready or being delivered */
	bool		 a_done;	/* the parser has stopped */
	atomic_bool	 a_quit;	/* the caller stops: stop parsing */
};

struct msb_csv {
	struct csv_parser	 c_parser;
	struct msb_csv_options	 c_opts;
	msb_csv_cb		 c_cb;
	void			*c_arg;

	/*
	 * The parsing side: where fields go (c_one, or a ring buffer while
	 * parsing ahead), records completed (the header too), and why it
	 * stopped. Parsing ahead, only the parsing thread touches these
	 * until it is done.
	 */
	struct recs		*c_recs;
	struct recs		 c_one;
	struct ahead		*c_ahead;
	uint64_t		 c_nparsed;
	int			 c_stop;	/* non-zero: the result */
	bool			 c_finished;
	struct msb__sha256	*c_sha;		/* hashes what is fed, or NULL */
	unsigned char		 c_bom[3];	/* the first bytes */
	size_t			 c_nbom;
	bool			 c_bom_done;
	char			 c_err[256];

	/* The delivering side (the caller's thread). */
	const char		**c_fields;
	size_t			 c_nfieldptrs;
	uint64_t		 c_nrec;	/* data records delivered */
	bool			 c_header_seen;
	size_t			 c_nomem;	/* no pointers for this many */
};

static int
stop(struct msb_csv *csv, int rc, const char *fmt, ...) MSB__FMT(3, 4);

static int
stop(struct msb_csv *csv, int rc, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		va_start(ap, fmt);
		msb__vseterr(csv->c_err, sizeof(csv->c_err), fmt, ap);
		va_end(ap);
	}
	csv->c_stop = rc;
	return rc;
}

/*
 * What the record being parsed holds so far by the measure of max_record:
 * its finished fields, each with its NUL and FIELD_COST, and with pending
 * the field libcsv is still collecting, less the trailing spaces it may
 * drop. That is never more than the record will hold, so whatever way
 * the input is cut, the same record is refused. libcsv updates entry_pos
 * when csv_parse returns, not during its callbacks (csv_get_buffer_size()
 * is no help: the buffer never shrinks).
 */
static size_t
record_size(const struct msb_csv *csv, bool pending)
{
	const struct recs *r = csv->c_recs;
	const struct csv_parser *p = &csv->c_parser;
	size_t n = r->r_datalen - r->r_recdata +
	    (r->r_nfields - r->r_recfield) * FIELD_COST;

	if (pending && p->entry_pos > p->spaces)
		n += p->entry_pos - p->spaces;
	return n;
}

/* The number of the data record the parser is in, for messages. */
static uint64_t
current(const struct msb_csv *csv)
{
	uint64_t done = csv->c_nparsed;

	if ((csv->c_opts.flags & MSB_CSV_HEADER) && done > 0)
		done--;		/* the header is record 0 */
	return done + 1;
}

static int
too_large(struct msb_csv *csv)
{
	return stop(csv, MSB_ERROR, "record %" PRIu64 ": larger than %zu "
	    "bytes (an unclosed quote, or too many fields?)", current(csv),
	    csv->c_opts.max_record);
}

/*
 * Out of memory in a record of n bytes: a temporary failure, unless the
 * record is huge, when a retry would fail the same way (an app's
 * limits.memory): the file is bad.
 */
static int
nomem(struct msb_csv *csv, size_t n)
{
	if (n > HUGE_RECORD)
		return stop(csv, MSB_ERROR, "record %" PRIu64 ": out of memory "
		    "at %zu bytes (a huge record)", current(csv), n);
	return stop(csv, MSB_TEMPFAIL, "out of memory");
}

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *np;

	while (n < need)
		n *= 2;
	if ((np = realloc(*p, n * size)) == NULL)
		return -1;
	*p = np;
	*cap = n;
	return 0;
}

/* Room for one more field of len bytes. Returns -1 when out of memory. */
static int
recs_room(struct recs *r, size_t len)
{
	if (r->r_nfields + 1 > r->r_fieldcap) {
		size_t cap = r->r_fieldcap;

		/* Two arrays of the same capacity: grow them together. */
		if (grow((void **)&r->r_offs, &cap, r->r_nfields + 1,
		    sizeof(size_t)) == -1)
			return -1;
		cap = r->r_fieldcap;
		if (grow((void **)&r->r_lens, &cap, r->r_nfields + 1,
		    sizeof(size_t)) == -1)
			return -1;
		r->r_fieldcap = cap;
	}
	if (r->r_datalen + len + 1 > r->r_datacap && grow((void **)&r->r_data,
	    &r->r_datacap, r->r_datalen + len + 1, 1) == -1)
		return -1;
	return 0;
}

/* The fields since r_recfield make a record. */
static int
recs_end_record(struct recs *r)
{
	if (r->r_nrecs + 1 > r->r_reccap && grow((void **)&r->r_first,
	    &r->r_reccap, r->r_nrecs + 1, sizeof(size_t)) == -1)
		return -1;
	r->r_first[r->r_nrecs++] = r->r_recfield;
	r->r_recfield = r->r_nfields;
	r->r_recdata = r->r_datalen;
	return 0;
}

static void
recs_clear(struct recs *r)
{
	r->r_datalen = r->r_nfields = r->r_nrecs = 0;
	r->r_recdata = r->r_recfield = 0;
	r->r_bytes = 0;
}

static void
recs_free(struct recs *r)
{
	free(r->r_data);
	free(r->r_offs);
	free(r->r_lens);
	free(r->r_first);
	memset(r, 0, sizeof(*r));
}

static void
on_field(void *field, size_t len, void *arg)
{
	struct msb_csv *csv = arg;
	struct recs *r = csv->c_recs;
	size_t size;

	if (csv->c_stop)
		return;
	size = record_size(csv, false) + len + 1 + FIELD_COST;
	if (size > csv->c_opts.max_record) {
		too_large(csv);
		return;
	}
	if (recs_room(r, len) == -1) {
		nomem(csv, size);
		return;
	}
	if (len > 0)
		memcpy(r->r_data + r->r_datalen, field, len);
	r->r_data[r->r_datalen + len] = '\0';
	r->r_offs[r->r_nfields] = r->r_datalen;
	r->r_lens[r->r_nfields] = len;
	r->r_nfields++;
	r->r_datalen += len + 1;
}

/*
 * Calls the app back for one record: the header, or the next data
 * record. Returns the callback's value.
 */
static int
deliver(struct msb_csv *csv, const struct recs *r, size_t first, size_t n)
{
	struct msb_csv_record rec;

	if (n > csv->c_nfieldptrs && grow((void **)&csv->c_fields,
	    &csv->c_nfieldptrs, n, sizeof(char *)) == -1) {
		csv->c_nomem = n;
		return n * FIELD_COST > HUGE_RECORD ? MSB_ERROR : MSB_TEMPFAIL;
	}
	for (size_t i = 0; i < n; i++)
		csv->c_fields[i] = r->r_data + r->r_offs[first + i];
	rec.nfields = n;
	rec.fields = csv->c_fields;
	rec.lens = r->r_lens + first;
	if ((csv->c_opts.flags & MSB_CSV_HEADER) && !csv->c_header_seen) {
		csv->c_header_seen = true;
		rec.num = 0;
		return csv->c_opts.on_header != NULL ?
		    csv->c_opts.on_header(&rec, csv->c_arg) : 0;
	}
	rec.num = ++csv->c_nrec;
	return csv->c_cb(&rec, csv->c_arg);
}

/* Delivers the complete records of r, in order, and empties it. */
static int
deliver_all(struct msb_csv *csv, struct recs *r)
{
	int rc = 0;

	for (size_t i = 0; i < r->r_nrecs && rc == 0; i++) {
		size_t end = i + 1 < r->r_nrecs ? r->r_first[i + 1] :
		    r->r_recfield;

		rc = deliver(csv, r, r->r_first[i], end - r->r_first[i]);
	}
	recs_clear(r);
	return rc;
}

/* Stops with deliver_all's rc: the callback's, or out of memory. */
static int
stop_delivery(struct msb_csv *csv, int rc)
{
	if (csv->c_nomem == 0)
		return stop(csv, rc, NULL);
	if (rc == MSB_ERROR)
		return stop(csv, rc, "record %" PRIu64 ": out of memory for "
		    "%zu fields", csv->c_nrec + 1, csv->c_nomem);
	return stop(csv, rc, "out of memory");
}

static void ahead_pass(struct msb_csv *);

static void
on_record(int c, void *arg)
{
	struct msb_csv *csv = arg;
	int rc;

	(void)c;
	if (csv->c_stop)
		return;
	if (recs_end_record(csv->c_recs) == -1) {
		nomem(csv, record_size(csv, false));
		return;
	}
	csv->c_nparsed++;
	if (csv->c_ahead != NULL) {
		if (csv->c_recs->r_datalen >= AHEAD_BYTES)
			ahead_pass(csv);
	} else if ((rc = deliver_all(csv, csv->c_recs)) != 0)
		stop_delivery(csv, rc);
}

struct msb_csv *
msb_csv_new(const struct msb_csv_options *opts, msb_csv_cb cb, void *arg)
{
	struct msb_csv *csv;
	unsigned char flags = 0;

	if (cb == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((csv = calloc(1, sizeof(*csv))) == NULL)
		return NULL;
	if (opts != NULL)
		csv->c_opts = *opts;
	if (csv->c_opts.delimiter == 0)
		csv->c_opts.delimiter = ',';
	if (csv->c_opts.quote == 0)
		csv->c_opts.quote = '"';
	if (csv->c_opts.max_record == 0)
		csv->c_opts.max_record = DEFAULT_MAX_RECORD;
	if (csv->c_opts.flags & MSB_CSV_STRICT)
		flags |= CSV_STRICT | CSV_STRICT_FINI;
	if (csv_init(&csv->c_parser, flags) != 0) {
		free(csv);
		errno = ENOMEM;
		return NULL;
	}
	csv_set_delim(&csv->c_parser, (unsigned char)csv->c_opts.delimiter);
	csv_set_quote(&csv->c_parser, (unsigned char)csv->c_opts.quote);
	csv->c_cb = cb;
	csv->c_arg = arg;
	csv->c_recs = &csv->c_one;
	return csv;
}

/*
 * Parses len bytes, SLICE at a time: libcsv collects a field in a buffer
 * of its own, unbounded, so the record's size is checked with that field
 * after each slice. An unclosed quote is stopped within SLICE bytes past
 * max_record rather than at the end of the file.
 */
static int
parse(struct msb_csv *csv, const void *buf, size_t len)
{
	const char *p = buf;
	size_t n, want;

	while (len > 0 && !csv->c_stop) {
		want = len < SLICE ? len : SLICE;
		n = csv_parse(&csv->c_parser, p, want, on_field, on_record,
		    csv);
		if (csv->c_stop)
			break;
		if (n != want) {
			int e = csv_error(&csv->c_parser);

			if (e == CSV_ENOMEM)
				return nomem(csv, record_size(csv, true));
			return stop(csv, MSB_ERROR, "record %" PRIu64 ": "
			    "malformed CSV (%s)", current(csv),
			    csv_strerror(e));
		}
		if (record_size(csv, true) > csv->c_opts.max_record)
			return too_large(csv);
		p += n;
		len -= n;
	}
	return csv->c_stop;
}

int
msb_csv_feed(struct msb_csv *csv, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	if (csv->c_stop)
		return csv->c_stop;
	if (csv->c_finished)
		return stop(csv, MSB_ERROR, "input already finished");
	if (csv->c_sha != NULL)
		msb__sha256_update(csv->c_sha, buf, len);
	/* A UTF-8 byte-order mark may arrive split over several calls. */
	while (!csv->c_bom_done && len > 0) {
		csv->c_bom[csv->c_nbom++] = *p++;
		len--;
		if (csv->c_bom[csv->c_nbom - 1] != bom[csv->c_nbom - 1]) {
			csv->c_bom_done = true;
			if (parse(csv, csv->c_bom, csv->c_nbom) != 0)
				return csv->c_stop;
		} else if (csv->c_nbom == sizeof(bom))
			csv->c_bom_done = true;
	}
	return parse(csv, p, len);
}

int
msb_csv_finish(struct msb_csv *csv)
{
	if (csv->c_stop)
		return csv->c_stop;
	if (csv->c_finished)
		return MSB_OK;
	csv->c_finished = true;
	if (!csv->c_bom_done) {
		csv->c_bom_done = true;
		if (parse(csv, csv->c_bom, csv->c_nbom) != 0)
			return csv->c_stop;
	}
	if (csv_fini(&csv->c_parser, on_field, on_record, csv) != 0 &&
	    !csv->c_stop)
		return stop(csv, MSB_ERROR, "record %" PRIu64 ": malformed "
		    "CSV at the end of the input (an unclosed quote?)",
		    current(csv));
	return csv->c_stop;
}

/* ---- parsing ahead (msb_csv_read_fd) ------------------------------ */

/*
 * Reads up to size bytes of fd into buf and parses them, or ends the
 * input at its end. Returns the bytes read (0: the end, parsed), or -1
 * when the reader stopped (c_stop says why; a read error is "read: ...").
 */
static ssize_t
read_and_parse(struct msb_csv *csv, int fd, char *buf, size_t size)
{
	ssize_t n;

	while ((n = read(fd, buf, size)) == -1 && errno == EINTR)
		;
	if (n == -1) {
		int e = errno;

		stop(csv, msb__errno_rc(e), "read: %s", strerror(e));
		return -1;
	}
	if ((n == 0 ? msb_csv_finish(csv) : msb_csv_feed(csv, buf,
	    (size_t)n)) != MSB_OK)
		return -1;
	return n;
}

/*
 * On the parsing thread: hands the buffer filled over and takes the next
 * one, waiting while every buffer is full. When the caller has stopped,
 * the parse stops instead.
 */
static void
ahead_pass(struct msb_csv *csv)
{
	struct ahead *a = csv->c_ahead;

	pthread_mutex_lock(&a->a_lock);
	a->a_count++;
	pthread_cond_signal(&a->a_filled);
	while (a->a_count == AHEAD_RING && !atomic_load(&a->a_quit))
		pthread_cond_wait(&a->a_emptied, &a->a_lock);
	if (atomic_load(&a->a_quit))
		stop(csv, MSB_ERROR, NULL);	/* the caller has its result */
	else
		csv->c_recs = &a->a_ring[(a->a_head + a->a_count) %
		    AHEAD_RING];
	pthread_mutex_unlock(&a->a_lock);
}

/* The parsing thread: reads and parses to the end, or to a stop. */
static void *
ahead_run(void *arg)
{
	struct ahead *a = arg;
	struct msb_csv *csv = a->a_csv;
	char *buf;
	ssize_t n;

	if ((buf = malloc(AHEAD_READ)) == NULL)
		stop(csv, MSB_TEMPFAIL, "out of memory");
	/* The bytes count in the buffer being filled when their parse ends
	 * (after a stop it may be the caller's: nothing is counted then). */
	while (buf != NULL && !atomic_load(&a->a_quit) &&
	    (n = read_and_parse(csv, a->a_fd, buf, AHEAD_READ)) > 0)
		csv->c_recs->r_bytes += (uint64_t)n;
	free(buf);
	pthread_mutex_lock(&a->a_lock);
	if (!atomic_load(&a->a_quit))
		a->a_count++;	/* the last buffer, maybe empty */
	a->a_done = true;
	pthread_cond_signal(&a->a_filled);
	pthread_mutex_unlock(&a->a_lock);
	return NULL;
}

/*
 * On the caller's thread: the next buffer to deliver, waiting for the
 * parser; NULL when it is done and all are delivered.
 */
static struct recs *
ahead_next(struct ahead *a)
{
	struct recs *r = NULL;

	pthread_mutex_lock(&a->a_lock);
	while (a->a_count == 0 && !a->a_done)
		pthread_cond_wait(&a->a_filled, &a->a_lock);
	if (a->a_count > 0)
		r = &a->a_ring[a->a_head];
	pthread_mutex_unlock(&a->a_lock);
	return r;
}

/* On the caller's thread: the buffer from ahead_next is delivered. */
static void
ahead_release(struct ahead *a)
{
	pthread_mutex_lock(&a->a_lock);
	a->a_head = (a->a_head + 1) % AHEAD_RING;
	a->a_count--;
	pthread_cond_signal(&a->a_emptied);
	pthread_mutex_unlock(&a->a_lock);
}

static void
ahead_free(struct ahead *a)
{
	for (size_t i = 0; i < AHEAD_RING; i++)
		recs_free(&a->a_ring[i]);
	pthread_cond_destroy(&a->a_emptied);
	pthread_cond_destroy(&a->a_filled);
	pthread_mutex_destroy(&a->a_lock);
	free(a);
}

/*
 * Starts the parsing thread, with every signal blocked so that the app's
 * handlers run on its own threads. Returns NULL (errno set) if it cannot.
 */
static struct ahead *
ahead_start(struct msb_csv *csv, int fd, pthread_t *thread)
{
	sigset_t all, old;
	struct ahead *a;
	int e;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->a_csv = csv;
	a->a_fd = fd;
	atomic_init(&a->a_quit, false);
	pthread_mutex_init(&a->a_lock, NULL);
	pthread_cond_init(&a->a_filled, NULL);
	pthread_cond_init(&a->a_emptied, NULL);
	/* The record in progress moves to the ring: it may have begun. */
	a->a_ring[0] = csv->c_one;
	memset(&csv->c_one, 0, sizeof(csv->c_one));
	csv->c_recs = &a->a_ring[0];
	csv->c_ahead = a;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(thread, NULL, ahead_run, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e == 0)
		return a;
	csv->c_one = a->a_ring[0];
	memset(&a->a_ring[0], 0, sizeof(a->a_ring[0]));
	csv->c_recs = &csv->c_one;
	csv->c_ahead = NULL;
	ahead_free(a);
	errno = e;
	return NULL;
}

/* Delivers what the parsing thread gives until it is done or rc. */
static int
ahead_deliver(struct msb_csv *csv, struct ahead *a,
    msb_csv_progress_cb progress)
{
	struct recs *r;
	uint64_t bytes;
	int rc;

	while ((r = ahead_next(a)) != NULL) {
		bytes = r->r_bytes;
		rc = deliver_all(csv, r);
		/* A buffer that grew for a huge record is not kept. */
		if (r->r_datacap > 4 * AHEAD_BYTES)
			recs_free(r);
		if (progress != NULL && bytes > 0)
			progress(bytes, csv->c_arg);
		if (rc != 0)
			return rc;
		ahead_release(a);
	}
	return 0;
}

/* msb_csv_read_fd on the caller's thread alone, when no thread starts. */
static int
read_here(struct msb_csv *csv, int fd, msb_csv_progress_cb progress)
{
	char buf[65536];
	ssize_t n;

	while ((n = read_and_parse(csv, fd, buf, sizeof(buf))) > 0)
		if (progress != NULL)
			progress((uint64_t)n, csv->c_arg);
	return csv->c_stop;
}

int
msb_csv_read_fd(struct msb_csv *csv, int fd, msb_csv_progress_cb progress)
{
	struct ahead *a;
	pthread_t thread;
	int rc;

	if (csv->c_stop)
		return csv->c_stop;
	if (csv->c_finished)
		return stop(csv, MSB_ERROR, "input already finished");
	if ((a = ahead_start(csv, fd, &thread)) == NULL)
		return read_here(csv, fd, progress);
	if ((rc = ahead_deliver(csv, a, progress)) != 0) {
		pthread_mutex_lock(&a->a_lock);
		atomic_store(&a->a_quit, true);
		pthread_cond_signal(&a->a_emptied);
		pthread_mutex_unlock(&a->a_lock);
	}
	pthread_join(thread, NULL);
	csv->c_recs = &csv->c_one;
	csv->c_ahead = NULL;
	ahead_free(a);
	if (rc != 0)
		return stop_delivery(csv, rc);
	return csv->c_stop;
}

void
msb__csv_hash_into(struct msb_csv *csv, struct msb__sha256 *ctx)
{
	csv->c_sha = ctx;
}

const char *
msb_csv_error(const struct msb_csv *csv)
{
	return csv->c_err;
}

uint64_t
msb_csv_records(const struct msb_csv *csv)
{
	return csv->c_nrec;
}

void
msb_csv_free(struct msb_csv *csv)
{
	if (csv == NULL)
		return;
	csv_free(&csv->c_parser);
	recs_free(&csv->c_one);
	free(csv->c_fields);
	free(csv);
}

int
msb_csv_read_file(const char *path, const struct msb_csv_options *opts,
    msb_csv_cb cb, void *arg, char *err, size_t errlen)
{
	struct msb_csv *csv;
	int fd, rc;

	msb__seterr(err, errlen, "%s", "");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		int e = errno;

		msb__seterr(err, errlen, "%s: %s", path, strerror(e));
		return msb__errno_rc(e);
	}
	if ((csv = msb_csv_new(opts, cb, arg)) == NULL) {
		msb__seterr(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return MSB_ERROR;
	}
	rc = msb_csv_read_fd(csv, fd, NULL);
	if (rc != MSB_OK && csv->c_err[0] != '\0')
		msb__seterr(err, errlen, "%s: %s", path, csv->c_err);
	msb_csv_free(csv);
	close(fd);
	return rc;
}

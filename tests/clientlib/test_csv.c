/*
 * The CSV reader: quoted fields with delimiters, doubled quotes and line
 * breaks come out as the right fields, whatever way the input is cut into
 * pieces; headers, errors and early stops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysimbdp.h>

#include "util.h"

#define MAXREC 16
#define MAXFLD 8

/* What the callbacks saw. */
struct seen {
	size_t		 nrec;
	uint64_t	 num[MAXREC];
	size_t		 nfields[MAXREC];
	char		*field[MAXREC][MAXFLD];
	size_t		 len[MAXREC][MAXFLD];
	size_t		 header_nfields;
	char		*header[MAXFLD];
	int		 stop_at;	/* return 7 at this record number */
};

static int
on_record(const struct msb_csv_record *rec, void *arg)
{
	struct seen *s = arg;

	assert_true(s->nrec < MAXREC);
	assert_true(rec->nfields <= MAXFLD);
	s->num[s->nrec] = rec->num;
	s->nfields[s->nrec] = rec->nfields;
	for (size_t i = 0; i < rec->nfields; i++) {
		/* Fields are NUL-terminated at their length. */
		assert_int_equal(rec->fields[i][rec->lens[i]], '\0');
		s->field[s->nrec][i] = strndup(rec->fields[i], rec->lens[i]);
		s->len[s->nrec][i] = rec->lens[i];
	}
	s->nrec++;
	return s->stop_at != 0 && rec->num == (uint64_t)s->stop_at ? 7 : 0;
}

static int
on_header(const struct msb_csv_record *rec, void *arg)
{
	struct seen *s = arg;

	assert_int_equal(rec->num, 0);
	s->header_nfields = rec->nfields;
	for (size_t i = 0; i < rec->nfields && i < MAXFLD; i++)
		s->header[i] = strdup(rec->fields[i]);
	return 0;
}

static void
seen_free(struct seen *s)
{
	for (size_t r = 0; r < MAXREC; r++)
		for (size_t i = 0; i < MAXFLD; i++)
			free(s->field[r][i]);
	for (size_t i = 0; i < MAXFLD; i++)
		free(s->header[i]);
	memset(s, 0, sizeof(*s));
}

/* Feeds text in pieces of chunk bytes (0: all at once). */
static int
parse(const struct msb_csv_options *opts, const char *text, size_t len,
    size_t chunk, struct seen *s)
{
	struct msb_csv *csv = msb_csv_new(opts, on_record, s);
	int rc = MSB_OK;

	assert_non_null(csv);
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len && rc == MSB_OK; off += chunk)
		rc = msb_csv_feed(csv, text + off,
		    len - off < chunk ? len - off : chunk);
	if (rc == MSB_OK)
		rc = msb_csv_finish(csv);
	assert_int_equal(msb_csv_records(csv), s->nrec);
	msb_csv_free(csv);
	return rc;
}

static void
expect_field(const struct seen *s, size_t rec, size_t i, const char *want)
{
	assert_true(rec < s->nrec);
	assert_true(i < s->nfields[rec]);
	assert_string_equal(s->field[rec][i], want);
}

/* Quotes, delimiters and line breaks inside fields, CRLF and LF. */
static const char tricky[] =
    "1001,\"Sunny loft, near the park\",\"$1,234.00\"\r\n"
    "1002,\"Quiet room \"\"with view\"\"\",45.5\n"
    "1003,\"two\nlines\r\nhere\",\n"
    "\n"
    "1004,,\"\"\n"
    "1005,  padded  ,last";	/* no line break at the end */

static void
check_tricky(const struct seen *s)
{
	assert_int_equal(s->nrec, 5);
	for (size_t r = 0; r < 5; r++) {
		assert_int_equal(s->num[r], r + 1);
		assert_int_equal(s->nfields[r], 3);
	}
	expect_field(s, 0, 0, "1001");
	expect_field(s, 0, 1, "Sunny loft, near the park");
	expect_field(s, 0, 2, "$1,234.00");
	expect_field(s, 1, 1, "Quiet room \"with view\"");
	expect_field(s, 1, 2, "45.5");
	expect_field(s, 2, 1, "two\nlines\r\nhere");
	expect_field(s, 2, 2, "");
	expect_field(s, 3, 1, "");
	expect_field(s, 3, 2, "");
	expect_field(s, 4, 1, "padded");
	expect_field(s, 4, 2, "last");
}

static void
quotes_commas_and_newlines(void **state)
{
	struct seen s = { 0 };

	assert_int_equal(parse(NULL, tricky, strlen(tricky), 0, &s), MSB_OK);
	check_tricky(&s);
	seen_free(&s);
}

static void
any_chunking_gives_the_same_records(void **state)
{
	for (size_t chunk = 1; chunk <= 17; chunk++) {
		struct seen s = { 0 };

		assert_int_equal(parse(NULL, tricky, strlen(tricky), chunk,
		    &s), MSB_OK);
		check_tricky(&s);
		seen_free(&s);
	}
}

static void
header_row(void **state)
{
	static const char text[] = "\xef\xbb\xbfid,name\n1,a\n2,b\n";
	struct msb_csv_options opts = {
		.flags = MSB_CSV_HEADER, .on_header = on_header,
	};

	/* The byte-order mark is dropped even when split over feeds. */
	for (size_t chunk = 0; chunk <= 2; chunk++) {
		struct seen s = { 0 };

		assert_int_equal(parse(&opts, text, strlen(text), chunk, &s),
		    MSB_OK);
		assert_int_equal(s.header_nfields, 2);
		assert_string_equal(s.header[0], "id");
		assert_string_equal(s.header[1], "name");
		assert_int_equal(s.nrec, 2);
		assert_int_equal(s.num[0], 1);
		expect_field(&s, 0, 0, "1");
		expect_field(&s, 1, 1, "b");
		seen_free(&s);
	}
}

static void
other_delimiter_and_embedded_nul(void **state)
{
	static const char text[] = "a;\"b;c\";d\0e\n";
	struct msb_csv_options opts = { .delimiter = ';' };
	struct seen s = { 0 };

	assert_int_equal(parse(&opts, text, sizeof(text) - 1, 0, &s), MSB_OK);
	assert_int_equal(s.nrec, 1);
	assert_int_equal(s.nfields[0], 3);
	expect_field(&s, 0, 1, "b;c");
	assert_int_equal(s.len[0][2], 3);	/* "d\0e" */
	seen_free(&s);
}

static void
callback_stops_the_reader(void **state)
{
	struct seen s = { .stop_at = 2 };
	static const char text[] = "1\n2\n3\n4\n";
	struct msb_csv *csv = msb_csv_new(NULL, on_record, &s);

	assert_int_equal(msb_csv_feed(csv, text, strlen(text)), 7);
	assert_int_equal(s.nrec, 2);
	/* Once stopped, it stays stopped. */
	assert_int_equal(msb_csv_feed(csv, "5\n", 2), 7);
	assert_int_equal(msb_csv_finish(csv), 7);
	assert_int_equal(s.nrec, 2);
	msb_csv_free(csv);
	seen_free(&s);
}

static void
strict_mode_refuses_bad_quoting(void **state)
{
	static const char stray[] = "1,ab\"c,2\n";
	static const char unclosed[] = "1,\"abc\n2,x\n";
	struct msb_csv_options strict = { .flags = MSB_CSV_STRICT };
	struct msb_csv *csv;
	struct seen s = { 0 };

	/* Lenient by default: the quote is kept as a character. */
	assert_int_equal(parse(NULL, stray, strlen(stray), 0, &s), MSB_OK);
	expect_field(&s, 0, 1, "ab\"c");
	seen_free(&s);

	csv = msb_csv_new(&strict, on_record, &s);
	assert_int_equal(msb_csv_feed(csv, stray, strlen(stray)), MSB_ERROR);
	assert_non_null(strstr(msb_csv_error(csv), "record 1: malformed CSV"));
	msb_csv_free(csv);
	seen_free(&s);

	csv = msb_csv_new(&strict, on_record, &s);
	assert_int_equal(msb_csv_feed(csv, unclosed, strlen(unclosed)),
	    MSB_OK);
	assert_int_equal(msb_csv_finish(csv), MSB_ERROR);
	assert_non_null(strstr(msb_csv_error(csv), "unclosed quote"));
	assert_int_equal(s.nrec, 0);
	msb_csv_free(csv);
	seen_free(&s);
}

static void
record_size_is_bounded(void **state)
{
	struct msb_csv_options opts = { .max_record = 64 };
	struct msb_csv *csv;
	struct seen s = { 0 };
	char big[200];

	memset(big, 'x', sizeof(big));
	big[0] = '"';	/* an unclosed quote swallows everything after */
	csv = msb_csv_new(&opts, on_record, &s);
	assert_int_equal(msb_csv_feed(csv, "ok\n", 3), MSB_OK);
	assert_int_equal(msb_csv_feed(csv, big, sizeof(big)), MSB_ERROR);
	assert_string_equal(msb_csv_error(csv), "record 2: larger than "
	    "64 bytes (an unclosed quote, or too many fields?)");
	assert_int_equal(msb_csv_finish(csv), MSB_ERROR);
	assert_int_equal(s.nrec, 1);
	msb_csv_free(csv);
	seen_free(&s);
}

static int
count_record(const struct msb_csv_record *rec, void *arg)
{
	(void)rec;
	(*(size_t *)arg)++;
	return 0;
}

/*
 * libcsv keeps a field it has not finished in a buffer of its own: an
 * unclosed quote must be refused after about max_record bytes, not
 * buffered to the end of the input.
 */
static void
unclosed_quote_stops_near_max_record(void **state)
{
	struct msb_csv_options opts = { .max_record = 1024 * 1024 };
	static char x[65536];
	struct msb_csv *csv;
	size_t fed = 0, n = 0;
	int rc;

	(void)state;
	memset(x, 'x', sizeof(x));
	csv = msb_csv_new(&opts, count_record, &n);
	assert_non_null(csv);
	assert_int_equal(msb_csv_feed(csv, "ok\n\"", 4), MSB_OK);
	while ((rc = msb_csv_feed(csv, x, sizeof(x))) == MSB_OK &&
	    fed < 64 * opts.max_record)
		fed += sizeof(x);
	assert_int_equal(rc, MSB_ERROR);
	assert_true(fed <= opts.max_record + sizeof(x));
	assert_string_equal(msb_csv_error(csv), "record 2: larger than "
	    "1048576 bytes (an unclosed quote, or too many fields?)");
	assert_int_equal(n, 1);
	msb_csv_free(csv);
}

/* The same through msb_csv_read_fd: the thread stops reading. */
static void
unclosed_quote_stops_read_fd(void **state)
{
	char *dir = tu_mkdtemp("csv"), *path = tu_join(dir, "quote.csv");
	struct msb_csv_options opts = { .max_record = 256 * 1024 };
	size_t len = 16 * 1024 * 1024, n = 0;
	struct msb_csv *csv;
	char *text;
	off_t at;
	int fd;

	(void)state;
	assert_non_null(text = malloc(len));
	memset(text, 'x', len);
	memcpy(text, "ok\n\"", 4);
	tu_write_file(path, text, (ssize_t)len);
	free(text);
	csv = msb_csv_new(&opts, count_record, &n);
	assert_non_null(csv);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(msb_csv_read_fd(csv, fd, NULL), MSB_ERROR);
	at = lseek(fd, 0, SEEK_CUR);
	assert_true(at > 0 && at <= 4 * 1024 * 1024);
	assert_string_equal(msb_csv_error(csv), "record 2: larger than "
	    "262144 bytes (an unclosed quote, or too many fields?)");
	assert_int_equal(n, 1);
	close(fd);
	msb_csv_free(csv);
	tu_rmtree(dir);
	free(path);
	free(dir);
}

/*
 * A field costs memory beyond its bytes (its place in the record): a
 * line of commas, small on disk, is refused when its fields would take
 * more than max_record; a record with fewer goes through.
 */
static void
many_fields_count_against_max_record(void **state)
{
	struct msb_csv_options opts = { .max_record = 64 * 1024 };
	static char commas[10001];
	struct msb_csv *csv;
	size_t n = 0;

	(void)state;
	memset(commas, ',', sizeof(commas));
	commas[sizeof(commas) - 1] = '\n';
	csv = msb_csv_new(&opts, count_record, &n);
	assert_non_null(csv);
	assert_int_equal(msb_csv_feed(csv, commas + 9000, 1001), MSB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(msb_csv_feed(csv, commas, sizeof(commas)),
	    MSB_ERROR);
	assert_string_equal(msb_csv_error(csv), "record 2: larger than "
	    "65536 bytes (an unclosed quote, or too many fields?)");
	assert_int_equal(n, 1);
	msb_csv_free(csv);
}

static void
read_file(void **state)
{
	char *dir = tu_mkdtemp("csv"), *path = tu_join(dir, "in.csv");
	struct msb_csv_options opts = {
		.flags = MSB_CSV_HEADER, .on_header = on_header,
	};
	struct seen s = { 0 };
	static char big[200000];
	char err[512];
	size_t n = 0;

	/* Larger than one read, to cross buffer boundaries. */
	n += (size_t)sprintf(big, "k,v\nlong,\"");
	memset(big + n, 'x', 100000);
	n += 100000;
	n += (size_t)sprintf(big + n, "\"\n");
	for (int i = 1; i < 10; i++)
		n += (size_t)sprintf(big + n, "%d,\"v%d\nx\"\n", i, i);
	tu_write_file(path, big, (ssize_t)n);
	assert_int_equal(msb_csv_read_file(path, &opts, on_record, &s, err,
	    sizeof(err)), MSB_OK);
	assert_int_equal(s.nrec, 10);
	assert_int_equal(s.len[0][1], 100000);
	expect_field(&s, 9, 1, "v9\nx");
	seen_free(&s);

	assert_int_equal(msb_csv_read_file("/nonexistent/x.csv", NULL,
	    on_record, &s, err, sizeof(err)), MSB_ERROR);
	assert_non_null(strstr(err, "/nonexistent/x.csv: No such file"));

	tu_rmtree(dir);
	free(path);
	free(dir);
}

/* ---- msb_csv_read_fd: parsing on a thread of the reader's own ---- */

/*
 * The library's pthread_create, interposed: when threads_fail is set it
 * fails as it does for an app at its process limit (a profile's
 * limits.processes), and msb_csv_read_fd must read on the caller's
 * thread instead.
 */
static bool threads_fail;
static int threads_refused;

int
pthread_create(pthread_t *thread, const pthread_attr_t *attr,
    void *(*fn)(void *), void *arg)
{
	int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
	    void *);

	if (threads_fail) {
		threads_refused++;
		return EAGAIN;
	}
	*(void **)&real = dlsym(RTLD_NEXT, "pthread_create");
	return real(thread, attr, fn, arg);
}

#define BIG_RECORDS 30000

/* A digest of everything the callbacks saw, in order. */
struct digest {
	uint64_t	 hash;		/* FNV-1a over numbers, lengths, bytes */
	uint64_t	 nrec;
	uint64_t	 header;	/* fields of the header, when seen */
	uint64_t	 bytes;		/* what progress reported */
	uint64_t	 stop_at;	/* return 7 at this record number */
	bool		 late;		/* a record came after the stop */
};

static void
mix(struct digest *d, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		d->hash = (d->hash ^ b[i]) * 1099511628211ULL;
}

static int
digest_record(const struct msb_csv_record *rec, void *arg)
{
	struct digest *d = arg;

	if (d->stop_at != 0 && d->nrec >= d->stop_at)
		d->late = true;
	mix(d, &rec->num, sizeof(rec->num));
	mix(d, &rec->nfields, sizeof(rec->nfields));
	for (size_t i = 0; i < rec->nfields; i++) {
		assert_int_equal(rec->fields[i][rec->lens[i]], '\0');
		mix(d, &rec->lens[i], sizeof(rec->lens[i]));
		mix(d, rec->fields[i], rec->lens[i]);
	}
	d->nrec++;
	return d->stop_at != 0 && rec->num == d->stop_at ? 7 : 0;
}

static int
digest_header(const struct msb_csv_record *rec, void *arg)
{
	struct digest *d = arg;

	assert_int_equal(d->nrec, 0);
	d->header = rec->nfields;
	return 0;
}

static void
digest_progress(uint64_t bytes, void *arg)
{
	((struct digest *)arg)->bytes += bytes;
}

/*
 * A file of BIG_RECORDS records (several MB: many of the reader's
 * buffers), with a byte-order mark, a header, quoted delimiters, doubled
 * quotes, line breaks in fields, CRLF and blank lines. bad_at > 0 puts a
 * stray quote in that record. Returns its length.
 */
static size_t
write_big(const char *path, uint64_t bad_at)
{
	FILE *fp = fopen(path, "w");
	long len;

	assert_non_null(fp);
	fputs("\xef\xbb\xbfid,name,text,price\n", fp);
	for (uint64_t i = 1; i <= BIG_RECORDS; i++) {
		fprintf(fp, "%" PRIu64 ",\"Room %" PRIu64 ", \"\"nice\"\"\","
		    "\"line one\nline two %" PRIu64 "\",%s%" PRIu64 ".50%s",
		    i, i * 7, i % 97, i == bad_at ? "x\"" : "", i % 1000,
		    i % 3 == 0 ? "\r\n" : "\n");
		if (i % 5000 == 0)
			fputs("\n", fp);
		/* Long records now and then, over a buffer's 256 KiB. */
		if (i % 10007 == 0) {
			fprintf(fp, "%" PRIu64 ",long,\"", ++i);
			for (int k = 0; k < 300000; k++)
				fputc('a' + k % 26, fp);
			fputs("\",1\n", fp);
		}
	}
	assert_int_equal(fflush(fp), 0);
	len = ftell(fp);
	fclose(fp);
	return (size_t)len;
}

/* Reads path by msb_csv_feed in 64 KiB pieces, or by msb_csv_read_fd. */
static int
read_digest(const char *path, unsigned flags, bool ahead, struct digest *d,
    char *err, size_t errlen)
{
	struct msb_csv_options opts = {
		.flags = MSB_CSV_HEADER | flags, .on_header = digest_header,
	};
	struct msb_csv *csv = msb_csv_new(&opts, digest_record, d);
	static char buf[65536];
	int fd = open(path, O_RDONLY), rc = MSB_OK;
	ssize_t n;

	assert_non_null(csv);
	assert_true(fd >= 0);
	d->hash = 14695981039346656037ULL;
	if (ahead)
		rc = msb_csv_read_fd(csv, fd, digest_progress);
	else {
		while (rc == MSB_OK && (n = read(fd, buf, sizeof(buf))) > 0)
			rc = msb_csv_feed(csv, buf, (size_t)n);
		if (rc == MSB_OK)
			rc = msb_csv_finish(csv);
	}
	assert_int_equal(msb_csv_records(csv), d->nrec);
	snprintf(err, errlen, "%s", msb_csv_error(csv));
	msb_csv_free(csv);
	close(fd);
	return rc;
}

/* The same records, fields and order as msb_csv_feed gives. */
static void
read_fd_matches_feed(void **state)
{
	char *dir = tu_mkdtemp("csv"), *path = tu_join(dir, "big.csv");
	struct digest fed = { 0 }, ahead = { 0 };
	size_t len = write_big(path, 0);
	char err[256];

	(void)state;
	assert_int_equal(read_digest(path, 0, false, &fed, err, sizeof(err)),
	    MSB_OK);
	assert_int_equal(read_digest(path, 0, true, &ahead, err, sizeof(err)),
	    MSB_OK);
	assert_true(fed.nrec >= BIG_RECORDS - 5);
	assert_int_equal(ahead.nrec, fed.nrec);
	assert_int_equal(ahead.header, 4);
	assert_true(ahead.hash == fed.hash);
	assert_int_equal(ahead.bytes, len);
	tu_rmtree(dir);
	free(path);
	free(dir);
}

/* No thread to be had: the same records, read on the caller's thread. */
static void
read_fd_without_a_thread(void **state)
{
	char *dir = tu_mkdtemp("csv"), *path = tu_join(dir, "big.csv");
	struct digest fed = { 0 }, here = { 0 }, stopped = { .stop_at = 20000 };
	size_t len = write_big(path, 0);
	char err[256];

	(void)state;
	assert_int_equal(read_digest(path, 0, false, &fed, err, sizeof(err)),
	    MSB_OK);
	threads_fail = true;
	threads_refused = 0;
	assert_int_equal(read_digest(path, 0, true, &here, err, sizeof(err)),
	    MSB_OK);
	assert_int_equal(read_digest(path, 0, true, &stopped, err,
	    sizeof(err)), 7);
	threads_fail = false;
	assert_int_equal(threads_refused, 2);
	assert_int_equal(here.nrec, fed.nrec);
	assert_int_equal(here.header, 4);
	assert_true(here.hash == fed.hash);
	assert_int_equal(here.bytes, len);
	assert_int_equal(stopped.nrec, 20000);
	assert_false(stopped.late);
	tu_rmtree(dir);
	free(path);
	free(dir);
}

/* A callback's stop ends the read: no record after it, its value back. */
static void
read_fd_stops_at_the_callback(void **state)
{
	char *dir = tu_mkdtemp("csv"), *path = tu_join(dir, "big.csv");
	struct digest d = { .stop_at = 20000 };
	char err[256];

	(void)state;
	write_big(path, 0);
	assert_int_equal(read_digest(path, 0, true, &d, err, sizeof(err)), 7);
	assert_int_equal(d.nrec, 20000);
	assert_false(d.late);
	tu_rmtree(dir);
	free(path);
	free(dir);
}

/*
 * A malformed record: the records before it are delivered, then the
 * error names it, as msb_csv_feed does. A read error is an error too.
 */
static void
read_fd_reports_errors(void **state)
{
	char *dir = tu_mkdtemp("csv"), *path = tu_join(dir, "bad.csv");
	struct digest fed = { 0 }, ahead = { 0 };
	struct msb_csv *csv;
	char err[256], fed_err[256];
	int fd;

	(void)state;
	write_big(path, 15000);
	assert_int_equal(read_digest(path, MSB_CSV_STRICT, false, &fed,
	    fed_err, sizeof(fed_err)), MSB_ERROR);
	assert_int_equal(read_digest(path, MSB_CSV_STRICT, true, &ahead, err,
	    sizeof(err)), MSB_ERROR);
	assert_int_equal(ahead.nrec, 14999);
	assert_int_equal(ahead.nrec, fed.nrec);
	assert_true(ahead.hash == fed.hash);
	assert_string_equal(err, fed_err);
	assert_non_null(strstr(err, "record 15000: malformed CSV"));

	csv = msb_csv_new(NULL, digest_record, &ahead);
	assert_non_null(csv);
	assert_true((fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0);
	assert_int_equal(msb_csv_read_fd(csv, fd, NULL), MSB_ERROR);
	assert_string_equal(msb_csv_error(csv), "read: Is a directory");
	close(fd);
	msb_csv_free(csv);
	tu_rmtree(dir);
	free(path);
	free(dir);
}

/*
 * Typed rows (msb_rows) of a file written to after it was opened
 * (hashed): the ids were made of the old content, the rows of the new.
 * Appended to (its size changed), it fails (MSB_TEMPFAIL, "changed
 * while it was read") before any row of it is handed out: an app whose
 * sink sends batches as it goes (MongoDB) must not store rows under ids
 * of other content. Rewritten in place it fails at the latest at the
 * end, instead of the end of the file, so the app does not commit (at
 * once too where the kernel gives the write a ctime of its own; one in
 * the same clock tick as the write before the hash may not, so the
 * count of rows is not checked there). An unchanged file reads to its
 * end.
 */
static void
rows_of_a_file_changed_while_read_fail(void **state)
{
	char *dir = tu_mkdtemp("csv"), *path = tu_join(dir, "in.csv");
	enum { UNCHANGED, REWRITTEN, APPENDED };
	struct msb_rows *rows;
	const uint8_t *data;
	size_t len;
	char err[512];
	int fd, rc, n;

	for (int change = UNCHANGED; change <= APPENDED; change++) {
		tu_write_file(path, "a,b\n1,2\n3,4\n", -1);
		assert_int_equal(msb_rows_open(&rows, path, NULL, 0, err,
		    sizeof(err)), MSB_OK);
		if (change != UNCHANGED) {
			assert_true((fd = open(path, O_WRONLY)) != -1);
			if (change == REWRITTEN)
				assert_int_equal(pwrite(fd, "5,6", 3, 8), 3);
			else
				assert_int_equal(pwrite(fd, "7,8\n", 4, 12),
				    4);
			close(fd);
		}
		n = 0;
		while ((rc = msb_rows_next(rows, &data, &len, NULL)) ==
		    MSB_OK)
			n++;
		if (change == UNCHANGED) {
			assert_int_equal(rc, MSB_STOPPED);
			assert_int_equal(n, 2);
		} else {
			assert_int_equal(rc, MSB_TEMPFAIL);
			if (strstr(msb_rows_error(rows), "in.csv: changed "
			    "while it was read") == NULL)
				fail_msg("error: %s", msb_rows_error(rows));
		}
		if (change == APPENDED)
			assert_int_equal(n, 0);
		msb_rows_close(rows);
	}
	tu_rmtree(dir);
	free(path);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(quotes_commas_and_newlines),
		cmocka_unit_test(any_chunking_gives_the_same_records),
		cmocka_unit_test(header_row),
		cmocka_unit_test(other_delimiter_and_embedded_nul),
		cmocka_unit_test(callback_stops_the_reader),
		cmocka_unit_test(strict_mode_refuses_bad_quoting),
		cmocka_unit_test(record_size_is_bounded),
		cmocka_unit_test(unclosed_quote_stops_near_max_record),
		cmocka_unit_test(unclosed_quote_stops_read_fd),
		cmocka_unit_test(many_fields_count_against_max_record),
		cmocka_unit_test(read_file),
		cmocka_unit_test(read_fd_matches_feed),
		cmocka_unit_test(read_fd_without_a_thread),
		cmocka_unit_test(read_fd_stops_at_the_callback),
		cmocka_unit_test(read_fd_reports_errors),
		cmocka_unit_test(rows_of_a_file_changed_while_read_fail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

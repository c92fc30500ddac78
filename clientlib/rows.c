/*
 * Typed CSV rows pulled one at a time, as BSON documents: the CSV reader
 * (csvreader.c) and a schema (schema.c) behind an iterator, for bindings
 * such as the Python package, where a callback into the language for
 * every row costs more than the row. Each document is what `mysimbdp
 * load` writes for the row (the _id of the file's content and record
 * number first, then the typed columns), so a row read here and written
 * through a sink gives the same stored bytes.
 *
 * The reader is fed a chunk at a time; the records of a chunk are queued
 * in one buffer (documents and rejection reasons back to back) and handed
 * out from it; the next chunk is read when the queue is empty.
 *
 * The ids come from the content hash, taken before the first row: the
 * file is hashed and parsed through one descriptor (rewound), and the
 * reader hashes what it parses (msb__csv_hash_into), so a file changed
 * in between (any path may be given) fails at its end instead of
 * passing rows under ids of other content. That is too late for an app
 * whose sink sends batches as it goes (MongoDB: every 1000 documents),
 * so each chunk read is also checked (msb__fd_unchanged) before its
 * records go out: a file written to since it was hashed fails there,
 * and every row handed out was read before any write.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mysimbdp-internal.h"

#define CHUNK (256 * 1024)

struct row {
	size_t		 r_off;		/* in q_buf */
	size_t		 r_len;
	uint64_t	 r_num;		/* record number */
	bool		 r_rejected;	/* q_buf holds the reason, with NUL */
};

struct msb_rows {
	int		 w_fd;
	char		*w_path;
	unsigned	 w_flags;
	struct msb_csv	*w_csv;
	struct msb_schema *w_schema;
	char		 w_hash[MSB_HASH_HEX_SIZE];
	struct msb__fd_mark w_as_hashed;	/* the file, before it was */
	struct msb__sha256 w_read;	/* of what was parsed (the reader's) */
	bool		 w_eof;
	bool		 w_failed;	/* bad CSV, a bad header, read error */
	int		 w_rc;		/* when w_failed: what next returns */
	int		 w_errno;	/* when a read failed: its errno */
	char		 w_fail[512];	/* why, when w_failed */
	char		 w_err[512];	/* what the last call returned */
	bson_t		 w_doc;		/* reused for every record */
	char		*w_chunk;

	uint8_t		*q_buf;
	size_t		 q_used, q_cap;
	struct row	*q_rows;
	size_t		 q_n, q_cap_rows, q_next;
};

static int
queue_bytes(struct msb_rows *w, const void *data, size_t len)
{
	if (w->q_used + len > w->q_cap) {
		size_t cap = w->q_cap ? w->q_cap : 64 * 1024;
		uint8_t *p;

		while (cap < w->q_used + len)
			cap *= 2;
		if ((p = realloc(w->q_buf, cap)) == NULL)
			return -1;
		w->q_buf = p;
		w->q_cap = cap;
	}
	memcpy(w->q_buf + w->q_used, data, len);
	w->q_used += len;
	return 0;
}

static int
queue_row(struct msb_rows *w, const void *data, size_t len, uint64_t num,
    bool rejected)
{
	struct row *r;

	if (w->q_n == w->q_cap_rows) {
		size_t cap = w->q_cap_rows ? w->q_cap_rows * 2 : 1024;

		if ((r = reallocarray(w->q_rows, cap, sizeof(*r))) == NULL)
			return -1;
		w->q_rows = r;
		w->q_cap_rows = cap;
	}
	r = &w->q_rows[w->q_n];
	r->r_off = w->q_used;
	r->r_len = len;
	r->r_num = num;
	r->r_rejected = rejected;
	if (queue_bytes(w, data, len) == -1)
		return -1;
	w->q_n++;
	return 0;
}

/* Records the first failure, rc and why; returns rc. */
static int
fail(struct msb_rows *w, int rc, const char *fmt, ...) MSB__FMT(3, 4);

static int
fail(struct msb_rows *w, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!w->w_failed) {
		va_start(ap, fmt);
		msb__vseterr(w->w_fail, sizeof(w->w_fail), fmt, ap);
		va_end(ap);
		w->w_failed = true;
		w->w_rc = rc;
	}
	return rc;
}

static int
on_header(const struct msb_csv_record *rec, void *arg)
{
	struct msb_rows *w = arg;
	char why[400];

	if (msb_schema_bind(w->w_schema, rec, why, sizeof(why)) != MSB_OK)
		return fail(w, MSB_ERROR, "%s: %s", w->w_path, why);
	return 0;
}

static int
on_record(const struct msb_csv_record *rec, void *arg)
{
	struct msb_rows *w = arg;
	char why[400];
	int rc;

	bson_reinit(&w->w_doc);
	if (!(w->w_flags & MSB_ROWS_NO_ID) &&
	    msb_doc_append_id(&w->w_doc, w->w_hash, rec->num) != MSB_OK)
		return fail(w, MSB_ERROR, "bad content hash");
	if (msb_schema_convert(w->w_schema, rec, &w->w_doc, why,
	    sizeof(why)) != MSB_OK)
		rc = queue_row(w, why, strlen(why) + 1, rec->num, true);
	else
		rc = queue_row(w, bson_get_data(&w->w_doc), w->w_doc.len,
		    rec->num, false);
	return rc == -1 ? fail(w, MSB_TEMPFAIL, "out of memory") : 0;
}

/* At the end: whether what was parsed is what the ids were made of. */
static bool
read_as_hashed(struct msb_rows *w)
{
	char hex[MSB_HASH_HEX_SIZE];

	if (msb__read_as_hashed(&w->w_read, w->w_hash, hex))
		return true;
	fail(w, MSB_TEMPFAIL, "%s: changed while it was read (hashed %.12s, "
	    "read %.12s): its rows' ids are not of what was read; read it "
	    "again once it is whole", w->w_path, w->w_hash, hex);
	return false;
}

/* Reads and parses the next chunk; the records land in the queue. */
static void
fill(struct msb_rows *w)
{
	ssize_t n;
	int rc;

	w->q_used = w->q_n = w->q_next = 0;
	while (w->q_n == 0 && !w->w_eof && !w->w_failed) {
		do
			n = read(w->w_fd, w->w_chunk, CHUNK);
		while (n == -1 && errno == EINTR);
		if (n == -1) {
			w->w_errno = errno;
			fail(w, msb__errno_rc(errno), "%s: read: %s",
			    w->w_path, strerror(errno));
			return;
		}
		w->w_eof = n == 0;
		if (n == 0 && !read_as_hashed(w))
			return;
		/* After the read: a write before it shows now. */
		if (n > 0 && !msb__fd_unchanged(w->w_fd, &w->w_as_hashed)) {
			fail(w, MSB_TEMPFAIL, "%s: changed while it was read "
			    "(written to since it was hashed): rows read since "
			    "would not be of their ids; read it again once it "
			    "is whole", w->w_path);
			return;
		}
		rc = n == 0 ? msb_csv_finish(w->w_csv) :
		    msb_csv_feed(w->w_csv, w->w_chunk, (size_t)n);
		if (rc != MSB_OK)
			fail(w, rc, "%s: %s", w->w_path,
			    msb_csv_error(w->w_csv));
	}
}

static int
open_input(struct msb_rows *w, const char *schema_text, char *err,
    size_t errlen)
{
	struct msb_csv_options opts = {
		.flags = MSB_CSV_HEADER, .on_header = on_header,
	};

	w->w_schema = msb_schema_parse(schema_text != NULL ? schema_text :
	    "*:string\n", schema_text != NULL ? "schema" : "default schema",
	    err, errlen);
	if (w->w_schema == NULL)
		return MSB_ERROR;
	/* One descriptor: the path may be swapped for another file. */
	if ((w->w_fd = open(w->w_path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    msb__fd_mark(w->w_fd, &w->w_as_hashed) == -1 ||
	    msb__fd_hash(w->w_fd, w->w_hash) != MSB_OK ||
	    lseek(w->w_fd, 0, SEEK_SET) == -1) {
		msb__seterr(err, errlen, "%s: %s", w->w_path,
		    strerror(errno));
		return msb__errno_rc(errno);
	}
	msb__sha256_init(&w->w_read);
	if ((w->w_chunk = malloc(CHUNK)) == NULL ||
	    (w->w_csv = msb_csv_new(&opts, on_record, w)) == NULL) {
		msb__seterr(err, errlen, "out of memory");
		return MSB_ERROR;
	}
	msb__csv_hash_into(w->w_csv, &w->w_read);
	return MSB_OK;
}

int
msb_rows_open(struct msb_rows **wp, const char *path, const char *schema,
    unsigned flags, char *err, size_t errlen)
{
	struct msb_rows *w;
	int rc;

	*wp = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->w_path = strdup(path)) == NULL) {
		free(w);
		msb__seterr(err, errlen, "out of memory");
		return MSB_ERROR;
	}
	w->w_fd = -1;
	w->w_flags = flags;
	bson_init(&w->w_doc);
	if ((rc = open_input(w, schema, err, errlen)) != MSB_OK) {
		msb_rows_close(w);
		return rc;
	}
	*wp = w;
	return MSB_OK;
}

int
msb_rows_next(struct msb_rows *w, const uint8_t **data, size_t *len,
    uint64_t *record)
{
	const struct row *r;

	if (w->q_next == w->q_n)
		fill(w);
	if (w->q_next == w->q_n && w->w_failed) {
		memcpy(w->w_err, w->w_fail, sizeof(w->w_err));
		return w->w_rc;
	}
	if (w->q_next == w->q_n)
		return MSB_STOPPED;
	r = &w->q_rows[w->q_next++];
	*data = w->q_buf + r->r_off;
	*len = r->r_len;
	if (record != NULL)
		*record = r->r_num;
	if (r->r_rejected) {
		/* The reason is the error until the next call. */
		snprintf(w->w_err, sizeof(w->w_err), "%s", (const char *)*data);
		return MSB_BADDOC;
	}
	w->w_err[0] = '\0';
	return MSB_OK;
}

const char *
msb_rows_hash(const struct msb_rows *w)
{
	return w->w_hash;
}

const char *
msb_rows_error(const struct msb_rows *w)
{
	return w->w_err;
}

int
msb_rows_errno(const struct msb_rows *w)
{
	return w->w_failed ? w->w_errno : 0;
}

void
msb_rows_counts(const struct msb_rows *w, uint64_t *rows,
    uint64_t *rejected_rows)
{
	msb_schema_counts(w->w_schema, rows, rejected_rows);
}

void
msb_rows_close(struct msb_rows *w)
{
	if (w == NULL)
		return;
	if (w->w_fd != -1)
		close(w->w_fd);
	msb_csv_free(w->w_csv);
	msb_schema_free(w->w_schema);
	bson_destroy(&w->w_doc);
	free(w->w_chunk);
	free(w->q_buf);
	free(w->q_rows);
	free(w->w_path);
	free(w);
}

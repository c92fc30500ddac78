/*
 * load: the generic loader that tenant apps in any language call to write
 * into their sink. It reads a CSV or JSON-lines file and writes one
 * document per row to the sink the environment contract names (MONGO_URL,
 * MONGO_DB), exactly as a C app linking libmysimbdp would:
 *
 *  - each document's _id comes from the file's content hash and its row
 *    number, and the whole file is one unit of work named by that hash,
 *    so running the same file again replaces or skips, never duplicates;
 *    a file written to after it was hashed fails (75) before a batch
 *    read since goes to MongoDB, and at the end in any case;
 *  - a row that does not convert (CSV through a schema) or does not parse
 *    (JSON lines; a line over 16 MiB) is counted as rejected and skipped,
 *    never fatal; a read error or running out of memory is, for the rows
 *    so far are not the file;
 *  - the summary goes to MYSIMBDP_RESULT_FILE, metric reports to
 *    ZMQ_METRICS_ENDPOINT.
 *
 * On a terminal (or with --progress) a progress line on stderr says how
 * far it got; --json prints the summary as JSON.
 *
 * Exit status: 0 done; 75 the sink is unavailable or memory ran out (try
 * again later); 65 the input is not CSV/JSON lines at all (every row
 * rejected, or refused by the store); 66 the input cannot be opened (77
 * for lack of permission); 74 it cannot be read; 64 usage; 78 a bad
 * schema or environment; 69 the sink refused for good; 70 an internal
 * error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mysimbdp.h>
/* msb__fd_hash, the incremental SHA-256 and msb__csv_hash_into: the file
 * is hashed through the descriptor it is read from, and what is parsed
 * is checked against that hash, as msb_rows does. */
#include <mysimbdp-internal.h>

#include "cli.h"
#include "clock.h"
#include "conf.h"
#include "jsonline.h"
#include "jsonone.h"
#include "progress.h"

#define READ_BUF (1024 * 1024)	/* big reads: fewer syscalls per MB */
#define SHOW_REJECTS 10		/* rejected rows explained on stderr */
#define JSONL_MAX (16 * 1024 * 1024)	/* a line: as a message, a document */

enum load_format { FMT_CSV, FMT_JSONL };

struct load {
	const char		*l_collection;
	enum load_format	 l_format;
	const char		*l_format_name;	/* --format, as given */
	const char		*l_schema_path;
	const char		*l_file;

	struct msb_env		 l_env;
	struct msb_schema	*l_schema;
	struct msb_sink		*l_sink;
	struct msb_metrics	*l_metrics;
	char			 l_hash[MSB_HASH_HEX_SIZE];
	int			 l_fd;		/* the input, once open */
	struct msb__fd_mark	 l_as_hashed;	/* it, before it was hashed */
	bson_t			 l_doc;		/* reused for every row */

	uint64_t		 l_rows;	/* documents added */
	uint64_t		 l_rejected;
	char			 l_first_reject[512];	/* its reason */
	bool			 l_committed;	/* the store has had its say */
	int			 l_exit;	/* set by the first fatal error */
	char			 l_err[1024];

	bool			 l_json;
	bool			 l_no_metrics;	/* the caller reports itself */
	int64_t			 l_mark;	/* ns: ingest time counted to */
	enum progress_mode	 l_progress_mode;
	struct progress		 l_progress;
	uint64_t		 l_size;
	uint64_t		 l_done;	/* bytes read */
};

static int load_fail(struct load *, int, const char *, ...)
    __attribute__((__format__(__printf__, 3, 4)));

/* Records the first fatal error: its exit status and message. Returns -1,
 * which stops the CSV reader when returned from a callback. */
static int
load_fail(struct load *l, int code, const char *fmt, ...)
{
	va_list ap;

	if (l->l_exit == EX_OK) {
		l->l_exit = code;
		va_start(ap, fmt);
		vsnprintf(l->l_err, sizeof(l->l_err), fmt, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * The exit status of a sink's return code: the library's for "try again
 * later" and a bad document, 69 (the sink refused for good) for the rest,
 * where the library says 1.
 */
static int
sink_exit_code(int rc)
{
	int code = msb_exit_code(rc);

	return code == 1 ? EX_UNAVAILABLE : code;
}

/* The exit status for a sink failure, which carries its own message. */
static int
load_sink_fail(struct load *l, int rc)
{
	return load_fail(l, sink_exit_code(rc), "%s",
	    msb_sink_error(l->l_sink));
}

/* Counts the time since the last call as ingest time, so a report's
 * ingest_us_sum / rows is the time per row. */
static void
ingest_time(struct load *l)
{
	int64_t now = clock_mono_ns();

	msb_metrics_add(l->l_metrics, MSB_M_INGEST_US,
	    (uint64_t)(now - l->l_mark) / 1000);
	l->l_mark = now;
}

/* Counts bytes read and redraws the progress line when it is time. */
static void
advance(struct load *l, uint64_t n)
{
	l->l_done += n;
	ingest_time(l);
	msb_metrics_add(l->l_metrics, MSB_M_BYTES, n);
	progress_update(&l->l_progress, l->l_done, l->l_rows);
}

static void
reject(struct load *l, const char *fmt, ...)
    __attribute__((__format__(__printf__, 2, 3)));

/* Counts a rejected row; the first few are explained, then only counted,
 * so a file of bad rows cannot flood the tenant's log. */
static void
reject(struct load *l, const char *fmt, ...)
{
	va_list ap;

	l->l_rejected++;
	msb_metrics_add(l->l_metrics, MSB_M_ERRORS, 1);
	if (l->l_rejected == 1) {
		va_start(ap, fmt);
		vsnprintf(l->l_first_reject, sizeof(l->l_first_reject), fmt,
		    ap);
		va_end(ap);
	}
	if (l->l_rejected > SHOW_REJECTS)
		return;
	progress_break(&l->l_progress);
	fprintf(stderr, "mysimbdp load: rejected: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (l->l_rejected == SHOW_REJECTS)
		fprintf(stderr, "mysimbdp load: further rejected rows are "
		    "counted but not shown\n");
}

/* Adds the document in l_doc. Returns 0, or -1 after a fatal sink error. */
static int
add_doc(struct load *l, uint64_t row)
{
	int rc = msb_sink_add(l->l_sink, &l->l_doc);

	if (rc == MSB_BADDOC) {
		reject(l, "%s %" PRIu64 ": %s", l->l_format == FMT_CSV ?
		    "record" : "line", row, msb_sink_error(l->l_sink));
		return 0;
	}
	if (rc != MSB_OK)
		return load_sink_fail(l, rc);
	l->l_rows++;
	msb_metrics_add(l->l_metrics, MSB_M_ROWS, 1);
	return 0;
}

/*
 * Before each batch goes to MongoDB (msb__sink_before_send): whether the
 * file is as it was when it was hashed. Its rows in the batch were read
 * before this (the reader's thread reads ahead, never behind), so if no
 * write came since the hash, they are of the content their ids are of;
 * if one came, the batch is not sent and the load fails (75) as at the
 * end. Batches sent before the write stay: they were read before it.
 * A change that no write made (a read garbled on its way) shows only at
 * the end (check_as_hashed).
 */
static int
unchanged_since_hashed(void *arg, char *why, size_t whylen)
{
	struct load *l = arg;

	if (msb__fd_unchanged(l->l_fd, &l->l_as_hashed))
		return MSB_OK;
	snprintf(why, whylen, "%s: changed while it was read (written to "
	    "since it was hashed): rows read since would be stored under "
	    "ids of other content; load it again once it is whole",
	    l->l_file);
	return MSB_TEMPFAIL;
}

/*
 * At the end: whether what was read (read: the hash of the bytes parsed,
 * as they were read) is what the ids were made of (the hash taken
 * first). A file rewritten meanwhile fails, with nothing committed,
 * rather than storing rows under ids of other content, which a rerun
 * would then store again under the right ones. Written to, it failed
 * already at the first send after the write (unchanged_since_hashed);
 * this also catches bytes that changed on their way.
 */
static void
check_as_hashed(struct load *l, struct msb__sha256 *read)
{
	char hex[MSB_HASH_HEX_SIZE];

	if (!msb__read_as_hashed(read, l->l_hash, hex))
		load_fail(l, EX_TEMPFAIL, "%s: changed while it was read "
		    "(hashed %.12s, read %.12s): its rows' ids are not of what "
		    "was read; load it again once it is whole", l->l_file,
		    l->l_hash, hex);
}

/* ---- CSV ------------------------------------------------------------ */

static int
csv_header(const struct msb_csv_record *rec, void *arg)
{
	struct load *l = arg;
	char why[512];

	if (msb_schema_bind(l->l_schema, rec, why, sizeof(why)) != MSB_OK)
		return load_fail(l, EX_DATAERR, "%s: %s", l->l_file, why);
	return 0;
}

static int
csv_row(const struct msb_csv_record *rec, void *arg)
{
	struct load *l = arg;
	char why[512];

	bson_reinit(&l->l_doc);
	/* _id first, from the content and the row: a rerun gives the same. */
	if (msb_doc_append_id(&l->l_doc, l->l_hash, rec->num) != MSB_OK)
		return load_fail(l, EX_SOFTWARE, "bad content hash");
	if (msb_schema_convert(l->l_schema, rec, &l->l_doc, why,
	    sizeof(why)) != MSB_OK) {
		reject(l, "%s", why);
		return 0;
	}
	return add_doc(l, rec->num);
}

static void
csv_progress(uint64_t bytes, void *arg)
{
	advance(arg, bytes);
}

/*
 * Reads the file through the CSV reader, which parses on a thread. The
 * reader also hashes the bytes it parses there (msb__csv_hash_into, as
 * for msb_rows), for the check at the end: one read of the file, not a
 * second one for the check.
 */
static void
load_csv(struct load *l, int fd)
{
	struct msb_csv_options opts = {
		.flags = MSB_CSV_HEADER, .on_header = csv_header,
	};
	struct msb_csv *csv;
	struct msb__sha256 read;
	int rc;

	if ((csv = msb_csv_new(&opts, csv_row, l)) == NULL) {
		load_fail(l, EX_SOFTWARE, "out of memory");
		return;
	}
	msb__sha256_init(&read);
	msb__csv_hash_into(csv, &read);
	rc = msb_csv_read_fd(csv, fd, csv_progress);
	/* A callback recorded its own error; otherwise the reader's. */
	if (rc != MSB_OK)
		load_fail(l, rc == MSB_TEMPFAIL ? EX_TEMPFAIL :
		    strncmp(msb_csv_error(csv), "read: ", 6) == 0 ? EX_IOERR :
		    EX_DATAERR, "%s: %s", l->l_file, msb_csv_error(csv));
	msb_csv_free(csv);
	/* No error: the reader read to the end, and its thread is gone. */
	if (l->l_exit == EX_OK)
		check_as_hashed(l, &read);
}

/* ---- JSON lines ----------------------------------------------------- */

/*
 * One line, one document. Its row is its line number, blank lines
 * included, so a document's id does not depend on the lines around it.
 * An _id of the tenant's own is kept (it is as stable as ours).
 */
static int
jsonl_line(struct load *l, const char *line, size_t len, uint64_t lineno)
{
	bson_t obj;
	bson_iter_t it;
	char why[300];
	size_t i;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i == len)
		return 0;
	/* Exactly one object; an integer libbson would wrap around 2^64
	 * is refused rather than stored wrong. */
	bson_init(&obj);
	if (jsonone_parse(line, len, &obj, why, sizeof(why)) == -1) {
		bson_destroy(&obj);
		reject(l, "line %" PRIu64 ": %s", lineno, why);
		return 0;
	}
	bson_reinit(&l->l_doc);
	if (!bson_iter_init_find(&it, &obj, "_id") &&
	    msb_doc_append_id(&l->l_doc, l->l_hash, lineno) != MSB_OK) {
		bson_destroy(&obj);
		return load_fail(l, EX_SOFTWARE, "bad content hash");
	}
	if (!bson_concat(&l->l_doc, &obj)) {
		bson_destroy(&obj);
		reject(l, "line %" PRIu64 ": document too large", lineno);
		return 0;
	}
	bson_destroy(&obj);
	return add_doc(l, lineno);
}

/*
 * Lines read by hand rather than with getline(3), which gives -1 for the
 * end, a read error and out of memory alike (glibc sets no error flag for
 * the last): under a memory limit a long line would end the file there
 * and commit the rows before it as the whole file. A line is bounded,
 * and one past the bound is skipped to its newline, not held.
 */
enum { LINE_OK, LINE_TOO_LONG, LINE_END, LINE_ERROR };

struct lines {
	int		 ln_fd;
	char		*ln_buf;
	size_t		 ln_start, ln_end, ln_cap;
	bool		 ln_eof;
	uint64_t	 ln_lineno;
	uint64_t	 ln_consumed;	/* bytes, newlines included */
	struct msb__sha256 ln_sha;	/* of every byte read */
};

/* Reads more into the buffer, growing it up to the bound. Returns
 * LINE_OK, or LINE_ERROR with errno (ENOMEM when it could not grow). */
static int
lines_read(struct lines *r)
{
	ssize_t n;

	if (r->ln_cap - r->ln_end < READ_BUF) {
		size_t cap = r->ln_cap ? r->ln_cap * 2 : READ_BUF * 2;
		char *b;

		if (cap > JSONL_MAX + READ_BUF + 1)
			cap = JSONL_MAX + READ_BUF + 1;
		if (cap > r->ln_cap) {
			if ((b = realloc(r->ln_buf, cap)) == NULL) {
				errno = ENOMEM;
				return LINE_ERROR;
			}
			r->ln_buf = b;
			r->ln_cap = cap;
		}
	}
	while ((n = read(r->ln_fd, r->ln_buf + r->ln_end,
	    r->ln_cap - r->ln_end)) == -1 && errno == EINTR)
		;
	if (n == -1)
		return LINE_ERROR;
	r->ln_eof = n == 0;
	msb__sha256_update(&r->ln_sha, r->ln_buf + r->ln_end, (size_t)n);
	r->ln_end += (size_t)n;
	return LINE_OK;
}

/* The next line, without its newline, in *line and *len (for a line too
 * long, *len is its length and *line is not set). */
static int
lines_next(struct lines *r, const char **line, size_t *len)
{
	size_t skipped = 0, scanned = 0;	/* scanned: from ln_start */
	char *nl;

	for (;;) {
		size_t have = r->ln_end - r->ln_start;

		/* Only what the last read added can hold the newline. */
		nl = have > scanned ? memchr(r->ln_buf + r->ln_start +
		    scanned, '\n', have - scanned) : NULL;
		scanned = have;
		if (nl != NULL || (r->ln_eof && have > 0)) {
			size_t n = nl != NULL ? (size_t)(nl - (r->ln_buf +
			    r->ln_start)) : have;

			*line = r->ln_buf + r->ln_start;
			*len = n + skipped;
			r->ln_start += n + (nl != NULL);
			r->ln_consumed += n + skipped + (nl != NULL);
			r->ln_lineno++;
			return skipped || n > JSONL_MAX ? LINE_TOO_LONG :
			    LINE_OK;
		}
		if (r->ln_eof && skipped) {
			*len = skipped;
			r->ln_consumed += skipped;
			r->ln_lineno++;
			return LINE_TOO_LONG;
		}
		if (r->ln_eof)
			return LINE_END;
		if (skipped || have > JSONL_MAX) {
			/* Too long already: read on only to find its end. */
			skipped += have;
			r->ln_start = r->ln_end = 0;
			scanned = 0;
		} else if (r->ln_start > 0) {
			memmove(r->ln_buf, r->ln_buf + r->ln_start, have);
			r->ln_start = 0;
			r->ln_end = have;
		}
		if (lines_read(r) != LINE_OK)
			return LINE_ERROR;
	}
}

static void
load_jsonl(struct load *l, int fd)
{
	struct lines r = { .ln_fd = fd };
	const char *line = NULL;
	size_t len;
	uint64_t done = 0;
	int rc;

	msb__sha256_init(&r.ln_sha);
	while ((rc = lines_next(&r, &line, &len)) != LINE_END) {
		if (rc == LINE_ERROR) {
			/* Never the end: the rows so far are not the file. */
			load_fail(l, errno == ENOMEM ? EX_TEMPFAIL : EX_IOERR,
			    "%s: line %" PRIu64 ": read: %s", l->l_file,
			    r.ln_lineno + 1, strerror(errno));
			break;
		}
		if (rc == LINE_TOO_LONG)
			reject(l, "line %" PRIu64 ": too large (%zu bytes, "
			    "more than %d MiB)", r.ln_lineno, len,
			    JSONL_MAX >> 20);
		else if (jsonl_line(l, line, len, r.ln_lineno) == -1)
			break;
		advance(l, r.ln_consumed - done);
		done = r.ln_consumed;
	}
	free(r.ln_buf);
	if (rc == LINE_END)
		check_as_hashed(l, &r.ln_sha);
}

/* ---- set-up --------------------------------------------------------- */

static const char *
env_get(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/*
 * The environment contract, as far as load needs it. Only the sink is
 * required (check_env), so load also runs by hand:
 *   MONGO_URL=file:///tmp/store MONGO_DB=test mysimbdp load -C c f.csv
 * The sink itself checks the values.
 */
static void
load_env(struct msb_env *e)
{
	memset(e, 0, sizeof(*e));
	e->kind = MSB_APP_BATCH;
	e->tenant = env_get("MYSIMBDP_TENANT");
	e->instance = env_get("MYSIMBDP_INSTANCE");
	e->mongo_url = env_get("MONGO_URL");
	e->mongo_db = env_get("MONGO_DB");
	e->metrics_endpoint = env_get("ZMQ_METRICS_ENDPOINT");
	e->input_file = env_get("MYSIMBDP_INPUT_FILE");
	e->dataset = env_get("MYSIMBDP_DATASET");
	e->result_file = env_get("MYSIMBDP_RESULT_FILE");
}

static int
check_env(struct load *l)
{
	const struct msb_env *e = &l->l_env;

	if (e->mongo_url != NULL && e->mongo_db != NULL)
		return 0;
	return load_fail(l, EX_CONFIG, "%s%s%s not set (the "
	    "environment contract names the sink)",
	    e->mongo_url == NULL ? "MONGO_URL" : "",
	    e->mongo_url == NULL && e->mongo_db == NULL ? " and " : "",
	    e->mongo_db == NULL ? "MONGO_DB" : "");
}

/* .jsonl and .ndjson files are JSON lines, anything else CSV. */
static enum load_format
format_of(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (dot != NULL && (strcmp(dot, ".jsonl") == 0 ||
	    strcmp(dot, ".ndjson") == 0))
		return FMT_JSONL;
	return FMT_CSV;
}

/*
 * Parses the command line into l. Returns -1 to go on, or the exit status
 * (0 after --help or --version, 64).
 */
static int
load_args(struct load *l, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		CLI_OPT("collection", 'C', CLI_OPT_STR, struct load,
		    l_collection),
		/* Checked below, once FILE is known. */
		CLI_OPT("format", 'f', CLI_OPT_STR, struct load, l_format_name),
		CLI_OPT("schema", 's', CLI_OPT_STR, struct load, l_schema_path),
		CLI_OPT("json", 'j', CLI_OPT_FLAG, struct load, l_json),
		CLI_OPT("no-metrics", 'M', CLI_OPT_FLAG, struct load,
		    l_no_metrics),
		PROGRESS_OPTIONS(struct load, l_progress_mode),
		CLI_OPT_END,
	};
	const char *format;
	int rc;

	if ((rc = cli_opts_parse(argc, argv, opts, l)) >= 0)
		return rc;
	format = l->l_format_name;
	if (argc - optind > 1 || l->l_collection == NULL) {
		fprintf(stderr, "mysimbdp load: %s\n",
		    l->l_collection == NULL ? "--collection is required" :
		    "one FILE at most");
		return cli_usage_error(argv[0]);
	}
	l->l_file = optind < argc ? argv[optind] : l->l_env.input_file;
	if (l->l_file == NULL) {
		fprintf(stderr, "mysimbdp load: no FILE and no "
		    "MYSIMBDP_INPUT_FILE\n");
		return cli_usage_error(argv[0]);
	}
	if (format == NULL)
		l->l_format = format_of(l->l_file);
	else if (strcmp(format, "csv") == 0)
		l->l_format = FMT_CSV;
	else if (strcmp(format, "jsonl") == 0)
		l->l_format = FMT_JSONL;
	else {
		fprintf(stderr, "mysimbdp load: --format %s: use csv or "
		    "jsonl\n", format);
		return cli_usage_error(argv[0]);
	}
	if (l->l_format == FMT_JSONL && l->l_schema_path != NULL) {
		fprintf(stderr, "mysimbdp load: --schema applies to csv "
		    "only\n");
		return cli_usage_error(argv[0]);
	}
	return -1;
}

/* The schema: the file given, or every column as a string. */
static int
load_schema(struct load *l)
{
	char why[2048];

	if (l->l_format != FMT_CSV)
		return 0;
	if (l->l_schema_path != NULL)
		l->l_schema = msb_schema_load(l->l_schema_path, why,
		    sizeof(why));
	else
		l->l_schema = msb_schema_parse("*:string\n", "default schema",
		    why, sizeof(why));
	if (l->l_schema == NULL)
		return load_fail(l, EX_CONFIG, "%s", why);
	return 0;
}

/*
 * Opens the input and hashes it through the descriptor it is then read
 * from (rewound), so a file swapped for another under its path does not
 * matter; what fstat says of it first is kept for the check before each
 * send. Only a regular file will do: the content is read twice (hash,
 * then rows), which a pipe could not give.
 */
static int
open_input(struct load *l)
{
	struct stat st;
	int fd;

	if ((fd = open(l->l_file, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1 || msb__fd_mark(fd, &l->l_as_hashed) == -1) {
		load_fail(l, errno == EACCES || errno == EPERM ?
		    EX_NOPERM : EX_NOINPUT, "%s: %s", l->l_file,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return load_fail(l, EX_NOINPUT, "%s: not a regular file",
		    l->l_file);
	}
	if (msb__fd_hash(fd, l->l_hash) != MSB_OK ||
	    lseek(fd, 0, SEEK_SET) == -1) {
		close(fd);
		return load_fail(l, EX_IOERR, "%s: %s", l->l_file,
		    strerror(errno));
	}
	l->l_size = (uint64_t)st.st_size;
	return fd;
}

/* The summary for the ingest record; on failure it says why. */
static void
write_result(struct load *l)
{
	bson_t extra = BSON_INITIALIZER;

	jsonline_append_text(&extra, "collection", l->l_collection);
	BSON_APPEND_UTF8(&extra, "format", l->l_format == FMT_CSV ? "csv" :
	    "jsonl");
	if (l->l_sink != NULL)
		BSON_APPEND_UTF8(&extra, "sink", msb_sink_kind(l->l_sink));
	if (l->l_exit != EX_OK)
		jsonline_append_text(&extra, "error", l->l_err);
	/* A load that failed before its commit stored nothing: zero rows. */
	if (msb_result_write_sink(l->l_env.result_file, l->l_committed ?
	    l->l_rows : 0, l->l_committed ? l->l_rejected : 0,
	    l->l_committed ? l->l_sink : NULL, &extra) != MSB_OK)
		fprintf(stderr, "mysimbdp load: result file %s: %s\n",
		    l->l_env.result_file, strerror(errno));
	bson_destroy(&extra);
}

/* Reads every row into the sink and commits the file as one unit. */
static void
load_run(struct load *l)
{
	char why[1024];
	int fd, rc;

	if ((fd = open_input(l)) == -1)
		return;
	rc = msb_sink_open_env(&l->l_sink, &l->l_env, l->l_collection, why,
	    sizeof(why));
	if (rc != MSB_OK) {
		load_fail(l, rc == MSB_TEMPFAIL ? EX_TEMPFAIL :
		    sink_exit_code(rc), "%s", why);
		close(fd);
		return;
	}
	/* No batch of a file written to since it was hashed is sent. */
	l->l_fd = fd;
	msb__sink_before_send(l->l_sink, unchanged_since_hashed, l);
	progress_start(&l->l_progress, l->l_progress_mode, l->l_file, "rows",
	    l->l_size);
	l->l_mark = clock_mono_ns();
	if (l->l_format == FMT_CSV)
		load_csv(l, fd);
	else
		load_jsonl(l, fd);
	/*
	 * Every row was read as hashed (check_as_hashed), or the load has
	 * failed: the rest goes even if the file is written to now, or the
	 * batches sent would stay and a retry store their rows again under
	 * other ids.
	 */
	msb__sink_before_send(l->l_sink, NULL, NULL);
	close(fd);
	progress_update(&l->l_progress, l->l_done, l->l_rows);
	progress_finish(&l->l_progress);
	/* Rows, and every one rejected: the file is not what it should be,
	 * and will not be on a retry (65: to failed/ at once). */
	if (l->l_exit == EX_OK && l->l_rows == 0 && l->l_rejected > 0)
		load_fail(l, EX_DATAERR, "%s: all %" PRIu64 " rows "
		    "rejected, the first: %s", l->l_file, l->l_rejected,
		    l->l_first_reject);
	/* The content hash names the unit: a rerun replaces it. */
	if (l->l_exit == EX_OK &&
	    (rc = msb_sink_commit(l->l_sink, l->l_hash)) != MSB_OK)
		load_sink_fail(l, rc);
	else if (l->l_exit == EX_OK)
		l->l_committed = true;
	ingest_time(l);
	if (l->l_committed && msb_sink_all_rejected(l->l_sink))
		load_fail(l, EX_DATAERR, "the store rejected every row: %s",
		    msb_sink_error(l->l_sink));
}

/* The summary as JSON: what was loaded where. */
static void
print_json(const struct load *l)
{
	bson_t doc = BSON_INITIALIZER;
	struct msb_sink_stats st;

	msb_sink_stats(l->l_sink, &st);
	jsonline_append_text(&doc, "file", l->l_file);
	BSON_APPEND_UTF8(&doc, "format", l->l_format == FMT_CSV ? "csv" :
	    "jsonl");
	BSON_APPEND_INT64(&doc, "bytes", (int64_t)l->l_done);
	BSON_APPEND_INT64(&doc, "rows", (int64_t)l->l_rows);
	BSON_APPEND_INT64(&doc, "rejected", (int64_t)l->l_rejected);
	BSON_APPEND_INT64(&doc, "inserted", (int64_t)st.inserted);
	BSON_APPEND_INT64(&doc, "already_present",
	    (int64_t)st.already_present);
	BSON_APPEND_INT64(&doc, "store_rejected", (int64_t)st.rejected);
	BSON_APPEND_UTF8(&doc, "db", l->l_env.mongo_db);
	BSON_APPEND_UTF8(&doc, "collection", l->l_collection);
	BSON_APPEND_UTF8(&doc, "sink", msb_sink_kind(l->l_sink));
	cli_print_json(&doc);
	bson_destroy(&doc);
}

int
cmd_load(const struct cli *cli, int argc, char **argv)
{
	struct load l = { .l_exit = EX_OK };
	int rc;

	load_env(&l.l_env);
	if ((rc = load_args(&l, argc, argv)) >= 0)
		return rc;
	if (check_env(&l) == -1) {
		fprintf(stderr, "mysimbdp load: %s\n", l.l_err);
		return l.l_exit;
	}
	msb_init();
	bson_init(&l.l_doc);
	if (load_schema(&l) == 0) {
		/* NULL is fine: the load goes on without reports. */
		if (!l.l_no_metrics)
			l.l_metrics = msb_metrics_open_env(&l.l_env);
		if (l.l_metrics == NULL && !l.l_no_metrics)
			fprintf(stderr, "mysimbdp load: ZMQ_METRICS_ENDPOINT: "
			    "%s (going on without metrics)\n",
			    strerror(errno));
		load_run(&l);
	}
	write_result(&l);
	if (l.l_exit == EX_OK && l.l_json)
		print_json(&l);
	else if (l.l_exit == EX_OK)
		printf("%s: %" PRIu64 " rows, %" PRIu64 " rejected -> %s.%s "
		    "(%s): %s\n", l.l_file, l.l_rows, l.l_rejected,
		    l.l_env.mongo_db, l.l_collection, msb_sink_kind(l.l_sink),
		    msb_sink_outcome(l.l_sink));
	else
		fprintf(stderr, "mysimbdp load: %s\n", l.l_err);
	bson_destroy(&l.l_doc);
	msb_metrics_close(l.l_metrics);
	msb_sink_close(l.l_sink);
	msb_schema_free(l.l_schema);
	msb_cleanup();
	return l.l_exit;
}

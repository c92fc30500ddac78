/*
 * libmysimbdp: the client library for mysimbdp tenant apps.
 *
 * It reads the environment contract the managers give an app, builds
 * documents with deterministic ids, reads CSV files and converts their
 * fields to typed BSON values, writes documents to the sink named by
 * MONGO_URL (MongoDB, or the embedded store of BSON files), writes the
 * result summary, and pushes metric reports to the monitor.
 *
 * Every public name starts with msb_ (MSB_ for macros). Unless said
 * otherwise a function returns MSB_OK (0) on success and one of the
 * negative MSB_ codes below on failure; msb_exit_code() turns any of them
 * into the exit status the managers expect. Objects are not thread-safe:
 * use each one from one thread at a time; a struct msb_metrics and a
 * stream's acks are the exceptions (below).
 *
 * Build: cc app.c $(pkg-config --cflags --libs mysimbdp)
 */
#ifndef MYSIMBDP_H
#define MYSIMBDP_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MSB_API __attribute__((__visibility__("default")))
#else
#define MSB_API
#endif

#define MSB_VERSION "0.1.0"

/*
 * Return codes. MSB_TEMPFAIL means "try again later" (the sink is
 * unreachable, the disk is full): the app should exit 75 so the manager
 * retries the file without using up its retries. MSB_ERROR is permanent.
 * MSB_BADDOC concerns one document only (it was refused, nothing else is
 * affected): count it and go on.
 */
#define MSB_OK		 0
#define MSB_ERROR	(-1)
#define MSB_TEMPFAIL	(-2)
#define MSB_BADDOC	(-3)

#define MSB_EXIT_TEMPFAIL 75	/* EX_TEMPFAIL */
#define MSB_EXIT_DATAERR 65	/* EX_DATAERR */

/* ---- library (init.c) ---------------------------------------------- */

/*
 * Initialises the library and the libraries it uses (mongoc_init()).
 * Call it once at the start of main(), before any other thread runs and
 * before any other msb_ function. Returns MSB_OK.
 */
MSB_API int msb_init(void);

/*
 * Releases what msb_init() set up (mongoc_cleanup()). Call it once at the
 * end, after every sink is closed. No msb_ function may be used after it.
 */
MSB_API void msb_cleanup(void);

/* The library version, e.g. "0.1.0". */
MSB_API const char *msb_version(void);

/* A short description of a return code ("temporary failure"). */
MSB_API const char *msb_strerror(int rc);

/* Maps a return code to an exit status: 0 (MSB_OK, MSB_STOPPED), 75
 * (MSB_TEMPFAIL), 65 (MSB_BADDOC) or 1 (MSB_ERROR and anything else). */
MSB_API int msb_exit_code(int rc);

/* ---- the environment contract (env.c) ------------------------------ */

enum msb_app_kind {
	MSB_APP_BATCH = 1,	/* MYSIMBDP_INPUT_FILE is set */
	MSB_APP_STREAM = 2,	/* MYSIMBDP_STREAM or ZMQ_STREAM_ENDPOINT set */
};

/*
 * The environment an app is started with. The strings point into the
 * process environment (getenv), so they stay valid until it changes.
 * Optional values are NULL when unset or empty.
 */
struct msb_env {
	enum msb_app_kind kind;
	const char *tenant;		/* MYSIMBDP_TENANT */
	const char *instance;		/* MYSIMBDP_INSTANCE: job/instance */
	const char *mongo_url;		/* MONGO_URL: mongodb://, file:// */
	const char *mongo_db;		/* MONGO_DB */
	const char *metrics_endpoint;	/* ZMQ_METRICS_ENDPOINT; NULL: "" */
	const char *input_file;		/* batch: MYSIMBDP_INPUT_FILE */
	const char *dataset;		/* batch: MYSIMBDP_DATASET */
	const char *result_file;	/* batch: MYSIMBDP_RESULT_FILE */
	const char *stream;		/* stream: MYSIMBDP_STREAM */
	const char *stream_endpoint;	/* stream: ZMQ_STREAM_ENDPOINT */
};

/*
 * Reads and checks the environment contract. An app is a stream app when
 * MYSIMBDP_STREAM or ZMQ_STREAM_ENDPOINT is set, a batch app otherwise.
 * Returns MSB_OK, or MSB_ERROR with every problem written to err, each
 * naming its variable, e.g.
 *   "MONGO_URL: must start with mongodb:// or file://; MONGO_DB: not set".
 * ZMQ_METRICS_ENDPOINT must be set; set but empty means "no monitor".
 */
MSB_API int msb_env_load(struct msb_env *env, char *err, size_t errlen);

/* ---- content hashes and document ids (sha256.c, docid.c) ----------- */

#define MSB_HASH_HEX_SIZE 65	/* 64 hex digits and a NUL */
#define MSB_DOC_ID_SIZE 48	/* 24 hex, ':', up to 20 digits, NUL */

/* Writes the SHA-256 of len bytes at data as 64 lowercase hex digits. */
MSB_API void msb_sha256_hex(const void *data, size_t len,
    char hex[MSB_HASH_HEX_SIZE]);

/*
 * Writes the SHA-256 of the file's content as 64 lowercase hex digits.
 * Returns MSB_OK, or MSB_ERROR with errno set.
 */
MSB_API int msb_file_hash(const char *path, char hex[MSB_HASH_HEX_SIZE]);

/*
 * Writes the deterministic document id "<first 24 hex of hash>:<row>"
 * into buf and returns buf; NULL (errno EINVAL) when content_hash does
 * not start with 24 hex digits. The same file content and row always
 * give the same id, so a rerun of a file inserts nothing twice.
 * content_hash MSB_HASH_LATER ("later"): the id of the row in the input
 * a sink hashes (msb_sink_hash_input), which writes the hash in.
 */
MSB_API char *msb_doc_id(char buf[MSB_DOC_ID_SIZE], const char *content_hash,
    uint64_t row);

/* Appends "_id" (msb_doc_id) to doc; call it first so _id leads the
 * document. Returns MSB_OK or MSB_ERROR (bad hash, errno EINVAL). */
MSB_API int msb_doc_append_id(bson_t *doc, const char *content_hash,
    uint64_t row);

/* ---- the sink (sink.c, sink_mongo.c, sink_file.c) ------------------ */

struct msb_sink;

/* Write concern values for msb_sink_set_write_concern(). */
#define MSB_W_DEFAULT	(-2)	/* the server's default, or w= from the URL */
#define MSB_W_MAJORITY	(-3)

struct msb_sink_stats {
	uint64_t added;		/* accepted by msb_sink_add and _upsert */
	uint64_t inserted;	/* written (MongoDB: new, or replaced by an
				 * upsert; file: committed) */
	uint64_t already_present; /* MongoDB: an insert whose _id was
				 * there already (a rerun): not written, fine;
				 * file: a named unit whose file was there
				 * (a rerun of the same input), replaced */
	uint64_t units;		/* units of work committed */
	uint64_t rejected;	/* MongoDB: refused by the server for good
				 * (another unique index, validation, too
				 * large): not stored; msb_sink_error() names
				 * the first of the last batch that had any */
};

/*
 * Opens the sink named by url for one collection of database db:
 *   mongodb://... (or mongodb+srv://...)  a MongoDB server, through
 *       libmongoc: unordered bulk inserts (and replace_one upserts),
 *       write concern from the URL
 *       (?w=majority&journal=true&wtimeoutMS=...) or from
 *       msb_sink_set_write_concern(); a URL asking for unacknowledged
 *       writes (w=0) is MSB_ERROR here, before any server contact (the
 *       replies would not say what was stored).
 *       serverSelectionTimeoutMS and connectTimeoutMS default to 2000
 *       when the URL leaves them out, socketTimeoutMS to 30000 (or the
 *       URL's wtimeoutMS + 5000 if longer): a server that stops
 *       answering a write makes it MSB_TEMPFAIL then.
 *       The server is contacted at once, so an unreachable server gives
 *       MSB_TEMPFAIL here.
 *   file://DIR  the embedded store: files of concatenated BSON documents
 *       in DIR/<db>/<collection>/, read them all (hidden names are files
 *       being written: skip them):
 *         <unit key>.bson  the documents msb_sink_add put in one unit
 *         <_id>.bson       one upserted document, named after its _id:
 *                          i=<integer>.bson, s=<string>.bson (strings of
 *                          1 to 160 [A-Za-z0-9._:-]), o=<ObjectId>.bson,
 *                          h=<SHA-256 of type and value>.bson otherwise;
 *                          the names hold a '=', unit names never do.
 * Returns MSB_OK with *sinkp set, or MSB_TEMPFAIL / MSB_ERROR with a
 * message in err (which never repeats the URL: it may hold a password).
 */
MSB_API int msb_sink_open(struct msb_sink **sinkp, const char *url,
    const char *db, const char *collection, char *err, size_t errlen);

/* msb_sink_open() with env->mongo_url and env->mongo_db. */
MSB_API int msb_sink_open_env(struct msb_sink **sinkp,
    const struct msb_env *env, const char *collection, char *err,
    size_t errlen);

/*
 * Sets the write concern of the MongoDB sink: w is a number of nodes (1
 * or more), MSB_W_MAJORITY or MSB_W_DEFAULT; journal asks for the
 * journal; wtimeout_ms 0 waits until the socket timeout (msb_sink_open),
 * which also ends a longer wtimeout_ms. Call it before the first
 * msb_sink_add(). The file sink always fsyncs and ignores it. Returns
 * MSB_OK, or MSB_ERROR for a bad value, w=0 included (unacknowledged
 * writes: the server would not say what it stored or refused, so no
 * sink accepts them).
 */
MSB_API int msb_sink_set_write_concern(struct msb_sink *sink, int w,
    bool journal, int32_t wtimeout_ms);

/* Sets how many documents the MongoDB sink sends per bulk write (default
 * 1000; batches are also cut at 16 MiB). Returns MSB_OK or MSB_ERROR. */
MSB_API int msb_sink_set_batch_size(struct msb_sink *sink, size_t ndocs);

/*
 * Adds a copy of doc to the current unit of work. A document without
 * "_id" gets an ObjectId (both back ends alike), but such documents are
 * duplicated by a rerun: give deterministic ids (msb_doc_append_id).
 * Returns MSB_OK; MSB_BADDOC when doc is refused (over 16 MiB, invalid
 * UTF-8, a key with '.' or starting with '$', an _id that is an array, a
 * regex or undefined), and the sink stays usable;
 * or MSB_TEMPFAIL / MSB_ERROR when a batch sent to MongoDB failed, after
 * which the sink only returns that error again.
 */
MSB_API int msb_sink_add(struct msb_sink *sink, const bson_t *doc);

/*
 * Adds doc to the current unit of work as an upsert: at commit, the
 * document with doc's "_id" is replaced by doc (or inserted). doc must
 * have "_id". The last upsert of an _id in a unit wins. Returns MSB_OK,
 * MSB_BADDOC (no _id, or the checks msb_sink_add makes), or MSB_TEMPFAIL/
 * MSB_ERROR like msb_sink_add.
 * MongoDB: bulk replace_one with upsert, in batches of their own; a
 * batch that already holds the _id is sent first, so the order holds.
 * File store: the document is written at once to a temporary file of
 * its own; at commit one syncfs() covers the unit's files, each is
 * renamed over "<_id>.bson", and the folder is fsynced: a reader sees
 * every _id exactly once, with its old or its new document. An _id
 * upserted here and also added with msb_sink_add is there twice in the
 * file store (once in the unit's file): use a collection for each.
 */
MSB_API int msb_sink_upsert(struct msb_sink *sink, const bson_t *doc);

/* msb_sink_add() and msb_sink_upsert() of len bytes of BSON (for language
 * bindings); bytes that are not one well-formed document: MSB_BADDOC. */
MSB_API int msb_sink_add_bson(struct msb_sink *sink, const uint8_t *data,
    size_t len);
MSB_API int msb_sink_upsert_bson(struct msb_sink *sink, const uint8_t *data,
    size_t len);

/*
 * Ends a unit of work: everything added or upserted since the previous
 * commit is durable when it returns MSB_OK. MongoDB: the remaining
 * documents are sent, and each is counted in msb_sink_stats() as
 * inserted, already_present (an insert whose _id is there: what a rerun
 * produces) or rejected (any other write error of that document alone:
 * a duplicate key of another unique index, validation, too large; the
 * server's reason is in msb_sink_error()). Rejected documents are not
 * stored and do not fail the commit: compare the counts to fold them
 * into the app's rejected rows. File store: the
 * unit's temporary file is fsynced and renamed to "<unit_key>.bson"
 * (characters other than [A-Za-z0-9._:-] are replaced, plus a hash of the
 * key), replacing the file of an earlier run of the same unit; with
 * unit_key NULL a unique name is made up, and a unit of upserts only
 * writes no unit file. Use the input file's content hash as the key for
 * a batch file, NULL for a stream. A key names one whole unit: a second
 * commit of a key through the same sink is refused (MSB_ERROR, by every
 * sink; in the file store it would replace the first unit's documents);
 * commit parts of a file with NULL or keys of their own. Returns MSB_OK,
 * MSB_TEMPFAIL or MSB_ERROR.
 */
MSB_API int msb_sink_commit(struct msb_sink *sink, const char *unit_key);

/*
 * Called for each document the server rejected for good (see
 * msb_sink_commit), during msb_sink_add, _upsert or _commit, with the
 * server's reason. seq numbers the documents accepted by this sink: 0
 * for the first msb_sink_add or _upsert that returned MSB_OK, then 1, 2,
 * ... (msb_sink_stats().added before the call). A stream app maps it to
 * the message the document came from and rejects that message (to the
 * dead letters) instead of acking it.
 */
typedef void msb_reject_fn(void *arg, uint64_t seq, const char *reason);

MSB_API void msb_sink_on_reject(struct msb_sink *sink, msb_reject_fn *fn,
    void *arg);

/*
 * True when the sink was handed documents and the store rejected every
 * one of them: nothing of the unit was stored, so the run is not a
 * success (an app exits 65, EX_DATAERR, with msb_sink_error()).
 */
MSB_API bool msb_sink_all_rejected(const struct msb_sink *sink);

/* "I inserted, P already present, S rejected": what the store did with
 * the documents so far (valid until the next call on sink). */
MSB_API const char *msb_sink_outcome(struct msb_sink *sink);

/* The message of the last failure ("" if none). */
MSB_API const char *msb_sink_error(const struct msb_sink *sink);

/* "mongodb" or "file". */
MSB_API const char *msb_sink_kind(const struct msb_sink *sink);

MSB_API void msb_sink_stats(const struct msb_sink *sink,
    struct msb_sink_stats *stats);

/*
 * The content hash, taken while the rows are read (hashjob.c). A batch
 * app's ids are made of its input's content hash (msb_doc_id), which
 * takes a pass over the whole input before the first row can have an id.
 * msb_sink_hash_input takes that pass on a thread of the sink's own,
 * from offset 0 to the end of fd with pread (a dup of fd: the app may
 * read it meanwhile, and close it), while the app reads, converts and
 * adds rows whose ids are made with MSB_HASH_LATER in place of the hash:
 *     msb_docbuild_id(b, MSB_HASH_LATER, row)
 * The sink writes the hash into each such id before the document is
 * stored, so what is stored is what the hash itself would have given.
 * The file store keeps going meanwhile and puts the hash into the unit
 * when it is known (at the latest at the commit, which waits for it).
 * Where a document leaves as soon as it is added (MongoDB's batches) or
 * is looked at first (quality rules, a non-first _id, an upsert), the
 * add waits for the hash. An _id made with MSB_HASH_LATER added to a
 * sink hashing nothing is refused (MSB_ERROR). Once per sink.
 * Returns MSB_OK, or MSB_ERROR (a second call, a bad fd) or
 * MSB_TEMPFAIL (no thread) with msb_sink_error(). A read error of the
 * hashing fails the sink once the hash is asked for (an add of such an
 * id, the commit of documents that hold one, msb_sink_input_hash), with
 * its reason: nothing is stored under ids of no content.
 */
#define MSB_HASH_LATER "later"
MSB_API int msb_sink_hash_input(struct msb_sink *sink, int fd);

/*
 * The hash msb_sink_hash_input takes, waiting for it if need be (the
 * unit key an app gives msb_sink_commit). Returns MSB_OK; the sink's
 * failure if the hashing failed; MSB_ERROR if no input is hashed.
 */
MSB_API int msb_sink_input_hash(struct msb_sink *sink,
    char hex[MSB_HASH_HEX_SIZE]);

/*
 * Closes the sink. Documents added or upserted after the last commit are
 * dropped by the file store; MongoDB may already hold the batches sent
 * before.
 * Accepts NULL.
 */
MSB_API void msb_sink_close(struct msb_sink *sink);

/* ---- CSV (csvreader.c) --------------------------------------------- */

#define MSB_CSV_HEADER	0x1	/* the first record is a header row */
#define MSB_CSV_STRICT	0x2	/* malformed quoting is an error */

struct msb_csv_record {
	uint64_t	 num;		/* record number from 1; header 0 */
	size_t		 nfields;
	const char	*const *fields;	/* each NUL-terminated */
	const size_t	*lens;		/* lengths (a field may hold a NUL) */
};

/* Called once per record; return 0 to go on, anything else to stop. */
typedef int (*msb_csv_cb)(const struct msb_csv_record *rec, void *arg);

struct msb_csv_options {
	unsigned	 flags;		/* MSB_CSV_HEADER, MSB_CSV_STRICT */
	char		 delimiter;	/* 0: ',' */
	char		 quote;		/* 0: '"' */
	size_t		 max_record;	/* bytes per record, 0: 64 MiB */
	msb_csv_cb	 on_header;	/* with MSB_CSV_HEADER; may be NULL */
};

struct msb_csv;

/*
 * A streaming CSV reader (RFC 4180 and the usual variants, through
 * libcsv): quoted fields may hold delimiters, doubled quotes and line
 * breaks; CRLF and LF both end records; blank lines are skipped; spaces
 * and tabs around unquoted fields are removed; a UTF-8 byte-order mark is
 * dropped. opts may be NULL for the defaults. max_record bounds the memory
 * of one record: its fields' bytes plus 25 per field, the field being
 * read included, so an unclosed quote or a line of commas is refused
 * within 64 KiB of it, not at the end of the input. Returns NULL (errno
 * set).
 */
MSB_API struct msb_csv *msb_csv_new(const struct msb_csv_options *opts,
    msb_csv_cb cb, void *arg);

/*
 * Parses len more bytes, calling back for each complete record. Returns
 * MSB_OK; MSB_ERROR for malformed input (strict mode), a record over
 * max_record, or no memory left inside a record over 1 MiB (a retry
 * would fail the same way) (see msb_csv_error()); MSB_TEMPFAIL for no
 * memory left otherwise; or the callback's non-zero value, after which
 * the reader is finished.
 */
MSB_API int msb_csv_feed(struct msb_csv *csv, const void *buf, size_t len);

/* Ends the input (the last record may lack a line break). Same returns. */
MSB_API int msb_csv_finish(struct msb_csv *csv);

MSB_API const char *msb_csv_error(const struct msb_csv *csv);

/* The number of data records delivered so far. */
MSB_API uint64_t msb_csv_records(const struct msb_csv *csv);

MSB_API void msb_csv_free(struct msb_csv *csv);

/* Called with the input bytes behind the records just delivered. */
typedef void (*msb_csv_progress_cb)(uint64_t bytes, void *arg);

/*
 * Reads fd to its end through the reader: the same records, in the same
 * order and with the same results as msb_csv_feed of every read and then
 * msb_csv_finish, but parsed on a thread of the reader's own while the
 * callbacks run on the caller's, so a callback's work overlaps the parse.
 * A few hundred KiB of records are parsed ahead; the thread ends before
 * this returns. progress (may be NULL) is called on the caller's thread,
 * with the callback's arg, as records are delivered. Returns as
 * msb_csv_feed does, or MSB_ERROR / MSB_TEMPFAIL for a read error
 * ("read: ..." in msb_csv_error()). Meant for files: when a callback
 * stops the reader, the call returns once the thread's read in progress
 * ends, which on a pipe waits for data or its end.
 */
MSB_API int msb_csv_read_fd(struct msb_csv *csv, int fd,
    msb_csv_progress_cb progress);

/*
 * Reads a whole file through a reader, as msb_csv_read_fd. Returns
 * MSB_OK, MSB_ERROR (the reason in err) or the callback's non-zero value.
 */
MSB_API int msb_csv_read_file(const char *path,
    const struct msb_csv_options *opts, msb_csv_cb cb, void *arg, char *err,
    size_t errlen);

/* ---- typed CSV rows, pulled (rows.c) ------------------------------- */

/*
 * A CSV file with a header row, read as typed BSON documents one at a
 * time: the reader and schema above behind an iterator, for language
 * bindings. Each document is what `mysimbdp load` writes for the row:
 * "_id" (msb_doc_append_id of the file's content hash and the record
 * number) first, then the schema's columns.
 */
struct msb_rows;

#define MSB_ROWS_NO_ID 0x1	/* leave "_id" out */

/*
 * Opens path. schema is schema text as msb_schema_parse() takes it, NULL
 * for every column a string ("*:string"). The file is hashed first,
 * then parsed through the same descriptor; what was parsed is hashed
 * too, and a file changed meanwhile fails at its end (MSB_TEMPFAIL from
 * msb_rows_next), for its rows' ids are of the content hashed first.
 * Written to since it was hashed (fstat: its size or ctime changed), it
 * fails sooner: before any row read after the write is handed out, so
 * that a sink sending batches as it goes (MongoDB) gets none.
 * Returns MSB_OK with *rowsp set; MSB_ERROR (bad schema, no such file)
 * or MSB_TEMPFAIL with the reason in err.
 */
MSB_API int msb_rows_open(struct msb_rows **rowsp, const char *path,
    const char *schema, unsigned flags, char *err, size_t errlen);

/*
 * The next row. Returns
 *   MSB_OK       a document: data/len (BSON), valid until the next call;
 *   MSB_BADDOC   the record was rejected: the reason ("record N: column:
 *                reason") in msb_rows_error(); go on;
 *   MSB_STOPPED  the end of the file;
 *   MSB_ERROR    malformed CSV, a header without the schema's columns,
 *                a read error (msb_rows_error()): the rows before it were
 *                delivered; from then on;
 *   MSB_TEMPFAIL as MSB_ERROR, but it may pass: out of memory, a
 *                read error such as EAGAIN or ETIMEDOUT, or the file
 *                changed while it was read ("changed while it was
 *                read"): written to, before a row read after the write
 *                (those delivered were read before it); otherwise found
 *                at the end, when rows delivered may not match their
 *                ids (commit none).
 * record (may be NULL) gets the record number (the header is 0).
 */
MSB_API int msb_rows_next(struct msb_rows *rows, const uint8_t **data,
    size_t *len, uint64_t *record);

/* The SHA-256 of the file's content, 64 hex digits: the unit key. */
MSB_API const char *msb_rows_hash(const struct msb_rows *rows);

/* Why the last msb_rows_next() did not return a row ("" otherwise). */
MSB_API const char *msb_rows_error(const struct msb_rows *rows);

/* Once msb_rows_next() failed: the errno of the read that failed, or 0
 * when it was not a read (bad CSV, a header without the schema's
 * columns, the file changed). A read error is no fault of the data: the
 * same file may read well elsewhere or later, so an app should not give
 * it exit 65 (EX_DATAERR), which fails the file without a retry. */
MSB_API int msb_rows_errno(const struct msb_rows *rows);

/* Rows converted and rows rejected so far. */
MSB_API void msb_rows_counts(const struct msb_rows *rows, uint64_t *n,
    uint64_t *rejected_rows);

MSB_API void msb_rows_close(struct msb_rows *rows);

/* ---- typed values and schemas (value.c, schema.c) ------------------ */

enum msb_type {
	MSB_TYPE_STRING = 1,	/* trimmed, valid UTF-8 */
	MSB_TYPE_INT,		/* 64-bit integer */
	MSB_TYPE_DOUBLE,	/* finite double, '.' as decimal point */
	MSB_TYPE_BOOL,		/* true/false, yes/no, y/n, t/f, on/off, 1/0 */
	MSB_TYPE_DATE,		/* ISO 8601 date or date-time -> BSON date */
};

#define MSB_COL_REQUIRED 0x1	/* an empty value rejects the row */

/*
 * Converts one text value and appends it to doc under key. Surrounding
 * whitespace is ignored; an empty value appends null, or is an error when
 * flags has MSB_COL_REQUIRED. Dates: YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS
 * [.fraction]] with 'T' or a space, then Z or +HH[:MM]/-HH[:MM] (no zone:
 * UTC). Returns MSB_OK, or MSB_ERROR with the reason in err and nothing
 * appended.
 */
MSB_API int msb_value_append(bson_t *doc, const char *key, enum msb_type type,
    unsigned flags, const char *text, size_t len, char *err, size_t errlen);

/*
 * A document built by appending, for an app that builds one per row: each
 * append writes its element in place, several times faster than libbson's
 * bson_append_* (docs/benchmarks.md, "CSV ingestion"). Keys are keylen
 * bytes, not NUL-terminated; inside an array a NULL key is the next index.
 * Errors stick: after the first (out of memory, over 16 MiB, a key holding
 * a NUL, nesting over 100, a missing key, an end without a begin) every
 * append returns it and does nothing, and msb_docbuild_bson and
 * msb_docbuild_error say why; so a row's appends need no check each.
 * A key MongoDB refuses or a string that is not UTF-8 is not refused
 * here but by the sink, with its reason (msb_sink_add_docbuild, below).
 * Appends return MSB_OK, or the sticky error: MSB_BADDOC (too large, a
 * key with a NUL, too deep), MSB_TEMPFAIL (no memory), MSB_ERROR
 * (misuse).
 */
struct msb_docbuild;

/* An empty document; NULL (errno ENOMEM) on failure. */
MSB_API struct msb_docbuild *msb_docbuild_new(void);
/* Empties it, error included, for the next document; keeps its memory. */
MSB_API void msb_docbuild_reset(struct msb_docbuild *b);
MSB_API void msb_docbuild_free(struct msb_docbuild *b);

MSB_API int msb_docbuild_null(struct msb_docbuild *b, const char *key,
    size_t keylen);
MSB_API int msb_docbuild_utf8(struct msb_docbuild *b, const char *key,
    size_t keylen, const char *s, size_t len);
MSB_API int msb_docbuild_int64(struct msb_docbuild *b, const char *key,
    size_t keylen, int64_t v);
MSB_API int msb_docbuild_double(struct msb_docbuild *b, const char *key,
    size_t keylen, double v);
MSB_API int msb_docbuild_bool(struct msb_docbuild *b, const char *key,
    size_t keylen, bool v);
/* A BSON date: milliseconds since 1970-01-01T00:00Z. */
MSB_API int msb_docbuild_date(struct msb_docbuild *b, const char *key,
    size_t keylen, int64_t ms);
/* Opens a subdocument (array: true, an array) under key; _end closes the
 * innermost. */
MSB_API int msb_docbuild_begin(struct msb_docbuild *b, const char *key,
    size_t keylen, bool array);
MSB_API int msb_docbuild_end(struct msb_docbuild *b);
/* msb_value_append's conversion, appended here; its errors (a bad value)
 * do not stick: the caller decides whether the row goes on. */
MSB_API int msb_docbuild_value(struct msb_docbuild *b, const char *key,
    size_t keylen, enum msb_type type, unsigned flags, const char *text,
    size_t len, char *err, size_t errlen);
/* Appends "_id" (msb_doc_id); MSB_ERROR with errno EINVAL for a bad hash,
 * which does not stick. */
MSB_API int msb_docbuild_id(struct msb_docbuild *b, const char *content_hash,
    uint64_t row);
/*
 * The document so far as a read-only bson_t (for msb_sink_add), valid
 * until the next append, reset or free; nothing to destroy. Returns
 * MSB_OK, or the sticky error (MSB_ERROR also when a subdocument is still
 * open).
 */
MSB_API int msb_docbuild_bson(struct msb_docbuild *b, bson_t *view);
/* Why the builder failed, or "". */
MSB_API const char *msb_docbuild_error(const struct msb_docbuild *b);

/*
 * msb_sink_add of the builder's document (see the sink, below), faster:
 * the builder checked keys and strings as they were appended, so the
 * sink's walk over the bytes runs only when one of them did not pass
 * (and then says why). A builder that failed gives MSB_BADDOC with its
 * reason ("document refused: document too large (over 16 MiB)"), or
 * MSB_TEMPFAIL when it ran out of memory.
 */
struct msb_sink;
MSB_API int msb_sink_add_docbuild(struct msb_sink *sink,
    struct msb_docbuild *b);

/* "integer", "double", ...; and the reverse (also accepts int, float,
 * number, bool, datetime, timestamp, text). Parse returns MSB_OK/ERROR. */
MSB_API const char *msb_type_name(enum msb_type type);
MSB_API int msb_type_parse(const char *name, enum msb_type *type);

struct msb_schema;

/* An empty schema; NULL (errno ENOMEM) on failure. */
MSB_API struct msb_schema *msb_schema_new(void);

/*
 * Adds a column. name is the CSV header name and the document key: not
 * empty, valid UTF-8, without '.', not starting with '$'. Name "*" sets
 * the type of every column of the header that the schema does not list
 * (without it they are left out). Returns MSB_OK, or MSB_ERROR with errno
 * EINVAL (bad or duplicate name) or ENOMEM.
 */
MSB_API int msb_schema_add(struct msb_schema *schema, const char *name,
    enum msb_type type, unsigned flags);

/*
 * Reads a schema file: one column per line, "name:type[:required]", with
 * blank lines and lines starting with '#' ignored, e.g.
 *   id:integer:required
 *   price:double
 *   last_review:date
 *   *:string
 * Returns the schema, or NULL with "path:line: message" in err.
 */
MSB_API struct msb_schema *msb_schema_load(const char *path, char *err,
    size_t errlen);

/* The same from a string; name is used in messages. */
MSB_API struct msb_schema *msb_schema_parse(const char *text,
    const char *name, char *err, size_t errlen);

/*
 * Finds each column in a header record (exact names). Every column of the
 * schema must be there. Without a bound header, msb_schema_convert() takes
 * the columns by position, in the order they were added. Returns MSB_OK
 * or MSB_ERROR with the missing names in err.
 */
MSB_API int msb_schema_bind(struct msb_schema *schema,
    const struct msb_csv_record *header, char *err, size_t errlen);

/*
 * Appends the typed fields of one record to doc. A record with the wrong
 * number of fields or a value that does not convert is rejected: returns
 * MSB_ERROR with "record N: column: reason" in err, leaves doc as it was,
 * and counts the row as rejected; the caller skips it and goes on.
 * Returns MSB_OK and counts the row otherwise.
 */
MSB_API int msb_schema_convert(struct msb_schema *schema,
    const struct msb_csv_record *rec, bson_t *doc, char *err, size_t errlen);

/* Rows converted and rows rejected so far. */
MSB_API void msb_schema_counts(const struct msb_schema *schema,
    uint64_t *rows, uint64_t *rejected_rows);

MSB_API void msb_schema_free(struct msb_schema *schema);

/* ---- result summary (result.c) ------------------------------------- */

/*
 * Writes {"rows": N, "rejected_rows": M, <the fields of extra>} to path
 * atomically (path.new, fsync, rename). path NULL or "" (no
 * MYSIMBDP_RESULT_FILE): nothing is written. The managers keep at most
 * 64 KiB. A string of extra (top level) that is not UTF-8 is written
 * with those bytes as \xNN: JSON holds only UTF-8. Returns MSB_OK, or
 * MSB_ERROR with errno set (EFBIG: too big; EINVAL: a string not UTF-8
 * inside a subdocument of extra).
 */
MSB_API int msb_result_write(const char *path, uint64_t rows,
    uint64_t rejected_rows, const bson_t *extra);

/*
 * The summary of a unit written through sink, with what the store did:
 * {"rows": rows, "rejected_rows": rejected_rows, "inserted": I,
 * "already_present": P, "store_rejected": S, ["store_error": the store's
 * reason for the first document it rejected through this sink (not
 * msb_sink_error(), the last message; bytes not UTF-8 as \xNN),] <the
 * fields of extra>}. rows are
 * the documents the app handed to the sink, rejected_rows the input rows
 * it refused itself (not documents); the store says of each document:
 * inserted, already present (a rerun) or rejected, so rows = I + P + S
 * once the unit is committed.
 * sink NULL (it never opened): I = P = S = 0. Returns as msb_result_write.
 */
MSB_API int msb_result_write_sink(const char *path, uint64_t rows,
    uint64_t rejected_rows, const struct msb_sink *sink, const bson_t *extra);

/* The same with extra as len bytes of BSON (NULL or 0: none). */
MSB_API int msb_result_write_sink_bson(const char *path, uint64_t rows,
    uint64_t rejected_rows, const struct msb_sink *sink,
    const uint8_t *extra, size_t extralen);

/* ---- metric reports (metrics.c) ------------------------------------ */

/*
 * Metric reports to the monitor. Reports go out over a ZeroMQ PUSH socket
 * and do not wait for a monitor that is absent or slow: the report is
 * dropped and counted (its figures go into the next one, which adds and
 * ticks try an interval later, not at once). A report sent at once after
 * open reaches a monitor that is listening; one that restarted is
 * connected to again by the next report. Every function
 * accepts a NULL handle and then does nothing, so an app may go on
 * without metrics when msb_metrics_open() fails.
 *
 * A handle is safe to share between threads: its calls take turns on a
 * lock of its own, and the library shares the last one opened with an
 * endpoint itself, as the sinks of every thread count the rows their
 * quality rules refuse into it. Only msb_metrics_close() must come
 * after every other thread's last call on the handle.
 */
struct msb_metrics;

enum msb_metric {
	MSB_M_MESSAGES = 1,	/* stream messages processed */
	MSB_M_ROWS,		/* rows or documents ingested */
	MSB_M_BYTES,		/* input bytes processed */
	MSB_M_ERRORS,		/* failed messages or rows */
	MSB_M_INGEST_US,	/* one ingest time sample, microseconds */
};

/*
 * Connects to endpoint (ZMQ_METRICS_ENDPOINT, ipc://PATH: no monitor
 * there is no failure, the reports try again); NULL or "" gives a handle
 * that counts but never sends. app is "batch" or "stream"; instance is
 * MYSIMBDP_INSTANCE (characters other than letters, digits and "._:-"
 * are sent as '_', and at most 80 of them). Returns NULL with errno set
 * on failure (EINVAL: not an ipc:// endpoint, or a path too long).
 */
MSB_API struct msb_metrics *msb_metrics_open(const char *endpoint,
    const char *app, const char *instance);

/*
 * msb_metrics_open() from the environment contract; a stream app's
 * reports also carry its tenant and stream, so the monitor counts them
 * for that stream.
 */
MSB_API struct msb_metrics *msb_metrics_open_env(const struct msb_env *env);

/* Sets the report interval (default 1000 ms; 0: only explicit flushes). */
MSB_API void msb_metrics_set_interval(struct msb_metrics *m,
    uint32_t interval_ms);

/*
 * Counts n of a metric (for MSB_M_INGEST_US, n is one sample). When the
 * interval has passed since the last report was sent or tried, sends one
 * (msb_metrics_flush): with no monitor, one report an interval is dropped.
 */
MSB_API void msb_metrics_add(struct msb_metrics *m, enum msb_metric metric,
    uint64_t n);

/*
 * Sends a report of the figures counted since the last one, e.g.
 *   {"v":1,"tenant":"acme","app":"batch","instance":"j42","window_ms":1000,
 *    "messages":0,"rows":1200,"bytes":81920,"ingest_us_sum":5100,
 *    "ingest_us_max":90,"errors":0,"dropped":0}
 * (schema: docs/protocols.md, "Metric reports"). ingest_us_sum is the
 * time spent on the messages (or rows) counted, so sum / messages is the
 * average per message; ingest_us_max is the longest single sample.
 * Returns MSB_OK when queued, MSB_TEMPFAIL when dropped (no monitor
 * connected, or its queue full), MSB_ERROR (errno) on another failure.
 */
MSB_API int msb_metrics_flush(struct msb_metrics *m);

/*
 * Sends a report, even an empty one, when the interval has passed since
 * the last was sent or tried: call it while idle, so the monitor hears
 * from the app every interval. Returns what msb_metrics_flush() returns,
 * or MSB_OK when it is not time yet.
 */
MSB_API int msb_metrics_tick(struct msb_metrics *m);

/* Reports sent and reports dropped (tried and not sent) so far. */
MSB_API void msb_metrics_counts(const struct msb_metrics *m, uint64_t *sent,
    uint64_t *dropped);

/*
 * Sends a last report and closes. It waits at most 1 s, and only for
 * a report already queued to a connected monitor.
 */
MSB_API void msb_metrics_close(struct msb_metrics *m);

/* ---- stream apps: receiving messages (stream.c) -------------------- */

/*
 * A stream app gets messages from streammgr over ZMQ_STREAM_ENDPOINT and
 * acks each one when it is done with it (docs/protocols.md, "Work"). It
 * may hold up to `credit` unacked messages; acks are batched. A message
 * that is neither acked nor nacked within the stream's ack_timeout, or
 * whose instance dies, is delivered again: process messages idempotently.
 *
 * Threads: one thread at a time reads (msb_stream_recv,
 * msb_stream_recv_batch, msb_stream_flush, msb_stream_close: "the
 * reader"); msb_stream_ack, msb_stream_ack_many, msb_stream_nack,
 * msb_stream_reject (and msb_stream_error, _stop, _stopping) may be
 * called from any thread, also while the reader is inside recv, so a
 * pool of workers may settle what the reader got (an ack needs only
 * the id; a message's data stays valid until the reader's next recv,
 * as on one thread). While recv waits, they only
 * queue and wake it, at most once a wait, to send what they queued:
 * they never wait for its timeout, and an ack, nack or reject, to take
 * its turn, waits at most for the reader to finish its step (or, with
 * 1024 acks queued or streammgr not reading, up to 2 s, as a send's
 * wait: MSB_TEMPFAIL). msb_stream_close must not run with an ack on
 * another thread: join the workers first, then close (it sends what
 * they queued after the reader's last recv).
 */

/* msb_stream_recv(): a stop was asked (SIGTERM, SIGINT or
 * msb_stream_stop) and nothing is left to receive. Exit 0. */
#define MSB_STOPPED 1

struct msb_stream;

struct msb_message {
	uint64_t	 id;	/* delivery id: pass to ack/nack/reject */
	const void	*data;	/* valid until the next msb_stream_recv() or
				   msb_stream_close() */
	size_t		 len;
};

/*
 * Connects a DEALER to endpoint (ipc://PATH, ZMQ_STREAM_ENDPOINT) and
 * sends [HELLO][instance][credit], waiting up to 1 s for streammgr's
 * side of the handshake; while nothing listens there, msb_stream_recv
 * tries again every 100 ms. credit is how many unacked messages the app
 * may hold (1 to 65536; 0: 1024: less leaves a fast instance waiting
 * for deliveries). For SIGTERM and SIGINT, when their disposition is
 * SIG_DFL,
 * installs a handler that only asks the streams to stop (sigaction
 * without SA_RESTART); the last msb_stream_close() puts SIG_DFL back. An
 * app with handlers of its own calls msb_stream_stop() from them.
 * Returns MSB_OK with *sp set, or MSB_ERROR with the reason in err.
 */
MSB_API int msb_stream_open(struct msb_stream **sp, const char *endpoint,
    const char *instance, uint32_t credit, char *err, size_t errlen);

/* msb_stream_open() with env->stream_endpoint and env->instance. */
MSB_API int msb_stream_open_env(struct msb_stream **sp,
    const struct msb_env *env, uint32_t credit, char *err, size_t errlen);

/*
 * The next message. timeout_ms -1 waits forever, 0 does not wait.
 * Before it waits it sends the queued acks; those streammgr does not
 * take stay queued: with -1 it waits on at once, for a message or for
 * room to send them; with a timeout, after 2 s without room, it returns
 * MSB_TEMPFAIL (once a stop was asked: waits on as below). Returns
 *   MSB_OK        a message, in msg;
 *   MSB_TEMPFAIL  nothing within timeout_ms;
 *   MSB_STOPPED   a stop was asked and is complete: once asked, recv
 *                 sends [BYE] (after the queued acks) and keeps returning
 *                 the messages that arrive until streammgr answers [BYE],
 *                 or for 2 s without an answer (streammgr may be gone,
 *                 or not reading: then no BYE went);
 *                 then MSB_STOPPED, from then on. Ack or nack what you
 *                 got, then close;
 *   MSB_ERROR     streammgr refused the app ("ERR unknown-instance",
 *                 logged once to stderr; see msb_stream_error()), or
 *                 the connection to it ended (streammgr gone: it is
 *                 not made again; after a stop was asked, that ends
 *                 the stop instead: MSB_STOPPED); from then on.
 */
MSB_API int msb_stream_recv(struct msb_stream *s, struct msb_message *msg,
    int timeout_ms);

/*
 * Up to max messages at once, for bindings where a call per message
 * costs more than the message: waits for the first as msb_stream_recv()
 * does, then takes those already there. Returns MSB_OK with *count (1 to
 * max) messages: ids[i] and lens[i] filled and *data the payloads back
 * to back (valid until the next recv or close); or what
 * msb_stream_recv() returns when there is none (MSB_TEMPFAIL,
 * MSB_STOPPED, MSB_ERROR). Out of memory for a message, it returns
 * those before it (MSB_OK), or MSB_ERROR when there are none; that
 * message comes first from the next recv or recv_batch: none is lost.
 */
MSB_API int msb_stream_recv_batch(struct msb_stream *s, size_t max,
    int timeout_ms, uint64_t *ids, size_t *lens, const void **data,
    size_t *count);

/*
 * Done with message id. Acks are queued and sent as one [ACK][ids] frame
 * when credit/4 of them (at least 1, at most 1024) are queued, and by
 * msb_stream_flush(), by a msb_stream_recv() about to wait, by nack,
 * reject and close. Returns MSB_OK; MSB_TEMPFAIL or MSB_ERROR when the
 * batch could not be sent (streammgr not reading for 2 s): the queued
 * acks and this one stay queued, for the next flush, up to 1024; with
 * 1024 queued already this ack is not queued: ack id again once a
 * flush worked.
 */
MSB_API int msb_stream_ack(struct msb_stream *s, uint64_t id);

/*
 * Gives message id back for another delivery, at once (after the queued
 * acks). reason (may be NULL) is for people. Returns as msb_stream_ack.
 */
MSB_API int msb_stream_nack(struct msb_stream *s, uint64_t id,
    const char *reason);

/*
 * Message id is bad and never will be processed (not JSON, no key...):
 * [REJECT][id][reason] goes out at once and streammgr writes the message
 * to the stream's dead letters with reason. Frees credit like an ack.
 * Returns as msb_stream_ack.
 */
MSB_API int msb_stream_reject(struct msb_stream *s, uint64_t id,
    const char *reason);

/* msb_stream_ack() of n ids; stops at the first failure. */
MSB_API int msb_stream_ack_many(struct msb_stream *s, const uint64_t *ids,
    size_t n);

/*
 * Sends the queued acks, and waits until everything queued for streammgr
 * is written to the socket: at most 2 s for room for the acks, and 2 s
 * more for the rest. Returns as msb_stream_ack.
 */
MSB_API int msb_stream_flush(struct msb_stream *s);

/*
 * Asks to stop, as SIGTERM does (async-signal-safe). Called from another
 * thread or from a handler the signal took on another thread, it is seen
 * when a msb_stream_recv() already waiting next wakes (a message, or its
 * timeout): give recv a timeout then.
 */
MSB_API void msb_stream_stop(struct msb_stream *s);

/* Non-zero when a stop was asked (of s, or by a signal). */
MSB_API int msb_stream_stopping(const struct msb_stream *s);

/* The message of the calling thread's last failure on s, or of the
 * stream's last on any thread where this one had none ("" if none): a
 * copy, taken as another thread may fail meanwhile, valid on the
 * calling thread until its next msb_stream_error() (of any stream). */
MSB_API const char *msb_stream_error(const struct msb_stream *s);

/* Sends the queued acks (waiting at most 2 s for room, as an ack does)
 * and closes, waiting at most 1 s more for them to go out. Accepts
 * NULL. */
MSB_API void msb_stream_close(struct msb_stream *s);

/* ---- producers (producer.c) ---------------------------------------- */

/*
 * A producer sends records to a stream's ingress socket
 * (run/<tenant>/<stream>.in) and gets one reply per record, in order
 * (docs/protocols.md, "Ingress"). Up to `window` records may await their
 * reply; sending does not wait for each one.
 */
struct msb_producer;

enum msb_reply_status {
	MSB_REPLY_OK = 0,	/* stored; will be delivered */
	MSB_REPLY_REJECT = 1,	/* never stored as it is: see reason */
	MSB_REPLY_THROTTLE = 2,	/* not stored (quota, or no reply): resend */
};

/*
 * Called once for every record msb_producer_send() accepted, in send
 * order, from within msb_producer_send/poll/flush. seq is what
 * msb_producer_send() gave. reason is valid during the call:
 *   MSB_REPLY_REJECT: the text after "REJECT ", e.g.
 *       "too-large: 70000 bytes > max_message_size 65536";
 *   MSB_REPLY_THROTTLE: streammgr's reason ("rate: ...", "queue-full:
 *       ...", "no-memory: ...", "no-space: ...", NULL for a bare
 *       THROTTLE), or "no-reply:
 *       ..." when the reply never came (streammgr restarted, or none
 *       within the reply timeout): the record's fate is unknown; either
 *       way, send it again later;
 *   MSB_REPLY_OK: NULL.
 * The callback must not call msb_producer_ functions (they fail, EDEADLK)
 * other than msb_producer_outstanding() and msb_producer_close(): closing
 * there makes it the last callback, and the call that made it closes the
 * producer on its way out and returns MSB_ERROR (errno ECANCELED).
 */
typedef void (*msb_reply_cb)(uint64_t seq, enum msb_reply_status status,
    const char *reason, void *arg);

/*
 * Connects a DEALER (ZMQ_IMMEDIATE) to endpoint. window: records that may
 * await their reply (0: 1000). cb may be NULL. For an ipc:// endpoint
 * the socket file is checked first, so a typo or a stopped streammgr
 * says so at once: "connect ipc:///x/run/acme/default.in: No such file or
 * directory (is streammgr running?)" (MSB_TEMPFAIL), ": Permission
 * denied" (MSB_ERROR). Returns MSB_OK with *pp set, or MSB_TEMPFAIL /
 * MSB_ERROR with the reason in err.
 */
MSB_API int msb_producer_open(struct msb_producer **pp, const char *endpoint,
    uint32_t window, msb_reply_cb cb, void *arg, char *err, size_t errlen);

/*
 * msb_producer_open for a producer on another host: connects over TCP
 * (endpoint "tcp://HOST:PORT", the node's remote.listen) with CurveZMQ,
 * as the tenant's producer whose key pair is in key_file (mode 0600,
 * made by `mysimbdp keygen`), to a node whose public key is server_key
 * (40 characters of Z85, or a file holding it, such as node.key.pub):
 * a node without that key is never talked to. stream is "TENANT/STREAM".
 * Everything else is as msb_producer_open. A key the node does not know
 * fails the first send (MSB_ERROR, "the node refused this producer's
 * key"); a message for a stream of another tenant gets REJECT
 * "forbidden: ...". A THROTTLE "moved: tenant T is served by node N at
 * ADDR key KEY" (the tenant was moved to another node) makes the
 * producer connect there, pinning KEY: what still awaited a reply is
 * written off as THROTTLE "no-reply: the tenant moved to ...", to be
 * sent again like every THROTTLE.
 */
MSB_API int msb_producer_open_remote(struct msb_producer **pp,
    const char *endpoint, const char *stream, const char *key_file,
    const char *server_key, uint32_t window, msb_reply_cb cb, void *arg,
    char *err, size_t errlen);

/*
 * Sends [seq, 8 bytes big-endian][payload], or holds the record for a
 * batch (msb_producer_set_batch()). It first handles the replies
 * that arrived; while the window is full it waits for replies, at most
 * the reply timeout without one (then the outstanding records get their
 * "no-reply" callback). Returns MSB_OK with *seq set (seq may be NULL);
 * MSB_TEMPFAIL when no streammgr took the record or no reply came in
 * time (the record was not sent; see msb_producer_error()); MSB_ERROR.
 */
MSB_API int msb_producer_send(struct msb_producer *p, const void *data,
    size_t len, uint64_t *seq);

/*
 * Batching (docs/protocols.md, "Batches"), on by default: a record sent
 * while none awaits its reply goes out at once, alone; records sent while
 * others await theirs are held and go out together, as one ZeroMQ
 * message, when max_bytes of them (default 65536) or a quarter of the
 * window (at most 1024) are held, when linger_ms (default 1) have passed
 * since the first, when streammgr has answered all before them, and
 * before any wait (a full window, msb_producer_poll(), _flush(),
 * _close()). Each record still gets its own reply. A record held longer
 * than linger_ms waits for the next call of a producer function: an app
 * that sends and then does something else calls msb_producer_poll(p, 0)
 * or _flush(). max_bytes 0 sends every record alone, those held first
 * (protocol 1, for a streammgr older than 0.2; a producer finds that out
 * by itself too);
 * linger_ms < 0 keeps the default.
 */
MSB_API void msb_producer_set_batch(struct msb_producer *p, size_t max_bytes,
    int linger_ms);

/*
 * msb_producer_send() of n records lying back to back at data, lens[i]
 * bytes each, for bindings where a call per record costs more than the
 * record. Their seqs follow one another from *first_seq. Stops at the
 * first that could not be sent: *sent says how many were; returns as
 * msb_producer_send().
 */
MSB_API int msb_producer_send_many(struct msb_producer *p, const void *data,
    const size_t *lens, size_t n, size_t *sent, uint64_t *first_seq);

/*
 * Sends the records held for a batch, handles the replies that arrived;
 * when none had, waits up to timeout_ms (-1: up to the reply timeout)
 * for some. Returns how many callbacks were made (replies, and records
 * written off as "no-reply"; also those made while the send waited; 0 at
 * once when nothing is outstanding), MSB_TEMPFAIL when no streammgr took
 * the held records within the reply timeout or they were written off
 * while their send waited for one (no reply to earlier records in time:
 * all are written off as "no-reply" and the held ones never go out), or
 * MSB_ERROR. A malformed reply from streammgr (refused: MSB_ERROR, errno
 * EPROTO) read after callbacks of this call does not lose their count:
 * it is returned, and the next call of a producer function (send,
 * send_many, poll, flush) returns that MSB_ERROR (EPROTO, with
 * msb_producer_error() saying why) before it does anything.
 */
MSB_API int msb_producer_poll(struct msb_producer *p, int timeout_ms);

/*
 * Waits up to timeout_ms (-1: no limit but the reply timeout) for every
 * outstanding reply. Returns MSB_OK when all came; MSB_TEMPFAIL when some
 * did not come in time, or were written off as "no-reply"; MSB_ERROR.
 */
MSB_API int msb_producer_flush(struct msb_producer *p, int timeout_ms);

/* Records sent and not yet called back. */
MSB_API uint32_t msb_producer_outstanding(const struct msb_producer *p);

/*
 * With quiet set, OK replies are counted but not called back: for a
 * binding where a callback per message costs more than the message, and
 * that only acts on the others. Off by default.
 */
MSB_API void msb_producer_set_quiet_ok(struct msb_producer *p, bool quiet);

/* The replies so far by status: counts[MSB_REPLY_OK], [MSB_REPLY_REJECT],
 * [MSB_REPLY_THROTTLE] (written-off "no-reply" ones among them). */
MSB_API void msb_producer_counts(const struct msb_producer *p,
    uint64_t counts[3]);

/* How long to wait for a reply (default 10000 ms; <= 0: the default). */
MSB_API void msb_producer_set_reply_timeout(struct msb_producer *p,
    int timeout_ms);

/* The message of the last failure ("" if none). */
MSB_API const char *msb_producer_error(const struct msb_producer *p);

/*
 * Closes, waiting at most 1 s for sent records to leave. Replies not yet
 * handled are dropped without a callback: flush first. Accepts NULL.
 * From the reply callback: see msb_reply_cb.
 */
MSB_API void msb_producer_close(struct msb_producer *p);

#ifdef __cplusplus
}
#endif

#endif

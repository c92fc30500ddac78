/*
 * Internals of libmysimbdp, shared by its files and never installed.
 * Internal non-static names start with msb__; the shared library hides
 * them (gnu_symbol_visibility=hidden), only MSB_API names are exported.
 */
#ifndef MYSIMBDP_INTERNAL_H
#define MYSIMBDP_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>

#include "mysimbdp.h"

#define MSB__FMT(a, b) __attribute__((__format__(__printf__, a, b)))

/*
 * Internal, yet seen by libmysimbdp-mongo (mongoload.c), the MongoDB
 * back end loaded on first use, which calls these across the two shared
 * libraries. Not part of the API: the msb__ prefix says so.
 */
#define MSB__SHARED __attribute__((__visibility__("default")))

/* Monotonic milliseconds, for timeouts and intervals. */
static inline int64_t
msb__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Ids on the wire are 8 bytes, big-endian (docs/protocols.md). */
static inline void
msb__put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static inline uint64_t
msb__get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* init.c */
bool	 msb__initialized(void);

/*
 * loadlib.c: opens the library name in the folder of the libmysimbdp
 * this code runs from (for the process's life) and finds its n symbols,
 * syms[i] the address of names[i]; what names it in errors ("the
 * MongoDB back end"). Returns 0, or -1 with err ("cannot load WHAT:
 * ...", or "PATH: not WHAT of libmysimbdp VERSION", every syms[i] then
 * NULL).
 */
int	 msb__load_beside(const char *name, const char *what,
	    const char *const *names, void **syms, size_t n, char *err,
	    size_t errlen);

/* err.c: formatting into the caller's (err, errlen) buffers. */
MSB__SHARED void msb__seterr(char *err, size_t errlen, const char *fmt, ...)
	    MSB__FMT(3, 4);
void	 msb__vseterr(char *err, size_t errlen, const char *fmt, va_list ap)
	    MSB__FMT(3, 0);
/* Appends "; <message>" (or the message when err is empty). */
void	 msb__adderr(char *err, size_t errlen, const char *fmt, ...)
	    MSB__FMT(3, 4);
/*
 * The length of the first len bytes of s less a UTF-8 character they cut
 * short at their end: where text cut at a byte count may end.
 */
MSB__SHARED size_t msb__utf8_cut(const char *s, size_t len);
/* Copies up to 40 bytes of s, escaping what is not printable ASCII. */
const char *msb__quote(const char *s, size_t len, char *buf, size_t buflen);
/* MSB_TEMPFAIL for errno values a later retry may cure, else MSB_ERROR. */
int	 msb__errno_rc(int e);

/* sha256.c: the incremental interface behind msb_sha256_hex. Shared
 * (like docid.c's msb__fd_hash) for `mysimbdp load`, which hashes the
 * bytes it parses as msb_rows does. */
struct msb__sha256 {
	uint32_t	 h[8];
	uint64_t	 nbytes;
	unsigned char	 buf[64];
	size_t		 nbuf;
};
MSB__SHARED void msb__sha256_init(struct msb__sha256 *ctx);
MSB__SHARED void msb__sha256_update(struct msb__sha256 *ctx,
	    const void *data, size_t len);
MSB__SHARED void msb__sha256_final(struct msb__sha256 *ctx,
	    unsigned char out[32]);
MSB__SHARED void msb__hex(const unsigned char *in, size_t len, char *out);
/* With on, the portable code alone, not the CPU's SHA extensions: for
 * the tests, which check that both give the same digests. */
MSB__SHARED void msb__sha256_portable(bool on);
/* docid.c: msb_file_hash of what fd holds from its offset to its end.
 * Returns MSB_OK, or MSB_ERROR (errno). */
MSB__SHARED int msb__fd_hash(int fd, char hex[MSB_HASH_HEX_SIZE]);
/*
 * docid.c: what fstat(2) says of a file that every write to it changes:
 * the size, and the ctime (set by the kernel on each write, truncate or
 * chmod; no user can set it back). Marked before msb__fd_hash, a file
 * found unchanged later was not written to since, so what was read of it
 * up to then is what was hashed (msb_rows, `mysimbdp load`: checked
 * before rows go out, so none of a changed file is stored under the
 * first hash's ids). Returns 0, or -1 with errno.
 */
struct msb__fd_mark {
	ino_t		 fm_ino;
	off_t		 fm_size;
	struct timespec	 fm_ctime;
};
MSB__SHARED int msb__fd_mark(int fd, struct msb__fd_mark *mark);
/* Whether fd's file is as marked (false also when fstat fails). */
MSB__SHARED bool msb__fd_unchanged(int fd, const struct msb__fd_mark *mark);
/*
 * docid.c: the end of the check that a file was read as msb__fd_hash
 * hashed it (msb_rows, `mysimbdp load`): ends ctx, the hash of the bytes
 * as they were read, puts it in read (for the message) and returns
 * whether it is hashed.
 */
MSB__SHARED bool msb__read_as_hashed(struct msb__sha256 *ctx,
	    const char *hashed, char read[MSB_HASH_HEX_SIZE]);
/*
 * csvreader.c: from now on every byte given to csv (msb_csv_feed, and
 * what msb_csv_read_fd reads) is also added to ctx, on the thread that
 * parses it: the hash of exactly what was parsed, without a second
 * read. ctx must outlive the reading, and is whole once msb_csv_read_fd
 * has returned MSB_OK (or msb_csv_finish has been called).
 */
MSB__SHARED void msb__csv_hash_into(struct msb_csv *csv,
	    struct msb__sha256 *ctx);

/*
 * value.c: a text value converted to its type, or null (empty, not
 * required); v_text points into the text given.
 */
struct msb__typed {
	bool		 v_null;
	const char	*v_text;	/* MSB_TYPE_STRING, trimmed */
	size_t		 v_len;
	int64_t		 v_int;		/* MSB_TYPE_INT; DATE: ms since 1970 */
	double		 v_double;
	bool		 v_bool;
};
int	 msb__value_convert(enum msb_type type, unsigned flags,
	    const char *text, size_t len, struct msb__typed *v, char *err,
	    size_t errlen);

/*
 * doccheck.c: what is wrong with the document of len bytes at data, as
 * msb_sink_add refuses it ("corrupt BSON", a bad key, a string not UTF-8,
 * nesting over 100), or NULL.
 */
const char *msb__doc_problem(const uint8_t *data, size_t len);
/* doccheck.c: len bytes at s are UTF-8 without NUL (bson_utf8_validate's
 * answer, ASCII eight bytes at a time). */
bool	 msb__utf8_valid(const char *s, size_t len);
/*
 * docbuild.c: whether the builder's document passed, as it was built,
 * every check msb__doc_problem makes, so the sink need not walk it.
 */
bool	 msb__docbuild_checked(const struct msb_docbuild *b);
/* The bytes msb_docbuild_bson's view shows, for the sink to write an
 * id's hash into (msb_sink_hash_input). */
uint8_t	*msb__docbuild_bytes(struct msb_docbuild *b);

/*
 * Why a write concern of w=0 (unacknowledged) is refused, at open (the
 * URL's) and by msb_sink_set_write_concern: the server's reply would
 * carry no counts and no errors.
 */
#define MSB__W0_WHY "unacknowledged writes are not supported (the server " \
	"would not say what it stored or refused): use w=1 or more, or " \
	"majority"

/*
 * docid.c: an id made with MSB_HASH_LATER holds the process's own mark
 * where the hash's 24 hex digits go, until the sink writes them in
 * (msb__id_patch): 24 letters G-Z drawn at random once (getrandom), so
 * no hash holds it and no data can (a fixed mark, 24 '?', could come in
 * a JSON line's or a CSV column's _id, and was then taken for one: the
 * sink failed, or gave the row another row's id). In a document whose
 * first element is its string _id, the id's text starts at byte
 * MSB__ID_AT (length, type, "_id" and NUL, the string's length).
 */
#define MSB__ID_AT 13
#define MSB__ID_HEAD (MSB__ID_AT + 25)	/* to the ':' after the hash */
/* Whether len bytes at s (an _id's string) wait for the hash. */
bool msb__id_later(const char *s, size_t len);
/* Whether a document whose first len bytes (at least MSB__ID_HEAD of a
 * document the sink took) are at doc starts with an _id that waits. */
bool msb__first_id_later(const uint8_t *doc, size_t len);
/* Writes the hash's first 24 hex digits over the mark at id. */
void msb__id_patch(char *id, const char *content_hash);

/*
 * hashjob.c: a file's SHA-256 on a thread of its own, for
 * msb_sink_hash_input. start dups fd (0, or -1 with errno); done says
 * without waiting whether wait would return at once; wait returns 0 with
 * the hash, or -1 with the read's errno; free stops the reads if they
 * are still going (accepts NULL).
 */
struct msb__hashjob;
int msb__hashjob_start(struct msb__hashjob **jobp, int fd);
bool msb__hashjob_done(const struct msb__hashjob *job);
int msb__hashjob_wait(struct msb__hashjob *job, char hex[MSB_HASH_HEX_SIZE]);
void msb__hashjob_free(struct msb__hashjob *job);
/* For tests: while on, jobs started wait before they read a byte. */
MSB__SHARED void msb__hashjob_hold(bool on);

/* sink.c: the back ends implement these; sink.c does the common part. */
struct msb_sink;
typedef int msb__before_send_fn(void *arg, char *why, size_t whylen);
struct msb__sink_ops {
	const char *name;
	int	(*add)(struct msb_sink *, const bson_t *);
	/* doc is checked and has an _id; name is msb__sink_id_name's. */
	int	(*upsert)(struct msb_sink *, const bson_t *, const char *name);
	int	(*commit)(struct msb_sink *, const char *);
	/*
	 * add_later: add of a document whose first element is an _id that
	 * waits for the input's hash, kept where hash_known will write it
	 * in; hash_known is called once, with the hash, before the commit.
	 * NULL: the sink waits for the hash before such an add instead.
	 */
	int	(*add_later)(struct msb_sink *, const bson_t *);
	int	(*hash_known)(struct msb_sink *, const char *hash);
	int	(*set_write_concern)(struct msb_sink *, int, bool, int32_t);
	void	(*close)(struct msb_sink *);
};

/* A set of names (open addressing; walk n_slots, skipping NULLs). */
struct msb__names {
	char	**n_slots;
	size_t	  n_cap;	/* 0 or a power of two */
	size_t	  n_count;
};

struct msb_sink {
	const struct msb__sink_ops *s_ops;
	void		*s_impl;	/* the back end's state */
	struct msb_sink_stats s_stats;
	size_t		 s_batch;	/* documents per bulk write */
	int		 s_failed;	/* sticky TEMPFAIL/ERROR, or 0 */
	char		 s_err[512];
	char		 s_store_err[512];	/* the store's first reject */
	char		 s_outcome[96];	/* msb_sink_outcome() */
	msb_reject_fn	*s_on_reject;	/* msb_sink_on_reject() */
	void		*s_on_reject_arg;
	struct msb__quality *s_quality;	/* MYSIMBDP_QUALITY's rules, or NULL */
	struct msb__names s_keys;	/* the unit keys committed */
	msb__before_send_fn *s_before_send;	/* msb__sink_before_send() */
	void		*s_before_send_arg;
	struct msb__hashjob *s_hashjob;	/* msb_sink_hash_input's, or NULL */
	char		 s_hash[MSB_HASH_HEX_SIZE];	/* its hash; "" until known */
	bool		 s_later;	/* the back end holds ids to write it in */
};

/*
 * sink.c: fn(arg, why, whylen) is called before each batch the MongoDB
 * back end sends (every s_batch documents or 16 MiB, the rest at the
 * commit); the file store, which shows nothing before its commit, does
 * not call it. A return of MSB_TEMPFAIL or MSB_ERROR stops it: that
 * batch is not sent, and the sink fails with that return and the
 * message fn wrote to why, as a failed send does. fn NULL: no check.
 * For `mysimbdp load`, whose rows' ids are of the file as hashed: a
 * batch read from a file changed since must not reach the store.
 */
MSB__SHARED void msb__sink_before_send(struct msb_sink *sink,
	    msb__before_send_fn *fn, void *arg);
/* For the back ends, before a send: MSB_OK, or the hook's failure,
 * recorded on the sink (msb__sink_fail). */
MSB__SHARED int msb__sink_sending(struct msb_sink *sink);

/* ---- quality rules (quality.c) ---- */

struct msb__quality;

/* The rules of MYSIMBDP_QUALITY (*qp NULL when there are none). Returns
 * MSB_OK, or MSB_ERROR/MSB_TEMPFAIL with err. */
int msb__quality_from_env(struct msb__quality **qp, char *err,
    size_t errlen);
/* Whether this is a first pass that stores nothing (MYSIMBDP_QUALITY_PASS). */
bool msb__quality_validating(const struct msb__quality *q);
/* Checks and counts doc: MSB_OK, or MSB_BADDOC with "quality: RULE: ..."
 * in why (the document is kept in the rejects file), or MSB_TEMPFAIL. */
int msb__quality_check(struct msb__quality *q, const bson_t *doc, char *why,
    size_t whylen);
/* A unit ended: unique values start afresh. Accepts NULL. */
void msb__quality_unit_end(struct msb__quality *q);
/* Appends "quality": {pass, checked, rejected, rules: {name: n}}. */
void msb__quality_append(const struct msb__quality *q, bson_t *to);
void msb__quality_free(struct msb__quality *q);

/* metrics.c: one refusal for a quality rule, in the next report of the
 * process's reporting handle (if any). */
void msb__metrics_quality(const char *rule);

/* Records a failure message on the sink and returns rc. */
MSB__SHARED int msb__sink_fail(struct msb_sink *sink, int rc,
	    const char *fmt, ...) MSB__FMT(3, 4);

/*
 * The characters file names of the store hold as they are (unit keys,
 * string _ids), and the longest such key kept as it is.
 */
extern const char msb__sink_plain[];
#define MSB__PLAIN_MAX 160

/*
 * The name of an upserted document's _id: its file name in the file
 * store, and the key both back ends use to find an _id repeated within a
 * unit. Equal _ids (as MongoDB matches them: 1, NumberLong(1) and 1.0
 * alike) give the same name, different ones different names:
 *   i=<decimal>.bson   int32, int64, a double with an integer value
 *   s=<string>.bson    1 to 160 characters of [A-Za-z0-9._:-]
 *   o=<24 hex>.bson    an ObjectId
 *   h=<64 hex>.bson    anything else: SHA-256 of its type and value
 * Unit files never hold a '=', so the two kinds of names never meet.
 */
#define MSB__ID_NAME_SIZE 176
MSB__SHARED void msb__sink_id_name(const bson_iter_t *id,
	    char name[MSB__ID_NAME_SIZE]);

/* Returns 1 when added, 0 when it was there, -1 when out of memory. */
MSB__SHARED int msb__names_add(struct msb__names *set, const char *name);
MSB__SHARED bool msb__names_has(const struct msb__names *set,
	    const char *name);
/* Empties the set; msb__names_free also releases its memory. */
MSB__SHARED void msb__names_clear(struct msb__names *set);
MSB__SHARED void msb__names_free(struct msb__names *set);

/*
 * sink_mongo.c, the MongoDB back end: in libmysimbdp-mongo.so (shared
 * build) or linked in (static build, MSB_MONGO_LINKED). mongoload.c
 * finds these four and is what the rest of the library calls.
 */
MSB__SHARED int msb__sink_mongo_open(struct msb_sink *sink, const char *url,
	    const char *db, const char *collection, char *err, size_t errlen);
MSB__SHARED void msb__mongo_init(void);	/* mongoc_init() */
MSB__SHARED void msb__mongo_cleanup(void);	/* mongoc_cleanup() */
/* Calls fn on every document of db.collection; see msb__mongo_find_all. */
MSB__SHARED int msb__mongo_each(const char *url, const char *db,
	    const char *collection, void (*fn)(void *, const bson_t *),
	    void *arg, char *err, size_t errlen);

/* mongoload.c: msb__sink_mongo_open(), the back end loaded if need be. */
int	 msb__mongo_open(struct msb_sink *sink, const char *url,
	    const char *db, const char *collection, char *err, size_t errlen);
/*
 * Calls fn(arg, doc) on every document of db.collection on the server
 * of url, through the back end (loaded if need be): for the platform's
 * own programs (`mysimbdp stats --mongo`), which then load libmongoc's
 * tree of libraries only when they read MongoDB. MSB_OK, or an error
 * code with the reason in err (libmongoc's messages name hosts, never
 * passwords).
 */
MSB__SHARED int msb__mongo_find_all(const char *url, const char *db,
	    const char *collection, void (*fn)(void *, const bson_t *),
	    void *arg, char *err, size_t errlen);
/* mongoc_cleanup() if the back end was loaded and set up. */
void	 msb__mongo_unload(void);
int	 msb__sink_file_open(struct msb_sink *sink, const char *dir,
	    const char *db, const char *collection, char *err, size_t errlen);

/* Writes all len bytes (retrying short writes and EINTR). Returns 0 or -1
 * with errno set. */
int msb__write_all(int fd, const void *buf, size_t len);

/* stream.c: what one message from streammgr on the work socket is. */
enum msb__work_kind { MSB__DELIVERY, MSB__BATCH, MSB__BYE, MSB__ERR,
	MSB__MALFORMED };

/*
 * Classifies a message of nframes frames (3 stands for more than two)
 * whose first frame is the len bytes at head. Pure, for read_one and the
 * fuzz target. MSB__DELIVERY sets *id; MSB__BATCH is [""][deliveries]
 * (protocol 2, docs/protocols.md "Batches"); MSB__MALFORMED says why in what
 * (the head quoted, printable ASCII).
 */
enum msb__work_kind msb__work_classify(const void *head, size_t len,
    int nframes, uint64_t *id, char *what, size_t whatlen);

#endif

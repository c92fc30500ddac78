/*
 * The sink: one interface over two back ends, chosen by the URL scheme.
 * This file holds what both share (names, document checks, the names of
 * upserted _ids, the sticky error state), so a document is accepted or
 * refused, and an upsert matches, the same way whichever store it goes
 * to. sink_mongo.c and sink_file.c do the rest.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysimbdp-internal.h"

/* MongoDB refuses documents larger than this; the file store does too. */
#define MAX_DOC (16 * 1024 * 1024)
/* The ObjectId _id given to an added document that has none: its type
 * byte, "_id" and NUL, 12 bytes. */
#define OID_ID_SIZE (1 + 4 + 12)

static bool
has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool
valid_db(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 63 && strpbrk(s, "/\\. \"$*<>:|?") == NULL;
}

/*
 * Collection names become folder names in the file store, so besides
 * MongoDB's rules they may not start with '.' (no "..", no hidden names).
 */
static bool
valid_collection(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 120 && s[0] != '.' && strpbrk(s, "/\\$") ==
	    NULL && !has_prefix(s, "system.") && bson_utf8_validate(s, n,
	    false);
}

const char msb__sink_plain[] = "abcdefghijklmnopqrstuvwxyz"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-";

void
msb__sink_id_name(const bson_iter_t *id, char name[MSB__ID_NAME_SIZE])
{
	char hex[MSB_HASH_HEX_SIZE], oid[25];
	bson_t one = BSON_INITIALIZER;
	const char *s;
	uint32_t len;
	double d;

	switch (bson_iter_type(id)) {
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64:
		snprintf(name, MSB__ID_NAME_SIZE, "i=%" PRId64 ".bson",
		    bson_iter_as_int64(id));
		return;
	case BSON_TYPE_DOUBLE:
		/* 2^63 itself does not fit an int64: the bound is strict. */
		d = bson_iter_double(id);
		if (d == trunc(d) && d >= -0x1p63 && d < 0x1p63) {
			snprintf(name, MSB__ID_NAME_SIZE, "i=%" PRId64 ".bson",
			    (int64_t)d);
			return;
		}
		break;
	case BSON_TYPE_UTF8:
		s = bson_iter_utf8(id, &len);
		if (len > 0 && len <= MSB__PLAIN_MAX &&
		    strspn(s, msb__sink_plain) == len) {
			snprintf(name, MSB__ID_NAME_SIZE, "s=%s.bson", s);
			return;
		}
		break;
	case BSON_TYPE_OID:
		bson_oid_to_string(bson_iter_oid(id), oid);
		snprintf(name, MSB__ID_NAME_SIZE, "o=%s.bson", oid);
		return;
	default:
		break;
	}
	/* {"": value} holds the type byte and the value's encoding. */
	bson_append_iter(&one, "", 0, id);
	msb_sha256_hex(bson_get_data(&one), one.len, hex);
	bson_destroy(&one);
	snprintf(name, MSB__ID_NAME_SIZE, "h=%s.bson", hex);
}

/* FNV-1a: names are short and already well mixed by their content. */
static size_t
name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (size_t)h;
}

/* The slot that holds name, or the empty slot where it would go. */
static size_t
names_slot(const struct msb__names *set, const char *name)
{
	size_t i = name_hash(name) & (set->n_cap - 1);

	while (set->n_slots[i] != NULL && strcmp(set->n_slots[i], name) != 0)
		i = (i + 1) & (set->n_cap - 1);
	return i;
}

bool
msb__names_has(const struct msb__names *set, const char *name)
{
	return set->n_count > 0 && set->n_slots[names_slot(set, name)] != NULL;
}

/* Doubles the table (or makes the first one) and moves every name. */
static int
names_grow(struct msb__names *set)
{
	struct msb__names bigger = { .n_cap = set->n_cap ? set->n_cap * 2 :
	    64, .n_count = set->n_count };

	if ((bigger.n_slots = calloc(bigger.n_cap, sizeof(char *))) == NULL)
		return -1;
	for (size_t i = 0; i < set->n_cap; i++)
		if (set->n_slots[i] != NULL)
			bigger.n_slots[names_slot(&bigger, set->n_slots[i])] =
			    set->n_slots[i];
	free(set->n_slots);
	*set = bigger;
	return 0;
}

int
msb__names_add(struct msb__names *set, const char *name)
{
	size_t i;

	/* At most half full, so probes stay short. */
	if ((set->n_count + 1) * 2 > set->n_cap && names_grow(set) == -1)
		return -1;
	i = names_slot(set, name);
	if (set->n_slots[i] != NULL)
		return 0;
	if ((set->n_slots[i] = strdup(name)) == NULL)
		return -1;
	set->n_count++;
	return 1;
}

static void
names_release(struct msb__names *set)
{
	free(set->n_slots);
	set->n_slots = NULL;
	set->n_cap = 0;
}

void
msb__names_clear(struct msb__names *set)
{
	if (set->n_count == 0)
		return;
	for (size_t i = 0; i < set->n_cap; i++) {
		free(set->n_slots[i]);
		set->n_slots[i] = NULL;
	}
	set->n_count = 0;
	/* One huge unit should not make every later clear walk its table. */
	if (set->n_cap > 4096)
		names_release(set);
}

void
msb__names_free(struct msb__names *set)
{
	msb__names_clear(set);
	names_release(set);
}

int
msb__sink_fail(struct msb_sink *sink, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msb__vseterr(sink->s_err, sizeof(sink->s_err), fmt, ap);
	va_end(ap);
	return rc;
}

/* A first pass (MYSIMBDP_QUALITY_PASS=validate): rules checked, nothing
 * stored. */
static int
validate_add(struct msb_sink *sink, const bson_t *doc)
{
	return MSB_OK;
}

static int
validate_upsert(struct msb_sink *sink, const bson_t *doc, const char *name)
{
	return MSB_OK;
}

static int
validate_commit(struct msb_sink *sink, const char *unit_key)
{
	return MSB_OK;
}

static void
validate_close(struct msb_sink *sink)
{
}

static const struct msb__sink_ops validate_ops = {
	.name = "validate",
	.add = validate_add,
	.upsert = validate_upsert,
	.commit = validate_commit,
	.close = validate_close,
};

/* The back end url names, or none for a first pass. */
static int
open_back_end(struct msb_sink *sink, const char *url, const char *db,
    const char *collection, char *err, size_t errlen)
{
	if (msb__quality_validating(sink->s_quality)) {
		sink->s_ops = &validate_ops;
		return MSB_OK;
	}
	if (has_prefix(url, "mongodb://") || has_prefix(url, "mongodb+srv://"))
		return msb__mongo_open(sink, url, db, collection, err, errlen);
	if (has_prefix(url, "file://") && url[strlen("file://")] != '\0')
		return msb__sink_file_open(sink, url + strlen("file://"), db,
		    collection, err, errlen);
	msb__seterr(err, errlen, "MONGO_URL: must start with mongodb:// or "
	    "file://DIR");
	return MSB_ERROR;
}

int
msb_sink_open(struct msb_sink **sinkp, const char *url, const char *db,
    const char *collection, char *err, size_t errlen)
{
	struct msb_sink *sink;
	int rc;

	*sinkp = NULL;
	if (!msb__initialized()) {
		msb__seterr(err, errlen, "msb_init() was not called");
		return MSB_ERROR;
	}
	if (url == NULL || db == NULL || collection == NULL) {
		msb__seterr(err, errlen, "sink: url, db and collection are "
		    "required");
		return MSB_ERROR;
	}
	if (!valid_db(db)) {
		msb__seterr(err, errlen, "sink: bad database name (1 to 63 "
		    "characters without /\\. \"$*<>:|?)");
		return MSB_ERROR;
	}
	if (!valid_collection(collection)) {
		msb__seterr(err, errlen, "sink: bad collection name (1 to 120 "
		    "characters without / \\ $, not starting with '.' or "
		    "\"system.\")");
		return MSB_ERROR;
	}
	if ((sink = calloc(1, sizeof(*sink))) == NULL) {
		msb__seterr(err, errlen, "sink: out of memory");
		return MSB_TEMPFAIL;
	}
	sink->s_batch = 1000;
	/* The platform's rules apply to every sink of the app. */
	rc = msb__quality_from_env(&sink->s_quality, err, errlen);
	if (rc == MSB_OK)
		rc = open_back_end(sink, url, db, collection, err, errlen);
	if (rc != MSB_OK) {
		msb__quality_free(sink->s_quality);
		free(sink);
		return rc;
	}
	*sinkp = sink;
	return MSB_OK;
}

int
msb_sink_open_env(struct msb_sink **sinkp, const struct msb_env *env,
    const char *collection, char *err, size_t errlen)
{
	return msb_sink_open(sinkp, env->mongo_url, env->mongo_db, collection,
	    err, errlen);
}

int
msb_sink_set_write_concern(struct msb_sink *sink, int w, bool journal,
    int32_t wtimeout_ms)
{
	if (w < MSB_W_MAJORITY || w == -1 || wtimeout_ms < 0)
		return msb__sink_fail(sink, MSB_ERROR, "write concern: bad "
		    "value");
	/* Refused by every sink: an app tried on file:// meets it too. */
	if (w == 0)
		return msb__sink_fail(sink, MSB_ERROR, "write concern: w=0: %s",
		    MSB__W0_WHY);
	if (sink->s_ops->set_write_concern == NULL)
		return MSB_OK;
	return sink->s_ops->set_write_concern(sink, w, journal, wtimeout_ms);
}

int
msb_sink_set_batch_size(struct msb_sink *sink, size_t ndocs)
{
	if (ndocs == 0 || ndocs > 100000)
		return msb__sink_fail(sink, MSB_ERROR, "batch size: must be "
		    "1 to 100000");
	sink->s_batch = ndocs;
	return MSB_OK;
}

/*
 * The checks of msb_sink_add and msb_sink_upsert, the same for both back
 * ends, then the platform's quality rules; adding: an _id is given to a
 * document without one, so its size is what is checked. Returns MSB_OK,
 * or MSB_BADDOC with the reason on the sink (MSB_TEMPFAIL: no memory for
 * the rules).
 */
static int
check_doc(struct msb_sink *sink, const bson_t *doc, bool walk, bool adding)
{
	char rule[256];
	const char *why;
	bson_iter_t it;
	bool has_id;
	int rc;

	if (doc->len > MAX_DOC)
		return msb__sink_fail(sink, MSB_BADDOC, "document refused: "
		    "%u bytes, the limit is 16 MiB", doc->len);
	if (walk && (why = msb__doc_problem(bson_get_data(doc), doc->len)) !=
	    NULL)
		return msb__sink_fail(sink, MSB_BADDOC, "document refused: %s",
		    why);
	/* MongoDB refuses these as _id (and the file store follows it). */
	has_id = bson_iter_init_find(&it, doc, "_id");
	if (has_id && (BSON_ITER_HOLDS_ARRAY(&it) ||
	    BSON_ITER_HOLDS_REGEX(&it) || bson_iter_type(&it) ==
	    BSON_TYPE_UNDEFINED))
		return msb__sink_fail(sink, MSB_BADDOC, "document refused: "
		    "the _id is an array, a regex or undefined");
	/* What is stored, and what MongoDB checks, is the document with
	 * its _id: the file store once wrote one 17 bytes over the limit. */
	if (adding && !has_id && doc->len > MAX_DOC - OID_ID_SIZE)
		return msb__sink_fail(sink, MSB_BADDOC, "document refused: "
		    "%u bytes with the ObjectId _id it would be given (%d "
		    "bytes), the limit is 16 MiB", doc->len + OID_ID_SIZE,
		    OID_ID_SIZE);
	if (sink->s_quality != NULL && (rc = msb__quality_check(
	    sink->s_quality, doc, rule, sizeof(rule))) != MSB_OK)
		return msb__sink_fail(sink, rc, "%s", rule);
	return MSB_OK;
}

void
msb__sink_before_send(struct msb_sink *sink, msb__before_send_fn *fn,
    void *arg)
{
	sink->s_before_send = fn;
	sink->s_before_send_arg = arg;
}

int
msb__sink_sending(struct msb_sink *sink)
{
	char why[sizeof(sink->s_err)];
	int rc;

	if (sink->s_before_send == NULL)
		return MSB_OK;
	why[0] = '\0';
	if ((rc = sink->s_before_send(sink->s_before_send_arg, why,
	    sizeof(why))) != MSB_OK)
		return msb__sink_fail(sink, rc, "%s", why);
	return MSB_OK;
}

/* Counts what a back end accepted; a failure other than one refused
 * document sticks. */
static int
added(struct msb_sink *sink, int rc)
{
	if (rc == MSB_OK)
		sink->s_stats.added++;
	else if (rc != MSB_BADDOC)
		sink->s_failed = rc;
	return rc;
}

/*
 * Learns the input's hash (msb_sink_hash_input) if the job has it, or
 * with wait, waits for it; once known, the ids the back end keeps get it.
 * Returns MSB_OK (known, or not yet without wait), or the sink's failure.
 */
static int
learn_hash(struct msb_sink *sink, bool wait)
{
	int e, rc;

	if (sink->s_hash[0] != '\0' || sink->s_hashjob == NULL)
		return MSB_OK;
	if (!wait && !msb__hashjob_done(sink->s_hashjob))
		return MSB_OK;
	if (msb__hashjob_wait(sink->s_hashjob, sink->s_hash) == -1) {
		e = errno;
		sink->s_failed = msb__errno_rc(e);
		return msb__sink_fail(sink, sink->s_failed, "the input's "
		    "content hash: read: %s", strerror(e));
	}
	if (sink->s_later && !sink->s_failed) {
		sink->s_later = false;
		if ((rc = sink->s_ops->hash_known(sink, sink->s_hash)) !=
		    MSB_OK)
			return sink->s_failed = rc;
	}
	return MSB_OK;
}

/* The _id's text when it waits for the input's hash (MSB_HASH_LATER). */
static const char *
later_id(const bson_t *doc)
{
	bson_iter_t it;
	const char *s;
	uint32_t len;

	if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it))
		return NULL;
	s = bson_iter_utf8(&it, &len);
	return msb__id_later(s, len) ? s : NULL;
}

/*
 * fn (add or upsert) of doc, whose _id's text at id waits for the input's
 * hash, once the hash is in it: written into own (the document's bytes,
 * when the caller lets the sink write there) or into a copy.
 */
static int
with_hash(struct msb_sink *sink, const bson_t *doc, uint8_t *own,
    const char *id, int (*fn)(struct msb_sink *, const bson_t *))
{
	size_t at = (size_t)((const uint8_t *)id - bson_get_data(doc));
	uint8_t *copy;
	bson_t patched;
	int rc;

	if (sink->s_hashjob == NULL)
		return added(sink, msb__sink_fail(sink, MSB_ERROR, "document "
		    "refused: its _id was made with MSB_HASH_LATER and the "
		    "sink hashes no input (msb_sink_hash_input)"));
	if ((rc = learn_hash(sink, true)) != MSB_OK)
		return rc;
	if (own != NULL) {
		msb__id_patch((char *)own + at, sink->s_hash);
		return fn(sink, doc);
	}
	if ((copy = malloc(doc->len)) == NULL)
		return added(sink, msb__sink_fail(sink, MSB_TEMPFAIL, "out of "
		    "memory"));
	memcpy(copy, bson_get_data(doc), doc->len);
	msb__id_patch((char *)copy + at, sink->s_hash);
	bson_init_static(&patched, copy, doc->len);
	rc = fn(sink, &patched);
	free(copy);
	return rc;
}

/* msb_sink_add of a document that has its _id, or is given one. */
static int
add_checked(struct msb_sink *sink, const bson_t *doc)
{
	bson_iter_t it;
	int rc;

	if (bson_iter_init_find(&it, doc, "_id"))
		rc = sink->s_ops->add(sink, doc);
	else {
		/* As libmongoc does on insert: an ObjectId first. */
		bson_t with_id = BSON_INITIALIZER;
		bson_oid_t oid;

		bson_oid_init(&oid, NULL);
		BSON_APPEND_OID(&with_id, "_id", &oid);
		if (!bson_concat(&with_id, doc)) {
			bson_destroy(&with_id);
			return msb__sink_fail(sink, MSB_BADDOC, "document "
			    "refused: too large with an _id");
		}
		rc = sink->s_ops->add(sink, &with_id);
		bson_destroy(&with_id);
	}
	return added(sink, rc);
}

/* add() once the document's id is whole: the checks, then the store. */
static int
add_whole(struct msb_sink *sink, const bson_t *doc, bool walk)
{
	int rc;

	if ((rc = check_doc(sink, doc, walk, true)) != MSB_OK)
		return rc;
	return add_checked(sink, doc);
}

static int
add_walked(struct msb_sink *sink, const bson_t *doc)
{
	return add_whole(sink, doc, true);
}

static int
add_unwalked(struct msb_sink *sink, const bson_t *doc)
{
	return add_whole(sink, doc, false);
}

/*
 * msb_sink_add; walk: false when the document's bytes are known good;
 * own: its bytes when the sink may write into them (a builder's), or
 * NULL. A document whose _id waits for the input's hash goes to a back
 * end that keeps it to write the hash in later (add_later) while the
 * hash is not known and nothing must look at the id first (quality
 * rules); otherwise it is added once the hash is in it.
 */
static int
add(struct msb_sink *sink, const bson_t *doc, bool walk, uint8_t *own)
{
	const char *id;
	int rc;

	if (sink->s_failed)
		return sink->s_failed;
	if ((id = later_id(doc)) == NULL)
		return add_whole(sink, doc, walk);
	if (sink->s_hashjob != NULL && (rc = learn_hash(sink, false)) !=
	    MSB_OK)
		return rc;
	if (sink->s_hashjob != NULL && sink->s_hash[0] == '\0' &&
	    sink->s_ops->add_later != NULL && sink->s_quality == NULL &&
	    msb__first_id_later(bson_get_data(doc), doc->len)) {
		if ((rc = check_doc(sink, doc, walk, true)) != MSB_OK)
			return rc;
		if ((rc = sink->s_ops->add_later(sink, doc)) == MSB_OK)
			sink->s_later = true;
		return added(sink, rc);
	}
	return with_hash(sink, doc, own, id, walk ? add_walked : add_unwalked);
}

int
msb_sink_add(struct msb_sink *sink, const bson_t *doc)
{
	return add(sink, doc, true, NULL);
}

int
msb_sink_add_docbuild(struct msb_sink *sink, struct msb_docbuild *b)
{
	bson_t doc;
	int rc;

	if (sink->s_failed)
		return sink->s_failed;
	/* The builder's own failure: this document's, not the sink's. */
	if ((rc = msb_docbuild_bson(b, &doc)) != MSB_OK)
		return msb__sink_fail(sink, rc == MSB_TEMPFAIL ? rc :
		    MSB_BADDOC, "document refused: %s", msb_docbuild_error(b));
	return add(sink, &doc, !msb__docbuild_checked(b),
	    msb__docbuild_bytes(b));
}

/* msb_sink_upsert of a document whose _id is whole. */
static int
upsert_whole(struct msb_sink *sink, const bson_t *doc)
{
	char name[MSB__ID_NAME_SIZE];
	bson_iter_t it;
	int rc;

	if ((rc = check_doc(sink, doc, true, false)) != MSB_OK)
		return rc;
	/* An ObjectId made up here would match nothing: no upsert. */
	if (!bson_iter_init_find(&it, doc, "_id"))
		return msb__sink_fail(sink, MSB_BADDOC, "document refused: an "
		    "upsert needs an _id");
	msb__sink_id_name(&it, name);
	return added(sink, sink->s_ops->upsert(sink, doc, name));
}

int
msb_sink_upsert(struct msb_sink *sink, const bson_t *doc)
{
	const char *id;

	if (sink->s_failed)
		return sink->s_failed;
	/* Its _id names what it replaces: the hash must be in it first. */
	if ((id = later_id(doc)) != NULL)
		return with_hash(sink, doc, NULL, id, upsert_whole);
	return upsert_whole(sink, doc);
}

int
msb_sink_hash_input(struct msb_sink *sink, int fd)
{
	int e;

	if (sink->s_failed)
		return sink->s_failed;
	if (sink->s_hashjob != NULL)
		return msb__sink_fail(sink, MSB_ERROR, "hash input: a sink "
		    "hashes one input, and this one has its input already");
	if (msb__hashjob_start(&sink->s_hashjob, fd) == -1) {
		e = errno;
		return msb__sink_fail(sink, e == EBADF ? MSB_ERROR :
		    MSB_TEMPFAIL, "hash input: %s", strerror(e));
	}
	return MSB_OK;
}

int
msb_sink_input_hash(struct msb_sink *sink, char hex[MSB_HASH_HEX_SIZE])
{
	int rc;

	if (sink->s_hashjob == NULL)
		return msb__sink_fail(sink, MSB_ERROR, "input hash: the sink "
		    "hashes no input (msb_sink_hash_input)");
	if ((rc = learn_hash(sink, true)) != MSB_OK)
		return rc;
	memcpy(hex, sink->s_hash, MSB_HASH_HEX_SIZE);
	return MSB_OK;
}

int
msb_sink_commit(struct msb_sink *sink, const char *unit_key)
{
	int rc;

	if (sink->s_failed)
		return sink->s_failed;
	/* The ids the back end keeps get the hash before anything shows. */
	if (sink->s_later && (rc = learn_hash(sink, true)) != MSB_OK)
		return rc;
	/*
	 * A key names one whole unit of work. The file store keeps a unit
	 * in the key's file, so a second unit of the key would replace the
	 * first one's documents (counted stored); refused by every sink, so
	 * an app behaves the same on both stores. (A failed commit fails
	 * the sink: noting the key first loses nothing.)
	 */
	if (unit_key != NULL && (rc = msb__names_add(&sink->s_keys,
	    unit_key)) != 1) {
		size_t n = strlen(unit_key);

		if (n > 80)
			n = msb__utf8_cut(unit_key, 80);

		sink->s_failed = rc == 0 ? MSB_ERROR : MSB_TEMPFAIL;
		if (rc == -1)
			return msb__sink_fail(sink, MSB_TEMPFAIL, "commit: out "
			    "of memory");
		return msb__sink_fail(sink, MSB_ERROR, "commit: unit key "
		    "\"%.*s%s\" was committed already by this sink: a key "
		    "names one whole unit of work (an input file), committed "
		    "once; commit parts with NULL or with keys of their own",
		    (int)n, unit_key, unit_key[n] != '\0' ? "..." : "");
	}
	rc = sink->s_ops->commit(sink, unit_key);
	msb__quality_unit_end(sink->s_quality);
	if (rc == MSB_OK)
		sink->s_stats.units++;
	else
		sink->s_failed = rc;
	return rc;
}

void
msb_sink_on_reject(struct msb_sink *sink, msb_reject_fn *fn, void *arg)
{
	sink->s_on_reject = fn;
	sink->s_on_reject_arg = arg;
}

bool
msb_sink_all_rejected(const struct msb_sink *sink)
{
	const struct msb_sink_stats *st = &sink->s_stats;

	return st->rejected > 0 && st->inserted + st->already_present == 0;
}

const char *
msb_sink_outcome(struct msb_sink *sink)
{
	const struct msb_sink_stats *st = &sink->s_stats;

	snprintf(sink->s_outcome, sizeof(sink->s_outcome), "%" PRIu64
	    " inserted, %" PRIu64 " already present, %" PRIu64 " rejected",
	    st->inserted, st->already_present, st->rejected);
	return sink->s_outcome;
}

const char *
msb_sink_error(const struct msb_sink *sink)
{
	return sink->s_err;
}

const char *
msb_sink_kind(const struct msb_sink *sink)
{
	return sink->s_ops->name;
}

void
msb_sink_stats(const struct msb_sink *sink, struct msb_sink_stats *stats)
{
	*stats = sink->s_stats;
}

void
msb_sink_close(struct msb_sink *sink)
{
	if (sink == NULL)
		return;
	msb__hashjob_free(sink->s_hashjob);
	sink->s_ops->close(sink);
	msb__names_free(&sink->s_keys);
	msb__quality_free(sink->s_quality);
	free(sink);
}

/*
 * Wraps len bytes of BSON without copying; false unless they hold their
 * own length and end in NUL. What is inside is check_doc's to refuse (its
 * walk accepts nothing bson_validate refuses), once, for add and upsert.
 */
static bool
static_doc(bson_t *doc, const uint8_t *data, size_t len)
{
	return data != NULL && len >= 5 && len <= UINT32_MAX &&
	    bson_init_static(doc, data, len);
}

/* fn (add or upsert) of len bytes of BSON. */
static int
with_bson(struct msb_sink *sink, const uint8_t *data, size_t len,
    int (*fn)(struct msb_sink *, const bson_t *))
{
	bson_t doc;

	if (sink->s_failed)
		return sink->s_failed;
	if (!static_doc(&doc, data, len))
		return msb__sink_fail(sink, MSB_BADDOC, "document refused: "
		    "not a well-formed BSON document");
	return fn(sink, &doc);
}

int
msb_sink_add_bson(struct msb_sink *sink, const uint8_t *data, size_t len)
{
	return with_bson(sink, data, len, msb_sink_add);
}

int
msb_sink_upsert_bson(struct msb_sink *sink, const uint8_t *data, size_t len)
{
	return with_bson(sink, data, len, msb_sink_upsert);
}

/*
 * The sink: one interface over two back ends, chosen by the URL scheme.
 * This file holds what both share (names, document checks, the sticky
 * error state), so a document is accepted or refused the same way
 * whichever store it goes to. sink_mongo.c and sink_file.c do the rest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mysimbdp-internal.h"

/* MongoDB refuses documents larger than this; the file store does too. */
#define MAX_DOC (16 * 1024 * 1024)

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

/*
 * Whether len bytes at s are UTF-8 without NUL, as bson_utf8_validate
 * says, but eight ASCII bytes at a time first: libbson walks byte by byte,
 * which made validation half the cost of a CSV load, and most text is
 * ASCII. From the first other byte (a character boundary) libbson decides.
 */
static bool
utf8_valid(const char *s, size_t len)
{
	const uint64_t high = 0x8080808080808080ULL, ones = 0x0101010101010101ULL;
	size_t i = 0;
	uint64_t w;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		/* A non-ASCII byte, or a zero byte (the classic haszero test). */
		if ((w & high) || ((w - ones) & ~w & high))
			break;
	}
	for (; i < len && (unsigned char)s[i] - 1u < 0x7fu; i++)
		;
	return i == len || bson_utf8_validate(s + i, len - i, false);
}

/*
 * Checks a document the way libmongoc's default insert validation does
 * (well-formed; keys not empty, without '.', not starting with '$'), and
 * also that every key and string value is UTF-8: libbson 1.23 checks keys
 * only, and MongoDB stores invalid UTF-8 that its drivers then cannot read.
 * One walk instead of bson_validate's, whose per-key UTF-8 check was the
 * largest single cost of a CSV load. Returns NULL or the problem.
 */
static const char *
doc_problem(const bson_iter_t *parent, int depth, bool keys_free)
{
	bson_iter_t it = *parent, child;
	const char *s, *why;
	uint32_t len;

	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);

		if (!keys_free && (key[0] == '\0' || key[0] == '$' ||
		    strchr(key, '.') != NULL))
			return "a key is empty, starts with '$' or holds '.'";
		if (!utf8_valid(key, strlen(key)))
			return "a key is not valid UTF-8";
		switch (bson_iter_type(&it)) {
		case BSON_TYPE_UTF8:
			s = bson_iter_utf8(&it, &len);
			if (!utf8_valid(s, len))
				return "a string is not valid UTF-8";
			break;
		case BSON_TYPE_DOCUMENT:
		case BSON_TYPE_ARRAY:
			if (depth > 100)
				return "nested more than 100 levels deep";
			if (!bson_iter_recurse(&it, &child))
				return "corrupt BSON";
			/* An array's keys are its indexes. */
			why = doc_problem(&child, depth + 1,
			    bson_iter_type(&it) == BSON_TYPE_ARRAY);
			if (why)
				return why;
			break;
		default:
			break;
		}
	}
	return it.err_off ? "corrupt BSON" : NULL;
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
	if (has_prefix(url, "mongodb://") || has_prefix(url, "mongodb+srv://"))
		rc = msb__sink_mongo_open(sink, url, db, collection, err,
		    errlen);
	else if (has_prefix(url, "file://") && url[strlen("file://")] != '\0')
		rc = msb__sink_file_open(sink, url + strlen("file://"), db,
		    collection, err, errlen);
	else {
		msb__seterr(err, errlen, "MONGO_URL: must start with "
		    "mongodb:// or file://DIR");
		rc = MSB_ERROR;
	}
	if (rc != MSB_OK) {
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
	if (w < MSB_W_MAJORITY || wtimeout_ms < 0)
		return msb__sink_fail(sink, MSB_ERROR, "write concern: bad "
		    "value");
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

int
msb_sink_add(struct msb_sink *sink, const bson_t *doc)
{
	const char *why;
	bson_iter_t it;
	int rc;

	if (sink->s_failed)
		return sink->s_failed;
	if (doc->len > MAX_DOC)
		return msb__sink_fail(sink, MSB_BADDOC, "document refused: "
		    "%u bytes, the limit is 16 MiB", doc->len);
	if (!bson_iter_init(&it, doc))
		return msb__sink_fail(sink, MSB_BADDOC, "document refused: "
		    "corrupt BSON");
	if ((why = doc_problem(&it, 0, false)) != NULL)
		return msb__sink_fail(sink, MSB_BADDOC, "document refused: %s",
		    why);

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
	if (rc == MSB_OK)
		sink->s_stats.added++;
	else if (rc != MSB_BADDOC)
		sink->s_failed = rc;
	return rc;
}

int
msb_sink_commit(struct msb_sink *sink, const char *unit_key)
{
	int rc;

	if (sink->s_failed)
		return sink->s_failed;
	rc = sink->s_ops->commit(sink, unit_key);
	if (rc == MSB_OK)
		sink->s_stats.units++;
	else
		sink->s_failed = rc;
	return rc;
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
	sink->s_ops->close(sink);
	free(sink);
}

/*
 * The MongoDB sink (MONGO_URL=mongodb://...), through libmongoc.
 *
 * Documents are sent as unordered bulk inserts of s_batch documents.
 * Their ids are deterministic, so a rerun finds them already there: the
 * server answers duplicate-key errors (code 11000) for those, which count
 * as success. Upserts go the same way, as bulk replace_one operations
 * with upsert, in batches of their own: an insert's duplicate key is a
 * rerun, an upsert's is not. An unordered batch may be applied in any
 * order, so an _id upserted again in the unit first sends the batch that
 * holds it: the last upsert wins. Whatever means "the server cannot be reached now" (server
 * selection, network, a primary stepping down, a write concern timeout)
 * is MSB_TEMPFAIL, so the app exits 75 and the manager retries later.
 *
 * The client is single-threaded (mongoc_client_t, not a pool): an app
 * writes from one thread, and this keeps libmongoc from starting
 * monitoring threads in tenant processes.
 */
#include <stdlib.h>
#include <string.h>

#include <mongoc/mongoc.h>

#include "mysimbdp-internal.h"

#define DEFAULT_TIMEOUT_MS 2000
#define MAX_BATCH_BYTES (16 * 1024 * 1024)
#define DUPLICATE_KEY 11000

struct mongo_sink {
	mongoc_client_t		*m_client;
	mongoc_collection_t	*m_coll;
	mongoc_bulk_operation_t	*m_bulk;	/* the pending batch, or NULL */
	bool			 m_upserting;	/* m_bulk holds upserts */
	struct msb__names	 m_ids;		/* their _id names */
	size_t			 m_ndocs;	/* documents in m_bulk */
	size_t			 m_nbytes;
	/* On the heap: a bson_t wants 128-byte alignment, calloc gives 16. */
	bson_t			*m_insert_opts;
	bson_t			*m_upsert_opts;
};

static int mongo_add(struct msb_sink *, const bson_t *);
static int mongo_upsert(struct msb_sink *, const bson_t *, const char *);
static int mongo_commit(struct msb_sink *, const char *);
static int mongo_set_write_concern(struct msb_sink *, int, bool, int32_t);
static void mongo_close(struct msb_sink *);

static const struct msb__sink_ops mongo_ops = {
	.name = "mongodb",
	.add = mongo_add,
	.upsert = mongo_upsert,
	.commit = mongo_commit,
	.set_write_concern = mongo_set_write_concern,
	.close = mongo_close,
};

/*
 * Server error codes that a later attempt may not meet: the ones the
 * retryable-writes specification lists, plus write concern timeouts and
 * time limits.
 */
static bool
transient_code(uint32_t code)
{
	switch (code) {
	case 6:		/* HostUnreachable */
	case 7:		/* HostNotFound */
	case 50:	/* MaxTimeMSExpired */
	case 64:	/* WriteConcernFailed (wtimeout) */
	case 89:	/* NetworkTimeout */
	case 91:	/* ShutdownInProgress */
	case 189:	/* PrimarySteppedDown */
	case 262:	/* ExceededTimeLimit */
	case 9001:	/* SocketException */
	case 10107:	/* NotWritablePrimary */
	case 11600:	/* InterruptedAtShutdown */
	case 11602:	/* InterruptedDueToReplStateChange */
	case 13435:	/* NotPrimaryNoSecondaryOk */
	case 13436:	/* NotPrimaryOrSecondary */
		return true;
	default:
		return false;
	}
}

/* Classifies a libmongoc error that came without a server reply. */
static int
error_rc(const bson_error_t *error, const bson_t *reply)
{
	if (error->domain == MONGOC_ERROR_SERVER_SELECTION ||
	    error->domain == MONGOC_ERROR_STREAM)
		return MSB_TEMPFAIL;
	if (reply != NULL && (mongoc_error_has_label(reply,
	    "RetryableWriteError") || mongoc_error_has_label(reply,
	    "TransientTransactionError")))
		return MSB_TEMPFAIL;
	if ((error->domain == MONGOC_ERROR_SERVER ||
	    error->domain == MONGOC_ERROR_WRITE_CONCERN) &&
	    transient_code(error->code))
		return MSB_TEMPFAIL;
	return MSB_ERROR;
}

static const char *
error_what(int rc)
{
	return rc == MSB_TEMPFAIL ? "MongoDB unavailable" : "MongoDB";
}

int
msb__sink_mongo_open(struct msb_sink *sink, const char *url, const char *db,
    const char *collection, char *err, size_t errlen)
{
	struct mongo_sink *m;
	mongoc_uri_t *uri;
	mongoc_server_description_t *sd;
	bson_error_t error;
	int32_t timeout;
	int rc;

	uri = mongoc_uri_new_with_error(url, &error);
	if (uri == NULL) {
		/* The message names the problem, never the URL (a password). */
		msb__seterr(err, errlen, "MONGO_URL: %s", error.message);
		return MSB_ERROR;
	}
	/*
	 * libmongoc waits 30 s for a server by default; an app facing a dead
	 * server should give up quickly and let the manager retry.
	 */
	if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri,
		    MONGOC_URI_SERVERSELECTIONTIMEOUTMS, DEFAULT_TIMEOUT_MS);
	timeout = mongoc_uri_get_option_as_int32(uri,
	    MONGOC_URI_SERVERSELECTIONTIMEOUTMS, DEFAULT_TIMEOUT_MS);
	if (!mongoc_uri_has_option(uri, MONGOC_URI_CONNECTTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri,
		    MONGOC_URI_CONNECTTIMEOUTMS, timeout > 0 ? timeout :
		    DEFAULT_TIMEOUT_MS);
	if (mongoc_uri_get_appname(uri) == NULL)
		mongoc_uri_set_appname(uri, "mysimbdp");

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		mongoc_uri_destroy(uri);
		msb__seterr(err, errlen, "MongoDB: out of memory");
		return MSB_TEMPFAIL;
	}
	m->m_client = mongoc_client_new_from_uri_with_error(uri, &error);
	mongoc_uri_destroy(uri);
	if (m->m_client == NULL) {
		/* e.g. a mongodb+srv:// name that DNS cannot resolve now */
		rc = error_rc(&error, NULL);
		msb__seterr(err, errlen, "%s: %s", rc == MSB_TEMPFAIL ?
		    "MongoDB unavailable" : "MONGO_URL", error.message);
		free(m);
		return rc;
	}
	mongoc_client_set_error_api(m->m_client, MONGOC_ERROR_API_VERSION_2);
	m->m_coll = mongoc_client_get_collection(m->m_client, db, collection);
	m->m_insert_opts = bson_new();
	/* sink.c has validated every document the way libmongoc would. */
	BSON_APPEND_BOOL(m->m_insert_opts, "validate", false);
	m->m_upsert_opts = bson_new();
	BSON_APPEND_BOOL(m->m_upsert_opts, "validate", false);
	BSON_APPEND_BOOL(m->m_upsert_opts, "upsert", true);

	/* Reach a writable server now, so a dead one is reported at once. */
	sd = mongoc_client_select_server(m->m_client, true, NULL, &error);
	if (sd == NULL) {
		rc = error_rc(&error, NULL);
		msb__seterr(err, errlen, "%s: %s", error_what(rc),
		    error.message);
		sink->s_impl = m;
		mongo_close(sink);
		sink->s_impl = NULL;
		return rc;
	}
	mongoc_server_description_destroy(sd);
	sink->s_ops = &mongo_ops;
	sink->s_impl = m;
	return MSB_OK;
}

static int
mongo_set_write_concern(struct msb_sink *sink, int w, bool journal,
    int32_t wtimeout_ms)
{
	struct mongo_sink *m = sink->s_impl;
	mongoc_write_concern_t *wc;
	int rc = MSB_OK;

	if (m->m_bulk != NULL)
		return msb__sink_fail(sink, MSB_ERROR, "write concern: set it "
		    "before adding documents");
	wc = mongoc_write_concern_new();
	if (w == MSB_W_MAJORITY)
		mongoc_write_concern_set_w(wc, MONGOC_WRITE_CONCERN_W_MAJORITY);
	else if (w == MSB_W_DEFAULT)
		mongoc_write_concern_set_w(wc, MONGOC_WRITE_CONCERN_W_DEFAULT);
	else
		mongoc_write_concern_set_w(wc, w);
	if (journal)
		mongoc_write_concern_set_journal(wc, true);
	if (wtimeout_ms > 0)
		mongoc_write_concern_set_wtimeout_int64(wc, wtimeout_ms);
	if (!mongoc_write_concern_is_valid(wc))
		rc = msb__sink_fail(sink, MSB_ERROR, "write concern: w=0 "
		    "cannot ask for the journal");
	else
		mongoc_collection_set_write_concern(m->m_coll, wc);
	mongoc_write_concern_destroy(wc);
	return rc;
}

/*
 * Reads the reply of a failed bulk write. Returns MSB_OK when the only
 * errors were duplicate keys of inserts, counting them; otherwise the
 * class of the first other error, with its message on the sink. An
 * upsert by _id meets a duplicate key only when another writer inserted
 * the _id at the same moment (servers since 4.2 retry that themselves):
 * the document was not written, and a retry will write it.
 */
static int
check_reply(struct msb_sink *sink, const bson_t *reply,
    const bson_error_t *error, bool upserts)
{
	const char *op = upserts ? "upsert" : "insert";
	bson_iter_t it, arr, e;
	uint64_t dups = 0;
	int rc = MSB_OK;
	uint32_t code;
	const char *msg;
	bool found = false;

	if (bson_iter_init_find(&it, reply, "writeErrors") &&
	    BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &arr)) {
		while (bson_iter_next(&arr)) {
			found = true;
			code = 0;
			msg = "write error";
			if (bson_iter_recurse(&arr, &e) &&
			    bson_iter_find(&e, "code") &&
			    BSON_ITER_HOLDS_NUMBER(&e))
				code = (uint32_t)bson_iter_as_int64(&e);
			if (code == DUPLICATE_KEY && !upserts) {
				dups++;
				continue;
			}
			if (bson_iter_recurse(&arr, &e) &&
			    bson_iter_find(&e, "errmsg") &&
			    BSON_ITER_HOLDS_UTF8(&e))
				msg = bson_iter_utf8(&e, NULL);
			if (rc == MSB_OK) {
				rc = transient_code(code) || code ==
				    DUPLICATE_KEY ? MSB_TEMPFAIL : MSB_ERROR;
				msb__sink_fail(sink, rc, "%s: %s: %s "
				    "(code %u)", error_what(rc), op, msg, code);
			}
		}
	}
	if (bson_iter_init_find(&it, reply, "writeConcernErrors") &&
	    BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &arr) &&
	    bson_iter_next(&arr)) {
		found = true;
		code = 0;
		msg = "write concern error";
		if (bson_iter_recurse(&arr, &e) && bson_iter_find(&e, "code") &&
		    BSON_ITER_HOLDS_NUMBER(&e))
			code = (uint32_t)bson_iter_as_int64(&e);
		if (bson_iter_recurse(&arr, &e) &&
		    bson_iter_find(&e, "errmsg") && BSON_ITER_HOLDS_UTF8(&e))
			msg = bson_iter_utf8(&e, NULL);
		if (rc == MSB_OK) {
			rc = transient_code(code) ? MSB_TEMPFAIL : MSB_ERROR;
			msb__sink_fail(sink, rc, "%s: write concern: %s "
			    "(code %u)", error_what(rc), msg, code);
		}
	}
	if (!found) {
		/* Not a write error: the network, the server, auth. */
		rc = error_rc(error, reply);
		return msb__sink_fail(sink, rc, "%s: %s", error_what(rc),
		    error->message);
	}
	if (rc == MSB_OK)
		sink->s_stats.duplicates += dups;
	return rc;
}

/* A count from a bulk write's reply, 0 when it is not there. */
static uint64_t
reply_count(const bson_t *reply, const char *field)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, reply, field) &&
	    BSON_ITER_HOLDS_NUMBER(&it) && bson_iter_as_int64(&it) > 0)
		return (uint64_t)bson_iter_as_int64(&it);
	return 0;
}

/* Sends the pending batch. */
static int
execute(struct msb_sink *sink, struct mongo_sink *m)
{
	bson_t reply;
	bson_error_t error;
	int rc = MSB_OK;

	if (m->m_bulk == NULL)
		return MSB_OK;
	if (!mongoc_bulk_operation_execute(m->m_bulk, &reply, &error))
		rc = check_reply(sink, &reply, &error, m->m_upserting);
	/* An upsert that replaced a document wrote it as surely. */
	if (rc == MSB_OK)
		sink->s_stats.inserted += reply_count(&reply, "nInserted") +
		    reply_count(&reply, "nUpserted") +
		    reply_count(&reply, "nMatched");
	bson_destroy(&reply);
	mongoc_bulk_operation_destroy(m->m_bulk);
	m->m_bulk = NULL;
	m->m_ndocs = 0;
	m->m_nbytes = 0;
	msb__names_clear(&m->m_ids);
	return rc;
}

/*
 * Makes sure a batch for this kind of write is pending: sends a pending
 * batch of the other kind first.
 */
static int
pending(struct msb_sink *sink, struct mongo_sink *m, bool upserting)
{
	bson_t opts = BSON_INITIALIZER;
	int rc;

	if (m->m_bulk != NULL && m->m_upserting != upserting &&
	    (rc = execute(sink, m)) != MSB_OK)
		return rc;
	if (m->m_bulk == NULL) {
		BSON_APPEND_BOOL(&opts, "ordered", false);
		m->m_bulk = mongoc_collection_create_bulk_operation_with_opts(
		    m->m_coll, &opts);
		bson_destroy(&opts);
		m->m_upserting = upserting;
	}
	return MSB_OK;
}

/* Counts a document into the batch, which goes when full. */
static int
queued(struct msb_sink *sink, struct mongo_sink *m, const bson_t *doc)
{
	m->m_ndocs++;
	m->m_nbytes += doc->len;
	if (m->m_ndocs >= sink->s_batch || m->m_nbytes >= MAX_BATCH_BYTES)
		return execute(sink, m);
	return MSB_OK;
}

static int
mongo_add(struct msb_sink *sink, const bson_t *doc)
{
	struct mongo_sink *m = sink->s_impl;
	bson_error_t error;
	int rc;

	if ((rc = pending(sink, m, false)) != MSB_OK)
		return rc;
	if (!mongoc_bulk_operation_insert_with_opts(m->m_bulk, doc,
	    m->m_insert_opts, &error))
		return msb__sink_fail(sink, MSB_BADDOC, "document refused: %s",
		    error.message);
	return queued(sink, m, doc);
}

static int
mongo_upsert(struct msb_sink *sink, const bson_t *doc, const char *name)
{
	struct mongo_sink *m = sink->s_impl;
	bson_t selector = BSON_INITIALIZER;
	bson_error_t error;
	bson_iter_t id;
	bool ok;
	int rc;

	/* The batch already holds this _id: it goes first (see above). */
	if (m->m_bulk != NULL && m->m_upserting &&
	    msb__names_has(&m->m_ids, name) && (rc = execute(sink, m)) !=
	    MSB_OK)
		return rc;
	if ((rc = pending(sink, m, true)) != MSB_OK)
		return rc;
	/* sink.c made sure there is an _id. */
	bson_iter_init_find(&id, doc, "_id");
	bson_append_iter(&selector, "_id", 3, &id);
	ok = mongoc_bulk_operation_replace_one_with_opts(m->m_bulk, &selector,
	    doc, m->m_upsert_opts, &error);
	bson_destroy(&selector);
	if (!ok)
		return msb__sink_fail(sink, MSB_BADDOC, "document refused: %s",
		    error.message);
	if (msb__names_add(&m->m_ids, name) == -1)
		return msb__sink_fail(sink, MSB_TEMPFAIL, "MongoDB: out of "
		    "memory");
	return queued(sink, m, doc);
}

static int
mongo_commit(struct msb_sink *sink, const char *unit_key)
{
	/* Ids make a unit idempotent in MongoDB; the key is not needed. */
	return execute(sink, sink->s_impl);
}

static void
mongo_close(struct msb_sink *sink)
{
	struct mongo_sink *m = sink->s_impl;

	if (m == NULL)
		return;
	if (m->m_bulk != NULL)
		mongoc_bulk_operation_destroy(m->m_bulk);
	msb__names_free(&m->m_ids);
	bson_destroy(m->m_insert_opts);
	bson_destroy(m->m_upsert_opts);
	mongoc_collection_destroy(m->m_coll);
	mongoc_client_destroy(m->m_client);
	free(m);
}

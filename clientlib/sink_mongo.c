/*
 * The MongoDB sink (MONGO_URL=mongodb://...), through libmongoc.
 *
 * Documents are kept (copied) and sent as unordered bulk inserts of
 * s_batch documents. Their ids are deterministic, so a rerun finds them
 * already there: the server answers duplicate-key errors (code 11000) on
 * the _id index for those, counted as already_present. Any other error
 * of one document (another unique index, validation, too large) rejects
 * that document: counted as rejected, the reason on the sink, never as
 * stored. Upserts go the same way, as bulk replace_one operations
 * with upsert, in batches of their own: an insert's duplicate _id is a
 * rerun, an upsert's is not. An unordered batch may be applied in any
 * order, so an _id upserted again in the unit first sends the batch that
 * holds it: the last upsert wins. Whatever means "the server cannot be
 * reached now" (server
 * selection, network, a primary stepping down, a write concern timeout)
 * is MSB_TEMPFAIL, so the app exits 75 and the manager retries later;
 * so is a server that stops answering (socketTimeoutMS, below).
 *
 * The client is single-threaded (mongoc_client_t, not a pool): an app
 * writes from one thread, and this keeps libmongoc from starting
 * monitoring threads in tenant processes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mongoc/mongoc.h>

#include "mysimbdp-internal.h"

#define DEFAULT_TIMEOUT_MS 2000
/*
 * How long a write may wait for the server's reply (socketTimeoutMS)
 * when the URL does not say; libmongoc's own 300 s kept an app on a
 * server that accepted and then stopped answering for five minutes,
 * deaf to SIGTERM. A batch is at most 16 MiB or s_batch documents,
 * which a healthy server writes in well under a second; one that has
 * not answered in 30 s is stuck or badly overloaded, and giving up
 * costs only a retry (the batch's inserts come back already_present).
 * Shorter would risk a server that is merely slow never finishing a
 * large file.
 */
#define DEFAULT_SOCKET_TIMEOUT_MS 30000
/* Beyond the URL's wtimeoutMS: the server's own answer comes first. */
#define WTIMEOUT_MARGIN_MS 5000
#define MAX_BATCH_BYTES (16 * 1024 * 1024)
/*
 * Upserts go in bulks of at most this many: FerretDB v1 (SQLite) keeps
 * each statement's query open until an update command ends (a deferred
 * close in a loop of its msg_update.go), one of the database's 100 SQLite
 * connections each, so a bulk of 100 replacements of existing documents
 * hangs that database for good (99 pass). 24 keep clear of it with a few
 * writers at once; MongoDB pays a round trip per 24 upserts.
 */
#define MAX_UPSERT_BATCH 24
#define DUPLICATE_KEY 11000

struct mongo_sink {
	mongoc_client_t		*m_client;
	mongoc_collection_t	*m_coll;
	/* The pending batch: copies of its documents, sent by execute(). */
	bson_t			**m_docs;
	size_t			 m_cap;		/* slots in m_docs */
	size_t			 m_ndocs;	/* documents in the batch */
	bool			 m_upserting;	/* the batch holds upserts */
	struct msb__names	 m_ids;		/* their _id names */
	size_t			 m_nbytes;
	uint64_t		 m_seq0;	/* m_docs[0]'s number in the sink */
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

/*
 * Unacknowledged writes (w=0) get a reply without counts or errors: the
 * sink could neither count what was stored nor name a rejected document,
 * and would fail a batch the server did write ("neither wrote a document
 * nor said why", inserted 0).
 */
static bool
acknowledged(const mongoc_write_concern_t *wc)
{
	return wc == NULL || mongoc_write_concern_is_acknowledged(wc);
}

/* The socket timeout for a URL without one (see above). */
static int32_t
socket_timeout(const mongoc_write_concern_t *wc)
{
	int64_t wt = wc != NULL ? mongoc_write_concern_get_wtimeout_int64(wc) :
	    0;

	if (wt <= 0 || wt + WTIMEOUT_MARGIN_MS <= DEFAULT_SOCKET_TIMEOUT_MS)
		return DEFAULT_SOCKET_TIMEOUT_MS;
	return wt >= INT32_MAX - WTIMEOUT_MARGIN_MS ? INT32_MAX :
	    (int32_t)(wt + WTIMEOUT_MARGIN_MS);
}

int
msb__sink_mongo_open(struct msb_sink *sink, const char *url, const char *db,
    const char *collection, char *err, size_t errlen)
{
	struct mongo_sink *m;
	mongoc_uri_t *uri;
	const mongoc_write_concern_t *wc;
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
	/* Before any server contact: a mistake, not an outage. */
	wc = mongoc_uri_get_write_concern(uri);
	if (!acknowledged(wc)) {
		msb__seterr(err, errlen, "MONGO_URL: w=%d: %s",
		    mongoc_write_concern_get_w(wc), MSB__W0_WHY);
		mongoc_uri_destroy(uri);
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
	if (!mongoc_uri_has_option(uri, MONGOC_URI_SOCKETTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri,
		    MONGOC_URI_SOCKETTIMEOUTMS, socket_timeout(wc));
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

	if (m->m_ndocs > 0)
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
	/* sink.c refused w=0, the one that cannot ask for the journal. */
	if (!mongoc_write_concern_is_valid(wc) || !acknowledged(wc))
		rc = msb__sink_fail(sink, MSB_ERROR, "write concern: w=%d: "
		    "not valid", w);
	else
		mongoc_collection_set_write_concern(m->m_coll, wc);
	mongoc_write_concern_destroy(wc);
	return rc;
}

/* What became of one document of a batch. */
enum doc_state {
	DOC_SENT,	/* sent, no write error (yet) */
	DOC_PRESENT,	/* insert: its _id was there already (a rerun) */
	DOC_MAYBE,	/* a duplicate key, the server did not say which */
	DOC_REJECTED,	/* refused by the server for good */
};

/* The state of one execute(): a batch may take several sends. */
struct outcome {
	enum doc_state	*o_state;	/* one per document of the batch */
	char		**o_why;	/* the server's word on a MAYBE or
					   REJECTED one (malloc'd), or NULL */
};

/* Notes what the server said of document i; the first word stays. */
static void
note_why(struct outcome *o, size_t i, const char *op, const char *ids,
    const char *msg, uint32_t code)
{
	if (o->o_why[i] == NULL && asprintf(&o->o_why[i], "%s %s: %s (code "
	    "%u)", op, ids, msg, code) == -1)
		o->o_why[i] = NULL;	/* the count still holds */
}

static void
forget_why(struct outcome *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(o->o_why[i]);
		o->o_why[i] = NULL;
	}
}

/*
 * Whether a duplicate-key write error is about _id: 1 yes, 0 no, -1 the
 * server did not say. MongoDB (4.4 and later) gives keyPattern, and its
 * message reads "E11000 duplicate key error collection: db.c index: _id_
 * dup key: { _id: 1 }"; FerretDB v1 says only "E11000 duplicate key
 * error collection: db.c", whichever index it was.
 */
static int
dup_on_id(const bson_iter_t *werr, const char *msg)
{
	bson_iter_t e, kp;
	const char *p;

	if (bson_iter_recurse(werr, &e) && bson_iter_find(&e, "keyPattern") &&
	    BSON_ITER_HOLDS_DOCUMENT(&e) && bson_iter_recurse(&e, &kp)) {
		if (!bson_iter_next(&kp))
			return -1;
		return strcmp(bson_iter_key(&kp), "_id") == 0 &&
		    !bson_iter_next(&kp);
	}
	if ((p = strstr(msg, " index: ")) != NULL) {
		p += strlen(" index: ");
		return strncmp(p, "_id_ ", 5) == 0 || strcmp(p, "_id_") == 0;
	}
	return -1;
}

/* "{ "_id" : ... }" of document i, short, for messages. */
static void
id_text(const bson_t *doc, char *buf, size_t len)
{
	bson_t one = BSON_INITIALIZER;
	bson_iter_t it;
	char *json;

	snprintf(buf, len, "?");
	if (bson_iter_init_find(&it, doc, "_id") &&
	    bson_append_iter(&one, "_id", 3, &it) &&
	    (json = bson_as_relaxed_extended_json(&one, NULL)) != NULL) {
		/* Cut whole characters only: the message must stay UTF-8. */
		if (strlen(json) > 80)
			strcpy(json + msb__utf8_cut(json, 77), "...");
		snprintf(buf, len, "%s", json);
		bson_free(json);
	}
	bson_destroy(&one);
}

/*
 * Reads the write errors of one send, of the documents whose indexes are
 * in idx. Returns MSB_OK when each error concerned its document only
 * (noted in o, *nerr of them); otherwise the class of the first other
 * error, with its message on the sink. An upsert by _id meets a
 * duplicate _id only when another writer inserted the _id at the same
 * moment (servers since 4.2 retry that themselves): the document was not
 * written, and a retry will write it.
 */
static int
check_reply(struct msb_sink *sink, struct mongo_sink *m, const bson_t *reply,
    const bson_error_t *error, const size_t *idx, size_t n,
    struct outcome *o, size_t *nerr)
{
	const char *op = m->m_upserting ? "upsert" : "insert";
	bson_iter_t it, arr, e;
	int rc = MSB_OK, id;
	uint32_t code;
	int64_t at;
	const char *msg;
	char ids[100];
	bool found = false;

	*nerr = 0;
	if (bson_iter_init_find(&it, reply, "writeErrors") &&
	    BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &arr)) {
		while (bson_iter_next(&arr)) {
			found = true;
			code = 0;
			at = -1;
			msg = "write error";
			if (bson_iter_recurse(&arr, &e) &&
			    bson_iter_find(&e, "code") &&
			    BSON_ITER_HOLDS_NUMBER(&e))
				code = (uint32_t)bson_iter_as_int64(&e);
			if (bson_iter_recurse(&arr, &e) &&
			    bson_iter_find(&e, "index") &&
			    BSON_ITER_HOLDS_NUMBER(&e))
				at = bson_iter_as_int64(&e);
			if (bson_iter_recurse(&arr, &e) &&
			    bson_iter_find(&e, "errmsg") &&
			    BSON_ITER_HOLDS_UTF8(&e))
				msg = bson_iter_utf8(&e, NULL);
			id = code == DUPLICATE_KEY ? dup_on_id(&arr, msg) : 0;
			if (transient_code(code) || at < 0 || (size_t)at >= n ||
			    (m->m_upserting && id == 1)) {
				if (rc == MSB_OK) {
					rc = code == DUPLICATE_KEY ||
					    transient_code(code) ?
					    MSB_TEMPFAIL : MSB_ERROR;
					msb__sink_fail(sink, rc, "%s: %s: %s "
					    "(code %u)", error_what(rc), op,
					    msg, code);
				}
				continue;
			}
			if (o->o_state[idx[at]] != DOC_SENT)
				continue;	/* named twice */
			(*nerr)++;
			id_text(m->m_docs[idx[at]], ids, sizeof(ids));
			if (!m->m_upserting && id == 1) {
				o->o_state[idx[at]] = DOC_PRESENT;
			} else {
				o->o_state[idx[at]] = id == -1 ? DOC_MAYBE :
				    DOC_REJECTED;
				note_why(o, idx[at], op, ids, msg, code);
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

/*
 * Sends the n documents of the batch whose indexes are in idx as one
 * unordered bulk write. *applied: how many the server says it wrote.
 */
static int
send_docs(struct msb_sink *sink, struct mongo_sink *m, const size_t *idx,
    size_t n, struct outcome *o, uint64_t *applied, size_t *nerr)
{
	mongoc_bulk_operation_t *bulk;
	bson_t opts = BSON_INITIALIZER, selector, reply;
	bson_error_t error;
	bson_iter_t id;
	int rc = MSB_OK;

	BSON_APPEND_BOOL(&opts, "ordered", false);
	bulk = mongoc_collection_create_bulk_operation_with_opts(m->m_coll,
	    &opts);
	bson_destroy(&opts);
	for (size_t i = 0; i < n && rc == MSB_OK; i++) {
		const bson_t *doc = m->m_docs[idx[i]];
		bool ok;

		if (!m->m_upserting)
			ok = mongoc_bulk_operation_insert_with_opts(bulk, doc,
			    m->m_insert_opts, &error);
		else {
			/* sink.c made sure there is an _id. */
			bson_init(&selector);
			bson_iter_init_find(&id, doc, "_id");
			bson_append_iter(&selector, "_id", 3, &id);
			ok = mongoc_bulk_operation_replace_one_with_opts(bulk,
			    &selector, doc, m->m_upsert_opts, &error);
			bson_destroy(&selector);
		}
		if (!ok)
			rc = msb__sink_fail(sink, MSB_ERROR, "MongoDB: %s",
			    error.message);
	}
	*applied = 0;
	*nerr = 0;
	if (rc == MSB_OK) {
		if (!mongoc_bulk_operation_execute(bulk, &reply, &error))
			rc = check_reply(sink, m, &reply, &error, idx, n, o,
			    nerr);
		/* An upsert that replaced a document wrote it as surely. */
		*applied = reply_count(&reply, "nInserted") +
		    reply_count(&reply, "nUpserted") +
		    reply_count(&reply, "nMatched");
		bson_destroy(&reply);
	}
	mongoc_bulk_operation_destroy(bulk);
	return rc;
}

/*
 * Whether _id is the collection's only unique index: then every duplicate
 * key is an _id's. 1 yes, 0 no, -1 the server would not say.
 */
static int
only_id_unique(struct mongo_sink *m)
{
	mongoc_cursor_t *cur;
	const bson_t *idx;
	bson_iter_t it;
	int rc = 1;

	cur = mongoc_collection_find_indexes_with_opts(m->m_coll, NULL);
	while (rc == 1 && mongoc_cursor_next(cur, &idx))
		if (bson_iter_init_find(&it, idx, "unique") &&
		    bson_iter_as_bool(&it) && (!bson_iter_init_find(&it, idx,
		    "name") || !BSON_ITER_HOLDS_UTF8(&it) ||
		    strcmp(bson_iter_utf8(&it, NULL), "_id_") != 0))
			rc = 0;
	if (mongoc_cursor_error(cur, NULL))
		rc = -1;
	mongoc_cursor_destroy(cur);
	return rc;
}

/*
 * Settles the inserts whose duplicate key the server did not name: with
 * no unique index but _id's, all were a rerun's; else an _id the
 * collection holds was a rerun's, the others met another unique index
 * and are rejected. (Looking the ids up costs FerretDB v1 a scan of the
 * collection per batch: a rerun of a big file took ten times its first
 * run.)
 */
static int
settle_maybe_inserts(struct msb_sink *sink, struct mongo_sink *m,
    struct outcome *o)
{
	struct msb__names there = { 0 };
	char name[MSB__ID_NAME_SIZE];
	bson_t filter = BSON_INITIALIZER, in, idin, opts = BSON_INITIALIZER;
	bson_t proj;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t error;
	bson_iter_t it;
	char key[24];
	size_t n = 0;
	int rc = MSB_OK;

	for (size_t i = 0; i < m->m_ndocs; i++)
		n += o->o_state[i] == DOC_MAYBE;
	if (n == 0 || only_id_unique(m) == 1) {
		for (size_t i = 0; i < m->m_ndocs; i++)
			if (o->o_state[i] == DOC_MAYBE)
				o->o_state[i] = DOC_PRESENT;
		bson_destroy(&filter);
		bson_destroy(&opts);
		return MSB_OK;
	}
	n = 0;
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &idin);
	BSON_APPEND_ARRAY_BEGIN(&idin, "$in", &in);
	for (size_t i = 0; i < m->m_ndocs; i++) {
		if (o->o_state[i] != DOC_MAYBE)
			continue;
		bson_iter_init_find(&it, m->m_docs[i], "_id");
		snprintf(key, sizeof(key), "%zu", n++);
		bson_append_iter(&in, key, -1, &it);
	}
	bson_append_array_end(&idin, &in);
	bson_append_document_end(&filter, &idin);
	if (n == 0) {
		bson_destroy(&filter);
		bson_destroy(&opts);
		return MSB_OK;
	}
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "_id", 1);
	bson_append_document_end(&opts, &proj);
	cur = mongoc_collection_find_with_opts(m->m_coll, &filter, &opts,
	    NULL);
	while (mongoc_cursor_next(cur, &doc))
		if (bson_iter_init_find(&it, doc, "_id")) {
			msb__sink_id_name(&it, name);
			if (msb__names_add(&there, name) == -1) {
				rc = msb__sink_fail(sink, MSB_TEMPFAIL,
				    "MongoDB: out of memory");
				break;
			}
		}
	if (rc == MSB_OK && mongoc_cursor_error_document(cur, &error, &doc)) {
		rc = error_rc(&error, doc);
		msb__sink_fail(sink, rc, "%s: finding duplicate ids: %s",
		    error_what(rc), error.message);
	}
	mongoc_cursor_destroy(cur);
	for (size_t i = 0; rc == MSB_OK && i < m->m_ndocs; i++) {
		if (o->o_state[i] != DOC_MAYBE)
			continue;
		bson_iter_init_find(&it, m->m_docs[i], "_id");
		msb__sink_id_name(&it, name);
		if (msb__names_has(&there, name))
			o->o_state[i] = DOC_PRESENT;
		else
			o->o_state[i] = DOC_REJECTED;	/* o_why[i] says why */
	}
	msb__names_free(&there);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return rc;
}

/*
 * Settles the upserts whose duplicate key the server did not name
 * (FerretDB v1): with no unique index but _id's, another writer
 * inserted the _id at that moment, and a retry writes the document
 * (MSB_TEMPFAIL, as when the server names _id); with another unique
 * index it is taken as that index's and rejected (an _id race is rare:
 * servers since 4.2 retry it themselves). A server that will not list
 * its indexes is asked again later.
 */
static int
settle_maybe_upserts(struct msb_sink *sink, struct mongo_sink *m,
    struct outcome *o)
{
	int only_id = -2;

	for (size_t i = 0; i < m->m_ndocs; i++) {
		if (o->o_state[i] != DOC_MAYBE)
			continue;
		if (only_id == -2)
			only_id = only_id_unique(m);
		if (only_id == 0) {
			o->o_state[i] = DOC_REJECTED;	/* o_why[i] says why */
			continue;
		}
		return msb__sink_fail(sink, MSB_TEMPFAIL, "%s: %s (%s)",
		    error_what(MSB_TEMPFAIL), o->o_why[i] ? o->o_why[i] :
		    "upsert: duplicate key", only_id == 1 ? "the _id, "
		    "inserted by another writer meanwhile" : "the indexes "
		    "could not be listed to tell which key");
	}
	return MSB_OK;
}

/* Settles the documents of the batch whose duplicate key is unnamed. */
static int
settle_maybe(struct msb_sink *sink, struct mongo_sink *m, struct outcome *o)
{
	if (m->m_upserting)
		return settle_maybe_upserts(sink, m, o);
	return settle_maybe_inserts(sink, m, o);
}

/* Forgets the pending batch. */
static void
batch_clear(struct mongo_sink *m)
{
	for (size_t i = 0; i < m->m_ndocs; i++)
		bson_destroy(m->m_docs[i]);
	m->m_ndocs = 0;
	m->m_nbytes = 0;
	msb__names_clear(&m->m_ids);
}

/*
 * Tells the app of each rejected document (msb_sink_on_reject) and puts
 * the first reason on the sink. Returns how many were rejected.
 */
static uint64_t
report_rejected(struct msb_sink *sink, struct mongo_sink *m,
    const struct outcome *o)
{
	const char *first = NULL;
	uint64_t n = 0;

	for (size_t i = 0; i < m->m_ndocs; i++) {
		const char *why;

		if (o->o_state[i] != DOC_REJECTED)
			continue;
		why = o->o_why[i] ? o->o_why[i] : "rejected by the server";
		if (n++ == 0)
			first = why;
		if (sink->s_on_reject != NULL)
			sink->s_on_reject(sink->s_on_reject_arg, m->m_seq0 + i,
			    why);
	}
	if (n > 0)
		msb__sink_fail(sink, MSB_OK, "MongoDB: %" PRIu64 " of %zu "
		    "documents rejected; the first: %s", n, m->m_ndocs, first);
	/* s_err is the last word; a result's store_error is the first. */
	if (n > 0 && sink->s_store_err[0] == '\0')
		msb__seterr(sink->s_store_err, sizeof(sink->s_store_err),
		    "MongoDB: %s", first);
	return n;
}

/*
 * Sends the pending batch. Each document ends up written, already there
 * (an insert's duplicate _id) or rejected with the server's reason;
 * anything else fails the batch. A server whose reply does not account
 * for every document it was sent is not trusted on which document an
 * error was about: FerretDB v1 stops an unordered update at its first
 * write error, and reports index 0 and no counts. The batch's documents
 * are then sent again one at a time (an upsert by _id may be repeated;
 * an insert the first send did write is then counted as already there).
 */
static int
execute(struct msb_sink *sink, struct mongo_sink *m)
{
	struct outcome o = { 0 };
	size_t *idx = NULL, nerr;
	uint64_t applied, written = 0, present = 0, rejected = 0;
	int rc = MSB_OK;

	if (m->m_ndocs == 0)
		return MSB_OK;
	/* The caller's last word (a file changed since it was hashed):
	 * the batch is dropped unsent. */
	if ((rc = msb__sink_sending(sink)) != MSB_OK)
		goto out;
	o.o_state = calloc(m->m_ndocs, sizeof(*o.o_state));
	o.o_why = calloc(m->m_ndocs, sizeof(*o.o_why));
	idx = calloc(m->m_ndocs, sizeof(*idx));
	if (o.o_state == NULL || o.o_why == NULL || idx == NULL) {
		rc = msb__sink_fail(sink, MSB_TEMPFAIL, "MongoDB: out of "
		    "memory");
		goto out;
	}
	for (size_t i = 0; i < m->m_ndocs; i++)
		idx[i] = i;
	rc = send_docs(sink, m, idx, m->m_ndocs, &o, &applied, &nerr);
	if (rc != MSB_OK)
		goto out;
	if (applied + nerr >= m->m_ndocs)
		written = applied;
	else {
		memset(o.o_state, 0, m->m_ndocs * sizeof(*o.o_state));
		forget_why(&o, m->m_ndocs);
		for (size_t i = 0; i < m->m_ndocs; i++) {
			rc = send_docs(sink, m, &idx[i], 1, &o, &applied,
			    &nerr);
			if (rc != MSB_OK)
				goto out;
			if (applied + nerr == 0) {
				rc = msb__sink_fail(sink, MSB_ERROR, "MongoDB: "
				    "the server neither wrote a document nor "
				    "said why");
				goto out;
			}
			written += applied;
		}
	}
	if ((rc = settle_maybe(sink, m, &o)) != MSB_OK)
		goto out;
	rejected = report_rejected(sink, m, &o);
	for (size_t i = 0; i < m->m_ndocs; i++)
		present += o.o_state[i] == DOC_PRESENT;
	sink->s_stats.inserted += written;
	sink->s_stats.already_present += present;
	sink->s_stats.rejected += rejected;
out:
	if (o.o_why != NULL)
		forget_why(&o, m->m_ndocs);
	free(o.o_why);
	free(o.o_state);
	free(idx);
	m->m_seq0 += m->m_ndocs;
	batch_clear(m);
	return rc;
}

/*
 * Makes sure the pending batch is for this kind of write: sends a
 * pending batch of the other kind first.
 */
static int
pending(struct msb_sink *sink, struct mongo_sink *m, bool upserting)
{
	int rc;

	if (m->m_ndocs > 0 && m->m_upserting != upserting &&
	    (rc = execute(sink, m)) != MSB_OK)
		return rc;
	m->m_upserting = upserting;
	return MSB_OK;
}

/* Adds a copy of the document to the batch, which goes when full. */
static int
queued(struct msb_sink *sink, struct mongo_sink *m, const bson_t *doc)
{
	bson_t **docs;
	size_t cap;

	if (m->m_ndocs == m->m_cap) {
		cap = m->m_cap ? m->m_cap * 2 : 64;
		if ((docs = realloc(m->m_docs, cap * sizeof(*docs))) == NULL)
			return msb__sink_fail(sink, MSB_TEMPFAIL, "MongoDB: "
			    "out of memory");
		m->m_docs = docs;
		m->m_cap = cap;
	}
	if ((m->m_docs[m->m_ndocs] = bson_copy(doc)) == NULL)
		return msb__sink_fail(sink, MSB_TEMPFAIL, "MongoDB: out of "
		    "memory");
	m->m_ndocs++;
	m->m_nbytes += doc->len;
	if (m->m_ndocs >= sink->s_batch || m->m_nbytes >= MAX_BATCH_BYTES ||
	    (m->m_upserting && m->m_ndocs >= MAX_UPSERT_BATCH))
		return execute(sink, m);
	return MSB_OK;
}

static int
mongo_add(struct msb_sink *sink, const bson_t *doc)
{
	struct mongo_sink *m = sink->s_impl;
	int rc;

	if ((rc = pending(sink, m, false)) != MSB_OK)
		return rc;
	return queued(sink, m, doc);
}

static int
mongo_upsert(struct msb_sink *sink, const bson_t *doc, const char *name)
{
	struct mongo_sink *m = sink->s_impl;
	int rc;

	/* The batch already holds this _id: it goes first (see above). */
	if (m->m_ndocs > 0 && m->m_upserting &&
	    msb__names_has(&m->m_ids, name) && (rc = execute(sink, m)) !=
	    MSB_OK)
		return rc;
	if ((rc = pending(sink, m, true)) != MSB_OK)
		return rc;
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
	batch_clear(m);
	free(m->m_docs);
	msb__names_free(&m->m_ids);
	bson_destroy(m->m_insert_opts);
	bson_destroy(m->m_upsert_opts);
	mongoc_collection_destroy(m->m_coll);
	mongoc_client_destroy(m->m_client);
	free(m);
}

/*
 * libmongoc's messages go out as its own handler prints them, but one:
 * at a client's end libmongoc asks the server to end the sessions it
 * used, and a server without that command (FerretDB) turned it into a
 * WARNING at the end of every app, load and `stats --mongo`. Nothing is
 * lost: a session the server keeps lapses by itself
 * (logicalSessionTimeoutMinutes).
 */
static void
mongo_log(mongoc_log_level_t level, const char *domain, const char *message,
    void *arg)
{
	static const char ends[] = "Couldn't send \"endSessions\"";

	if (level == MONGOC_LOG_LEVEL_WARNING &&
	    strncmp(message, ends, sizeof(ends) - 1) == 0 &&
	    strstr(message, "no such command") != NULL)
		return;
	mongoc_log_default_handler(level, domain, message, arg);
}

void
msb__mongo_init(void)
{
	mongoc_log_set_handler(mongo_log, NULL);
	mongoc_init();
}

void
msb__mongo_cleanup(void)
{
	mongoc_cleanup();
}

int
msb__mongo_each(const char *url, const char *db, const char *collection,
    void (*fn)(void *, const bson_t *), void *arg, char *err, size_t errlen)
{
	mongoc_client_t *client;
	mongoc_collection_t *coll;
	mongoc_cursor_t *cur;
	bson_t filter = BSON_INITIALIZER;
	const bson_t *doc;
	bson_error_t error;
	int rc = MSB_OK;

	if ((client = mongoc_client_new(url)) == NULL) {
		msb__seterr(err, errlen, "the URL is not one libmongoc takes");
		return MSB_ERROR;
	}
	coll = mongoc_client_get_collection(client, db, collection);
	cur = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
	while (mongoc_cursor_next(cur, &doc))
		fn(arg, doc);
	if (mongoc_cursor_error(cur, &error)) {
		msb__seterr(err, errlen, "%s", error.message);
		rc = MSB_ERROR;
	}
	mongoc_cursor_destroy(cur);
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	return rc;
}

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bson/bson.h>

#include "fakemongo.h"

#define OP_REPLY 1
#define OP_QUERY 2004
#define OP_MSG 2013
#define MAX_CONNS 64

struct fakemongo {
	int		 lfd;
	int		 port;
	pthread_t	 acceptor;
	pthread_mutex_t	 mu;
	bool		 stopping;
	int		 conns[MAX_CONNS];
	pthread_t	 threads[MAX_CONNS];
	int		 nconns;

	char		**ids;
	bson_t		**docs;		/* the document of each id */
	size_t		 nids;
	int		 inserts;
	int		 updates;
	int		 write_error;
	char		 dup_key[32];	/* the key a forced 11000 names */
	char		 refuse[32];	/* documents with this field fail */
	bool		 dup_unnamed;	/* ... or not, as FerretDB v1 */
	int		 wc_error;
	bool		 hangup;
	bool		 silent;
	char		 last_wc[256];
};

struct conn {
	struct fakemongo *fm;
	int		 fd;
};

static int32_t
le32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
	    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static void
put32(uint8_t *p, int32_t v)
{
	uint32_t u = (uint32_t)v;

	p[0] = (uint8_t)u;
	p[1] = (uint8_t)(u >> 8);
	p[2] = (uint8_t)(u >> 16);
	p[3] = (uint8_t)(u >> 24);
}

static int
read_full(int fd, uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
write_full(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
hello_reply(bson_t *reply)
{
	BSON_APPEND_BOOL(reply, "helloOk", true);
	BSON_APPEND_BOOL(reply, "ismaster", true);
	BSON_APPEND_BOOL(reply, "isWritablePrimary", true);
	BSON_APPEND_INT32(reply, "maxBsonObjectSize", 16 * 1024 * 1024);
	BSON_APPEND_INT32(reply, "maxMessageSizeBytes", 48000000);
	BSON_APPEND_INT32(reply, "maxWriteBatchSize", 100000);
	BSON_APPEND_DATE_TIME(reply, "localTime", 0);
	BSON_APPEND_INT32(reply, "logicalSessionTimeoutMinutes", 30);
	BSON_APPEND_INT32(reply, "connectionId", 1);
	BSON_APPEND_INT32(reply, "minWireVersion", 0);
	BSON_APPEND_INT32(reply, "maxWireVersion", 13);
	BSON_APPEND_BOOL(reply, "readOnly", false);
	BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}

/* The _id of doc as a string, for the duplicate check. */
static void
id_of(const bson_t *doc, char *buf, size_t len)
{
	bson_iter_t it;

	buf[0] = '\0';
	if (!bson_iter_init_find(&it, doc, "_id"))
		return;
	if (BSON_ITER_HOLDS_UTF8(&it))
		snprintf(buf, len, "s:%s", bson_iter_utf8(&it, NULL));
	else if (BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_INT64(&it))
		snprintf(buf, len, "i:%lld",
		    (long long)bson_iter_as_int64(&it));
	else if (BSON_ITER_HOLDS_OID(&it)) {
		char oid[25];

		bson_oid_to_string(bson_iter_oid(&it), oid);
		snprintf(buf, len, "o:%s", oid);
	}
}

/* The index of id among the stored ones, or -1. */
static ssize_t
find_id(const struct fakemongo *fm, const char *id)
{
	for (size_t k = 0; k < fm->nids; k++)
		if (strcmp(fm->ids[k], id) == 0)
			return (ssize_t)k;
	return -1;
}

static void
store(struct fakemongo *fm, const char *id, const bson_t *doc)
{
	fm->ids = realloc(fm->ids, (fm->nids + 1) * sizeof(char *));
	fm->docs = realloc(fm->docs, (fm->nids + 1) * sizeof(bson_t *));
	fm->ids[fm->nids] = strdup(id);
	fm->docs[fm->nids++] = bson_copy(doc);
}

/*
 * Appends {index, code, errmsg} to a writeErrors array; a duplicate key
 * as mongod 4.4+ words it: keyPattern, keyValue and "index: <key>_ dup
 * key" in errmsg. key is the field of the unique index.
 */
static void
add_write_error(bson_t *errors, uint32_t *nerr, size_t index, int code,
    const char *key, bool unnamed)
{
	char k[16], msg[160];
	bson_t e, kp;

	snprintf(k, sizeof(k), "%u", (*nerr)++);
	BSON_APPEND_DOCUMENT_BEGIN(errors, k, &e);
	BSON_APPEND_INT32(&e, "index", (int32_t)index);
	BSON_APPEND_INT32(&e, "code", code);
	if (code == 11000 && unnamed)
		/* FerretDB v1's words: no index, no keyPattern. */
		BSON_APPEND_UTF8(&e, "errmsg", "E11000 duplicate key error "
		    "collection: acme.listings");
	else if (code == 11000) {
		BSON_APPEND_DOCUMENT_BEGIN(&e, "keyPattern", &kp);
		BSON_APPEND_INT32(&kp, key, 1);
		bson_append_document_end(&e, &kp);
		/* mongod names the _id index "_id_", others "<key>_1". */
		snprintf(msg, sizeof(msg), "E11000 duplicate key error "
		    "collection: acme.x index: %s_%s dup key: { %s: ... }",
		    key, strcmp(key, "_id") == 0 ? "" : "1", key);
		BSON_APPEND_UTF8(&e, "errmsg", msg);
	} else
		BSON_APPEND_UTF8(&e, "errmsg", code == 121 ?
		    "Document failed validation" : "fake write error");
	bson_append_document_end(errors, &e);
}

/* A document the fake's validator refuses (fake_set_refuse). Called
 * locked. */
static bool
refused(const struct fakemongo *fm, const bson_t *doc)
{
	bson_iter_t it;

	return fm->refuse[0] != '\0' &&
	    bson_iter_init_find(&it, doc, fm->refuse);
}

/* What every write command does first: count, hang up, note the write
 * concern. Called locked; false: hang up. */
static bool
write_begin(struct fakemongo *fm, const bson_t *cmd, int *counter)
{
	bson_iter_t it;
	char *json;

	(*counter)++;
	if (fm->hangup || fm->silent)
		return false;
	fm->last_wc[0] = '\0';
	if (bson_iter_init_find(&it, cmd, "writeConcern") &&
	    BSON_ITER_HOLDS_DOCUMENT(&it)) {
		const uint8_t *data;
		uint32_t len;
		bson_t wc;

		bson_iter_document(&it, &len, &data);
		if (bson_init_static(&wc, data, len) &&
		    (json = bson_as_relaxed_extended_json(&wc, NULL)) != NULL) {
			snprintf(fm->last_wc, sizeof(fm->last_wc), "%s", json);
			bson_free(json);
		}
	}
	return true;
}

/* What every write command ends its reply with. Called locked. */
static void
write_end(struct fakemongo *fm, bson_t *reply, bson_t *errors,
    uint32_t nerr)
{
	/* As mongod: writeErrors only when there are some. */
	if (nerr > 0)
		bson_append_array(reply, "writeErrors", -1, errors);
	if (fm->wc_error) {
		bson_t wce;

		BSON_APPEND_DOCUMENT_BEGIN(reply, "writeConcernError", &wce);
		BSON_APPEND_INT32(&wce, "code", fm->wc_error);
		BSON_APPEND_UTF8(&wce, "errmsg", "fake write concern error");
		bson_append_document_end(reply, &wce);
	}
	BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}

/* Runs an insert of ndocs documents; false: hang up instead. */
static bool
insert(struct fakemongo *fm, const bson_t *cmd, bson_t **docs, size_t ndocs,
    bson_t *reply)
{
	bson_t errors = BSON_INITIALIZER;
	int32_t n = 0;
	uint32_t nerr = 0;

	pthread_mutex_lock(&fm->mu);
	if (!write_begin(fm, cmd, &fm->inserts)) {
		pthread_mutex_unlock(&fm->mu);
		bson_destroy(&errors);
		return false;
	}
	for (size_t i = 0; i < ndocs; i++) {
		char id[128];
		int code = refused(fm, docs[i]) ? 121 : fm->write_error;

		id_of(docs[i], id, sizeof(id));
		const char *key = fm->dup_key;

		if (!code && find_id(fm, id) != -1) {
			code = 11000;
			key = "_id";
		}
		if (code) {
			add_write_error(&errors, &nerr, i, code, key,
			    fm->dup_unnamed && code == fm->write_error);
			continue;
		}
		store(fm, id, docs[i]);
		n++;
	}
	BSON_APPEND_INT32(reply, "n", n);
	write_end(fm, reply, &errors, nerr);
	bson_destroy(&errors);
	pthread_mutex_unlock(&fm->mu);
	return true;
}

/*
 * Runs an update of nops statements {q: {_id: X}, u: doc, upsert: true}:
 * replaces the document of X, or stores it. Only replacements by _id
 * are understood (what the sink sends); false: hang up instead.
 */
static bool
update(struct fakemongo *fm, const bson_t *cmd, bson_t **ops, size_t nops,
    bson_t *reply)
{
	bson_t errors = BSON_INITIALIZER, upserted = BSON_INITIALIZER;
	int32_t n = 0, modified = 0;
	uint32_t nerr = 0, nup = 0;

	pthread_mutex_lock(&fm->mu);
	if (!write_begin(fm, cmd, &fm->updates)) {
		pthread_mutex_unlock(&fm->mu);
		bson_destroy(&errors);
		bson_destroy(&upserted);
		return false;
	}
	for (size_t i = 0; i < nops; i++) {
		bson_t q, u, entry;
		bson_iter_t it, qid;
		const uint8_t *data;
		uint32_t len;
		bool upsert = false;
		char id[128], key[16];
		ssize_t k;

		if (fm->write_error) {
			add_write_error(&errors, &nerr, i, fm->write_error,
			    fm->dup_key, fm->dup_unnamed);
			continue;
		}
		if (!bson_iter_init_find(&it, ops[i], "q") ||
		    !BSON_ITER_HOLDS_DOCUMENT(&it))
			abort();
		bson_iter_document(&it, &len, &data);
		bson_init_static(&q, data, len);
		if (!bson_iter_init_find(&it, ops[i], "u") ||
		    !BSON_ITER_HOLDS_DOCUMENT(&it))
			abort();
		bson_iter_document(&it, &len, &data);
		bson_init_static(&u, data, len);
		if (refused(fm, &u)) {
			add_write_error(&errors, &nerr, i, 121, fm->dup_key, false);
			continue;
		}
		if (bson_iter_init_find(&it, ops[i], "upsert"))
			upsert = bson_iter_as_bool(&it);
		id_of(&q, id, sizeof(id));
		if ((k = find_id(fm, id)) != -1) {
			bson_destroy(fm->docs[k]);
			fm->docs[k] = bson_copy(&u);
			n++;
			modified++;
		} else if (upsert) {
			store(fm, id, &u);
			n++;
			snprintf(key, sizeof(key), "%u", nup++);
			BSON_APPEND_DOCUMENT_BEGIN(&upserted, key, &entry);
			BSON_APPEND_INT32(&entry, "index", (int32_t)i);
			if (bson_iter_init_find(&qid, &q, "_id"))
				bson_append_iter(&entry, "_id", 3, &qid);
			bson_append_document_end(&upserted, &entry);
		}
	}
	BSON_APPEND_INT32(reply, "n", n);
	BSON_APPEND_INT32(reply, "nModified", modified);
	if (nup > 0)
		bson_append_array(reply, "upserted", -1, &upserted);
	write_end(fm, reply, &errors, nerr);
	bson_destroy(&errors);
	bson_destroy(&upserted);
	pthread_mutex_unlock(&fm->mu);
	return true;
}

/*
 * listIndexes: the _id index, and a unique one on dup_key when that is
 * not _id (the sink asks when a duplicate key names no index).
 */
static void
list_indexes(struct fakemongo *fm, bson_t *reply)
{
	bson_t cursor, batch, idx, key;

	pthread_mutex_lock(&fm->mu);
	BSON_APPEND_DOCUMENT_BEGIN(reply, "cursor", &cursor);
	BSON_APPEND_INT64(&cursor, "id", 0);
	BSON_APPEND_UTF8(&cursor, "ns", "acme.listings");
	BSON_APPEND_ARRAY_BEGIN(&cursor, "firstBatch", &batch);
	BSON_APPEND_DOCUMENT_BEGIN(&batch, "0", &idx);
	BSON_APPEND_INT32(&idx, "v", 2);
	BSON_APPEND_DOCUMENT_BEGIN(&idx, "key", &key);
	BSON_APPEND_INT32(&key, "_id", 1);
	bson_append_document_end(&idx, &key);
	BSON_APPEND_UTF8(&idx, "name", "_id_");
	bson_append_document_end(&batch, &idx);
	if (strcmp(fm->dup_key, "_id") != 0) {
		char name[40];

		snprintf(name, sizeof(name), "%s_1", fm->dup_key);
		BSON_APPEND_DOCUMENT_BEGIN(&batch, "1", &idx);
		BSON_APPEND_INT32(&idx, "v", 2);
		BSON_APPEND_DOCUMENT_BEGIN(&idx, "key", &key);
		BSON_APPEND_INT32(&key, fm->dup_key, 1);
		bson_append_document_end(&idx, &key);
		BSON_APPEND_UTF8(&idx, "name", name);
		BSON_APPEND_BOOL(&idx, "unique", true);
		bson_append_document_end(&batch, &idx);
	}
	bson_append_array_end(&cursor, &batch);
	bson_append_document_end(reply, &cursor);
	BSON_APPEND_DOUBLE(reply, "ok", 1.0);
	pthread_mutex_unlock(&fm->mu);
}

/* Answers one OP_MSG; false: close the connection. */
static bool
op_msg(struct fakemongo *fm, int fd, int32_t reqid, const uint8_t *p,
    size_t len)
{
	uint32_t flags = (uint32_t)le32(p);
	size_t off = 4, end = len - ((flags & 1) ? 4 : 0);
	bson_t body, *docs[256], reply = BSON_INITIALIZER;
	size_t ndocs = 0;
	bool have_body = false, ok = true;
	bson_iter_t it;
	const char *cmd;
	uint8_t hdr[21];
	const uint8_t *data;
	uint32_t rlen;

	while (off < end) {
		uint8_t kind = p[off++];

		if (kind == 0) {
			int32_t dlen = le32(p + off);

			bson_init_static(&body, p + off, (size_t)dlen);
			have_body = true;
			off += (size_t)dlen;
		} else {
			int32_t slen = le32(p + off);
			size_t send = off + (size_t)slen, q = off + 4;

			q += strlen((const char *)p + q) + 1;
			while (q < send && ndocs < 256) {
				int32_t dlen = le32(p + q);

				docs[ndocs++] = bson_new_from_data(p + q,
				    (size_t)dlen);
				q += (size_t)dlen;
			}
			off = send;
		}
	}
	if (!have_body || !bson_iter_init(&it, &body) || !bson_iter_next(&it))
		return false;
	cmd = bson_iter_key(&it);
	if (strcmp(cmd, "hello") == 0 || strcasecmp(cmd, "isMaster") == 0)
		hello_reply(&reply);
	else if (strcmp(cmd, "insert") == 0)
		ok = insert(fm, &body, docs, ndocs, &reply);
	else if (strcmp(cmd, "update") == 0)
		ok = update(fm, &body, docs, ndocs, &reply);
	else if (strcmp(cmd, "listIndexes") == 0)
		list_indexes(fm, &reply);
	else
		BSON_APPEND_DOUBLE(&reply, "ok", 1.0);
	for (size_t i = 0; i < ndocs; i++)
		bson_destroy(docs[i]);
	/* moreToCome (w:0): the client expects no reply. */
	if (ok && !(flags & 2)) {
		data = bson_get_data(&reply);
		rlen = reply.len;
		put32(hdr, (int32_t)(21 + rlen));
		put32(hdr + 4, reqid + 1000000);
		put32(hdr + 8, reqid);
		put32(hdr + 12, OP_MSG);
		put32(hdr + 16, 0);
		hdr[20] = 0;
		if (write_full(fd, hdr, sizeof(hdr)) == -1 ||
		    write_full(fd, data, rlen) == -1)
			ok = false;
	}
	bson_destroy(&reply);
	return ok;
}

/* Answers the legacy OP_QUERY handshake (isMaster on admin.$cmd). */
static bool
op_query(int fd, int32_t reqid, const uint8_t *p, size_t len)
{
	bson_t reply = BSON_INITIALIZER;
	uint8_t hdr[36];
	bool ok;

	(void)p;
	(void)len;
	hello_reply(&reply);
	put32(hdr, (int32_t)(36 + reply.len));
	put32(hdr + 4, reqid + 1000000);
	put32(hdr + 8, reqid);
	put32(hdr + 12, OP_REPLY);
	put32(hdr + 16, 0);		/* responseFlags */
	memset(hdr + 20, 0, 8);		/* cursorID */
	put32(hdr + 28, 0);		/* startingFrom */
	put32(hdr + 32, 1);		/* numberReturned */
	ok = write_full(fd, hdr, sizeof(hdr)) == 0 &&
	    write_full(fd, bson_get_data(&reply), reply.len) == 0;
	bson_destroy(&reply);
	return ok;
}

static bool
is_silent(struct fakemongo *fm)
{
	bool silent;

	pthread_mutex_lock(&fm->mu);
	silent = fm->silent;
	pthread_mutex_unlock(&fm->mu);
	return silent;
}

static void *
serve(void *arg)
{
	struct conn *c = arg;
	uint8_t hdr[16], *body;

	for (;;) {
		int32_t len, reqid, op;
		bool ok;

		if (read_full(c->fd, hdr, sizeof(hdr)) == -1)
			break;
		len = le32(hdr);
		reqid = le32(hdr + 4);
		op = le32(hdr + 12);
		if (len < 16 || len > 64 * 1024 * 1024)
			break;
		body = malloc((size_t)len - 16);
		if (read_full(c->fd, body, (size_t)len - 16) == -1) {
			free(body);
			break;
		}
		if (op == OP_MSG)
			ok = op_msg(c->fm, c->fd, reqid, body, (size_t)len - 16);
		else if (op == OP_QUERY)
			ok = op_query(c->fd, reqid, body, (size_t)len - 16);
		else
			ok = false;
		free(body);
		if (!ok)
			break;
	}
	/* Silent: the connection stays open, unanswered, until the client
	 * (or fake_stop) closes it. */
	while (is_silent(c->fm) && read(c->fd, hdr, sizeof(hdr)) > 0)
		;
	shutdown(c->fd, SHUT_RDWR);
	free(c);
	return NULL;
}

static void *
acceptor(void *arg)
{
	struct fakemongo *fm = arg;

	for (;;) {
		int fd = accept(fm->lfd, NULL, NULL);
		struct conn *c;

		if (fd == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		pthread_mutex_lock(&fm->mu);
		if (fm->stopping || fm->nconns == MAX_CONNS) {
			pthread_mutex_unlock(&fm->mu);
			close(fd);
			break;
		}
		c = malloc(sizeof(*c));
		c->fm = fm;
		c->fd = fd;
		fm->conns[fm->nconns] = fd;
		pthread_create(&fm->threads[fm->nconns], NULL, serve, c);
		fm->nconns++;
		pthread_mutex_unlock(&fm->mu);
	}
	return NULL;
}

struct fakemongo *
fake_start(void)
{
	struct fakemongo *fm = calloc(1, sizeof(*fm));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);

	pthread_mutex_init(&fm->mu, NULL);
	strcpy(fm->dup_key, "_id");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fm->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fm->lfd == -1 || bind(fm->lfd, (struct sockaddr *)&sa,
	    sizeof(sa)) == -1 || listen(fm->lfd, 16) == -1 ||
	    getsockname(fm->lfd, (struct sockaddr *)&sa, &salen) == -1) {
		perror("fakemongo");
		abort();
	}
	fm->port = ntohs(sa.sin_port);
	pthread_create(&fm->acceptor, NULL, acceptor, fm);
	return fm;
}

void
fake_stop(struct fakemongo *fm)
{
	pthread_mutex_lock(&fm->mu);
	fm->stopping = true;
	pthread_mutex_unlock(&fm->mu);
	shutdown(fm->lfd, SHUT_RDWR);
	pthread_join(fm->acceptor, NULL);
	close(fm->lfd);
	for (int i = 0; i < fm->nconns; i++) {
		shutdown(fm->conns[i], SHUT_RDWR);
		pthread_join(fm->threads[i], NULL);
		close(fm->conns[i]);
	}
	for (size_t i = 0; i < fm->nids; i++) {
		free(fm->ids[i]);
		bson_destroy(fm->docs[i]);
	}
	free(fm->ids);
	free(fm->docs);
	pthread_mutex_destroy(&fm->mu);
	free(fm);
}

int
fake_port(const struct fakemongo *fm)
{
	return fm->port;
}

void
fake_set_write_error(struct fakemongo *fm, int code)
{
	pthread_mutex_lock(&fm->mu);
	fm->write_error = code;
	pthread_mutex_unlock(&fm->mu);
}

void
fake_set_refuse(struct fakemongo *fm, const char *field)
{
	pthread_mutex_lock(&fm->mu);
	snprintf(fm->refuse, sizeof(fm->refuse), "%s", field);
	pthread_mutex_unlock(&fm->mu);
}

void
fake_set_dup_key(struct fakemongo *fm, const char *key)
{
	pthread_mutex_lock(&fm->mu);
	snprintf(fm->dup_key, sizeof(fm->dup_key), "%s", key);
	pthread_mutex_unlock(&fm->mu);
}

void
fake_set_dup_unnamed(struct fakemongo *fm, bool on)
{
	pthread_mutex_lock(&fm->mu);
	fm->dup_unnamed = on;
	pthread_mutex_unlock(&fm->mu);
}

void
fake_set_wc_error(struct fakemongo *fm, int code)
{
	pthread_mutex_lock(&fm->mu);
	fm->wc_error = code;
	pthread_mutex_unlock(&fm->mu);
}

void
fake_set_hangup(struct fakemongo *fm, bool on)
{
	pthread_mutex_lock(&fm->mu);
	fm->hangup = on;
	pthread_mutex_unlock(&fm->mu);
}

void
fake_set_silent(struct fakemongo *fm, bool on)
{
	pthread_mutex_lock(&fm->mu);
	fm->silent = on;
	pthread_mutex_unlock(&fm->mu);
}

size_t
fake_count(struct fakemongo *fm)
{
	size_t n;

	pthread_mutex_lock(&fm->mu);
	n = fm->nids;
	pthread_mutex_unlock(&fm->mu);
	return n;
}

int
fake_updates(struct fakemongo *fm)
{
	int n;

	pthread_mutex_lock(&fm->mu);
	n = fm->updates;
	pthread_mutex_unlock(&fm->mu);
	return n;
}

bson_t *
fake_find(struct fakemongo *fm, const char *id)
{
	bson_t *doc = NULL;
	ssize_t k;

	pthread_mutex_lock(&fm->mu);
	if ((k = find_id(fm, id)) != -1)
		doc = bson_copy(fm->docs[k]);
	pthread_mutex_unlock(&fm->mu);
	return doc;
}

int
fake_inserts(struct fakemongo *fm)
{
	int n;

	pthread_mutex_lock(&fm->mu);
	n = fm->inserts;
	pthread_mutex_unlock(&fm->mu);
	return n;
}

void
fake_last_wc(struct fakemongo *fm, char *buf, size_t len)
{
	pthread_mutex_lock(&fm->mu);
	snprintf(buf, len, "%s", fm->last_wc);
	pthread_mutex_unlock(&fm->mu);
}

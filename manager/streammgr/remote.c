/*
 * The TCP listener for producers on other hosts (remote.h).
 *
 * Authentication is CurveZMQ's: the node's secret key proves the node to
 * producers that pinned its public key, and the ZAP handler (RFC 27),
 * served here on the loop, decides on each client key as it connects.
 * Authorisation is per message: the User-Id the handler gave the
 * connection is the client's key, and a message is admitted only when
 * the tenant of the stream it names lists that key now, so a key taken
 * out of a profile stops working at the reload, even on a connection
 * made before.
 */
#include "remote.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "clock.h"
#include "conf.h"
#include "curvekey.h"
#include "log.h"
#include "stream.h"
#include "zevent.h"

#define ZAP_ENDPOINT	"inproc://zeromq.zap.01"
#define ZAP_FRAMES	8	/* a CURVE request has 7 */
#define LOG_EVERY_MS	1000	/* a kind of refusal logged at most */
#define HEARTBEAT_MS	10000	/* finds peers gone without a word */
#define SNDHWM		100000
#define FRAME_MAX	((int64_t)(256 << 20))	/* as stream.c's */

enum refusal { R_UNKNOWN_KEY, R_FORBIDDEN, R_UNKNOWN_STREAM, R_COUNT };

struct remote {
	struct smgr	*r_mgr;
	void		*r_sock;	/* ROUTER on remote.listen */
	void		*r_zap;		/* REP: the ZAP handler */
	struct zevent	*r_ev;
	struct zevent	*r_zap_ev;
	char		*r_listen;
	uint64_t	 r_admitted;	/* handshakes let in */
	uint64_t	 r_refused[R_COUNT];
	uint64_t	 r_last_ms[R_COUNT];
	uint64_t	 r_unlogged[R_COUNT];
};

static const char *const refusal_names[R_COUNT] = {
	"unknown_keys", "forbidden", "unknown_streams"
};

/* Counts a refusal; logs it at most once a second per kind. */
static void LOG_FMT(3, 4)
refused(struct remote *r, enum refusal kind, const char *fmt, ...)
{
	uint64_t now = clock_mono_ms();
	char text[400];
	va_list ap;

	r->r_refused[kind]++;
	if (r->r_last_ms[kind] != 0 && now - r->r_last_ms[kind] < LOG_EVERY_MS) {
		r->r_unlogged[kind]++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_warnx("remote: %s (%" PRIu64 " more refused since the last "
	    "report)", text, r->r_unlogged[kind]);
	r->r_last_ms[kind] = now;
	r->r_unlogged[kind] = 0;
}

static bool
lists_key(const struct conf_tenant *t, const char *key)
{
	for (char **k = t->t_producer_keys; k && *k; k++)
		if (strcmp(*k, key) == 0)
			return true;
	return false;
}

/* The profile of a tenant with a stream on this node, or NULL. */
static const struct conf_tenant *
tenant_conf(const struct smgr *m, const char *tid)
{
	const struct stream *s;

	TAILQ_FOREACH(s, &m->m_streams, s_entry)
		if (strcmp(s->s_tid, tid) == 0 &&
		    s->s_sv.sv_state != SV_RETIRING)
			return s->s_tenant;
	return NULL;
}

/*
 * The one tenant that lists key, or NULL with why: none does, or more
 * than one (a mistake in the profiles that must not pick either).
 */
static const struct conf_tenant *
key_owner(const struct smgr *m, const char *key, char *why, size_t whylen)
{
	const struct conf_tenant *owner = NULL;
	const struct stream *s;

	TAILQ_FOREACH(s, &m->m_streams, s_entry) {
		if (s->s_tenant == owner || !lists_key(s->s_tenant, key))
			continue;
		if (owner != NULL && strcmp(owner->t_id, s->s_tid) != 0) {
			snprintf(why, whylen, "key %s is listed by tenants %s "
			    "and %s: refused until one removes it", key,
			    owner->t_id, s->s_tid);
			return NULL;
		}
		owner = s->s_tenant;
	}
	if (owner == NULL)
		snprintf(why, whylen, "key %s is no tenant's producer key",
		    key);
	return owner;
}

/* Receives up to ZAP_FRAMES frames of a request; returns how many. */
static int
zap_recv(void *sock, zmq_msg_t f[ZAP_FRAMES])
{
	int n = 0, more = 1;
	zmq_msg_t extra;

	for (int k = 0; k < ZAP_FRAMES; k++)
		zmq_msg_init(&f[k]);
	while (more && n < ZAP_FRAMES) {
		if (zmq_msg_recv(&f[n], sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0)
			return n;
		more = zmq_msg_more(&f[n++]);
	}
	zmq_msg_init(&extra);
	while (more && zmq_msg_recv(&extra, sock, 0) >= 0)
		more = zmq_msg_more(&extra);
	zmq_msg_close(&extra);
	return n;
}

static void
zap_reply(void *sock, zmq_msg_t *reqid, const char *code, const char *text,
    const char *user)
{
	zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
	zmq_msg_send(reqid, sock, ZMQ_SNDMORE);
	zmq_send(sock, code, strlen(code), ZMQ_SNDMORE);
	zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(sock, "", 0, 0);
}

static bool
frame_is(zmq_msg_t *f, const char *s)
{
	return zmq_msg_size(f) == strlen(s) &&
	    memcmp(zmq_msg_data(f), s, strlen(s)) == 0;
}

/*
 * One ZAP request: [version][request id][domain][address][identity]
 * [mechanism][client key]. A CURVE key that one tenant lists is let in
 * with the key as User-Id; anything else is refused (400).
 */
static void
zap_one(struct remote *r, zmq_msg_t f[ZAP_FRAMES], int n)
{
	char key[CURVEKEY_Z85_LEN + 1], why[300], addr[64];
	const struct conf_tenant *t;

	if (n < 6 || !frame_is(&f[0], "1.0")) {
		refused(r, R_UNKNOWN_KEY, "a malformed ZAP request");
		if (n >= 2)
			zap_reply(r->r_zap, &f[1], "500", "malformed", "");
		return;
	}
	snprintf(addr, sizeof(addr), "%.*s", (int)zmq_msg_size(&f[3]),
	    (const char *)zmq_msg_data(&f[3]));
	if (n != 7 || !frame_is(&f[5], "CURVE") || zmq_msg_size(&f[6]) != 32) {
		refused(r, R_UNKNOWN_KEY, "%s: not a CURVE client", addr);
		zap_reply(r->r_zap, &f[1], "400", "CURVE only", "");
		return;
	}
	zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);
	if ((t = key_owner(r->r_mgr, key, why, sizeof(why))) == NULL) {
		refused(r, R_UNKNOWN_KEY, "%s: %s", addr, why);
		zap_reply(r->r_zap, &f[1], "400", "unknown key", "");
		return;
	}
	r->r_admitted++;
	log_debug("remote: %s: key %s of tenant %s let in", addr, key,
	    t->t_id);
	zap_reply(r->r_zap, &f[1], "200", "OK", key);
}

static void
on_zap(void *sock, void *arg)
{
	struct remote *r = arg;
	zmq_msg_t f[ZAP_FRAMES];
	int n;

	/* Requests are few (one per connection): all of them, each turn. */
	for (int turn = 0; turn < 64 && (n = zap_recv(sock, f)) > 0; turn++) {
		zap_one(r, f, n);
		for (int k = 0; k < ZAP_FRAMES; k++)
			zmq_msg_close(&f[k]);
	}
}

int
remote_parse_route(const void *data, size_t len, char *tenant, char *stream)
{
	const char *p = data, *slash = memchr(p, '/', len);
	size_t tl;

	if (slash == NULL || memchr(p, '\0', len) != NULL)
		return -1;
	tl = (size_t)(slash - p);
	if (tl == 0 || tl > TENANT_ID_MAX || len - tl - 1 == 0 ||
	    len - tl - 1 > TENANT_ID_MAX)
		return -1;
	memcpy(tenant, p, tl);
	tenant[tl] = '\0';
	memcpy(stream, slash + 1, len - tl - 1);
	stream[len - tl - 1] = '\0';
	return conf_valid_id(tenant) && conf_valid_id(stream) ? 0 : -1;
}

/* stream_route_fn: the stream a message names, if its key may send. */
static struct stream *
route(void *arg, void *frame, char *why, size_t whylen)
{
	struct remote *r = arg;
	zmq_msg_t *f = frame;
	const char *key = zmq_msg_gets(f, "User-Id");
	char tid[TENANT_ID_MAX + 1], name[TENANT_ID_MAX + 1];
	const struct conf_tenant *t;
	struct stream *s;

	if (remote_parse_route(zmq_msg_data(f), zmq_msg_size(f), tid,
	    name) < 0) {
		refused(r, R_UNKNOWN_STREAM, "a message that names no stream "
		    "(\"%.64s\")", (const char *)zmq_msg_data(f));
		snprintf(why, whylen, "REJECT malformed: the first frame must "
		    "be TENANT/STREAM");
		return NULL;
	}
	/* The tenant first: whether B has a stream is none of A's business. */
	if (key == NULL || (t = tenant_conf(r->r_mgr, tid)) == NULL ||
	    !lists_key(t, key)) {
		refused(r, R_FORBIDDEN, "key %s may not send to tenant %s's "
		    "streams", key ? key : "(none)", tid);
		snprintf(why, whylen, "REJECT forbidden: this key is not one "
		    "of tenant %s's producer_keys", tid);
		return NULL;
	}
	if ((s = stream_find(r->r_mgr, tid, name)) == NULL) {
		refused(r, R_UNKNOWN_STREAM, "tenant %s: no stream %s", tid,
		    name);
		snprintf(why, whylen, "REJECT unknown-stream: tenant %s has "
		    "no stream %s on this node", tid, name);
		return NULL;
	}
	return s;
}

static void
on_producers(void *sock, void *arg)
{
	struct remote *r = arg;
	struct ingress in = { .sock = sock, .ev = r->r_ev, .route = route,
	    .arg = r };

	stream_ingress(&in);
}

static void *
socket_or_die(void *ctx, int type)
{
	void *sock = zmq_socket(ctx, type);

	if (sock == NULL)
		fatalx("zmq_socket: %s", zmq_strerror(errno));
	return sock;
}

/* The ROUTER producers connect to: CURVE server, heartbeats. */
static void *
listener(struct smgr *m, const struct curvekey *k)
{
	void *sock = socket_or_die(m->m_zctx, ZMQ_ROUTER);
	int zero = 0, one = 1, hwm = SNDHWM, hb = HEARTBEAT_MS,
	    hbttl = 3 * HEARTBEAT_MS;
	int64_t frame_max = FRAME_MAX;

	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &frame_max, sizeof(frame_max));
	zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb));
	zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &hbttl, sizeof(hbttl));
	zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one));
	zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->ck_secret,
	    CURVEKEY_Z85_LEN + 1);
	zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "mysimbdp", 8);
	return sock;
}

int
remote_start(struct smgr *m, char *err, size_t errlen)
{
	const struct conf_platform_remote *c = &m->m_conf->p_remote;
	struct remote *r;
	struct curvekey k;
	char kerr[300], bound[256];
	size_t boundlen = sizeof(bound);

	if (c->pr_listen == NULL)
		return 0;
	if (curvekey_load(c->pr_server_key, true, &k, kerr,
	    sizeof(kerr)) < 0) {
		snprintf(err, errlen, "%s: remote.server_key: %s",
		    m->m_conf->p_file, kerr);
		return -1;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("%s: calloc", __func__);
	r->r_mgr = m;
	/* The handler first: CURVE without one would let every key in. */
	r->r_zap = socket_or_die(m->m_zctx, ZMQ_REP);
	if (zmq_bind(r->r_zap, ZAP_ENDPOINT) < 0)
		fatalx("bind %s: %s", ZAP_ENDPOINT, zmq_strerror(errno));
	r->r_sock = listener(m, &k);
	explicit_bzero(&k, sizeof(k));
	if (zmq_bind(r->r_sock, c->pr_listen) < 0) {
		snprintf(err, errlen, "%s: remote.listen: bind %s: %s",
		    m->m_conf->p_file, c->pr_listen, zmq_strerror(errno));
		m->m_remote = r;
		remote_stop(m);
		return -1;
	}
	/* The address bound: PORT "*" takes any free one. */
	if (zmq_getsockopt(r->r_sock, ZMQ_LAST_ENDPOINT, bound,
	    &boundlen) < 0 || (r->r_listen = strdup(bound)) == NULL)
		fatal("%s: the bound address", __func__);
	r->r_zap_ev = zevent_new(m->m_base, r->r_zap, on_zap, r);
	r->r_ev = zevent_new(m->m_base, r->r_sock, on_producers, r);
	if (r->r_zap_ev == NULL || r->r_ev == NULL)
		fatalx("%s: cannot watch the sockets", __func__);
	m->m_remote = r;
	log_info("remote: producers on %s (CURVE, server key %s)",
	    r->r_listen, c->pr_server_key);
	return 0;
}

void
remote_stop(struct smgr *m)
{
	struct remote *r = m->m_remote;

	if (r == NULL)
		return;
	zevent_free(r->r_ev);
	zevent_free(r->r_zap_ev);
	if (r->r_sock)
		zmq_close(r->r_sock);
	if (r->r_zap)
		zmq_close(r->r_zap);
	free(r->r_listen);
	free(r);
	m->m_remote = NULL;
}

void
remote_stats(const struct smgr *m, bson_t *doc)
{
	const struct remote *r = m->m_remote;
	bson_t sub;

	if (r == NULL)
		return;
	BSON_APPEND_DOCUMENT_BEGIN(doc, "remote", &sub);
	BSON_APPEND_UTF8(&sub, "listen", r->r_listen);
	BSON_APPEND_INT64(&sub, "admitted", (int64_t)r->r_admitted);
	for (int k = 0; k < R_COUNT; k++)
		BSON_APPEND_INT64(&sub, refusal_names[k],
		    (int64_t)r->r_refused[k]);
	bson_append_document_end(doc, &sub);
}

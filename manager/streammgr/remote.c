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
#include "ctlsock.h"
#include "curvekey.h"
#include "log.h"
#include "lograte.h"
#include "stream.h"
#include "zap.h"
#include "zevent.h"

/*
 * Room for a batch (protocol 2) beyond the largest max_message_size:
 * libmysimbdp's batches are at most 64 KiB unless a producer sets more.
 */
#define BATCH_ROOM	(1 << 20)

enum refusal { R_UNKNOWN_KEY, R_FORBIDDEN, R_UNKNOWN_STREAM,
	R_UNKNOWN_OPERATOR, R_COUNT };

struct remote {
	struct smgr	*r_mgr;
	struct zap	*r_zap;
	void		*r_sock;	/* ROUTER on remote.listen */
	struct zevent	*r_ev;
	char		*r_listen;	/* as bound */
	char		*r_control;	/* operators: PORT + 1, or NULL */
	uint64_t	 r_frame_max;	/* producers' frames, set at the bind */
	uint64_t	 r_admitted;	/* handshakes let in */
	uint64_t	 r_refused[R_COUNT];
	struct lograte	 r_logged[R_COUNT];
};

static const char *const refusal_names[R_COUNT] = {
	"unknown_keys", "forbidden", "unknown_streams", "unknown_operators"
};

/* Counts a refusal; logs it at most once a second per kind. */
static void LOG_FMT(3, 4)
refused(struct remote *r, enum refusal kind, const char *fmt, ...)
{
	uint64_t unlogged;
	char text[400];
	va_list ap;

	r->r_refused[kind]++;
	if (!lograte_due(&r->r_logged[kind], clock_mono_ms(), &unlogged))
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_warnx("remote: %s (%" PRIu64 " more refused since the last "
	    "report)", text, unlogged);
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

	/* A retiring stream's tenant left (or dropped the stream): its keys
	 * are free for another, however long its backlog takes. */
	TAILQ_FOREACH(s, &m->m_streams, s_entry) {
		if (s->s_sv.sv_state == SV_RETIRING || s->s_tenant == owner ||
		    !zap_key_listed(s->s_tenant->t_producer_keys, key))
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

/*
 * zap_decide_fn: a producer's key that exactly one tenant lists, or an
 * operator's key the platform file lists. The producer's User-Id is its
 * key, checked again against the stream's tenant for each message.
 */
static bool
decide(void *arg, const char *domain, const char *key, const char *address,
    char *user, size_t userlen)
{
	struct remote *r = arg;
	char why[300];

	if (strcmp(domain, ZAP_OPERATORS) == 0) {
		if (zap_key_listed(r->r_mgr->m_conf->p_remote.pr_operator_keys, key)) {
			log_info("remote: %s: operator key %s let in", address,
			    key);
			snprintf(user, userlen, "%s", key);
			return true;
		}
		refused(r, R_UNKNOWN_OPERATOR, "%s: key %s is not one of "
		    "remote.operator_keys", address, key);
		return false;
	}
	if (key_owner(r->r_mgr, key, why, sizeof(why)) == NULL) {
		refused(r, R_UNKNOWN_KEY, "%s: %s", address, why);
		return false;
	}
	r->r_admitted++;
	log_debug("remote: %s: producer key %s let in", address, key);
	snprintf(user, userlen, "%s", key);
	return true;
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
	const struct conf_node *n;
	struct stream *s;

	if (remote_parse_route(zmq_msg_data(f), zmq_msg_size(f), tid,
	    name) < 0) {
		refused(r, R_UNKNOWN_STREAM, "a message that names no stream "
		    "(\"%.*s\")", (int)(zmq_msg_size(f) < 64 ?
		    zmq_msg_size(f) : 64), (const char *)zmq_msg_data(f));
		snprintf(why, whylen, "REJECT malformed: the first frame must "
		    "be TENANT/STREAM");
		return NULL;
	}
	/*
	 * The stream found, the tenant is its profile; the walk over every
	 * stream is left to refusals and to retiring streams.
	 */
	s = stream_find(r->r_mgr, tid, name);
	t = s != NULL && s->s_sv.sv_state != SV_RETIRING ? s->s_tenant :
	    tenant_conf(r->r_mgr, tid);
	/*
	 * A tenant moved to another node (the cluster file says which, and
	 * its public key, which a producer that trusts this node may take):
	 * try again there. Said to any admitted key: which node serves a
	 * tenant is no secret among the cluster's producers. Not when the
	 * file gives it to this node, which has no profile for it: that
	 * would send the producer here again.
	 */
	if (key != NULL && t == NULL &&
	    (n = conf_cluster_tenant_node(r->r_mgr->m_conf->p_cluster,
	    tid)) != NULL && !conf_serves_tenant(r->r_mgr->m_conf, tid)) {
		snprintf(why, whylen, "THROTTLE moved: tenant %s is served by "
		    "node %s at %s key %s", tid, n->n_name, n->n_address,
		    n->n_server_key);
		return NULL;
	}
	/* The tenant first: whether B has a stream is none of A's business. */
	if (key == NULL || t == NULL ||
	    !zap_key_listed(t->t_producer_keys, key)) {
		refused(r, R_FORBIDDEN, "key %s may not send to tenant %s's "
		    "streams", key ? key : "(none)", tid);
		snprintf(why, whylen, "REJECT forbidden: this key is not one "
		    "of tenant %s's producer_keys", tid);
		return NULL;
	}
	if (s == NULL) {
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

/*
 * ctlsock_allow_fn: an operator's key is checked at each request, as a
 * producer's is at each message, so that a reload that takes it out of
 * remote.operator_keys also stops a connection made before.
 */
static int
operator_allowed(void *arg, const char *key, char *err, size_t errlen)
{
	struct remote *r = arg;

	if (key != NULL &&
	    zap_key_listed(r->r_mgr->m_conf->p_remote.pr_operator_keys, key))
		return 0;
	refused(r, R_UNKNOWN_OPERATOR, "a request from key %s, no longer "
	    "one of remote.operator_keys", key ? key : "(none)");
	return ctlsock_fail(err, errlen, "operator key %s is not one of "
	    "remote.operator_keys", key ? key : "(none)");
}

/* The operators' control socket: streammgr's requests at PORT + 1. */
static int
open_control(struct remote *r, const struct curvekey *k, char *err,
    size_t errlen)
{
	struct smgr *m = r->r_mgr;
	char berr[300];
	void *sock;

	if (m->m_conf->p_remote.pr_operator_keys == NULL ||
	    m->m_conf->p_remote.pr_operator_keys[0] == NULL)
		return 0;
	r->r_control = conf_remote_endpoint(m->m_conf->p_remote.pr_listen,
	    CONF_CONTROL_STREAMMGR);
	if ((sock = zap_curve_router(m->m_zctx, k, ZAP_OPERATORS,
	    CTLSOCK_REQ_MAX + ZAP_FRAME_SLACK, r->r_control, berr,
	    sizeof(berr))) == NULL) {
		snprintf(err, errlen, "%s: remote.operator_keys: control "
		    "socket: %s", m->m_conf->p_file, berr);
		return -1;
	}
	if (ctlsock_add_remote(m->m_ctl, m->m_base, sock, operator_allowed,
	    r) < 0)
		fatalx("%s: cannot watch the control socket", __func__);
	log_info("remote: operators on %s (CURVE)", r->r_control);
	return 0;
}

/*
 * The largest frame the producers' port takes: the largest message of
 * the node's streams or a batch of BATCH_ROOM, whichever is larger, in
 * CURVE's box. The bound is what a stranger can make streammgr hold
 * while its handshake lasts (zap.h), so it follows the profiles rather
 * than the 256 MiB any stream may set.
 */
static uint64_t
producer_frame_max(const struct conf_tenant_set *set)
{
	uint64_t largest = BATCH_ROOM;

	for (size_t i = 0; i < set->ts_count; i++)
		for (size_t j = 0; j < set->ts_tenants[i]->t_nstreams; j++)
			if (set->ts_tenants[i]->t_streams[j].s_max_message_size >
			    largest)
				largest = set->ts_tenants[i]->
				    t_streams[j].s_max_message_size;
	return largest + ZAP_FRAME_SLACK;
}

void
remote_reloaded(struct smgr *m)
{
	const struct remote *r = m->m_remote;
	const struct stream *s;

	if (r == NULL)
		return;
	TAILQ_FOREACH(s, &m->m_streams, s_entry)
		if (s->s_sv.sv_state != SV_RETIRING &&
		    s->s_conf->s_max_message_size + ZAP_FRAME_SLACK >
		    r->r_frame_max)
			log_warnx("remote: tenant %s: stream %s: "
			    "max_message_size %" PRIu64 " is over what the "
			    "producers' port was opened for (%" PRIu64
			    " bytes a frame): a larger message from another "
			    "host cuts its connection until streammgr "
			    "restarts", s->s_tid, s->s_name,
			    s->s_conf->s_max_message_size,
			    r->r_frame_max - ZAP_FRAME_SLACK);
}

int
remote_start(struct smgr *m, const struct conf_tenant_set *set, char *err,
    size_t errlen)
{
	const struct conf_platform_remote *c = &m->m_conf->p_remote;
	struct remote *r;
	struct curvekey k;
	char kerr[300], bound[256];
	size_t boundlen = sizeof(bound);

	if (c->pr_listen == NULL)
		return 0;
	if (zap_server_key(m->m_conf, &k, err, errlen) < 0)
		return -1;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("%s: calloc", __func__);
	r->r_mgr = m;
	r->r_frame_max = producer_frame_max(set);
	m->m_remote = r;
	/* The handler first: CURVE without one would let every key in. */
	r->r_zap = zap_open(m->m_base, m->m_zctx, decide, r);
	if ((r->r_sock = zap_curve_router(m->m_zctx, &k, ZAP_PRODUCERS,
	    (int64_t)r->r_frame_max, c->pr_listen, kerr,
	    sizeof(kerr))) == NULL) {
		snprintf(err, errlen, "%s: remote.listen: %s",
		    m->m_conf->p_file, kerr);
		explicit_bzero(&k, sizeof(k));
		remote_stop(m);
		return -1;
	}
	/* The address bound: PORT "*" takes any free one. */
	if (zmq_getsockopt(r->r_sock, ZMQ_LAST_ENDPOINT, bound,
	    &boundlen) < 0 || (r->r_listen = strdup(bound)) == NULL)
		fatal("%s: the bound address", __func__);
	if ((r->r_ev = zevent_new(m->m_base, r->r_sock, on_producers,
	    r)) == NULL)
		fatalx("%s: cannot watch the sockets", __func__);
	log_info("remote: producers on %s (CURVE, server key %s, frames "
	    "up to %" PRIu64 " bytes)", r->r_listen, c->pr_server_key,
	    r->r_frame_max);
	if (open_control(r, &k, err, errlen) < 0) {
		explicit_bzero(&k, sizeof(k));
		remote_stop(m);
		return -1;
	}
	explicit_bzero(&k, sizeof(k));
	return 0;
}

void
remote_stop(struct smgr *m)
{
	struct remote *r = m->m_remote;

	if (r == NULL)
		return;
	zevent_free(r->r_ev);
	if (r->r_sock)
		zmq_close(r->r_sock);
	zap_close(r->r_zap);
	free(r->r_listen);
	free(r->r_control);
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
	if (r->r_control != NULL)
		BSON_APPEND_UTF8(&sub, "control", r->r_control);
	BSON_APPEND_INT64(&sub, "frame_max", (int64_t)r->r_frame_max);
	BSON_APPEND_INT64(&sub, "admitted", (int64_t)r->r_admitted);
	for (int k = 0; k < R_COUNT; k++)
		BSON_APPEND_INT64(&sub, refusal_names[k],
		    (int64_t)r->r_refused[k]);
	bson_append_document_end(doc, &sub);
}

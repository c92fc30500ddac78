#include "smgrctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>
#include <zmq.h>

#include "clock.h"
#include "jsonline.h"
#include "log.h"
#include "state.h"
#include "units.h"

#define SNDHWM		64	/* requests queued to a connected streammgr */
#define REPLY_MAX	65536
#define REASON_MAX	200	/* bytes streammgr takes */

/* A request waiting for its reply, which echoes p_id (docs/protocols.md:
 * frames before the request come back before the reply). */
struct pending {
	TAILQ_ENTRY(pending) p_entry;
	uint64_t	 p_id;
	char		 p_cmd[16];
	char		 p_tenant[TENANT_ID_MAX + 1];
	char		 p_stream[STREAM_NAME_MAX + 1];
	uint64_t	 p_deadline_ms;		/* monotonic */
};

TAILQ_HEAD(pending_list, pending);

struct smgrctl {
	struct mon	*c_mon;
	smgrctl_done_cb	 c_done;
	void		*c_sock;
	struct zevent	*c_ev;
	struct event	*c_timer;
	struct pending_list c_pending;
	uint64_t	 c_next_id;
};

static void on_reply(void *, void *);

/*
 * Opens the socket to streammgr's control. Out of descriptors (or of
 * libzmq's sockets) it stays closed, logged: a request opens it again,
 * and fails meanwhile. Exiting here let anyone who held the monitor's
 * descriptors (slow scrapes) stop it. Returns 0 or -1.
 */
static int
sock_open(struct smgrctl *c)
{
	char *ep;
	int zero = 0, one = 1, hwm = SNDHWM;

	if ((c->c_sock = zmq_socket(c->c_mon->m_zctx, ZMQ_DEALER)) == NULL) {
		int e = errno;

		log_warnx("control: no socket to streammgr: %s",
		    zmq_strerror(e));
		errno = e;
		return -1;
	}
	ep = state_endpoint(c->c_mon->m_conf, "run/streammgr.ctl");
	if (zmq_setsockopt(c->c_sock, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
	    zmq_setsockopt(c->c_sock, ZMQ_IMMEDIATE, &one, sizeof(one)) < 0 ||
	    zmq_setsockopt(c->c_sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) < 0)
		fatalx("%s: zmq_setsockopt: %s", __func__, zmq_strerror(errno));
	/* Connecting does not wait: streammgr may come up later. */
	if (zmq_connect(c->c_sock, ep) < 0)
		log_warnx("control: connect %s: %s", ep, zmq_strerror(errno));
	if ((c->c_ev = zevent_new(c->c_mon->m_base, c->c_sock, on_reply,
	    c)) == NULL)
		fatalx("%s: cannot watch the control socket", __func__);
	free(ep);
	return 0;
}

static void
sock_close(struct smgrctl *c)
{
	zevent_free(c->c_ev);
	c->c_ev = NULL;
	if (c->c_sock != NULL)
		zmq_close(c->c_sock);
	c->c_sock = NULL;
}

/* Arms the timer at the oldest request's deadline. */
static void
arm(struct smgrctl *c)
{
	struct pending *p = TAILQ_FIRST(&c->c_pending);
	uint64_t now = (uint64_t)clock_mono_ms();

	if (p == NULL) {
		evtimer_del(c->c_timer);
		return;
	}
	clock_timer_in(c->c_timer, p->p_deadline_ms > now ?
	    p->p_deadline_ms - now : 0);
}

/* Takes request p off the list and reports its outcome. */
static void
finish(struct smgrctl *c, struct pending *p, bool ok, const char *detail)
{
	TAILQ_REMOVE(&c->c_pending, p, p_entry);
	c->c_done(c->c_mon, p->p_cmd, p->p_tenant, p->p_stream, ok, detail);
	free(p);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct smgrctl *c = arg;
	char why[64], d[32];

	(void)fd;
	(void)what;
	units_fmt_duration(c->c_mon->m_conf->p_monitor.pm_control_timeout_ms,
	    d, sizeof(d));
	snprintf(why, sizeof(why), "no reply from streammgr within %s", d);
	/* A reply that comes later must not be matched to another request. */
	sock_close(c);
	while (!TAILQ_EMPTY(&c->c_pending))
		finish(c, TAILQ_FIRST(&c->c_pending), false, why);
	(void)sock_open(c);
}

/* Reads {"ok":true|false,"error":...} from p's reply. */
static void
handle_reply(struct smgrctl *c, struct pending *p, const char *data,
    size_t len)
{
	bson_t doc;
	bson_iter_t it;
	bool ok = false;
	const char *err = "a reply that is not the protocol's";

	if (len > 0 && len <= REPLY_MAX &&
	    bson_init_from_json(&doc, data, (ssize_t)len, NULL)) {
		if (bson_iter_init_find(&it, &doc, "ok") &&
		    BSON_ITER_HOLDS_BOOL(&it))
			ok = bson_iter_bool(&it);
		if (!ok && bson_iter_init_find(&it, &doc, "error") &&
		    BSON_ITER_HOLDS_UTF8(&it))
			err = bson_iter_utf8(&it, NULL);
		finish(c, p, ok, ok ? "" : err);
		bson_destroy(&doc);
	} else
		finish(c, p, false, err);
}

/* The request whose id a reply's first frame holds, or NULL: a reply
 * to a request already given up (a streammgr that restarted, say). */
static struct pending *
pending_of(struct smgrctl *c, zmq_msg_t *idf)
{
	struct pending *p;
	uint64_t id;

	if (zmq_msg_size(idf) != sizeof(id))
		return NULL;
	memcpy(&id, zmq_msg_data(idf), sizeof(id));
	TAILQ_FOREACH(p, &c->c_pending, p_entry)
		if (p->p_id == id)
			return p;
	return NULL;
}

static void
on_reply(void *sock, void *arg)
{
	struct smgrctl *c = arg;

	for (int n = 0; n < 64 && c->c_sock == sock; n++) {
		zmq_msg_t idf, msg;
		struct pending *p;
		int frames = 1;

		zmq_msg_init(&idf);
		if (zmq_msg_recv(&idf, sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&idf);
			break;
		}
		/* [id][reply]; anything else is read to its end and dropped. */
		zmq_msg_init(&msg);
		while (zmq_msg_more(frames == 1 ? &idf : &msg)) {
			zmq_msg_close(&msg);
			zmq_msg_init(&msg);
			zmq_msg_recv(&msg, sock, 0);
			frames++;
		}
		if (frames == 2 && (p = pending_of(c, &idf)) != NULL)
			handle_reply(c, p, zmq_msg_data(&msg),
			    zmq_msg_size(&msg));
		else
			log_debug("control: a reply to no pending request "
			    "dropped");
		zmq_msg_close(&msg);
		zmq_msg_close(&idf);
	}
	arm(c);
}

struct smgrctl *
smgrctl_new(struct mon *m, smgrctl_done_cb done)
{
	struct smgrctl *c = calloc(1, sizeof(*c));

	if (c == NULL)
		fatal("%s: calloc", __func__);
	c->c_mon = m;
	c->c_done = done;
	TAILQ_INIT(&c->c_pending);
	if ((c->c_timer = evtimer_new(m->m_base, on_timeout, c)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	(void)sock_open(c);
	return c;
}

void
smgrctl_free(struct smgrctl *c)
{
	struct pending *p;

	if (c == NULL)
		return;
	while ((p = TAILQ_FIRST(&c->c_pending)) != NULL) {
		TAILQ_REMOVE(&c->c_pending, p, p_entry);
		free(p);
	}
	sock_close(c);
	event_free(c->c_timer);
	free(c);
}

int
smgrctl_request(struct smgrctl *c, const char *cmd, const char *tenant,
    const char *stream, int instances, const char *reason, char *err,
    size_t errlen)
{
	bson_t doc = BSON_INITIALIZER;
	struct pending *p;
	char why[REASON_MAX + 1], *json;
	uint64_t id;
	size_t len;
	int rc;

	BSON_APPEND_UTF8(&doc, "cmd", cmd);
	BSON_APPEND_UTF8(&doc, "tenant", tenant);
	BSON_APPEND_UTF8(&doc, "stream", stream);
	if (instances >= 0)
		BSON_APPEND_INT32(&doc, "instances", instances);
	/* streammgr refuses longer reasons; the cut keeps them UTF-8. */
	jsonline_text(reason, strlen(reason), why, sizeof(why));
	BSON_APPEND_UTF8(&doc, "reason", why);
	json = bson_as_relaxed_extended_json(&doc, &len);
	bson_destroy(&doc);
	if (json == NULL)
		fatalx("%s: bson_as_relaxed_extended_json", __func__);
	if (c->c_sock == NULL && sock_open(c) < 0) {
		bson_free(json);
		snprintf(err, errlen, "no socket to streammgr: %s",
		    zmq_strerror(errno));
		return -1;
	}
	id = ++c->c_next_id;
	rc = zmq_send(c->c_sock, &id, sizeof(id), ZMQ_DONTWAIT | ZMQ_SNDMORE);
	if (rc >= 0)	/* after the first frame the rest always goes */
		rc = zmq_send(c->c_sock, json, len, 0);
	bson_free(json);
	if (rc < 0) {
		snprintf(err, errlen, "%s", errno == EAGAIN ? "streammgr is "
		    "not connected" : zmq_strerror(errno));
		return -1;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("%s: calloc", __func__);
	p->p_id = id;
	snprintf(p->p_cmd, sizeof(p->p_cmd), "%s", cmd);
	snprintf(p->p_tenant, sizeof(p->p_tenant), "%s", tenant);
	snprintf(p->p_stream, sizeof(p->p_stream), "%s", stream);
	p->p_deadline_ms = clock_mono_ms() +
	    c->c_mon->m_conf->p_monitor.pm_control_timeout_ms;
	TAILQ_INSERT_TAIL(&c->c_pending, p, p_entry);
	/* The send may have eaten the edge of a reply that was waiting. */
	zevent_kick(c->c_ev);
	arm(c);
	return 0;
}

#include "ctlsock.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "jsonline.h"
#include "jsonone.h"
#include "state.h"
#include "zevent.h"

#define ENVELOPE_MAX	8	/* frames before the request body */
#define BATCH_MAX	64	/* requests per turn of the loop */

struct ctlsock {
	void		*c_sock;
	struct zevent	*c_ev;
	void		*c_remote;	/* operators on other hosts, or NULL */
	struct zevent	*c_remote_ev;
	ctlsock_allow_fn c_allow;	/* whether c_remote's sender may */
	void		*c_allow_arg;
	ctlsock_handler	 c_fn;
	void		*c_arg;
};

static void on_request(void *, void *);

int
ctlsock_fail(char *err, size_t errlen, const char *fmt, ...)
{
	char raw[2 * CTLSOCK_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* The refusal goes into the JSON reply, which libbson cannot write
	 * with invalid UTF-8: what it quotes of a request or of a file name
	 * may not be, and a cut to errlen may split a character. */
	jsonline_text(raw, strlen(raw), err, errlen);
	return -1;
}

void *
ctlsock_bind(void *zctx, int type, const char *path, char *err,
    size_t errlen)
{
	void *sock;
	char *ep = NULL;
	int zero = 0;

	if (state_check_sun_path(path, err, errlen) < 0)
		return NULL;
	if ((sock = zmq_socket(zctx, type)) == NULL) {
		snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
		return NULL;
	}
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (asprintf(&ep, "ipc://%s", path) < 0) {
		snprintf(err, errlen, "%s: %s", __func__, strerror(ENOMEM));
		zmq_close(sock);
		return NULL;
	}
	if (zmq_bind(sock, ep) < 0) {
		snprintf(err, errlen, "bind %s: %s", ep, zmq_strerror(errno));
		zmq_close(sock);
		sock = NULL;
	}
	free(ep);
	return sock;
}

struct ctlsock *
ctlsock_open(struct event_base *base, void *zctx, const char *path,
    ctlsock_handler fn, void *arg, char *err, size_t errlen)
{
	struct ctlsock *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		snprintf(err, errlen, "%s: %s", __func__, strerror(ENOMEM));
		return NULL;
	}
	c->c_fn = fn;
	c->c_arg = arg;
	if ((c->c_sock = ctlsock_bind(zctx, ZMQ_ROUTER, path, err,
	    errlen)) == NULL) {
		free(c);
		return NULL;
	}
	if ((c->c_ev = zevent_new(base, c->c_sock, on_request, c)) == NULL) {
		snprintf(err, errlen, "%s: cannot watch %s: %s", __func__,
		    path, strerror(errno));
		zmq_close(c->c_sock);
		free(c);
		return NULL;
	}
	return c;
}

int
ctlsock_add_remote(struct ctlsock *c, struct event_base *base, void *sock,
    ctlsock_allow_fn allow, void *allow_arg)
{
	if ((c->c_remote_ev = zevent_new(base, sock, on_request, c)) == NULL)
		return -1;
	c->c_remote = sock;
	c->c_allow = allow;
	c->c_allow_arg = allow_arg;
	return 0;
}

void
ctlsock_close(struct ctlsock *c)
{
	if (c == NULL)
		return;
	zevent_free(c->c_ev);
	zmq_close(c->c_sock);
	zevent_free(c->c_remote_ev);
	if (c->c_remote != NULL)
		zmq_close(c->c_remote);
	free(c);
}

/* reply as JSON text, to free with bson_free; reply is destroyed. */
static char *
to_json(bson_t *reply)
{
	char *json = bson_as_relaxed_extended_json(reply, NULL);

	bson_destroy(reply);
	if (json == NULL) {
		/* A reply that is not UTF-8 is a bug to mend, not a reason
		 * to stop the daemon. */
		log_warnx("control reply cannot be written as JSON (text that "
		    "is not UTF-8)");
		json = bson_strdup("{ \"ok\" : false, \"error\" : \"the reply "
		    "cannot be written as JSON (text that is not UTF-8); see "
		    "the daemon's log\" }");
	}
	return json;
}

/* The reply {"ok":false,"error":err}. */
static char *
refusal(const char *err)
{
	bson_t reply = BSON_INITIALIZER;

	BSON_APPEND_BOOL(&reply, "ok", false);
	BSON_APPEND_UTF8(&reply, "error", err);
	log_debug("control request refused: %s", err);
	return to_json(&reply);
}

char *
ctlsock_answer(const char *req, size_t len, ctlsock_handler fn, void *arg)
{
	bson_t doc = BSON_INITIALIZER, reply = BSON_INITIALIZER;
	char err[CTLSOCK_ERR_MAX];
	int rc;

	if (len > CTLSOCK_REQ_MAX)
		rc = ctlsock_fail(err, sizeof(err), "request larger than %d "
		    "bytes", CTLSOCK_REQ_MAX);
	else if (jsonone_parse(req, len, &doc, err, sizeof(err)) < 0)
		rc = -1;
	else {
		BSON_APPEND_BOOL(&reply, "ok", true);
		rc = fn(&doc, &reply, err, sizeof(err), arg);
	}
	bson_destroy(&doc);
	if (rc < 0) {
		bson_destroy(&reply);
		return refusal(err);
	}
	return to_json(&reply);
}

/*
 * The reply to a request whose last frame is body (of nf frames): a
 * request on the remote socket is first checked against what allow says
 * of its sender now.
 */
static char *
answer(struct ctlsock *c, void *sock, zmq_msg_t *body, int nf)
{
	char err[CTLSOCK_ERR_MAX];

	if (sock == c->c_remote && c->c_allow != NULL &&
	    c->c_allow(c->c_allow_arg, zmq_msg_gets(body, "User-Id"), err,
	    sizeof(err)) < 0)
		return refusal(err);
	return ctlsock_answer(zmq_msg_data(body), nf < 2 ? 0 :
	    zmq_msg_size(body), c->c_fn, c->c_arg);
}

/*
 * One request: the routing id (and REQ's empty delimiter) make the
 * envelope, echoed in the reply; the last frame is the JSON body. A
 * message of one frame has no body: it is answered as an empty request.
 */
static void
on_request(void *sock, void *arg)
{
	struct ctlsock *c = arg;

	for (int n = 0; n < BATCH_MAX; n++) {
		zmq_msg_t frames[ENVELOPE_MAX + 1];
		int nf = 0;
		bool more;
		char *json;

		zmq_msg_init(&frames[0]);
		if (zmq_msg_recv(&frames[0], sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&frames[0]);
			return;
		}
		more = zmq_msg_more(&frames[nf++]);
		while (more) {
			/* Too many frames: keep the first ones and the last. */
			if (nf == ENVELOPE_MAX + 1)
				zmq_msg_close(&frames[--nf]);
			zmq_msg_init(&frames[nf]);
			zmq_msg_recv(&frames[nf], sock, 0);
			more = zmq_msg_more(&frames[nf++]);
		}
		json = answer(c, sock, &frames[nf - 1], nf);
		for (int k = 0; k < nf - 1; k++)
			zmq_msg_send(&frames[k], sock, ZMQ_SNDMORE);
		zmq_send(sock, json, strlen(json), 0);
		bson_free(json);
		for (int k = 0; k < nf; k++)
			zmq_msg_close(&frames[k]);
		/* Sending may have eaten the edge of ZMQ_FD. */
		zevent_kick(sock == c->c_sock ? c->c_ev : c->c_remote_ev);
	}
}

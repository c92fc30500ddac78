/*
 * The ZAP handler (zap.h). Requests are few, one per connection, and
 * each is answered at once from the decide function.
 */
#include "zap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "log.h"
#include "zevent.h"

#define ZAP_ENDPOINT	"inproc://zeromq.zap.01"
#define ZAP_FRAMES	8	/* a CURVE request has 7 */
#define ZAP_TURN	64	/* requests per turn of the loop */
#define HEARTBEAT_MS	10000	/* finds peers gone without a word */

struct zap {
	void		*z_sock;	/* REP */
	struct zevent	*z_ev;
	zap_decide_fn	 z_fn;
	void		*z_arg;
};

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

static void
frame_text(zmq_msg_t *f, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", (int)zmq_msg_size(f),
	    (const char *)zmq_msg_data(f));
}

/*
 * One request: [version][request id][domain][address][identity]
 * [mechanism][client key]. Only CURVE is served: anything else is
 * refused without asking (a NULL or PLAIN client has no key to judge).
 */
static void
zap_one(struct zap *z, zmq_msg_t f[ZAP_FRAMES], int n)
{
	char key[CURVEKEY_Z85_LEN + 1], domain[32], addr[64], user[256];

	if (n < 2) {
		/* A REP socket must answer before it reads again. */
		zmq_msg_t none;

		zmq_msg_init(&none);
		zap_reply(z->z_sock, &none, "500", "malformed", "");
		zmq_msg_close(&none);
		return;
	}
	if (n != 7 || !frame_is(&f[0], "1.0") || !frame_is(&f[5], "CURVE") ||
	    zmq_msg_size(&f[6]) != 32) {
		zap_reply(z->z_sock, &f[1], "400", "CURVE only", "");
		return;
	}
	frame_text(&f[2], domain, sizeof(domain));
	frame_text(&f[3], addr, sizeof(addr));
	zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);
	user[0] = '\0';
	if (z->z_fn(z->z_arg, domain, key, addr, user, sizeof(user)))
		zap_reply(z->z_sock, &f[1], "200", "OK", user);
	else
		zap_reply(z->z_sock, &f[1], "400", "refused", "");
}

static void
on_zap(void *sock, void *arg)
{
	struct zap *z = arg;
	zmq_msg_t f[ZAP_FRAMES];
	int n;

	for (int turn = 0; turn < ZAP_TURN && (n = zap_recv(sock, f)) > 0;
	    turn++) {
		zap_one(z, f, n);
		for (int k = 0; k < ZAP_FRAMES; k++)
			zmq_msg_close(&f[k]);
	}
	zevent_kick(z->z_ev);
}

struct zap *
zap_open(struct event_base *base, void *zctx, zap_decide_fn fn, void *arg)
{
	struct zap *z = calloc(1, sizeof(*z));
	int zero = 0;

	if (z == NULL)
		fatal("%s: calloc", __func__);
	z->z_fn = fn;
	z->z_arg = arg;
	if ((z->z_sock = zmq_socket(zctx, ZMQ_REP)) == NULL)
		fatalx("zmq_socket: %s", zmq_strerror(errno));
	zmq_setsockopt(z->z_sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_bind(z->z_sock, ZAP_ENDPOINT) < 0)
		fatalx("bind %s: %s", ZAP_ENDPOINT, zmq_strerror(errno));
	if ((z->z_ev = zevent_new(base, z->z_sock, on_zap, z)) == NULL)
		fatalx("%s: cannot watch the ZAP socket", __func__);
	return z;
}

void
zap_close(struct zap *z)
{
	if (z == NULL)
		return;
	zevent_free(z->z_ev);
	zmq_close(z->z_sock);
	free(z);
}

void *
zap_curve_router(void *zctx, const struct curvekey *k, const char *domain,
    int64_t frame_max, const char *endpoint, char *err, size_t errlen)
{
	void *sock = zevent_router(zctx);
	int one = 1, hb = HEARTBEAT_MS, hbttl = 3 * HEARTBEAT_MS;
	int handshake = ZAP_HANDSHAKE_MS;

	zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb));
	zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &hbttl, sizeof(hbttl));
	/* Before the bind, which copies them for every connection. */
	zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &frame_max, sizeof(frame_max));
	zmq_setsockopt(sock, ZMQ_HANDSHAKE_IVL, &handshake,
	    sizeof(handshake));
	zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one));
	zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->ck_secret,
	    CURVEKEY_Z85_LEN + 1);
	zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain));
	if (zmq_bind(sock, endpoint) < 0) {
		snprintf(err, errlen, "bind %s: %s", endpoint,
		    zmq_strerror(errno));
		zmq_close(sock);
		return NULL;
	}
	return sock;
}

bool
zap_key_listed(char *const *keys, const char *key)
{
	for (char *const *k = keys; k && *k; k++)
		if (strcmp(*k, key) == 0)
			return true;
	return false;
}

int
zap_server_key(const struct conf_platform *p, struct curvekey *k, char *err,
    size_t errlen)
{
	char kerr[300];

	if (curvekey_load(p->p_remote.pr_server_key, true, k, kerr,
	    sizeof(kerr)) == 0)
		return 0;
	snprintf(err, errlen, "%s: remote.server_key: %s", p->p_file, kerr);
	return -1;
}

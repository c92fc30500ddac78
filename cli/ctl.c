#include "ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "clock.h"
#include "conf.h"
#include "curvekey.h"
#include "state.h"
#include "units.h"

#define CALLS_MAX	128	/* two per node of a cluster */

int
ctl_socket_check(const char *path, const char *missing)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char err[256];
	int fd, rc = EX_OK;

	if (state_check_sun_path(path, err, sizeof(err)) < 0) {
		fprintf(stderr, "mysimbdp: %s\n", err);
		return EX_CONFIG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		fprintf(stderr, "mysimbdp: socket: %s\n", strerror(errno));
		return EX_SOFTWARE;
	}
	/*
	 * A plain connect tells a missing socket from a stale one (the
	 * daemon was killed and left its file) and from one we may not
	 * reach; ZeroMQ would only retry in silence until the timeout. The
	 * daemon's side sees a peer that goes away before its greeting.
	 */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == ENOENT) {
			fprintf(stderr, "mysimbdp: %s (no %s)\n", missing,
			    path);
			rc = EX_UNAVAILABLE;
		} else if (errno == ECONNREFUSED) {
			fprintf(stderr, "mysimbdp: %s (nothing listens on "
			    "%s)\n", missing, path);
			rc = EX_UNAVAILABLE;
		} else if (errno == EACCES || errno == EPERM) {
			fprintf(stderr, "mysimbdp: %s: %s\n", path,
			    strerror(errno));
			rc = EX_NOPERM;
		} else {
			fprintf(stderr, "mysimbdp: connect %s: %s\n", path,
			    strerror(errno));
			rc = EX_UNAVAILABLE;
		}
	}
	close(fd);
	return rc;
}

int
ctl_call_init(struct ctl_call *call, const struct cli *cli,
    const char *daemon)
{
	struct conf_platform *p;

	memset(call, 0, sizeof(*call));
	call->cc_daemon = daemon;
	call->cc_cli = cli;
	if (cli->c_node != NULL) {
		char *node;

		if (asprintf(&node, "tcp://%s", cli->c_node) < 0)
			return -1;
		call->cc_path = conf_remote_endpoint(node,
		    strcmp(daemon, "batchmgr") == 0 ? CONF_CONTROL_BATCHMGR :
		    CONF_CONTROL_STREAMMGR);
		free(node);
		if (call->cc_path == NULL) {
			fprintf(stderr, "mysimbdp: --node \"%s\": must be "
			    "HOST:PORT, the node's remote.listen\n",
			    cli->c_node);
			return -1;
		}
		return 0;
	}
	if ((p = cli_load_platform(cli)) == NULL)
		return -1;
	call->cc_path = state_path(p, "run/%s.ctl", daemon);
	conf_platform_free(p);
	return 0;
}

void
ctl_call_free(struct ctl_call *call)
{
	free(call->cc_path);
	free(call->cc_reply);
	call->cc_path = call->cc_reply = NULL;
}

/*
 * A remote call's socket: a CURVE client of the node. Returns 0, or -1
 * (cc_rc) after saying why.
 */
static int
remote_client(struct ctl_call *c)
{
	char err[600];

	if (curvekey_client(c->cc_sock, c->cc_cli->c_key,
	    c->cc_cli->c_server_key, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "mysimbdp: %s\n", err);
	c->cc_rc = EX_NOINPUT;
	return -1;
}

/* Connects a DEALER and queues the request. Returns 0, or -1 (cc_rc). */
static int
call_send(void *ctx, struct ctl_call *c)
{
	/* Room for a --node's tcp://HOST:PORT too: cut to an ipc path's
	 * size, a long host's port lost digits, and the call went to
	 * another port. */
	char endpoint[sizeof("ipc://") + PATH_MAX], missing[64];
	bool remote = c->cc_cli != NULL && c->cc_cli->c_node != NULL;
	int linger = 0, n;

	snprintf(missing, sizeof(missing), "%s is not running", c->cc_daemon);
	if (!remote &&
	    (c->cc_rc = ctl_socket_check(c->cc_path, missing)) != EX_OK)
		return -1;
	n = snprintf(endpoint, sizeof(endpoint), "%s%s", remote ? "" :
	    "ipc://", c->cc_path);
	if (n < 0 || (size_t)n >= sizeof(endpoint)) {
		fprintf(stderr, "mysimbdp: %s: address too long\n", c->cc_path);
		c->cc_rc = EX_USAGE;
		return -1;
	}
	if ((c->cc_sock = zmq_socket(ctx, ZMQ_DEALER)) == NULL) {
		c->cc_rc = EX_SOFTWARE;
		return -1;
	}
	if (remote && remote_client(c) < 0)
		return -1;
	/* Queued until the connection is up, which the deadline bounds. */
	if (zmq_setsockopt(c->cc_sock, ZMQ_LINGER, &linger,
	    sizeof(linger)) < 0 || zmq_connect(c->cc_sock, endpoint) < 0 ||
	    zmq_send(c->cc_sock, c->cc_req, c->cc_len, 0) < 0) {
		fprintf(stderr, "mysimbdp: %s: %s\n", endpoint,
		    zmq_strerror(zmq_errno()));
		c->cc_rc = EX_SOFTWARE;
		return -1;
	}
	c->cc_rc = EX_TEMPFAIL;	/* until the reply comes */
	return 0;
}

/*
 * Takes the reply waiting on the socket: one frame. An empty delimiter in
 * front (a daemon answering as to a REQ) is skipped, and frames after the
 * first non-empty one are read and ignored. Sets cc_rc.
 */
static void
call_receive(struct ctl_call *c)
{
	zmq_msg_t msg;
	int more;

	for (;;) {
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, c->cc_sock, 0) < 0) {
			zmq_msg_close(&msg);
			if (zmq_errno() == EINTR)
				continue;
			fprintf(stderr, "mysimbdp: receive from %s: %s\n",
			    c->cc_daemon, zmq_strerror(zmq_errno()));
			c->cc_rc = EX_SOFTWARE;
			return;
		}
		more = zmq_msg_more(&msg);
		if (c->cc_reply == NULL && (zmq_msg_size(&msg) > 0 || !more) &&
		    (c->cc_reply = strndup(zmq_msg_data(&msg),
		    zmq_msg_size(&msg))) == NULL) {
			zmq_msg_close(&msg);
			fprintf(stderr, "mysimbdp: %s\n", strerror(ENOMEM));
			c->cc_rc = EX_SOFTWARE;
			return;
		}
		zmq_msg_close(&msg);
		if (!more)
			break;
	}
	c->cc_rc = EX_OK;
}

/* Waits for the replies of the calls still waiting (cc_rc 75). */
static void
wait_replies(struct ctl_call *calls, size_t n, int64_t deadline)
{
	zmq_pollitem_t items[CALLS_MAX];
	struct ctl_call *who[CALLS_MAX];

	for (;;) {
		int64_t left = deadline - clock_mono_ms();
		int nitems = 0;

		for (size_t i = 0; i < n; i++) {
			if (calls[i].cc_rc != EX_TEMPFAIL ||
			    calls[i].cc_sock == NULL)
				continue;
			items[nitems] = (zmq_pollitem_t){ calls[i].cc_sock, 0,
			    ZMQ_POLLIN, 0 };
			who[nitems++] = &calls[i];
		}
		if (nitems == 0 || left <= 0)
			return;
		if (zmq_poll(items, nitems, (long)left) < 0) {
			if (zmq_errno() == EINTR)
				continue;
			fprintf(stderr, "mysimbdp: poll: %s\n",
			    zmq_strerror(zmq_errno()));
			for (int k = 0; k < nitems; k++)
				who[k]->cc_rc = EX_SOFTWARE;
			return;
		}
		for (int k = 0; k < nitems; k++)
			if (items[k].revents & ZMQ_POLLIN)
				call_receive(who[k]);
	}
}

void
ctl_exchange(struct ctl_call *calls, size_t n, uint64_t timeout_ms)
{
	void *ctx;
	char d[32];

	if (n > CALLS_MAX)
		n = CALLS_MAX;
	if ((ctx = zmq_ctx_new()) == NULL) {
		fprintf(stderr, "mysimbdp: zmq_ctx_new: %s\n",
		    zmq_strerror(zmq_errno()));
		for (size_t i = 0; i < n; i++)
			calls[i].cc_rc = EX_SOFTWARE;
		return;
	}
	for (size_t i = 0; i < n; i++)
		call_send(ctx, &calls[i]);
	wait_replies(calls, n, clock_mono_ms() + (int64_t)timeout_ms);
	for (size_t i = 0; i < n; i++) {
		struct ctl_call *c = &calls[i];

		if (c->cc_rc == EX_TEMPFAIL)
			fprintf(stderr, "mysimbdp: no reply from %s within %s "
			    "(%s%s)\n", c->cc_daemon, units_fmt_duration(
			    timeout_ms, d, sizeof(d)), c->cc_path,
			    c->cc_cli && c->cc_cli->c_node ? ": not listening, "
			    "or this key is not one of the node's "
			    "remote.operator_keys, or the server key not the "
			    "node's" : "");
		if (c->cc_rc != EX_OK) {
			free(c->cc_reply);
			c->cc_reply = NULL;
		}
		if (c->cc_sock)
			zmq_close(c->cc_sock);
		c->cc_sock = NULL;
	}
	zmq_ctx_term(ctx);
}

int
ctl_check(const char *daemon, const char *reply, bson_t **docp, bool quiet)
{
	bson_error_t berr;
	bson_iter_t it;
	bson_t *doc;

	*docp = NULL;
	if ((doc = bson_new_from_json((const uint8_t *)reply, -1, &berr)) ==
	    NULL) {
		if (!quiet)
			fprintf(stderr, "mysimbdp: %s answered with something "
			    "that is not a JSON object (%s): %.200s\n", daemon,
			    berr.message, reply);
		return EX_PROTOCOL;
	}
	if (!bson_iter_init_find(&it, doc, "ok") ||
	    !BSON_ITER_HOLDS_BOOL(&it)) {
		if (!quiet)
			fprintf(stderr, "mysimbdp: %s's reply has no \"ok\": "
			    "%.200s\n", daemon, reply);
		bson_destroy(doc);
		return EX_PROTOCOL;
	}
	if (!bson_iter_bool(&it)) {
		if (!quiet) {
			const char *e = "(no reason given)";

			if (bson_iter_init_find(&it, doc, "error") &&
			    BSON_ITER_HOLDS_UTF8(&it))
				e = bson_iter_utf8(&it, NULL);
			fprintf(stderr, "mysimbdp: %s\n", e);
		}
		bson_destroy(doc);
		return EX_DATAERR;
	}
	*docp = doc;
	return EX_OK;
}

int
ctl_request(const struct cli *cli, const char *daemon, const bson_t *req,
    uint64_t timeout_ms, bson_t **replyp)
{
	struct ctl_call call;
	char *json;
	int rc;

	*replyp = NULL;
	if (ctl_call_init(&call, cli, daemon) < 0)
		return EX_CONFIG;
	json = bson_as_relaxed_extended_json(req, &call.cc_len);
	call.cc_req = json;
	ctl_exchange(&call, 1, timeout_ms);
	bson_free(json);
	if ((rc = call.cc_rc) == EX_OK)
		rc = ctl_check(daemon, call.cc_reply, replyp, false);
	ctl_call_free(&call);
	return rc;
}

int64_t
ctl_int(const bson_t *doc, const char *key)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it))
		return bson_iter_as_int64(&it);
	return 0;
}

void
ctl_node_cli(const struct cli *cli, const struct conf_node *n,
    struct cli *out)
{
	*out = *cli;
	out->c_node = n->n_address;
	out->c_server_key = n->n_server_key;
}

const char *
ctl_str(const bson_t *doc, const char *key)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
		return bson_iter_utf8(&it, NULL);
	return "-";
}

const char *
ctl_num(const bson_t *doc, const char *key, int decimals, char *buf,
    size_t len)
{
	bson_iter_t it;

	if (!bson_iter_init_find(&it, doc, key) ||
	    !BSON_ITER_HOLDS_NUMBER(&it))
		snprintf(buf, len, "-");
	else if (decimals > 0)
		snprintf(buf, len, "%.*f", decimals, bson_iter_as_double(&it));
	else
		snprintf(buf, len, "%" PRId64, bson_iter_as_int64(&it));
	return buf;
}

int
ctl_each(const bson_t *doc, const char *key,
    void (*fn)(const bson_t *, void *), void *arg)
{
	bson_iter_t it, elem;

	if (!bson_iter_init_find(&it, doc, key) ||
	    !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &elem))
		return -1;
	while (fn && bson_iter_next(&elem)) {
		const uint8_t *data;
		uint32_t len;
		bson_t item;

		if (!BSON_ITER_HOLDS_DOCUMENT(&elem))
			continue;
		bson_iter_document(&elem, &len, &data);
		if (bson_init_static(&item, data, len))
			fn(&item, arg);
	}
	return 0;
}

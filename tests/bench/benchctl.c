#include "benchctl.h"

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "benchutil.h"

void
benchctl_open(struct benchctl *c, const char *endpoint, const char *tenant)
{
	int linger = 0, timeo = BENCHCTL_TIMEOUT_MS;

	benchctl_tenant(c, tenant);
	if ((c->bc_ctx = zmq_ctx_new()) == NULL ||
	    (c->bc_sock = zmq_socket(c->bc_ctx, ZMQ_DEALER)) == NULL)
		errx(1, "zmq: %s", zmq_strerror(errno));
	zmq_setsockopt(c->bc_sock, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(c->bc_sock, ZMQ_RCVTIMEO, &timeo, sizeof(timeo));
	zmq_setsockopt(c->bc_sock, ZMQ_SNDTIMEO, &timeo, sizeof(timeo));
	if (zmq_connect(c->bc_sock, endpoint) < 0)
		errx(1, "connect %s: %s", endpoint, zmq_strerror(errno));
}

void
benchctl_tenant(struct benchctl *c, const char *tenant)
{
	int n;

	n = snprintf(c->bc_status, sizeof(c->bc_status),
	    "{\"cmd\":\"status\",\"tenant\":\"%s\"}", tenant);
	if (n < 0 || (size_t)n >= sizeof(c->bc_status))
		errx(EX_USAGE, "tenant %s: too long", tenant);
}

void
benchctl_close(struct benchctl *c)
{
	zmq_close(c->bc_sock);
	zmq_ctx_term(c->bc_ctx);
}

void
benchctl_request(struct benchctl *c, const char *json, bson_t *doc)
{
	bson_error_t berr;
	bson_iter_t it;
	zmq_msg_t reply;
	int rc;

	if (zmq_send(c->bc_sock, json, strlen(json), 0) < 0)
		errx(1, "control: send: %s", zmq_strerror(errno));
	zmq_msg_init(&reply);
	do
		rc = zmq_msg_recv(&reply, c->bc_sock, 0);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		errx(1, "control: no reply in %d ms: %s", BENCHCTL_TIMEOUT_MS,
		    zmq_strerror(errno));
	if (!bson_init_from_json(doc, zmq_msg_data(&reply),
	    (ssize_t)zmq_msg_size(&reply), &berr))
		errx(1, "control: reply is not JSON: %s", berr.message);
	if (!bson_iter_init_find(&it, doc, "ok") || !bson_iter_as_bool(&it))
		errx(1, "control: %s refused: %.*s", json,
		    (int)zmq_msg_size(&reply), (char *)zmq_msg_data(&reply));
	zmq_msg_close(&reply);
}

void
benchctl_status(struct benchctl *c, bson_t *doc)
{
	benchctl_request(c, c->bc_status, doc);
}

int64_t
benchctl_number(const bson_t *doc, const char *field)
{
	bson_iter_t it, v;
	char path[64];

	snprintf(path, sizeof(path), "streams.0.%s", field);
	if (!bson_iter_init(&it, doc) ||
	    !bson_iter_find_descendant(&it, path, &v))
		errx(1, "control: no streams[0].%s in the status reply", field);
	return bson_iter_as_int64(&v);
}

int64_t
benchctl_min(const bson_t *doc, const char *field)
{
	bson_iter_t it, streams, s;
	int64_t min = INT64_MAX;

	if (bson_iter_init_find(&it, doc, "streams") &&
	    BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &streams))
		while (bson_iter_next(&streams))
			if (BSON_ITER_HOLDS_DOCUMENT(&streams) &&
			    bson_iter_recurse(&streams, &s) &&
			    bson_iter_find(&s, field) &&
			    BSON_ITER_HOLDS_NUMBER(&s) &&
			    bson_iter_as_int64(&s) < min)
				min = bson_iter_as_int64(&s);
	if (min == INT64_MAX)
		errx(1, "control: no streams[].%s in the status reply", field);
	return min;
}

/* Counts one stream's instances (a streams[] element at it). */
static void
count_instances(bson_iter_t *stream, int *all, int *ready)
{
	bson_iter_t s, arr, inst;

	if (!BSON_ITER_HOLDS_DOCUMENT(stream) ||
	    !bson_iter_recurse(stream, &s) || !bson_iter_find(&s, "instances") ||
	    !BSON_ITER_HOLDS_ARRAY(&s) || !bson_iter_recurse(&s, &arr))
		return;
	while (bson_iter_next(&arr)) {
		(*all)++;
		if (BSON_ITER_HOLDS_DOCUMENT(&arr) &&
		    bson_iter_recurse(&arr, &inst) &&
		    bson_iter_find(&inst, "state") &&
		    BSON_ITER_HOLDS_UTF8(&inst) &&
		    strcmp(bson_iter_utf8(&inst, NULL), "ready") == 0)
			(*ready)++;
	}
}

void
benchctl_instances(const bson_t *doc, int *all, int *ready)
{
	bson_iter_t it, streams;

	*all = *ready = 0;
	if (bson_iter_init_find(&it, doc, "streams") &&
	    BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &streams))
		while (bson_iter_next(&streams))
			count_instances(&streams, all, ready);
}

#include "feed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>
#include <zmq.h>

#include "clock.h"
#include "dashline.h"
#include "decide.h"
#include "log.h"
#include "state.h"
#include "view.h"

#define BUDGET		256	/* messages per turn of the loop */
#define TOPIC_MAX	128
#define BODY_MAX	(1 << 20)
#define DETAIL_MAX	512

struct feed {
	struct mon	*f_mon;
	void		*f_sock;
	struct zevent	*f_ev;
};

/* The integer members of the statistics and where they go. */
static const struct {
	const char	*name;
	size_t		 off;
} int_members[] = {
	{ "desired", offsetof(struct mstats, st_desired) },
	{ "running", offsetof(struct mstats, st_running) },
	{ "min", offsetof(struct mstats, st_min) },
	{ "max", offsetof(struct mstats, st_max) },
	{ "backlog", offsetof(struct mstats, st_backlog) },
	{ "inflight", offsetof(struct mstats, st_inflight) },
	{ "lag", offsetof(struct mstats, st_lag) },
	{ "queue_bytes", offsetof(struct mstats, st_queue_bytes) },
	{ "accepted", offsetof(struct mstats, st_accepted) },
	{ "acked", offsetof(struct mstats, st_acked) },
	{ "redelivered", offsetof(struct mstats, st_redelivered) },
	{ "dead_letters", offsetof(struct mstats, st_dead_letters) },
	{ "rejected", offsetof(struct mstats, st_rejected) },
	{ "throttled", offsetof(struct mstats, st_throttled) },
	{ "too_large", offsetof(struct mstats, st_too_large) },
	{ "rate_limited", offsetof(struct mstats, st_rate_limited) },
	{ "queue_full", offsetof(struct mstats, st_queue_full) },
	{ "quality_rejected", offsetof(struct mstats, st_quality_rejected) },
	{ "restarts", offsetof(struct mstats, st_restarts) },
};

/* "quality_rules": {rule: rejections}; names that are not ids skipped. */
static void
read_rules(bson_iter_t *it, struct mrules *rules)
{
	bson_iter_t r;

	if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &r))
		return;
	while (bson_iter_next(&r)) {
		const char *name = bson_iter_key(&r);

		if (!BSON_ITER_HOLDS_NUMBER(&r) || bson_iter_as_int64(&r) < 0 ||
		    (!conf_valid_id(name) && strcmp(name, "other") != 0))
			continue;
		(void)rule_count_add(rules->r_slot, &rules->r_n, MRULES, name,
		    (uint64_t)bson_iter_as_int64(&r));
	}
}

static void
read_member(bson_iter_t *it, struct mstats *st, struct mrules *rules)
{
	const char *key = bson_iter_key(it);

	if (strcmp(key, "quality_rules") == 0) {
		read_rules(it, rules);
		return;
	}
	if (strcmp(key, "state") == 0 && BSON_ITER_HOLDS_UTF8(it)) {
		snprintf(st->st_state, sizeof(st->st_state), "%s",
		    bson_iter_utf8(it, NULL));
		return;
	}
	if (strcmp(key, "in_rate") == 0 && BSON_ITER_HOLDS_NUMBER(it)) {
		st->st_in_rate = bson_iter_as_double(it);
		return;
	}
	if (strcmp(key, "out_rate") == 0 && BSON_ITER_HOLDS_NUMBER(it)) {
		st->st_out_rate = bson_iter_as_double(it);
		return;
	}
	for (size_t i = 0; i < sizeof(int_members) / sizeof(int_members[0]);
	    i++)
		if (strcmp(key, int_members[i].name) == 0 &&
		    BSON_ITER_HOLDS_NUMBER(it))
			*(int64_t *)(void *)((char *)st +
			    int_members[i].off) = bson_iter_as_int64(it);
}

int
feed_parse_stats(const char *body, size_t len, struct mstats *st,
    struct mrules *rules)
{
	bson_t doc;
	bson_iter_t it;

	memset(st, 0, sizeof(*st));
	memset(rules, 0, sizeof(*rules));
	if (len == 0 || len > BODY_MAX ||
	    !bson_init_from_json(&doc, body, (ssize_t)len, NULL))
		return -1;
	if (bson_iter_init(&it, &doc))
		while (bson_iter_next(&it))
			read_member(&it, st, rules);
	bson_destroy(&doc);
	return 0;
}

/* Hands an event's name and detail to the dashboard. */
static void
handle_event(struct mon *m, const char *tenant, const char *stream,
    const char *body, size_t len)
{
	char event[32] = "?", detail[DETAIL_MAX] = "";
	bson_iter_t it;
	bson_t doc;

	if (len == 0 || len > BODY_MAX ||
	    !bson_init_from_json(&doc, body, (ssize_t)len, NULL))
		return;
	if (bson_iter_init_find(&it, &doc, "event") && BSON_ITER_HOLDS_UTF8(&it))
		snprintf(event, sizeof(event), "%s", bson_iter_utf8(&it, NULL));
	if (bson_iter_init_find(&it, &doc, "detail") &&
	    BSON_ITER_HOLDS_UTF8(&it))
		snprintf(detail, sizeof(detail), "%s", bson_iter_utf8(&it,
		    NULL));
	bson_destroy(&doc);
	dashline_event(m, tenant, stream, event, detail);
}

/* "<kind> <tenant> <stream>" -> its parts; -1 when it is not that. */
static int
split_topic(const char *topic, size_t len, char *kind, char *tenant,
    char *stream)
{
	char buf[TOPIC_MAX + 1];

	if (len > TOPIC_MAX)
		return -1;
	memcpy(buf, topic, len);
	buf[len] = '\0';
	if (sscanf(buf, "%15s %32s %65s", kind, tenant, stream) != 3 ||
	    !conf_valid_id(tenant) || !conf_valid_stream_name(stream))
		return -1;
	return 0;
}

static void
handle(struct mon *m, zmq_msg_t *topic, zmq_msg_t *body)
{
	char kind[16], tenant[TENANT_ID_MAX + 1], stream[STREAM_NAME_MAX + 1];
	struct mstats st;
	struct mrules rules;
	struct mstream *s;
	uint64_t now;

	if (split_topic(zmq_msg_data(topic), zmq_msg_size(topic), kind,
	    tenant, stream) < 0)
		return;
	if (strcmp(kind, "event") == 0) {
		handle_event(m, tenant, stream, zmq_msg_data(body),
		    zmq_msg_size(body));
		return;
	}
	if (strcmp(kind, "stats") != 0 ||
	    feed_parse_stats(zmq_msg_data(body), zmq_msg_size(body), &st,
	    &rules) < 0)
		return;
	m->m_stats_msgs++;
	now = clock_mono_ms();
	if ((s = view_stats(m, tenant, stream, &st, &rules, now)) != NULL)
		decide_stats(s, now);
}

/*
 * Receives one message: its first two frames into frames, the rest
 * dropped. Returns how many frames it had; 0 when none was waiting.
 */
static int
recv_message(void *sock, zmq_msg_t frames[2])
{
	zmq_msg_t extra;
	int nf = 0;
	bool more;

	do {
		zmq_msg_t *dst = nf < 2 ? &frames[nf] : &extra;

		zmq_msg_init(dst);
		if (zmq_msg_recv(dst, sock, nf == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			zmq_msg_close(dst);
			return nf;
		}
		more = zmq_msg_more(dst);
		if (dst == &extra)
			zmq_msg_close(&extra);
		nf++;
	} while (more);
	return nf;
}

static void
on_pub(void *sock, void *arg)
{
	struct feed *f = arg;

	for (int n = 0; n < BUDGET; n++) {
		zmq_msg_t frames[2];
		int nf = recv_message(sock, frames);

		if (nf == 0)
			return;
		if (nf == 2)
			handle(f->f_mon, &frames[0], &frames[1]);
		for (int k = 0; k < nf && k < 2; k++)
			zmq_msg_close(&frames[k]);
	}
}

struct feed *
feed_new(struct mon *m)
{
	struct feed *f = calloc(1, sizeof(*f));
	char *ep = state_endpoint(m->m_conf, "run/streammgr.pub");
	int zero = 0;

	if (f == NULL)
		fatal("%s: calloc", __func__);
	f->f_mon = m;
	if ((f->f_sock = zmq_socket(m->m_zctx, ZMQ_SUB)) == NULL)
		fatalx("%s: zmq_socket: %s", __func__, zmq_strerror(errno));
	if (zmq_setsockopt(f->f_sock, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
	    zmq_setsockopt(f->f_sock, ZMQ_SUBSCRIBE, "stats ", 6) < 0 ||
	    zmq_setsockopt(f->f_sock, ZMQ_SUBSCRIBE, "event ", 6) < 0)
		fatalx("%s: zmq_setsockopt: %s", __func__, zmq_strerror(errno));
	if (zmq_connect(f->f_sock, ep) < 0)
		log_warnx("statistics: connect %s: %s", ep,
		    zmq_strerror(errno));
	if ((f->f_ev = zevent_new(m->m_base, f->f_sock, on_pub, f)) == NULL)
		fatalx("%s: cannot watch the statistics socket", __func__);
	free(ep);
	return f;
}

void
feed_free(struct feed *f)
{
	if (f == NULL)
		return;
	zevent_free(f->f_ev);
	zmq_close(f->f_sock);
	free(f);
}

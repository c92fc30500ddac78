#include "publish.h"

#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "lifecycle.h"
#include "record.h"

void
publish_append_time(bson_t *doc)
{
	char when[32];

	record_fmt_time(record_now_ms(), when, sizeof(when));
	BSON_APPEND_UTF8(doc, "time", when);
}

void
publish_doc(struct smgr *m, const char *kind, const struct stream *s,
    const bson_t *doc)
{
	char topic[128];
	size_t len;
	char *json = bson_as_relaxed_extended_json(doc, &len);

	if (json == NULL)
		return;
	snprintf(topic, sizeof(topic), "%s %s %s", kind, s->s_tid, s->s_name);
	/* PUB never blocks: a slow subscriber loses messages, not us. */
	if (zmq_send(m->m_pub, topic, strlen(topic), ZMQ_SNDMORE |
	    ZMQ_DONTWAIT) >= 0)
		zmq_send(m->m_pub, json, len, ZMQ_DONTWAIT);
	bson_free(json);
}

void
publish_event(struct stream *s, const char *event, const char *detail)
{
	bson_t doc = BSON_INITIALIZER;

	publish_append_time(&doc);
	BSON_APPEND_UTF8(&doc, "tenant", s->s_tid);
	BSON_APPEND_UTF8(&doc, "stream", s->s_name);
	BSON_APPEND_UTF8(&doc, "event", event);
	BSON_APPEND_UTF8(&doc, "detail", detail);
	BSON_APPEND_INT32(&doc, "desired", s->s_desired);
	BSON_APPEND_INT32(&doc, "running", lifecycle_running(s));
	publish_doc(s->s_mgr, "event", s, &doc);
	bson_destroy(&doc);
}

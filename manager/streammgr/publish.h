/*
 * What streammgr tells its subscribers (the monitor) on run/streammgr.pub:
 * "stats <tenant> <stream>" and "event <tenant> <stream>" messages, JSON.
 * Below stream.c, supervise.c and scontrol.c, which all publish.
 */
#ifndef MYSIMBDP_PUBLISH_H
#define MYSIMBDP_PUBLISH_H

#include <bson/bson.h>

#include "smgr.h"

/* An event of stream s: "scale", "crashloop", "dead-letter", ... */
void publish_event(struct stream *s, const char *event, const char *detail);

/* Sends doc under the topic "<kind> <tenant> <stream>"; never blocks. */
void publish_doc(struct smgr *m, const char *kind, const struct stream *s,
    const bson_t *doc);

/* Appends "time": now, as the records write it. */
void publish_append_time(bson_t *doc);

#endif

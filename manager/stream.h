/*
 * A tenant's stream in streammgr: its ingress and work endpoints, its
 * queue, delivery to instances under their credit, acks, redelivery and
 * dead letters. The wire protocols are in docs/protocols.md.
 */
#ifndef MYSIMBDP_STREAM_H
#define MYSIMBDP_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "smgr.h"

/* Endpoints of a stream: "ipc://<state>/run/<tenant>/<name>.<kind>". */
char *stream_endpoint(const struct smgr *m, const char *tenant,
    const char *name, const char *kind);

/*
 * Creates a stream: queue folder, dead-letter file, bound sockets. State
 * RUNNING with the profile's initial count desired (no instance started:
 * supervise_reconcile does that). Returns NULL with err set.
 */
struct stream *stream_new(struct smgr *m, struct conf_tenant *t,
    const struct conf_stream *c, char *err, size_t errlen);

/* Closes and frees a stream that has no instances left. */
void stream_free(struct stream *s);

/* Takes a new profile (t holds c); clamps desired into its min..max. */
void stream_set_conf(struct stream *s, struct conf_tenant *t,
    const struct conf_stream *c);

struct stream *stream_find(struct smgr *m, const char *tenant,
    const char *name);

/* Delivers pending messages to ready instances, up to their credit. */
void stream_dispatch(struct stream *s);

/*
 * Gives back every message instance i holds (it died or was written off),
 * to be delivered again or, past max_deliveries, dead-lettered with why.
 */
void stream_release(struct stream *s, struct instance *i, const char *why);

/*
 * Moves dead letters (those numbered in ids, all when nids is 0) back into
 * the queue, stored as the stream's durability says. Returns 0 with
 * *requeued set, or -1 with err (nothing moved).
 */
int stream_requeue(struct stream *s, const uint64_t *ids, size_t nids,
    size_t *requeued, char *err, size_t errlen);

/* Nothing waiting and nothing in flight. */
bool stream_idle(const struct stream *s);

/* "running", "stopped", "draining", "drained", "crashloop", "failed". */
const char *stream_state_name(const struct stream *s);

/* start/stop/drain from the control socket; each reconciles. */
void stream_start(struct stream *s);
void stream_stop(struct stream *s);
void stream_drain(struct stream *s);

/* A draining stream that became idle is DRAINED; reconciles. */
void stream_check_drained(struct stream *s);

#endif

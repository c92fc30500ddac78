/*
 * A tenant's stream in streammgr: its ingress and work endpoints, its
 * queue, delivery to instances under their credit, acks, redelivery and
 * dead letters. The wire protocols are in docs/protocols.md.
 */
#ifndef MYSIMBDP_STREAM_H
#define MYSIMBDP_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smgr.h"

/* One ZeroMQ frame's bytes, as the decoders below see them. */
struct stream_frame {
	const void	*f_data;
	size_t		 f_len;
};

/*
 * Checks the shape of a producer's message (docs/protocols.md, "Ingress"):
 * nframes frames after the routing id, the first the msg-id of midlen
 * bytes. Returns NULL when it is [msg-id][payload], else the REJECT
 * status (which may be in buf).
 */
const char *stream_ingress_check(int nframes, size_t midlen, char *buf,
    size_t buflen);

/*
 * Checks a batch ([""][header][records], docs/protocols.md, "Batches"):
 * NULL when the header is good and the records are exactly its count,
 * else the REJECT status for the whole batch (which may be in buf).
 */
const char *stream_batch_check(const void *header, size_t hlen,
    const void *records, size_t rlen, char *buf, size_t buflen);

/*
 * One turn of a producers' socket: a stream's own (fixed), or one shared
 * by every stream (remote.c), whose messages start with a frame naming
 * the stream. route finds it, or returns NULL with the REJECT status in
 * why. The turn receives a bounded number of messages, stores each
 * stream's in one commit, answers them and dispatches.
 */
typedef struct stream *(*stream_route_fn)(void *arg, void *route_frame,
    char *why, size_t whylen);

#define TOUCHED_MAX 64	/* streams one turn may admit into */

struct ingress {
	void		*sock;
	struct zevent	*ev;
	struct stream	*fixed;		/* or: */
	stream_route_fn	 route;
	void		*arg;
	struct touched {
		struct stream *s;
		uint64_t first;		/* its queue's next, before */
		uint64_t accepted;
	} touched[TOUCHED_MAX];
	int		 ntouched;
};

void stream_ingress(struct ingress *in);

/* An instance's command on the work socket (docs/protocols.md, "Work"). */
enum work_cmd { WORK_HELLO, WORK_BYE, WORK_ACK, WORK_NACK, WORK_REJECT,
	WORK_UNKNOWN };

#define WORK_REASON_MAX 200

struct work_request {
	enum work_cmd	 w_cmd;
	char		 w_instance[INSTANCE_ID_MAX + 1];	/* HELLO */
	uint32_t	 w_credit;				/* HELLO */
	bool		 w_batch;	/* HELLO: takes batched deliveries */
	const unsigned char *w_ids;	/* ACK, NACK, REJECT: in the frame */
	size_t		 w_nids;	/* ids, or ranges with w_ranges */
	bool		 w_ranges;	/* an ACKR: ranges of ids */
	char		 w_reason[WORK_REASON_MAX];	/* NACK, REJECT; or "" */
};

/*
 * Decodes what an instance sent after its routing id (ridlen bytes): the
 * command frame cmd, then nargs frames (more than 3 count as 3). Pure:
 * no socket, no stream. Returns NULL with w filled, or the ERR answer,
 * with w->w_cmd saying which command it was.
 */
const char *stream_work_decode(const struct stream_frame *cmd,
    const struct stream_frame *args, int nargs, size_t ridlen,
    struct work_request *w);

/* The k-th id of a decoded ACK, NACK or REJECT (big-endian on the wire). */
uint64_t stream_work_id(const struct work_request *w, size_t k);

/*
 * The k-th of w->w_nids spans of ids a decoded request settles: one id,
 * or with w_ranges (ACKR) a range first..last; the ranges of one
 * request cover at most 65536 ids in all.
 */
void stream_work_span(const struct work_request *w, size_t k,
    uint64_t *first, uint64_t *last);

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

/*
 * Adds subscription c (a reload added it) to stream r: it gets the
 * messages accepted from now on. Returns NULL with err set.
 */
struct stream *stream_add_sub(struct stream *r, struct conf_tenant *t,
    const struct conf_stream *c, char *err, size_t errlen);

/* Closes and frees a stream or subscription that has no instances left;
 * a stream's subscriptions must be freed first. */
void stream_free(struct stream *s);

/* Frees a stream and its subscriptions. */
void stream_free_group(struct stream *s);

/*
 * A subscription removed from the profile gives up everything it holds:
 * each message is released from the journal once no member holds it.
 */
void stream_abandon(struct stream *s);

/* Takes a new profile (t holds c); clamps desired into its min..max. */
void stream_set_conf(struct stream *s, struct conf_tenant *t,
    const struct conf_stream *c);

/*
 * A retiring stream or subscription whose profile a reload brought back:
 * it serves again under c (an abandoned subscription with a new settled
 * list, taking the messages accepted from then on).
 */
void stream_revive(struct stream *s, struct conf_tenant *t,
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

/* What a requeue did: letters queued, and those left in the file. */
struct requeue_result {
	size_t		 rq_requeued;
	size_t		 rq_left;	/* no room for them (rq_full) */
	const char	*rq_full;	/* the bound, when rq_left */
	size_t		 rq_never;	/* past a bound alone: never fit */
	bool		 rq_kept;	/* queued and still in the file */
};

/*
 * Moves dead letters (those numbered in ids, all when nids is 0) back into
 * the queue, stored as the stream's durability says, as many as its
 * max_queue_bytes and the node's stream.max_memory have room for (in the
 * file's order): the rest stay in the file, counted in rq_left; one
 * past a bound alone (a reload lowered it) stays too, counted in
 * rq_never, and those after it are still requeued. Returns
 * 0 with *res set, or -1 with err (nothing moved). With 0, rq_kept says
 * that the file could not be written again without them (err says why):
 * they are queued and still in the file, so a second requeue would queue
 * them again.
 */
int stream_requeue(struct stream *s, const uint64_t *ids, size_t nids,
    struct requeue_result *res, char *err, size_t errlen);

/*
 * How many messages the stream accepted since the oldest one s still
 * holds (0: none held): how far s, a stream or subscription, is behind.
 */
uint64_t stream_lag(const struct stream *s);

/* Tells the supervisor when the queue holds nothing (SE_IDLE). */
void stream_check_idle(struct stream *s);

#endif

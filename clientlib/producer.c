/*
 * Producers: sending records to a stream's ingress socket
 * (docs/protocols.md, "Ingress"). Each record goes out as
 * [seq, 8 bytes big-endian][payload]; streammgr answers [seq][status] in
 * the order of the requests, so a reply is matched by counting: every
 * seq up to p_done is answered, p_done + 1 is the next reply expected.
 *
 * Every message msb_producer_send() accepted gets exactly one callback:
 * its reply, or, when the reply never comes, MSB_REPLY_THROTTLE with a
 * reason starting "no-reply" (the status is unknown: send it again; the
 * platform delivers at least once anyway). A reply never comes when
 * streammgr restarted (the connection, and what was queued on it, is
 * gone); that shows as a reply to a later seq, or as no reply at all for
 * the reply timeout.
 *
 * Batches (protocol 2, docs/protocols.md "Batches"): a record sent while
 * nothing awaits a reply goes out at once, alone; records sent while
 * others await theirs pile up in p_batch and go out as one message
 * [""][first seq, count][records] when it holds p_batch_count records
 * or p_batch_bytes, when it is p_linger ms old, when streammgr has
 * answered everything before it, and before any wait. A reply
 * [""][first seq, count][statuses] answers each record of a batch; a
 * reply naming records that do not await one (never sent, or some
 * answered already) is refused whole, with no callback. A
 * streammgr that answers a batch with a single-form REJECT (protocol 1)
 * turns batching off; that batch's records (p_inflight keeps where the
 * batches on the wire start and end) get THROTTLE "protocol: ...", to be
 * sent again, alone, and records held then go alone, before the next.
 *
 * The connection is a link (link.h): ZMTP spoken here over ipc://, or
 * libzmq over tcp:// with CURVE. A link over ipc says when its
 * connection ended (streammgr restarted), after the replies that came
 * before the end (a send that finds it is only not taken): what still
 * awaited a reply on it is written off at once, and the next send
 * connects again.
 *
 * The send path allocates nothing of its own per message; a reply is
 * read in place in the link's buffer.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mysimbdp-internal.h"
#include "link.h"
#include "../common/wirebatch.h"

#define DEFAULT_WINDOW		1000
#define DEFAULT_REPLY_TIMEOUT_MS 10000
#define CLOSE_LINGER_MS		1000
#define REASON_MAX		1024
#define DEFAULT_BATCH_BYTES	(64 * 1024)
#define DEFAULT_LINGER_MS	1
#define BATCH_COUNT_MAX		1024
#define FOLLOW_MAX		320	/* a node's endpoint and key */
#define KEY_LEN			40	/* a CURVE key in Z85 */

struct span {
	uint64_t	 first;
	uint32_t	 count;
};

struct msb_producer {
	struct msb__link *p_link;
	msb_reply_cb	 p_cb;
	void		*p_arg;
	uint32_t	 p_window;
	int		 p_timeout;	/* reply timeout, ms */
	uint64_t	 p_sent;	/* seq of the last message sent */
	uint64_t	 p_done;	/* every seq up to it has had its callback */
	int64_t		 p_progress;	/* last reply, or first send: ms */
	uint64_t	 p_lost;	/* written off as no-reply */
	bool		 p_incb;	/* inside the callback */
	bool		 p_closing;	/* closed by the callback: see leave() */
	bool		 p_quiet_ok;	/* OK replies: counted, not called back */
	bool		 p_final;	/* close_now(): what was sent may leave */
	bool		 p_refused;	/* a refused reply the next call says */
	uint64_t	 p_counts[3];	/* replies by enum msb_reply_status */
	struct zmtp_msg	 p_reply;	/* [msg-id][status], or
					   [""][header][statuses] */
	struct wb_buf	 p_batch;	/* records not sent yet */
	uint64_t	 p_bfirst;	/* seq of its first */
	uint32_t	 p_bcount;
	int64_t		 p_bstart;	/* when its first came: ms */
	struct span	*p_inflight;	/* batches on the wire, oldest first */
	uint32_t	 p_nspans;	/* ring of p_window / 2 + 1 */
	uint32_t	 p_span0;
	uint32_t	 p_spans;
	size_t		 p_batch_bytes;	/* 0: every record alone */
	uint32_t	 p_batch_count;
	int		 p_linger;	/* ms */
	char		*p_route;	/* remote: "TENANT/STREAM" frame */
	char		*p_key_file;	/* remote: this producer's key pair */
	char		 p_follow[FOLLOW_MAX];	/* "moved": tcp://ADDR KEY */
	unsigned char	 p_idbuf[8];
	char		 p_reason[REASON_MAX];
	char		 p_err[512];
};

static int follow(struct msb_producer *);

/* Records why p failed and returns rc. */
static int
fail(struct msb_producer *p, int rc, const char *fmt, ...)
    MSB__FMT(3, 4);

static int
fail(struct msb_producer *p, int rc, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(p->p_err, sizeof(p->p_err), fmt, ap);
	va_end(ap);
	errno = saved;
	return rc;
}

static uint32_t
outstanding(const struct msb_producer *p)
{
	return (uint32_t)(p->p_sent - p->p_done);
}

static void
callback(struct msb_producer *p, uint64_t seq, enum msb_reply_status st,
    const char *reason)
{
	p->p_counts[st]++;
	if (p->p_cb == NULL || (st == MSB_REPLY_OK && p->p_quiet_ok))
		return;
	p->p_incb = true;
	p->p_cb(seq, st, reason, p->p_arg);
	p->p_incb = false;
}

/* Gives up on the replies up to seq (not included). Returns how many. */
static int
write_off(struct msb_producer *p, uint64_t seq, const char *why)
{
	int n = 0;

	while (p->p_done + 1 < seq) {
		p->p_done++;
		p->p_lost++;
		callback(p, p->p_done, MSB_REPLY_THROTTLE, why);
		n++;
	}
	if (p->p_bcount > 0 && p->p_done >= p->p_bfirst) {
		p->p_bcount = 0;	/* written off with the rest */
		p->p_batch.b_len = 0;
	}
	return n;
}

/*
 * Gives up on every outstanding message. What the link still holds
 * unwritten is theirs: dropped with its connection, or it would go out
 * after their callback, and streammgr would store what the app sends
 * again twice (at close, with no callback, it has its time to leave).
 * Returns how many.
 */
static int
give_up(struct msb_producer *p, const char *why)
{
	int n = write_off(p, p->p_sent + 1, why);

	if (n > 0 && !p->p_final && p->p_link->l_ops->lo_drop != NULL)
		p->p_link->l_ops->lo_drop(p->p_link);
	return n;
}

/*
 * Writes off every outstanding message when no reply came for the reply
 * timeout. Returns how many.
 */
static int
check_stall(struct msb_producer *p, int64_t now)
{
	char why[128];

	if (outstanding(p) == 0 || now - p->p_progress < p->p_timeout)
		return 0;
	snprintf(why, sizeof(why), "no-reply: none within %d ms",
	    p->p_timeout);
	fail(p, MSB_TEMPFAIL, "no reply from streammgr within %d ms",
	    p->p_timeout);
	return give_up(p, why);
}

/*
 * A status "WORD" or "WORD reason": copies the reason (maybe empty) into
 * buf and returns its length + 1; 0 when st is not that word.
 */
static size_t
word_reason(const char *st, size_t len, const char *word, char *buf,
    size_t buflen)
{
	size_t wlen = strlen(word), rlen;

	if (len < wlen || memcmp(st, word, wlen) != 0 ||
	    (len > wlen && st[wlen] != ' '))
		return 0;
	rlen = len > wlen + 1 ? len - wlen - 1 : 0;
	if (rlen >= buflen)
		rlen = buflen - 1;
	if (rlen > 0)
		memcpy(buf, st + wlen + 1, rlen);
	buf[rlen] = '\0';
	return rlen + 1;
}

/*
 * "moved: tenant T is served by node N at ADDR key KEY" (streammgr's
 * answer for a tenant moved to another node): keeps where to follow it.
 */
static void
note_moved(struct msb_producer *p, const char *reason)
{
	char addr[256], key[KEY_LEN + 1];
	const char *at;

	if (p->p_route == NULL || strncmp(reason, "moved: ", 7) != 0 ||
	    (at = strstr(reason, " at ")) == NULL ||
	    sscanf(at, " at %255s key %40s", addr, key) != 2 ||
	    !msb__remote_key_valid(key))
		return;
	snprintf(p->p_follow, sizeof(p->p_follow), "tcp://%s %s", addr, key);
}

/*
 * The answer st (len bytes) to seq: the callbacks of the records written
 * off before it, then its own. Returns how many were made.
 */
static int
answer(struct msb_producer *p, uint64_t seq, const char *st, size_t len)
{
	enum msb_reply_status status;
	const char *reason = NULL;
	size_t rlen;
	char q[48];
	int n;

	if (seq <= p->p_done || seq > p->p_sent - p->p_bcount)
		return 0;	/* late: already written off */
	n = write_off(p, seq, "no-reply: a later message was answered "
	    "first (streammgr restarted?)");
	if (len == 2 && memcmp(st, "OK", 2) == 0)
		status = MSB_REPLY_OK;
	else if ((rlen = word_reason(st, len, "THROTTLE", p->p_reason,
	    sizeof(p->p_reason))) > 0) {
		status = MSB_REPLY_THROTTLE;
		reason = rlen > 1 ? p->p_reason : NULL;
	} else if ((rlen = word_reason(st, len, "REJECT", p->p_reason,
	    sizeof(p->p_reason))) > 0) {
		status = MSB_REPLY_REJECT;
		reason = p->p_reason;
	} else {
		/* Nothing stored that we know of: the app decides. */
		status = MSB_REPLY_REJECT;
		snprintf(p->p_reason, sizeof(p->p_reason),
		    "unknown-status: \"%s\"", msb__quote(st, len, q,
		    sizeof(q)));
		reason = p->p_reason;
	}
	if (status == MSB_REPLY_THROTTLE && reason != NULL)
		note_moved(p, reason);
	p->p_done = seq;
	callback(p, seq, status, reason);
	return n + 1;
}

/*
 * A reply streammgr cannot have sent: refused whole, no callback made
 * for it (its records stay outstanding: a later reply or the reply
 * timeout writes them off). Returns -1 with p_err and errno EPROTO.
 */
static int
malformed(struct msb_producer *p, const char *fmt, ...) MSB__FMT(2, 3);

static int
malformed(struct msb_producer *p, const char *fmt, ...)
{
	uint64_t sent = p->p_sent - p->p_bcount;
	char what[160], awaits[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (sent > p->p_done)
		snprintf(awaits, sizeof(awaits), "records %" PRIu64 " to %"
		    PRIu64 " await replies", p->p_done + 1, sent);
	else
		snprintf(awaits, sizeof(awaits), "no record awaits a reply");
	errno = EPROTO;
	return fail(p, -1, "a malformed reply from streammgr, ignored: %s; "
	    "%s", what, awaits);
}

/*
 * Whether a reply to records first to first + count - 1 may be taken.
 * Not when it names a record never sent (beyond p_sent, held in
 * p_batch, 0, or past the last seq), or records called back already
 * with others awaiting theirs (streammgr answers a batch whole, in
 * order). One wholly at or below p_done is late: its records were
 * written off (the reply timeout, or a later one answered first), and
 * answer() ignores it. Returns 0, or -1 (malformed()).
 */
static int
check_names(struct msb_producer *p, uint64_t first, uint32_t count)
{
	if (first == 0 || first - 1 > UINT64_MAX - count ||
	    first - 1 + count > p->p_sent - p->p_bcount)
		return malformed(p, "%u from record %" PRIu64 " named, some "
		    "never sent", count, first);
	if (first <= p->p_done && first - 1 + count > p->p_done)
		return malformed(p, "%u from record %" PRIu64 " named, some "
		    "answered already and some not", count, first);
	return 0;
}

/* A reply [msg-id][status] in p_reply. */
static int
handle_reply(struct msb_producer *p)
{
	const struct zmtp_frame *f = p->p_reply.zm_f;
	uint64_t seq;

	if (f[0].len != 8)
		return 0;	/* not an id of ours */
	seq = msb__get_be64(f[0].data);
	if (check_names(p, seq, 1) == -1)
		return -1;
	return answer(p, seq, f[1].data, f[1].len);
}

/*
 * A batch's reply [""][header][statuses] in p_reply: one status per
 * record, or one for all of them. Checked whole before any callback.
 */
static int
handle_batch_reply(struct msb_producer *p)
{
	const struct zmtp_frame *f = p->p_reply.zm_f;
	struct wb_reader r;
	const char *st, *all = NULL;
	uint64_t first;
	uint32_t count, nst = 0;
	size_t len, alllen = 0;
	int n = 0, rc;

	if (!wb_get_header(f[1].data, f[1].len, &first, &count))
		return malformed(p, "a batch's header of %zu bytes, not 12 "
		    "with a count of 1 to %u", f[1].len, WB_MAX_COUNT);
	if (check_names(p, first, count) == -1)
		return -1;
	wb_reader_init(&r, f[2].data, f[2].len);
	while ((rc = wb_next_status(&r, &st, &len)) == 1)
		if (nst++ == 0) {
			all = st;
			alllen = len;
		}
	if (rc == -1 || (nst != 1 && nst != count))
		return malformed(p, "%u from record %" PRIu64 " named, %s%u "
		    "statuses", count, first, rc == -1 ? "a cut one after " :
		    "", nst);
	wb_reader_init(&r, f[2].data, f[2].len);
	for (uint32_t k = 0; k < count; k++) {
		if (nst == count)	/* one each (one for one, too) */
			wb_next_status(&r, &st, &len);
		else {
			st = all;
			len = alllen;
		}
		n += answer(p, first + k, st, len);
	}
	return n;
}

/*
 * A protocol 1 streammgr refused a batch ([""][REJECT malformed...]):
 * replies come in order, so it is the oldest batch on the wire not yet
 * answered. Its records are to be sent again, alone from now on.
 */
static int
refused_batch(struct msb_producer *p)
{
	struct span sp;

	p->p_batch_bytes = 0;
	while (p->p_spans > 0) {
		sp = p->p_inflight[p->p_span0];
		p->p_span0 = (p->p_span0 + 1) % p->p_nspans;
		p->p_spans--;
		if (sp.first + sp.count - 1 > p->p_done)
			return write_off(p, sp.first + sp.count, "protocol: "
			    "streammgr does not take batches (protocol 1); "
			    "send again: records now go alone");
	}
	return 0;
}

/* Notes a batch sent, forgetting those answered. */
static void
span_push(struct msb_producer *p, uint64_t first, uint32_t count)
{
	while (p->p_spans > 0 && p->p_inflight[p->p_span0].first +
	    p->p_inflight[p->p_span0].count - 1 <= p->p_done) {
		p->p_span0 = (p->p_span0 + 1) % p->p_nspans;
		p->p_spans--;
	}
	if (p->p_spans == p->p_nspans)	/* cannot be: batches are >= 2 */
		return;
	p->p_inflight[(p->p_span0 + p->p_spans++) % p->p_nspans] =
	    (struct span){ first, count };
}

/*
 * The message in p_reply: a reply, a batch's reply, or a protocol 1
 * streammgr's REJECT of a batch (then batching stops); anything else is
 * not a reply of ours. Returns the callbacks made, or -1 for a reply
 * refused (malformed()).
 */
static int
handle_message(struct msb_producer *p)
{
	size_t n = p->p_reply.zm_nframes;

	if (n < 2)
		return 0;	/* no status: not a reply */
	if (p->p_reply.zm_f[0].len != 0)
		return n == 2 ? handle_reply(p) : 0;
	if (n == 2)
		return refused_batch(p);
	return n == 3 ? handle_batch_reply(p) : 0;
}

/*
 * The link's connection ended (streammgr restarted): no reply to what
 * went out on it will come. Those records are written off now; a batch
 * not sent yet stays, for the next connection. Returns the callbacks
 * made.
 */
static int
connection_ended(struct msb_producer *p)
{
	const char *e = p->p_link->l_ops->lo_error(p->p_link);
	char why[320];
	int n;

	snprintf(why, sizeof(why), "no-reply: %s", e);
	p->p_span0 = p->p_spans = 0;	/* batches on the wire */
	p->p_progress = msb__now_ms();
	if ((n = write_off(p, p->p_sent - p->p_bcount + 1, why)) > 0)
		fail(p, 0, "%d unanswered: %s", n, e);
	return n;
}

/*
 * Handles every reply that has arrived, without waiting; stops at a
 * malformed one (the rest is read by the next call). Returns the
 * callbacks made, or -1 (p_err set).
 */
static int
drain(struct msb_producer *p)
{
	struct msb__link *l = p->p_link;
	int n = 0, k = 0;

	for (;;) {
		if (l->l_ops->lo_recv(l, &p->p_reply) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			if (errno != ECONNRESET)
				return fail(p, -1, "receive from streammgr: "
				    "%s", l->l_ops->lo_error(l));
			n += connection_ended(p);
		} else if ((k = handle_message(p)) == -1)
			break;
		else
			n += k;
		if (p->p_closing)
			return -1;
	}
	if (n > 0)
		p->p_progress = msb__now_ms();
	if (k == -1)
		return -1;	/* malformed() said why */
	if (p->p_follow[0] != '\0' && !p->p_incb && follow(p) == -1)
		return -1;
	return n;
}

/*
 * Follows the tenant to the node "moved" named: a socket connected
 * there, with its key (the old node, which we trusted, gave it), and
 * what still awaited a reply from the old node written off as THROTTLE
 * no-reply (the app sends it again, as after any THROTTLE). Returns 0,
 * or -1 when the new socket cannot be made.
 */
static int
follow(struct msb_producer *p)
{
	char endpoint[FOLLOW_MAX], why[FOLLOW_MAX + 64], err[512];
	struct msb__link *to;
	char *key;

	snprintf(endpoint, sizeof(endpoint), "%s", p->p_follow);
	p->p_follow[0] = '\0';
	if ((key = strchr(endpoint, ' ')) == NULL)
		return 0;
	*key++ = '\0';
	snprintf(why, sizeof(why), "no-reply: the tenant moved to %s",
	    endpoint);
	write_off(p, p->p_sent + 1, why);
	p->p_span0 = p->p_spans = 0;	/* batches on the old link */
	if (msb__link_remote_open(&to, endpoint, p->p_key_file, key, err,
	    sizeof(err)) != MSB_OK)
		return fail(p, -1, "follow the tenant to %s: %s", endpoint,
		    err);
	p->p_link->l_ops->lo_close(p->p_link, 0);
	p->p_link = to;
	return 0;
}

/* Waits up to ms for events (POLLIN, POLLOUT). Returns 0 or -1. */
static int
wait_for(struct msb_producer *p, short events, int64_t ms)
{
	struct msb__link *l = p->p_link;

	if (p->p_closing)
		return -1;	/* nothing more to wait for */
	if (ms < 0)
		ms = 0;
	if (ms > INT_MAX)
		ms = INT_MAX;
	if (l->l_ops->lo_wait(l, events, (int)ms) == -1)
		return fail(p, -1, "%s", l->l_ops->lo_error(l));
	return 0;
}

static int
refuse_in_callback(struct msb_producer *p)
{
	errno = EDEADLK;
	return fail(p, MSB_ERROR, "a producer function was called from the "
	    "reply callback");
}

static void
destroy(struct msb_producer *p)
{
	if (p->p_link != NULL)
		p->p_link->l_ops->lo_close(p->p_link, CLOSE_LINGER_MS);
	free(p->p_route);
	free(p->p_key_file);
	wb_free(&p->p_batch);
	free(p->p_inflight);
	free(p);
}

/* A producer without its link yet. */
static int
producer_new(struct msb_producer **pp, const char *endpoint, uint32_t window,
    msb_reply_cb cb, void *arg, char *err, size_t errlen)
{
	struct msb_producer *p;

	*pp = NULL;
	if (window == 0)
		window = DEFAULT_WINDOW;
	if (window > INT32_MAX / 2) {
		msb__seterr(err, errlen, "producer: window %u: too large",
		    window);
		return MSB_ERROR;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		msb__seterr(err, errlen, "producer: %s", strerror(errno));
		return MSB_ERROR;
	}
	p->p_cb = cb;
	p->p_arg = arg;
	p->p_window = window;
	p->p_timeout = DEFAULT_REPLY_TIMEOUT_MS;
	msb_producer_set_batch(p, DEFAULT_BATCH_BYTES, DEFAULT_LINGER_MS);
	p->p_nspans = window / 2 + 1;
	if ((p->p_inflight = calloc(p->p_nspans, sizeof(struct span))) ==
	    NULL) {
		msb__seterr(err, errlen, "producer %s: %s", endpoint,
		    strerror(errno));
		destroy(p);
		return MSB_ERROR;
	}
	*pp = p;
	return MSB_OK;
}

int
msb_producer_open(struct msb_producer **pp, const char *endpoint,
    uint32_t window, msb_reply_cb cb, void *arg, char *err, size_t errlen)
{
	int rc;

	*pp = NULL;
	if (endpoint == NULL || *endpoint == '\0') {
		msb__seterr(err, errlen, "producer: no endpoint");
		return MSB_ERROR;
	}
	if (strncmp(endpoint, "ipc://", 6) != 0) {
		msb__seterr(err, errlen, "producer: endpoint %s: must be "
		    "ipc://PATH (another host: msb_producer_open_remote)",
		    endpoint);
		return MSB_ERROR;
	}
	if ((rc = producer_new(pp, endpoint, window, cb, arg, err,
	    errlen)) != MSB_OK)
		return rc;
	if ((rc = msb__link_ipc_open(&(*pp)->p_link, endpoint, err,
	    errlen)) != MSB_OK) {
		destroy(*pp);
		*pp = NULL;
	}
	return rc;
}

int
msb_producer_open_remote(struct msb_producer **pp, const char *endpoint,
    const char *stream, const char *key_file, const char *server_key,
    uint32_t window, msb_reply_cb cb, void *arg, char *err, size_t errlen)
{
	struct msb_producer *p;
	int rc;

	*pp = NULL;
	if (endpoint == NULL || strncmp(endpoint, "tcp://", 6) != 0) {
		msb__seterr(err, errlen, "producer: remote endpoint %s: must "
		    "be tcp://HOST:PORT", endpoint ? endpoint : "(none)");
		return MSB_ERROR;
	}
	if (stream == NULL || strchr(stream, '/') == NULL ||
	    key_file == NULL || server_key == NULL) {
		msb__seterr(err, errlen, "producer: remote: needs the stream "
		    "as TENANT/STREAM, a key file and the node's public key");
		return MSB_ERROR;
	}
	if ((rc = producer_new(&p, endpoint, window, cb, arg, err,
	    errlen)) != MSB_OK)
		return rc;
	if ((p->p_route = strdup(stream)) == NULL ||
	    (p->p_key_file = strdup(key_file)) == NULL) {
		msb__seterr(err, errlen, "producer: %s", strerror(errno));
		destroy(p);
		return MSB_ERROR;
	}
	if ((rc = msb__link_remote_open(&p->p_link, endpoint, key_file,
	    server_key, err, errlen)) != MSB_OK) {
		destroy(p);
		return rc;
	}
	*pp = p;
	return MSB_OK;
}

/*
 * Sends a message of n frames (after the route, for a remote producer)
 * whose first record is seq, waiting while the link takes nothing: no
 * streammgr connected, or no room. Replies are handled meanwhile
 * (streammgr may be waiting for us to read them). Returns MSB_OK,
 * MSB_TEMPFAIL after the reply timeout or when the records were written
 * off meanwhile (no reply to earlier ones: they must not go out after
 * their callback), or MSB_ERROR.
 */
static int
send_message(struct msb_producer *p, uint64_t seq,
    const struct zmtp_frame *frames, size_t n)
{
	struct zmtp_frame all[4];
	size_t k = 0;
	int64_t now, deadline = 0;
	bool waiting = false;

	if (p->p_route != NULL)
		all[k++] = (struct zmtp_frame){ p->p_route,
		    strlen(p->p_route) };
	for (size_t i = 0; i < n; i++)
		all[k++] = frames[i];
	while (p->p_link->l_ops->lo_send(p->p_link, all, k) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET) {
			connection_ended(p);
			if (p->p_closing)
				return MSB_ERROR;
			continue;	/* on the next connection */
		}
		if (errno != EAGAIN)
			return fail(p, MSB_ERROR, "send: %s",
			    p->p_link->l_ops->lo_error(p->p_link));
		/*
		 * Replies that came are handled before the reply timeout is
		 * judged: a send that found the end leaves those streammgr
		 * wrote before it to be read (link.h), however long ago the
		 * last one was handled.
		 */
		if (drain(p) == -1)
			return MSB_ERROR;
		if (p->p_done >= seq)	/* a move wrote them off */
			return fail(p, MSB_TEMPFAIL, "written off while they "
			    "waited to be sent");
		now = msb__now_ms();
		if (!waiting) {
			deadline = now + p->p_timeout;
			waiting = true;
		}
		if (check_stall(p, now) > 0 && p->p_done >= seq)
			return MSB_TEMPFAIL;	/* p_err says why */
		if (now >= deadline)
			return fail(p, MSB_TEMPFAIL, "no streammgr took the "
			    "message within %d ms (is it running?)",
			    p->p_timeout);
		if (wait_for(p, POLLIN | POLLOUT, deadline - now) == -1)
			return MSB_ERROR;
	}
	return MSB_OK;
}

/* Sends [seq][payload]: one record alone. */
static int
send_single(struct msb_producer *p, uint64_t seq, const void *data,
    size_t len)
{
	struct zmtp_frame f[2] = { { p->p_idbuf, 8 }, { data, len } };

	msb__put_be64(p->p_idbuf, seq);
	return send_message(p, seq, f, 2);
}

/*
 * Sends the held records each alone, in order: stops at the first that
 * does not go, or when a write-off meanwhile took the rest. Each one
 * sent leaves the held ones at once: the next may wait for room while
 * its reply comes in, which answer() must take as a reply to a record
 * sent. Those not sent stay at the start of p_batch (flush_batch may
 * keep them). Returns what send_single does.
 */
static int
send_held_alone(struct msb_producer *p)
{
	struct wb_reader r;
	const void *data;
	size_t len, gone = 0;
	int rc = MSB_OK;

	wb_reader_init(&r, p->p_batch.b_data, p->p_batch.b_len);
	while (rc == MSB_OK && p->p_bcount > 0 &&
	    wb_next_record(&r, &data, &len) == 1)
		if ((rc = send_single(p, p->p_bfirst, data, len)) == MSB_OK) {
			p->p_bfirst++;
			p->p_bcount--;
			gone = (size_t)(r.r_p - p->p_batch.b_data);
		}
	if (p->p_bcount > 0 && gone > 0) {
		memmove(p->p_batch.b_data, p->p_batch.b_data + gone,
		    p->p_batch.b_len - gone);
		p->p_batch.b_len -= gone;
	}
	return rc;
}

/*
 * Sends the batch; a batch of one, or any held records once batching is
 * off (a protocol 1 streammgr refused a batch, or the app set max_bytes
 * 0, while they were held), in the single form, each alone. When no
 * streammgr takes it within the reply timeout, it is written off with
 * everything outstanding. A malformed reply read while it waited to go
 * (EPROTO) is no reason to drop it: it stays held, for the next call.
 * Returns MSB_OK, MSB_TEMPFAIL or MSB_ERROR.
 */
static int
flush_batch(struct msb_producer *p)
{
	unsigned char head[WB_HEADER_LEN];
	char why[128];
	int rc;

	if (p->p_bcount == 0)
		return MSB_OK;
	if (outstanding(p) == p->p_bcount)
		p->p_progress = msb__now_ms();
	if (p->p_bcount == 1 || p->p_batch_bytes == 0)
		rc = send_held_alone(p);
	else {
		struct zmtp_frame f[3] = { { "", 0 }, { head, sizeof(head) },
		    { p->p_batch.b_data, p->p_batch.b_len } };

		wb_put_header(head, p->p_bfirst, p->p_bcount);
		if ((rc = send_message(p, p->p_bfirst, f, 3)) == MSB_OK)
			span_push(p, p->p_bfirst, p->p_bcount);
	}
	if (rc == MSB_TEMPFAIL) {
		snprintf(why, sizeof(why), "no-reply: no streammgr took the "
		    "batch within %d ms", p->p_timeout);
		give_up(p, why);
	}
	if (rc == MSB_ERROR && errno == EPROTO && !p->p_closing)
		return rc;	/* malformed() said why */
	p->p_bcount = 0;
	p->p_batch.b_len = 0;
	return rc;
}

/* Whether a record of len bytes may not join the batch as it is. */
static bool
batch_full(const struct msb_producer *p, size_t len)
{
	return p->p_bcount >= p->p_batch_count ||
	    p->p_batch.b_len + WB_RECORD_OVERHEAD + len > p->p_batch_bytes ||
	    msb__now_ms() - p->p_bstart >= p->p_linger;
}

/*
 * Whether this record joins a batch: batching is on and something
 * awaits its reply (looked for now when no batch is open). Returns 1,
 * 0, or -1 when the replies could not be handled (p_err).
 */
static int
batching(struct msb_producer *p)
{
	if (p->p_batch_bytes == 0)
		return 0;
	if (p->p_bcount > 0)
		return 1;
	if (outstanding(p) > 0 && drain(p) == -1)
		return -1;
	return outstanding(p) > 0 && p->p_batch_bytes > 0;
}

static int
producer_send(struct msb_producer *p, const void *data, size_t len,
    uint64_t *seq)
{
	int64_t now;
	int rc;

	/*
	 * Look for replies every 32 sends, not each time: an empty receive
	 * costs a poll(2), about a third of a send otherwise. When they
	 * show streammgr has caught up, the batch goes now.
	 */
	if ((p->p_sent & 31) == 0) {
		if (drain(p) == -1)
			return MSB_ERROR;
		if (p->p_bcount > 0 && outstanding(p) == p->p_bcount &&
		    (rc = flush_batch(p)) != MSB_OK)
			return rc;
	}

	/*
	 * The window is full: wait for replies. Those that came count
	 * before the reply timeout is judged: the app may call again long
	 * after they did.
	 */
	while (outstanding(p) >= p->p_window) {
		if ((rc = flush_batch(p)) != MSB_OK)
			return rc;
		if (drain(p) == -1)
			return MSB_ERROR;
		if (outstanding(p) < p->p_window)
			break;
		now = msb__now_ms();
		if (check_stall(p, now) > 0)
			return MSB_TEMPFAIL;
		if (wait_for(p, POLLIN, p->p_progress + p->p_timeout -
		    now) == -1)
			return MSB_ERROR;
	}

	if ((rc = batching(p)) == -1)
		return MSB_ERROR;
	if (rc == 1) {
		if (p->p_bcount > 0 && batch_full(p, len) &&
		    (rc = flush_batch(p)) != MSB_OK)
			return rc;
		if (wb_put_record(&p->p_batch, data, len) == -1)
			return fail(p, MSB_ERROR, "send: out of memory");
		if (p->p_bcount++ == 0) {
			p->p_bfirst = p->p_sent + 1;
			p->p_bstart = msb__now_ms();
		}
	} else {
		/* Held before batching went off: they go first. */
		if ((rc = flush_batch(p)) != MSB_OK)
			return rc;
		if ((rc = send_single(p, p->p_sent + 1, data, len)) != MSB_OK)
			return rc;
		if (outstanding(p) == 0)
			p->p_progress = msb__now_ms();
	}
	p->p_sent++;
	if (seq != NULL)
		*seq = p->p_sent;
	return MSB_OK;
}

/* Replies handled so far (callbacks made, or that would have been). */
static uint64_t
replies(const struct msb_producer *p)
{
	return p->p_counts[0] + p->p_counts[1] + p->p_counts[2];
}

/*
 * The callbacks since before: those of replies, and of records written
 * off (by the send's wait too, or by a move), not only what drain()
 * counts.
 */
static int
made_since(const struct msb_producer *p, uint64_t before)
{
	uint64_t n = replies(p) - before;

	return n > INT_MAX ? INT_MAX : (int)n;
}

/*
 * A poll that fails (MSB_ERROR) after callbacks of its own: when a
 * reply was refused (EPROTO), it returns their count, which the app
 * would lose otherwise, and the next call says the refusal.
 */
static int
poll_failed(struct msb_producer *p, uint64_t before)
{
	if (errno != EPROTO || replies(p) == before || p->p_closing)
		return MSB_ERROR;
	p->p_refused = true;
	return made_since(p, before);
}

/* The refusal a poll left to say (poll_failed), said: MSB_ERROR. */
static int
say_refused(struct msb_producer *p)
{
	p->p_refused = false;
	errno = EPROTO;		/* p_err says why still */
	return MSB_ERROR;
}

static int
producer_poll(struct msb_producer *p, int timeout_ms)
{
	int64_t now, deadline, wait;
	uint64_t before = replies(p);
	int rc;

	if ((rc = flush_batch(p)) != MSB_OK)
		return rc == MSB_ERROR ? poll_failed(p, before) : rc;
	if (drain(p) == -1)
		return poll_failed(p, before);
	now = msb__now_ms();
	deadline = now + timeout_ms;
	for (;;) {
		check_stall(p, now);
		if (replies(p) > before || outstanding(p) == 0)
			return made_since(p, before);
		wait = p->p_progress + p->p_timeout - now;
		if (timeout_ms >= 0 && deadline - now < wait)
			wait = deadline - now;
		if (wait <= 0)
			return 0;
		if (wait_for(p, POLLIN, wait) == -1)
			return MSB_ERROR;
		if (drain(p) == -1)
			return poll_failed(p, before);
		now = msb__now_ms();
	}
}

static int
producer_flush(struct msb_producer *p, int timeout_ms)
{
	int64_t now, deadline, wait;
	uint64_t lost = p->p_lost;
	int rc;

	if ((rc = flush_batch(p)) != MSB_OK)
		return rc;
	if (drain(p) == -1)
		return MSB_ERROR;
	now = msb__now_ms();
	deadline = now + timeout_ms;
	while (outstanding(p) > 0) {
		check_stall(p, now);
		if (outstanding(p) == 0)
			break;
		wait = p->p_progress + p->p_timeout - now;
		if (timeout_ms >= 0 && deadline - now < wait)
			wait = deadline - now;
		if (wait <= 0)
			return fail(p, MSB_TEMPFAIL, "%u replies did not come "
			    "within %d ms", outstanding(p), timeout_ms);
		if (wait_for(p, POLLIN, wait) == -1 || drain(p) == -1)
			return MSB_ERROR;
		now = msb__now_ms();
	}
	return p->p_lost == lost ? MSB_OK : MSB_TEMPFAIL;
}

/*
 * Closes p: what the app sent goes out if ZeroMQ takes it now; no reply
 * is waited for and no callback made, as for the records before.
 */
static void
close_now(struct msb_producer *p)
{
	p->p_cb = NULL;
	p->p_final = true;	/* no callback: the app is told nothing */
	if (p->p_bcount > 0) {
		p->p_timeout = 0;
		flush_batch(p);
	}
	destroy(p);
}

/*
 * The way out of a call that may have made callbacks: when one closed
 * p, p is closed now, and the call returns MSB_ERROR (ECANCELED).
 */
static int
leave(struct msb_producer *p, int rc)
{
	if (!p->p_closing)
		return rc;
	close_now(p);
	errno = ECANCELED;
	return MSB_ERROR;
}

int
msb_producer_send(struct msb_producer *p, const void *data, size_t len,
    uint64_t *seq)
{
	if (p->p_incb)
		return refuse_in_callback(p);
	if (p->p_refused)
		return say_refused(p);
	return leave(p, producer_send(p, data, len, seq));
}

int
msb_producer_poll(struct msb_producer *p, int timeout_ms)
{
	if (p->p_incb)
		return refuse_in_callback(p);
	if (p->p_refused)
		return say_refused(p);
	return leave(p, producer_poll(p, timeout_ms));
}

int
msb_producer_flush(struct msb_producer *p, int timeout_ms)
{
	if (p->p_incb)
		return refuse_in_callback(p);
	if (p->p_refused)
		return say_refused(p);
	return leave(p, producer_flush(p, timeout_ms));
}

uint32_t
msb_producer_outstanding(const struct msb_producer *p)
{
	return outstanding(p);
}

void
msb_producer_set_reply_timeout(struct msb_producer *p, int timeout_ms)
{
	p->p_timeout = timeout_ms > 0 ? timeout_ms : DEFAULT_REPLY_TIMEOUT_MS;
}

const char *
msb_producer_error(const struct msb_producer *p)
{
	return p != NULL ? p->p_err : "";
}

void
msb_producer_close(struct msb_producer *p)
{
	if (p == NULL)
		return;
	if (p->p_incb) {
		/* The call that made the callback closes p on its way out. */
		p->p_cb = NULL;
		p->p_closing = true;
		return;
	}
	close_now(p);
}

void
msb_producer_set_batch(struct msb_producer *p, size_t max_bytes,
    int linger_ms)
{
	uint32_t count = p->p_window / 4;

	p->p_batch_bytes = max_bytes;
	p->p_linger = linger_ms >= 0 ? linger_ms : DEFAULT_LINGER_MS;
	p->p_batch_count = count < 1 ? 1 : count > BATCH_COUNT_MAX ?
	    BATCH_COUNT_MAX : count;
}

void
msb_producer_set_quiet_ok(struct msb_producer *p, bool quiet)
{
	p->p_quiet_ok = quiet;
}

void
msb_producer_counts(const struct msb_producer *p, uint64_t counts[3])
{
	memcpy(counts, p->p_counts, sizeof(p->p_counts));
}

int
msb_producer_send_many(struct msb_producer *p, const void *data,
    const size_t *lens, size_t n, size_t *sent, uint64_t *first_seq)
{
	const unsigned char *next = data;
	uint64_t seq;
	int rc = MSB_OK;

	*sent = 0;
	if (p->p_incb)
		return refuse_in_callback(p);
	if (p->p_refused)
		return say_refused(p);
	for (size_t i = 0; i < n; next += lens[i++]) {
		if ((rc = producer_send(p, next, lens[i], &seq)) != MSB_OK)
			break;
		if (i == 0 && first_seq != NULL)
			*first_seq = seq;
		(*sent)++;
	}
	return leave(p, rc);
}

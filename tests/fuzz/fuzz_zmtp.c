/*
 * Fuzz target: clientlib/zmtp.c, reading what its peer sends: as the
 * client (a DEALER, whose peer is a ROUTER), or, when the second byte's
 * top bit is set, as a server end (zrouter.c's), which reads its socket
 * once a call, so zmtp_recv is called again while the socket holds
 * bytes: streammgr's ROUTER, whose peer is a DEALER, or with bit 6 also
 * set the monitor's PULL, whose peer is a PUSH. The input's first byte says how it is fed:
 * bits 0-5 the chunk size (1 to 48 bytes, or 256 to 4096), bit 6 a
 * zmtp_handshake(z, 0) before each round of reads, bit 7 frame_max (100,
 * else 1000). Its second byte's low 6 bits, r, when not 0, make the stream longer
 * than zmtp's input buffer (at least 64 KiB), so that messages straddle
 * its end and it is compacted under a message half parsed: the last r
 * bytes of the stream (the rest of the input) are repeated until it is
 * LONG_STREAM bytes long, and chunks are 64 times larger. The stream is
 * written chunk by chunk into a socketpair whose
 * other end a DEALER adopted (zmtp_adopt), zmtp_recv called until
 * EAGAIN after each chunk, then the writing end shut and zmtp_recv
 * called until the connection's end.
 *
 * The oracle is a reference decoder of zmtp.h's format, apart from
 * zmtp.c and kept simple: one pass over the whole stream, which notes
 * each message, each PING, and the first fault with the fewest bytes
 * that show it (err_at) and the end of the element it is in (whole_at).
 * Invariants:
 *  - each message zmtp_recv returns is the reference's next one: its
 *    frame count and its first ZMTP_FRAMES frames' bytes, within the
 *    bytes written so far, its frames in order, none overlapping;
 *  - zmtp ends the connection with the reference's errno (EPROTO,
 *    EMSGSIZE), never before err_at bytes were written, and by the
 *    round in which whole_at were; a stream cut inside a faulty element
 *    may end either so or with ECONNRESET; a sound stream ends with
 *    ECONNRESET once shut; it returns all of the reference's messages
 *    and no more; an ERROR's reason is in zmtp_error();
 *  - what zmtp writes is our greeting (zmtp.h), READY naming our type,
 *    then one PONG per PING with its context, in order; after a round
 *    without an error, all of those due have been written.
 * A PING shorter than its TTL or with more than 16 bytes of context is
 * answered with the context there is, at most 16 bytes, and of two
 * Socket-Type properties the last counts (zmtp.h, "Lenient"). A message whose bytes from its first frame on pass frame_max
 * + 64 KiB ends the connection with EMSGSIZE at the frame header that
 * passes it (zmtp.c's bound on a message, not in zmtp.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "zmtp.h"

/* Inputs longer are skipped. zmtp also bounds a whole message to
 * frame_max + 64 KiB, which a message of these streams stays below. */
#define IN_MAX		8192
#define LONG_STREAM	(72u << 10)
#define STREAM_MAX	(LONG_STREAM + IN_MAX)
#define OUT_MAX		(512u << 10)	/* our greeting, READY, PONGs */
/* zmtp's out_max: as PONGs are never longer than their PINGs, more than
 * those of any stream here, so that every PING is answered. */
#define ZMTP_OUT_MAX	OUT_MAX

#define MSG_SLACK	(64u << 10)	/* zmtp.c's, see above */
#define F_MORE		0x01
#define F_LONG		0x02
#define F_COMMAND	0x04

struct ref_msg {
	size_t		 nframes;
	const uint8_t	*data[ZMTP_FRAMES];
	size_t		 len[ZMTP_FRAMES];
	size_t		 start;		/* its first frame's offset */
	size_t		 end;		/* just past its last frame */
};

struct ref_pong {
	const uint8_t	*ctx;
	size_t		 len;
	size_t		 at;		/* the PING's end */
};

static struct ref {
	struct ref_msg	 msgs[STREAM_MAX / 2 + 1];
	size_t		 nmsgs;
	struct ref_pong	 pongs[STREAM_MAX / 7 + 1];
	size_t		 npongs;
	size_t		 greeted_at;	/* its greeting whole and good; or 0 */
	size_t		 ready_at;	/* its READY whole and good; or 0 */
	int		 err;		/* EPROTO, EMSGSIZE, or 0 */
	size_t		 err_at;
	size_t		 whole_at;
	const uint8_t	*reason;	/* an ERROR's */
	size_t		 reason_len;
} ref;

static void
fault(int err, size_t err_at, size_t whole_at)
{
	ref.err = err;
	ref.err_at = err_at;
	ref.whole_at = whole_at;
}

/* What zmtp is this run: a server (ROUTER, or PULL with pull), else a
 * DEALER. */
static bool router, pull;

static const char *
our_type(void)
{
	return !router ? "DEALER" : pull ? "PULL" : "ROUTER";
}

/* Whether READY's properties are well formed with a Socket-Type ours
 * talks to. */
static bool
ready_ok(const uint8_t *p, size_t len)
{
	const uint8_t *type = NULL;
	size_t tlen = 0, i = 0;

	while (i < len) {
		size_t nl = p[i], vl;

		if (len - i < 1 + nl + 4)
			return false;
		vl = (size_t)p[i + 1 + nl] << 24 | (size_t)p[i + 2 + nl] << 16 |
		    (size_t)p[i + 3 + nl] << 8 | p[i + 4 + nl];
		if (len - i - 1 - nl - 4 < vl)
			return false;
		if (nl == 11 && strncasecmp((const char *)p + i + 1,
		    "Socket-Type", 11) == 0) {
			type = p + i + 5 + nl;
			tlen = vl;
		}
		i += 1 + nl + 4 + vl;
	}
	if (type == NULL)
		return false;
	if (pull)
		return tlen == 4 && memcmp(type, "PUSH", 4) == 0;
	if (tlen == 6 && (memcmp(type, "ROUTER", 6) == 0 ||
	    memcmp(type, "DEALER", 6) == 0))
		return true;
	return tlen == 3 && memcmp(type, router ? "REQ" : "REP", 3) == 0;
}

/* Whether our READY's properties name our type. */
static bool
ready_own(const uint8_t *p, size_t len)
{
	char want[32];
	int n = snprintf(want, sizeof(want), "%cSocket-Type%c%c%c%c%s", 11,
	    0, 0, 0, (int)strlen(our_type()), our_type());

	return memmem(p, len, want, (size_t)n) != NULL;
}

static bool
named(const uint8_t *name, size_t nlen, const char *want)
{
	return nlen == strlen(want) && memcmp(name, want, nlen) == 0;
}

/* One command frame's body, whole, at [at, end). Returns false at a
 * fault. */
static bool
ref_command(const uint8_t *body, size_t len, size_t at, size_t end,
    bool *ready)
{
	const uint8_t *name = body + 1, *data;
	size_t nlen, dlen;

	if (len == 0 || 1 + (size_t)body[0] > len) {
		fault(EPROTO, at + (len > 0), end);
		return false;
	}
	nlen = body[0];
	data = body + 1 + nlen;
	dlen = len - 1 - nlen;
	if (named(name, nlen, "ERROR")) {
		ref.reason = data + 1;
		ref.reason_len = dlen == 0 ? 0 : data[0] < dlen ? data[0] :
		    dlen - 1;
		fault(EPROTO, at + 1, end);
		return false;
	}
	if (!*ready) {
		if (!named(name, nlen, "READY") || !ready_ok(data, dlen)) {
			fault(EPROTO, at + 1, end);
			return false;
		}
		*ready = true;
		ref.ready_at = end;
		return true;
	}
	if (named(name, nlen, "READY")) {
		fault(EPROTO, at + 1, end);
		return false;
	}
	if (named(name, nlen, "PING")) {
		struct ref_pong *p = &ref.pongs[ref.npongs++];

		p->ctx = dlen > 2 ? data + 2 : data;
		p->len = dlen > 2 ? dlen - 2 : 0;
		if (p->len > 16)
			p->len = 16;
		p->at = end;
	}
	return true;	/* PONG, and any other command */
}

/* Decodes s[0..n) into ref. */
static void
ref_decode(const uint8_t *s, size_t n, size_t frame_max)
{
	static const uint8_t null_mech[20] = "NULL";
	struct ref_msg cur = { 0 };
	bool ready = false;
	size_t off;

	memset(&ref, 0, sizeof(ref));
	/* The greeting: the first wrong byte is the fault. */
	for (size_t i = 0; i < ZMTP_GREETING_LEN && i < n; i++)
		if ((i == 0 && s[i] != 0xff) || (i == 9 && !(s[i] & 0x01)) ||
		    (i == 10 && s[i] < 3) ||
		    (i >= 12 && i < 32 && s[i] != null_mech[i - 12])) {
			fault(EPROTO, i + 1, ZMTP_GREETING_LEN);
			return;
		}
	if (n < ZMTP_GREETING_LEN)
		return;
	ref.greeted_at = ZMTP_GREETING_LEN;

	for (off = ZMTP_GREETING_LEN; off < n; ) {
		unsigned flags = s[off];
		size_t hl = flags & F_LONG ? 9 : 2, len = 0, end, first;
		/* What the flags alone condemn; the size is judged first. */
		bool condemned = (flags & F_COMMAND) ? (flags & F_MORE) != 0 :
		    !ready;

		if (flags & 0xf8) {
			fault(EPROTO, off + 1, off + hl);
			return;
		}
		first = condemned ? off + 1 : (size_t)-1;
		/* The size, byte by byte: too large once even the least
		 * value the rest could give is. */
		for (size_t k = 1; k < hl; k++) {
			size_t least = 0;

			if (off + k >= n) {
				if (condemned)
					fault(EPROTO, first, (size_t)-1);
				return;
			}
			len = hl == 2 ? s[off + 1] : len << 8 | s[off + k];
			least = len;
			for (size_t j = k + 1; j < hl && least <= frame_max;
			    j++)
				least <<= 8;
			if (least > frame_max) {
				fault(EMSGSIZE, first < off + k + 1 ? first :
				    off + k + 1, off + hl);
				return;
			}
		}
		end = off + hl + len;
		if (cur.nframes > 0 && off + hl + len - cur.start >
		    frame_max + MSG_SLACK) {
			fault(EMSGSIZE, off, off + hl);
			return;
		}
		if (condemned) {
			fault(EPROTO, first, end);
			return;
		}
		if (end > n)
			return;		/* cut short */
		if (flags & F_COMMAND) {
			if (!ref_command(s + off + hl, len, off + hl, end,
			    &ready))
				return;
		} else {
			if (cur.nframes == 0)
				cur.start = off;
			if (cur.nframes < ZMTP_FRAMES) {
				cur.data[cur.nframes] = s + off + hl;
				cur.len[cur.nframes] = len;
			}
			cur.nframes++;
			if (!(flags & F_MORE)) {
				cur.end = end;
				ref.msgs[ref.nmsgs++] = cur;
				memset(&cur, 0, sizeof(cur));
			}
		}
		off = end;
	}
}

/*
 * What zmtp wrote, read from the peer's end, and checked: a prefix of
 * our greeting, READY, then PONGs. Returns how many PONGs it holds;
 * *ready tells whether READY is in.
 */
static uint8_t out[OUT_MAX];
static size_t outlen;

static size_t
check_output(int fd, bool *ready, size_t *greeting)
{
	static const uint8_t want[ZMTP_GREETING_LEN] = { 0xff, [9] = 0x7f,
	    3, 1, 'N', 'U', 'L', 'L' };
	size_t o, pongs = 0;
	ssize_t r;

	while ((r = recv(fd, out + outlen, sizeof(out) - outlen,
	    MSG_DONTWAIT)) > 0)
		outlen += (size_t)r;
	FUZZ_CHECK(outlen < sizeof(out), "zmtp wrote %zu bytes", outlen);
	for (size_t i = 0; i < outlen && i < ZMTP_GREETING_LEN; i++)
		FUZZ_CHECK((i >= 1 && i <= 8) || out[i] == want[i],
		    "greeting byte %zu is 0x%02x", i, out[i]);
	*greeting = outlen < ZMTP_GREETING_LEN ? outlen : ZMTP_GREETING_LEN;
	*ready = false;
	for (o = ZMTP_GREETING_LEN; o + 2 <= outlen; ) {
		size_t len = out[o + 1];
		const uint8_t *body = out + o + 2;

		FUZZ_CHECK(out[o] == F_COMMAND, "zmtp wrote a frame with "
		    "flags 0x%02x", out[o]);
		if (o + 2 + len > outlen)
			break;
		if (!*ready) {
			FUZZ_CHECK(len > 6 && memcmp(body, "\x05READY", 6) ==
			    0 && ready_own(body + 6, len - 6),
			    "zmtp's READY is not a %s's", our_type());
			*ready = true;
		} else {
			FUZZ_CHECK(pongs < ref.npongs, "PONG %zu, for %zu "
			    "PINGs", pongs + 1, ref.npongs);
			FUZZ_CHECK(len == 5 + ref.pongs[pongs].len &&
			    memcmp(body, "\x04PONG", 5) == 0 &&
			    memcmp(body + 5, ref.pongs[pongs].ctx,
			    ref.pongs[pongs].len) == 0,
			    "PONG %zu is not PING %zu's", pongs, pongs);
			pongs++;
		}
		o += 2 + len;
	}
	return pongs;
}

/* Bytes the socket holds that zmtp has not read. */
static int
unread(const struct zmtp *z)
{
	int k = 0;

	FUZZ_CHECK(ioctl(zmtp_fd(z), FIONREAD, &k) == 0, "FIONREAD: %s",
	    strerror(errno));
	return k;
}

/* m against the reference's next message. */
static void
check_msg(const struct zmtp_msg *m, size_t got, size_t written)
{
	const struct ref_msg *r = &ref.msgs[got];

	FUZZ_CHECK(got < ref.nmsgs, "message %zu; the reference has %zu",
	    got + 1, ref.nmsgs);
	FUZZ_CHECK(r->end <= written, "message %zu whole at %zu, only %zu "
	    "bytes written", got + 1, r->end, written);
	FUZZ_CHECK(m->zm_nframes == r->nframes, "message %zu: %zu frames, "
	    "not %zu", got + 1, m->zm_nframes, r->nframes);
	for (size_t i = 0; i < m->zm_nframes && i < ZMTP_FRAMES; i++) {
		const struct zmtp_frame *f = &m->zm_f[i];
		const uint8_t *first = m->zm_f[0].data, *prev, *p = f->data;

		FUZZ_CHECK(f->len == r->len[i] && (f->len == 0 ||
		    (p != NULL && memcmp(p, r->data[i], f->len) == 0)),
		    "message %zu frame %zu differs", got + 1, i);
		if (i == 0 || f->len == 0 || m->zm_f[i - 1].len == 0)
			continue;
		/* In order, apart, all within the message's bytes. */
		prev = m->zm_f[i - 1].data;
		FUZZ_CHECK(prev + m->zm_f[i - 1].len <= p && p > first &&
		    (size_t)(p - first) + f->len <= r->end - r->start,
		    "message %zu frame %zu out of place", got + 1, i);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t s[STREAM_MAX];
	size_t n, r, chunk, frame_max, written = 0, got = 0;
	size_t pongs, greeting, due;
	bool handshake, ended = false, ready;
	struct zmtp_msg m;
	struct zmtp *z;
	int sv[2], e = 0;

	if (size < 2 || size > IN_MAX)
		return 0;
	chunk = (data[0] & 0x3f) < 48 ? (data[0] & 0x3fu) + 1 :
	    ((data[0] & 0x3fu) - 47) * 256;
	handshake = data[0] & 0x40;
	frame_max = data[0] & 0x80 ? 100 : 1000;
	router = data[1] & 0x80;
	pull = router && (data[1] & 0x40);
	n = size - 2;
	memcpy(s, data + 2, n);
	r = (data[1] & 0x3fu) < n ? data[1] & 0x3fu : n;
	if (r > 0) {
		/* The stream's tail again and again; each round still fits
		 * in an empty socket, so a write never waits for zmtp. */
		for (; n < LONG_STREAM; n += r)
			memcpy(s + n, s + n - r, r);
		chunk = chunk * 64 > (16u << 10) ? 16u << 10 : chunk * 64;
	}
	ref_decode(s, n, frame_max);

	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
	    "socketpair: %s", strerror(errno));
	FUZZ_CHECK((z = zmtp_new(!router ? ZMTP_DEALER : pull ? ZMTP_PULL :
	    ZMTP_ROUTER,
	    frame_max, ZMTP_OUT_MAX)) != NULL, "zmtp_new");
	FUZZ_CHECK(zmtp_adopt(z, sv[0]) == 0, "zmtp_adopt: %s",
	    zmtp_error(z));
	outlen = 0;

	while (!ended) {
		bool eof = written == n;

		if (eof)
			shutdown(sv[1], SHUT_WR);
		else {
			size_t k = n - written < chunk ? n - written : chunk;

			FUZZ_CHECK(send(sv[1], s + written, k, MSG_NOSIGNAL) ==
			    (ssize_t)k, "send: %s", strerror(errno));
			written += k;
		}
		if (handshake && zmtp_handshake(z, 0) == -1 &&
		    errno != ETIMEDOUT) {
			e = errno;
			ended = true;
		}
		while (!ended) {
			if (zmtp_recv(z, &m) == 0) {
				check_msg(&m, got++, written);
				continue;
			}
			if (errno != EAGAIN) {
				e = errno;
				ended = true;
			} else if (router && unread(z) > 0)
				continue;
			break;
		}
		pongs = check_output(sv[1], &ready, &greeting);
		if (!ended) {
			FUZZ_CHECK(!eof, "no end after EOF");
			FUZZ_CHECK(ref.err == 0 || written < ref.whole_at,
			    "no end with a fault whole at %zu of %zu bytes",
			    ref.whole_at, written);
			FUZZ_CHECK(got == ref.nmsgs || ref.msgs[got].end >
			    written, "message %zu whole at %zu of %zu bytes, "
			    "not returned", got + 1, ref.msgs[got].end,
			    written);
			FUZZ_CHECK(!ref.greeted_at ||
			    written < ref.greeted_at ||
			    greeting == ZMTP_GREETING_LEN, "our greeting not "
			    "all written after the peer's");
			FUZZ_CHECK(!ref.ready_at || written < ref.ready_at ||
			    ready, "our READY not written after the peer's");
			due = 0;
			while (due < ref.npongs && ref.pongs[due].at <= written)
				due++;
			FUZZ_CHECK(pongs == due, "%zu PONGs written, %zu due",
			    pongs, due);
		}
	}

	FUZZ_CHECK(!zmtp_connected(z) && zmtp_fd(z) == -1 &&
	    zmtp_error(z)[0] != '\0', "ended (%s) but not dropped",
	    strerror(e));
	FUZZ_CHECK(got == ref.nmsgs, "%zu messages, the reference has %zu",
	    got, ref.nmsgs);
	if (e == ECONNRESET)
		FUZZ_CHECK(written == n && (ref.err == 0 ||
		    n < ref.whole_at), "ECONNRESET (%s) with a fault whole at "
		    "%zu of %zu bytes", zmtp_error(z), ref.whole_at, n);
	else {
		FUZZ_CHECK(e == ref.err, "%s (%s), the reference says %s",
		    strerror(e), zmtp_error(z), strerror(ref.err));
		FUZZ_CHECK(written >= ref.err_at, "%s (%s) after %zu bytes, "
		    "the fault shows at %zu", strerror(e), zmtp_error(z),
		    written, ref.err_at);
	}
	for (const char *c = zmtp_error(z); *c != '\0'; c++)
		FUZZ_CHECK(*c >= 0x20 && *c < 0x7f, "unprintable byte 0x%02x in "
		    "\"%s\"", (unsigned char)*c, zmtp_error(z));
	if (ref.reason != NULL && e == EPROTO) {
		/* Quoted as zmtp.c quotes the peer's bytes: printable ASCII,
		 * '?' for any other, up to a NUL. */
		size_t k = strnlen((const char *)ref.reason, ref.reason_len);
		char want[101];

		k = k > 100 ? 100 : k;
		for (size_t i = 0; i < k; i++)
			want[i] = ref.reason[i] >= 0x20 && ref.reason[i] < 0x7f ?
			    (char)ref.reason[i] : '?';
		FUZZ_CHECK(memmem(zmtp_error(z), strlen(zmtp_error(z)), want,
		    k) != NULL, "ERROR's reason not in \"%s\"", zmtp_error(z));
	}
	/* What it wrote before the end, to its EOF. */
	check_output(sv[1], &ready, &greeting);
	close(sv[1]);
	zmtp_free(z, 0);
	return 0;
}

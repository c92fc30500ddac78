/*
 * ZMTP 3.1 over ipc, NULL mechanism, client side (zmtp.h states the
 * format).
 *
 * The input buffer holds what was read and not yet consumed: from
 * z_inrd, the start of the message being taken apart (or of whatever
 * comes next), to z_inwr. z_inpos is how far the parse got. The frames
 * of the message are kept as offsets from the buffer's start, so the
 * buffer may be moved (compacted, grown) before the message is whole;
 * once it is handed out it stays put until the next zmtp_recv, which
 * consumes it first.
 *
 * Our greeting and READY go in steps as the peer's come (see
 * handshake_allowed), from a small buffer of their own; messages wait
 * in the output buffer until the peer's READY has come.
 * libzmq's server takes a message only once it has sent its own READY,
 * and when a client's greeting, READY and first message are all there
 * at its accept, it reads them before it writes anything: a message
 * sent at once is a protocol error there. libzmq's clients wait for the
 * handshake as well. Once the peer is ready, a send writes straight
 * from the caller's frames when nothing waits, and copies only what the
 * socket did not take.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mysimbdp-internal.h"
#include "zmtp.h"

#define F_MORE		0x01
#define F_LONG		0x02
#define F_COMMAND	0x04
#define F_RESERVED	0xf8

/* The input buffer, at least: a delivery batch of streammgr's (256
 * KiB of payload) fits without growing it, or the largest frame. */
#define IN_MIN		(512u << 10)
#define IN_KEEP		(1u << 20)	/* shrunk back below this when empty */
#define OUT_KEEP	(1u << 20)	/* the same for the output */
/* A server's, at first: it has a connection per peer, whose commands
 * are small (an instance's acks); it grows for a larger one. */
#define IN_MIN_SERVER	(16u << 10)
#define MSG_SLACK	(64u << 10)	/* a message's other frames, headers */
#define SEND_FRAMES	8		/* frames of a message sent */
#define QUEUE_MAX	(64u << 10)	/* bytes zmtp_queue lets wait */
#define PING_CONTEXT	16		/* bytes of a PING's context echoed */
#define HANDSHAKE_MAX	160		/* our greeting and READY */

enum peer_state {
	PEER_GREETING,	/* its greeting has not come whole */
	PEER_HANDSHAKE,	/* greeting checked; its READY next */
	PEER_READY,	/* messages may come */
};

struct zmtp {
	enum zmtp_type	 z_type;
	int		 z_fd;
	enum peer_state	 z_peer;
	size_t		 z_frame_max;
	size_t		 z_out_max;

	unsigned char	*z_in;
	size_t		 z_incap;
	size_t		 z_inmin;	/* its size at first */
	size_t		 z_inrd;	/* start of what is not consumed */
	size_t		 z_inpos;	/* how far the parse got */
	size_t		 z_inwr;	/* end of what was read */
	size_t		 z_need;	/* bytes from z_inpos the parse waits for */
	size_t		 z_nframes;	/* of the message being parsed */
	size_t		 z_froff[ZMTP_FRAMES];
	size_t		 z_frlen[ZMTP_FRAMES];
	bool		 z_handed;	/* [z_inrd, z_inpos) was handed out */

	unsigned char	 z_hs[HANDSHAKE_MAX];	/* our greeting and READY */
	size_t		 z_hslen;
	size_t		 z_hsrd;		/* sent of it */
	unsigned char	*z_out;			/* messages, PONGs */
	size_t		 z_outcap;
	size_t		 z_outrd;
	size_t		 z_outwr;

	bool		 z_keep_in;	/* zmtp_read_to_end */
	bool		 z_wended;	/* a write found the end: read on */
	char		 z_err[256];
};

static const char *const type_names[] = {
	[ZMTP_DEALER] = "DEALER",
	[ZMTP_PUSH] = "PUSH",
	[ZMTP_ROUTER] = "ROUTER",
	[ZMTP_PULL] = "PULL",
};

/* The server end of one connection: its peers are not trusted. */
static bool
is_server(const struct zmtp *z)
{
	return z->z_type == ZMTP_ROUTER || z->z_type == ZMTP_PULL;
}

/* The peer types each type talks to (RFC 37, "Socket types"). */
static bool
peer_type_ok(enum zmtp_type type, const unsigned char *v, size_t len)
{
	static const char *const ok[][4] = {
		[ZMTP_DEALER] = { "ROUTER", "DEALER", "REP" },
		[ZMTP_PUSH] = { "PULL" },
		[ZMTP_ROUTER] = { "DEALER", "REQ", "ROUTER" },
		[ZMTP_PULL] = { "PUSH" },
	};

	for (size_t i = 0; i < 4 && ok[type][i] != NULL; i++)
		if (strlen(ok[type][i]) == len &&
		    memcmp(ok[type][i], v, len) == 0)
			return true;
	return false;
}

static int
seterr(struct zmtp *z, int e, const char *fmt, ...)
    __attribute__((__format__(__printf__, 3, 4)));

/* Records why and returns -1 with errno e. */
static int
seterr(struct zmtp *z, int e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(z->z_err, sizeof(z->z_err), fmt, ap);
	va_end(ap);
	errno = e;
	return -1;
}

/* Closes the connection and forgets its state. The input buffer stays:
 * a message handed out stays valid until the caller's next zmtp_recv,
 * zmtp_connect, zmtp_disconnect or zmtp_free. */
static void
drop(struct zmtp *z)
{
	if (z->z_fd >= 0)
		close(z->z_fd);
	z->z_fd = -1;
	z->z_inrd = z->z_inpos = z->z_inwr = z->z_need = 0;
	z->z_nframes = 0;
	z->z_handed = false;
	z->z_outrd = z->z_outwr = 0;
	z->z_hslen = z->z_hsrd = 0;
	z->z_peer = PEER_GREETING;
	z->z_wended = false;
}

void
zmtp_disconnect(struct zmtp *z)
{
	drop(z);
	if (z->z_incap > IN_KEEP) {
		free(z->z_in);
		z->z_in = NULL;
		z->z_incap = 0;
	}
}

/* The connection's end: dropped, errno kept. Returns -1. */
static int
lost(struct zmtp *z)
{
	int e = errno;

	drop(z);
	errno = e;
	return -1;
}

/*
 * A write found the connection's end (errno): dropped, or, after
 * zmtp_read_to_end, when the peer closed it, kept for reading what the
 * peer sent before it went. What waited to be written never goes.
 * Returns -1, errno kept.
 */
static int
write_end(struct zmtp *z)
{
	int e = errno;

	if (!z->z_keep_in || (e != EPIPE && e != ECONNRESET))
		return lost(z);
	z->z_wended = true;
	z->z_outrd = z->z_outwr = 0;
	z->z_hsrd = z->z_hslen;
	errno = e;
	return -1;
}

struct zmtp *
zmtp_new(enum zmtp_type type, size_t frame_max, size_t out_max)
{
	struct zmtp *z = calloc(1, sizeof(*z));

	if (z == NULL)
		return NULL;
	z->z_type = type;
	z->z_fd = -1;
	z->z_frame_max = frame_max;
	z->z_out_max = out_max;
	z->z_inmin = is_server(z) ? IN_MIN_SERVER : IN_MIN;
	if (z->z_inmin > frame_max + MSG_SLACK)
		z->z_inmin = frame_max + MSG_SLACK;
	return z;
}

/* Room for len more bytes at the output buffer's end. */
static int
out_reserve(struct zmtp *z, size_t len)
{
	unsigned char *p;
	size_t cap;

	if (z->z_outrd > 0 && z->z_outrd == z->z_outwr)
		z->z_outrd = z->z_outwr = 0;
	if (z->z_outcap - z->z_outwr >= len)
		return 0;
	if (z->z_outrd > 0) {
		memmove(z->z_out, z->z_out + z->z_outrd,
		    z->z_outwr - z->z_outrd);
		z->z_outwr -= z->z_outrd;
		z->z_outrd = 0;
		if (z->z_outcap - z->z_outwr >= len)
			return 0;
	}
	for (cap = z->z_outcap ? z->z_outcap : 4096;
	    cap - z->z_outwr < len; cap *= 2)
		;
	if ((p = realloc(z->z_out, cap)) == NULL)
		return seterr(z, ENOMEM, "out of memory for %zu bytes to send",
		    len);
	z->z_out = p;
	z->z_outcap = cap;
	return 0;
}

static int
out_put(struct zmtp *z, const void *data, size_t len)
{
	if (out_reserve(z, len) == -1)
		return -1;
	if (len > 0)
		memcpy(z->z_out + z->z_outwr, data, len);
	z->z_outwr += len;
	return 0;
}

/* A frame's header for len bytes into h (9 bytes). Returns its length. */
static size_t
frame_header(unsigned char *h, unsigned flags, size_t len)
{
	if (len <= 255) {
		h[0] = (unsigned char)flags;
		h[1] = (unsigned char)len;
		return 2;
	}
	h[0] = (unsigned char)(flags | F_LONG);
	for (int i = 8; i >= 1; i--, len >>= 8)
		h[i] = (unsigned char)len;
	return 9;
}

/* A command's header and name, [flags][size][name length][name], for a
 * body of len bytes after the name, into h (at most 9 + 1 + 255). */
static size_t
command_header(unsigned char *h, const char *name, size_t len)
{
	size_t n = strlen(name), hl;

	hl = frame_header(h, F_COMMAND, 1 + n + len);
	h[hl] = (unsigned char)n;
	memcpy(h + hl + 1, name, n);
	return hl + 1 + n;
}

/* Queues a command after the messages: [name length][name][data]. */
static int
put_command(struct zmtp *z, const char *name, const void *data, size_t len)
{
	unsigned char h[9 + 1 + 255];

	if (out_put(z, h, command_header(h, name, len)) == -1 ||
	    out_put(z, data, len) == -1)
		return -1;
	return 0;
}

/* [name length: 1][name][value length: 4, big-endian][value] */
static size_t
property(unsigned char *p, const char *name, const char *value)
{
	size_t n = strlen(name), v = strlen(value);

	p[0] = (unsigned char)n;
	memcpy(p + 1, name, n);
	p[1 + n] = (unsigned char)(v >> 24);
	p[2 + n] = (unsigned char)(v >> 16);
	p[3 + n] = (unsigned char)(v >> 8);
	p[4 + n] = (unsigned char)v;
	memcpy(p + 5 + n, value, v);
	return 5 + n + v;
}

/* Our greeting and READY, into z_hs to go first. */
static void
put_handshake(struct zmtp *z)
{
	/* Padding: the routing id's length + 1, as libzmq sends it. */
	static const unsigned char greeting[ZMTP_GREETING_LEN] = {
		0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f,
		3, 1, 'N', 'U', 'L', 'L',
	};
	unsigned char props[64];
	size_t len;

	len = property(props, "Socket-Type", type_names[z->z_type]);
	/* A DEALER names its routing id; empty lets the ROUTER pick. */
	if (z->z_type == ZMTP_DEALER)
		len += property(props + len, "Identity", "");
	memcpy(z->z_hs, greeting, sizeof(greeting));
	z->z_hslen = sizeof(greeting);
	z->z_hslen += command_header(z->z_hs + z->z_hslen, "READY", len);
	memcpy(z->z_hs + z->z_hslen, props, len);
	z->z_hslen += len;
	z->z_hsrd = 0;
}

/*
 * Writes from buf[*rd..len) what the socket takes. Returns 0 when all
 * went, -1 with EAGAIN when some is left, or the connection's end.
 */
static int
write_out(struct zmtp *z, const unsigned char *buf, size_t *rd, size_t len)
{
	ssize_t n;

	while (*rd < len) {
		n = send(z->z_fd, buf + *rd, len - *rd,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			errno = EAGAIN;
			return -1;
		}
		if (n == -1) {
			seterr(z, errno, "send: %s", strerror(errno));
			return write_end(z);
		}
		*rd += (size_t)n;
	}
	return 0;
}

/*
 * How much of our handshake may go now: a client's greeting's signature
 * and major version at once, its rest once the peer's greeting is
 * checked, READY once the peer's READY is. libzmq's server reads what
 * came before it writes, and closes at once on another mechanism or an
 * incompatible socket type: sent whole, ours would end the connection
 * before the peer's greeting or READY could tell us why. A server's go
 * whole at once: a client judges them as they come.
 */
static size_t
handshake_allowed(const struct zmtp *z)
{
	size_t n = is_server(z) ? z->z_hslen :
	    z->z_peer == PEER_GREETING ? 11 :
	    z->z_peer == PEER_HANDSHAKE ? ZMTP_GREETING_LEN : z->z_hslen;

	return n < z->z_hslen ? n : z->z_hslen;
}

int
zmtp_flush(struct zmtp *z)
{
	if (z->z_fd < 0)
		return seterr(z, ENOTCONN, "not connected");
	if (z->z_wended) {
		errno = EPIPE;	/* z_err says how it was found */
		return -1;
	}
	if (write_out(z, z->z_hs, &z->z_hsrd, handshake_allowed(z)) == -1)
		return -1;
	if (z->z_outrd == z->z_outwr)
		return 0;
	if (z->z_peer != PEER_READY) {
		errno = EAGAIN;		/* messages wait for its READY */
		return -1;
	}
	if (write_out(z, z->z_out, &z->z_outrd, z->z_outwr) == -1)
		return -1;
	z->z_outrd = z->z_outwr = 0;
	/* A burst's buffer goes once it is written: a server holds one
	 * per peer. */
	if (z->z_outcap > OUT_KEEP) {
		free(z->z_out);
		z->z_out = NULL;
		z->z_outcap = 0;
	}
	return 0;
}

/* Sets up a connected fd: our handshake queued and tried. */
static int
start(struct zmtp *z, int fd)
{
	z->z_fd = fd;
	z->z_err[0] = '\0';
	put_handshake(z);
	/* Nothing came before this end: no reason to read on. */
	if (zmtp_flush(z) == -1 && errno != EAGAIN)
		return z->z_fd < 0 ? -1 : lost(z);
	return 0;
}

int
zmtp_connect(struct zmtp *z, const char *endpoint)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *path;
	socklen_t salen;
	size_t len;
	int fd, e;

	zmtp_disconnect(z);
	if (strncmp(endpoint, "ipc://", 6) != 0)
		return seterr(z, EINVAL, "%s: not an ipc:// endpoint",
		    endpoint);
	path = endpoint + 6;
	len = strlen(path);
	if (len == 0 || len >= sizeof(sun.sun_path) || strcmp(path, "@") == 0)
		return seterr(z, EINVAL, "%s: the path (or @NAME) must be 1 "
		    "to %zu bytes", endpoint, sizeof(sun.sun_path) - 1);
	memcpy(sun.sun_path, path, len);
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';	/* abstract: no file */
	else
		salen++;		/* the NUL, as libzmq counts it */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return seterr(z, errno, "socket: %s", strerror(errno));
	while (connect(fd, (struct sockaddr *)&sun, salen) == -1) {
		if (errno == EINTR)
			continue;
		e = errno == EINPROGRESS ? EAGAIN : errno;
		close(fd);
		return seterr(z, e, "connect %s: %s", endpoint, strerror(e));
	}
	return start(z, fd);
}

int
zmtp_adopt(struct zmtp *z, int fd)
{
	int fl;

	zmtp_disconnect(z);
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		seterr(z, errno, "fcntl: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return start(z, fd);
}

void
zmtp_read_to_end(struct zmtp *z)
{
	z->z_keep_in = true;
}

bool
zmtp_connected(const struct zmtp *z)
{
	return z->z_fd >= 0;
}

bool
zmtp_ready(const struct zmtp *z)
{
	return z->z_fd >= 0 && z->z_peer == PEER_READY && !z->z_wended;
}

int
zmtp_fd(const struct zmtp *z)
{
	return z->z_fd;
}

bool
zmtp_pending(const struct zmtp *z)
{
	return z->z_fd >= 0 && (z->z_hsrd < z->z_hslen ||
	    z->z_outrd < z->z_outwr);
}

size_t
zmtp_held(const struct zmtp *z)
{
	size_t held = z->z_inwr - z->z_inrd;

	return z->z_incap > z->z_inmin && z->z_incap > held ? z->z_incap :
	    held;
}

short
zmtp_events(const struct zmtp *z)
{
	bool out = !z->z_wended && (z->z_hsrd < handshake_allowed(z) ||
	    (z->z_peer == PEER_READY && z->z_outrd < z->z_outwr));

	if (z->z_fd < 0)
		return 0;
	return (short)(POLLIN | (out ? POLLOUT : 0));
}

const char *
zmtp_error(const struct zmtp *z)
{
	return z->z_err;
}

/* sendmsg(2) takes iovecs, whose base is not const. */
static void *
unconst(const void *p)
{
	union { const void *c; void *v; } u = { .c = p };

	return u.v;
}

/*
 * zmtp_send, zmtp_queue and zmtp_put: SEND_NOW, what the socket takes
 * is written at once; SEND_QUEUE, the message waits in the buffer while
 * less than QUEUE_MAX bytes would; SEND_PUT, it always waits.
 */
enum send_how { SEND_NOW, SEND_QUEUE, SEND_PUT };

static int
send_frames(struct zmtp *z, const struct zmtp_frame *frames, size_t n,
    enum send_how how)
{
	struct iovec iov[2 * SEND_FRAMES];
	unsigned char h[SEND_FRAMES][9];
	struct msghdr mh = { .msg_iov = iov };
	size_t total = 0, done = 0, k = 0;
	ssize_t w;
	bool now = how == SEND_NOW;

	if (z->z_fd < 0)
		return seterr(z, ENOTCONN, "not connected");
	if (z->z_wended) {
		errno = EPIPE;	/* z_err says how it was found */
		return -1;
	}
	if (n == 0 || n > SEND_FRAMES)
		return seterr(z, EINVAL, "a message of %zu frames", n);
	if (z->z_outwr - z->z_outrd > z->z_out_max) {
		errno = EAGAIN;
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t hl = frame_header(h[i], i + 1 < n ? F_MORE : 0,
		    frames[i].len);

		iov[k++] = (struct iovec){ h[i], hl };
		if (frames[i].len > 0)
			iov[k++] = (struct iovec){ unconst(frames[i].data),
			    frames[i].len };
		total += hl + frames[i].len;
	}
	if (how == SEND_PUT ||
	    (!now && z->z_outwr - z->z_outrd + total < QUEUE_MAX)) {
		/* Nothing written yet: a put out of memory keeps the
		 * connection, as it writes nothing. */
		if (out_reserve(z, total) == -1)
			return how == SEND_PUT ? -1 : lost(z);
		for (size_t i = 0; i < k; i++)
			out_put(z, iov[i].iov_base, iov[i].iov_len);
		return 0;
	}
	/* Enough queued: it goes before this one, which then may go
	 * straight, so that the buffer stays under QUEUE_MAX. */
	if (!now && zmtp_flush(z) == -1 && errno != EAGAIN)
		return -1;
	/* Straight from the frames when nothing waits before them. */
	if (z->z_peer == PEER_READY && z->z_hsrd == z->z_hslen &&
	    z->z_outrd == z->z_outwr) {
		mh.msg_iovlen = k;
		do
			w = sendmsg(z->z_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (w == -1 && errno == EINTR);
		if (w == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
			seterr(z, errno, "send: %s", strerror(errno));
			return write_end(z);
		}
		done = w > 0 ? (size_t)w : 0;
	}
	if (done == total)
		return 0;
	/* The rest waits: what the socket did not take, copied. */
	if (out_reserve(z, total - done) == -1)
		return lost(z);
	for (size_t i = 0; i < k; i++) {
		size_t skip = done < iov[i].iov_len ? done : iov[i].iov_len;

		done -= skip;
		out_put(z, (const char *)iov[i].iov_base + skip,
		    iov[i].iov_len - skip);
	}
	if (zmtp_flush(z) == -1 && errno != EAGAIN)
		return -1;
	return 0;
}

int
zmtp_send(struct zmtp *z, const struct zmtp_frame *frames, size_t n)
{
	return send_frames(z, frames, n, SEND_NOW);
}

int
zmtp_queue(struct zmtp *z, const struct zmtp_frame *frames, size_t n)
{
	return send_frames(z, frames, n, SEND_QUEUE);
}

int
zmtp_put(struct zmtp *z, const struct zmtp_frame *frames, size_t n)
{
	return send_frames(z, frames, n, SEND_PUT);
}

/*
 * Up to len bytes of the peer's s, to quote in an error: printable
 * ASCII, '?' for any other byte, ending at a NUL. Returns out.
 */
static const char *
quote(const unsigned char *s, size_t len, char *out, size_t outlen)
{
	size_t n = 0;

	for (; n < len && n + 1 < outlen && s[n] != '\0'; n++)
		out[n] = s[n] >= 0x20 && s[n] < 0x7f ? (char)s[n] : '?';
	out[n] = '\0';
	return out;
}

/*
 * The peer's greeting, its first len bytes: ZMTP 3 or later, the NULL
 * mechanism. A peer of ZMTP 1 or 2 sends fewer than 64 bytes and waits,
 * so what is there is judged at once.
 */
static int
check_greeting(struct zmtp *z, const unsigned char *g, size_t len)
{
	static const unsigned char null_mech[20] = { 'N', 'U', 'L', 'L' };
	char q[24];

	if ((len > 0 && g[0] != 0xff) || (len > 9 && (g[9] & 0x01) == 0))
		return seterr(z, EPROTO, "not a ZMTP 3 greeting (ZeroMQ "
		    "before 3.0, or not ZeroMQ)");
	if (len > 10 && g[10] < 3)
		return seterr(z, EPROTO, "the peer speaks ZMTP before 3.0 "
		    "(version byte %u); 3.0 or later is needed", g[10]);
	if (len < ZMTP_GREETING_LEN)
		return 0;
	if (memcmp(g + 12, null_mech, sizeof(null_mech)) != 0)
		return seterr(z, EPROTO, "the peer's mechanism is %s, not "
		    "NULL", quote(g + 12, 20, q, sizeof(q)));
	return 0;
}

/* A READY's properties: its Socket-Type must talk to ours. */
static int
check_ready(struct zmtp *z, const unsigned char *p, size_t len)
{
	const unsigned char *type = NULL;
	size_t typelen = 0;
	char q[20];

	while (len > 0) {
		size_t nlen = p[0], vlen;

		if (len < 1 + nlen + 4)
			return seterr(z, EPROTO, "READY: a property cut short");
		vlen = (size_t)p[1 + nlen] << 24 | (size_t)p[2 + nlen] << 16 |
		    (size_t)p[3 + nlen] << 8 | p[4 + nlen];
		if (vlen > len - (1 + nlen + 4))
			return seterr(z, EPROTO, "READY: a property's value "
			    "cut short");
		if (nlen == 11 && strncasecmp((const char *)p + 1,
		    "Socket-Type", 11) == 0) {
			type = p + 5 + nlen;
			typelen = vlen;
		}
		p += 1 + nlen + 4 + vlen;
		len -= 1 + nlen + 4 + vlen;
	}
	if (type == NULL)
		return seterr(z, EPROTO, "READY without a Socket-Type");
	if (!peer_type_ok(z->z_type, type, typelen))
		return seterr(z, EPROTO, "a %s does not talk to a %s",
		    type_names[z->z_type], quote(type, typelen, q,
		    sizeof(q)));
	return 0;
}

/* One command's body: [name length][name][data]. */
static int
command(struct zmtp *z, const unsigned char *body, size_t len)
{
	size_t nlen = len > 0 ? body[0] : 0;
	const unsigned char *data = body + 1 + nlen;
	size_t dlen;

	if (len == 0 || 1 + nlen > len)
		return seterr(z, EPROTO, "a command without its name");
	dlen = len - 1 - nlen;
#define IS(name) (nlen == strlen(name) && memcmp(body + 1, name, nlen) == 0)
	if (IS("ERROR")) {
		size_t rlen = dlen > 0 ? data[0] : 0;
		char q[200];

		if (rlen > dlen - (dlen > 0))
			rlen = dlen - (dlen > 0);
		return seterr(z, EPROTO, "the peer refused the connection: "
		    "%s", quote(data + 1, rlen, q, sizeof(q)));
	}
	if (z->z_peer == PEER_HANDSHAKE) {
		if (!IS("READY"))
			return seterr(z, EPROTO, "a command before READY");
		if (check_ready(z, data, dlen) == -1)
			return -1;
		z->z_peer = PEER_READY;
		return 0;
	}
	if (IS("READY"))
		return seterr(z, EPROTO, "READY twice");
	if (IS("PING")) {
		/* [ttl: 2][context]: PONG echoes the context. */
		size_t clen = dlen > 2 ? dlen - 2 : 0;

		if (clen > PING_CONTEXT)
			clen = PING_CONTEXT;
		/* A peer that does not read what we send would have a PONG
		 * a PING queued without end; what waits says we live. */
		if (z->z_outwr - z->z_outrd > z->z_out_max || z->z_wended)
			return 0;
		return put_command(z, "PONG", data + 2, clen);
	}
#undef IS
	return 0;	/* PONG, and commands of later versions */
}

/*
 * Parses from z_inpos, up to the peer's READY when handshake_only.
 * Returns 1 with a whole message's frames noted, 0 when it needs z_need
 * more bytes than there are from z_inpos (or, handshake_only, has come
 * to the end of the handshake), or -1 (the peer broke the protocol).
 */
static int
parse(struct zmtp *z, bool handshake_only)
{
	for (;;) {
		/* No offset on z_in while it is NULL (before the first read),
		 * which C leaves undefined. */
		const unsigned char *p = z->z_in == NULL ? NULL :
		    z->z_in + z->z_inpos;
		size_t avail = z->z_inwr - z->z_inpos, hl, len;
		unsigned flags;

		if (handshake_only && z->z_peer == PEER_READY)
			return 0;

		if (z->z_peer == PEER_GREETING) {
			if (check_greeting(z, p, avail) == -1)
				return -1;
			if (avail < ZMTP_GREETING_LEN) {
				z->z_need = ZMTP_GREETING_LEN;
				return 0;
			}
			z->z_peer = PEER_HANDSHAKE;
			z->z_inpos = z->z_inrd += ZMTP_GREETING_LEN;
			continue;
		}
		if (avail < 2) {
			z->z_need = 2;
			return 0;
		}
		flags = p[0];
		if (flags & F_RESERVED)
			return seterr(z, EPROTO, "frame flags 0x%02x", flags);
		hl = flags & F_LONG ? 9 : 2;
		if (avail < hl) {
			z->z_need = hl;
			return 0;
		}
		len = p[1];
		if (flags & F_LONG) {
			uint64_t v = 0;

			for (int i = 1; i <= 8; i++)
				v = v << 8 | p[i];
			if (v > z->z_frame_max)
				return seterr(z, EMSGSIZE, "a frame of %llu "
				    "bytes (at most %zu)",
				    (unsigned long long)v, z->z_frame_max);
			len = (size_t)v;
		}
		if (len > z->z_frame_max)
			return seterr(z, EMSGSIZE, "a frame of %zu bytes (at "
			    "most %zu)", len, z->z_frame_max);
		if (z->z_inpos - z->z_inrd + hl + len >
		    z->z_frame_max + MSG_SLACK)
			return seterr(z, EMSGSIZE, "a message of more than "
			    "%zu bytes", z->z_frame_max + MSG_SLACK);
		if (avail < hl + len) {
			z->z_need = hl + len;
			return 0;
		}
		z->z_inpos += hl + len;
		if (flags & F_COMMAND) {
			if (flags & F_MORE)
				return seterr(z, EPROTO, "a command frame "
				    "with MORE");
			if (command(z, p + hl, len) == -1)
				return -1;
			if (z->z_nframes == 0)
				z->z_inrd = z->z_inpos;
			continue;
		}
		if (z->z_peer != PEER_READY)
			return seterr(z, EPROTO, "a message before READY");
		if (z->z_type == ZMTP_PUSH)
			return seterr(z, EPROTO, "a message to a PUSH");
		if (z->z_nframes < ZMTP_FRAMES) {
			z->z_froff[z->z_nframes] = z->z_inpos - len;
			z->z_frlen[z->z_nframes] = len;
		}
		z->z_nframes++;
		if (!(flags & F_MORE))
			return 1;
	}
}

/* Room in the input buffer for more of the z_need bytes from z_inpos. */
static int
in_reserve(struct zmtp *z)
{
	size_t whole, grow, want, cap;
	unsigned char *p;

	if (z->z_inrd > 0 && (z->z_inrd == z->z_inwr ||
	    z->z_incap - z->z_inpos < z->z_need ||
	    z->z_inrd >= z->z_incap / 2)) {
		size_t shift = z->z_inrd;

		memmove(z->z_in, z->z_in + shift, z->z_inwr - shift);
		z->z_inwr -= shift;
		z->z_inpos -= shift;
		z->z_inrd = 0;
		for (size_t i = 0; i < z->z_nframes && i < ZMTP_FRAMES; i++)
			z->z_froff[i] -= shift;
	}
	/*
	 * Room for the whole frame the parse waits for, but grown as its
	 * bytes come, not at its header: a peer that announces frame_max
	 * and sends a byte makes us reserve inmin beyond it (or twice what
	 * came, once more did).
	 */
	whole = z->z_inpos + z->z_need;
	grow = z->z_inwr > z->z_inmin ? z->z_inwr : z->z_inmin;
	want = whole < z->z_inwr + grow ? whole : z->z_inwr + grow;
	if (want < z->z_inmin)
		want = z->z_inmin;
	if (z->z_incap >= want && z->z_inwr < z->z_incap)
		return 0;
	for (cap = z->z_incap ? z->z_incap : z->z_inmin; cap < want ||
	    cap == z->z_inwr; cap *= 2)
		;
	/* Never past the largest message: doubled, a 256 MiB frame's
	 * buffer would be 512 MiB (an app's RLIMIT_AS counts it). */
	if (cap > z->z_frame_max + MSG_SLACK && want <= z->z_frame_max +
	    MSG_SLACK && z->z_frame_max + MSG_SLACK > z->z_inwr)
		cap = z->z_frame_max + MSG_SLACK;
	if ((p = realloc(z->z_in, cap)) == NULL)
		return seterr(z, ENOMEM, "out of memory for a message of %zu "
		    "bytes", whole);
	z->z_in = p;
	z->z_incap = cap;
	return 0;
}

/* Reads what the socket holds. Returns 1, 0 (nothing there) or -1. */
static int
read_more(struct zmtp *z)
{
	ssize_t n;

	if (in_reserve(z) == -1)
		return -1;
	do
		n = read(z->z_fd, z->z_in + z->z_inwr, z->z_incap - z->z_inwr);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n == -1)
		return seterr(z, errno, "receive: %s", strerror(errno));
	if (n == 0)
		return seterr(z, ECONNRESET, "the peer closed the connection");
	z->z_inwr += (size_t)n;
	return 1;
}

/*
 * The message handed out last is consumed; a large frame's buffer goes
 * once nothing is in it (one that stays is counted by zmtp_held).
 */
static void
consume(struct zmtp *z)
{
	if (!z->z_handed)
		return;
	z->z_inrd = z->z_inpos;
	z->z_nframes = 0;
	z->z_handed = false;
	if (z->z_inrd == z->z_inwr && z->z_incap > IN_KEEP) {
		free(z->z_in);
		z->z_in = NULL;
		z->z_incap = z->z_inrd = z->z_inpos = z->z_inwr = 0;
	}
}

void
zmtp_release(struct zmtp *z)
{
	consume(z);
}

int
zmtp_recv(struct zmtp *z, struct zmtp_msg *m)
{
	int rc;

	if (z->z_fd < 0)
		return seterr(z, ENOTCONN, "not connected");
	consume(z);
	for (int reads = 0;; reads++) {
		if ((rc = parse(z, false)) == -1)
			return lost(z);
		if (rc == 1)
			break;
		/* Once a call for a server: zmtp.h says why. */
		if ((is_server(z) && reads == 1) ||
		    (rc = read_more(z)) == 0) {
			/*
			 * A PONG the parse queued goes now. A write that finds
			 * the end, kept for reading (zmtp_read_to_end), reads
			 * on: what the peer sent before it went is there.
			 */
			if (!z->z_wended && zmtp_flush(z) == -1 &&
			    errno != EAGAIN) {
				if (z->z_wended)
					continue;
				return -1;
			}
			errno = EAGAIN;
			return -1;
		}
		if (rc == -1)
			return lost(z);
	}
	z->z_handed = true;
	m->zm_nframes = z->z_nframes;
	for (size_t i = 0; i < z->z_nframes && i < ZMTP_FRAMES; i++) {
		m->zm_f[i].data = z->z_in + z->z_froff[i];
		m->zm_f[i].len = z->z_frlen[i];
	}
	return 0;
}

int
zmtp_handshake(struct zmtp *z, int timeout_ms)
{
	int64_t deadline = msb__now_ms() + timeout_ms, now;
	struct pollfd pfd;
	int rc;

	for (;;) {
		if (z->z_fd < 0)
			return seterr(z, ENOTCONN, "not connected");
		if (parse(z, true) == -1)
			return lost(z);
		if (z->z_peer == PEER_READY) {
			if (zmtp_flush(z) == 0 || errno != EAGAIN)
				return z->z_fd < 0 || z->z_wended ? -1 : 0;
			/* The socket is full: the rest goes later. */
			return 0;
		}
		if ((rc = read_more(z)) == -1)
			return lost(z);
		if (rc == 1)
			continue;
		if (zmtp_flush(z) == -1 && errno != EAGAIN)
			return -1;
		if ((now = msb__now_ms()) >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd = (struct pollfd){ .fd = z->z_fd, .events = zmtp_events(z) };
		if (poll(&pfd, 1, (int)(deadline - now)) == -1 &&
		    errno != EINTR)
			return seterr(z, errno, "poll: %s", strerror(errno));
	}
}

void
zmtp_free(struct zmtp *z, int linger_ms)
{
	struct zmtp_msg m;
	int64_t deadline, now;

	if (z == NULL)
		return;
	deadline = msb__now_ms() + linger_ms;
	/* What waits goes out: the peer's READY may be needed first, and
	 * what else comes meanwhile is dropped. */
	while (linger_ms > 0 && z->z_fd >= 0 && zmtp_flush(z) == -1 &&
	    errno == EAGAIN) {
		struct pollfd pfd = { .fd = z->z_fd, .events = zmtp_events(z) };

		now = msb__now_ms();
		if (now >= deadline || (poll(&pfd, 1, (int)(deadline - now)) ==
		    -1 && errno != EINTR))
			break;
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
			while (zmtp_recv(z, &m) == 0)
				;
	}
	zmtp_disconnect(z);
	free(z->z_in);
	free(z->z_out);
	free(z);
}

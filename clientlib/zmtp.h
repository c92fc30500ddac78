/*
 * ZMTP 3.1, ZeroMQ's wire protocol (rfc.zeromq.org/spec/37), with the
 * NULL mechanism over a unix stream socket (ipc://): the client end of a
 * DEALER or a PUSH, run in the caller's thread. It talks to libzmq's
 * ROUTER and PULL sockets (the monitor's metrics socket) byte for byte
 * as a libzmq client would, and to streammgr's own ROUTER for the
 * stream apps and local producers (common/zrouter.c), which
 * serves each of its connections with a zmtp of type ZMTP_ROUTER.
 *
 * Why not libzmq here: a stream app's work socket, a producer's ingress
 * socket on the same host and every app's metric reports are ipc:// with
 * the NULL mechanism. For them libzmq's tree of shared libraries
 * (libstdc++, Kerberos, PGM, NORM, libsodium) and its context's threads
 * were most of an app's start-up, and its I/O thread a second wake-up at
 * every hop. libzmq stays for tcp:// and CURVE (libmysimbdp-zmq.so,
 * opened on first use) and in the daemons.
 *
 * Each way, the stream of bytes is:
 *
 *   greeting  64 bytes: 0xFF, 8 bytes of padding, 0x7F, the version
 *             (3, 1), the mechanism ("NULL", NUL-padded to 20 bytes),
 *             as-server (0 from a client), 31 bytes of zeros
 *   READY     a command, the first frame after the greeting:
 *             body [5]["READY"] then properties, each
 *             [name length: 1][name][value length: 4, big-endian][value];
 *             "Socket-Type" is required ("DEALER", "PUSH", "ROUTER",
 *             "PULL"); names are compared without case
 *   frames    [flags: 1][size: 1, or 8 big-endian with LONG][body]
 *             flags: 0x01 MORE (another frame of the message follows),
 *             0x02 LONG, 0x04 COMMAND; the other bits must be 0
 *   commands  after READY: PING [4]["PING"][ttl: 2][context: 0-16]
 *             answered [4]["PONG"][context]; ERROR [5]["ERROR"][len: 1]
 *             [reason] ends the connection with its reason; any other is
 *             ignored. A command may come between the frames of a
 *             message.
 *
 * Lenient where a strict reader would only lose a peer, not our safety
 * (fuzz_zmtp's reference decoder holds zmtp.c to it): a PING shorter
 * than its TTL is still answered, and a context over 16 bytes is cut to
 * 16 in the PONG; of two Socket-Type properties the last counts;
 * property names are compared without case, their values with case.
 *
 * Our side goes in steps, each once the peer's has been checked: the
 * greeting's first 11 bytes (signature, major version) at connect, its
 * rest after the peer's greeting, READY after the peer's READY, and
 * messages after that. libzmq's server reads what came before it writes
 * anything, and closes at once on a mechanism or socket type it refuses
 * (a client's greeting and READY sent whole would end the connection
 * before the server's could tell us why) and on a message before its
 * own READY is out. libzmq's server sends its READY without waiting for
 * ours, so the steps cost one round trip more than a whole handshake.
 *
 * A peer that breaks any of it (a bad greeting, ZMTP before 3.0, another
 * mechanism, an incompatible socket type, a frame before READY, a MORE
 * command, a frame over frame_max, or a message over frame_max + 64 KiB
 * with its other frames and the commands among them) ends the
 * connection: EPROTO or EMSGSIZE, with the reason in zmtp_error() (what
 * it quotes of the peer's bytes is printable ASCII). Nothing waits in
 * here but zmtp_handshake and zmtp_free: the caller polls zmtp_fd() for
 * zmtp_events() and calls in again.
 */
#ifndef MSB_ZMTP_H
#define MSB_ZMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum zmtp_type {
	ZMTP_DEALER,	/* talks to a ROUTER (or DEALER) */
	ZMTP_PUSH,	/* talks to a PULL; receives nothing */
	ZMTP_ROUTER,	/* the server end of one connection (zmtp_adopt):
			 * talks to a DEALER, REQ or ROUTER; its greeting
			 * and READY go at once (common/zrouter.c) */
	ZMTP_PULL,	/* as ZMTP_ROUTER, the server end, of a PULL:
			 * talks to a PUSH (the monitor's reports) */
};

#define ZMTP_GREETING_LEN	64
#define ZMTP_FRAMES		8	/* frames of a message described */

struct zmtp_frame {
	const void	*data;
	size_t		 len;
};

/* A message: zm_nframes frames, the first ZMTP_FRAMES of them in zm_f. */
struct zmtp_msg {
	size_t			 zm_nframes;
	struct zmtp_frame	 zm_f[ZMTP_FRAMES];
};

struct zmtp;

/*
 * A client of the given type, not connected. frame_max bounds a frame
 * it takes (its buffer grows to hold one); out_max bounds the bytes it
 * holds unsent before a send is refused (one message may pass it).
 * Returns NULL (errno ENOMEM).
 */
struct zmtp	*zmtp_new(enum zmtp_type type, size_t frame_max,
		    size_t out_max);

/*
 * Connects to endpoint, "ipc://PATH" ("ipc://@NAME": Linux's abstract
 * namespace), and starts the handshake. Messages may be sent at once:
 * they wait until the peer's READY has come (zmtp_recv and
 * zmtp_handshake read the peer's side; zmtp_flush and zmtp_recv send
 * ours and then them). Never waits. Returns 0,
 * or -1 with errno: ENOENT, ECONNREFUSED or EAGAIN when nothing listens
 * there or its backlog is full (try again later), EINVAL for an endpoint
 * that is not ipc:// or too long for sun_path, others from socket(2)
 * and connect(2). An earlier connection is dropped first.
 */
int		 zmtp_connect(struct zmtp *z, const char *endpoint);

/* As zmtp_connect, over fd, a connected stream socket it now owns
 * (tests and fuzzing: one end of a socketpair). */
int		 zmtp_adopt(struct zmtp *z, int fd);

/*
 * From now on, a write that finds the peer gone (EPIPE, ECONNRESET)
 * keeps the connection for reading: what the peer sent before it went
 * is still handed out by zmtp_recv, which then says the end
 * (ECONNRESET). Meanwhile it stays connected, not ready, sends and
 * flushes fail (EPIPE), what waited to be written is dropped, and
 * zmtp_events is POLLIN. A producer's link (link_ipc.c): the replies
 * streammgr wrote before it closed count.
 */
void		 zmtp_read_to_end(struct zmtp *z);

/* Whether a connection is up (made, and not lost or refused since). */
bool		 zmtp_connected(const struct zmtp *z);

/* Whether the peer's READY has come (its greeting and type checked),
 * and no write found the end since (zmtp_read_to_end). */
bool		 zmtp_ready(const struct zmtp *z);

/* The socket to poll, -1 while not connected. */
int		 zmtp_fd(const struct zmtp *z);

/* Whether bytes wait to be written (ours: messages, PONGs, handshake). */
bool		 zmtp_pending(const struct zmtp *z);

/*
 * What the peer's input holds: the bytes read and not consumed (the
 * message being received so far, whole ones not handed out yet, the one
 * handed out last until the next zmtp_recv or zmtp_release), or, once
 * its buffer grew past its first size, the whole buffer.
 */
size_t		 zmtp_held(const struct zmtp *z);

/* The message zmtp_recv handed out last is consumed now: its frames are
 * no longer valid. */
void		 zmtp_release(struct zmtp *z);

/* POLLIN, with POLLOUT while bytes wait that may be written now (or 0
 * when not connected). */
short		 zmtp_events(const struct zmtp *z);

/*
 * Queues one message of n frames (1 to 8) and writes what the socket
 * takes now (nothing before the peer's READY); the rest goes out with
 * later calls. A message is taken whole or not at all. Returns 0, or -1 with errno: EAGAIN (more than
 * out_max bytes wait already: nothing taken), ENOTCONN (no connection),
 * or the connection's end (EPIPE, ECONNRESET, EPROTO...: it is dropped,
 * or kept for reading after zmtp_read_to_end; zmtp_error() says why, and
 * what was queued is lost).
 */
int		 zmtp_send(struct zmtp *z, const struct zmtp_frame *frames,
		    size_t n);

/*
 * As zmtp_send, but a small message may wait, behind those before it,
 * until 64 KiB would, or the next zmtp_send or zmtp_flush: many small
 * messages in one write. The caller flushes when it has queued them.
 */
int		 zmtp_queue(struct zmtp *z, const struct zmtp_frame *frames,
		    size_t n);

/*
 * As zmtp_queue, but the message always waits for a later zmtp_send,
 * zmtp_queue, zmtp_flush, zmtp_handshake or zmtp_recv: no system call,
 * and the connection is never dropped here, so another thread may put
 * while the one that writes polls its fd (under a lock they share, not
 * held around the poll). Returns 0, or -1 with errno as zmtp_send
 * (EAGAIN: more than out_max bytes wait), or ENOMEM with nothing taken.
 */
int		 zmtp_put(struct zmtp *z, const struct zmtp_frame *frames,
		    size_t n);

/*
 * Writes what waits, without waiting. Returns 0 when nothing is left,
 * -1 with EAGAIN when some is (the socket is full, or messages wait for
 * the peer's READY), or the connection's end as zmtp_send.
 */
int		 zmtp_flush(struct zmtp *z);

/*
 * The next message the peer sent, reading what the socket holds without
 * waiting; PING is answered (unless more than out_max bytes wait to be
 * written already: a peer that does not read gets no more PONGs) and
 * the handshake checked on the way. A server (ROUTER, PULL), whose peers
 * are not trusted, reads the socket once a call at most, so that a peer that
 * writes without end (commands alone hand out no message) cannot keep
 * the caller here: EAGAIN may come while the socket holds more, and a
 * level-triggered poll says so. The
 * frames stay valid until the next zmtp_recv, zmtp_connect,
 * zmtp_disconnect or zmtp_free (sends do not move them). Returns 0, or
 * -1 with errno: EAGAIN (no whole message yet), ENOTCONN, or the
 * connection's end: ECONNRESET when the peer closed it, EPROTO or
 * EMSGSIZE when it broke the protocol, ENOMEM (the connection is
 * dropped; zmtp_error() says why).
 */
int		 zmtp_recv(struct zmtp *z, struct zmtp_msg *m);

/*
 * Waits at most timeout_ms for the peer's greeting and READY, then sends
 * what waited for them as far as the socket takes it. Messages the peer
 * sends after its READY stay for zmtp_recv. Returns 0 (ready), or -1
 * with errno: ETIMEDOUT, ENOTCONN, or the connection's end as zmtp_recv.
 */
int		 zmtp_handshake(struct zmtp *z, int timeout_ms);

/* Drops the connection and whatever was queued or received. */
void		 zmtp_disconnect(struct zmtp *z);

/* Why the last connection ended or a call failed ("" when it did not). */
const char	*zmtp_error(const struct zmtp *z);

/*
 * Writes what waits for at most linger_ms (0: not at all; reading the
 * peer's READY if need be, dropping anything else it sends), then frees
 * z and closes its connection.
 */
void		 zmtp_free(struct zmtp *z, int linger_ms);

#endif

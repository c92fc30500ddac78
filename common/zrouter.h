/*
 * A ROUTER socket of our own over ipc://: ZMTP 3.1 with the NULL
 * mechanism (clientlib/zmtp.c on the server side), every connection
 * served in the event loop's thread. Or a PULL (zc_pull): the monitor's
 * metric reports, where libzmq's buffered a message of any number of
 * frames whole (800 frames of 1 MB: 808 MB of the monitor).
 *
 * Why not libzmq's ROUTER here: for the stream apps' work sockets its
 * I/O thread was a second wake-up at every hop (read, then a signal to
 * the loop; a send, then a signal back) and about 115 µs of CPU for each
 * instance that connected (docs/benchmarks.md, "Supervision"); for a
 * stream's producers on the node, it bounds what waits for a peer in
 * messages, not bytes, and buffers a message of any number of frames
 * whole. The producers' port for other hosts (TCP, CURVE) stays libzmq's.
 *
 * It behaves as streammgr used libzmq's: each peer gets a routing id of
 * 5 bytes, 0x00 then a 32-bit counter, as libzmq makes them (a peer's
 * Identity property is not used); a send to a routing id no connection
 * has fails with EHOSTUNREACH (ZMQ_ROUTER_MANDATORY); a send to a peer
 * with more than out_max bytes unsent fails with EAGAIN (its high-water
 * mark), and room_cb runs when such a peer has taken what waited. Any
 * ZMTP 3.x client with the NULL mechanism and a DEALER, REQ or ROUTER
 * socket may connect (libzmq's, pyzmq's, libmysimbdp's); a peer that
 * breaks the protocol (zmtp.h lists how), sends a frame over frame_max
 * or has not finished its handshake within handshake_ms (libzmq's
 * ZMQ_HANDSHAKE_IVL) is disconnected. So is the peer that holds the most
 * of what all hold in input (messages partway, and buffers grown for
 * large ones), past in_max, unless it alone holds any: many connections
 * of one tenant hold at most about in_max plus one message of the
 * daemon. A peer is not cut for this while its messages of the turn are
 * yet to be answered; in_max should be twice the largest message or
 * more, so that one is not cut for another's few bytes.
 */
#ifndef MYSIMBDP_ZROUTER_H
#define MYSIMBDP_ZROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include "zmtp.h"

#define ZROUTER_RID_LEN	5

struct zrouter;

struct zrouter_conf {
	size_t	 zc_frame_max;	/* a peer's largest frame */
	size_t	 zc_out_max;	/* bytes unsent to a peer before EAGAIN */
	int	 zc_budget;	/* messages of one peer a turn, then the next */
	int	 zc_handshake_ms; /* a peer not READY by then is cut off */
	/* What peers' input holds (zmtp_held), all together (0: no
	 * bound); past it the largest holder is cut, never a lone one. */
	size_t	 zc_in_max;
	/*
	 * A peer is not read while anything waits to be written to it:
	 * one that does not read its replies stops being read, and what
	 * it makes us hold is one turn's replies (producers); reading
	 * starts again once a write, ours or a caller's, takes the last.
	 */
	bool	 zc_read_when_written;
	/* A PULL instead: PUSH peers, nothing sent to them but PONGs. */
	bool	 zc_pull;
	/*
	 * A message: its frames stay valid until msg_cb returns, which
	 * says whether the same peer's next may follow in this turn.
	 */
	bool	(*zc_msg_cb)(void *, const unsigned char *rid, size_t ridlen,
		    const struct zmtp_msg *);
	/* After a peer's messages of a turn (may be NULL). */
	void	(*zc_turn_cb)(void *);
	/* Some peer took what waited for it after a send was refused
	 * (may be NULL). */
	void	(*zc_room_cb)(void *);
	void	*zc_arg;
};

/*
 * Binds endpoint, "ipc://PATH" (a file left there is replaced, as libzmq
 * does). Returns NULL with why in err.
 */
struct zrouter	*zrouter_bind(struct event_base *base, const char *endpoint,
		    const struct zrouter_conf *conf, char *err, size_t errlen);

/*
 * Queues a message of n frames (1 to 8) to the peer rid names and writes
 * what its socket takes now. Returns 0, or -1 with errno: EHOSTUNREACH
 * (no such peer, or its connection ended now), EAGAIN (more than
 * out_max bytes wait for it: nothing taken).
 */
int		 zrouter_send(struct zrouter *r, const unsigned char *rid,
		    size_t ridlen, const struct zmtp_frame *frames, size_t n);

/*
 * As zrouter_send, but a small message may wait in the peer's buffer,
 * behind those before it, until zrouter_flush (or 64 KiB wait): many
 * deliveries of one message each in one write. The caller must flush.
 */
int		 zrouter_queue(struct zrouter *r, const unsigned char *rid,
		    size_t ridlen, const struct zmtp_frame *frames, size_t n);

/*
 * Writes what waits for the peer rid names (the rest when its socket
 * has room). Its connection's end, if that is what the write finds, is
 * for later sends to see (EHOSTUNREACH).
 */
void		 zrouter_flush(struct zrouter *r, const unsigned char *rid,
		    size_t ridlen);

/*
 * Ends the connection rid names, dropping what waits for it (a peer
 * that left too much unread); its messages' turn, if under way, ends
 * first. Later sends to rid fail with EHOSTUNREACH.
 */
void		 zrouter_cut(struct zrouter *r, const unsigned char *rid,
		    size_t ridlen);

/* Peers connected now. */
size_t		 zrouter_peers(const struct zrouter *r);

/* Closes every connection and the socket, and removes its file. */
void		 zrouter_free(struct zrouter *r);

#endif

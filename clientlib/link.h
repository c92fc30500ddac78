/*
 * A producer's connection to streammgr's ingress (docs/protocols.md,
 * "Ingress"): whole messages of frames each way, and nothing waits but
 * lo_wait. Two kinds:
 *
 *   ipc://   link_ipc.c: ZMTP spoken in the caller's thread (zmtp.c), a
 *            connection made again when one ends (streammgr restarted);
 *   tcp://   link_zmq.c: a libzmq DEALER, CURVE client with heartbeats,
 *            in libmysimbdp-zmq.so.0, opened the first time one is made
 *            (zmqload.c), so an app that never sends to another host
 *            never loads libzmq's tree of libraries.
 */
#ifndef MSB_LINK_H
#define MSB_LINK_H

#include <stdbool.h>
#include <stddef.h>

#include "zmtp.h"

struct msb__link;

struct msb__link_ops {
	/*
	 * One message of n frames (1 to 8), whole or not at all, without
	 * waiting. Returns 0, or -1 with errno: EAGAIN (not taken now: no
	 * connection yet, or no room, or this send found the end, said by
	 * lo_recv after what came before it; wait and send again),
	 * ECONNRESET (the connection ended, and what awaited a reply on it
	 * gets none; the message was not taken: send it again, a connection
	 * is made again), or a failure (lo_error says why).
	 */
	int	 (*lo_send)(struct msb__link *, const struct zmtp_frame *,
		    size_t);
	/*
	 * The next whole message, without waiting; its frames stay valid
	 * until the next call on the link (a connection's end found by a
	 * send or a wait may drop them). Returns 0, or -1 with errno:
	 * EAGAIN (none), ECONNRESET (as lo_send), or a failure.
	 */
	int	 (*lo_recv)(struct msb__link *, struct zmtp_msg *);
	/*
	 * Waits at most ms for events (POLLIN, POLLOUT), writing meanwhile
	 * what waits to be written (when nothing came to read: lo_recv
	 * writes it after what came). Returns 0 (something happened, or the
	 * time is up), or -1 with errno: EACCES (the node refused this
	 * producer: lo_error says why) or another failure.
	 */
	int	 (*lo_wait)(struct msb__link *, short, int);
	/*
	 * Ends the connection when some of what was sent on it is still
	 * unwritten, dropping that: its records were written off. The
	 * next send connects again. NULL: the link cannot (libzmq).
	 */
	void	 (*lo_drop)(struct msb__link *);
	/* Why the last call failed, or the connection ended. */
	const char *(*lo_error)(const struct msb__link *);
	/* Writes what waits for at most linger_ms, then frees the link. */
	void	 (*lo_close)(struct msb__link *, int);
};

struct msb__link {
	const struct msb__link_ops *l_ops;
};

/*
 * link_ipc.c: a link to endpoint, "ipc://PATH". Returns MSB_OK,
 * MSB_TEMPFAIL (nothing there: streammgr not running) or MSB_ERROR (not
 * a socket, not ours to reach: errno EACCES), with err.
 */
int	 msb__link_ipc_open(struct msb__link **lp, const char *endpoint,
	    char *err, size_t errlen);

/*
 * zmqload.c: a link to endpoint, "tcp://HOST:PORT", as a CURVE client
 * with key_file's key pair, pinning server_key (40 characters of Z85 or
 * a file holding them). Returns MSB_OK or MSB_ERROR with err.
 */
int	 msb__link_remote_open(struct msb__link **lp, const char *endpoint,
	    const char *key_file, const char *server_key, char *err,
	    size_t errlen);

/* zmqload.c: whether s is a CURVE public key (curvekey_valid), through
 * libmysimbdp-zmq.so.0 (false when it cannot be loaded). */
bool	 msb__remote_key_valid(const char *s);

/*
 * link_zmq.c, in libmysimbdp-zmq.so.0 (or linked in: MSB_ZMQ_LINKED),
 * behind the two above.
 */
__attribute__((__visibility__("default")))
int	 msb__link_zmq_open(struct msb__link **lp, const char *endpoint,
	    const char *key_file, const char *server_key, char *err,
	    size_t errlen);
__attribute__((__visibility__("default")))
bool	 msb__link_zmq_key_valid(const char *s);

#endif

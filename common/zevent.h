/*
 * A ZeroMQ socket in the libevent loop.
 *
 * ZMQ_FD is edge-triggered and signals only that ZMQ_EVENTS must be read
 * again: it does not fire for messages that arrived while the socket was
 * being used (a send can consume the notification). So the callback is run
 * whenever ZMQ_EVENTS says POLLIN, again after it returns while input is
 * left, and on demand after the owner sent on the socket (zevent_kick).
 * Those runs again wait for the loop's next poll: a socket flooded with
 * input gets one turn per turn of the loop, the other sockets theirs.
 */
#ifndef MYSIMBDP_ZEVENT_H
#define MYSIMBDP_ZEVENT_H

#include <event2/event.h>

/*
 * Called when sock has input. It should receive with ZMQ_DONTWAIT, at
 * most a bounded number of messages (so other sockets get their turn), and
 * return; it is called again while input is left.
 */
typedef void (*zevent_cb)(void *sock, void *arg);

struct zevent;

/*
 * A new ZeroMQ context with room for as many sockets as the process may
 * open files (libzmq's default, 1023, would stop streammgr at about 510
 * streams, two sockets each). Call it after spawn_init, which raises that
 * limit. Returns NULL (errno) on failure.
 */
void *zevent_context(void);

/*
 * A ROUTER in ctx for the platform's peers (producers, instances): no
 * linger, a send queue of 100,000 messages per peer (windows bound it
 * in practice; streammgr's work socket sets a smaller one before it
 * binds), and frames up to 256 MiB, the largest max_message_size
 * a profile may set: ZeroMQ cuts the connection of a larger one before
 * it is buffered whole, while below it a too-large message still gets
 * its REJECT. The CURVE listeners for other hosts bound theirs lower
 * (zap.h). Exits when no socket can be made.
 */
void *zevent_router(void *ctx);

/* Watches sock; returns NULL (errno) when its ZMQ_FD cannot be had. */
struct zevent *zevent_new(struct event_base *base, void *sock, zevent_cb cb,
    void *arg);

/*
 * The callback also runs when ZMQ_FD woke without input: for a ROUTER
 * whose sends to a peer failed with EAGAIN (its send queue full), the
 * wake that says the peer read some of it, so they can be tried again.
 */
void zevent_always(struct zevent *z);

/* Makes the loop look at the socket again soon (on its next turn, after
 * the poll). Call it after sending. */
void zevent_kick(struct zevent *z);

/* Stops watching (the socket itself is the caller's). Accepts NULL. */
void zevent_free(struct zevent *z);

#endif

/*
 * ZeroMQ's authentication protocol (ZAP, RFC 27) served on the loop: the
 * handler libzmq asks about every client of a CURVE server socket in the
 * same context, bound on inproc://zeromq.zap.01. A daemon opens it before
 * any CURVE socket (without a handler, CURVE lets every key in) and
 * decides with its own function: streammgr for producers and operators,
 * batchmgr for operators. docs/protocols.md, "Producers on other hosts"
 * and "Operators on other hosts".
 */
#ifndef MYSIMBDP_ZAP_H
#define MYSIMBDP_ZAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "conf.h"
#include "curvekey.h"

/* The ZAP domain of each kind of socket. */
#define ZAP_PRODUCERS	"producers"
#define ZAP_OPERATORS	"operators"

/*
 * Decides on one CURVE client: key (Z85) asking to join a socket of
 * domain, from address. Returns true to let it in with the User-Id
 * written to user, false to refuse (the function logs and counts).
 */
typedef bool (*zap_decide_fn)(void *arg, const char *domain,
    const char *key, const char *address, char *user, size_t userlen);

struct zap;

/* Binds the handler in zctx and watches it from base; exits on failure. */
struct zap *zap_open(struct event_base *base, void *zctx, zap_decide_fn fn,
    void *arg);
void zap_close(struct zap *z);

/*
 * What a CURVE listener bounds before a client is known. libzmq applies
 * ZMQ_MAXMSGSIZE to the handshake's commands too, so a stranger may make
 * the daemon hold one frame of up to the bound until the handshake
 * times out: each listener takes the bound of what it serves, plus
 * ZAP_FRAME_SLACK for CURVE's box around a message (33 bytes) and the
 * handshake's own commands (INITIATE: a vouch and metadata). The
 * handshake (greeting, HELLO/WELCOME, INITIATE/READY and the ZAP
 * request, answered at once from the loop) is a few round trips: 5 s
 * leave room for a slow link and a busy loop, and a client cut short
 * connects again by itself.
 */
#define ZAP_FRAME_SLACK		4096
#define ZAP_HANDSHAKE_MS	5000

/*
 * A ROUTER in zctx for clients on other hosts: CURVE server with the
 * secret key k, ZAP domain domain, heartbeats, frames of at most
 * frame_max bytes (a larger one cuts the connection, during the
 * handshake too), handshakes of at most ZAP_HANDSHAKE_MS, bound on
 * endpoint. libzmq copies the options at the bind, so frame_max holds
 * for the socket's life. Returns it, or NULL with "bind ENDPOINT:
 * reason" in err.
 */
void *zap_curve_router(void *zctx, const struct curvekey *k,
    const char *domain, int64_t frame_max, const char *endpoint, char *err,
    size_t errlen);

/* Whether key is one of the NULL-terminated keys. */
bool zap_key_listed(char *const *keys, const char *key);

/*
 * Loads the node's key pair (remote.server_key). Returns 0, or -1 with
 * "PLATFORM-FILE: remote.server_key: problem" in err.
 */
int zap_server_key(const struct conf_platform *p, struct curvekey *k,
    char *err, size_t errlen);

#endif

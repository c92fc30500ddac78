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
 * A ROUTER in zctx for clients on other hosts: CURVE server with the
 * secret key k, ZAP domain domain, heartbeats, bound on endpoint. Returns
 * it, or NULL with "bind ENDPOINT: reason" in err.
 */
void *zap_curve_router(void *zctx, const struct curvekey *k,
    const char *domain, const char *endpoint, char *err, size_t errlen);

/* Whether key is one of the NULL-terminated keys. */
bool zap_key_listed(char *const *keys, const char *key);

/*
 * Loads the node's key pair (remote.server_key). Returns 0, or -1 with
 * "PLATFORM-FILE: remote.server_key: problem" in err.
 */
int zap_server_key(const struct conf_platform *p, struct curvekey *k,
    char *err, size_t errlen);

#endif

/*
 * A daemon's control socket: a ZeroMQ ROUTER bound on an ipc path in the
 * state folder, watched by the libevent loop, answering each request (one
 * JSON object) with one JSON reply. streammgr (run/streammgr.ctl) and
 * batchmgr (run/batchmgr.ctl) serve theirs with it; docs/protocols.md
 * describes the conventions:
 *
 *  - a request is the last frame of a message; the frames before it (the
 *    routing id, REQ's empty delimiter) are echoed in front of the reply;
 *  - a reply is {"ok":true,...} or {"ok":false,"error":"..."}.
 */
#ifndef MYSIMBDP_CTLSOCK_H
#define MYSIMBDP_CTLSOCK_H

#include <stddef.h>

#include <bson/bson.h>
#include <event2/event.h>

#include "log.h"

/*
 * Carries out one request. reply already holds "ok":true; the handler
 * appends its fields. Returns 0, or -1 with the reason in err (the reply
 * then becomes {"ok":false,"error":err}).
 */
typedef int (*ctlsock_handler)(const bson_t *req, bson_t *reply, char *err,
    size_t errlen, void *arg);

struct ctlsock;

/*
 * Creates a ZeroMQ socket of type (ZMQ_ROUTER, ZMQ_PUB...) in zctx, with
 * no linger, bound on ipc://path. Returns it, or NULL with the reason in
 * err ("bind ipc://...: ...", or a path too long for sun_path).
 */
void *ctlsock_bind(void *zctx, int type, const char *path, char *err,
    size_t errlen);

/*
 * Binds a ROUTER on path and answers its requests with fn from the loop
 * of base. Returns the control socket, or NULL with the reason in err.
 */
struct ctlsock *ctlsock_open(struct event_base *base, void *zctx,
    const char *path, ctlsock_handler fn, void *arg, char *err,
    size_t errlen);

/*
 * Decides whether the client whose User-Id (ZAP) is user may still send
 * requests: 0, or -1 with the reason in err (the request is then refused
 * with it). user is NULL when the connection has none.
 */
typedef int (*ctlsock_allow_fn)(void *arg, const char *user, char *err,
    size_t errlen);

/*
 * Also answers the requests that come on sock (bound already, e.g. a
 * CURVE socket for operators on other hosts: zap.h), which c now owns,
 * each only when allow lets its sender in now: the handshake checked the
 * key once, and a reload may have taken it out since. Returns 0, or -1
 * when it cannot be watched.
 */
int ctlsock_add_remote(struct ctlsock *c, struct event_base *base,
    void *sock, ctlsock_allow_fn allow, void *allow_arg);

/* Closes the socket (which removes its file). Accepts NULL. */
void ctlsock_close(struct ctlsock *c);

/*
 * The reply to one request of len bytes: a JSON text to free with
 * bson_free. Requests that are too large or not a JSON object are refused
 * here; the others go to fn. Exposed for the daemons' unit tests.
 */
char *ctlsock_answer(const char *req, size_t len, ctlsock_handler fn,
    void *arg);

/* The largest request (bytes): a larger one is refused. */
#define CTLSOCK_REQ_MAX	65536

/* The size of err a handler is given. */
#define CTLSOCK_ERR_MAX	512

/*
 * Writes a reason into err for a handler; returns -1. What it quotes
 * need not be UTF-8: bytes that are not become \xNN (jsonline_text).
 */
int ctlsock_fail(char *err, size_t errlen, const char *fmt, ...)
    LOG_FMT(3, 4);

#endif

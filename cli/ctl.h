/*
 * The client side of the daemons' control sockets (common/ctlsock.h):
 * run/streammgr.ctl and run/batchmgr.ctl under the state folder, one JSON
 * request and one JSON reply each (docs/protocols.md). Several daemons
 * can be asked at once, so a command that needs both waits for the
 * slower one only.
 */
#ifndef MYSIMBDP_CTL_H
#define MYSIMBDP_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

#include "cli.h"

#define CTL_TIMEOUT_MS	5000	/* --timeout's default */

/* One request to one daemon, and what came of it. */
struct ctl_call {
	const char	*cc_daemon;	/* "streammgr": socket name, messages */
	char		*cc_path;	/* the socket file, or tcp://... */
	const struct cli *cc_cli;	/* --node: its keys */
	const char	*cc_req;	/* the request, cc_len bytes */
	size_t		 cc_len;
	char		*cc_reply;	/* NUL-terminated; set when cc_rc is 0 */
	int		 cc_rc;		/* EX_OK or why not (see below) */
	void		*cc_sock;	/* private */
};

/*
 * Fills call for daemon's socket run/<daemon>.ctl, from the platform
 * file; with --node, for its control port on that node (PORT + 1 for
 * streammgr, + 2 for batchmgr: conf.h). Returns 0, or -1 after printing
 * why (exit 78). main() refused a bad --node already (64), and a cluster
 * description's addresses are checked when it is loaded.
 */
int ctl_call_init(struct ctl_call *call, const struct cli *cli,
    const char *daemon);

void ctl_call_free(struct ctl_call *call);

/*
 * Sends each of the n calls (128 at most) its request, then waits up to
 * timeout_ms for
 * all the replies. Each call's cc_rc says how it went: 0 with cc_reply,
 * or, after saying why on stderr, 69 the daemon is not running, 75 no
 * reply in time, 77 the socket is not ours to reach, 78 its path does
 * not fit sun_path, 70 a ZeroMQ failure here.
 */
void ctl_exchange(struct ctl_call *calls, size_t n, uint64_t timeout_ms);

/*
 * Checks a reply of daemon's: a JSON object whose "ok" is true. Returns
 * EX_OK with the parsed reply in *docp (bson_destroy it), 65 for
 * {"ok":false} or 76 for anything else, after saying why (unless quiet).
 */
int ctl_check(const char *daemon, const char *reply, bson_t **docp,
    bool quiet);

/*
 * Sends one request to one daemon and checks the reply. Returns
 * EX_OK with the reply in *replyp (bson_destroy it), or the exit
 * status after saying why (ctl_exchange's and ctl_check's, 78).
 */
int ctl_request(const struct cli *cli, const char *daemon, const bson_t *req,
    uint64_t timeout_ms, bson_t **replyp);

/*
 * Whether a daemon listens on the ipc socket file at path. Returns
 * EX_OK, or the exit status after printing why: 69 with
 * "mysimbdp: <missing> (no <path>)" or "(nothing listens on <path>)",
 * 77 when the socket may not be reached (permissions), 78 when the path
 * does not fit sun_path.
 */
int ctl_socket_check(const char *path, const char *missing);

/* ---- reading replies ---- */

/* A number field of doc as an integer, or 0 when it has none. */
int64_t ctl_int(const bson_t *doc, const char *key);

struct conf_node;

/* cli aimed at node n of a cluster description (its address and key). */
void ctl_node_cli(const struct cli *cli, const struct conf_node *n,
    struct cli *out);

/* A string field of doc, or "-" when it has none. */
const char *ctl_str(const bson_t *doc, const char *key);

/*
 * A number field of doc as text in buf, with that many decimals (0: an
 * integer), or "-" when it has none. Returns buf.
 */
const char *ctl_num(const bson_t *doc, const char *key, int decimals,
    char *buf, size_t len);

/*
 * Calls fn (unless NULL) with each object of doc's array key. Returns 0,
 * or -1 when doc has no such array.
 */
int ctl_each(const bson_t *doc, const char *key,
    void (*fn)(const bson_t *, void *), void *arg);

#endif

/*
 * durproducer: a producer for the durability tests. It sends the
 * messages "PREFIX<k> v<k>" for k = 1..N to a stream's ingress and keeps
 * sending each one again (THROTTLE, REJECT, or no reply within a second:
 * streammgr may have been killed) until it has an OK for every one, or
 * the deadline passes. An OK means streammgr stored the message, so the
 * test can demand that every key reaches the sink.
 *
 * usage: durproducer ENDPOINT N [-p prefix] [-r rate/s] [-w window]
 *            [-t deadline_s] [-R TENANT/STREAM -k KEYFILE -s SERVERKEY]
 *            [-c CLUSTERFILE]
 * With -R, each message starts with that route frame, as on a node's
 * remote listener; -k and -s make it a CURVE client (common/curvekey.h).
 * With -c, a "THROTTLE moved: tenant T is served by node N at ..." makes
 * it connect to node N of the cluster description (its address and key)
 * and send everything unanswered there: a producer following a tenant
 * moved by `mysimbdp move`.
 * Prints "ok K of N, sends S, resent R" and exits 0 when K == N, else 1.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "conf.h"
#include "curvekey.h"

#define RESEND_MS 1000

enum { TO_SEND, OUT, DONE };

struct prod {
	void		*ctx;
	void		*sock;
	const char	*route;		/* -R: the first frame */
	const char	*keyfile;	/* -k */
	const char	*cluster;	/* -c */
	char		 moved_to[64];	/* a node named by THROTTLE moved */
	uint64_t	 n;
	const char	*prefix;
	uint8_t		*state;
	int64_t		*sent_ms;
	uint64_t	*todo;		/* keys to send again (a stack) */
	size_t		 ntodo;
	uint64_t	 fresh;		/* next key never sent */
	uint64_t	 out;		/* awaiting a reply */
	uint64_t	 ok, sends, resent;
	int64_t		 refused_ms;	/* the last THROTTLE or REJECT */
	uint64_t	*fifo;		/* keys in send order, for timeouts */
	size_t		 fhead, ftail, fcap;
};

static int
set_curve(void *sock, const char *keyfile, const char *server)
{
	char err[400];

	if (server == NULL || curvekey_client(sock, keyfile, server, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "durproducer: -k and -s: %s\n",
		    server ? err : "-s is missing");
		return -1;
	}
	return 0;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
fifo_push(struct prod *p, uint64_t k)
{
	if (p->ftail - p->fhead == p->fcap) {
		size_t cap = p->fcap ? p->fcap * 2 : 1024;
		uint64_t *v = malloc(cap * sizeof(*v));

		if (v == NULL)
			abort();
		for (size_t i = p->fhead; i < p->ftail; i++)
			v[i - p->fhead] = p->fifo[i % p->fcap];
		free(p->fifo);
		p->fifo = v;
		p->ftail -= p->fhead;
		p->fhead = 0;
		p->fcap = cap;
	}
	p->fifo[p->ftail++ % p->fcap] = k;
}

static void
again(struct prod *p, uint64_t k)
{
	p->state[k] = TO_SEND;
	p->out--;
	p->todo[p->ntodo++] = k;
	p->resent++;
}

/* Sends key k; false when the socket cannot take it now. */
static bool
send_key(struct prod *p, uint64_t k)
{
	char body[128];
	int len = snprintf(body, sizeof(body), "%s%llu v%llu", p->prefix,
	    (unsigned long long)k, (unsigned long long)k);

	if (p->route != NULL) {
		if (zmq_send(p->sock, p->route, strlen(p->route),
		    ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
			return false;
		zmq_send(p->sock, &k, sizeof(k), ZMQ_SNDMORE);
	} else if (zmq_send(p->sock, &k, sizeof(k),
	    ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return false;
	zmq_send(p->sock, body, (size_t)len, 0);
	p->state[k] = OUT;
	p->sent_ms[k] = now_ms();
	p->out++;
	p->sends++;
	fifo_push(p, k);
	return true;
}

static void
on_reply(struct prod *p)
{
	uint64_t k;
	char status[400];
	int n;
	int more;
	size_t ml = sizeof(more);

	n = zmq_recv(p->sock, &k, sizeof(k), ZMQ_DONTWAIT);
	if (n < 0)
		return;
	zmq_getsockopt(p->sock, ZMQ_RCVMORE, &more, &ml);
	n = more ? zmq_recv(p->sock, status, sizeof(status) - 1, 0) : 0;
	if (n < 0 || k < 1 || k > p->n || p->state[k] == DONE)
		return;
	if (n >= 2 && memcmp(status, "OK", 2) == 0) {
		if (p->state[k] == OUT)
			p->out--;
		else	/* a late OK for a key waiting to go again */
			for (size_t i = 0; i < p->ntodo; i++)
				if (p->todo[i] == k) {
					p->todo[i] = p->todo[--p->ntodo];
					break;
				}
		p->state[k] = DONE;
		p->ok++;
	} else if (p->state[k] == OUT) {
		static const char moved[] = "THROTTLE moved: ";
		const char *node;

		status[n] = '\0';
		if (p->cluster != NULL && strncmp(status, moved,
		    sizeof(moved) - 1) == 0 &&
		    (node = strstr(status, " by node ")) != NULL)
			sscanf(node, " by node %63s", p->moved_to);
		again(p, k);
		p->refused_ms = now_ms();
	}
}

/* A DEALER on endpoint, a CURVE client of server when keyfile is set. */
static void *
open_socket(void *ctx, const char *endpoint, const char *keyfile,
    const char *server)
{
	void *sock = zmq_socket(ctx, ZMQ_DEALER);
	int zero = 0, hwm = 1000000;

	if (sock == NULL)
		return NULL;
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	if ((keyfile != NULL && set_curve(sock, keyfile, server) < 0) ||
	    zmq_connect(sock, endpoint) < 0) {
		fprintf(stderr, "durproducer: connect %s: %s\n", endpoint,
		    zmq_strerror(errno));
		zmq_close(sock);
		return NULL;
	}
	return sock;
}

/*
 * Follows the tenant to the node a "moved" named: a new socket there,
 * and every key still awaiting its reply sent again. Returns -1 when
 * the cluster file does not know the node.
 */
static int
follow(struct prod *p)
{
	struct conf_errors errs = { 0 };
	struct conf_cluster *c = conf_cluster_load(p->cluster, &errs);
	const struct conf_node *n = c ? conf_cluster_node(c, p->moved_to) :
	    NULL;
	char ep[300];
	void *sock;

	conf_errors_print(&errs);
	conf_errors_free(&errs);
	if (n == NULL) {
		fprintf(stderr, "durproducer: no node %s in %s\n", p->moved_to,
		    p->cluster);
		conf_cluster_free(c);
		return -1;
	}
	snprintf(ep, sizeof(ep), "tcp://%s", n->n_address);
	sock = open_socket(p->ctx, ep, p->keyfile, n->n_server_key);
	conf_cluster_free(c);
	if (sock == NULL)
		return -1;
	zmq_close(p->sock);
	p->sock = sock;
	for (uint64_t k = 1; k <= p->n; k++)
		if (p->state[k] == OUT)
			again(p, k);
	p->fhead = p->ftail;
	p->moved_to[0] = '\0';
	return 0;
}

static bool
readable(void *sock)
{
	int ev = 0;
	size_t el = sizeof(ev);

	return zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &el) == 0 &&
	    (ev & ZMQ_POLLIN);
}

/* Keys whose reply is over a second late go again. */
static void
expire(struct prod *p, int64_t now)
{
	while (p->fhead < p->ftail) {
		uint64_t k = p->fifo[p->fhead % p->fcap];

		if (p->state[k] == OUT && now - p->sent_ms[k] < RESEND_MS)
			break;
		p->fhead++;
		if (p->state[k] == OUT && now - p->sent_ms[k] >= RESEND_MS)
			again(p, k);
	}
}

static uint64_t
next_key(struct prod *p)
{
	if (p->ntodo > 0)
		return p->todo[--p->ntodo];
	if (p->fresh <= p->n)
		return p->fresh++;
	return 0;
}

int
main(int argc, char *argv[])
{
	struct prod p = { .prefix = "k", .fresh = 1 };
	uint64_t window = 100, rate = 0, deadline_s = 120;
	const char *keyfile = NULL, *server = NULL;
	void *ctx;
	int ch;
	int64_t start, deadline;

	while ((ch = getopt(argc, argv, "p:r:w:t:R:k:s:c:")) != -1) {
		switch (ch) {
		case 'c': p.cluster = optarg; break;
		case 'R': p.route = optarg; break;
		case 'k': keyfile = optarg; break;
		case 's': server = optarg; break;
		case 'p': p.prefix = optarg; break;
		case 'r': rate = strtoull(optarg, NULL, 10); break;
		case 'w': window = strtoull(optarg, NULL, 10); break;
		case 't': deadline_s = strtoull(optarg, NULL, 10); break;
		default: goto usage;
		}
	}
	if (argc - optind != 2 || window == 0)
		goto usage;
	p.n = strtoull(argv[optind + 1], NULL, 10);
	p.state = calloc(p.n + 1, 1);
	p.sent_ms = calloc(p.n + 1, sizeof(*p.sent_ms));
	p.todo = calloc(p.n + 1, sizeof(*p.todo));
	p.ctx = ctx = zmq_ctx_new();
	p.keyfile = keyfile;
	if (p.n == 0 || !p.state || !p.sent_ms || !p.todo || !ctx)
		goto usage;
	if ((p.sock = open_socket(ctx, argv[optind], keyfile, server)) == NULL)
		return 1;
	start = now_ms();
	deadline = start + (int64_t)deadline_s * 1000;
	while (p.ok < p.n && now_ms() < deadline) {
		zmq_pollitem_t item = { p.sock, 0, ZMQ_POLLIN, 0 };
		int64_t now = now_ms();
		/* Paced: no more first sends than rate/s since the start. */
		uint64_t allowed = rate ? (uint64_t)(now - start) * rate / 1000 +
		    1 : p.n;
		uint64_t k;

		/* After a refusal, a pause before sending more. */
		bool paused = now - p.refused_ms < 50;

		while (!paused && p.out < window && (p.ntodo > 0 ||
		    p.fresh <= allowed) && (k = next_key(&p)) != 0)
			if (!send_key(&p, k)) {
				p.todo[p.ntodo++] = k;
				break;
			}
		zmq_poll(&item, 1, 10);
		for (int i = 0; i < 100000 && readable(p.sock); i++)
			on_reply(&p);
		if (p.moved_to[0] != '\0' && follow(&p) < 0)
			break;
		expire(&p, now_ms());
	}
	printf("ok %llu of %llu, sends %llu, resent %llu\n",
	    (unsigned long long)p.ok, (unsigned long long)p.n,
	    (unsigned long long)p.sends, (unsigned long long)p.resent);
	zmq_close(p.sock);
	zmq_ctx_term(ctx);
	free(p.state);
	free(p.sent_ms);
	free(p.todo);
	free(p.fifo);
	return p.ok == p.n ? 0 : 1;
usage:
	fprintf(stderr, "usage: durproducer ENDPOINT N [-p prefix] [-r rate] "
	    "[-w window] [-t deadline_s]\n");
	return 64;
}

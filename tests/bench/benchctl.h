/*
 * streammgr's control socket for the benchmark programs (streambench,
 * supbench): JSON requests over a DEALER, replies parsed with libbson.
 * Every function exits with a message on a failure: a benchmark cannot go
 * on without streammgr.
 */
#ifndef MYSIMBDP_BENCHCTL_H
#define MYSIMBDP_BENCHCTL_H

#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

#define BENCHCTL_TIMEOUT_MS	5000	/* for one reply */

struct benchctl {
	void	*bc_ctx;		/* the ZeroMQ context, for more sockets */
	void	*bc_sock;
	char	 bc_status[160];	/* the status request for the tenant */
};

/* Connects to streammgr's control ENDPOINT, for requests about TENANT. */
void benchctl_open(struct benchctl *c, const char *endpoint,
    const char *tenant);

/* Later status requests are about TENANT. */
void benchctl_tenant(struct benchctl *c, const char *tenant);

void benchctl_close(struct benchctl *c);

/* Sends one JSON request and parses the reply into doc, which must say
 * "ok":true. The caller destroys doc. */
void benchctl_request(struct benchctl *c, const char *json, bson_t *doc);

/* The tenant's status, into doc (the caller destroys it). */
void benchctl_status(struct benchctl *c, bson_t *doc);

/* A number of the first stream ("acked", "desired", ...) in a status. */
int64_t benchctl_number(const bson_t *doc, const char *field);

/* The least of a number over the tenant's streams and subscriptions
 * ("acked": what every member has acked). */
int64_t benchctl_min(const bson_t *doc, const char *field);

/* Instances of the tenant's streams and subscriptions in a status: in
 * all, and in state ready. */
void benchctl_instances(const bson_t *doc, int *all, int *ready);

#endif

/*
 * The tenants the monitor listens to, from their profiles: each with its
 * metric socket and a view of each of its streams. On SIGHUP a changed
 * profile is taken in place (the figures so far are kept), a new one is
 * added, a removed one closed.
 */
#ifndef MYSIMBDP_MONITOR_MTENANT_H
#define MYSIMBDP_MONITOR_MTENANT_H

#include "mon.h"

/*
 * Adds tenant c (taking a reference) with a view of each of its streams
 * and its metric socket. Returns NULL, logged, when the socket cannot be
 * bound.
 */
struct mtenant *mtenant_new(struct mon *m, struct conf_tenant *c);

/* Closes the socket and frees the tenant and its views. */
void mtenant_free(struct mtenant *t);

/* Takes profile c in place of the tenant's: streams added, dropped. */
void mtenant_update(struct mtenant *t, struct conf_tenant *c);

/* The tenant with this id, or NULL. */
struct mtenant *mtenant_find(struct mon *m, const char *id);

/* The tenant's stream of this name, or NULL. */
struct mstream *mtenant_stream(struct mtenant *t, const char *name);

#endif

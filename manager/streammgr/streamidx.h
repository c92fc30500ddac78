/*
 * streamidx: streams and subscriptions by (tenant, name), so that finding
 * one does not walk all of them. A producer's message over TCP names its
 * stream in its first frame; with 1,000 tenants a walk per message
 * would cost more than the message. Entries are intrusive (one in each
 * stream) and chained; the table doubles when it holds as many entries
 * as buckets. Keys are the operator's tenant and stream names, so no
 * sender can choose what collides.
 */
#ifndef MYSIMBDP_STREAMIDX_H
#define MYSIMBDP_STREAMIDX_H

#include <stddef.h>

struct streamidx_entry {
	struct streamidx_entry *e_next;		/* in its bucket */
	const char	*e_tid;			/* owned by the item */
	const char	*e_name;
	void		*e_item;
};

struct streamidx {
	struct streamidx_entry **x_buckets;
	size_t		 x_mask;		/* buckets - 1 */
	size_t		 x_n;
};

/* Returns -1 (errno ENOMEM) when the first buckets cannot be had. */
int streamidx_init(struct streamidx *x);
void streamidx_free(struct streamidx *x);

/*
 * Adds e for item under (tid, name), strings that must live as long as
 * e is in x. A (tid, name) already there is the caller's mistake
 * (which of the two is found is not said). Never fails: when the table
 * cannot grow, its chains get longer.
 */
void streamidx_add(struct streamidx *x, struct streamidx_entry *e,
    const char *tid, const char *name, void *item);

/* Removes e, which must be in x. */
void streamidx_remove(struct streamidx *x, struct streamidx_entry *e);

/* The item under (tid, name), or NULL. */
void *streamidx_find(const struct streamidx *x, const char *tid,
    const char *name);

#endif

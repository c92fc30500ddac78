/*
 * Fair scheduling of batch jobs: a global pool of worker slots, a cap per
 * tenant (max_concurrent), and tenants with work served round-robin, each
 * getting up to `weight` jobs per turn. A flood from one tenant therefore
 * never starves another. Knows nothing of processes: items are opaque.
 */
#ifndef MYSIMBDP_SCHED_H
#define MYSIMBDP_SCHED_H

#include <stddef.h>
#include <sys/queue.h>

struct sched_item {
	TAILQ_ENTRY(sched_item) si_entry;
};
TAILQ_HEAD(sched_items, sched_item);

struct sched_queue {
	TAILQ_ENTRY(sched_queue) sq_entry;
	struct sched_items sq_items;
	size_t		 sq_len;
	int		 sq_running;
	int		 sq_max_running;
	int		 sq_weight;
	int		 sq_credit;	/* picks left in the current turn */
};
TAILQ_HEAD(sched_queues, sched_queue);

struct sched {
	struct sched_queues s_queues;
	struct sched_queue *s_cursor;	/* whose turn it is */
	int		 s_workers;
	int		 s_running;
};

void sched_init(struct sched *s, int workers);

/* Adds a tenant's queue; max_running and weight are at least 1. */
void sched_add_queue(struct sched *s, struct sched_queue *q,
    int max_running, int weight);

/* Changes a queue's limits (profile reload). */
void sched_set_limits(struct sched_queue *q, int max_running, int weight);

/* Removes a queue; its items stay in it for the caller to drain. */
void sched_remove_queue(struct sched *s, struct sched_queue *q);

/* Appends an item to a queue (FIFO within a tenant). */
void sched_push(struct sched_queue *q, struct sched_item *it);

/* Takes a queued item out without running it. */
void sched_unlink(struct sched_queue *q, struct sched_item *it);

/*
 * Picks the next item to run, or NULL when every slot is busy or no queue
 * may run more. Counts the pick as running in its queue (*from) and in
 * the pool until sched_finished.
 */
struct sched_item *sched_next(struct sched *s, struct sched_queue **from);

/* Releases the slot of an item that ran from q. */
void sched_finished(struct sched *s, struct sched_queue *q);

#endif

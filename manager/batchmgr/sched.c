#include "sched.h"

void
sched_init(struct sched *s, int workers)
{
	TAILQ_INIT(&s->s_queues);
	s->s_cursor = NULL;
	s->s_workers = workers;
	s->s_running = 0;
}

void
sched_set_limits(struct sched_queue *q, int max_running, int weight)
{
	q->sq_max_running = max_running > 0 ? max_running : 1;
	q->sq_weight = weight > 0 ? weight : 1;
	if (q->sq_credit > q->sq_weight)
		q->sq_credit = q->sq_weight;
}

void
sched_add_queue(struct sched *s, struct sched_queue *q, int max_running,
    int weight)
{
	TAILQ_INIT(&q->sq_items);
	q->sq_len = 0;
	q->sq_running = 0;
	q->sq_credit = 0;
	sched_set_limits(q, max_running, weight);
	q->sq_credit = q->sq_weight;
	TAILQ_INSERT_TAIL(&s->s_queues, q, sq_entry);
}

static struct sched_queue *
next_queue(struct sched *s, struct sched_queue *q)
{
	struct sched_queue *n = TAILQ_NEXT(q, sq_entry);

	return n ? n : TAILQ_FIRST(&s->s_queues);
}

void
sched_remove_queue(struct sched *s, struct sched_queue *q)
{
	if (s->s_cursor == q) {
		s->s_cursor = next_queue(s, q);
		if (s->s_cursor == q)
			s->s_cursor = NULL;
	}
	TAILQ_REMOVE(&s->s_queues, q, sq_entry);
}

void
sched_push(struct sched_queue *q, struct sched_item *it)
{
	TAILQ_INSERT_TAIL(&q->sq_items, it, si_entry);
	q->sq_len++;
}

void
sched_unlink(struct sched_queue *q, struct sched_item *it)
{
	TAILQ_REMOVE(&q->sq_items, it, si_entry);
	q->sq_len--;
}

struct sched_item *
sched_next(struct sched *s, struct sched_queue **from)
{
	struct sched_queue *q;
	struct sched_item *it;

	if (s->s_running >= s->s_workers || TAILQ_EMPTY(&s->s_queues))
		return NULL;
	if (s->s_cursor == NULL)
		s->s_cursor = TAILQ_FIRST(&s->s_queues);
	/* One lap at most: every queue is looked at once. */
	for (q = s->s_cursor; ; ) {
		if (q->sq_len > 0 && q->sq_running < q->sq_max_running) {
			it = TAILQ_FIRST(&q->sq_items);
			sched_unlink(q, it);
			q->sq_running++;
			s->s_running++;
			if (--q->sq_credit <= 0) {
				q->sq_credit = q->sq_weight;
				s->s_cursor = next_queue(s, q);
			} else
				s->s_cursor = q;
			*from = q;
			return it;
		}
		/* A queue that cannot run now loses the rest of its turn. */
		q->sq_credit = q->sq_weight;
		q = next_queue(s, q);
		if (q == s->s_cursor)
			return NULL;
	}
}

void
sched_finished(struct sched *s, struct sched_queue *q)
{
	q->sq_running--;
	s->s_running--;
}

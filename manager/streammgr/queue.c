#include "queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_RING_MIN 1024

int
queue_init(struct queue *q)
{
	memset(q, 0, sizeof(*q));
	if ((q->q_ring = calloc(QUEUE_RING_MIN, sizeof(*q->q_ring))) == NULL)
		return -1;
	q->q_mask = QUEUE_RING_MIN - 1;
	q->q_base = q->q_next = q->q_cursor = 1;
	TAILQ_INIT(&q->q_redeliver);
	TAILQ_INIT(&q->q_inflight);
	return 0;
}

size_t
queue_clear(struct queue *q)
{
	size_t n = 0;

	for (uint64_t seq = q->q_base; seq < q->q_next; seq++) {
		struct qmsg **slot = &q->q_ring[seq & q->q_mask];

		if (*slot) {
			free(*slot);
			*slot = NULL;
			n++;
		}
	}
	free(q->q_ring);
	q->q_ring = NULL;
	return n;
}

/* Doubles the ring, keeping each message at seq & mask. */
static int
grow(struct queue *q)
{
	uint64_t size = (q->q_mask + 1) * 2;
	struct qmsg **ring = calloc(size, sizeof(*ring));

	if (ring == NULL)
		return -1;
	for (uint64_t seq = q->q_base; seq < q->q_next; seq++)
		ring[seq & (size - 1)] = q->q_ring[seq & q->q_mask];
	free(q->q_ring);
	q->q_ring = ring;
	q->q_mask = size - 1;
	return 0;
}

/* Makes room for seqs up to seq. */
static int
reach(struct queue *q, uint64_t seq)
{
	while (seq - q->q_base > q->q_mask)
		if (grow(q) < 0)
			return -1;
	return 0;
}

struct qmsg *
queue_append(struct queue *q, const void *data, size_t len)
{
	struct qmsg *m;

	if (len > UINT32_MAX) {
		errno = EMSGSIZE;
		return NULL;
	}
	if (reach(q, q->q_next) < 0)
		return NULL;
	if ((m = malloc(sizeof(*m) + len)) == NULL)
		return NULL;
	memset(m, 0, sizeof(*m));
	m->m_seq = q->q_next++;
	m->m_len = (uint32_t)len;
	m->m_state = QM_PENDING;
	memcpy(m->m_data, data, len);
	q->q_ring[m->m_seq & q->q_mask] = m;
	q->q_pending++;
	q->q_bytes += len;
	return m;
}

int
queue_set_next(struct queue *q, uint64_t seq)
{
	if (seq < q->q_next) {
		errno = EINVAL;
		return -1;
	}
	if (q->q_base == q->q_next) {
		/* Nothing held: start afresh at seq. */
		q->q_base = q->q_cursor = q->q_next = seq;
		return 0;
	}
	if (reach(q, seq) < 0)
		return -1;
	q->q_next = seq;
	return 0;
}

struct qmsg *
queue_restore(struct queue *q, uint64_t seq, const void *data, size_t len)
{
	if (queue_set_next(q, seq) < 0)
		return NULL;
	return queue_append(q, data, len);
}

void
queue_drop_tail(struct queue *q, uint64_t seq)
{
	if (seq < q->q_cursor)
		seq = q->q_cursor;	/* delivered ones are not a tail */
	for (uint64_t s = seq; s < q->q_next; s++) {
		struct qmsg **slot = &q->q_ring[s & q->q_mask];

		if (*slot == NULL)
			continue;
		q->q_pending--;
		q->q_bytes -= (*slot)->m_len;
		free(*slot);
		*slot = NULL;
	}
	if (seq < q->q_next)
		q->q_next = seq;
}

struct qmsg *
queue_next(struct queue *q)
{
	struct qmsg *m = TAILQ_FIRST(&q->q_redeliver);

	if (m != NULL) {
		TAILQ_REMOVE(&q->q_redeliver, m, m_entry);
		m->m_redeliver = 0;
	} else {
		/* Released slots below the cursor are skipped. */
		while (q->q_cursor < q->q_next &&
		    q->q_ring[q->q_cursor & q->q_mask] == NULL)
			q->q_cursor++;
		if (q->q_cursor == q->q_next)
			return NULL;
		m = q->q_ring[q->q_cursor++ & q->q_mask];
	}
	q->q_pending--;
	return m;
}

void
queue_deliver(struct queue *q, struct qmsg *m, void *holder,
    uint64_t deadline_ms)
{
	m->m_state = QM_INFLIGHT;
	m->m_holder = holder;
	m->m_deadline_ms = deadline_ms;
	if (m->m_deliveries < UINT16_MAX)
		m->m_deliveries++;
	TAILQ_INSERT_TAIL(&q->q_inflight, m, m_entry);
	q->q_ninflight++;
}

struct qmsg *
queue_inflight(struct queue *q, uint64_t seq)
{
	struct qmsg *m;

	if (seq < q->q_base || seq >= q->q_next)
		return NULL;
	m = q->q_ring[seq & q->q_mask];
	return m != NULL && m->m_state == QM_INFLIGHT ? m : NULL;
}

struct qmsg *
queue_oldest(struct queue *q)
{
	return TAILQ_FIRST(&q->q_inflight);
}

void
queue_requeue(struct queue *q, struct qmsg *m)
{
	TAILQ_REMOVE(&q->q_inflight, m, m_entry);
	q->q_ninflight--;
	m->m_state = QM_PENDING;
	m->m_holder = NULL;
	m->m_redeliver = 1;
	TAILQ_INSERT_TAIL(&q->q_redeliver, m, m_entry);
	q->q_pending++;
}

void
queue_done(struct queue *q, struct qmsg *m)
{
	TAILQ_REMOVE(&q->q_inflight, m, m_entry);
	q->q_ninflight--;
	q->q_bytes -= m->m_len;
	q->q_ring[m->m_seq & q->q_mask] = NULL;
	free(m);
	while (q->q_base < q->q_cursor && q->q_ring[q->q_base & q->q_mask] ==
	    NULL)
		q->q_base++;
}

bool
queue_idle(const struct queue *q)
{
	return q->q_pending == 0 && q->q_ninflight == 0;
}

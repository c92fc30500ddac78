#include "queue.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QUEUE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define QUEUE_ASAN 1
#endif
#ifdef QUEUE_ASAN
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

#define SLOT(seq) ((seq) & (QUEUE_PAGE - 1))
#define PAGE(seq) ((seq) >> QUEUE_PAGE_BITS)

/*
 * Messages of up to BLOCK_BIG bytes (header included) are packed, in
 * arrival order, into their queue's blocks of BLOCK_SIZE bytes: an
 * append takes the next bytes of the queue's open block, a release
 * counts one message less in its block, and a block goes (to the cache
 * below, or back to malloc) with its last message. Messages come and go
 * in runs of hundreds, mostly in order, and a malloc and a free each,
 * on a backlog of cold memory, were a quarter of streammgr's CPU with
 * 100 busy streams (docs/benchmarks.md). A message held for long keeps
 * its block: BLOCK_SIZE is small for that (about 100 messages of
 * 100 bytes), and queue_memory() counts blocks, not messages, so
 * stream.max_memory bounds what is really held. Larger messages are a
 * malloc each. Under AddressSanitizer a released message stays
 * poisoned inside its block, so a use after its release is still
 * caught.
 */
#define BLOCK_SIZE	(16u << 10)
#define BLOCK_BIG	(BLOCK_SIZE / 4)
#define ALIGN8(n)	(((n) + 7) & ~(size_t)7)

struct qblock {
	struct queue	*b_queue;	/* the queue appending to it, or NULL */
	uint32_t	 b_live;	/* messages in it */
	uint32_t	 b_used;	/* bytes of b_data given out */
	unsigned char	 b_data[];
};

#define BLOCK_DATA	(BLOCK_SIZE - sizeof(struct qblock))

/* Free blocks kept for the next ones, up to CACHE_BLOCKS (4 MiB),
 * linked through their b_queue, once cache_drop is set to run at exit.
 * One cache for the process: every queue runs on streammgr's loop
 * thread. */
#define CACHE_BLOCKS	256
static struct qblock *cache;
static size_t cache_len;
static bool caching;

/* What every queue of the process holds (blocks, messages alone and
 * pages), and its most since the last queue_trim(): the loop's thread
 * alone runs queues. */
static uint64_t held_memory;
static uint64_t held_peak;

uint64_t
queue_memory(void)
{
	return held_memory;
}

static void
held_add(uint64_t n)
{
	held_memory += n;
	if (held_memory > held_peak)
		held_peak = held_memory;
}

/* A message of len payload bytes: its size, header included. */
static size_t
msg_size(size_t len)
{
	return ALIGN8(sizeof(struct qmsg) + len);
}

/* The bytes a message of len takes alone: a malloc, its word and
 * rounding. */
static size_t
alone_cost(size_t len)
{
	return msg_size(len) + 16;
}

uint64_t
queue_packed_cost(size_t len)
{
	return (msg_size(len) > BLOCK_BIG ? alone_cost(len) : msg_size(len)) +
	    sizeof(struct qmsg *);
}

uint64_t
queue_cost(size_t len)
{
	return (msg_size(len) > BLOCK_BIG ? alone_cost(len) : BLOCK_SIZE) +
	    sizeof(struct queue_page);
}

/* Frees the cache's blocks: at exit, so that a leak check sees none,
 * and when the heap is trimmed. */
static void
cache_drop(void)
{
	while (cache != NULL) {
		struct qblock *b = cache;

		cache = (struct qblock *)b->b_queue;
		free(b);
	}
	cache_len = 0;
}

/*
 * Only past half the peak: a slow drain of a large backlog trims a few
 * times, not at every tick, as each trim walks the heap's free chunks.
 * A smaller backlog, down to an eighth of what it let go: once.
 */
static bool
trim_due(uint64_t peak, uint64_t held)
{
	uint64_t fell = peak - held;

	if (fell < peak / 2)
		return false;
	return fell >= QUEUE_TRIM_STEP ||
	    (fell >= QUEUE_TRIM_DRAINED && held <= fell / 8);
}

bool
queue_trim(void)
{
	if (!trim_due(held_peak, held_memory))
		return false;
	cache_drop();
	/* Free pages inside the heap go too, not only at its top. */
	malloc_trim(0);
	held_peak = held_memory;
	return true;
}

/* A block for q to append to, empty; NULL: ENOMEM. */
static struct qblock *
block_take(struct queue *q)
{
	struct qblock *b = cache;

	if (b != NULL) {
		cache = (struct qblock *)b->b_queue;
		cache_len--;
	} else if ((b = malloc(BLOCK_SIZE)) == NULL)
		return NULL;
	else if (!caching && atexit(cache_drop) == 0)
		caching = true;
	b->b_queue = q;
	b->b_live = b->b_used = 0;
	ASAN_POISON_MEMORY_REGION(b->b_data, BLOCK_DATA);
	held_add(BLOCK_SIZE);
	return b;
}

static void
block_give(struct qblock *b)
{
	held_memory -= BLOCK_SIZE;
	if (b->b_queue != NULL && b->b_queue->q_block == b)
		b->b_queue->q_block = NULL;
	if (!caching || cache_len >= CACHE_BLOCKS) {
		free(b);
		return;
	}
	b->b_queue = (struct queue *)cache;
	cache = b;
	cache_len++;
}

static struct qmsg *
msg_alloc(struct queue *q, size_t len)
{
	size_t size = msg_size(len);
	struct qblock *b = q->q_block;
	struct qmsg *m;

	if (size > BLOCK_BIG) {
		if ((m = malloc(size)) == NULL)
			return NULL;
		held_add(alone_cost(len));
		memset(m, 0, sizeof(*m));
		return m;
	}
	if (b != NULL && b->b_used + size > BLOCK_DATA) {
		/* Full: it goes with its last message. */
		b->b_queue = NULL;
		b = q->q_block = NULL;
	}
	if (b == NULL && (b = q->q_block = block_take(q)) == NULL)
		return NULL;
	m = (struct qmsg *)(b->b_data + b->b_used);
	ASAN_UNPOISON_MEMORY_REGION(m, size);
	b->b_used += (uint32_t)size;
	b->b_live++;
	memset(m, 0, sizeof(*m));
	m->m_block = b;
	return m;
}

static void
msg_free(struct qmsg *m)
{
	struct qblock *b = m->m_block;

	if (b == NULL) {
		held_memory -= alone_cost(m->m_len);
		free(m);
		return;
	}
	ASAN_POISON_MEMORY_REGION(m, msg_size(m->m_len));
	if (--b->b_live == 0)
		block_give(b);
}

int
queue_init(struct queue *q)
{
	memset(q, 0, sizeof(*q));
	q->q_base = q->q_next = q->q_cursor = 1;
	TAILQ_INIT(&q->q_redeliver);
	TAILQ_INIT(&q->q_inflight);
	return 0;
}

/* The page holding seq, or NULL when there is none. */
static struct queue_page *
page_of(const struct queue *q, uint64_t seq)
{
	uint64_t pn = PAGE(seq);

	if (pn < q->q_dir_first || pn - q->q_dir_first >= q->q_dir_len)
		return NULL;
	return q->q_dir[pn - q->q_dir_first];
}

static struct qmsg *
slot_get(const struct queue *q, uint64_t seq)
{
	struct queue_page *p = page_of(q, seq);

	return p != NULL ? p->p_slot[SLOT(seq)] : NULL;
}

uint64_t
queue_append_cost(const struct queue *q, uint64_t seq, size_t len)
{
	const struct qblock *b = q->q_block;
	uint64_t cost = page_of(q, seq) == NULL ?
	    sizeof(struct queue_page) : 0;

	if (msg_size(len) > BLOCK_BIG)
		cost += alone_cost(len);
	else if (b == NULL || b->b_used + msg_size(len) > BLOCK_DATA)
		cost += BLOCK_SIZE;
	return cost;
}

/*
 * The page for seq, made if need be. Pages are only ever made for
 * numbers above every held one (appends), so the directory grows at its
 * end. NULL: ENOMEM.
 */
static struct queue_page *
page_make(struct queue *q, uint64_t seq)
{
	uint64_t pn = PAGE(seq);
	size_t idx;

	if (q->q_dir_len == 0)
		q->q_dir_first = pn;
	idx = (size_t)(pn - q->q_dir_first);
	if (idx >= q->q_dir_cap) {
		size_t cap = q->q_dir_cap ? q->q_dir_cap * 2 : 16;
		struct queue_page **dir;

		while (cap <= idx)
			cap *= 2;
		if ((dir = reallocarray(q->q_dir, cap, sizeof(*dir))) == NULL)
			return NULL;
		memset(dir + q->q_dir_cap, 0, (cap - q->q_dir_cap) *
		    sizeof(*dir));
		q->q_dir = dir;
		q->q_dir_cap = cap;
	}
	if (idx >= q->q_dir_len)
		q->q_dir_len = idx + 1;
	if (q->q_dir[idx] == NULL) {
		if ((q->q_dir[idx] = calloc(1, sizeof(**q->q_dir))) == NULL)
			return NULL;
		q->q_pages++;
		held_add(sizeof(**q->q_dir));
	}
	return q->q_dir[idx];
}

/* Drops the directory's empty entries at both ends. */
static void
dir_trim(struct queue *q)
{
	size_t lead = 0;

	while (q->q_dir_len > 0 && q->q_dir[q->q_dir_len - 1] == NULL)
		q->q_dir_len--;
	while (lead < q->q_dir_len && q->q_dir[lead] == NULL)
		lead++;
	if (lead == 0)
		return;
	memmove(q->q_dir, q->q_dir + lead, (q->q_dir_len - lead) *
	    sizeof(*q->q_dir));
	memset(q->q_dir + q->q_dir_len - lead, 0, lead * sizeof(*q->q_dir));
	q->q_dir_len -= lead;
	q->q_dir_first += lead;
}

/* Empties seq's slot; its page goes with its last message. */
static void
slot_clear(struct queue *q, uint64_t seq)
{
	struct queue_page *p = page_of(q, seq);

	p->p_slot[SLOT(seq)] = NULL;
	if (--p->p_live > 0)
		return;
	q->q_dir[PAGE(seq) - q->q_dir_first] = NULL;
	free(p);
	q->q_pages--;
	held_memory -= sizeof(*p);
	dir_trim(q);
}

/* The first number from seq (below end) that holds a message, or end;
 * a missing page is skipped whole. */
static uint64_t
skip_empty(const struct queue *q, uint64_t seq, uint64_t end)
{
	while (seq < end) {
		struct queue_page *p = page_of(q, seq);

		if (p == NULL)
			seq = (PAGE(seq) + 1) << QUEUE_PAGE_BITS;
		else if (p->p_slot[SLOT(seq)] != NULL)
			return seq;
		else
			seq++;
	}
	return end;
}

size_t
queue_clear(struct queue *q)
{
	size_t n = 0;

	for (size_t i = 0; i < q->q_dir_len; i++) {
		struct queue_page *p = q->q_dir[i];

		if (p == NULL)
			continue;
		for (size_t k = 0; k < QUEUE_PAGE; k++)
			if (p->p_slot[k] != NULL) {
				msg_free(p->p_slot[k]);
				n++;
			}
		free(p);
		held_memory -= sizeof(*p);
	}
	free(q->q_dir);
	q->q_dir = NULL;
	q->q_dir_len = q->q_dir_cap = q->q_pages = 0;
	return n;
}

struct qmsg *
queue_append(struct queue *q, const void *data, size_t len)
{
	struct queue_page *p;
	struct qmsg *m;

	if (len > UINT32_MAX) {
		errno = EMSGSIZE;
		return NULL;
	}
	if ((p = page_make(q, q->q_next)) == NULL)
		return NULL;
	if ((m = msg_alloc(q, len)) == NULL) {
		if (p->p_live == 0) {
			/* Made for this message: do not keep it empty. */
			p->p_live = 1;
			slot_clear(q, q->q_next);
		}
		return NULL;
	}
	m->m_seq = q->q_next++;
	m->m_len = (uint32_t)len;
	m->m_state = QM_PENDING;
	memcpy(m->m_data, data, len);
	p->p_slot[SLOT(m->m_seq)] = m;
	p->p_live++;
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
	if (q->q_base == q->q_next)
		/* Nothing held: start afresh at seq. */
		q->q_base = q->q_cursor = seq;
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

size_t
queue_drop_tail(struct queue *q, uint64_t seq)
{
	size_t n = 0;

	if (seq < q->q_cursor)
		seq = q->q_cursor;	/* delivered ones are not a tail */
	for (uint64_t s = skip_empty(q, seq, q->q_next); s < q->q_next;
	    s = skip_empty(q, s + 1, q->q_next)) {
		struct qmsg *m = slot_get(q, s);

		q->q_pending--;
		q->q_bytes -= m->m_len;
		msg_free(m);
		slot_clear(q, s);
		n++;
	}
	if (seq < q->q_next)
		q->q_next = seq;
	return n;
}

struct qmsg *
queue_next(struct queue *q)
{
	struct qmsg *m = TAILQ_FIRST(&q->q_redeliver);

	if (m != NULL) {
		TAILQ_REMOVE(&q->q_redeliver, m, m_entry);
		m->m_redeliver = 0;
	} else {
		/* Released numbers below the cursor are skipped. */
		q->q_cursor = skip_empty(q, q->q_cursor, q->q_next);
		if (q->q_cursor == q->q_next)
			return NULL;
		m = slot_get(q, q->q_cursor++);
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
	m = slot_get(q, seq);
	return m != NULL && m->m_state == QM_INFLIGHT ? m : NULL;
}

uint64_t
queue_each_inflight(struct queue *q, uint64_t first, uint64_t last,
    void (*fn)(struct qmsg *, void *), void *arg)
{
	/* Every number delivered is below the cursor. */
	uint64_t lo = first > q->q_base ? first : q->q_base;
	uint64_t hi = last < q->q_cursor - 1 ? last : q->q_cursor - 1;
	struct qmsg *m, *next;
	uint64_t walked = q->q_ninflight;

	if (lo > hi || q->q_ninflight == 0)
		return 0;
	if (hi - lo < q->q_ninflight) {
		for (uint64_t seq = lo;; seq++) {
			if ((m = queue_inflight(q, seq)) != NULL)
				fn(m, arg);
			if (seq == hi)
				return hi - lo + 1;
		}
	}
	/* fn takes m off the list at most: next stays. */
	for (m = TAILQ_FIRST(&q->q_inflight); m != NULL; m = next) {
		next = TAILQ_NEXT(m, m_entry);
		if (m->m_seq >= lo && m->m_seq <= hi)
			fn(m, arg);
	}
	return walked;
}

struct qmsg *
queue_oldest(struct queue *q)
{
	return TAILQ_FIRST(&q->q_inflight);
}

void
queue_hold(struct queue *q, struct qmsg *m, uint64_t deadline_ms)
{
	/* The list stays in the order of the deadlines. */
	TAILQ_REMOVE(&q->q_inflight, m, m_entry);
	TAILQ_INSERT_TAIL(&q->q_inflight, m, m_entry);
	m->m_holder = NULL;
	m->m_deadline_ms = deadline_ms;
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
queue_unsend(struct queue *q, struct qmsg *m)
{
	queue_requeue(q, m);
	if (m->m_deliveries > 0)
		m->m_deliveries--;
}

void
queue_done(struct queue *q, struct qmsg *m)
{
	uint64_t seq = m->m_seq;

	TAILQ_REMOVE(&q->q_inflight, m, m_entry);
	q->q_ninflight--;
	q->q_bytes -= m->m_len;
	msg_free(m);
	slot_clear(q, seq);
	q->q_base = skip_empty(q, q->q_base, q->q_cursor);
}

struct qmsg *
queue_get(const struct queue *q, uint64_t seq)
{
	return seq >= q->q_base && seq < q->q_next ? slot_get(q, seq) : NULL;
}

struct qmsg *
queue_first(const struct queue *q)
{
	uint64_t seq = skip_empty(q, q->q_base, q->q_next);

	return seq < q->q_next ? slot_get(q, seq) : NULL;
}

void
queue_remove(struct queue *q, struct qmsg *m)
{
	uint64_t seq = m->m_seq;

	if (m->m_state == QM_INFLIGHT) {
		queue_done(q, m);
		return;
	}
	if (m->m_redeliver)
		TAILQ_REMOVE(&q->q_redeliver, m, m_entry);
	q->q_pending--;
	q->q_bytes -= m->m_len;
	msg_free(m);
	slot_clear(q, seq);
	q->q_base = skip_empty(q, q->q_base, q->q_cursor);
}

bool
queue_idle(const struct queue *q)
{
	return q->q_pending == 0 && q->q_ninflight == 0;
}

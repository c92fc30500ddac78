/*
 * One stream's message queue: every message from the OK sent to its
 * producer until an instance acks it (or it goes to the dead letters).
 *
 * Messages are numbered from 1 in arrival order (the sequence number is
 * also the delivery id instances see). A message is pending (waiting for
 * an instance) or in flight (delivered, not acked). Pending messages that
 * were delivered before (instance died, nack, ack timeout) go out before
 * new ones. In-flight messages are kept in delivery order, so the oldest
 * is the first to pass the ack timeout.
 *
 * The queue is in memory; with durability "fsync" or "os" the journal
 * (journal.c) keeps a copy of each message on disk, numbered the same, and
 * rebuilds the queue with queue_restore after a restart.
 */
#ifndef MYSIMBDP_QUEUE_H
#define MYSIMBDP_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

enum qmsg_state { QM_PENDING, QM_INFLIGHT };

struct qblock;

struct qmsg {
	TAILQ_ENTRY(qmsg) m_entry;	/* redeliveries or in flight */
	struct qblock	*m_block;	/* the block holding it, or NULL */
	uint64_t	 m_seq;
	uint64_t	 m_deadline_ms;	/* in flight: ack timeout */
	void		*m_holder;	/* in flight: the instance */
	uint64_t	 m_seg;		/* the journal segment holding it */
	uint32_t	 m_len;
	uint16_t	 m_deliveries;
	uint8_t		 m_state;
	uint8_t		 m_redeliver;	/* pending: in the redelivery list */
	unsigned char	 m_data[];
};

TAILQ_HEAD(qmsg_list, qmsg);

/*
 * The messages by number: pages of QUEUE_PAGE slots, a page made when
 * its first message comes and freed when its last goes, under a
 * directory of one pointer per page. A message held for long (never
 * acked) keeps its page alone, not a table spanning every number since:
 * memory follows the messages held, plus 8 bytes per QUEUE_PAGE numbers
 * between the oldest and the newest.
 */
#define QUEUE_PAGE_BITS 10
#define QUEUE_PAGE (1u << QUEUE_PAGE_BITS)

struct queue_page {
	size_t		 p_live;	/* messages in p_slot */
	struct qmsg	*p_slot[QUEUE_PAGE];
};

struct queue {
	struct queue_page **q_dir;	/* pages from q_dir_first on */
	uint64_t	 q_dir_first;	/* page number of q_dir[0] */
	size_t		 q_dir_len;	/* entries in use (NULL: no page) */
	size_t		 q_dir_cap;
	size_t		 q_pages;	/* pages allocated */
	uint64_t	 q_base;	/* lowest seq not yet released */
	uint64_t	 q_next;	/* seq of the next message */
	uint64_t	 q_cursor;	/* next never-delivered seq */
	struct qmsg_list q_redeliver;
	struct qmsg_list q_inflight;
	size_t		 q_pending;
	size_t		 q_ninflight;
	uint64_t	 q_bytes;	/* payload bytes held */
	struct qblock	*q_block;	/* the block appends go to, or NULL */
};

/*
 * What the queues hold in memory: small messages packed into blocks of
 * 16 KiB, one block open for each queue's appends, a block given back
 * with its last message; a message over 4 KiB alone; and the pages of
 * numbers. queue_memory() counts it for every queue of the process
 * together: stream.max_memory bounds it (docs/configuration.md).
 */
uint64_t queue_memory(void);

/*
 * Once the queues hold half or less of the most they held since the
 * last trim, and QUEUE_TRIM_STEP less or more (a backlog drained), or
 * QUEUE_TRIM_DRAINED less and at most an eighth of that still (a smaller
 * one drained), gives the heap's free memory back to the system, the
 * cache of free blocks with it: freed blocks otherwise stay in
 * streammgr's RSS for good. Returns whether it did. streammgr calls it
 * on its stats timer.
 */
#define QUEUE_TRIM_STEP		(8u << 20)
#define QUEUE_TRIM_DRAINED	(1u << 20)
bool queue_trim(void);

/* What a message of len payload bytes adds to queue_memory() at most:
 * appended to an empty queue, its block (or itself) and a page. */
uint64_t queue_cost(size_t len);

/*
 * What a message of len payload bytes numbered seq adds to q now
 * (queue_append: seq is q->q_next; queue_restore: its own, maybe pages
 * past q_next): nothing while q's open block and seq's page have room.
 */
uint64_t queue_append_cost(const struct queue *q, uint64_t seq, size_t len);

/* What a message of len payload bytes adds among many (its share of a
 * block, or itself alone, and its slot), a block and a page aside. */
uint64_t queue_packed_cost(size_t len);

/* Returns 0, or -1 (ENOMEM). */
int queue_init(struct queue *q);

/* Frees every message. Returns how many were still held. */
size_t queue_clear(struct queue *q);

/* Stores a copy of a message; returns it, or NULL (ENOMEM). */
struct qmsg *queue_append(struct queue *q, const void *data, size_t len);

/*
 * Puts back a message restored from disk, with its own number, which must
 * be above every number the queue has held. NULL: ENOMEM or EINVAL.
 */
struct qmsg *queue_restore(struct queue *q, uint64_t seq, const void *data,
    size_t len);

/* The next message appended gets number seq (not below the current). */
int queue_set_next(struct queue *q, uint64_t seq);

/*
 * Removes the messages numbered from seq on, never delivered (a batch
 * the disk refused); their numbers are given out again. Returns how
 * many it removed.
 */
size_t queue_drop_tail(struct queue *q, uint64_t seq);

/* Takes the next message to deliver off the pending set; NULL if none. */
struct qmsg *queue_next(struct queue *q);

/* Marks m (from queue_next) in flight to holder until deadline_ms. */
void queue_deliver(struct queue *q, struct qmsg *m, void *holder,
    uint64_t deadline_ms);

/* The in-flight message with this sequence number, or NULL. */
struct qmsg *queue_inflight(struct queue *q, uint64_t seq);

/*
 * Calls fn(m, arg) on each in-flight message m numbered first to last.
 * The range is cut to the numbers that can be in flight (delivered, not
 * released), and when it still spans more than the messages in flight
 * those are walked instead: the cost is never more than either, however
 * wide the range. fn may settle or requeue its message, no other.
 * Returns the cost: numbers looked up, or messages walked.
 */
uint64_t queue_each_inflight(struct queue *q, uint64_t first, uint64_t last,
    void (*fn)(struct qmsg *, void *), void *arg);

/* The oldest in-flight message, or NULL. */
struct qmsg *queue_oldest(struct queue *q);

/* Nothing waits and nothing is in flight. */
bool queue_idle(const struct queue *q);

/* Keeps in-flight m in flight, held by none, until deadline_ms (the
 * latest of all): it is not sent again before. */
void queue_hold(struct queue *q, struct qmsg *m, uint64_t deadline_ms);

/* Puts an in-flight message back, to go out before new ones. */
void queue_requeue(struct queue *q, struct qmsg *m);

/* queue_requeue() of a message whose send failed: that delivery never
 * reached an instance, so it does not count towards max_deliveries. */
void queue_unsend(struct queue *q, struct qmsg *m);

/* Releases an in-flight message for good (acked, dead-lettered). */
void queue_done(struct queue *q, struct qmsg *m);

/* Message seq if the queue holds it (pending or in flight), or NULL. */
struct qmsg *queue_get(const struct queue *q, uint64_t seq);

/* The held message with the lowest number, or NULL. */
struct qmsg *queue_first(const struct queue *q);

/* Releases a held message for good, pending or in flight. */
void queue_remove(struct queue *q, struct qmsg *m);

#endif

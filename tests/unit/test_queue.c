/*
 * Unit tests for manager/streammgr/queue.c: arrival order, redeliveries before new
 * messages, acks in any order releasing memory, growth past the first
 * page, memory that follows the messages held (not the distance from a
 * stuck one to the newest), a tail dropped, lookups of ids that are not
 * in flight, ranges of ids settled at the cost of what is in flight,
 * messages that keep their bytes while released ones are recycled, and
 * the memory of every queue counted as it is held (blocks, messages
 * alone, pages), known before each append.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "queue.h"

static struct qmsg *
put(struct queue *q, const char *text)
{
	struct qmsg *m = queue_append(q, text, strlen(text));

	assert_non_null(m);
	return m;
}

static struct qmsg *
take(struct queue *q, void *holder)
{
	struct qmsg *m = queue_next(q);

	assert_non_null(m);
	queue_deliver(q, m, holder, 1000);
	return m;
}

static void
test_fifo_and_ack(void **state)
{
	struct queue q;
	int inst;

	(void)state;
	assert_int_equal(queue_init(&q), 0);
	put(&q, "a");
	put(&q, "bb");
	put(&q, "ccc");
	assert_int_equal(q.q_pending, 3);
	assert_int_equal(q.q_bytes, 6);
	struct qmsg *a = take(&q, &inst), *b = take(&q, &inst);
	assert_int_equal(a->m_seq, 1);
	assert_int_equal(b->m_seq, 2);
	assert_memory_equal(b->m_data, "bb", 2);
	assert_int_equal(q.q_ninflight, 2);
	assert_ptr_equal(queue_inflight(&q, 2), b);
	queue_done(&q, b);		/* out of order */
	assert_null(queue_inflight(&q, 2));
	assert_int_equal(q.q_base, 1);	/* 1 still held */
	queue_done(&q, a);
	assert_int_equal(q.q_base, 3);
	assert_int_equal(q.q_bytes, 3);
	assert_int_equal(take(&q, &inst)->m_seq, 3);
	assert_null(queue_next(&q));
	assert_int_equal(queue_clear(&q), 1);
}

static void
test_redelivery_first(void **state)
{
	struct queue q;
	int one, two;

	(void)state;
	assert_int_equal(queue_init(&q), 0);
	for (int i = 0; i < 5; i++)
		put(&q, "m");
	struct qmsg *m1 = take(&q, &one), *m2 = take(&q, &two);
	assert_ptr_equal(queue_oldest(&q), m1);
	queue_requeue(&q, m2);
	queue_requeue(&q, m1);
	assert_int_equal(q.q_pending, 5);
	assert_int_equal(q.q_ninflight, 0);
	/* Given back in the order they came back, before seq 3. */
	assert_int_equal(take(&q, &one)->m_seq, 2);
	assert_int_equal(take(&q, &one)->m_seq, 1);
	assert_int_equal(m1->m_deliveries, 2);
	assert_int_equal(take(&q, &one)->m_seq, 3);
	assert_null(queue_inflight(&q, 99));
	assert_null(queue_inflight(&q, 0));
	assert_int_equal(queue_clear(&q), 5);
}

/* A send that failed gives the message back without counting it. */
static void
test_unsent_not_counted(void **state)
{
	struct queue q;
	struct qmsg *m;
	int inst;

	(void)state;
	assert_int_equal(queue_init(&q), 0);
	put(&q, "m");
	m = take(&q, &inst);
	queue_requeue(&q, m);
	assert_ptr_equal(take(&q, &inst), m);
	assert_int_equal(m->m_deliveries, 2);
	queue_unsend(&q, m);
	assert_int_equal(m->m_deliveries, 1);
	assert_int_equal(q.q_pending, 1);
	assert_int_equal(q.q_ninflight, 0);
	assert_null(queue_inflight(&q, m->m_seq));
	assert_ptr_equal(take(&q, &inst), m);
	assert_int_equal(m->m_deliveries, 2);
	assert_int_equal(queue_clear(&q), 1);
}

static void
test_growth(void **state)
{
	struct queue q;
	char buf[32];
	int inst;

	(void)state;
	assert_int_equal(queue_init(&q), 0);
	/* Hold the first message so the table must grow behind it. */
	put(&q, "first");
	struct qmsg *first = take(&q, &inst);
	for (int i = 0; i < 5000; i++) {
		snprintf(buf, sizeof(buf), "%d", i);
		put(&q, buf);
	}
	for (int i = 0; i < 5000; i++) {
		struct qmsg *m = take(&q, &inst);

		snprintf(buf, sizeof(buf), "%d", i);
		assert_int_equal(m->m_len, strlen(buf));
		assert_memory_equal(m->m_data, buf, m->m_len);
		queue_done(&q, m);
	}
	assert_int_equal(q.q_base, 1);
	assert_ptr_equal(queue_inflight(&q, 1), first);
	/* 5,000 released behind the stuck one: only its page is left. */
	assert_int_equal(q.q_pages, 1);
	assert_int_equal(q.q_dir_len, 1);
	queue_done(&q, first);
	assert_int_equal(q.q_pages, 0);
	assert_int_equal(q.q_base, q.q_next);
	assert_int_equal(q.q_bytes, 0);
	assert_int_equal(queue_clear(&q), 0);
}

/*
 * One message never acked while a million pass: memory stays that of
 * the messages held (a few pages), and the directory one pointer per
 * page of distance.
 */
static void
test_stuck_message(void **state)
{
	const int n = 1000000;
	struct qmsg *stuck, *m;
	struct queue q;
	int inst;

	(void)state;
	assert_int_equal(queue_init(&q), 0);
	put(&q, "stuck");
	stuck = take(&q, &inst);
	for (int i = 0; i < n; i++) {
		put(&q, "x");
		queue_done(&q, take(&q, &inst));
		assert_true(q.q_pages <= 2);
	}
	assert_int_equal(q.q_base, 1);
	assert_int_equal(q.q_pages, 1);
	assert_true(q.q_dir_cap <= 2 * (n / QUEUE_PAGE + 2));
	/* Held ones far apart each keep a page; a tail is dropped whole. */
	m = put(&q, "held");
	for (unsigned i = 0; i < 3 * QUEUE_PAGE; i++)
		put(&q, "tail");
	assert_int_equal(q.q_pages, 5);
	queue_drop_tail(&q, m->m_seq + 1);
	assert_int_equal(q.q_pages, 2);
	assert_int_equal(q.q_pending, 1);
	assert_ptr_equal(queue_next(&q), m);
	queue_deliver(&q, m, &inst, 1000);
	queue_done(&q, m);
	queue_done(&q, stuck);
	assert_int_equal(q.q_pages, 0);
	assert_int_equal(q.q_base, q.q_next);
	assert_int_equal(queue_clear(&q), 0);
}

/* A subscription's copies: looked up by number, the lowest held found,
 * and removed whether waiting, to be redelivered or in flight. */
static void
test_get_first_remove(void **state)
{
	struct queue q;
	struct qmsg *a, *b, *c, *d;
	int inst;

	(void)state;
	assert_int_equal(queue_init(&q), 0);
	assert_null(queue_first(&q));
	a = queue_restore(&q, 10, "a", 1);
	b = queue_restore(&q, 11, "bb", 2);
	c = queue_restore(&q, 12, "ccc", 3);
	d = queue_restore(&q, 14, "dddd", 4);	/* 13 went to another */
	assert_non_null(d);
	assert_ptr_equal(queue_get(&q, 11), b);
	assert_null(queue_get(&q, 13));
	assert_null(queue_get(&q, 9));
	assert_ptr_equal(queue_first(&q), a);
	assert_ptr_equal(take(&q, &inst), a);
	assert_ptr_equal(take(&q, &inst), b);
	queue_requeue(&q, b);			/* to be redelivered */
	queue_remove(&q, a);			/* in flight */
	queue_remove(&q, b);			/* in the redelivery list */
	queue_remove(&q, d);			/* never delivered */
	assert_int_equal(q.q_pending, 1);
	assert_int_equal(q.q_ninflight, 0);
	assert_int_equal(q.q_bytes, 3);
	assert_ptr_equal(queue_first(&q), c);
	assert_ptr_equal(queue_next(&q), c);
	assert_null(queue_next(&q));
	queue_deliver(&q, c, &inst, 1000);
	queue_remove(&q, c);
	assert_null(queue_first(&q));
	assert_true(queue_idle(&q));
	assert_int_equal(q.q_pages, 0);
	assert_int_equal(queue_clear(&q), 0);
}

/* queue_each_inflight's fn: acks m. */
static void
ack_one(struct qmsg *m, void *arg)
{
	struct queue *q = arg;

	queue_done(q, m);
}

/*
 * A range settles what is in flight in it and nothing else (pending ones,
 * never delivered ones), at a cost bounded by the messages in flight or
 * the numbers delivered, however wide the range.
 */
static void
test_each_inflight(void **state)
{
	struct queue q;
	struct qmsg *m[8];
	int inst;
	uint64_t cost;

	(void)state;
	assert_int_equal(queue_init(&q), 0);
	for (int k = 0; k < 8; k++)
		m[k] = put(&q, "x");		/* 1..8 */
	for (int k = 0; k < 5; k++)
		take(&q, &inst);		/* 1..5 in flight */
	queue_requeue(&q, m[2]);		/* 3 pending again */

	/* Nothing delivered from 6 on: no lookup, nothing freed. */
	assert_int_equal(queue_each_inflight(&q, 6, UINT64_MAX, ack_one, &q),
	    0);
	assert_int_equal(queue_each_inflight(&q, 100, 165635, ack_one, &q),
	    0);
	assert_int_equal(q.q_pending, 4);
	assert_int_equal(q.q_ninflight, 4);

	/* A narrow range is looked up number by number. */
	assert_int_equal(queue_each_inflight(&q, 2, 3, ack_one, &q), 2);
	assert_int_equal(q.q_ninflight, 3);
	assert_null(queue_get(&q, 2));
	assert_ptr_equal(queue_get(&q, 3), m[2]);	/* pending: kept */

	/* A wide one walks the 3 in flight (1, 4, 5), not 65536 numbers. */
	cost = queue_each_inflight(&q, 1, 65536, ack_one, &q);
	assert_int_equal(cost, 3);
	assert_int_equal(q.q_ninflight, 0);
	assert_int_equal(q.q_pending, 4);		/* 3, 6, 7, 8 */
	assert_null(queue_get(&q, 1));
	assert_null(queue_get(&q, 5));
	assert_ptr_equal(queue_get(&q, 6), m[5]);
	assert_int_equal(queue_clear(&q), 4);
}

/*
 * Messages released and appended in runs, of every size class of the
 * queue's cache of freed messages and beyond it: each held message keeps
 * its own bytes (a cached chunk handed out twice, or one too small for
 * its message, would overwrite another's; under ASan a cached chunk is
 * poisoned until it is handed out again).
 */
static unsigned char
byte_of(uint64_t seq, size_t i)
{
	return (unsigned char)(seq * 131 + i * 7);
}

static void
test_recycled_messages_keep_their_bytes(void **state)
{
	struct queue q;
	unsigned char buf[1200];
	struct qmsg *m;
	size_t held = 0;

	(void)state;
	assert_int_equal(queue_init(&q), 0);
	for (int round = 0; round < 40; round++) {
		/* A run in: sizes 0 to 1,199 bytes. */
		for (int k = 0; k < 300; k++) {
			size_t len = (size_t)(round * 300 + k) * 37 % sizeof(buf);

			for (size_t i = 0; i < len; i++)
				buf[i] = byte_of(q.q_next, i);
			assert_non_null(queue_append(&q, buf, len));
			held++;
		}
		/* A run out: two of every three, acked. */
		for (int k = 0; k < 300 && (m = queue_next(&q)) != NULL;
		    k++) {
			queue_deliver(&q, m, &q, 1000);
			if (k % 3 != 2) {
				queue_done(&q, m);
				held--;
			}
		}
		for (uint64_t seq = q.q_base; seq < q.q_next; seq++) {
			if ((m = queue_get(&q, seq)) == NULL)
				continue;
			for (size_t i = 0; i < m->m_len; i++)
				if (m->m_data[i] != byte_of(seq, i))
					fail_msg("message %llu: byte %zu changed",
					    (unsigned long long)seq, i);
		}
	}
	assert_int_equal(queue_clear(&q), held);
}

/*
 * queue_memory() is what every queue holds: a block of small messages
 * open for each queue's appends, a message over a block's share alone,
 * a page of numbers; queue_append_cost() says beforehand what each
 * append adds (blocks filling up and opening, pages made), and the
 * memory is back to nothing once the messages are gone, whichever way
 * they go: acked, removed while pending, dropped with a tail, cleared.
 */
static void
test_memory_follows_messages(void **state)
{
	static unsigned char buf[8192];
	struct queue q[2];
	struct qmsg *m;
	uint64_t base = queue_memory(), before, want;

	(void)state;
	assert_int_equal(queue_init(&q[0]), 0);
	assert_int_equal(queue_init(&q[1]), 0);
	assert_int_equal(queue_append_cost(&q[0], q[0].q_next, 3), queue_cost(3));
	for (size_t k = 0; k < 3000; k++) {
		/* Mostly small, one in 50 past 4 KiB. */
		size_t len = k % 50 == 49 ? 4100 + k : 1 + k * 7 % 300;
		struct queue *on = &q[k % 7 == 0];

		before = queue_memory();
		want = queue_append_cost(on, on->q_next, len);
		assert_non_null(queue_append(on, buf, len));
		assert_int_equal(queue_memory() - before, want);
		assert_true(want <= queue_cost(len));
	}
	/* Acked out of order, removed while pending, a tail dropped. */
	while ((m = queue_next(&q[0])) != NULL) {
		queue_deliver(&q[0], m, &q[0], 1000);
		if (m->m_seq % 3 == 0)
			queue_done(&q[0], m);
	}
	while ((m = queue_first(&q[0])) != NULL)
		queue_remove(&q[0], m);
	assert_int_equal(queue_drop_tail(&q[1], 100), q[1].q_next - 100);
	assert_int_equal(queue_clear(&q[1]), 99);
	assert_int_equal(queue_memory(), base);
	assert_int_equal(queue_clear(&q[0]), 0);
}

/*
 * A message held while the ones around it are acked keeps its block and
 * page, no more: the memory does not follow the distance to the newest.
 */
static void
test_held_message_keeps_its_block(void **state)
{
	struct queue q;
	struct qmsg *m;
	uint64_t base = queue_memory();

	(void)state;
	assert_int_equal(queue_init(&q), 0);
	for (size_t k = 0; k < 1000; k++)
		put(&q, "a message of some forty bytes, say so.");
	assert_true(queue_memory() - base > 2 * queue_cost(40));
	while ((m = queue_next(&q)) != NULL) {
		queue_deliver(&q, m, &q, 1000);
		if (m->m_seq != 500)
			queue_done(&q, m);
	}
	assert_int_equal(queue_memory() - base, queue_cost(40));
	assert_int_equal(queue_clear(&q), 1);
	assert_int_equal(queue_memory(), base);
}

/*
 * A subscription's copy takes the stream's number (queue_restore), which
 * may be pages past the copy's own next one (its copies behind a
 * requeue to another member, a restart, numbers skipped): what the
 * admission counts beforehand is what the copy then adds, its page
 * included.
 */
static void
test_copy_cost_at_its_number(void **state)
{
	struct queue q;
	uint64_t before, want;

	(void)state;
	assert_int_equal(queue_init(&q), 0);
	put(&q, "held");			/* page 0 stays */
	before = queue_memory();
	want = queue_append_cost(&q, 3 * QUEUE_PAGE + 5, 4);
	assert_non_null(queue_restore(&q, 3 * QUEUE_PAGE + 5, "copy", 4));
	assert_int_equal(queue_memory() - before, want);
	assert_int_equal(queue_clear(&q), 2);
}

/* Acks q's oldest messages until the queues hold at most target more
 * than base. */
static void
drain_to(struct queue *q, uint64_t base, uint64_t target)
{
	struct qmsg *m;

	while (queue_memory() - base > target) {
		assert_non_null(m = queue_next(q));
		queue_deliver(q, m, q, 1000);
		queue_done(q, m);
	}
}

/*
 * queue_trim gives memory back once the queues hold half or less of
 * their most since the last trim, and QUEUE_TRIM_STEP less or more: not
 * while a backlog is only a little smaller, not twice for one drain.
 */
static void
test_trim_after_a_drain(void **state)
{
	static unsigned char buf[1000];
	struct queue q;
	uint64_t base;

	(void)state;
	(void)queue_trim();	/* from an earlier test's drain */
	base = queue_memory();
	assert_int_equal(queue_init(&q), 0);
	while (queue_memory() - base < 3 * (uint64_t)QUEUE_TRIM_STEP)
		assert_non_null(queue_append(&q, buf, sizeof(buf)));
	assert_false(queue_trim());		/* nothing let go */
	/* A third acked: a step less, but more than half still held. */
	drain_to(&q, base, 2 * (uint64_t)QUEUE_TRIM_STEP);
	assert_false(queue_trim());
	/* Down to a sixth: half and a step gone. */
	drain_to(&q, base, QUEUE_TRIM_STEP / 2);
	assert_true(queue_trim());
	assert_false(queue_trim());		/* the most is now */
	/* The rest, half a step, all gone: a smaller drain's trim. */
	assert_true(queue_clear(&q) > 0);
	assert_true(queue_trim());
	assert_int_equal(queue_memory(), base);
}

/*
 * A backlog under QUEUE_TRIM_STEP gives its memory back too, once it has
 * drained to an eighth of what it let go (QUEUE_TRIM_DRAINED at least),
 * not while a quarter of it is still there: a small burst left up to
 * 5 MB in streammgr's RSS for good.
 */
static void
test_trim_after_a_small_drain(void **state)
{
	static unsigned char buf[1000];
	struct queue q;
	uint64_t base;

	(void)state;
	(void)queue_trim();
	base = queue_memory();
	assert_int_equal(queue_init(&q), 0);
	while (queue_memory() - base < 2 * (uint64_t)QUEUE_TRIM_DRAINED)
		assert_non_null(queue_append(&q, buf, sizeof(buf)));
	drain_to(&q, base, QUEUE_TRIM_DRAINED / 2);
	assert_false(queue_trim());		/* a quarter still held */
	drain_to(&q, base, QUEUE_TRIM_DRAINED / 8);
	assert_true(queue_trim());
	assert_false(queue_trim());		/* once */
	assert_true(queue_clear(&q) > 0);
	assert_false(queue_trim());		/* under QUEUE_TRIM_DRAINED */
	assert_int_equal(queue_memory(), base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_and_ack),
		cmocka_unit_test(test_redelivery_first),
		cmocka_unit_test(test_unsent_not_counted),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_stuck_message),
		cmocka_unit_test(test_get_first_remove),
		cmocka_unit_test(test_each_inflight),
		cmocka_unit_test(test_recycled_messages_keep_their_bytes),
		cmocka_unit_test(test_memory_follows_messages),
		cmocka_unit_test(test_held_message_keeps_its_block),
		cmocka_unit_test(test_copy_cost_at_its_number),
		cmocka_unit_test(test_trim_after_a_drain),
		cmocka_unit_test(test_trim_after_a_small_drain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

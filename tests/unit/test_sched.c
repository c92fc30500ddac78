/*
 * Unit tests for manager/batchmgr/sched.c: round-robin between tenant queues, the
 * global worker cap, per-queue max_running, weights, and that a flood from
 * one tenant never starves another.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sched.h"

#define MAX_ITEMS 256

struct job {
	struct sched_item j_item;	/* first, so a sched_item is a job */
	char		 j_queue;	/* 'A', 'B', ... */
	int		 j_seq;		/* position in its queue */
};

/* A queue with its own items, named by a letter. */
struct tq {
	struct sched_queue q;
	struct job	 jobs[MAX_ITEMS];
	int		 pushed;
	char		 name;
};

static void
tq_add(struct sched *s, struct tq *t, char name, int max_running, int weight)
{
	memset(t, 0, sizeof(*t));
	t->name = name;
	sched_add_queue(s, &t->q, max_running, weight);
}

static void
tq_push(struct tq *t, int n)
{
	for (int i = 0; i < n; i++) {
		struct job *j = &t->jobs[t->pushed];

		assert_true(t->pushed < MAX_ITEMS);
		j->j_queue = t->name;
		j->j_seq = t->pushed++;
		sched_push(&t->q, &j->j_item);
	}
}

/* Picks one item and checks which queue it came from; returns the job. */
static struct job *
pick(struct sched *s, struct tq *want_from)
{
	struct sched_queue *from = NULL;
	struct sched_item *it = sched_next(s, &from);
	struct job *j;

	if (it == NULL)
		fail_msg("sched_next returned NULL, want an item from %c",
		    want_from->name);
	j = (struct job *)it;
	if (from != &want_from->q || j->j_queue != want_from->name)
		fail_msg("picked %c%d, want an item from %c", j->j_queue,
		    j->j_seq, want_from->name);
	return j;
}

static void
pick_none(struct sched *s)
{
	struct sched_queue *from = NULL;
	struct sched_item *it = sched_next(s, &from);

	if (it != NULL)
		fail_msg("picked %c%d, want nothing", ((struct job *)it)->j_queue,
		    ((struct job *)it)->j_seq);
}

/*
 * Picks n items (without finishing any) and returns their queue letters,
 * e.g. "AAAB", in out.
 */
static void
pick_pattern(struct sched *s, int n, char *out)
{
	for (int i = 0; i < n; i++) {
		struct sched_queue *from = NULL;
		struct sched_item *it = sched_next(s, &from);

		assert_non_null(it);
		out[i] = ((struct job *)it)->j_queue;
	}
	out[n] = '\0';
}

static void
empty_scheduler_picks_nothing(void **state)
{
	struct sched s;
	struct tq a;

	sched_init(&s, 4);
	pick_none(&s);
	tq_add(&s, &a, 'A', 2, 1);
	pick_none(&s);
	assert_int_equal(s.s_running, 0);
	assert_int_equal(a.q.sq_running, 0);
}

static void
items_of_one_queue_run_in_fifo_order(void **state)
{
	struct sched s;
	struct tq a;

	sched_init(&s, 10);
	tq_add(&s, &a, 'A', 10, 1);
	tq_push(&a, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(pick(&s, &a)->j_seq, i);
	pick_none(&s);
	assert_int_equal(a.q.sq_len, 0);
	assert_int_equal(a.q.sq_running, 5);
	assert_int_equal(s.s_running, 5);
}

static void
round_robin_alternates_between_two_queues(void **state)
{
	struct sched s;
	struct tq a, b;
	char got[16];

	sched_init(&s, 100);
	tq_add(&s, &a, 'A', 100, 1);
	tq_add(&s, &b, 'B', 100, 1);
	tq_push(&a, 5);
	tq_push(&b, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(pick(&s, &a)->j_seq, i);
		assert_int_equal(pick(&s, &b)->j_seq, i);
	}
	pick_none(&s);

	/* When one queue runs dry the other gets every pick. */
	tq_push(&a, 3);
	pick_pattern(&s, 3, got);
	assert_string_equal(got, "AAA");
	pick_none(&s);
}

static void
round_robin_over_three_queues(void **state)
{
	struct sched s;
	struct tq a, b, c;
	char got[16];

	sched_init(&s, 100);
	tq_add(&s, &a, 'A', 100, 1);
	tq_add(&s, &b, 'B', 100, 1);
	tq_add(&s, &c, 'C', 100, 1);
	tq_push(&a, 3);
	tq_push(&b, 1);
	tq_push(&c, 3);
	pick_pattern(&s, 7, got);
	assert_string_equal(got, "ABCACAC");
}

static void
workers_cap_bounds_items_running_in_total(void **state)
{
	struct sched s;
	struct tq a, b;
	struct job *j;

	sched_init(&s, 2);
	tq_add(&s, &a, 'A', 10, 1);
	tq_add(&s, &b, 'B', 10, 1);
	tq_push(&a, 5);
	tq_push(&b, 5);
	pick(&s, &a);
	pick(&s, &b);
	pick_none(&s);
	assert_int_equal(s.s_running, 2);
	assert_int_equal(a.q.sq_len, 4);
	assert_int_equal(b.q.sq_len, 4);

	sched_finished(&s, &a.q);
	j = pick(&s, &a);
	assert_int_equal(j->j_seq, 1);
	pick_none(&s);
}

static void
max_running_caps_one_queue_while_others_use_the_slots(void **state)
{
	struct sched s;
	struct tq a, b;

	sched_init(&s, 10);
	tq_add(&s, &a, 'A', 1, 1);
	tq_add(&s, &b, 'B', 10, 1);
	tq_push(&a, 5);
	tq_push(&b, 5);
	pick(&s, &a);
	for (int i = 0; i < 5; i++)
		pick(&s, &b);
	/* A is at its cap and B is empty: nothing, though slots are free. */
	pick_none(&s);
	assert_int_equal(a.q.sq_running, 1);
	assert_int_equal(s.s_running, 6);

	sched_finished(&s, &a.q);
	assert_int_equal(pick(&s, &a)->j_seq, 1);
	pick_none(&s);
}

static void
weight_3_gets_three_picks_per_turn(void **state)
{
	struct sched s;
	struct tq a, b;
	char got[32];

	sched_init(&s, 100);
	tq_add(&s, &a, 'A', 100, 3);
	tq_add(&s, &b, 'B', 100, 1);
	tq_push(&a, 12);
	tq_push(&b, 4);
	pick_pattern(&s, 16, got);
	assert_string_equal(got, "AAABAAABAAABAAAB");
}

static void
weight_turn_ends_early_when_queue_empties(void **state)
{
	struct sched s;
	struct tq a, b;
	char got[32];

	sched_init(&s, 100);
	tq_add(&s, &a, 'A', 100, 3);
	tq_add(&s, &b, 'B', 100, 2);
	tq_push(&a, 4);
	tq_push(&b, 6);
	/* A's second turn stops after one item: the rest of the turn is lost. */
	pick_pattern(&s, 10, got);
	assert_string_equal(got, "AAABBABBBB");
}

static void
weight_turn_ends_when_queue_hits_max_running(void **state)
{
	struct sched s;
	struct tq a, b;
	char got[32];

	sched_init(&s, 100);
	tq_add(&s, &a, 'A', 2, 3);
	tq_add(&s, &b, 'B', 100, 1);
	tq_push(&a, 10);
	tq_push(&b, 10);
	pick_pattern(&s, 5, got);
	assert_string_equal(got, "AABBB");
	sched_finished(&s, &a.q);
	sched_finished(&s, &a.q);
	/*
	 * The cursor is back at A, which starts a fresh turn of three that
	 * max_running cuts to two.
	 */
	pick_pattern(&s, 4, got);
	assert_string_equal(got, "AABB");
}

static void
set_limits_changes_weight_and_cap(void **state)
{
	struct sched s;
	struct tq a, b;
	char got[32];

	sched_init(&s, 100);
	tq_add(&s, &a, 'A', 1, 1);
	tq_add(&s, &b, 'B', 100, 1);
	tq_push(&a, 10);
	tq_push(&b, 10);
	sched_set_limits(&a.q, 100, 2);
	assert_int_equal(a.q.sq_max_running, 100);
	assert_int_equal(a.q.sq_weight, 2);
	pick_pattern(&s, 6, got);
	/* The credit of the current turn was 1; later turns get 2. */
	assert_string_equal(got, "ABAABA");

	/* Lowering the weight clamps the credit left in the turn. */
	sched_set_limits(&a.q, 100, 5);
	pick_pattern(&s, 3, got);
	assert_string_equal(got, "ABA");
	assert_int_equal(a.q.sq_credit, 4);	/* A's turn of 5 has begun */
	sched_set_limits(&a.q, 100, 1);
	assert_int_equal(a.q.sq_credit, 1);
	pick_pattern(&s, 3, got);
	assert_string_equal(got, "ABA");	/* without the clamp: AAAA */

	/* Limits below 1 become 1. */
	sched_set_limits(&b.q, 0, -3);
	assert_int_equal(b.q.sq_max_running, 1);
	assert_int_equal(b.q.sq_weight, 1);
}

static void
finished_releases_global_and_queue_slots(void **state)
{
	struct sched s;
	struct tq a, b;

	sched_init(&s, 3);
	tq_add(&s, &a, 'A', 2, 1);
	tq_add(&s, &b, 'B', 2, 1);
	tq_push(&a, 4);
	tq_push(&b, 4);
	pick(&s, &a);
	pick(&s, &b);
	pick(&s, &a);
	assert_int_equal(s.s_running, 3);
	assert_int_equal(a.q.sq_running, 2);
	assert_int_equal(b.q.sq_running, 1);
	pick_none(&s);

	sched_finished(&s, &a.q);
	assert_int_equal(s.s_running, 2);
	assert_int_equal(a.q.sq_running, 1);
	pick(&s, &b);		/* B's turn */
	pick_none(&s);
	sched_finished(&s, &b.q);
	assert_int_equal(b.q.sq_running, 1);
	pick(&s, &a);		/* A's turn, and A has a free slot again */
	pick_none(&s);
	sched_finished(&s, &a.q);
	sched_finished(&s, &a.q);
	assert_int_equal(a.q.sq_running, 0);
	assert_int_equal(s.s_running, 1);
	pick(&s, &b);
	pick(&s, &a);
	pick_none(&s);
	assert_int_equal(s.s_running, 3);
	assert_int_equal(a.q.sq_running, 1);
	assert_int_equal(b.q.sq_running, 2);
}

static void
unlinked_item_is_never_picked(void **state)
{
	struct sched s;
	struct tq a;

	sched_init(&s, 10);
	tq_add(&s, &a, 'A', 10, 1);
	tq_push(&a, 3);
	sched_unlink(&a.q, &a.jobs[1].j_item);
	assert_int_equal(a.q.sq_len, 2);
	assert_int_equal(pick(&s, &a)->j_seq, 0);
	assert_int_equal(pick(&s, &a)->j_seq, 2);
	pick_none(&s);
}

static void
removed_queue_is_skipped_and_keeps_its_items(void **state)
{
	struct sched s;
	struct tq a, b, c;
	char got[16];

	sched_init(&s, 100);
	tq_add(&s, &a, 'A', 100, 1);
	tq_add(&s, &b, 'B', 100, 1);
	tq_add(&s, &c, 'C', 100, 1);
	tq_push(&a, 3);
	tq_push(&b, 3);
	tq_push(&c, 3);
	pick(&s, &a);		/* the cursor moves to B */
	sched_remove_queue(&s, &c.q);
	assert_int_equal(c.q.sq_len, 3);
	assert_ptr_equal(TAILQ_FIRST(&c.q.sq_items), &c.jobs[0].j_item);
	pick_pattern(&s, 5, got);
	assert_string_equal(got, "BABAB");
	pick_none(&s);
}

static void
removing_cursor_queue_passes_turn_to_next(void **state)
{
	struct sched s;
	struct tq a, b, c;
	char got[16];

	sched_init(&s, 100);
	tq_add(&s, &a, 'A', 100, 1);
	tq_add(&s, &b, 'B', 100, 1);
	tq_add(&s, &c, 'C', 100, 1);
	tq_push(&a, 3);
	tq_push(&b, 3);
	tq_push(&c, 3);
	pick(&s, &a);
	assert_ptr_equal(s.s_cursor, &b.q);
	sched_remove_queue(&s, &b.q);
	assert_ptr_equal(s.s_cursor, &c.q);
	pick_pattern(&s, 4, got);
	assert_string_equal(got, "CACA");
}

static void
removing_last_queue_as_cursor_wraps_to_first(void **state)
{
	struct sched s;
	struct tq a, b, c;

	sched_init(&s, 100);
	tq_add(&s, &a, 'A', 100, 1);
	tq_add(&s, &b, 'B', 100, 1);
	tq_add(&s, &c, 'C', 100, 1);
	tq_push(&a, 3);
	tq_push(&b, 3);
	tq_push(&c, 3);
	pick(&s, &a);
	pick(&s, &b);
	assert_ptr_equal(s.s_cursor, &c.q);
	sched_remove_queue(&s, &c.q);
	assert_ptr_equal(s.s_cursor, &a.q);
	pick(&s, &a);
	pick(&s, &b);
}

static void
removing_only_queue_clears_cursor(void **state)
{
	struct sched s;
	struct tq a, b;

	sched_init(&s, 100);
	tq_add(&s, &a, 'A', 100, 1);
	tq_push(&a, 3);
	pick(&s, &a);
	assert_ptr_equal(s.s_cursor, &a.q);
	sched_remove_queue(&s, &a.q);
	assert_null(s.s_cursor);
	assert_true(TAILQ_EMPTY(&s.s_queues));
	pick_none(&s);
	/* The scheduler is usable again with a new queue. */
	tq_add(&s, &b, 'B', 100, 1);
	tq_push(&b, 1);
	pick(&s, &b);
	/* The removed queue's running item can still finish. */
	sched_finished(&s, &a.q);
	assert_int_equal(s.s_running, 1);
}

/*
 * A holds 200 items; B then gets 5. With 2 workers and items finishing in
 * the order they were picked, B must not wait behind A's backlog: all of
 * B's items are picked before A's 100th pick (in fact within a few).
 * Returns how many A items had been picked when B's last one was.
 */
static int
run_flood(int a_max_running, int b_added_late)
{
	struct sched s;
	struct tq a, b;
	struct job *running[4];
	int nrunning = 0, a_picks = 0, b_picks = 0, a_at_last_b = -1;

	sched_init(&s, 2);
	tq_add(&s, &a, 'A', a_max_running, 1);
	if (!b_added_late)
		tq_add(&s, &b, 'B', 2, 1);
	tq_push(&a, 200);
	for (int round = 0; round < 1000; round++) {
		struct sched_queue *from = NULL;
		struct sched_item *it;

		/* B's files arrive once A's flood is already running. */
		if (round == 1) {
			if (b_added_late)
				tq_add(&s, &b, 'B', 2, 1);
			tq_push(&b, 5);
		}
		while ((it = sched_next(&s, &from)) != NULL) {
			struct job *j = (struct job *)it;

			assert_true(nrunning < 2);
			running[nrunning++] = j;
			if (j->j_queue == 'A') {
				assert_ptr_equal(from, &a.q);
				assert_int_equal(j->j_seq, a_picks);
				a_picks++;
			} else {
				assert_ptr_equal(from, &b.q);
				assert_int_equal(j->j_seq, b_picks);
				if (++b_picks == 5)
					a_at_last_b = a_picks;
			}
		}
		if (nrunning == 0)
			break;
		/* The oldest running item finishes first. */
		sched_finished(&s, running[0]->j_queue == 'A' ? &a.q : &b.q);
		memmove(&running[0], &running[1],
		    (size_t)(nrunning - 1) * sizeof(running[0]));
		nrunning--;
	}
	assert_int_equal(a_picks, 200);
	assert_int_equal(b_picks, 5);
	assert_int_equal(s.s_running, 0);
	return a_at_last_b;
}

static void
flood_in_one_queue_does_not_starve_another(void **state)
{
	int a_before;

	a_before = run_flood(2, 0);
	assert_in_range(a_before, 0, 99);
	/* Round-robin: B's five picks interleave with A's, one by one. */
	assert_in_range(a_before, 0, 8);

	a_before = run_flood(1, 0);
	assert_in_range(a_before, 0, 8);
}

static void
flood_does_not_starve_queue_added_later(void **state)
{
	int a_before = run_flood(2, 1);

	assert_in_range(a_before, 0, 99);
	assert_in_range(a_before, 0, 8);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_scheduler_picks_nothing),
		cmocka_unit_test(items_of_one_queue_run_in_fifo_order),
		cmocka_unit_test(round_robin_alternates_between_two_queues),
		cmocka_unit_test(round_robin_over_three_queues),
		cmocka_unit_test(workers_cap_bounds_items_running_in_total),
		cmocka_unit_test(
		    max_running_caps_one_queue_while_others_use_the_slots),
		cmocka_unit_test(weight_3_gets_three_picks_per_turn),
		cmocka_unit_test(weight_turn_ends_early_when_queue_empties),
		cmocka_unit_test(weight_turn_ends_when_queue_hits_max_running),
		cmocka_unit_test(set_limits_changes_weight_and_cap),
		cmocka_unit_test(finished_releases_global_and_queue_slots),
		cmocka_unit_test(unlinked_item_is_never_picked),
		cmocka_unit_test(removed_queue_is_skipped_and_keeps_its_items),
		cmocka_unit_test(removing_cursor_queue_passes_turn_to_next),
		cmocka_unit_test(removing_last_queue_as_cursor_wraps_to_first),
		cmocka_unit_test(removing_only_queue_clears_cursor),
		cmocka_unit_test(flood_in_one_queue_does_not_starve_another),
		cmocka_unit_test(flood_does_not_starve_queue_added_later),
	};

	return cmocka_run_group_tests_name("sched", tests, NULL, NULL);
}

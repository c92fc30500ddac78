/*
 * Unit tests for common/bucket.c, the clock passed in: a full bucket
 * gives a second's worth at once, then the rate; a rate of 0 is no limit;
 * a clock behind the last take adds nothing; takes of any size (room,
 * spend) and the wait until a size is held again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bucket.h"

/* How many of n takes at now_ms succeed. */
static int
takes(struct bucket *b, double rate, uint64_t now_ms, int n)
{
	int ok = 0;

	for (int i = 0; i < n; i++)
		ok += bucket_take(b, rate, now_ms);
	return ok;
}

static void
burst_then_rate(void **state)
{
	struct bucket b = { 0 };

	(void)state;
	assert_int_equal(takes(&b, 100, 5000, 250), 100);
	/* 10 ms is one token at 100/s; half a second fifty. */
	assert_int_equal(takes(&b, 100, 5010, 10), 1);
	assert_int_equal(takes(&b, 100, 5510, 100), 50);
	/* A long pause fills it to one second's worth, no more. */
	assert_int_equal(takes(&b, 100, 60000, 250), 100);
}

static void
no_limit(void **state)
{
	struct bucket b = { 0 };

	(void)state;
	assert_int_equal(takes(&b, 0, 1, 100000), 100000);
}

static void
clock_behind(void **state)
{
	struct bucket b = { 0 };

	(void)state;
	assert_int_equal(takes(&b, 10, 2000, 20), 10);
	assert_int_equal(takes(&b, 10, 1000, 5), 0);
	/* 100 ms after the latest time seen: one token. */
	assert_int_equal(takes(&b, 10, 2100, 5), 1);
}

/* Bytes a second: what is held is taken in pieces; the wait is exact. */
static void
room_spend_wait(void **state)
{
	struct bucket b = { 0 };

	(void)state;
	assert_int_equal(bucket_room(&b, 1000, 5000), 1000);
	bucket_spend(&b, 600);
	assert_int_equal(bucket_room(&b, 1000, 5000), 400);
	assert_int_equal(bucket_wait_ms(&b, 1000, 400), 0);
	assert_int_equal(bucket_wait_ms(&b, 1000, 1000), 600);
	bucket_spend(&b, 400);
	assert_int_equal(bucket_room(&b, 1000, 5000), 0);
	/* More than the capacity is waited for as the capacity. */
	assert_int_equal(bucket_wait_ms(&b, 1000, 65536), 1000);
	/* 1 ms is one token at 1000/s; a part of one rounds up. */
	assert_int_equal(bucket_room(&b, 1000, 5001), 1);
	assert_int_equal(bucket_wait_ms(&b, 300, 2), 4);
	assert_int_equal(bucket_room(&b, 1000, 5600), 600);
	assert_true(bucket_take(&b, 1000, 5600));
	assert_int_equal(bucket_room(&b, 1000, 5600), 599);
}

/* No limit: any size, no wait; a limit set later starts full. */
static void
room_no_limit(void **state)
{
	struct bucket b = { 0 };

	(void)state;
	assert_int_equal(bucket_room(&b, 10, 100000), 10);
	bucket_spend(&b, 10);
	assert_true(bucket_room(&b, 0, 100000) == UINT64_MAX);
	bucket_spend(&b, 1 << 20);
	assert_int_equal(bucket_wait_ms(&b, 0, 1 << 20), 0);
	assert_true(bucket_room(&b, 0, 100001) == UINT64_MAX);
	assert_int_equal(bucket_room(&b, 10, 100002), 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(burst_then_rate),
		cmocka_unit_test(no_limit),
		cmocka_unit_test(clock_behind),
		cmocka_unit_test(room_spend_wait),
		cmocka_unit_test(room_no_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

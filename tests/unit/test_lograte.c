/*
 * Unit tests for common/lograte.c, the clock passed in: the first event
 * is logged, the next ones within the period only counted, and the first
 * after it logged with their count; a clock behind the last line logs
 * nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lograte.h"

#define T0	5000			/* the first event's clock */
#define P	LOGRATE_EVERY_MS

static void
first_logged_then_counted(void **state)
{
	struct lograte lr = { 0 };
	uint64_t unlogged = 99;

	(void)state;
	assert_true(lograte_due(&lr, T0, &unlogged));
	assert_int_equal(unlogged, 0);
	for (int i = 0; i < 1000; i++)
		assert_false(lograte_due(&lr, T0 + (uint64_t)i % P,
		    &unlogged));
	assert_true(lograte_due(&lr, T0 + P, &unlogged));
	assert_int_equal(unlogged, 1000);
	/* The count starts again from the line just logged. */
	assert_false(lograte_due(&lr, T0 + P + 1, &unlogged));
	assert_true(lograte_due(&lr, T0 + 4 * P, &unlogged));
	assert_int_equal(unlogged, 1);
}

static void
clock_behind_is_counted(void **state)
{
	struct lograte lr = { 0 };
	uint64_t unlogged;

	(void)state;
	assert_true(lograte_due(&lr, T0, &unlogged));
	assert_false(lograte_due(&lr, T0 - 1, &unlogged));
	assert_true(lograte_due(&lr, T0 + P, &unlogged));
	assert_int_equal(unlogged, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_logged_then_counted),
		cmocka_unit_test(clock_behind_is_counted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

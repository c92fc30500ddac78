/*
 * Unit tests for common/rulecount.c: counts under rules' names in a table
 * of fixed size, the last slot "other" for every name without a slot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rulecount.h"

static void
test_names_then_other(void **state)
{
	struct rule_count r[3];
	size_t n = 0;

	(void)state;
	assert_int_equal(rule_count_add(r, &n, 3, "a", 2), 0);
	assert_int_equal(rule_count_add(r, &n, 3, "b", 1), 1);
	assert_int_equal(rule_count_add(r, &n, 3, "a", 5), 0);
	/* The last slot is "other", for c and every later name. */
	assert_int_equal(rule_count_add(r, &n, 3, "c", 1), 2);
	assert_int_equal(rule_count_add(r, &n, 3, "d", 4), 2);
	assert_int_equal(rule_count_add(r, &n, 3, "b", 1), 1);
	assert_int_equal(n, 3);
	assert_string_equal(r[0].rc_name, "a");
	assert_int_equal(r[0].rc_n, 7);
	assert_string_equal(r[1].rc_name, "b");
	assert_int_equal(r[1].rc_n, 2);
	assert_string_equal(r[2].rc_name, "other");
	assert_int_equal(r[2].rc_n, 5);
	assert_int_equal(r[2].rc_mark, 0);
}

/* A name "other" counted early is the one the overflow goes to. */
static void
test_other_named_early(void **state)
{
	struct rule_count r[3];
	size_t n = 0;

	(void)state;
	rule_count_add(r, &n, 3, "other", 1);
	rule_count_add(r, &n, 3, "a", 1);
	rule_count_add(r, &n, 3, "b", 1);
	rule_count_add(r, &n, 3, "c", 1);
	assert_int_equal(n, 2);
	assert_string_equal(r[0].rc_name, "other");
	assert_int_equal(r[0].rc_n, 3);
	assert_string_equal(r[1].rc_name, "a");
}

/* One slot: everything is "other". */
static void
test_one_slot(void **state)
{
	struct rule_count r[1];
	size_t n = 0;

	(void)state;
	rule_count_add(r, &n, 1, "a", 1);
	rule_count_add(r, &n, 1, "b", 2);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].rc_name, "other");
	assert_int_equal(r[0].rc_n, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_then_other),
		cmocka_unit_test(test_other_named_early),
		cmocka_unit_test(test_one_slot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for manager/streammgr/streamidx.c: streams by (tenant,
 * name) in a chained table that doubles as it fills.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "streamidx.h"

#define N	1000	/* tenants: the table grows four times */

struct item {
	struct streamidx_entry	 i_idx;
	char			 i_tid[16];
	const char		*i_name;
};

static struct item items[2 * N];

/* Tenants t0000.. with streams "default" and "copy"; all in x. */
static void
fill(struct streamidx *x)
{
	assert_int_equal(streamidx_init(x), 0);
	for (int k = 0; k < 2 * N; k++) {
		struct item *it = &items[k];

		snprintf(it->i_tid, sizeof(it->i_tid), "t%04d", k / 2);
		it->i_name = k % 2 ? "copy" : "default";
		streamidx_add(x, &it->i_idx, it->i_tid, it->i_name, it);
	}
}

static void
test_empty(void **state)
{
	struct streamidx x;

	(void)state;
	assert_int_equal(streamidx_init(&x), 0);
	assert_null(streamidx_find(&x, "t0000", "default"));
	streamidx_free(&x);
}

/* Every item is found under its own key after the table grew. */
static void
test_find_after_growth(void **state)
{
	struct streamidx x;

	(void)state;
	fill(&x);
	assert_int_equal(x.x_n, 2 * N);
	assert_true(x.x_mask + 1 >= 2 * N);
	for (int k = 0; k < 2 * N; k++)
		assert_ptr_equal(streamidx_find(&x, items[k].i_tid,
		    items[k].i_name), &items[k]);
	assert_null(streamidx_find(&x, "t0000", "other"));
	assert_null(streamidx_find(&x, "t9999", "default"));
	streamidx_free(&x);
}

/* The tenant and the name are two parts of the key, not one string. */
static void
test_key_parts(void **state)
{
	struct streamidx x;
	struct streamidx_entry a, b;

	(void)state;
	assert_int_equal(streamidx_init(&x), 0);
	streamidx_add(&x, &a, "a", "bc", &a);
	streamidx_add(&x, &b, "ab", "c", &b);
	assert_ptr_equal(streamidx_find(&x, "a", "bc"), &a);
	assert_ptr_equal(streamidx_find(&x, "ab", "c"), &b);
	assert_null(streamidx_find(&x, "abc", ""));
	assert_null(streamidx_find(&x, "", "abc"));
	streamidx_free(&x);
}

/* Removed items are gone; the others stay, whatever their bucket. */
static void
test_remove(void **state)
{
	struct streamidx x;

	(void)state;
	fill(&x);
	for (int k = 0; k < 2 * N; k += 3)
		streamidx_remove(&x, &items[k].i_idx);
	for (int k = 0; k < 2 * N; k++)
		assert_ptr_equal(streamidx_find(&x, items[k].i_tid,
		    items[k].i_name), k % 3 ? &items[k] : NULL);
	assert_int_equal(x.x_n, 2 * N - (2 * N + 2) / 3);
	/* Served again, as after a reload. */
	streamidx_add(&x, &items[0].i_idx, items[0].i_tid, items[0].i_name,
	    &items[0]);
	assert_ptr_equal(streamidx_find(&x, "t0000", "default"), &items[0]);
	streamidx_free(&x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_find_after_growth),
		cmocka_unit_test(test_key_parts),
		cmocka_unit_test(test_remove),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for manager/streammgr/idtab.c, pointers by 32-bit id: the
 * table is checked against a plain array after every step of a long
 * random run of puts and deletions (random ids collide and make runs of
 * probes, which deletions must keep whole), and with consecutive ids as
 * zrouter.c makes them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>

#include "idtab.h"

#define KEYS	2000

static uint32_t
next_rand(uint64_t *s)
{
	/* xorshift64*: the same run every time. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint32_t)((*s * 2685821657736338717ull) >> 32);
}

static void
count(void *arg)
{
	(void)arg;
}

/* Every id in the table holds its own pointer; every other id none. */
static void
check(const struct idtab *t, uint32_t *ids, const bool *in, size_t n)
{
	size_t live = 0;

	for (size_t k = 0; k < n; k++) {
		void *p = idtab_get(t, ids[k]);

		if (in[k]) {
			assert_ptr_equal(p, &ids[k]);
			live++;
		} else
			assert_null(p);
	}
	assert_int_equal(t->t_n, live);
}

static void
test_random_churn(void **state)
{
	static uint32_t ids[KEYS];
	static bool in[KEYS];
	struct idtab t = { 0 };
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (size_t k = 0; k < KEYS; k++) {
		bool dup;

		do {	/* distinct ids */
			ids[k] = next_rand(&seed);
			dup = false;
			for (size_t j = 0; j < k; j++)
				dup |= ids[j] == ids[k];
		} while (dup);
	}
	for (size_t step = 0; step < 20000; step++) {
		size_t k = next_rand(&seed) % KEYS;

		if (in[k]) {
			assert_ptr_equal(idtab_del(&t, ids[k]), &ids[k]);
			in[k] = false;
		} else {
			assert_int_equal(idtab_put(&t, ids[k], &ids[k]), 0);
			in[k] = true;
		}
		if (step % 97 == 0)
			check(&t, ids, in, KEYS);
	}
	check(&t, ids, in, KEYS);
	assert_null(idtab_del(&t, ids[0] ^ 1u));
	idtab_each(&t, count);
	idtab_free(&t);
	assert_int_equal(t.t_cap, 0);
	assert_null(idtab_get(&t, 1));
}

/* Consecutive ids, every other one gone, then a new run of them. */
static void
test_consecutive(void **state)
{
	static uint32_t ids[KEYS];
	static bool in[KEYS];
	struct idtab t = { 0 };

	(void)state;
	for (size_t k = 0; k < KEYS; k++) {
		ids[k] = (uint32_t)k + 1;
		if (k < KEYS / 2) {
			assert_int_equal(idtab_put(&t, ids[k], &ids[k]), 0);
			in[k] = true;
		}
	}
	for (size_t k = 0; k < KEYS / 2; k += 2) {
		assert_ptr_equal(idtab_del(&t, ids[k]), &ids[k]);
		in[k] = false;
	}
	for (size_t k = KEYS / 2; k < KEYS; k++) {
		assert_int_equal(idtab_put(&t, ids[k], &ids[k]), 0);
		in[k] = true;
	}
	check(&t, ids, in, KEYS);
	idtab_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_churn),
		cmocka_unit_test(test_consecutive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

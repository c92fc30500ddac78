/*
 * The document builder: the bytes it builds are the bytes libbson builds
 * for the same appends; its errors stick and are named; a document of
 * exactly the largest size is built and one byte more is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysimbdp.h>

#include "util.h"

#define K(s) s, sizeof(s) - 1

static void
assert_same(struct msb_docbuild *b, const bson_t *want)
{
	bson_t got;

	assert_int_equal(msb_docbuild_bson(b, &got), MSB_OK);
	if (got.len != want->len || memcmp(bson_get_data(&got),
	    bson_get_data(want), want->len) != 0) {
		char *g = bson_as_canonical_extended_json(&got, NULL);
		char *w = bson_as_canonical_extended_json(want, NULL);

		fail_msg("built %s (%u bytes), libbson %s (%u bytes)", g,
		    got.len, w, want->len);
	}
}

static void
every_type_as_libbson(void **state)
{
	struct msb_docbuild *b = msb_docbuild_new();
	bson_t want = BSON_INITIALIZER, child, arr;
	char hash[MSB_HASH_HEX_SIZE];

	(void)state;
	msb_sha256_hex("abc", 3, hash);
	assert_non_null(b);
	assert_int_equal(msb_doc_append_id(&want, hash, 7), MSB_OK);
	BSON_APPEND_NULL(&want, "n");
	BSON_APPEND_UTF8(&want, "s", "caf\xc3\xa9");
	bson_append_utf8(&want, "empty", -1, "", 0);
	BSON_APPEND_INT64(&want, "i", -42);
	BSON_APPEND_INT64(&want, "max", INT64_MAX);
	BSON_APPEND_DOUBLE(&want, "d", -0.125);
	BSON_APPEND_BOOL(&want, "t", true);
	BSON_APPEND_BOOL(&want, "f", false);
	BSON_APPEND_DATE_TIME(&want, "when", 1700000000123);
	BSON_APPEND_DOCUMENT_BEGIN(&want, "loc", &child);
	BSON_APPEND_UTF8(&child, "type", "Point");
	BSON_APPEND_ARRAY_BEGIN(&child, "coordinates", &arr);
	for (int i = 0; i < 12; i++) {
		char key[16];
		const char *k;

		bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
		BSON_APPEND_DOUBLE(&arr, k, i * 1.5);
	}
	bson_append_array_end(&child, &arr);
	bson_append_document_end(&want, &child);
	BSON_APPEND_ARRAY_BEGIN(&want, "none", &arr);
	bson_append_array_end(&want, &arr);

	assert_int_equal(msb_docbuild_id(b, hash, 7), MSB_OK);
	msb_docbuild_null(b, K("n"));
	msb_docbuild_utf8(b, K("s"), K("caf\xc3\xa9"));
	msb_docbuild_utf8(b, K("empty"), "", 0);
	msb_docbuild_int64(b, K("i"), -42);
	msb_docbuild_int64(b, K("max"), INT64_MAX);
	msb_docbuild_double(b, K("d"), -0.125);
	msb_docbuild_bool(b, K("t"), true);
	msb_docbuild_bool(b, K("f"), false);
	msb_docbuild_date(b, K("when"), 1700000000123);
	msb_docbuild_begin(b, K("loc"), false);
	msb_docbuild_utf8(b, K("type"), K("Point"));
	msb_docbuild_begin(b, K("coordinates"), true);
	for (int i = 0; i < 12; i++)
		msb_docbuild_double(b, NULL, 0, i * 1.5);
	msb_docbuild_end(b);
	msb_docbuild_end(b);
	msb_docbuild_begin(b, K("none"), true);
	assert_int_equal(msb_docbuild_end(b), MSB_OK);
	assert_same(b, &want);
	assert_string_equal(msb_docbuild_error(b), "");

	/* Appends go on after a look, and a reset starts afresh. */
	BSON_APPEND_INT64(&want, "more", 1);
	msb_docbuild_int64(b, K("more"), 1);
	assert_same(b, &want);
	msb_docbuild_reset(b);
	bson_reinit(&want);
	assert_same(b, &want);
	bson_destroy(&want);
	msb_docbuild_free(b);
}

/* Typed text: the same conversions, errors and nulls as msb_value_append. */
static void
values_as_value_append(void **state)
{
	static const struct {
		enum msb_type	 type;
		unsigned	 flags;
		const char	*text;
	} cases[] = {
		{ MSB_TYPE_STRING, 0, "  padded text " },
		{ MSB_TYPE_INT, 0, "-17" },
		{ MSB_TYPE_INT, 0, "12abc" },
		{ MSB_TYPE_DOUBLE, 0, "2.5e3" },
		{ MSB_TYPE_DOUBLE, 0, "nan" },
		{ MSB_TYPE_BOOL, 0, "yes" },
		{ MSB_TYPE_DATE, 0, "2024-02-29T12:30:00+01:00" },
		{ MSB_TYPE_DATE, 0, "2023-02-29" },
		{ MSB_TYPE_STRING, 0, "   " },
		{ MSB_TYPE_INT, MSB_COL_REQUIRED, "" },
		{ MSB_TYPE_STRING, 0, "bad \xff byte" },
	};
	struct msb_docbuild *b = msb_docbuild_new();
	bson_t want = BSON_INITIALIZER;
	char e1[256], e2[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = cases[i].text;
		int r1, r2;

		e1[0] = e2[0] = '\0';
		r1 = msb_value_append(&want, "v", cases[i].type,
		    cases[i].flags, t, strlen(t), e1, sizeof(e1));
		r2 = msb_docbuild_value(b, K("v"), cases[i].type,
		    cases[i].flags, t, strlen(t), e2, sizeof(e2));
		assert_int_equal(r1, r2);
		assert_string_equal(e1, e2);
		/* A bad value does not stick. */
		assert_string_equal(msb_docbuild_error(b), "");
	}
	assert_same(b, &want);
	bson_destroy(&want);
	msb_docbuild_free(b);
}

static void
expect_stuck(struct msb_docbuild *b, int rc, const char *why)
{
	bson_t view;

	assert_int_equal(msb_docbuild_int64(b, K("after"), 1), rc);
	assert_int_equal(msb_docbuild_bson(b, &view), rc);
	assert_string_equal(msb_docbuild_error(b), why);
	msb_docbuild_reset(b);
	assert_string_equal(msb_docbuild_error(b), "");
}

static void
errors_stick(void **state)
{
	struct msb_docbuild *b = msb_docbuild_new();
	char hash[MSB_HASH_HEX_SIZE];
	bson_t view;
	int i;

	(void)state;
	assert_int_equal(msb_docbuild_utf8(b, "a\0b", 3, K("x")),
	    MSB_BADDOC);
	expect_stuck(b, MSB_BADDOC, "a key holds a NUL byte");

	assert_int_equal(msb_docbuild_null(b, NULL, 0), MSB_ERROR);
	expect_stuck(b, MSB_ERROR, "a key is missing outside an array");

	assert_int_equal(msb_docbuild_end(b), MSB_ERROR);
	expect_stuck(b, MSB_ERROR, "an end without a begin");

	msb_docbuild_begin(b, K("open"), false);
	assert_int_equal(msb_docbuild_bson(b, &view), MSB_ERROR);
	expect_stuck(b, MSB_ERROR, "a subdocument is still open");

	for (i = 0; i < 100; i++)
		assert_int_equal(msb_docbuild_begin(b, K("d"), false), MSB_OK);
	assert_int_equal(msb_docbuild_begin(b, K("d"), false), MSB_BADDOC);
	expect_stuck(b, MSB_BADDOC, "nested more than 100 levels deep");

	/* A bad hash is the caller's error, not the document's. */
	assert_int_equal(msb_docbuild_id(b, "not hex", 1), MSB_ERROR);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(msb_docbuild_error(b), "");
	msb_sha256_hex("", 0, hash);
	assert_int_equal(msb_docbuild_id(b, hash, 1), MSB_OK);
	assert_int_equal(msb_docbuild_bson(b, &view), MSB_OK);
	msb_docbuild_free(b);
	msb_docbuild_free(NULL);
}

/* 16 MiB exactly is built; a byte more is
 * refused, and so is a string longer than that on its own. */
static void
largest_document(void **state)
{
	const size_t max = 16 * 1024 * 1024;
	/* 4 (length) + 1 (type) + 2 ("s\0") + 4 + n + 1 + 1 (NUL) */
	const size_t n = max - 13;
	struct msb_docbuild *b = msb_docbuild_new();
	char *big = malloc(n + 1);
	bson_t view;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', n + 1);
	assert_int_equal(msb_docbuild_utf8(b, K("s"), big, n), MSB_OK);
	assert_int_equal(msb_docbuild_bson(b, &view), MSB_OK);
	assert_int_equal(view.len, max);
	assert_true(bson_validate(&view, BSON_VALIDATE_NONE, NULL));

	msb_docbuild_reset(b);
	assert_int_equal(msb_docbuild_utf8(b, K("s"), big, n + 1),
	    MSB_BADDOC);
	expect_stuck(b, MSB_BADDOC, "document too large (over 16 MiB)");
	assert_int_equal(msb_docbuild_utf8(b, K("s"), big, SIZE_MAX - 2),
	    MSB_BADDOC);
	expect_stuck(b, MSB_BADDOC, "document too large (over 16 MiB)");
	free(big);
	msb_docbuild_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_type_as_libbson),
		cmocka_unit_test(values_as_value_append),
		cmocka_unit_test(errors_stick),
		cmocka_unit_test(largest_document),
	};

	msb_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}

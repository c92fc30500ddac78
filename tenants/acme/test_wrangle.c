/*
 * acme's field conversions: prices, numbers and amenity lists, the good
 * forms of the export and the bad ones that must reject a row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wrangle.h"

static int
price(const char *s, double *v)
{
	return wr_price(s, strlen(s), v);
}

static void
test_price_good(void **state)
{
	double v;

	(void)state;
	assert_int_equal(price("$1,234.00", &v), 0);
	assert_true(v == 1234.0);
	assert_int_equal(price("$147.14", &v), 0);
	assert_true(v == 147.14);
	assert_int_equal(price(" 80 ", &v), 0);
	assert_true(v == 80.0);
	assert_int_equal(price("$12,345,678.5", &v), 0);
	assert_true(v == 12345678.5);
	assert_int_equal(price("$1234", &v), 0);
	assert_true(v == 1234.0);
}

static void
test_price_bad(void **state)
{
	static const char *const bad[] = {
		"", "$", "N/A", "-5", "$-5", "1,23", "12,3456", ",123",
		"1,,234", "$1,234.00 USD", "1.2.3", "inf", "$ 12", "0x10",
	};
	double v;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (price(bad[i], &v) != -1)
			fail_msg("price \"%s\" was accepted as %g", bad[i], v);
}

static void
test_number(void **state)
{
	double v;

	(void)state;
	assert_int_equal(wr_number("52.36887", 8, &v), 0);
	assert_true(v == 52.36887);
	assert_int_equal(wr_number(" -4.5e1\t", 8, &v), 0);
	assert_true(v == -45.0);
	assert_int_equal(wr_number("nan", 3, &v), -1);
	assert_int_equal(wr_number("inf", 3, &v), -1);
	assert_int_equal(wr_number("1e999", 5, &v), -1);
	assert_int_equal(wr_number("12abc", 5, &v), -1);
	assert_int_equal(wr_number("", 0, &v), -1);
	assert_int_equal(wr_number(".", 1, &v), -1);
}

/* The shortcut for plain decimals gives strtod's double, bit for bit. */
static void
test_number_as_strtod(void **state)
{
	static const char *const fixed[] = {
		"-0", "0.1", "0.3", "2.675", "123456789012345",
		"0.000000000000001", "999999999999999.9", "9007199254740993",
		"1.", ".5", "+7.25",
	};
	uint64_t x = 88172645463325252ULL;
	char text[40];
	double v, want;

	(void)state;
	for (size_t i = 0; i < 2000 + sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (i < sizeof(fixed) / sizeof(fixed[0]))
			snprintf(text, sizeof(text), "%s", fixed[i]);
		else {
			/* xorshift64: 1-16 digits, a point anywhere or none. */
			int nd, dot, n = 0;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			nd = (int)(x % 16) + 1;
			dot = (int)((x >> 8) % (uint64_t)(nd + 2)) - 1;
			if ((x >> 16) & 1)
				text[n++] = '-';
			for (int d = 0; d < nd; d++) {
				if (d == dot)
					text[n++] = '.';
				text[n++] = (char)('0' + (x >> (20 + 2 * d)) % 10);
			}
			text[n] = '\0';
		}
		want = strtod(text, NULL);
		if (wr_number(text, strlen(text), &v) != 0 ||
		    memcmp(&v, &want, sizeof(v)) != 0)
			fail_msg("\"%s\": %.17g, strtod %.17g", text, v, want);
	}
}

static void
test_int(void **state)
{
	int64_t v;

	(void)state;
	assert_int_equal(wr_int(" 100001 ", 8, &v), 0);
	assert_true(v == 100001);
	assert_int_equal(wr_int("-42", 3, &v), 0);
	assert_true(v == -42);
	assert_int_equal(wr_int("9223372036854775807", 19, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(wr_int("-9223372036854775808", 20, &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(wr_int("9223372036854775808", 19, &v), -1);
	assert_int_equal(wr_int("x100999", 7, &v), -1);
	assert_int_equal(wr_int("12.5", 4, &v), -1);
	assert_int_equal(wr_int("-", 1, &v), -1);
	assert_int_equal(wr_int("", 0, &v), -1);
}

/* Converts s and returns the array as canonical JSON (caller frees). */
static char *
amenities(const char *s, int *rc)
{
	struct msb_docbuild *b = msb_docbuild_new();
	char scratch[256];
	char *json;
	bson_t doc;

	assert_non_null(b);
	*rc = wr_amenities(b, "a", 1, s, strlen(s), scratch);
	assert_int_equal(msb_docbuild_bson(b, &doc), MSB_OK);
	json = bson_as_relaxed_extended_json(&doc, NULL);
	msb_docbuild_free(b);
	return json;
}

static void
test_amenities_good(void **state)
{
	char *json;
	int rc;

	(void)state;
	json = amenities("[\"Wifi\", \"Hair dryer\"]", &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(json, "{ \"a\" : [ \"Wifi\", \"Hair dryer\" ] }");
	bson_free(json);

	json = amenities(" [ ] ", &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(json, "{ \"a\" : [  ] }");
	bson_free(json);

	/* Escapes, a two-byte and a four-byte (surrogate pair) character. */
	json = amenities("[\"Say \\\"hi\\\"\",\"caf\\u00e9\","
	    "\"\\ud83d\\ude00\"]", &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(json, "{ \"a\" : [ \"Say \\\"hi\\\"\", "
	    "\"caf\xc3\xa9\", \"\xf0\x9f\x98\x80\" ] }");
	bson_free(json);
}

static void
test_amenities_bad(void **state)
{
	static const char *const bad[] = {
		"", "Wifi", "[Wifi]", "[\"Wifi\"", "[\"Wifi\",]",
		"[\"Wifi\" \"TV\"]", "[\"Wifi\"] x", "[1]", "[\"a\\q\"]",
		"[\"\\u00\"]", "[\"\\udc00\"]", "[\"\\u0000\"]", "[\"open",
	};
	struct msb_docbuild *b = msb_docbuild_new();
	char scratch[64];
	bson_t doc;

	(void)state;
	assert_non_null(b);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msb_docbuild_reset(b);
		if (wr_amenities(b, "a", 1, bad[i], strlen(bad[i]),
		    scratch) != -1)
			fail_msg("amenities \"%s\" were accepted", bad[i]);
		/* The document stays usable after a refusal. */
		assert_int_equal(msb_docbuild_int64(b, "after", 5, 1), MSB_OK);
		assert_int_equal(msb_docbuild_bson(b, &doc), MSB_OK);
	}
	msb_docbuild_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_price_good),
		cmocka_unit_test(test_price_bad),
		cmocka_unit_test(test_number),
		cmocka_unit_test(test_number_as_strtod),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_amenities_good),
		cmocka_unit_test(test_amenities_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for common/units.c: parsing and formatting of the sizes and
 * durations written in configuration files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "units.h"

/* Parses s as a size and fails the test unless it gives want. */
static void
expect_size(const char *s, uint64_t want)
{
	const char *why = NULL;
	uint64_t got = 0xdeadbeef;

	if (units_parse_size(s, &got, &why) != 0)
		fail_msg("units_parse_size(\"%s\") failed: %s", s, why);
	if (got != want)
		fail_msg("units_parse_size(\"%s\") = %llu, want %llu", s,
		    (unsigned long long)got, (unsigned long long)want);
}

/* Fails the test unless parsing s as a size fails with reason why. */
static void
expect_size_error(const char *s, const char *want_why)
{
	const char *why = NULL;
	uint64_t got = 12345;

	if (units_parse_size(s, &got, &why) != -1)
		fail_msg("units_parse_size(\"%s\") accepted it as %llu", s,
		    (unsigned long long)got);
	assert_non_null(why);
	assert_string_equal(why, want_why);
	/* The output is left alone on failure. */
	assert_int_equal(got, 12345);
}

static void
expect_duration(const char *s, uint64_t want)
{
	const char *why = NULL;
	uint64_t got = 0xdeadbeef;

	if (units_parse_duration(s, &got, &why) != 0)
		fail_msg("units_parse_duration(\"%s\") failed: %s", s, why);
	if (got != want)
		fail_msg("units_parse_duration(\"%s\") = %llu, want %llu", s,
		    (unsigned long long)got, (unsigned long long)want);
}

static void
expect_duration_error(const char *s, const char *want_why)
{
	const char *why = NULL;
	uint64_t got = 12345;

	if (units_parse_duration(s, &got, &why) != -1)
		fail_msg("units_parse_duration(\"%s\") accepted it as %llu", s,
		    (unsigned long long)got);
	assert_non_null(why);
	assert_string_equal(why, want_why);
	assert_int_equal(got, 12345);
}

#define ERR_SIZE_NUMBER "expected a number with an optional unit (B, K, M, G, T)"
#define ERR_SIZE_UNIT "unknown size unit (use B, K, M, G or T)"
#define ERR_DUR_NUMBER "expected a number followed by a unit (ms, s, m, h, d, w)"
#define ERR_DUR_UNIT "unknown duration unit (use ms, s, m, h, d, w)"
#define ERR_DUR_MISSING "missing duration unit (use ms, s, m, h, d, w)"

static void
parse_size_without_unit_or_with_B_is_bytes(void **state)
{
	expect_size("0", 0);
	expect_size("1", 1);
	expect_size("123", 123);
	expect_size("123B", 123);
	expect_size("123b", 123);
}

static void
parse_size_units_are_powers_of_1024(void **state)
{
	expect_size("1K", 1024);
	expect_size("64M", 64ULL * 1024 * 1024);
	expect_size("1G", 1024ULL * 1024 * 1024);
	expect_size("2T", 2ULL * 1024 * 1024 * 1024 * 1024);
	expect_size("0K", 0);
}

static void
parse_size_accepts_KB_KiB_spellings_in_any_case(void **state)
{
	expect_size("1KB", 1024);
	expect_size("1KiB", 1024);
	expect_size("1k", 1024);
	expect_size("1kib", 1024);
	expect_size("3mb", 3ULL << 20);
	expect_size("3MiB", 3ULL << 20);
	expect_size("5GB", 5ULL << 30);
	expect_size("5gib", 5ULL << 30);
	expect_size("1TiB", 1ULL << 40);
}

static void
parse_size_fractions_are_rounded_to_bytes(void **state)
{
	expect_size("1.5G", 1610612736ULL);
	expect_size("0.5K", 512);
	expect_size("2.25M", 2359296ULL);
	expect_size("1.5", 2);		/* round(1.5) */
	expect_size("0.0001K", 0);	/* 0.1024 bytes */
}

static void
parse_size_rejects_malformed_numbers(void **state)
{
	expect_size_error("", ERR_SIZE_NUMBER);
	expect_size_error("M", ERR_SIZE_NUMBER);
	expect_size_error("-1", ERR_SIZE_NUMBER);
	expect_size_error(" 1", ERR_SIZE_NUMBER);
	expect_size_error(".5K", ERR_SIZE_NUMBER);
	expect_size_error("1..5K", ERR_SIZE_NUMBER);
	/* strtod would take these; the parser must not. */
	expect_size_error("1e3", ERR_SIZE_NUMBER);
	expect_size_error("0x10", ERR_SIZE_NUMBER);
	expect_size_error("inf", ERR_SIZE_NUMBER);
	expect_size_error("nan", ERR_SIZE_NUMBER);
}

static void
parse_size_rejects_unknown_units(void **state)
{
	expect_size_error("1X", ERR_SIZE_UNIT);
	expect_size_error("1 M", ERR_SIZE_UNIT);
	expect_size_error("1M ", ERR_SIZE_UNIT);
	expect_size_error("1KBB", ERR_SIZE_UNIT);
	expect_size_error("1P", ERR_SIZE_UNIT);
	expect_size_error("1Mi", ERR_SIZE_UNIT);
}

static void
parse_size_rejects_values_beyond_uint64(void **state)
{
	/* 2^64 - 2^40 still fits; 2^64 does not. */
	expect_size("16777215T", 18446742974197923840ULL);
	expect_size_error("16777216T", "size too large");
	expect_size_error("99999999999999999999", "size too large");
}

static void
parse_duration_zero_needs_no_unit(void **state)
{
	expect_duration("0", 0);
	expect_duration("0s", 0);
	expect_duration("0ms", 0);
}

static void
parse_duration_single_units(void **state)
{
	expect_duration("500ms", 500);
	expect_duration("30s", 30000);
	expect_duration("5m", 300000);
	expect_duration("2h", 7200000);
	expect_duration("1d", 86400000);
	expect_duration("1w", 604800000);
	expect_duration("1.5s", 1500);
	expect_duration("0.5m", 30000);
}

static void
parse_duration_sums_several_pairs(void **state)
{
	expect_duration("1h30m", 5400000);
	expect_duration("1m30s500ms", 90500);
	expect_duration("1d1h1m1s", 90061000);
	/* Units may repeat and come in any order; they add up. */
	expect_duration("30s1m", 90000);
	expect_duration("1s1s", 2000);
}

static void
parse_duration_rejects_malformed_strings(void **state)
{
	expect_duration_error("", "empty duration");
	expect_duration_error("30", ERR_DUR_MISSING);
	expect_duration_error("1m30", ERR_DUR_MISSING);
	expect_duration_error("10x", ERR_DUR_UNIT);
	expect_duration_error("1M", ERR_DUR_UNIT);	/* units are lower case */
	expect_duration_error("1sec", ERR_DUR_UNIT);
	expect_duration_error("ms", ERR_DUR_NUMBER);
	expect_duration_error("-1s", ERR_DUR_NUMBER);
	expect_duration_error("1h 30m", ERR_DUR_NUMBER);
	expect_duration_error(" 1s", ERR_DUR_NUMBER);
	expect_duration_error("1.5.2s", ERR_DUR_NUMBER);
	expect_duration_error("1e3s", ERR_DUR_NUMBER);
	expect_duration_error("1 s", ERR_DUR_MISSING);
}

static void
parse_duration_rejects_overlong_values(void **state)
{
	expect_duration("15000000w", 15000000ULL * 604800000ULL);
	expect_duration_error("200000000000w", "duration too long");
}

static void
fmt_duration_sub_second_values_in_ms(void **state)
{
	char buf[32];

	assert_string_equal(units_fmt_duration(0, buf, sizeof(buf)), "0ms");
	assert_string_equal(units_fmt_duration(1, buf, sizeof(buf)), "1ms");
	assert_string_equal(units_fmt_duration(250, buf, sizeof(buf)), "250ms");
	/* Not a whole number of seconds: stays in ms to stay exact. */
	assert_string_equal(units_fmt_duration(1500, buf, sizeof(buf)),
	    "1500ms");
}

static void
fmt_duration_compact_largest_units_first(void **state)
{
	char buf[32];

	assert_ptr_equal(units_fmt_duration(1000, buf, sizeof(buf)), buf);
	assert_string_equal(buf, "1s");
	assert_string_equal(units_fmt_duration(60000, buf, sizeof(buf)), "1m");
	assert_string_equal(units_fmt_duration(90000, buf, sizeof(buf)),
	    "1m30s");
	assert_string_equal(units_fmt_duration(5400000, buf, sizeof(buf)),
	    "1h30m");
	assert_string_equal(units_fmt_duration(90061000, buf, sizeof(buf)),
	    "1d1h1m1s");
	assert_string_equal(units_fmt_duration(604800000, buf, sizeof(buf)),
	    "7d");
	assert_string_equal(units_fmt_duration(86400000 + 1000, buf,
	    sizeof(buf)), "1d1s");
}

static void
fmt_duration_truncates_to_small_buffer(void **state)
{
	char buf[8];

	memset(buf, 'x', sizeof(buf));
	units_fmt_duration(5400000, buf, 4);
	assert_string_equal(buf, "1h3");
	assert_int_equal(buf[4], 'x');
	units_fmt_duration(123456, buf, 4);
	assert_string_equal(buf, "123");
}

static void
fmt_size_bytes_below_1K(void **state)
{
	char buf[32];

	assert_ptr_equal(units_fmt_size(0, buf, sizeof(buf)), buf);
	assert_string_equal(buf, "0B");
	assert_string_equal(units_fmt_size(1, buf, sizeof(buf)), "1B");
	assert_string_equal(units_fmt_size(1023, buf, sizeof(buf)), "1023B");
}

static void
fmt_size_binary_units_with_one_decimal(void **state)
{
	char buf[32];

	assert_string_equal(units_fmt_size(1024, buf, sizeof(buf)), "1K");
	assert_string_equal(units_fmt_size(1536, buf, sizeof(buf)), "1.5K");
	assert_string_equal(units_fmt_size(64ULL << 20, buf, sizeof(buf)),
	    "64M");
	assert_string_equal(units_fmt_size(1610612736ULL, buf, sizeof(buf)),
	    "1.5G");
	assert_string_equal(units_fmt_size(1ULL << 40, buf, sizeof(buf)),
	    "1T");
	/* T is the largest unit. */
	assert_string_equal(units_fmt_size(1ULL << 50, buf, sizeof(buf)),
	    "1024T");
}

static void
fmt_then_parse_round_trips(void **state)
{
	static const uint64_t sizes[] = {
		0, 1, 1023, 1024, 1536, 64ULL << 20, 1610612736ULL, 1ULL << 40,
		3ULL << 39,
	};
	static const uint64_t durations[] = {
		0, 1, 250, 1500, 1000, 90000, 5400000, 90061000, 604800000,
	};
	char buf[32];
	const char *why;
	uint64_t v;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		units_fmt_size(sizes[i], buf, sizeof(buf));
		assert_int_equal(units_parse_size(buf, &v, &why), 0);
		assert_int_equal(v, sizes[i]);
	}
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		units_fmt_duration(durations[i], buf, sizeof(buf));
		assert_int_equal(units_parse_duration(buf, &v, &why), 0);
		assert_int_equal(v, durations[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_size_without_unit_or_with_B_is_bytes),
		cmocka_unit_test(parse_size_units_are_powers_of_1024),
		cmocka_unit_test(parse_size_accepts_KB_KiB_spellings_in_any_case),
		cmocka_unit_test(parse_size_fractions_are_rounded_to_bytes),
		cmocka_unit_test(parse_size_rejects_malformed_numbers),
		cmocka_unit_test(parse_size_rejects_unknown_units),
		cmocka_unit_test(parse_size_rejects_values_beyond_uint64),
		cmocka_unit_test(parse_duration_zero_needs_no_unit),
		cmocka_unit_test(parse_duration_single_units),
		cmocka_unit_test(parse_duration_sums_several_pairs),
		cmocka_unit_test(parse_duration_rejects_malformed_strings),
		cmocka_unit_test(parse_duration_rejects_overlong_values),
		cmocka_unit_test(fmt_duration_sub_second_values_in_ms),
		cmocka_unit_test(fmt_duration_compact_largest_units_first),
		cmocka_unit_test(fmt_duration_truncates_to_small_buffer),
		cmocka_unit_test(fmt_size_bytes_below_1K),
		cmocka_unit_test(fmt_size_binary_units_with_one_decimal),
		cmocka_unit_test(fmt_then_parse_round_trips),
	};

	return cmocka_run_group_tests_name("units", tests, NULL, NULL);
}

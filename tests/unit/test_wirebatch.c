/*
 * Unit tests for common/wirebatch.c, the batched wire forms of
 * docs/protocols.md ("Batches"): what is written reads back the same,
 * byte for byte as the document gives it, and a frame that is not whole
 * items stops the walk where it breaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wirebatch.h"

static void
header_round_trip_and_bounds(void **state)
{
	unsigned char h[WB_HEADER_LEN];
	static const unsigned char want[WB_HEADER_LEN] = { 1, 2, 3, 4, 5, 6,
	    7, 8, 0, 0, 0, 3 };
	uint64_t first;
	uint32_t count;

	(void)state;
	wb_put_header(h, UINT64_C(0x0102030405060708), 3);
	assert_memory_equal(h, want, sizeof(want));
	assert_true(wb_get_header(h, sizeof(h), &first, &count));
	assert_int_equal(first, UINT64_C(0x0102030405060708));
	assert_int_equal(count, 3);
	assert_false(wb_get_header(h, 11, &first, &count));
	wb_put_header(h, 1, 0);
	assert_false(wb_get_header(h, sizeof(h), &first, &count));
	wb_put_header(h, 1, WB_MAX_COUNT);
	assert_true(wb_get_header(h, sizeof(h), &first, &count));
	wb_put_header(h, 1, WB_MAX_COUNT + 1);
	assert_false(wb_get_header(h, sizeof(h), &first, &count));
}

static void
records_read_back_and_match_their_count(void **state)
{
	struct wb_buf b = { 0 };
	struct wb_reader r;
	const void *data;
	size_t len;
	char big[5000];

	(void)state;
	memset(big, 'x', sizeof(big));
	assert_int_equal(wb_put_record(&b, "ab", 2), 0);
	assert_int_equal(wb_put_record(&b, "", 0), 0);
	assert_int_equal(wb_put_record(&b, big, sizeof(big)), 0);
	assert_int_equal(b.b_len, 4 + 2 + 4 + 4 + sizeof(big));
	assert_memory_equal(b.b_data, "\0\0\0\2ab\0\0\0\0\0\0\x13\x88", 14);
	assert_null(wb_check_records(b.b_data, b.b_len, 3));
	assert_string_equal(wb_check_records(b.b_data, b.b_len, 2),
	    "more records than the header's count");
	assert_string_equal(wb_check_records(b.b_data, b.b_len, 4),
	    "fewer records than the header's count");
	assert_string_equal(wb_check_records(b.b_data, b.b_len - 1, 3),
	    "a record runs past the end of the frame");

	wb_reader_init(&r, b.b_data, b.b_len);
	assert_int_equal(wb_next_record(&r, &data, &len), 1);
	assert_int_equal(len, 2);
	assert_memory_equal(data, "ab", 2);
	assert_int_equal(wb_next_record(&r, &data, &len), 1);
	assert_int_equal(len, 0);
	assert_int_equal(wb_next_record(&r, &data, &len), 1);
	assert_int_equal(len, sizeof(big));
	assert_true(wb_reader_done(&r));
	assert_int_equal(wb_next_record(&r, &data, &len), 0);

	/* A length prefix cut short. */
	wb_reader_init(&r, b.b_data, 3);
	assert_int_equal(wb_next_record(&r, &data, &len), -1);
	wb_free(&b);
	assert_null(b.b_data);
}

static void
statuses_deliveries_and_ranges(void **state)
{
	struct wb_buf b = { 0 };
	struct wb_reader r;
	unsigned char d[64], *end;
	const char *text;
	const void *data;
	uint64_t id, first, last;
	size_t len;

	(void)state;
	assert_int_equal(wb_put_status(&b, "OK", 2), 0);
	assert_int_equal(wb_put_status(&b, "REJECT empty: no payload", 24), 0);
	assert_memory_equal(b.b_data, "\0\2OK\0\x18REJECT", 12);
	wb_reader_init(&r, b.b_data, b.b_len);
	assert_int_equal(wb_next_status(&r, &text, &len), 1);
	assert_int_equal(len, 2);
	assert_memory_equal(text, "OK", 2);
	assert_int_equal(wb_next_status(&r, &text, &len), 1);
	assert_int_equal(len, 24);
	assert_int_equal(wb_next_status(&r, &text, &len), 0);
	wb_free(&b);

	end = wb_write_delivery(d, 42, "hi", 2);
	end = wb_write_delivery(end, UINT64_C(0xffffffffffffffff), "", 0);
	assert_int_equal(end - d, 12 + 2 + 12);
	assert_memory_equal(d, "\0\0\0\0\0\0\0\x2a\0\0\0\2hi", 14);
	wb_reader_init(&r, d, (size_t)(end - d));
	assert_int_equal(wb_next_delivery(&r, &id, &data, &len), 1);
	assert_int_equal(id, 42);
	assert_int_equal(len, 2);
	assert_int_equal(wb_next_delivery(&r, &id, &data, &len), 1);
	assert_int_equal(id, UINT64_C(0xffffffffffffffff));
	assert_int_equal(len, 0);
	assert_int_equal(wb_next_delivery(&r, &id, &data, &len), 0);
	/* A delivery whose payload runs past the frame. */
	wb_reader_init(&r, d, 13);
	assert_int_equal(wb_next_delivery(&r, &id, &data, &len), -1);

	assert_int_equal(wb_put_range(&b, 5, 9), 0);
	wb_reader_init(&r, b.b_data, b.b_len);
	assert_int_equal(wb_next_range(&r, &first, &last), 1);
	assert_int_equal(first, 5);
	assert_int_equal(last, 9);
	assert_int_equal(wb_next_range(&r, &first, &last), 0);
	wb_reader_init(&r, b.b_data, 15);
	assert_int_equal(wb_next_range(&r, &first, &last), -1);
	wb_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(header_round_trip_and_bounds),
		cmocka_unit_test(records_read_back_and_match_their_count),
		cmocka_unit_test(statuses_deliveries_and_ranges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

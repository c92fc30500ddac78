/*
 * acme's stream messages: a listing update becomes the document a row of
 * the export would, keyed by the listing id; a message that is not JSON,
 * not an object, or not a valid listing is refused with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "update.h"

/* A full update, values as the export's text. */
static const char full[] =
    "{\"id\": 100001, \"listing_url\": \"https://example.org/rooms/100001\","
    " \"name\": \"Sunny flat, near Noord\", \"description\": \"Cosy\","
    " \"host_id\": 89358, \"host_name\": \"Chloe\", \"host_since\":"
    " \"2014-05-26\", \"neighbourhood\": \"West\", \"latitude\": 52.30494,"
    " \"longitude\": 4.90213, \"property_type\": \"Entire loft\","
    " \"room_type\": \"Shared room\", \"accommodates\": 6, \"bedrooms\": 3,"
    " \"amenities\": \"[\\\"Wifi\\\", \\\"Washer\\\"]\", \"price\":"
    " \"$1,147.14\", \"minimum_nights\": 24, \"number_of_reviews\": 291,"
    " \"last_review\": null, \"review_scores_rating\": 4.13}";

static struct listing li;

static int
setup(void **state)
{
	listing_bind_ordered(&li);
	return 0;
}

static int
teardown(void **state)
{
	listing_free(&li);
	return 0;
}

/* Converts s; returns update_to_doc's result, the reason in why. */
static int
convert(const char *s, bson_t *doc, char *why, size_t whylen)
{
	why[0] = '\0';
	return update_to_doc(&li, s, strlen(s), doc, why, whylen);
}

static void
full_update_is_the_row_document(void **state)
{
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it, sub;
	char why[256];

	if (convert(full, &doc, why, sizeof(why)) != 0)
		fail_msg("refused: %s", why);
	/* _id first: the listing id, an integer, as upserts key it. */
	assert_true(bson_iter_init(&it, &doc));
	assert_true(bson_iter_next(&it));
	assert_string_equal(bson_iter_key(&it), "_id");
	assert_int_equal(bson_iter_type(&it), BSON_TYPE_INT64);
	assert_int_equal(bson_iter_int64(&it), 100001);
	assert_true(bson_iter_init_find(&it, &doc, "price"));
	assert_true(bson_iter_double(&it) == 1147.14);
	assert_true(bson_iter_init_find(&it, &doc, "host_since"));
	assert_int_equal(bson_iter_type(&it), BSON_TYPE_DATE_TIME);
	assert_true(bson_iter_init_find(&it, &doc, "last_review"));
	assert_int_equal(bson_iter_type(&it), BSON_TYPE_NULL);
	assert_true(bson_iter_init_find(&it, &doc, "amenities"));
	assert_true(BSON_ITER_HOLDS_ARRAY(&it));
	assert_true(bson_iter_init_find(&it, &doc, "bedrooms"));
	assert_int_equal(bson_iter_type(&it), BSON_TYPE_INT64);
	assert_true(bson_iter_init_find(&it, &doc, "location"));
	assert_true(bson_iter_recurse(&it, &sub));
	assert_true(bson_iter_find(&sub, "type"));
	assert_string_equal(bson_iter_utf8(&sub, NULL), "Point");
	bson_destroy(&doc);
}

static void
json_values_are_taken_too(void **state)
{
	static const char msg[] =
	    "{\"id\": \"100002\", \"latitude\": \"52.42164\", \"longitude\":"
	    " 4.86135, \"price\": 80, \"amenities\": [\"Wifi\", \"T\\\"V\"],"
	    " \"host_since\": {\"$date\": \"2011-01-05T00:00:00Z\"},"
	    " \"extra\": {\"ignored\": true}}";
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it, arr;
	char why[256];

	if (convert(msg, &doc, why, sizeof(why)) != 0)
		fail_msg("refused: %s", why);
	assert_true(bson_iter_init_find(&it, &doc, "_id"));
	assert_int_equal(bson_iter_int64(&it), 100002);
	assert_true(bson_iter_init_find(&it, &doc, "price"));
	assert_true(bson_iter_double(&it) == 80.0);
	assert_true(bson_iter_init_find(&it, &doc, "amenities"));
	assert_true(bson_iter_recurse(&it, &arr));
	assert_true(bson_iter_next(&arr));
	assert_string_equal(bson_iter_utf8(&arr, NULL), "Wifi");
	assert_true(bson_iter_next(&arr));
	assert_string_equal(bson_iter_utf8(&arr, NULL), "T\"V");
	assert_true(bson_iter_init_find(&it, &doc, "host_since"));
	assert_int_equal(bson_iter_date_time(&it), 1294185600000LL);
	/* Missing columns are null; keys that are not columns are left. */
	assert_true(bson_iter_init_find(&it, &doc, "name"));
	assert_int_equal(bson_iter_type(&it), BSON_TYPE_NULL);
	assert_false(bson_iter_init_find(&it, &doc, "extra"));
	bson_destroy(&doc);
}

static void
bad_messages_are_refused_with_a_reason(void **state)
{
	static const struct {
		const char	*msg;
		const char	*why;
	} bad[] = {
		{ "", "not a JSON object" },
		{ "[1, 2]", "not a JSON object" },
		{ "100001", "not a JSON object" },
		{ "{\"id\": 100001, \"price\": ", "not JSON" },
		{ "{\"price\": 80, \"latitude\": 52, \"longitude\": 4}",
		    "id: required value is missing" },
		{ "{\"id\": \"x1\", \"price\": 80, \"latitude\": 52,"
		    " \"longitude\": 4}", "id: not an integer" },
		{ "{\"id\": 1, \"price\": \"N/A\", \"latitude\": 52,"
		    " \"longitude\": 4}", "price: not a price" },
		{ "{\"id\": 1, \"price\": 80, \"latitude\": 91,"
		    " \"longitude\": 4}", "latitude: not a latitude" },
		{ "{\"id\": 1, \"price\": 80, \"latitude\": 52,"
		    " \"longitude\": 4, \"name\": {\"a\": 1}}",
		    "name: not a string" },
		{ "{\"id\": 1, \"price\": 80, \"latitude\": 52,"
		    " \"longitude\": 4, \"amenities\": [1]}",
		    "amenities: not a list of strings" },
	};
	bson_t doc = BSON_INITIALIZER;
	char why[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (convert(bad[i].msg, &doc, why, sizeof(why)) != -1)
			fail_msg("accepted: %s", bad[i].msg);
		if (strncmp(why, bad[i].why, strlen(bad[i].why)) != 0)
			fail_msg("%s: reason \"%s\", expected \"%s...\"",
			    bad[i].msg, why, bad[i].why);
	}
	bson_destroy(&doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_update_is_the_row_document),
		cmocka_unit_test(json_values_are_taken_too),
		cmocka_unit_test(bad_messages_are_refused_with_a_reason),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

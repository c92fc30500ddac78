/*
 * The MongoDB sink against a real server, when MONGO_URL points at one
 * (e.g. MONGO_URL=mongodb://127.0.0.1:27017 meson test clientlib-mongo-live).
 * Otherwise it says so and exits 77, which meson reports as skipped.
 *
 * It writes into a database of its own (msb_test_<pid>) and drops it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mongoc/mongoc.h>
#include <mysimbdp.h>

static const char hash[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static char db[64];

static struct msb_sink *
open_sink(void)
{
	struct msb_sink *sink;
	char err[512];

	if (msb_sink_open(&sink, getenv("MONGO_URL"), db, "docs", err,
	    sizeof(err)) != MSB_OK)
		fail_msg("msb_sink_open: %s", err);
	assert_string_equal(msb_sink_kind(sink), "mongodb");
	return sink;
}

static void
add_rows(struct msb_sink *sink, uint64_t from, uint64_t to)
{
	for (uint64_t row = from; row <= to; row++) {
		bson_t doc = BSON_INITIALIZER;

		msb_doc_append_id(&doc, hash, row);
		BSON_APPEND_INT64(&doc, "row", (int64_t)row);
		assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
		bson_destroy(&doc);
	}
}

static int64_t
count_docs(void)
{
	mongoc_client_t *client = mongoc_client_new(getenv("MONGO_URL"));
	mongoc_collection_t *coll;
	bson_t filter = BSON_INITIALIZER;
	bson_error_t error;
	int64_t n;

	assert_non_null(client);
	coll = mongoc_client_get_collection(client, db, "docs");
	n = mongoc_collection_count_documents(coll, &filter, NULL, NULL, NULL,
	    &error);
	if (n < 0)
		fail_msg("count: %s", error.message);
	bson_destroy(&filter);
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	return n;
}

static void
rerun_inserts_nothing_twice(void **state)
{
	struct msb_sink *sink;
	struct msb_sink_stats st;

	sink = open_sink();
	assert_int_equal(msb_sink_set_write_concern(sink, MSB_W_MAJORITY,
	    false, 5000), MSB_OK);
	assert_int_equal(msb_sink_set_batch_size(sink, 7), MSB_OK);
	add_rows(sink, 1, 20);
	if (msb_sink_commit(sink, hash) != MSB_OK)
		fail_msg("commit: %s", msb_sink_error(sink));
	msb_sink_stats(sink, &st);
	assert_int_equal(st.inserted, 20);
	assert_int_equal(st.duplicates, 0);
	msb_sink_close(sink);
	assert_int_equal(count_docs(), 20);

	/* The rerun: the same 20 rows and 5 more. */
	sink = open_sink();
	add_rows(sink, 1, 25);
	if (msb_sink_commit(sink, hash) != MSB_OK)
		fail_msg("commit: %s", msb_sink_error(sink));
	msb_sink_stats(sink, &st);
	assert_int_equal(st.inserted, 5);
	assert_int_equal(st.duplicates, 20);
	msb_sink_close(sink);
	assert_int_equal(count_docs(), 25);
}

static void
refused_document(void **state)
{
	struct msb_sink *sink = open_sink();
	bson_t doc = BSON_INITIALIZER;

	BSON_APPEND_INT32(&doc, "a.b", 1);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_BADDOC);
	bson_destroy(&doc);
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_OK);
	msb_sink_close(sink);
}

static int
drop_db(void **state)
{
	mongoc_client_t *client = mongoc_client_new(getenv("MONGO_URL"));
	mongoc_database_t *d;

	if (client == NULL)
		return 0;
	d = mongoc_client_get_database(client, db);
	mongoc_database_drop(d, NULL);
	mongoc_database_destroy(d);
	mongoc_client_destroy(client);
	return 0;
}

static int
cleanup(void **state)
{
	drop_db(state);
	msb_cleanup();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rerun_inserts_nothing_twice),
		cmocka_unit_test(refused_document),
	};
	const char *url = getenv("MONGO_URL");

	if (url == NULL || (strncmp(url, "mongodb://", 10) != 0 &&
	    strncmp(url, "mongodb+srv://", 14) != 0)) {
		printf("SKIPPED: MONGO_URL not set to a MongoDB server\n");
		return 77;
	}
	snprintf(db, sizeof(db), "msb_test_%ld", (long)getpid());
	msb_init();
	drop_db(NULL);
	return cmocka_run_group_tests(tests, NULL, cleanup);
}

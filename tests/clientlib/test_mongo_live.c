/*
 * The MongoDB sink against a real server, when MYSIMBDP_TEST_MONGO_URL
 * (or MONGO_URL) points at one: scripts/test starts FerretDB for it
 * (scripts/ferretdb), or e.g.
 *   MONGO_URL=mongodb://127.0.0.1:27017 meson test clientlib-mongo-live
 * Otherwise it says so and exits 77, which meson reports as skipped.
 *
 * It writes into a database of its own (msb_test_<pid>) and drops it.
 * It names the server it ran against (buildInfo) on stdout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mongoc/mongoc.h>
#include <mysimbdp.h>

static const char hash[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static char db[64];
static const char *url;

static struct msb_sink *
open_coll(const char *coll)
{
	struct msb_sink *sink;
	char err[512];

	if (msb_sink_open(&sink, url, db, coll, err, sizeof(err)) != MSB_OK)
		fail_msg("msb_sink_open: %s", err);
	assert_string_equal(msb_sink_kind(sink), "mongodb");
	return sink;
}

static struct msb_sink *
open_sink(void)
{
	return open_coll("docs");
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

/* How many documents of collection name match filter. */
static int64_t
count_matching(const char *name, const bson_t *filter)
{
	mongoc_client_t *client = mongoc_client_new(url);
	mongoc_collection_t *coll;
	bson_error_t error;
	int64_t n;

	assert_non_null(client);
	coll = mongoc_client_get_collection(client, db, name);
	n = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL,
	    &error);
	if (n < 0)
		fail_msg("count: %s", error.message);
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	return n;
}

static int64_t
count_in(const char *name)
{
	bson_t all = BSON_INITIALIZER;

	return count_matching(name, &all);
}

static int64_t
count_docs(void)
{
	return count_in("docs");
}

/*
 * Makes collection name with a unique index on "k" and one document
 * {_id: "other", k: clash} in it, which rows with k == clash meet.
 */
static void
unique_k(const char *name, int64_t clash)
{
	mongoc_client_t *client = mongoc_client_new(url);
	mongoc_collection_t *coll;
	bson_error_t error;
	bson_t *cmd, *doc;

	assert_non_null(client);
	coll = mongoc_client_get_collection(client, db, name);
	cmd = BCON_NEW("createIndexes", BCON_UTF8(name), "indexes", "[", "{",
	    "key", "{", "k", BCON_INT32(1), "}", "name", BCON_UTF8("k_1"),
	    "unique", BCON_BOOL(true), "}", "]");
	if (!mongoc_collection_write_command_with_opts(coll, cmd, NULL, NULL,
	    &error))
		fail_msg("createIndexes: %s", error.message);
	doc = BCON_NEW("_id", BCON_UTF8("other"), "k", BCON_INT64(clash));
	if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &error))
		fail_msg("insert: %s", error.message);
	bson_destroy(doc);
	bson_destroy(cmd);
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
}

/* Adds (or upserts) rows from..to with k = row. */
static void
k_rows(struct msb_sink *sink, bool upsert, uint64_t from, uint64_t to)
{
	for (uint64_t row = from; row <= to; row++) {
		bson_t doc = BSON_INITIALIZER;

		msb_doc_append_id(&doc, hash, row);
		BSON_APPEND_INT64(&doc, "k", (int64_t)row);
		assert_int_equal(upsert ? msb_sink_upsert(sink, &doc) :
		    msb_sink_add(sink, &doc), MSB_OK);
		bson_destroy(&doc);
	}
}

/* What msb_sink_on_reject told: the last rejected document. */
struct rejects {
	int		 n;
	uint64_t	 seq;
	char		 why[400];
};

static void
note_reject(void *arg, uint64_t seq, const char *reason)
{
	struct rejects *r = arg;

	r->n++;
	r->seq = seq;
	snprintf(r->why, sizeof(r->why), "%s", reason);
}

/* The sink named the document of row `row` (seq row - 1), once. */
static void
rejected_row(const struct rejects *r, uint64_t row)
{
	if (r->n != 1 || r->seq != row - 1)
		fail_msg("%d rejections told, the last seq %llu; want 1, seq "
		    "%llu", r->n, (unsigned long long)r->seq,
		    (unsigned long long)(row - 1));
	assert_non_null(strstr(r->why, "E11000"));
}

/* Commits and checks the counts. */
static void
commit_counts(struct msb_sink *sink, uint64_t inserted, uint64_t present,
    uint64_t rejected)
{
	struct msb_sink_stats st;

	if (msb_sink_commit(sink, NULL) != MSB_OK)
		fail_msg("commit: %s", msb_sink_error(sink));
	msb_sink_stats(sink, &st);
	if (st.inserted != inserted || st.already_present != present ||
	    st.rejected != rejected)
		fail_msg("inserted %llu already_present %llu rejected %llu, "
		    "not %llu %llu %llu (%s)", (unsigned long long)st.inserted,
		    (unsigned long long)st.already_present,
		    (unsigned long long)st.rejected,
		    (unsigned long long)inserted, (unsigned long long)present,
		    (unsigned long long)rejected, msb_sink_error(sink));
}

/*
 * A duplicate key of another unique index is no rerun: the clashing
 * rows are rejected with the server's reason, the others stored, and a
 * rerun finds the stored ones already there and rejects the same rows.
 */
static void
other_unique_index_rejects(void **state)
{
	struct msb_sink *sink;

	struct rejects r = { 0 };

	unique_k("uniq", 5);
	sink = open_coll("uniq");
	msb_sink_on_reject(sink, note_reject, &r);
	assert_int_equal(msb_sink_set_batch_size(sink, 4), MSB_OK);
	k_rows(sink, false, 1, 10);
	commit_counts(sink, 9, 0, 1);
	assert_non_null(strstr(msb_sink_error(sink), "E11000"));
	assert_non_null(strstr(msb_sink_error(sink), "1 of 4 documents "
	    "rejected"));
	rejected_row(&r, 5);	/* in the second batch of four */
	msb_sink_close(sink);
	assert_int_equal(count_in("uniq"), 10);	/* 9 and "other" */

	sink = open_coll("uniq");
	r = (struct rejects){ 0 };
	msb_sink_on_reject(sink, note_reject, &r);
	k_rows(sink, false, 1, 10);
	commit_counts(sink, 0, 9, 1);
	assert_non_null(strstr(msb_sink_error(sink), "E11000"));
	rejected_row(&r, 5);
	msb_sink_close(sink);
	assert_int_equal(count_in("uniq"), 10);
}

/* Upserts by _id alike: the clashing rows rejected, the others stored
 * (FerretDB v1 stops an unordered update at its first error: the sink
 * sends the rest again). */
static void
upserts_meet_other_unique_index(void **state)
{
	struct msb_sink *sink;

	struct rejects r = { 0 };

	unique_k("uniq_up", 2);
	sink = open_coll("uniq_up");
	msb_sink_on_reject(sink, note_reject, &r);
	assert_int_equal(msb_sink_set_batch_size(sink, 10), MSB_OK);
	k_rows(sink, true, 1, 6);
	commit_counts(sink, 5, 0, 1);
	rejected_row(&r, 2);
	assert_non_null(strstr(msb_sink_error(sink), "upsert"));
	assert_non_null(strstr(msb_sink_error(sink), "E11000"));
	msb_sink_close(sink);
	assert_int_equal(count_in("uniq_up"), 6);

	/* Again: replaced, not duplicated; the same row rejected. */
	sink = open_coll("uniq_up");
	k_rows(sink, true, 1, 6);
	commit_counts(sink, 5, 0, 1);
	msb_sink_close(sink);
	assert_int_equal(count_in("uniq_up"), 6);
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
	assert_int_equal(st.already_present, 0);
	msb_sink_close(sink);
	assert_int_equal(count_docs(), 20);

	/* The rerun: the same 20 rows and 5 more. */
	sink = open_sink();
	add_rows(sink, 1, 25);
	if (msb_sink_commit(sink, hash) != MSB_OK)
		fail_msg("commit: %s", msb_sink_error(sink));
	msb_sink_stats(sink, &st);
	assert_int_equal(st.inserted, 5);
	assert_int_equal(st.already_present, 20);
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

/* How many documents of collection name have _id id. */
static int64_t
count_id(const char *name, const char *id)
{
	bson_t filter = BSON_INITIALIZER;
	int64_t n;

	BSON_APPEND_UTF8(&filter, "_id", id);
	n = count_matching(name, &filter);
	bson_destroy(&filter);
	return n;
}

/*
 * Ids made with MSB_HASH_LATER reach the server with the input's hash in
 * them: MongoDB's batches leave as they fill, so the sink waits for it.
 */
static void
later_ids_reach_the_server_whole(void **state)
{
	char path[] = "/tmp/msb-later-XXXXXX", hex[MSB_HASH_HEX_SIZE];
	char got[MSB_HASH_HEX_SIZE], id[MSB_DOC_ID_SIZE];
	struct msb_sink *sink = open_coll("later");
	int fd = mkstemp(path);

	assert_true(fd != -1);
	assert_int_equal(write(fd, "id\n1\n2\n", 7), 7);
	assert_int_equal(msb_file_hash(path, hex), MSB_OK);
	assert_int_equal(msb_sink_set_batch_size(sink, 3), MSB_OK);
	assert_int_equal(msb_sink_hash_input(sink, fd), MSB_OK);
	close(fd);
	unlink(path);
	for (uint64_t row = 1; row <= 10; row++) {
		bson_t doc = BSON_INITIALIZER;

		assert_int_equal(msb_doc_append_id(&doc, MSB_HASH_LATER, row),
		    MSB_OK);
		BSON_APPEND_INT64(&doc, "row", (int64_t)row);
		assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
		bson_destroy(&doc);
	}
	assert_int_equal(msb_sink_input_hash(sink, got), MSB_OK);
	assert_string_equal(got, hex);
	if (msb_sink_commit(sink, got) != MSB_OK)
		fail_msg("commit: %s", msb_sink_error(sink));
	msb_sink_close(sink);
	assert_int_equal(count_in("later"), 10);
	for (uint64_t row = 1; row <= 10; row++)
		assert_int_equal(count_id("later", msb_doc_id(id, hex, row)),
		    1);
}

static int
drop_db(void **state)
{
	mongoc_client_t *client = mongoc_client_new(url);
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

/* Prints the server's name and version, as buildInfo gives them. */
static void
name_server(void)
{
	mongoc_client_t *client = mongoc_client_new(url);
	bson_t *cmd = BCON_NEW("buildInfo", BCON_INT32(1));
	bson_t reply;
	bson_iter_t it;
	const char *version = "?", *ferret = NULL;

	if (client != NULL && mongoc_client_command_simple(client, "admin",
	    cmd, NULL, &reply, NULL)) {
		if (bson_iter_init_find(&it, &reply, "version") &&
		    BSON_ITER_HOLDS_UTF8(&it))
			version = bson_iter_utf8(&it, NULL);
		if (bson_iter_init_find(&it, &reply, "ferretdbVersion") &&
		    BSON_ITER_HOLDS_UTF8(&it))
			ferret = bson_iter_utf8(&it, NULL);
		if (ferret != NULL)
			printf("server: FerretDB %s (MongoDB %s protocol)\n",
			    ferret, version);
		else
			printf("server: MongoDB %s\n", version);
	} else
		printf("server: buildInfo failed\n");
	if (client != NULL)
		bson_destroy(&reply);
	bson_destroy(cmd);
	mongoc_client_destroy(client);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rerun_inserts_nothing_twice),
		cmocka_unit_test(refused_document),
		cmocka_unit_test(other_unique_index_rejects),
		cmocka_unit_test(upserts_meet_other_unique_index),
		cmocka_unit_test(later_ids_reach_the_server_whole),
	};

	url = getenv("MYSIMBDP_TEST_MONGO_URL");
	if (url == NULL || *url == '\0')
		url = getenv("MONGO_URL");
	if (url == NULL || (strncmp(url, "mongodb://", 10) != 0 &&
	    strncmp(url, "mongodb+srv://", 14) != 0)) {
		printf("SKIPPED: neither MYSIMBDP_TEST_MONGO_URL nor MONGO_URL "
		    "names a MongoDB server (scripts/test starts FerretDB "
		    "when Go is there)\n");
		return 77;
	}
	snprintf(db, sizeof(db), "msb_test_%ld", (long)getpid());
	msb_init();
	name_server();
	drop_db(NULL);
	return cmocka_run_group_tests(tests, NULL, cleanup);
}

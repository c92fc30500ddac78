/*
 * The MongoDB sink without a MongoDB server: an unreachable server is a
 * temporary failure (exit 75), reported quickly; a malformed URL is a
 * permanent error whose message never shows the password. Then against
 * fakemongo, a stand-in that speaks the wire protocol: bulk inserts,
 * duplicate keys on a rerun counted as success, the write concern sent,
 * each kind of server failure classified, and upserts: each _id once,
 * with the document of its last upsert. (test_mongo_live.c runs the
 * inserts against a real server.)
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

#include "fakemongo.h"
#include "util.h"

/*
 * The bound on a refused connect: far above the few ms it takes (and the
 * 2 s the library allows), below libmongoc's own 30 s, which only a
 * library that left the server selection timeout alone would wait.
 */
#define HANG_MS	15000

static const char hash[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

static void
closed_port_is_a_quick_tempfail(void **state)
{
	struct msb_sink *sink;
	char err[512];
	int64_t start = tu_now_ms(), took;
	int rc;

	/* Nothing listens on port 1 of the loopback: connection refused. */
	rc = msb_sink_open(&sink,
	    "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300", "acme",
	    "listings", err, sizeof(err));
	took = tu_now_ms() - start;
	assert_int_equal(rc, MSB_TEMPFAIL);
	assert_null(sink);
	assert_int_equal(msb_exit_code(rc), 75);
	assert_non_null(strstr(err, "MongoDB unavailable"));
	if (took > HANG_MS)
		fail_msg("took %lld ms", (long long)took);
}

static void
default_timeout_is_short(void **state)
{
	struct msb_sink *sink;
	char err[512];
	int64_t start = tu_now_ms(), took;

	/* No timeout in the URL: 2 s at most, not libmongoc's 30 s. */
	assert_int_equal(msb_sink_open(&sink, "mongodb://127.0.0.1:1/",
	    "acme", "listings", err, sizeof(err)), MSB_TEMPFAIL);
	if ((took = tu_now_ms() - start) > HANG_MS)
		fail_msg("took %lld ms", (long long)took);
}

static void
malformed_url_is_permanent_and_secret(void **state)
{
	struct msb_sink *sink;
	char err[512];

	assert_int_equal(msb_sink_open(&sink, "mongodb://", "acme", "x", err,
	    sizeof(err)), MSB_ERROR);
	assert_non_null(strstr(err, "MONGO_URL: "));
	assert_int_equal(msb_sink_open(&sink,
	    "mongodb://bob:s3cret@127.0.0.1:99999/", "acme", "x", err,
	    sizeof(err)), MSB_ERROR);
	assert_null(strstr(err, "s3cret"));
	assert_int_equal(msb_sink_open(&sink,
	    "mongodb://bob:s3cret@127.0.0.1:1/?serverSelectionTimeoutMS=100",
	    "acme", "x", err, sizeof(err)), MSB_TEMPFAIL);
	assert_null(strstr(err, "s3cret"));
}

/*
 * Unacknowledged writes (w=0) reply without counts: the sink would take
 * a batch the server stored for one it did not. Refused at open, before
 * any server contact (port 1 would be MSB_TEMPFAIL), and when set.
 */
static void
unacknowledged_write_concern_is_refused(void **state)
{
	static const char *const urls[] = {
	    "mongodb://127.0.0.1:1/?w=0&serverSelectionTimeoutMS=100",
	    /* One string in two lines (parenthesised for clang). */
	    ("mongodb://127.0.0.1:1/?W=0&journal=false"
	    "&serverSelectionTimeoutMS=100"),
	    "mongodb://127.0.0.1:1/?w=-1&serverSelectionTimeoutMS=100",
	};
	struct msb_sink *sink;
	char err[512];

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		assert_int_equal(msb_sink_open(&sink, urls[i], "acme", "x",
		    err, sizeof(err)), MSB_ERROR);
		assert_null(sink);
		assert_true(strncmp(err, "MONGO_URL: w=", 13) == 0);
		assert_non_null(strstr(err, "unacknowledged writes are not "
		    "supported"));
	}
}

static int
fake_setup(void **state)
{
	*state = fake_start();
	return 0;
}

static int
fake_teardown(void **state)
{
	fake_stop(*state);
	return 0;
}

/* Opens a sink on the fake server; query is added to the URL. */
static struct msb_sink *
open_fake(struct fakemongo *fm, const char *query)
{
	struct msb_sink *sink;
	char url[256], err[512];

	snprintf(url, sizeof(url), "mongodb://127.0.0.1:%d/?%s",
	    fake_port(fm), query);
	if (msb_sink_open(&sink, url, "acme", "listings", err,
	    sizeof(err)) != MSB_OK)
		fail_msg("msb_sink_open: %s", err);
	assert_string_equal(msb_sink_kind(sink), "mongodb");
	return sink;
}

/* Adds rows from..to; returns the first failure or MSB_OK. */
static int
add_rows(struct msb_sink *sink, uint64_t from, uint64_t to)
{
	for (uint64_t row = from; row <= to; row++) {
		bson_t doc = BSON_INITIALIZER;
		int rc;

		msb_doc_append_id(&doc, hash, row);
		BSON_APPEND_INT64(&doc, "row", (int64_t)row);
		rc = msb_sink_add(sink, &doc);
		bson_destroy(&doc);
		if (rc != MSB_OK)
			return rc;
	}
	return MSB_OK;
}

static void
rerun_duplicates_count_as_success(void **state)
{
	struct fakemongo *fm = *state;
	struct msb_sink *sink = open_fake(fm, "");
	struct msb_sink_stats st;

	assert_int_equal(msb_sink_set_batch_size(sink, 7), MSB_OK);
	assert_int_equal(add_rows(sink, 1, 20), MSB_OK);
	if (msb_sink_commit(sink, hash) != MSB_OK)
		fail_msg("commit: %s", msb_sink_error(sink));
	msb_sink_stats(sink, &st);
	assert_int_equal(st.added, 20);
	assert_int_equal(st.inserted, 20);
	assert_int_equal(st.already_present, 0);
	assert_int_equal(fake_inserts(fm), 3);	/* 7 + 7 + 6 */
	msb_sink_close(sink);
	assert_int_equal(fake_count(fm), 20);

	/* The rerun: the same 20 rows and 5 new ones. */
	sink = open_fake(fm, "");
	assert_int_equal(add_rows(sink, 1, 25), MSB_OK);
	if (msb_sink_commit(sink, hash) != MSB_OK)
		fail_msg("rerun commit: %s", msb_sink_error(sink));
	msb_sink_stats(sink, &st);
	assert_int_equal(st.inserted, 5);
	assert_int_equal(st.already_present, 20);
	msb_sink_close(sink);
	assert_int_equal(fake_count(fm), 25);
}

/* As in the file store: a key names one unit, committed once. */
static void
second_commit_of_a_key_is_refused(void **state)
{
	struct fakemongo *fm = *state;
	struct msb_sink *sink = open_fake(fm, "");
	struct msb_sink_stats st;

	assert_int_equal(add_rows(sink, 1, 2), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, hash), MSB_OK);
	assert_int_equal(add_rows(sink, 3, 5), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, hash), MSB_ERROR);
	assert_non_null(strstr(msb_sink_error(sink), "committed already"));
	msb_sink_stats(sink, &st);
	assert_int_equal(st.inserted, 2);
	assert_int_equal(st.units, 1);
	msb_sink_close(sink);
	assert_int_equal(fake_count(fm), 2);
}

static void
write_concern_is_sent(void **state)
{
	struct fakemongo *fm = *state;
	struct msb_sink *sink;
	char wc[256];

	sink = open_fake(fm, "w=2&wtimeoutMS=900");
	assert_int_equal(add_rows(sink, 1, 1), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_OK);
	fake_last_wc(fm, wc, sizeof(wc));
	assert_non_null(strstr(wc, "\"w\" : 2"));
	assert_non_null(strstr(wc, "\"wtimeout\" : 900"));
	msb_sink_close(sink);

	sink = open_fake(fm, "w=2");
	assert_int_equal(msb_sink_set_write_concern(sink, MSB_W_MAJORITY,
	    true, 500), MSB_OK);
	/* Unacknowledged writes: no counts in the reply, so refused. */
	assert_int_equal(msb_sink_set_write_concern(sink, 0, true, 0),
	    MSB_ERROR);
	assert_int_equal(msb_sink_set_write_concern(sink, 0, false, 0),
	    MSB_ERROR);
	assert_string_equal(msb_sink_error(sink), "write concern: w=0: "
	    "unacknowledged writes are not supported (the server would not "
	    "say what it stored or refused): use w=1 or more, or majority");
	assert_int_equal(msb_sink_set_write_concern(sink, -1, false, 0),
	    MSB_ERROR);
	assert_int_equal(add_rows(sink, 2, 2), MSB_OK);
	/* Too late once documents are pending. */
	assert_int_equal(msb_sink_set_write_concern(sink, 1, false, 0),
	    MSB_ERROR);
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_OK);
	fake_last_wc(fm, wc, sizeof(wc));
	assert_non_null(strstr(wc, "\"w\" : \"majority\""));
	assert_non_null(strstr(wc, "\"j\" : true"));
	assert_non_null(strstr(wc, "\"wtimeout\" : 500"));
	msb_sink_close(sink);
}

/* One commit that fails as the fake was told; returns its code. */
static int
failing_commit(struct fakemongo *fm, char *msg, size_t len)
{
	struct msb_sink *sink = open_fake(fm, "");
	int rc;

	assert_int_equal(add_rows(sink, 100, 102), MSB_OK);
	rc = msb_sink_commit(sink, NULL);
	snprintf(msg, len, "%s", msb_sink_error(sink));
	/* The failure sticks: the app is meant to stop. */
	assert_int_equal(add_rows(sink, 103, 103), rc);
	assert_int_equal(msb_sink_commit(sink, NULL), rc);
	msb_sink_close(sink);
	return rc;
}

static void
server_failures_are_classified(void **state)
{
	struct fakemongo *fm = *state;
	char msg[512];

	/* A primary shutting down: try again later. */
	fake_set_write_error(fm, 91);
	assert_int_equal(failing_commit(fm, msg, sizeof(msg)), MSB_TEMPFAIL);
	assert_non_null(strstr(msg, "MongoDB unavailable"));
	fake_set_write_error(fm, 0);

	/* The write concern timed out: the rerun will complete it. */
	fake_set_wc_error(fm, 64);
	assert_int_equal(failing_commit(fm, msg, sizeof(msg)), MSB_TEMPFAIL);
	assert_non_null(strstr(msg, "write concern"));
	/* A write concern that can never be met. */
	fake_set_wc_error(fm, 100);
	assert_int_equal(failing_commit(fm, msg, sizeof(msg)), MSB_ERROR);
	fake_set_wc_error(fm, 0);

	/* The connection drops in the middle of an insert. */
	fake_set_hangup(fm, true);
	assert_int_equal(failing_commit(fm, msg, sizeof(msg)), MSB_TEMPFAIL);
	fake_set_hangup(fm, false);
}

/*
 * What only a sink left with libmongoc's socketTimeoutMS (300 s) waits
 * for a server that stopped answering (the test's time limit ends it
 * first); the library's default, 30 s, stays well below it.
 */
#define SILENT_HANG_MS	150000

/* A server that accepts a write and never answers: MSB_TEMPFAIL, once
 * the socket timeout passes, not after libmongoc's five minutes. */
static void
silent_server_is_a_tempfail(void **state)
{
	struct fakemongo *fm = *state;
	struct msb_sink *sink = open_fake(fm, "");
	int64_t start, took;

	assert_int_equal(add_rows(sink, 300, 302), MSB_OK);
	fake_set_silent(fm, true);
	start = tu_now_ms();
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_TEMPFAIL);
	took = tu_now_ms() - start;
	assert_non_null(strstr(msb_sink_error(sink), "MongoDB unavailable"));
	msb_sink_close(sink);
	fake_set_silent(fm, false);
	if (took > SILENT_HANG_MS * tu_time_factor())
		fail_msg("took %lld ms", (long long)took);
}

/*
 * The result's store_error is the store's first reason for refusing a
 * document, not the sink's last message: a later batch refused for
 * another reason, then a document the sink itself refused.
 */
static void
store_error_is_the_first_reason(void **state)
{
	struct fakemongo *fm = *state;
	struct msb_sink *sink = open_fake(fm, "");
	char *dir = tu_mkdtemp("result"), *path = tu_join(dir, "r.json");
	bson_t bad = BSON_INITIALIZER;
	char *json;

	fake_set_write_error(fm, 121);		/* validation */
	assert_int_equal(add_rows(sink, 400, 401), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_OK);
	fake_set_write_error(fm, 2);		/* BadValue */
	assert_int_equal(add_rows(sink, 402, 402), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_OK);
	fake_set_write_error(fm, 0);
	BSON_APPEND_INT32(&bad, "a.b", 1);
	assert_int_equal(msb_sink_add(sink, &bad), MSB_BADDOC);
	bson_destroy(&bad);
	assert_non_null(strstr(msb_sink_error(sink), "document refused"));

	assert_int_equal(msb_result_write_sink(path, 4, 0, sink, NULL),
	    MSB_OK);
	json = tu_read_file(path, NULL);
	assert_non_null(json);
	assert_non_null(strstr(json, "\"store_rejected\" : 3"));
	if (strstr(json, "\"store_error\" : \"MongoDB: insert") == NULL ||
	    strstr(json, "(code 121)") == NULL || strstr(json, "code 2)") !=
	    NULL || strstr(json, "document refused") != NULL)
		fail_msg("store_error is not the first reason: %s", json);
	free(json);
	msb_sink_close(sink);
	tu_rmtree(dir);
	free(path);
	free(dir);
}

/* Commits rows 200..202 while the fake fails each document; returns
 * the sink's counts, msg its message. */
static void
rejecting_commit(struct fakemongo *fm, struct msb_sink_stats *st, char *msg,
    size_t len)
{
	struct msb_sink *sink = open_fake(fm, "");

	assert_int_equal(add_rows(sink, 200, 202), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_OK);
	msb_sink_stats(sink, st);
	snprintf(msg, len, "%s", msb_sink_error(sink));
	/* Rejections do not stick: the sink goes on. */
	fake_set_write_error(fm, 0);
	assert_int_equal(add_rows(sink, 203, 203), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_OK);
	msb_sink_close(sink);
}

static void
documents_refused_for_good_are_rejected(void **state)
{
	struct fakemongo *fm = *state;
	struct msb_sink_stats st;
	char msg[512];

	/* Validation: rejected with the server's reason, never stored. */
	fake_set_write_error(fm, 121);
	rejecting_commit(fm, &st, msg, sizeof(msg));
	assert_int_equal(st.inserted, 0);
	assert_int_equal(st.already_present, 0);
	assert_int_equal(st.rejected, 3);
	assert_non_null(strstr(msg, "3 of 3 documents rejected"));
	assert_non_null(strstr(msg, "code 121"));

	/* A duplicate key of another unique index is no rerun. */
	fake_set_write_error(fm, 11000);
	fake_set_dup_key(fm, "email");
	rejecting_commit(fm, &st, msg, sizeof(msg));
	fake_set_dup_key(fm, "_id");
	assert_int_equal(st.inserted, 0);
	assert_int_equal(st.already_present, 0);
	assert_int_equal(st.rejected, 3);
	assert_non_null(strstr(msg, "index: email_1"));
	assert_int_equal(fake_count(fm), 1);	/* row 203 */
}

/*
 * A rejected document is named by its _id, cut to 80 bytes: never inside
 * a UTF-8 character, or the sink's message is not UTF-8 and the result
 * summary that carries it (store_error) cannot be written.
 */
static void
rejected_long_id_keeps_the_summary(void **state)
{
	struct fakemongo *fm = *state;
	struct msb_sink *sink = open_fake(fm, "");
	struct msb_sink_stats st;
	char *dir = tu_mkdtemp("sinkmongo"), *path = tu_join(dir, "r.json");
	char id[128] = "a", *text;
	bson_t doc = BSON_INITIALIZER, *result;
	bson_iter_t it;
	const char *msg;

	/* { "_id" : "a then "é" from byte 12: the cut at 77 splits one. */
	for (int i = 0; i < 40; i++)
		strcat(id, "\xc3\xa9");
	BSON_APPEND_UTF8(&doc, "_id", id);
	fake_set_write_error(fm, 121);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_OK);
	fake_set_write_error(fm, 0);
	msb_sink_stats(sink, &st);
	assert_int_equal(st.rejected, 1);
	msg = msb_sink_error(sink);
	if (!bson_utf8_validate(msg, strlen(msg), false))
		fail_msg("not UTF-8: %s", msg);
	assert_non_null(strstr(msg, "{ \"_id\" : \"a\xc3\xa9"));
	assert_non_null(strstr(msg, "\xc3\xa9...: "));
	if (msb_result_write_sink(path, 1, 0, sink, NULL) != MSB_OK)
		fail_msg("msb_result_write_sink: %s", strerror(errno));
	msb_sink_close(sink);

	text = tu_read_file(path, NULL);
	assert_non_null(text);
	result = bson_new_from_json((const uint8_t *)text, -1, NULL);
	assert_non_null(result);
	assert_true(bson_iter_init_find(&it, result, "store_error"));
	assert_non_null(strstr(bson_iter_utf8(&it, NULL), "code 121"));
	bson_destroy(result);
	free(text);
	bson_destroy(&doc);
	tu_rmtree(dir);
	free(path);
	free(dir);
}

static void
refused_documents_leave_the_sink_usable(void **state)
{
	struct fakemongo *fm = *state;
	struct msb_sink *sink = open_fake(fm, "");
	bson_t doc = BSON_INITIALIZER;

	BSON_APPEND_INT32(&doc, "a.b", 1);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_BADDOC);
	bson_reinit(&doc);
	BSON_APPEND_INT32(&doc, "x", 1);	/* no _id: an ObjectId */
	assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_OK);
	bson_destroy(&doc);
	msb_sink_close(sink);
	assert_int_equal(fake_count(fm), 1);
}

/* Upserts {_id: id, v: value} for each id; returns the first failure. */
static int
upsert_ids(struct msb_sink *sink, const int64_t *ids, size_t n,
    const char *value)
{
	for (size_t i = 0; i < n; i++) {
		bson_t doc = BSON_INITIALIZER;
		int rc;

		BSON_APPEND_INT64(&doc, "_id", ids[i]);
		BSON_APPEND_UTF8(&doc, "v", value);
		rc = msb_sink_upsert(sink, &doc);
		bson_destroy(&doc);
		if (rc != MSB_OK)
			return rc;
	}
	return MSB_OK;
}

/* Asserts that the fake holds the document of id with v == value. */
static void
assert_value(struct fakemongo *fm, const char *id, const char *value)
{
	bson_t *doc = fake_find(fm, id);
	bson_iter_t it;

	if (doc == NULL)
		fail_msg("%s: not stored", id);
	assert_true(bson_iter_init_find(&it, doc, "v"));
	assert_string_equal(bson_iter_utf8(&it, NULL), value);
	bson_destroy(doc);
}

static void
upserts_keep_each_id_once_with_the_latest(void **state)
{
	static const int64_t ids[] = { 1, 2, 3, 4, 5 };
	struct fakemongo *fm = *state;
	struct msb_sink *sink = open_fake(fm, "");
	struct msb_sink_stats st;
	char id[32];

	/* 3 twice in one unit, in one batch: the second one wins. */
	assert_int_equal(upsert_ids(sink, ids, 5, "v1"), MSB_OK);
	assert_int_equal(upsert_ids(sink, &ids[2], 1, "v1-again"), MSB_OK);
	if (msb_sink_commit(sink, NULL) != MSB_OK)
		fail_msg("commit: %s", msb_sink_error(sink));
	assert_int_equal(fake_count(fm), 5);
	assert_value(fm, "i:1", "v1");
	assert_value(fm, "i:3", "v1-again");

	/* The next unit: the same ids, new values, in batches of 2. */
	assert_int_equal(msb_sink_set_batch_size(sink, 2), MSB_OK);
	assert_int_equal(upsert_ids(sink, ids, 5, "v2"), MSB_OK);
	if (msb_sink_commit(sink, NULL) != MSB_OK)
		fail_msg("commit: %s", msb_sink_error(sink));
	assert_int_equal(fake_count(fm), 5);
	for (int i = 1; i <= 5; i++) {
		snprintf(id, sizeof(id), "i:%d", i);
		assert_value(fm, id, "v2");
	}
	msb_sink_stats(sink, &st);
	assert_int_equal(st.added, 11);
	assert_int_equal(st.inserted, 11);	/* 5 new, 6 replaced */
	assert_int_equal(st.already_present, 0);
	assert_int_equal(st.units, 2);
	/* Unit 1 sent twice (3 came again), unit 2 in 3 batches. */
	assert_int_equal(fake_updates(fm), 5);
	assert_int_equal(fake_inserts(fm), 0);

	/* Inserts and upserts in one unit go in batches of their own. */
	assert_int_equal(add_rows(sink, 1, 2), MSB_OK);
	assert_int_equal(upsert_ids(sink, ids, 1, "v3"), MSB_OK);
	assert_int_equal(add_rows(sink, 3, 3), MSB_OK);
	if (msb_sink_commit(sink, NULL) != MSB_OK)
		fail_msg("commit: %s", msb_sink_error(sink));
	assert_int_equal(fake_count(fm), 8);
	assert_value(fm, "i:1", "v3");
	assert_int_equal(fake_inserts(fm), 2);
	msb_sink_close(sink);
}

static void
upserts_refuse_bad_documents(void **state)
{
	struct fakemongo *fm = *state;
	struct msb_sink *sink = open_fake(fm, "");
	bson_t doc = BSON_INITIALIZER, arr;

	BSON_APPEND_UTF8(&doc, "v", "no id");
	assert_int_equal(msb_sink_upsert(sink, &doc), MSB_BADDOC);
	assert_non_null(strstr(msb_sink_error(sink), "needs an _id"));
	bson_reinit(&doc);
	BSON_APPEND_ARRAY_BEGIN(&doc, "_id", &arr);
	BSON_APPEND_INT32(&arr, "0", 1);
	bson_append_array_end(&doc, &arr);
	assert_int_equal(msb_sink_upsert(sink, &doc), MSB_BADDOC);
	assert_non_null(strstr(msb_sink_error(sink), "_id is an array"));
	bson_reinit(&doc);
	BSON_APPEND_UTF8(&doc, "_id", "k");
	BSON_APPEND_INT32(&doc, "a.b", 1);
	assert_int_equal(msb_sink_upsert(sink, &doc), MSB_BADDOC);

	/* Still usable; nothing refused reached the server. */
	bson_reinit(&doc);
	BSON_APPEND_UTF8(&doc, "_id", "k");
	BSON_APPEND_UTF8(&doc, "v", "ok");
	assert_int_equal(msb_sink_upsert(sink, &doc), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_OK);
	bson_destroy(&doc);
	msb_sink_close(sink);
	assert_int_equal(fake_count(fm), 1);
	assert_value(fm, "s:k", "ok");
}

static void
upsert_failures_are_classified(void **state)
{
	static const int64_t ids[] = { 7 };
	struct fakemongo *fm = *state;
	struct msb_sink *sink;
	struct msb_sink_stats st;

	/* Refused for good: rejected, and the sink goes on. */
	fake_set_write_error(fm, 121);
	sink = open_fake(fm, "");
	assert_int_equal(upsert_ids(sink, ids, 1, "x"), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_OK);
	assert_non_null(strstr(msb_sink_error(sink), "upsert"));
	assert_non_null(strstr(msb_sink_error(sink), "code 121"));
	msb_sink_stats(sink, &st);
	assert_int_equal(st.inserted, 0);
	assert_int_equal(st.rejected, 1);
	msb_sink_close(sink);

	/* Another unique index: rejected too. */
	fake_set_write_error(fm, 11000);
	fake_set_dup_key(fm, "email");
	sink = open_fake(fm, "");
	assert_int_equal(upsert_ids(sink, ids, 1, "x"), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_OK);
	msb_sink_stats(sink, &st);
	assert_int_equal(st.rejected, 1);
	msb_sink_close(sink);
	fake_set_dup_key(fm, "_id");

	/* A duplicate _id means a racing writer, not a rerun: try again. */
	sink = open_fake(fm, "");
	assert_int_equal(upsert_ids(sink, ids, 1, "x"), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_TEMPFAIL);
	msb_sink_close(sink);

	/* FerretDB v1 names no index: with _id the only unique one, it is
	 * the _id's, a racing writer's, as above. */
	fake_set_dup_unnamed(fm, true);
	sink = open_fake(fm, "");
	assert_int_equal(upsert_ids(sink, ids, 1, "x"), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_TEMPFAIL);
	assert_non_null(strstr(msb_sink_error(sink), "another writer"));
	msb_sink_stats(sink, &st);
	assert_int_equal(st.rejected, 0);
	msb_sink_close(sink);
	/* With another unique index, that index's: rejected. */
	fake_set_dup_key(fm, "email");
	sink = open_fake(fm, "");
	assert_int_equal(upsert_ids(sink, ids, 1, "x"), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_OK);
	msb_sink_stats(sink, &st);
	assert_int_equal(st.rejected, 1);
	msb_sink_close(sink);
	fake_set_dup_key(fm, "_id");
	fake_set_dup_unnamed(fm, false);
	fake_set_write_error(fm, 0);

	fake_set_hangup(fm, true);
	sink = open_fake(fm, "");
	assert_int_equal(upsert_ids(sink, ids, 1, "x"), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_TEMPFAIL);
	msb_sink_close(sink);
	fake_set_hangup(fm, false);
	assert_int_equal(fake_count(fm), 0);
}

static int
init(void **state)
{
	return msb_init();
}

static int
cleanup(void **state)
{
	msb_cleanup();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(closed_port_is_a_quick_tempfail),
		cmocka_unit_test(default_timeout_is_short),
		cmocka_unit_test(malformed_url_is_permanent_and_secret),
		cmocka_unit_test(unacknowledged_write_concern_is_refused),
		cmocka_unit_test_setup_teardown(
		    documents_refused_for_good_are_rejected, fake_setup,
		    fake_teardown),
		cmocka_unit_test_setup_teardown(
		    rerun_duplicates_count_as_success, fake_setup,
		    fake_teardown),
		cmocka_unit_test_setup_teardown(
		    second_commit_of_a_key_is_refused, fake_setup,
		    fake_teardown),
		cmocka_unit_test_setup_teardown(write_concern_is_sent,
		    fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(server_failures_are_classified,
		    fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(
		    rejected_long_id_keeps_the_summary, fake_setup,
		    fake_teardown),
		cmocka_unit_test_setup_teardown(
		    refused_documents_leave_the_sink_usable, fake_setup,
		    fake_teardown),
		cmocka_unit_test_setup_teardown(
		    upserts_keep_each_id_once_with_the_latest, fake_setup,
		    fake_teardown),
		cmocka_unit_test_setup_teardown(upserts_refuse_bad_documents,
		    fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(store_error_is_the_first_reason,
		    fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(silent_server_is_a_tempfail,
		    fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(upsert_failures_are_classified,
		    fake_setup, fake_teardown),
	};

	return cmocka_run_group_tests(tests, init, cleanup);
}

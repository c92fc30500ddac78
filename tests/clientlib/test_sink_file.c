/*
 * The embedded store (file://DIR): a unit of work is one file of
 * concatenated BSON under DIR/<db>/<collection>/; rerunning a unit
 * replaces its file, so its documents are there exactly once. An
 * upserted document is a file of its own named after its _id, so a
 * reader of the folder sees each _id once, with its latest document.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mysimbdp.h>

#include "util.h"

/* clientlib/mysimbdp-internal.h: hash jobs wait to read while on. */
void msb__hashjob_hold(bool on);

static const char hash_a[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char hash_b[] =
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";

struct store {
	char	*dir;		/* the temporary folder */
	char	*url;		/* file://<dir>/store */
	char	*coll;		/* <dir>/store/acme/listings */
};

static int
setup(void **state)
{
	struct store *s = calloc(1, sizeof(*s));

	s->dir = tu_mkdtemp("store");
	if (asprintf(&s->url, "file://%s/store", s->dir) == -1 ||
	    asprintf(&s->coll, "%s/store/acme/listings", s->dir) == -1)
		return -1;
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	struct store *s = *state;

	tu_rmtree(s->dir);
	free(s->dir);
	free(s->url);
	free(s->coll);
	free(s);
	return 0;
}

static struct msb_sink *
open_sink(const struct store *s)
{
	struct msb_sink *sink;
	char err[512];

	if (msb_sink_open(&sink, s->url, "acme", "listings", err,
	    sizeof(err)) != MSB_OK)
		fail_msg("msb_sink_open: %s", err);
	assert_string_equal(msb_sink_kind(sink), "file");
	return sink;
}

/* Adds rows 1..n of content hash to sink as one unit keyed by hash. */
static void
write_unit(struct msb_sink *sink, const char *hash, uint64_t n)
{
	for (uint64_t row = 1; row <= n; row++) {
		bson_t doc = BSON_INITIALIZER;

		assert_int_equal(msb_doc_append_id(&doc, hash, row), MSB_OK);
		BSON_APPEND_INT64(&doc, "row", (int64_t)row);
		BSON_APPEND_UTF8(&doc, "name", "Sunny loft");
		assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
		bson_destroy(&doc);
	}
	if (msb_sink_commit(sink, hash) != MSB_OK)
		fail_msg("commit: %s", msb_sink_error(sink));
}

/* Counts the .bson files of the collection and the documents in them;
 * fails on a leftover temporary file. */
static void
count_store(const char *coll, size_t *files, size_t *docs)
{
	DIR *d = opendir(coll);
	struct dirent *de;

	assert_non_null(d);
	*files = *docs = 0;
	while ((de = readdir(d)) != NULL) {
		bson_reader_t *r;
		bson_error_t error;
		char *path;
		bool eof = false;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name,
		    "..") == 0)
			continue;
		if (de->d_name[0] == '.')
			fail_msg("temporary file left: %s", de->d_name);
		assert_non_null(strstr(de->d_name, ".bson"));
		(*files)++;
		path = tu_join(coll, de->d_name);
		r = bson_reader_new_from_file(path, &error);
		if (r == NULL)
			fail_msg("%s: %s", path, error.message);
		while (bson_reader_read(r, &eof) != NULL)
			(*docs)++;
		/* The whole file is documents: nothing torn at the end. */
		assert_true(eof);
		bson_reader_destroy(r);
		free(path);
	}
	closedir(d);
}

static void
open_needs_init_and_valid_names(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink;
	char err[256];

	/* Runs first: msb_init() has not been called yet. */
	assert_int_equal(msb_sink_open(&sink, s->url, "acme", "listings",
	    err, sizeof(err)), MSB_ERROR);
	assert_string_equal(err, "msb_init() was not called");
	assert_null(sink);

	msb_init();
	assert_int_equal(msb_sink_open(&sink, s->url, "acme", "../etc", err,
	    sizeof(err)), MSB_ERROR);
	assert_non_null(strstr(err, "bad collection name"));
	assert_int_equal(msb_sink_open(&sink, s->url, "ac/me", "x", err,
	    sizeof(err)), MSB_ERROR);
	assert_non_null(strstr(err, "bad database name"));
	assert_int_equal(msb_sink_open(&sink, "file://", "acme", "x", err,
	    sizeof(err)), MSB_ERROR);
	assert_int_equal(msb_sink_open(&sink, "ftp://x", "acme", "x", err,
	    sizeof(err)), MSB_ERROR);
	assert_non_null(strstr(err, "MONGO_URL: must start with"));
}

static void
unit_is_one_file_of_bson(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	struct msb_sink_stats st;
	bson_reader_t *r;
	const bson_t *doc;
	bson_iter_t it;
	struct stat sb;
	char *path, id[MSB_DOC_ID_SIZE];
	size_t files, docs;
	uint64_t row = 0;
	bool eof;

	write_unit(sink, hash_a, 3);
	msb_sink_stats(sink, &st);
	assert_int_equal(st.added, 3);
	assert_int_equal(st.inserted, 3);
	assert_int_equal(st.units, 1);
	msb_sink_close(sink);

	assert_int_equal(stat(s->coll, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	count_store(s->coll, &files, &docs);
	assert_int_equal(files, 1);
	assert_int_equal(docs, 3);

	/* Named after the unit's key; documents in order, ids as built. */
	if (asprintf(&path, "%s/%s.bson", s->coll, hash_a) == -1)
		fail_msg("asprintf");
	r = bson_reader_new_from_file(path, NULL);
	assert_non_null(r);
	while ((doc = bson_reader_read(r, &eof)) != NULL) {
		row++;
		assert_true(bson_iter_init_find(&it, doc, "_id"));
		assert_string_equal(bson_iter_utf8(&it, NULL),
		    msb_doc_id(id, hash_a, row));
	}
	assert_int_equal(row, 3);
	bson_reader_destroy(r);
	free(path);
}

static void
rerun_replaces_instead_of_duplicating(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink;
	size_t files, docs;

	for (int run = 0; run < 3; run++) {
		sink = open_sink(s);
		write_unit(sink, hash_a, 3);
		msb_sink_close(sink);
	}
	count_store(s->coll, &files, &docs);
	assert_int_equal(files, 1);
	assert_int_equal(docs, 3);
}

static void
different_unit_is_a_separate_file(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	size_t files, docs;

	write_unit(sink, hash_a, 3);
	write_unit(sink, hash_b, 2);	/* two units through one sink */
	msb_sink_close(sink);
	count_store(s->coll, &files, &docs);
	assert_int_equal(files, 2);
	assert_int_equal(docs, 5);

	/* A rerun of the first file that now gives fewer rows. */
	sink = open_sink(s);
	write_unit(sink, hash_a, 1);
	msb_sink_close(sink);
	count_store(s->coll, &files, &docs);
	assert_int_equal(files, 2);
	assert_int_equal(docs, 3);
}

/* Adds {_id: first..first+n-1} to sink and commits the unit as key. */
static void
commit_ints(struct msb_sink *sink, const char *key, int first, int n)
{
	for (int i = first; i < first + n; i++) {
		bson_t doc = BSON_INITIALIZER;

		BSON_APPEND_INT32(&doc, "_id", i);
		assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
		bson_destroy(&doc);
	}
	if (msb_sink_commit(sink, key) != MSB_OK)
		fail_msg("commit: %s", msb_sink_error(sink));
}

/*
 * A key that is not a plain name (200 characters) is named after its
 * first 64 characters and a hash of it; a second key that is exactly
 * that name, a plain name, must not get the same file: both units are
 * kept, each counted once, and a rerun of either replaces its own file.
 */
static void
plain_and_hashed_names_never_meet(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	struct msb_sink_stats st;
	char k1[201], k2[100], hex[MSB_HASH_HEX_SIZE];
	size_t files, docs;

	memset(k1, 'a', 200);
	k1[200] = '\0';
	msb_sha256_hex(k1, 200, hex);
	snprintf(k2, sizeof(k2), "%.64s-%.16s", k1, hex);
	commit_ints(sink, k1, 0, 3);
	commit_ints(sink, k2, 99, 1);
	msb_sink_stats(sink, &st);
	assert_int_equal(st.inserted, 4);
	assert_int_equal(st.already_present, 0);
	msb_sink_close(sink);
	count_store(s->coll, &files, &docs);
	assert_int_equal(files, 2);
	assert_int_equal(docs, 4);

	/* The other order, in new sinks: each a rerun of its own unit. */
	sink = open_sink(s);
	commit_ints(sink, k2, 99, 1);
	commit_ints(sink, k1, 0, 3);
	msb_sink_stats(sink, &st);
	assert_int_equal(st.inserted, 0);
	assert_int_equal(st.already_present, 4);
	msb_sink_close(sink);
	count_store(s->coll, &files, &docs);
	assert_int_equal(files, 2);
	assert_int_equal(docs, 4);
}

/* Adds rows from..to of content hash to sink, uncommitted. */
static void
add_rows(struct msb_sink *sink, const char *hash, uint64_t from, uint64_t to)
{
	for (uint64_t row = from; row <= to; row++) {
		bson_t doc = BSON_INITIALIZER;

		assert_int_equal(msb_doc_append_id(&doc, hash, row), MSB_OK);
		BSON_APPEND_INT64(&doc, "row", (int64_t)row);
		assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
		bson_destroy(&doc);
	}
}

/*
 * A key names one whole unit: a second commit of it through the same
 * sink would replace the first unit's file (its documents counted
 * inserted, then gone). It is refused, and the first unit stays.
 */
static void
second_commit_of_a_key_is_refused(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	struct msb_sink_stats st;
	size_t files, docs;

	add_rows(sink, hash_a, 1, 2);
	assert_int_equal(msb_sink_commit(sink, hash_a), MSB_OK);
	add_rows(sink, hash_a, 3, 5);
	assert_int_equal(msb_sink_commit(sink, hash_a), MSB_ERROR);
	assert_non_null(strstr(msb_sink_error(sink), "committed already"));
	assert_non_null(strstr(msb_sink_error(sink), hash_a));
	/* Sticky, as any MSB_ERROR. */
	assert_int_equal(msb_sink_commit(sink, hash_b), MSB_ERROR);
	msb_sink_stats(sink, &st);
	assert_int_equal(st.inserted, 2);
	assert_int_equal(st.already_present, 0);
	assert_int_equal(st.units, 1);
	msb_sink_close(sink);
	count_store(s->coll, &files, &docs);
	assert_int_equal(files, 1);
	assert_int_equal(docs, 2);

	/* Another sink (a rerun) may commit the key again. */
	sink = open_sink(s);
	write_unit(sink, hash_a, 2);
	msb_sink_stats(sink, &st);
	assert_int_equal(st.already_present, 2);
	msb_sink_close(sink);
}

static void
uncommitted_documents_are_dropped(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	bson_t doc = BSON_INITIALIZER;
	size_t files, docs;

	BSON_APPEND_UTF8(&doc, "_id", "lost");
	assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
	bson_destroy(&doc);
	msb_sink_close(sink);
	count_store(s->coll, &files, &docs);	/* fails on a .unit-*.tmp */
	assert_int_equal(files, 0);
	assert_int_equal(docs, 0);
}

/*
 * Keys of every length to 24 with a '.', a truncated or a whole UTF-8
 * sequence at every place, each followed by a value whose bytes are '.'
 * or non-ASCII: the check reads keys eight bytes at a time, and nothing
 * past a key's NUL may count as the key's.
 */
static void
keys_checked_at_every_place(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	bson_t doc = BSON_INITIALIZER;
	char key[32];

	for (size_t len = 1; len <= 24; len++) {
		for (size_t p = 0; p < len; p++) {
			static const struct {
				const char	*put;
				int		 rc;
			} cases[] = {
				{ ".", MSB_BADDOC },
				{ "\xc3", MSB_BADDOC },
				{ "\xc3\xa9", MSB_OK },
				{ "k", MSB_OK },
			};

			for (size_t c = 0; c < 4; c++) {
				size_t n = strlen(cases[c].put);

				if (p + n > len)
					continue;
				memset(key, 'k', len);
				memcpy(key + p, cases[c].put, n);
				bson_reinit(&doc);
				bson_append_int32(&doc, key, (int)len,
				    0x2e2e2e2e);
				bson_append_double(&doc, "d", 1, -1.5e300);
				bson_append_int32(&doc, key, (int)len, -1);
				if (msb_sink_add(sink, &doc) != cases[c].rc)
					fail_msg("length %zu, \"%s\" at %zu: "
					    "%s", len, cases[c].put, p,
					    msb_sink_error(sink));
			}
		}
	}
	bson_destroy(&doc);
	msb_sink_close(sink);
}

/*
 * msb_sink_add_docbuild skips the walk only for what the builder checked
 * as it appended: every document below gets the same answer, with the
 * same reason, as msb_sink_add of the same bytes.
 */
static void
docbuild_answers_as_the_walk(void **state)
{
	static const struct {
		const char	*key;
		size_t		 keylen;
		const char	*val;
		size_t		 vallen;
		bool		 in_array;
	} cases[] = {
#define S(x) x, sizeof(x) - 1
		{ S("ok"), S("text"), false },
		{ S(""), S("x"), false },
		{ S("$set"), S("x"), false },
		{ S("a.b"), S("x"), false },
		{ S("caf\xc3"), S("x"), false },
		{ S("caf\xc3\xa9"), S("x"), false },
		{ S("s"), S("\xff\xfe"), false },
		{ S("s"), S("a\0b"), false },
		{ S("s"), S("caf\xc3\xa9 and more text past eight"), false },
		{ S("s"), S("eight b\xc3"), false },
		{ S("x.y"), S("x"), true },	/* an array's keys are free */
		{ S("$x"), S("x"), true },
		{ S("k\xc3"), S("x"), true },
#undef S
	};
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	struct msb_docbuild *b = msb_docbuild_new();
	char walked[1024];
	bson_t view;

	assert_non_null(b);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r1, r2;

		msb_docbuild_reset(b);
		msb_docbuild_int64(b, "_id", 3, (int64_t)i);
		msb_docbuild_begin(b, "sub", 3, cases[i].in_array);
		msb_docbuild_utf8(b, cases[i].key, cases[i].keylen,
		    cases[i].val, cases[i].vallen);
		msb_docbuild_end(b);
		assert_int_equal(msb_docbuild_bson(b, &view), MSB_OK);
		r1 = msb_sink_add(sink, &view);
		snprintf(walked, sizeof(walked), "%s", msb_sink_error(sink));
		r2 = msb_sink_add_docbuild(sink, b);
		if (r1 != r2 || (r1 != MSB_OK && strcmp(walked,
		    msb_sink_error(sink)) != 0))
			fail_msg("case %zu: msb_sink_add %d (%s), "
			    "msb_sink_add_docbuild %d (%s)", i, r1, walked, r2,
			    msb_sink_error(sink));
	}
	/* The builder's own failure is the document's. */
	msb_docbuild_reset(b);
	msb_docbuild_null(b, "a\0b", 3);
	assert_int_equal(msb_sink_add_docbuild(sink, b), MSB_BADDOC);
	assert_string_equal(msb_sink_error(sink),
	    "document refused: a key holds a NUL byte");
	msb_docbuild_free(b);
	msb_sink_close(sink);
}

/*
 * A document whose _id is there twice is refused by every way in, as
 * MongoDB and FerretDB refuse it: the file store stored it and counted it
 * inserted. A subdocument may hold a key _id of its own.
 */
static void
repeated_id_is_refused(void **state)
{
	static const char why[] = "document refused: _id is there twice (a "
	    "key may not repeat)";
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	struct msb_docbuild *b = msb_docbuild_new();
	struct msb_sink_stats st;
	bson_t doc = BSON_INITIALIZER, sub;
	size_t files, docs;

	BSON_APPEND_INT32(&doc, "_id", 1);
	BSON_APPEND_INT32(&doc, "x", 1);
	BSON_APPEND_INT32(&doc, "_id", 2);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_BADDOC);
	assert_string_equal(msb_sink_error(sink), why);
	assert_int_equal(msb_sink_upsert(sink, &doc), MSB_BADDOC);
	assert_string_equal(msb_sink_error(sink), why);
	assert_int_equal(msb_sink_add_bson(sink, bson_get_data(&doc),
	    doc.len), MSB_BADDOC);
	/* Built: the builder leaves it to the sink's walk. */
	assert_non_null(b);
	msb_docbuild_int64(b, "_id", 3, 1);
	msb_docbuild_begin(b, "sub", 3, false);
	msb_docbuild_int64(b, "_id", 3, 2);	/* its own: fine */
	msb_docbuild_end(b);
	assert_int_equal(msb_sink_add_docbuild(sink, b), MSB_OK);
	msb_docbuild_reset(b);
	msb_docbuild_int64(b, "_id", 3, 1);
	msb_docbuild_int64(b, "_id", 3, 2);
	assert_int_equal(msb_sink_add_docbuild(sink, b), MSB_BADDOC);
	assert_string_equal(msb_sink_error(sink), why);
	/* One _id and a subdocument's: stored. */
	bson_reinit(&doc);
	BSON_APPEND_INT32(&doc, "_id", 2);
	BSON_APPEND_DOCUMENT_BEGIN(&doc, "sub", &sub);
	BSON_APPEND_INT32(&sub, "_id", 3);
	bson_append_document_end(&doc, &sub);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, hash_a), MSB_OK);
	msb_sink_stats(sink, &st);
	assert_int_equal(st.added, 2);
	assert_int_equal(st.inserted, 2);
	msb_docbuild_free(b);
	bson_destroy(&doc);
	msb_sink_close(sink);
	count_store(s->coll, &files, &docs);
	assert_int_equal(docs, 2);
}

static void
documents_are_checked_like_mongodb_does(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	bson_t doc = BSON_INITIALIZER;
	bson_reader_t *r;
	const bson_t *got;
	bson_iter_t it;
	DIR *d;
	struct dirent *de;
	char *path;
	size_t files, docs;

	BSON_APPEND_INT32(&doc, "a.b", 1);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_BADDOC);
	assert_non_null(strstr(msb_sink_error(sink), "document refused"));
	bson_reinit(&doc);
	BSON_APPEND_INT32(&doc, "$set", 1);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_BADDOC);
	/* Keys: empty, not UTF-8, '.' one level down. */
	bson_reinit(&doc);
	BSON_APPEND_INT32(&doc, "", 1);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_BADDOC);
	bson_reinit(&doc);
	BSON_APPEND_INT32(&doc, "caf\xc3", 1);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_BADDOC);
	assert_non_null(strstr(msb_sink_error(sink), "key is not valid UTF-8"));
	bson_reinit(&doc);
	{
		bson_t sub;

		BSON_APPEND_DOCUMENT_BEGIN(&doc, "d", &sub);
		BSON_APPEND_INT32(&sub, "ok", 1);
		BSON_APPEND_INT32(&sub, "x.y", 1);
		bson_append_document_end(&doc, &sub);
	}
	assert_int_equal(msb_sink_add(sink, &doc), MSB_BADDOC);
	bson_reinit(&doc);
	bson_append_utf8(&doc, "s", 1, "\xff\xfe", 2);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_BADDOC);
	/* Past the eight-bytes-at-a-time ASCII scan: a truncated sequence, a
	 * NUL and a stray continuation byte late in long strings. */
	bson_reinit(&doc);
	bson_append_utf8(&doc, "s", 1, "0123456789abcdefghij\xc3", 21);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_BADDOC);
	bson_reinit(&doc);
	bson_append_utf8(&doc, "s", 1, "0123456789abcdef\0xyz", 20);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_BADDOC);
	bson_reinit(&doc);
	bson_append_utf8(&doc, "s", 1, "01234567\x80", 9);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_BADDOC);

	/* The sink is still usable; a document without _id gets one;
	 * valid multi-byte text passes. */
	bson_reinit(&doc);
	BSON_APPEND_INT32(&doc, "x", 1);
	BSON_APPEND_INT32(&doc, "caf\xc3\xa9", 2);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
	bson_reinit(&doc);
	BSON_APPEND_UTF8(&doc, "_id", "utf8-ok");
	BSON_APPEND_UTF8(&doc, "s", "Caf\xc3\xa9 near the park, 10\xe2\x82\xac a night");
	assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, "odd/key with spaces"),
	    MSB_OK);
	bson_destroy(&doc);
	msb_sink_close(sink);

	count_store(s->coll, &files, &docs);
	assert_int_equal(files, 1);
	assert_int_equal(docs, 2);
	/* The key's odd characters are replaced, plus a hash of the key. */
	d = opendir(s->coll);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			break;
	assert_non_null(de);
	assert_int_equal(strncmp(de->d_name, "odd_key_with_spaces-", 20), 0);
	assert_int_equal(strlen(de->d_name), 20 + 16 + 5);
	path = tu_join(s->coll, de->d_name);
	closedir(d);
	r = bson_reader_new_from_file(path, NULL);
	got = bson_reader_read(r, NULL);
	assert_non_null(got);
	assert_true(bson_iter_init(&it, got));
	assert_true(bson_iter_next(&it));
	assert_string_equal(bson_iter_key(&it), "_id");
	assert_int_equal(bson_iter_type(&it), BSON_TYPE_OID);
	bson_reader_destroy(r);
	free(path);
}

/*
 * A unit of 20 MB, over the sink's write buffer and the span after which
 * it starts writeback, with documents larger than the buffer among them:
 * every document is in the file, in order, and nothing else.
 */
static void
large_unit_is_whole(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	static char text[300 * 1024];
	size_t files, docs, want = 0;
	struct stat st;
	char *path;

	memset(text, 'x', sizeof(text) - 1);
	for (uint64_t row = 1; row <= 4000; row++) {
		bson_t doc = BSON_INITIALIZER;
		/* Every 100th row is larger than the 256 KiB buffer. */
		size_t len = row % 100 == 0 ? sizeof(text) - 1 : 3000;

		assert_int_equal(msb_doc_append_id(&doc, hash_a, row), MSB_OK);
		bson_append_utf8(&doc, "text", 4, text, (int)len);
		want += doc.len;
		assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
		bson_destroy(&doc);
	}
	assert_int_equal(msb_sink_commit(sink, hash_a), MSB_OK);
	msb_sink_close(sink);
	count_store(s->coll, &files, &docs);
	assert_int_equal(files, 1);
	assert_int_equal(docs, 4000);
	assert_true(asprintf(&path, "%s/%s.bson", s->coll, hash_a) != -1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((size_t)st.st_size, want);
	free(path);
}

/*
 * A write that fails (here EFBIG past RLIMIT_FSIZE) is said, by an add
 * or at the latest by the commit; the unit is not stored, nothing is
 * counted, and no temporary file stays.
 */
static void
failed_write_is_said_and_nothing_stored(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	struct rlimit old, small = { 1024 * 1024, 1024 * 1024 };
	static char text[3000];
	struct msb_sink_stats st;
	size_t files, docs;
	void (*xfsz)(int);
	int rc = MSB_OK;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	if (small.rlim_cur > old.rlim_cur)
		skip();
	xfsz = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	memset(text, 'x', sizeof(text) - 1);
	/* 4,000 documents of 3 KB: 12 MB, far past the limit. */
	for (uint64_t row = 1; row <= 4000 && rc == MSB_OK; row++) {
		bson_t doc = BSON_INITIALIZER;

		assert_int_equal(msb_doc_append_id(&doc, hash_a, row), MSB_OK);
		BSON_APPEND_UTF8(&doc, "text", text);
		rc = msb_sink_add(sink, &doc);
		bson_destroy(&doc);
	}
	if (rc == MSB_OK)
		rc = msb_sink_commit(sink, hash_a);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, xfsz);
	assert_int_not_equal(rc, MSB_OK);
	assert_non_null(strstr(msb_sink_error(sink), "write: File too large"));
	msb_sink_stats(sink, &st);
	assert_int_equal(st.inserted, 0);
	msb_sink_close(sink);
	count_store(s->coll, &files, &docs);
	assert_int_equal(files, 0);
}

/* {_id: 7 (when id), s: "xx..."} of exactly total bytes. */
static void
sized_doc(bson_t *doc, size_t total, bool id, char *text)
{
	/* The length and the NUL, then "s": type, key, length, its NUL. */
	size_t slen = total - 4 - 1 - (1 + 2 + 4 + 1) - (id ? 1 + 4 + 4 : 0);

	memset(text, 'x', slen);
	bson_init(doc);
	if (id)
		BSON_APPEND_INT32(doc, "_id", 7);
	bson_append_utf8(doc, "s", 1, text, (int)slen);
	assert_int_equal(doc->len, total);
}

/*
 * The 16 MiB limit is on the document as stored: one without _id gets an
 * ObjectId (17 bytes) first, so at 16 MiB it is over (MongoDB refuses it)
 * and 17 bytes less is the largest that is stored.
 */
static void
size_limit_counts_the_id_given(void **state)
{
	const size_t limit = 16 * 1024 * 1024;
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	struct msb_sink_stats st;
	bson_reader_t *r;
	const bson_t *got;
	char *text = malloc(limit), *path;
	bson_t doc;

	assert_non_null(text);
	sized_doc(&doc, limit, false, text);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_BADDOC);
	assert_string_equal(msb_sink_error(sink), "document refused: 16777233 "
	    "bytes with the ObjectId _id it would be given (17 bytes), the "
	    "limit is 16 MiB");
	bson_destroy(&doc);
	sized_doc(&doc, limit - 17, false, text);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
	bson_destroy(&doc);
	sized_doc(&doc, limit, true, text);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
	bson_destroy(&doc);
	assert_int_equal(msb_sink_commit(sink, hash_a), MSB_OK);
	msb_sink_stats(sink, &st);
	assert_int_equal(st.added, 2);
	assert_int_equal(st.inserted, 2);
	msb_sink_close(sink);
	free(text);

	assert_true(asprintf(&path, "%s/%s.bson", s->coll, hash_a) != -1);
	r = bson_reader_new_from_file(path, NULL);
	assert_non_null(r);
	for (int i = 0; i < 2; i++) {
		assert_non_null(got = bson_reader_read(r, NULL));
		assert_int_equal(got->len, limit);
	}
	assert_null(bson_reader_read(r, NULL));
	bson_reader_destroy(r);
	free(path);
}

/* Appends doc's bytes to the len bytes at *buf (realloc'd). */
static void
append_bytes(uint8_t **buf, size_t *len, const bson_t *doc)
{
	*buf = realloc(*buf, *len + doc->len);
	assert_non_null(*buf);
	memcpy(*buf + *len, bson_get_data(doc), doc->len);
	*len += doc->len;
}

/* Asserts that the collection's file name holds exactly len bytes at
 * want. */
static void
assert_file_bytes(const char *coll, const char *name, const uint8_t *want,
    size_t len)
{
	char *path = tu_join(coll, name), *got;
	size_t n;

	got = tu_read_file(path, &n);
	if (got == NULL)
		fail_msg("%s: cannot read", path);
	assert_int_equal(n, len);
	assert_memory_equal(got, want, len);
	free(got);
	free(path);
}

/*
 * Each stored document's _id comes first, as MongoDB (and FerretDB) store
 * it, wherever the app put it: last, in the middle, after a document
 * larger than the write buffer; added or upserted. The other elements
 * keep their order.
 */
static void
id_is_stored_first(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	static char text[300 * 1024];
	bson_t doc = BSON_INITIALIZER, want = BSON_INITIALIZER, sub;
	uint8_t *unit = NULL;
	size_t nunit = 0;
	char name[80];

	/* {x:1, _id:5} is stored as {_id:5, x:1}. */
	BSON_APPEND_INT32(&doc, "x", 1);
	BSON_APPEND_INT32(&doc, "_id", 5);
	BSON_APPEND_INT32(&want, "_id", 5);
	BSON_APPEND_INT32(&want, "x", 1);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
	append_bytes(&unit, &nunit, &want);
	/* In the middle, before a subdocument. */
	bson_reinit(&doc);
	bson_reinit(&want);
	BSON_APPEND_INT32(&doc, "a", 1);
	BSON_APPEND_UTF8(&doc, "_id", "m");
	BSON_APPEND_DOCUMENT_BEGIN(&doc, "b", &sub);
	BSON_APPEND_INT32(&sub, "c", 2);
	bson_append_document_end(&doc, &sub);
	BSON_APPEND_UTF8(&want, "_id", "m");
	BSON_APPEND_INT32(&want, "a", 1);
	BSON_APPEND_DOCUMENT_BEGIN(&want, "b", &sub);
	BSON_APPEND_INT32(&sub, "c", 2);
	bson_append_document_end(&want, &sub);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
	append_bytes(&unit, &nunit, &want);
	/* Larger than the write buffer, written without it. */
	memset(text, 'x', sizeof(text) - 1);
	bson_reinit(&doc);
	bson_reinit(&want);
	BSON_APPEND_UTF8(&doc, "s", text);
	BSON_APPEND_INT64(&doc, "_id", 9);
	BSON_APPEND_INT64(&want, "_id", 9);
	BSON_APPEND_UTF8(&want, "s", text);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
	append_bytes(&unit, &nunit, &want);
	/* First already: as it is. */
	bson_reinit(&doc);
	BSON_APPEND_INT32(&doc, "_id", 3);
	BSON_APPEND_INT32(&doc, "x", 1);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
	append_bytes(&unit, &nunit, &doc);
	/* An upsert, _id last. */
	bson_reinit(&doc);
	bson_reinit(&want);
	BSON_APPEND_INT32(&doc, "x", 1);
	BSON_APPEND_INT32(&doc, "y", 2);
	BSON_APPEND_INT32(&doc, "_id", 6);
	BSON_APPEND_INT32(&want, "_id", 6);
	BSON_APPEND_INT32(&want, "x", 1);
	BSON_APPEND_INT32(&want, "y", 2);
	assert_int_equal(msb_sink_upsert(sink, &doc), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, hash_a), MSB_OK);
	msb_sink_close(sink);

	assert_file_bytes(s->coll, "i=6.bson", bson_get_data(&want),
	    want.len);
	snprintf(name, sizeof(name), "%s.bson", hash_a);
	assert_file_bytes(s->coll, name, unit, nunit);
	free(unit);
	bson_destroy(&doc);
	bson_destroy(&want);
}

/* A document holding every BSON type, some nested. */
static void
every_type(bson_t *doc)
{
	static const uint8_t bin[] = { 1, 2, 3, 0, 5 };
	bson_decimal128_t dec = { 0 };
	bson_t sub, arr, scope = BSON_INITIALIZER;
	bson_oid_t oid;

	bson_oid_init_from_string(&oid, "5f1d7a2b9c8e4d3a2b1c0d9e");
	BSON_APPEND_UTF8(&scope, "x", "scope");
	BSON_APPEND_DOUBLE(doc, "double", 1.5);
	BSON_APPEND_UTF8(doc, "utf8", "Caf\xc3\xa9 near the park");
	BSON_APPEND_DOCUMENT_BEGIN(doc, "doc", &sub);
	BSON_APPEND_INT32(&sub, "in", 1);
	BSON_APPEND_ARRAY_BEGIN(&sub, "arr", &arr);
	BSON_APPEND_UTF8(&arr, "0", "first");
	BSON_APPEND_INT64(&arr, "1", 2);
	bson_append_array_end(&sub, &arr);
	bson_append_document_end(doc, &sub);
	bson_append_binary(doc, "bin", -1, BSON_SUBTYPE_BINARY, bin,
	    sizeof(bin));
	bson_append_binary(doc, "oldbin", -1, BSON_SUBTYPE_BINARY_DEPRECATED,
	    bin, sizeof(bin));
	BSON_APPEND_UNDEFINED(doc, "undefined");
	BSON_APPEND_OID(doc, "oid", &oid);
	BSON_APPEND_BOOL(doc, "bool", true);
	BSON_APPEND_DATE_TIME(doc, "date", 1700000000000);
	BSON_APPEND_NULL(doc, "null");
	BSON_APPEND_REGEX(doc, "regex", "^a.*b$", "im");
	bson_append_dbpointer(doc, "dbpointer", -1, "acme.listings", &oid);
	BSON_APPEND_CODE(doc, "code", "function () {}");
	BSON_APPEND_SYMBOL(doc, "symbol", "sym");
	BSON_APPEND_CODE_WITH_SCOPE(doc, "codewscope", "return x", &scope);
	BSON_APPEND_INT32(doc, "int32", -7);
	BSON_APPEND_TIMESTAMP(doc, "timestamp", 1700000000, 3);
	BSON_APPEND_INT64(doc, "int64", INT64_MAX);
	BSON_APPEND_DECIMAL128(doc, "decimal", &dec);
	BSON_APPEND_MAXKEY(doc, "maxkey");
	BSON_APPEND_MINKEY(doc, "minkey");
	bson_destroy(&scope);
}

/*
 * Adds the len bytes at buf as a document, both as a bson_t over them (as
 * an app may make one) and as bytes (msb_sink_add_bson, as the Python
 * package does): the two agree, and the test fails if the sink takes one
 * that libbson's bson_validate finds malformed. Returns whether it did.
 */
static bool
add_bytes(struct msb_sink *sink, const uint8_t *buf, size_t len,
    const char *what, size_t i)
{
	bool as_bytes = msb_sink_add_bson(sink, buf, len) == MSB_OK;
	bson_t b;
	size_t off;

	if (!bson_init_static(&b, buf, len)) {
		assert_false(as_bytes);
		return false;	/* not even a length and a NUL */
	}
	if (msb_sink_add(sink, &b) != MSB_OK) {
		if (as_bytes)
			fail_msg("%s %zu: passed as bytes only", what, i);
		return false;
	}
	if (!as_bytes)
		fail_msg("%s %zu: passed as a bson_t only", what, i);
	if (!bson_validate(&b, BSON_VALIDATE_NONE, &off))
		fail_msg("%s %zu: passed; bson_validate: malformed at %zu",
		    what, i, off);
	return true;
}

/*
 * The sink's own walk over a document's bytes (it replaced bson_iter):
 * every type passes; of the document with one byte changed, or cut
 * short (its length and last NUL made to match), nothing passes that
 * libbson's bson_validate finds malformed; nesting is bounded.
 */
static void
corrupt_bytes_never_pass(void **state)
{
	static const int changes[] = { 0x00, 0x01, 0x02, 0x05, 0x7f, 0x80,
	    0xff, -1, +1, 0x40 };
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	bson_t doc = BSON_INITIALIZER, nest[110];
	const uint8_t *orig;
	uint8_t *buf;
	size_t len, passed = 0;

	every_type(&doc);
	orig = bson_get_data(&doc);
	len = doc.len;
	assert_true(add_bytes(sink, orig, len, "whole", 0));
	buf = malloc(len);
	for (size_t i = 0; i < len; i++)
		for (size_t c = 0; c < sizeof(changes) / sizeof(changes[0]);
		    c++) {
			memcpy(buf, orig, len);
			if (changes[c] == -1 || changes[c] == +1)
				buf[i] = (uint8_t)(orig[i] + changes[c]);
			else if (changes[c] == 0x40)
				buf[i] = orig[i] ^ 0x40;
			else
				buf[i] = (uint8_t)changes[c];
			passed += add_bytes(sink, buf, len, "byte", i);
		}
	/* Changes inside values (numbers, text) pass: the walk is not
	 * refusing everything. */
	assert_true(passed > 0);
	for (size_t cut = 5; cut < len; cut++) {
		memcpy(buf, orig, cut);
		buf[0] = (uint8_t)cut;
		buf[1] = (uint8_t)(cut >> 8);
		buf[cut - 1] = '\0';
		add_bytes(sink, buf, cut, "cut at", cut);
	}
	free(buf);
	bson_destroy(&doc);

	/* 101 levels of arrays pass, 102 do not. */
	for (int depth = 101; depth <= 102; depth++) {
		bson_init(&nest[0]);
		for (int d = 0; d < depth; d++)
			BSON_APPEND_ARRAY_BEGIN(&nest[d], "a", &nest[d + 1]);
		for (int d = depth; d > 0; d--)
			bson_append_array_end(&nest[d - 1], &nest[d]);
		assert_int_equal(msb_sink_add(sink, &nest[0]), depth == 101 ?
		    MSB_OK : MSB_BADDOC);
		bson_destroy(&nest[0]);
	}
	assert_non_null(strstr(msb_sink_error(sink),
	    "nested more than 100 levels deep"));
	msb_sink_close(sink);
}

static void
empty_unit_replaces_an_earlier_run(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	size_t files, docs;

	write_unit(sink, hash_a, 2);
	msb_sink_close(sink);
	/* A rerun of the file that now gives no rows. */
	sink = open_sink(s);
	assert_int_equal(msb_sink_commit(sink, hash_a), MSB_OK);
	/* Without a key, an empty unit writes nothing. */
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_OK);
	msb_sink_close(sink);
	count_store(s->coll, &files, &docs);
	assert_int_equal(files, 1);
	assert_int_equal(docs, 0);
}

static void
temporary_files_of_dead_writers_are_swept(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);	/* creates the folders */
	char *stale, *live, name[64];
	struct stat sb;

	msb_sink_close(sink);
	/* No process has pid 999999999 (pid_max is at most 2^22). */
	stale = tu_join(s->coll, ".unit-999999999-0-0.tmp");
	snprintf(name, sizeof(name), ".unit-%ld-0-0.tmp", (long)getpid());
	live = tu_join(s->coll, name);
	tu_write_file(stale, "x", 1);
	tu_write_file(live, "x", 1);
	sink = open_sink(s);
	msb_sink_close(sink);
	assert_int_equal(stat(stale, &sb), -1);
	assert_int_equal(stat(live, &sb), 0);
	unlink(live);
	free(stale);
	free(live);
}

static void
unusable_folder_is_an_error(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink;
	char *file = tu_join(s->dir, "plain"), *url, err[512];

	tu_write_file(file, "x", 1);
	if (asprintf(&url, "file://%s/store", file) == -1)
		fail_msg("asprintf");
	assert_int_equal(msb_sink_open(&sink, url, "acme", "listings", err,
	    sizeof(err)), MSB_ERROR);
	assert_non_null(strstr(err, "file store:"));
	assert_non_null(strstr(err, "Not a directory"));
	free(url);
	free(file);
}

/*
 * An error message cut to the caller's buffer ends on a whole UTF-8
 * character: the path it names here is 2-, 3- and 4-byte characters.
 */
static void
long_error_is_cut_between_characters(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink;
	char *file = tu_join(s->dir, "plain"), *url, err[512];
	char name[256] = "";
	size_t at;

	tu_write_file(file, "x", 1);
	for (int i = 0; i < 10; i++)
		strcat(name, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	if (asprintf(&url, "file://%s/%s", file, name) == -1)
		fail_msg("asprintf");
	/* "file store: <file>/" then the characters: cut at each byte. */
	at = strlen("file store: ") + strlen(file) + 1;
	for (size_t len = at; len < at + 40; len++) {
		assert_int_equal(msb_sink_open(&sink, url, "acme", "listings",
		    err, len + 1), MSB_ERROR);
		if (!bson_utf8_validate(err, strlen(err), false))
			fail_msg("cut at %zu: not UTF-8", len);
		/* Only the character cut short is gone. */
		assert_true(strlen(err) + 3 >= len);
	}
	free(url);
	free(file);
}

/* Upserts {_id: id, v: value} for each string id. */
static void
upsert_strings(struct msb_sink *sink, const char *const *ids, size_t n,
    const char *value)
{
	for (size_t i = 0; i < n; i++) {
		bson_t doc = BSON_INITIALIZER;

		BSON_APPEND_UTF8(&doc, "_id", ids[i]);
		BSON_APPEND_UTF8(&doc, "v", value);
		if (msb_sink_upsert(sink, &doc) != MSB_OK)
			fail_msg("upsert %s: %s", ids[i], msb_sink_error(sink));
		bson_destroy(&doc);
	}
}

/*
 * Reads every document of the collection as a reader would (every
 * *.bson file, hidden names skipped) and fails when an _id is there
 * twice. Returns the number of documents; *value is the "v" of the
 * document whose _id is the string id (NULL: none; free it).
 */
static size_t
read_store(const char *coll, const char *id, char **value)
{
	char *seen[64];
	size_t n = 0;
	DIR *d = opendir(coll);
	struct dirent *de;

	assert_non_null(d);
	*value = NULL;
	while ((de = readdir(d)) != NULL) {
		bson_reader_t *r;
		const bson_t *doc;
		char *path;

		if (de->d_name[0] == '.')
			continue;
		path = tu_join(coll, de->d_name);
		r = bson_reader_new_from_file(path, NULL);
		assert_non_null(r);
		while ((doc = bson_reader_read(r, NULL)) != NULL) {
			bson_t only = BSON_INITIALIZER;
			bson_iter_t it;

			/* {"_id": ...} as canonical JSON tells _ids apart. */
			assert_true(bson_iter_init_find(&it, doc, "_id"));
			bson_append_iter(&only, "_id", 3, &it);
			assert_true(n < 64);
			seen[n] = bson_as_canonical_extended_json(&only, NULL);
			bson_destroy(&only);
			for (size_t k = 0; k < n; k++)
				if (strcmp(seen[k], seen[n]) == 0)
					fail_msg("_id twice: %s", seen[n]);
			if (id != NULL && BSON_ITER_HOLDS_UTF8(&it) &&
			    strcmp(bson_iter_utf8(&it, NULL), id) == 0 &&
			    bson_iter_init_find(&it, doc, "v"))
				*value = strdup(bson_iter_utf8(&it, NULL));
			n++;
		}
		bson_reader_destroy(r);
		free(path);
	}
	closedir(d);
	for (size_t k = 0; k < n; k++)
		bson_free(seen[k]);
	return n;
}

/* Asserts that the document of string id has v == want. */
static void
assert_value(const char *coll, const char *id, const char *want)
{
	char *v;

	read_store(coll, id, &v);
	if (v == NULL)
		fail_msg("%s: not in the store", id);
	assert_string_equal(v, want);
	free(v);
}

static void
upserts_keep_each_key_once_with_the_latest(void **state)
{
	static const char *const ids[] = { "AT:2020-03-01", "BE:2020-03-01",
	    "odd/key with spaces", "100001" };
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	struct msb_sink_stats st;
	size_t files, docs;
	char *v;

	/* The first key twice in one unit: the last upsert wins. */
	upsert_strings(sink, ids, 4, "v1");
	upsert_strings(sink, ids, 1, "v1-again");
	if (msb_sink_commit(sink, NULL) != MSB_OK)
		fail_msg("commit: %s", msb_sink_error(sink));
	/* Each upsert counted, as MongoDB counts it: added = inserted. */
	msb_sink_stats(sink, &st);
	assert_int_equal(st.added, 5);
	assert_int_equal(st.inserted, 5);
	count_store(s->coll, &files, &docs);
	assert_int_equal(files, 4);
	assert_int_equal(docs, 4);
	assert_value(s->coll, ids[0], "v1-again");
	assert_value(s->coll, ids[2], "v1");

	/* The same keys with new values, through another sink: replaced. */
	msb_sink_close(sink);
	sink = open_sink(s);
	upsert_strings(sink, ids, 4, "v2");
	if (msb_sink_commit(sink, NULL) != MSB_OK)
		fail_msg("commit: %s", msb_sink_error(sink));
	msb_sink_stats(sink, &st);
	assert_int_equal(st.added, 4);
	assert_int_equal(st.inserted, 4);
	msb_sink_close(sink);
	count_store(s->coll, &files, &docs);
	assert_int_equal(files, 4);
	assert_int_equal(docs, 4);
	assert_int_equal(read_store(s->coll, ids[1], &v), 4);
	assert_string_equal(v, "v2");
	free(v);
	for (size_t i = 0; i < 4; i++)
		assert_value(s->coll, ids[i], "v2");
}

/* Whether the collection holds a file of that name. */
static bool
has_file(const char *coll, const char *name)
{
	char *path = tu_join(coll, name);
	struct stat sb;
	bool yes = stat(path, &sb) == 0;

	free(path);
	return yes;
}

static void
upsert_files_are_named_after_the_id(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	bson_t doc = BSON_INITIALIZER;
	bson_oid_t oid;
	bson_reader_t *r;
	const bson_t *got;
	bson_iter_t it;
	size_t files, docs;
	char name[96], oidhex[25], *path;

	/* 1, NumberLong(1) and 1.0 are one _id to MongoDB: one file. */
	BSON_APPEND_INT32(&doc, "_id", 1);
	assert_int_equal(msb_sink_upsert(sink, &doc), MSB_OK);
	bson_reinit(&doc);
	BSON_APPEND_INT64(&doc, "_id", 1);
	assert_int_equal(msb_sink_upsert(sink, &doc), MSB_OK);
	bson_reinit(&doc);
	BSON_APPEND_DOUBLE(&doc, "_id", 1.0);
	BSON_APPEND_UTF8(&doc, "last", "yes");
	assert_int_equal(msb_sink_upsert(sink, &doc), MSB_OK);
	/* The string "1" is another _id; so is 1.5. */
	bson_reinit(&doc);
	BSON_APPEND_UTF8(&doc, "_id", "1");
	assert_int_equal(msb_sink_upsert(sink, &doc), MSB_OK);
	bson_reinit(&doc);
	BSON_APPEND_DOUBLE(&doc, "_id", 1.5);
	assert_int_equal(msb_sink_upsert(sink, &doc), MSB_OK);
	bson_reinit(&doc);
	bson_oid_init(&oid, NULL);
	BSON_APPEND_OID(&doc, "_id", &oid);
	assert_int_equal(msb_sink_upsert(sink, &doc), MSB_OK);
	/* A unit of added documents beside them, in the same commit. */
	bson_reinit(&doc);
	BSON_APPEND_UTF8(&doc, "_id", "added");
	assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, hash_a), MSB_OK);
	bson_destroy(&doc);
	msb_sink_close(sink);

	count_store(s->coll, &files, &docs);
	assert_int_equal(files, 5);
	assert_int_equal(docs, 5);
	assert_true(has_file(s->coll, "i=1.bson"));
	assert_true(has_file(s->coll, "s=1.bson"));
	/* The last of the three upserts of 1 is the one kept. */
	path = tu_join(s->coll, "i=1.bson");
	r = bson_reader_new_from_file(path, NULL);
	assert_non_null(r);
	got = bson_reader_read(r, NULL);
	assert_non_null(got);
	assert_true(bson_iter_init_find(&it, got, "last"));
	bson_reader_destroy(r);
	free(path);
	bson_oid_to_string(&oid, oidhex);
	snprintf(name, sizeof(name), "o=%s.bson", oidhex);
	assert_true(has_file(s->coll, name));
	snprintf(name, sizeof(name), "%s.bson", hash_a);
	assert_true(has_file(s->coll, name));
}

static void
upserts_refuse_bad_documents(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	bson_t doc = BSON_INITIALIZER, arr;
	size_t files, docs;

	BSON_APPEND_UTF8(&doc, "v", "no id");
	assert_int_equal(msb_sink_upsert(sink, &doc), MSB_BADDOC);
	assert_non_null(strstr(msb_sink_error(sink), "needs an _id"));
	bson_reinit(&doc);
	BSON_APPEND_ARRAY_BEGIN(&doc, "_id", &arr);
	bson_append_array_end(&doc, &arr);
	assert_int_equal(msb_sink_upsert(sink, &doc), MSB_BADDOC);
	/* add refuses it the same way: both stores follow MongoDB. */
	assert_int_equal(msb_sink_add(sink, &doc), MSB_BADDOC);
	bson_reinit(&doc);
	BSON_APPEND_UTF8(&doc, "_id", "k");
	bson_append_utf8(&doc, "s", 1, "\xff", 1);
	assert_int_equal(msb_sink_upsert(sink, &doc), MSB_BADDOC);
	bson_reinit(&doc);
	BSON_APPEND_UTF8(&doc, "_id", "k");
	BSON_APPEND_INT32(&doc, "$set", 1);
	assert_int_equal(msb_sink_upsert(sink, &doc), MSB_BADDOC);

	/* Still usable. */
	bson_reinit(&doc);
	BSON_APPEND_UTF8(&doc, "_id", "k");
	BSON_APPEND_UTF8(&doc, "v", "ok");
	assert_int_equal(msb_sink_upsert(sink, &doc), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_OK);
	bson_destroy(&doc);
	msb_sink_close(sink);
	count_store(s->coll, &files, &docs);
	assert_int_equal(files, 1);
	assert_value(s->coll, "k", "ok");
}

static void
uncommitted_upserts_are_dropped(void **state)
{
	static const char *const ids[] = { "a", "b" };
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	size_t files, docs;

	upsert_strings(sink, ids, 2, "v1");
	assert_int_equal(msb_sink_commit(sink, NULL), MSB_OK);
	upsert_strings(sink, ids, 2, "lost");
	msb_sink_close(sink);
	count_store(s->coll, &files, &docs);	/* fails on a temporary */
	assert_int_equal(files, 2);
	assert_value(s->coll, "a", "v1");
	assert_value(s->coll, "b", "v1");
}

/* The file sink ignores the write concern, but w=0 is refused by every
 * sink, so an app tried on file:// does not first fail on MongoDB. */
static void
unacknowledged_write_concern_is_refused(void **state)
{
	struct msb_sink *sink = open_sink(*state);

	assert_int_equal(msb_sink_set_write_concern(sink, MSB_W_MAJORITY,
	    true, 0), MSB_OK);
	assert_int_equal(msb_sink_set_write_concern(sink, 0, false, 0),
	    MSB_ERROR);
	assert_non_null(strstr(msb_sink_error(sink), "w=0: unacknowledged"));
	msb_sink_close(sink);
}

static void
exit_codes(void **state)
{
	assert_int_equal(msb_exit_code(MSB_OK), 0);
	assert_int_equal(msb_exit_code(MSB_TEMPFAIL), 75);
	assert_int_equal(msb_exit_code(MSB_ERROR), 1);
	assert_int_equal(msb_exit_code(MSB_BADDOC), 65);
	assert_string_equal(msb_version(), MSB_VERSION);
	assert_non_null(strstr(msb_strerror(MSB_TEMPFAIL), "temporary"));
}

static int
cleanup(void **state)
{
	msb_cleanup();
	return 0;
}

/* Whether a library whose path holds name is mapped in this process. */
static bool
mapped(const char *name)
{
	FILE *fp = fopen("/proc/self/maps", "r");
	char line[4096];
	bool found = false;

	assert_non_null(fp);
	while (!found && fgets(line, sizeof(line), fp) != NULL)
		found = strstr(line, name) != NULL;
	fclose(fp);
	return found;
}

/*
 * An app that writes to the file store never loads libmongoc (its tree of
 * libraries was most of an app's start); the first mongodb:// sink loads
 * the MongoDB back end. Last: the back end stays loaded.
 */
static void
mongoc_only_for_mongodb(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	char err[512];

	write_unit(sink, hash_a, 3);
	msb_sink_close(sink);
	assert_false(mapped("libmongoc"));
	assert_false(mapped("libmysimbdp-mongo"));
	/* Nothing listens on port 1: a quick MSB_TEMPFAIL, after loading. */
	assert_int_equal(msb_sink_open(&sink, "mongodb://127.0.0.1:1/"
	    "?serverSelectionTimeoutMS=100&connectTimeoutMS=100", "acme",
	    "listings", err, sizeof(err)), MSB_TEMPFAIL);
	assert_true(mapped("libmysimbdp-mongo"));
	assert_true(mapped("libmongoc"));
}

/*
 * Rows 1..n of one unit, their ids made with hash (a content hash, or
 * MSB_HASH_LATER), through a builder; about 300 bytes each.
 */
static void
add_built(struct msb_sink *sink, struct msb_docbuild *b, const char *hash,
    uint64_t from, uint64_t to)
{
	static const char text[] = "A sunny loft by the canal, two rooms, "
	    "a balcony over the water and a kitchen with everything; quiet "
	    "street, five minutes from the station, bikes to borrow. Long "
	    "stays welcome, pets on request, smoking outside only, please.";

	for (uint64_t row = from; row <= to; row++) {
		msb_docbuild_reset(b);
		assert_int_equal(msb_docbuild_id(b, hash, row), MSB_OK);
		assert_int_equal(msb_docbuild_int64(b, "row", 3, (int64_t)row),
		    MSB_OK);
		assert_int_equal(msb_docbuild_utf8(b, "text", 4, text,
		    strlen(text)), MSB_OK);
		if (msb_sink_add_docbuild(sink, b) != MSB_OK)
			fail_msg("add row %" PRIu64 ": %s", row,
			    msb_sink_error(sink));
	}
}

/* One more row with its _id last, as a plain bson_t. */
static void
add_id_last(struct msb_sink *sink, const char *hash, uint64_t row)
{
	bson_t doc = BSON_INITIALIZER;
	char id[MSB_DOC_ID_SIZE];

	BSON_APPEND_INT64(&doc, "row", (int64_t)row);
	assert_non_null(msb_doc_id(id, hash, row));
	BSON_APPEND_UTF8(&doc, "_id", id);
	assert_int_equal(msb_sink_add(sink, &doc), MSB_OK);
	bson_destroy(&doc);
}

/* The one unit file of the collection at coll, whole. */
static char *
only_unit(const char *coll, const char *hash, size_t *len)
{
	char name[MSB_HASH_HEX_SIZE + 8], *path, *data;
	size_t files, docs;

	count_store(coll, &files, &docs);
	assert_int_equal(files, 1);
	snprintf(name, sizeof(name), "%s.bson", hash);
	path = tu_join(coll, name);
	data = tu_read_file(path, len);
	assert_non_null(data);
	free(path);
	return data;
}

/*
 * A sink that hashes its input (msb_sink_hash_input) stores what ids made
 * with the hash itself give, byte for byte: the rows added before the
 * hash is known (held here until more than the sink's buffer, 256 KiB,
 * went to its file), those added after, and one whose _id is not first.
 */
static void
later_ids_are_stored_as_the_hash_gives(void **state)
{
	struct store *s = *state;
	struct msb_docbuild *b = msb_docbuild_new();
	struct msb_sink *sink;
	char *input = tu_join(s->dir, "input.csv"), *later_url, *later_coll;
	char hex[MSB_HASH_HEX_SIZE], got[MSB_HASH_HEX_SIZE];
	char *want, *have;
	size_t want_len, have_len;
	int fd;

	tu_write_file(input, "id,name\n1,Sunny loft\n", -1);
	assert_int_equal(msb_file_hash(input, hex), MSB_OK);
	assert_non_null(b);

	/* The ids made with the hash itself, into the store at s->url. */
	sink = open_sink(s);
	add_built(sink, b, hex, 1, 4000);
	add_id_last(sink, hex, 4001);
	assert_int_equal(msb_sink_commit(sink, hex), MSB_OK);
	msb_sink_close(sink);
	want = only_unit(s->coll, hex, &want_len);
	assert_true(want_len > 3 * 256 * 1024);

	/* The same rows with MSB_HASH_LATER, into a second store. */
	assert_true(asprintf(&later_url, "file://%s/later", s->dir) != -1);
	assert_true(asprintf(&later_coll, "%s/later/acme/listings",
	    s->dir) != -1);
	{
		char err[512];

		if (msb_sink_open(&sink, later_url, "acme", "listings", err,
		    sizeof(err)) != MSB_OK)
			fail_msg("msb_sink_open: %s", err);
	}
	assert_true((fd = open(input, O_RDONLY | O_CLOEXEC)) != -1);
	msb__hashjob_hold(true);
	assert_int_equal(msb_sink_hash_input(sink, fd), MSB_OK);
	/* Closed at once: the sink reads a descriptor of its own. */
	close(fd);
	add_built(sink, b, MSB_HASH_LATER, 1, 3000);
	msb__hashjob_hold(false);
	assert_int_equal(msb_sink_input_hash(sink, got), MSB_OK);
	assert_string_equal(got, hex);
	add_built(sink, b, MSB_HASH_LATER, 3001, 4000);
	add_id_last(sink, MSB_HASH_LATER, 4001);
	assert_int_equal(msb_sink_commit(sink, got), MSB_OK);
	msb_sink_close(sink);
	have = only_unit(later_coll, hex, &have_len);
	assert_int_equal(have_len, want_len);
	assert_memory_equal(have, want, want_len);

	free(want);
	free(have);
	free(later_url);
	free(later_coll);
	free(input);
	msb_docbuild_free(b);
}

/*
 * A row's own _id that looks like an id waiting for the input's hash,
 * as the mark was 24 '?' (a JSON line's _id, a CSV column): stored as it
 * is, not taken for one (the sink failed for good, every row with it).
 */
static void
data_id_like_a_later_one(void **state)
{
	struct store *s = *state;
	struct msb_sink *sink = open_sink(s);
	bson_t *doc = BCON_NEW("_id", BCON_UTF8("????????????????????????:9"),
	    "v", BCON_INT32(1));
	size_t files, docs;

	assert_int_equal(msb_sink_add(sink, doc), MSB_OK);
	assert_int_equal(msb_sink_commit(sink, hash_a), MSB_OK);
	msb_sink_close(sink);
	count_store(s->coll, &files, &docs);
	assert_int_equal(docs, 1);
	bson_destroy(doc);
}

/* An id made with MSB_HASH_LATER never reaches a sink hashing nothing. */
static void
later_id_needs_a_hashed_input(void **state)
{
	struct store *s = *state;
	struct msb_docbuild *b = msb_docbuild_new();
	struct msb_sink *sink = open_sink(s);
	char hex[MSB_HASH_HEX_SIZE];
	size_t files, docs;

	assert_int_equal(msb_docbuild_id(b, MSB_HASH_LATER, 1), MSB_OK);
	assert_int_equal(msb_sink_add_docbuild(sink, b), MSB_ERROR);
	assert_non_null(strstr(msb_sink_error(sink), "MSB_HASH_LATER"));
	assert_int_equal(msb_sink_input_hash(sink, hex), MSB_ERROR);
	assert_int_not_equal(msb_sink_commit(sink, hash_a), MSB_OK);
	msb_sink_close(sink);
	count_store(s->coll, &files, &docs);
	assert_int_equal(files, 0);
	msb_docbuild_free(b);
}

/*
 * An input the sink cannot read fails the sink with the reason: the rows
 * added meanwhile are not stored under ids of no content.
 */
static void
unreadable_input_stores_nothing(void **state)
{
	struct store *s = *state;
	struct msb_docbuild *b = msb_docbuild_new();
	struct msb_sink *sink = open_sink(s);
	char *input = tu_join(s->dir, "input.csv");
	char hex[MSB_HASH_HEX_SIZE];
	size_t files, docs;
	int fd;

	tu_write_file(input, "id\n1\n", -1);
	/* Write-only: every read of it fails (EBADF). */
	assert_true((fd = open(input, O_WRONLY | O_CLOEXEC)) != -1);
	msb__hashjob_hold(true);
	assert_int_equal(msb_sink_hash_input(sink, fd), MSB_OK);
	assert_int_equal(msb_sink_hash_input(sink, fd), MSB_ERROR);
	close(fd);
	add_built(sink, b, MSB_HASH_LATER, 1, 10);
	msb__hashjob_hold(false);
	assert_int_not_equal(msb_sink_commit(sink, hash_a), MSB_OK);
	assert_non_null(strstr(msb_sink_error(sink), "content hash: read"));
	assert_int_not_equal(msb_sink_input_hash(sink, hex), MSB_OK);
	msb_sink_close(sink);
	count_store(s->coll, &files, &docs);
	assert_int_equal(files, 0);
	free(input);
	msb_docbuild_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(open_needs_init_and_valid_names,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(unit_is_one_file_of_bson,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    rerun_replaces_instead_of_duplicating, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    different_unit_is_a_separate_file, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    uncommitted_documents_are_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    documents_are_checked_like_mongodb_does, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    empty_unit_replaces_an_earlier_run, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    temporary_files_of_dead_writers_are_swept, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    second_commit_of_a_key_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    plain_and_hashed_names_never_meet, setup, teardown),
		cmocka_unit_test_setup_teardown(unusable_folder_is_an_error,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    long_error_is_cut_between_characters, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    unacknowledged_write_concern_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    upserts_keep_each_key_once_with_the_latest, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    upsert_files_are_named_after_the_id, setup, teardown),
		cmocka_unit_test_setup_teardown(upserts_refuse_bad_documents,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    failed_write_is_said_and_nothing_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(uncommitted_upserts_are_dropped,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(keys_checked_at_every_place,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(docbuild_answers_as_the_walk,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(repeated_id_is_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(corrupt_bytes_never_pass,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(large_unit_is_whole,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    size_limit_counts_the_id_given, setup, teardown),
		cmocka_unit_test_setup_teardown(id_is_stored_first,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    later_ids_are_stored_as_the_hash_gives, setup, teardown),
		cmocka_unit_test_setup_teardown(data_id_like_a_later_one,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(later_id_needs_a_hashed_input,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    unreadable_input_stores_nothing, setup, teardown),
		cmocka_unit_test(exit_codes),
		cmocka_unit_test_setup_teardown(mongoc_only_for_mongodb,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, cleanup);
}

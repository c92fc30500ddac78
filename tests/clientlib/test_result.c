/*
 * The result summary: a JSON object with rows, rejected_rows and the
 * app's own fields, written atomically where MYSIMBDP_RESULT_FILE says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mysimbdp.h>

#include "util.h"

/* Reads path as one JSON object. */
static bson_t *
read_json(const char *path)
{
	bson_error_t error;
	size_t len;
	char *text = tu_read_file(path, &len);
	bson_t *doc;

	assert_non_null(text);
	assert_true(len > 0 && text[len - 1] == '\n');
	doc = bson_new_from_json((const uint8_t *)text, (ssize_t)len, &error);
	if (doc == NULL)
		fail_msg("%s: %s: %s", path, error.message, text);
	free(text);
	return doc;
}

static int64_t
get_int(const bson_t *doc, const char *key)
{
	bson_iter_t it;

	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_NUMBER(&it))
		fail_msg("no number %s", key);
	return bson_iter_as_int64(&it);
}

static void
summary_with_extra_fields(void **state)
{
	char *dir = tu_mkdtemp("result"), *path = tu_join(dir, "result.json");
	char *tmp = tu_join(dir, "result.json.new");
	bson_t extra = BSON_INITIALIZER, *doc;
	bson_iter_t it;
	struct stat sb;

	BSON_APPEND_INT64(&extra, "bytes", 81920);
	BSON_APPEND_UTF8(&extra, "collection", "listings");
	BSON_APPEND_INT32(&extra, "rows", 999);	/* the arguments win */
	assert_int_equal(msb_result_write(path, 1200, 3, &extra), MSB_OK);
	bson_destroy(&extra);

	doc = read_json(path);
	assert_int_equal(get_int(doc, "rows"), 1200);
	assert_int_equal(get_int(doc, "rejected_rows"), 3);
	assert_int_equal(get_int(doc, "bytes"), 81920);
	assert_true(bson_iter_init_find(&it, doc, "collection"));
	assert_string_equal(bson_iter_utf8(&it, NULL), "listings");
	assert_int_equal(bson_count_keys(doc), 4);
	bson_destroy(doc);
	assert_int_equal(stat(tmp, &sb), -1);

	/* A second write replaces the first. */
	assert_int_equal(msb_result_write(path, 5, 0, NULL), MSB_OK);
	doc = read_json(path);
	assert_int_equal(get_int(doc, "rows"), 5);
	assert_int_equal(bson_count_keys(doc), 2);
	bson_destroy(doc);

	tu_rmtree(dir);
	free(tmp);
	free(path);
	free(dir);
}

static void
no_result_file_is_not_an_error(void **state)
{
	assert_int_equal(msb_result_write(NULL, 1, 2, NULL), MSB_OK);
	assert_int_equal(msb_result_write("", 1, 2, NULL), MSB_OK);
}

static void
failures_leave_the_old_summary(void **state)
{
	char *dir = tu_mkdtemp("result"), *path = tu_join(dir, "result.json");
	bson_t extra = BSON_INITIALIZER, *doc;
	char *big = malloc(70000);

	errno = 0;
	assert_int_equal(msb_result_write("/nonexistent/dir/r.json", 1, 0,
	    NULL), MSB_ERROR);
	assert_int_equal(errno, ENOENT);

	assert_int_equal(msb_result_write(path, 7, 1, NULL), MSB_OK);
	memset(big, 'x', 69999);
	big[69999] = '\0';
	BSON_APPEND_UTF8(&extra, "log", big);
	errno = 0;
	assert_int_equal(msb_result_write(path, 8, 0, &extra), MSB_ERROR);
	assert_int_equal(errno, EFBIG);
	doc = read_json(path);
	assert_int_equal(get_int(doc, "rows"), 7);
	bson_destroy(doc);

	bson_destroy(&extra);
	free(big);
	tu_rmtree(dir);
	free(path);
	free(dir);
}

/*
 * Text that is not UTF-8 (a Latin-1 file name) cannot be JSON as it is:
 * its stray bytes are written \xNN, and the summary is not lost.
 */
static void
text_not_utf8_is_escaped(void **state)
{
	char *dir = tu_mkdtemp("result"), *path = tu_join(dir, "result.json");
	bson_t extra = BSON_INITIALIZER, *doc;
	bson_iter_t it;

	BSON_APPEND_UTF8(&extra, "source", "caf\xe9.csv");
	BSON_APPEND_UTF8(&extra, "city", "Z\xc3\xbcrich");
	if (msb_result_write(path, 2, 0, &extra) != MSB_OK)
		fail_msg("msb_result_write: %s", strerror(errno));
	doc = read_json(path);
	assert_int_equal(get_int(doc, "rows"), 2);
	assert_true(bson_iter_init_find(&it, doc, "source"));
	assert_string_equal(bson_iter_utf8(&it, NULL), "caf\\xE9.csv");
	assert_true(bson_iter_init_find(&it, doc, "city"));
	assert_string_equal(bson_iter_utf8(&it, NULL), "Z\xc3\xbcrich");
	bson_destroy(doc);

	bson_destroy(&extra);
	tu_rmtree(dir);
	free(path);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(summary_with_extra_fields),
		cmocka_unit_test(no_result_file_is_not_an_error),
		cmocka_unit_test(failures_leave_the_old_summary),
		cmocka_unit_test(text_not_utf8_is_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

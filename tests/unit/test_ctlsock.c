/*
 * Unit tests for common/ctlsock.c's answers and common/jsonline.c's text:
 * whatever a request or a file name holds, a daemon's control reply is
 * JSON that a client can parse. Bytes that are not UTF-8 (a file named
 * bad\xff\xfe.csv, a command of raw bytes) are quoted as \xNN; a cut
 * never splits a character; a reply that still cannot be written is an
 * error reply, and the daemon goes on (it used to exit: batchmgr died on
 * `mysimbdp status` while such a file ran).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <bson/bson.h>

#include "ctlsock.h"
#include "jsonline.h"

/* The reply's "ok" and, when there is one, its "error" (or NULL). */
static bool
parse_reply(const char *json, char *error, size_t errorlen)
{
	bson_error_t berr;
	bson_iter_t it;
	bson_t doc;
	bool ok;

	assert_true(bson_init_from_json(&doc, json, -1, &berr));
	assert_true(bson_iter_init_find(&it, &doc, "ok"));
	ok = bson_iter_as_bool(&it);
	error[0] = '\0';
	if (bson_iter_init_find(&it, &doc, "error"))
		snprintf(error, errorlen, "%s", bson_iter_utf8(&it, NULL));
	bson_destroy(&doc);
	return ok;
}

static void
text_escapes_what_is_not_utf8(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(jsonline_text("bad\xff\xfe.csv", 9, out,
	    sizeof(out)), 15);
	assert_string_equal(out, "bad\\xFF\\xFE.csv");
	/* Valid characters of every length are kept; overlong forms (the
	 * NUL as C0 80, which libbson's JSON parser lets through), a
	 * surrogate and a lead byte without its tail are not. */
	jsonline_text("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, out,
	    sizeof(out));
	assert_string_equal(out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	jsonline_text("\xc0\xaf|\xc0\x80|\xed\xa0\x80|\xe2\x82", 12, out,
	    sizeof(out));
	assert_string_equal(out,
	    "\\xC0\\xAF|\\xC0\\x80|\\xED\\xA0\\x80|\\xE2\\x82");
}

/* What stream.c's reasons and the records both rely on. */
static void
utf8_char_takes_only_valid_characters(void **state)
{
	static const struct {
		const char	*s;
		size_t		 len, want;
	} cases[] = {
		{ "a", 1, 1 }, { "\xc3\xa9", 2, 2 }, { "\xe2\x82\xac", 3, 3 },
		{ "\xf0\x9f\x98\x80", 4, 4 }, { "\xf4\x8f\xbf\xbf", 4, 4 },
		{ "", 1, 0 },				/* NUL */
		{ "\x80", 1, 0 }, { "\xc0\x80", 2, 0 },	/* stray, overlong */
		{ "\xc1\xbf", 2, 0 }, { "\xe0\x80\xaf", 3, 0 },
		{ "\xed\xa0\x80", 3, 0 },		/* surrogate */
		{ "\xf4\x90\x80\x80", 4, 0 },		/* past U+10FFFF */
		{ "\xf5\x80\x80\x80", 4, 0 }, { "\xff", 1, 0 },
		{ "\xe2\x82", 2, 0 },			/* cut short */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (jsonline_utf8_char(cases[i].s, cases[i].len) !=
		    cases[i].want)
			fail_msg("case %zu: %zu, not %zu", i,
			    jsonline_utf8_char(cases[i].s, cases[i].len),
			    cases[i].want);
}

static void
text_cut_never_splits(void **state)
{
	char out[8];

	(void)state;
	/* "ab" then a 3-byte character: 6 bytes with the NUL would fit,
	 * 5 would split it. */
	assert_int_equal(jsonline_text("ab\xe2\x82\xac", 5, out, 6), 5);
	assert_string_equal(out, "ab\xe2\x82\xac");
	assert_int_equal(jsonline_text("ab\xe2\x82\xac", 5, out, 5), 2);
	assert_string_equal(out, "ab");
	/* Nor an escape. */
	assert_int_equal(jsonline_text("abc\xff", 4, out, 7), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(jsonline_text("abc\xff", 4, out, 8), 7);
	assert_int_equal(jsonline_text("abc", 3, out, 0), 0);
}

static void
append_text_is_always_json(void **state)
{
	bson_t doc = BSON_INITIALIZER;
	char *json;

	(void)state;
	assert_true(jsonline_append_text(&doc, "file", "bad\xff\xfe.csv"));
	assert_true(jsonline_append_text(&doc, "ok", "caf\xc3\xa9"));
	json = bson_as_relaxed_extended_json(&doc, NULL);
	assert_non_null(json);
	assert_non_null(strstr(json, "\"bad\\\\xFF\\\\xFE.csv\""));
	assert_non_null(strstr(json, "\"caf\xc3\xa9\""));
	bson_free(json);
	bson_destroy(&doc);
}

/* A handler that refuses by quoting the command, as both daemons do. */
static int
refuse_quoting(const bson_t *req, bson_t *reply, char *err, size_t errlen,
    void *arg)
{
	bson_iter_t it;

	(void)reply;
	(void)arg;
	assert_true(bson_iter_init_find(&it, req, "cmd"));
	return ctlsock_fail(err, errlen, "cmd: unknown command \"%s\"",
	    bson_iter_utf8(&it, NULL));
}

static void
refusal_quotes_bytes(void **state)
{
	char error[CTLSOCK_ERR_MAX], cmd[2000], req[2100], *json;
	bson_t *raw = BCON_NEW("cmd", "rel\xc0\x80oad");

	(void)state;
	/* What a handler may quote need not have come through the request's
	 * UTF-8 check (the fuzz target parses with libbson alone). */
	assert_int_equal(refuse_quoting(raw, NULL, error, sizeof(error),
	    NULL), -1);
	assert_string_equal(error,
	    "cmd: unknown command \"rel\\xC0\\x80oad\"");
	bson_destroy(raw);
	/* The daemons' own path refuses such a request before any handler. */
	json = ctlsock_answer("{\"cmd\":\"rel\xc0\x80oad\"}", 19,
	    refuse_quoting, NULL);
	assert_false(parse_reply(json, error, sizeof(error)));
	assert_non_null(strstr(error, "not valid UTF-8"));
	bson_free(json);
	/* A long name cut at the end of err keeps whole characters. */
	memset(cmd, 0, sizeof(cmd));
	for (size_t i = 0; i + 2 < sizeof(cmd) - 1; i += 2)
		memcpy(cmd + i, "\xc3\xa9", 2);
	snprintf(req, sizeof(req), "{\"cmd\":\"%s\"}", cmd);
	json = ctlsock_answer(req, strlen(req), refuse_quoting, NULL);
	assert_false(parse_reply(json, error, sizeof(error)));
	assert_true(strlen(error) > CTLSOCK_ERR_MAX - 4);
	assert_true(bson_utf8_validate(error, strlen(error), false));
	bson_free(json);
}

/* A handler whose reply holds text that is not UTF-8. */
static int
reply_not_utf8(const bson_t *req, bson_t *reply, char *err, size_t errlen,
    void *arg)
{
	(void)req;
	(void)err;
	(void)errlen;
	(void)arg;
	BSON_APPEND_UTF8(reply, "file", "bad\xff.csv");
	return 0;
}

static void
unwritable_reply_is_an_error(void **state)
{
	char error[CTLSOCK_ERR_MAX], *json;

	(void)state;
	json = ctlsock_answer("{\"cmd\":\"status\"}", 16, reply_not_utf8,
	    NULL);
	assert_false(parse_reply(json, error, sizeof(error)));
	assert_non_null(strstr(error, "not UTF-8"));
	bson_free(json);
}

/* A file of text, its size after jsonline_cut_torn, and what was cut. */
static void
cut_torn(const char *text, size_t len, off_t cut, off_t left)
{
	char path[] = "/tmp/test_jsonline.XXXXXX";
	int fd = mkstemp(path);
	struct stat st;

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(jsonline_cut_torn(fd), cut);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, left);
	close(fd);
}

/*
 * What follows the last newline goes (a line a crash cut short), found
 * however far back it is; whole lines stay.
 */
static void
cut_torn_leaves_whole_lines(void **state)
{
	size_t n = 200 * 1024;
	char *big = malloc(n);

	(void)state;
	assert_non_null(big);
	memset(big, 'x', n);
	memcpy(big, "a\nb\n", 4);
	cut_torn(big, n, (off_t)n - 4, 4);
	cut_torn(big + 4, n - 4, (off_t)n - 4, 0);
	cut_torn("a\nb\n", 4, 0, 4);
	cut_torn("", 0, 0, 0);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_escapes_what_is_not_utf8),
		cmocka_unit_test(utf8_char_takes_only_valid_characters),
		cmocka_unit_test(text_cut_never_splits),
		cmocka_unit_test(append_text_is_always_json),
		cmocka_unit_test(refusal_quotes_bytes),
		cmocka_unit_test(unwritable_reply_is_an_error),
		cmocka_unit_test(cut_torn_leaves_whole_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for common/deadletter.c's lines: a dead letter is always a
 * line that parses back, whatever its reason and payload hold. A reason
 * cut in the middle of a character (give_back's "%.300s", an app's text)
 * is kept with the bytes that are not UTF-8 as \xNN; streammgr stops if
 * a message can be neither kept in the queue nor moved to the dead
 * letters, so a line that cannot be written would be fatal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "deadletter.h"

static void
parse_back(const char *reason, const void *payload, size_t plen,
    const char *want_reason, bool want_binary)
{
	struct dead_letter dl;
	char err[200], *line;
	size_t len;

	line = dead_letter_format("acme", "default", 42, 5, reason, payload,
	    plen, &len);
	assert_non_null(line);
	assert_int_equal(line[len - 1], '\n');
	assert_null(memchr(line, '\n', len - 1));
	assert_int_equal(dead_letter_parse(line, len - 1, &dl, err,
	    sizeof(err)), 0);
	assert_int_equal(dl.dl_id, 42);
	assert_int_equal(dl.dl_deliveries, 5);
	assert_string_equal(dl.dl_reason, want_reason);
	assert_int_equal(dl.dl_binary, want_binary);
	assert_int_equal(dl.dl_len, plen);
	assert_memory_equal(dl.dl_payload, payload, plen);
	dead_letter_clear(&dl);
	bson_free(line);
}

static void
reason_cut_in_a_character(void **state)
{
	(void)state;
	/* "é" is c3 a9: a cut after c3. */
	parse_back("nacked by default-1: caf\xc3", "{\"id\":1}", 8,
	    "nacked by default-1: caf\\xC3", false);
	parse_back("ack timeout", "{\"id\":1}", 8, "ack timeout", false);
	parse_back("rejected by default-2: caf\xc3\xa9", "x", 1,
	    "rejected by default-2: caf\xc3\xa9", false);
}

static void
payload_bytes_kept(void **state)
{
	static const unsigned char bin[] = { 0xff, 0x00, 0xfe, '\n', 0x80 };

	(void)state;
	parse_back("nacked by default-1", bin, sizeof(bin),
	    "nacked by default-1", true);
}

/* Appends the line of a dead letter numbered id, payload plen x's. */
static void
append_letter(FILE *f, uint64_t id, size_t plen)
{
	char *payload = malloc(plen + 1), *line;
	size_t len;

	assert_non_null(payload);
	memset(payload, 'x', plen);
	line = dead_letter_format("acme", "default", id, 1, "nacked",
	    payload, plen, &len);
	assert_int_equal(fwrite(line, 1, len, f), len);
	bson_free(line);
	free(payload);
}

static uint64_t
max_id(const char *path)
{
	uint64_t id = 99;
	char err[300];

	assert_int_equal(dead_letter_max_id(path, &id, err, sizeof(err)), 0);
	return id;
}

/* The highest id is found past a torn line, a line that does not parse
 * and a long letter, and when the letters are not in id order (a
 * rejected message is a dead letter at once, a timed-out one later). */
static void
max_id_of_the_file(void **state)
{
	char path[] = "/tmp/test-deadletter-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(max_id(path), 0);		/* empty */
	assert_non_null(f = fdopen(fd, "w"));
	append_letter(f, 5, 10);
	append_letter(f, 7, 10);
	fflush(f);
	assert_int_equal(max_id(path), 7);
	append_letter(f, 9, 300 * 1024);		/* longer than a look */
	fputs("not a letter\n\n{\"time\":\"2026", f);	/* torn */
	fflush(f);
	assert_int_equal(max_id(path), 9);
	append_letter(f, 8, 10);			/* out of order */
	append_letter(f, 3, 300 * 1024);
	fflush(f);
	assert_int_equal(max_id(path), 9);
	fclose(f);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(max_id(path), 0);		/* no file */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reason_cut_in_a_character),
		cmocka_unit_test(payload_bytes_kept),
		cmocka_unit_test(max_id_of_the_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

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

/* The id read without a parse is the parse's, whatever the reason and
 * payload hold; any other shape gives 0 (the caller parses). */
static void
scan_id_agrees_with_the_parse(void **state)
{
	static const char *const lines[] = {
		"{\"time\": \"t\", \"id\": 12, \"payload\": \"x\"}",
		"{\"id\":3,\"payload\":\"x\"}",
		"{\"payload\":\"x\",\"id\" : 4 }",
	};
	static const uint64_t ids[] = { 12, 3, 4 };
	static const char *const none[] = {
		"{\"payload\":\"x\"}",				/* no id */
		"{\"id\":-1,\"payload\":\"x\"}",		/* not a count */
		"{\"id\":\"5\",\"payload\":\"x\"}",		/* a string */
		"{\"id\":99999999999999999999,\"payload\":\"x\"}",
		"{\"id\":5,\"payload\":\"x\",\"id\":6}",	/* twice */
		"{\"id\":5",					/* torn */
		"{\"reason\":\"id\",\"payload\":\"id\"}",	/* values */
		"{\"a\\\"id\":5,\"payload\":\"x\"}",	/* key a"id */
	};
	/* Texts that hold an "id" key once they are JSON strings. */
	static const char *const tricky[] = {
		",\"id\":99,", "{\"id\":98}", "\",\"id\":97,\"", "\"id\":",
	};
	struct dead_letter dl;
	char err[200], *line;
	size_t len;

	(void)state;
	for (size_t k = 0; k < sizeof(lines) / sizeof(lines[0]); k++)
		assert_int_equal(dead_letter_scan_id(lines[k],
		    strlen(lines[k])), ids[k]);
	for (size_t k = 0; k < sizeof(none) / sizeof(none[0]); k++)
		assert_int_equal(dead_letter_scan_id(none[k],
		    strlen(none[k])), 0);
	for (size_t k = 0; k < sizeof(tricky) / sizeof(tricky[0]); k++) {
		line = dead_letter_format("acme", "default", 40 + k, 1,
		    tricky[k], tricky[k], strlen(tricky[k]), &len);
		assert_int_equal(dead_letter_parse(line, len - 1, &dl, err,
		    sizeof(err)), 0);
		assert_int_equal(dead_letter_scan_id(line, len - 1),
		    (uint64_t)dl.dl_id);
		assert_int_equal(dl.dl_id, 40 + k);
		dead_letter_clear(&dl);
		bson_free(line);
	}
}

/*
 * For lines that parse, whoever wrote them: the id read without a parse
 * is the parse's (the last "id" key of the object) or 0, never another.
 * A line is read in full by the parse, as JSON's whitespace allows.
 */
static void
scan_id_never_another(void **state)
{
	static const char *const lines[] = {
		/* \r is JSON's whitespace too (a line never holds \n). */
		"{\"id\":5,\"payload\":\"x\",\r\"id\":6}",
		"{\"id\":5,\"payload\":\"x\",\"id\"\r:6}",
		"{\"a\":{\"id\":6},\r\"id\":5,\"payload\":\"x\"}",
		"{\"a\":{\"id\":6},\"id\"\r: 5,\"payload\":\"x\"}",
		"{\"payload\":\"x\",\r\"id\":5} {\"id\":6}",
		/* A key spelling "id" with escapes is the key id. */
		"{\"id\":5,\"payload\":\"x\",\"\\u0069d\":6}",
		"{\"a\":{\"id\":6},\"i\\u0064\":5,\"payload\":\"x\"}",
		"{\"a\":{\"id\":6},\"\\u0069\\u0064\":5,\"payload\":\"x\"}",
		"{\"\\u0069d\":6,\"payload\":\"x\"} {\"id\":5}",
	};
	struct dead_letter dl;
	char err[200];
	int wrong = 0;

	(void)state;
	for (size_t k = 0; k < sizeof(lines) / sizeof(lines[0]); k++) {
		uint64_t id = dead_letter_scan_id(lines[k], strlen(lines[k]));

		assert_int_equal(dead_letter_parse(lines[k], strlen(lines[k]),
		    &dl, err, sizeof(err)), 0);
		if (id != 0 && id != (uint64_t)dl.dl_id) {
			print_error("line %zu: id %ju read, %jd parsed\n", k,
			    (uintmax_t)id, (intmax_t)dl.dl_id);
			wrong++;
		}
		dead_letter_clear(&dl);
	}
	assert_int_equal(wrong, 0);
}

/* The file's bytes from offset 0, as a string to free. */
static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;

	assert_non_null(f);
	assert_true(getdelim(&buf, &cap, '\0', f) >= 0 || feof(f));
	fclose(f);
	return buf != NULL ? buf : strdup("");
}

static enum dl_fit
room_for_one(size_t len, void *arg)
{
	int *left = arg;

	(void)len;
	return (*left)-- > 0 ? DL_TAKE : DL_WAIT;
}

/* A split takes the chosen letters and keeps every other line byte for
 * byte (a line that is not a letter among them), and counts the chosen
 * ones the room left behind, with reasons that spell an "id" key. */
static void
split_takes_the_chosen(void **state)
{
	char path[] = "/tmp/test-deadletter-XXXXXX", err[300], *before,
	    *kept;
	int fd = mkstemp(path), room = 1;
	struct dead_letter_split ds;
	uint64_t want[] = { 7, 30 };
	FILE *f;
	size_t off = 0;

	(void)state;
	assert_true(fd >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	for (uint64_t id = 1; id <= 40; id++) {
		char *line;
		size_t len;

		if (id == 20)
			fputs("not a letter, \"id\":7\n", f);
		line = dead_letter_format("acme", "default", id, 1,
		    id % 2 ? ",\"id\":7," : "nacked", "x", 1, &len);
		assert_int_equal(fwrite(line, 1, len, f), len);
		bson_free(line);
	}
	fclose(f);
	before = slurp(path);

	assert_int_equal(dead_letter_split(path, want, 2, NULL, NULL, &ds,
	    err, sizeof(err)), 0);
	assert_int_equal(ds.ds_ntaken, 2);
	assert_int_equal(ds.ds_taken[0].dl_id, 7);
	assert_int_equal(ds.ds_taken[1].dl_id, 30);
	assert_int_equal(ds.ds_left, 0);
	assert_int_equal(dead_letter_keep(path, &ds, err, sizeof(err)) >= 0,
	    true);
	dead_letter_split_free(&ds);
	/* What is left is the file without lines 7 and 30. */
	kept = slurp(path);
	for (const char *p = before; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t n = (size_t)(nl - p) + 1;
		struct dead_letter dl;
		bool taken = dead_letter_parse(p, n - 1, &dl, err,
		    sizeof(err)) == 0 && (dl.dl_id == 7 || dl.dl_id == 30);

		dead_letter_clear(&dl);
		if (taken) {
			p += n;
			continue;
		}
		assert_memory_equal(kept + off, p, n);
		off += n;
		p += n;
	}
	assert_int_equal(strlen(kept), off);
	free(kept);

	/* All chosen, room for one: the first taken, 37 left (the line
	 * that is not a letter is not counted). */
	assert_int_equal(dead_letter_split(path, NULL, 0, room_for_one,
	    &room, &ds, err, sizeof(err)), 0);
	assert_int_equal(ds.ds_ntaken, 1);
	assert_int_equal(ds.ds_taken[0].dl_id, 1);
	assert_int_equal(ds.ds_left, 37);
	dead_letter_split_free(&ds);
	free(before);
	assert_int_equal(unlink(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reason_cut_in_a_character),
		cmocka_unit_test(payload_bytes_kept),
		cmocka_unit_test(max_id_of_the_file),
		cmocka_unit_test(scan_id_agrees_with_the_parse),
		cmocka_unit_test(scan_id_never_another),
		cmocka_unit_test(split_takes_the_chosen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "jsonone.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/*
 * Whether the text holds an integer of 20 digits or more outside the
 * strings. libbson (1.23) reads one without an error, wrapped around
 * 2^64: 18446744073709551617 becomes 1, so "instances": 2^64 would scale
 * a stream to 0. Nineteen digits past INT64_MAX it refuses itself.
 */
static bool
has_long_integer(const char *s, size_t len)
{
	bool in_string = false, fraction = false;
	size_t run = 0;

	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? s[i] : '\0';

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c >= '0' && c <= '9') {
			/* A fraction's digits follow a '.': not an integer. */
			if (run++ == 0)
				fraction = i > 0 && s[i - 1] == '.';
			continue;
		}
		if (run >= 20 && !fraction && c != '.' && c != 'e' && c != 'E')
			return true;
		run = 0;
		in_string = c == '"';
	}
	return false;
}

int
jsonone_parse(const char *data, size_t len, bson_t *doc, char *why,
    size_t whylen)
{
	bson_json_reader_t *rd;
	bson_error_t err;
	bson_t extra = BSON_INITIALIZER;
	size_t lead = 0;
	int rc, more = 0;

	if (!bson_utf8_validate(data, len, false)) {
		snprintf(why, whylen, "not valid UTF-8 (or holds a NUL byte)");
		return -1;
	}
	while (lead < len && strchr(" \t\r\n", data[lead]) != NULL)
		lead++;
	if (lead >= len || data[lead] != '{') {
		snprintf(why, whylen, "not a JSON object");
		return -1;
	}
	if (has_long_integer(data, len)) {
		snprintf(why, whylen, "not JSON: an integer out of range");
		return -1;
	}
	if ((rd = bson_json_data_reader_new(false, 0)) == NULL) {
		snprintf(why, whylen, "no memory");
		return -1;
	}
	bson_json_data_reader_ingest(rd, (const uint8_t *)data, len);
	rc = bson_json_reader_read(rd, doc, &err);
	/* The reader stops after one document: a second one, or anything
	 * but white space after it, is found by reading again. */
	if (rc == 1)
		more = bson_json_reader_read(rd, &extra, &err);
	bson_json_reader_destroy(rd);
	bson_destroy(&extra);
	/* A NUL written \u0000 is in a string only now: "stop\u0000x"
	 * was read as "stop", and run. */
	if (rc == 1 && more == 0 && !bson_validate(doc, BSON_VALIDATE_UTF8,
	    NULL)) {
		snprintf(why, whylen, "not valid UTF-8 (or holds a NUL byte)");
		return -1;
	}
	if (rc == 1 && more == 0)
		return 0;
	if (rc != 1)
		snprintf(why, whylen, "not JSON: %s", rc < 0 ? err.message :
		    "empty");
	else
		snprintf(why, whylen, "more than one JSON value");
	return -1;
}

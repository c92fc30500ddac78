/*
 * A listing update to a document. The message's fields are turned back
 * into the text the export would hold and go through the same conversion
 * as a CSV row (listing.c, wrangle.c), so a listing reads the same
 * whether it came in a file or in a message, and the rules live in one
 * place.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "update.h"

#define TEXT_MAX 48	/* a number or a date as text */

/* One field as the export's text. */
struct field {
	const char	*f_text;
	size_t		 f_len;
	char		*f_json;	/* an array as JSON text (bson_free) */
	char		 f_buf[TEXT_MAX];
};

/* A BSON date as ISO 8601 text, UTC, the form msb_value_append reads. */
static void
date_text(int64_t ms, char *buf, size_t len)
{
	int64_t secs = ms / 1000, milli = ms % 1000;
	time_t t;
	struct tm tm;

	if (milli < 0) {		/* before 1970: round down */
		milli += 1000;
		secs--;
	}
	t = (time_t)secs;
	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "bad date");
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)milli);
}

/*
 * The text of the JSON value at it, in f. Returns 0, or -1 for a value
 * no column takes (an object, binary data...).
 */
static int
field_text(const bson_iter_t *it, struct field *f)
{
	const uint8_t *data;
	uint32_t len;
	bson_t arr;

	f->f_text = f->f_buf;
	switch (bson_iter_type(it)) {
	case BSON_TYPE_UTF8:
		f->f_text = bson_iter_utf8(it, &len);
		f->f_len = len;
		return 0;
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64:
		snprintf(f->f_buf, sizeof(f->f_buf), "%" PRId64,
		    bson_iter_as_int64(it));
		break;
	case BSON_TYPE_DOUBLE:
		/* 17 digits: strtod gives back the very same double. */
		snprintf(f->f_buf, sizeof(f->f_buf), "%.17g",
		    bson_iter_double(it));
		break;
	case BSON_TYPE_BOOL:
		snprintf(f->f_buf, sizeof(f->f_buf), "%s",
		    bson_iter_bool(it) ? "true" : "false");
		break;
	case BSON_TYPE_NULL:
		f->f_buf[0] = '\0';
		break;
	case BSON_TYPE_DATE_TIME:
		date_text(bson_iter_date_time(it), f->f_buf, sizeof(f->f_buf));
		break;
	case BSON_TYPE_ARRAY:
		/* An amenity list: the export holds it as JSON text too. */
		bson_iter_array(it, &len, &data);
		if (!bson_init_static(&arr, data, len) ||
		    (f->f_json = bson_array_as_json(&arr, NULL)) == NULL)
			return -1;
		f->f_text = f->f_json;
		f->f_len = strlen(f->f_json);
		return 0;
	default:
		return -1;
	}
	f->f_len = strlen(f->f_buf);
	return 0;
}

int
update_to_doc(struct listing *li, const void *data, size_t len, bson_t *doc,
    char *why, size_t whylen)
{
	struct field f[LISTING_NCOLS];
	const char *fields[LISTING_NCOLS];
	size_t lens[LISTING_NCOLS], i = 0;
	struct msb_csv_record rec = {
		.num = 0,	/* not a CSV record: no number in reasons */
		.nfields = LISTING_NCOLS, .fields = fields, .lens = lens,
	};
	const char *s = data;
	struct msb_docbuild *build = NULL;
	bson_t *msg = NULL, body;
	bson_error_t error;
	bson_iter_t it;
	int rc = -1;

	bson_reinit(doc);
	memset(f, 0, sizeof(f));
	/* libbson would take a top-level array as {"0": ..., "1": ...}. */
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
	    s[i] == '\n'))
		i++;
	if (i == len || s[i] != '{') {
		snprintf(why, whylen, "not a JSON object");
		goto out;
	}
	if ((msg = bson_new_from_json(data, (ssize_t)len, &error)) == NULL) {
		snprintf(why, whylen, "not JSON: %s", error.message);
		goto out;
	}
	for (i = 0; i < LISTING_NCOLS; i++) {
		f[i].f_text = "";
		if (bson_iter_init_find(&it, msg, listing_column(i)) &&
		    field_text(&it, &f[i]) == -1) {
			snprintf(why, whylen, "%s: not a string, number, "
			    "boolean, date or list", listing_column(i));
			goto out;
		}
		fields[i] = f[i].f_text;
		lens[i] = f[i].f_len;
	}
	if ((build = msb_docbuild_new()) == NULL) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	if (listing_convert(li, &rec, build, why, whylen) != LR_OK)
		goto out;
	if (msb_docbuild_bson(build, &body) != MSB_OK) {
		snprintf(why, whylen, "%s", msb_docbuild_error(build));
		goto out;
	}
	/* _id first, as MongoDB keeps it: the listing id, an integer. */
	if (!bson_iter_init_find(&it, &body, "id") ||
	    !bson_append_iter(doc, "_id", 3, &it) || !bson_concat(doc, &body)) {
		snprintf(why, whylen, "document too large");
		goto out;
	}
	rc = 0;
out:
	for (i = 0; i < LISTING_NCOLS; i++)
		bson_free(f[i].f_json);
	if (msg != NULL)
		bson_destroy(msg);
	msb_docbuild_free(build);
	return rc;
}

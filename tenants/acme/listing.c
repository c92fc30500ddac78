/*
 * A listings record to a document, by a table of columns. Values are
 * trimmed and stored the way libmysimbdp's schemas store them (an empty
 * value is null; dates through msb_docbuild_value), but numbers, strings
 * and acme's own forms (prices, amenity lists, coordinates) are converted
 * here, by wrangle.c: the generic path took a sixth of the run time,
 * mostly checking UTF-8 that msb_sink_add checks again anyway.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listing.h"
#include "wrangle.h"

enum kind {
	K_STRING,
	K_INT,
	K_DOUBLE,
	K_DATE,
	K_PRICE,	/* "$1,234.00" -> double */
	K_AMENITIES,	/* ["Wifi", "TV"] -> array of strings */
	K_LAT,		/* double in -90..90, also into location */
	K_LON,		/* double in -180..180, also into location */
};

struct column {
	const char		*c_name;	/* header name and key */
	size_t			 c_keylen;
	enum kind		 c_kind;
	unsigned		 c_flags;	/* MSB_COL_REQUIRED */
	enum listing_reject	 c_why;		/* the reason when bad */
};

#define REQ MSB_COL_REQUIRED
#define COL(name, kind, flags, why) \
	{ name, sizeof(name) - 1, kind, flags, why }

/* In the order of the export; documents keep it. */
static const struct column columns[LISTING_NCOLS] = {
	COL("id",		K_INT,		REQ,	LR_ID),
	COL("listing_url",	K_STRING,	0,	LR_VALUE),
	COL("name",		K_STRING,	0,	LR_VALUE),
	COL("description",	K_STRING,	0,	LR_VALUE),
	COL("host_id",		K_INT,		0,	LR_VALUE),
	COL("host_name",	K_STRING,	0,	LR_VALUE),
	COL("host_since",	K_DATE,		0,	LR_VALUE),
	COL("neighbourhood",	K_STRING,	0,	LR_VALUE),
	COL("latitude",		K_LAT,		REQ,	LR_COORDS),
	COL("longitude",	K_LON,		REQ,	LR_COORDS),
	COL("property_type",	K_STRING,	0,	LR_VALUE),
	COL("room_type",	K_STRING,	0,	LR_VALUE),
	COL("accommodates",	K_INT,		0,	LR_VALUE),
	COL("bedrooms",		K_INT,		0,	LR_VALUE),
	COL("amenities",	K_AMENITIES,	0,	LR_VALUE),
	COL("price",		K_PRICE,	REQ,	LR_PRICE),
	COL("minimum_nights",	K_INT,		0,	LR_VALUE),
	COL("number_of_reviews", K_INT,		0,	LR_VALUE),
	COL("last_review",	K_DATE,		0,	LR_VALUE),
	COL("review_scores_rating", K_DOUBLE,	0,	LR_VALUE),
};

#define KEY(c) (c)->c_name, (c)->c_keylen

/* A builder's answer as convert's. */
static int
ok(int rc)
{
	return rc == MSB_OK ? 0 : -1;
}

static const char *const reject_names[LR_NREASONS] = {
	[LR_OK] = "ok",
	[LR_COLUMNS] = "columns",
	[LR_ID] = "id",
	[LR_PRICE] = "price",
	[LR_COORDS] = "coordinates",
	[LR_VALUE] = "value",
	[LR_DOC] = "document",
};

const char *
listing_reject_name(enum listing_reject why)
{
	return why < LR_NREASONS ? reject_names[why] : "?";
}

const char *
listing_column(size_t i)
{
	return i < LISTING_NCOLS ? columns[i].c_name : NULL;
}

void
listing_bind_ordered(struct listing *li)
{
	for (size_t c = 0; c < LISTING_NCOLS; c++)
		li->li_pos[c] = c;
	li->li_nheader = LISTING_NCOLS;
}

/* Header names are compared without the blanks around them. */
static bool
header_is(const char *h, size_t hl, const char *name)
{
	wr_trim(&h, &hl);
	return hl == strlen(name) && memcmp(h, name, hl) == 0;
}

int
listing_bind(struct listing *li, const struct msb_csv_record *header,
    char *err, size_t errlen)
{
	size_t used = 0, n;

	err[0] = '\0';
	for (size_t c = 0; c < LISTING_NCOLS; c++) {
		size_t j;

		for (j = 0; j < header->nfields; j++)
			if (header_is(header->fields[j], header->lens[j],
			    columns[c].c_name))
				break;
		if (j == header->nfields) {
			n = strlen(err);
			snprintf(err + n, errlen - n, "%s%s", n ? ", " : "",
			    columns[c].c_name);
			continue;
		}
		li->li_pos[c] = j;
		used++;
	}
	if (used != LISTING_NCOLS)
		return -1;
	li->li_nheader = header->nfields;
	return 0;
}

/* Makes room to decode a field of len bytes (amenity escapes). */
static int
scratch_fit(struct listing *li, size_t len)
{
	char *p;

	if (len <= li->li_scratchcap)
		return 0;
	if ((p = realloc(li->li_scratch, len)) == NULL)
		return -1;
	li->li_scratch = p;
	li->li_scratchcap = len;
	return 0;
}

/* A coordinate: required, a number, within [-limit, limit]. */
static int
coordinate(const char *s, size_t len, double limit, double *out)
{
	return wr_number(s, len, out) == 0 && *out >= -limit &&
	    *out <= limit ? 0 : -1;
}

/*
 * Says why a value is bad, with the value's first 40 bytes on one line,
 * in the form libmysimbdp uses: not a price: "N/A". Returns -1.
 */
static int
bad(char *why, size_t whylen, const char *what, const char *s, size_t len)
{
	size_t n = len < 40 ? len : 40;

	snprintf(why, whylen, "%s: \"%.*s%s\"", what, (int)n, s,
	    len > n ? "..." : "");
	for (char *p = why; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	return -1;
}

/*
 * Converts one field. Returns 0, or -1 with the reason in why. lat and lon
 * receive the coordinates.
 */
static int
convert(struct listing *li, const struct column *c, const char *s,
    size_t len, struct msb_docbuild *doc, double *lat, double *lon, char *why,
    size_t whylen)
{
	const char *t = s;
	size_t tl = len;
	int64_t i;
	double v;

	wr_trim(&t, &tl);
	if (tl == 0 && c->c_kind != K_PRICE && c->c_kind != K_LAT &&
	    c->c_kind != K_LON) {
		/* As libmysimbdp does: empty is null, unless required. */
		if (c->c_flags & MSB_COL_REQUIRED) {
			snprintf(why, whylen, "required value is missing");
			return -1;
		}
		return ok(msb_docbuild_null(doc, KEY(c)));
	}
	switch (c->c_kind) {
	case K_STRING:
		/*
		 * Not checked for UTF-8 here: msb_sink_add checks every
		 * string of the document anyway and refuses it as a whole,
		 * which rejects the row ("document").
		 */
		return ok(msb_docbuild_utf8(doc, KEY(c), t, tl));
	case K_INT:
		if (wr_int(t, tl, &i) == 0)
			return ok(msb_docbuild_int64(doc, KEY(c), i));
		return bad(why, whylen, "not an integer", s, len);
	case K_DOUBLE:
		if (wr_number(t, tl, &v) == 0)
			return ok(msb_docbuild_double(doc, KEY(c), v));
		return bad(why, whylen, "not a number", s, len);
	case K_DATE:
		return ok(msb_docbuild_value(doc, KEY(c), MSB_TYPE_DATE,
		    c->c_flags, s, len, why, whylen));
	case K_PRICE:
		if (wr_price(s, len, &v) == 0)
			return ok(msb_docbuild_double(doc, KEY(c), v));
		return bad(why, whylen, "not a price", s, len);
	case K_AMENITIES:
		if (scratch_fit(li, tl) == 0 && wr_amenities(doc, KEY(c),
		    t, tl, li->li_scratch) == 0)
			return 0;
		return bad(why, whylen, "not a list of strings", s, len);
	case K_LAT:
	case K_LON:
		if (coordinate(s, len, c->c_kind == K_LAT ? 90 : 180, &v) ==
		    0) {
			*(c->c_kind == K_LAT ? lat : lon) = v;
			return ok(msb_docbuild_double(doc, KEY(c), v));
		}
		return bad(why, whylen, c->c_kind == K_LAT ?
		    "not a latitude (-90..90)" : "not a longitude (-180..180)",
		    s, len);
	}
	snprintf(why, whylen, "unknown column kind");
	return -1;
}

/* location: {type: "Point", coordinates: [lon, lat]}, GeoJSON order. */
static int
append_location(struct msb_docbuild *doc, double lat, double lon)
{
	msb_docbuild_begin(doc, "location", 8, false);
	msb_docbuild_utf8(doc, "type", 4, "Point", 5);
	msb_docbuild_begin(doc, "coordinates", 11, true);
	msb_docbuild_double(doc, NULL, 0, lon);
	msb_docbuild_double(doc, NULL, 0, lat);
	msb_docbuild_end(doc);
	/* The builder's errors stick: the last call says for all. */
	return ok(msb_docbuild_end(doc));
}

/* Says why a record is rejected: "record N: " (data records), then what. */
static enum listing_reject
refuse(const struct msb_csv_record *rec, enum listing_reject r, char *why,
    size_t whylen, const char *fmt, ...) __attribute__((__format__(__printf__, 5, 6)));

static enum listing_reject
refuse(const struct msb_csv_record *rec, enum listing_reject r, char *why,
    size_t whylen, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (rec->num > 0)
		n = snprintf(why, whylen, "record %" PRIu64 ": ", rec->num);
	if (n < 0 || (size_t)n >= whylen)
		return r;
	va_start(ap, fmt);
	vsnprintf(why + n, whylen - (size_t)n, fmt, ap);
	va_end(ap);
	return r;
}

enum listing_reject
listing_convert(struct listing *li, const struct msb_csv_record *rec,
    struct msb_docbuild *doc, char *why, size_t whylen)
{
	char reason[200];
	double lat = 0, lon = 0;

	if (rec->nfields != li->li_nheader)
		return refuse(rec, LR_COLUMNS, why, whylen,
		    "%zu fields, expected %zu", rec->nfields, li->li_nheader);
	for (size_t i = 0; i < LISTING_NCOLS; i++) {
		const struct column *c = &columns[i];
		size_t pos = li->li_pos[i];

		reason[0] = '\0';
		if (convert(li, c, rec->fields[pos], rec->lens[pos], doc,
		    &lat, &lon, reason, sizeof(reason)) == 0)
			continue;
		/* Only the builder fails without a reason. */
		return refuse(rec, c->c_why, why, whylen, "%s: %s", c->c_name,
		    reason[0] != '\0' ? reason : msb_docbuild_error(doc));
	}
	if (append_location(doc, lat, lon) == -1)
		return refuse(rec, LR_DOC, why, whylen, "%s",
		    msb_docbuild_error(doc));
	return LR_OK;
}

void
listing_free(struct listing *li)
{
	free(li->li_scratch);
	li->li_scratch = NULL;
	li->li_scratchcap = 0;
}

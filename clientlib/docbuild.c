/*
 * A document built by appending to bytes of its own, for apps that build
 * one document per row. Each append writes the element (type, key, value)
 * in place: libbson's bson_append_* copy each piece through a generic
 * path and, inside a subdocument, update every enclosing length, which
 * was about a quarter of the thread that converts a CSV file's rows
 * (docs/benchmarks.md, "CSV ingestion").
 *
 * Errors stick: after the first one (no memory, too large, a key holding
 * a NUL, an end without a begin) appends do nothing and msb_docbuild_bson
 * says why, so a row's appends need no check each.
 *
 * As it appends, the builder also checks what msb_sink_add's walk over a
 * document would (doccheck.c): each key against MongoDB's rules, each
 * string for UTF-8, a top-level _id for coming once; its structure is
 * right by construction. While all pass, msb_sink_add_docbuild skips
 * that walk, which was a fifth of the converting thread; after the first
 * that does not (b_walk), the walk runs and says why.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mysimbdp-internal.h"

#define MAX_LEN		(16 * 1024 * 1024)	/* msb_sink_add's limit */
#define MAX_OPEN	100			/* nesting, as the sink's */
#define FIRST_CAP	1024

struct msb_docbuild {
	uint8_t		*b_data;
	size_t		 b_len;			/* without the closing NULs */
	size_t		 b_cap;
	int		 b_depth;		/* open subdocuments */
	size_t		 b_start[MAX_OPEN + 1];	/* where each open one starts */
	uint32_t	 b_next[MAX_OPEN + 1];	/* an array's next index */
	bool		 b_array[MAX_OPEN + 1];
	const char	*b_err;			/* the first error, sticky */
	int		 b_rc;
	bool		 b_walk;		/* the sink must walk it */
	bool		 b_id;			/* a top-level _id is there */
};

static int
fail(struct msb_docbuild *b, int rc, const char *why)
{
	if (b->b_err == NULL) {
		b->b_err = why;
		b->b_rc = rc;
	}
	return b->b_rc;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

/*
 * Room for n more bytes and the NUL closing each open document. The
 * total stays within the sink's limit, so lengths fit in 32 bits.
 */
static bool
room(struct msb_docbuild *b, size_t n)
{
	size_t need, cap;
	uint8_t *p;

	if (n > MAX_LEN || b->b_len + n + (size_t)b->b_depth + 1 > MAX_LEN) {
		fail(b, MSB_BADDOC, "document too large (over 16 MiB)");
		return false;
	}
	need = b->b_len + n + (size_t)b->b_depth + 1;
	if (need <= b->b_cap)
		return true;
	for (cap = b->b_cap; cap < need; cap *= 2)
		;
	if ((p = realloc(b->b_data, cap)) == NULL) {
		fail(b, MSB_TEMPFAIL, "out of memory");
		return false;
	}
	b->b_data = p;
	b->b_cap = cap;
	return true;
}

/*
 * Whether key passes msb_sink_add's rules for a key outside an array
 * (not empty, no '$' first, no '.', UTF-8); one that does not leaves the
 * judgement to the sink's walk (an array's keys are free there). A NUL
 * fails the builder: the key would end early.
 */
static bool
key_plain(struct msb_docbuild *b, const char *key, size_t keylen)
{
	unsigned char high = 0;
	bool odd = false;

	for (size_t i = 0; i < keylen; i++) {
		unsigned char c = (unsigned char)key[i];

		high |= c;
		odd |= c == '.' || c == '\0';
	}
	if (odd && memchr(key, '\0', keylen) != NULL) {
		fail(b, MSB_BADDOC, "a key holds a NUL byte");
		return false;
	}
	if (odd || keylen == 0 || key[0] == '$' || ((high & 0x80) &&
	    !bson_utf8_validate(key, keylen, false)))
		b->b_walk = true;
	return true;
}

/*
 * Writes an element's type and key (NULL in an array: its next index)
 * with room for vlen bytes of value; returns where the value goes, or
 * NULL after an error.
 */
static uint8_t *
element(struct msb_docbuild *b, uint8_t type, const char *key, size_t keylen,
    size_t vlen)
{
	char index[11];
	uint8_t *p;
	int d = b->b_depth;

	if (b->b_err != NULL)
		return NULL;
	if (key == NULL) {
		uint32_t i = b->b_next[d];
		size_t n = sizeof(index);

		if (!b->b_array[d]) {
			fail(b, MSB_ERROR, "a key is missing outside an array");
			return NULL;
		}
		do
			index[--n] = (char)('0' + i % 10);
		while ((i /= 10) != 0);
		key = index + n;
		keylen = sizeof(index) - n;
	} else if (!key_plain(b, key, keylen))
		return NULL;
	else if (d == 0 && keylen == 3 && memcmp(key, "_id", 3) == 0) {
		/* A second one is the walk's to refuse. */
		b->b_walk |= b->b_id;
		b->b_id = true;
	}
	if (!room(b, 2 + keylen + vlen))
		return NULL;
	b->b_next[d]++;
	p = b->b_data + b->b_len;
	*p++ = type;
	memcpy(p, key, keylen);
	p += keylen;
	*p++ = '\0';
	b->b_len += 2 + keylen + vlen;
	return p;
}

struct msb_docbuild *
msb_docbuild_new(void)
{
	struct msb_docbuild *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	if ((b->b_data = malloc(FIRST_CAP)) == NULL) {
		free(b);
		return NULL;
	}
	b->b_cap = FIRST_CAP;
	msb_docbuild_reset(b);
	return b;
}

void
msb_docbuild_reset(struct msb_docbuild *b)
{
	b->b_len = 4;		/* the length, written when finished */
	b->b_depth = 0;
	b->b_start[0] = 0;
	b->b_next[0] = 0;
	b->b_array[0] = false;
	b->b_err = NULL;
	b->b_rc = MSB_OK;
	b->b_walk = false;
	b->b_id = false;
}

void
msb_docbuild_free(struct msb_docbuild *b)
{
	if (b == NULL)
		return;
	free(b->b_data);
	free(b);
}

int
msb_docbuild_null(struct msb_docbuild *b, const char *key, size_t keylen)
{
	return element(b, BSON_TYPE_NULL, key, keylen, 0) == NULL ? b->b_rc :
	    MSB_OK;
}

/* A string; valid: already known to be UTF-8 without NUL. */
static int
utf8(struct msb_docbuild *b, const char *key, size_t keylen, const char *s,
    size_t len, bool valid)
{
	uint8_t *p;

	if (len >= MAX_LEN)
		return fail(b, MSB_BADDOC, "document too large (over 16 MiB)");
	if ((p = element(b, BSON_TYPE_UTF8, key, keylen, 4 + len + 1)) == NULL)
		return b->b_rc;
	put_le32(p, (uint32_t)len + 1);
	memcpy(p + 4, s, len);
	p[4 + len] = '\0';
	if (!valid && !b->b_walk && !msb__utf8_valid(s, len))
		b->b_walk = true;
	return MSB_OK;
}

int
msb_docbuild_utf8(struct msb_docbuild *b, const char *key, size_t keylen,
    const char *s, size_t len)
{
	return utf8(b, key, keylen, s, len, false);
}

static int
fixed64(struct msb_docbuild *b, uint8_t type, const char *key, size_t keylen,
    uint64_t v)
{
	uint8_t *p;

	if ((p = element(b, type, key, keylen, 8)) == NULL)
		return b->b_rc;
	put_le64(p, v);
	return MSB_OK;
}

int
msb_docbuild_int64(struct msb_docbuild *b, const char *key, size_t keylen,
    int64_t v)
{
	return fixed64(b, BSON_TYPE_INT64, key, keylen, (uint64_t)v);
}

int
msb_docbuild_double(struct msb_docbuild *b, const char *key, size_t keylen,
    double v)
{
	uint64_t bits;

	memcpy(&bits, &v, 8);
	return fixed64(b, BSON_TYPE_DOUBLE, key, keylen, bits);
}

int
msb_docbuild_date(struct msb_docbuild *b, const char *key, size_t keylen,
    int64_t ms)
{
	return fixed64(b, BSON_TYPE_DATE_TIME, key, keylen, (uint64_t)ms);
}

int
msb_docbuild_bool(struct msb_docbuild *b, const char *key, size_t keylen,
    bool v)
{
	uint8_t *p;

	if ((p = element(b, BSON_TYPE_BOOL, key, keylen, 1)) == NULL)
		return b->b_rc;
	*p = v ? 1 : 0;
	return MSB_OK;
}

int
msb_docbuild_begin(struct msb_docbuild *b, const char *key, size_t keylen,
    bool array)
{
	int d = b->b_depth;

	if (d == MAX_OPEN && b->b_err == NULL)
		return fail(b, MSB_BADDOC, "nested more than 100 levels deep");
	/* Its length, and room kept for its NUL. */
	if (element(b, array ? BSON_TYPE_ARRAY : BSON_TYPE_DOCUMENT, key,
	    keylen, 4 + 1) == NULL)
		return b->b_rc;
	b->b_len--;
	b->b_depth = ++d;
	b->b_start[d] = b->b_len - 4;
	b->b_next[d] = 0;
	b->b_array[d] = array;
	return MSB_OK;
}

int
msb_docbuild_end(struct msb_docbuild *b)
{
	size_t start;

	if (b->b_err != NULL)
		return b->b_rc;
	if (b->b_depth == 0)
		return fail(b, MSB_ERROR, "an end without a begin");
	/* room() kept a byte for this NUL. */
	start = b->b_start[b->b_depth--];
	b->b_data[b->b_len++] = '\0';
	put_le32(b->b_data + start, (uint32_t)(b->b_len - start));
	return MSB_OK;
}

int
msb_docbuild_value(struct msb_docbuild *b, const char *key, size_t keylen,
    enum msb_type type, unsigned flags, const char *text, size_t len,
    char *err, size_t errlen)
{
	struct msb__typed v;

	if (b->b_err != NULL)
		goto stuck;
	if (msb__value_convert(type, flags, text, len, &v, err, errlen) !=
	    MSB_OK)
		return MSB_ERROR;
	if (v.v_null)
		msb_docbuild_null(b, key, keylen);
	else switch (type) {
	case MSB_TYPE_STRING:	/* the conversion checked its UTF-8 */
		utf8(b, key, keylen, v.v_text, v.v_len, true);
		break;
	case MSB_TYPE_INT:
		msb_docbuild_int64(b, key, keylen, v.v_int);
		break;
	case MSB_TYPE_DOUBLE:
		msb_docbuild_double(b, key, keylen, v.v_double);
		break;
	case MSB_TYPE_BOOL:
		msb_docbuild_bool(b, key, keylen, v.v_bool);
		break;
	case MSB_TYPE_DATE:
		msb_docbuild_date(b, key, keylen, v.v_int);
		break;
	}
	if (b->b_err == NULL)
		return MSB_OK;
stuck:
	msb__seterr(err, errlen, "%s", b->b_err);
	return MSB_ERROR;
}

int
msb_docbuild_id(struct msb_docbuild *b, const char *content_hash,
    uint64_t row)
{
	char id[MSB_DOC_ID_SIZE];

	if (msb_doc_id(id, content_hash, row) == NULL)
		return MSB_ERROR;
	return msb_docbuild_utf8(b, "_id", 3, id, strlen(id));
}

int
msb_docbuild_bson(struct msb_docbuild *b, bson_t *view)
{
	if (b->b_err == NULL && b->b_depth != 0)
		fail(b, MSB_ERROR, "a subdocument is still open");
	if (b->b_err != NULL)
		return b->b_rc;
	/* The closing NUL past b_len: a later append writes over it. */
	b->b_data[b->b_len] = '\0';
	put_le32(b->b_data, (uint32_t)b->b_len + 1);
	if (!bson_init_static(view, b->b_data, b->b_len + 1))
		return fail(b, MSB_ERROR, "not a document");
	return MSB_OK;
}

bool
msb__docbuild_checked(const struct msb_docbuild *b)
{
	return !b->b_walk;
}

const char *
msb_docbuild_error(const struct msb_docbuild *b)
{
	return b->b_err != NULL ? b->b_err : "";
}

uint8_t *
msb__docbuild_bytes(struct msb_docbuild *b)
{
	return b->b_data;
}

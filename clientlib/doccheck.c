/*
 * What msb_sink_add refuses in a document, found in one walk over its
 * bytes: the structure (lengths inside their document, strings and
 * documents ending in NUL, known types), the keys MongoDB's insert
 * refuses (empty, starting with '$', holding '.'), a second top-level
 * _id (other repeated keys are not looked for: clientlib/README.md, "The
 * sink"), nesting deeper than 100, and keys and string values that are
 * not UTF-8 (libbson 1.23 checks keys only, and MongoDB stores invalid
 * UTF-8 that its drivers then cannot read). A code-with-scope's scope is checked as a document whose
 * keys are free, like an array's.
 *
 * Why not bson_iter: its per-element calls (next, key, type, utf8) were
 * about a fifth of the thread that converts and stores a CSV file's rows.
 * The walk accepts no document bson_validate refuses (the fuzz target
 * "doc" checks that, as does test_sink_file.c's corrupt_bytes_never_pass).
 */
#include <string.h>

#include "mysimbdp-internal.h"

#define CORRUPT		"corrupt BSON"
#define MAX_DEPTH	100

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/*
 * Whether len bytes at s are UTF-8 without NUL, as bson_utf8_validate
 * says, but eight ASCII bytes at a time first: libbson walks byte by byte,
 * which made validation half the cost of a CSV load, and most text is
 * ASCII. From the first other byte (a character boundary) libbson decides.
 */
bool
msb__utf8_valid(const char *s, size_t len)
{
	const uint64_t high = 0x8080808080808080ULL, ones = 0x0101010101010101ULL;
	size_t i = 0;
	uint64_t w;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		/* A non-ASCII byte, or a zero byte (the classic haszero test). */
		if ((w & high) || ((w - ones) & ~w & high))
			break;
	}
	for (; i < len && (unsigned char)s[i] - 1u < 0x7fu; i++)
		;
	return i == len || bson_utf8_validate(s + i, len - i, false);
}

/*
 * Where the key at d + i ends (its NUL, before end; end when it does not)
 * with, in *high and *dot, whether it has a non-ASCII byte or a '.'.
 * Eight bytes at a time where the bytes are there: keys are short and
 * many, and a byte loop was about half of this walk's time. In a word,
 * the lowest byte the zero test flags is a true match (a false one only
 * follows a true one), so masking the bytes past the NUL is exact.
 */
static size_t
key_end(const uint8_t *d, size_t i, size_t end, bool *high, bool *dot)
{
	const uint64_t ones = 0x0101010101010101ULL, top = ones << 7;
	uint64_t w, z, dots, seen = 0;
	size_t k = i;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; k + 8 <= end; k += 8) {
		memcpy(&w, d + k, 8);
		z = (w - ones) & ~w & top;
		dots = w ^ (ones * '.');
		dots = (dots - ones) & ~dots & top;
		if (z != 0) {
			unsigned n = (unsigned)__builtin_ctzll(z) / 8;
			uint64_t before = n == 0 ? 0 : ~0ULL >> (64 - 8 * n);

			*high = (w & before & top) != 0 || (seen & top) != 0;
			*dot = (dots & before) != 0 || (seen & ~top) != 0;
			return k + n;
		}
		/* The high bits record non-ASCII bytes, the others a '.'. */
		seen |= (w & top) | (dots != 0);
	}
#endif
	*high = (seen & top) != 0;
	*dot = (seen & ~top) != 0;
	for (; k < end && d[k] != '\0'; k++) {
		*high |= d[k] >= 0x80;
		*dot |= d[k] == '.';
	}
	return k;
}

/*
 * The key at d + i, which must end (NUL) before end: what is wrong with it
 * (empty, starting with '$' or holding '.' unless keys_free: an array's;
 * not UTF-8), or NULL with *next just past it.
 */
static const char *
key_problem(const uint8_t *d, size_t i, size_t end, bool keys_free,
    size_t *next)
{
	bool high, dot;
	size_t k;

	if ((k = key_end(d, i, end, &high, &dot)) == end)
		return CORRUPT;
	*next = k + 1;
	if (!keys_free && (k == i || d[i] == '$' || dot))
		return "a key is empty, starts with '$' or holds '.'";
	if (high && !bson_utf8_validate((const char *)d + i, k - i, false))
		return "a key is not valid UTF-8";
	return NULL;
}

/*
 * A string value at d + v, before end: a length of at least 1, then that
 * many bytes, the last NUL. Returns its size with the length, or 0.
 */
static size_t
string_size(const uint8_t *d, size_t v, size_t end)
{
	uint32_t n;

	if (end - v < 4)
		return 0;
	n = le32(d + v);
	if (n < 1 || n > end - v - 4 || d[v + 4 + n - 1] != '\0')
		return 0;
	return 4 + (size_t)n;
}

/* A document at d within avail bytes: its length, or 0 when malformed. */
static size_t
doc_size(const uint8_t *d, size_t avail)
{
	uint32_t n;

	if (avail < 5)
		return 0;
	n = le32(d);
	if (n < 5 || n > avail || d[n - 1] != '\0')
		return 0;
	return n;
}

/* The size of a value of a type of fixed size; -1 for the others. */
static int
fixed_size(uint8_t type)
{
	switch (type) {
	case BSON_TYPE_UNDEFINED:
	case BSON_TYPE_NULL:
	case BSON_TYPE_MAXKEY:
	case BSON_TYPE_MINKEY:
		return 0;
	case BSON_TYPE_INT32:
		return 4;
	case BSON_TYPE_DOUBLE:
	case BSON_TYPE_DATE_TIME:
	case BSON_TYPE_TIMESTAMP:
	case BSON_TYPE_INT64:
		return 8;
	case BSON_TYPE_OID:
		return 12;
	case BSON_TYPE_DECIMAL128:
		return 16;
	default:
		return -1;
	}
}

/*
 * The size of a value of another type at d + v, before end; 0 when it is
 * malformed. Strings and documents inside are checked by the caller.
 */
static size_t
value_size(const uint8_t *d, uint8_t type, size_t v, size_t end)
{
	const uint8_t *p;
	size_t s, t;
	uint32_t n;

	switch (type) {
	case BSON_TYPE_UTF8:
	case BSON_TYPE_CODE:
	case BSON_TYPE_SYMBOL:
		return string_size(d, v, end);
	case BSON_TYPE_DOCUMENT:
	case BSON_TYPE_ARRAY:
		return doc_size(d + v, end - v);
	case BSON_TYPE_BOOL:
		return v < end && d[v] <= 1 ? 1 : 0;
	case BSON_TYPE_BINARY:
		if (end - v < 5 || (n = le32(d + v)) > end - v - 5)
			return 0;
		/* The old binary subtype holds its own length again. */
		if (d[v + 4] == BSON_SUBTYPE_BINARY_DEPRECATED && (n < 4 ||
		    le32(d + v + 5) != n - 4))
			return 0;
		return 5 + (size_t)n;
	case BSON_TYPE_REGEX:	/* two C strings: pattern, options */
		if ((p = memchr(d + v, '\0', end - v)) == NULL ||
		    (p = memchr(p + 1, '\0', (size_t)(d + end - p - 1))) == NULL)
			return 0;
		return (size_t)(p - d) + 1 - v;
	case BSON_TYPE_DBPOINTER:
		if ((s = string_size(d, v, end)) == 0 || end - v - s < 12)
			return 0;
		return s + 12;
	case BSON_TYPE_CODEWSCOPE:	/* length, code, scope document */
		if (end - v < 4 || (n = le32(d + v)) < 14 || n > end - v)
			return 0;
		t = v + n;
		if ((s = string_size(d, v + 4, t)) == 0 ||
		    (t - v - 4 - s) == 0 ||
		    doc_size(d + v + 4 + s, t - v - 4 - s) != t - v - 4 - s)
			return 0;
		return n;
	default:
		return 0;
	}
}

/*
 * Whether the key at d + i, of n bytes, is "_id". A document's _id must be
 * there once: MongoDB refuses a second, and the stores would not agree on
 * which one is the document's.
 */
static bool
key_is_id(const uint8_t *d, size_t i, size_t n)
{
	return n == 3 && memcmp(d + i, "_id", 3) == 0;
}

/* The elements of the document d of len bytes (its length checked). */
static const char *
walk(const uint8_t *d, size_t len, int depth, bool keys_free)
{
	size_t i = 4, end = len - 1;	/* d[end] is the document's NUL */
	const char *why;
	bool id = false;

	while (i < end) {
		uint8_t type = d[i++];
		size_t v, n;
		int fixed;

		if ((why = key_problem(d, i, end, keys_free, &v)) != NULL)
			return why;
		if (depth == 0 && key_is_id(d, i, v - 1 - i)) {
			if (id)
				return "_id is there twice (a key may not "
				    "repeat)";
			id = true;
		}
		if ((fixed = fixed_size(type)) >= 0)
			n = (size_t)fixed;
		else if ((n = value_size(d, type, v, end)) == 0)
			return CORRUPT;
		if (n > end - v)
			return CORRUPT;
		if (type == BSON_TYPE_UTF8 &&
		    !msb__utf8_valid((const char *)d + v + 4, n - 5))
			return "a string is not valid UTF-8";
		if (type == BSON_TYPE_DOCUMENT || type == BSON_TYPE_ARRAY) {
			if (depth > MAX_DEPTH)
				return "nested more than 100 levels deep";
			/* An array's keys are its indexes. */
			if ((why = walk(d + v, n, depth + 1,
			    type == BSON_TYPE_ARRAY)) != NULL)
				return why;
		}
		if (type == BSON_TYPE_CODEWSCOPE) {
			/* The scope: variables, not fields; well-formed. */
			size_t sc = 4 + string_size(d, v + 4, v + n);

			if (depth > MAX_DEPTH)
				return "nested more than 100 levels deep";
			if ((why = walk(d + v + sc, n - sc, depth + 1,
			    true)) != NULL)
				return why;
		}
		i = v + n;
	}
	return NULL;
}

const char *
msb__doc_problem(const uint8_t *data, size_t len)
{
	if (len < 5 || le32(data) != len || data[len - 1] != '\0')
		return CORRUPT;
	return walk(data, len, 0, false);
}

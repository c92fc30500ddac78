/*
 * Field conversions for acme's listings export. Each one is strict: a
 * value that does not have the expected form is refused, never guessed,
 * and the caller rejects the row.
 *
 * Numbers go through strtod, which follows LC_NUMERIC; the app never
 * calls setlocale, so the "C" locale (a '.' decimal point) applies.
 * Plain decimals of up to 15 digits, most of the file, take a shortcut
 * that gives the same double (fast_decimal).
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wrangle.h"

#define NUM_MAX 64	/* longest number text accepted */

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

void
wr_trim(const char **s, size_t *len)
{
	while (*len > 0 && is_blank(**s))
		(*s)++, (*len)--;
	while (*len > 0 && is_blank((*s)[*len - 1]))
		(*len)--;
}

int
wr_int(const char *s, size_t len, int64_t *out)
{
	uint64_t v = 0, limit = INT64_MAX;
	size_t i = 0;
	bool neg = false;

	wr_trim(&s, &len);
	if (i < len && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (i == len)
		return -1;
	if (neg)
		limit++;	/* -2^63 fits, 2^63 does not */
	for (; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > 9 || v > (limit - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	/* Through uint64_t: negating INT64_MIN as int64_t would overflow. */
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/*
 * [sign] digits [. digits] with at most 15 digits, as strtod would read
 * it: the digits are an integer below 2^53 and 10^k (k <= 15) a double,
 * both exact, so their IEEE quotient is the correctly rounded value
 * (Clinger's fast path). False for anything else: strtod decides.
 */
static bool
fast_decimal(const char *s, size_t n, double *out)
{
	static const double pow10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6,
	    1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
	size_t i = 0, digits = 0, frac = 0;
	bool neg = false, dot = false;
	uint64_t m = 0;
	double v;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	for (; i < n; i++) {
		if (s[i] == '.' && !dot) {
			dot = true;
			continue;
		}
		if (!is_digit(s[i]) || ++digits > 15)
			return false;
		m = m * 10 + (uint64_t)(s[i] - '0');
		frac += dot;
	}
	if (digits == 0)
		return false;
	v = (double)m / pow10[frac];
	*out = neg ? -v : v;
	return true;
}

/* Runs strtod over exactly n bytes; the whole text must be used. */
static int
to_double(const char *s, size_t n, double *out)
{
	char buf[NUM_MAX];
	char *end;
	double v;

	if (fast_decimal(s, n, out))
		return 0;
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	v = strtod(buf, &end);
	if (end != buf + n || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

int
wr_number(const char *s, size_t len, double *out)
{
	size_t i = 0, digits = 0;

	wr_trim(&s, &len);
	/* Checked by hand first: strtod would also take "inf", "0x1p3". */
	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	for (; i < len && is_digit(s[i]); i++)
		digits++;
	if (i < len && s[i] == '.')
		for (i++; i < len && is_digit(s[i]); i++)
			digits++;
	if (digits == 0)
		return -1;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t exp = 0;

		if (++i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		for (; i < len && is_digit(s[i]); i++)
			exp++;
		if (exp == 0)
			return -1;
	}
	if (i != len)
		return -1;
	return to_double(s, len, out);
}

int
wr_price(const char *s, size_t len, double *out)
{
	char plain[NUM_MAX];
	size_t i = 0, n = 0, group = 0;
	bool grouped = false;

	wr_trim(&s, &len);
	if (i < len && s[i] == '$')
		i++;
	/* Integer part: digits, optionally in groups of three after commas. */
	for (; i < len && n < sizeof(plain) - 1; i++) {
		if (is_digit(s[i])) {
			plain[n++] = s[i];
			group++;
		} else if (s[i] == ',') {
			/* The first group has 1-3 digits, the others 3. */
			if (group == 0 || group > 3 || (grouped && group != 3))
				return -1;
			grouped = true;
			group = 0;
		} else
			break;
	}
	if (n == 0 || (grouped && group != 3))
		return -1;
	if (i < len && s[i] == '.') {
		plain[n++] = s[i++];
		for (; i < len && is_digit(s[i]) && n < sizeof(plain) - 1; i++)
			plain[n++] = s[i];
	}
	if (i != len)
		return -1;
	return to_double(plain, n, out);
}

static int
hex4(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	for (int k = 0; k < 4; k++) {
		char c = s[k];

		v <<= 4;
		if (is_digit(c))
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Encodes a code point as UTF-8 at out; returns the bytes written. */
static size_t
utf8_put(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decodes a \uXXXX escape (a surrogate pair takes two) at s[*i], just
 * after the backslash and 'u'. Returns the bytes written at out, or 0.
 */
static size_t
unicode_escape(const char *s, size_t len, size_t *i, char *out)
{
	uint32_t cp, lo;

	if (*i + 4 > len || hex4(s + *i, &cp) == -1)
		return 0;
	*i += 4;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return 0;		/* a low surrogate alone */
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (*i + 6 > len || s[*i] != '\\' || s[*i + 1] != 'u' ||
		    hex4(s + *i + 2, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff)
			return 0;
		*i += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp == 0)
		return 0;		/* NUL: not in a BSON string */
	return utf8_put(cp, out);
}

/*
 * Reads one JSON string starting at the opening quote s[*i] and appends it
 * to the array. Without escapes (the usual case) it is appended from the
 * source directly; from the first escape on it is decoded into scratch.
 */
static int
append_string(struct msb_docbuild *arr, const char *s, size_t len,
    size_t *i, char *scratch)
{
	size_t start = ++*i, n = 0, w;
	bool escaped = false;

	for (; *i < len && s[*i] != '"'; (*i)++) {
		if (s[*i] != '\\') {
			if (escaped)
				scratch[n++] = s[*i];
			continue;
		}
		if (!escaped) {
			/* The first escape: decode from here on in scratch. */
			n = *i - start;
			memcpy(scratch, s + start, n);
			escaped = true;
		}
		if (++*i >= len)
			return -1;
		switch (s[*i]) {
		case '"': case '\\': case '/':
			scratch[n++] = s[*i];
			break;
		case 'b': scratch[n++] = '\b'; break;
		case 'f': scratch[n++] = '\f'; break;
		case 'n': scratch[n++] = '\n'; break;
		case 'r': scratch[n++] = '\r'; break;
		case 't': scratch[n++] = '\t'; break;
		case 'u':
			(*i)++;
			if ((w = unicode_escape(s, len, i, scratch + n)) == 0)
				return -1;
			n += w;
			(*i)--;	/* the loop steps past it */
			break;
		default:
			return -1;
		}
	}
	if (*i >= len)
		return -1;		/* no closing quote */
	if (msb_docbuild_utf8(arr, NULL, 0, escaped ? scratch : s + start,
	    escaped ? n : *i - start) != MSB_OK)
		return -1;
	(*i)++;
	return 0;
}

static void
skip_blanks(const char *s, size_t len, size_t *i)
{
	while (*i < len && is_blank(s[*i]))
		(*i)++;
}

/* The items of a list whose '[' is at s[*i]; stops after its ']'. */
static int
list_items(struct msb_docbuild *arr, const char *s, size_t len, size_t *i,
    char *scratch)
{
	(*i)++;
	skip_blanks(s, len, i);
	if (*i < len && s[*i] == ']') {
		(*i)++;
		return 0;
	}
	for (;;) {
		if (*i >= len || s[*i] != '"' ||
		    append_string(arr, s, len, i, scratch) == -1)
			return -1;
		skip_blanks(s, len, i);
		if (*i < len && s[*i] == ']') {
			(*i)++;
			return 0;
		}
		if (*i >= len || s[*i] != ',')
			return -1;
		(*i)++;
		skip_blanks(s, len, i);
	}
}

int
wr_amenities(struct msb_docbuild *doc, const char *key, size_t keylen,
    const char *s, size_t len, char *scratch)
{
	size_t i = 0;
	int rc;

	wr_trim(&s, &len);
	if (len == 0 || s[0] != '[')
		return -1;
	if (msb_docbuild_begin(doc, key, keylen, true) != MSB_OK)
		return -1;
	rc = list_items(doc, s, len, &i, scratch);
	/* Always closed: the document must end balanced. */
	if (msb_docbuild_end(doc) != MSB_OK)
		return -1;
	return rc == 0 && i == len ? 0 : -1;
}

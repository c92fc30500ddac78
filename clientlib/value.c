/*
 * Typed values from text: what a CSV field (or any text) becomes in a
 * document. Every conversion is strict and whole: "12abc" is not 12, and
 * a value that does not convert is reported, never guessed.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mysimbdp-internal.h"

#define NUM_MAX 128	/* longest number text accepted */

static const struct {
	const char	*name;
	enum msb_type	 type;
} type_names[] = {
	{ "string", MSB_TYPE_STRING },
	{ "integer", MSB_TYPE_INT },
	{ "double", MSB_TYPE_DOUBLE },
	{ "boolean", MSB_TYPE_BOOL },
	{ "date", MSB_TYPE_DATE },
	/* Aliases, after the canonical names that msb_type_name gives. */
	{ "text", MSB_TYPE_STRING },
	{ "int", MSB_TYPE_INT },
	{ "long", MSB_TYPE_INT },
	{ "float", MSB_TYPE_DOUBLE },
	{ "number", MSB_TYPE_DOUBLE },
	{ "bool", MSB_TYPE_BOOL },
	{ "datetime", MSB_TYPE_DATE },
	{ "timestamp", MSB_TYPE_DATE },
};

const char *
msb_type_name(enum msb_type type)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (type_names[i].type == type)
			return type_names[i].name;
	return "unknown";
}

int
msb_type_parse(const char *name, enum msb_type *type)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (strcasecmp(name, type_names[i].name) == 0) {
			*type = type_names[i].type;
			return MSB_OK;
		}
	return MSB_ERROR;
}

/*
 * strtod follows the process locale, in which the decimal point may be a
 * comma; data files use '.', so doubles are read in the C locale. (glibc
 * returns its static C locale object here: there is nothing to free.)
 */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void
c_locale_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	    c == '\f';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
parse_int(const char *s, size_t n, int64_t *out, const char **why)
{
	char buf[NUM_MAX];
	char *end;
	size_t i = 0;
	long long v;

	if (n >= sizeof(buf)) {
		*why = "not an integer";
		return -1;
	}
	if (s[0] == '+' || s[0] == '-')
		i++;
	if (i == n) {
		*why = "not an integer";
		return -1;
	}
	for (; i < n; i++)
		if (!is_digit(s[i])) {
			*why = "not an integer";
			return -1;
		}
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno == ERANGE) {
		*why = "integer out of range";
		return -1;
	}
	*out = v;
	return 0;
}

/* [+-] digits [. digits] [e [+-] digits], with digits on one side of '.'. */
static int
parse_double(const char *s, size_t n, double *out, const char **why)
{
	char buf[NUM_MAX];
	size_t i = 0, int_digits = 0, frac_digits = 0;
	double v;

	if (n >= sizeof(buf))
		goto bad;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	for (; i < n && is_digit(s[i]); i++)
		int_digits++;
	if (i < n && s[i] == '.')
		for (i++; i < n && is_digit(s[i]); i++)
			frac_digits++;
	if (int_digits + frac_digits == 0)
		goto bad;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t exp_digits = 0;

		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (; i < n && is_digit(s[i]); i++)
			exp_digits++;
		if (exp_digits == 0)
			goto bad;
	}
	if (i != n)
		goto bad;
	memcpy(buf, s, n);
	buf[n] = '\0';
	pthread_once(&c_locale_once, c_locale_init);
	v = c_locale != (locale_t)0 ? strtod_l(buf, NULL, c_locale) :
	    strtod(buf, NULL);
	if (!isfinite(v)) {
		*why = "number out of range";
		return -1;
	}
	*out = v;
	return 0;

bad:
	*why = "not a number";
	return -1;
}

static int
parse_bool(const char *s, size_t n, bool *out, const char **why)
{
	static const char *const yes[] = { "true", "t", "yes", "y", "on", "1" };
	static const char *const no[] = { "false", "f", "no", "n", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strlen(yes[i]) == n && strncasecmp(s, yes[i], n) == 0) {
			*out = true;
			return 0;
		}
		if (strlen(no[i]) == n && strncasecmp(s, no[i], n) == 0) {
			*out = false;
			return 0;
		}
	}
	*why = "not a boolean (true/false, yes/no, 1/0)";
	return -1;
}

/* Reads exactly n digits at s[*i]. */
static bool
digits(const char *s, size_t len, size_t *i, int n, int *out)
{
	int v = 0;

	if (*i + (size_t)n > len)
		return false;
	for (int k = 0; k < n; k++) {
		if (!is_digit(s[*i + (size_t)k]))
			return false;
		v = v * 10 + (s[*i + (size_t)k] - '0');
	}
	*i += (size_t)n;
	*out = v;
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
days_in_month(int y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dim[m - 1];
}

/*
 * ISO 8601, the forms data files use: YYYY-MM-DD, optionally followed by
 * 'T' (or a space) HH:MM[:SS[.fraction]] and a zone Z, +HH, +HH:MM or
 * +HHMM (or '-'). Without a zone the time is UTC. Milliseconds since the
 * epoch into *ms.
 */
static int
parse_date(const char *s, size_t n, int64_t *ms, const char **why)
{
	int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, frac = 0;
	int tzh = 0, tzm = 0;
	int sign = 0;
	size_t i = 0;

	if (!digits(s, n, &i, 4, &y) || i >= n || s[i++] != '-' ||
	    !digits(s, n, &i, 2, &mo) || i >= n || s[i++] != '-' ||
	    !digits(s, n, &i, 2, &d))
		goto bad;
	if (i < n) {
		if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
			goto bad;
		i++;
		if (!digits(s, n, &i, 2, &h) || i >= n || s[i++] != ':' ||
		    !digits(s, n, &i, 2, &mi))
			goto bad;
		if (i < n && s[i] == ':') {
			i++;
			if (!digits(s, n, &i, 2, &sec))
				goto bad;
			if (i < n && (s[i] == '.' || s[i] == ',')) {
				int scale = 100, nd = 0;

				for (i++; i < n && is_digit(s[i]); i++, nd++) {
					frac += (s[i] - '0') * scale;
					scale /= 10;
				}
				if (nd == 0)
					goto bad;
			}
		}
		if (i < n && (s[i] == 'Z' || s[i] == 'z'))
			i++;
		else if (i < n && (s[i] == '+' || s[i] == '-')) {
			sign = s[i++] == '-' ? -1 : 1;
			if (!digits(s, n, &i, 2, &tzh))
				goto bad;
			if (i < n && s[i] == ':')
				i++;
			if (i < n && !digits(s, n, &i, 2, &tzm))
				goto bad;
		}
		if (i != n)
			goto bad;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
	    h > 23 || mi > 59 || sec > 59 || tzh > 23 || tzm > 59) {
		*why = "not a valid date or time";
		return -1;
	}
	*ms = (((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec) *
	    1000 + frac - (int64_t)sign * (tzh * 60 + tzm) * 60000;
	return 0;

bad:
	*why = "not an ISO 8601 date or date-time";
	return -1;
}

/*
 * The conversion msb_value_append and msb_docbuild_value share: text to
 * a value of type (or null), without appending it anywhere.
 */
int
msb__value_convert(enum msb_type type, unsigned flags, const char *text,
    size_t len, struct msb__typed *v, char *err, size_t errlen)
{
	const char *why = NULL;
	char quoted[200];

	while (len > 0 && is_space(text[0]))
		text++, len--;
	while (len > 0 && is_space(text[len - 1]))
		len--;
	memset(v, 0, sizeof(*v));
	if (len == 0) {
		if (flags & MSB_COL_REQUIRED) {
			msb__seterr(err, errlen, "required value is missing");
			return MSB_ERROR;
		}
		v->v_null = true;
		return MSB_OK;
	}
	switch (type) {
	case MSB_TYPE_STRING:
		if (len > 16 * 1024 * 1024)
			why = "value longer than 16 MiB";
		else if (!msb__utf8_valid(text, len))
			why = "not valid UTF-8 (or holds a NUL byte)";
		v->v_text = text;
		v->v_len = len;
		break;
	case MSB_TYPE_INT:
		parse_int(text, len, &v->v_int, &why);
		break;
	case MSB_TYPE_DOUBLE:
		parse_double(text, len, &v->v_double, &why);
		break;
	case MSB_TYPE_BOOL:
		parse_bool(text, len, &v->v_bool, &why);
		break;
	case MSB_TYPE_DATE:
		parse_date(text, len, &v->v_int, &why);
		break;
	default:
		why = "unknown type";
		break;
	}
	if (why != NULL) {
		msb__seterr(err, errlen, "%s: \"%s\"", why,
		    msb__quote(text, len, quoted, sizeof(quoted)));
		return MSB_ERROR;
	}
	return MSB_OK;
}

int
msb_value_append(bson_t *doc, const char *key, enum msb_type type,
    unsigned flags, const char *text, size_t len, char *err, size_t errlen)
{
	struct msb__typed v;
	bool ok = false;

	if (msb__value_convert(type, flags, text, len, &v, err, errlen) !=
	    MSB_OK)
		return MSB_ERROR;
	if (v.v_null)
		ok = BSON_APPEND_NULL(doc, key);
	else switch (type) {
	case MSB_TYPE_STRING:
		ok = bson_append_utf8(doc, key, -1, v.v_text, (int)v.v_len);
		break;
	case MSB_TYPE_INT:
		ok = BSON_APPEND_INT64(doc, key, v.v_int);
		break;
	case MSB_TYPE_DOUBLE:
		ok = BSON_APPEND_DOUBLE(doc, key, v.v_double);
		break;
	case MSB_TYPE_BOOL:
		ok = BSON_APPEND_BOOL(doc, key, v.v_bool);
		break;
	case MSB_TYPE_DATE:
		ok = BSON_APPEND_DATE_TIME(doc, key, v.v_int);
		break;
	}
	if (!ok) {
		msb__seterr(err, errlen, "document too large");
		return MSB_ERROR;
	}
	return MSB_OK;
}

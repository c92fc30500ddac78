/*
 * Data quality rules (docs/quality.md): the platform hands an app its
 * dataset's rules in MYSIMBDP_QUALITY (JSON, common/quality.c writes it),
 * and every sink the app opens checks each document against them before
 * it stores it. A document that breaks one is refused (MSB_BADDOC, "quality:
 * RULE: why"), counted under the first rule it breaks, and kept with that
 * rule in MYSIMBDP_REJECTS_FILE, never silently dropped. The counts go
 * into the app's result summary ("quality"), where batchmgr reads them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mysimbdp-internal.h"
#include "../common/jsonline.h"

enum rule_type { T_ANY, T_STRING, T_NUMBER, T_INT, T_DOUBLE, T_BOOL, T_DATE,
    T_OBJECT, T_ARRAY, T_OBJECTID };

static const char *const type_names[] = { "any", "string", "number", "int",
    "double", "bool", "date", "object", "array", "objectid" };

struct rule {
	char		*name;
	char		*field;
	bool		 required;
	enum rule_type	 type;
	bool		 has_min, has_max;
	double		 min, max;
	char		**values;	/* NULL-terminated, or NULL */
	bool		 has_pattern;
	regex_t		 pattern;
	int64_t		 max_age_ms;	/* 0: none */
	bool		 unique;
	struct msb__names seen;		/* unique: values of this unit */
	uint64_t	 rejected;
};

struct msb__quality {
	struct rule	*rules;
	size_t		 nrules;
	bool		 validate;	/* MYSIMBDP_QUALITY_PASS=validate */
	uint64_t	 checked;
	uint64_t	 rejected;
	const char	*rejects_path;	/* MYSIMBDP_REJECTS_FILE, or NULL */
	FILE		*rejects;	/* opened at the first reject */
};

static char *
dup_utf8(const bson_iter_t *it)
{
	return BSON_ITER_HOLDS_UTF8(it) ? strdup(bson_iter_utf8(it, NULL)) :
	    NULL;
}

static bool
number_of(const bson_iter_t *it, double *d)
{
	switch (bson_iter_type(it)) {
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64:
	case BSON_TYPE_DOUBLE:
		*d = bson_iter_as_double(it);
		return true;
	default:
		return false;
	}
}

/*
 * -1, 0 or 1 as the number at it (int32, int64 or double, not NaN) is
 * below, equal to or above bound. An int64 is compared exactly: as a
 * double, 9007199254740993 would equal a max of 9007199254740992.
 */
static int
number_cmp(const bson_iter_t *it, double bound)
{
	const double two63 = 9223372036854775808.0;
	double f;
	int64_t i;

	if (!BSON_ITER_HOLDS_INT64(it)) {
		f = bson_iter_as_double(it);
		return f < bound ? -1 : f > bound;
	}
	i = bson_iter_int64(it);
	if (bound >= two63)
		return -1;
	if (bound < -two63)
		return 1;
	f = floor(bound);	/* in [-2^63, 2^63): an int64 */
	if (i != (int64_t)f)
		return i < (int64_t)f ? -1 : 1;
	return f < bound ? -1 : 0;
}

/* "V is below|above BOUND" into buf: an int64 and a whole bound in full
 * (%g would print 9007199254740993 as the 9.0072e+15 of its bound). */
static const char *
out_of_range(char *buf, size_t len, const bson_iter_t *v, const char *how,
    double bound)
{
	char a[32], b[32];

	if (BSON_ITER_HOLDS_INT64(v))
		snprintf(a, sizeof(a), "%" PRId64, bson_iter_int64(v));
	else
		snprintf(a, sizeof(a), "%g", bson_iter_as_double(v));
	if (bound == floor(bound) && fabs(bound) < 9223372036854775808.0)
		snprintf(b, sizeof(b), "%" PRId64, (int64_t)bound);
	else
		snprintf(b, sizeof(b), "%g", bound);
	snprintf(buf, len, "%s is %s %s", a, how, b);
	return buf;
}

static int
parse_values(struct rule *r, bson_iter_t *it)
{
	bson_iter_t sub;
	size_t n = 0;

	if (!BSON_ITER_HOLDS_ARRAY(it) || !bson_iter_recurse(it, &sub))
		return -1;
	while (bson_iter_next(&sub))
		n++;
	if ((r->values = calloc(n + 1, sizeof(char *))) == NULL)
		return -1;
	bson_iter_recurse(it, &sub);
	for (n = 0; bson_iter_next(&sub); n++)
		if ((r->values[n] = dup_utf8(&sub)) == NULL)
			return -1;
	return 0;
}

/* One setting of a rule; -1 for one of the wrong kind. */
static int
parse_setting(struct rule *r, bson_iter_t *it)
{
	const char *key = bson_iter_key(it);

	if (strcmp(key, "name") == 0)
		return (r->name = dup_utf8(it)) ? 0 : -1;
	if (strcmp(key, "field") == 0)
		return (r->field = dup_utf8(it)) ? 0 : -1;
	if (strcmp(key, "required") == 0 || strcmp(key, "unique") == 0) {
		if (!BSON_ITER_HOLDS_BOOL(it))
			return -1;
		*(key[0] == 'r' ? &r->required : &r->unique) =
		    bson_iter_bool(it);
		return 0;
	}
	if (strcmp(key, "type") == 0) {
		for (size_t t = 0; t < sizeof(type_names) / sizeof(*type_names);
		    t++)
			if (BSON_ITER_HOLDS_UTF8(it) && strcmp(bson_iter_utf8(it,
			    NULL), type_names[t]) == 0) {
				r->type = (enum rule_type)t;
				return 0;
			}
		return -1;
	}
	if (strcmp(key, "min") == 0)
		return (r->has_min = number_of(it, &r->min)) ? 0 : -1;
	if (strcmp(key, "max") == 0)
		return (r->has_max = number_of(it, &r->max)) ? 0 : -1;
	if (strcmp(key, "values") == 0)
		return parse_values(r, it);
	if (strcmp(key, "pattern") == 0) {
		if (!BSON_ITER_HOLDS_UTF8(it) || regcomp(&r->pattern,
		    bson_iter_utf8(it, NULL), REG_EXTENDED | REG_NOSUB) != 0)
			return -1;
		r->has_pattern = true;
		return 0;
	}
	if (strcmp(key, "max_age_ms") == 0) {
		if (!BSON_ITER_HOLDS_INT(it) || bson_iter_as_int64(it) < 0)
			return -1;
		r->max_age_ms = bson_iter_as_int64(it);
		return 0;
	}
	return -1;
}

static int
parse_rule(struct rule *r, bson_iter_t *it, char *err, size_t errlen)
{
	bson_iter_t sub;

	if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &sub)) {
		msb__seterr(err, errlen, "MYSIMBDP_QUALITY: a rule is not an "
		    "object");
		return -1;
	}
	while (bson_iter_next(&sub))
		if (parse_setting(r, &sub) < 0) {
			msb__seterr(err, errlen, "MYSIMBDP_QUALITY: rule %s: "
			    "bad \"%s\"", r->name ? r->name : "?",
			    bson_iter_key(&sub));
			return -1;
		}
	if (r->name == NULL || r->field == NULL) {
		msb__seterr(err, errlen, "MYSIMBDP_QUALITY: a rule lacks its "
		    "name or field");
		return -1;
	}
	return 0;
}

static int
parse(struct msb__quality *q, const char *json, char *err, size_t errlen)
{
	bson_iter_t it, sub;
	bson_error_t berr;
	bson_t *doc;
	int rc = 0;

	if ((doc = bson_new_from_json((const uint8_t *)json, -1, &berr)) ==
	    NULL) {
		msb__seterr(err, errlen, "MYSIMBDP_QUALITY: not JSON: %s",
		    berr.message);
		return -1;
	}
	if (!bson_iter_init_find(&it, doc, "rules") ||
	    !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &sub)) {
		msb__seterr(err, errlen, "MYSIMBDP_QUALITY: no \"rules\" array");
		bson_destroy(doc);
		return -1;
	}
	while (rc == 0 && bson_iter_next(&sub)) {
		struct rule *r = realloc(q->rules, (q->nrules + 1) *
		    sizeof(*r));

		if (r == NULL) {
			msb__seterr(err, errlen, "out of memory");
			rc = -1;
			break;
		}
		q->rules = r;
		memset(&r[q->nrules], 0, sizeof(*r));
		rc = parse_rule(&r[q->nrules++], &sub, err, errlen);
	}
	bson_destroy(doc);
	return rc;
}

int
msb__quality_from_env(struct msb__quality **qp, char *err, size_t errlen)
{
	const char *json = getenv("MYSIMBDP_QUALITY");
	const char *pass = getenv("MYSIMBDP_QUALITY_PASS");
	struct msb__quality *q;

	*qp = NULL;
	if (json == NULL || *json == '\0')
		return MSB_OK;
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		msb__seterr(err, errlen, "out of memory");
		return MSB_TEMPFAIL;
	}
	q->validate = pass != NULL && strcmp(pass, "validate") == 0;
	q->rejects_path = getenv("MYSIMBDP_REJECTS_FILE");
	if (q->rejects_path != NULL && *q->rejects_path == '\0')
		q->rejects_path = NULL;
	if (parse(q, json, err, errlen) < 0) {
		msb__quality_free(q);
		return MSB_ERROR;
	}
	*qp = q;
	return MSB_OK;
}

bool
msb__quality_validating(const struct msb__quality *q)
{
	return q != NULL && q->validate;
}

static bool
type_matches(enum rule_type t, bson_type_t bt)
{
	switch (t) {
	case T_ANY:	return true;
	case T_STRING:	return bt == BSON_TYPE_UTF8;
	case T_NUMBER:	return bt == BSON_TYPE_INT32 || bt == BSON_TYPE_INT64 ||
			    bt == BSON_TYPE_DOUBLE || bt == BSON_TYPE_DECIMAL128;
	case T_INT:	return bt == BSON_TYPE_INT32 || bt == BSON_TYPE_INT64;
	case T_DOUBLE:	return bt == BSON_TYPE_DOUBLE;
	case T_BOOL:	return bt == BSON_TYPE_BOOL;
	case T_DATE:	return bt == BSON_TYPE_DATE_TIME;
	case T_OBJECT:	return bt == BSON_TYPE_DOCUMENT;
	case T_ARRAY:	return bt == BSON_TYPE_ARRAY;
	case T_OBJECTID: return bt == BSON_TYPE_OID;
	}
	return false;
}

/* The wall clock (msb__now_ms is monotonic): dates in documents are on it. */
static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * "\"VALUE\" why" in buf: the value quoted by msb__quote, printable
 * ASCII, so a long one is never cut inside a UTF-8 character.
 */
static const char *
quoted_problem(char *buf, size_t len, const char *s, const char *why)
{
	char q[96];

	msb__quote(s, strlen(s), q, sizeof(q));
	snprintf(buf, len, "\"%s\" %s", q, why);
	return buf;
}

/* The checks on a value that is there and not null; NULL: it passes. */
static const char *
value_problem(struct rule *r, const bson_iter_t *v, char *buf, size_t len)
{
	const char *s;
	double d = 0;

	if (!type_matches(r->type, bson_iter_type(v)))
		return snprintf(buf, len, "not of type %s",
		    type_names[r->type]), buf;
	/* NaN is neither below nor above anything: no range holds it. */
	if ((r->has_min || r->has_max) && (!number_of(v, &d) || isnan(d)))
		return "not a number";
	if (r->has_min && number_cmp(v, r->min) < 0)
		return out_of_range(buf, len, v, "below", r->min);
	if (r->has_max && number_cmp(v, r->max) > 0)
		return out_of_range(buf, len, v, "above", r->max);
	if (r->values != NULL || r->has_pattern) {
		if (!BSON_ITER_HOLDS_UTF8(v))
			return "not a string";
		s = bson_iter_utf8(v, NULL);
		if (r->values != NULL) {
			char **a = r->values;

			while (*a && strcmp(*a, s) != 0)
				a++;
			if (*a == NULL)
				return quoted_problem(buf, len, s,
				    "is not an allowed value");
		}
		if (r->has_pattern && regexec(&r->pattern, s, 0, NULL, 0) != 0)
			return quoted_problem(buf, len, s,
			    "does not match the pattern");
	}
	if (r->max_age_ms > 0) {
		if (!BSON_ITER_HOLDS_DATE_TIME(v))
			return "not a date";
		/* Not now - date: a date of -2^63 ms would wrap round. */
		if (bson_iter_date_time(v) < wall_ms() - r->max_age_ms)
			return "older than max_age";
	}
	return NULL;
}

/* Why doc breaks r, or NULL; a unique value is remembered once it passes. */
static const char *
rule_problem(struct rule *r, const bson_t *doc, char *buf, size_t len)
{
	char name[MSB__ID_NAME_SIZE];
	bson_iter_t it, v;
	const char *why;

	if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it,
	    r->field, &v) || BSON_ITER_HOLDS_NULL(&v))
		return r->required ? "missing" : NULL;
	if ((why = value_problem(r, &v, buf, len)) != NULL)
		return why;
	if (!r->unique)
		return NULL;
	msb__sink_id_name(&v, name);
	if (msb__names_has(&r->seen, name))
		return "a value seen before in this unit";
	return NULL;
}

/* Remembers the unique values of a document that passed every rule. */
static int
remember(struct msb__quality *q, const bson_t *doc)
{
	char name[MSB__ID_NAME_SIZE];
	bson_iter_t it, v;

	for (size_t i = 0; i < q->nrules; i++) {
		struct rule *r = &q->rules[i];

		if (!r->unique || !bson_iter_init(&it, doc) ||
		    !bson_iter_find_descendant(&it, r->field, &v) ||
		    BSON_ITER_HOLDS_NULL(&v))
			continue;
		msb__sink_id_name(&v, name);
		if (msb__names_add(&r->seen, name) < 0)
			return -1;
	}
	return 0;
}

/*
 * One line of the rejects file: the rule, why, the document; written
 * through (a refused row counts as kept only once it is in the file).
 * Returns 0, or -1 with errno when it could not be (a full disk).
 */
static int
keep_reject(struct msb__quality *q, const struct rule *r, const char *why,
    const bson_t *doc)
{
	bson_t line = BSON_INITIALIZER;
	char *json;
	int fd, rc = 0;

	if (q->rejects_path == NULL)
		return 0;
	if (q->rejects == NULL) {
		fd = open(q->rejects_path, O_WRONLY | O_CREAT | O_APPEND |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 || (q->rejects = fdopen(fd, "a")) == NULL) {
			int e = errno;

			if (fd >= 0)
				close(fd);
			errno = e;
			return -1;
		}
	}
	/* Bytes that are not UTF-8 are written \xNN: the line is kept. */
	jsonline_append_text(&line, "rule", r->name);
	jsonline_append_text(&line, "reason", why);
	BSON_APPEND_DOCUMENT(&line, "doc", doc);
	if ((json = bson_as_relaxed_extended_json(&line, NULL)) == NULL) {
		errno = EINVAL;	/* cannot be: jsonline made it UTF-8 */
		rc = -1;
	} else if (fprintf(q->rejects, "%s\n", json) < 0 ||
	    fflush(q->rejects) == EOF) {
		/* What stdio held of the line is dropped with it. */
		int e = errno;

		fclose(q->rejects);
		q->rejects = NULL;
		errno = e;
		rc = -1;
	}
	bson_free(json);
	bson_destroy(&line);
	return rc;
}

int
msb__quality_check(struct msb__quality *q, const bson_t *doc, char *why,
    size_t whylen)
{
	char buf[160];
	const char *p;

	q->checked++;
	for (size_t i = 0; i < q->nrules; i++) {
		struct rule *r = &q->rules[i];

		if ((p = rule_problem(r, doc, buf, sizeof(buf))) == NULL)
			continue;
		msb__seterr(why, whylen, "quality: %s: %s: %s", r->name,
		    r->field, p);
		/* Refused only once kept: else the unit is tried again. */
		if (keep_reject(q, r, why, doc) < 0) {
			msb__seterr(why, whylen, "quality: %s: a refused row "
			    "cannot be kept: MYSIMBDP_REJECTS_FILE %s: %s",
			    r->name, q->rejects_path, strerror(errno));
			return MSB_TEMPFAIL;
		}
		r->rejected++;
		q->rejected++;
		msb__metrics_quality(r->name);
		return MSB_BADDOC;
	}
	if (remember(q, doc) < 0) {
		snprintf(why, whylen, "quality: out of memory");
		return MSB_TEMPFAIL;
	}
	return MSB_OK;
}

void
msb__quality_unit_end(struct msb__quality *q)
{
	for (size_t i = 0; q != NULL && i < q->nrules; i++)
		msb__names_clear(&q->rules[i].seen);
}

void
msb__quality_append(const struct msb__quality *q, bson_t *to)
{
	bson_t sub, by;

	if (q == NULL)
		return;
	BSON_APPEND_DOCUMENT_BEGIN(to, "quality", &sub);
	BSON_APPEND_UTF8(&sub, "pass", q->validate ? "validate" : "ingest");
	BSON_APPEND_INT64(&sub, "checked", (int64_t)q->checked);
	BSON_APPEND_INT64(&sub, "rejected", (int64_t)q->rejected);
	BSON_APPEND_DOCUMENT_BEGIN(&sub, "rules", &by);
	for (size_t i = 0; i < q->nrules; i++)
		BSON_APPEND_INT64(&by, q->rules[i].name,
		    (int64_t)q->rules[i].rejected);
	bson_append_document_end(&sub, &by);
	bson_append_document_end(to, &sub);
}

void
msb__quality_free(struct msb__quality *q)
{
	if (q == NULL)
		return;
	for (size_t i = 0; i < q->nrules; i++) {
		struct rule *r = &q->rules[i];

		free(r->name);
		free(r->field);
		for (char **v = r->values; v && *v; v++)
			free(*v);
		free(r->values);
		if (r->has_pattern)
			regfree(&r->pattern);
		msb__names_free(&r->seen);
	}
	free(q->rules);
	if (q->rejects != NULL)
		fclose(q->rejects);
	free(q);
}

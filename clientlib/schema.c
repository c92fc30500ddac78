/*
 * Typed schemas for CSV records: which columns go into a document, under
 * which key, as which type. A record that does not fit is rejected and
 * counted; the caller skips it and goes on, so one bad row never fails a
 * whole file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mysimbdp-internal.h"

#define NAME_MAX_LEN 256
#define SCHEMA_FILE_MAX (1024 * 1024)

struct column {
	char		*c_name;	/* header name and document key */
	enum msb_type	 c_type;
	unsigned	 c_flags;
	size_t		 c_pos;		/* field index in a record */
};

struct msb_schema {
	struct column	*s_cols;	/* the columns added, in order */
	size_t		 s_ncols;
	size_t		 s_cap;
	bool		 s_has_rest;	/* "*": the header's other columns */
	enum msb_type	 s_rest_type;
	unsigned	 s_rest_flags;

	bool		 s_bound;	/* positions come from a header */
	size_t		 s_nheader;	/* fields in that header */
	struct column	*s_rest;	/* the header's other columns */
	size_t		 s_nrest;

	uint64_t	 s_rows;
	uint64_t	 s_rejected;
	struct msb_docbuild *s_build;	/* a record's fields, then to doc */
};

/* Why name cannot be a column name, or NULL. */
static const char *
bad_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0)
		return "empty column name";
	if (n > NAME_MAX_LEN)
		return "column name longer than 256 bytes";
	if (!bson_utf8_validate(name, n, false))
		return "column name is not valid UTF-8";
	if (name[0] == '$' || strchr(name, '.') != NULL)
		return "column name may not contain '.' or start with '$'";
	return NULL;
}

struct msb_schema *
msb_schema_new(void)
{
	struct msb_schema *schema;

	if ((schema = calloc(1, sizeof(*schema))) == NULL)
		return NULL;
	if ((schema->s_build = msb_docbuild_new()) == NULL) {
		free(schema);
		return NULL;
	}
	return schema;
}

static bool
has_column(const struct msb_schema *schema, const char *name)
{
	for (size_t i = 0; i < schema->s_ncols; i++)
		if (strcmp(schema->s_cols[i].c_name, name) == 0)
			return true;
	for (size_t i = 0; i < schema->s_nrest; i++)
		if (strcmp(schema->s_rest[i].c_name, name) == 0)
			return true;
	return false;
}

int
msb_schema_add(struct msb_schema *schema, const char *name,
    enum msb_type type, unsigned flags)
{
	struct column *c;

	if (strcmp(msb_type_name(type), "unknown") == 0) {
		errno = EINVAL;
		return MSB_ERROR;
	}
	if (strcmp(name, "*") == 0) {
		if (schema->s_has_rest) {
			errno = EINVAL;
			return MSB_ERROR;
		}
		schema->s_has_rest = true;
		schema->s_rest_type = type;
		schema->s_rest_flags = flags;
		return MSB_OK;
	}
	if (bad_name(name) != NULL || has_column(schema, name)) {
		errno = EINVAL;
		return MSB_ERROR;
	}
	if (schema->s_ncols == schema->s_cap) {
		size_t cap = schema->s_cap ? schema->s_cap * 2 : 16;

		if ((c = reallocarray(schema->s_cols, cap, sizeof(*c))) == NULL)
			return MSB_ERROR;
		schema->s_cols = c;
		schema->s_cap = cap;
	}
	c = &schema->s_cols[schema->s_ncols];
	if ((c->c_name = strdup(name)) == NULL)
		return MSB_ERROR;
	c->c_type = type;
	c->c_flags = flags;
	c->c_pos = schema->s_ncols;
	schema->s_ncols++;
	return MSB_OK;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Parses one "name:type[:required]" line into the schema. */
static void
parse_line(struct msb_schema *schema, char *line, const char *name,
    unsigned lineno, char *err, size_t errlen)
{
	char *col, *type, *flag, *extra;
	const char *why;
	enum msb_type t;
	unsigned flags = 0;

	col = trim(strsep(&line, ":"));
	type = line != NULL ? trim(strsep(&line, ":")) : NULL;
	flag = line != NULL ? trim(strsep(&line, ":")) : NULL;
	extra = line;
	if (type == NULL || *type == '\0') {
		msb__adderr(err, errlen, "%s:%u: expected name:type[:required]",
		    name, lineno);
		return;
	}
	if (strcmp(col, "*") != 0 && (why = bad_name(col)) != NULL) {
		msb__adderr(err, errlen, "%s:%u: %s", name, lineno, why);
		return;
	}
	if (msb_type_parse(type, &t) != MSB_OK) {
		msb__adderr(err, errlen, "%s:%u: %s: unknown type \"%.40s\" "
		    "(use string, integer, double, boolean or date)", name,
		    lineno, col, type);
		return;
	}
	if (flag != NULL && strcmp(flag, "required") == 0)
		flags |= MSB_COL_REQUIRED;
	else if (flag != NULL && strcmp(flag, "optional") != 0 &&
	    *flag != '\0') {
		msb__adderr(err, errlen, "%s:%u: %s: unknown flag \"%.40s\" "
		    "(use required)", name, lineno, col, flag);
		return;
	}
	if (extra != NULL) {
		msb__adderr(err, errlen, "%s:%u: %s: too many fields "
		    "(expected name:type[:required])", name, lineno, col);
		return;
	}
	if (msb_schema_add(schema, col, t, flags) != MSB_OK)
		msb__adderr(err, errlen, "%s:%u: %s: %s", name, lineno, col,
		    errno == EINVAL ? "listed twice" : strerror(errno));
}

struct msb_schema *
msb_schema_parse(const char *text, const char *name, char *err,
    size_t errlen)
{
	struct msb_schema *schema;
	char *copy, *p, *line, errs[2048] = "";
	unsigned lineno = 0;

	if (name == NULL)
		name = "schema";
	if ((schema = msb_schema_new()) == NULL ||
	    (copy = strdup(text)) == NULL) {
		msb_schema_free(schema);
		msb__seterr(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	p = copy;
	while ((line = strsep(&p, "\n")) != NULL) {
		lineno++;
		line = trim(line);
		if (*line == '\0' || *line == '#')
			continue;
		parse_line(schema, line, name, lineno, errs, sizeof(errs));
	}
	free(copy);
	if (errs[0] == '\0' && schema->s_ncols == 0 && !schema->s_has_rest)
		msb__adderr(errs, sizeof(errs), "%s: no columns", name);
	if (errs[0] != '\0') {
		msb__seterr(err, errlen, "%s", errs);
		msb_schema_free(schema);
		return NULL;
	}
	return schema;
}

struct msb_schema *
msb_schema_load(const char *path, char *err, size_t errlen)
{
	struct msb_schema *schema;
	struct stat st;
	char *text;
	size_t off = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		msb__seterr(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > SCHEMA_FILE_MAX) {
		msb__seterr(err, errlen, "%s: not a regular file of at most "
		    "1 MiB", path);
		close(fd);
		return NULL;
	}
	if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
		msb__seterr(err, errlen, "%s: out of memory", path);
		close(fd);
		return NULL;
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, text + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	text[off] = '\0';
	if (memchr(text, '\0', off) != NULL) {
		msb__seterr(err, errlen, "%s: not a text file", path);
		free(text);
		return NULL;
	}
	schema = msb_schema_parse(text, path, err, errlen);
	free(text);
	return schema;
}

static void
free_rest(struct msb_schema *schema)
{
	for (size_t i = 0; i < schema->s_nrest; i++)
		free(schema->s_rest[i].c_name);
	free(schema->s_rest);
	schema->s_rest = NULL;
	schema->s_nrest = 0;
}

/*
 * A document key for a header column the schema does not list: the
 * header name with what keys may not hold replaced, or "column<N>", and
 * not one of taken (the keys so far).
 */
static char *
rest_name(const struct msb__names *taken, const char *field, size_t len,
    size_t pos)
{
	char *s, *p;

	while (len > 0 && (*field == ' ' || *field == '\t'))
		field++, len--;
	while (len > 0 && (field[len - 1] == ' ' || field[len - 1] == '\t'))
		len--;
	if (len > NAME_MAX_LEN)
		len = NAME_MAX_LEN;
	if (len == 0 || !bson_utf8_validate(field, len, false)) {
		if (asprintf(&s, "column%zu", pos + 1) == -1)
			return NULL;
	} else {
		if ((s = strndup(field, len)) == NULL)
			return NULL;
		for (p = s; *p; p++)
			if (*p == '.')
				*p = '_';
		if (s[0] == '$')
			s[0] = '_';
	}
	while (msb__names_has(taken, s)) {
		/* A header with the same name twice keeps both columns. */
		char *t;

		if (asprintf(&t, "%s_%zu", s, pos + 1) == -1) {
			free(s);
			return NULL;
		}
		free(s);
		s = t;
	}
	return s;
}

/*
 * Binds the header's columns the schema does not list (not used) to "*".
 * The keys taken so far are a hash set: a hostile header of a million
 * columns must not cost a million scans of the others. Returns 0, or -1
 * when out of memory.
 */
static int
bind_rest(struct msb_schema *schema, const struct msb_csv_record *header,
    const bool *used)
{
	struct msb__names taken = { 0 };
	int rc = -1;

	schema->s_rest = calloc(header->nfields + 1, sizeof(*schema->s_rest));
	if (schema->s_rest == NULL)
		return -1;
	for (size_t i = 0; i < schema->s_ncols; i++)
		if (msb__names_add(&taken, schema->s_cols[i].c_name) == -1)
			goto out;
	for (size_t j = 0; j < header->nfields; j++) {
		struct column *c;

		if (used[j])
			continue;
		c = &schema->s_rest[schema->s_nrest];
		c->c_name = rest_name(&taken, header->fields[j],
		    header->lens[j], j);
		if (c->c_name == NULL)
			goto out;
		c->c_type = schema->s_rest_type;
		c->c_flags = schema->s_rest_flags;
		c->c_pos = j;
		schema->s_nrest++;
		if (msb__names_add(&taken, c->c_name) == -1)
			goto out;
	}
	rc = 0;
out:
	msb__names_free(&taken);
	return rc;
}

int
msb_schema_bind(struct msb_schema *schema,
    const struct msb_csv_record *header, char *err, size_t errlen)
{
	bool *used;
	char missing[1024] = "";
	size_t nmissing = 0;

	free_rest(schema);
	schema->s_bound = false;
	if ((used = calloc(header->nfields + 1, sizeof(*used))) == NULL) {
		msb__seterr(err, errlen, "header: out of memory");
		return MSB_ERROR;
	}
	for (size_t i = 0; i < schema->s_ncols; i++) {
		struct column *c = &schema->s_cols[i];
		size_t j;

		for (j = 0; j < header->nfields; j++) {
			const char *h = header->fields[j];
			size_t hl = header->lens[j];

			/* Header names are matched without their padding. */
			while (hl > 0 && (*h == ' ' || *h == '\t'))
				h++, hl--;
			while (hl > 0 && (h[hl - 1] == ' ' ||
			    h[hl - 1] == '\t'))
				hl--;
			if (!used[j] && hl == strlen(c->c_name) &&
			    memcmp(h, c->c_name, hl) == 0)
				break;
		}
		if (j == header->nfields) {
			msb__adderr(missing, sizeof(missing), "%s",
			    c->c_name);
			nmissing++;
			continue;
		}
		used[j] = true;
		c->c_pos = j;
	}
	if (nmissing > 0) {
		msb__seterr(err, errlen, "header: missing column%s: %s",
		    nmissing > 1 ? "s" : "", missing);
		free(used);
		return MSB_ERROR;
	}
	if (schema->s_has_rest && bind_rest(schema, header, used) == -1)
		goto nomem;
	free(used);
	schema->s_bound = true;
	schema->s_nheader = header->nfields;
	return MSB_OK;

nomem:
	free(used);
	free_rest(schema);
	msb__seterr(err, errlen, "header: out of memory");
	return MSB_ERROR;
}

static int
reject(struct msb_schema *schema, char *err, size_t errlen, const char *fmt,
    ...) MSB__FMT(4, 5);

static int
reject(struct msb_schema *schema, char *err, size_t errlen, const char *fmt,
    ...)
{
	va_list ap;

	va_start(ap, fmt);
	msb__vseterr(err, errlen, fmt, ap);
	va_end(ap);
	schema->s_rejected++;
	return MSB_ERROR;
}

/* Converts the columns in cols into b; MSB_ERROR rejects the record. */
static int
convert_cols(struct msb_schema *schema, const struct column *cols,
    size_t ncols, const struct msb_csv_record *rec, struct msb_docbuild *b,
    char *err, size_t errlen)
{
	char why[256];

	for (size_t i = 0; i < ncols; i++) {
		const struct column *c = &cols[i];

		if (msb_docbuild_value(b, c->c_name, strlen(c->c_name),
		    c->c_type, c->c_flags, rec->fields[c->c_pos],
		    rec->lens[c->c_pos], why, sizeof(why)) != MSB_OK)
			return reject(schema, err, errlen, "record %" PRIu64
			    ": %s: %s", rec->num, c->c_name, why);
	}
	return MSB_OK;
}

/*
 * The fields are built apart (msb_docbuild: faster than libbson's
 * appends) and reach doc in one piece, so only a whole record does.
 */
int
msb_schema_convert(struct msb_schema *schema,
    const struct msb_csv_record *rec, bson_t *doc, char *err, size_t errlen)
{
	size_t want = schema->s_bound ? schema->s_nheader : schema->s_ncols;
	bson_t fields;

	msb_docbuild_reset(schema->s_build);
	if (rec->nfields != want)
		return reject(schema, err, errlen, "record %" PRIu64
		    ": %zu field%s, expected %zu", rec->num, rec->nfields,
		    rec->nfields == 1 ? "" : "s", want);
	if (convert_cols(schema, schema->s_cols, schema->s_ncols, rec,
	    schema->s_build, err, errlen) != MSB_OK)
		return MSB_ERROR;
	if (convert_cols(schema, schema->s_rest, schema->s_nrest, rec,
	    schema->s_build, err, errlen) != MSB_OK)
		return MSB_ERROR;
	if (msb_docbuild_bson(schema->s_build, &fields) != MSB_OK)
		return reject(schema, err, errlen, "record %" PRIu64 ": %s",
		    rec->num, msb_docbuild_error(schema->s_build));
	if (!bson_concat(doc, &fields))
		return reject(schema, err, errlen, "record %" PRIu64
		    ": document too large", rec->num);
	schema->s_rows++;
	return MSB_OK;
}

void
msb_schema_counts(const struct msb_schema *schema, uint64_t *rows,
    uint64_t *rejected_rows)
{
	if (rows != NULL)
		*rows = schema->s_rows;
	if (rejected_rows != NULL)
		*rejected_rows = schema->s_rejected;
}

void
msb_schema_free(struct msb_schema *schema)
{
	if (schema == NULL)
		return;
	for (size_t i = 0; i < schema->s_ncols; i++)
		free(schema->s_cols[i].c_name);
	free(schema->s_cols);
	free_rest(schema);
	msb_docbuild_free(schema->s_build);
	free(schema);
}

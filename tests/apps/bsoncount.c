/*
 * bsoncount: prints the documents of the embedded store as JSON lines,
 * for tests (bsondump is not packaged in Debian 12). Each line is
 *   {"file": "<unit>.bson", "doc": <relaxed extended JSON>,
 *    "types": {"<key>": "<BSON type>", ...}}
 * with the top-level keys' types under MongoDB's $type names (double,
 * string, object, array, date, long, int, bool, null, ...), so a test can
 * tell a double from an integer and a date from a string.
 *
 * usage: bsoncount PATH...   (a .bson file, or a folder: its *.bson files
 *                            in name order; hidden names, i.e. a unit
 *                            still being written, are skipped)
 * Exit status: 0, or 1 when a path cannot be read or holds corrupt BSON.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bson/bson.h>

static const char *
type_name(bson_type_t t)
{
	switch (t) {
	case BSON_TYPE_DOUBLE: return "double";
	case BSON_TYPE_UTF8: return "string";
	case BSON_TYPE_DOCUMENT: return "object";
	case BSON_TYPE_ARRAY: return "array";
	case BSON_TYPE_BINARY: return "binData";
	case BSON_TYPE_OID: return "objectId";
	case BSON_TYPE_BOOL: return "bool";
	case BSON_TYPE_DATE_TIME: return "date";
	case BSON_TYPE_NULL: return "null";
	case BSON_TYPE_REGEX: return "regex";
	case BSON_TYPE_INT32: return "int";
	case BSON_TYPE_TIMESTAMP: return "timestamp";
	case BSON_TYPE_INT64: return "long";
	case BSON_TYPE_DECIMAL128: return "decimal";
	default: return "other";
	}
}

/* Prints a string as a JSON string (keys and file names). */
static void
put_json_string(const char *s)
{
	char *q = bson_utf8_escape_for_json(s, -1);

	printf("\"%s\"", q != NULL ? q : "?");
	bson_free(q);
}

static void
put_doc(const char *name, const bson_t *doc)
{
	bson_iter_t it;
	char *json = bson_as_relaxed_extended_json(doc, NULL);
	bool first = true;

	printf("{\"file\": ");
	put_json_string(name);
	printf(", \"doc\": %s, \"types\": {", json != NULL ? json : "null");
	bson_free(json);
	if (bson_iter_init(&it, doc)) {
		while (bson_iter_next(&it)) {
			printf("%s", first ? "" : ", ");
			put_json_string(bson_iter_key(&it));
			printf(": \"%s\"", type_name(bson_iter_type(&it)));
			first = false;
		}
	}
	printf("}}\n");
}

static int
dump_file(const char *path)
{
	bson_reader_t *r;
	bson_error_t error;
	const bson_t *doc;
	const char *name = strrchr(path, '/');
	bool eof = false;
	size_t n = 0;

	name = name != NULL ? name + 1 : path;
	if ((r = bson_reader_new_from_file(path, &error)) == NULL) {
		fprintf(stderr, "bsoncount: %s: %s\n", path, error.message);
		return 1;
	}
	while ((doc = bson_reader_read(r, &eof)) != NULL) {
		put_doc(name, doc);
		n++;
	}
	bson_reader_destroy(r);
	if (!eof) {
		fprintf(stderr, "bsoncount: %s: corrupt BSON after %zu "
		    "documents\n", path, n);
		return 1;
	}
	return 0;
}

static int
is_unit(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return de->d_name[0] != '.' && n > 5 &&
	    strcmp(de->d_name + n - 5, ".bson") == 0;
}

static int
dump_dir(const char *dir)
{
	struct dirent **list;
	char path[4096];
	int n, rc = 0;

	if ((n = scandir(dir, &list, is_unit, alphasort)) == -1) {
		perror(dir);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		rc |= dump_file(path);
		free(list[i]);
	}
	free(list);
	return rc;
}

int
main(int argc, char **argv)
{
	struct stat st;
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: bsoncount FILE.bson|DIR...\n");
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			perror(argv[i]);
			rc = 1;
		} else
			rc |= S_ISDIR(st.st_mode) ? dump_dir(argv[i]) :
			    dump_file(argv[i]);
	}
	return rc;
}

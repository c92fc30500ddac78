/*
 * mongoprep: what a tenant's DBA does to a MongoDB database, for the
 * tests (there is no mongo shell here).
 *
 *   mongoprep unique URL DB COLL FIELD VALUE
 *       creates a unique index on FIELD and inserts {_id: "clash",
 *       FIELD: VALUE (int64)}, so that a row with that value clashes;
 *   mongoprep count URL DB COLL
 *       prints the number of documents;
 *   mongoprep dump URL DB COLL
 *       prints every document, one relaxed extended JSON line each;
 *   mongoprep canon URL DB COLL
 *       the same in canonical extended JSON (every BSON type said);
 *   mongoprep canonfile DIR DB COLL
 *       the same of the embedded store at file://DIR (its .bson files);
 *   mongoprep collections URL DB
 *       prints the names of the database's collections, one a line;
 *   mongoprep drop URL DB
 *       drops the database.
 *
 * Exit status 0, or 1 with the server's error on stderr.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mongoc/mongoc.h>

static int
failed(const char *what, const bson_error_t *error)
{
	fprintf(stderr, "mongoprep: %s: %s\n", what, error->message);
	return 1;
}

static int
unique(mongoc_database_t *db, const char *coll_name, const char *field,
    int64_t value)
{
	mongoc_collection_t *coll = mongoc_database_get_collection(db,
	    coll_name);
	bson_t *cmd, *doc;
	bson_error_t error;
	int rc = 0;

	cmd = BCON_NEW("createIndexes", BCON_UTF8(coll_name), "indexes", "[",
	    "{", "key", "{", field, BCON_INT32(1), "}", "name",
	    BCON_UTF8("mongoprep_unique"), "unique", BCON_BOOL(true), "}", "]");
	doc = BCON_NEW("_id", BCON_UTF8("clash"), field, BCON_INT64(value));
	if (!mongoc_database_write_command_with_opts(db, cmd, NULL, NULL,
	    &error))
		rc = failed("createIndexes", &error);
	else if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &error))
		rc = failed("insert", &error);
	bson_destroy(doc);
	bson_destroy(cmd);
	mongoc_collection_destroy(coll);
	return rc;
}

static int
count(mongoc_database_t *db, const char *coll_name)
{
	mongoc_collection_t *coll = mongoc_database_get_collection(db,
	    coll_name);
	bson_t filter = BSON_INITIALIZER;
	bson_error_t error;
	int64_t n;

	n = mongoc_collection_count_documents(coll, &filter, NULL, NULL, NULL,
	    &error);
	mongoc_collection_destroy(coll);
	if (n < 0)
		return failed("count", &error);
	printf("%lld\n", (long long)n);
	return 0;
}

static void
print_doc(const bson_t *doc, bool canonical)
{
	char *json = canonical ? bson_as_canonical_extended_json(doc, NULL) :
	    bson_as_relaxed_extended_json(doc, NULL);

	printf("%s\n", json);
	bson_free(json);
}

/* Every document of the embedded store's DIR/DB/COLL, canonical. */
static int
canonfile(const char *dir, const char *db, const char *coll)
{
	char path[4096], file[8192];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, db, coll);
	if ((d = opendir(path)) == NULL) {
		perror(path);
		return 1;
	}
	while ((e = readdir(d)) != NULL) {
		bson_reader_t *r;
		const bson_t *doc;
		bool eof = false;

		if (e->d_name[0] == '.')	/* being written */
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		if ((r = bson_reader_new_from_file(file, NULL)) == NULL)
			continue;
		while ((doc = bson_reader_read(r, &eof)) != NULL)
			print_doc(doc, true);
		bson_reader_destroy(r);
		if (!eof) {
			fprintf(stderr, "mongoprep: %s: corrupt BSON\n", file);
			closedir(d);
			return 1;
		}
	}
	closedir(d);
	return 0;
}

static int
collections(mongoc_database_t *db)
{
	bson_error_t error;
	char **names = mongoc_database_get_collection_names_with_opts(db,
	    NULL, &error);

	if (names == NULL)
		return failed("listCollections", &error);
	for (char **n = names; *n; n++)
		printf("%s\n", *n);
	bson_strfreev(names);
	return 0;
}

static int
dump(mongoc_database_t *db, const char *coll_name, bool canonical)
{
	mongoc_collection_t *coll = mongoc_database_get_collection(db,
	    coll_name);
	bson_t filter = BSON_INITIALIZER;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t error;
	int rc = 0;

	cur = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
	while (mongoc_cursor_next(cur, &doc))
		print_doc(doc, canonical);
	if (mongoc_cursor_error(cur, &error))
		rc = failed("find", &error);
	mongoc_cursor_destroy(cur);
	mongoc_collection_destroy(coll);
	return rc;
}

int
main(int argc, char **argv)
{
	mongoc_client_t *client;
	mongoc_database_t *db;
	bson_error_t error;
	int rc = 2;

	if (argc < 4) {
		fprintf(stderr, "usage: mongoprep unique URL DB COLL FIELD "
		    "VALUE | count|dump|canon URL DB COLL | collections|drop URL DB | "
		    "canonfile DIR DB COLL\n");
		return 2;
	}
	if (strcmp(argv[1], "canonfile") == 0)
		return argc == 5 ? canonfile(argv[2], argv[3], argv[4]) : 2;
	mongoc_init();
	if ((client = mongoc_client_new(argv[2])) == NULL) {
		fprintf(stderr, "mongoprep: bad URL %s\n", argv[2]);
		return 2;
	}
	db = mongoc_client_get_database(client, argv[3]);
	if (strcmp(argv[1], "unique") == 0 && argc == 7)
		rc = unique(db, argv[4], argv[5], strtoll(argv[6], NULL, 10));
	else if (strcmp(argv[1], "count") == 0 && argc == 5)
		rc = count(db, argv[4]);
	else if (strcmp(argv[1], "dump") == 0 && argc == 5)
		rc = dump(db, argv[4], false);
	else if (strcmp(argv[1], "canon") == 0 && argc == 5)
		rc = dump(db, argv[4], true);
	else if (strcmp(argv[1], "collections") == 0 && argc == 4)
		rc = collections(db);
	else if (strcmp(argv[1], "drop") == 0 && argc == 4)
		rc = mongoc_database_drop(db, &error) ? 0 :
		    failed("drop", &error);
	else
		fprintf(stderr, "mongoprep: bad arguments\n");
	mongoc_database_destroy(db);
	mongoc_client_destroy(client);
	mongoc_cleanup();
	return rc;
}

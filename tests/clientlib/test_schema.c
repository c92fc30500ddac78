/*
 * Typed values and schemas: integers, doubles, booleans, ISO 8601 dates
 * to BSON dates, trimmed strings, empty values to null; a value that does
 * not convert rejects its row, which is counted and leaves the document
 * untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysimbdp.h>

#include "util.h"

/* Converts text as type; fails unless it gives a value of bson type want. */
static bson_iter_t
convert_ok(bson_t *doc, enum msb_type type, const char *text,
    bson_type_t want)
{
	char err[256] = "";
	bson_iter_t it;

	bson_reinit(doc);
	if (msb_value_append(doc, "v", type, 0, text, strlen(text), err,
	    sizeof(err)) != MSB_OK)
		fail_msg("%s \"%s\": %s", msb_type_name(type), text, err);
	assert_true(bson_iter_init_find(&it, doc, "v"));
	if (bson_iter_type(&it) != want)
		fail_msg("%s \"%s\": bson type %d, want %d",
		    msb_type_name(type), text, bson_iter_type(&it), want);
	return it;
}

/* Fails unless text is refused as type with a message containing why. */
static void
convert_bad(enum msb_type type, const char *text, const char *why)
{
	bson_t doc = BSON_INITIALIZER;
	char err[256] = "";

	if (msb_value_append(&doc, "v", type, 0, text, strlen(text), err,
	    sizeof(err)) != MSB_ERROR)
		fail_msg("%s \"%s\" was accepted", msb_type_name(type), text);
	if (strstr(err, why) == NULL)
		fail_msg("%s \"%s\": \"%s\" lacks \"%s\"", msb_type_name(type),
		    text, err, why);
	assert_true(bson_empty(&doc));
	bson_destroy(&doc);
}

static void
integers(void **state)
{
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it;

	it = convert_ok(&doc, MSB_TYPE_INT, "42", BSON_TYPE_INT64);
	assert_int_equal(bson_iter_int64(&it), 42);
	it = convert_ok(&doc, MSB_TYPE_INT, "  -7\t", BSON_TYPE_INT64);
	assert_int_equal(bson_iter_int64(&it), -7);
	it = convert_ok(&doc, MSB_TYPE_INT, "+3", BSON_TYPE_INT64);
	assert_int_equal(bson_iter_int64(&it), 3);
	it = convert_ok(&doc, MSB_TYPE_INT, "9223372036854775807",
	    BSON_TYPE_INT64);
	assert_true(bson_iter_int64(&it) == INT64_MAX);
	bson_destroy(&doc);

	convert_bad(MSB_TYPE_INT, "9223372036854775808", "out of range");
	convert_bad(MSB_TYPE_INT, "1.5", "not an integer");
	convert_bad(MSB_TYPE_INT, "12abc", "not an integer: \"12abc\"");
	convert_bad(MSB_TYPE_INT, "1 000", "not an integer");
	convert_bad(MSB_TYPE_INT, "-", "not an integer");
	convert_bad(MSB_TYPE_INT, "0x10", "not an integer");
}

static void
doubles(void **state)
{
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it;

	it = convert_ok(&doc, MSB_TYPE_DOUBLE, "3.25", BSON_TYPE_DOUBLE);
	assert_true(bson_iter_double(&it) == 3.25);
	it = convert_ok(&doc, MSB_TYPE_DOUBLE, "-1e3", BSON_TYPE_DOUBLE);
	assert_true(bson_iter_double(&it) == -1000.0);
	it = convert_ok(&doc, MSB_TYPE_DOUBLE, ".5", BSON_TYPE_DOUBLE);
	assert_true(bson_iter_double(&it) == 0.5);
	it = convert_ok(&doc, MSB_TYPE_DOUBLE, "7", BSON_TYPE_DOUBLE);
	assert_true(bson_iter_double(&it) == 7.0);
	bson_destroy(&doc);

	convert_bad(MSB_TYPE_DOUBLE, "$120.00", "not a number");
	convert_bad(MSB_TYPE_DOUBLE, "1,5", "not a number");
	convert_bad(MSB_TYPE_DOUBLE, "nan", "not a number");
	convert_bad(MSB_TYPE_DOUBLE, "inf", "not a number");
	convert_bad(MSB_TYPE_DOUBLE, "1e", "not a number");
	convert_bad(MSB_TYPE_DOUBLE, ".", "not a number");
	convert_bad(MSB_TYPE_DOUBLE, "1e999", "out of range");
}

static void
booleans(void **state)
{
	static const char *const yes[] = { "true", "TRUE", "t", "yes", "Y",
	    "on", "1" };
	static const char *const no[] = { "false", "False", "f", "no", "N",
	    "off", "0" };
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		it = convert_ok(&doc, MSB_TYPE_BOOL, yes[i], BSON_TYPE_BOOL);
		assert_true(bson_iter_bool(&it));
		it = convert_ok(&doc, MSB_TYPE_BOOL, no[i], BSON_TYPE_BOOL);
		assert_false(bson_iter_bool(&it));
	}
	bson_destroy(&doc);
	convert_bad(MSB_TYPE_BOOL, "maybe", "not a boolean");
	convert_bad(MSB_TYPE_BOOL, "2", "not a boolean");
}

static void
expect_date(const char *text, int64_t want_ms)
{
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it;

	it = convert_ok(&doc, MSB_TYPE_DATE, text, BSON_TYPE_DATE_TIME);
	if (bson_iter_date_time(&it) != want_ms)
		fail_msg("date \"%s\" = %lld, want %lld", text,
		    (long long)bson_iter_date_time(&it), (long long)want_ms);
	bson_destroy(&doc);
}

static void
iso_dates_become_bson_dates(void **state)
{
	expect_date("2024-05-01", 1714521600000LL);
	expect_date("2024-05-01T12:34:56Z", 1714566896000LL);
	expect_date("2024-05-01T12:34:56", 1714566896000LL);
	expect_date("2024-05-01 12:34", 1714566840000LL);
	expect_date("2024-05-01T12:34:56.789+02:00", 1714559696789LL);
	expect_date("2024-05-01T12:34:56.7891-0130", 1714572296789LL);
	expect_date("2024-05-01t12:34:56+05", 1714548896000LL);
	expect_date("1970-01-01", 0);
	expect_date("1969-12-31T23:59:59Z", -1000);
	expect_date("2024-02-29", 1709164800000LL);
	expect_date("2000-02-29", 951782400000LL);

	convert_bad(MSB_TYPE_DATE, "2023-02-29", "not a valid date");
	convert_bad(MSB_TYPE_DATE, "1900-02-29", "not a valid date");
	convert_bad(MSB_TYPE_DATE, "2024-13-01", "not a valid date");
	convert_bad(MSB_TYPE_DATE, "2024-04-31", "not a valid date");
	convert_bad(MSB_TYPE_DATE, "2024-05-01T24:00", "not a valid date");
	convert_bad(MSB_TYPE_DATE, "01/05/2024", "not an ISO 8601 date");
	convert_bad(MSB_TYPE_DATE, "2024-5-1", "not an ISO 8601 date");
	convert_bad(MSB_TYPE_DATE, "2024-05-01T12", "not an ISO 8601 date");
	convert_bad(MSB_TYPE_DATE, "2024-05-01T12:34:56.", "not an ISO");
	convert_bad(MSB_TYPE_DATE, "2024-05-01Z", "not an ISO 8601 date");
	convert_bad(MSB_TYPE_DATE, "2024-05-01T12:34 UTC", "not an ISO");
}

static void
strings_nulls_and_required(void **state)
{
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it;
	char err[128];

	it = convert_ok(&doc, MSB_TYPE_STRING, "  Sunny loft \t",
	    BSON_TYPE_UTF8);
	assert_string_equal(bson_iter_utf8(&it, NULL), "Sunny loft");
	it = convert_ok(&doc, MSB_TYPE_STRING, "Zürich", BSON_TYPE_UTF8);
	assert_string_equal(bson_iter_utf8(&it, NULL), "Zürich");
	/* An empty (or blank) value is null, whatever the type. */
	convert_ok(&doc, MSB_TYPE_STRING, "", BSON_TYPE_NULL);
	convert_ok(&doc, MSB_TYPE_INT, "   ", BSON_TYPE_NULL);
	convert_ok(&doc, MSB_TYPE_DATE, "", BSON_TYPE_NULL);
	/* ...unless the column is required. */
	bson_reinit(&doc);
	assert_int_equal(msb_value_append(&doc, "v", MSB_TYPE_INT,
	    MSB_COL_REQUIRED, " ", 1, err, sizeof(err)), MSB_ERROR);
	assert_string_equal(err, "required value is missing");
	assert_true(bson_empty(&doc));
	bson_destroy(&doc);
	convert_bad(MSB_TYPE_STRING, "caf\xe9", "not valid UTF-8");
}

static void
type_names(void **state)
{
	enum msb_type t;

	assert_int_equal(msb_type_parse("integer", &t), MSB_OK);
	assert_int_equal(t, MSB_TYPE_INT);
	assert_int_equal(msb_type_parse("Float", &t), MSB_OK);
	assert_int_equal(t, MSB_TYPE_DOUBLE);
	assert_int_equal(msb_type_parse("timestamp", &t), MSB_OK);
	assert_int_equal(t, MSB_TYPE_DATE);
	assert_int_equal(msb_type_parse("varchar", &t), MSB_ERROR);
	assert_string_equal(msb_type_name(MSB_TYPE_BOOL), "boolean");
}

static const char schema_text[] =
    "# acme listings\n"
    "id:integer:required\n"
    "\n"
    "  price : double\n"
    "last_review:date\n"
    "available:boolean:optional\r\n"
    "*:string\n";

/* A record from literal fields. */
static struct msb_csv_record
record(uint64_t num, size_t n, const char **fields, size_t *lens)
{
	struct msb_csv_record rec = {
		.num = num, .nfields = n, .fields = fields, .lens = lens,
	};

	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(fields[i]);
	return rec;
}

static void
schema_file_and_conversion(void **state)
{
	const char *hdr[] = { "id", "name", "price", "last_review",
	    "available", "host.id" };
	const char *good[] = { "1001", " Sunny loft ", "120.5", "2024-05-01",
	    "yes", "501" };
	const char *bad[] = { "1002", "Room", "$45.50", "2024-04-12", "no",
	    "502" };
	const char *nullid[] = { "", "Room", "1", "", "", "" };
	const char *short_row[] = { "1004", "Room" };
	size_t lens[6];
	struct msb_csv_record rec;
	struct msb_schema *schema;
	char *dir = tu_mkdtemp("schema"), *path = tu_join(dir, "l.schema");
	char err[512];
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it;
	uint64_t rows, rejected;

	tu_write_file(path, schema_text, -1);
	schema = msb_schema_load(path, err, sizeof(err));
	if (schema == NULL)
		fail_msg("%s", err);

	rec = record(0, 6, hdr, lens);
	assert_int_equal(msb_schema_bind(schema, &rec, err, sizeof(err)),
	    MSB_OK);

	rec = record(1, 6, good, lens);
	assert_int_equal(msb_schema_convert(schema, &rec, &doc, err,
	    sizeof(err)), MSB_OK);
	assert_true(bson_iter_init_find(&it, &doc, "id"));
	assert_int_equal(bson_iter_int64(&it), 1001);
	assert_true(bson_iter_init_find(&it, &doc, "price"));
	assert_true(bson_iter_double(&it) == 120.5);
	assert_true(bson_iter_init_find(&it, &doc, "last_review"));
	assert_int_equal(bson_iter_date_time(&it), 1714521600000LL);
	assert_true(bson_iter_init_find(&it, &doc, "available"));
	assert_true(bson_iter_bool(&it));
	/* Columns not listed come from "*": strings, keys made valid. */
	assert_true(bson_iter_init_find(&it, &doc, "name"));
	assert_string_equal(bson_iter_utf8(&it, NULL), "Sunny loft");
	assert_true(bson_iter_init_find(&it, &doc, "host_id"));
	assert_string_equal(bson_iter_utf8(&it, NULL), "501");
	assert_int_equal(bson_count_keys(&doc), 6);

	/* A bad value rejects the row; doc is left as it was. */
	bson_reinit(&doc);
	BSON_APPEND_UTF8(&doc, "_id", "x:2");
	rec = record(2, 6, bad, lens);
	assert_int_equal(msb_schema_convert(schema, &rec, &doc, err,
	    sizeof(err)), MSB_ERROR);
	assert_string_equal(err, "record 2: price: not a number: \"$45.50\"");
	assert_int_equal(bson_count_keys(&doc), 1);

	rec = record(3, 6, nullid, lens);
	assert_int_equal(msb_schema_convert(schema, &rec, &doc, err,
	    sizeof(err)), MSB_ERROR);
	assert_string_equal(err, "record 3: id: required value is missing");

	rec = record(4, 2, short_row, lens);
	assert_int_equal(msb_schema_convert(schema, &rec, &doc, err,
	    sizeof(err)), MSB_ERROR);
	assert_string_equal(err, "record 4: 2 fields, expected 6");

	msb_schema_counts(schema, &rows, &rejected);
	assert_int_equal(rows, 1);
	assert_int_equal(rejected, 3);

	bson_destroy(&doc);
	msb_schema_free(schema);
	tu_rmtree(dir);
	free(path);
	free(dir);
}

static void
header_must_hold_every_column(void **state)
{
	const char *hdr[] = { "name", "id" };
	size_t lens[2];
	struct msb_csv_record rec = record(0, 2, hdr, lens);
	struct msb_schema *schema;
	char err[256];

	schema = msb_schema_parse("id:int\nprice:double\nseen:date\n", "s",
	    err, sizeof(err));
	assert_non_null(schema);
	assert_int_equal(msb_schema_bind(schema, &rec, err, sizeof(err)),
	    MSB_ERROR);
	assert_string_equal(err, "header: missing columns: price; seen");
	msb_schema_free(schema);
}

/*
 * A hostile header: 200,000 columns, none listed, bound to "*". Each
 * unlisted column's key must be checked against those before it; with a
 * scan of them that is 2 * 10^10 comparisons (minutes), with a hash set
 * a blink. The bound only a quadratic bind (or a hang) reaches. Names
 * that clash still get their position appended.
 */
#define WIDE 200000
#define WIDE_BOUND_MS (20000 * tu_time_factor())

static void
wide_header_binds_in_linear_time(void **state)
{
	const char **hdr = calloc(WIDE, sizeof(*hdr));
	size_t *lens = calloc(WIDE, sizeof(*lens));
	char (*names)[16] = calloc(WIDE, sizeof(*names));
	struct msb_csv_record rec;
	struct msb_schema *schema;
	char err[256];
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it;
	int64_t start, took;

	assert_non_null(hdr);
	assert_non_null(lens);
	assert_non_null(names);
	for (size_t i = 0; i < WIDE; i++) {
		snprintf(names[i], sizeof(names[i]), "c%zu", i);
		hdr[i] = names[i];
	}
	hdr[WIDE - 1] = "c7";		/* twice: "c7_200000" */
	hdr[WIDE - 2] = "id";		/* listed */
	schema = msb_schema_parse("id:int\n*:string\n", "s", err,
	    sizeof(err));
	assert_non_null(schema);
	rec = record(0, WIDE, hdr, lens);
	start = tu_now_ms();
	assert_int_equal(msb_schema_bind(schema, &rec, err, sizeof(err)),
	    MSB_OK);
	if ((took = tu_now_ms() - start) > WIDE_BOUND_MS)
		fail_msg("binding %d columns took %lld ms (bound %lld ms): "
		    "quadratic", WIDE, (long long)took,
		    (long long)WIDE_BOUND_MS);

	/* A row of the header's own names: every column is there once. */
	hdr[WIDE - 2] = "1";
	rec = record(1, WIDE, hdr, lens);
	assert_int_equal(msb_schema_convert(schema, &rec, &doc, err,
	    sizeof(err)), MSB_OK);
	assert_int_equal(bson_count_keys(&doc), WIDE);
	assert_true(bson_iter_init_find(&it, &doc, "c7_200000"));
	assert_true(bson_iter_init_find(&it, &doc, "c199997"));
	assert_true(bson_iter_init_find(&it, &doc, "id"));
	assert_int_equal(bson_iter_int64(&it), 1);

	bson_destroy(&doc);
	msb_schema_free(schema);
	free(names);
	free(lens);
	free(hdr);
}

static void
positional_without_header(void **state)
{
	const char *row[] = { "7", "true" };
	size_t lens[2];
	struct msb_csv_record rec = record(1, 2, row, lens);
	struct msb_schema *schema = msb_schema_new();
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it;

	assert_int_equal(msb_schema_add(schema, "n", MSB_TYPE_INT, 0), MSB_OK);
	assert_int_equal(msb_schema_add(schema, "ok", MSB_TYPE_BOOL, 0),
	    MSB_OK);
	assert_int_equal(msb_schema_add(schema, "n", MSB_TYPE_INT, 0),
	    MSB_ERROR);
	assert_int_equal(msb_schema_add(schema, "a.b", MSB_TYPE_INT, 0),
	    MSB_ERROR);
	assert_int_equal(msb_schema_convert(schema, &rec, &doc, NULL, 0),
	    MSB_OK);
	assert_true(bson_iter_init_find(&it, &doc, "n"));
	assert_int_equal(bson_iter_int64(&it), 7);
	bson_destroy(&doc);
	msb_schema_free(schema);
}

static void
schema_errors_name_file_and_line(void **state)
{
	static const char text[] =
	    "id:integer\n"
	    "price:money\n"
	    "id:string\n"
	    "a.b:string\n"
	    "when\n"
	    "ok:boolean:sometimes\n";
	char err[1024];

	assert_null(msb_schema_parse(text, "acme.schema", err, sizeof(err)));
	assert_non_null(strstr(err, "acme.schema:2: price: unknown type "
	    "\"money\""));
	assert_non_null(strstr(err, "acme.schema:3: id: listed twice"));
	assert_non_null(strstr(err, "acme.schema:4: column name may not "
	    "contain '.'"));
	assert_non_null(strstr(err, "acme.schema:5: expected "
	    "name:type[:required]"));
	assert_non_null(strstr(err, "acme.schema:6: ok: unknown flag"));
	assert_null(msb_schema_parse("# nothing\n", "e", err, sizeof(err)));
	assert_string_equal(err, "e: no columns");
	assert_null(msb_schema_load("/nonexistent.schema", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent.schema: No such file"));
}

/* CSV reader and schema together, the way a loader uses them. */
struct load {
	struct msb_schema	*schema;
	uint64_t		 docs;
};

static int
load_header(const struct msb_csv_record *rec, void *arg)
{
	struct load *l = arg;

	return msb_schema_bind(l->schema, rec, NULL, 0);
}

static int
load_row(const struct msb_csv_record *rec, void *arg)
{
	struct load *l = arg;
	bson_t doc = BSON_INITIALIZER;

	if (msb_schema_convert(l->schema, rec, &doc, NULL, 0) == MSB_OK)
		l->docs++;
	bson_destroy(&doc);
	return 0;	/* a rejected row never stops the load */
}

static void
csv_through_schema(void **state)
{
	static const char csv[] =
	    "id,price,when\n"
	    "1,1.5,2024-01-01\n"
	    "2,oops,2024-01-02\n"
	    "3,\"2.5\",\n"
	    "x,3,2024-01-04\n"
	    "5,4,2024-01-05\n";
	struct load l = { 0 };
	struct msb_csv_options opts = {
		.flags = MSB_CSV_HEADER, .on_header = load_header,
	};
	struct msb_csv *reader;
	uint64_t rows, rejected;

	l.schema = msb_schema_parse("id:integer:required\nprice:double\n"
	    "when:date\n", "s", NULL, 0);
	reader = msb_csv_new(&opts, load_row, &l);
	assert_int_equal(msb_csv_feed(reader, csv, strlen(csv)), MSB_OK);
	assert_int_equal(msb_csv_finish(reader), MSB_OK);
	msb_csv_free(reader);
	msb_schema_counts(l.schema, &rows, &rejected);
	assert_int_equal(rows, 3);
	assert_int_equal(rejected, 2);
	assert_int_equal(l.docs, 3);
	msb_schema_free(l.schema);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(integers),
		cmocka_unit_test(doubles),
		cmocka_unit_test(booleans),
		cmocka_unit_test(iso_dates_become_bson_dates),
		cmocka_unit_test(strings_nulls_and_required),
		cmocka_unit_test(type_names),
		cmocka_unit_test(schema_file_and_conversion),
		cmocka_unit_test(header_must_hold_every_column),
		cmocka_unit_test(wide_header_binds_in_linear_time),
		cmocka_unit_test(positional_without_header),
		cmocka_unit_test(schema_errors_name_file_and_line),
		cmocka_unit_test(csv_through_schema),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

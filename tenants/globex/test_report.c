/*
 * globex's stream messages: a case report line becomes the document of
 * its country and day; a line that is not a valid report is refused with
 * a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "report.h"

static int
convert(const char *s, bson_t *doc, char *why, size_t whylen)
{
	why[0] = '\0';
	return report_to_doc(s, strlen(s), doc, why, whylen);
}

static void
report_is_the_document_of_its_country_and_day(void **state)
{
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it;
	char why[256];
	char *json;

	if (convert("07/03/2020,7,3,2020,199,5,Austria,AT,AUT,8858775,Europe\n",
	    &doc, why, sizeof(why)) != 0)
		fail_msg("refused: %s", why);
	json = bson_as_relaxed_extended_json(&doc, NULL);
	assert_string_equal(json, "{ \"_id\" : \"AT:2020-03-07\", "
	    "\"country\" : \"Austria\", \"geo_id\" : \"AT\", "
	    "\"country_code\" : \"AUT\", \"continent\" : \"Europe\", "
	    "\"population\" : 8858775, "
	    "\"date\" : { \"$date\" : \"2020-03-07T00:00:00Z\" }, "
	    "\"cases\" : 199, \"deaths\" : 5 }");
	bson_free(json);
	/* Counts are 64-bit integers, as the batch loader stores them. */
	assert_true(bson_iter_init_find(&it, &doc, "cases"));
	assert_int_equal(bson_iter_type(&it), BSON_TYPE_INT64);
	bson_destroy(&doc);
}

static void
quoted_names_corrections_and_no_population(void **state)
{
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it;
	char why[256];

	if (convert("01/04/2020,1,4,2020,-3,0,\"Bonaire, Saint Eustatius and "
	    "Saba\",BQ,BES,,America", &doc, why, sizeof(why)) != 0)
		fail_msg("refused: %s", why);
	assert_true(bson_iter_init_find(&it, &doc, "_id"));
	assert_string_equal(bson_iter_utf8(&it, NULL), "BQ:2020-04-01");
	assert_true(bson_iter_init_find(&it, &doc, "country"));
	assert_string_equal(bson_iter_utf8(&it, NULL),
	    "Bonaire, Saint Eustatius and Saba");
	assert_true(bson_iter_init_find(&it, &doc, "cases"));
	assert_int_equal(bson_iter_int64(&it), -3);
	assert_true(bson_iter_init_find(&it, &doc, "population"));
	assert_int_equal(bson_iter_type(&it), BSON_TYPE_NULL);
	bson_destroy(&doc);
}

static void
bad_reports_are_refused_with_a_reason(void **state)
{
	static const struct {
		const char	*msg;
		const char	*why;
	} bad[] = {
		{ "", "an empty message" },
		{ "07/03/2020,7,3,2020,199,5,Austria,AT", "8 fields, expected 11" },
		{ "2020-03-07,7,3,2020,199,5,Austria,AT,AUT,8858775,Europe",
		    "dateRep: not a date dd/mm/yyyy" },
		{ "31/02/2020,31,2,2020,199,5,Austria,AT,AUT,8858775,Europe",
		    "dateRep: not a valid date" },
		{ "07/03/2020,7,3,2020,many,5,Austria,AT,AUT,8858775,Europe",
		    "cases: not an integer" },
		{ "07/03/2020,7,3,2020,199,,Austria,AT,AUT,8858775,Europe",
		    "deaths: required value is missing" },
		{ "07/03/2020,7,3,2020,199,5,Austria, ,AUT,8858775,Europe",
		    "geoId: missing" },
		{ "07/03/2020,7,3,2020,199,5,\"Austria,AT,AUT,8858775,Europe",
		    "not CSV" },
		{ "07/03/2020,7,3,2020,199,5,Austria,AT,AUT,8858775,Europe\n"
		    "08/03/2020,8,3,2020,1,0,Austria,AT,AUT,8858775,Europe",
		    "more than one line" },
		{ "dateRep,day,month,year,cases,deaths,countriesAndTerritories,"
		    "geoId,countryterritoryCode,popData2019,continentExp",
		    "dateRep: not a date" },
	};
	bson_t doc = BSON_INITIALIZER;
	char why[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (convert(bad[i].msg, &doc, why, sizeof(why)) != -1)
			fail_msg("accepted: %s", bad[i].msg);
		if (strncmp(why, bad[i].why, strlen(bad[i].why)) != 0)
			fail_msg("%s: reason \"%s\", expected \"%s...\"",
			    bad[i].msg, why, bad[i].why);
	}
	bson_destroy(&doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(report_is_the_document_of_its_country_and_day),
		cmocka_unit_test(quoted_names_corrections_and_no_population),
		cmocka_unit_test(bad_reports_are_refused_with_a_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

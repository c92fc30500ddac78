/*
 * A case report, one message of globex's stream: one CSV line (no
 * header, no line break inside) in the column order of the EU open
 * dataset that globex's batch files follow:
 *   dateRep,day,month,year,cases,deaths,countriesAndTerritories,geoId,
 *   countryterritoryCode,popData2019,continentExp
 *   07/03/2020,7,3,2020,199,5,Austria,AT,AUT,8858775,Europe
 * It becomes the document ingest-cases makes of such a row (without the
 * 7-day average, which needs the days before), keyed by country and day.
 */
#ifndef GLOBEX_REPORT_H
#define GLOBEX_REPORT_H

#include <stddef.h>

#include <mysimbdp.h>

/*
 * Converts the message of len bytes at data into doc (emptied first):
 *   {_id: "AT:2020-03-07", country: "Austria", geo_id: "AT",
 *    country_code: "AUT", continent: "Europe", population: 8858775,
 *    date: 2020-03-07 (a BSON date), cases: 199, deaths: 5}
 * dateRep (dd/mm/yyyy) is the day; day, month and year are not read.
 * Counts are 64-bit integers, negative ones too (corrections, as in the
 * published data); an empty population is null. Returns 0, or -1 with
 * the reason the message is refused in why: "7 fields, expected 11",
 * "dateRep: not a date dd/mm/yyyy: ...", "cases: not an integer: ...".
 */
int	report_to_doc(const void *data, size_t len, bson_t *doc, char *why,
	    size_t whylen);

#endif

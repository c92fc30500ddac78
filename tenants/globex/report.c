/*
 * A case report to a document. The line goes through libmysimbdp's CSV
 * reader (country names may be quoted and hold commas: "Bonaire, Saint
 * Eustatius and Saba"), and the values through msb_value_append, so the
 * typing rules are the library's.
 */
#include <stdio.h>
#include <string.h>

#include "report.h"

enum column {
	C_DATE, C_DAY, C_MONTH, C_YEAR, C_CASES, C_DEATHS, C_COUNTRY, C_GEO,
	C_CODE, C_POP, C_CONTINENT, NCOLUMNS
};

/* Where each column goes, and how, in the order of ingest-cases. */
static const struct {
	enum column	 v_col;
	const char	*v_key;
	const char	*v_name;	/* the column, for reasons */
	enum msb_type	 v_type;
	unsigned	 v_flags;
} values[] = {
	{ C_COUNTRY, "country", "countriesAndTerritories", MSB_TYPE_STRING, 0 },
	{ C_GEO, "geo_id", "geoId", MSB_TYPE_STRING, MSB_COL_REQUIRED },
	{ C_CODE, "country_code", "countryterritoryCode", MSB_TYPE_STRING, 0 },
	{ C_CONTINENT, "continent", "continentExp", MSB_TYPE_STRING, 0 },
	{ C_POP, "population", "popData2019", MSB_TYPE_INT, 0 },
	{ C_DATE, "date", "dateRep", MSB_TYPE_DATE, MSB_COL_REQUIRED },
	{ C_CASES, "cases", "cases", MSB_TYPE_INT, MSB_COL_REQUIRED },
	{ C_DEATHS, "deaths", "deaths", MSB_TYPE_INT, MSB_COL_REQUIRED },
};

struct parse {
	bson_t		*p_doc;
	char		*p_why;
	size_t		 p_whylen;
	unsigned	 p_nrec;
	int		 p_rc;
};

static void
trim(const char **s, size_t *len)
{
	while (*len > 0 && (**s == ' ' || **s == '\t'))
		(*s)++, (*len)--;
	while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

static bool
digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* dd/mm/yyyy to yyyy-mm-dd; whether the day is valid is checked later. */
static int
iso_date(const char *s, size_t len, char iso[11])
{
	trim(&s, &len);
	if (len != 10 || s[2] != '/' || s[5] != '/' || !digits(s, 2) ||
	    !digits(s + 3, 2) || !digits(s + 6, 4))
		return -1;
	snprintf(iso, 11, "%.4s-%.2s-%.2s", s + 6, s + 3, s);
	return 0;
}

static int
convert(const struct msb_csv_record *rec, bson_t *doc, char *why,
    size_t whylen)
{
	const char *geo = rec->fields[C_GEO];
	size_t geolen = rec->lens[C_GEO];
	char iso[11], id[128], reason[256];

	if (rec->nfields != NCOLUMNS) {
		snprintf(why, whylen, "%zu fields, expected %d", rec->nfields,
		    NCOLUMNS);
		return -1;
	}
	if (iso_date(rec->fields[C_DATE], rec->lens[C_DATE], iso) == -1) {
		snprintf(why, whylen, "dateRep: not a date dd/mm/yyyy: \"%.*s\"",
		    (int)(rec->lens[C_DATE] < 40 ? rec->lens[C_DATE] : 40),
		    rec->fields[C_DATE]);
		return -1;
	}
	trim(&geo, &geolen);
	if (geolen == 0 || geolen > 64) {
		snprintf(why, whylen, "geoId: missing or longer than 64");
		return -1;
	}
	/* The key of the upsert: one document per country and day. */
	snprintf(id, sizeof(id), "%.*s:%s", (int)geolen, geo, iso);
	BSON_APPEND_UTF8(doc, "_id", id);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		const char *s = rec->fields[values[i].v_col];
		size_t n = rec->lens[values[i].v_col];

		/* dateRep is read as the ISO date it stands for. */
		if (values[i].v_col == C_DATE) {
			s = iso;
			n = strlen(iso);
		}
		if (msb_value_append(doc, values[i].v_key, values[i].v_type,
		    values[i].v_flags, s, n, reason, sizeof(reason)) ==
		    MSB_OK)
			continue;
		if (values[i].v_col == C_DATE)	/* say it as it was sent */
			snprintf(why, whylen, "dateRep: not a valid date: "
			    "\"%.10s\"", rec->fields[C_DATE]);
		else
			snprintf(why, whylen, "%s: %s", values[i].v_name,
			    reason);
		return -1;
	}
	return 0;
}

static int
on_record(const struct msb_csv_record *rec, void *arg)
{
	struct parse *p = arg;

	if (++p->p_nrec > 1) {
		snprintf(p->p_why, p->p_whylen, "more than one line");
		p->p_rc = -1;
		return 1;	/* stop reading */
	}
	p->p_rc = convert(rec, p->p_doc, p->p_why, p->p_whylen);
	return 0;
}

int
report_to_doc(const void *data, size_t len, bson_t *doc, char *why,
    size_t whylen)
{
	struct msb_csv_options opts = { .flags = MSB_CSV_STRICT };
	struct parse p = {
		.p_doc = doc, .p_why = why, .p_whylen = whylen, .p_rc = -1,
	};
	struct msb_csv *csv;
	int rc;

	bson_reinit(doc);
	if ((csv = msb_csv_new(&opts, on_record, &p)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	rc = msb_csv_feed(csv, data, len);
	if (rc == MSB_OK)
		rc = msb_csv_finish(csv);
	if (rc == MSB_ERROR) {
		snprintf(why, whylen, "not CSV: %s", msb_csv_error(csv));
		p.p_rc = -1;
	} else if (p.p_nrec == 0)
		snprintf(why, whylen, "an empty message");
	msb_csv_free(csv);
	return p.p_rc;
}

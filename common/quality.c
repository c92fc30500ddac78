#include "quality.h"

#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>

#include "log.h"

static void
append_rule(bson_t *rules, size_t i, const struct conf_rule *r)
{
	const char *key;
	char buf[16];
	bson_t rule, values;

	bson_uint32_to_string((uint32_t)i, &key, buf, sizeof(buf));
	bson_append_document_begin(rules, key, -1, &rule);
	BSON_APPEND_UTF8(&rule, "name", r->r_name);
	BSON_APPEND_UTF8(&rule, "field", r->r_field);
	if (r->r_required)
		BSON_APPEND_BOOL(&rule, "required", true);
	if (r->r_type)
		BSON_APPEND_UTF8(&rule, "type", r->r_type);
	if (r->r_min)
		BSON_APPEND_DOUBLE(&rule, "min", strtod(r->r_min, NULL));
	if (r->r_max)
		BSON_APPEND_DOUBLE(&rule, "max", strtod(r->r_max, NULL));
	if (r->r_values && r->r_values[0]) {
		BSON_APPEND_ARRAY_BEGIN(&rule, "values", &values);
		for (size_t k = 0; r->r_values[k]; k++) {
			bson_uint32_to_string((uint32_t)k, &key, buf,
			    sizeof(buf));
			bson_append_utf8(&values, key, -1, r->r_values[k], -1);
		}
		bson_append_array_end(&rule, &values);
	}
	if (r->r_pattern)
		BSON_APPEND_UTF8(&rule, "pattern", r->r_pattern);
	if (r->r_max_age_ms)
		BSON_APPEND_INT64(&rule, "max_age_ms", (int64_t)r->r_max_age_ms);
	if (r->r_unique)
		BSON_APPEND_BOOL(&rule, "unique", true);
	bson_append_document_end(rules, &rule);
}

char *
quality_json(const struct conf_quality *q)
{
	bson_t doc = BSON_INITIALIZER, rules;
	char *json, *copy;

	BSON_APPEND_ARRAY_BEGIN(&doc, "rules", &rules);
	for (size_t i = 0; i < q->q_nrules; i++)
		append_rule(&rules, i, &q->q_rules[i]);
	bson_append_array_end(&doc, &rules);
	json = bson_as_relaxed_extended_json(&doc, NULL);
	bson_destroy(&doc);
	/* The loader takes only UTF-8 settings (conf.c's check_utf8). */
	if (json == NULL)
		fatalx("%s: the rules cannot be written as JSON", __func__);
	if ((copy = strdup(json)) == NULL)
		fatal("%s: strdup", __func__);
	bson_free(json);
	return copy;
}

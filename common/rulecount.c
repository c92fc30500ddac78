#include "rulecount.h"

#include <stdio.h>
#include <string.h>

static size_t
find(const struct rule_count *rules, size_t nrules, const char *name)
{
	size_t k;

	for (k = 0; k < nrules; k++)
		if (strcmp(rules[k].rc_name, name) == 0)
			break;
	return k;
}

size_t
rule_count_add(struct rule_count *rules, size_t *nrules, size_t max,
    const char *name, uint64_t n)
{
	size_t k = find(rules, *nrules, name);

	/* No slot of its own: "other", which is found, or takes the last
	 * slot (a full table always has it: see above). */
	if (k == *nrules && k + 1 >= max)
		k = find(rules, *nrules, name = "other");
	if (k == *nrules) {
		snprintf(rules[k].rc_name, sizeof(rules[k].rc_name), "%s", name);
		rules[k].rc_n = rules[k].rc_mark = 0;
		(*nrules)++;
	}
	rules[k].rc_n += n;
	return k;
}

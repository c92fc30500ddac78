/*
 * Counts under quality rules' names, in a table of a fixed number of
 * slots: streammgr's per-stream counts, the monitor's sums of reports and
 * statistics, and `mysimbdp stats --quality`'s tallies.
 */
#ifndef MYSIMBDP_RULECOUNT_H
#define MYSIMBDP_RULECOUNT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* A count under a rule's name, or under "other". */
struct rule_count {
	char		 rc_name[TENANT_ID_MAX + 1];
	uint64_t	 rc_n;
	uint64_t	 rc_mark;	/* the caller's (e.g. how much is written) */
};

/*
 * Adds n to name's count in rules[0 .. *nrules), a table of max slots
 * (max >= 1). A new name takes a slot while another stays free; the last
 * slot is "other", where every name that finds no slot is counted, so
 * that ever-new names (profiles reloaded, hostile reports) neither grow
 * the table nor lose a count. Returns the index of the slot counted in.
 */
size_t rule_count_add(struct rule_count *rules, size_t *nrules, size_t max,
    const char *name, uint64_t n);

#endif

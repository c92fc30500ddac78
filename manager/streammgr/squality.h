/*
 * A stream's data quality over time (docs/quality.md, "Streams"): the
 * messages its instances rejected for a rule, counted per rule (the
 * reason libmysimbdp words as "quality: RULE: FIELD: why"), and one line
 * per stream and statistics interval in log/quality.jsonl, beside the
 * batch units' lines: checked (messages settled), rejected, rules.
 */
#ifndef MYSIMBDP_SQUALITY_H
#define MYSIMBDP_SQUALITY_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "rulecount.h"

/* Rules counted per stream; the last slot is "other" (rulecount.h). */
#define SQUALITY_RULES	64

struct squality {
	struct rule_count *sq_rules;	/* SQUALITY_RULES, from the first;
					 * rc_mark: the count written */
	size_t		 sq_nrules;
	uint64_t	 sq_settled_written;	/* acked + dead letters */
	uint64_t	 sq_rejected_written;
};

/*
 * Counts a REJECT whose reason begins "quality: " under its rule, when
 * the rule is one of q's, else under "other" (an app's own wording).
 */
void squality_count(struct squality *sq, const struct conf_quality *q,
    const char *reason);

/*
 * Writes the line of the interval to fd when the stream has rules and
 * settled a message since the last one (settled, rejected: its totals).
 * Returns 0 or -1 with errno set.
 */
int squality_flush(struct squality *sq, const struct conf_quality *q,
    int fd, const char *tenant, const char *stream, uint64_t settled,
    uint64_t rejected);

void squality_free(struct squality *sq);

#endif

#include "squality.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "record.h"

static const char *
rule_of(const struct conf_quality *q, const char *reason)
{
	const char *name = reason + strlen("quality: ");
	size_t len = strcspn(name, ":");

	for (size_t i = 0; i < q->q_nrules; i++)
		if (strlen(q->q_rules[i].r_name) == len &&
		    strncmp(q->q_rules[i].r_name, name, len) == 0)
			return q->q_rules[i].r_name;
	return "other";
}

void
squality_count(struct squality *sq, const struct conf_quality *q,
    const char *reason)
{
	if (sq->sq_rules == NULL &&
	    (sq->sq_rules = calloc(SQUALITY_RULES, sizeof(*sq->sq_rules))) == NULL)
		fatal("%s: calloc", __func__);
	(void)rule_count_add(sq->sq_rules, &sq->sq_nrules, SQUALITY_RULES,
	    rule_of(q, reason), 1);
}

int
squality_flush(struct squality *sq, const struct conf_quality *q, int fd,
    const char *tenant, const char *stream, uint64_t settled,
    uint64_t rejected)
{
	struct stream_quality line = { tenant, stream, 0, 0, NULL, NULL, 0 };
	const char *names[SQUALITY_RULES];
	uint64_t counts[SQUALITY_RULES];
	int rc;

	if (!q->q_enabled || settled == sq->sq_settled_written)
		return 0;
	line.sq_checked = settled - sq->sq_settled_written;
	line.sq_rejected = rejected - sq->sq_rejected_written;
	for (size_t i = 0; i < sq->sq_nrules; i++) {
		struct rule_count *r = &sq->sq_rules[i];

		if (r->rc_n == r->rc_mark)
			continue;
		names[line.sq_nrules] = r->rc_name;
		counts[line.sq_nrules++] = r->rc_n - r->rc_mark;
	}
	line.sq_rules = names;
	line.sq_counts = counts;
	if ((rc = record_append_stream_quality(fd, &line)) < 0)
		return rc;	/* counted again in the next line */
	sq->sq_settled_written = settled;
	sq->sq_rejected_written = rejected;
	for (size_t i = 0; i < sq->sq_nrules; i++)
		sq->sq_rules[i].rc_mark = sq->sq_rules[i].rc_n;
	return 0;
}

void
squality_free(struct squality *sq)
{
	free(sq->sq_rules);
	memset(sq, 0, sizeof(*sq));
}

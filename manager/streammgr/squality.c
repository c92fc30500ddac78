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
	const char *name = rule_of(q, reason);
	struct rule_count *v;
	size_t i;

	for (i = 0; i < sq->sq_nrules; i++)
		if (strcmp(sq->sq_rules[i].rc_name, name) == 0)
			break;
	if (i == sq->sq_nrules) {
		/* Bounded: the profile's rules (old ones after a reload
		 * stay) and "other". */
		v = reallocarray(sq->sq_rules, i + 1, sizeof(*v));
		if (v == NULL)
			fatal("%s: reallocarray", __func__);
		sq->sq_rules = v;
		memset(&v[i], 0, sizeof(v[i]));
		snprintf(v[i].rc_name, sizeof(v[i].rc_name), "%s", name);
		sq->sq_nrules++;
	}
	sq->sq_rules[i].rc_total++;
}

int
squality_flush(struct squality *sq, const struct conf_quality *q, int fd,
    const char *tenant, const char *stream, uint64_t settled,
    uint64_t rejected)
{
	struct stream_quality line = { tenant, stream, 0, 0, NULL, NULL, 0 };
	const char *names[64];
	uint64_t counts[64];
	int rc;

	if (!q->q_enabled || settled == sq->sq_settled_written)
		return 0;
	line.sq_checked = settled - sq->sq_settled_written;
	line.sq_rejected = rejected - sq->sq_rejected_written;
	for (size_t i = 0; i < sq->sq_nrules && line.sq_nrules < 64; i++) {
		struct rule_count *r = &sq->sq_rules[i];

		if (r->rc_total == r->rc_written)
			continue;
		names[line.sq_nrules] = r->rc_name;
		counts[line.sq_nrules++] = r->rc_total - r->rc_written;
	}
	line.sq_rules = names;
	line.sq_counts = counts;
	if ((rc = record_append_stream_quality(fd, &line)) < 0)
		return rc;	/* counted again in the next line */
	sq->sq_settled_written = settled;
	sq->sq_rejected_written = rejected;
	for (size_t i = 0; i < sq->sq_nrules; i++)
		sq->sq_rules[i].rc_written = sq->sq_rules[i].rc_total;
	return 0;
}

void
squality_free(struct squality *sq)
{
	free(sq->sq_rules);
	memset(sq, 0, sizeof(*sq));
}

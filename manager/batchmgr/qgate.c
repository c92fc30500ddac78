#include "qgate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonline.h"
#include "log.h"
#include "state.h"
#include "tenant.h"

static int64_t
count_of(const bson_t *quality, const char *key)
{
	bson_iter_t it;

	return bson_iter_init_find(&it, quality, key) &&
	    BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it) : -1;
}

/* " (rule n, rule n)": the rules that refused rows, for the reason. */
static void
by_rule(const bson_t *quality, char *buf, size_t len)
{
	bson_iter_t it, sub;
	size_t off = 0;

	buf[0] = '\0';
	if (!bson_iter_init_find(&it, quality, "rules") ||
	    !BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &sub))
		return;
	while (bson_iter_next(&sub) && off + 1 < len) {
		if (!BSON_ITER_HOLDS_NUMBER(&sub) ||
		    bson_iter_as_int64(&sub) <= 0)
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s %" PRId64,
		    off ? ", " : " (", bson_iter_key(&sub),
		    bson_iter_as_int64(&sub));
	}
	if (off > 0 && off + 1 < len)
		snprintf(buf + off, len - off, ")");
}

enum qgate_verdict
qgate_judge(const struct conf_quality *q, const bson_t *summary, char *why,
    size_t whylen)
{
	bson_iter_t it, pass;
	int64_t checked, rejected;
	bson_t quality;
	char rules[160];

	why[0] = '\0';
	if (summary == NULL || !bson_iter_init_find(&it, summary, "quality") ||
	    !BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &pass) ||
	    !bson_iter_find(&pass, "pass") || !BSON_ITER_HOLDS_UTF8(&pass) ||
	    strcmp(bson_iter_utf8(&pass, NULL), "validate") != 0) {
		snprintf(why, whylen, "quality: the app reported no first-pass "
		    "counts (its rules need libmysimbdp: docs/quality.md)");
		return QG_NOT_APPLIED;
	}
	{
		const uint8_t *data;
		uint32_t len;

		bson_iter_document(&it, &len, &data);
		bson_init_static(&quality, data, len);
	}
	checked = count_of(&quality, "checked");
	rejected = count_of(&quality, "rejected");
	if (checked < 0 || rejected < 0 || rejected > checked) {
		snprintf(why, whylen, "quality: the app's first-pass counts "
		    "are not numbers of rows");
		return QG_NOT_APPLIED;
	}
	if (checked == 0 || rejected * 100 <= q->q_max_rejected_percent *
	    checked)
		return QG_PASS;
	by_rule(&quality, rules, sizeof(rules));
	snprintf(why, whylen, "quality: %" PRId64 " of %" PRId64 " rows "
	    "(%.1f%%) broke the rules, over max_rejected_percent %" PRId64
	    "%s", rejected, checked, 100.0 * (double)rejected /
	    (double)checked, q->q_max_rejected_percent, rules);
	return QG_OVER;
}

void
qgate_keep_rejects(struct tenant *t, const char *path, enum stage_area area,
    const char *dataset, const char *final, const char *job)
{
	char name[NAME_MAX + 1], used[NAME_MAX + 1];
	const char *sep = *dataset ? "/" : "";
	struct stat st;
	bool fits;
	int dfd, rc;

	/* The app (the tenant's user) made it: no links, a plain file. */
	if (lstat(path, &st) < 0)
		return;
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		unlink(path);
		return;
	}
	if ((dfd = tenant_open_area(t, area, dataset, true)) < 0) {
		log_warn("tenant %s: %s%s%s: rows the rules refused not kept: "
		    "open %s/%s", t->t_id, dataset, sep, final,
		    state_area_names[area], dataset);
		unlink(path);
		return;
	}
	/* Never over a tenant's file of that name (one of its own, moved
	 * here): that makes it name.1, ... */
	fits = (size_t)snprintf(name, sizeof(name), "%s.rejects.jsonl",
	    final) < sizeof(name);
	rc = fits ? state_rename_unique(AT_FDCWD, path, dfd, name, used,
	    sizeof(used)) : -1;
	if (rc < 0 && (!fits || errno == ENAMETOOLONG)) {
		/* No room for the name, or for a .N on it taken (a name is
		 * never cut): the job's id, which the file's record has,
		 * names the rows instead. */
		snprintf(name, sizeof(name), "%s.rejects.jsonl", job);
		if ((rc = state_rename_unique(AT_FDCWD, path, dfd, name, used,
		    sizeof(used))) == 0)
			log_warnx("tenant %s: %s%s%s: the rows the rules "
			    "refused are in %s/%s%s%s, named after job %s: "
			    "\"<file>.rejects.jsonl\" is %s", t->t_id,
			    dataset, sep, final, state_area_names[area],
			    dataset, sep, used, job, fits ? "taken and too "
			    "long for a .N suffix" : "too long a name");
	}
	if (rc < 0) {
		log_warn("tenant %s: %s%s%s: rows the rules refused not kept: "
		    "move %s to %s/%s%s%s", t->t_id, dataset, sep, final,
		    path, state_area_names[area], dataset, sep, name);
		unlink(path);
	}
	close(dfd);
}

/* The report's one line of JSON: why, the threshold, counts. */
static char *
report_line(const char *final, const struct conf_quality *q,
    const bson_t *summary, const char *why, size_t *len)
{
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it;
	char *line;

	/* As the records show them: a name is bytes, JSON wants UTF-8. */
	jsonline_append_text(&doc, "file", final);
	jsonline_append_text(&doc, "reason", why);
	BSON_APPEND_INT64(&doc, "max_rejected_percent",
	    q->q_max_rejected_percent);
	if (bson_iter_init_find(&it, summary, "quality"))
		bson_append_iter(&doc, "quality", -1, &it);
	line = jsonline(&doc, len);
	bson_destroy(&doc);
	return line;
}

/*
 * quarantine/[dataset/]final.quality.json. With no room for the suffix
 * (a name is never cut), <job>.quality.json, as the rejects beside it:
 * the report's "file" names the file.
 */
static void
write_report(struct tenant *t, const char *dataset, const char *final,
    const char *job, const struct conf_quality *q, const bson_t *summary,
    const char *why)
{
	char name[NAME_MAX + 1], used[NAME_MAX + 1];
	const char *sep = *dataset ? "/" : "";
	size_t len;
	char *line = report_line(final, q, summary, why, &len);
	bool fits;
	int dfd;

	fits = (size_t)snprintf(name, sizeof(name), "%s.quality.json",
	    final) < sizeof(name);
	if (!fits)
		snprintf(name, sizeof(name), "%s.quality.json", job);
	if (line == NULL)
		log_warnx("tenant %s: %s%s%s: no quality report: out of "
		    "memory", t->t_id, dataset, sep, final);
	else if ((dfd = tenant_open_area(t, AREA_QUARANTINE, dataset,
	    true)) < 0)
		log_warn("tenant %s: %s%s%s: no quality report: open "
		    "quarantine/%s", t->t_id, dataset, sep, final, dataset);
	else {
		if (state_publish(dfd, name, line, len, used,
		    sizeof(used)) < 0)
			log_warn("tenant %s: write quarantine/%s%s%s", t->t_id,
			    dataset, sep, name);
		else if (!fits)
			log_warnx("tenant %s: %s%s%s: its quality report is "
			    "quarantine/%s%s%s, named after job %s: "
			    "\"<file>.quality.json\" is too long a name",
			    t->t_id, dataset, sep, final, dataset, sep, used,
			    job);
		close(dfd);
	}
	bson_free(line);
}

int
qgate_quarantine(struct tenant *t, const char *dataset, const char *name,
    const struct conf_quality *q, const bson_t *summary, const char *why,
    const char *rejects, const char *job)
{
	char final[NAME_MAX + 1];

	if (tenant_move(t, AREA_PROCESSING, AREA_QUARANTINE, dataset, name,
	    final, sizeof(final)) < 0) {
		log_warn("tenant %s: move %s to quarantine", t->t_id, name);
		return -1;
	}
	write_report(t, dataset, final, job, q, summary, why);
	qgate_keep_rejects(t, rejects, AREA_QUARANTINE, dataset, final, job);
	log_info("tenant %s: quarantined %s%s%s: %s", t->t_id, dataset,
	    *dataset ? "/" : "", final, why);
	return 0;
}

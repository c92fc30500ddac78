/*
 * The quality gate of a batch file (docs/quality.md): a dataset whose
 * rules have a threshold (max_rejected_percent below 100) is run twice,
 * first with MYSIMBDP_QUALITY_PASS=validate (libmysimbdp checks every
 * row, stores none); the first pass's counts decide whether the file is
 * ingested or quarantined. Also where the rows the rules refused are
 * kept: beside the file, in the area it ends in.
 */
#ifndef MYSIMBDP_QGATE_H
#define MYSIMBDP_QGATE_H

#include <stddef.h>

#include <bson/bson.h>

#include "batch.h"
#include "state.h"

/* The mark `mysimbdp retry --force` sets on a quarantined file. */
#define QGATE_FORCE_XATTR "user.mysimbdp.force"

enum qgate_verdict {
	QG_PASS,	/* within the threshold: ingest it */
	QG_OVER,	/* over it: quarantine */
	QG_NOT_APPLIED	/* the app reported no first-pass counts */
};

/* What a first pass's summary says against q's threshold; why says it
 * for QG_OVER and QG_NOT_APPLIED. Pure. */
enum qgate_verdict qgate_judge(const struct conf_quality *q,
    const bson_t *summary, char *why, size_t whylen);

/*
 * Moves the rejects file at path (the app's MYSIMBDP_REJECTS_FILE) to
 * area/[dataset/]final.rejects.jsonl, or removes it when it is empty or
 * not a regular file. When that name is too long, or taken and too long
 * for a ".N" suffix, the rows go to job.rejects.jsonl (job: the id its
 * record has), logged. A move that fails otherwise is logged and the
 * rows removed. Nothing happens when there is none.
 */
void qgate_keep_rejects(struct tenant *t, const char *path,
    enum stage_area area, const char *dataset, const char *final,
    const char *job);

/*
 * Moves the file from processing/ to quarantine/ with final.quality.json
 * (the reason, the threshold, the first pass's counts; <job>.quality.json
 * when that name is too long) and its rejects (qgate_keep_rejects(), job
 * the job's id). Returns -1 when the move failed (logged).
 */
int qgate_quarantine(struct tenant *t, const char *dataset, const char *name,
    const struct conf_quality *q, const bson_t *summary, const char *why,
    const char *rejects, const char *job);

#endif

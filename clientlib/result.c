/*
 * The result summary: a JSON object the batch manager reads from
 * MYSIMBDP_RESULT_FILE after the app exits and keeps in the ingest record.
 * It is written to path.new and renamed, so the manager never reads half
 * a summary, even when the app is killed while writing it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mysimbdp-internal.h"
#include "../common/jsonline.h"

#define RESULT_MAX (64 * 1024)	/* what the managers accept */

/*
 * Appends extra's fields to doc but those doc has already. A string that
 * is not UTF-8 (a file name, say) is written with its stray bytes as
 * \xNN rather than losing the summary.
 */
static int
append_extra(bson_t *doc, const bson_t *extra)
{
	bson_iter_t it;
	bool ok;

	if (extra == NULL || !bson_iter_init(&it, extra))
		return 0;
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);

		if (bson_has_field(doc, key))
			continue;
		if (BSON_ITER_HOLDS_UTF8(&it))
			ok = jsonline_append_text(doc, key,
			    bson_iter_utf8(&it, NULL));
		else
			ok = bson_append_iter(doc, key, -1, &it);
		if (!ok) {
			errno = EFBIG;
			return -1;
		}
	}
	return 0;
}

/* Writes doc to path atomically; destroys doc. */
static int
write_doc(const char *path, bson_t *doc)
{
	char *json = NULL, *tmp = NULL;
	size_t len;
	int fd = -1, saved;

	json = bson_as_relaxed_extended_json(doc, &len);
	if (json == NULL) {
		errno = EINVAL;	/* e.g. a string that is not UTF-8 */
		goto fail;
	}
	if (len + 1 > RESULT_MAX) {
		errno = EFBIG;
		goto fail;
	}
	if (asprintf(&tmp, "%s.new", path) == -1) {
		tmp = NULL;
		errno = ENOMEM;
		goto fail;
	}
	/* A .new left by an earlier, killed attempt is ours to replace. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0640);
	if (fd == -1)
		goto fail;
	json[len] = '\n';	/* replaces the NUL; len + 1 bytes are ours */
	if (msb__write_all(fd, json, len + 1) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	free(tmp);
	bson_free(json);
	bson_destroy(doc);
	return MSB_OK;

fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	bson_free(json);
	bson_destroy(doc);
	errno = saved;
	return MSB_ERROR;
}

int
msb_result_write(const char *path, uint64_t rows, uint64_t rejected_rows,
    const bson_t *extra)
{
	bson_t doc = BSON_INITIALIZER;

	if (path == NULL || *path == '\0')
		return MSB_OK;
	if (rows > INT64_MAX || rejected_rows > INT64_MAX) {
		errno = ERANGE;
		return MSB_ERROR;
	}
	BSON_APPEND_INT64(&doc, "rows", (int64_t)rows);
	BSON_APPEND_INT64(&doc, "rejected_rows", (int64_t)rejected_rows);
	if (append_extra(&doc, extra) == -1) {
		bson_destroy(&doc);
		return MSB_ERROR;
	}
	return write_doc(path, &doc);
}

int
msb_result_write_sink(const char *path, uint64_t rows, uint64_t rejected_rows,
    const struct msb_sink *sink, const bson_t *extra)
{
	struct msb_sink_stats st = { 0 };
	bson_t doc = BSON_INITIALIZER;

	if (path == NULL || *path == '\0')
		return MSB_OK;
	if (sink != NULL)
		msb_sink_stats(sink, &st);
	if (rows > INT64_MAX || rejected_rows > INT64_MAX) {
		errno = ERANGE;
		return MSB_ERROR;
	}
	BSON_APPEND_INT64(&doc, "rows", (int64_t)rows);
	BSON_APPEND_INT64(&doc, "rejected_rows", (int64_t)rejected_rows);
	BSON_APPEND_INT64(&doc, "inserted", (int64_t)st.inserted);
	BSON_APPEND_INT64(&doc, "already_present",
	    (int64_t)st.already_present);
	BSON_APPEND_INT64(&doc, "store_rejected", (int64_t)st.rejected);
	/* The server's first reason, not whatever failed last (a document
	 * the sink refused, a later batch): kept even if not UTF-8. */
	if (st.rejected > 0)
		jsonline_append_text(&doc, "store_error", sink->s_store_err);
	if (sink != NULL)
		msb__quality_append(sink->s_quality, &doc);
	if (append_extra(&doc, extra) == -1) {
		bson_destroy(&doc);
		return MSB_ERROR;
	}
	return write_doc(path, &doc);
}

int
msb_result_write_sink_bson(const char *path, uint64_t rows,
    uint64_t rejected_rows, const struct msb_sink *sink,
    const uint8_t *extra, size_t extralen)
{
	bson_t doc;

	if (extra == NULL || extralen == 0)
		return msb_result_write_sink(path, rows, rejected_rows, sink,
		    NULL);
	if (extralen < 5 || extralen > UINT32_MAX ||
	    !bson_init_static(&doc, extra, extralen) ||
	    !bson_validate(&doc, BSON_VALIDATE_NONE, NULL)) {
		errno = EINVAL;
		return MSB_ERROR;
	}
	return msb_result_write_sink(path, rows, rejected_rows, sink, &doc);
}

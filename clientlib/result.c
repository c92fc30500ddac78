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

#define RESULT_MAX (64 * 1024)	/* what the managers accept */

int
msb_result_write(const char *path, uint64_t rows, uint64_t rejected_rows,
    const bson_t *extra)
{
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it;
	char *json = NULL, *tmp = NULL;
	size_t len;
	int fd = -1, saved;

	if (path == NULL || *path == '\0')
		return MSB_OK;
	if (rows > INT64_MAX || rejected_rows > INT64_MAX) {
		errno = ERANGE;
		return MSB_ERROR;
	}
	BSON_APPEND_INT64(&doc, "rows", (int64_t)rows);
	BSON_APPEND_INT64(&doc, "rejected_rows", (int64_t)rejected_rows);
	if (extra != NULL && bson_iter_init(&it, extra)) {
		while (bson_iter_next(&it)) {
			const char *key = bson_iter_key(&it);

			if (strcmp(key, "rows") == 0 ||
			    strcmp(key, "rejected_rows") == 0)
				continue;
			if (!bson_append_iter(&doc, key, -1, &it)) {
				errno = EFBIG;
				goto fail;
			}
		}
	}
	json = bson_as_relaxed_extended_json(&doc, &len);
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
	bson_destroy(&doc);
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
	bson_destroy(&doc);
	errno = saved;
	return MSB_ERROR;
}

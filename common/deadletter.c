#include "deadletter.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonline.h"
#include "record.h"

char *
dead_letter_format(const char *tenant, const char *stream, uint64_t id,
    unsigned deliveries, const char *reason, const void *payload, size_t len,
    size_t *linelen)
{
	char when[32], *json;
	bson_t doc = BSON_INITIALIZER;

	record_fmt_time(record_now_ms(), when, sizeof(when));
	BSON_APPEND_UTF8(&doc, "time", when);
	BSON_APPEND_UTF8(&doc, "tenant", tenant);
	BSON_APPEND_UTF8(&doc, "stream", stream);
	BSON_APPEND_INT64(&doc, "id", (int64_t)id);
	BSON_APPEND_INT32(&doc, "deliveries", (int32_t)deliveries);
	/* Whatever an app's reason holds, or a cut of it: always a line
	 * (streammgr stops if a message can be neither kept nor moved). */
	jsonline_append_text(&doc, "reason", reason);
	if (bson_utf8_validate(payload, len, false))
		bson_append_utf8(&doc, "payload", -1, payload, (int)len);
	else
		bson_append_binary(&doc, "payload", -1, BSON_SUBTYPE_BINARY,
		    payload, (uint32_t)len);
	json = jsonline(&doc, linelen);
	bson_destroy(&doc);
	return json;
}

void
dead_letter_clear(struct dead_letter *dl)
{
	if (dl->dl_doc != NULL)
		bson_destroy(dl->dl_doc);
	memset(dl, 0, sizeof(*dl));
}

int
dead_letter_parse(const char *line, size_t len, struct dead_letter *dl,
    char *err, size_t errlen)
{
	bson_error_t berr;
	bson_iter_t it;
	bson_subtype_t sub;
	bool have_id = false, have_payload = false;

	memset(dl, 0, sizeof(*dl));
	if ((dl->dl_doc = bson_new_from_json((const uint8_t *)line,
	    (ssize_t)len, &berr)) == NULL) {
		snprintf(err, errlen, "not JSON: %s", berr.message);
		return -1;
	}
	bson_iter_init(&it, dl->dl_doc);
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "id") == 0 && BSON_ITER_HOLDS_NUMBER(&it)) {
			dl->dl_id = bson_iter_as_int64(&it);
			have_id = true;
		} else if (strcmp(key, "deliveries") == 0 &&
		    BSON_ITER_HOLDS_NUMBER(&it))
			dl->dl_deliveries = (int32_t)bson_iter_as_int64(&it);
		else if (strcmp(key, "time") == 0 && BSON_ITER_HOLDS_UTF8(&it))
			dl->dl_time = bson_iter_utf8(&it, NULL);
		else if (strcmp(key, "reason") == 0 &&
		    BSON_ITER_HOLDS_UTF8(&it))
			dl->dl_reason = bson_iter_utf8(&it, NULL);
		else if (strcmp(key, "payload") == 0 &&
		    BSON_ITER_HOLDS_UTF8(&it)) {
			dl->dl_payload = (const uint8_t *)bson_iter_utf8(&it,
			    &dl->dl_len);
			have_payload = true;
		} else if (strcmp(key, "payload") == 0 &&
		    BSON_ITER_HOLDS_BINARY(&it)) {
			bson_iter_binary(&it, &sub, &dl->dl_len,
			    &dl->dl_payload);
			dl->dl_binary = true;
			have_payload = true;
		}
	}
	if (!have_id || !have_payload) {
		snprintf(err, errlen, "no %s", have_id ? "payload" : "id");
		dead_letter_clear(dl);
		return -1;
	}
	return 0;
}

/* JSON's whitespace, all of which the parse takes between tokens: a
 * key missed for a '\r' before it could leave another "id" taken. */
static bool
json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* p past whitespace, at most to end. */
static const char *
past_space(const char *p, const char *end)
{
	while (p < end && json_space(*p))
		p++;
	return p;
}

/*
 * The "id" of a line without parsing the whole of it, 0 when it is not
 * found so: a parse of every line was about 2.8 µs, most of a requeue's
 * or a start's time on a file of a million letters. In JSON a quote
 * after a ',' or '{' (and whitespace) opens a key, never a value's
 * inside, where quotes are escaped: so "id" there, then ':' and digits
 * up to a ',' or '}', is the key of the letter (dead_letter_format
 * writes it at the top; none of its values is an object with such a
 * key). Another "id" key on the line, an "i" or "d" escaped anywhere
 * (\u0069, \u0064), or another shape, and the caller parses it. What
 * it finds on a line that does not parse is taken as the id too: such
 * a line is kept byte for byte whatever its id.
 */
uint64_t
dead_letter_scan_id(const char *line, size_t len)
{
	const char *end = line + len, *p = line, *q;
	uint64_t id = 0, v;
	bool seen = false;

	/* A key may spell either letter as an escape ("\u0069d"), which
	 * the parse reads as "id" and memmem would miss. */
	for (q = line; (q = memmem(q, (size_t)(end - q), "\\u006", 5)) !=
	    NULL; q += 5)
		if (end - q > 5 && (q[5] == '4' || q[5] == '9'))
			return 0;
	while ((q = memmem(p, (size_t)(end - p), "\"id\"", 4)) != NULL) {
		const char *b = q;

		p = q + 4;
		while (b > line && json_space(b[-1]))
			b--;
		if (b == line || (b[-1] != ',' && b[-1] != '{'))
			continue;
		q = past_space(p, end);
		if (q == end || *q != ':')
			continue;
		if (seen)
			return 0;	/* twice: the parse decides */
		seen = true;
		q = past_space(q + 1, end);
		for (v = 0; q < end && *q >= '0' && *q <= '9' &&
		    v <= (uint64_t)INT64_MAX / 10; q++)
			v = v * 10 + (uint64_t)(*q - '0');
		q = past_space(q, end);
		if (q == end || (*q != ',' && *q != '}') || v > INT64_MAX)
			return 0;
		id = v;
	}
	return id;
}

/* The id of line (no '\n'), or 0 when it has none. */
static uint64_t
line_id(const char *line, size_t len)
{
	struct dead_letter dl;
	char why[200];
	uint64_t id;

	if (len == 0)
		return 0;
	if ((id = dead_letter_scan_id(line, len)) != 0)
		return id;
	if (dead_letter_parse(line, len, &dl, why, sizeof(why)) == 0 &&
	    dl.dl_id > 0)
		id = (uint64_t)dl.dl_id;
	dead_letter_clear(&dl);
	return id;
}

int
dead_letter_max_id(const char *path, uint64_t *id, char *err,
    size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	*id = 0;
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		snprintf(err, errlen, "fdopen %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* Letters are not in id order (a rejected message goes at once, a
	 * timed-out one after its last delivery): every line is read. */
	for (;;) {
		uint64_t v;

		errno = 0;
		if ((n = getline(&line, &cap, f)) < 0)
			break;
		if (n > 0 && line[n - 1] == '\n')
			n--;
		if ((v = line_id(line, (size_t)n)) > *id)
			*id = v;
	}
	if (ferror(f) || errno == ENOMEM) {
		snprintf(err, errlen, "read %s: %s", path, errno ?
		    strerror(errno) : "error");
		rc = -1;
	}
	free(line);
	fclose(f);
	return rc;
}

static bool
chosen(int64_t id, const uint64_t *ids, size_t nids)
{
	if (nids == 0)
		return true;
	for (size_t k = 0; k < nids; k++)
		if (ids[k] == (uint64_t)id)
			return true;
	return false;
}

#define KEPT_BUF	(64u << 10)	/* kept lines written in chunks */

/* The split's new file: <path>.tmp (a string to free). */
static char *
split_tmp(const char *path)
{
	char *tmp;

	if (asprintf(&tmp, "%s.tmp", path) < 0)
		abort();
	return tmp;
}

/* Writes n bytes at p to the new file; a failure is kept, for the
 * split to say at its end. */
static void
kept_write(struct dead_letter_split *ds, const char *p, size_t n)
{
	ssize_t w;

	while (ds->ds_werr == 0 && n > 0) {
		if ((w = write(ds->ds_fd, p, n)) < 0) {
			if (errno != EINTR)
				ds->ds_werr = errno;
		} else if (w == 0)
			ds->ds_werr = EIO;
		else {
			p += w;
			n -= (size_t)w;
		}
	}
}

static void
kept_flush(struct dead_letter_split *ds)
{
	kept_write(ds, ds->ds_buf, ds->ds_buflen);
	ds->ds_buflen = 0;
}

static void
keep_line(struct dead_letter_split *ds, const char *line, size_t len)
{
	if (ds->ds_buflen + len + 1 > KEPT_BUF)
		kept_flush(ds);
	if (len + 1 > KEPT_BUF) {	/* larger than the buffer: as is */
		kept_write(ds, line, len);
		kept_write(ds, "\n", 1);
		return;
	}
	memcpy(ds->ds_buf + ds->ds_buflen, line, len);
	ds->ds_buf[ds->ds_buflen + len] = '\n';
	ds->ds_buflen += len + 1;
}

static void
take(struct dead_letter_split *ds, struct dead_letter *dl)
{
	if (ds->ds_ntaken == ds->ds_cap) {
		size_t cap = ds->ds_cap ? ds->ds_cap * 2 : 64;
		struct dead_letter *v = reallocarray(ds->ds_taken, cap,
		    sizeof(*v));

		if (v == NULL)
			abort();
		ds->ds_taken = v;
		ds->ds_cap = cap;
	}
	ds->ds_taken[ds->ds_ntaken++] = *dl;
}

int
dead_letter_split(const char *path, const uint64_t *ids, size_t nids,
    enum dl_fit (*fits)(size_t len, void *arg), void *arg,
    struct dead_letter_split *ds, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, why[200];
	size_t cap = 0;
	ssize_t len;

	memset(ds, 0, sizeof(*ds));
	ds->ds_fd = -1;
	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	/* Opened for appending before the rename: the caller's next dead
	 * letters go to the new file, never to the old one unlinked. */
	ds->ds_tmp = split_tmp(path);
	if ((ds->ds_buf = malloc(KEPT_BUF)) == NULL)
		abort();
	if ((ds->ds_fd = open(ds->ds_tmp, O_WRONLY | O_APPEND | O_CREAT |
	    O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
		snprintf(err, errlen, "open %s: %s", ds->ds_tmp,
		    strerror(errno));
		fclose(f);
		dead_letter_split_free(ds);
		return -1;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		enum dl_fit fit = DL_WAIT;
		struct dead_letter dl;
		uint64_t id;
		bool want;

		if (line[len - 1] == '\n')
			len--;
		if (len == 0)
			continue;
		/* Lines not chosen, and chosen ones once the room has run
		 * out, are kept as they are: their id is enough. */
		if ((id = dead_letter_scan_id(line, (size_t)len)) != 0 &&
		    (!chosen((int64_t)id, ids, nids) || ds->ds_left > 0)) {
			ds->ds_left += chosen((int64_t)id, ids, nids);
			keep_line(ds, line, (size_t)len);
			continue;
		}
		want = dead_letter_parse(line, (size_t)len, &dl, why,
		    sizeof(why)) == 0 && chosen(dl.dl_id, ids, nids);
		/* Once one has no room, the later ones wait with it: the
		 * letters go back in their order (one that never fits is
		 * not waited for). */
		if (want && ds->ds_left == 0)
			fit = fits == NULL ? DL_TAKE : fits(dl.dl_len, arg);
		if (want && fit == DL_TAKE)
			take(ds, &dl);
		else {
			if (want && fit == DL_NEVER)
				ds->ds_never++;
			else
				ds->ds_left += want;
			dead_letter_clear(&dl);
			keep_line(ds, line, (size_t)len);
		}
	}
	free(line);
	if (ferror(f)) {
		snprintf(err, errlen, "read %s: %s", path, strerror(errno));
		fclose(f);
		dead_letter_split_free(ds);
		return -1;
	}
	fclose(f);
	kept_flush(ds);
	if (ds->ds_werr != 0) {
		/* Said now, before any letter is stored: not queued and
		 * still in the file later. */
		snprintf(err, errlen, "write %s: %s", ds->ds_tmp,
		    strerror(ds->ds_werr));
		dead_letter_split_free(ds);
		return -1;
	}
	return 0;
}

int
dead_letter_keep(const char *path, struct dead_letter_split *ds,
    char *err, size_t errlen)
{
	char *dir, *dcopy;
	int fd = ds->ds_fd, dfd;

	if (fd < 0 || fsync(fd) < 0 || rename(ds->ds_tmp, path) < 0) {
		snprintf(err, errlen, "write %s: %s", ds->ds_tmp != NULL ?
		    ds->ds_tmp : path, strerror(errno ? errno : ENOSPC));
		return -1;	/* split_free drops the temporary file */
	}
	ds->ds_fd = -1;		/* the caller's, under path */
	/* The rename itself is on disk once the folder is. */
	if ((dcopy = strdup(path)) == NULL)
		abort();
	dir = dirname(dcopy);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	free(dcopy);
	return fd;
}

void
dead_letter_split_free(struct dead_letter_split *ds)
{
	for (size_t k = 0; k < ds->ds_ntaken; k++)
		dead_letter_clear(&ds->ds_taken[k]);
	free(ds->ds_taken);
	if (ds->ds_fd >= 0) {
		close(ds->ds_fd);
		unlink(ds->ds_tmp);
	}
	free(ds->ds_tmp);
	free(ds->ds_buf);
	memset(ds, 0, sizeof(*ds));
	ds->ds_fd = -1;
}

int
dead_letter_split_gone(const char *path, off_t *size, char *err,
    size_t errlen)
{
	char *tmp = split_tmp(path);
	struct stat st;
	int rc = -1;

	if (lstat(tmp, &st) < 0) {
		if (errno == ENOENT)
			rc = 0;
		else
			snprintf(err, errlen, "stat %s: %s", tmp,
			    strerror(errno));
	} else if (unlink(tmp) < 0)
		snprintf(err, errlen, "unlink %s: %s", tmp, strerror(errno));
	else {
		*size = st.st_size;
		rc = 1;
	}
	free(tmp);
	return rc;
}

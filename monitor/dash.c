#include "dash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"
#include "state.h"

#define DASH_LINE_MAX 1024

struct dash {
	int		 d_log_fd;	/* log/monitor.log */
	int		 d_jsonl_fd;	/* log/metrics.jsonl */
	bool		 d_failing;	/* a write failed: say so once */
};

static int
open_append(const struct conf_platform *p, const char *name, char *err,
    size_t errlen)
{
	char *path = state_path(p, "log/%s", name);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0640);

	if (fd < 0)
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
	free(path);
	return fd;
}

struct dash *
dash_open(const struct conf_platform *p, char *err, size_t errlen)
{
	struct dash *d = calloc(1, sizeof(*d));

	if (d == NULL)
		fatal("%s: calloc", __func__);
	d->d_jsonl_fd = -1;
	if ((d->d_log_fd = open_append(p, "monitor.log", err, errlen)) < 0 ||
	    (d->d_jsonl_fd = open_append(p, "metrics.jsonl", err,
	    errlen)) < 0) {
		dash_close(d);
		return NULL;
	}
	return d;
}

void
dash_close(struct dash *d)
{
	if (d == NULL)
		return;
	if (d->d_log_fd >= 0)
		close(d->d_log_fd);
	if (d->d_jsonl_fd >= 0)
		close(d->d_jsonl_fd);
	free(d);
}

/* One write, so the line lands whole; a failure is logged once a run. */
static void
write_line(struct dash *d, int fd, const char *line, size_t len)
{
	ssize_t n = write(fd, line, len);

	if (n == (ssize_t)len) {
		d->d_failing = false;
		return;
	}
	if (!d->d_failing)
		log_warn("dashboard: write (%zd of %zu bytes)", n, len);
	d->d_failing = true;
}

void
dash_line(struct dash *d, const char *tenant, const char *what,
    const char *kind, const char *fmt, ...)
{
	char line[DASH_LINE_MAX], when[32];
	va_list ap;
	int n;

	record_fmt_time(record_now_ms(), when, sizeof(when));
	n = snprintf(line, sizeof(line), "%s %s/%s %s ", when, tenant, what,
	    kind);
	if (n < 0 || n >= (int)sizeof(line) - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	write_line(d, d->d_log_fd, line, (size_t)n);
}

void
dash_record(struct dash *d, const char *type, const bson_t *doc)
{
	bson_t rec = BSON_INITIALIZER;
	char when[32], *json;
	size_t len;

	record_fmt_time(record_now_ms(), when, sizeof(when));
	BSON_APPEND_UTF8(&rec, "time", when);
	BSON_APPEND_UTF8(&rec, "type", type);
	bson_concat(&rec, doc);
	json = bson_as_relaxed_extended_json(&rec, &len);
	bson_destroy(&rec);
	if (json == NULL)
		return;
	/* bson_as_* leaves room for the NUL: the newline goes there. */
	json[len] = '\n';
	write_line(d, d->d_jsonl_fd, json, len + 1);
	bson_free(json);
}

#include "dash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applog.h"
#include "jsonline.h"
#include "record.h"
#include "state.h"

#define DASH_LINE_MAX 1024

/* Both rotated by size (monitor.logs), as the apps' logs are. */
struct dash {
	struct applog	*d_log;		/* log/monitor.log */
	struct applog	*d_jsonl;	/* log/metrics.jsonl */
};

static struct applog *
open_log(const struct conf_platform *p, const char *name, char *err,
    size_t errlen)
{
	char *path = state_path(p, "log/%s", name);
	struct applog *lg = applog_file(path, "monitor", &p->p_monitor.pm_logs);

	if (lg == NULL)
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
	free(path);
	return lg;
}

struct dash *
dash_open(const struct conf_platform *p, char *err, size_t errlen)
{
	struct dash *d = calloc(1, sizeof(*d));

	if (d == NULL)
		fatal("%s: calloc", __func__);
	if ((d->d_log = open_log(p, "monitor.log", err, errlen)) == NULL ||
	    (d->d_jsonl = open_log(p, "metrics.jsonl", err, errlen)) == NULL) {
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
	if (d->d_log != NULL)
		applog_release(d->d_log);
	if (d->d_jsonl != NULL)
		applog_release(d->d_jsonl);
	free(d);
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
	/* A detail may hold an operator's text (a scale's reason). */
	log_one_line(line);
	n = (int)strlen(line);
	line[n++] = '\n';
	applog_write(d->d_log, line, (size_t)n);
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
	json = jsonline(&rec, &len);
	bson_destroy(&rec);
	if (json == NULL)
		return;
	applog_write(d->d_jsonl, json, len);
	bson_free(json);
}

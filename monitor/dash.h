/*
 * The dashboard, log/monitor.log: one line per tenant stream each
 * monitor.interval and a line per event, each
 *   <time> <tenant>/<stream> <kind> <text>
 * (format in docs/architecture.md, "The dashboard"); and the record of
 * reports and decisions, log/metrics.jsonl, one JSON object per line.
 * Every line goes out in one write on an O_APPEND fd, so lines never
 * interleave or tear. Both files are rotated by size like the apps' logs
 * (monitor.logs: common/applog.c), so a line never spans two files.
 */
#ifndef MYSIMBDP_MONITOR_DASH_H
#define MYSIMBDP_MONITOR_DASH_H

#include <stddef.h>

#include <bson/bson.h>

#include "conf.h"
#include "log.h"

struct dash;

/* Opens both files under the state dir. Returns NULL with err set. */
struct dash *dash_open(const struct conf_platform *p, char *err,
    size_t errlen);

/* Closes both files. Accepts NULL. */
void dash_close(struct dash *d);

/*
 * Appends "<time> <tenant>/<what> <kind> <text>" to monitor.log; what is
 * a stream name, or "-" for the tenant as a whole.
 */
void dash_line(struct dash *d, const char *tenant, const char *what,
    const char *kind, const char *fmt, ...) LOG_FMT(5, 6);

/* Appends doc, with "time" put first, as one line of metrics.jsonl. */
void dash_record(struct dash *d, const char *type, const bson_t *doc);

#endif

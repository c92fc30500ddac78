/*
 * Tenant apps' stdout and stderr, capped and rotated by size the way
 * supervisord's stdout_logfile_maxbytes/_backups do: an app writes into a
 * pipe, the daemon drains it in its event loop, one bounded chunk per
 * callback, into log/<tenant>/<name>.log, and renames name.log ->
 * name.log.1 -> ... -> name.log.<backups> (the oldest dropped) whenever
 * name.log would pass app_logs.max_size. So a log takes at most
 * (backups + 1) x max_size on disk, and an app that writes faster than
 * the daemon drains blocks on its full pipe while the other tenants' work
 * goes on. A log's pipes are read at most app_logs.rate bytes a second
 * (a token bucket; past it the pipe waits unread, so the app blocks and
 * its flood costs no CPU). Shared by batchmgr and streammgr; the
 * monitor's own files use the rotating part (applog_file).
 */
#ifndef MYSIMBDP_APPLOG_H
#define MYSIMBDP_APPLOG_H

#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>
#include <event2/event.h>

#include "conf.h"

struct applog;

/*
 * Takes log/<tenant>/<name>.log (rotated and paced by c, the tenant's
 * app_logs; every writer of one path shares one log) for an app's stdout
 * and stderr, through a pipe whose read end base drains into it until
 * EOF. The file is opened, created 0640 without following links, at the
 * first output: a silent app costs no open and leaves no file, and one
 * that cannot be opened then is said once and its output counted as
 * dropped (applog_write). The apps of one log that run at once share
 * one pipe: the daemon holds its write end until applog_app_end() for
 * the last of them, then EOF comes once every process holding a copy
 * (the apps, what they left behind) has closed it. A burst of short apps
 * so costs no pipe per app. Returns the log with *fd set to the write
 * end (close-on-exec; the caller gives it to the app as stdout and
 * stderr and does not close it), or NULL when no pipe can be made
 * (logged).
 */
struct applog *applog_open(struct event_base *base,
    const struct conf_platform *p, const char *tenant, const char *name,
    const struct conf_app_logs *c, int *fd);

/*
 * An app given applog_open's descriptor has ended or did not start. After
 * the last one the daemon closes its write end. NULL: nothing.
 */
void applog_app_end(struct applog *lg);

/*
 * A log of the daemon's own at path, capped and rotated like the apps'
 * by c (the monitor's monitor.log and metrics.jsonl): opened, created
 * 0640 without following links, or shared with the writers of the same
 * path. who names it in warnings ("monitor"). Returns it, or NULL with
 * errno when it cannot be opened.
 */
struct applog *applog_file(const char *path, const char *who,
    const struct conf_app_logs *c);

/*
 * Appends the n bytes at buf, whole lines kept in one file: the log is
 * rotated first where they would pass its max_size. A failure (disk full)
 * is logged once and the bytes counted until writing works again; the
 * part of a line written before it is cut off again, so the next line
 * never starts glued to a stump.
 */
void applog_write(struct applog *lg, const char *buf, size_t n);

/* Lets go of a log from applog_file; the last user closes it. */
void applog_release(struct applog *lg);

/*
 * Appends "paced_logs" to a daemon's status reply: each app log open now
 * whose pipes were left unread for its rate, with the tenant, the file
 * ("app.log"), the rate, how many times, for how long in all (held_ms,
 * the waits set) and whether it is held now; tenant's only, unless it is
 * NULL. A log is open while apps write to it; its figures start again
 * when it is next opened.
 */
void applog_status(bson_t *reply, const char *tenant);

/*
 * At daemon exit, before its event base is freed: reads what the pipes
 * still hold (a bounded amount), then closes every pipe (both ends) and
 * log.
 */
void applog_shutdown(void);

/*
 * How many of the n bytes at buf go into a log that holds size bytes
 * before it must be rotated: all that fit under max, cut after the last
 * newline that fits when not all do; 0 when the log must be rotated
 * first (it is full, or the part that fits has no newline and the log
 * is not empty, so the line starts the next file).
 */
size_t applog_fit(const char *buf, size_t n, uint64_t size, uint64_t max);

/*
 * Renames path.<k> to path.<k+1> for k = backups-1 .. 1, then path to
 * path.1, replacing (so dropping) path.<backups>; missing files are
 * skipped. With backups 0 it renames nothing. Returns 0, or -1 with errno
 * from the first rename that failed for another reason than ENOENT.
 */
int applog_shift(const char *path, int backups);

#endif

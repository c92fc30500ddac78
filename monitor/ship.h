/*
 * The platform's own records in MongoDB: when the platform's mongo_url is
 * a mongodb:// URL, a thread of the monitor copies log/ingest.jsonl into
 * <mongo_records_db>.ingestions, log/metrics.jsonl into .metrics and
 * log/quality.jsonl into .quality, so
 * the monitor's loop never waits on the server.
 *
 * Each line becomes one document, its fields as in the log, with the _id
 * "<log>:<position>": the line's byte offset over the log's whole life
 * (rotated files included). A line sent again after a crash is already
 * there, never doubled. log/records.state holds, per log, the file (by
 * inode, birth time and first bytes) and offset stored so far and the
 * bytes of the files rotated out before it (common/shipstate.h); it
 * moves only after the server took the
 * lines, and a server that is down is caught up with once it is back.
 */
#ifndef MYSIMBDP_SHIP_H
#define MYSIMBDP_SHIP_H

#include "conf.h"

struct ship;

/* Starts the thread; NULL (and nothing to do) without a mongodb:// URL. */
struct ship *ship_start(const struct conf_platform *p);

/* Stops the thread after its current batch; frees s (NULL is fine). */
void ship_stop(struct ship *s);

#endif

/*
 * streammgr's statistics and events (its PUB socket run/streammgr.pub,
 * docs/protocols.md "Statistics"): a SUB socket that hands each stream's
 * figures to view.c, then to decide.c, and each event to dashline.c.
 * While streammgr is down nothing comes, and nothing is decided.
 */
#ifndef MYSIMBDP_MONITOR_FEED_H
#define MYSIMBDP_MONITOR_FEED_H

#include <stddef.h>

#include "mon.h"

/* Subscribes to "stats " and "event ". */
struct feed *feed_new(struct mon *m);

/* Accepts NULL. */
void feed_free(struct feed *f);

/*
 * Parses a statistics body into st, its "quality_rules" into rules.
 * Unknown members are ignored, a missing one reads 0. Returns 0, or -1
 * when body is not a JSON object.
 */
int feed_parse_stats(const char *body, size_t len, struct mstats *st,
    struct mrules *rules);

#endif

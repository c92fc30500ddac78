/*
 * A dataset's quality rules (docs/quality.md) as apps receive them: the
 * JSON of MYSIMBDP_QUALITY, which libmysimbdp reads and enforces
 * (clientlib/quality.c).
 */
#ifndef MYSIMBDP_QUALITY_H
#define MYSIMBDP_QUALITY_H

#include "conf.h"

/*
 * {"rules":[{"name":..,"field":..,"required":true,"type":..,"min":N,
 * "max":N,"values":[..],"pattern":..,"max_age_ms":N,"unique":true},..]},
 * each rule with only the checks it has. Allocated (free()); allocation
 * failure is fatal.
 */
char *quality_json(const struct conf_quality *q);

#endif

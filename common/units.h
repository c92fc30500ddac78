/*
 * Sizes and durations as written in configuration files: "64M", "1.5G",
 * "30s", "1h30m", "500ms".
 */
#ifndef MYSIMBDP_UNITS_H
#define MYSIMBDP_UNITS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses a size: a number (fractions allowed) followed by an optional unit
 * B, K, M, G or T (powers of 1024; "KB", "KiB" are accepted too).
 * Returns 0, or -1 with a short reason in *why for a malformed string.
 */
int units_parse_size(const char *s, uint64_t *bytes, const char **why);

/*
 * Parses a duration: one or more number+unit pairs (ms, s, m, h, d, w),
 * e.g. "1h30m"; a bare "0" means zero. Returns 0, or -1 with *why set.
 */
int units_parse_duration(const char *s, uint64_t *ms, const char **why);

/* Formats ms as a compact duration ("1h30m", "250ms") into buf. */
const char *units_fmt_duration(uint64_t ms, char *buf, size_t len);

/* Formats bytes with a binary unit ("64M", "1.5G") into buf. */
const char *units_fmt_size(uint64_t bytes, char *buf, size_t len);

#endif

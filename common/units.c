#include "units.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Reads a non-negative decimal number; strtod alone would accept "inf" and hex. */
static bool
read_number(const char **p, double *val)
{
	const char *s = *p;
	char *end;

	if (!isdigit((unsigned char)*s))
		return false;
	while (isdigit((unsigned char)*s) || *s == '.')
		s++;
	*val = strtod(*p, &end);
	if (end != s)
		return false;
	*p = s;
	return true;
}

int
units_parse_size(const char *s, uint64_t *bytes, const char **why)
{
	static const struct { const char *name; double mult; } units[] = {
		{ "", 1 }, { "B", 1 },
		{ "K", 1024.0 }, { "KB", 1024.0 }, { "KiB", 1024.0 },
		{ "M", 1048576.0 }, { "MB", 1048576.0 }, { "MiB", 1048576.0 },
		{ "G", 1073741824.0 }, { "GB", 1073741824.0 }, { "GiB", 1073741824.0 },
		{ "T", 1099511627776.0 }, { "TB", 1099511627776.0 },
		{ "TiB", 1099511627776.0 },
	};
	double val, total;

	if (!read_number(&s, &val)) {
		*why = "expected a number with an optional unit (B, K, M, G, T)";
		return -1;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(s, units[i].name) != 0)
			continue;
		total = round(val * units[i].mult);
		if (total >= 18446744073709551615.0) {
			*why = "size too large";
			return -1;
		}
		*bytes = (uint64_t)total;
		return 0;
	}
	*why = "unknown size unit (use B, K, M, G or T)";
	return -1;
}

int
units_parse_duration(const char *s, uint64_t *ms, const char **why)
{
	static const struct { const char *name; double mult; } units[] = {
		{ "ms", 1 }, { "s", 1000.0 }, { "m", 60000.0 },
		{ "h", 3600000.0 }, { "d", 86400000.0 }, { "w", 604800000.0 },
	};
	double total = 0, val;

	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	if (*s == '\0') {
		*why = "empty duration";
		return -1;
	}
	while (*s) {
		size_t len = 0;
		bool found = false;

		if (!read_number(&s, &val)) {
			*why = "expected a number followed by a unit (ms, s, m, h, d, w)";
			return -1;
		}
		while (isalpha((unsigned char)s[len]))
			len++;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (strlen(units[i].name) == len &&
			    strncmp(s, units[i].name, len) == 0) {
				total += val * units[i].mult;
				found = true;
				break;
			}
		}
		if (!found) {
			*why = len ? "unknown duration unit (use ms, s, m, h, d, w)" :
			    "missing duration unit (use ms, s, m, h, d, w)";
			return -1;
		}
		s += len;
	}
	if (total >= 9.2e18) {
		*why = "duration too long";
		return -1;
	}
	*ms = (uint64_t)round(total);
	return 0;
}

const char *
units_fmt_duration(uint64_t ms, char *buf, size_t len)
{
	static const struct { char unit; uint64_t ms; } steps[] = {
		{ 'd', 86400000 }, { 'h', 3600000 }, { 'm', 60000 }, { 's', 1000 },
	};
	size_t off = 0;

	if (ms == 0 || ms % 1000) {
		snprintf(buf, len, "%llums", (unsigned long long)ms);
		return buf;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && off < len; i++) {
		if (ms < steps[i].ms)
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%llu%c",
		    (unsigned long long)(ms / steps[i].ms), steps[i].unit);
		ms %= steps[i].ms;
	}
	return buf;
}

const char *
units_fmt_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "BKMGT";
	double val = (double)bytes;
	size_t u = 0;

	/* 1023.95 and up would print as "1024.0" of the smaller unit. */
	while (val >= 1023.95 && u < sizeof(units) - 2) {
		val /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lluB", (unsigned long long)bytes);
	else if (val == floor(val))
		snprintf(buf, len, "%.0f%c", val, units[u]);
	else
		snprintf(buf, len, "%.1f%c", val, units[u]);
	return buf;
}

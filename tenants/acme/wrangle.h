/*
 * Wrangling acme's listing fields: the text forms of the export (prices
 * like "$1,234.00", amenity lists like ["Wifi", "Kitchen"], coordinates)
 * into typed values. Pure functions, no state: tested by test_wrangle.c.
 */
#ifndef ACME_WRANGLE_H
#define ACME_WRANGLE_H

#include <stddef.h>
#include <stdint.h>

#include <mysimbdp.h>

/* Moves *s and *len past leading and trailing blanks (space, tab, CR, LF). */
void	wr_trim(const char **s, size_t *len);

/*
 * A 64-bit integer: [+-]digits, blanks around it ignored. Returns 0 with
 * *out set, or -1 (not an integer, out of range).
 */
int	wr_int(const char *s, size_t len, int64_t *out);

/*
 * A plain decimal number: [+-]digits[.digits][e[+-]digits], blanks around
 * it ignored. Returns 0 with *out set, or -1 (not a number, not finite).
 */
int	wr_number(const char *s, size_t len, double *out);

/*
 * A price: an optional '$', digits grouped by thousands with commas or
 * not grouped at all, optional cents: "$1,234.00", "80", "$0.5".
 * Negative, empty and ungroupable ("1,23") prices are refused.
 * Returns 0 with *out set, or -1.
 */
int	wr_price(const char *s, size_t len, double *out);

/*
 * An amenity list, a JSON array of strings (["Wifi", "Hair dryer"]),
 * appended to doc under key (keylen bytes) as a BSON array of strings.
 * JSON string escapes are decoded; scratch must hold at least len bytes
 * (the decoded strings are never longer than their source). The array is
 * closed even on failure, so doc stays usable, but then holds a partial
 * array: the caller drops the document. Returns 0, or -1 (malformed list,
 * or the builder failed).
 */
int	wr_amenities(struct msb_docbuild *doc, const char *key, size_t keylen,
	    const char *s, size_t len, char *scratch);

#endif

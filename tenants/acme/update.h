/*
 * A listing update, one message of acme's stream: a JSON object shaped
 * like a row of the listings export, keyed by the export's column names,
 *   {"id": 100001, "name": "Sunny loft", "price": "$147.14",
 *    "latitude": 52.30494, "longitude": 4.90213,
 *    "amenities": ["Wifi", "Kitchen"], "last_review": "2023-05-20", ...}
 * It becomes the same document a row of the export becomes (listing.c),
 * with the listing id as its _id, so the upsert keeps one document per
 * listing: its latest state.
 */
#ifndef ACME_UPDATE_H
#define ACME_UPDATE_H

#include <stddef.h>

#include "listing.h"

/*
 * Converts the message of len bytes at data into doc (emptied first):
 * {_id: <id>, the listing's fields..., location}. A value may be given as
 * JSON text, as in the export ("$1,234.00", "2023-05-20", the amenity list
 * as a string), or as the JSON value it stands for (a number, an array of
 * strings, {"$date": ...}); null or a missing key is an empty value.
 * Keys that are not columns are ignored. li must be bound with
 * listing_bind_ordered(). Returns 0, or -1 with the reason the message is
 * refused in why: "not JSON: ...", "not a JSON object", or the row's
 * reason ("id: required value is missing", "price: not a price: ...").
 */
int	update_to_doc(struct listing *li, const void *data, size_t len,
	    bson_t *doc, char *why, size_t whylen);

#endif

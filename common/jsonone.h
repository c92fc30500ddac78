/*
 * Text from outside (control requests, metric reports) that must be
 * exactly one JSON object: not an array or a scalar, not two objects,
 * no trailing text, valid UTF-8 without a NUL byte (nor a NUL escaped
 * \u0000 in a string).
 */
#ifndef MYSIMBDP_JSONONE_H
#define MYSIMBDP_JSONONE_H

#include <stddef.h>

#include <bson/bson.h>

/*
 * Parses len bytes at data into doc, which the caller has initialized
 * and destroys whatever the outcome. Returns 0, or -1 with the problem
 * in why ("not a JSON object", "not JSON: <parser message>", "more than
 * one JSON value", "not valid UTF-8 (or holds a NUL byte)").
 */
int jsonone_parse(const char *data, size_t len, bson_t *doc, char *why,
    size_t whylen);

#endif

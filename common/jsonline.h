/*
 * A document as one line of compact JSON, the form of every .jsonl file
 * the platform writes (records, metrics, dead letters): relaxed extended
 * JSON with no space outside strings, so `grep '"type":"report"'` and
 * line tools find what the docs show.
 */
#ifndef MYSIMBDP_JSONLINE_H
#define MYSIMBDP_JSONLINE_H

#include <stddef.h>

#include <bson/bson.h>

/*
 * Returns the line, ending in '\n' and then a NUL, with its length
 * (newline included, NUL not) in *len; free it with bson_free(). NULL
 * when doc cannot be written as JSON.
 */
char *jsonline(const bson_t *doc, size_t *len);

/* Removes the spaces outside strings from the n bytes of JSON at s, in
 * place; returns the new length. */
size_t jsonline_compact(char *s, size_t n);

#endif

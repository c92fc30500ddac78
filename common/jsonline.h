/*
 * A document as one line of compact JSON, the form of every .jsonl file
 * the platform writes (records, metrics, dead letters): relaxed extended
 * JSON with no space outside strings, so `grep '"type":"report"'` and
 * line tools find what the docs show.
 */
#ifndef MYSIMBDP_JSONLINE_H
#define MYSIMBDP_JSONLINE_H

#include <stdbool.h>
#include <stddef.h>

#include <bson/bson.h>

/*
 * Returns the line, ending in '\n' and then a NUL, with its length
 * (newline included, NUL not) in *len; free it with bson_free(). NULL
 * when doc cannot be written as JSON.
 */
char *jsonline(const bson_t *doc, size_t *len);

/* The length of the valid UTF-8 character at s (len bytes left, at
 * least 1), or 0: a NUL, a stray byte, an overlong form, a surrogate, a
 * character cut short. */
size_t jsonline_utf8_char(const char *s, size_t len);

/*
 * Names and reasons are bytes; JSON wants UTF-8. Copies the len bytes
 * at s to out with each byte that is not part of a valid UTF-8
 * character written as the four characters \xNN, so the text stays
 * recognisable. A cut to fit outlen (NUL included) never splits a
 * character or an escape. Returns the length written.
 */
size_t jsonline_text(const char *s, size_t len, char *out, size_t outlen);

/* BSON_APPEND_UTF8 of the NUL-terminated s through jsonline_text: the
 * document can always be written as JSON. False when out of memory. */
bool jsonline_append_text(bson_t *doc, const char *key, const char *s);

/*
 * An append of a line to fd (opened with O_APPEND) was cut short after n
 * bytes: cuts those n bytes off again, so every line of the file stays
 * whole (what record_append and applog_write promise). Returns the errno
 * the next write would have had: EFBIG past the file-size limit, else
 * ENOSPC.
 */
int jsonline_untear(int fd, size_t n);

/*
 * At the open of a file of lines that a crash may have cut mid-line (a
 * SIGKILL inside the write of a long one): cuts what follows its last
 * newline, which the next line would be glued to. Returns the bytes cut,
 * or -1 with errno.
 */
off_t jsonline_cut_torn(int fd);

/* Removes the spaces outside strings from the n bytes of JSON at s, in
 * place; returns the new length. */
size_t jsonline_compact(char *s, size_t n);

#endif

/*
 * Dead letters: queue/<tenant>/<stream>/dead-letters.jsonl, one JSON
 * object per line (docs/protocols.md, "Dead letters"):
 *   {"time": "...", "tenant": "acme", "stream": "default", "id": 42,
 *    "deliveries": 5, "reason": "nacked by ...", "payload": "..."}
 * The payload is a string when it is UTF-8, else extended-JSON binary.
 * streammgr writes the lines; `mysimbdp dead-letters` reads them, and
 * requeue moves chosen ones back into the queue.
 */
#ifndef MYSIMBDP_DEADLETTER_H
#define MYSIMBDP_DEADLETTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <bson/bson.h>

struct dead_letter {
	bson_t		*dl_doc;	/* owns the strings below */
	const char	*dl_time;
	const char	*dl_reason;
	int64_t		 dl_id;
	int32_t		 dl_deliveries;
	const uint8_t	*dl_payload;
	uint32_t	 dl_len;
	bool		 dl_binary;	/* payload was not UTF-8 */
};

/* One line, '\n' included; free with bson_free. */
char *dead_letter_format(const char *tenant, const char *stream, uint64_t id,
    unsigned deliveries, const char *reason, const void *payload, size_t len,
    size_t *linelen);

/* Parses one line (without its '\n'). Returns 0, or -1 with err. */
int dead_letter_parse(const char *line, size_t len, struct dead_letter *dl,
    char *err, size_t errlen);

void dead_letter_clear(struct dead_letter *dl);

/*
 * The id of a line (without its '\n') read without parsing it all: that
 * of the one "id" key of the line's object, 0 when none is found so
 * (parse it then). Not a check that the line parses.
 */
uint64_t dead_letter_scan_id(const char *line, size_t len);
/*
 * The highest id of the lines of path, in *id (0: none, or no file): a
 * line's as dead_letter_scan_id reads it, which may be that of a line
 * that does not parse, else as parsed. Reads the whole file. Returns 0,
 * or -1 with err.
 */
int dead_letter_max_id(const char *path, uint64_t *id, char *err,
    size_t errlen);

/*
 * A dead-letter file split in two: the letters chosen (ids, or all when
 * nids is 0), in memory, and the lines to keep, byte for byte (lines that
 * do not parse are kept too: nothing is dropped), written as they are
 * read to <path>.tmp, which dead_letter_keep puts in path's place: the
 * split holds the letters taken, not the file. ds_left: chosen letters
 * kept because the room ran out (counted by the id read off the line,
 * not parsed: a line that does not parse may be among them); ds_never:
 * kept because they never fit.
 */
struct dead_letter_split {
	struct dead_letter *ds_taken;
	size_t		 ds_ntaken;
	size_t		 ds_cap;
	size_t		 ds_left;
	size_t		 ds_never;
	char		*ds_tmp;	/* <path>.tmp while ds_fd is open */
	int		 ds_fd;		/* -1: none, or handed over */
	int		 ds_werr;	/* a write to it failed: errno */
	char		*ds_buf;	/* kept lines not written yet */
	size_t		 ds_buflen;
};

/* What a split's fits says of a letter's payload. */
enum dl_fit {
	DL_TAKE,	/* room for it: taken */
	DL_WAIT,	/* no room now: kept, and every chosen one after it */
	DL_NEVER	/* it never fits: kept, the next ones asked */
};

/*
 * Reads path (missing: empty). fits (NULL: every letter is taken) is
 * asked, in the file's order, about each chosen letter's payload, until
 * one has to wait. Returns 0, or -1 with err (an unreadable file, or
 * <path>.tmp not written: nothing taken then).
 */
int dead_letter_split(const char *path, const uint64_t *ids, size_t nids,
    enum dl_fit (*fits)(size_t len, void *arg), void *arg,
    struct dead_letter_split *ds, char *err, size_t errlen);

/*
 * Replaces path with the kept lines, on disk before it returns. Returns
 * the new file open for appending (O_APPEND, close-on-exec), or -1 with
 * err and path as it was.
 */
int dead_letter_keep(const char *path, struct dead_letter_split *ds,
    char *err, size_t errlen);

/* Frees the letters; <path>.tmp goes unless dead_letter_keep took it. */
void dead_letter_split_free(struct dead_letter_split *ds);

/*
 * Removes the <path>.tmp a split cut short by a crash left (path, the
 * file it was split from, is whole: the rename is the last step), which
 * may be as large as path. Returns 1 (its size in *size), 0 (there was
 * none), or -1 with err.
 */
int dead_letter_split_gone(const char *path, off_t *size, char *err,
    size_t errlen);

#endif

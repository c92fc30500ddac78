/*
 * A progress line on stderr for long commands (load, send --file):
 *
 *   events.jsonl: 42% 120.0M/285.7M, 310442 messages, 5120.3 messages/s
 *
 * rewritten in place with \r at most PROGRESS_EVERY_MS apart, and ended
 * with a newline when the work is done. By default it is shown only when
 * stderr is a terminal, so logs and pipes never get it; --progress and
 * --no-progress force the choice.
 */
#ifndef MYSIMBDP_PROGRESS_H
#define MYSIMBDP_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#define PROGRESS_EVERY_MS 250

enum progress_mode {
	PROGRESS_AUTO,	/* when stderr is a terminal */
	PROGRESS_ON,
	PROGRESS_OFF,
};

/*
 * --progress and --no-progress, for a command's cli_opt table (cli.h):
 * they set member, an enum progress_mode of type, which CLI_OPT_SET
 * stores as an int.
 */
#define PROGRESS_OPTIONS(type, member) \
	CLI_OPT_SETS("progress", PROGRESS_ON, type, member), \
	CLI_OPT_SETS("no-progress", PROGRESS_OFF, type, member)
_Static_assert(sizeof(enum progress_mode) == sizeof(int),
    "CLI_OPT_SET stores an int");

struct progress {
	bool		 p_on;
	bool		 p_shown;	/* a line is on screen, unfinished */
	const char	*p_label;	/* the file's name */
	const char	*p_unit;	/* what is counted: "rows" */
	uint64_t	 p_total;	/* bytes; 0: unknown */
	uint64_t	 p_bytes, p_count;
	int64_t		 p_start_ms, p_shown_ms;
	int		 p_width;	/* of the last line, to blank it out */
};

/* Starts counting. total is the input's size in bytes, 0 if unknown. */
void progress_start(struct progress *p, enum progress_mode mode,
    const char *label, const char *unit, uint64_t total);

/* Records where the work is; redraws the line if it is time to. */
void progress_update(struct progress *p, uint64_t bytes, uint64_t count);

/*
 * Ends the line on screen, if any, so that a message can be printed on
 * stderr; the next update draws it again.
 */
void progress_break(struct progress *p);

/* Draws the final figures and ends the line. */
void progress_finish(struct progress *p);

#endif

/*
 * log/records.state: how far the monitor's shipper (monitor/ship.c) has
 * stored each of the platform's logs in MongoDB. One line per log:
 *
 *   <log> <inode> <offset> <base>
 *
 * <offset> bytes of the file with <inode> are stored; <base> bytes came
 * before it in the files rotated out. A line's _id in MongoDB is
 * "<log>:<base + its offset>". Written to records.state.new, fsynced and
 * renamed. `mysimbdp status` reads it for the backlog.
 */
#ifndef MYSIMBDP_SHIPSTATE_H
#define MYSIMBDP_SHIPSTATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SHIP_LOG_NAME_MAX 16

struct ship_mark {
	char		 sm_log[SHIP_LOG_NAME_MAX];	/* "ingest", "metrics" */
	ino_t		 sm_ino;			/* 0: none yet */
	uint64_t	 sm_off;
	uint64_t	 sm_base;
};

/* Reads path into marks (at most n). Returns how many; 0 when there is
 * no file; -1 (errno) when it cannot be read. */
int shipstate_read(const char *path, struct ship_mark *marks, int n);

/* Writes marks to path atomically. Returns 0 or -1 (errno). */
int shipstate_write(const char *path, const struct ship_mark *marks, int n);

/*
 * Where the file with inode ino is among the log at path and its rotated
 * files: 0 path itself, k path.k (k <= 100, newer files have lower k),
 * -1 none of them. *oldest is set to the highest k there is (0: none).
 */
int shipstate_index(const char *path, ino_t ino, int *oldest);

/* path for index k: path itself or path.k (malloc'd). */
char *shipstate_path(const char *path, int k);

/* Bytes of the log at path not stored according to mark (what is left of
 * mark's file and all of the current one when it was rotated since). */
uint64_t shipstate_backlog(const char *path, const struct ship_mark *mark);

#endif

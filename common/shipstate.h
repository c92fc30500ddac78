/*
 * log/records.state: how far the monitor's shipper (monitor/ship.c) has
 * stored each of the platform's logs in MongoDB. One line per log:
 *
 *   <log> <inode> <offset> <base> <birth> <headlen> <head>
 *
 * <offset> bytes of the file with <inode> are stored; <base> bytes came
 * before it in the files rotated out. A line's _id in MongoDB is
 * "<log>:<base + its offset>". An inode alone does not name a file: the
 * file a rotation drops frees its inode, and the next file made gets it.
 * So the file is also known by its birth time (statx, nanoseconds; 0 when
 * the filesystem does not keep it) and the CRC-32C <head> of its first
 * <headlen> bytes (at most SHIP_HEAD_MAX; 0: not seen yet); a file with
 * the inode but another birth or other first bytes is another file. A
 * line without the last three (records.state of an older monitor) is
 * read with both unknown: the inode alone then, until the file is seen.
 * Written to records.state.new, fsynced and renamed. `mysimbdp status`
 * reads it for the backlog.
 */
#ifndef MYSIMBDP_SHIPSTATE_H
#define MYSIMBDP_SHIPSTATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SHIP_LOG_NAME_MAX 16
#define SHIP_HEAD_MAX	64	/* first bytes that tell a file */

struct ship_mark {
	char		 sm_log[SHIP_LOG_NAME_MAX];	/* "ingest", "metrics" */
	ino_t		 sm_ino;			/* 0: none yet */
	uint64_t	 sm_off;
	uint64_t	 sm_base;
	uint64_t	 sm_birth;		/* 0: unknown */
	uint32_t	 sm_headlen;		/* 0: unknown */
	uint32_t	 sm_head;		/* CRC-32C of those bytes */
};

/* Reads path into marks (at most n). Returns how many; 0 when there is
 * no file; -1 (errno) when it cannot be read. */
int shipstate_read(const char *path, struct ship_mark *marks, int n);

/* Writes marks to path atomically. Returns 0 or -1 (errno). */
int shipstate_write(const char *path, const struct ship_mark *marks, int n);

/* Makes the file open at fd mark's file: its inode, birth time and first
 * bytes (the offset and base stay). Returns 0 or -1 (errno). */
int shipstate_mark_file(struct ship_mark *mark, int fd);

/* Whether the file open at fd is mark's: the same inode, and the same
 * birth time and first bytes as far as they are known. */
bool shipstate_same(const struct ship_mark *mark, int fd);

/*
 * Where mark's file is among the log at path and its rotated files: 0
 * path itself, k path.k (k <= 100, newer files have lower k), -1 none of
 * them (or mark NULL). *oldest is set to the highest k there is (0: none).
 */
int shipstate_index(const char *path, const struct ship_mark *mark,
    int *oldest);

/* path for index k: path itself or path.k (malloc'd). */
char *shipstate_path(const char *path, int k);

/* Bytes of the log at path not stored according to mark (what is left of
 * mark's file and all of the current one when it was rotated since). */
uint64_t shipstate_backlog(const char *path, const struct ship_mark *mark);

#endif

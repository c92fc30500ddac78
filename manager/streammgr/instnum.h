/*
 * Instance numbers of a stream that are never handed out twice, across
 * restarts and crashes: an instance's id "<stream>-<n>" names its files
 * (logs, a tenant's per-instance output), so a number used before a
 * restart must not come back after it.
 *
 * The numbers are reserved in blocks: queue/<tenant>/<stream>/instances
 * holds the first number not reserved, written durably (a temporary
 * file, fsync, rename, fsync of the folder) before the first number of
 * a block is handed out. A start goes on after the last block reserved,
 * so a crash skips at most a block's unused numbers, and a spawn costs
 * no fsync but once per block.
 */
#ifndef MYSIMBDP_INSTNUM_H
#define MYSIMBDP_INSTNUM_H

#include <stddef.h>

#define INSTNUM_BLOCK 64

struct instnum {
	char		*in_dir;	/* the stream's queue folder */
	unsigned	 in_next;	/* the next number to hand out */
	unsigned	 in_limit;	/* reserved up to, not included */
};

/*
 * Reads what dir's file says was reserved (nothing: from 1). Returns 0,
 * or -1 with "file: problem" in err (an unreadable or garbled file).
 */
int instnum_open(struct instnum *in, const char *dir, char *err,
    size_t errlen);

/*
 * The next number, reserving a block first when the last is used up.
 * Returns 0 with *num set, or -1 with the reason in err when the block
 * could not be made durable (no number is handed out then).
 */
int instnum_next(struct instnum *in, unsigned *num, char *err,
    size_t errlen);

void instnum_close(struct instnum *in);

#endif

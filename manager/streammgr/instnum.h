/*
 * Instance numbers of a stream that are never handed out twice, across
 * restarts and crashes: an instance's id "<stream>-<n>" names its files
 * (logs, a tenant's per-instance output), so a number used before a
 * restart must not come back after it.
 *
 * The numbers are reserved in blocks: queue/<tenant>/<stream>/instances
 * holds the first number not reserved, written durably before the first
 * number of a block is handed out. A start goes on after the last block
 * reserved, so a crash skips at most a block's unused numbers, and a
 * spawn costs no fsync but once per block.
 *
 * The number is written zero-padded to a fixed width ("%010u\n"), as a
 * new file (fsync, rename, fsync of the folder). When the disk has no
 * room for the new file (ENOSPC, EDQUOT), the file is overwritten in
 * place instead: the same 11 bytes at offset 0, fdatasync, fsync of the
 * folder. That takes no new block and no change of size, so nothing but
 * the bytes is at stake in a crash, and those sit in one sector, which a
 * disk writes whole (the assumption PostgreSQL makes of pg_control);
 * none of the block is handed out before the write is durable. Only a
 * file of that width is overwritten: a missing one is made at open (not
 * fsynced: it reserves nothing), one written by an older streammgr
 * ("%u\n", still read) is replaced by the next block's rename.
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
 * Reads what dir's file says was reserved (nothing: from 1); makes it,
 * reserving nothing, when there is none (a full disk: not even that).
 * Returns 0, or -1 with "file: problem" in err (an unreadable or
 * garbled file).
 */
int instnum_open(struct instnum *in, const char *dir, char *err,
    size_t errlen);

/*
 * The next number, reserving a block first when the last is used up.
 * Returns 0 with *num set; 1 with *num set when the block was reserved
 * by overwriting the file in place, err saying why a new file could not
 * be written; -1 with the reason in err when the block could not be
 * made durable (no number is handed out then).
 */
int instnum_next(struct instnum *in, unsigned *num, char *err,
    size_t errlen);

void instnum_close(struct instnum *in);

#endif

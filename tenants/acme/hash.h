/*
 * The content hash of the input: SHA-256 as 64 lowercase hex digits, the
 * same value msb_file_hash() gives, so document ids and unit names are
 * the platform's own.
 */
#ifndef ACME_HASH_H
#define ACME_HASH_H

#include <mysimbdp.h>

/*
 * Hashes the file open on fd from its start, then rewinds fd to the
 * start. Returns 0, or -1 with errno set.
 */
int	content_hash(int fd, char hex[MSB_HASH_HEX_SIZE]);

#endif

/*
 * CRC-32C (Castagnoli), the checksum of the stream queue's records: the
 * one iSCSI, ext4 and Kafka use, with hardware support on x86-64 (SSE4.2)
 * and a table-driven fallback elsewhere.
 */
#ifndef MYSIMBDP_CRC32C_H
#define MYSIMBDP_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Extends crc (0 to start) over len bytes: crc32c(crc32c(0, a), b) is the
 * checksum of a followed by b. crc32c(0, "123456789", 9) == 0xe3069283.
 */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

/* The same without hardware help (for CPUs without it, and for tests). */
uint32_t crc32c_portable(uint32_t crc, const void *data, size_t len);

#endif

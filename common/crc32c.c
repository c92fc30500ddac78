#include "crc32c.h"

#include <stdbool.h>
#include <string.h>

#include "byteorder.h"

#define POLY 0x82f63b78u	/* reflected Castagnoli polynomial */

/* Slicing-by-8 tables, built on first use. */
static uint32_t table[8][256];
static bool table_ready;

static void
build_table(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		table[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++)
		for (int k = 1; k < 8; k++)
			table[k][n] = (table[k - 1][n] >> 8) ^
			    table[0][table[k - 1][n] & 0xff];
	table_ready = true;
}

static uint32_t
crc_soft(uint32_t crc, const unsigned char *p, size_t len)
{
	if (!table_ready)
		build_table();
	while (len >= 8) {
		/* The reflected CRC eats the low byte first. */
		uint64_t w = get_le64(p) ^ crc;

		crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^
		    table[5][(w >> 16) & 0xff] ^ table[4][(w >> 24) & 0xff] ^
		    table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
		    table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("sse4.2"))) static uint32_t
crc_hw(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc;

	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);	/* x86 is little-endian */
		c = __builtin_ia32_crc32di(c, w);
		p += 8;
		len -= 8;
	}
	crc = (uint32_t)c;
	while (len--)
		crc = __builtin_ia32_crc32qi(crc, *p++);
	return crc;
}

static bool
have_hw(void)
{
	static int have = -1;

	if (have < 0)
		have = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	return have;
}
#endif

uint32_t
crc32c_portable(uint32_t crc, const void *data, size_t len)
{
	return ~crc_soft(~crc, data, len);
}

uint32_t
crc32c(uint32_t crc, const void *data, size_t len)
{
	crc = ~crc;
#if defined(__x86_64__) && defined(__GNUC__)
	if (have_hw())
		return ~crc_hw(crc, data, len);
#endif
	return ~crc_soft(crc, data, len);
}

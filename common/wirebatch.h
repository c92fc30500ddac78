/*
 * The batched forms of the stream protocols (docs/protocols.md,
 * "Batches"): many messages in one ZeroMQ message. Pure encoding and
 * decoding over byte buffers, shared by streammgr and libmysimbdp so
 * both sides read and write one format.
 *
 *   ingress request   [""][header][records]   header: u64 first id, u32 count
 *                                              record: u32 length, payload
 *   ingress reply     [""][header][statuses]   status: u16 length, text
 *   delivery          [""][deliveries]         delivery: u64 id, u32 length,
 *                                              payload
 *   ACKR              [ACKR][ranges]           range: u64 first, u64 last
 *
 * Integers are big-endian, as every id on the wire.
 */
#ifndef MYSIMBDP_WIREBATCH_H
#define MYSIMBDP_WIREBATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WB_HEADER_LEN	12	/* u64 first id, u32 count */
#define WB_MAX_COUNT	65536	/* messages in one ingress batch */
#define WB_RECORD_OVERHEAD	4
#define WB_DELIVERY_OVERHEAD	12
#define WB_STATUS_MAX	65535	/* bytes of one status text */
#define WB_RANGE_LEN	16

/* A growing output buffer. */
struct wb_buf {
	unsigned char	*b_data;
	size_t		 b_len;
	size_t		 b_cap;
};

/* A cursor over a received frame. */
struct wb_reader {
	const unsigned char *r_p;
	const unsigned char *r_end;
};

/* A u64 as the wire has it (big-endian) at p. */
uint64_t wb_get_be64(const void *p);

void	wb_put_header(unsigned char out[WB_HEADER_LEN], uint64_t first,
	    uint32_t count);
/* Decodes a header; false unless it is 12 bytes with count 1..65536. */
bool	wb_get_header(const void *buf, size_t len, uint64_t *first,
	    uint32_t *count);

/* Appends to b; 0, or -1 when out of memory (b unchanged). */
int	wb_put_record(struct wb_buf *b, const void *data, size_t len);
int	wb_put_status(struct wb_buf *b, const char *text, size_t len);
int	wb_put_range(struct wb_buf *b, uint64_t first, uint64_t last);
/* Writes one delivery at p (WB_DELIVERY_OVERHEAD + len bytes). */
unsigned char *wb_write_delivery(unsigned char *p, uint64_t id,
	    const void *data, size_t len);
void	wb_free(struct wb_buf *b);

void	wb_reader_init(struct wb_reader *r, const void *buf, size_t len);
bool	wb_reader_done(const struct wb_reader *r);
/*
 * The next item: 1 with its parts, 0 at the end of the frame, -1 when
 * what is left is not a whole item (the frame is malformed from here).
 */
int	wb_next_record(struct wb_reader *r, const void **data, size_t *len);
int	wb_next_status(struct wb_reader *r, const char **text, size_t *len);
int	wb_next_delivery(struct wb_reader *r, uint64_t *id, const void **data,
	    size_t *len);
int	wb_next_range(struct wb_reader *r, uint64_t *first, uint64_t *last);

/*
 * Checks an ingress batch's records against its header's count: NULL
 * when there are exactly count whole records, else what is wrong.
 */
const char *wb_check_records(const void *buf, size_t len, uint32_t count);

#endif

#include "wirebatch.h"

#include <stdlib.h>
#include <string.h>

static void
put_be(unsigned char *p, uint64_t v, int bytes)
{
	for (int k = bytes - 1; k >= 0; k--, v >>= 8)
		p[k] = (unsigned char)v;
}

static uint64_t
get_be(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int k = 0; k < bytes; k++)
		v = v << 8 | p[k];
	return v;
}

uint64_t
wb_get_be64(const void *p)
{
	return get_be(p, 8);
}

void
wb_put_header(unsigned char out[WB_HEADER_LEN], uint64_t first,
    uint32_t count)
{
	put_be(out, first, 8);
	put_be(out + 8, count, 4);
}

bool
wb_get_header(const void *buf, size_t len, uint64_t *first, uint32_t *count)
{
	if (len != WB_HEADER_LEN)
		return false;
	*first = get_be(buf, 8);
	*count = (uint32_t)get_be((const unsigned char *)buf + 8, 4);
	return *count >= 1 && *count <= WB_MAX_COUNT;
}

/* Makes room for n more bytes; 0 or -1. */
static int
reserve(struct wb_buf *b, size_t n)
{
	size_t cap = b->b_cap ? b->b_cap : 4096;
	unsigned char *p;

	if (b->b_len + n <= b->b_cap)
		return 0;
	while (cap < b->b_len + n)
		cap *= 2;
	if ((p = realloc(b->b_data, cap)) == NULL)
		return -1;
	b->b_data = p;
	b->b_cap = cap;
	return 0;
}

int
wb_put_record(struct wb_buf *b, const void *data, size_t len)
{
	if (len > UINT32_MAX || reserve(b, WB_RECORD_OVERHEAD + len) == -1)
		return -1;
	put_be(b->b_data + b->b_len, len, 4);
	if (len > 0)
		memcpy(b->b_data + b->b_len + 4, data, len);
	b->b_len += WB_RECORD_OVERHEAD + len;
	return 0;
}

int
wb_put_status(struct wb_buf *b, const char *text, size_t len)
{
	if (len > WB_STATUS_MAX)
		len = WB_STATUS_MAX;
	if (reserve(b, 2 + len) == -1)
		return -1;
	put_be(b->b_data + b->b_len, len, 2);
	memcpy(b->b_data + b->b_len + 2, text, len);
	b->b_len += 2 + len;
	return 0;
}

int
wb_put_range(struct wb_buf *b, uint64_t first, uint64_t last)
{
	if (reserve(b, WB_RANGE_LEN) == -1)
		return -1;
	put_be(b->b_data + b->b_len, first, 8);
	put_be(b->b_data + b->b_len + 8, last, 8);
	b->b_len += WB_RANGE_LEN;
	return 0;
}

unsigned char *
wb_write_delivery(unsigned char *p, uint64_t id, const void *data,
    size_t len)
{
	put_be(p, id, 8);
	put_be(p + 8, len, 4);
	if (len > 0)
		memcpy(p + WB_DELIVERY_OVERHEAD, data, len);
	return p + WB_DELIVERY_OVERHEAD + len;
}

void
wb_free(struct wb_buf *b)
{
	free(b->b_data);
	*b = (struct wb_buf){ 0 };
}

void
wb_reader_init(struct wb_reader *r, const void *buf, size_t len)
{
	r->r_p = buf;
	r->r_end = r->r_p + len;
}

bool
wb_reader_done(const struct wb_reader *r)
{
	return r->r_p == r->r_end;
}

static size_t
left(const struct wb_reader *r)
{
	return (size_t)(r->r_end - r->r_p);
}

/* A length-prefixed item of `lenbytes`, after `skip` bytes of its own. */
static int
next_item(struct wb_reader *r, size_t skip, int lenbytes, const void **data,
    size_t *len)
{
	size_t head = skip + (size_t)lenbytes, n;

	if (left(r) == 0)
		return 0;
	if (left(r) < head)
		return -1;
	n = (size_t)get_be(r->r_p + skip, lenbytes);
	if (left(r) - head < n)
		return -1;
	*data = r->r_p + head;
	*len = n;
	r->r_p += head + n;
	return 1;
}

int
wb_next_record(struct wb_reader *r, const void **data, size_t *len)
{
	return next_item(r, 0, 4, data, len);
}

int
wb_next_status(struct wb_reader *r, const char **text, size_t *len)
{
	const void *p;
	int rc = next_item(r, 0, 2, &p, len);

	if (rc == 1)
		*text = p;
	return rc;
}

int
wb_next_delivery(struct wb_reader *r, uint64_t *id, const void **data,
    size_t *len)
{
	const unsigned char *at = r->r_p;
	int rc = next_item(r, 8, 4, data, len);

	if (rc == 1)
		*id = get_be(at, 8);
	return rc;
}

int
wb_next_range(struct wb_reader *r, uint64_t *first, uint64_t *last)
{
	if (left(r) == 0)
		return 0;
	if (left(r) < WB_RANGE_LEN)
		return -1;
	*first = get_be(r->r_p, 8);
	*last = get_be(r->r_p + 8, 8);
	r->r_p += WB_RANGE_LEN;
	return 1;
}

const char *
wb_check_records(const void *buf, size_t len, uint32_t count)
{
	struct wb_reader r;
	const void *data;
	size_t n;
	uint32_t k = 0;
	int rc;

	wb_reader_init(&r, buf, len);
	while ((rc = wb_next_record(&r, &data, &n)) == 1)
		if (++k > count)
			return "more records than the header's count";
	if (rc < 0)
		return "a record runs past the end of the frame";
	if (k < count)
		return "fewer records than the header's count";
	return NULL;
}

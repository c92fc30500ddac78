/*
 * Fuzz target: how libmysimbdp tells apart what streammgr sends an
 * instance (clientlib/stream.c, msb__work_classify): a delivery
 * [id][payload], batched deliveries [""][deliveries] (walked with
 * wb_next_delivery), [BYE] or [ERR reason]; the input split into frames by
 * fuzz_split_frames (more than two count as three, as read_one counts).
 * Invariants: each kind is exactly the frames docs/protocols.md gives for
 * it; a delivery's id is its frame read big-endian; a batch's walk
 * covers its frame exactly, each delivery inside it, or stops where
 * what is left is not a whole delivery; what a malformed
 * message is logged as is printable ASCII; deterministic.
 */
#include <string.h>

#include "fuzz.h"
#include "mysimbdp-internal.h"
#include "wirebatch.h"

/* Walks [deliveries]: every one within the frame, in order. */
static void
check_batch(const uint8_t *body, size_t size)
{
	struct wb_reader r;
	const void *data;
	size_t len, used = 0;
	uint64_t id, want;
	int rc;

	wb_reader_init(&r, body, size);
	while ((rc = wb_next_delivery(&r, &id, &data, &len)) == 1) {
		FUZZ_CHECK((const uint8_t *)data == body + used + 12 &&
		    used + 12 + len <= size, "delivery outside its frame");
		want = 0;
		for (int b = 0; b < 8; b++)
			want = want << 8 | body[used + b];
		FUZZ_CHECK(id == want, "batched id %llu, the frame says %llu",
		    (unsigned long long)id, (unsigned long long)want);
		used += 12 + len;
	}
	FUZZ_CHECK(rc == 0 ? used == size : size - used > 0 &&
	    (size - used < 12 || size - used - 12 < (size_t)(
	    (uint32_t)body[used + 8] << 24 | (uint32_t)body[used + 9] << 16 |
	    (uint32_t)body[used + 10] << 8 | body[used + 11])),
	    "walk ended at %zu of %zu bytes (rc %d)", used, size, rc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_frames f;
	const uint8_t *head;
	size_t len;
	uint64_t id = 0, id2 = 0, want = 0;
	char what[64], what2[64];
	enum msb__work_kind k, k2;
	int n;

	if (size == 0)
		return 0;
	fuzz_split_frames(data, size, &f);
	n = f.n > 2 ? 3 : f.n;
	head = f.data[0];
	len = f.len[0];
	what[0] = what2[0] = '\0';
	k = msb__work_classify(head, len, n, &id, what, sizeof(what));
	k2 = msb__work_classify(head, len, n, &id2, what2, sizeof(what2));
	FUZZ_CHECK(k == k2 && id == id2 && strcmp(what, what2) == 0,
	    "not deterministic");
	switch (k) {
	case MSB__DELIVERY:
		FUZZ_CHECK(n == 2 && len == 8, "a delivery of %d frames, id "
		    "of %zu bytes", n, len);
		for (int b = 0; b < 8; b++)
			want = want << 8 | head[b];
		FUZZ_CHECK(id == want, "id %llu, the frame says %llu",
		    (unsigned long long)id, (unsigned long long)want);
		break;
	case MSB__BATCH:
		FUZZ_CHECK(n == 2 && len == 0, "a batch of %d frames, head of "
		    "%zu bytes", n, len);
		check_batch(f.data[1], f.len[1]);
		break;
	case MSB__BYE:
		FUZZ_CHECK(n == 1 && len == 3 && memcmp(head, "BYE", 3) == 0,
		    "BYE from %d frames", n);
		break;
	case MSB__ERR:
		FUZZ_CHECK(n == 1 && len >= 3 && memcmp(head, "ERR", 3) == 0,
		    "ERR from %d frames", n);
		break;
	case MSB__MALFORMED:
		FUZZ_CHECK(n > 2 || (n == 2 && len != 8 && len != 0) ||
		    (n == 1 &&
		    !(len == 3 && memcmp(head, "BYE", 3) == 0) &&
		    !(len >= 3 && memcmp(head, "ERR", 3) == 0)),
		    "a good message called malformed: %s", what);
		FUZZ_CHECK(what[0] != '\0', "malformed without a reason");
		for (size_t i = 0; what[i] != '\0'; i++)
			FUZZ_CHECK(what[i] >= 0x20 && what[i] < 0x7f,
			    "unprintable byte 0x%02x in \"%s\"",
			    (unsigned char)what[i], what);
		break;
	default:
		FUZZ_CHECK(false, "kind %d", (int)k);
	}
	return 0;
}

/*
 * Fuzz target: the wire frames streammgr decodes (manager/streammgr/stream.c), the
 * input split into frames by fuzz_split_frames: as a producer's message
 * after its routing id (stream_ingress_check; with three frames and the
 * first empty, a batch: stream_batch_check) and as an instance's
 * command, the first frame the command (stream_work_decode; the routing
 * id's length is twice the input's first byte, to cross its limit of 255).
 *
 * Invariants: a refusal is the documented REJECT or ERR text; the decoder
 * is deterministic; the command decoded is the one named; what it hands
 * on is what the frames say, exactly (the instance id, the credit as
 * decimal text, the ids, ACKR's ranges of at most 65536 ids) or
 * nothing; an accepted batch is exactly its header's count of records,
 * covering the frame; a NACK or REJECT reason is text the
 * dead-letter file (JSON) can hold, and the frame's own text when that
 * already is; the letter's id is read back from its line without a parse
 * (dead_letter_scan_id), whatever reason and payload (the frame) it has
 * (but an escaped "i" or "d" in them: 0, left to the parse).
 */
#include <stdio.h>
#include <string.h>

#include "deadletter.h"
#include "fuzz.h"
#include "stream.h"
#include "wirebatch.h"

#define WORK_ARGS	3	/* on_work counts no further */
#define MSG_ID_MAX	64
#define CREDIT_MAX	65536

static void
check_batch(const struct fuzz_frames *f)
{
	char buf[128];
	const char *why = stream_batch_check(f->data[1], f->len[1],
	    f->data[2], f->len[2], buf, sizeof(buf));
	struct wb_reader r;
	const void *data;
	size_t len, used = 0;
	uint64_t first;
	uint32_t count, k = 0;

	if (why != NULL) {
		FUZZ_CHECK(strncmp(why, "REJECT malformed: ", 18) == 0,
		    "batch refused with \"%s\"", why);
		return;
	}
	FUZZ_CHECK(wb_get_header(f->data[1], f->len[1], &first, &count),
	    "a bad header accepted");
	wb_reader_init(&r, f->data[2], f->len[2]);
	while (wb_next_record(&r, &data, &len) == 1) {
		FUZZ_CHECK((const uint8_t *)data == f->data[2] + used + 4,
		    "record %u not where the frame has it", k);
		used += 4 + len;
		k++;
	}
	FUZZ_CHECK(k == count && used == f->len[2], "accepted a batch of %u "
	    "records covering %zu of %zu bytes, header says %u", k, used,
	    f->len[2], count);
}

static void
check_ingress(const struct fuzz_frames *f)
{
	char buf[128];
	const char *why = stream_ingress_check(f->n, f->len[0], buf,
	    sizeof(buf));
	bool good = f->n == 2 && f->len[0] >= 1 && f->len[0] <= MSG_ID_MAX;

	if (f->n == 3 && f->len[0] == 0)
		check_batch(f);

	FUZZ_CHECK((why == NULL) == good, "%d frames, msg-id of %zu bytes: "
	    "%s", f->n, f->len[0], why ? why : "accepted");
	if (why != NULL)
		FUZZ_CHECK(strncmp(why, "REJECT malformed: ", 18) == 0,
		    "refused with \"%s\"", why);
}

static bool
frame_is(const struct stream_frame *f, const char *word)
{
	return f->f_len == strlen(word) && memcmp(f->f_data, word,
	    f->f_len) == 0;
}

static enum work_cmd
named(const struct stream_frame *cmd)
{
	static const char *const words[] = { [WORK_HELLO] = "HELLO",
	    [WORK_BYE] = "BYE", [WORK_ACK] = "ACK", [WORK_NACK] = "NACK",
	    [WORK_REJECT] = "REJECT" };

	if (frame_is(cmd, "ACKR"))
		return WORK_ACK;
	for (int k = WORK_HELLO; k < WORK_UNKNOWN; k++)
		if (frame_is(cmd, words[k]))
			return (enum work_cmd)k;
	return WORK_UNKNOWN;
}

static void
check_hello(const struct stream_frame *args, const struct work_request *w)
{
	const struct stream_frame *id = &args[0], *credit = &args[1];
	size_t n = strlen(w->w_instance);
	unsigned long v = 0;

	FUZZ_CHECK(w->w_credit >= 1 && w->w_credit <= CREDIT_MAX,
	    "credit %u", w->w_credit);
	FUZZ_CHECK(credit->f_len > 0, "empty credit accepted");
	for (size_t k = 0; k < credit->f_len; k++) {
		unsigned char c = ((const unsigned char *)credit->f_data)[k];

		FUZZ_CHECK(c >= '0' && c <= '9', "credit frame of %zu bytes "
		    "is not decimal text (byte %zu is 0x%02x), taken as %u",
		    credit->f_len, k, c, w->w_credit);
		if (v <= CREDIT_MAX)
			v = v * 10 + (unsigned long)(c - '0');
	}
	FUZZ_CHECK(v == w->w_credit, "credit frame says %lu, decoded %u", v,
	    w->w_credit);
	FUZZ_CHECK(n == 0 || (n == id->f_len && memcmp(w->w_instance,
	    id->f_data, n) == 0), "instance id \"%s\" is not the frame's %zu "
	    "bytes", w->w_instance, id->f_len);
}

static void
check_ids(const struct stream_frame *args, const struct work_request *w)
{
	const unsigned char *p = args[0].f_data;

	FUZZ_CHECK(args[0].f_len > 0 && args[0].f_len % 8 == 0 &&
	    w->w_nids == args[0].f_len / 8 && w->w_ids == p,
	    "ids frame of %zu bytes decoded as %zu ids", args[0].f_len,
	    w->w_nids);
	for (size_t k = 0; k < w->w_nids; k++) {
		uint64_t v = 0;

		for (int b = 0; b < 8; b++)
			v = v << 8 | p[8 * k + b];
		FUZZ_CHECK(stream_work_id(w, k) == v, "id %zu", k);
	}
}

/* ACKR: the frame's pairs, each first <= last, 65536 ids at most in all. */
static void
check_ranges(const struct stream_frame *args, int nargs,
    const struct work_request *w)
{
	uint64_t first, last, ids = 0;

	FUZZ_CHECK(nargs == 1 && args[0].f_len % 16 == 0 &&
	    w->w_nids == args[0].f_len / 16 && w->w_nids > 0,
	    "ranges frame of %zu bytes decoded as %zu", args[0].f_len,
	    w->w_nids);
	for (size_t k = 0; k < w->w_nids; k++) {
		stream_work_span(w, k, &first, &last);
		FUZZ_CHECK(first <= last && last - first < CREDIT_MAX,
		    "range %zu: %llu..%llu", k, (unsigned long long)first,
		    (unsigned long long)last);
		ids += last - first + 1;
	}
	FUZZ_CHECK(ids <= CREDIT_MAX, "ranges of %llu ids accepted",
	    (unsigned long long)ids);
}

/* The reason ends in a dead letter's JSON line. */
static void
check_reason(const struct stream_frame *args, int nargs,
    const struct work_request *w)
{
	size_t n = strlen(w->w_reason);
	size_t len;
	uint64_t id;
	char *line;

	FUZZ_CHECK(n < WORK_REASON_MAX, "reason of %zu bytes", n);
	FUZZ_CHECK(fuzz_printable_utf8(w->w_reason, n), "reason \"%s\" is "
	    "not printable UTF-8", w->w_reason);
	if (nargs == 2 && args[1].f_len < WORK_REASON_MAX &&
	    fuzz_printable_utf8(args[1].f_data, args[1].f_len))
		FUZZ_CHECK(n == args[1].f_len && memcmp(w->w_reason,
		    args[1].f_data, n) == 0, "reason changed");
	if (nargs < 2)
		FUZZ_CHECK(n == 0, "a reason from nowhere");
	/* The frame's bytes as the payload too: its id is read back
	 * without a parse (requeue, start), whatever the line holds but
	 * the text of an escaped "i" or "d", left to the parse. */
	line = dead_letter_format("acme", "default", 7, 1, w->w_reason,
	    nargs >= 2 ? args[1].f_data : "x", nargs >= 2 ? args[1].f_len : 1,
	    &len);
	FUZZ_CHECK(line != NULL, "no dead-letter line for reason \"%s\"",
	    w->w_reason);
	id = dead_letter_scan_id(line, len - 1);
	FUZZ_CHECK(id == 7 || (id == 0 && (memmem(line, len, "\\u0064", 6) ||
	    memmem(line, len, "\\u0069", 6))), "id read as %ju from %s",
	    (uintmax_t)id, line);
	bson_free(line);
}

static void
check_work(const struct fuzz_frames *f, size_t ridlen)
{
	struct stream_frame cmd = { f->data[0], f->len[0] };
	struct stream_frame args[FUZZ_FRAMES_MAX];
	struct work_request w, again;
	int nargs = 0;
	const char *why, *why2;

	for (int k = 1; k < f->n; k++)
		args[nargs++] = (struct stream_frame){ f->data[k], f->len[k] };
	if (nargs > WORK_ARGS)
		nargs = WORK_ARGS;
	why = stream_work_decode(&cmd, args, nargs, ridlen, &w);
	why2 = stream_work_decode(&cmd, args, nargs, ridlen, &again);
	FUZZ_CHECK(why == why2 && memcmp(&w, &again, sizeof(w)) == 0,
	    "not deterministic");
	FUZZ_CHECK(w.w_cmd == named(&cmd), "decoded as command %d",
	    (int)w.w_cmd);
	if (why != NULL) {
		FUZZ_CHECK(strncmp(why, "ERR ", 4) == 0 &&
		    fuzz_printable_utf8(why, strlen(why)), "answer \"%s\"",
		    why);
		return;
	}
	switch (w.w_cmd) {
	case WORK_HELLO:
		FUZZ_CHECK((nargs == 2 || nargs == 3) && ridlen <= 255,
		    "HELLO with %d frames, routing id of %zu bytes", nargs,
		    ridlen);
		FUZZ_CHECK(!w.w_batch || nargs == 3, "batch from nowhere");
		check_hello(args, &w);
		break;
	case WORK_BYE:
		break;
	case WORK_ACK:
		if (w.w_ranges) {
			check_ranges(args, nargs, &w);
			break;
		}
		/* FALLTHROUGH */
	case WORK_NACK:
	case WORK_REJECT:
		FUZZ_CHECK(nargs >= 1 && nargs <= (w.w_cmd == WORK_ACK ? 1 : 2),
		    "%d frames", nargs);
		check_ids(args, &w);
		check_reason(args, nargs, &w);
		break;
	case WORK_UNKNOWN:
		FUZZ_CHECK(false, "an unknown command accepted");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_frames f;

	if (size == 0)
		return 0;
	fuzz_split_frames(data, size, &f);
	check_ingress(&f);
	check_work(&f, (size_t)data[0] * 2);
	return 0;
}

/*
 * Fuzz target: the document check of msb_sink_add (clientlib/doccheck.c,
 * msb__doc_problem), a walk over a document's bytes written for speed in
 * place of libbson's iterator. The input is the document's bytes.
 *
 * Invariants: an accepted document is one libbson also finds well-formed
 * (bson_init_static and bson_validate); a refusal is one of the
 * documented reasons; deterministic.
 */
#include <string.h>

#include "fuzz.h"
#include "mysimbdp-internal.h"

static const char *const reasons[] = {
	"corrupt BSON",
	"a key is empty, starts with '$' or holds '.'",
	"a key is not valid UTF-8",
	"a string is not valid UTF-8",
	"nested more than 100 levels deep",
	"_id is there twice (a key may not repeat)",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = msb__doc_problem(data, size);
	bson_t doc;
	size_t off = 0, i;

	FUZZ_CHECK(why == msb__doc_problem(data, size), "not deterministic");
	if (why != NULL) {
		for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
			if (strcmp(why, reasons[i]) == 0)
				break;
		FUZZ_CHECK(i < sizeof(reasons) / sizeof(reasons[0]),
		    "refused with \"%s\"", why);
		return 0;
	}
	FUZZ_CHECK(bson_init_static(&doc, data, size), "accepted %zu bytes "
	    "that are not even a length and a NUL", size);
	FUZZ_CHECK(bson_validate(&doc, BSON_VALIDATE_NONE, &off),
	    "accepted a document bson_validate finds malformed at %zu", off);
	return 0;
}

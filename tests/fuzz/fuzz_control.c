/*
 * Fuzz target: streammgr's control requests (manager/streammgr/scontrol.c), as the
 * control socket takes them: a JSON text parsed with libbson, then
 * scontrol_check, the checks scontrol_handle makes before it looks at any
 * stream. Invariants: a refusal says why in text a JSON reply can carry
 * (scontrol_handle writes it into one and cannot fail to); the check is
 * deterministic; an accepted request has a known command and only the
 * fields that command takes, each once, with the types and bounds
 * docs/protocols.md gives.
 */
#include <string.h>

#include <bson/bson.h>

#include "scontrol.h"
#include "fuzz.h"

#define REQ_MAX		65536	/* as control.c: larger ones are refused */
#define IDS_MAX		1000
#define REASON_MAX	200

/* The refusal as scontrol_handle replies it. */
static void
check_refusal(const char *err)
{
	bson_t reply = BSON_INITIALIZER;
	char *json;

	FUZZ_CHECK(err[0] != '\0', "refused without a reason");
	BSON_APPEND_BOOL(&reply, "ok", false);
	BSON_APPEND_UTF8(&reply, "error", err);
	json = bson_as_relaxed_extended_json(&reply, NULL);
	bson_destroy(&reply);
	FUZZ_CHECK(json != NULL, "the reply cannot be written as JSON (the "
	    "reason is not UTF-8): %s", err);
	bson_free(json);
}

static void
check_ids(bson_iter_t *it)
{
	bson_iter_t sub;
	size_t n = 0;

	FUZZ_CHECK(BSON_ITER_HOLDS_ARRAY(it) && bson_iter_recurse(it, &sub),
	    "ids: not an array");
	while (bson_iter_next(&sub)) {
		FUZZ_CHECK((BSON_ITER_HOLDS_INT32(&sub) ||
		    BSON_ITER_HOLDS_INT64(&sub)) &&
		    bson_iter_as_int64(&sub) >= 1, "ids: a bad id accepted");
		n++;
	}
	FUZZ_CHECK(n >= 1 && n <= IDS_MAX, "ids: %zu of them", n);
}

/* What docs/protocols.md says an accepted request is. */
static void
check_accepted(const bson_t *doc)
{
	static const char *const cmds[] = { "status", "start", "stop",
	    "drain", "scale", "requeue", "reload" };
	const char *cmd = NULL;
	bool tenant = false, instances = false, ids = false;
	bson_iter_t it, before;
	bool known = false;

	FUZZ_CHECK(bson_iter_init(&it, doc), "not a document");
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);

		FUZZ_CHECK(bson_iter_init(&before, doc), "not a document");
		while (bson_iter_next(&before) && bson_iter_key(&before) != key)
			FUZZ_CHECK(strcmp(bson_iter_key(&before), key) != 0,
			    "%s given twice", key);

		if (strcmp(key, "instances") == 0) {
			FUZZ_CHECK(BSON_ITER_HOLDS_INT32(&it) ||
			    BSON_ITER_HOLDS_INT64(&it), "instances: mistyped");
			instances = true;
			continue;
		}
		if (strcmp(key, "ids") == 0) {
			check_ids(&it);
			ids = true;
			continue;
		}
		FUZZ_CHECK(strcmp(key, "cmd") == 0 ||
		    strcmp(key, "tenant") == 0 || strcmp(key, "stream") == 0 ||
		    strcmp(key, "reason") == 0, "unknown field \"%s\"", key);
		FUZZ_CHECK(BSON_ITER_HOLDS_UTF8(&it), "%s: not a string", key);
		if (strcmp(key, "cmd") == 0)
			cmd = bson_iter_utf8(&it, NULL);
		else if (strcmp(key, "tenant") == 0)
			tenant = true;
		else if (strcmp(key, "reason") == 0)
			FUZZ_CHECK(strlen(bson_iter_utf8(&it, NULL)) <=
			    REASON_MAX, "reason: too long");
	}
	FUZZ_CHECK(cmd != NULL, "no cmd");
	for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
		known = known || strcmp(cmd, cmds[k]) == 0;
	FUZZ_CHECK(known, "unknown cmd \"%s\"", cmd);
	FUZZ_CHECK(!instances || strcmp(cmd, "scale") == 0,
	    "instances for %s", cmd);
	FUZZ_CHECK(!ids || strcmp(cmd, "requeue") == 0, "ids for %s", cmd);
	FUZZ_CHECK(!tenant || strcmp(cmd, "reload") != 0, "reload with a "
	    "tenant");
	FUZZ_CHECK(tenant || strcmp(cmd, "status") == 0 ||
	    strcmp(cmd, "reload") == 0, "%s without a tenant", cmd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512], err2[512];
	bson_error_t berr;
	bson_t doc;
	int rc;

	if (size > REQ_MAX || !bson_init_from_json(&doc, (const char *)data,
	    (ssize_t)size, &berr))
		return 0;
	rc = scontrol_check(&doc, err, sizeof(err));
	FUZZ_CHECK(scontrol_check(&doc, err2, sizeof(err2)) == rc &&
	    (rc == 0 || strcmp(err, err2) == 0), "not deterministic");
	if (rc < 0)
		check_refusal(err);
	else
		check_accepted(&doc);
	bson_destroy(&doc);
	return 0;
}

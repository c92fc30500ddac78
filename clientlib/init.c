/*
 * Library set-up and the return codes. libmongoc is set up when the
 * first mongodb:// sink opens (mongoload.c), so an app that never writes
 * to MongoDB never loads it; msb_cleanup() tears it down if it was.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "mysimbdp-internal.h"

static atomic_bool initialized;

int
msb_init(void)
{
	if (!atomic_exchange(&initialized, true)) {
		/*
		 * libmongoc's shared-memory counters leave /dev/shm/mongoc-<pid>
		 * behind every app that is killed, and warn when a pid comes
		 * round again; apps have no use for them.
		 */
		setenv("MONGOC_DISABLE_SHM", "1", 0);
	}
	return MSB_OK;
}

void
msb_cleanup(void)
{
	if (atomic_exchange(&initialized, false))
		msb__mongo_unload();
}

bool
msb__initialized(void)
{
	return atomic_load(&initialized);
}

const char *
msb_version(void)
{
	return MSB_VERSION;
}

const char *
msb_strerror(int rc)
{
	switch (rc) {
	case MSB_OK:
		return "success";
	case MSB_STOPPED:
		return "stopped as asked";
	case MSB_TEMPFAIL:
		return "temporary failure, try again later";
	case MSB_BADDOC:
		return "document refused";
	default:
		return "error";
	}
}

int
msb_exit_code(int rc)
{
	switch (rc) {
	case MSB_OK:
	case MSB_STOPPED:
		return 0;
	case MSB_TEMPFAIL:
		return MSB_EXIT_TEMPFAIL;
	case MSB_BADDOC:
		return MSB_EXIT_DATAERR;
	default:
		return 1;
	}
}

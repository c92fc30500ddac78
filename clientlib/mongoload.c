/*
 * The MongoDB back end of the sink, set up when the first mongodb:// sink
 * opens. libmongoc brings a tree of libraries (OpenSSL, SASL, ICU,
 * zstd, ...) whose loading and relocation was most of an app's start-up
 * (about 8 ms of CPU for the no-op stream app), paid by every app even
 * when it writes to file://. So in the shared library the back end
 * (sink_mongo.c) is a library of its own, libmysimbdp-mongo.so.0, in the
 * folder of libmysimbdp.so.0, opened here with dlopen the first time it
 * is needed; the static library links it in (MSB_MONGO_LINKED) and only
 * defers mongoc_init().
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "mysimbdp-internal.h"

#define MONGO_LIB "libmysimbdp-mongo.so.0"

typedef int open_fn(struct msb_sink *, const char *, const char *,
    const char *, char *, size_t);
typedef int each_fn(const char *, const char *, const char *,
    void (*)(void *, const bson_t *), void *, char *, size_t);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static open_fn *open_mongo;
static each_fn *each_mongo;
static void (*cleanup_mongo)(void);
static char load_error[PATH_MAX + 256];

#ifdef MSB_MONGO_LINKED
static void
load(void)
{
	msb__mongo_init();
	open_mongo = msb__sink_mongo_open;
	each_mongo = msb__mongo_each;
	cleanup_mongo = msb__mongo_cleanup;
}
#else
static void
load(void)
{
	static const char *const names[] = { "msb__mongo_init",
	    "msb__sink_mongo_open", "msb__mongo_cleanup", "msb__mongo_each" };
	void *syms[4];
	void (*init)(void);

	if (msb__load_beside(MONGO_LIB, "the MongoDB back end", names, syms,
	    4, load_error, sizeof(load_error)) == -1)
		return;
	*(void **)&init = syms[0];
	*(void **)&open_mongo = syms[1];
	*(void **)&cleanup_mongo = syms[2];
	*(void **)&each_mongo = syms[3];
	/* libmongoc cannot be set up twice: the library stays loaded. */
	init();
}
#endif

int
msb__mongo_open(struct msb_sink *sink, const char *url, const char *db,
    const char *collection, char *err, size_t errlen)
{
	pthread_once(&once, load);
	if (open_mongo == NULL) {
		msb__seterr(err, errlen, "%s", load_error);
		return MSB_ERROR;
	}
	return open_mongo(sink, url, db, collection, err, errlen);
}

int
msb__mongo_find_all(const char *url, const char *db, const char *collection,
    void (*fn)(void *, const bson_t *), void *arg, char *err, size_t errlen)
{
	pthread_once(&once, load);
	if (each_mongo == NULL) {
		msb__seterr(err, errlen, "%s", load_error);
		return MSB_ERROR;
	}
	return each_mongo(url, db, collection, fn, arg, err, errlen);
}

void
msb__mongo_unload(void)
{
	if (cleanup_mongo != NULL)
		cleanup_mongo();
	cleanup_mongo = NULL;
}

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
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "mysimbdp-internal.h"

#define MONGO_LIB "libmysimbdp-mongo.so.0"

typedef int open_fn(struct msb_sink *, const char *, const char *,
    const char *, char *, size_t);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static open_fn *open_mongo;
static void (*cleanup_mongo)(void);
static char load_error[PATH_MAX + 256];

#ifdef MSB_MONGO_LINKED
static void
load(void)
{
	msb__mongo_init();
	open_mongo = msb__sink_mongo_open;
	cleanup_mongo = msb__mongo_cleanup;
}
#else
/* The back end's path: beside the libmysimbdp this code runs from. */
static int
mongo_path(char *path, size_t len)
{
	Dl_info info;
	const char *slash;

	if (dladdr(&once, &info) == 0 || info.dli_fname == NULL ||
	    (slash = strrchr(info.dli_fname, '/')) == NULL)
		return snprintf(path, len, "%s", MONGO_LIB) >= (int)len ? -1 : 0;
	return snprintf(path, len, "%.*s/%s", (int)(slash - info.dli_fname),
	    info.dli_fname, MONGO_LIB) >= (int)len ? -1 : 0;
}

static void
load(void)
{
	char path[PATH_MAX];
	void (*init)(void);
	void *h;

	if (mongo_path(path, sizeof(path)) == -1) {
		snprintf(load_error, sizeof(load_error), "%s: path too long",
		    MONGO_LIB);
		return;
	}
	if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(load_error, sizeof(load_error), "cannot load the "
		    "MongoDB back end: %s", dlerror());
		return;
	}
	*(void **)&init = dlsym(h, "msb__mongo_init");
	*(void **)&open_mongo = dlsym(h, "msb__sink_mongo_open");
	*(void **)&cleanup_mongo = dlsym(h, "msb__mongo_cleanup");
	if (init == NULL || open_mongo == NULL || cleanup_mongo == NULL) {
		snprintf(load_error, sizeof(load_error), "%s: not the MongoDB "
		    "back end of libmysimbdp %s", path, MSB_VERSION);
		open_mongo = NULL;
		cleanup_mongo = NULL;
		return;
	}
	/* Kept loaded for the process's life: libmongoc cannot be
	 * set up twice. */
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

void
msb__mongo_unload(void)
{
	if (cleanup_mongo != NULL)
		cleanup_mongo();
	cleanup_mongo = NULL;
}

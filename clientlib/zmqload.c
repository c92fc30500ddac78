/*
 * The producer's link over tcp:// with CURVE (link_zmq.c), set up when
 * the first remote producer opens. libzmq brings a tree of libraries
 * (libstdc++, Kerberos, PGM, NORM, libsodium) and a context's threads,
 * whose loading was most of a stream app's start-up (docs/benchmarks.md,
 * "Supervision"); everything on the same host speaks ZMTP itself
 * (zmtp.c). So in the shared library the remote link is a library of its
 * own, libmysimbdp-zmq.so.0, in the folder of libmysimbdp.so.0, opened
 * here with dlopen the first time it is needed, as mongoload.c opens the
 * MongoDB back end; the static library links it in (MSB_ZMQ_LINKED).
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "mysimbdp-internal.h"
#include "link.h"

#define ZMQ_LIB "libmysimbdp-zmq.so.0"

typedef int open_fn(struct msb__link **, const char *, const char *,
    const char *, char *, size_t);
typedef bool key_valid_fn(const char *);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static open_fn *open_remote;
static key_valid_fn *key_valid;
static char load_error[PATH_MAX + 256];

#ifdef MSB_ZMQ_LINKED
static void
load(void)
{
	open_remote = msb__link_zmq_open;
	key_valid = msb__link_zmq_key_valid;
}
#else
static void
load(void)
{
	static const char *const names[] = { "msb__link_zmq_open",
	    "msb__link_zmq_key_valid" };
	void *syms[2];

	if (msb__load_beside(ZMQ_LIB, "the remote producer's link", names,
	    syms, 2, load_error, sizeof(load_error)) == -1)
		return;
	*(void **)&open_remote = syms[0];
	*(void **)&key_valid = syms[1];
}
#endif

int
msb__link_remote_open(struct msb__link **lp, const char *endpoint,
    const char *key_file, const char *server_key, char *err, size_t errlen)
{
	*lp = NULL;
	pthread_once(&once, load);
	if (open_remote == NULL) {
		msb__seterr(err, errlen, "%s", load_error);
		return MSB_ERROR;
	}
	return open_remote(lp, endpoint, key_file, server_key, err, errlen);
}

bool
msb__remote_key_valid(const char *s)
{
	pthread_once(&once, load);
	return key_valid != NULL && key_valid(s);
}

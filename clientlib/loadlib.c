/*
 * libmysimbdp's back ends: libraries of their own beside libmysimbdp.so.0
 * (libmysimbdp-mongo.so.0, libmysimbdp-zmq.so.0), opened with dlopen
 * when first needed (mongoload.c, zmqload.c), so an app loads only the
 * trees of libraries it uses.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "mysimbdp-internal.h"

/* The path of name in the folder of the library this code runs from
 * (just name when that is not known). 0, or -1 when it does not fit. */
static int
beside(const char *name, char *path, size_t len)
{
	Dl_info info;
	const char *slash;

	if (dladdr((void *)(uintptr_t)beside, &info) == 0 ||
	    info.dli_fname == NULL ||
	    (slash = strrchr(info.dli_fname, '/')) == NULL)
		return snprintf(path, len, "%s", name) >= (int)len ? -1 : 0;
	return snprintf(path, len, "%.*s/%s", (int)(slash - info.dli_fname),
	    info.dli_fname, name) >= (int)len ? -1 : 0;
}

int
msb__load_beside(const char *name, const char *what,
    const char *const *names, void **syms, size_t n, char *err,
    size_t errlen)
{
	char path[PATH_MAX];
	void *h;

	if (beside(name, path, sizeof(path)) == -1) {
		msb__seterr(err, errlen, "%s: path too long", name);
		return -1;
	}
	/* Never closed: a back end is set up once for the process. */
	if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		msb__seterr(err, errlen, "cannot load %s: %s", what,
		    dlerror());
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((syms[i] = dlsym(h, names[i])) == NULL) {
			msb__seterr(err, errlen, "%s: not %s of libmysimbdp "
			    "%s", path, what, MSB_VERSION);
			memset(syms, 0, n * sizeof(*syms));
			return -1;
		}
	return 0;
}

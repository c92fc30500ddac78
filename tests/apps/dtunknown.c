/*
 * Test shim (LD_PRELOAD): readdir() as on a filesystem that does not
 * fill d_type (XFS without ftype, some network and FUSE filesystems):
 * every entry comes back DT_UNKNOWN. tests/integration/t_dtunknown.sh
 * runs batchmgr under it.
 */
#undef _FILE_OFFSET_BITS	/* readdir and readdir64 both, unredirected */
#include <dirent.h>
#include <dlfcn.h>
#include <stddef.h>
#include <unistd.h>

/* Said once on stderr, so a test can tell the shim is in effect. */
static void
said(void)
{
	static const char msg[] = "dtunknown: readdir leaves d_type unknown\n";
	static int done;

	if (!done)
		done = write(2, msg, sizeof(msg) - 1) > 0;
}

struct dirent *
readdir(DIR *d)
{
	static struct dirent *(*real)(DIR *);
	struct dirent *de;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "readdir");
	said();
	if ((de = real(d)) != NULL)
		de->d_type = DT_UNKNOWN;
	return de;
}

struct dirent64 *
readdir64(DIR *d)
{
	static struct dirent64 *(*real)(DIR *);
	struct dirent64 *de;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "readdir64");
	said();
	if ((de = real(d)) != NULL)
		de->d_type = DT_UNKNOWN;
	return de;
}

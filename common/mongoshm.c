/* libmongoc's counters file, removed at start (mongoshm.h). */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mongoshm.h"

void
mongoshm_forget(void)
{
	char name[32];

	/* libmongoc's name for it (mongoc-counters.c). */
	snprintf(name, sizeof(name), "/mongoc-%u", (unsigned)getpid());
	(void)shm_unlink(name);
}

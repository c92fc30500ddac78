/* libmongoc's counters file, never made (mongoshm.h). */
#include <stdlib.h>

#include "mongoshm.h"

void
mongoshm_disable(void)
{
	/* libmongoc looks only at whether it is set (mongoc-counters.c). */
	(void)setenv("MONGOC_DISABLE_SHM", "1", 0);
}

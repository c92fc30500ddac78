/*
 * A pwrite a test can cut in two, as a kill in the middle of a write
 * leaves a file: linked into a test executable, it stands in for libc's
 * pwrite there. Armed, the first write from or across a file offset
 * stops there and calls back (the test copies the files as they are),
 * then writes the rest, so the code under test goes on as if nothing
 * happened. tests/unit/test_journal.c and tests/fuzz/fuzz_journal.c
 * use it.
 */
#ifndef MYSIMBDP_TEARWRITE_H
#define MYSIMBDP_TEARWRITE_H

#include <stdbool.h>
#include <sys/types.h>

/* Arms the cut at file offset at (> 0), calling cb(arg) there. */
void tear_write_at(off_t at, void (*cb)(void *), void *arg);

/* Whether the armed write came (cb ran); disarms. */
bool tear_write_done(void);

#endif

/*
 * Helpers for the client library tests: temporary folders, small files,
 * clocks.
 */
#ifndef MSB_TEST_UTIL_H
#define MSB_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Makes a fresh folder under $TMPDIR (or /tmp); the path is malloc'd. */
char	*tu_mkdtemp(const char *tag);
/* rm -rf path. */
void	 tu_rmtree(const char *path);
/* Writes len bytes (len -1: strlen) to path; aborts the test on failure. */
void	 tu_write_file(const char *path, const char *data, ssize_t len);
/* Reads a whole file into a NUL-terminated malloc'd buffer, or NULL. */
char	*tu_read_file(const char *path, size_t *len);
/* path joined with a name, malloc'd. */
char	*tu_join(const char *dir, const char *name);
int64_t	 tu_now_ms(void);
/*
 * MYSIMBDP_TEST_TIME_FACTOR (1 unless set): what a bound that only a
 * hang would cross is multiplied by (docs/testing.md, "Deadlines").
 */
int64_t	 tu_time_factor(void);

#endif

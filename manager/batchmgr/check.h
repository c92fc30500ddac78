/*
 * The constraints a staged file must meet before a tenant app sees it.
 * Pure functions of a name, a stat result and a profile, so every rule is
 * unit-tested without a daemon. A refusal is a reason string that starts
 * with a stable code ("format: ...", "too-large: ...") for grep and stats.
 */
#ifndef MYSIMBDP_CHECK_H
#define MYSIMBDP_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "conf.h"

/*
 * Whether name is hidden (".x") or a partial upload ("x.part", "x.tmp",
 * "x~", "x.partial", "x.filepart", "x.crdownload"): such files are still
 * being delivered and are left alone until partial_grace has passed.
 */
bool check_name_partial(const char *name);

/*
 * Checks the file type and size from lstat or fstat. Returns NULL when
 * the file may be ingested, otherwise the reason (written into buf).
 */
const char *check_stat(const struct stat *st, const struct conf_batch *b,
    char *buf, size_t len);

/* What a file type is called in reasons: "fifo", "symlink", ... */
const char *check_file_kind(mode_t mode);

/*
 * Checks the extension against formats; with batch.encryption, the name
 * must end in ".age" and the extension before it is checked. Returns NULL
 * or the reason.
 */
const char *check_format(const char *name, const struct conf_batch *b,
    char *buf, size_t len);

#endif

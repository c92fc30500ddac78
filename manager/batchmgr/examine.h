/*
 * The intake decision for one entry of a tenant's incoming/[dataset]:
 * claim it, reject it (with the reason), wait, or leave it alone. A pure
 * function of what the caller saw (lstat, then open and fstat on the fd),
 * the tenant's profile and its quota window, so every verdict and every
 * reason is unit-tested without a daemon or a file; staging.c does the
 * I/O and acts on the verdict.
 *
 * The rules, in order: a folder is a dataset at the top level, ignored
 * below it; a hidden or partial name is left alone until partial_grace
 * has passed since its ctime (its last change: the mtime is the
 * tenant's to set), then rejected; a plain new regular file
 * seen by IN_CREATE alone waits for its IN_CLOSE_WRITE; the lstat type,
 * links and size (check_stat); then, on the open fd: unreadable, the same
 * inode (else it was replaced: wait for the next event), nobody writing
 * it (else wait for the settle scan), check_stat again, unchanged (its
 * ctime) for the settle (batch.settle for a scanned file, upload_settle
 * for any); then dataset -> app, format, quota.
 */
#ifndef MYSIMBDP_EXAMINE_H
#define MYSIMBDP_EXAMINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "conf.h"
#include "quota.h"

/* How a file came to our attention. */
enum examine_origin {
	EX_FROM_CLOSE,	/* IN_CLOSE_WRITE or IN_MOVED_TO: complete */
	EX_FROM_CREATE,	/* IN_CREATE: a link, fifo or a file being written */
	EX_FROM_SCAN,	/* a directory scan: maybe still being written */
};

/* What the caller saw of the entry; zero it, then fill it in. */
struct examine_facts {
	const char	*ef_dataset;	/* "" at the top level */
	const char	*ef_name;
	enum examine_origin ef_origin;
	int64_t		 ef_now_ms;	/* CLOCK_REALTIME (ctimes, the quota) */
	bool		 ef_has_app;	/* an app serves ef_dataset */
	struct stat	 ef_lstat;	/* fstatat(AT_SYMLINK_NOFOLLOW) */
	/* After EX_OPEN: */
	bool		 ef_opened;	/* the fields below are filled in */
	int		 ef_open_errno;	/* 0, or why the open was refused */
	struct stat	 ef_fstat;	/* fstat of the fd */
	bool		 ef_writing;	/* a regular file open for writing
					   somewhere (no read lease) */
};

/* What a tenant's profile and state bring to the decision. */
struct examine_rules {
	const struct conf_batch *er_batch;
	uint64_t	 er_settle_ms;	/* batch.settle of the platform */
	const struct quota *er_quota;	/* the tenant's window, not changed */
};

enum examine_kind {
	EX_OPEN,	/* open it, add what the fd shows, examine again */
	EX_CLAIM,	/* move it to processing/, count it in the quota */
	EX_REJECT,	/* move it to rejected/ with v_reason */
	EX_WAIT,	/* not yet; rescan after settle when v_settle */
	EX_IGNORE,	/* leave it; v_reason ("" or why) for the debug log */
	EX_DATASET,	/* a top-level folder: watch it and scan it */
};

struct examine_verdict {
	enum examine_kind v_kind;
	bool		 v_settle;	/* EX_WAIT: no event will come, rescan */
	uint64_t	 v_bytes;	/* the size to record or run */
	char		 v_reason[512];
};

/*
 * Decides what to do with the entry f describes under rules. Returns
 * EX_OPEN only when f->ef_opened is false and the file passed every
 * check that lstat allows. Always fills v.
 */
void examine(const struct examine_facts *f, const struct examine_rules *r,
    struct examine_verdict *v);

#endif

#include "examine.h"

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "units.h"

static void
verdict(struct examine_verdict *v, enum examine_kind kind, bool settle)
{
	v->v_kind = kind;
	v->v_settle = settle;
}

static int64_t
age_ms(int64_t now_ms, const struct timespec *ts)
{
	return now_ms - ((int64_t)ts->tv_sec * 1000 + ts->tv_nsec / 1000000);
}

static void
folder(const struct examine_facts *f, struct examine_verdict *v)
{
	if (*f->ef_dataset == '\0') {
		verdict(v, EX_DATASET, false);
		return;
	}
	snprintf(v->v_reason, sizeof(v->v_reason), "nested folder");
	verdict(v, EX_IGNORE, false);
}

/*
 * How long the entry has been unchanged: since its ctime, which writes,
 * a touch, a chmod, a link and a rename all set to the time they happen.
 * Its mtime is the tenant's to set (rsync -t, scp -p, touch -d): a file
 * with one in the future was held until then, and every tenant was
 * rescanned each settle meanwhile.
 */
static int64_t
unchanged_ms(const struct examine_facts *f, const struct stat *st)
{
	return age_ms(f->ef_now_ms, &st->st_ctim);
}

/* A hidden or partial name: still being delivered, until the grace ends. */
static void
partial(const struct examine_facts *f, const struct conf_batch *cb,
    struct examine_verdict *v)
{
	char grace[32];

	if (unchanged_ms(f, &f->ef_lstat) <
	    (int64_t)cb->b_partial_grace_ms) {
		verdict(v, EX_IGNORE, false);
		return;
	}
	snprintf(v->v_reason, sizeof(v->v_reason), "partial: hidden or "
	    "partial name unchanged for longer than partial_grace %s",
	    units_fmt_duration(cb->b_partial_grace_ms, grace, sizeof(grace)));
	verdict(v, EX_REJECT, false);
}

/* What lstat alone decides; EX_OPEN when it allows the file. */
static void
by_lstat(const struct examine_facts *f, const struct examine_rules *r,
    struct examine_verdict *v)
{
	const struct stat *st = &f->ef_lstat;

	v->v_bytes = (uint64_t)st->st_size;
	if (S_ISDIR(st->st_mode))
		folder(f, v);
	else if (check_name_partial(f->ef_name))
		partial(f, r->er_batch, v);
	/* A new regular file is being written: IN_CLOSE_WRITE will follow. */
	else if (f->ef_origin == EX_FROM_CREATE && S_ISREG(st->st_mode) &&
	    st->st_nlink == 1)
		verdict(v, EX_WAIT, false);
	else if (check_stat(st, r->er_batch, v->v_reason,
	    sizeof(v->v_reason)) != NULL)
		verdict(v, EX_REJECT, false);
	else
		verdict(v, EX_OPEN, false);
}

/* Dataset -> app, format, quota: the profile's say on a settled file. */
static void
by_profile(const struct examine_facts *f, const struct examine_rules *r,
    struct examine_verdict *v)
{
	const struct conf_batch *cb = r->er_batch;

	if (!f->ef_has_app && *f->ef_dataset)
		snprintf(v->v_reason, sizeof(v->v_reason), "unknown-dataset: "
		    "no app serves dataset \"%s\"", f->ef_dataset);
	else if (!f->ef_has_app)
		snprintf(v->v_reason, sizeof(v->v_reason), "no-app: no app "
		    "serves top-level files (put them in a dataset folder)");
	else if (check_format(f->ef_name, cb, v->v_reason,
	    sizeof(v->v_reason)) == NULL &&
	    quota_check(r->er_quota, &cb->b_quota, f->ef_now_ms, v->v_bytes,
	    v->v_reason, sizeof(v->v_reason)) == NULL) {
		verdict(v, EX_CLAIM, false);
		return;
	}
	verdict(v, EX_REJECT, false);
}

/*
 * How long a file must be unchanged: batch.settle for a file found by a
 * scan (it may be being written), and the tenant's upload_settle for any
 * (an upload written in place may be cut off, closed and resumed).
 */
static int64_t
settle_ms(const struct examine_facts *f, const struct examine_rules *r)
{
	uint64_t ms = r->er_batch->b_upload_settle_ms;

	if (f->ef_origin == EX_FROM_SCAN && r->er_settle_ms > ms)
		ms = r->er_settle_ms;
	return (int64_t)ms;
}

/*
 * What the open fd adds. The fd is checked again because the entry may
 * have been swapped between lstat and open.
 */
static void
by_fd(const struct examine_facts *f, const struct examine_rules *r,
    struct examine_verdict *v)
{
	const struct stat *st = &f->ef_fstat;

	/* Left where it is, it would be warned about at every scan; the
	 * tenant's app could not read it either. */
	if (f->ef_open_errno != 0) {
		snprintf(v->v_reason, sizeof(v->v_reason),
		    "unreadable: open: %s", strerror(f->ef_open_errno));
		verdict(v, EX_REJECT, false);
		return;
	}
	/* Replaced under us; the next event decides. */
	if (st->st_ino != f->ef_lstat.st_ino ||
	    st->st_dev != f->ef_lstat.st_dev) {
		verdict(v, EX_WAIT, false);
		return;
	}
	if (S_ISREG(st->st_mode) && f->ef_writing) {
		verdict(v, EX_WAIT, true);
		return;
	}
	v->v_bytes = (uint64_t)st->st_size;
	if (check_stat(st, r->er_batch, v->v_reason,
	    sizeof(v->v_reason)) != NULL)
		verdict(v, EX_REJECT, false);
	else if (unchanged_ms(f, st) < settle_ms(f, r))
		verdict(v, EX_WAIT, true);
	else
		by_profile(f, r, v);
}

void
examine(const struct examine_facts *f, const struct examine_rules *r,
    struct examine_verdict *v)
{
	v->v_reason[0] = '\0';
	by_lstat(f, r, v);
	if (v->v_kind == EX_OPEN && f->ef_opened)
		by_fd(f, r, v);
}

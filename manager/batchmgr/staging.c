#include "staging.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "examine.h"
#include "job.h"
#include "log.h"
#include "state.h"
#include "tenant.h"
#include "units.h"

#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ONLYDIR | \
    IN_DONT_FOLLOW | IN_EXCL_UNLINK)
#define SWEEP_EVERY_MS (3600 * 1000)
#define SCAN_STEP	64	/* top-level entries of a round's turn */

static void scan_tenant(struct batch *, struct tenant *);
static void scan_step_end(struct batch *);
static void scan_entry(struct tenant *, const char *, const char *,
    unsigned char, void *);
static void for_each_entry(struct tenant *, enum stage_area, const char *,
    void (*)(struct tenant *, const char *, const char *, unsigned char,
    void *), void *);

static int64_t
age_ms(const struct timespec *ts)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)(now.tv_sec - ts->tv_sec) * 1000 +
	    (now.tv_nsec - ts->tv_nsec) / 1000000;
}

static struct watch *
watch_find(struct batch *b, int wd)
{
	return idtab_get(&b->b_watches, (uint32_t)wd);
}

static void
watch_drop(struct batch *b, struct watch *w)
{
	idtab_del(&b->b_watches, (uint32_t)w->w_wd);
	TAILQ_REMOVE(&w->w_tenant->t_watches, w, w_entry);
	free(w->w_dataset);
	free(w);
}

/*
 * Watches incoming/[dataset]; the kernel reuses a wd for the same inode.
 * A wd another tenant holds is left to it: taken over, that tenant's
 * files would be looked for in t's folders and wait for a rescan. Every
 * scan comes here for each dataset folder: the watches are found by wd
 * in a table (a search of a list made a scan of a tenant with 100,000
 * folders take seconds of the loop, every tenant waiting).
 *
 * A folder no app of t serves is not watched: its files are only
 * rejected (unknown-dataset), which the periodic scan does. The watches
 * are the daemon's user's, shared by every tenant
 * (fs.inotify.max_user_watches): a tenant's own folders must not use
 * them up; what the profile lists, the operator gave.
 */
static void
watch_add(struct batch *b, struct tenant *t, const char *dataset)
{
	char *path;
	struct watch *w;
	int wd;

	if (*dataset != '\0' && conf_batch_app_for(t->t_conf, dataset) == NULL)
		return;
	path = tenant_path(t, AREA_INCOMING, dataset, "");
	wd = inotify_add_watch(b->b_inotify_fd, path, WATCH_MASK);
	if (wd < 0) {
		log_warn("tenant %s: inotify_add_watch %s", t->t_id, path);
		free(path);
		return;
	}
	if ((w = watch_find(b, wd)) != NULL && w->w_tenant != t) {
		log_warnx("tenant %s: %s is watched for tenant %s: not taken "
		    "over", t->t_id, path, w->w_tenant->t_id);
		free(path);
		return;
	}
	free(path);
	if (w != NULL && strcmp(w->w_dataset, dataset) == 0)
		return;
	if (w != NULL) {
		free(w->w_dataset);
	} else {
		if ((w = calloc(1, sizeof(*w))) == NULL ||
		    idtab_put(&b->b_watches, (uint32_t)wd, w) < 0)
			fatal("%s: alloc", __func__);
		w->w_wd = wd;
		w->w_tenant = t;
		TAILQ_INSERT_TAIL(&t->t_watches, w, w_entry);
	}
	w->w_dataset = strdup(dataset);
	if (w->w_dataset == NULL)
		fatal("%s: strdup", __func__);
}

/*
 * Whether dirfd/name is a file holding exactly text (len bytes). The
 * tenant may have put anything there (a fifo it dropped, rejected under
 * that name): O_NONBLOCK, or the open of a fifo would wait for a writer
 * and hold the loop, every tenant's work with it.
 */
static bool
holds(int dirfd, const char *name, const char *text, size_t len)
{
	char buf[1024];
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK);
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return false;
	}
	n = len < sizeof(buf) ? read(fd, buf, len + 1) : -1;
	close(fd);
	return n == (ssize_t)len && memcmp(buf, text, len) == 0;
}

/*
 * Writes rejected/[dataset/]final.reason (state_publish: never half
 * written, never over a tenant's file of that name, which makes it
 * final.reason.1, ...). The same reason there already (written before a
 * crash, the file rejected again at the restart) is left as it is. A
 * name too long to add ".reason" gets none: the record carries it.
 */
static void
write_reason(struct tenant *t, const char *dataset, const char *final,
    const char *reason)
{
	char name[NAME_MAX + 1], text[1024], used[NAME_MAX + 1];
	int dfd, n;

	n = snprintf(name, sizeof(name), "%s.reason", final);
	if (n < 0 || (size_t)n >= sizeof(name)) {
		log_warnx("tenant %s: rejected %s%s%s: no reason file: the "
		    "name is too long to add \".reason\" (its record has the "
		    "reason)", t->t_id, dataset, *dataset ? "/" : "", final);
		return;
	}
	n = snprintf(text, sizeof(text), "%s\n", reason);
	if (n < 0 || (size_t)n >= sizeof(text))
		n = (int)sizeof(text) - 1;
	if ((dfd = tenant_open_area(t, AREA_REJECTED, dataset, true)) < 0) {
		log_warn("tenant %s: write rejected/%s%s%s", t->t_id, dataset,
		    *dataset ? "/" : "", name);
		return;
	}
	if (!holds(dfd, name, text, (size_t)n) && state_publish(dfd, name,
	    text, (size_t)n, used, sizeof(used)) < 0)
		log_warn("tenant %s: write rejected/%s%s%s", t->t_id, dataset,
		    *dataset ? "/" : "", name);
	close(dfd);
}

/* Whether rejected/[dataset/]name is free, so a move there keeps the name. */
static bool
rejected_free(struct tenant *t, const char *dataset, const char *name)
{
	int dfd = tenant_open_area(t, AREA_REJECTED, dataset, true);
	bool is_free;

	if (dfd < 0)
		return false;
	is_free = faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT;
	close(dfd);
	return is_free;
}

/*
 * Moves a file to rejected/ with its reason beside it, and records it.
 * The record, and the reason when the file keeps its name (it does unless
 * rejected/ has one of that name already), come before the move: killed
 * before it, the next start finds the file in incoming/ with its reason
 * and finishes the move (finish_entry; without the early reason it looks
 * at the file afresh), or from processing/ runs or rejects it again
 * (recover_entry); killed after it, the file has both. Written after
 * the move they could be missing for good
 * (tests/integration/t_crash_windows.sh, t_quota_crash.sh). No record
 * written (a full disk), or a name rejected/ holds that is too long for
 * a suffix, no move: the next scan looks at the file again (from
 * processing/, -1 holds it: job_hold_rejection). A move that fails after
 * the record (no inode left for rejected/<dataset>) returns 1: from
 * processing/, a held job tries the move again, not the record.
 */
int
staging_reject(struct batch *b, struct tenant *t, enum stage_area from,
    const char *dataset, const char *name, uint64_t bytes, const char *reason,
    bool recorded)
{
	char final[NAME_MAX + 1];
	struct record r;
	bool early;

	record_init(&r);
	r.r_tenant = t->t_id;
	r.r_dataset = dataset;
	r.r_file = name;
	r.r_status = "rejected";
	r.r_reason = reason;
	r.r_bytes = bytes;
	if (!tenant_can_place(t, AREA_REJECTED, dataset, name) ||
	    (!recorded && batch_record(b, &r) < 0))
		return -1;
	if ((early = rejected_free(t, dataset, name)))
		write_reason(t, dataset, name, reason);
	if (tenant_move(t, from, AREA_REJECTED, dataset, name, final,
	    sizeof(final)) < 0) {
		log_warn("tenant %s: move %s to rejected", t->t_id, name);
		return 1;
	}
	if (!early || strcmp(final, name) != 0)
		write_reason(t, dataset, final, reason);
	log_info("tenant %s: rejected %s%s%s: %s", t->t_id, dataset,
	    *dataset ? "/" : "", name, reason);
	return 0;
}

/* Arms the one-shot rescan for files skipped while still settling. */
static void
settle_later(struct batch *b)
{
	if (!evtimer_pending(b->b_settle_ev, NULL))
		clock_timer_in(b->b_settle_ev, b->b_conf->p_batch.pb_settle_ms +
		    50);
}

/*
 * Whether some process still has the file open for writing. A file
 * written in place sends IN_CLOSE_WRITE whenever any holder of a
 * writable fd closes it (a child the writer forked, say) and its ctime
 * may stand still between two writes, so neither proves it complete.
 * The kernel refuses a read lease (F_RDLCK) on a file open for writing
 * anywhere; the lease is given back at once. Without CAP_LEASE on a
 * file it does not own the daemon cannot ask, and says no.
 */
static bool
open_for_writing(int fd)
{
	if (fcntl(fd, F_SETLEASE, F_RDLCK) < 0)
		return errno == EAGAIN;
	fcntl(fd, F_SETLEASE, F_UNLCK);
	return false;
}

/*
 * Opens the entry examine() allowed (rel from dfd), without following
 * links, and adds what the fd shows. The fd is left in *fdp: claim()
 * tells by it that what it moved is the file examined (held open, its
 * inode number cannot pass to another file). Returns -1 when there is
 * nothing to decide: the open failed (logged; the next scan tries
 * again) or fstat did.
 */
static int
look_inside(struct tenant *t, int dfd, const char *rel,
    struct examine_facts *f, int *fdp)
{
	int fd;

	f->ef_opened = true;
	fd = openat(dfd, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && errno == EACCES) {
		f->ef_open_errno = EACCES;	/* examine() rejects it */
		return 0;
	}
	if (fd < 0) {
		log_warn("tenant %s: open incoming %s", t->t_id, f->ef_name);
		return -1;
	}
	if (fstat(fd, &f->ef_fstat) < 0) {
		close(fd);
		return -1;
	}
	f->ef_writing = S_ISREG(f->ef_fstat.st_mode) && open_for_writing(fd);
	*fdp = fd;
	return 0;
}

/*
 * Gathers the facts examine() decides on: lstat, and when that allows
 * the file, open and fstat, so a swap between the two is caught; the fd,
 * if one was opened, goes into *fdp for the caller to close. Returns -1
 * when the entry is gone or cannot be looked at.
 */
static int
gather(struct batch *b, struct tenant *t, struct examine_facts *f,
    struct examine_verdict *v, int *fdp)
{
	struct examine_rules r = {
		.er_batch = &t->t_conf->t_batch,
		.er_settle_ms = b->b_conf->p_batch.pb_settle_ms,
		.er_quota = &t->t_quota,
	};
	char rel[PATH_MAX];
	bool owned;
	int dfd, rc = 0;

	if ((dfd = tenant_entry_at(t, AREA_INCOMING, f->ef_dataset, f->ef_name,
	    rel, sizeof(rel), &owned)) < 0)
		return -1;
	if (fstatat(dfd, rel, &f->ef_lstat, AT_SYMLINK_NOFOLLOW) < 0) {
		if (owned)
			close(dfd);
		return -1;	/* gone already: claimed or removed */
	}
	f->ef_has_app = conf_batch_app_for(t->t_conf, f->ef_dataset) != NULL;
	f->ef_now_ms = record_now_ms();
	examine(f, &r, v);
	if (v->v_kind == EX_OPEN &&
	    (rc = look_inside(t, dfd, rel, f, fdp)) == 0) {
		f->ef_now_ms = record_now_ms();
		examine(f, &r, v);
	}
	if (owned)
		close(dfd);
	return rc;
}

/*
 * Whether the entry the claim just renamed into processing/ is not the
 * file examined (fd, f->ef_fstat) as it was then; the reason into why.
 * Between the checks and the rename a tenant can give the name to
 * another entry (a fifo, whose open would hang the daemon; a symlink or
 * a hard link the app should never be handed), link the file elsewhere,
 * or open it for writing and grow it past max_file_size or the quota.
 * processing/ is the daemon's: the entry stays what is checked here.
 */
static bool
claimed_other(struct tenant *t, const struct examine_facts *f, int fd,
    struct stat *st, char *why, size_t len)
{
	const struct stat *was = &f->ef_fstat;
	char rel[PATH_MAX];
	bool owned;
	int dfd, rc;

	memset(st, 0, sizeof(*st));
	dfd = tenant_entry_at(t, AREA_PROCESSING, f->ef_dataset, f->ef_name,
	    rel, sizeof(rel), &owned);
	rc = dfd < 0 ? -1 : fstatat(dfd, rel, st, AT_SYMLINK_NOFOLLOW);
	if (rc < 0)
		snprintf(why, len, "replaced: cannot look at it once claimed: "
		    "%s", strerror(errno));
	if (dfd >= 0 && owned)
		close(dfd);
	if (rc < 0)
		return true;
	if (st->st_dev != was->st_dev || st->st_ino != was->st_ino)
		snprintf(why, len, "replaced: swapped for another entry (a %s) "
		    "while being claimed", check_file_kind(st->st_mode));
	else if (st->st_nlink > 1)
		snprintf(why, len, "replaced: linked elsewhere while being "
		    "claimed (%ju links; hard links are not accepted)",
		    (uintmax_t)st->st_nlink);
	else if (st->st_size != was->st_size)
		snprintf(why, len, "replaced: resized while being claimed (%jd "
		    "bytes when checked, %jd now)", (intmax_t)was->st_size,
		    (intmax_t)st->st_size);
	else if (open_for_writing(fd))
		snprintf(why, len, "replaced: opened for writing while being "
		    "claimed");
	else
		return false;
	return true;
}

/*
 * A tenant with a user of its own owns what it uploaded, and its group
 * may look into processing/ (its apps read there): by path, it could
 * open its claimed file for writing and grow it past max_file_size and
 * the quota, or link it elsewhere. Once claimed the file is the
 * daemon's, 0440 with the tenant's group, so its apps still read it.
 * Done before claimed_other(): an open for writing made before is seen
 * there, none can be made after.
 */
static void
take_file(struct tenant *t, int fd, const char *name)
{
	const struct conf_tenant *c = t->t_conf;
	struct stat st;

	if (c->t_user == NULL || geteuid() != 0 || fstat(fd, &st) < 0 ||
	    st.st_uid == 0)
		return;
	if (fchown(fd, 0, c->t_gid) < 0 || fchmod(fd, 0440) < 0)
		log_warn("tenant %s: take %s from the tenant's user", t->t_id,
		    name);
}

/*
 * Rejects what sits in processing/ as "replaced" (why). With no record
 * written (a full disk) it is not left there for the next start, which
 * cannot tell all of what the claim saw (a size, an open for writing
 * since closed): a held job tries the record and the move again.
 */
static void
reject_replaced(struct batch *b, struct tenant *t, const char *dataset,
    const char *name, uint64_t bytes, const char *why)
{
	int rc = staging_reject(b, t, AREA_PROCESSING, dataset, name, bytes,
	    why, false);

	if (rc != 0)
		job_hold_rejection(t, dataset, name, bytes, why, rc == 1);
}

/*
 * Claims a file by rename into processing/ and queues its job, if what
 * the rename moved is the file examined (fd); else rejects what it moved.
 */
static void
claim(struct batch *b, struct tenant *t, const struct examine_facts *f,
    uint64_t bytes, int fd)
{
	char final[NAME_MAX + 1], why[256];
	struct stat st;

	if (tenant_move(t, AREA_INCOMING, AREA_PROCESSING, f->ef_dataset,
	    f->ef_name, final, sizeof(final)) < 0) {
		if (errno == EEXIST) {	/* same name still running */
			t->t_deferred = true;
			log_debug("tenant %s: %s%s%s waits for its namesake "
			    "in processing/", t->t_id, f->ef_dataset,
			    *f->ef_dataset ? "/" : "", f->ef_name);
		}
		else
			log_warn("tenant %s: claim %s", t->t_id, f->ef_name);
		return;
	}
	take_file(t, fd, f->ef_name);
	if (claimed_other(t, f, fd, &st, why, sizeof(why))) {
		reject_replaced(b, t, f->ef_dataset, final,
		    (uint64_t)st.st_size, why);
		return;
	}
	/* Charged once claimed: a file that waits is looked at again. */
	quota_count(&t->t_quota, &t->t_conf->t_batch.b_quota, f->ef_now_ms,
	    bytes);
	job_enqueue(t, f->ef_dataset, f->ef_name, bytes, false);
}

/*
 * A rejection from incoming/ whose move failed after its record (no
 * inode left for rejected/<dataset>) stays there, and every scan finds
 * it again: it is remembered, so that the next ones try the move alone
 * and do not record it again (a restart forgets: one more record, as
 * after a crash between the two).
 */
static struct unmoved *
unmoved_find(struct tenant *t, const char *dataset, const char *name)
{
	struct unmoved *u;

	TAILQ_FOREACH(u, &t->t_unmoved, u_entry)
		if (strcmp(u->u_dataset, dataset) == 0 &&
		    strcmp(u->u_name, name) == 0)
			return u;
	return NULL;
}

/* incoming/[dataset/]name's inode and ctime; false when it is gone. */
static bool
incoming_stat(struct tenant *t, const char *dataset, const char *name,
    struct stat *st)
{
	int dfd = tenant_open_area(t, AREA_INCOMING, dataset, false);
	bool there;

	if (dfd < 0)
		return false;
	there = fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) == 0;
	close(dfd);
	return there;
}

void
unmoved_free(struct unmoved *u)
{
	if (u == NULL)
		return;
	free(u->u_dataset);
	free(u->u_name);
	free(u);
}

static void
reject_incoming(struct batch *b, struct tenant *t, const char *dataset,
    const char *name, uint64_t bytes, const char *reason)
{
	struct unmoved *u = unmoved_find(t, dataset, name);
	struct stat st;
	bool there = incoming_stat(t, dataset, name, &st);
	int rc;

	/* Another file of that name since (the one recorded went): it
	 * gets its own record. */
	if (u != NULL && (!there || st.st_ino != u->u_ino ||
	    st.st_ctim.tv_sec != u->u_ctime.tv_sec ||
	    st.st_ctim.tv_nsec != u->u_ctime.tv_nsec)) {
		TAILQ_REMOVE(&t->t_unmoved, u, u_entry);
		unmoved_free(u);
		u = NULL;
	}
	rc = staging_reject(b, t, AREA_INCOMING, dataset, name, bytes,
	    reason, u != NULL);
	if (rc == 1 && u == NULL && there) {
		/* Out of memory: recorded again at the next scan. */
		if ((u = calloc(1, sizeof(*u))) == NULL ||
		    (u->u_dataset = strdup(dataset)) == NULL ||
		    (u->u_name = strdup(name)) == NULL) {
			unmoved_free(u);
			return;
		}
		u->u_ino = st.st_ino;
		u->u_ctime = st.st_ctim;
		TAILQ_INSERT_TAIL(&t->t_unmoved, u, u_entry);
	} else if (rc == 0 && u != NULL) {
		TAILQ_REMOVE(&t->t_unmoved, u, u_entry);
		unmoved_free(u);
	}
}

/* Looks at one entry of incoming/[dataset] and acts on examine()'s verdict. */
static void
consider(struct batch *b, struct tenant *t, const char *dataset,
    const char *name, enum examine_origin origin)
{
	struct examine_facts f = {
		.ef_dataset = dataset,
		.ef_name = name,
		.ef_origin = origin,
	};
	struct examine_verdict v;
	int fd = -1;

	if (b->b_stopping || t->t_retired)
		return;
	if (gather(b, t, &f, &v, &fd) < 0)
		return;
	switch (v.v_kind) {
	case EX_DATASET:
		watch_add(b, t, name);
		for_each_entry(t, AREA_INCOMING, name, scan_entry, b);
		break;
	case EX_IGNORE:
		if (v.v_reason[0] != '\0')
			log_debug("tenant %s: ignoring %s %s/%s", t->t_id,
			    v.v_reason, dataset, name);
		break;
	case EX_WAIT:
		if (v.v_settle)
			settle_later(b);
		break;
	case EX_REJECT:
		reject_incoming(b, t, dataset, name, v.v_bytes, v.v_reason);
		break;
	case EX_CLAIM:
		claim(b, t, &f, v.v_bytes, fd);
		break;
	case EX_OPEN:
		break;		/* not after look_inside() */
	}
	if (fd >= 0)
		close(fd);
}

/* The listing of staging/<id>/<area>[/dataset], or NULL (logged). */
static DIR *
open_listing(struct tenant *t, enum stage_area area, const char *dataset)
{
	int dfd = tenant_open_area(t, area, dataset, false);
	DIR *d;

	if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
		if (dfd >= 0)
			close(dfd);
		log_warn("tenant %s: open %s/%s", t->t_id,
		    state_area_names[area], dataset);
		return NULL;
	}
	return d;
}

/* The listing's next entry but "." and "..", or NULL at its end. */
static struct dirent *
next_entry(DIR *d)
{
	struct dirent *de;

	while ((de = readdir(d)) != NULL && (strcmp(de->d_name, ".") == 0 ||
	    strcmp(de->d_name, "..") == 0))
		;
	return de;
}

/* Calls fn for every entry of staging/<id>/<area>[/dataset]. */
static void
for_each_entry(struct tenant *t, enum stage_area area, const char *dataset,
    void (*fn)(struct tenant *, const char *, const char *, unsigned char,
    void *), void *arg)
{
	DIR *d = open_listing(t, area, dataset);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = next_entry(d)) != NULL)
		fn(t, dataset, de->d_name, state_entry_type(dirfd(d), de),
		    arg);
	closedir(d);
}

static void
scan_entry(struct tenant *t, const char *dataset, const char *name,
    unsigned char type, void *arg)
{
	struct batch *b = arg;

	if (type == DT_DIR && *dataset == '\0') {
		watch_add(b, t, name);
		for_each_entry(t, AREA_INCOMING, name, scan_entry, b);
		return;
	}
	consider(b, t, dataset, name, EX_FROM_SCAN);
}

static void
scan_tenant(struct batch *b, struct tenant *t)
{
	t->t_deferred = false;
	for_each_entry(t, AREA_INCOMING, "", scan_entry, b);
}

/*
 * A claim of t waited for a name its running file held: once one of t's
 * jobs ends, t is scanned again, in steps as a round's scan (a tenant's
 * 50,000 entries, scanned whole at every app's exit, any tenant's, held
 * every other tenant's files back 200 times longer).
 */
void
staging_job_ended(struct batch *b, struct tenant *t)
{
	if (!t->t_deferred || t->t_retired || b->b_stopping)
		return;
	t->t_scan_due = true;
	clock_timer_in(b->b_step_ev, 0);
}

void
staging_scan_all(struct batch *b)
{
	struct tenant *t;

	TAILQ_FOREACH(t, &b->b_tenants, t_entry)
		if (!t->t_retired)
			scan_tenant(b, t);
	job_dispatch(b);
}

/*
 * Whether processing/[dataset/]name (dfd, name), left there by an
 * earlier run, is not what a claim lets in; the reason into why. Only
 * what the entry shows now can be told: a claim rejected "replaced"
 * whose record could not be written before batchmgr stopped left it
 * there (job_hold_rejection). Its type, its links and an open for
 * writing still show; the size it had when checked is gone, so a file
 * that grew while claimed, a single link not open for writing any more,
 * runs as any other file a stop left (docs/hostile-input.md).
 */
static bool
left_other(int dfd, const char *name, const struct stat *st, char *why,
    size_t len)
{
	struct stat fst;
	bool writing;
	int fd;

	if (!S_ISREG(st->st_mode)) {
		snprintf(why, len, "replaced: a %s in processing/ at start-up "
		    "(a claim takes regular files only)",
		    check_file_kind(st->st_mode));
		return true;
	}
	if (st->st_nlink > 1) {
		snprintf(why, len, "replaced: linked elsewhere (%ju links) in "
		    "processing/ at start-up (hard links are not accepted)",
		    (uintmax_t)st->st_nlink);
		return true;
	}
	/* One that cannot be opened runs: the app's open says why. */
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd < 0)
		return false;
	writing = fstat(fd, &fst) == 0 && fst.st_ino == st->st_ino &&
	    fst.st_dev == st->st_dev && open_for_writing(fd);
	close(fd);
	if (writing)
		snprintf(why, len, "replaced: open for writing in processing/ "
		    "at start-up");
	return writing;
}

static bool reason_alone(int, const char *, struct stat *);

/*
 * Removes rejected/[dataset/]name.reason when it stands alone there and
 * processing/[dataset/]name runs again: a rejection of that file (a
 * claim's `replaced`, a decryption's) wrote it before its move and a
 * stop cut it short. The rejection never happened; left there, the
 * reason would outlive the rerun (ended in done/, nothing takes it
 * away), and at a later start finish_entry() would take it for a
 * rejection from incoming/ cut short and move the next upload of that
 * name to rejected/ with no record. reason_alone() tells the daemon's
 * own file; a tenant's upload named name.reason, rejected, has its own
 * reason beside it and is kept.
 */
static void
retire_reason(struct tenant *t, const char *dataset, const char *name)
{
	char reason[NAME_MAX + 1], its[NAME_MAX + 1];
	struct stat rs;
	int rfd;

	if ((rfd = tenant_open_area(t, AREA_REJECTED, dataset, false)) < 0)
		return;		/* nothing was rejected there */
	/* reason_alone() is false when name.reason is too long. */
	if (!reason_alone(rfd, name, &rs)) {
		close(rfd);
		return;
	}
	snprintf(reason, sizeof(reason), "%s.reason", name);
	if ((size_t)snprintf(its, sizeof(its), "%s.reason", reason) <
	    sizeof(its) && faccessat(rfd, its, F_OK, AT_SYMLINK_NOFOLLOW) ==
	    0) {
		close(rfd);	/* a rejected upload of the tenant's */
		return;
	}
	if (unlinkat(rfd, reason, 0) < 0)
		log_warn("tenant %s: remove rejected/%s%s%s", t->t_id, dataset,
		    *dataset ? "/" : "", reason);
	else
		log_info("tenant %s: removed rejected/%s%s%s: written for a "
		    "rejection a stop cut short before its move; the file "
		    "runs again", t->t_id, dataset, *dataset ? "/" : "",
		    reason);
	close(rfd);
}

/*
 * A file left in processing/ is taken from the tenant's user as a claim
 * takes it: a stop between the claim's rename and take_file left it the
 * user's, who could write to it while it runs again.
 */
static void
recover_take(struct tenant *t, int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);

	if (fd < 0)
		return;
	take_file(t, fd, name);
	close(fd);
}

/*
 * An entry left in processing/ at a start: run again (a stop or a crash
 * cut its job short; a reason its rejection left alone is removed), or
 * rejected when it is no file a claim lets in.
 */
static void
recover_entry(struct tenant *t, const char *dataset, const char *name,
    unsigned char type, void *arg)
{
	char why[256];
	struct stat st;
	int dfd, rc;

	/* A dataset's folder; one no dataset can be named (a file's name,
	 * with its extension) was swapped in for a file at its claim, and
	 * a stop cut its rejection short. */
	if (type == DT_DIR && *dataset == '\0' && conf_valid_id(name)) {
		for_each_entry(t, AREA_PROCESSING, name, recover_entry, arg);
		return;
	}
	/* Still running for the tenant's retired self (removed and added
	 * back by reloads while it ran): that job finishes it. */
	if (job_holds(arg, t->t_id, dataset, name))
		return;
	if ((dfd = tenant_open_area(t, AREA_PROCESSING, dataset, false)) < 0)
		return;
	rc = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW);
	if (rc == 0 && left_other(dfd, name, &st, why, sizeof(why))) {
		close(dfd);
		reject_replaced(arg, t, dataset, name, (uint64_t)st.st_size,
		    why);
		return;
	}
	if (rc == 0) {
		log_info("tenant %s: rerunning %s%s%s left in processing/",
		    t->t_id, dataset, *dataset ? "/" : "", name);
		retire_reason(t, dataset, name);
		recover_take(t, dfd, name);
		job_enqueue(t, dataset, name, (uint64_t)st.st_size, true);
	}
	close(dfd);
}

static void finish_dataset(struct tenant *, const char *);

/* Whether a is no later than b. */
static bool
not_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec &&
	    a->tv_nsec <= b->tv_nsec);
}

/*
 * Whether rejected/[dataset] (rfd) holds name.reason (its stat into rs)
 * and no name: a reason written before a move that did not happen. It
 * must be the daemon's: a tenant's own upload named name.reason,
 * rejected into rejected/ as any file, is its user's when the tenant has
 * one, and one rejected as a hard link has more than one link.
 */
static bool
reason_alone(int rfd, const char *name, struct stat *rs)
{
	char reason[NAME_MAX + 1];

	if ((size_t)snprintf(reason, sizeof(reason), "%s.reason", name) >=
	    sizeof(reason))
		return false;
	if (fstatat(rfd, reason, rs, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(rs->st_mode) || rs->st_uid != geteuid() ||
	    rs->st_nlink != 1)
		return false;
	return faccessat(rfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT;
}

/* Whether processing/[dataset/]name is there. */
static bool
in_processing(struct tenant *t, const char *dataset, const char *name)
{
	int dfd = tenant_open_area(t, AREA_PROCESSING, dataset, false);
	bool there;

	if (dfd < 0)
		return false;
	there = faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	close(dfd);
	return there;
}

/*
 * A rejection a stop cut short between its record and its move
 * (staging_reject): the file still in incoming/, its reason in
 * rejected/, no file of its name there. Looked at afresh it could pass
 * now (a quota's window starts empty at a start): the move is finished
 * instead, under the reason written, with no second record. A file put
 * in incoming/ after the reason was written (sent again, or moved back
 * by an operator: a rename changes its ctime) is not one of those. Both
 * times are ctimes: the reason may be a tenant's own file (rejected
 * there, not told apart when the tenant has no user of its own) whose
 * mtime the tenant set (touch -d, rsync -t), but no ctime. A rejection
 * from processing/ (a claim's `replaced`, a decrypt's) writes its reason
 * early too: when a file of that name is still in processing/, the
 * reason is taken for its own (recover_entry ran it again or rejected
 * it again) and the file in incoming/ is another, which waited for it
 * to be done: looked at afresh.
 */
static void
finish_entry(struct tenant *t, const char *dataset, const char *name,
    unsigned char type, void *arg)
{
	char rel[PATH_MAX], final[NAME_MAX + 1];
	struct stat rs, st;
	bool owned, cut;
	int dfd;

	if (type == DT_DIR && *dataset == '\0') {
		finish_dataset(t, name);
		return;
	}
	if (!reason_alone(*(int *)arg, name, &rs) ||
	    in_processing(t, dataset, name))
		return;
	if ((dfd = tenant_entry_at(t, AREA_INCOMING, dataset, name, rel,
	    sizeof(rel), &owned)) < 0)
		return;
	cut = fstatat(dfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISDIR(st.st_mode) && not_after(&st.st_ctim, &rs.st_ctim);
	if (owned)
		close(dfd);
	if (!cut)
		return;
	if (tenant_move(t, AREA_INCOMING, AREA_REJECTED, dataset, name, final,
	    sizeof(final)) < 0) {
		log_warn("tenant %s: move %s to rejected", t->t_id, name);
		return;
	}
	log_info("tenant %s: rejected %s%s%s: finished the move a stop cut "
	    "short (recorded then, its reason beside it)", t->t_id, dataset,
	    *dataset ? "/" : "", name);
}

/* finish_entry() over incoming/[dataset], if rejected/[dataset] is there. */
static void
finish_dataset(struct tenant *t, const char *dataset)
{
	int rfd = tenant_open_area(t, AREA_REJECTED, dataset, false);

	if (rfd < 0)
		return;		/* nothing was rejected there */
	for_each_entry(t, AREA_INCOMING, dataset, finish_entry, &rfd);
	close(rfd);
}

struct sweep {
	struct batch	*s_batch;
	enum stage_area	 s_area;
};

/*
 * Removes done/ and rejected/ files kept longer than the tenant's
 * retention. The time a file entered the area is its ctime: rename
 * updates it, while mtime is the tenant's own.
 */
static void
sweep_entry(struct tenant *t, const char *dataset, const char *name,
    const struct sweep *s)
{
	uint64_t keep = t->t_conf->t_batch.b_retention_ms;
	char reason[128], dur[32];
	struct record r;
	struct stat st;
	int dfd;

	if ((dfd = tenant_open_area(t, s->s_area, dataset, false)) < 0)
		return;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    age_ms(&st.st_ctim) < (int64_t)keep) {
		close(dfd);
		return;
	}
	/* A folder inside a dataset's: no file batchmgr put there (a claim
	 * that moved one, swapped in for a file, rejects it "replaced").
	 * Not recorded as removed, which unlinkat could not do, at every
	 * sweep. */
	if (S_ISDIR(st.st_mode)) {
		log_warnx("tenant %s: retention: %s/%s/%s is a folder, not a "
		    "file: left alone", t->t_id, state_area_names[s->s_area],
		    dataset, name);
		close(dfd);
		return;
	}
	/* The record first: killed before the unlink, the next sweep
	 * records it again; after it, the removal has its record. No
	 * record (a full disk), no unlink: the next sweep tries again. */
	snprintf(reason, sizeof(reason), "retention: kept in %s/ longer than "
	    "%s", state_area_names[s->s_area],
	    units_fmt_duration(keep, dur, sizeof(dur)));
	record_init(&r);
	r.r_tenant = t->t_id;
	r.r_dataset = dataset;
	r.r_file = name;
	r.r_status = "removed";
	r.r_reason = reason;
	r.r_bytes = (uint64_t)st.st_size;
	if (batch_record(s->s_batch, &r) == 0 && unlinkat(dfd, name, 0) < 0)
		log_warn("tenant %s: retention: unlink %s (recorded as "
		    "removed; the next sweep tries again)", t->t_id, name);
	close(dfd);
}

/*
 * The sweep, in steps: SCAN_STEP entries of one tenant's done/ and
 * rejected/ a turn of the loop (a dataset folder's entries too, not the
 * folder whole), so that a tenant keeping hundreds of thousands of files
 * does not hold the others' for the whole walk, each hour or at its
 * start (a start of batchmgr starts every tenant in one turn).
 */
static const enum stage_area sweep_areas[] = { AREA_DONE, AREA_REJECTED };

/* How often t is swept: hourly, or at half its retention if shorter. */
static int64_t
sweep_every_ms(const struct tenant *t)
{
	uint64_t half = t->t_conf->t_batch.b_retention_ms / 2;

	return half < SWEEP_EVERY_MS ? (int64_t)half : SWEEP_EVERY_MS;
}

static void
sweep_ds_end(struct batch *b)
{
	if (b->b_sweep_ds != NULL)
		closedir(b->b_sweep_ds);
	b->b_sweep_ds = NULL;
	free(b->b_sweep_dsname);
	b->b_sweep_dsname = NULL;
}

/* The stepped sweep of a tenant ends (walked, stopped or retired). */
static void
sweep_step_end(struct batch *b)
{
	sweep_ds_end(b);
	if (b->b_sweep_top != NULL)
		closedir(b->b_sweep_top);
	b->b_sweep_top = NULL;
	b->b_sweep_t = NULL;
}

/* Opens the next area of the tenant being swept; false: none left. */
static bool
sweep_next_area(struct batch *b)
{
	struct tenant *t = b->b_sweep_t;

	while (++b->b_sweep_area < (int)(sizeof(sweep_areas) /
	    sizeof(sweep_areas[0])))
		if ((b->b_sweep_top = open_listing(t,
		    sweep_areas[b->b_sweep_area], "")) != NULL)
			return true;
	return false;
}

/* The next tenant due for its sweep, its first area opened; false: none. */
static bool
sweep_step_next(struct batch *b)
{
	struct tenant *t;

	TAILQ_FOREACH(t, &b->b_tenants, t_entry) {
		if (!t->t_sweep_due)
			continue;
		t->t_sweep_due = false;
		if (t->t_retired || b->b_stopping ||
		    t->t_conf->t_batch.b_retention_ms == 0)
			continue;
		t->t_swept_ms = clock_mono_ms();
		b->b_sweep_t = t;
		b->b_sweep_area = -1;
		if (sweep_next_area(b))
			return true;
		b->b_sweep_t = NULL;
	}
	return false;
}

/*
 * A folder no dataset can be named (a folder a tenant made in incoming/
 * with files rejected in it, one swapped in for a file at a claim),
 * walked to its end: removed once the sweep left it empty, as its files
 * went. A dataset's folder stays for the dataset's next files.
 */
static void
drop_stray_folder(struct tenant *t, enum stage_area area, const char *name)
{
	int afd;

	if (conf_valid_id(name) ||
	    (afd = tenant_open_area(t, area, "", false)) < 0)
		return;
	if (unlinkat(afd, name, AT_REMOVEDIR) == 0)
		log_info("tenant %s: retention: removed %s/%s, a folder left "
		    "empty", t->t_id, state_area_names[area], name);
	close(afd);
}

/* Takes the next SCAN_STEP entries of the tenant being swept. */
static void
sweep_step(struct batch *b)
{
	struct tenant *t = b->b_sweep_t;
	struct sweep s = { b, sweep_areas[b->b_sweep_area] };
	struct dirent *de;
	unsigned char type;

	/* A reload between two steps may have set it to 0, for ever:
	 * sweep_entry would take that for no retention at all. */
	if (t->t_conf->t_batch.b_retention_ms == 0) {
		sweep_step_end(b);
		return;
	}
	for (int n = 0; n < SCAN_STEP && !b->b_stopping; n++) {
		if (b->b_sweep_ds != NULL) {
			if ((de = next_entry(b->b_sweep_ds)) != NULL)
				sweep_entry(t, b->b_sweep_dsname, de->d_name,
				    &s);
			else {
				drop_stray_folder(t, s.s_area,
				    b->b_sweep_dsname);
				sweep_ds_end(b);
			}
			continue;
		}
		if ((de = next_entry(b->b_sweep_top)) == NULL) {
			closedir(b->b_sweep_top);
			b->b_sweep_top = NULL;
			if (!sweep_next_area(b))
				break;
			s.s_area = sweep_areas[b->b_sweep_area];
			continue;
		}
		type = state_entry_type(dirfd(b->b_sweep_top), de);
		if (type != DT_DIR)
			sweep_entry(t, "", de->d_name, &s);
		else if ((b->b_sweep_dsname = strdup(de->d_name)) == NULL ||
		    (b->b_sweep_ds = open_listing(t, s.s_area,
		    de->d_name)) == NULL)
			sweep_ds_end(b);
	}
	if (b->b_sweep_top == NULL || b->b_stopping)
		sweep_step_end(b);
}

/* Marks t for a sweep in steps, from the next turn of the loop. */
static void
sweep_due(struct batch *b, struct tenant *t)
{
	t->t_sweep_due = true;
	clock_timer_in(b->b_sweep_ev, 0);
}

static void
on_sweep_step(evutil_socket_t fd, short what, void *arg)
{
	struct batch *b = arg;

	if (b->b_sweep_t == NULL && !sweep_step_next(b))
		return;
	sweep_step(b);
	clock_timer_in(b->b_sweep_ev, 0);
}

void
staging_tenant_start(struct batch *b, struct tenant *t)
{
	for_each_entry(t, AREA_PROCESSING, "", recover_entry, b);
	/* Before the sweep: after a stop longer than the retention, it
	 * would remove the lone reason of a rejection cut short, and the
	 * file would be looked at afresh (a quota's window is empty after
	 * a start: ingested, with a rejected record already written). */
	finish_dataset(t, "");
	sweep_due(b, t);
	watch_add(b, t, "");
	scan_tenant(b, t);
	job_dispatch(b);
}

void
staging_tenant_stop(struct batch *b, struct tenant *t)
{
	struct watch *w;

	if (b->b_scan_t == t)
		scan_step_end(b);
	if (b->b_sweep_t == t)
		sweep_step_end(b);
	while ((w = TAILQ_FIRST(&t->t_watches)) != NULL) {
		inotify_rm_watch(b->b_inotify_fd, w->w_wd);
		watch_drop(b, w);
	}
}

static void
handle_event(struct batch *b, const struct inotify_event *ev)
{
	struct watch *w;

	if (ev->mask & IN_Q_OVERFLOW) {
		log_info("inotify queue overflowed: scanning every tenant");
		staging_scan_all(b);
		return;
	}
	if ((w = watch_find(b, ev->wd)) == NULL)
		return;
	if (ev->mask & IN_IGNORED) {
		watch_drop(b, w);
		return;
	}
	if (ev->len == 0)
		return;
	consider(b, w->w_tenant, w->w_dataset, ev->name,
	    (ev->mask & IN_CREATE) ? EX_FROM_CREATE : EX_FROM_CLOSE);
}

static void
on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct batch *b = arg;
	/* One read a turn, of a hundred-odd events (one of any size
	 * fits): between two reads the loop serves the rest, the control
	 * socket, signals, the ended apps' pipes. Reading until EAGAIN
	 * kept it away for a whole burst (seconds for 100,000 files), and
	 * each app started meanwhile would inherit every pipe of the apps
	 * reaped below, left open until their EOF's turn. */
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;

	if ((n = read(fd, buf, sizeof(buf))) <= 0) {
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			log_warn("%s: read inotify", __func__);
		return;
	}
	for (char *p = buf; p < buf + n;
	    p += sizeof(struct inotify_event) + ev->len) {
		ev = (const struct inotify_event *)(void *)p;
		handle_event(b, ev);
		/* Start work as soon as a slot is free, not after the whole
		 * read has been claimed: reap the apps that ended meanwhile
		 * (one waitid when none did) rather than wait for their
		 * SIGCHLD's turn in the loop. job_reap dispatches too. */
		job_reap(b);
	}
}

/*
 * A round of scans, SCAN_STEP top-level entries of one tenant a turn of
 * the loop (a zero timer: the loop polls between two), so that the
 * ended apps are reaped, the workers kept busy and the other tenants'
 * files taken meanwhile. Scanning every tenant in one turn claimed
 * thousands of files with no app reaped: 11.5% of batchmgr's samples in
 * a burst over 1,000 tenants (docs/benchmarks.md); a tenant's 50,000
 * dataset folders in one turn held the others for 1.5 to 2 s.
 */
static void
scan_round(struct batch *b)
{
	struct tenant *t;

	TAILQ_FOREACH(t, &b->b_tenants, t_entry)
		t->t_scan_due = !t->t_retired;
	clock_timer_in(b->b_step_ev, 0);
}

/* The round's scan of a tenant ends (listed, stopped or retired). */
static void
scan_step_end(struct batch *b)
{
	if (b->b_scan_dir != NULL)
		closedir(b->b_scan_dir);
	b->b_scan_dir = NULL;
	b->b_scan_t = NULL;
}

/*
 * The first due tenant from b_scan_from on, round the list. A round
 * marked again while tenants are being scanned goes on from there, not
 * from the first tenant: rounds that come faster than a pass over all
 * (a tenant's huge folder, thousands of tenants, the settle timer) kept
 * the tenants at the end of the list from ever being scanned.
 */
static struct tenant *
next_due(struct batch *b)
{
	struct tenant *t;

	for (t = b->b_scan_from; t != NULL; t = TAILQ_NEXT(t, t_entry))
		if (t->t_scan_due)
			return t;
	TAILQ_FOREACH(t, &b->b_tenants, t_entry) {
		if (t == b->b_scan_from)
			break;
		if (t->t_scan_due)
			return t;
	}
	return NULL;
}

/* The round's next tenant to scan, its listing opened; false: none. */
static bool
scan_step_next(struct batch *b)
{
	struct tenant *t;

	for (;;) {
		if ((t = next_due(b)) == NULL)
			return false;	/* the round is over */
		b->b_scan_from = TAILQ_NEXT(t, t_entry);
		t->t_scan_due = false;
		if (t->t_retired || b->b_stopping ||
		    (b->b_scan_dir = open_listing(t, AREA_INCOMING, "")) ==
		    NULL)
			continue;
		t->t_deferred = false;
		b->b_scan_t = t;
		return true;
	}
}

/* Takes the next SCAN_STEP entries of the tenant being scanned. */
static void
scan_step(struct batch *b)
{
	struct dirent *de = NULL;

	for (int n = 0; n < SCAN_STEP && !b->b_stopping; n++) {
		if ((de = next_entry(b->b_scan_dir)) == NULL)
			break;
		scan_entry(b->b_scan_t, "", de->d_name,
		    state_entry_type(dirfd(b->b_scan_dir), de), b);
	}
	if (de == NULL || b->b_stopping)
		scan_step_end(b);
}

static void
on_step(evutil_socket_t fd, short what, void *arg)
{
	struct batch *b = arg;

	if (b->b_scan_t == NULL && !scan_step_next(b))
		return;
	scan_step(b);
	job_dispatch(b);
	clock_timer_in(b->b_step_ev, 0);
}

/* The safety net: inotify can miss files (e.g. copied in by NFS). */
static void
on_scan(evutil_socket_t fd, short what, void *arg)
{
	struct batch *b = arg;
	struct tenant *t;
	int64_t now = clock_mono_ms();

	TAILQ_FOREACH(t, &b->b_tenants, t_entry)
		if (!t->t_retired && t != b->b_sweep_t &&
		    t->t_conf->t_batch.b_retention_ms > 0 &&
		    now - t->t_swept_ms >= sweep_every_ms(t))
			sweep_due(b, t);
	scan_round(b);
}

/* Files skipped while still settling: the next round looks again. */
static void
on_settle(evutil_socket_t fd, short what, void *arg)
{
	scan_round(arg);
}

int
staging_init(struct batch *b)
{
	char *dir = state_path(b->b_conf, "staging");

	b->b_staging_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->b_staging_fd < 0) {
		log_warn("open %s", dir);
		free(dir);
		return -1;
	}
	free(dir);
	b->b_inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (b->b_inotify_fd < 0) {
		log_warn("inotify_init1");
		return -1;
	}
	b->b_inotify_ev = event_new(b->b_base, b->b_inotify_fd,
	    EV_READ | EV_PERSIST, on_inotify, b);
	b->b_scan_ev = event_new(b->b_base, -1, EV_PERSIST, on_scan, b);
	b->b_settle_ev = evtimer_new(b->b_base, on_settle, b);
	b->b_step_ev = evtimer_new(b->b_base, on_step, b);
	b->b_sweep_ev = evtimer_new(b->b_base, on_sweep_step, b);
	if (b->b_inotify_ev == NULL || b->b_scan_ev == NULL ||
	    b->b_settle_ev == NULL || b->b_step_ev == NULL ||
	    b->b_sweep_ev == NULL)
		fatalx("%s: event_new", __func__);
	event_add(b->b_inotify_ev, NULL);
	clock_timer_in(b->b_scan_ev, b->b_conf->p_batch.pb_scan_interval_ms);
	return 0;
}

void
staging_stop(struct batch *b)
{
	event_del(b->b_inotify_ev);
	event_del(b->b_scan_ev);
	event_del(b->b_settle_ev);
	event_del(b->b_step_ev);
	event_del(b->b_sweep_ev);
	scan_step_end(b);
	sweep_step_end(b);
}

void
staging_free(struct batch *b)
{
	struct tenant *t;
	struct watch *w;

	scan_step_end(b);
	sweep_step_end(b);
	TAILQ_FOREACH(t, &b->b_tenants, t_entry)
		while ((w = TAILQ_FIRST(&t->t_watches)) != NULL)
			watch_drop(b, w);
	idtab_free(&b->b_watches);
	event_free(b->b_inotify_ev);
	event_free(b->b_scan_ev);
	event_free(b->b_settle_ev);
	event_free(b->b_step_ev);
	event_free(b->b_sweep_ev);
	close(b->b_inotify_fd);
	close(b->b_staging_fd);
}

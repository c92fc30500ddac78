#include "tenant.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"
#include "staging.h"

/*
 * staging/<id>. Only the TENANT_DIRS most recently used are held: a
 * descriptor per tenant would be copied into, and closed in, every app
 * the daemon starts (1,000 tenants cost each spawn a quarter more,
 * docs/benchmarks.md), and would grow the daemon's descriptors with the
 * tenants. The few held spare a burst of one tenant's files three opens
 * and closes of the folder per file.
 */
static int
open_staging(const struct batch *b, const char *id)
{
	return openat(b->b_staging_fd, id,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* t's staging folder, held in b_dirs (the least recently used goes). */
static int
staging_dir(struct tenant *t)
{
	struct batch *b = t->t_batch;
	struct tenant_dir *d, *lru = &b->b_dirs[0];
	int fd;

	for (size_t i = 0; i < TENANT_DIRS; i++) {
		d = &b->b_dirs[i];
		if (d->td_tenant == t) {
			d->td_used = ++b->b_dirs_clock;
			return d->td_fd;
		}
		if (d->td_used < lru->td_used)
			lru = d;
	}
	if ((fd = open_staging(b, t->t_id)) < 0)
		return -1;
	if (lru->td_tenant != NULL)
		close(lru->td_fd);
	*lru = (struct tenant_dir){ t, fd, ++b->b_dirs_clock };
	return fd;
}

/* Lets go of t's held folder, if it is held. */
static void
staging_dir_drop(struct tenant *t)
{
	struct tenant_dir *d;

	for (size_t i = 0; i < TENANT_DIRS; i++) {
		d = &t->t_batch->b_dirs[i];
		if (d->td_tenant == t) {
			close(d->td_fd);
			*d = (struct tenant_dir){ NULL, -1, 0 };
		}
	}
}

struct tenant *
tenant_new(struct batch *b, struct conf_tenant *conf)
{
	struct tenant *t;
	char err[512];
	int fd;

	if (state_prepare_tenant(b->b_conf, conf, err, sizeof(err)) < 0) {
		log_warnx("tenant %s: %s", conf->t_id, err);
		return NULL;
	}
	if ((fd = open_staging(b, conf->t_id)) < 0) {
		log_warn("tenant %s: open staging/%s", conf->t_id, conf->t_id);
		return NULL;
	}
	close(fd);
	cgroup_tenant_prepare(conf);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal("%s: calloc", __func__);
	t->t_batch = b;
	t->t_conf = conf_tenant_ref(conf);
	snprintf(t->t_id, sizeof(t->t_id), "%s", conf->t_id);
	TAILQ_INIT(&t->t_watches);
	TAILQ_INIT(&t->t_unmoved);
	sched_add_queue(&b->b_sched, &t->t_queue,
	    (int)conf->t_batch.b_max_concurrent, (int)conf->t_batch.b_weight);
	TAILQ_INSERT_TAIL(&b->b_tenants, t, t_entry);
	return t;
}

struct tenant *
tenant_find(struct batch *b, const char *id)
{
	struct tenant *t;

	TAILQ_FOREACH(t, &b->b_tenants, t_entry)
		if (!t->t_retired && strcmp(t->t_id, id) == 0)
			return t;
	return NULL;
}

void
tenant_set_conf(struct tenant *t, struct conf_tenant *conf)
{
	conf_tenant_unref(t->t_conf);
	t->t_conf = conf_tenant_ref(conf);
	cgroup_tenant_prepare(conf);
	sched_set_limits(&t->t_queue, (int)conf->t_batch.b_max_concurrent,
	    (int)conf->t_batch.b_weight);
}

void
tenant_retire(struct tenant *t)
{
	sched_remove_queue(&t->t_batch->b_sched, &t->t_queue);
	t->t_retired = true;
	tenant_release(t);
}

void
tenant_release(struct tenant *t)
{
	struct unmoved *u;

	if (!t->t_retired || t->t_jobs > 0)
		return;
	/* The scan's round-robin goes on from the one after it. */
	if (t->t_batch->b_scan_from == t)
		t->t_batch->b_scan_from = TAILQ_NEXT(t, t_entry);
	TAILQ_REMOVE(&t->t_batch->b_tenants, t, t_entry);
	staging_dir_drop(t);
	while ((u = TAILQ_FIRST(&t->t_unmoved)) != NULL) {
		TAILQ_REMOVE(&t->t_unmoved, u, u_entry);
		unmoved_free(u);
	}
	quota_free(&t->t_quota);
	conf_tenant_unref(t->t_conf);
	free(t);
}

int
tenant_open_area(struct tenant *t, enum stage_area area, const char *dataset,
    bool create)
{
	int fd = staging_dir(t);

	return fd < 0 ? -1 : state_open_area(fd, area, dataset, create);
}

int
tenant_entry_at(struct tenant *t, enum stage_area area, const char *dataset,
    const char *name, char *rel, size_t rellen, bool *owned)
{
	int sfd = staging_dir(t), fd;

	if (sfd < 0)
		return -1;
	fd = state_entry_at(sfd, area, dataset, name, rel, rellen);
	*owned = fd >= 0 && fd != sfd;
	return fd;
}

int
tenant_move(struct tenant *t, enum stage_area from, enum stage_area to,
    const char *dataset, const char *name, char *final, size_t finallen)
{
	int fd = staging_dir(t);

	return fd < 0 ? -1 : state_move(fd, from, to, dataset, name, final,
	    finallen);
}

bool
tenant_can_place(struct tenant *t, enum stage_area area, const char *dataset,
    const char *name)
{
	int fd = staging_dir(t);

	if (fd < 0 || state_can_place(fd, area, dataset, name))
		return true;	/* a missing staging folder fails the move */
	log_warnx("tenant %s: %s/%s%s%s is taken and the name is too long "
	    "for a .N suffix: the file waits until that name is free",
	    t->t_id, state_area_names[area], dataset, *dataset ? "/" : "",
	    name);
	return false;
}

char *
tenant_path(struct tenant *t, enum stage_area area, const char *dataset,
    const char *name)
{
	/* No trailing '/' for a folder: inotify_add_watch follows a symlink
	 * before one whatever IN_DONT_FOLLOW says. */
	return state_path(t->t_batch->b_conf, "staging/%s/%s%s%s%s%s", t->t_id,
	    state_area_names[area], *dataset ? "/" : "", dataset,
	    *name ? "/" : "", name);
}

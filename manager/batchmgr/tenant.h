/*
 * A tenant as batchmgr runs it: its profile, its staging folders and its
 * place in the scheduler. Files move between the staging areas by rename
 * only, through directory fds opened without following symlinks, so a
 * tenant cannot redirect a move outside its own folder.
 */
#ifndef MYSIMBDP_TENANT_H
#define MYSIMBDP_TENANT_H

#include <stddef.h>

#include "batch.h"
#include "state.h"

/*
 * Creates the runtime tenant for a profile (taking a reference): prepares
 * its folders and adds it to the scheduler. Returns NULL, logged, when its
 * folders cannot be prepared.
 */
struct tenant *tenant_new(struct batch *b, struct conf_tenant *conf);

struct tenant *tenant_find(struct batch *b, const char *id);

/* Switches to a reloaded profile; running jobs keep the old one. */
void tenant_set_conf(struct tenant *t, struct conf_tenant *conf);

/*
 * Takes a tenant out of service (its profile was removed): no new jobs;
 * queued files stay in processing/ for a later start. Freed once its last
 * running job ends.
 */
void tenant_retire(struct tenant *t);

/* Frees a retired tenant that has no jobs left. */
void tenant_release(struct tenant *t);

/* state_open_area() for this tenant. */
int tenant_open_area(struct tenant *t, enum stage_area area,
    const char *dataset, bool create);

/*
 * state_entry_at() for this tenant; *owned says whether the caller closes
 * the fd (else it is the held staging folder).
 */
int tenant_entry_at(struct tenant *t, enum stage_area area,
    const char *dataset, const char *name, char *rel, size_t rellen,
    bool *owned);

/* state_move() for this tenant. */
int tenant_move(struct tenant *t, enum stage_area from, enum stage_area to,
    const char *dataset, const char *name, char *final, size_t finallen);

/*
 * state_can_place() for this tenant; false (logged: the file waits) when
 * the name is taken in area and too long for a suffix.
 */
bool tenant_can_place(struct tenant *t, enum stage_area area,
    const char *dataset, const char *name);

/*
 * The absolute path of a file in an area, or with name "" of the area's
 * [dataset] folder, never with a trailing '/' (malloc'd).
 */
char *tenant_path(struct tenant *t, enum stage_area area, const char *dataset,
    const char *name);

#endif

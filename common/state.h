/*
 * The state directory: staging/, queue/, run/, log/, coredms/, work/.
 * See docs/architecture.md for the layout and who owns what.
 */
#ifndef MYSIMBDP_STATE_H
#define MYSIMBDP_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

/* The areas of a tenant's staging folder, in the order files move. */
enum stage_area {
	AREA_INCOMING, AREA_PROCESSING, AREA_DONE, AREA_FAILED, AREA_REJECTED,
	AREA_QUARANTINE, AREA_COUNT
};

extern const char *const state_area_names[AREA_COUNT];

/* sun_path holds 108 bytes including the terminating NUL. */
#define STATE_SUN_PATH_MAX 107

/*
 * Creates the platform-wide folders. Returns 0, or -1 with a message
 * ("mkdir PATH: reason") in err.
 */
int state_prepare(const struct conf_platform *p, char *err, size_t errlen);

/*
 * Creates a tenant's folders: staging areas, run/<id> (0700), log/<id>,
 * work/<id> and its tmp/, queue/<id> (0700), and its database folder in
 * the embedded store when it writes there. When the daemon runs as root
 * and the tenant has a user, incoming/, run/<id>, work/<id> and the
 * database folder belong to that user and the other staging areas are
 * readable by its group. Also checks that the tenant's ipc socket paths
 * (metrics, each stream's) fit sun_path. Returns 0 or -1 with err set.
 */
int state_prepare_tenant(const struct conf_platform *p,
    const struct conf_tenant *t, char *err, size_t errlen);

/* Whether sock fits sun_path; -1 with the reason in err if not. */
int state_check_sun_path(const char *sock, char *err, size_t errlen);

/* Formats a path under the state dir; returns a malloc'd string. */
char *state_path(const struct conf_platform *p, const char *fmt, ...)
    __attribute__((__format__(__printf__, 2, 3)));

/* The same as a ZeroMQ endpoint: "ipc://" and the path. */
char *state_endpoint(const struct conf_platform *p, const char *fmt, ...)
    __attribute__((__format__(__printf__, 2, 3)));

/*
 * Opens staging/<id>/<area>[/<dataset>] below the tenant's staging fd as
 * a directory fd, without following symlinks (a tenant owns incoming/ and
 * could plant one), creating the dataset folder when create is set.
 * Returns the fd or -1 with errno.
 */
int state_open_area(int staging_fd, enum stage_area area, const char *dataset,
    bool create);

/*
 * For the *at() calls on one entry of an area: where the folder is the
 * daemon's own (all but a dataset folder in incoming/, which the tenant
 * made) returns staging_fd itself, with the entry's path from it in rel
 * ("incoming/name"), which spares an open and a close; else the area's
 * fd from state_open_area, with name in rel, for the caller to close.
 * Returns -1 with errno (ENAMETOOLONG: rel is too small).
 */
int state_entry_at(int staging_fd, enum stage_area area, const char *dataset,
    const char *name, char *rel, size_t rellen);

/*
 * Moves name from one area to another (same dataset) by rename, never
 * replacing a file: in done/, failed/ and rejected/ a taken name gets a
 * ".1", ".2", ... suffix; into processing/ or incoming/ a taken name fails
 * with EEXIST, and a name too long for its suffix with ENAMETOOLONG
 * (never cut). The name used is copied into final. Returns 0 or -1.
 */
int state_move(int staging_fd, enum stage_area from, enum stage_area to,
    const char *dataset, const char *name, char *final, size_t finallen);

/* state_move() to the name as instead of name (`retry`: without the
 * suffix failed/ gave it). */
int state_move_as(int staging_fd, enum stage_area from, enum stage_area to,
    const char *dataset, const char *name, const char *as, char *final,
    size_t finallen);

/*
 * Renames from (relative to from_fd) to name in the folder dirfd, never
 * replacing a file: "name", or "name.1", "name.2", ... when a file (a
 * tenant's, moved there) holds it. The name used goes into final.
 * Returns 0 or -1 with errno.
 */
int state_rename_unique(int from_fd, const char *from, int dirfd,
    const char *name, char *final, size_t finallen);

/* The longest name any ".N" suffix fits (N up to 10 digits). */
#define STATE_NAME_SUFFIXABLE (NAME_MAX - 11)

/*
 * Whether a move of name into area (dataset) can place it: the name is
 * free there, or short enough for any suffix. A longer name that is
 * taken cannot be placed (state_move fails with ENAMETOOLONG rather
 * than cut it). Only the daemon and an operator put files in the areas
 * a file is settled in, so the answer holds for the move that follows.
 */
bool state_can_place(int staging_fd, enum stage_area area,
    const char *dataset, const char *name);

/*
 * Writes len bytes of data as a file of the daemon's beside tenants'
 * files (a reason, a report) in the folder dirfd: into a hidden name of
 * its own, then renamed as state_rename_unique does, so that no reader
 * sees it half written and no tenant's file of that name is replaced.
 * Returns 0 with the name used in final, or -1 with errno.
 */
int state_publish(int dirfd, const char *name, const void *data, size_t len,
    char *final, size_t finallen);

/* Creates dir and its parents with mode. Returns 0 or -1 with errno. */
int state_mkdirs(const char *dir, int mode);

struct dirent;

/*
 * The type of an entry readdir() gave from the folder dirfd (DT_DIR,
 * DT_REG, ...): its d_type, or where the filesystem leaves that
 * DT_UNKNOWN (XFS without ftype, some network and FUSE filesystems),
 * lstat's. DT_UNKNOWN when that fails too (the entry went away).
 */
unsigned char state_entry_type(int dirfd, const struct dirent *de);

#endif

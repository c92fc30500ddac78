/*
 * Containment of tenant apps in cgroup v2, where it is mounted and
 * writable: a base cgroup per daemon and state folder
 * (<own>/mysimbdp-<daemon>-<crc of state_dir>), a cgroup per tenant
 * holding its "resources" limits where the controllers exist, and a leaf
 * per app process that the app joins before exec. When the app's main
 * process ends, whatever is left in its leaf is killed (cgroup.kill): a
 * descendant that left the process group (setsid) cannot outlive it.
 * Without a writable cgroup v2 every call here is a no-op and the daemons
 * rely on rlimits and on spawn_kill_strays(). Shared by batchmgr and
 * streammgr.
 */
#ifndef MYSIMBDP_CGROUP_H
#define MYSIMBDP_CGROUP_H

#include <stdbool.h>

#include "conf.h"

struct cgroup_leaf;

/*
 * Finds the cgroup2 mount (/proc/self/mountinfo) and the daemon's own
 * cgroup, creates the daemon's base, kills and removes what a previous
 * daemon of the same name and state folder left there, and enables the
 * memory, cpu and pids controllers below it where it can (moving the
 * daemon into a leaf "daemon" of the base first when its own cgroup must
 * have no processes for that). Logs one line saying what is enforced
 * where, or that only rlimits are. Never fails: without cgroup v2 the
 * daemon goes on with rlimits.
 */
void cgroup_init(const char *daemon, const char *state_dir);

/* Whether apps get a leaf (cgroup v2 is writable). */
bool cgroup_active(void);

/*
 * Makes tenant t's cgroup and writes its resources limits there, when
 * they differ from what was last written (at load and reload, so that a
 * burst of first apps does not pay for it). A no-op without cgroups.
 */
void cgroup_tenant_prepare(const struct conf_tenant *t);

/*
 * Creates the leaf called name in tenant t's cgroup (creating that and
 * writing t's resources limits where the controllers exist). Returns it,
 * or NULL when cgroups are not active or the leaf cannot be made (logged;
 * the app then runs with rlimits only).
 */
struct cgroup_leaf *cgroup_leaf_new(const struct conf_tenant *t,
    const char *name);

/* The leaf's folder, for spawn_req.sr_cgroup. */
const char *cgroup_leaf_dir(const struct cgroup_leaf *leaf);

/* That folder open, for spawn_req.sr_cgroup_fd, or 0 when the daemon
 * holds it by name only. */
int cgroup_leaf_fd(const struct cgroup_leaf *leaf);

/*
 * The app's main process has ended (or never started). An empty leaf is
 * kept for the tenant's next app; else what is left is killed and the
 * leaf removed, or, while killed processes are still exiting, kept for
 * cgroup_sweep(). Frees leaf; NULL is a no-op.
 */
void cgroup_leaf_end(struct cgroup_leaf *leaf);

/*
 * Removes the leaves whose processes have all exited since they were
 * ended. Called after reaping: the last process of a killed leaf to exit
 * is a child of the daemon (the subreaper), so its SIGCHLD comes.
 */
void cgroup_sweep(void);

/*
 * At exit: waits a little for ended leaves to empty, then removes them,
 * every tenant cgroup and the base (unless the daemon sits in it).
 */
void cgroup_cleanup(void);

/*
 * The rlimits an app of tenant t runs with: its own limits, plus, where
 * the tenant's cgroup cannot enforce them (no controller), the tenant's
 * resources.memory as RLIMIT_AS and resources.processes as RLIMIT_NPROC
 * for an app that sets none of its own.
 */
void cgroup_app_limits(const struct conf_tenant *t,
    const struct conf_limits *app, struct conf_limits *out);

#endif

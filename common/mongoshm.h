/*
 * libmongoc's shared-memory counters in the platform's own programs.
 *
 * libmongoc, when it is set up, creates /dev/shm/mongoc-<pid> for its
 * counters and removes it at exit. A process killed before then leaves
 * the file behind, and libmongoc in a later process that gets the same
 * pid finds it taken and warns "Falling back to malloc for counters." on
 * stderr: a stray line in the CLI's output or a daemon's log. The
 * monitor and the CLI load libmongoc only through libmysimbdp's MongoDB
 * back end, after main has started, so setting MONGOC_DISABLE_SHM first
 * thing keeps the file from being made at all (the daemons give their
 * apps the same setting).
 */
#ifndef MYSIMBDP_MONGOSHM_H
#define MYSIMBDP_MONGOSHM_H

/* Sets MONGOC_DISABLE_SHM unless the environment has it; first thing in
 * main, before any thread. */
void mongoshm_disable(void);

#endif

/*
 * libmongoc's shared-memory counters in a program that links it.
 *
 * Debian's libmongoc sets itself up before main (its automatic init)
 * and creates /dev/shm/mongoc-<pid> for its counters, removed at exit.
 * A process killed before then leaves the file behind, and libmongoc in
 * a later process that gets the same pid finds it taken and warns
 * "Falling back to malloc for counters." on stderr: a stray line in the
 * CLI's output or a daemon's log. The mapping outlives the name, so
 * removing the name at once leaves nothing behind whatever ends the
 * process. (Programs on libmysimbdp's shared library load libmongoc
 * only for a mongodb:// sink, with MONGOC_DISABLE_SHM set: no file.)
 */
#ifndef MYSIMBDP_MONGOSHM_H
#define MYSIMBDP_MONGOSHM_H

/* Removes this process's counters file; first thing in main. */
void mongoshm_forget(void);

#endif

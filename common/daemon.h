/*
 * Start-up steps every daemon shares: load the platform file and the
 * tenant profiles or exit 78, and hold the state directory's pid lock.
 */
#ifndef MYSIMBDP_DAEMON_H
#define MYSIMBDP_DAEMON_H

#include <event2/event.h>
#include <stddef.h>
#include <sysexits.h>

#include "conf.h"


/*
 * The start of every daemon's main(): opens /dev/null on any of fds 0-2
 * found closed, so that no file the daemon opens takes their place; parses
 * -c FILE -d -n -v (and their long forms; --help and --version print and
 * exit 0; anything else: usage and exit 64), sets up logging, loads the
 * configuration ($MYSIMBDP_CONF or the built-in default without -c; exit
 * 78 on errors), and with -n prints "configuration OK" and exits 0. Then prepares the state dir
 * (exit 73), takes run/<name>.pid (one daemon of a kind per state dir),
 * makes the process a child subreaper and ignores SIGPIPE. Returns the
 * configuration file's path (malloc'd) with *pp and set filled.
 */
char *daemon_start(const char *name, int argc, char *argv[],
    struct conf_platform **pp, struct conf_tenant_set *set);

/*
 * Loads the platform file and every tenant profile. On any error prints
 * them all ("file:line: setting: problem"), then "<name>: N configuration
 * errors", and exits 78 (EX_CONFIG).
 */
void daemon_load_or_exit(const char *name, const char *file,
    struct conf_platform **pp, struct conf_tenant_set *set);

/*
 * Takes run/<name>.pid under the state dir with an exclusive flock and
 * writes the pid into it: one daemon of each kind per state dir. Exits 73
 * when the file cannot be opened, 75 when another daemon holds it. The fd
 * stays open (and locked) for the life of the process.
 */
void daemon_lock_or_exit(const char *name, const struct conf_platform *p);

/*
 * SIGHUP: rereads the platform file and every tenant profile into *pp
 * and set. A platform file with errors, a changed state_dir or an
 * unreadable tenants folder changes nothing: the errors are logged and
 * -1 is returned. Otherwise each tenant file with errors is logged with
 * "keeping the previous profile" when known(arg, id) says the daemon runs
 * that tenant, "tenant not loaded" when it is new (its id is in
 * set->ts_failed either way) and 0 is returned; the caller swaps in *pp
 * and frees set.
 */
typedef bool daemon_known_fn(void *arg, const char *tenant);

int daemon_reload(const char *name, const char *file,
    const struct conf_platform *cur, struct conf_platform **pp,
    struct conf_tenant_set *set, daemon_known_fn *known, void *arg);

/* A daemon's signals, read in its loop. */
struct daemon_signals {
	struct event	*ds_ev;
	int		 ds_fd;		/* signalfd */
	event_callback_fn ds_cb;
	void		*ds_arg;
};

/*
 * Delivers each of the nsigs signals in sigs to cb(sig, EV_SIGNAL, arg)
 * from base's loop; exits on failure. The signals are blocked and read
 * from a signalfd, not caught: a handler costs a signal frame, a write
 * and a read per SIGCHLD, that is per app a daemon starts. Called
 * before the daemon starts any thread, so every thread inherits the
 * mask (a thread that did not block them could take one and lose it).
 * Apps get an empty mask (spawn.c).
 */
void daemon_signals(struct daemon_signals *ds, struct event_base *base,
    const int *sigs, size_t nsigs, event_callback_fn cb, void *arg);

void daemon_signals_free(struct daemon_signals *ds);

/*
 * Asks the kernel for a short time slice (0.1 ms, Linux 6.12's custom
 * slices) for the calling thread, the daemon's event loop, so that it
 * runs as soon as it wakes rather than behind the apps it starts: the
 * loop is the one thread every app's start goes through. Its children
 * get the default slice back (reset on fork). Logs once at info when the
 * kernel has no such slices; never fails.
 */
void daemon_short_slice(void);

#endif

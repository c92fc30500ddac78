/*
 * At its descriptor limit, accept() fails with EMFILE and leaves the
 * connection queued. libzmq 4.3.4's IPC listener asserts on EMFILE (and
 * its TCP listener, like any caller that waits for the socket to be
 * readable, tries again at once, for ever): a tenant that holds as many
 * connections to its sockets as a daemon has descriptors would abort the
 * monitor and streammgr. As libuv does, a descriptor is held in reserve:
 * at the limit it is freed, the queued connection taken on it and closed
 * at once, and the caller told ECONNABORTED, which libzmq ignores. The
 * operator is told which socket, at most once a second.
 *
 * accept() and accept4() are defined here, in the daemon's executable,
 * so that they are the ones libzmq calls. Without _GNU_SOURCE:
 * <sys/socket.h> then declares accept() without glibc's transparent
 * union, and accept4() not at all.
 */
#undef _GNU_SOURCE
#define _DEFAULT_SOURCE

#include "fdreserve.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int accept4(int, struct sockaddr *restrict, socklen_t *restrict, int);

static pthread_mutex_t reserve_lock = PTHREAD_MUTEX_INITIALIZER;
static int reserve = -1;
static atomic_ulong closed_total;
static atomic_ulong unwarned;		/* closed since the last warning */
static atomic_llong warned_at = -1;	/* its CLOCK_MONOTONIC second */

void
fdreserve_init(void)
{
	reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static int
sys_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	return (int)syscall(SYS_accept4, fd, addr, len, flags);
}

/* Takes the connection queued on FD on the reserve and closes it. */
static bool
close_one(int fd)
{
	bool done = false;
	int c;

	pthread_mutex_lock(&reserve_lock);
	if (reserve < 0)	/* another thread took the slot last time */
		reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (reserve >= 0) {
		close(reserve);
		if ((c = sys_accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
			close(c);
			done = true;
		}
		reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	pthread_mutex_unlock(&reserve_lock);
	return done;
}

/* Where FD listens, for the operator: a path or an address and port. */
static void
socket_name(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[64], port[16];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_UNIX) {
			const struct sockaddr_un *sun = (const void *)&ss;

			if (len > offsetof(struct sockaddr_un, sun_path) &&
			    sun->sun_path[0] != '\0') {
				snprintf(buf, size, "%.*s",
				    (int)(len - offsetof(struct sockaddr_un,
				    sun_path)), sun->sun_path);
				return;
			}
		} else if (getnameinfo((struct sockaddr *)&ss, len, host,
		    sizeof(host), port, sizeof(port),
		    NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
			snprintf(buf, size, "%s port %s", host, port);
			return;
		}
	}
	snprintf(buf, size, "socket %d", fd);
}

static void
warn_closed(int fd)
{
	struct timespec now;
	unsigned long n, total = atomic_fetch_add(&closed_total, 1) + 1;
	long long last = atomic_load(&warned_at);
	char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];

	atomic_fetch_add(&unwarned, 1);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec == last ||
	    !atomic_compare_exchange_strong(&warned_at, &last, now.tv_sec))
		return;
	n = atomic_exchange(&unwarned, 0);
	socket_name(fd, name, sizeof(name));
	log_warnx("descriptor limit: closed %lu new connection%s to %s "
	    "(%lu in all); raise the daemon's open-files limit, or find who "
	    "holds so many connections", n, n == 1 ? "" : "s", name, total);
}

int
accept4(int fd, struct sockaddr *restrict addr, socklen_t *restrict len,
    int flags)
{
	int c = sys_accept4(fd, addr, len, flags);

	if (c >= 0 || (errno != EMFILE && errno != ENFILE))
		return c;
	if (close_one(fd))
		warn_closed(fd);
	errno = ECONNABORTED;
	return -1;
}

int
accept(int fd, struct sockaddr *restrict addr, socklen_t *restrict len)
{
	return accept4(fd, addr, len, 0);
}

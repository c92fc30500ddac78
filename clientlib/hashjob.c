/*
 * A file's content hash taken on a thread of its own (msb_sink_hash_input):
 * the pass over the whole input that a batch app's ids need runs while
 * the app reads and converts its rows, on the CPU the app leaves idle
 * until its parser is busy. The thread reads with pread, from offset 0 to
 * the end, through a dup of the app's descriptor: the app's own reads and
 * file offset are not disturbed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mysimbdp-internal.h"

#define READ_SIZE (256 * 1024)

struct msb__hashjob {
	pthread_t	 h_thread;
	int		 h_fd;
	bool		 h_joined;
	atomic_bool	 h_done;	/* h_hex or h_errno is set */
	atomic_bool	 h_quit;	/* nobody will ask: stop reading */
	int		 h_errno;	/* the read's failure, or 0 */
	char		 h_hex[MSB_HASH_HEX_SIZE];
};

/* msb__hashjob_hold: jobs wait here before they read (tests only). */
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cond = PTHREAD_COND_INITIALIZER;
static bool held;

void
msb__hashjob_hold(bool on)
{
	pthread_mutex_lock(&hold_lock);
	held = on;
	pthread_cond_broadcast(&hold_cond);
	pthread_mutex_unlock(&hold_lock);
}

static void
wait_unheld(void)
{
	pthread_mutex_lock(&hold_lock);
	while (held)
		pthread_cond_wait(&hold_cond, &hold_lock);
	pthread_mutex_unlock(&hold_lock);
}

/* The SHA-256 of what the job's fd holds; 0, or an errno. */
static int
hash_fd(struct msb__hashjob *job, char hex[MSB_HASH_HEX_SIZE])
{
	struct msb__sha256 ctx;
	unsigned char md[32], *buf;
	off_t off = 0;
	ssize_t n;

	if ((buf = malloc(READ_SIZE)) == NULL)
		return ENOMEM;
	msb__sha256_init(&ctx);
	while ((n = pread(job->h_fd, buf, READ_SIZE, off)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (atomic_load_explicit(&job->h_quit, memory_order_relaxed))
			n = -1, errno = ECANCELED;
		if (n == -1) {
			int e = errno;

			free(buf);
			return e;
		}
		msb__sha256_update(&ctx, buf, (size_t)n);
		off += n;
	}
	free(buf);
	msb__sha256_final(&ctx, md);
	msb__hex(md, sizeof(md), hex);
	return 0;
}

static void *
run(void *arg)
{
	struct msb__hashjob *job = arg;

	wait_unheld();
	job->h_errno = hash_fd(job, job->h_hex);
	atomic_store_explicit(&job->h_done, true, memory_order_release);
	return NULL;
}

int
msb__hashjob_start(struct msb__hashjob **jobp, int fd)
{
	struct msb__hashjob *job;
	sigset_t all, old;
	int e;

	if ((job = calloc(1, sizeof(*job))) == NULL)
		return -1;
	if ((job->h_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		e = errno;
		free(job);
		errno = e;
		return -1;
	}
	atomic_init(&job->h_done, false);
	atomic_init(&job->h_quit, false);
	/* Signals stay with the app's own threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&job->h_thread, NULL, run, job);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		close(job->h_fd);
		free(job);
		errno = e;
		return -1;
	}
	*jobp = job;
	return 0;
}

bool
msb__hashjob_done(const struct msb__hashjob *job)
{
	return atomic_load_explicit(&job->h_done, memory_order_acquire);
}

int
msb__hashjob_wait(struct msb__hashjob *job, char hex[MSB_HASH_HEX_SIZE])
{
	if (!job->h_joined) {
		pthread_join(job->h_thread, NULL);
		job->h_joined = true;
	}
	if (job->h_errno != 0) {
		errno = job->h_errno;
		return -1;
	}
	memcpy(hex, job->h_hex, MSB_HASH_HEX_SIZE);
	return 0;
}

void
msb__hashjob_free(struct msb__hashjob *job)
{
	char hex[MSB_HASH_HEX_SIZE];

	if (job == NULL)
		return;
	atomic_store_explicit(&job->h_quit, true, memory_order_relaxed);
	(void)msb__hashjob_wait(job, hex);
	close(job->h_fd);
	free(job);
}

/*
 * Unlinks off the loop's thread (discard.h): a ring of paths, one
 * thread, a mutex and two condition variables. The ring is static, so a
 * path still queued at exit is no leak; what a killed streammgr did not
 * unlink is removed at its next start.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "discard.h"
#include "log.h"

#define RING	64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;	/* ring not empty */
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;	/* ring emptied */
static char ring[RING][PATH_MAX];
static size_t head, count;
static bool busy;		/* the thread is unlinking one */
static bool running;

static void
unlink_now(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("unlink %s", path);
}

static void *
run(void *arg)
{
	char path[PATH_MAX];

	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		while (count == 0) {
			busy = false;
			pthread_cond_broadcast(&done);
			pthread_cond_wait(&more, &lock);
		}
		snprintf(path, sizeof(path), "%s", ring[head]);
		head = (head + 1) % RING;
		count--;
		busy = true;
		pthread_mutex_unlock(&lock);
		unlink_now(path);
		pthread_mutex_lock(&lock);
	}
	return NULL;
}

int
discard_start(void)
{
	pthread_t t;
	int rc;

	if ((rc = pthread_create(&t, NULL, run, NULL)) != 0) {
		errno = rc;
		return -1;
	}
	pthread_detach(t);
	pthread_mutex_lock(&lock);
	running = true;
	pthread_mutex_unlock(&lock);
	return 0;
}

void
discard_unlink(const char *path)
{
	pthread_mutex_lock(&lock);
	if (!running || count == RING ||
	    snprintf(ring[(head + count) % RING], PATH_MAX, "%s", path) >=
	    PATH_MAX) {
		pthread_mutex_unlock(&lock);
		unlink_now(path);
		return;
	}
	count++;
	pthread_cond_signal(&more);
	pthread_mutex_unlock(&lock);
}

void
discard_wait(void)
{
	pthread_mutex_lock(&lock);
	while (running && (count > 0 || busy))
		pthread_cond_wait(&done, &lock);
	pthread_mutex_unlock(&lock);
}

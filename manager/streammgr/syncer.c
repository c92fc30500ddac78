/*
 * The sync thread (syncer.h): a list of syncs to do, a list of results,
 * a mutex and two condition variables; an eventfd wakes the loop for
 * the results.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "syncer.h"

struct job {
	struct job	*next;
	int		 fd;
	uint64_t	 gen;
	syncer_fn	 fn;
	void		*cookie;
	int		 err;
};

struct jobs {
	struct job	*head, *tail;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;	/* todo not empty */
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER;	/* todo emptied */
static struct jobs todo, done;
static bool busy;		/* the thread is syncing one */
static bool running, stopping;
static pthread_t thread;
static int efd = -1;
static struct event *ev;

static void
push(struct jobs *l, struct job *j)
{
	j->next = NULL;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct job *
pop(struct jobs *l)
{
	struct job *j = l->head;

	if (j != NULL && (l->head = j->next) == NULL)
		l->tail = NULL;
	return j;
}

static int
sync_fd(int fd)
{
	int err = fdatasync(fd) < 0 ? errno : 0;

	close(fd);
	return err;
}

static void *
run(void *arg)
{
	static const uint64_t one = 1;
	struct job *j;

	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		while (todo.head == NULL && !stopping) {
			busy = false;
			pthread_cond_broadcast(&idle);
			pthread_cond_wait(&more, &lock);
		}
		if ((j = pop(&todo)) == NULL)
			break;
		busy = true;
		pthread_mutex_unlock(&lock);
		j->err = sync_fd(j->fd);
		pthread_mutex_lock(&lock);
		push(&done, j);
		/* The counter only grows: a write cannot block or fail here
		 * short of a counter at 2^64 - 2. */
		if (write(efd, &one, sizeof(one)) < 0)
			log_warn("syncer: eventfd");
	}
	busy = false;
	pthread_cond_broadcast(&idle);
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* Calls back for every result in, in the order of the syncs. */
static void
deliver(void)
{
	struct jobs got;
	struct job *j;

	pthread_mutex_lock(&lock);
	got = done;
	done = (struct jobs){ 0 };
	pthread_mutex_unlock(&lock);
	while ((j = pop(&got)) != NULL) {
		j->fn(j->cookie, j->gen, j->err);
		free(j);
	}
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;

	(void)what;
	(void)arg;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("syncer: eventfd");
	deliver();
}

int
syncer_start(struct event_base *base)
{
	int rc;

	if ((efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		return -1;
	if ((ev = event_new(base, efd, EV_READ | EV_PERSIST, on_done,
	    NULL)) == NULL || event_add(ev, NULL) < 0)
		goto fail;
	if ((rc = pthread_create(&thread, NULL, run, NULL)) != 0) {
		errno = rc;
		goto fail;
	}
	running = true;
	return 0;
fail:
	rc = errno;
	if (ev != NULL)
		event_free(ev);
	ev = NULL;
	close(efd);
	efd = -1;
	errno = rc;
	return -1;
}

void
syncer_sync(int fd, uint64_t gen, syncer_fn fn, void *cookie)
{
	struct job *j;

	if (!running || (j = malloc(sizeof(*j))) == NULL) {
		fn(cookie, gen, sync_fd(fd));
		return;
	}
	*j = (struct job){ .fd = fd, .gen = gen, .fn = fn, .cookie = cookie };
	pthread_mutex_lock(&lock);
	push(&todo, j);
	pthread_cond_signal(&more);
	pthread_mutex_unlock(&lock);
}

void
syncer_wait(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	while (todo.head != NULL || busy)
		pthread_cond_wait(&idle, &lock);
	pthread_mutex_unlock(&lock);
	deliver();
}

void
syncer_stop(void)
{
	if (!running)
		return;
	syncer_wait();
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_signal(&more);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	running = false;
	event_free(ev);
	ev = NULL;
	close(efd);
	efd = -1;
}

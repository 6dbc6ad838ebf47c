/*
 * worker.c - see worker.h.
 *
 * Two lists under one mutex: "todo" (taken by pool threads) and "done"
 * (taken by the loop).  A pool thread moves a finished job to "done" and
 * bumps the eventfd; the loop's read callback runs done() for each.  The
 * pending count covers a job from submit until its done() returned, which is
 * what drain waits on.
 */
#include "ht_build.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "worker.h"

struct job {
	struct job *next;
	ht_work_fn work;
	ht_done_fn done;
	void *arg;
};

struct joblist {
	struct job *head, *tail;
};

struct ht_worker {
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* todo non-empty or stopping */
	pthread_cond_t finished;	/* a job moved to done (for drain) */
	struct joblist todo, done;
	unsigned pending;
	int stopping;
	int efd;
	struct event *ev;
	pthread_t *threads;
	unsigned nthreads;
	char name[16];
};

static void
joblist_push(struct joblist *l, struct job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct job *
joblist_pop(struct joblist *l)
{
	struct job *j = l->head;

	if (j) {
		l->head = j->next;
		if (l->head == NULL)
			l->tail = NULL;
	}
	return j;
}

static void *
worker_thread(void *arg)
{
	struct ht_worker *w = arg;
	uint64_t one = 1;

	pthread_setname_np(pthread_self(), w->name);
	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct job *j;

		while (w->todo.head == NULL && !w->stopping)
			pthread_cond_wait(&w->wake, &w->lock);
		j = joblist_pop(&w->todo);
		if (j == NULL)
			break;
		pthread_mutex_unlock(&w->lock);
		j->work(j->arg);
		pthread_mutex_lock(&w->lock);
		joblist_push(&w->done, j);
		pthread_cond_broadcast(&w->finished);
		(void)!write(w->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Run done() for every finished job; called on the loop thread. */
static void
worker_run_done(struct ht_worker *w)
{
	struct joblist done;
	struct job *j;

	pthread_mutex_lock(&w->lock);
	done = w->done;
	w->done.head = w->done.tail = NULL;
	pthread_mutex_unlock(&w->lock);
	while ((j = joblist_pop(&done)) != NULL) {
		if (j->done)
			j->done(j->arg);
		free(j);
		pthread_mutex_lock(&w->lock);
		w->pending--;
		pthread_mutex_unlock(&w->lock);
	}
}

static void
worker_eventfd_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;

	(void)!read(fd, &n, sizeof(n));
	worker_run_done(arg);
}

int
ht_worker_new(struct event_base *base, unsigned nthreads, const char *name,
    struct ht_worker **ret)
{
	struct ht_worker *w;
	int r = -ENOMEM;

	if (nthreads < 1 || nthreads > 16)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->efd = -1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	pthread_cond_init(&w->finished, NULL);
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		r = -errno;
		goto fail;
	}
	w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, worker_eventfd_cb, w);
	w->threads = calloc(nthreads, sizeof(*w->threads));
	if (w->ev == NULL || w->threads == NULL || event_add(w->ev, NULL) < 0)
		goto fail;
	for (; w->nthreads < nthreads; w->nthreads++) {
		r = -pthread_create(&w->threads[w->nthreads], NULL, worker_thread, w);
		if (r < 0)
			goto fail;
	}
	*ret = w;
	return 0;
fail:
	ht_worker_free(w);
	return r;
}

int
ht_worker_submit(struct ht_worker *w, ht_work_fn work, ht_done_fn done, void *arg)
{
	struct job *j = malloc(sizeof(*j));

	if (j == NULL)
		return -ENOMEM;
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&w->lock);
	joblist_push(&w->todo, j);
	w->pending++;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

unsigned
ht_worker_pending(const struct ht_worker *w)
{
	return w->pending;
}

void
ht_worker_drain(struct ht_worker *w)
{
	for (;;) {
		pthread_mutex_lock(&w->lock);
		if (w->pending == 0) {
			pthread_mutex_unlock(&w->lock);
			return;
		}
		while (w->done.head == NULL)
			pthread_cond_wait(&w->finished, &w->lock);
		pthread_mutex_unlock(&w->lock);
		/* done() may submit follow-up jobs; the loop re-checks pending. */
		worker_run_done(w);
	}
}

void
ht_worker_free(struct ht_worker *w)
{
	if (w == NULL)
		return;
	if (w->nthreads)
		ht_worker_drain(w);
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	if (w->ev)
		event_free(w->ev);
	if (w->efd >= 0)
		close(w->efd);
	free(w->threads);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->finished);
	free(w);
}

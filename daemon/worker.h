/*
 * worker.h - a small pool of threads for work that must not run on the event
 * loop: fsync, gzip, hashing.  A job's work() runs on a pool thread; its
 * done() then runs on the loop thread, woken through an eventfd, so results
 * are handled with no locking in the modules that submit jobs.
 *
 * Jobs run in submission order when the pool has one thread (history's
 * syncer relies on that); with more threads they may overlap.
 */
#ifndef HT_WORKER_H
#define HT_WORKER_H

struct event_base;
struct ht_worker;

typedef void (*ht_work_fn)(void *arg);	/* on a pool thread; must not touch the loop */
typedef void (*ht_done_fn)(void *arg);	/* on the loop thread, after work() returned */

/* A pool of nthreads (1-16) bound to base.  0 with *ret set, or -errno. */
int ht_worker_new(struct event_base *base, unsigned nthreads, const char *name,
    struct ht_worker **ret);
/* Queue a job.  done may be NULL.  0 or -ENOMEM (nothing queued). */
int ht_worker_submit(struct ht_worker *w, ht_work_fn work, ht_done_fn done, void *arg);
/* Jobs queued or running whose done() has not run yet. */
unsigned ht_worker_pending(const struct ht_worker *w);
/* Block the calling (loop) thread until every queued job has run and its
 * done() was called.  For shutdown and tests. */
void ht_worker_drain(struct ht_worker *w);
/* Drain, stop the threads and free.  NULL is a no-op. */
void ht_worker_free(struct ht_worker *w);

#endif

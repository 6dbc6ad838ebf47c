/*
 * test_worker.c - daemon/worker.c: work() runs on a pool thread, done() on
 * the loop thread and only from the loop (or drain); drain waits for every
 * job, including ones submitted by done(); 1000 jobs on several threads
 * each complete exactly once; a one-thread pool keeps submission order;
 * free runs what is still queued.
 */
#include "ht_build.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <event2/event.h>

#include "worker.h"

#define NJOBS 1000

struct fixture {
	struct event_base *base;
	pthread_t loop_thread;
};

struct job {
	struct fixture *fx;
	struct ht_worker *w;
	int id;
	atomic_int worked;		/* work() calls */
	int done;			/* done() calls (loop thread only) */
	atomic_bool work_on_loop;	/* work() ran on the loop thread */
	bool done_off_loop;		/* done() ran on another thread */
	bool done_before_work;		/* done() ran before work() finished */
	int chain;			/* done() submits a follow-up while > 0 */
};

/* Submission order seen by a one-thread pool. */
static int order[NJOBS];
static atomic_int order_n;
static int total_done;

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	fx->base = event_base_new();
	if (fx->base == NULL)
		return -1;
	fx->loop_thread = pthread_self();
	atomic_store(&order_n, 0);
	total_done = 0;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	event_base_free(fx->base);
	free(fx);
	return 0;
}

static void
work_fn(void *arg)
{
	struct job *j = arg;

	if (pthread_equal(pthread_self(), j->fx->loop_thread))
		atomic_store(&j->work_on_loop, true);
	order[atomic_fetch_add(&order_n, 1) % NJOBS] = j->id;
	/* A little real work, so jobs overlap on several threads. */
	for (volatile int i = 0; i < 1000; i++)
		;
	atomic_fetch_add(&j->worked, 1);
}

static void follow_up(struct job *j);

static void
done_fn(void *arg)
{
	struct job *j = arg;

	if (!pthread_equal(pthread_self(), j->fx->loop_thread))
		j->done_off_loop = true;
	if (atomic_load(&j->worked) == 0)
		j->done_before_work = true;
	j->done++;
	total_done++;
	if (j->chain > 0)
		follow_up(j);
}

/* Resubmit the same job (done() submitting follow-up work). */
static void
follow_up(struct job *j)
{
	j->chain--;
	atomic_store(&j->worked, 0);
	assert_int_equal(ht_worker_submit(j->w, work_fn, done_fn, j), 0);
}

static void
safety_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(bool *)arg = true;
}

/* Run the loop until total_done reaches target; fail after 10 s. */
static void
loop_until_done(struct event_base *base, int target)
{
	struct timeval tv = { 10, 0 };
	bool expired = false;
	struct event *safety = evtimer_new(base, safety_cb, &expired);

	assert_non_null(safety);
	evtimer_add(safety, &tv);
	while (total_done < target && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(safety);
	assert_false(expired);
}

/* Wait (without the loop) until every job's work() ran; fail after 10 s. */
static void
wait_worked(struct job *jobs, int n)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (int i = 0; i < n; i++) {
		while (atomic_load(&jobs[i].worked) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			assert_true(now.tv_sec - start.tv_sec < 10);
			sched_yield();
		}
	}
}

static struct job *
jobs_new(struct fixture *fx, struct ht_worker *w, int n)
{
	struct job *jobs = calloc((size_t)n, sizeof(*jobs));

	assert_non_null(jobs);
	for (int i = 0; i < n; i++) {
		jobs[i].fx = fx;
		jobs[i].w = w;
		jobs[i].id = i;
	}
	return jobs;
}

static void
expect_all_once(const struct job *jobs, int n, int done_each)
{
	for (int i = 0; i < n; i++) {
		assert_int_equal(atomic_load(&jobs[i].worked), 1);
		assert_int_equal(jobs[i].done, done_each);
		assert_false(atomic_load(&jobs[i].work_on_loop));
		assert_false(jobs[i].done_off_loop);
		assert_false(jobs[i].done_before_work);
	}
}

static void
test_threads(void **state)
{
	struct fixture *fx = *state;
	struct ht_worker *w = NULL;
	struct job *jobs;

	assert_int_equal(ht_worker_new(fx->base, 2, "t-threads", &w), 0);
	jobs = jobs_new(fx, w, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(ht_worker_submit(w, work_fn, done_fn, &jobs[i]), 0);
	assert_true(ht_worker_pending(w) > 0);
	/* Work happens without the loop; done() waits for it. */
	wait_worked(jobs, 8);
	assert_int_equal(total_done, 0);
	assert_int_equal(ht_worker_pending(w), 8);
	loop_until_done(fx->base, 8);
	expect_all_once(jobs, 8, 1);
	assert_int_equal(ht_worker_pending(w), 0);
	ht_worker_free(w);
	free(jobs);
}

static void
test_drain(void **state)
{
	struct fixture *fx = *state;
	struct ht_worker *w = NULL;
	struct job *jobs;

	assert_int_equal(ht_worker_new(fx->base, 3, "t-drain", &w), 0);
	jobs = jobs_new(fx, w, 100);
	for (int i = 0; i < 100; i++)
		assert_int_equal(ht_worker_submit(w, work_fn, done_fn, &jobs[i]), 0);
	ht_worker_drain(w);
	assert_int_equal(ht_worker_pending(w), 0);
	assert_int_equal(total_done, 100);
	expect_all_once(jobs, 100, 1);
	/* Nothing runs again afterwards. */
	event_base_loop(fx->base, EVLOOP_NONBLOCK);
	assert_int_equal(total_done, 100);
	/* Drain with nothing pending returns at once. */
	ht_worker_drain(w);
	ht_worker_free(w);
	free(jobs);
}

/* done() submitting more work: drain waits for the follow-ups too. */
static void
test_drain_follow_ups(void **state)
{
	struct fixture *fx = *state;
	struct ht_worker *w = NULL;
	struct job *jobs;

	assert_int_equal(ht_worker_new(fx->base, 2, "t-chain", &w), 0);
	jobs = jobs_new(fx, w, 10);
	for (int i = 0; i < 10; i++) {
		jobs[i].chain = 5;
		assert_int_equal(ht_worker_submit(w, work_fn, done_fn, &jobs[i]), 0);
	}
	ht_worker_drain(w);
	assert_int_equal(ht_worker_pending(w), 0);
	assert_int_equal(total_done, 60);
	expect_all_once(jobs, 10, 6);
	ht_worker_free(w);
	free(jobs);
}

static void
test_thousand_jobs(void **state)
{
	struct fixture *fx = *state;
	struct ht_worker *w = NULL;
	struct job *jobs;

	assert_int_equal(ht_worker_new(fx->base, 4, "t-many", &w), 0);
	jobs = jobs_new(fx, w, NJOBS);
	for (int i = 0; i < NJOBS; i++)
		assert_int_equal(ht_worker_submit(w, work_fn, done_fn, &jobs[i]), 0);
	loop_until_done(fx->base, NJOBS);
	assert_int_equal(ht_worker_pending(w), 0);
	expect_all_once(jobs, NJOBS, 1);
	/* A second wave on the same pool. */
	for (int i = 0; i < NJOBS; i++) {
		atomic_store(&jobs[i].worked, 0);
		assert_int_equal(ht_worker_submit(w, work_fn, done_fn, &jobs[i]), 0);
	}
	loop_until_done(fx->base, 2 * NJOBS);
	expect_all_once(jobs, NJOBS, 2);
	ht_worker_free(w);
	free(jobs);
}

static void
test_single_thread_order(void **state)
{
	struct fixture *fx = *state;
	struct ht_worker *w = NULL;
	struct job *jobs;

	assert_int_equal(ht_worker_new(fx->base, 1, "t-order", &w), 0);
	jobs = jobs_new(fx, w, 500);
	for (int i = 0; i < 500; i++)
		assert_int_equal(ht_worker_submit(w, work_fn, done_fn, &jobs[i]), 0);
	loop_until_done(fx->base, 500);
	assert_int_equal(atomic_load(&order_n), 500);
	for (int i = 0; i < 500; i++)
		assert_int_equal(order[i], i);
	ht_worker_free(w);
	free(jobs);
}

/* done may be NULL; free runs what is still queued. */
static void
test_null_done_and_free(void **state)
{
	struct fixture *fx = *state;
	struct ht_worker *w = NULL;
	struct job *jobs;

	assert_int_equal(ht_worker_new(fx->base, 2, "t-free", &w), 0);
	jobs = jobs_new(fx, w, 50);
	for (int i = 0; i < 25; i++)
		assert_int_equal(ht_worker_submit(w, work_fn, NULL, &jobs[i]), 0);
	for (int i = 25; i < 50; i++)
		assert_int_equal(ht_worker_submit(w, work_fn, done_fn, &jobs[i]), 0);
	ht_worker_free(w);
	for (int i = 0; i < 50; i++)
		assert_int_equal(atomic_load(&jobs[i].worked), 1);
	assert_int_equal(total_done, 25);
	for (int i = 25; i < 50; i++)
		assert_int_equal(jobs[i].done, 1);
	free(jobs);
}

static void
test_bad_args(void **state)
{
	struct fixture *fx = *state;
	struct ht_worker *w = (struct ht_worker *)fx;

	assert_int_equal(ht_worker_new(fx->base, 0, "t", &w), -EINVAL);
	assert_int_equal(ht_worker_new(fx->base, 17, "t", &w), -EINVAL);
	assert_ptr_equal(w, (struct ht_worker *)fx);
	/* A long name is cut to what a thread name holds, not refused. */
	assert_int_equal(ht_worker_new(fx->base, 16, "a-rather-long-pool-name", &w), 0);
	ht_worker_free(w);
	ht_worker_free(NULL);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_threads),
		T(test_drain),
		T(test_drain_follow_ups),
		T(test_thousand_jobs),
		T(test_single_thread_order),
		T(test_null_done_and_free),
		T(test_bad_args),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}

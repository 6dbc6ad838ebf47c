/*
 * test_history.c - daemon/history/history.c over a real event_base: appends
 * under every fsync policy are acknowledged exactly once with 0; scan
 * returns every record in order with the right seq, also across a reopen
 * (seq continues), between positions in the middle, and when told to stop
 * early (reached is right); an injected clock that crosses midnight starts a
 * second segment and scan crosses it; a clock going back keeps appending to
 * the newest segment; a torn tail is truncated at reopen; the grow listener
 * gets n and bytes; a refused append writes nothing and calls nobody.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "conf.h"
#include "history/history.h"
#include "history/segment.h"

#define DAY1 20240501u
#define DAY2 20240502u
#define DAY3 20240503u
#define T_DAY1 1714521600	/* 2024-05-01T00:00:00Z */
#define T_DAY2 (T_DAY1 + 86400)
#define T_DAY3 (T_DAY2 + 86400)
#define MAX_RECS 4096

/* The injected clock (now_fn takes no argument, so it is a global). */
static int64_t fake_now;

static int64_t
fake_clock(void)
{
	return fake_now;
}

/* fdatasync(2), seen from the history module: this definition interposes
 * on libc's for the statically linked module, so tests can count syncs and
 * make them fail.  Called on the syncer thread, hence atomics. */
static atomic_int n_fdatasync;
static atomic_int fail_fdatasync;

int
fdatasync(int fd)
{
	atomic_fetch_add(&n_fdatasync, 1);
	if (atomic_load(&fail_fdatasync)) {
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fdatasync, fd);
}

struct fixture {
	char dir[64];
	char hdir[128];
	struct event_base *base;
	struct ht_history *h;
	struct ht_conf_history conf;
	/* grow listener */
	unsigned grew_calls;
	size_t grew_n;
	uint64_t grew_bytes;
};

struct ack {
	int calls;
	int err;
};

/* What a scan saw. */
struct seen {
	size_t n;
	uint64_t seq[MAX_RECS];
	char *data[MAX_RECS];
	size_t stop_after;		/* return stop_with after this many (0 = never) */
	int stop_with;			/* HT_SCAN_STOP (default) or HT_SCAN_STOP_BEFORE */
	int fail_with;			/* return this on the first record if != 0 */
};

/* Scan results a failed assertion left behind, freed by teardown so that
 * a failing test does not also report leaks. */
static struct seen *live[4];

static void seen_free(struct seen *s);

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	strcpy(fx->dir, "/tmp/test_history.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	/* A directory history must create itself. */
	snprintf(fx->hdir, sizeof(fx->hdir), "%s/state/history", fx->dir);
	fx->base = event_base_new();
	if (fx->base == NULL)
		return -1;
	fx->conf.retention_days = 90;
	fx->conf.fsync = HT_FSYNC_INTERVAL;
	fx->conf.fsync_interval_ms = 1000;
	fake_now = T_DAY1 + 3600;
	atomic_store(&n_fdatasync, 0);
	atomic_store(&fail_fdatasync, 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	ht_history_close(fx->h);
	event_base_free(fx->base);
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		seen_free(live[i]);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static void
safety_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(bool *)arg = true;
}

/* Run the loop one round at a time until *counter reaches target; fails
 * (rather than hangs) if that takes more than 10 s. */
static void
loop_until(struct event_base *base, const int *counter, int target)
{
	struct timeval tv = { 10, 0 };
	bool expired = false;
	struct event *safety = evtimer_new(base, safety_cb, &expired);

	assert_non_null(safety);
	evtimer_add(safety, &tv);
	while (*counter < target && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(safety);
	assert_false(expired);
}

struct poll_wait {
	struct event_base *base;
	int target;
	bool done;
};

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct poll_wait *p = arg;

	(void)fd;
	(void)what;
	if (atomic_load(&n_fdatasync) >= p->target) {
		p->done = true;
		event_base_loopbreak(p->base);
	}
}

static void
limit_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Run the loop until fdatasync was called target times in all; false if
 * that did not happen within limit_s seconds.  (Our own limit timer, not
 * event_base_loopexit: that cannot be cancelled once the wait ends early.) */
static bool
loop_until_syncs(struct event_base *base, int target, int limit_s)
{
	struct poll_wait p = { base, target, false };
	struct timeval tick = { 0, 5000 }, limit = { limit_s, 0 };
	struct event *ev = event_new(base, -1, EV_PERSIST, poll_cb, &p);
	struct event *lim = evtimer_new(base, limit_cb, base);

	assert_non_null(ev);
	assert_non_null(lim);
	event_add(ev, &tick);
	evtimer_add(lim, &limit);
	event_base_loop(base, 0);
	event_free(ev);
	event_free(lim);
	return p.done;
}

/* Give pending events (timers at 0, eventfd wakeups) a chance to run. */
static void
loop_briefly(struct event_base *base, int ms)
{
	struct timeval tv = { 0, ms * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
durable_cb(int err, void *arg)
{
	struct ack *a = arg;

	a->calls++;
	a->err = err;
}

static void
grew_cb(size_t n, uint64_t bytes, void *arg)
{
	struct fixture *fx = arg;

	fx->grew_calls++;
	fx->grew_n = n;
	fx->grew_bytes = bytes;
}

static void
open_history(struct fixture *fx)
{
	fx->h = NULL;
	assert_int_equal(ht_history_open(fx->hdir, &fx->conf, fx->base, fake_clock, &fx->h), 0);
	assert_non_null(fx->h);
	assert_string_equal(ht_history_dir(fx->h), fx->hdir);
}

static void
close_history(struct fixture *fx)
{
	ht_history_close(fx->h);
	fx->h = NULL;
}

/* The JSON of record seq. */
static size_t
rec_text(uint64_t seq, char *buf, size_t len)
{
	return (size_t)snprintf(buf, len, "{\"eventID\":\"e-%llu\",\"n\":%llu}",
	    (unsigned long long)seq, (unsigned long long)(seq * seq));
}

/* Append records first..first+n-1 as one batch (seq is checked: history
 * must number them so).  Does not wait for durability. */
static void
append_batch(struct fixture *fx, uint64_t first, size_t n, struct ack *a)
{
	struct iovec iov[64];
	char text[64][64];

	assert_true(n <= 64);
	assert_int_equal(ht_history_next_seq(fx->h), first);
	for (size_t i = 0; i < n; i++) {
		iov[i].iov_len = rec_text(first + i, text[i], sizeof(text[i]));
		iov[i].iov_base = text[i];
	}
	assert_int_equal(ht_history_append(fx->h, iov, n, durable_cb, a), 0);
	assert_int_equal(ht_history_next_seq(fx->h), first + n);
}

/* Append and wait for the acknowledgement. */
static void
append_durable(struct fixture *fx, uint64_t first, size_t n)
{
	struct ack a = { 0, 1 };

	append_batch(fx, first, n, &a);
	loop_until(fx->base, &a.calls, 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.err, 0);
}

static int
scan_cb(uint64_t seq, uint32_t flags, const char *data, size_t len, void *arg)
{
	struct seen *s = arg;

	if (s->fail_with != 0)
		return s->fail_with;
	/* STOP_BEFORE: the record that stops the scan is not taken. */
	if (s->stop_with == HT_SCAN_STOP_BEFORE && s->stop_after && s->n >= s->stop_after)
		return HT_SCAN_STOP_BEFORE;
	assert_true(s->n < MAX_RECS);
	s->seq[s->n] = seq;
	s->data[s->n] = strndup(data, len);
	assert_non_null(s->data[s->n]);
	s->n++;
	if (s->stop_with != HT_SCAN_STOP_BEFORE && s->stop_after && s->n >= s->stop_after)
		return HT_SCAN_STOP;
	return HT_SCAN_NEXT;
}

static struct seen *
seen_new(void)
{
	struct seen *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		if (live[i] == NULL) {
			live[i] = s;
			return s;
		}
	}
	fail_msg("too many scan results alive");
	return NULL;
}

static void
seen_free(struct seen *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (live[i] == s)
			live[i] = NULL;
	for (size_t i = 0; i < s->n; i++)
		free(s->data[i]);
	free(s);
}

/* Scan [from, to) and check exactly seq first..last came back, with their
 * text.  Returns what was seen (free with seen_free) and reached. */
static struct seen *
expect_scan(const char *dir, const struct ht_history_pos *from, const struct ht_history_pos *to,
    uint64_t first, uint64_t last, size_t stop_after, struct ht_history_pos *ret_reached)
{
	struct seen *s = seen_new();
	struct ht_history_pos reached;
	uint64_t damaged = 0;
	char buf[64];

	assert_non_null(s);
	s->stop_after = stop_after;
	assert_int_equal(ht_history_scan(dir, from, to, scan_cb, s, &reached, &damaged), 0);
	assert_int_equal(damaged, 0);
	assert_int_equal(s->n, last + 1 - first);
	for (size_t i = 0; i < s->n; i++) {
		assert_int_equal(s->seq[i], first + i);
		rec_text(first + i, buf, sizeof(buf));
		assert_string_equal(s->data[i], buf);
	}
	if (ret_reached)
		*ret_reached = reached;
	return s;
}

static void
segment_path(const struct fixture *fx, uint32_t day, char *buf, size_t len)
{
	ht_history_segment_path(fx->hdir, day, buf, len);
}

static bool
segment_exists(const struct fixture *fx, uint32_t day)
{
	char path[PATH_MAX];
	struct stat st;

	segment_path(fx, day, path, sizeof(path));
	return stat(path, &st) == 0;
}

static const struct ht_history_pos pos_begin = { 0, 0 };

/* ---- tests ---- */

static void
test_helpers(void **state)
{
	struct ht_history_pos a = { DAY1, 100 }, b = { DAY1, 200 }, c = { DAY2, 16 };
	char path[PATH_MAX];

	(void)state;
	assert_int_equal(ht_history_day_of(T_DAY1), DAY1);
	assert_int_equal(ht_history_day_of(T_DAY2 - 1), DAY1);
	assert_int_equal(ht_history_day_of(T_DAY2), DAY2);
	assert_int_equal(ht_history_day_of(951782400), 20000229);
	assert_int_equal(ht_history_pos_cmp(&a, &b), -1);
	assert_int_equal(ht_history_pos_cmp(&b, &a), 1);
	assert_int_equal(ht_history_pos_cmp(&b, &c), -1);
	assert_int_equal(ht_history_pos_cmp(&c, &a), 1);
	assert_int_equal(ht_history_pos_cmp(&a, &a), 0);
	ht_history_segment_path("/x/y", DAY1, path, sizeof(path));
	assert_string_equal(path, "/x/y/20240501.seg");
	ht_history_close(NULL);
}

/* Append batches under policy, check acks and a full scan. */
static void
run_policy(struct fixture *fx, enum ht_fsync_policy policy)
{
	struct ht_history_pos end, reached;
	struct ack acks[4] = { { 0, 1 }, { 0, 1 }, { 0, 1 }, { 0, 1 } };
	static const size_t sizes[4] = { 1, 5, 17, 64 };
	uint64_t seq = 1;
	struct seen *s;
	int total = 0;

	fx->conf.fsync = policy;
	fx->conf.fsync_interval_ms = 20;
	open_history(fx);
	ht_history_end(fx->h, &end);
	assert_int_equal(end.day, DAY1);
	assert_int_equal(end.offset, HT_SEG_HEADER_LEN);
	assert_int_equal(ht_history_next_seq(fx->h), 1);
	assert_int_equal(ht_history_appended(fx->h), 0);

	/* Several appends before the loop runs: under "always" they share
	 * fsyncs, and each is still acknowledged exactly once. */
	for (int i = 0; i < 4; i++) {
		append_batch(fx, seq, sizes[i], &acks[i]);
		seq += sizes[i];
	}
	for (int i = 0; i < 4; i++) {
		loop_until(fx->base, &acks[i].calls, 1);
		assert_int_equal(acks[i].err, 0);
	}
	/* Run a little longer: no acknowledgement comes twice (the interval
	 * timer fires in this time under "interval"). */
	loop_briefly(fx->base, 60);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(acks[i].calls, 1);
		total += acks[i].calls;
	}
	assert_int_equal(total, 4);
	assert_int_equal(ht_history_appended(fx->h), seq - 1);

	ht_history_end(fx->h, &end);
	assert_int_equal(end.day, DAY1);
	s = expect_scan(fx->hdir, &pos_begin, &end, 1, seq - 1, 0, &reached);
	assert_int_equal(ht_history_pos_cmp(&reached, &end), 0);
	seen_free(s);
	assert_int_equal(ht_history_sync(fx->h), 0);
	close_history(fx);
	for (int i = 0; i < 4; i++)
		assert_int_equal(acks[i].calls, 1);
}

static void
test_policy_always(void **state)
{
	run_policy(*state, HT_FSYNC_ALWAYS);
}

static void
test_policy_interval(void **state)
{
	run_policy(*state, HT_FSYNC_INTERVAL);
}

static void
test_policy_off(void **state)
{
	run_policy(*state, HT_FSYNC_OFF);
}

/* "always" acknowledges only after an fsync covering the records. */
static void
test_always_syncs_before_ack(void **state)
{
	struct fixture *fx = *state;
	struct ack a = { 0, 1 };
	int before;

	fx->conf.fsync = HT_FSYNC_ALWAYS;
	open_history(fx);
	before = atomic_load(&n_fdatasync);
	append_batch(fx, 1, 2, &a);
	assert_int_equal(a.calls, 0);
	loop_until(fx->base, &a.calls, 1);
	assert_int_equal(a.err, 0);
	assert_true(atomic_load(&n_fdatasync) > before);
}

/* A failed fsync under "always" is reported to durable(), once, < 0. */
static void
test_always_fsync_failure(void **state)
{
	struct fixture *fx = *state;
	struct ack a = { 0, 1 }, b = { 0, 1 };

	fx->conf.fsync = HT_FSYNC_ALWAYS;
	open_history(fx);
	atomic_store(&fail_fdatasync, 1);
	append_batch(fx, 1, 1, &a);
	loop_until(fx->base, &a.calls, 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.err, -EIO);
	atomic_store(&fail_fdatasync, 0);
	append_batch(fx, 2, 1, &b);
	loop_until(fx->base, &b.calls, 1);
	assert_int_equal(b.err, 0);
	loop_briefly(fx->base, 10);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
}

/* "off" never fsyncs on its own. */
static void
test_off_never_syncs(void **state)
{
	struct fixture *fx = *state;

	fx->conf.fsync = HT_FSYNC_OFF;
	fx->conf.fsync_interval_ms = 10;
	open_history(fx);
	append_durable(fx, 1, 3);
	loop_briefly(fx->base, 50);
	assert_int_equal(atomic_load(&n_fdatasync), 0);
}

/* "interval" fsyncs in the background every fsync_interval, not just once:
 * records appended after the first background sync are synced too. */
static void
test_interval_keeps_syncing(void **state)
{
	struct fixture *fx = *state;
	int n;

	fx->conf.fsync = HT_FSYNC_INTERVAL;
	fx->conf.fsync_interval_ms = 10;
	open_history(fx);
	append_durable(fx, 1, 1);
	/* Bounds are 100s of intervals: liveness, not timing. */
	assert_true(loop_until_syncs(fx->base, 1, 5));
	n = atomic_load(&n_fdatasync);
	append_durable(fx, 2, 1);
	assert_true(loop_until_syncs(fx->base, n + 1, 5));
	n = atomic_load(&n_fdatasync);
	append_durable(fx, 3, 1);
	assert_true(loop_until_syncs(fx->base, n + 1, 5));
}

/* Under "always", closing before the loop ran still acknowledges, once. */
static void
test_always_close_acks_once(void **state)
{
	struct fixture *fx = *state;
	struct ack a = { 0, 1 }, b = { 0, 1 };

	fx->conf.fsync = HT_FSYNC_ALWAYS;
	open_history(fx);
	append_batch(fx, 1, 3, &a);
	append_batch(fx, 4, 2, &b);
	close_history(fx);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.err, 0);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.err, 0);
	loop_briefly(fx->base, 10);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
}

/* Switching policy on a live history (reload). */
static void
test_set_conf(void **state)
{
	struct fixture *fx = *state;
	struct ht_history_pos end;
	struct seen *s;

	fx->conf.fsync = HT_FSYNC_OFF;
	open_history(fx);
	append_durable(fx, 1, 2);
	fx->conf.fsync = HT_FSYNC_ALWAYS;
	ht_history_set_conf(fx->h, &fx->conf);
	append_durable(fx, 3, 2);
	fx->conf.fsync = HT_FSYNC_INTERVAL;
	fx->conf.fsync_interval_ms = 10;
	ht_history_set_conf(fx->h, &fx->conf);
	append_durable(fx, 5, 2);
	loop_briefly(fx->base, 30);
	ht_history_end(fx->h, &end);
	s = expect_scan(fx->hdir, &pos_begin, &end, 1, 6, 0, NULL);
	seen_free(s);
}

static void
test_reopen_seq_continues(void **state)
{
	struct fixture *fx = *state;
	struct ht_history_pos end, mid;
	struct seen *s;

	open_history(fx);
	append_durable(fx, 1, 5);
	ht_history_end(fx->h, &mid);
	close_history(fx);

	open_history(fx);
	assert_int_equal(ht_history_next_seq(fx->h), 6);
	assert_int_equal(ht_history_appended(fx->h), 0);
	ht_history_end(fx->h, &end);
	assert_int_equal(ht_history_pos_cmp(&end, &mid), 0);
	append_durable(fx, 6, 3);
	assert_int_equal(ht_history_appended(fx->h), 3);
	close_history(fx);

	/* Reopen once more and scan everything. */
	open_history(fx);
	assert_int_equal(ht_history_next_seq(fx->h), 9);
	ht_history_end(fx->h, &end);
	s = expect_scan(fx->hdir, &pos_begin, &end, 1, 8, 0, NULL);
	seen_free(s);
	/* From the old end: only what came after the reopen. */
	s = expect_scan(fx->hdir, &mid, &end, 6, 8, 0, NULL);
	seen_free(s);
}

static void
test_scan_ranges(void **state)
{
	struct fixture *fx = *state;
	struct ht_history_pos pos[11], reached;
	struct seen *s;

	open_history(fx);
	/* One record per append, so pos[i] is the position after record i. */
	ht_history_end(fx->h, &pos[0]);
	for (uint64_t i = 1; i <= 10; i++) {
		append_durable(fx, i, 1);
		ht_history_end(fx->h, &pos[i]);
		assert_int_equal(ht_history_pos_cmp(&pos[i - 1], &pos[i]), -1);
	}
	/* [pos[3], pos[7]) holds records 4..7. */
	s = expect_scan(fx->hdir, &pos[3], &pos[7], 4, 7, 0, &reached);
	assert_int_equal(ht_history_pos_cmp(&reached, &pos[7]), 0);
	seen_free(s);
	/* The header position is the start too. */
	s = expect_scan(fx->hdir, &pos[0], &pos[2], 1, 2, 0, &reached);
	seen_free(s);
	/* Empty and inverted ranges visit nothing and reach from. */
	s = expect_scan(fx->hdir, &pos[5], &pos[5], 1, 0, 0, &reached);
	assert_int_equal(ht_history_pos_cmp(&reached, &pos[5]), 0);
	seen_free(s);
	s = expect_scan(fx->hdir, &pos[6], &pos[2], 1, 0, 0, &reached);
	assert_int_equal(ht_history_pos_cmp(&reached, &pos[6]), 0);
	seen_free(s);

	/* Stopping after the 3rd record from pos[2]: reached is after record 5,
	 * and scanning on from there gives the rest. */
	s = expect_scan(fx->hdir, &pos[2], &pos[10], 3, 5, 3, &reached);
	assert_int_equal(ht_history_pos_cmp(&reached, &pos[5]), 0);
	seen_free(s);
	s = expect_scan(fx->hdir, &reached, &pos[10], 6, 10, 0, &reached);
	assert_int_equal(ht_history_pos_cmp(&reached, &pos[10]), 0);
	seen_free(s);
	/* Stopping on the last record of the range: reached is its end. */
	s = expect_scan(fx->hdir, &pos[8], &pos[10], 9, 10, 2, &reached);
	assert_int_equal(ht_history_pos_cmp(&reached, &pos[10]), 0);
	seen_free(s);

	/* HT_SCAN_STOP_BEFORE on the 4th record from pos[2] (record 7): records
	 * 3..6 are taken and reached is after record 6, not 7. */
	s = seen_new();
	s->stop_after = 4;
	s->stop_with = HT_SCAN_STOP_BEFORE;
	assert_int_equal(ht_history_scan(fx->hdir, &pos[2], &pos[10], scan_cb, s, &reached,
	    NULL), 0);
	assert_int_equal(s->n, 4);
	assert_int_equal(s->seq[0], 3);
	assert_int_equal(s->seq[3], 6);
	assert_int_equal(ht_history_pos_cmp(&reached, &pos[6]), 0);
	seen_free(s);
	/* ...and on the very first record: nothing taken, reached is from. */
	s = seen_new();
	s->fail_with = HT_SCAN_STOP_BEFORE;
	assert_int_equal(ht_history_scan(fx->hdir, &pos[2], &pos[10], scan_cb, s, &reached,
	    NULL), 0);
	assert_int_equal(s->n, 0);
	assert_int_equal(ht_history_pos_cmp(&reached, &pos[2]), 0);
	seen_free(s);

	/* An error from fn aborts the scan and is returned. */
	s = seen_new();
	assert_non_null(s);
	s->fail_with = -ECANCELED;
	assert_int_equal(ht_history_scan(fx->hdir, &pos[0], &pos[10], scan_cb, s, &reached,
	    NULL), -ECANCELED);
	seen_free(s);
}

/* An empty range is a successful scan of no frames: *ret_damaged is 0 and
 * *ret_reached is from, like any other successful scan writes them. */
static void
test_scan_empty_range_outputs(void **state)
{
	struct fixture *fx = *state;
	struct ht_history_pos end, reached = { 1, 1 };
	uint64_t damaged = 99;
	struct seen *s = seen_new();

	assert_non_null(s);
	open_history(fx);
	append_durable(fx, 1, 2);
	ht_history_end(fx->h, &end);
	assert_int_equal(ht_history_scan(fx->hdir, &end, &end, scan_cb, s, &reached, &damaged), 0);
	assert_int_equal(s->n, 0);
	assert_int_equal(ht_history_pos_cmp(&reached, &end), 0);
	assert_int_equal(damaged, 0);
	seen_free(s);
}

/* The clock crosses midnight: a second segment, and scan crosses it. */
static void
test_day_rollover(void **state)
{
	struct fixture *fx = *state;
	struct ht_history_pos d1_mid, d1_end, end, reached;
	struct seen *s;

	fx->conf.fsync = HT_FSYNC_ALWAYS;
	fake_now = T_DAY2 - 2;
	open_history(fx);
	append_durable(fx, 1, 3);
	ht_history_end(fx->h, &d1_mid);
	append_durable(fx, 4, 2);
	ht_history_end(fx->h, &d1_end);
	assert_int_equal(d1_end.day, DAY1);
	assert_false(segment_exists(fx, DAY2));

	fake_now = T_DAY2 + 1;
	append_durable(fx, 6, 4);
	assert_true(segment_exists(fx, DAY2));
	ht_history_end(fx->h, &end);
	assert_int_equal(end.day, DAY2);
	assert_int_equal(end.offset > HT_SEG_HEADER_LEN, true);

	s = expect_scan(fx->hdir, &pos_begin, &end, 1, 9, 0, &reached);
	assert_int_equal(ht_history_pos_cmp(&reached, &end), 0);
	seen_free(s);
	/* From the middle of day 1 into day 2. */
	s = expect_scan(fx->hdir, &d1_mid, &end, 4, 9, 0, NULL);
	seen_free(s);
	/* From the end of day 1 (still in day 1's segment): day 2 only. */
	s = expect_scan(fx->hdir, &d1_end, &end, 6, 9, 0, NULL);
	seen_free(s);
	/* Up to the end of day 1 only. */
	s = expect_scan(fx->hdir, &pos_begin, &d1_end, 1, 5, 0, NULL);
	seen_free(s);
	/* Stopping at the last record of day 1 reaches day 1's end. */
	s = expect_scan(fx->hdir, &d1_mid, &end, 4, 5, 2, &reached);
	assert_int_equal(ht_history_pos_cmp(&reached, &d1_end), 0);
	seen_free(s);

	/* Skipping a day: day 3's file, no day-2-to-3 gap problems. */
	fake_now = T_DAY3 + 10;
	append_durable(fx, 10, 1);
	assert_true(segment_exists(fx, DAY3));
	close_history(fx);

	/* Reopen on day 3: seq continues. */
	open_history(fx);
	assert_int_equal(ht_history_next_seq(fx->h), 11);
	append_durable(fx, 11, 1);
	ht_history_end(fx->h, &end);
	s = expect_scan(fx->hdir, &pos_begin, &end, 1, 11, 0, NULL);
	seen_free(s);
}

/* The clock goes back a day: appends stay in the newest segment. */
static void
test_clock_backwards(void **state)
{
	struct fixture *fx = *state;
	struct ht_history_pos end, prev;
	struct seen *s;

	fake_now = T_DAY2 + 100;
	open_history(fx);
	append_durable(fx, 1, 2);
	fake_now = T_DAY1 + 100;
	append_durable(fx, 3, 2);
	ht_history_end(fx->h, &end);
	assert_int_equal(end.day, DAY2);
	assert_false(segment_exists(fx, DAY1));
	close_history(fx);

	/* Reopening with the clock still behind: the newest segment again. */
	open_history(fx);
	ht_history_end(fx->h, &prev);
	assert_int_equal(prev.day, DAY2);
	assert_int_equal(ht_history_pos_cmp(&prev, &end), 0);
	append_durable(fx, 5, 1);
	assert_false(segment_exists(fx, DAY1));
	ht_history_end(fx->h, &end);
	assert_int_equal(end.day, DAY2);
	s = expect_scan(fx->hdir, &pos_begin, &end, 1, 5, 0, NULL);
	seen_free(s);

	/* The clock catches up: day 3 follows. */
	fake_now = T_DAY3;
	append_durable(fx, 6, 1);
	assert_true(segment_exists(fx, DAY3));
	assert_false(segment_exists(fx, DAY1));
	ht_history_end(fx->h, &end);
	s = expect_scan(fx->hdir, &pos_begin, &end, 1, 6, 0, NULL);
	seen_free(s);
}

static void
test_torn_tail_at_reopen(void **state)
{
	struct fixture *fx = *state;
	struct ht_history_pos good, end;
	char path[PATH_MAX];
	struct stat st;
	struct seen *s;
	int fd;

	open_history(fx);
	append_durable(fx, 1, 4);
	ht_history_end(fx->h, &good);
	append_durable(fx, 5, 1);
	close_history(fx);

	/* Cut record 5 in half. */
	segment_path(fx, DAY1, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size - 7), 0);
	open_history(fx);
	assert_int_equal(ht_history_next_seq(fx->h), 5);
	ht_history_end(fx->h, &end);
	assert_int_equal(ht_history_pos_cmp(&end, &good), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, good.offset);
	/* The next append takes record 5's place. */
	append_durable(fx, 5, 2);
	ht_history_end(fx->h, &end);
	s = expect_scan(fx->hdir, &pos_begin, &end, 1, 6, 0, NULL);
	seen_free(s);
	ht_history_end(fx->h, &good);
	close_history(fx);

	/* Garbage after the last record. */
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "HTR1garbage", 11), 11);
	close(fd);
	open_history(fx);
	assert_int_equal(ht_history_next_seq(fx->h), 7);
	ht_history_end(fx->h, &end);
	assert_int_equal(ht_history_pos_cmp(&end, &good), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, good.offset);
	append_durable(fx, 7, 1);
	ht_history_end(fx->h, &end);
	s = expect_scan(fx->hdir, &pos_begin, &end, 1, 7, 0, NULL);
	seen_free(s);
}

/* A damaged record in the middle is skipped and counted. */
static void
test_scan_damaged(void **state)
{
	struct fixture *fx = *state;
	struct ht_history_pos pos[4], reached;
	char path[PATH_MAX];
	struct seen *s = seen_new();
	uint64_t damaged = 0;
	unsigned char c;
	int fd;

	assert_non_null(s);
	open_history(fx);
	ht_history_end(fx->h, &pos[0]);
	for (uint64_t i = 1; i <= 3; i++) {
		append_durable(fx, i, 1);
		ht_history_end(fx->h, &pos[i]);
	}
	segment_path(fx, DAY1, path, sizeof(path));
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, (off_t)pos[1].offset + HT_SEG_FRAME_LEN + 4), 1);
	c ^= 0x01;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)pos[1].offset + HT_SEG_FRAME_LEN + 4), 1);
	close(fd);
	assert_int_equal(ht_history_scan(fx->hdir, &pos[0], &pos[3], scan_cb, s, &reached,
	    &damaged), 0);
	assert_int_equal(damaged, 1);
	assert_int_equal(s->n, 2);
	assert_int_equal(s->seq[0], 1);
	assert_int_equal(s->seq[1], 3);
	assert_int_equal(ht_history_pos_cmp(&reached, &pos[3]), 0);
	seen_free(s);
}

/* A flipped bit in a middle record's length field (now claiming more bytes
 * than the file has) is damage like any other: the scan skips that record,
 * counts it, and still returns the records after it; reopening does not
 * truncate them away as if they were a torn tail. */
static void
test_scan_damaged_length(void **state)
{
	struct fixture *fx = *state;
	struct ht_history_pos pos[5], reached;
	char path[PATH_MAX];
	struct seen *s = seen_new();
	uint64_t damaged = 0;
	struct stat st;
	unsigned char c;
	int fd;

	assert_non_null(s);
	open_history(fx);
	ht_history_end(fx->h, &pos[0]);
	for (uint64_t i = 1; i <= 4; i++) {
		append_durable(fx, i, 1);
		ht_history_end(fx->h, &pos[i]);
	}
	close_history(fx);
	segment_path(fx, DAY1, path, sizeof(path));
	/* Byte 1 of frame 2's little-endian len: +4096. */
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, (off_t)pos[1].offset + 5), 1);
	c ^= 0x10;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)pos[1].offset + 5), 1);
	close(fd);

	assert_int_equal(ht_history_scan(fx->hdir, &pos[0], &pos[4], scan_cb, s, &reached,
	    &damaged), 0);
	assert_int_equal(damaged, 1);
	assert_int_equal(s->n, 3);
	assert_int_equal(s->seq[0], 1);
	assert_int_equal(s->seq[1], 3);
	assert_int_equal(s->seq[2], 4);
	seen_free(s);

	open_history(fx);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, pos[4].offset);
	assert_int_equal(ht_history_next_seq(fx->h), 5);
}

static void
test_grow_and_refused_append(void **state)
{
	struct fixture *fx = *state;
	struct ht_history_pos before, after;
	struct ack a = { 0, 1 };
	struct iovec iov[3];
	char r0[] = "{\"a\":1}", r1[] = "{\"bb\":22}", r2[] = "{}";
	char big[64];
	int v;

	open_history(fx);
	ht_history_on_grow(fx->h, grew_cb, fx);
	iov[0].iov_base = r0;
	iov[0].iov_len = 7;
	iov[1].iov_base = r1;
	iov[1].iov_len = 9;
	iov[2].iov_base = r2;
	iov[2].iov_len = 2;
	assert_int_equal(ht_history_append(fx->h, iov, 3, durable_cb, &a), 0);
	loop_until(fx->base, &a.calls, 1);
	assert_int_equal(fx->grew_calls, 1);
	assert_int_equal(fx->grew_n, 3);
	assert_int_equal(fx->grew_bytes, 18);
	assert_int_equal(ht_history_appended(fx->h), 3);

	/* A zero-length record refuses the whole batch: nothing written, no
	 * callbacks, seq unchanged. */
	ht_history_end(fx->h, &before);
	memset(big, 'x', sizeof(big));
	iov[0].iov_base = big;
	iov[0].iov_len = sizeof(big);
	iov[1].iov_base = big;
	iov[1].iov_len = 0;
	a.calls = 0;
	v = ht_history_append(fx->h, iov, 2, durable_cb, &a);
	assert_true(v < 0);
	loop_briefly(fx->base, 10);
	assert_int_equal(a.calls, 0);
	assert_int_equal(fx->grew_calls, 1);
	assert_int_equal(ht_history_next_seq(fx->h), 4);
	ht_history_end(fx->h, &after);
	assert_int_equal(ht_history_pos_cmp(&before, &after), 0);

	/* The refused batch left nothing queued behind: the next append is
	 * exactly its own records. */
	append_durable(fx, 4, 2);
	assert_int_equal(fx->grew_calls, 2);
	assert_int_equal(fx->grew_n, 2);
	{
		struct seen *s;

		ht_history_end(fx->h, &before);
		s = expect_scan(fx->hdir, &after, &before, 4, 5, 0, NULL);
		seen_free(s);
	}
}

static void
test_open_errors(void **state)
{
	struct fixture *fx = *state;
	struct ht_history *h = (struct ht_history *)fx;
	char path[PATH_MAX];
	int fd;

	/* The directory path is a file. */
	snprintf(path, sizeof(path), "%s/file", fx->dir);
	fd = open(path, O_WRONLY | O_CREAT, 0640);
	assert_true(fd >= 0);
	close(fd);
	assert_true(ht_history_open(path, &fx->conf, fx->base, fake_clock, &h) < 0);
	assert_ptr_equal(h, (struct ht_history *)fx);

	/* The newest segment is not a segment. */
	open_history(fx);
	close_history(fx);
	segment_path(fx, DAY1, path, sizeof(path));
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "definitely not a segment", 24), 24);
	close(fd);
	assert_int_equal(ht_history_open(fx->hdir, &fx->conf, fx->base, fake_clock, &h), -EBADMSG);
	assert_ptr_equal(h, (struct ht_history *)fx);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_helpers),
		T(test_policy_always),
		T(test_policy_interval),
		T(test_policy_off),
		T(test_always_syncs_before_ack),
		T(test_always_fsync_failure),
		T(test_off_never_syncs),
		T(test_interval_keeps_syncing),
		T(test_always_close_acks_once),
		T(test_set_conf),
		T(test_reopen_seq_continues),
		T(test_scan_ranges),
		T(test_scan_empty_range_outputs),
		T(test_day_rollover),
		T(test_clock_backwards),
		T(test_torn_tail_at_reopen),
		T(test_scan_damaged),
		T(test_scan_damaged_length),
		T(test_grow_and_refused_append),
		T(test_open_errors),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_trail.c - daemon/trail/trail.c with its real collaborators: an
 * event_base, a history in a temp dir, a builder pool and a config from
 * ht_conf_load_string with a spool bucket.  Appended records are delivered
 * as files once the interval passes; max_events delivers early; flush
 * delivers everything; a plan left in the cursor by a "crash" is rebuilt
 * under exactly its key and its records are not delivered twice; a trail
 * not logging delivers nothing appended meanwhile; a restart neither loses
 * nor repeats records; a failed delivery is retried under the same key.
 *
 * The loop always runs under a bounded timeout, so a missing delivery fails
 * the test instead of hanging it.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <zlib.h>

#include "conf.h"
#include "fileio.h"
#include "history/history.h"
#include "trail/cursor.h"
#include "trail/trail.h"
#include "worker.h"

#define TRAIL "trail-one"
#define MAX_FILES 64
#define MAX_RECS 1024
#define LIMIT_S 10	/* bound on any wait; deliveries need ~1 s */

struct fixture {
	char dir[64];
	char state[128];
	char spool[128];
	char hdir[160];
	char cursor[256];
	struct event_base *base;
	struct ht_history *h;
	struct ht_worker *builders;
	struct ht_conf *conf;
	struct ht_trail *t;
	struct ht_trail_env env;
	int next_n;			/* number of the next record appended */
	int flushed;			/* flush/retire callbacks */
};

/* What the spool holds. */
struct delivered {
	int staging;			/* files under .tmp/ */
	int nfiles;
	char *key[MAX_FILES];
	int first[MAX_FILES], count[MAX_FILES];	/* each file: first n, how many */
	int nrecs;
	int n[MAX_RECS];			/* every record's n, file by file */
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
grew_cb(size_t n, uint64_t bytes, void *arg)
{
	struct fixture *fx = arg;

	if (fx->t)
		ht_trail_history_grew(fx->t, n, bytes);
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct ht_conf_history hc = { .retention_days = 90, .fsync = HT_FSYNC_OFF,
		.fsync_interval_ms = 1000 };

	if (fx == NULL)
		return -1;
	strcpy(fx->dir, "/tmp/test_trail.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->state, sizeof(fx->state), "%s/state", fx->dir);
	snprintf(fx->spool, sizeof(fx->spool), "%s/spool", fx->dir);
	snprintf(fx->hdir, sizeof(fx->hdir), "%s/history", fx->state);
	snprintf(fx->cursor, sizeof(fx->cursor), "%s/trails/%s.cursor", fx->state, TRAIL);
	fx->base = event_base_new();
	if (fx->base == NULL)
		return -1;
	if (ht_history_open(fx->hdir, &hc, fx->base, NULL, &fx->h) < 0)
		return -1;
	ht_history_on_grow(fx->h, grew_cb, fx);
	if (ht_worker_new(fx->base, 2, "t-build", &fx->builders) < 0)
		return -1;
	fx->env.base = fx->base;
	fx->env.history = fx->h;
	fx->env.builders = fx->builders;
	fx->env.state_dir = fx->state;
	fx->next_n = 1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	/* Reverse order of setup: a build still running finishes in the
	 * drain of ht_worker_free and is discarded. */
	ht_trail_free(fx->t);
	ht_worker_free(fx->builders);
	ht_history_close(fx->h);
	ht_conf_free(fx->conf);
	event_base_free(fx->base);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* (Re)load the config: one trail on a spool bucket. */
static void
load_conf(struct fixture *fx, const char *interval, unsigned max_events, bool logging)
{
	char yaml[2048], err[512];
	struct ht_conf *c = NULL;
	int v;

	snprintf(yaml, sizeof(yaml),
	    "account_id: \"123456789012\"\n"
	    "region: onprem-1\n"
	    "state_dir: %s\n"
	    "history:\n"
	    "  fsync: off\n"
	    "buckets:\n"
	    "  local-spool:\n"
	    "    type: spool\n"
	    "    path: %s\n"
	    "trails:\n"
	    "  - name: " TRAIL "\n"
	    "    s3_bucket_name: local-spool\n"
	    "    start_logging: %s\n"
	    "    delivery:\n"
	    "      interval: %s\n"
	    "      max_events: %u\n",
	    fx->state, fx->spool, logging ? "true" : "false", interval, max_events);
	v = ht_conf_load_string("test_trail.yaml", yaml, strlen(yaml), &c, err, sizeof(err));
	if (v < 0)
		fail_msg("config: %s", err);
	assert_int_equal(c->n_trails, 1);
	ht_conf_free(fx->conf);
	fx->conf = c;
}

static void
new_trail(struct fixture *fx)
{
	fx->t = NULL;
	assert_int_equal(ht_trail_new(&fx->env, fx->conf, &fx->conf->trails[0], &fx->t), 0);
	assert_non_null(fx->t);
	assert_string_equal(ht_trail_name(fx->t), TRAIL);
}

static void
free_trail(struct fixture *fx)
{
	ht_trail_free(fx->t);
	fx->t = NULL;
	/* A build that was running completes and is thrown away. */
	ht_worker_drain(fx->builders);
}

static void
durable_cb(int err, void *arg)
{
	int *calls = arg;

	assert_int_equal(err, 0);
	(*calls)++;
}

/* Append n records as one batch: {"eventID":"r-N","n":N}. */
static void
append(struct fixture *fx, int n)
{
	struct iovec iov[64];
	char text[64][64];
	int calls = 0;

	assert_true(n <= 64);
	for (int i = 0; i < n; i++) {
		int k = fx->next_n++;

		iov[i].iov_len = (size_t)snprintf(text[i], sizeof(text[i]),
		    "{\"eventID\":\"r-%d\",\"n\":%d}", k, k);
		iov[i].iov_base = text[i];
	}
	assert_int_equal(ht_history_append(fx->h, iov, (size_t)n, durable_cb, &calls), 0);
	assert_int_equal(calls, 1);
}

/* ---- the loop ---- */

struct waiter {
	struct event_base *base;
	bool (*cond)(struct fixture *, void *);
	struct fixture *fx;
	void *arg;
	bool met;
};

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;

	(void)fd;
	(void)what;
	if (w->cond(w->fx, w->arg)) {
		w->met = true;
		event_base_loopbreak(w->base);
	}
}

static void
limit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(w->base);
}

/* Run the loop until cond holds (checked every 10 ms); false if it did not
 * within limit_s seconds.  The bound is a timer of our own rather than
 * event_base_loopexit, which cannot be cancelled and would cut a later
 * run short. */
static bool
run_until(struct fixture *fx, bool (*cond)(struct fixture *, void *), void *arg, int limit_s)
{
	struct waiter w = { fx->base, cond, fx, arg, false };
	struct timeval tick = { 0, 10000 }, limit = { limit_s, 0 };
	struct event *ev, *lim;

	if (cond(fx, arg))
		return true;
	ev = event_new(fx->base, -1, EV_PERSIST, poll_cb, &w);
	lim = evtimer_new(fx->base, limit_cb, &w);
	assert_non_null(ev);
	assert_non_null(lim);
	event_add(ev, &tick);
	evtimer_add(lim, &limit);
	event_base_loop(fx->base, 0);
	event_free(ev);
	event_free(lim);
	return w.met;
}

static bool
files_at_least(struct fixture *fx, void *arg)
{
	struct ht_trail_stats st;

	ht_trail_stats(fx->t, &st);
	return st.files >= (uint64_t)(intptr_t)arg;
}

static bool
delivery_failures_at_least(struct fixture *fx, void *arg)
{
	struct ht_trail_stats st;

	ht_trail_stats(fx->t, &st);
	return st.delivery_failures >= (uint64_t)(intptr_t)arg;
}

/* Every file built so far has left the outbox for the spool. */
static bool
outbox_empty(struct fixture *fx, void *arg)
{
	struct ht_trail_stats st;

	(void)arg;
	if (fx->t == NULL)
		return true;
	ht_trail_stats(fx->t, &st);
	return st.outbox_files == 0 && st.delivered >= st.files;
}

static bool
flushed_at_least(struct fixture *fx, void *arg)
{
	return fx->flushed >= (int)(intptr_t)arg;
}

static void
flushed_cb(struct ht_trail *t, void *arg)
{
	struct fixture *fx = arg;

	assert_true(fx->t == NULL || t == fx->t);
	fx->flushed++;
}

static void
flush_and_wait(struct fixture *fx)
{
	int want = fx->flushed + 1;

	ht_trail_flush(fx->t, flushed_cb, fx);
	assert_true(run_until(fx, flushed_at_least, (void *)(intptr_t)want, LIMIT_S));
	assert_int_equal(fx->flushed, want);
}

/* ---- the spool ---- */

static struct delivered *scan_target;
static const char *scan_root;

static char *
gunzip_path(const char *path)
{
	size_t cap = 1 << 20;
	char *out = malloc(cap);
	unsigned char *in;
	struct stat st;
	z_stream zs;
	int fd = open(path, O_RDONLY);

	assert_non_null(out);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	in = malloc((size_t)st.st_size);
	assert_non_null(in);
	assert_int_equal(read(fd, in, (size_t)st.st_size), st.st_size);
	close(fd);
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 31), Z_OK);
	zs.next_in = in;
	zs.avail_in = (uInt)st.st_size;
	zs.next_out = (unsigned char *)out;
	zs.avail_out = (uInt)cap - 1;
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	out[zs.total_out] = '\0';
	inflateEnd(&zs);
	free(in);
	return out;
}

static int
spool_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	struct delivered *d = scan_target;
	struct json_object *o, *recs;
	char *text;
	int i = d->nfiles;

	(void)st;
	(void)ftw;
	if (flag != FTW_F)
		return 0;
	/* A build in progress stages under .tmp; that is not a delivery. */
	if (strstr(path, "/.tmp/") != NULL) {
		d->staging++;
		return 0;
	}
	assert_true(i < MAX_FILES);
	d->key[i] = strdup(path + strlen(scan_root) + 1);
	text = gunzip_path(path);
	o = json_tokener_parse(text);
	if (o == NULL || !json_object_object_get_ex(o, "Records", &recs))
		fail_msg("%s: not {\"Records\":[...]}: %s", path, text);
	d->count[i] = (int)json_object_array_length(recs);
	assert_true(d->count[i] > 0);
	for (int k = 0; k < d->count[i]; k++) {
		struct json_object *r = json_object_array_get_idx(recs, (size_t)k), *n;

		assert_true(json_object_object_get_ex(r, "n", &n));
		assert_true(d->nrecs < MAX_RECS);
		d->n[d->nrecs++] = json_object_get_int(n);
		if (k == 0)
			d->first[i] = json_object_get_int(n);
		/* In history order within a file. */
		else
			assert_int_equal(json_object_get_int(n), d->first[i] + k);
	}
	json_object_put(o);
	free(text);
	d->nfiles++;
	return 0;
}

static struct delivered *
delivered(const struct fixture *fx)
{
	struct delivered *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	/* Files reach the spool from the outbox, asynchronously. */
	assert_true(run_until((struct fixture *)fx, outbox_empty, NULL, LIMIT_S));
	scan_target = d;
	scan_root = fx->spool;
	nftw(fx->spool, spool_entry, 16, FTW_PHYS);
	return d;
}

static void
delivered_free(struct delivered *d)
{
	for (int i = 0; i < d->nfiles; i++)
		free(d->key[i]);
	free(d);
}

/* Every record first..last delivered exactly once, nothing else, and (the
 * trail being idle) no staging file left. */
static void
expect_exactly(const struct fixture *fx, int first, int last, int nfiles)
{
	struct delivered *d = delivered(fx);
	int seen[MAX_RECS] = { 0 };

	if (nfiles >= 0)
		assert_int_equal(d->nfiles, nfiles);
	assert_int_equal(d->staging, 0);
	for (int i = 0; i < d->nrecs; i++) {
		int n = d->n[i];

		if (n < first || n > last)
			fail_msg("record %d delivered, outside %d..%d", n, first, last);
		if (seen[n]++)
			fail_msg("record %d delivered twice", n);
	}
	assert_int_equal(d->nrecs, last - first + 1);
	delivered_free(d);
}

/* The cursor on disk: at the end of history, no plan, and the logging
 * state the trail reports (a cursor stored after a build must carry the
 * trail's state, or a restart would skip records). */
static void
expect_cursor_at_end(const struct fixture *fx)
{
	struct ht_trail_stats st;
	struct ht_history_pos end;
	struct ht_cursor c;
	char err[512];

	assert_int_equal(ht_cursor_load(fx->cursor, &c, err, sizeof(err)), 0);
	ht_history_end(fx->h, &end);
	assert_int_equal(ht_history_pos_cmp(&c.pos, &end), 0);
	assert_false(c.has_plan);
	ht_trail_stats(fx->t, &st);
	assert_int_equal(c.logging, st.logging);
	if (c.logging)
		assert_true(c.start_logging_time > 0);
}

static void
expect_key_shape(const char *key)
{
	static const char head[] = "AWSLogs/123456789012/CloudTrail/onprem-1/";

	assert_memory_equal(key, head, sizeof(head) - 1);
	assert_non_null(strstr(key, "/123456789012_CloudTrail_onprem-1_"));
	assert_string_equal(key + strlen(key) - 8, ".json.gz");
}

/* ---- tests ---- */

static void
test_interval_delivery(void **state)
{
	struct fixture *fx = *state;
	struct ht_trail_stats st;
	struct delivered *d;

	load_conf(fx, "1s", 1000, true);
	new_trail(fx);
	ht_trail_stats(fx->t, &st);
	assert_true(st.logging);
	assert_int_equal(st.files, 0);
	append(fx, 3);
	append(fx, 2);
	/* Well under max_events: the interval delivers them, in one file. */
	assert_true(run_until(fx, files_at_least, (void *)1, LIMIT_S));
	expect_exactly(fx, 1, 5, 1);
	d = delivered(fx);
	expect_key_shape(d->key[0]);
	delivered_free(d);
	ht_trail_stats(fx->t, &st);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.events, 5);
	assert_int_equal(st.failures, 0);
	assert_true(st.latest_attempt_succeeded);
	assert_string_equal(st.latest_error, "");
	assert_true(st.latest_delivery_time > 0);
	expect_cursor_at_end(fx);

	/* A second round gets its own file. */
	append(fx, 4);
	assert_true(run_until(fx, files_at_least, (void *)2, LIMIT_S));
	expect_exactly(fx, 1, 9, 2);
	expect_cursor_at_end(fx);
}

static void
test_max_events_early(void **state)
{
	struct fixture *fx = *state;
	struct ht_trail_stats st;

	/* An hour's interval never fires here: only max_events delivers. */
	load_conf(fx, "1h", 10, true);
	new_trail(fx);
	for (int i = 0; i < 5; i++)
		append(fx, 5);
	assert_true(run_until(fx, files_at_least, (void *)2, LIMIT_S));
	ht_trail_stats(fx->t, &st);
	assert_true(st.files >= 2);
	/* No file holds more than max_events, and records 1..20 went out
	 * without waiting for the interval.  (Records 21..25 may ride along
	 * in a smaller file: the trail drains its backlog after a full batch.) */
	{
		struct delivered *d = delivered(fx);
		bool have[26] = { false };

		for (int i = 0; i < d->nfiles; i++)
			assert_true(d->count[i] <= 10);
		for (int i = 0; i < d->nrecs; i++)
			have[d->n[i]] = true;
		for (int n = 1; n <= 20; n++)
			assert_true(have[n]);
		delivered_free(d);
	}
	/* Flush takes the rest; each record exactly once. */
	flush_and_wait(fx);
	expect_exactly(fx, 1, 25, 3);
	expect_cursor_at_end(fx);
}

/* A single append bigger than max_events: split into files of max_events. */
static void
test_max_events_big_append(void **state)
{
	struct fixture *fx = *state;
	struct delivered *d;

	load_conf(fx, "1h", 10, true);
	new_trail(fx);
	append(fx, 35);
	flush_and_wait(fx);
	d = delivered(fx);
	assert_int_equal(d->nfiles, 4);
	for (int i = 0; i < d->nfiles; i++)
		assert_true(d->count[i] == 10 || d->count[i] == 5);
	delivered_free(d);
	expect_exactly(fx, 1, 35, 4);
	expect_cursor_at_end(fx);
}

static void
test_flush(void **state)
{
	struct fixture *fx = *state;

	load_conf(fx, "1h", 1000, true);
	new_trail(fx);
	append(fx, 7);
	flush_and_wait(fx);
	expect_exactly(fx, 1, 7, 1);
	expect_cursor_at_end(fx);
	/* Nothing new: the callback still comes, and no file is made. */
	flush_and_wait(fx);
	expect_exactly(fx, 1, 7, 1);
	append(fx, 1);
	flush_and_wait(fx);
	expect_exactly(fx, 1, 8, 2);
}

/* Records from before the trail existed are not its to deliver. */
static void
test_new_trail_starts_at_end(void **state)
{
	struct fixture *fx = *state;

	append(fx, 4);
	load_conf(fx, "1h", 1000, true);
	new_trail(fx);
	append(fx, 2);
	flush_and_wait(fx);
	expect_exactly(fx, 5, 6, 1);
}

/* The crash case: the cursor holds a plan (key + range) from a build that
 * may or may not have written its file. */
static void
test_crash_plan_rebuilt(void **state)
{
	struct fixture *fx = *state;
	static const char key[] = "AWSLogs/123456789012/CloudTrail/onprem-1/2024/05/01/"
	    "123456789012_CloudTrail_onprem-1_20240501T0000Z_CrashCrashCrash1.json.gz";
	struct ht_history_pos start, after4;
	struct ht_cursor c;
	struct delivered *d;
	char path[PATH_MAX], dir[PATH_MAX];
	int fd;

	ht_history_end(fx->h, &start);
	append(fx, 4);
	ht_history_end(fx->h, &after4);
	append(fx, 2);

	memset(&c, 0, sizeof(c));
	c.pos = start;
	c.logging = true;
	c.start_logging_time = 1714521600;
	c.has_plan = true;
	strcpy(c.plan_key, key);
	c.plan_to = after4;
	snprintf(dir, sizeof(dir), "%s/trails", fx->state);
	assert_int_equal(mkdir(dir, 0750), 0);
	assert_int_equal(ht_cursor_store(fx->cursor, &c), 0);

	/* The first attempt did write the file before the crash (junk here,
	 * so the rebuild is visible), and left a staging file. */
	snprintf(path, sizeof(path), "%s/%s", fx->spool, key);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(ht_mkdir_p(dir, 0750), 0);
	fd = open(path, O_WRONLY | O_CREAT, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "half a file", 11), 11);
	close(fd);
	snprintf(dir, sizeof(dir), "%s/.tmp", fx->spool);
	assert_int_equal(ht_mkdir_p(dir, 0750), 0);
	snprintf(dir, sizeof(dir), "%s/.tmp/AbCdEfGhIjKlMnOp.part", fx->spool);
	fd = open(dir, O_WRONLY | O_CREAT, 0640);
	assert_true(fd >= 0);
	close(fd);

	load_conf(fx, "1h", 1000, true);
	new_trail(fx);
	assert_true(run_until(fx, files_at_least, (void *)1, LIMIT_S));
	/* Exactly the planned range, under exactly the planned key. */
	d = delivered(fx);
	assert_int_equal(d->nfiles, 1);
	assert_string_equal(d->key[0], key);
	assert_int_equal(d->first[0], 1);
	assert_int_equal(d->count[0], 4);
	delivered_free(d);

	/* The rest follows in a new file; nothing is delivered twice. */
	flush_and_wait(fx);
	expect_exactly(fx, 1, 6, 2);
	expect_cursor_at_end(fx);
}

/* A restart picks up where the cursor is: nothing lost, nothing repeated. */
static void
test_restart_continues(void **state)
{
	struct fixture *fx = *state;

	load_conf(fx, "1h", 1000, true);
	new_trail(fx);
	append(fx, 3);
	flush_and_wait(fx);
	append(fx, 2);		/* appended, not yet delivered */
	free_trail(fx);
	append(fx, 1);		/* appended while the daemon was "down" */
	new_trail(fx);
	append(fx, 2);
	flush_and_wait(fx);
	expect_exactly(fx, 1, 8, -1);
	expect_cursor_at_end(fx);
}

static void
test_not_logging(void **state)
{
	struct fixture *fx = *state;
	struct ht_trail_stats st;

	load_conf(fx, "1s", 1000, false);
	new_trail(fx);
	ht_trail_stats(fx->t, &st);
	assert_false(st.logging);
	append(fx, 5);
	flush_and_wait(fx);
	expect_exactly(fx, 1, 0, 0);

	/* Logging starts: only what is appended from now on. */
	load_conf(fx, "1s", 1000, true);
	assert_int_equal(ht_trail_update(fx->t, fx->conf, &fx->conf->trails[0]), 0);
	ht_trail_stats(fx->t, &st);
	assert_true(st.logging);
	append(fx, 3);
	flush_and_wait(fx);
	expect_exactly(fx, 6, 8, 1);

	/* Logging stops: what came before the stop is still delivered, what
	 * comes after is not. */
	append(fx, 2);
	load_conf(fx, "1s", 1000, false);
	assert_int_equal(ht_trail_update(fx->t, fx->conf, &fx->conf->trails[0]), 0);
	append(fx, 4);
	flush_and_wait(fx);
	expect_exactly(fx, 6, 10, 2);
	ht_trail_stats(fx->t, &st);
	assert_false(st.logging);

	/* And stays stopped across a restart. */
	free_trail(fx);
	new_trail(fx);
	append(fx, 2);
	flush_and_wait(fx);
	expect_exactly(fx, 6, 10, 2);
}

/* StopLogging / StartLogging (a reload) that arrives while a build is
 * running takes effect when the build is done: records appended after the
 * stop are not delivered, and after a start they are. */
static void
test_logging_change_while_building(void **state)
{
	struct fixture *fx = *state;
	struct ht_trail_stats st;
	struct ht_cursor c;
	char err[512];

	load_conf(fx, "1h", 5, true);
	new_trail(fx);
	append(fx, 5);		/* max_events: the build is submitted now */
	load_conf(fx, "1h", 5, false);
	assert_int_equal(ht_trail_update(fx->t, fx->conf, &fx->conf->trails[0]), 0);
	append(fx, 3);		/* after the stop */
	flush_and_wait(fx);
	ht_trail_stats(fx->t, &st);
	assert_false(st.logging);
	assert_int_equal(ht_cursor_load(fx->cursor, &c, err, sizeof(err)), 0);
	assert_false(c.logging);
	expect_exactly(fx, 1, 5, 1);

	/* Start again while a build runs: records after the start count. */
	load_conf(fx, "1h", 5, true);
	assert_int_equal(ht_trail_update(fx->t, fx->conf, &fx->conf->trails[0]), 0);
	append(fx, 5);		/* records 9..13: a build starts */
	load_conf(fx, "1h", 5, false);
	assert_int_equal(ht_trail_update(fx->t, fx->conf, &fx->conf->trails[0]), 0);
	load_conf(fx, "1h", 5, true);
	assert_int_equal(ht_trail_update(fx->t, fx->conf, &fx->conf->trails[0]), 0);
	append(fx, 2);		/* 14..15: logging is on again */
	flush_and_wait(fx);
	ht_trail_stats(fx->t, &st);
	assert_true(st.logging);
	{
		struct delivered *d = delivered(fx);
		bool have[16] = { false };

		for (int i = 0; i < d->nrecs; i++)
			have[d->n[i]] = true;
		for (int n = 6; n <= 8; n++)
			if (have[n])
				fail_msg("record %d appended while stopped was delivered", n);
		for (int n = 9; n <= 15; n++)
			if (!have[n] && n != 14 && n != 15)
				fail_msg("record %d appended while logging was lost", n);
		if (!have[14] || !have[15])
			fail_msg("records appended after StartLogging were not delivered");
		delivered_free(d);
	}
}

/* A delivery that fails is retried, under the same key, until it works;
 * meanwhile the file waits in the outbox and the cursor has moved on. */
static void
test_failure_retried(void **state)
{
	struct fixture *fx = *state;
	struct ht_trail_stats st;
	char outbox[PATH_MAX];
	int fd;

	/* The spool root is a file: placing the file there fails. */
	fd = open(fx->spool, O_WRONLY | O_CREAT, 0640);
	assert_true(fd >= 0);
	close(fd);
	load_conf(fx, "1h", 1000, true);
	new_trail(fx);
	append(fx, 3);
	ht_trail_flush(fx->t, flushed_cb, fx);
	assert_true(run_until(fx, delivery_failures_at_least, (void *)1, LIMIT_S));
	assert_true(run_until(fx, flushed_at_least, (void *)1, LIMIT_S));
	ht_trail_stats(fx->t, &st);
	assert_false(st.latest_attempt_succeeded);
	assert_non_null(strstr(st.latest_error, "cannot place"));
	assert_int_equal(st.files, 1);
	assert_int_equal(st.outbox_files, 1);
	assert_int_equal(st.delivered, 0);
	{
		/* Built and handed over: no plan left, the file is in the outbox. */
		struct ht_cursor c;
		char err[512];
		struct stat sb;

		assert_int_equal(ht_cursor_load(fx->cursor, &c, err, sizeof(err)), 0);
		assert_false(c.has_plan);
		snprintf(outbox, sizeof(outbox), "%s/outbox/trail-one/files/%s", fx->state,
		    c.plan_key);
		assert_int_equal(stat(outbox, &sb), 0);
	}
	/* Repair; the retry (after the backoff) delivers it. */
	assert_int_equal(unlink(fx->spool), 0);
	expect_exactly(fx, 1, 3, 1);
	ht_trail_stats(fx->t, &st);
	assert_true(st.latest_attempt_succeeded);
	assert_string_equal(st.latest_error, "");
	expect_cursor_at_end(fx);
}

static void
test_retire(void **state)
{
	struct fixture *fx = *state;
	struct stat st;

	load_conf(fx, "1h", 1000, true);
	new_trail(fx);
	append(fx, 3);
	ht_trail_retire(fx->t, flushed_cb, fx);
	fx->t = NULL;	/* freed by itself once fn ran */
	assert_true(run_until(fx, flushed_at_least, (void *)1, LIMIT_S));
	append(fx, 2);
	expect_exactly(fx, 1, 3, 1);
	assert_int_equal(stat(fx->cursor, &st), -1);
	assert_int_equal(errno, ENOENT);
}

/* Freeing a trail while its build runs: the build finishes on its own, and
 * the next trail instance still delivers everything exactly once. */
static void
test_free_while_building(void **state)
{
	struct fixture *fx = *state;

	load_conf(fx, "1h", 5, true);
	new_trail(fx);
	append(fx, 5);		/* max_events: a build starts now */
	free_trail(fx);
	new_trail(fx);
	append(fx, 1);
	flush_and_wait(fx);
	expect_exactly(fx, 1, 6, -1);
	expect_cursor_at_end(fx);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_interval_delivery),
		T(test_max_events_early),
		T(test_max_events_big_append),
		T(test_flush),
		T(test_new_trail_starts_at_end),
		T(test_crash_plan_rebuilt),
		T(test_restart_continues),
		T(test_not_logging),
		T(test_logging_change_while_building),
		T(test_failure_retried),
		T(test_retire),
		T(test_free_while_building),
	};
#undef T

	/* TEST_FILTER=test_flush runs one test (cmocka's glob). */
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_outbox.c - daemon/deliver/outbox.c with its real collaborators: an
 * event_base, a worker pool, configs from ht_conf_load_string, a spool
 * directory, and for S3 either a closed port on 127.0.0.1 (nothing drains)
 * or a tiny HTTP server thread standing in for the bucket (http_stub.h).
 *
 * Files committed into the outbox the way the builder commits them arrive in
 * the spool at exactly root/key with the same bytes (or as PUTs with the
 * same bytes) and leave the outbox; the stats and the delivered callback say
 * so.  Files a previous instance left are found at start (staging files
 * removed) and delivered oldest first (commit time, then key), only once
 * configured.  A key added twice is queued once.  outbox_max holds while
 * nothing drains and clears once it does.  A failed upload keeps the file,
 * pauses the outbox (no attempt until the pause ends) and a reconfigure
 * retries at once.  status.json carries latest_* across a restart, and ends
 * with the newest status.  With notifications on, every delivered file
 * leaves a durable entry first; a file whose entry cannot be written stays.
 * A reload that changes the bucket while files are in flight: each file is
 * reported in the bucket it went to, errors name the endpoint that failed,
 * and a file being hashed for S3 goes to the new target.  Freeing with work
 * in flight loses nothing; ht_outbox_remove_dir removes the tree.
 *
 * The loop is driven with EVLOOP_ONCE until a condition holds or a deadline
 * passes, so a missing delivery fails the test instead of hanging it.
 */
#include "ht_build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "conf.h"
#include "deliver/outbox.h"
#include "deliver/spool.h"
#include "util.h"
#include "worker.h"

/* The S3 stand-in, the loop and the temporary directory. */
#include "http_stub.h"

#define TRAIL "trail-one"
#define SPOOL_BUCKET "local-spool"
#define S3_BUCKET "dead-s3"
#define MAX_CALLS 32
#define LIMIT_MS 10000		/* bound on any wait that should succeed */

/* Keys shaped like CloudTrail's; K1 < K2 < K3 as strings (oldest first). */
#define KPFX "AWSLogs/123456789012/CloudTrail/onprem-1/"
#define K1 KPFX "2024/01/01/123456789012_CloudTrail_onprem-1_20240101T0000Z_aaaa.json.gz"
#define K2 KPFX "2024/01/01/123456789012_CloudTrail_onprem-1_20240101T0005Z_bbbb.json.gz"
#define K3 KPFX "2024/01/02/123456789012_CloudTrail_onprem-1_20240102T0000Z_cccc.json.gz"

/* The stand-in for the S3 bucket answers like S3 does, with an ETag. */
#define S3_HEADERS "ETag: \"0123\"\r\n"

struct fixture {
	char dir[64];
	char state[128];
	char spool[128];
	char secret[128];
	char notify[128];
	char trail_dir[192];		/* state/outbox/TRAIL */
	char files[224];		/* trail_dir/files */
	struct event_base *base;
	struct ht_worker *io;
	struct ht_conf *conf;
	struct ht_conf *conf2;		/* a second config, when a test needs two */
	struct ht_outbox *o;
	struct ht_outbox_env env;
	int closed_fd;			/* bound, never listening: connections are refused */
	unsigned closed_port;
	unsigned s3_port;		/* the s3 bucket's endpoint: closed_port or stub's */
	struct stub stub;
	struct gate workers;		/* blocker jobs hold every worker thread here */
	int n_delivered;
	char *del_bucket[MAX_CALLS], *del_key[MAX_CALLS];
	int n_added;
	char *added[MAX_CALLS];
};

/* ---- fixture ---- */

/* Directories, a secret file and a closed port; no loop and no threads
 * (for tests that fork: a child of a threaded process may inherit a lock
 * held by another thread, e.g. the sanitizer allocator's). */
static int
setup_bare(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	FILE *f;

	if (fx == NULL || tmpdir_make(fx->dir, sizeof(fx->dir), "test_outbox") < 0)
		return -1;
	snprintf(fx->state, sizeof(fx->state), "%s/state", fx->dir);
	snprintf(fx->spool, sizeof(fx->spool), "%s/spool", fx->dir);
	snprintf(fx->secret, sizeof(fx->secret), "%s/s3.secret", fx->dir);
	snprintf(fx->notify, sizeof(fx->notify), "%s/notify", fx->dir);
	snprintf(fx->trail_dir, sizeof(fx->trail_dir), "%s/outbox/%s", fx->state, TRAIL);
	snprintf(fx->files, sizeof(fx->files), "%s/files", fx->trail_dir);
	f = fopen(fx->secret, "w");
	if (f == NULL)
		return -1;
	fputs("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", f);
	fclose(f);
	chmod(fx->secret, 0600);
	fx->closed_fd = loopback_socket(&fx->closed_port, 0);
	if (fx->closed_fd < 0)
		return -1;
	fx->s3_port = fx->closed_port;
	gate_init(&fx->workers, true);
	fx->env.state_dir = fx->state;
	*state = fx;
	return 0;
}

static int
setup(void **state)
{
	struct fixture *fx;

	if (setup_bare(state) < 0)
		return -1;
	fx = *state;
	fx->base = event_base_new();
	if (fx->base == NULL || ht_worker_new(fx->base, 2, "t-obx", &fx->io) < 0)
		return -1;
	fx->env.base = fx->base;
	fx->env.io = fx->io;
	return 0;
}

static void
forget_calls(struct fixture *fx)
{
	for (int i = 0; i < fx->n_delivered; i++) {
		free(fx->del_bucket[i]);
		free(fx->del_key[i]);
	}
	for (int i = 0; i < fx->n_added; i++)
		free(fx->added[i]);
	fx->n_delivered = fx->n_added = 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	/* Reverse order of setup; jobs of a freed outbox finish in the drain. */
	ht_outbox_free(fx->o);
	gate_set(&fx->workers, true);
	ht_worker_free(fx->io);
	stub_stop(&fx->stub);
	ht_conf_free(fx->conf);
	ht_conf_free(fx->conf2);
	if (fx->base != NULL)
		event_base_free(fx->base);
	close(fx->closed_fd);
	forget_calls(fx);
	gate_destroy(&fx->workers);
	rm_tree(fx->dir);
	free(fx);
	return 0;
}

/* (Re)load the config: one trail on bucket (SPOOL_BUCKET or S3_BUCKET). */
static void
load_conf(struct fixture *fx, const char *bucket, unsigned outbox_max, const char *retry_min,
    const char *retry_max)
{
	char yaml[4096], err[512];
	struct ht_conf *c = NULL;
	int v;

	snprintf(yaml, sizeof(yaml),
	    "account_id: \"123456789012\"\n"
	    "region: onprem-1\n"
	    "state_dir: %s\n"
	    "buckets:\n"
	    "  " SPOOL_BUCKET ":\n"
	    "    type: spool\n"
	    "    path: %s\n"
	    "  " S3_BUCKET ":\n"
	    "    type: s3\n"
	    "    bucket: trail-logs\n"
	    "    endpoint: http://127.0.0.1:%u\n"
	    "    path_style: true\n"
	    "    timeout: 5s\n"
	    "    credentials:\n"
	    "      access_key_id: AKIDEXAMPLE\n"
	    "      secret_file: %s\n"
	    "trails:\n"
	    "  - name: " TRAIL "\n"
	    "    s3_bucket_name: %s\n"
	    "    outbox_max: %u\n"
	    "    delivery:\n"
	    "      retry_min: %s\n"
	    "      retry_max: %s\n",
	    fx->state, fx->spool, fx->s3_port, fx->secret, bucket, outbox_max, retry_min,
	    retry_max);
	v = ht_conf_load_string("test_outbox.yaml", yaml, strlen(yaml), &c, err, sizeof(err));
	if (v < 0)
		fail_msg("config: %s", err);
	assert_int_equal(c->n_trails, 1);
	ht_conf_free(fx->conf);
	fx->conf = c;
}

static void
delivered_cb(const char *bucket, const char *key, void *arg)
{
	struct fixture *fx = arg;

	assert_true(fx->n_delivered < MAX_CALLS);
	fx->del_bucket[fx->n_delivered] = strdup(bucket);
	fx->del_key[fx->n_delivered] = strdup(key);
	fx->n_delivered++;
}

static void
notify_added_cb(const char *name, void *arg)
{
	struct fixture *fx = arg;

	assert_true(fx->n_added < MAX_CALLS);
	fx->added[fx->n_added++] = strdup(name);
}

static void
open_outbox(struct fixture *fx)
{
	fx->o = NULL;
	assert_int_equal(ht_outbox_new(&fx->env, TRAIL, &fx->o), 0);
	assert_non_null(fx->o);
	assert_string_equal(ht_outbox_dir(fx->o), fx->files);
	ht_outbox_on_delivered(fx->o, delivered_cb, fx);
}

static void
close_outbox(struct fixture *fx)
{
	ht_outbox_free(fx->o);
	fx->o = NULL;
	ht_worker_drain(fx->io);
}

static void
configure(struct fixture *fx)
{
	assert_int_equal(ht_outbox_configure(fx->o, fx->conf, &fx->conf->trails[0], NULL), 0);
}

/* Load a config (as load_conf), open the outbox and configure it. */
static void
start_outbox(struct fixture *fx, const char *bucket, unsigned outbox_max, const char *retry_min,
    const char *retry_max)
{
	load_conf(fx, bucket, outbox_max, retry_min, retry_max);
	open_outbox(fx);
	configure(fx);
}

/* A reload: load a config (as load_conf) and configure the open outbox. */
static void
reload(struct fixture *fx, const char *bucket, unsigned outbox_max, const char *retry_min,
    const char *retry_max)
{
	load_conf(fx, bucket, outbox_max, retry_min, retry_max);
	configure(fx);
}

/* The S3 bucket's stand-in answering status (see stub_start); the S3
 * bucket of configs loaded from now on points at it. */
static void
s3_start(struct fixture *fx, int status, bool gate_open)
{
	stub_start(&fx->stub, status, gate_open, S3_HEADERS);
	fx->s3_port = fx->stub.port;
}

/* As start_outbox (outbox_max 100, quick retries), with notification
 * entries into fx->notify from the start, reported to notify_added_cb. */
static void
start_outbox_notify(struct fixture *fx, const char *bucket)
{
	load_conf(fx, bucket, 100, "100ms", "1s");
	open_outbox(fx);
	assert_int_equal(ht_outbox_set_notify(fx->o, fx->notify, notify_added_cb, fx), 0);
	configure(fx);
}

/* ---- the loop ---- */

static struct ht_outbox_stats
stats(struct fixture *fx)
{
	struct ht_outbox_stats st;

	ht_outbox_stats(fx->o, &st);
	return st;
}

/* The count the conditions below wait for; await_n() sets it. */
static int want_n;

static bool
delivered_n(struct fixture *fx)
{
	return stats(fx).delivered >= (uint64_t)want_n;
}

static bool
failures_n(struct fixture *fx)
{
	return stats(fx).failures >= (uint64_t)want_n;
}

static bool
failures_n_idle(struct fixture *fx)
{
	return failures_n(fx) && ht_worker_pending(fx->io) == 0;
}

static bool
files_n(struct fixture *fx)
{
	return stats(fx).files == (uint64_t)want_n;
}

static bool
pool_n(struct fixture *fx)
{
	return ht_worker_pending(fx->io) >= (unsigned)want_n;
}

static bool
stub_n(struct fixture *fx)
{
	return stub_count(&fx->stub) >= (unsigned)want_n;
}

/* Run the loop until cond holds for want_n = n; false if it did not
 * within LIMIT_MS. */
static bool
await_n(struct fixture *fx, bool (*cond)(struct fixture *), int n)
{
	want_n = n;
	return loop_until(fx->base, cond, fx, LIMIT_MS);
}

/* ---- holding the worker pool ---- */

static void
blocker_work(void *arg)
{
	struct fixture *fx = arg;

	gate_wait(&fx->workers);
}

/* Occupy all n threads of the pool until the workers gate opens. */
static void
block_workers(struct fixture *fx, int n)
{
	int64_t deadline = ht_mono_ms() + LIMIT_MS;

	gate_set(&fx->workers, false);
	for (int i = 0; i < n; i++)
		assert_int_equal(ht_worker_submit(fx->io, blocker_work, NULL, fx), 0);
	while (gate_waiting(&fx->workers) < n && ht_mono_ms() < deadline)
		usleep(1000);
	assert_int_equal(gate_waiting(&fx->workers), n);
}

/* ---- files ---- */

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static char *
read_all(const char *path, size_t *ret_len)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	buf[st.st_size] = '\0';
	close(fd);
	*ret_len = (size_t)st.st_size;
	return buf;
}

/* Deterministic content for key, len bytes. */
static void
content(const char *key, size_t len, unsigned char *out)
{
	uint32_t h = 2166136261u;

	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (size_t i = 0; i < len; i++) {
		h = h * 1103515245u + 12345u;
		out[i] = (unsigned char)(h >> 16);
	}
}

/* Commit len bytes at key under root as the builder does (stage, write,
 * commit); returns the size. */
static uint64_t
commit_at(const char *root, const char *key, size_t len)
{
	char tmp[PATH_MAX];
	unsigned char *data = malloc(len ? len : 1);
	int fd = -1;

	assert_non_null(data);
	content(key, len, data);
	assert_int_equal(ht_spool_stage(root, tmp, sizeof(tmp), &fd), 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(ht_spool_commit(root, fd, tmp, key), 0);
	free(data);
	return len;
}

static void
commit_add(struct fixture *fx, const char *key, size_t len)
{
	uint64_t size = commit_at(ht_outbox_dir(fx->o), key, len);

	assert_int_equal(ht_outbox_add(fx->o, key, size), 0);
}

/* root/key holds exactly the bytes commit_at wrote for key. */
static void
assert_content(const char *root, const char *key, size_t len)
{
	char path[PATH_MAX];
	unsigned char *want = malloc(len ? len : 1);
	size_t got_len = 0;
	char *got;

	assert_non_null(want);
	snprintf(path, sizeof(path), "%s/%s", root, key);
	got = read_all(path, &got_len);
	if (got == NULL)
		fail_msg("%s is missing", path);
	content(key, len, want);
	assert_int_equal(got_len, len);
	assert_memory_equal(got, want, len);
	free(got);
	free(want);
}

static bool
in_dir(const char *root, const char *key)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", root, key);
	return exists(path);
}

/* Names in dir, but for "." and "..". */
static int
count_names(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Regular files under dir/.tmp (staging leftovers). */
static int
count_staging(const char *root)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", root, HT_SPOOL_STAGING);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* ---- tests ---- */

/* Spool target: bytes, places, stats and callbacks. */
static void
test_spool_delivery(void **state)
{
	struct fixture *fx = *state;
	const char *keys[] = { K1, K2, K3 };
	const size_t sizes[] = { 1234, 0, 200000 };
	struct ht_outbox_stats st;
	int64_t t0 = (int64_t)time(NULL);

	start_outbox(fx, SPOOL_BUCKET, 100, "100ms", "1s");
	for (int i = 0; i < 3; i++)
		commit_add(fx, keys[i], sizes[i]);
	st = stats(fx);
	assert_int_equal(st.delivered, 0);
	assert_int_equal(st.files, 3);
	assert_int_equal(st.bytes, 1234 + 200000);
	assert_int_equal(st.max_files, 100);
	assert_false(ht_outbox_full(fx->o));

	assert_true(await_n(fx, delivered_n, 3));
	st = stats(fx);
	assert_int_equal(st.delivered, 3);
	assert_int_equal(st.files, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.failures, 0);
	assert_true(st.latest_attempt_succeeded);
	assert_string_equal(st.latest_error, "");
	assert_false(st.paused);
	assert_true(st.latest_delivery_time >= t0 && st.latest_delivery_time <= time(NULL));
	assert_int_equal(st.latest_attempt_time, st.latest_delivery_time);

	/* Once each, with the spool's bucket name, oldest first (the spool
	 * delivers one file at a time, in queue order). */
	assert_int_equal(fx->n_delivered, 3);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(fx->del_bucket[i], SPOOL_BUCKET);
		assert_string_equal(fx->del_key[i], keys[i]);
		assert_content(fx->spool, keys[i], sizes[i]);
		assert_false(in_dir(fx->files, keys[i]));
	}
	assert_int_equal(count_staging(fx->spool), 0);
	assert_int_equal(count_staging(fx->files), 0);

	/* Nothing more happens. */
	loop_for(fx->base, 100);
	assert_int_equal(fx->n_delivered, 3);
	assert_int_equal(stats(fx).delivered, 3);
}

/* Set path's modification time to epoch second sec. */
static void
set_mtime(const char *root, const char *key, time_t sec)
{
	struct timespec ts[2] = { { sec, 0 }, { sec, 0 } };
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", root, key);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Files a previous instance left: found, staging cleaned, delivered oldest
 * first once configured, not before.  Oldest is by modification time (when
 * the builder committed the file), ties broken by key. */
static void
test_restart_scan(void **state)
{
	struct fixture *fx = *state;
	char tmp[PATH_MAX], stale[PATH_MAX];
	struct ht_outbox_stats st;
	time_t now = time(NULL);
	int fd = -1;

	/* The previous instance committed K3 first, then K2 and K1 in the
	 * same second (the key's delivery minute orders those); a build was
	 * interrupted in the middle of staging, and one more stale staging
	 * file lies about. */
	assert_int_equal(commit_at(fx->files, K2, 200), 200);
	assert_int_equal(commit_at(fx->files, K1, 100), 100);
	assert_int_equal(commit_at(fx->files, K3, 300), 300);
	set_mtime(fx->files, K3, now - 100);
	set_mtime(fx->files, K2, now - 50);
	set_mtime(fx->files, K1, now - 50);
	assert_int_equal(ht_spool_stage(fx->files, tmp, sizeof(tmp), &fd), 0);
	assert_int_equal(write(fd, "partial", 7), 7);
	close(fd);
	snprintf(stale, sizeof(stale), "%s/%s/0123456789abcdef.part", fx->files,
	    HT_SPOOL_STAGING);
	fd = open(stale, O_WRONLY | O_CREAT | O_EXCL, 0640);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(count_staging(fx->files), 2);

	load_conf(fx, SPOOL_BUCKET, 100, "100ms", "1s");
	open_outbox(fx);
	assert_false(exists(tmp));
	assert_false(exists(stale));
	assert_int_equal(count_staging(fx->files), 0);
	st = stats(fx);
	assert_int_equal(st.files, 3);
	assert_int_equal(st.bytes, 600);

	/* Not configured yet: nothing moves. */
	loop_for(fx->base, 150);
	assert_int_equal(stats(fx).delivered, 0);
	assert_int_equal(fx->n_delivered, 0);
	assert_true(in_dir(fx->files, K1));
	assert_false(in_dir(fx->spool, K1));

	configure(fx);
	assert_true(await_n(fx, delivered_n, 3));
	assert_int_equal(fx->n_delivered, 3);
	assert_string_equal(fx->del_key[0], K3);
	assert_string_equal(fx->del_key[1], K1);
	assert_string_equal(fx->del_key[2], K2);
	assert_content(fx->spool, K1, 100);
	assert_content(fx->spool, K2, 200);
	assert_content(fx->spool, K3, 300);
	assert_int_equal(stats(fx).files, 0);
	assert_false(in_dir(fx->files, K1) || in_dir(fx->files, K2) || in_dir(fx->files, K3));
}

/* The same key added twice (a rebuild after a crash) is one file. */
static void
test_add_twice(void **state)
{
	struct fixture *fx = *state;
	struct ht_outbox_stats st;

	load_conf(fx, SPOOL_BUCKET, 100, "100ms", "1s");
	open_outbox(fx);
	commit_add(fx, K1, 500);
	commit_add(fx, K1, 500);
	assert_int_equal(ht_outbox_add(fx->o, K1, 500), 0);
	st = stats(fx);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.bytes, 500);

	configure(fx);
	assert_true(await_n(fx, delivered_n, 1));
	loop_for(fx->base, 150);
	st = stats(fx);
	assert_int_equal(st.delivered, 1);
	assert_int_equal(st.files, 0);
	assert_int_equal(st.failures, 0);
	assert_int_equal(fx->n_delivered, 1);
	assert_string_equal(fx->del_key[0], K1);
	assert_content(fx->spool, K1, 500);
}

/* outbox_max: full at the cap while nothing drains; not full once it did. */
static void
test_outbox_max(void **state)
{
	struct fixture *fx = *state;
	struct ht_outbox_stats st;

	start_outbox(fx, S3_BUCKET, 3, "100ms", "1s");
	commit_add(fx, K1, 10);
	commit_add(fx, K2, 20);
	assert_false(ht_outbox_full(fx->o));
	commit_add(fx, K3, 30);
	assert_true(ht_outbox_full(fx->o));
	st = stats(fx);
	assert_int_equal(st.max_files, 3);
	assert_int_equal(st.files, 3);

	/* The endpoint refuses connections: attempts fail, nothing drains.
	 * Wait for a quiet pool too: a reload while a file is being hashed
	 * for S3 is test_reconfigure_while_hashing's business. */
	assert_true(await_n(fx, failures_n_idle, 2));
	assert_true(ht_outbox_full(fx->o));
	st = stats(fx);
	assert_int_equal(st.files, 3);
	assert_int_equal(st.delivered, 0);
	assert_true(in_dir(fx->files, K1) && in_dir(fx->files, K2) && in_dir(fx->files, K3));

	/* Point the trail at the spool: the outbox drains. */
	reload(fx, SPOOL_BUCKET, 3, "100ms", "1s");
	assert_true(await_n(fx, files_n, 0));
	assert_false(ht_outbox_full(fx->o));
	st = stats(fx);
	assert_int_equal(st.delivered, 3);
	assert_int_equal(fx->n_delivered, 3);
	assert_content(fx->spool, K1, 10);
	assert_content(fx->spool, K2, 20);
	assert_content(fx->spool, K3, 30);
	for (int i = 0; i < 3; i++)
		assert_string_equal(fx->del_bucket[i], SPOOL_BUCKET);
}

/* A failed upload pauses the outbox; a reconfigure ends the pause. */
static void
test_failure_pause(void **state)
{
	struct fixture *fx = *state;
	struct ht_outbox_stats st;
	char endpoint[64];
	int64_t t0 = (int64_t)time(NULL), t;

	/* A pause of about an hour: any prompt attempt is the reconfigure's. */
	start_outbox(fx, S3_BUCKET, 100, "1h", "1h");
	commit_add(fx, K1, 64);
	assert_true(await_n(fx, failures_n, 1));
	st = stats(fx);
	snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%u", fx->closed_port);
	if (strstr(st.latest_error, endpoint) == NULL)
		fail_msg("latest_error does not name the endpoint %s: \"%s\"", endpoint,
		    st.latest_error);
	assert_false(st.latest_attempt_succeeded);
	assert_true(st.latest_attempt_time >= t0 && st.latest_attempt_time <= time(NULL));
	assert_int_equal(st.latest_delivery_time, 0);
	assert_true(st.paused);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.delivered, 0);
	assert_true(in_dir(fx->files, K1));
	assert_int_equal(fx->n_delivered, 0);

	/* Paused: no attempt for a while. */
	loop_for(fx->base, 300);
	st = stats(fx);
	assert_int_equal(st.failures, 1);
	assert_true(st.paused);

	/* A reload ends the pause: the next attempt comes at once. */
	t = ht_mono_ms();
	configure(fx);
	assert_false(stats(fx).paused);
	want_n = 2;
	assert_true(loop_until(fx->base, failures_n, fx, 3000));
	assert_true(ht_mono_ms() - t < 3000);
	st = stats(fx);
	assert_int_equal(st.failures, 2);
	assert_true(st.paused);
	assert_int_equal(st.files, 1);
	assert_true(in_dir(fx->files, K1));
}

/* latest_* survive free + new through status.json. */
static void
test_status_persists(void **state)
{
	struct fixture *fx = *state;
	struct ht_outbox_stats before, after;
	char path[PATH_MAX];

	start_outbox(fx, SPOOL_BUCKET, 100, "1h", "1h");
	commit_add(fx, K1, 64);
	assert_true(await_n(fx, delivered_n, 1));

	/* Then a failure, so every latest_* field has a value. */
	reload(fx, S3_BUCKET, 100, "1h", "1h");
	commit_add(fx, K2, 64);
	assert_true(await_n(fx, failures_n, 1));
	before = stats(fx);
	assert_true(before.latest_delivery_time > 0);
	assert_true(before.latest_attempt_time >= before.latest_delivery_time);
	assert_false(before.latest_attempt_succeeded);
	assert_true(before.latest_error[0] != '\0');

	close_outbox(fx);
	snprintf(path, sizeof(path), "%s/status.json", fx->trail_dir);
	assert_true(exists(path));
	open_outbox(fx);
	after = stats(fx);
	assert_int_equal(after.latest_delivery_time, before.latest_delivery_time);
	assert_int_equal(after.latest_attempt_time, before.latest_attempt_time);
	assert_false(after.latest_attempt_succeeded);
	assert_string_equal(after.latest_error, before.latest_error);
	assert_int_equal(after.files, 1);	/* K2, still waiting */
	/* Counters are since start. */
	assert_int_equal(after.delivered, 0);
	assert_int_equal(after.failures, 0);

	/* And a success is persisted as such. */
	reload(fx, SPOOL_BUCKET, 100, "1h", "1h");
	assert_true(await_n(fx, delivered_n, 1));
	before = stats(fx);
	close_outbox(fx);
	open_outbox(fx);
	after = stats(fx);
	assert_true(after.latest_attempt_succeeded);
	assert_string_equal(after.latest_error, "");
	assert_int_equal(after.latest_delivery_time, before.latest_delivery_time);
	assert_int_equal(after.latest_attempt_time, before.latest_attempt_time);
}

/* Check one notification entry file: JSON with bucket, key and messageId. */
static void
assert_entry(const char *dir, const char *name, const char *bucket, const char *key)
{
	struct json_object *j, *b, *k, *m;
	char path[PATH_MAX];
	size_t len;
	char *text;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	text = read_all(path, &len);
	if (text == NULL)
		fail_msg("notification entry %s is missing", path);
	j = json_tokener_parse(text);
	assert_non_null(j);
	assert_true(json_object_object_get_ex(j, "bucket", &b));
	assert_true(json_object_object_get_ex(j, "key", &k));
	assert_true(json_object_object_get_ex(j, "messageId", &m));
	assert_string_equal(json_object_get_string(b), bucket);
	assert_string_equal(json_object_get_string(k), key);
	assert_int_equal(json_object_get_string_len(m), HT_UUID_LEN - 1);
	json_object_put(j);
	free(text);
}

/* With notifications on, each delivered file leaves an entry. */
static void
test_notify_entries(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(mkdir(fx->notify, 0750), 0);
	start_outbox_notify(fx, SPOOL_BUCKET);
	commit_add(fx, K1, 10);
	commit_add(fx, K2, 20);
	assert_true(await_n(fx, delivered_n, 2));
	assert_int_equal(fx->n_added, 2);
	assert_string_not_equal(fx->added[0], fx->added[1]);
	assert_entry(fx->notify, fx->added[0], SPOOL_BUCKET, K1);
	assert_entry(fx->notify, fx->added[1], SPOOL_BUCKET, K2);
	assert_false(in_dir(fx->files, K1) || in_dir(fx->files, K2));

	/* Notifications off: no more entries. */
	assert_int_equal(ht_outbox_set_notify(fx->o, NULL, NULL, NULL), 0);
	commit_add(fx, K3, 30);
	assert_true(await_n(fx, delivered_n, 3));
	assert_int_equal(fx->n_added, 2);
	assert_int_equal(count_names(fx->notify), 2);
}

/* An entry that cannot be written keeps the file in the outbox: the entry
 * is made durable before the file goes. */
static void
test_notify_entry_first(void **state)
{
	struct fixture *fx = *state;
	struct ht_outbox_stats st;

	/* fx->notify does not exist yet. */
	start_outbox_notify(fx, SPOOL_BUCKET);
	commit_add(fx, K1, 10);
	assert_true(await_n(fx, failures_n, 1));
	st = stats(fx);
	assert_int_equal(st.delivered, 0);
	assert_int_equal(st.files, 1);
	assert_false(st.latest_attempt_succeeded);
	assert_true(strstr(st.latest_error, "notification") != NULL);
	assert_true(in_dir(fx->files, K1));
	assert_int_equal(fx->n_added, 0);
	assert_int_equal(fx->n_delivered, 0);

	/* The directory appears: the retry delivers, with its entry. */
	assert_int_equal(mkdir(fx->notify, 0750), 0);
	assert_true(await_n(fx, delivered_n, 1));
	assert_int_equal(fx->n_added, 1);
	assert_int_equal(fx->n_delivered, 1);
	assert_entry(fx->notify, fx->added[0], SPOOL_BUCKET, K1);
	assert_false(in_dir(fx->files, K1));
	assert_content(fx->spool, K1, 10);
}

/* Freed with a delivery in flight: no crash, and the file is in the spool
 * or still in the outbox, never lost. */
static void
test_free_in_flight(void **state)
{
	struct fixture *fx = *state;

	start_outbox(fx, SPOOL_BUCKET, 100, "100ms", "1s");
	commit_add(fx, K1, 100000);
	close_outbox(fx);
	assert_true(in_dir(fx->files, K1) || in_dir(fx->spool, K1));
	open_outbox(fx);
	configure(fx);
	assert_true(await_n(fx, files_n, 0));
	assert_content(fx->spool, K1, 100000);
}

/* S3 target: a PUT per file, path style, the file's bytes; delivered with
 * the bucket's real name. */
static void
test_s3_delivery(void **state)
{
	struct fixture *fx = *state;
	const char *keys[] = { K1, K2 };
	const size_t sizes[] = { 777, 4096 };
	char want[1024];
	unsigned char *data;

	s3_start(fx, 200, true);
	start_outbox(fx, S3_BUCKET, 100, "100ms", "1s");
	commit_add(fx, K1, sizes[0]);
	commit_add(fx, K2, sizes[1]);
	assert_true(await_n(fx, delivered_n, 2));
	assert_int_equal(stats(fx).files, 0);
	assert_int_equal(stats(fx).failures, 0);
	assert_int_equal(stub_count(&fx->stub), 2);
	for (int i = 0; i < 2; i++) {
		struct stub_req *r = NULL;

		snprintf(want, sizeof(want), "/trail-logs/%s", keys[i]);
		for (unsigned k = 0; k < 2; k++)
			if (strcmp(fx->stub.req[k].target, want) == 0)
				r = &fx->stub.req[k];
		if (r == NULL)
			fail_msg("no PUT to %s", want);
		assert_string_equal(r->method, "PUT");
		data = malloc(sizes[i]);
		assert_non_null(data);
		content(keys[i], sizes[i], data);
		assert_int_equal(r->body_len, sizes[i]);
		assert_memory_equal(r->body, data, sizes[i]);
		free(data);
		assert_false(in_dir(fx->files, keys[i]));
	}
	assert_int_equal(fx->n_delivered, 2);
	for (int i = 0; i < 2; i++)
		assert_string_equal(fx->del_bucket[i], "trail-logs");
}

/* A reload that moves the trail to another bucket while an upload is in
 * flight: the upload finishes against the old target (outbox.c says so),
 * and that is the bucket the file is reported in - the delivered callback
 * and the notification entry must name where the file really is. */
static void
test_reconfigure_in_flight(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(mkdir(fx->notify, 0750), 0);
	s3_start(fx, 200, false);
	start_outbox_notify(fx, S3_BUCKET);
	commit_add(fx, K1, 100);
	assert_true(await_n(fx, stub_n, 1));

	/* The PUT is at the server, unanswered: move to the spool. */
	reload(fx, SPOOL_BUCKET, 100, "100ms", "1s");
	stub_open_gate(&fx->stub);
	assert_true(await_n(fx, delivered_n, 1));
	loop_for(fx->base, 100);
	assert_int_equal(stub_count(&fx->stub), 1);
	assert_int_equal(stats(fx).files, 0);
	assert_false(in_dir(fx->spool, K1));	/* it went to S3, once */
	assert_int_equal(fx->n_delivered, 1);
	assert_int_equal(fx->n_added, 1);
	assert_string_equal(fx->del_key[0], K1);
	assert_string_equal(fx->del_bucket[0], "trail-logs");
	assert_entry(fx->notify, fx->added[0], "trail-logs", K1);
}

/* The same reload, but the old target then refuses the upload: the error
 * describes the attempt that failed (its endpoint), not the new target
 * (a spool has no endpoint: it came out as "(null)", a NULL passed to %s). */
static void
test_reconfigure_in_flight_fails(void **state)
{
	struct fixture *fx = *state;
	struct ht_outbox_stats st;
	char endpoint[64];

	s3_start(fx, 500, false);
	start_outbox(fx, S3_BUCKET, 100, "100ms", "1s");
	commit_add(fx, K1, 100);
	assert_true(await_n(fx, stub_n, 1));
	reload(fx, SPOOL_BUCKET, 100, "100ms", "1s");
	stub_open_gate(&fx->stub);
	assert_true(await_n(fx, failures_n, 1));
	st = stats(fx);
	snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%u", fx->stub.port);
	if (strstr(st.latest_error, "(null)") != NULL ||
	    strstr(st.latest_error, endpoint) == NULL)
		fail_msg("latest_error does not describe the failed upload to %s: \"%s\"",
		    endpoint, st.latest_error);
	/* And the file still reaches the new target. */
	assert_true(await_n(fx, delivered_n, 1));
	assert_content(fx->spool, K1, 100);
}

/* status.json ends up with the newest status even when an older write was
 * still queued on the pool at free: the pool is held while the status
 * timer queues a write, the status changes again, the outbox is freed (its
 * final write is the newest), then the queued write runs. */
static void
test_status_newest_wins(void **state)
{
	struct fixture *fx = *state;
	struct ht_outbox_stats newest, after;
	unsigned port2;
	int fd2 = loopback_socket(&port2, 0);
	char endpoint2[64];

	assert_true(fd2 >= 0);
	start_outbox(fx, S3_BUCKET, 100, "1h", "1h");
	commit_add(fx, K1, 64);
	assert_true(await_n(fx, failures_n, 1));

	/* The status timer (1 s) queues its write behind the blockers. */
	block_workers(fx, 2);
	assert_true(await_n(fx, pool_n, 3));

	/* A newer status: the same file fails against another endpoint. */
	fx->s3_port = port2;
	reload(fx, S3_BUCKET, 100, "1h", "1h");
	assert_true(await_n(fx, failures_n, 2));
	newest = stats(fx);
	snprintf(endpoint2, sizeof(endpoint2), "127.0.0.1:%u", port2);
	assert_non_null(strstr(newest.latest_error, endpoint2));

	ht_outbox_free(fx->o);
	fx->o = NULL;
	gate_set(&fx->workers, true);
	ht_worker_drain(fx->io);
	close(fd2);

	open_outbox(fx);
	after = stats(fx);
	if (strcmp(after.latest_error, newest.latest_error) != 0)
		fail_msg("status.json went back to an older status: \"%s\", want \"%s\"",
		    after.latest_error, newest.latest_error);
	assert_int_equal(after.latest_attempt_time, newest.latest_attempt_time);
}

/* ---- a scenario that may crash: run it in a child ---- */

static int child_delivered;

static void
child_delivered_cb(const char *bucket, const char *key, void *arg)
{
	(void)bucket;
	(void)key;
	(void)arg;
	child_delivered++;
}

static void
child_block_work(void *arg)
{
	char c;

	(void)!read(*(int *)arg, &c, 1);
}

/* In a fresh process (no cmocka asserts here: exit codes only): a file is
 * being hashed for an S3 upload (the pool is held so the hash is still
 * queued) when a reload moves the trail to the spool.  The file must end
 * up in the spool.  Exit 0 when it did. */
static int
child_reconfigure_while_hashing(struct fixture *fx, struct ht_conf *s3, struct ht_conf *spool)
{
	struct ht_outbox_env env = { .state_dir = fx->state };
	struct ht_outbox *o = NULL;
	struct ht_worker *io = NULL;
	struct timeval tv = { 0, 5000 };
	struct event *tick;
	char tmp[PATH_MAX];
	int gate[2], fd = -1;
	int64_t deadline;

	env.base = event_base_new();
	if (env.base == NULL || pipe(gate) < 0 || ht_worker_new(env.base, 1, "t-child", &io) < 0)
		return 10;
	env.io = io;
	if (ht_outbox_new(&env, TRAIL, &o) < 0)
		return 11;
	ht_outbox_on_delivered(o, child_delivered_cb, NULL);
	if (ht_outbox_configure(o, s3, &s3->trails[0], NULL) < 0)
		return 12;
	if (ht_worker_submit(io, child_block_work, NULL, &gate[0]) < 0)
		return 13;
	if (ht_spool_stage(ht_outbox_dir(o), tmp, sizeof(tmp), &fd) < 0 ||
	    write(fd, "0123456789", 10) != 10 ||
	    ht_spool_commit(ht_outbox_dir(o), fd, tmp, K1) < 0 || ht_outbox_add(o, K1, 10) < 0)
		return 14;
	/* The hash job is queued behind the blocker: reload now. */
	if (ht_outbox_configure(o, spool, &spool->trails[0], NULL) < 0)
		return 15;
	(void)!write(gate[1], "x", 1);
	tick = event_new(env.base, -1, EV_PERSIST, loop_tick_cb, NULL);
	if (tick == NULL || event_add(tick, &tv) < 0)
		return 16;
	deadline = ht_mono_ms() + LIMIT_MS;
	while (child_delivered == 0 && ht_mono_ms() < deadline)
		event_base_loop(env.base, EVLOOP_ONCE);
	event_free(tick);
	if (child_delivered != 1 || !in_dir(fx->spool, K1))
		return 17;
	ht_outbox_free(o);
	ht_worker_free(io);
	event_base_free(env.base);
	return 0;
}

/* Run fn in a child process; fail with what became of it unless it
 * exited 0 within LIMIT_MS. */
static void
run_in_child(struct fixture *fx, int (*fn)(struct fixture *, struct ht_conf *, struct ht_conf *),
    struct ht_conf *a, struct ht_conf *b)
{
	int64_t deadline = ht_mono_ms() + LIMIT_MS + 5000;
	int status = 0;
	pid_t pid, w;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* A crash must end the child, not unwind into cmocka's runner. */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		signal(SIGILL, SIG_DFL);
		signal(SIGFPE, SIG_DFL);
		signal(SIGABRT, SIG_DFL);
		_exit(fn(fx, a, b));
	}
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 && ht_mono_ms() < deadline)
		usleep(5000);
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fail_msg("the child did not finish within %d ms", LIMIT_MS + 5000);
	}
	if (WIFSIGNALED(status))
		fail_msg("the child was killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	if (WEXITSTATUS(status) != 0)
		fail_msg("the child failed with exit status %d", WEXITSTATUS(status));
}

/* A reload from an S3 bucket to a spool while a file is being hashed for
 * its upload: the file goes to the spool (no S3 upload with the spool's
 * missing credentials). */
static void
test_reconfigure_while_hashing(void **state)
{
	struct fixture *fx = *state;

	load_conf(fx, S3_BUCKET, 100, "100ms", "1s");
	fx->conf2 = fx->conf;
	fx->conf = NULL;
	load_conf(fx, SPOOL_BUCKET, 100, "100ms", "1s");
	run_in_child(fx, child_reconfigure_while_hashing, fx->conf2, fx->conf);
}

static void
test_remove_dir(void **state)
{
	struct fixture *fx = *state;
	char outbox[PATH_MAX];

	start_outbox(fx, S3_BUCKET, 100, "1h", "1h");
	commit_add(fx, K1, 10);
	assert_true(await_n(fx, failures_n, 1));
	close_outbox(fx);
	assert_true(in_dir(fx->files, K1));

	assert_int_equal(ht_outbox_remove_dir(fx->state, TRAIL), 0);
	assert_false(exists(fx->trail_dir));
	snprintf(outbox, sizeof(outbox), "%s/outbox", fx->state);
	assert_true(exists(outbox));
	/* Already gone: nothing to do. */
	assert_int_equal(ht_outbox_remove_dir(fx->state, TRAIL), 0);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_spool_delivery),
		T(test_restart_scan),
		T(test_add_twice),
		T(test_outbox_max),
		T(test_failure_pause),
		T(test_status_persists),
		T(test_notify_entries),
		T(test_notify_entry_first),
		T(test_free_in_flight),
		T(test_s3_delivery),
		T(test_reconfigure_in_flight),
		T(test_reconfigure_in_flight_fails),
		T(test_status_newest_wins),
		cmocka_unit_test_setup_teardown(test_reconfigure_while_hashing, setup_bare,
		    teardown),
		T(test_remove_dir),
	};
#undef T

	/* TEST_FILTER=test_outbox_max runs one test (cmocka's glob). */
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}

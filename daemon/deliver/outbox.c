/*
 * outbox.c - see outbox.h.
 *
 * All state is on the loop thread.  Files wait in a FIFO (oldest first, which
 * is also key order after a restart: keys start with the delivery minute).
 * A file is "busy" while one of its steps runs: hashing (worker), upload
 * (S3 client) or placing in the spool, then finishing (worker: queue the
 * notification, remove the file).  Worker jobs carry copies of everything
 * they touch, so an outbox freed while jobs run is only marked dead and
 * released by the last job's done callback.
 */
#include "ht_build.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "api/sigv4.h"
#include "conf.h"
#include "crypto.h"
#include "deliver/creds.h"
#include "deliver/notify.h"
#include "deliver/outbox.h"
#include "deliver/s3.h"
#include "deliver/spool.h"
#include "fileio.h"
#include "log.h"
#include "util.h"
#include "worker.h"

#define OBX_STATUS_DELAY_MS 1000	/* status.json is written at most this often */
#define OBX_ERROR_MAX 480		/* bytes of an error kept for GetTrailStatus */

struct obx_file {
	TAILQ_ENTRY(obx_file) link;
	struct ht_outbox *o;
	char *key;
	uint64_t size;
	int64_t mtime_ns;		/* from the start-up scan: the order files were made */
	bool busy;
	bool hashed;
	char *att_bucket, *att_endpoint;	/* the target of the running attempt: a reload
						 * may change o->t meanwhile */
	char sha256[2 * HT_SHA256_LEN + 1];
	char md5[HT_S3_CONTENT_MD5_LEN + 1];
};
TAILQ_HEAD(obx_list, obx_file);

/* Where files go; copied from the config. */
struct obx_target {
	enum ht_bucket_type type;
	char *bucket;			/* s3: the bucket's real name; spool: the config name */
	char *spool_root;
	char *endpoint, *region, *ca_file, *resolve_to, *storage_class, *kms_key_id;
	enum ht_s3_addressing addressing;
	enum ht_s3_sse sse;
	long timeout_ms;
	unsigned concurrency;
	struct ht_creds_provider *creds;
};

struct ht_outbox {
	struct ht_outbox_env env;
	char *trail;
	char *dir;			/* state_dir/outbox/TRAIL */
	char *files_dir;		/* dir/files: the builder's root */
	char *status_path;
	struct obx_list files;
	uint64_t n_files, n_bytes;
	bool configured;
	struct obx_target t;
	uint64_t retry_min_ms, retry_max_ms, max_files;
	struct ht_s3_client *s3;
	struct event *timer;		/* end of a pause */
	struct event *status_timer;
	unsigned in_flight;		/* files busy */
	unsigned jobs;			/* worker jobs whose done() has not run */
	bool dead;
	int64_t paused_until;		/* mono ms, 0 = not paused */
	unsigned consecutive_failures;
	bool probing;			/* one file at a time until one succeeds */
	ht_outbox_delivered_fn delivered_fn;
	void *delivered_arg;
	char *notify_dir;		/* set: queue a notification per file */
	ht_outbox_notify_added_fn notify_added_fn;
	void *notify_added_arg;
	struct ht_outbox_stats st;
	bool status_dirty;
};

/* One step of one file on the worker pool. */
enum obx_step { OBX_HASH, OBX_PLACE, OBX_FINISH };

struct obx_job {
	struct ht_outbox *o;
	struct obx_file *f;		/* NULL once the outbox died */
	enum obx_step step;
	char *path;			/* the file in the outbox */
	char *key;
	char *spool_root;		/* OBX_PLACE */
	char *bucket;
	char *notify_dir;		/* NULL: no notification */
	char notify_name[128];
	int err;
	char errmsg[OBX_ERROR_MAX];
	char sha256[2 * HT_SHA256_LEN + 1];
	char md5[HT_S3_CONTENT_MD5_LEN + 1];
};

static void obx_pump(struct ht_outbox *o);
static void obx_destroy(struct ht_outbox *o);

/* ---- target ---- */

static void
target_clear(struct obx_target *t)
{
	free(t->bucket);
	free(t->spool_root);
	free(t->endpoint);
	free(t->region);
	free(t->ca_file);
	free(t->resolve_to);
	free(t->storage_class);
	free(t->kms_key_id);
	ht_creds_provider_free(t->creds);
	memset(t, 0, sizeof(*t));
}

static int
target_from_conf(struct obx_target *t, const struct ht_conf *conf,
    const struct ht_conf_bucket *b, const char *kms_key_id)
{
	bool oom = false;
	int v;

	memset(t, 0, sizeof(*t));
	t->type = b->type;
	if (b->type == HT_BUCKET_SPOOL) {
		t->bucket = ht_strdup_opt(b->name, &oom);
		t->spool_root = ht_conf_path(conf, b->path);
		t->concurrency = 1;	/* the disk, not the network, sets the pace */
		if (oom || t->spool_root == NULL)
			goto nomem;
		return 0;
	}
	t->bucket = ht_strdup_opt(b->bucket ? b->bucket : b->name, &oom);
	t->region = ht_strdup_opt(b->region ? b->region : conf->region, &oom);
	if (b->endpoint != NULL)
		t->endpoint = ht_strdup_opt(b->endpoint, &oom);
	else if (!oom && asprintf(&t->endpoint, "https://s3.%s.amazonaws.com", t->region) < 0)
		t->endpoint = NULL, oom = true;
	t->ca_file = ht_strdup_opt(b->ca_file, &oom);
	t->resolve_to = ht_strdup_opt(b->resolve_to, &oom);
	t->storage_class = ht_strdup_opt(b->storage_class, &oom);
	t->kms_key_id = ht_strdup_opt(kms_key_id, &oom);
	if (oom)
		goto nomem;
	t->addressing = b->path_style ? HT_S3_PATH_STYLE : HT_S3_VIRTUAL_HOSTED;
	t->sse = b->server_side_encryption == HT_SSE_AES256 ? HT_S3_SSE_AES256 :
	    b->server_side_encryption == HT_SSE_KMS ? HT_S3_SSE_KMS : HT_S3_SSE_NONE;
	t->timeout_ms = (long)b->timeout_ms;
	t->concurrency = b->concurrency ? b->concurrency : 4;
	v = ht_creds_provider_new(&b->credentials, &t->creds);
	if (v < 0) {
		target_clear(t);
		return v;
	}
	return 0;
nomem:
	target_clear(t);
	return -ENOMEM;
}

/* ---- status ---- */

static void
obx_set_error(struct ht_outbox *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
obx_set_error(struct ht_outbox *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->st.latest_error, sizeof(o->st.latest_error), fmt, ap);
	va_end(ap);
}

static char *
status_json(const struct ht_outbox *o)
{
	struct json_object *j = json_object_new_object();
	char *s = NULL;

	if (j == NULL)
		return NULL;
	json_object_object_add(j, "latestDeliveryTime",
	    json_object_new_int64(o->st.latest_delivery_time));
	json_object_object_add(j, "latestAttemptTime",
	    json_object_new_int64(o->st.latest_attempt_time));
	json_object_object_add(j, "latestAttemptSucceeded",
	    json_object_new_boolean(o->st.latest_attempt_succeeded));
	json_object_object_add(j, "latestError", json_object_new_string(o->st.latest_error));
	s = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	json_object_put(j);
	return s;
}

static void
status_load(struct ht_outbox *o)
{
	struct json_object *j, *v;
	char *text = NULL;
	size_t len;

	if (ht_read_file(o->status_path, 64 * 1024, &text, &len) < 0)
		return;
	j = json_tokener_parse(text);
	free(text);
	if (j == NULL) {
		log_warnx("outbox %s: %s does not parse, ignoring (delivery status starts afresh)",
		    o->trail, o->status_path);
		return;
	}
	if (json_object_object_get_ex(j, "latestDeliveryTime", &v))
		o->st.latest_delivery_time = json_object_get_int64(v);
	if (json_object_object_get_ex(j, "latestAttemptTime", &v))
		o->st.latest_attempt_time = json_object_get_int64(v);
	if (json_object_object_get_ex(j, "latestAttemptSucceeded", &v))
		o->st.latest_attempt_succeeded = json_object_get_boolean(v);
	if (json_object_object_get_ex(j, "latestError", &v) && json_object_is_type(v, json_type_string))
		snprintf(o->st.latest_error, sizeof(o->st.latest_error), "%s",
		    json_object_get_string(v));
	json_object_put(j);
}

struct status_job {
	struct ht_outbox *o;
	char *path;
	char *text;
};

static void
status_job_work(void *arg)
{
	struct status_job *sj = arg;

	/* Losing the newest status to a crash only loses a timestamp: no
	 * logging from the worker, the next change rewrites it. */
	(void)ht_write_file_atomic(sj->path, sj->text, strlen(sj->text), 0640);
}

static void
status_job_done(void *arg)
{
	struct status_job *sj = arg;
	struct ht_outbox *o = sj->o;

	free(sj->path);
	free(sj->text);
	free(sj);
	if (o != NULL && --o->jobs == 0 && o->dead)
		obx_destroy(o);
}

static void
obx_status_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ht_outbox *o = arg;
	struct status_job *sj;

	if (!o->status_dirty)
		return;
	sj = calloc(1, sizeof(*sj));
	if (sj == NULL || (sj->path = strdup(o->status_path)) == NULL ||
	    (sj->text = status_json(o)) == NULL ||
	    ht_worker_submit(o->env.io, status_job_work, status_job_done, sj) < 0) {
		if (sj)
			status_job_done(sj);
		return;	/* stays dirty: retried at the next change */
	}
	sj->o = o;
	o->jobs++;
	o->status_dirty = false;
}

static void
obx_status_changed(struct ht_outbox *o)
{
	struct timeval tv = { .tv_sec = OBX_STATUS_DELAY_MS / 1000 };

	o->status_dirty = true;
	if (!evtimer_pending(o->status_timer, NULL))
		evtimer_add(o->status_timer, &tv);
}

/* ---- the queue ---- */

static struct obx_file *
obx_find(struct ht_outbox *o, const char *key)
{
	struct obx_file *f;

	TAILQ_FOREACH(f, &o->files, link)
		if (strcmp(f->key, key) == 0)
			return f;
	return NULL;
}

static void
obx_forget(struct ht_outbox *o, struct obx_file *f)
{
	TAILQ_REMOVE(&o->files, f, link);
	o->n_files--;
	o->n_bytes -= f->size;
	free(f->att_bucket);
	free(f->att_endpoint);
	free(f->key);
	free(f);
}

int
ht_outbox_add(struct ht_outbox *o, const char *key, uint64_t size)
{
	struct obx_file *f = obx_find(o, key);

	if (f != NULL) {
		/* Rebuilt after a crash: same key, same bytes.  A digest taken
		 * of the first copy still holds, but take it again to be sure. */
		if (!f->busy)
			f->hashed = false;
		return 0;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL || (f->key = strdup(key)) == NULL) {
		free(f);
		return -ENOMEM;
	}
	f->o = o;
	f->size = size;
	TAILQ_INSERT_TAIL(&o->files, f, link);
	o->n_files++;
	o->n_bytes += size;
	obx_pump(o);
	return 0;
}

/* ---- worker steps ---- */

static void
job_free(struct obx_job *j)
{
	free(j->path);
	free(j->key);
	free(j->spool_root);
	free(j->bucket);
	free(j->notify_dir);
	free(j);
}

static void
job_hash(struct obx_job *j)
{
	uint8_t sha[HT_SHA256_LEN];
	struct stat st;
	void *map = NULL;
	const void *data = "";
	int fd, v = 0;

	fd = open(j->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		v = -errno;
		goto out;
	}
	if (st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			map = NULL;
			v = -errno;
			goto out;
		}
		data = map;
	}
	v = ht_sha256(data, (size_t)st.st_size, sha);
	if (v == 0)
		v = ht_s3_content_md5(data, (size_t)st.st_size, j->md5);
	if (v == 0)
		ht_hex(sha, sizeof(sha), j->sha256);
out:
	if (map != NULL)
		munmap(map, (size_t)st.st_size);
	if (fd >= 0)
		close(fd);
	if (v < 0) {
		j->err = v;
		snprintf(j->errmsg, sizeof(j->errmsg), "cannot read %s: %s", j->path,
		    strerror(-v));
	}
}

/* What has to follow a confirmed delivery: the notification entry, made
 * durable before the file (the proof the delivery is owed) goes away. */
static void
job_finish(struct obx_job *j)
{
	int v;

	if (j->notify_dir != NULL) {
		v = ht_notify_entry_write(j->notify_dir, j->bucket, j->key, j->notify_name,
		    sizeof(j->notify_name));
		if (v < 0) {
			j->err = v;
			snprintf(j->errmsg, sizeof(j->errmsg),
			    "cannot queue the notification in %s: %s", j->notify_dir, strerror(-v));
			return;
		}
	}
	if (unlink(j->path) < 0 && errno != ENOENT) {
		/* Delivered; the worst case is one more identical upload. */
		j->err = -errno;
		snprintf(j->errmsg, sizeof(j->errmsg), "cannot remove %s: %s", j->path,
		    strerror(errno));
	}
}

static void
job_place(struct obx_job *j)
{
	int v = ht_spool_place(j->spool_root, j->path, j->key);

	if (v < 0) {
		j->err = v;
		snprintf(j->errmsg, sizeof(j->errmsg), "cannot place %s in the spool %s: %s",
		    j->key, j->spool_root, strerror(-v));
		return;
	}
	job_finish(j);
}

static void
obx_job_work(void *arg)
{
	struct obx_job *j = arg;

	switch (j->step) {
	case OBX_HASH:
		job_hash(j);
		break;
	case OBX_PLACE:
		job_place(j);
		break;
	case OBX_FINISH:
		job_finish(j);
		break;
	}
}

static void obx_job_done(void *arg);

static int
obx_submit(struct ht_outbox *o, struct obx_file *f, enum obx_step step)
{
	struct obx_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return -ENOMEM;
	j->o = o;
	j->f = f;
	j->step = step;
	j->key = strdup(f->key);
	j->bucket = strdup(f->att_bucket ? f->att_bucket : o->t.bucket);
	if (asprintf(&j->path, "%s/%s", o->files_dir, f->key) < 0)
		j->path = NULL;
	if (step == OBX_PLACE)
		j->spool_root = strdup(o->t.spool_root);
	if (step != OBX_HASH && o->notify_dir != NULL)
		j->notify_dir = strdup(o->notify_dir);
	if (!j->key || !j->bucket || !j->path || (step == OBX_PLACE && !j->spool_root) ||
	    (step != OBX_HASH && o->notify_dir && !j->notify_dir) ||
	    ht_worker_submit(o->env.io, obx_job_work, obx_job_done, j) < 0) {
		job_free(j);
		return -ENOMEM;
	}
	o->jobs++;
	return 0;
}

/* ---- outcomes ---- */

static void
obx_arm(struct event *ev, int64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000),
		.tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

/* A failed attempt: pause the whole outbox (all files go to the same
 * place, so they would fail alike).  Failures of attempts that were
 * already running when the pause began do not lengthen it. */
static void
obx_failed(struct ht_outbox *o, struct obx_file *f, bool slowly, const char *why)
{
	int64_t now = ht_mono_ms();
	uint64_t delay, jitter = 0;
	unsigned shift;

	f->busy = false;
	o->in_flight--;
	o->st.failures++;
	o->st.latest_attempt_time = (int64_t)time(NULL);
	o->st.latest_attempt_succeeded = false;
	obx_set_error(o, "%s", why);
	obx_status_changed(o);
	if (o->paused_until > now)
		return;
	o->consecutive_failures++;
	if (slowly) {
		delay = o->retry_max_ms;
	} else {
		shift = o->consecutive_failures - 1 > 20 ? 20 : o->consecutive_failures - 1;
		delay = o->retry_min_ms << shift;
		if (delay > o->retry_max_ms)
			delay = o->retry_max_ms;
	}
	/* +-20% jitter, so many hosts whose shared bucket came back do not
	 * all retry in the same second; retry_max stays the cap. */
	(void)ht_random_bytes(&jitter, sizeof(jitter));
	delay = delay * 4 / 5 + (delay > 5 ? jitter % (delay * 2 / 5) : 0);
	if (delay > o->retry_max_ms)
		delay = o->retry_max_ms;
	o->paused_until = now + (int64_t)delay;
	o->probing = true;
	o->st.paused = true;
	evtimer_del(o->timer);
	obx_arm(o->timer, (int64_t)delay);
	log_warnx("trail %s: delivering %s failed: %s; %llu file(s) kept in the outbox, "
	    "retrying in %.1f s%s", o->trail, f->key, why, (unsigned long long)o->n_files,
	    (double)delay / 1000.0, slowly ? " (this needs fixing: it will not heal by "
	    "itself; SIGHUP retries at once)" : "");
}

static void
obx_succeeded(struct ht_outbox *o, struct obx_file *f)
{
	o->in_flight--;
	o->st.delivered++;
	o->st.latest_delivery_time = o->st.latest_attempt_time = (int64_t)time(NULL);
	o->st.latest_attempt_succeeded = true;
	o->st.latest_error[0] = '\0';
	if (o->consecutive_failures > 0 || o->probing)
		log_info("trail %s: delivery works again; %llu file(s) left in the outbox",
		    o->trail, (unsigned long long)o->n_files - 1);
	o->consecutive_failures = 0;
	o->probing = false;
	o->paused_until = 0;
	o->st.paused = false;
	obx_status_changed(o);
	if (o->delivered_fn)
		o->delivered_fn(f->att_bucket, f->key, o->delivered_arg);
	obx_forget(o, f);
}

static void
obx_s3_done(const struct ht_s3_result *res, void *arg);

static void
obx_start_put(struct ht_outbox *o, struct obx_file *f)
{
	struct ht_creds cr;
	struct ht_s3_put req;
	char path[PATH_MAX], err[512];
	int v;

	v = ht_creds_get(o->t.creds, &cr, err, sizeof(err));
	if (v < 0) {
		obx_failed(o, f, true, err);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", o->files_dir, f->key);
	memset(&req, 0, sizeof(req));
	req.endpoint = o->t.endpoint;
	req.bucket = o->t.bucket;
	req.key = f->key;
	req.addressing = o->t.addressing;
	req.region = o->t.region;
	req.access_key_id = cr.access_key_id;
	req.secret = cr.secret;
	req.secret_len = cr.secret_len;
	req.session_token = cr.session_token[0] ? cr.session_token : NULL;
	req.path = path;
	req.file_size = f->size;
	req.payload_sha256 = f->sha256;
	req.content_md5 = f->md5;
	/* What CloudTrail sets on its log objects. */
	req.content_type = "application/json";
	req.content_encoding = "gzip";
	req.sse = o->t.sse;
	req.sse_kms_key_id = o->t.kms_key_id;
	req.storage_class = o->t.storage_class;
	req.ca_file = o->t.ca_file;
	req.resolve_to = o->t.resolve_to;
	req.timeout_ms = o->t.timeout_ms;
	v = ht_s3_client_put(o->s3, &req, obx_s3_done, f);
	ht_creds_clear(&cr);
	if (v < 0) {
		snprintf(err, sizeof(err), "cannot start the upload of %s to s3://%s: %s", f->key,
		    o->t.bucket, v == -EINVAL ? "the request could not be built (endpoint, "
		    "bucket or key)" : strerror(-v));
		obx_failed(o, f, v == -EINVAL, err);
	}
}

static void
obx_s3_done(const struct ht_s3_result *res, void *arg)
{
	struct obx_file *f = arg;
	struct ht_outbox *o = f->o;
	char why[OBX_ERROR_MAX];

	if (res->outcome == HT_S3_CANCELLED)
		return;	/* the outbox is being freed; the file stays on disk */
	if (res->outcome == HT_S3_OK) {
		log_debug("trail %s: stored s3://%s/%s (%s)", o->trail, o->t.bucket, f->key,
		    res->etag);
		if (obx_submit(o, f, OBX_FINISH) < 0)
			obx_failed(o, f, false, "out of memory finishing a delivery");
		return;
	}
	if (res->http_status == 0)
		snprintf(why, sizeof(why), "cannot reach %s: %s", f->att_endpoint,
		    res->curl_error[0] ? res->curl_error : "network error");
	else
		snprintf(why, sizeof(why), "%s%s%s (HTTP %ld from %s, bucket %s)",
		    res->code[0] ? res->code : "HTTP error", res->message[0] ? ": " : "",
		    res->message, res->http_status, f->att_endpoint, f->att_bucket);
	obx_failed(o, f, res->outcome == HT_S3_RETRY_SLOWLY, why);
}

static void
obx_job_done(void *arg)
{
	struct obx_job *j = arg;
	struct ht_outbox *o = j->o;
	struct obx_file *f = j->f;

	o->jobs--;
	if (o->dead) {
		job_free(j);
		if (o->jobs == 0)
			obx_destroy(o);
		return;
	}
	if (j->err < 0) {
		/* Local trouble (disk, memory) is not the target's fault, but
		 * backing off the same way keeps a full disk from spinning. */
		obx_failed(o, f, false, j->errmsg);
	} else if (j->step == OBX_HASH) {
		memcpy(f->sha256, j->sha256, sizeof(f->sha256));
		memcpy(f->md5, j->md5, sizeof(f->md5));
		f->hashed = true;
		if (o->t.type == HT_BUCKET_S3) {
			obx_start_put(o, f);
		} else {
			f->busy = false;	/* the bucket changed meanwhile: start
						 * again on the new target */
			o->in_flight--;
		}
	} else {
		if (j->notify_dir != NULL && o->notify_added_fn != NULL)
			o->notify_added_fn(j->notify_name, o->notify_added_arg);
		obx_succeeded(o, f);
	}
	job_free(j);
	obx_pump(o);
}

static void
obx_start(struct ht_outbox *o, struct obx_file *f)
{
	int v;

	f->busy = true;
	o->in_flight++;
	free(f->att_bucket);
	free(f->att_endpoint);
	f->att_bucket = strdup(o->t.bucket);
	f->att_endpoint = o->t.endpoint ? strdup(o->t.endpoint) : NULL;
	if (f->att_bucket == NULL || (o->t.endpoint != NULL && f->att_endpoint == NULL)) {
		obx_failed(o, f, false, "out of memory starting a delivery");
		return;
	}
	if (o->t.type == HT_BUCKET_SPOOL)
		v = obx_submit(o, f, OBX_PLACE);
	else if (!f->hashed)
		v = obx_submit(o, f, OBX_HASH);
	else {
		obx_start_put(o, f);
		return;
	}
	if (v < 0)
		obx_failed(o, f, false, "out of memory starting a delivery");
}

/* Start what may start now. */
static void
obx_pump(struct ht_outbox *o)
{
	struct obx_file *f;
	unsigned limit;

	if (!o->configured || o->dead)
		return;
	if (o->paused_until != 0) {
		int64_t left = o->paused_until - ht_mono_ms();

		if (left > 0) {
			if (!evtimer_pending(o->timer, NULL))
				obx_arm(o->timer, left);
			return;
		}
		o->paused_until = 0;
	}
	limit = o->probing ? 1 : o->t.concurrency;
	TAILQ_FOREACH(f, &o->files, link) {
		if (o->in_flight >= limit || o->paused_until != 0)
			break;
		if (!f->busy)
			obx_start(o, f);
	}
}

static void
obx_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	obx_pump(arg);
}

/* ---- start-up scan ---- */

/* nftw has no user argument: the scan runs on the loop thread before any
 * callback can, so a file-scope pointer is safe here. */
static struct ht_outbox *scan_outbox;
static int scan_err;

static int
obx_scan_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	struct ht_outbox *o = scan_outbox;
	const char *key = path + strlen(o->files_dir) + 1;

	if (ftw->level == 1 && type == FTW_D && strcmp(key, HT_SPOOL_STAGING) == 0)
		return FTW_SKIP_SUBTREE;
	if (type != FTW_F)
		return FTW_CONTINUE;
	if (ht_outbox_add(o, key, (uint64_t)st->st_size) < 0) {
		scan_err = -ENOMEM;
		return FTW_STOP;
	}
	TAILQ_LAST(&o->files, obx_list)->mtime_ns =
	    (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	return FTW_CONTINUE;
}

static int
obx_key_cmp(const void *a, const void *b)
{
	const struct obx_file *const *x = a, *const *y = b;

	if ((*x)->mtime_ns != (*y)->mtime_ns)
		return (*x)->mtime_ns < (*y)->mtime_ns ? -1 : 1;
	return strcmp((*x)->key, (*y)->key);
}

/* Oldest first: by modification time (when the builder committed the file),
 * then by key, whose delivery minute breaks ties. */
static int
obx_sort(struct ht_outbox *o)
{
	struct obx_file **v, *f;
	size_t i = 0;

	if (o->n_files < 2)
		return 0;
	v = calloc(o->n_files, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	TAILQ_FOREACH(f, &o->files, link)
		v[i++] = f;
	qsort(v, i, sizeof(*v), obx_key_cmp);
	TAILQ_INIT(&o->files);
	for (size_t k = 0; k < i; k++)
		TAILQ_INSERT_TAIL(&o->files, v[k], link);
	free(v);
	return 0;
}

static int
obx_scan(struct ht_outbox *o)
{
	int v;

	scan_outbox = o;
	scan_err = 0;
	v = nftw(o->files_dir, obx_scan_cb, 16, FTW_PHYS | FTW_ACTIONRETVAL);
	scan_outbox = NULL;
	if (v < 0)
		return -errno;
	if (scan_err < 0)
		return scan_err;
	return obx_sort(o);
}

/* ---- public ---- */

int
ht_outbox_new(const struct ht_outbox_env *env, const char *trail, struct ht_outbox **ret)
{
	struct ht_outbox *o;
	int v;

	o = calloc(1, sizeof(*o));
	if (o == NULL)
		return -ENOMEM;
	o->env = *env;
	TAILQ_INIT(&o->files);
	o->retry_min_ms = 1000;
	o->retry_max_ms = 300000;
	o->trail = strdup(trail);
	if (o->trail == NULL || asprintf(&o->dir, "%s/outbox/%s", env->state_dir, trail) < 0) {
		o->dir = NULL;
		v = -ENOMEM;
		goto fail;
	}
	if (asprintf(&o->files_dir, "%s/files", o->dir) < 0 ||
	    asprintf(&o->status_path, "%s/status.json", o->dir) < 0) {
		v = -ENOMEM;
		goto fail;
	}
	v = ht_mkdir_p(o->files_dir, 0750);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "trail %s: cannot create the outbox %s", trail,
		    o->files_dir);
		goto fail;
	}
	o->timer = evtimer_new(env->base, obx_timer_cb, o);
	o->status_timer = evtimer_new(env->base, obx_status_timer_cb, o);
	if (o->timer == NULL || o->status_timer == NULL) {
		v = -ENOMEM;
		goto fail;
	}
	v = ht_s3_client_new(env->base, &o->s3);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "trail %s: cannot set up the S3 client", trail);
		goto fail;
	}
	(void)ht_spool_clean(o->files_dir);
	v = obx_scan(o);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "trail %s: cannot read the outbox %s", trail, o->files_dir);
		goto fail;
	}
	status_load(o);
	if (o->n_files > 0)
		log_info("trail %s: %llu file(s) (%llu bytes) waiting in the outbox from before",
		    trail, (unsigned long long)o->n_files, (unsigned long long)o->n_bytes);
	*ret = o;
	return 0;
fail:
	obx_destroy(o);
	return v;
}

const char *
ht_outbox_dir(const struct ht_outbox *o)
{
	return o->files_dir;
}

int
ht_outbox_configure(struct ht_outbox *o, const struct ht_conf *conf,
    const struct ht_conf_trail *tc, const char *kms_key_id)
{
	const struct ht_conf_bucket *b = ht_conf_bucket(conf, tc->s3_bucket_name);
	struct obx_target t;
	int v;

	if (b == NULL)
		return -EINVAL;	/* the config validator refused this already */
	v = target_from_conf(&t, conf, b, kms_key_id);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "trail %s: cannot set up delivery to bucket %s", o->trail,
		    b->name);
		return v;
	}
	/* Staging files a crash left in a spool (a copy across filesystems
	 * interrupted); at start only, never under a placement in progress. */
	if (!o->configured && t.type == HT_BUCKET_SPOOL)
		(void)ht_spool_clean(t.spool_root);
	/* Uploads in flight finish against the old target: they hold copies
	 * of what they need, except the credentials, which were already used. */
	target_clear(&o->t);
	o->t = t;
	o->retry_min_ms = tc->delivery.retry_min_ms ? tc->delivery.retry_min_ms : 1000;
	o->retry_max_ms = tc->delivery.retry_max_ms ? tc->delivery.retry_max_ms : 300000;
	if (o->retry_max_ms < o->retry_min_ms)
		o->retry_max_ms = o->retry_min_ms;
	o->max_files = tc->outbox_max;
	o->st.max_files = o->max_files;
	o->configured = true;
	/* A reload is how an operator says "fixed it": try again now. */
	o->paused_until = 0;
	o->consecutive_failures = 0;
	o->st.paused = false;
	evtimer_del(o->timer);
	obx_pump(o);
	return 0;
}

void
ht_outbox_on_delivered(struct ht_outbox *o, ht_outbox_delivered_fn fn, void *arg)
{
	o->delivered_fn = fn;
	o->delivered_arg = arg;
}

int
ht_outbox_set_notify(struct ht_outbox *o, const char *dir, ht_outbox_notify_added_fn fn,
    void *arg)
{
	char *d = NULL;

	if (dir != NULL && (d = strdup(dir)) == NULL)
		return -ENOMEM;
	free(o->notify_dir);
	o->notify_dir = d;
	o->notify_added_fn = fn;
	o->notify_added_arg = arg;
	return 0;
}

bool
ht_outbox_full(const struct ht_outbox *o)
{
	return o->max_files > 0 && o->n_files >= o->max_files;
}

void
ht_outbox_stats(const struct ht_outbox *o, struct ht_outbox_stats *ret)
{
	*ret = o->st;
	ret->files = o->n_files;
	ret->bytes = o->n_bytes;
	ret->max_files = o->max_files;
	ret->paused = o->paused_until != 0;
}

static void
obx_destroy(struct ht_outbox *o)
{
	struct obx_file *f;

	if (o == NULL)
		return;
	/* Cancelled uploads call back with HT_S3_CANCELLED and touch nothing. */
	ht_s3_client_free(o->s3);
	o->s3 = NULL;
	if (o->status_dirty && o->status_path) {
		char *text = status_json(o);

		if (text != NULL)
			(void)ht_write_file_atomic(o->status_path, text, strlen(text), 0640);
		free(text);
	}
	while ((f = TAILQ_FIRST(&o->files)) != NULL)
		obx_forget(o, f);
	if (o->timer)
		event_free(o->timer);
	if (o->status_timer)
		event_free(o->status_timer);
	target_clear(&o->t);
	free(o->notify_dir);
	free(o->trail);
	free(o->dir);
	free(o->files_dir);
	free(o->status_path);
	free(o);
}

void
ht_outbox_free(struct ht_outbox *o)
{
	struct obx_file *f;

	if (o == NULL)
		return;
	o->dead = true;
	ht_s3_client_free(o->s3);
	o->s3 = NULL;
	evtimer_del(o->timer);
	/* Jobs still on the pool point at their files: detach them. */
	TAILQ_FOREACH(f, &o->files, link)
		f->busy = false;
	if (o->jobs == 0)
		obx_destroy(o);
}

static int
obx_rm_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path) < 0 ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int
ht_outbox_remove_dir(const char *state_dir, const char *trail)
{
	char dir[PATH_MAX];

	if (snprintf(dir, sizeof(dir), "%s/outbox/%s", state_dir, trail) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	if (nftw(dir, obx_rm_cb, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

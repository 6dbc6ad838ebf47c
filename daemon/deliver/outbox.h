/*
 * outbox.h - a trail's finished log files on their way to the trail's
 * bucket: a local spool directory or an S3-compatible store.
 *
 * The trail's builder writes each file into the outbox (staged, fsynced,
 * renamed: ht_spool_stage/commit on ht_outbox_dir()) and only then advances
 * its cursor; the outbox then owns the file until the target confirmed it
 * (S3 answered 2xx, or the spool rename was made durable), and deletes it
 * only after that.  A file leaves the outbox no other way: retries never give
 * up.  A retried file keeps its object key, so a retry replaces rather than
 * duplicates; a file rebuilt after a crash (same key, same bytes) merges with
 * the one already waiting.
 *
 * Deliveries run concurrently (bucket concurrency, default 4) on the loop,
 * never blocking it: hashing and copying run on the worker pool, uploads on
 * the outbox's own S3 client, so one trail's dead endpoint holds up nobody
 * else.  After a failure the whole outbox pauses (exponential backoff with
 * jitter from delivery.retry_min to retry_max; refusals that retrying soon
 * cannot fix - credentials, permissions, a missing bucket - wait retry_max),
 * then probes with one file before opening up again.  ht_outbox_configure()
 * (a reload) ends the pause at once.
 *
 * On disk, under state_dir/outbox/TRAIL/: files/ (a spool-like tree, object
 * key = relative path; files/.tmp holds staging files) and status.json
 * (GetTrailStatus' delivery fields, so they survive restarts).
 */
#ifndef HT_DELIVER_OUTBOX_H
#define HT_DELIVER_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct ht_conf;
struct ht_conf_trail;
struct ht_outbox;
struct ht_worker;

struct ht_outbox_env {
	struct event_base *base;
	struct ht_worker *io;	/* pool for hashing, copying and syncing */
	const char *state_dir;
};

struct ht_outbox_stats {
	uint64_t files;			/* waiting, including those in flight */
	uint64_t bytes;
	uint64_t max_files;		/* trails[].outbox_max */
	uint64_t delivered;		/* files delivered since start */
	uint64_t failures;		/* failed attempts since start */
	int64_t latest_delivery_time;	/* epoch s of the last file delivered, 0 = none */
	int64_t latest_attempt_time;	/* epoch s of the last attempt, 0 = none */
	bool latest_attempt_succeeded;
	char latest_error[512];		/* "" after a success */
	bool paused;			/* backing off after a failure */
};

/* Called on the loop after each file the target confirmed: bucket is the
 * target's bucket name (the spool's bucket name for a spool), key the
 * object key.  Both borrowed for the call. */
typedef void (*ht_outbox_delivered_fn)(const char *bucket, const char *key, void *arg);

/* Open (creating) the outbox of trail under env->state_dir, remove staging
 * files a crash left, and queue every file already waiting.  Nothing is
 * delivered before ht_outbox_configure().  0 or -errno (logged). */
int ht_outbox_new(const struct ht_outbox_env *env, const char *trail, struct ht_outbox **ret);
/* Where the builder commits files (ht_spool_commit's root).  Borrowed. */
const char *ht_outbox_dir(const struct ht_outbox *o);
/* Deliver to the bucket tc names in conf (both borrowed), with tc's retry
 * settings and outbox_max; kms_key_id (may be NULL) for aws:kms.  Re-reads
 * credentials, ends any pause and retries at once.  0, or -errno (logged;
 * the previous target stays). */
int ht_outbox_configure(struct ht_outbox *o, const struct ht_conf *conf,
    const struct ht_conf_trail *tc, const char *kms_key_id);
/* Called after each delivered file (NULL: nobody). */
void ht_outbox_on_delivered(struct ht_outbox *o, ht_outbox_delivered_fn fn, void *arg);

/* Called on the loop with the name of the notification entry queued for a
 * delivered file (see notify.h). */
typedef void (*ht_outbox_notify_added_fn)(const char *entry_name, void *arg);
/* Queue a notification entry in dir (ht_notify_dir()) for every file
 * delivered from now on, durably before the file leaves the outbox, then
 * call fn.  dir NULL: no notifications.  0 or -ENOMEM. */
int ht_outbox_set_notify(struct ht_outbox *o, const char *dir, ht_outbox_notify_added_fn fn,
    void *arg);
/* The builder committed a file of size bytes at key.  0, or -ENOMEM (the
 * file stays on disk and is found at the next start). */
int ht_outbox_add(struct ht_outbox *o, const char *key, uint64_t size);
/* At or past outbox_max: the trail should stop building (and ingest be
 * back-pressured) until it drains. */
bool ht_outbox_full(const struct ht_outbox *o);
void ht_outbox_stats(const struct ht_outbox *o, struct ht_outbox_stats *ret);
/* Cancel uploads in flight (the files stay for the next start) and free.
 * NULL is a no-op. */
void ht_outbox_free(struct ht_outbox *o);
/* Delete the outbox's directory and what is left in it (a deleted trail
 * whose files were all delivered).  0 or -errno. */
int ht_outbox_remove_dir(const char *state_dir, const char *trail);

#endif

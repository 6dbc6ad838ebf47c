/*
 * notify.h - a trail's SNS-style notifications: after each delivered log
 * file, every subscription of the trail's topic receives a signed SNS HTTP/S
 * Notification whose Message is CloudTrail's {"s3Bucket":..,"s3ObjectKey":[..]}.
 *
 * Durable queue: the outbox writes one entry per delivered file
 * (ht_notify_entry_write(), on a worker, before it forgets the file), so a
 * crash or restart never loses a notification; it may repeat one, with the
 * same MessageId, as SNS itself may.  An entry goes once every subscription
 * took it (HTTP 200-499 within the topic's timeout, SNS's rule) or used up
 * its delivery policy (SNS drops the message then; so does hosttrail, loudly).
 *
 * Notifications never hold back file delivery: they have their own queue,
 * their own HTTP client and retry clock.  Signing runs on the worker pool.
 */
#ifndef HT_DELIVER_NOTIFY_H
#define HT_DELIVER_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct ht_conf;
struct ht_notify;
struct ht_worker;

struct ht_notify_env {
	struct event_base *base;
	struct ht_worker *io;	/* pool for signing and syncing */
	const char *state_dir;
};

struct ht_notify_stats {
	uint64_t queued;		/* entries waiting */
	uint64_t sent;			/* notifications accepted since start */
	uint64_t failures;		/* failed attempts since start */
	uint64_t dropped;		/* notifications whose policy ran out */
	int64_t latest_notification_time;	/* epoch s of the last one accepted */
	int64_t latest_attempt_time;
	bool latest_attempt_succeeded;
	char latest_error[512];
};

/* What the config parser cannot judge: every topic's delivery policies
 * within SNS's limits (all delays together at most an hour) and its signing
 * key usable.  0, or -EINVAL with one line naming the config file and the
 * key path in err. */
int ht_notify_check_conf(const struct ht_conf *conf, char *err, size_t len);
/* Open (creating) trail's queue under env->state_dir and load what is
 * waiting.  Nothing is sent before ht_notify_configure().  0 or -errno
 * (logged). */
int ht_notify_new(const struct ht_notify_env *env, const char *trail, struct ht_notify **ret);
/* The queue directory (borrowed; fixed for the life of n). */
const char *ht_notify_dir(const struct ht_notify *n);
/* Thread-safe, no loop: durably queue a notification of key in bucket in
 * the queue directory dir.  The entry's file name goes to name (len bytes).
 * 0 or -errno. */
int ht_notify_entry_write(const char *dir, const char *bucket, const char *key, char *name,
    size_t len);
/* On the loop: the entry called name was written; send it. */
void ht_notify_entry_added(struct ht_notify *n, const char *name);
/* Notify topic (a name from conf's topics:, borrowed) from now on, or
 * nobody (NULL: entries are then discarded as they come).  Loads the
 * topic's signing key.  0 or -errno (logged; notifications wait in the
 * queue until a working configuration arrives). */
int ht_notify_configure(struct ht_notify *n, const struct ht_conf *conf, const char *topic);
/* True when a topic is configured (the outbox then queues entries). */
bool ht_notify_active(const struct ht_notify *n);
void ht_notify_stats(const struct ht_notify *n, struct ht_notify_stats *ret);
/* Cancel what is in flight (entries stay queued) and free.  NULL: no-op. */
void ht_notify_free(struct ht_notify *n);

#endif

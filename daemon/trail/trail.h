/*
 * trail.h - a trail: a consumer of history with its own persisted cursor
 * (trail/cursor.h), which batches records by count, bytes and age into
 * CloudTrail log files (trail/batch.h) and delivers them to its bucket.
 *
 * A trail never holds records itself; it only remembers how far it got.  So
 * adding or removing other trails, restarting, or a crash never makes it
 * lose or repeat a record.  Records appended while the trail is not logging
 * are never delivered by it.
 */
#ifndef HT_TRAIL_H
#define HT_TRAIL_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct ht_conf;
struct ht_conf_trail;
struct ht_history;
struct ht_select;
struct ht_trail;
struct ht_worker;

/* What all trails share; borrowed, outlives every trail. */
struct ht_trail_env {
	struct event_base *base;
	struct ht_history *history;
	struct ht_worker *builders;	/* pool that builds log files */
	const char *state_dir;		/* cursors live in state_dir/trails/ */
};

struct ht_trail_stats {
	uint64_t files;			/* log files built into the outbox */
	uint64_t events;		/* records in them */
	uint64_t failures;		/* failed builds */
	/* delivery: the outbox (deliver/outbox.h) */
	int64_t latest_delivery_time;	/* epoch s of the last delivered file, 0 = none */
	int64_t latest_attempt_time;	/* epoch s of the last attempt */
	bool latest_attempt_succeeded;
	char latest_error[512];		/* "" when the last attempt succeeded */
	uint64_t outbox_files, outbox_bytes, outbox_max;
	bool outbox_full;		/* intake is back-pressured */
	uint64_t delivered;		/* files the bucket confirmed since start */
	uint64_t delivery_failures;	/* failed uploads since start */
	/* notifications: deliver/notify.h */
	int64_t latest_notification_time;
	int64_t latest_notification_attempt_time;
	bool latest_notification_attempt_succeeded;
	char latest_notification_error[512];
	uint64_t notifications_queued, notifications_sent;
	bool logging;
	int64_t start_logging_time;	/* epoch s, 0 = never */
	int64_t stop_logging_time;	/* epoch s, 0 = never */
};

typedef void (*ht_trail_flushed_fn)(struct ht_trail *t, void *arg);

/* Create the trail tc of conf (both borrowed: the trail copies what it
 * needs), load or create its cursor, and start it.  A new trail starts at
 * the current end of history.  0 or -errno (logged). */
int ht_trail_new(const struct ht_trail_env *env, const struct ht_conf *conf,
    const struct ht_conf_trail *tc, struct ht_trail **ret);
/* Apply a reloaded definition of the same trail (bucket, prefix, delivery,
 * logging).  0 or -errno (logged; the old settings stay). */
int ht_trail_update(struct ht_trail *t, const struct ht_conf *conf, const struct ht_conf_trail *tc);
/* Use selectors s from now on (a reference is taken; NULL = CloudTrail's
 * default selection). */
void ht_trail_set_selectors(struct ht_trail *t, struct ht_select *s);
/* History grew by n records / bytes (from the daemon's fan-out). */
void ht_trail_history_grew(struct ht_trail *t, size_t n, uint64_t bytes);
/* Deliver everything appended so far now, regardless of interval; call
 * fn once the cursor has reached that point (shutdown). */
void ht_trail_flush(struct ht_trail *t, ht_trail_flushed_fn fn, void *arg);
/* Deliver what was recorded up to now, then forget the trail: its cursor
 * file is deleted, fn(t, arg) is called and the trail frees itself (the
 * pointer is dead once fn returns).  ht_trail_free still works before. */
void ht_trail_retire(struct ht_trail *t, ht_trail_flushed_fn fn, void *arg);
const char *ht_trail_name(const struct ht_trail *t);
/* The trail's outbox is full: intake should be held back. */
bool ht_trail_backpressured(const struct ht_trail *t);
void ht_trail_stats(const struct ht_trail *t, struct ht_trail_stats *ret);
/* Stop at once (a running build finishes on its own and is discarded; its
 * plan stays in the cursor for the next start).  NULL is a no-op. */
void ht_trail_free(struct ht_trail *t);

#endif

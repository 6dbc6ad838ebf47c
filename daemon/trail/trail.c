/*
 * trail.c - see trail.h.
 *
 * States, all on the loop thread:
 *   idle      cursor at the end of what it should deliver; no timer
 *   pending   records past the cursor; the age timer runs for
 *             delivery.interval from the first of them, unless max_events or
 *             max_bytes is reached first
 *   building  one job on the builder pool: store the plan, write the file,
 *             store the advanced cursor (all off the loop); at most one per
 *             trail, so a trail's files are written in history order
 * A failed build keeps the plan and is retried with exponential backoff
 * (1 s doubling to 60 s); the same key is reused, so a retry never makes a
 * second file.  The cursor file is written only by the job while building
 * and only by the loop otherwise, never both at once.
 */
#include "ht_build.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "deliver/notify.h"
#include "deliver/outbox.h"
#include "deliver/spool.h"
#include "fileio.h"
#include "log.h"
#include "trail/batch.h"
#include "trail/cursor.h"
#include "trail/select.h"
#include "trail/trail.h"
#include "util.h"
#include "worker.h"

#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 60000
#define OUTBOX_WAIT_MS 1000	/* how often a trail with a full outbox looks again */
/* A flush (shutdown) also gives the outbox this long to hand the last files
 * to a working bucket; what is left is delivered after the next start. */
#define FLUSH_DELIVERY_WAIT_MS 10000
#define FLUSH_POLL_MS 50

/* What a trail keeps of its config (copied: configs come and go). */
struct trail_settings {
	char *name, *prefix, *orgid, *account, *region;
	uint64_t interval_ms, max_events, max_bytes;
	bool logging;
	bool include_global;
	bool multi_region;
};

struct ht_trail {
	struct ht_trail_env env;	/* state_dir points at the trail's own copy */
	char *state_dir;
	struct trail_settings s;
	char *cursor_path;
	struct ht_cursor cur;
	struct event *timer;		/* batch age, or retry backoff */
	bool building;
	bool dead;			/* freed while building */
	bool retiring;
	int want_logging;		/* change deferred while building; -1 = none */
	struct ht_history_pos want_at;	/* history end when it was asked for */
	uint64_t pending_events, pending_bytes;	/* appended since the last build began */
	int64_t pending_since;		/* mono ms of the oldest of them, 0 = none */
	unsigned retry_ms;
	ht_trail_flushed_fn flush_fn;
	void *flush_arg;
	int64_t flush_since;		/* mono ms the flush was asked for */
	ht_trail_flushed_fn retired_fn;
	void *retired_arg;
	struct ht_trail_stats stats;
	struct ht_select *select;	/* NULL: CloudTrail's default selection */
	struct ht_outbox *outbox;	/* finished files until the bucket has them */
	struct ht_notify *notify;	/* notifications of delivered files */
	bool outbox_was_full;		/* logged; cleared when it drains */
};

struct trail_job {
	struct ht_trail *t;
	struct ht_batch_job *b;
	char *cursor_path;
	bool store_plan;
	struct ht_cursor plan;		/* stored before the build (if store_plan) */
	struct ht_cursor after;		/* stored after it succeeded */
	bool plan_stored;
	int err;
	char errmsg[320];
};

static void trail_kick(struct ht_trail *t);
static void trail_notify_added(const char *entry_name, void *arg);
static void trail_store(struct ht_trail *t);
static void trail_apply_logging(struct ht_trail *t, bool want, const struct ht_history_pos *at);

static void
settings_clear(struct trail_settings *s)
{
	free(s->name);
	free(s->prefix);
	free(s->orgid);
	free(s->account);
	free(s->region);
	memset(s, 0, sizeof(*s));
}

static int
settings_from_conf(struct trail_settings *s, const struct ht_conf *conf,
    const struct ht_conf_trail *tc)
{
	bool oom = false;

	memset(s, 0, sizeof(*s));
	if (ht_conf_bucket(conf, tc->s3_bucket_name) == NULL)
		return -EINVAL;	/* the config validator already refused this */
	s->name = ht_strdup_opt(tc->name, &oom);
	s->prefix = ht_strdup_opt(tc->s3_key_prefix, &oom);
	s->orgid = tc->is_organization_trail ? ht_strdup_opt(conf->organization_id, &oom) : NULL;
	s->account = ht_strdup_opt(conf->account_id, &oom);
	s->region = ht_strdup_opt(conf->region, &oom);
	s->interval_ms = tc->delivery.interval_ms;
	s->max_events = tc->delivery.max_events;
	s->max_bytes = tc->delivery.max_bytes;
	s->logging = tc->start_logging;
	s->include_global = tc->include_global_service_events;
	s->multi_region = tc->is_multi_region_trail;
	if (oom || (tc->is_organization_trail && !s->orgid)) {
		settings_clear(s);
		return -ENOMEM;
	}
	return 0;
}

/* The position this trail should deliver up to now. */
static void
trail_limit(const struct ht_trail *t, struct ht_history_pos *ret)
{
	ht_history_end(t->env.history, ret);
	if (t->cur.has_stop && ht_history_pos_cmp(&t->cur.stop_at, ret) < 0)
		*ret = t->cur.stop_at;
}

static bool
trail_caught_up(const struct ht_trail *t)
{
	struct ht_history_pos limit;

	if (!t->cur.logging && !t->cur.has_stop)
		return true;
	trail_limit(t, &limit);
	return !t->cur.has_plan && ht_history_pos_cmp(&t->cur.pos, &limit) >= 0;
}

static void
trail_arm(struct ht_trail *t, uint64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000),
		.tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(t->timer, &tv);
}

/* ---- the build job (worker thread) ---- */

static void
trail_job_work(void *arg)
{
	struct trail_job *j = arg;
	int v;

	if (j->store_plan) {
		v = ht_cursor_store(j->cursor_path, &j->plan);
		if (v < 0) {
			j->err = v;
			snprintf(j->errmsg, sizeof(j->errmsg), "cannot store cursor %s: %s",
			    j->cursor_path, strerror(-v));
			return;
		}
	}
	j->plan_stored = true;
	ht_batch_build(j->b);
	if (j->b->err < 0) {
		j->err = j->b->err;
		snprintf(j->errmsg, sizeof(j->errmsg), "%s", j->b->errmsg);
		return;
	}
	j->after = j->plan;
	j->after.has_plan = false;
	j->after.pos = j->b->reached;
	v = ht_cursor_store(j->cursor_path, &j->after);
	if (v < 0) {
		/* The file is delivered but the cursor did not move: the plan is
		 * still on disk, so the retry rebuilds the same key. */
		j->err = v;
		snprintf(j->errmsg, sizeof(j->errmsg), "cannot store cursor %s: %s",
		    j->cursor_path, strerror(-v));
	}
}

static void
trail_job_free(struct trail_job *j)
{
	ht_batch_job_free(j->b);
	free(j->cursor_path);
	free(j);
}

static void trail_destroy(struct ht_trail *t);
static void trail_progress(struct ht_trail *t, bool batch_was_full);

static void
trail_job_failed(struct ht_trail *t, struct trail_job *j)
{
	t->stats.failures++;
	t->stats.latest_attempt_succeeded = false;
	snprintf(t->stats.latest_error, sizeof(t->stats.latest_error), "%s", j->errmsg);
	if (!j->plan_stored)
		t->cur.has_plan = false;
	t->retry_ms = t->retry_ms ? t->retry_ms * 2 : RETRY_MIN_MS;
	if (t->retry_ms > RETRY_MAX_MS)
		t->retry_ms = RETRY_MAX_MS;
	/* One line per failure, but retries back off to a minute, so this
	 * cannot flood the journal. */
	log_warnx("trail %s: %s; retrying in %u s (nothing is lost: the records stay in "
	    "history until delivered)", t->s.name, j->errmsg, t->retry_ms / 1000);
	trail_arm(t, t->retry_ms);
}

static void
trail_job_done(void *arg)
{
	struct trail_job *j = arg;
	struct ht_trail *t = j->t;
	bool full;

	t->building = false;
	if (t->dead) {
		trail_job_free(j);
		trail_destroy(t);
		return;
	}
	t->stats.latest_attempt_time = (int64_t)time(NULL);
	if (j->err < 0) {
		trail_job_failed(t, j);
		trail_job_free(j);
		return;
	}
	t->retry_ms = 0;
	t->stats.latest_attempt_succeeded = true;
	t->stats.latest_error[0] = '\0';
	/* Logging changes made while building apply to the stored state. */
	t->cur.pos = j->after.pos;
	t->cur.has_plan = false;
	if (j->b->events > 0) {
		t->stats.files++;
		t->stats.events += j->b->events;
		if (ht_outbox_add(t->outbox, j->b->key, j->b->bytes_out) < 0)
			log_warnx("trail %s: out of memory queueing %s; it is delivered after the "
			    "next restart", t->s.name, j->b->key);
		log_debug("trail %s: built %s (%llu records)", t->s.name, j->b->key,
		    (unsigned long long)j->b->events);
	}
	full = ht_history_pos_cmp(&j->b->reached, &j->b->to) < 0;
	trail_job_free(j);
	trail_progress(t, full);
}

/* After a build (or a state change): what next. */
static void
trail_progress(struct ht_trail *t, bool batch_was_full)
{
	if (t->want_logging >= 0) {
		bool want = t->want_logging;

		t->want_logging = -1;
		trail_apply_logging(t, want, &t->want_at);
	}
	if (trail_caught_up(t)) {
		t->pending_events = t->pending_bytes = 0;
		t->pending_since = 0;
		if (t->flush_fn) {
			ht_trail_flushed_fn fn = t->flush_fn;
			struct ht_outbox_stats os;

			ht_outbox_stats(t->outbox, &os);
			if (os.files > 0 && !os.paused &&
			    ht_mono_ms() - t->flush_since < FLUSH_DELIVERY_WAIT_MS) {
				trail_arm(t, FLUSH_POLL_MS);
				return;
			}

			t->flush_fn = NULL;
			fn(t, t->flush_arg);
			return;
		}
		if (t->retiring) {
			struct ht_outbox_stats os;

			ht_outbox_stats(t->outbox, &os);
			if (os.files > 0) {
				/* Forget the trail only once its bucket has everything. */
				trail_arm(t, OUTBOX_WAIT_MS);
				return;
			}
			if (t->retired_fn)
				t->retired_fn(t, t->retired_arg);
			trail_destroy(t);
		}
		return;
	}
	if (batch_was_full || t->flush_fn || t->retiring || t->cur.has_plan ||
	    t->pending_events >= t->s.max_events || t->pending_bytes >= t->s.max_bytes) {
		trail_kick(t);
		return;
	}
	if (t->pending_since == 0)
		t->pending_since = ht_mono_ms();
	if (!evtimer_pending(t->timer, NULL)) {
		int64_t age = ht_mono_ms() - t->pending_since;

		trail_arm(t, age >= (int64_t)t->s.interval_ms ? 0 : t->s.interval_ms - (uint64_t)age);
	}
}

static struct trail_job *
trail_job_new(struct ht_trail *t, const struct ht_history_pos *to)
{
	struct trail_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->t = t;
	j->b = calloc(1, sizeof(*j->b));
	j->cursor_path = strdup(t->cursor_path);
	if (j->b == NULL || j->cursor_path == NULL)
		goto fail;
	j->b->history_dir = strdup(ht_history_dir(t->env.history));
	j->b->spool_root = strdup(ht_outbox_dir(t->outbox));
	j->b->key = strdup(t->cur.plan_key);
	if (!j->b->history_dir || !j->b->spool_root || !j->b->key)
		goto fail;
	j->b->from = t->cur.pos;
	j->b->to = *to;
	j->b->max_events = t->s.max_events;
	j->b->max_bytes = t->s.max_bytes;
	j->b->include_global = t->s.include_global;
	j->b->multi_region = t->s.multi_region;
	j->b->select = t->select ? ht_select_ref(t->select) : NULL;
	j->b->home_region = strdup(t->s.region);
	if (j->b->home_region == NULL)
		goto fail;
	return j;
fail:
	trail_job_free(j);
	return NULL;
}

/* Start building the next file now, if there is anything to build. */
static void
trail_kick(struct ht_trail *t)
{
	struct ht_history_pos limit;
	struct trail_job *j;
	bool store_plan = false;
	int v;

	if (t->building || t->dead)
		return;
	evtimer_del(t->timer);
	if (trail_caught_up(t)) {
		trail_progress(t, false);
		return;
	}
	/* A full outbox stops building (records wait in history); a flush at
	 * shutdown or a removal still gets its last file in. */
	if (!t->flush_fn && !t->retiring && ht_outbox_full(t->outbox)) {
		if (!t->outbox_was_full) {
			struct ht_outbox_stats os;

			ht_outbox_stats(t->outbox, &os);
			log_warnx("trail %s: its outbox holds %llu files (outbox_max): no new log files "
			    "are built and event intake is held back until delivery catches up "
			    "(last delivery error: %s)", t->s.name, (unsigned long long)os.files,
			    os.latest_error[0] ? os.latest_error : "none");
			t->outbox_was_full = true;
		}
		trail_arm(t, OUTBOX_WAIT_MS);
		return;
	}
	if (t->outbox_was_full) {
		log_info("trail %s: the outbox has room again; building log files", t->s.name);
		t->outbox_was_full = false;
	}
	trail_limit(t, &limit);
	if (!t->cur.has_plan) {
		v = ht_batch_key(t->cur.plan_key, sizeof(t->cur.plan_key), t->s.prefix,
		    t->s.orgid, t->s.account, t->s.region, time(NULL));
		if (v < 0) {
			log_msg(HT_LOG_ERR, -v, "trail %s: cannot name a log file", t->s.name);
			trail_arm(t, RETRY_MAX_MS);
			return;
		}
		t->cur.plan_to = limit;
		t->cur.has_plan = true;
		store_plan = true;
	}
	j = trail_job_new(t, &t->cur.plan_to);
	if (j) {
		/* Complete the job before submitting: the pool may run it at once. */
		j->store_plan = store_plan;
		j->plan = t->cur;
	}
	if (j == NULL || ht_worker_submit(t->env.builders, trail_job_work, trail_job_done, j) < 0) {
		if (j)
			trail_job_free(j);
		if (store_plan)
			t->cur.has_plan = false;
		log_warnx("trail %s: out of memory starting a build, retrying in 1 s", t->s.name);
		trail_arm(t, RETRY_MIN_MS);
		return;
	}
	t->building = true;
	t->pending_events = t->pending_bytes = 0;
	t->pending_since = 0;
}

static void
trail_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	trail_kick(arg);
}

/* ---- logging state ---- */

/* Store the cursor from the loop (only while no job is running). */
static void
trail_store(struct ht_trail *t)
{
	int v = ht_cursor_store(t->cursor_path, &t->cur);

	if (v < 0)
		log_msg(HT_LOG_ERR, -v, "trail %s: cannot store %s; the logging state will be "
		    "re-applied from the config at the next start", t->s.name, t->cursor_path);
}

/* Turn logging on or off as of history position at (not while building). */
static void
trail_apply_logging(struct ht_trail *t, bool want, const struct ht_history_pos *at)
{
	const struct ht_history_pos end = *at;

	if (want && !t->cur.logging) {
		t->cur.logging = true;
		t->cur.start_logging_time = (int64_t)time(NULL);
		/* Still delivering what came before the stop: carry on through
		 * (deliver a little extra rather than lose anything). */
		if (!(t->cur.has_stop && ht_history_pos_cmp(&t->cur.pos, &t->cur.stop_at) < 0))
			t->cur.pos = end;
		t->cur.has_stop = false;
		log_info("trail %s: logging started", t->s.name);
	} else if (!want && t->cur.logging) {
		t->cur.logging = false;
		t->cur.stop_logging_time = (int64_t)time(NULL);
		t->cur.has_stop = true;
		t->cur.stop_at = end;
		log_info("trail %s: logging stopped; records appended before now are still "
		    "delivered", t->s.name);
	} else {
		return;
	}
	trail_store(t);
}

static void
trail_set_logging(struct ht_trail *t, bool want)
{
	struct ht_history_pos end;

	ht_history_end(t->env.history, &end);
	if (t->building) {
		t->want_logging = want;
		t->want_at = end;
		return;
	}
	trail_apply_logging(t, want, &end);
	trail_progress(t, false);
}

/* ---- public ---- */

static int
trail_load_cursor(struct ht_trail *t)
{
	char err[PATH_MAX + 128];
	int v;

	v = ht_cursor_load(t->cursor_path, &t->cur, err, sizeof(err));
	if (v == -ENOENT) {
		memset(&t->cur, 0, sizeof(t->cur));
		ht_history_end(t->env.history, &t->cur.pos);
		t->cur.logging = t->s.logging;
		if (t->cur.logging)
			t->cur.start_logging_time = (int64_t)time(NULL);
		log_info("trail %s: new; delivering records appended from now on", t->s.name);
		return ht_cursor_store(t->cursor_path, &t->cur);
	}
	if (v < 0) {
		log_warnx("trail %s: %s; remove or repair it (the trail would otherwise "
		    "restart from the end of history and skip undelivered records)",
		    t->s.name, err);
		return v;
	}
	if (t->cur.has_plan)
		log_info("trail %s: resuming the unfinished log file %s", t->s.name,
		    t->cur.plan_key);
	return 0;
}

/* Point the outbox and the notifier at tc's bucket and topic. */
static int
trail_configure_delivery(struct ht_trail *t, const struct ht_conf *conf,
    const struct ht_conf_trail *tc)
{
	int v;

	v = ht_outbox_configure(t->outbox, conf, tc, tc->kms_key_id);
	if (v < 0)
		return v;
	/* A broken topic (unreadable key) leaves notifications queued: files
	 * still flow, and the entries wait for a fixed config. */
	v = ht_notify_configure(t->notify, conf, tc->sns_topic_name);
	if (v == 0 || tc->sns_topic_name != NULL)
		v = ht_outbox_set_notify(t->outbox, tc->sns_topic_name ? ht_notify_dir(t->notify) :
		    NULL, trail_notify_added, t);
	return v == -ENOMEM ? v : 0;
}

static int
trail_open_delivery(struct ht_trail *t, const struct ht_conf *conf,
    const struct ht_conf_trail *tc)
{
	struct ht_outbox_env oe = { .base = t->env.base, .io = t->env.builders,
		.state_dir = t->env.state_dir };
	struct ht_notify_env ne = { .base = t->env.base, .io = t->env.builders,
		.state_dir = t->env.state_dir };
	int v;

	v = ht_outbox_new(&oe, tc->name, &t->outbox);
	if (v == 0)
		v = ht_notify_new(&ne, tc->name, &t->notify);
	if (v == 0)
		v = trail_configure_delivery(t, conf, tc);
	return v;
}

int
ht_trail_new(const struct ht_trail_env *env, const struct ht_conf *conf,
    const struct ht_conf_trail *tc, struct ht_trail **ret)
{
	char dir[PATH_MAX];
	struct ht_trail *t;
	int v;

	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->env = *env;
	t->want_logging = -1;
	/* The config that lent env->state_dir may be freed by a reload. */
	t->state_dir = strdup(env->state_dir);
	t->env.state_dir = t->state_dir;
	if (t->state_dir == NULL) {
		v = -ENOMEM;
		goto fail;
	}
	v = settings_from_conf(&t->s, conf, tc);
	if (v < 0)
		goto fail;
	snprintf(dir, sizeof(dir), "%s/trails", env->state_dir);
	v = ht_mkdir_p(dir, 0750);
	if (v < 0 || asprintf(&t->cursor_path, "%s/%s.cursor", dir, tc->name) < 0) {
		t->cursor_path = NULL;
		v = v < 0 ? v : -ENOMEM;
		log_msg(HT_LOG_ERR, -v, "trail %s: cannot create %s", tc->name, dir);
		goto fail;
	}
	t->timer = evtimer_new(env->base, trail_timer_cb, t);
	if (t->timer == NULL) {
		v = -ENOMEM;
		goto fail;
	}
	v = trail_load_cursor(t);
	if (v < 0)
		goto fail;
	v = trail_open_delivery(t, conf, tc);
	if (v < 0)
		goto fail;
	trail_set_logging(t, t->s.logging);
	/* A plan left by a crash is rebuilt at once; older records wait for
	 * one interval from now. */
	trail_progress(t, false);
	*ret = t;
	return 0;
fail:
	trail_destroy(t);
	return v;
}

int
ht_trail_update(struct ht_trail *t, const struct ht_conf *conf, const struct ht_conf_trail *tc)
{
	struct trail_settings s;
	int v;

	v = settings_from_conf(&s, conf, tc);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "trail %s: cannot apply the new settings", tc->name);
		return v;
	}
	settings_clear(&t->s);
	t->s = s;
	(void)trail_configure_delivery(t, conf, tc);
	trail_set_logging(t, s.logging);
	return 0;
}

void
ht_trail_set_selectors(struct ht_trail *t, struct ht_select *s)
{
	ht_select_free(t->select);
	t->select = s ? ht_select_ref(s) : NULL;
}

void
ht_trail_history_grew(struct ht_trail *t, size_t n, uint64_t bytes)
{
	if (!t->cur.logging || t->dead)
		return;
	t->pending_events += n;
	t->pending_bytes += bytes;
	if (t->building)
		return;	/* trail_job_done decides */
	if (t->pending_events >= t->s.max_events || t->pending_bytes >= t->s.max_bytes) {
		trail_kick(t);
		return;
	}
	if (t->pending_since == 0) {
		t->pending_since = ht_mono_ms();
		if (!evtimer_pending(t->timer, NULL))
			trail_arm(t, t->s.interval_ms);
	}
}

void
ht_trail_flush(struct ht_trail *t, ht_trail_flushed_fn fn, void *arg)
{
	t->flush_fn = fn;
	t->flush_arg = arg;
	t->flush_since = ht_mono_ms();
	if (!t->building)
		trail_kick(t);
}

void
ht_trail_retire(struct ht_trail *t, ht_trail_flushed_fn fn, void *arg)
{
	t->retiring = true;
	t->retired_fn = fn;
	t->retired_arg = arg;
	t->flush_fn = NULL;
	log_info("trail %s: removed; delivering what it recorded, then "
	    "forgetting it", t->s.name);
	trail_set_logging(t, false);
}

const char *
ht_trail_name(const struct ht_trail *t)
{
	return t->s.name;
}

static void
trail_notify_added(const char *entry_name, void *arg)
{
	struct ht_trail *t = arg;

	ht_notify_entry_added(t->notify, entry_name);
}

bool
ht_trail_backpressured(const struct ht_trail *t)
{
	return t->outbox != NULL && ht_outbox_full(t->outbox);
}

void
ht_trail_stats(const struct ht_trail *t, struct ht_trail_stats *ret)
{
	struct ht_outbox_stats os;
	struct ht_notify_stats ns;

	*ret = t->stats;
	ht_outbox_stats(t->outbox, &os);
	ret->latest_delivery_time = os.latest_delivery_time;
	ret->latest_attempt_time = os.latest_attempt_time;
	ret->latest_attempt_succeeded = os.latest_attempt_succeeded;
	/* A build failure (history unreadable, disk full) is a delivery
	 * problem too; report whichever is current. */
	if (os.latest_error[0])
		snprintf(ret->latest_error, sizeof(ret->latest_error), "%s", os.latest_error);
	ret->outbox_files = os.files;
	ret->outbox_bytes = os.bytes;
	ret->outbox_max = os.max_files;
	ret->delivered = os.delivered;
	ret->delivery_failures = os.failures;
	ret->outbox_full = ht_outbox_full(t->outbox);
	ht_notify_stats(t->notify, &ns);
	ret->latest_notification_time = ns.latest_notification_time;
	ret->latest_notification_attempt_time = ns.latest_attempt_time;
	ret->latest_notification_attempt_succeeded = ns.latest_attempt_succeeded;
	snprintf(ret->latest_notification_error, sizeof(ret->latest_notification_error), "%s",
	    ns.latest_error);
	ret->notifications_queued = ns.queued;
	ret->notifications_sent = ns.sent;
	ret->logging = t->cur.logging;
	ret->start_logging_time = t->cur.start_logging_time;
	ret->stop_logging_time = t->cur.stop_logging_time;
}

static void
trail_destroy(struct ht_trail *t)
{
	if (t == NULL)
		return;
	ht_outbox_free(t->outbox);
	ht_notify_free(t->notify);
	if (t->retiring && t->cursor_path && !t->building) {
		if (unlink(t->cursor_path) < 0 && errno != ENOENT)
			log_warn("trail %s: cannot remove %s", t->s.name, t->cursor_path);
		else if (ht_outbox_remove_dir(t->env.state_dir, t->s.name) < 0)
			log_warn("trail %s: removed, but its outbox directory could not be "
			    "deleted, ignoring", t->s.name);
		else
			log_info("trail %s: removed", t->s.name);
	}
	if (t->timer)
		event_free(t->timer);
	ht_select_free(t->select);
	settings_clear(&t->s);
	free(t->cursor_path);
	free(t->state_dir);
	free(t);
}

void
ht_trail_free(struct ht_trail *t)
{
	if (t == NULL)
		return;
	t->retiring = false;
	if (t->building) {
		t->dead = true;
		evtimer_del(t->timer);
		return;
	}
	trail_destroy(t);
}

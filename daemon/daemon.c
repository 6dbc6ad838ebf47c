/*
 * daemon.c - see daemon.h.
 *
 * Ownership: the daemon owns the active config; trails and sources copy
 * what they keep, so an old config can be freed right after a reload.
 * History's growth is fanned out to every trail; retired trails (removed
 * from the config) finish their last delivery on their own and free
 * themselves.
 */
#include "ht_build.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "api/events.h"
#include "api/http.h"
#include "api/sigv4.h"
#include "api/trails.h"
#include "conf.h"
#include "daemon.h"
#include "fileio.h"
#include "history/history.h"
#include "log.h"
#include "pipeline.h"
#include "registry.h"
#include "sources/source.h"
#include "trail/trail.h"
#include "worker.h"

#define SHUTDOWN_POLL_MS 20
/* Give up flushing after this long; below the unit's TimeoutStopSec=90s so
 * the daemon exits on its own terms.  What is not delivered stays in
 * history and goes out after the next start. */
#define SHUTDOWN_DEADLINE_S 60
#define BUILDER_THREADS 2

static const struct ht_source_ops *const source_types[] = {
	[HT_SOURCE_INGEST] = &ht_src_ingest_ops,
	[HT_SOURCE_AUDITLOG] = &ht_src_auditlog_ops,
	[HT_SOURCE_AUDIT] = &ht_src_audit_ops,
	[HT_SOURCE_JOURNAL] = &ht_src_journal_ops,
	[HT_SOURCE_FILE] = &ht_src_file_ops,
	[HT_SOURCE_FIM] = &ht_src_fim_ops,
	[HT_SOURCE_LOGINS] = &ht_src_logins_ops,
};
_Static_assert(sizeof(source_types) / sizeof(source_types[0]) == HT_SOURCE_LOGINS + 1,
    "a source for every type the config knows");

struct source_slot {
	const struct ht_source_ops *ops;
	void *state;
};

struct ht_daemon {
	struct event_base *base;
	struct ht_conf *conf;
	char *history_dir;
	struct ht_history *history;
	struct ht_pipeline *pipeline;
	struct ht_worker *builders;
	struct ht_api *api;
	struct ht_api_events *events;
	struct ht_api_trails *api_trails;
	char *api_socket;
	struct ht_source_env source_env;
	struct source_slot sources[HT_MAX_SOURCES];
	size_t n_sources;
	struct ht_trail_env trail_env;
	struct ht_registry *trails;
	/* shutdown */
	struct event *poll;
	struct event *deadline;
	bool stopped;
	ht_daemon_stopped_fn stopped_fn;
	void *stopped_arg;
};

static void
daemon_history_grew(size_t n, uint64_t bytes, void *arg)
{
	struct ht_daemon *d = arg;

	if (d->trails)
		ht_registry_history_grew(d->trails, n, bytes);
}

static bool
daemon_intake_gate(char *why, size_t len, void *arg)
{
	struct ht_daemon *d = arg;

	return d->trails != NULL && ht_registry_backpressured(d->trails, why, len);
}

/* ---- sources ---- */

static int
daemon_start_sources(struct ht_daemon *d)
{
	for (size_t i = 0; i < d->conf->n_sources; i++) {
		const struct ht_conf_source *sc = &d->conf->sources[i];
		struct source_slot *s = &d->sources[d->n_sources];
		int v;

		if (d->n_sources == sizeof(d->sources) / sizeof(d->sources[0]))
			return -E2BIG;
		s->ops = source_types[sc->type];
		v = s->ops->start(&d->source_env, sc, &s->state);
		if (v < 0)
			return v;
		d->n_sources++;
	}
	return 0;
}

/* The running source sc describes: same type and, for types that may appear
 * more than once, the same identity (ops->same); slots already matched are
 * skipped. */
static struct source_slot *
daemon_find_source(struct ht_daemon *d, const struct ht_source_ops *ops,
    const struct ht_conf_source *sc, const bool *taken)
{
	for (size_t i = 0; i < d->n_sources; i++)
		if (!taken[i] && d->sources[i].ops == ops &&
		    (ops->same == NULL || ops->same(d->sources[i].state, sc)))
			return &d->sources[i];
	return NULL;
}

/* Sources are matched by type and identity (an auditlog source by its path). */
static void
daemon_reload_sources(struct ht_daemon *d, const struct ht_conf *conf)
{
	bool keep[HT_MAX_SOURCES] = { false };

	for (size_t i = 0; i < conf->n_sources; i++) {
		const struct ht_source_ops *ops = source_types[conf->sources[i].type];
		struct source_slot *s = daemon_find_source(d, ops, &conf->sources[i], keep);

		if (s) {
			keep[s - d->sources] = true;
			(void)ops->reconfigure(s->state, &d->source_env, &conf->sources[i]);
		} else if (d->n_sources < HT_MAX_SOURCES) {
			s = &d->sources[d->n_sources];
			s->ops = ops;
			if (ops->start(&d->source_env, &conf->sources[i], &s->state) == 0) {
				keep[d->n_sources++] = true;
				log_info("source %s: started", ops->type);
			}
		} else {
			log_warnx("source %s: not started: %d sources are running, removed ones "
			    "still finishing; reload again later", ops->type, HT_MAX_SOURCES);
		}
	}
	for (size_t i = d->n_sources; i-- > 0;) {
		if (keep[i] || d->sources[i].ops->inflight(d->sources[i].state) > 0)
			continue;	/* a busy removed source stops at shutdown */
		log_info("source %s: removed from the config, stopped", d->sources[i].ops->type);
		d->sources[i].ops->stop(d->sources[i].state);
		d->sources[i] = d->sources[--d->n_sources];
	}
}

/* ---- lifecycle ---- */

static int
daemon_open_state(struct ht_daemon *d)
{
	int v;

	v = ht_mkdir_p(d->conf->state_dir, 0750);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "cannot create state_dir %s", d->conf->state_dir);
		return v;
	}
	if (asprintf(&d->history_dir, "%s/history", d->conf->state_dir) < 0) {
		d->history_dir = NULL;
		return -ENOMEM;
	}
	v = ht_history_open(d->history_dir, &d->conf->history, d->base, NULL, &d->history);
	if (v < 0)
		return v;
	ht_history_on_grow(d->history, daemon_history_grew, d);
	v = ht_pipeline_new(d->history, d->conf, &d->pipeline);
	if (v == 0)
		v = ht_worker_new(d->base, BUILDER_THREADS, "ht-build", &d->builders);
	return v;
}

/* Load conf's access keys into the API.  On failure the old keys stay; the
 * reason goes to errbuf (or the log when errbuf is NULL). */
static int
daemon_apply_auth(struct ht_daemon *d, const struct ht_conf *conf, char *errbuf, size_t errlen)
{
	const struct ht_conf_rates *cr = &conf->api.rate_limits;
	struct ht_api_rates rates = { cr->lookup_events, cr->read, cr->write };
	struct ht_sigv4_store *store = NULL;
	char err[512];
	int v;

	v = ht_sigv4_store_load(&conf->api, &store, err, sizeof(err));
	if (v < 0) {
		if (errbuf)
			snprintf(errbuf, errlen, "%s", err);
		else
			log_warnx("%s", err);
		return v;
	}
	ht_api_set_auth(d->api, conf->account_id, conf->region, store, &rates);
	return 0;
}

static int
daemon_open_api(struct ht_daemon *d)
{
	int v;

	d->api_socket = ht_conf_path(d->conf, d->conf->api.socket);
	if (d->api_socket == NULL)
		return -ENOMEM;
	v = ht_api_new(d->base, &d->api);
	if (v == 0)
		v = daemon_apply_auth(d, d->conf, NULL, 0);
	if (v == 0)
		v = ht_api_events_new(d->api, d->history, d->conf, NULL, &d->events);
	if (v == 0)
		v = ht_api_listen_unix(d->api, d->api_socket);
	if (v == 0 && d->conf->api.listen) {
		v = ht_api_listen_tcp(d->api, d->conf->api.listen);
		if (v == 0)
			log_info("API: listening on %s (SigV4, %zu access keys)", d->conf->api.listen,
			    d->conf->api.n_credentials);
	}
	return v;
}

int
ht_daemon_new(struct event_base *base, struct ht_conf *conf, struct ht_daemon **ret)
{
	struct ht_daemon *d;
	int v;

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->base = base;
	d->conf = conf;
	v = daemon_open_state(d);
	if (v == 0)
		v = daemon_open_api(d);
	if (v < 0)
		goto fail;
	d->source_env = (struct ht_source_env){ .base = base, .pipeline = d->pipeline,
		.api = d->api, .conf = conf };
	d->trail_env = (struct ht_trail_env){ .base = base, .history = d->history,
		.builders = d->builders, .state_dir = conf->state_dir };
	v = ht_registry_new(&d->trail_env, conf, &d->trails);
	if (v == 0)
		ht_pipeline_set_gate(d->pipeline, daemon_intake_gate, d);
	if (v == 0)
		v = ht_api_trails_new(d->api, d->trails, conf, &d->api_trails);
	if (v == 0)
		v = daemon_start_sources(d);
	if (v < 0)
		goto fail;
	*ret = d;
	return 0;
fail:
	d->conf = NULL;	/* stays the caller's on failure */
	ht_daemon_free(d);
	return v;
}

static int
daemon_reload_check(const struct ht_conf *old, const struct ht_conf *conf, char *errbuf,
    size_t errlen)
{
	static const struct {
		const char *key;
		size_t off;
	} fixed[] = {
		{ "state_dir", offsetof(struct ht_conf, state_dir) },
		{ "api.socket", offsetof(struct ht_conf, api.socket) },
		{ "api.listen", offsetof(struct ht_conf, api.listen) },
		{ "account_id", offsetof(struct ht_conf, account_id) },
		{ "region", offsetof(struct ht_conf, region) },
	};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		const char *a = *(char *const *)((const char *)old + fixed[i].off);
		const char *b = *(char *const *)((const char *)conf + fixed[i].off);

		if (strcmp(a ? a : "", b ? b : "") != 0) {
			snprintf(errbuf, errlen, "%s: %s changed from \"%s\" to \"%s\"; that needs a "
			    "restart, not a reload", conf->path, fixed[i].key, a ? a : "",
			    b ? b : "");
			return -EINVAL;
		}
	}
	return 0;
}

int
ht_daemon_reload(struct ht_daemon *d, struct ht_conf *conf, char *errbuf, size_t errlen)
{
	struct ht_conf *old = d->conf;
	int v;

	v = daemon_reload_check(old, conf, errbuf, errlen);
	if (v == 0)
		v = daemon_apply_auth(d, conf, errbuf, errlen);
	if (v < 0)
		return v;
	d->conf = conf;
	d->source_env.conf = conf;
	ht_pipeline_set_conf(d->pipeline, conf);
	ht_api_events_set_conf(d->events, conf);
	ht_api_trails_set_conf(d->api_trails, conf);
	ht_history_set_conf(d->history, &conf->history);
	d->trail_env.state_dir = conf->state_dir;
	ht_registry_reload(d->trails, conf);
	daemon_reload_sources(d, conf);
	ht_conf_free(old);
	return 0;
}

/* ---- shutdown ---- */

/* Call the stop callback once, whichever of flush or deadline comes first. */
static void
daemon_stopped(void *arg)
{
	struct ht_daemon *d = arg;

	if (d->stopped)
		return;
	d->stopped = true;
	d->stopped_fn(d->stopped_arg);
}

static void
daemon_flush_trails(struct ht_daemon *d)
{
	int v = ht_history_sync(d->history);

	if (v < 0)
		log_msg(HT_LOG_ERR, -v, "history: final fsync failed");
	ht_registry_flush(d->trails, daemon_stopped, d);
}

static void
daemon_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ht_daemon *d = arg;
	struct timeval tv = { 0, SHUTDOWN_POLL_MS * 1000 };

	for (size_t i = 0; i < d->n_sources; i++) {
		if (d->sources[i].ops->inflight(d->sources[i].state) > 0) {
			evtimer_add(d->poll, &tv);
			return;
		}
	}
	daemon_flush_trails(d);
}

static void
daemon_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ht_daemon *d = arg;

	log_warnx("shutdown: trails could not deliver everything within %d s; the records "
	    "stay in history and are delivered after the next start", SHUTDOWN_DEADLINE_S);
	daemon_stopped(d);
}

void
ht_daemon_shutdown(struct ht_daemon *d, ht_daemon_stopped_fn fn, void *arg)
{
	struct timeval now = { 0, 0 }, deadline = { SHUTDOWN_DEADLINE_S, 0 };

	d->stopped_fn = fn;
	d->stopped_arg = arg;
	ht_api_stop_listening(d->api);
	for (size_t i = 0; i < d->n_sources; i++)
		d->sources[i].ops->drain(d->sources[i].state);
	d->deadline = evtimer_new(d->base, daemon_deadline_cb, d);
	if (d->deadline)
		evtimer_add(d->deadline, &deadline);
	d->poll = evtimer_new(d->base, daemon_poll_cb, d);
	if (d->poll == NULL) {
		daemon_flush_trails(d);
		return;
	}
	evtimer_add(d->poll, &now);
}

void
ht_daemon_status(const struct ht_daemon *d, char *buf, size_t len)
{
	struct ht_pipeline_stats ps;
	struct ht_history_stats hs;
	size_t n;

	ht_pipeline_stats(d->pipeline, &ps);
	ht_history_stats(d->history, &hs);
	n = (size_t)snprintf(buf, len, "history: %llu records appended (%llu failed), %llu in "
	    "%zu days, %llu MB + %llu MB index, %llu days dropped (%llu for max_disk)",
	    (unsigned long long)ps.records, (unsigned long long)ps.failed,
	    (unsigned long long)hs.records, hs.segments,
	    (unsigned long long)(hs.segment_bytes >> 20), (unsigned long long)(hs.index_bytes >> 20),
	    (unsigned long long)(hs.dropped_retention + hs.dropped_disk),
	    (unsigned long long)hs.dropped_disk);
	if (n < len)
		n += ht_registry_status(d->trails, buf + n, len - n);
	for (size_t i = 0; i < d->n_sources && n < len; i++) {
		char s[512];

		d->sources[i].ops->status(d->sources[i].state, s, sizeof(s));
		n += (size_t)snprintf(buf + n, len - n, "; %s", s);
	}
}

void
ht_daemon_log_summary(const struct ht_daemon *d)
{
	log_info("ready: account %s, region %s, state in %s", d->conf->account_id, d->conf->region,
	    d->conf->state_dir);
	log_info("API socket: %s", d->api_socket);
	ht_registry_log_summary(d->trails);
}

void
ht_daemon_free(struct ht_daemon *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n_sources; i++)
		d->sources[i].ops->stop(d->sources[i].state);
	/* Builds in flight finish before trails can go. */
	if (d->builders)
		ht_worker_drain(d->builders);
	ht_registry_free(d->trails);
	ht_worker_free(d->builders);
	ht_api_free(d->api);
	ht_api_events_free(d->events);
	ht_api_trails_free(d->api_trails);
	ht_pipeline_free(d->pipeline);
	ht_history_close(d->history);
	if (d->poll)
		event_free(d->poll);
	if (d->deadline)
		event_free(d->deadline);
	free(d->api_socket);
	free(d->history_dir);
	ht_conf_free(d->conf);
	free(d);
}

/*
 * daemon.h - the running daemon: history, pipeline, API, sources and trails
 * wired together for one active config, plus reload and orderly shutdown.
 * main.c owns the event loop, signals and sd_notify, and calls these.
 */
#ifndef HT_DAEMON_H
#define HT_DAEMON_H

#include <stddef.h>

struct event_base;
struct ht_conf;
struct ht_daemon;

typedef void (*ht_daemon_stopped_fn)(void *arg);

/* Start everything for conf (ownership passes to the daemon on success).
 * 0 with *ret set, or -errno (already logged; nothing left running). */
int ht_daemon_new(struct event_base *base, struct ht_conf *conf, struct ht_daemon **ret);
/* Switch to a new, validated config: trails added, removed or changed,
 * sources reconfigured.  Takes ownership of conf on success.  Settings that
 * need a restart (state_dir, api.socket, account_id, region) refuse the
 * reload: -EINVAL with the reason in errbuf, and the old config stays. */
int ht_daemon_reload(struct ht_daemon *d, struct ht_conf *conf, char *errbuf, size_t errlen);
/* Stop accepting input, let accepted input become durable, flush every
 * trail's pending records into final files, then call fn. */
void ht_daemon_shutdown(struct ht_daemon *d, ht_daemon_stopped_fn fn, void *arg);
/* One line of counters (for STATUS= and the log). */
void ht_daemon_status(const struct ht_daemon *d, char *buf, size_t len);
/* Log where things are (API socket, trails and their spools). */
void ht_daemon_log_summary(const struct ht_daemon *d);
/* Free everything. NULL is a no-op. */
void ht_daemon_free(struct ht_daemon *d);

#endif

/*
 * source.h - the interface every source implements, as an ops table, so a
 * new source is one new file plus one line in daemon.c.
 *
 * A source turns local actions into records and hands them to the pipeline;
 * it acknowledges its input (advances a checkpoint, answers a client) only
 * when the pipeline reports the records durable.
 */
#ifndef HT_SOURCE_H
#define HT_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct ht_api;
struct ht_conf;
struct ht_conf_source;
struct ht_pipeline;

/* What sources share; borrowed, outlives every source.  conf is the active
 * config and changes on reload (passed again to reconfigure). */
struct ht_source_env {
	struct event_base *base;
	struct ht_pipeline *pipeline;
	struct ht_api *api;
	const struct ht_conf *conf;
};

struct ht_source_ops {
	const char *type;
	/* Start the source described by sc.  0 with *ret_state, or -errno (logged). */
	int (*start)(const struct ht_source_env *env, const struct ht_conf_source *sc,
	    void **ret_state);
	/* Apply a reloaded definition.  0 or -errno (logged; old settings stay). */
	int (*reconfigure)(void *state, const struct ht_source_env *env,
	    const struct ht_conf_source *sc);
	/* Stop taking new input; what was accepted still completes. */
	void (*drain)(void *state);
	/* Input accepted but not yet acknowledged. */
	unsigned (*inflight)(void *state);
	/* One-line counters for STATUS= and the log. */
	void (*status)(void *state, char *buf, size_t len);
	/* Free; only called when inflight() is 0. */
	void (*stop)(void *state);
	/* Optional, for types that may have several sources: is the running
	 * source state the one sc describes (auditlog: the same path)?  A
	 * reload should match sources by type and then by this.  NULL: at
	 * most one source of the type. */
	bool (*same)(void *state, const struct ht_conf_source *sc);
};

extern const struct ht_source_ops ht_src_ingest_ops;
extern const struct ht_source_ops ht_src_auditlog_ops;
extern const struct ht_source_ops ht_src_audit_ops;
extern const struct ht_source_ops ht_src_journal_ops;
extern const struct ht_source_ops ht_src_file_ops;
extern const struct ht_source_ops ht_src_fim_ops;
extern const struct ht_source_ops ht_src_logins_ops;

#endif

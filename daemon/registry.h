/*
 * registry.h - the set of trails: those declared in the config file and
 * those created through the API (CreateTrail), at most 5 in all.
 *
 * Config trails are reconciled from the config at start and on SIGHUP; the
 * API may not change or delete them (OperationNotPermitted: edit the file).
 * API trails are kept in state_dir/api-trails.json, replaced atomically on
 * every change, and survive restarts; their logging state lives in their
 * cursor like every trail's.  A name used by both: the config wins and the
 * API trail is left out (logged).
 */
#ifndef HT_REGISTRY_H
#define HT_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

struct json_object;
struct ht_registry;
struct ht_trail;
struct ht_trail_env;

struct ht_trail_tag {
	char *key;
	char *value;			/* NULL: no value */
};

/* Everything that defines a trail. */
struct ht_trail_spec {
	struct ht_conf_trail tc;	/* strings owned by the spec */
	char *cw_log_group_arn;		/* stored and returned, no meaning on a host */
	char *cw_role_arn;
	char *kms_key_id;
	struct json_object *selectors;	/* GetEventSelectors' shape; NULL = default */
	struct ht_trail_tag *tags;
	size_t n_tags;
	bool from_config;
};

typedef void (*ht_registry_done_fn)(void *arg);

/* Load API trails, reconcile with conf (borrowed; swap with reload), start
 * every trail.  0 or -errno (logged). */
int ht_registry_new(const struct ht_trail_env *env, const struct ht_conf *conf,
    struct ht_registry **ret);
/* Check what the config says about trails that only the daemon can check:
 * each trail's event selectors, by PutEventSelectors' rules.  0, or -EINVAL
 * with one line in errbuf ("trails[1] (audit): event selectors:
 * EventSelectors[0].DataResources[0]: ..."), or -ENOMEM. */
int ht_registry_check_conf(const struct ht_conf *conf, char *errbuf, size_t len);
/* Reconcile config trails with a new config. */
void ht_registry_reload(struct ht_registry *r, const struct ht_conf *conf);
/* History grew (fan out to every trail). */
void ht_registry_history_grew(struct ht_registry *r, size_t n, uint64_t bytes);
/* Deliver everything pending on every trail (including removed ones still
 * finishing), then call fn. */
void ht_registry_flush(struct ht_registry *r, ht_registry_done_fn fn, void *arg);
/* Counters of every trail, appended to buf. */
size_t ht_registry_status(const struct ht_registry *r, char *buf, size_t len);
/* Is some trail's outbox full?  Then sources should hold back (the reason,
 * naming the trail, goes to why). */
bool ht_registry_backpressured(const struct ht_registry *r, char *why, size_t len);
void ht_registry_log_summary(const struct ht_registry *r);
void ht_registry_free(struct ht_registry *r);

/* ---- for the API (api/trails.c) ---- */

size_t ht_registry_count(const struct ht_registry *r);
const struct ht_trail_spec *ht_registry_spec(const struct ht_registry *r, size_t i);
/* The running trail, or NULL if it could not start (see the log). */
struct ht_trail *ht_registry_trail(const struct ht_registry *r, size_t i);
/* Index of the trail called name (a name or a trail ARN), -ENOENT. */
ssize_t ht_registry_find(const struct ht_registry *r, const char *name_or_arn);
/* Add an API trail (spec is taken over on success; it is not logging).
 * 0, -EEXIST, -E2BIG (5 trails), or -errno. */
int ht_registry_create(struct ht_registry *r, struct ht_trail_spec *spec);
/* Replace trail i's definition (API trails only; spec taken over on
 * success).  0, -EPERM for a config trail, or -errno. */
int ht_registry_update(struct ht_registry *r, size_t i, struct ht_trail_spec *spec);
/* Delete API trail i (it delivers what it recorded, then goes).
 * 0, -EPERM for a config trail. */
int ht_registry_delete(struct ht_registry *r, size_t i);
/* Start or stop logging on trail i (API trails only). 0 or -EPERM. */
int ht_registry_set_logging(struct ht_registry *r, size_t i, bool on);

/* Copy (deep) a spec; NULL on ENOMEM. */
struct ht_trail_spec *ht_trail_spec_dup(const struct ht_trail_spec *s);
void ht_trail_spec_free(struct ht_trail_spec *s);

#endif

/*
 * registry.c - see registry.h.
 *
 * slots[] pairs each spec with its running trail (NULL when it could not
 * start, e.g. its bucket is gone from the config).  Removed trails move to
 * retiring[] until they have delivered what they recorded.
 */
#include "ht_build.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "fileio.h"
#include "log.h"
#include "registry.h"
#include "trail/select.h"
#include "trail/trail.h"
#include "util.h"

#define MAX_RETIRING 16
#define API_TRAILS_FILE "api-trails.json"
#define API_TRAILS_MAX_FILE (4 * 1024 * 1024)

struct slot {
	struct ht_trail_spec *spec;
	struct ht_trail *trail;
};

struct ht_registry {
	struct ht_trail_env env;
	const struct ht_conf *conf;
	char *path;			/* api-trails.json */
	struct slot slots[HT_MAX_TRAILS_PER_REGION];
	size_t n;
	struct ht_trail *retiring[MAX_RETIRING];
	size_t n_retiring;
	unsigned flushing;
	ht_registry_done_fn flushed_fn;
	void *flushed_arg;
};

/* ---- specs ---- */

void
ht_trail_spec_free(struct ht_trail_spec *s)
{
	if (s == NULL)
		return;
	free(s->tc.name);
	free(s->tc.s3_bucket_name);
	free(s->tc.s3_key_prefix);
	free(s->tc.sns_topic_name);
	free(s->cw_log_group_arn);
	free(s->cw_role_arn);
	free(s->kms_key_id);
	json_object_put(s->selectors);
	for (size_t i = 0; i < s->n_tags; i++) {
		free(s->tags[i].key);
		free(s->tags[i].value);
	}
	free(s->tags);
	free(s);
}

struct ht_trail_spec *
ht_trail_spec_dup(const struct ht_trail_spec *s)
{
	struct ht_trail_spec *d = calloc(1, sizeof(*d));
	bool oom = d == NULL;

	if (d == NULL)
		return NULL;
	*d = *s;
	d->tc.name = ht_strdup_opt(s->tc.name, &oom);
	d->tc.s3_bucket_name = ht_strdup_opt(s->tc.s3_bucket_name, &oom);
	d->tc.s3_key_prefix = ht_strdup_opt(s->tc.s3_key_prefix, &oom);
	d->tc.sns_topic_name = ht_strdup_opt(s->tc.sns_topic_name, &oom);
	d->cw_log_group_arn = ht_strdup_opt(s->cw_log_group_arn, &oom);
	d->cw_role_arn = ht_strdup_opt(s->cw_role_arn, &oom);
	d->kms_key_id = ht_strdup_opt(s->kms_key_id, &oom);
	/* The trail reads the key from tc; it is the spec's own string. */
	d->tc.kms_key_id = d->kms_key_id;
	d->selectors = s->selectors ? json_object_get(s->selectors) : NULL;
	d->tags = s->n_tags ? calloc(s->n_tags, sizeof(*d->tags)) : NULL;
	if (s->n_tags && d->tags == NULL)
		oom = true;
	for (size_t i = 0; d->tags && i < s->n_tags; i++) {
		d->tags[i].key = ht_strdup_opt(s->tags[i].key, &oom);
		d->tags[i].value = ht_strdup_opt(s->tags[i].value, &oom);
	}
	if (oom) {
		d->n_tags = d->tags ? s->n_tags : 0;
		ht_trail_spec_free(d);
		return NULL;
	}
	return d;
}

/* The trail definition handed to the trail: the API's KmsKeyId lives in the
 * spec (it may be replaced by UpdateTrail), so point tc at it each time. */
static const struct ht_conf_trail *
spec_tc(struct ht_trail_spec *s)
{
	s->tc.kms_key_id = s->kms_key_id;
	return &s->tc;
}

/* tc's event selectors (PutEventSelectors' request JSON) in the stored
 * form, in *ret (NULL: none).  0, -EINVAL (err filled) or -ENOMEM. */
static int
conf_selectors(const struct ht_conf_trail *tc, struct json_object **ret,
    struct ht_select_error *err)
{
	struct json_object *req;
	struct ht_select *sel = NULL;
	int v;

	*ret = NULL;
	if (tc->event_selectors == NULL)
		return 0;
	if ((req = json_tokener_parse(tc->event_selectors)) == NULL)
		return -ENOMEM;	/* the config wrote it: only memory can fail */
	v = ht_select_parse(req, &sel, err);
	json_object_put(req);
	if (v == 0) {
		v = ht_select_to_state(sel, ret);
		ht_select_free(sel);
	}
	return v;
}

int
ht_registry_check_conf(const struct ht_conf *conf, char *errbuf, size_t len)
{
	for (size_t i = 0; i < conf->n_trails; i++) {
		struct ht_select_error err = { 0 };
		struct json_object *st;
		int v = conf_selectors(&conf->trails[i], &st, &err);

		json_object_put(st);
		if (v == -EINVAL) {
			snprintf(errbuf, len, "trails[%zu] (%s): event selectors: %s", i,
			    conf->trails[i].name, err.message);
			return v;
		}
		if (v < 0) {
			snprintf(errbuf, len, "checking event selectors: %s", strerror(-v));
			return v;
		}
	}
	return 0;
}

static struct ht_trail_spec *
spec_from_conf(const struct ht_conf_trail *tc)
{
	struct ht_trail_spec s = { .tc = *tc, .from_config = true, .kms_key_id = tc->kms_key_id };
	struct ht_select_error err;
	struct ht_trail_spec *d;

	s.tc.event_selectors = NULL;	/* the config's; the spec keeps the stored form */
	if (conf_selectors(tc, &s.selectors, &err) < 0) {
		/* checked at load (ht_registry_check_conf): out of memory */
		log_warnx("trail %s: cannot apply its event_selectors (%s); using the default "
		    "selection", tc->name, err.message);
		s.selectors = NULL;
	}
	d = ht_trail_spec_dup(&s);
	json_object_put(s.selectors);
	return d;
}

/* ---- persistence of API trails (CloudTrail's member names) ---- */

static void
put_str(struct json_object *o, const char *k, const char *v)
{
	if (v)
		json_object_object_add(o, k, json_object_new_string(v));
}

static struct json_object *
spec_to_json(const struct ht_trail_spec *s)
{
	struct json_object *o = json_object_new_object(), *tags = json_object_new_array();

	put_str(o, "Name", s->tc.name);
	put_str(o, "S3BucketName", s->tc.s3_bucket_name);
	put_str(o, "S3KeyPrefix", s->tc.s3_key_prefix);
	put_str(o, "SnsTopicName", s->tc.sns_topic_name);
	json_object_object_add(o, "IncludeGlobalServiceEvents",
	    json_object_new_boolean(s->tc.include_global_service_events));
	json_object_object_add(o, "IsMultiRegionTrail",
	    json_object_new_boolean(s->tc.is_multi_region_trail));
	json_object_object_add(o, "EnableLogFileValidation",
	    json_object_new_boolean(s->tc.enable_log_file_validation));
	json_object_object_add(o, "IsOrganizationTrail",
	    json_object_new_boolean(s->tc.is_organization_trail));
	json_object_object_add(o, "IsLogging", json_object_new_boolean(s->tc.start_logging));
	put_str(o, "CloudWatchLogsLogGroupArn", s->cw_log_group_arn);
	put_str(o, "CloudWatchLogsRoleArn", s->cw_role_arn);
	put_str(o, "KmsKeyId", s->kms_key_id);
	for (size_t i = 0; i < s->n_tags; i++) {
		struct json_object *t = json_object_new_object();

		put_str(t, "Key", s->tags[i].key);
		put_str(t, "Value", s->tags[i].value);
		json_object_array_add(tags, t);
	}
	json_object_object_add(o, "TagsList", tags);
	if (s->selectors)
		json_object_object_add(o, "Selectors", json_object_get(s->selectors));
	return o;
}

static const char *
get_str(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool
get_bool(struct json_object *o, const char *k, bool dflt)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_boolean))
		return dflt;
	return json_object_get_boolean(v);
}

static struct ht_trail_spec *
spec_from_json(struct json_object *o, const struct ht_conf *conf)
{
	struct ht_trail_spec s = { 0 }, *d;
	struct json_object *tags, *sel;
	struct ht_trail_tag *tv = NULL;

	s.tc.name = (char *)get_str(o, "Name");
	s.tc.s3_bucket_name = (char *)get_str(o, "S3BucketName");
	if (s.tc.name == NULL || s.tc.s3_bucket_name == NULL)
		return NULL;
	s.tc.s3_key_prefix = (char *)get_str(o, "S3KeyPrefix");
	s.tc.sns_topic_name = (char *)get_str(o, "SnsTopicName");
	s.tc.include_global_service_events = get_bool(o, "IncludeGlobalServiceEvents", true);
	s.tc.is_multi_region_trail = get_bool(o, "IsMultiRegionTrail", false);
	s.tc.enable_log_file_validation = get_bool(o, "EnableLogFileValidation", false);
	s.tc.is_organization_trail = get_bool(o, "IsOrganizationTrail", false);
	s.tc.start_logging = get_bool(o, "IsLogging", false);
	s.tc.delivery = conf->trail_defaults.delivery;
	s.tc.outbox_max = conf->trail_defaults.outbox_max;
	s.cw_log_group_arn = (char *)get_str(o, "CloudWatchLogsLogGroupArn");
	s.cw_role_arn = (char *)get_str(o, "CloudWatchLogsRoleArn");
	s.kms_key_id = (char *)get_str(o, "KmsKeyId");
	if (json_object_object_get_ex(o, "Selectors", &sel) &&
	    json_object_is_type(sel, json_type_object))
		s.selectors = sel;
	if (json_object_object_get_ex(o, "TagsList", &tags) &&
	    json_object_is_type(tags, json_type_array) && json_object_array_length(tags) > 0) {
		s.n_tags = json_object_array_length(tags);
		tv = calloc(s.n_tags, sizeof(*tv));
		if (tv == NULL)
			return NULL;
		for (size_t i = 0; i < s.n_tags; i++) {
			struct json_object *t = json_object_array_get_idx(tags, i);

			tv[i].key = (char *)get_str(t, "Key");
			tv[i].value = (char *)get_str(t, "Value");
		}
		s.tags = tv;
	}
	d = ht_trail_spec_dup(&s);
	free(tv);
	return d;
}

static int
registry_store(const struct ht_registry *r)
{
	struct json_object *root = json_object_new_object(), *list = json_object_new_array();
	const char *text;
	int v;

	for (size_t i = 0; i < r->n; i++)
		if (!r->slots[i].spec->from_config)
			json_object_array_add(list, spec_to_json(r->slots[i].spec));
	json_object_object_add(root, "trails", list);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	v = text ? ht_write_file_atomic(r->path, text, strlen(text), 0640) : -ENOMEM;
	if (v < 0)
		log_msg(HT_LOG_ERR, -v, "cannot store %s", r->path);
	json_object_put(root);
	return v;
}

/* ---- slots ---- */

/* Give the running trail its spec's selectors. */
static void
slot_apply_selectors(struct slot *sl)
{
	struct ht_select *sel = NULL;
	struct ht_select_error err;

	if (sl->trail == NULL)
		return;
	if (sl->spec->selectors && ht_select_from_state(sl->spec->selectors, &sel, &err) < 0) {
		log_warnx("trail %s: stored event selectors are invalid (%s: %s); using the "
		    "default selection", sl->spec->tc.name, err.type, err.message);
		sel = NULL;
	}
	ht_trail_set_selectors(sl->trail, sel);
	ht_select_free(sel);
}

static void
slot_start(struct ht_registry *r, struct slot *sl)
{
	int v = ht_trail_new(&r->env, r->conf, spec_tc(sl->spec), &sl->trail);

	if (v < 0) {
		sl->trail = NULL;
		log_warnx("trail %s: not running (see above); fix the cause and reload",
		    sl->spec->tc.name);
		return;
	}
	slot_apply_selectors(sl);
}

static ssize_t
find_name(const struct ht_registry *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->slots[i].spec->tc.name, name) == 0)
			return (ssize_t)i;
	return -ENOENT;
}

static void
registry_retired(struct ht_trail *t, void *arg)
{
	struct ht_registry *r = arg;

	for (size_t i = 0; i < r->n_retiring; i++) {
		if (r->retiring[i] == t) {
			r->retiring[i] = r->retiring[--r->n_retiring];
			break;
		}
	}
	if (r->flushing > 0 && --r->flushing == 0 && r->flushed_fn)
		r->flushed_fn(r->flushed_arg);
}

/* Take slot i out: its trail delivers what it recorded, then goes. */
static void
slot_remove(struct ht_registry *r, size_t i)
{
	struct slot sl = r->slots[i];

	r->slots[i] = r->slots[--r->n];
	if (sl.trail && r->n_retiring < MAX_RETIRING) {
		r->retiring[r->n_retiring++] = sl.trail;
		ht_trail_retire(sl.trail, registry_retired, r);
	} else if (sl.trail) {
		log_warnx("trail %s: removed while %d removed trails are still delivering; "
		    "stopping it now (its cursor stays)", sl.spec->tc.name, MAX_RETIRING);
		ht_trail_free(sl.trail);
	}
	ht_trail_spec_free(sl.spec);
}

static int
registry_load_api_trails(struct ht_registry *r)
{
	struct json_object *root, *list;
	char *text = NULL;
	int v;

	v = ht_read_file(r->path, API_TRAILS_MAX_FILE, &text, NULL);
	if (v == -ENOENT)
		return 0;
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "cannot read %s", r->path);
		return v;
	}
	root = json_tokener_parse(text);
	free(text);
	if (root == NULL || !json_object_object_get_ex(root, "trails", &list) ||
	    !json_object_is_type(list, json_type_array)) {
		log_warnx("%s is not valid (expected {\"trails\":[...]}); move it away to start "
		    "without the API-created trails", r->path);
		json_object_put(root);
		return -EBADMSG;
	}
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct ht_trail_spec *s = spec_from_json(json_object_array_get_idx(list, i), r->conf);

		if (s == NULL || find_name(r, s->tc.name) >= 0 || r->n == HT_MAX_TRAILS_PER_REGION) {
			log_warnx("%s: trail #%zu %s; left out", r->path, i + 1, s == NULL ?
			    "is malformed" : (r->n == HT_MAX_TRAILS_PER_REGION ?
			    "would be a 6th trail" : "has the name of a config trail"));
			ht_trail_spec_free(s);
			continue;
		}
		r->slots[r->n++].spec = s;
	}
	json_object_put(root);
	return 0;
}

/* ---- lifecycle ---- */

/* Does dir hold anything but "." / ".." / staging? */
static bool
dir_has_files(const char *dir)
{
	struct dirent *de;
	bool found = false;
	DIR *d = opendir(dir);

	if (d == NULL)
		return false;
	while (!found && (de = readdir(d)) != NULL)
		found = strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    strcmp(de->d_name, ".tmp") != 0;
	closedir(d);
	return found;
}

/* An outbox whose trail is gone (removed from the config while the daemon
 * was down, or deleted before its bucket took everything) still holds
 * undelivered files: say so at every start rather than forget them. */
static void
registry_warn_orphans(const struct ht_registry *r)
{
	char dir[PATH_MAX], files[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/outbox", r->conf->state_dir);
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || find_name(r, de->d_name) >= 0)
			continue;
		if (snprintf(files, sizeof(files), "%s/%s/files", dir, de->d_name) >=
		    (int)sizeof(files))
			continue;
		if (dir_has_files(files))
			log_warnx("%s/%s holds undelivered log files of trail %s, which no longer "
			    "exists: define the trail again to deliver them, or remove the directory",
			    dir, de->d_name, de->d_name);
	}
	closedir(d);
}

int
ht_registry_new(const struct ht_trail_env *env, const struct ht_conf *conf,
    struct ht_registry **ret)
{
	struct ht_registry *r = calloc(1, sizeof(*r));
	int v = -ENOMEM;

	if (r == NULL)
		return -ENOMEM;
	r->env = *env;
	r->conf = conf;
	if (asprintf(&r->path, "%s/%s", conf->state_dir, API_TRAILS_FILE) < 0) {
		r->path = NULL;
		goto fail;
	}
	for (size_t i = 0; i < conf->n_trails; i++) {
		r->slots[r->n].spec = spec_from_conf(&conf->trails[i]);
		if (r->slots[r->n].spec == NULL)
			goto fail;
		r->n++;
	}
	v = registry_load_api_trails(r);
	if (v < 0)
		goto fail;
	for (size_t i = 0; i < r->n; i++)
		slot_start(r, &r->slots[i]);
	registry_warn_orphans(r);
	*ret = r;
	return 0;
fail:
	ht_registry_free(r);
	return v;
}

void
ht_registry_reload(struct ht_registry *r, const struct ht_conf *conf)
{
	r->conf = conf;
	/* The old config (and its strings) goes once the reload is done. */
	r->env.state_dir = conf->state_dir;
	/* Config trails gone from the file; retire first so 5 can be swapped. */
	for (size_t i = r->n; i-- > 0;) {
		const struct ht_trail_spec *s = r->slots[i].spec;
		bool keep = !s->from_config;

		for (size_t k = 0; k < conf->n_trails && !keep; k++)
			keep = strcmp(conf->trails[k].name, s->tc.name) == 0;
		if (!keep)
			slot_remove(r, i);
	}
	for (size_t k = 0; k < conf->n_trails; k++) {
		ssize_t at = find_name(r, conf->trails[k].name);
		struct ht_trail_spec *s = spec_from_conf(&conf->trails[k]);

		if (s == NULL)
			continue;
		if (at >= 0 && !r->slots[at].spec->from_config) {
			log_warnx("trail %s: now declared in the config; the config's definition "
			    "replaces the API-created one", s->tc.name);
			r->slots[at].spec->from_config = true;
		}
		if (at >= 0) {
			ht_trail_spec_free(r->slots[at].spec);
			r->slots[at].spec = s;
			if (r->slots[at].trail) {
				(void)ht_trail_update(r->slots[at].trail, conf, spec_tc(s));
				slot_apply_selectors(&r->slots[at]);	/* the config's, maybe new */
			} else {
				slot_start(r, &r->slots[at]);
			}
		} else if (r->n < HT_MAX_TRAILS_PER_REGION) {
			r->slots[r->n].spec = s;
			slot_start(r, &r->slots[r->n]);
			r->n++;
			log_info("trail %s: added", s->tc.name);
		} else {
			log_warnx("trail %s: not added: 5 trails exist already (API-created ones "
			    "count too)", s->tc.name);
			ht_trail_spec_free(s);
		}
	}
	/* API trails may refer to buckets that changed. */
	for (size_t i = 0; i < r->n; i++) {
		struct slot *sl = &r->slots[i];

		if (sl->spec->from_config)
			continue;
		sl->spec->tc.delivery = conf->trail_defaults.delivery;
		sl->spec->tc.outbox_max = conf->trail_defaults.outbox_max;
		if (sl->trail)
			(void)ht_trail_update(sl->trail, conf, spec_tc(sl->spec));
		else
			slot_start(r, sl);
	}
	(void)registry_store(r);
}

void
ht_registry_history_grew(struct ht_registry *r, size_t n, uint64_t bytes)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->slots[i].trail)
			ht_trail_history_grew(r->slots[i].trail, n, bytes);
}

static void
registry_trail_flushed(struct ht_trail *t, void *arg)
{
	struct ht_registry *r = arg;

	log_debug("trail %s: flushed", ht_trail_name(t));
	if (r->flushing > 0 && --r->flushing == 0 && r->flushed_fn)
		r->flushed_fn(r->flushed_arg);
}

void
ht_registry_flush(struct ht_registry *r, ht_registry_done_fn fn, void *arg)
{
	unsigned running = 0;

	r->flushed_fn = fn;
	r->flushed_arg = arg;
	for (size_t i = 0; i < r->n; i++)
		running += r->slots[i].trail != NULL;
	/* Count first: a trail with nothing pending reports at once.  Removed
	 * trails still delivering report through registry_retired. */
	r->flushing = running + (unsigned)r->n_retiring;
	if (r->flushing == 0) {
		fn(arg);
		return;
	}
	for (size_t i = 0; i < r->n; i++)
		if (r->slots[i].trail)
			ht_trail_flush(r->slots[i].trail, registry_trail_flushed, r);
}

size_t
ht_registry_status(const struct ht_registry *r, char *buf, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n && n < len; i++) {
		struct ht_trail_stats ts;

		if (r->slots[i].trail == NULL) {
			n += (size_t)snprintf(buf + n, len - n, "; trail %s: not running",
			    r->slots[i].spec->tc.name);
			continue;
		}
		ht_trail_stats(r->slots[i].trail, &ts);
		n += (size_t)snprintf(buf + n, len - n, "; trail %s: %s, %llu files, %llu records, "
		    "%llu delivered, %llu in outbox%s%s%s",
		    r->slots[i].spec->tc.name, ts.logging ? "logging" : "stopped",
		    (unsigned long long)ts.files, (unsigned long long)ts.events,
		    (unsigned long long)ts.delivered, (unsigned long long)ts.outbox_files,
		    ts.outbox_full ? " (FULL: intake held back)" : "",
		    ts.latest_error[0] ? ", last error: " : "", ts.latest_error);
	}
	return n < len ? n : len;
}

bool
ht_registry_backpressured(const struct ht_registry *r, char *why, size_t len)
{
	for (size_t i = 0; i < r->n; i++) {
		if (r->slots[i].trail != NULL && ht_trail_backpressured(r->slots[i].trail)) {
			snprintf(why, len, "the outbox of trail %s is full (outbox_max); delivery to "
			    "bucket %s is failing or too slow", r->slots[i].spec->tc.name,
			    r->slots[i].spec->tc.s3_bucket_name);
			return true;
		}
	}
	return false;
}

void
ht_registry_log_summary(const struct ht_registry *r)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct ht_conf_trail *tc = &r->slots[i].spec->tc;
		const struct ht_conf_bucket *b = ht_conf_bucket(r->conf, tc->s3_bucket_name);
		char *path = NULL;

		if (b != NULL && b->type == HT_BUCKET_SPOOL)
			path = ht_conf_path(r->conf, b->path);
		else if (b != NULL && asprintf(&path, "s3://%s at %s", b->bucket ? b->bucket : b->name,
		    b->endpoint ? b->endpoint : "AWS") < 0)
			path = NULL;
		log_info("trail %s (%s): bucket %s, %s, %s", tc->name,
		    r->slots[i].spec->from_config ? "config" : "API", tc->s3_bucket_name,
		    path ? path : "?", r->slots[i].trail == NULL ? "NOT RUNNING" :
		    tc->start_logging ? "logging" : "not logging");
		free(path);
	}
}

void
ht_registry_free(struct ht_registry *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		ht_trail_free(r->slots[i].trail);
		ht_trail_spec_free(r->slots[i].spec);
	}
	for (size_t i = 0; i < r->n_retiring; i++)
		ht_trail_free(r->retiring[i]);
	free(r->path);
	free(r);
}

/* ---- the API's operations ---- */

size_t
ht_registry_count(const struct ht_registry *r)
{
	return r->n;
}

const struct ht_trail_spec *
ht_registry_spec(const struct ht_registry *r, size_t i)
{
	return r->slots[i].spec;
}

struct ht_trail *
ht_registry_trail(const struct ht_registry *r, size_t i)
{
	return r->slots[i].trail;
}

ssize_t
ht_registry_find(const struct ht_registry *r, const char *name_or_arn)
{
	char *arn;

	if (strncmp(name_or_arn, "arn:", 4) != 0)
		return find_name(r, name_or_arn);
	for (size_t i = 0; i < r->n; i++) {
		arn = ht_trail_arn(r->conf->region, r->conf->account_id, r->slots[i].spec->tc.name);
		if (arn && strcmp(arn, name_or_arn) == 0) {
			free(arn);
			return (ssize_t)i;
		}
		free(arn);
	}
	return -ENOENT;
}

int
ht_registry_create(struct ht_registry *r, struct ht_trail_spec *spec)
{
	struct slot *sl;

	if (find_name(r, spec->tc.name) >= 0)
		return -EEXIST;
	if (r->n == HT_MAX_TRAILS_PER_REGION)
		return -E2BIG;
	spec->from_config = false;
	spec->tc.delivery = r->conf->trail_defaults.delivery;
	spec->tc.outbox_max = r->conf->trail_defaults.outbox_max;
	sl = &r->slots[r->n++];
	sl->spec = spec;
	if (registry_store(r) < 0) {
		r->n--;
		return -EIO;
	}
	slot_start(r, sl);
	log_info("trail %s: created through the API", spec->tc.name);
	return 0;
}

int
ht_registry_update(struct ht_registry *r, size_t i, struct ht_trail_spec *spec)
{
	struct slot *sl = &r->slots[i];
	struct ht_trail_spec *old = sl->spec;

	if (old->from_config)
		return -EPERM;
	spec->from_config = false;
	spec->tc.delivery = r->conf->trail_defaults.delivery;
	spec->tc.outbox_max = r->conf->trail_defaults.outbox_max;
	sl->spec = spec;
	if (registry_store(r) < 0) {
		sl->spec = old;
		return -EIO;
	}
	ht_trail_spec_free(old);
	if (sl->trail) {
		(void)ht_trail_update(sl->trail, r->conf, spec_tc(spec));
		slot_apply_selectors(sl);
	} else {
		slot_start(r, sl);
	}
	return 0;
}

int
ht_registry_delete(struct ht_registry *r, size_t i)
{
	if (r->slots[i].spec->from_config)
		return -EPERM;
	log_info("trail %s: deleted through the API", r->slots[i].spec->tc.name);
	slot_remove(r, i);
	return registry_store(r) < 0 ? -EIO : 0;
}

int
ht_registry_set_logging(struct ht_registry *r, size_t i, bool on)
{
	struct ht_trail_spec *s = ht_trail_spec_dup(r->slots[i].spec);

	if (s == NULL)
		return -ENOMEM;
	if (r->slots[i].spec->from_config) {
		ht_trail_spec_free(s);
		return -EPERM;
	}
	s->tc.start_logging = on;
	if (ht_registry_update(r, i, s) < 0) {
		ht_trail_spec_free(s);
		return -EIO;
	}
	return 0;
}

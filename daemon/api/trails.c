/*
 * trails.c - see trails.h.
 */
#include "ht_build.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>
#include <json-c/json.h>

#include "api/http.h"
#include "api/reply.h"
#include "api/trails.h"
#include "conf.h"
#include "log.h"
#include "registry.h"
#include "trail/select.h"
#include "trail/trail.h"
#include "util.h"

#define MAX_PREFIX 200
#define MAX_TAGS 50

struct ht_api_trails {
	struct ht_registry *reg;
	const struct ht_conf *conf;
};

/* ---- members ---- */

/* Optional string member: *ret NULL when absent; wrong type refused. */
static int
get_str(struct json_object *body, const char *key, const char **ret, struct ht_api_error *e)
{
	struct json_object *v;

	*ret = NULL;
	if (!json_object_object_get_ex(body, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return ht_api_fail(e, "SerializationException", "%s must be a string", key);
	*ret = json_object_get_string(v);
	return 0;
}

/* Optional boolean member: *ret -1 when absent. */
static int
get_bool(struct json_object *body, const char *key, int *ret, struct ht_api_error *e)
{
	struct json_object *v;

	*ret = -1;
	if (!json_object_object_get_ex(body, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return ht_api_fail(e, "SerializationException", "%s must be a boolean", key);
	*ret = json_object_get_boolean(v);
	return 0;
}

static char *
arn_of(const struct ht_api_trails *t, const char *name)
{
	return ht_trail_arn(t->conf->region, t->conf->account_id, name);
}

/* Trail i named by body[key] (a name or an ARN). */
static int
find_trail(const struct ht_api_trails *t, struct json_object *body, const char *key,
    size_t *ret, struct ht_api_error *e)
{
	const char *name, *why;
	ssize_t i;

	if (get_str(body, key, &name, e) < 0)
		return -EINVAL;
	if (name == NULL || *name == '\0')
		return ht_api_fail(e, "TrailNotProvidedException", "%s is required", key);
	if (strncmp(name, "arn:", 4) == 0) {
		const char *slash = strstr(name, ":trail/");

		if (strncmp(name, "arn:aws:cloudtrail:", 19) != 0 || slash == NULL)
			return ht_api_fail(e, "CloudTrailARNInvalidException", "%.200s is not a valid trail "
			    "ARN (arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME)", name);
	} else if ((why = ht_trail_name_invalid(name)) != NULL) {
		return ht_api_fail(e, "InvalidTrailNameException", "%.200s: %s", name, why);
	}
	i = ht_registry_find(t->reg, name);
	if (i < 0)
		return ht_api_fail(e, "TrailNotFoundException", "Unknown trail: %.200s for the user: %s",
		    name, t->conf->account_id);
	*ret = (size_t)i;
	return 0;
}

/* ---- output shapes ---- */

static void
put_str(struct json_object *o, const char *k, const char *v)
{
	if (v)
		json_object_object_add(o, k, json_object_new_string(v));
}

static void
put_bool(struct json_object *o, const char *k, bool v)
{
	json_object_object_add(o, k, json_object_new_boolean(v));
}

static char *
topic_arn(const struct ht_api_trails *t, const char *topic)
{
	char *s;

	if (topic == NULL || asprintf(&s, "arn:aws:sns:%s:%s:%s", t->conf->region,
	    t->conf->account_id, topic) < 0)
		return NULL;
	return s;
}

/* CreateTrail's and UpdateTrail's response members. */
static struct json_object *
trail_response(const struct ht_api_trails *t, const struct ht_trail_spec *s, bool full)
{
	struct json_object *o = json_object_new_object();
	char *arn = arn_of(t, s->tc.name), *tarn = topic_arn(t, s->tc.sns_topic_name);

	put_str(o, "Name", s->tc.name);
	put_str(o, "S3BucketName", s->tc.s3_bucket_name);
	put_str(o, "S3KeyPrefix", s->tc.s3_key_prefix);
	put_str(o, "SnsTopicName", s->tc.sns_topic_name);
	put_str(o, "SnsTopicARN", tarn);
	put_bool(o, "IncludeGlobalServiceEvents", s->tc.include_global_service_events);
	put_bool(o, "IsMultiRegionTrail", s->tc.is_multi_region_trail);
	if (full)
		put_str(o, "HomeRegion", t->conf->region);
	put_str(o, "TrailARN", arn);
	put_bool(o, "LogFileValidationEnabled", s->tc.enable_log_file_validation);
	put_str(o, "CloudWatchLogsLogGroupArn", s->cw_log_group_arn);
	put_str(o, "CloudWatchLogsRoleArn", s->cw_role_arn);
	put_str(o, "KmsKeyId", s->kms_key_id);
	if (full) {
		put_bool(o, "HasCustomEventSelectors", s->selectors != NULL);
		put_bool(o, "HasInsightSelectors", false);
	}
	put_bool(o, "IsOrganizationTrail", s->tc.is_organization_trail);
	free(arn);
	free(tarn);
	return o;
}

/* ---- CreateTrail / UpdateTrail ---- */

static int
check_bucket(const struct ht_api_trails *t, const char *bucket, struct ht_api_error *e)
{
	const char *why = ht_bucket_name_invalid(bucket);

	if (why)
		return ht_api_fail(e, "InvalidS3BucketNameException", "%.100s: %s", bucket, why);
	if (ht_conf_bucket(t->conf, bucket) == NULL)
		return ht_api_fail(e, "S3BucketDoesNotExistException", "S3 bucket %.100s does not exist "
		    "(hosttrail: not declared under buckets: in %s)", bucket, t->conf->path);
	return 0;
}

/* A topic given as a name or an SNS ARN of this account and region. */
static int
check_topic(const struct ht_api_trails *t, const char *topic, const char **ret_name,
    struct ht_api_error *e)
{
	char *prefix = topic_arn(t, "");
	const char *name = topic;

	if (prefix && strncmp(topic, "arn:", 4) == 0)
		name = strncmp(topic, prefix, strlen(prefix)) == 0 ? topic + strlen(prefix) : NULL;
	free(prefix);
	if (name == NULL || !ht_topic_name_valid(name))
		return ht_api_fail(e, "InvalidSnsTopicNameException", "%.256s is not a valid SNS topic "
		    "name or ARN of this account and region", topic);
	if (ht_conf_topic(t->conf, name) == NULL)
		return ht_api_fail(e, "InsufficientSnsTopicPolicyException", "SNS topic %.256s does not "
		    "exist (hosttrail: not declared under topics: in %s)", name, t->conf->path);
	*ret_name = name;
	return 0;
}

static int
set_str(char **field, const char *v)
{
	char *d = v && *v ? strdup(v) : NULL;

	if (v && *v && d == NULL)
		return -ENOMEM;
	free(*field);
	*field = d;
	return 0;
}

/* Apply the string members of Create/UpdateTrail to s after checking them. */
static int
apply_strings(const struct ht_api_trails *t, struct json_object *body, struct ht_trail_spec *s,
    struct ht_api_error *e)
{
	const char *bucket, *prefix, *topic, *lg, *role, *kms, *tname = NULL;

	if (get_str(body, "S3BucketName", &bucket, e) || get_str(body, "S3KeyPrefix", &prefix, e) ||
	    get_str(body, "SnsTopicName", &topic, e) ||
	    get_str(body, "CloudWatchLogsLogGroupArn", &lg, e) ||
	    get_str(body, "CloudWatchLogsRoleArn", &role, e) || get_str(body, "KmsKeyId", &kms, e))
		return -EINVAL;
	if (bucket && check_bucket(t, bucket, e) < 0)
		return -EINVAL;
	if (prefix && strlen(prefix) > MAX_PREFIX)
		return ht_api_fail(e, "InvalidS3PrefixException", "S3KeyPrefix is longer than %d "
		    "characters", MAX_PREFIX);
	if (topic && *topic && check_topic(t, topic, &tname, e) < 0)
		return -EINVAL;
	if ((bucket && set_str(&s->tc.s3_bucket_name, bucket)) ||
	    (prefix && set_str(&s->tc.s3_key_prefix, prefix)) ||
	    (topic && set_str(&s->tc.sns_topic_name, *topic ? tname : NULL)) ||
	    (lg && set_str(&s->cw_log_group_arn, lg)) || (role && set_str(&s->cw_role_arn, role)) ||
	    (kms && set_str(&s->kms_key_id, kms)))
		return ht_api_fail(e, "InternalFailure", "out of memory");
	return 0;
}

static int
apply_bools(const struct ht_api_trails *t, struct json_object *body, struct ht_trail_spec *s,
    struct ht_api_error *e)
{
	int glob, multi, valid, org;

	if (get_bool(body, "IncludeGlobalServiceEvents", &glob, e) ||
	    get_bool(body, "IsMultiRegionTrail", &multi, e) ||
	    get_bool(body, "EnableLogFileValidation", &valid, e) ||
	    get_bool(body, "IsOrganizationTrail", &org, e))
		return -EINVAL;
	if (org == 1 && t->conf->organization_id == NULL)
		return ht_api_fail(e, "OrganizationsNotInUseException", "IsOrganizationTrail needs "
		    "organization_id in %s", t->conf->path);
	if (glob >= 0)
		s->tc.include_global_service_events = glob;
	if (multi >= 0)
		s->tc.is_multi_region_trail = multi;
	if (valid >= 0)
		s->tc.enable_log_file_validation = valid;
	if (org >= 0)
		s->tc.is_organization_trail = org;
	if (s->tc.is_multi_region_trail && !s->tc.include_global_service_events)
		return ht_api_fail(e, "InvalidParameterCombinationException", "Multi-Region trail must "
		    "include global service events.");
	return 0;
}

static int
parse_tags(struct json_object *list, struct ht_trail_tag **ret, size_t *ret_n,
    struct ht_api_error *e)
{
	size_t n = json_object_array_length(list);
	struct ht_trail_tag *tags = n ? calloc(n, sizeof(*tags)) : NULL;

	if (n && tags == NULL)
		return ht_api_fail(e, "InternalFailure", "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(list, i), *k, *v = NULL;

		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, "Key", &k) || !json_object_is_type(k, json_type_string) ||
		    json_object_get_string_len(k) < 1 || json_object_get_string_len(k) > 128 ||
		    (json_object_object_get_ex(o, "Value", &v) && v &&
		    (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) > 256))) {
			for (size_t j = 0; j < i; j++) {
				free(tags[j].key);
				free(tags[j].value);
			}
			free(tags);
			return ht_api_fail(e, "InvalidTagParameterException", "tag %zu: Key must be 1-128 "
			    "characters and Value at most 256", i + 1);
		}
		tags[i].key = strdup(json_object_get_string(k));
		tags[i].value = v ? strdup(json_object_get_string(v)) : NULL;
	}
	*ret = tags;
	*ret_n = n;
	return 0;
}

static void
tags_free(struct ht_trail_tag *tags, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(tags[i].key);
		free(tags[i].value);
	}
	free(tags);
}

/* Merge add into s's tags (a key already there gets the new value). */
static int
tags_add(struct ht_trail_spec *s, struct ht_trail_tag *add, size_t n, struct ht_api_error *e)
{
	size_t total = s->n_tags;
	struct ht_trail_tag *nt;

	for (size_t i = 0; i < n; i++) {
		bool found = false;

		for (size_t k = 0; k < s->n_tags && !found; k++)
			found = strcmp(s->tags[k].key, add[i].key) == 0;
		total += !found;
	}
	if (total > MAX_TAGS)
		return ht_api_fail(e, "TagsLimitExceededException", "a trail can have at most %d tags",
		    MAX_TAGS);
	nt = realloc(s->tags, (total ? total : 1) * sizeof(*nt));
	if (nt == NULL)
		return ht_api_fail(e, "InternalFailure", "out of memory");
	s->tags = nt;
	for (size_t i = 0; i < n; i++) {
		size_t k;

		for (k = 0; k < s->n_tags && strcmp(s->tags[k].key, add[i].key) != 0; k++)
			;
		if (k < s->n_tags) {
			free(s->tags[k].value);
			free(add[i].key);
		} else {
			s->tags[s->n_tags++].key = add[i].key;
		}
		s->tags[k].value = add[i].value;
		add[i].key = add[i].value = NULL;
	}
	return 0;
}

static void
op_create_trail(struct evhttp_request *req, struct json_object *body, void *arg)
{
	struct ht_api_trails *t = arg;
	struct ht_trail_spec *s = calloc(1, sizeof(*s));
	struct ht_api_error e = { 0 };
	struct json_object *tl, *out;
	struct ht_trail_tag *tags = NULL;
	const char *name = NULL, *bucket = NULL, *why;
	size_t ntags = 0;
	int v;

	if (s == NULL) {
		ht_reply_error(req, 500, "InternalFailure", "out of memory");
		return;
	}
	s->tc.include_global_service_events = true;
	if (get_str(body, "Name", &name, &e) < 0 || get_str(body, "S3BucketName", &bucket, &e) < 0)
		goto refuse;
	if (name == NULL || *name == '\0') {
		ht_api_fail(&e, "TrailNotProvidedException", "Name is required");
		goto refuse;
	}
	if ((why = ht_trail_name_invalid(name)) != NULL) {
		ht_api_fail(&e, "InvalidTrailNameException", "%.200s: %s", name, why);
		goto refuse;
	}
	if (bucket == NULL) {
		ht_api_fail(&e, "InvalidS3BucketNameException", "S3BucketName is required");
		goto refuse;
	}
	s->tc.name = strdup(name);
	if (s->tc.name == NULL || apply_strings(t, body, s, &e) < 0 || apply_bools(t, body, s, &e) < 0)
		goto refuse;
	if (json_object_object_get_ex(body, "TagsList", &tl) && tl) {
		if (!json_object_is_type(tl, json_type_array)) {
			ht_api_fail(&e, "SerializationException", "TagsList must be a list");
			goto refuse;
		}
		if (parse_tags(tl, &tags, &ntags, &e) < 0 || tags_add(s, tags, ntags, &e) < 0)
			goto refuse;
	}
	if (ht_registry_find(t->reg, name) >= 0) {
		ht_api_fail(&e, "TrailAlreadyExistsException", "Trail %.200s already exists for customer: "
		    "%s", name, t->conf->account_id);
		goto refuse;
	}
	v = ht_registry_create(t->reg, s);
	if (v == -E2BIG) {
		ht_api_fail(&e, "MaximumNumberOfTrailsExceededException", "User: %s already has %d trails "
		    "in %s.", t->conf->account_id, HT_MAX_TRAILS_PER_REGION, t->conf->region);
		goto refuse;
	}
	if (v < 0) {
		ht_reply_error(req, 500, "InternalFailure", "cannot store the trail: %s",
		    strerror(-v));
		goto out;
	}
	out = trail_response(t, s, false);
	s = NULL;
	ht_reply_json(req, 200, out);
	json_object_put(out);
	goto out;
refuse:
	ht_reply_refused(req, &e);
out:
	tags_free(tags, ntags);
	ht_trail_spec_free(s);
}

/* A copy of trail i's spec to change, refusing config trails. */
static struct ht_trail_spec *
editable_copy(const struct ht_api_trails *t, size_t i, struct ht_api_error *e)
{
	const struct ht_trail_spec *cur = ht_registry_spec(t->reg, i);
	struct ht_trail_spec *s;

	if (cur->from_config) {
		ht_api_fail(e, "OperationNotPermittedException", "trail %s is declared in %s; change it "
		    "there and reload (SIGHUP)", cur->tc.name, t->conf->path);
		return NULL;
	}
	s = ht_trail_spec_dup(cur);
	if (s == NULL)
		ht_api_fail(e, "InternalFailure", "out of memory");
	return s;
}

static void
op_update_trail(struct evhttp_request *req, struct json_object *body, void *arg)
{
	struct ht_api_trails *t = arg;
	struct ht_trail_spec *s = NULL;
	struct ht_api_error e = { 0 };
	struct json_object *out;
	size_t i;

	if (find_trail(t, body, "Name", &i, &e) < 0 || (s = editable_copy(t, i, &e)) == NULL ||
	    apply_strings(t, body, s, &e) < 0 || apply_bools(t, body, s, &e) < 0) {
		ht_trail_spec_free(s);
		ht_reply_refused(req, &e);
		return;
	}
	if (ht_registry_update(t->reg, i, s) < 0) {
		ht_trail_spec_free(s);
		ht_reply_error(req, 500, "InternalFailure", "cannot store the trail");
		return;
	}
	out = trail_response(t, s, false);
	ht_reply_json(req, 200, out);
	json_object_put(out);
}

/* ---- delete, logging ---- */

static void
reply_empty(struct evhttp_request *req)
{
	struct json_object *o = json_object_new_object();

	ht_reply_json(req, 200, o);
	json_object_put(o);
}

static void
op_delete_trail(struct evhttp_request *req, struct json_object *body, void *arg)
{
	struct ht_api_trails *t = arg;
	struct ht_api_error e = { 0 };
	size_t i;
	int v;

	if (find_trail(t, body, "Name", &i, &e) < 0) {
		ht_reply_refused(req, &e);
		return;
	}
	v = ht_registry_delete(t->reg, i);
	if (v == -EPERM) {
		ht_api_fail(&e, "OperationNotPermittedException", "trail %s is declared in %s; remove it "
		    "there and reload (SIGHUP)", ht_registry_spec(t->reg, i)->tc.name, t->conf->path);
		ht_reply_refused(req, &e);
		return;
	}
	reply_empty(req);
}

static void
set_logging(struct evhttp_request *req, struct json_object *body, struct ht_api_trails *t,
    bool on)
{
	struct ht_api_error e = { 0 };
	size_t i;
	int v;

	if (find_trail(t, body, "Name", &i, &e) < 0) {
		ht_reply_refused(req, &e);
		return;
	}
	v = ht_registry_set_logging(t->reg, i, on);
	if (v == -EPERM) {
		ht_api_fail(&e, "OperationNotPermittedException", "trail %s is declared in %s; set "
		    "start_logging there and reload (SIGHUP)", ht_registry_spec(t->reg, i)->tc.name,
		    t->conf->path);
		ht_reply_refused(req, &e);
		return;
	}
	if (v < 0) {
		ht_reply_error(req, 500, "InternalFailure", "cannot store the trail");
		return;
	}
	reply_empty(req);
}

static void
op_start_logging(struct evhttp_request *req, struct json_object *body, void *arg)
{
	set_logging(req, body, arg, true);
}

static void
op_stop_logging(struct evhttp_request *req, struct json_object *body, void *arg)
{
	set_logging(req, body, arg, false);
}

/* ---- describe, get, list, status ---- */

static void
op_describe_trails(struct evhttp_request *req, struct json_object *body, void *arg)
{
	struct ht_api_trails *t = arg;
	struct json_object *names, *out = json_object_new_object(), *list = json_object_new_array();
	struct ht_api_error e = { 0 };

	if (json_object_object_get_ex(body, "trailNameList", &names) && names &&
	    json_object_is_type(names, json_type_array) && json_object_array_length(names) > 0) {
		for (size_t k = 0; k < json_object_array_length(names); k++) {
			struct json_object *one = json_object_new_object();
			size_t i;
			int v;

			json_object_object_add(one, "Name",
			    json_object_get(json_object_array_get_idx(names, k)));
			v = find_trail(t, one, "Name", &i, &e);
			json_object_put(one);
			if (v < 0 && strcmp(e.type, "TrailNotFoundException") != 0) {
				json_object_put(list);
				json_object_put(out);
				ht_reply_refused(req, &e);
				return;
			}
			if (v == 0)
				json_object_array_add(list, trail_response(t,
				    ht_registry_spec(t->reg, i), true));
		}
	} else {
		for (size_t i = 0; i < ht_registry_count(t->reg); i++)
			json_object_array_add(list, trail_response(t, ht_registry_spec(t->reg, i),
			    true));
	}
	json_object_object_add(out, "trailList", list);
	ht_reply_json(req, 200, out);
	json_object_put(out);
}

static void
op_get_trail(struct evhttp_request *req, struct json_object *body, void *arg)
{
	struct ht_api_trails *t = arg;
	struct ht_api_error e = { 0 };
	struct json_object *out;
	size_t i;

	if (find_trail(t, body, "Name", &i, &e) < 0) {
		ht_reply_refused(req, &e);
		return;
	}
	out = json_object_new_object();
	json_object_object_add(out, "Trail", trail_response(t, ht_registry_spec(t->reg, i), true));
	ht_reply_json(req, 200, out);
	json_object_put(out);
}

static void
op_list_trails(struct evhttp_request *req, struct json_object *body, void *arg)
{
	struct ht_api_trails *t = arg;
	struct json_object *out = json_object_new_object(), *list = json_object_new_array();

	for (size_t i = 0; i < ht_registry_count(t->reg); i++) {
		const struct ht_trail_spec *s = ht_registry_spec(t->reg, i);
		struct json_object *o = json_object_new_object();
		char *arn = arn_of(t, s->tc.name);

		put_str(o, "TrailARN", arn);
		put_str(o, "Name", s->tc.name);
		put_str(o, "HomeRegion", t->conf->region);
		json_object_array_add(list, o);
		free(arn);
	}
	json_object_object_add(out, "Trails", list);
	ht_reply_json(req, 200, out);
	json_object_put(out);
}

static void
put_time(struct json_object *o, const char *k, int64_t t)
{
	if (t > 0)
		json_object_object_add(o, k, json_object_new_int64(t));
}

/* The "no longer in use" members CloudTrail still returns as ISO strings. */
static void
put_iso(struct json_object *o, const char *k, int64_t t)
{
	char buf[HT_ISO8601_LEN];

	if (t <= 0)
		return;
	ht_time_iso8601((time_t)t, buf);
	put_str(o, k, buf);
}

static void
op_get_trail_status(struct evhttp_request *req, struct json_object *body, void *arg)
{
	struct ht_api_trails *t = arg;
	struct ht_trail_stats ts = { 0 };
	struct ht_api_error e = { 0 };
	struct ht_trail *trail;
	struct json_object *o;
	size_t i;

	if (find_trail(t, body, "Name", &i, &e) < 0) {
		ht_reply_refused(req, &e);
		return;
	}
	trail = ht_registry_trail(t->reg, i);
	if (trail)
		ht_trail_stats(trail, &ts);
	else
		snprintf(ts.latest_error, sizeof(ts.latest_error), "the trail is not running: its "
		    "bucket is not in the configuration");
	o = json_object_new_object();
	put_bool(o, "IsLogging", ts.logging);
	if (ts.latest_error[0])
		put_str(o, "LatestDeliveryError", ts.latest_error);
	put_time(o, "LatestDeliveryTime", ts.latest_delivery_time);
	put_time(o, "StartLoggingTime", ts.start_logging_time);
	put_time(o, "StopLoggingTime", ts.stop_logging_time);
	put_iso(o, "LatestDeliveryAttemptTime", ts.latest_attempt_time);
	if (ts.latest_attempt_time && ts.latest_attempt_succeeded)
		put_iso(o, "LatestDeliveryAttemptSucceeded", ts.latest_attempt_time);
	else if (ts.latest_attempt_time)
		put_str(o, "LatestDeliveryAttemptSucceeded", "");
	if (ts.latest_notification_error[0])
		put_str(o, "LatestNotificationError", ts.latest_notification_error);
	put_time(o, "LatestNotificationTime", ts.latest_notification_time);
	put_iso(o, "LatestNotificationAttemptTime", ts.latest_notification_attempt_time);
	if (ts.latest_notification_attempt_time && ts.latest_notification_attempt_succeeded)
		put_iso(o, "LatestNotificationAttemptSucceeded",
		    ts.latest_notification_attempt_time);
	else if (ts.latest_notification_attempt_time)
		put_str(o, "LatestNotificationAttemptSucceeded", "");
	put_iso(o, "TimeLoggingStarted", ts.start_logging_time);
	put_iso(o, "TimeLoggingStopped", ts.stop_logging_time);
	ht_reply_json(req, 200, o);
	json_object_put(o);
}

/* ---- tags ---- */

static int
find_resource(const struct ht_api_trails *t, const char *arn, size_t *ret, struct ht_api_error *e)
{
	ssize_t i;

	if (strncmp(arn, "arn:aws:cloudtrail:", 19) != 0 || strstr(arn, ":trail/") == NULL)
		return ht_api_fail(e, "CloudTrailARNInvalidException", "%.200s is not a trail ARN", arn);
	i = ht_registry_find(t->reg, arn);
	if (i < 0)
		return ht_api_fail(e, "ResourceNotFoundException", "no trail has the ARN %.200s", arn);
	*ret = (size_t)i;
	return 0;
}

static void
change_tags(struct evhttp_request *req, struct json_object *body, struct ht_api_trails *t,
    bool add)
{
	struct ht_trail_tag *tags = NULL;
	struct ht_trail_spec *s = NULL;
	struct ht_api_error e = { 0 };
	struct json_object *tl;
	const char *arn;
	size_t i, n = 0;

	if (get_str(body, "ResourceId", &arn, &e) < 0 || arn == NULL ||
	    !json_object_object_get_ex(body, "TagsList", &tl) ||
	    !json_object_is_type(tl, json_type_array)) {
		if (e.type == NULL)
			ht_api_fail(&e, "InvalidParameterException", "ResourceId and TagsList are required");
		goto refuse;
	}
	if (find_resource(t, arn, &i, &e) < 0 || (s = editable_copy(t, i, &e)) == NULL ||
	    parse_tags(tl, &tags, &n, &e) < 0)
		goto refuse;
	if (add && tags_add(s, tags, n, &e) < 0)
		goto refuse;
	for (size_t k = 0; !add && k < n; k++) {
		for (size_t j = 0; j < s->n_tags; j++) {
			if (strcmp(s->tags[j].key, tags[k].key) != 0 ||
			    (tags[k].value && (!s->tags[j].value ||
			    strcmp(s->tags[j].value, tags[k].value) != 0)))
				continue;
			free(s->tags[j].key);
			free(s->tags[j].value);
			s->tags[j] = s->tags[--s->n_tags];
			break;
		}
	}
	if (ht_registry_update(t->reg, i, s) < 0) {
		ht_api_fail(&e, "InternalFailure", "cannot store the trail");
		goto refuse;
	}
	tags_free(tags, n);
	reply_empty(req);
	return;
refuse:
	tags_free(tags, n);
	ht_trail_spec_free(s);
	ht_reply_refused(req, &e);
}

static void
op_add_tags(struct evhttp_request *req, struct json_object *body, void *arg)
{
	change_tags(req, body, arg, true);
}

static void
op_remove_tags(struct evhttp_request *req, struct json_object *body, void *arg)
{
	change_tags(req, body, arg, false);
}

static void
op_list_tags(struct evhttp_request *req, struct json_object *body, void *arg)
{
	struct ht_api_trails *t = arg;
	struct json_object *ids, *out, *list;
	struct ht_api_error e = { 0 };

	if (!json_object_object_get_ex(body, "ResourceIdList", &ids) ||
	    !json_object_is_type(ids, json_type_array) || json_object_array_length(ids) > 20) {
		ht_api_fail(&e, "InvalidParameterException", "ResourceIdList must list 1 to 20 ARNs");
		ht_reply_refused(req, &e);
		return;
	}
	list = json_object_new_array();
	for (size_t k = 0; k < json_object_array_length(ids); k++) {
		struct json_object *id = json_object_array_get_idx(ids, k), *rt, *tl;
		const struct ht_trail_spec *s;
		size_t i;

		if (!json_object_is_type(id, json_type_string) ||
		    find_resource(t, json_object_get_string(id), &i, &e) < 0) {
			if (e.type == NULL)
				ht_api_fail(&e, "CloudTrailARNInvalidException", "ResourceIdList holds a "
				    "non-string");
			json_object_put(list);
			ht_reply_refused(req, &e);
			return;
		}
		s = ht_registry_spec(t->reg, i);
		rt = json_object_new_object();
		tl = json_object_new_array();
		put_str(rt, "ResourceId", json_object_get_string(id));
		for (size_t j = 0; j < s->n_tags; j++) {
			struct json_object *tag = json_object_new_object();

			put_str(tag, "Key", s->tags[j].key);
			put_str(tag, "Value", s->tags[j].value);
			json_object_array_add(tl, tag);
		}
		json_object_object_add(rt, "TagsList", tl);
		json_object_array_add(list, rt);
	}
	out = json_object_new_object();
	json_object_object_add(out, "ResourceTagList", list);
	ht_reply_json(req, 200, out);
	json_object_put(out);
}

/* ---- event selectors ---- */

static struct json_object *
selectors_response(const struct ht_api_trails *t, size_t i, const struct ht_select *sel)
{
	struct json_object *o = json_object_new_object();
	char *arn = arn_of(t, ht_registry_spec(t->reg, i)->tc.name);

	put_str(o, "TrailARN", arn);
	free(arn);
	if (ht_select_add_json(sel, o) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static void
op_put_event_selectors(struct evhttp_request *req, struct json_object *body, void *arg)
{
	struct ht_api_trails *t = arg;
	struct ht_trail_spec *s = NULL;
	struct ht_select *sel = NULL;
	struct ht_select_error serr;
	struct ht_api_error e = { 0 };
	struct json_object *state = NULL, *out;
	size_t i;

	if (find_trail(t, body, "TrailName", &i, &e) < 0 || (s = editable_copy(t, i, &e)) == NULL)
		goto refuse;
	if (ht_select_parse(body, &sel, &serr) < 0) {
		ht_api_fail(&e, serr.type ? serr.type : "InternalFailure", "%s", serr.message);
		goto refuse;
	}
	if (ht_select_to_state(sel, &state) < 0) {
		ht_api_fail(&e, "InternalFailure", "out of memory");
		goto refuse;
	}
	json_object_put(s->selectors);
	s->selectors = state;
	if (ht_registry_update(t->reg, i, s) < 0) {
		ht_api_fail(&e, "InternalFailure", "cannot store the trail");
		goto refuse;
	}
	out = selectors_response(t, i, sel);
	ht_select_free(sel);
	if (out == NULL) {
		ht_reply_error(req, 500, "InternalFailure", "out of memory");
		return;
	}
	ht_reply_json(req, 200, out);
	json_object_put(out);
	return;
refuse:
	ht_select_free(sel);
	ht_trail_spec_free(s);
	ht_reply_refused(req, &e);
}

static void
op_get_event_selectors(struct evhttp_request *req, struct json_object *body, void *arg)
{
	struct ht_api_trails *t = arg;
	const struct ht_trail_spec *spec;
	struct ht_select *sel = NULL;
	struct ht_select_error serr;
	struct ht_api_error e = { 0 };
	struct json_object *out;
	size_t i;

	if (find_trail(t, body, "TrailName", &i, &e) < 0) {
		ht_reply_refused(req, &e);
		return;
	}
	spec = ht_registry_spec(t->reg, i);
	if (spec->selectors && ht_select_from_state(spec->selectors, &sel, &serr) < 0)
		sel = NULL;
	out = selectors_response(t, i, sel);
	ht_select_free(sel);
	if (out == NULL) {
		ht_reply_error(req, 500, "InternalFailure", "out of memory");
		return;
	}
	ht_reply_json(req, 200, out);
	json_object_put(out);
}

/* ---- set-up ---- */

static const struct {
	const char *name;
	ht_api_op_fn fn;
} ops[] = {
	{ "CreateTrail", op_create_trail },
	{ "UpdateTrail", op_update_trail },
	{ "DeleteTrail", op_delete_trail },
	{ "DescribeTrails", op_describe_trails },
	{ "GetTrail", op_get_trail },
	{ "ListTrails", op_list_trails },
	{ "GetTrailStatus", op_get_trail_status },
	{ "StartLogging", op_start_logging },
	{ "StopLogging", op_stop_logging },
	{ "AddTags", op_add_tags },
	{ "RemoveTags", op_remove_tags },
	{ "ListTags", op_list_tags },
	{ "PutEventSelectors", op_put_event_selectors },
	{ "GetEventSelectors", op_get_event_selectors },
};

int
ht_api_trails_new(struct ht_api *api, struct ht_registry *reg, const struct ht_conf *conf,
    struct ht_api_trails **ret)
{
	struct ht_api_trails *t = calloc(1, sizeof(*t));
	int v = 0;

	if (t == NULL)
		return -ENOMEM;
	t->reg = reg;
	t->conf = conf;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]) && v == 0; i++)
		v = ht_api_op(api, ops[i].name, ops[i].fn, t);
	if (v < 0) {
		free(t);
		return v;
	}
	*ret = t;
	return 0;
}

void
ht_api_trails_set_conf(struct ht_api_trails *t, const struct ht_conf *conf)
{
	t->conf = conf;
}

void
ht_api_trails_free(struct ht_api_trails *t)
{
	free(t);
}

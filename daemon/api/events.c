/*
 * events.c - see events.h.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/http.h>
#include <json-c/json.h>

#include "api/events.h"
#include "api/http.h"
#include "api/reply.h"
#include "conf.h"
#include "crypto.h"
#include "fileio.h"
#include "history/history.h"
#include "history/lookup.h"
#include "log.h"
#include "record.h"
#include "util.h"

#define DEFAULT_WINDOW_S (90 * 86400)
#define MAX_RESULTS_DEFAULT 50
#define MAX_RESULTS_MAX 50
#define ATTR_VALUE_MAX 2000
#define TOKEN_VERSION 1
#define TOKEN_BODY 68
#define TOKEN_MAC 16
#define TOKEN_KEY_LEN 32

static const char *const attr_names[HT_ATTR_COUNT] = {
	[HT_ATTR_EVENT_ID] = "EventId",
	[HT_ATTR_EVENT_NAME] = "EventName",
	[HT_ATTR_READ_ONLY] = "ReadOnly",
	[HT_ATTR_USERNAME] = "Username",
	[HT_ATTR_RESOURCE_TYPE] = "ResourceType",
	[HT_ATTR_RESOURCE_NAME] = "ResourceName",
	[HT_ATTR_EVENT_SOURCE] = "EventSource",
	[HT_ATTR_ACCESS_KEY_ID] = "AccessKeyId",
};

struct ht_api_events {
	struct ht_history *history;
	const struct ht_conf *conf;
	int64_t (*now)(void);
	uint8_t key[TOKEN_KEY_LEN];
};

/* A parsed, checked request. */
struct lookup_req {
	bool has_attr;
	enum ht_attr attr;
	const char *value;		/* borrowed from the request body */
	bool has_start, has_end, insight;
	int64_t start, end;
	int max_results;
	const char *token;
};

/* What a NextToken carries. */
struct token {
	uint8_t flags;			/* which request members were set (binding) */
	uint8_t attr;
	int64_t req_start, req_end;	/* as requested (binding) */
	uint64_t value_hash;		/* of the attribute value (binding) */
	int64_t start, end;		/* the effective window */
	uint64_t max_seq;		/* snapshot */
	int64_t after_time;
	uint64_t after_seq;
};

/* ---- request ---- */

/* CloudTrail counts '_', ' ', ',' and '\n' twice toward the 2000 limit. */
static size_t
attr_value_length(const char *v)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if ((*p & 0xC0) == 0x80)
			continue;	/* UTF-8 continuation: same character */
		n += (*p == '_' || *p == ' ' || *p == ',' || *p == '\n') ? 2 : 1;
	}
	return n;
}

static int
parse_attributes(struct json_object *list, struct lookup_req *r, struct ht_api_error *e)
{
	struct json_object *item, *k, *v;
	const char *key;

	if (!json_object_is_type(list, json_type_array))
		return ht_api_fail(e, "SerializationException", "LookupAttributes must be a list");
	if (json_object_array_length(list) == 0)
		return 0;
	if (json_object_array_length(list) > 1)
		return ht_api_fail(e, "InvalidLookupAttributesException",
		    "only one lookup attribute is allowed, %zu were given",
		    json_object_array_length(list));
	item = json_object_array_get_idx(list, 0);
	if (!json_object_is_type(item, json_type_object) ||
	    !json_object_object_get_ex(item, "AttributeKey", &k) ||
	    !json_object_object_get_ex(item, "AttributeValue", &v) ||
	    !json_object_is_type(k, json_type_string) || !json_object_is_type(v, json_type_string))
		return ht_api_fail(e, "InvalidLookupAttributesException",
		    "a lookup attribute needs a string AttributeKey and AttributeValue");
	key = json_object_get_string(k);
	for (int i = 0; i < HT_ATTR_COUNT; i++) {
		if (strcmp(key, attr_names[i]) == 0) {
			r->has_attr = true;
			r->attr = (enum ht_attr)i;
		}
	}
	if (!r->has_attr)
		return ht_api_fail(e, "InvalidLookupAttributesException", "unknown AttributeKey \"%.64s\" "
		    "(EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, "
		    "EventSource, AccessKeyId)", key);
	r->value = json_object_get_string(v);
	if (*r->value == '\0' || attr_value_length(r->value) > ATTR_VALUE_MAX ||
	    strlen(r->value) != (size_t)json_object_get_string_len(v))
		return ht_api_fail(e, "InvalidLookupAttributesException",
		    "AttributeValue must be 1 to %d characters", ATTR_VALUE_MAX);
	return 0;
}

/* An epoch timestamp member (JSON number; fractions allowed). */
static int
parse_time(struct json_object *o, const char *name, int64_t *ret, struct ht_api_error *e)
{
	double d;

	if (!json_object_is_type(o, json_type_int) && !json_object_is_type(o, json_type_double))
		return ht_api_fail(e, "SerializationException", "%s must be a timestamp (epoch "
		    "seconds)", name);
	d = json_object_get_double(o);
	if (!isfinite(d) || d < 0 || d > 253402300799.0)	/* 9999-12-31 */
		return ht_api_fail(e, "InvalidTimeRangeException", "%s is out of range", name);
	*ret = (int64_t)floor(d);
	return 0;
}

static int
parse_max_results(struct json_object *o, struct lookup_req *r, struct ht_api_error *e)
{
	int64_t n;

	if (!json_object_is_type(o, json_type_int))
		return ht_api_fail(e, "SerializationException", "MaxResults must be an integer");
	n = json_object_get_int64(o);
	if (n < 1 || n > MAX_RESULTS_MAX)
		return ht_api_fail(e, "InvalidMaxResultsException", "MaxResults must be 1 to %d, "
		    "not %lld", MAX_RESULTS_MAX, (long long)n);
	r->max_results = (int)n;
	return 0;
}

static int
parse_request(struct json_object *body, struct lookup_req *r, struct ht_api_error *e)
{
	struct json_object *o;
	int v = 0;

	memset(r, 0, sizeof(*r));
	r->max_results = MAX_RESULTS_DEFAULT;
	if (json_object_object_get_ex(body, "LookupAttributes", &o) && o)
		v = parse_attributes(o, r, e);
	if (v == 0 && json_object_object_get_ex(body, "StartTime", &o) && o) {
		r->has_start = true;
		v = parse_time(o, "StartTime", &r->start, e);
	}
	if (v == 0 && json_object_object_get_ex(body, "EndTime", &o) && o) {
		r->has_end = true;
		v = parse_time(o, "EndTime", &r->end, e);
	}
	if (v == 0 && json_object_object_get_ex(body, "MaxResults", &o) && o)
		v = parse_max_results(o, r, e);
	if (v == 0 && json_object_object_get_ex(body, "EventCategory", &o) && o) {
		if (!json_object_is_type(o, json_type_string) ||
		    strcmp(json_object_get_string(o), "insight") != 0)
			return ht_api_fail(e, "InvalidEventCategoryException",
			    "EventCategory can only be \"insight\"");
		r->insight = true;
	}
	if (v == 0 && json_object_object_get_ex(body, "NextToken", &o) && o) {
		if (!json_object_is_type(o, json_type_string) || json_object_get_string_len(o) == 0)
			return ht_api_fail(e, "InvalidNextTokenException", "NextToken is not valid");
		r->token = json_object_get_string(o);
	}
	if (v == 0 && r->has_start && r->has_end && r->start > r->end)
		return ht_api_fail(e, "InvalidTimeRangeException", "StartTime is after EndTime");
	return v;
}

/* ---- NextToken ---- */

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint8_t
req_flags(const struct lookup_req *r)
{
	return (uint8_t)(r->has_attr | r->has_start << 1 | r->has_end << 2 | r->insight << 3);
}

/* The token's fields that tie it to the request that made it. */
static void
token_bind(const struct lookup_req *r, struct token *t)
{
	t->flags = req_flags(r);
	t->attr = r->has_attr ? (uint8_t)r->attr : 0;
	t->req_start = r->has_start ? r->start : 0;
	t->req_end = r->has_end ? r->end : 0;
	t->value_hash = r->has_attr ? ht_attr_hash(r->attr, r->value) : 0;
}

static char *
token_encode(const struct ht_api_events *e, const struct token *t)
{
	uint8_t buf[TOKEN_BODY + HT_SHA256_LEN];
	uint8_t *p = buf;

	*p++ = TOKEN_VERSION;
	*p++ = t->flags;
	*p++ = t->attr;
	*p++ = 0;
	put64(p, (uint64_t)t->req_start), p += 8;
	put64(p, (uint64_t)t->req_end), p += 8;
	put64(p, t->value_hash), p += 8;
	put64(p, (uint64_t)t->start), p += 8;
	put64(p, (uint64_t)t->end), p += 8;
	put64(p, t->max_seq), p += 8;
	put64(p, (uint64_t)t->after_time), p += 8;
	put64(p, t->after_seq), p += 8;
	if (ht_hmac_sha256(e->key, sizeof(e->key), buf, TOKEN_BODY, p) < 0)
		return NULL;
	return ht_base64_encode(buf, TOKEN_BODY + TOKEN_MAC);
}

/* Decode and authenticate s; it must have been made for request r. */
static int
token_decode(const struct ht_api_events *e, const char *s, const struct lookup_req *r,
    struct token *t, struct ht_api_error *err)
{
	uint8_t buf[TOKEN_BODY + TOKEN_MAC + 8], mac[HT_SHA256_LEN];
	struct token want;
	const uint8_t *p = buf + 4;
	size_t len;

	if (strlen(s) > 200 || ht_base64_decode(s, buf, sizeof(buf), &len) < 0 ||
	    len != TOKEN_BODY + TOKEN_MAC || buf[0] != TOKEN_VERSION ||
	    ht_hmac_sha256(e->key, sizeof(e->key), buf, TOKEN_BODY, mac) < 0 ||
	    !ht_memeq_consttime(mac, buf + TOKEN_BODY, TOKEN_MAC))
		return ht_api_fail(err, "InvalidNextTokenException", "NextToken is not valid");
	t->flags = buf[1];
	t->attr = buf[2];
	t->req_start = (int64_t)get64(p), p += 8;
	t->req_end = (int64_t)get64(p), p += 8;
	t->value_hash = get64(p), p += 8;
	t->start = (int64_t)get64(p), p += 8;
	t->end = (int64_t)get64(p), p += 8;
	t->max_seq = get64(p), p += 8;
	t->after_time = (int64_t)get64(p), p += 8;
	t->after_seq = get64(p);
	token_bind(r, &want);
	if (want.flags != t->flags || want.attr != t->attr || want.req_start != t->req_start ||
	    want.req_end != t->req_end || want.value_hash != t->value_hash)
		return ht_api_fail(err, "InvalidNextTokenException", "NextToken was issued for "
		    "different parameters; repeat the original request's parameters with it");
	return 0;
}

/* ---- response ---- */

static void
add_str(struct json_object *o, const char *key, const char *v)
{
	if (v)
		json_object_object_add(o, key, json_object_new_string(v));
}

static struct json_object *
event_resources(const struct ht_record *rec)
{
	struct json_object *list = json_object_new_array();

	if (rec->resources == NULL || !json_object_is_type(rec->resources, json_type_array))
		return list;
	for (size_t i = 0; i < json_object_array_length(rec->resources); i++) {
		struct json_object *r = json_object_array_get_idx(rec->resources, i), *v;
		struct json_object *o = json_object_new_object();

		if (json_object_object_get_ex(r, "type", &v) && json_object_is_type(v, json_type_string))
			add_str(o, "ResourceType", json_object_get_string(v));
		if ((json_object_object_get_ex(r, "ARN", &v) ||
		    json_object_object_get_ex(r, "ARNPrefix", &v)) &&
		    json_object_is_type(v, json_type_string))
			add_str(o, "ResourceName", json_object_get_string(v));
		json_object_array_add(list, o);
	}
	return list;
}

static struct json_object *
event_object(const struct ht_lookup_event *ev)
{
	const struct ht_record *rec = ev->rec;
	struct json_object *o = json_object_new_object(), *ak;

	add_str(o, "EventId", rec->event_id);
	add_str(o, "EventName", rec->event_name);
	if (rec->read_only != HT_UNSET)
		add_str(o, "ReadOnly", rec->read_only == HT_TRUE ? "true" : "false");
	if (rec->user_identity && json_object_object_get_ex(rec->user_identity, "accessKeyId", &ak) &&
	    json_object_is_type(ak, json_type_string))
		add_str(o, "AccessKeyId", json_object_get_string(ak));
	json_object_object_add(o, "EventTime", json_object_new_int64(ev->time));
	add_str(o, "EventSource", rec->event_source);
	add_str(o, "Username", ht_record_username(rec));
	json_object_object_add(o, "Resources", event_resources(rec));
	json_object_object_add(o, "CloudTrailEvent", json_object_new_string_len(ev->json,
	    (int)ev->len));
	return o;
}

/* ---- the operation ---- */

static void
query_from(const struct lookup_req *r, const struct token *t, bool include_data,
    struct ht_index_query *q)
{
	*q = (struct ht_index_query){ .start = t->start, .end = t->end, .max_seq = t->max_seq,
		.include_data = include_data, .has_attr = r->has_attr, .attr = r->attr,
		.value = r->value };
	if (t->after_seq) {
		q->has_after = true;
		q->after_time = t->after_time;
		q->after_seq = t->after_seq;
	}
}

static void
lookup_reply(struct evhttp_request *req, struct ht_api_events *e, const struct lookup_req *r,
    struct token *t)
{
	struct ht_lookup_event *evs = NULL;
	struct json_object *out, *list;
	struct ht_index_query q;
	size_t n = 0;
	bool more = false;
	int v;

	query_from(r, t, e->conf->history.lookup_data_events, &q);
	v = ht_lookup(e->history, &q, (size_t)r->max_results, &evs, &n, &more);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "LookupEvents failed");
		ht_reply_error(req, 500, "InternalFailure", "the lookup failed: %s", strerror(-v));
		return;
	}
	out = json_object_new_object();
	list = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++)
		json_object_array_add(list, event_object(&evs[i]));
	json_object_object_add(out, "Events", list);
	if (more && n > 0) {
		char *tok;

		t->after_time = evs[n - 1].time;
		t->after_seq = evs[n - 1].seq;
		tok = token_encode(e, t);
		if (tok)
			json_object_object_add(out, "NextToken", json_object_new_string(tok));
		free(tok);
	}
	ht_reply_json(req, 200, out);
	json_object_put(out);
	ht_lookup_free(evs, n);
}

static void
lookup_events_op(struct evhttp_request *req, struct json_object *body, void *arg)
{
	struct ht_api_events *e = arg;
	struct ht_api_error err = { 0 };
	struct lookup_req r;
	struct token t = { 0 };
	int64_t now = e->now();

	if (parse_request(body, &r, &err) < 0 ||
	    (r.token && token_decode(e, r.token, &r, &t, &err) < 0)) {
		ht_reply_refused(req, &err);
		return;
	}
	if (r.token == NULL) {
		token_bind(&r, &t);
		t.end = r.has_end ? r.end : now;
		t.start = r.has_start ? r.start : now - DEFAULT_WINDOW_S;
		if (t.start > t.end) {
			ht_reply_error(req, 400, "InvalidTimeRangeException", "StartTime is after "
			    "EndTime (%s)", r.has_end ? "given" : "now");
			return;
		}
		t.max_seq = ht_history_next_seq(e->history) - 1;
	}
	if (r.insight) {
		/* hosttrail has no Insights events. */
		struct json_object *out = json_object_new_object();

		json_object_object_add(out, "Events", json_object_new_array());
		ht_reply_json(req, 200, out);
		json_object_put(out);
		return;
	}
	lookup_reply(req, e, &r, &t);
}

/* ---- set-up ---- */

static int
load_token_key(const char *state_dir, uint8_t key[TOKEN_KEY_LEN])
{
	char path[PATH_MAX], *data = NULL;
	size_t len = 0;
	int v;

	snprintf(path, sizeof(path), "%s/lookup-token.key", state_dir);
	v = ht_read_file(path, 4096, &data, &len);
	if (v == 0 && len == TOKEN_KEY_LEN) {
		memcpy(key, data, TOKEN_KEY_LEN);
		free(data);
		return 0;
	}
	free(data);
	if (v == 0)
		log_warnx("%s has the wrong size; making a new one (older NextTokens become "
		    "invalid)", path);
	v = ht_random_bytes(key, TOKEN_KEY_LEN);
	if (v == 0)
		v = ht_write_file_atomic(path, key, TOKEN_KEY_LEN, 0600);
	if (v < 0)
		log_msg(HT_LOG_WARNING, -v, "cannot store %s; NextTokens will not survive a restart",
		    path);
	return 0;
}

static int64_t
default_now(void)
{
	return (int64_t)time(NULL);
}

int
ht_api_events_new(struct ht_api *api, struct ht_history *h, const struct ht_conf *conf,
    int64_t (*now_fn)(void), struct ht_api_events **ret)
{
	struct ht_api_events *e = calloc(1, sizeof(*e));
	int v;

	if (e == NULL)
		return -ENOMEM;
	e->history = h;
	e->conf = conf;
	e->now = now_fn ? now_fn : default_now;
	v = load_token_key(conf->state_dir, e->key);
	if (v == 0)
		v = ht_api_op(api, "LookupEvents", lookup_events_op, e);
	if (v < 0) {
		free(e);
		return v;
	}
	*ret = e;
	return 0;
}

void
ht_api_events_set_conf(struct ht_api_events *e, const struct ht_conf *conf)
{
	e->conf = conf;
}

void
ht_api_events_free(struct ht_api_events *e)
{
	free(e);
}

/*
 * ingest_parse.c - PutAuditEvents bodies to CloudTrail records, no I/O.
 *
 * Two levels of failure, as CloudTrail Lake has them.  Anything wrong with
 * the request as a whole (not JSON, wrong shape, too many events, too big, a
 * repeated id) refuses the request and fills struct ht_ingest_error.  Once
 * the request is sound, each event is judged alone: a bad one gets an
 * errorCode and message in its item and the others are still accepted, so
 * one caller's mistake never drops the rest of its batch.
 *
 * Per event, checks run in this order and the first failure wins: the
 * AuditEvent wrapper (id, eventData, eventDataChecksum, no other members),
 * the checksum over the eventData bytes exactly as received, eventData as a
 * JSON object, then its fields in the integration schema's order (presence,
 * type, length, shape), unknown fields, and last the recipient account.
 *
 * Where the caller's UID goes: the record's requestID.  The integration
 * schema's UID is the caller's own identifier of the action, which is what
 * requestID is in a CloudTrail record ("issued by the service" that handled
 * the request; here the caller's application is that service).  It shares
 * requestID's 1 KB bound, and every CloudTrail reader (Athena's requestid
 * column, SIEM parsers, LookupEvents output) shows it, while metadata keeps
 * exactly Lake's {ingestionTime, channelARN}.  eventData.version is checked
 * and dropped: the record's own eventVersion is HT_EVENT_VERSION.
 *
 * The built record holds references to the nested objects of the parsed
 * eventData (userIdentity.details, requestParameters, ...); the parse tree
 * itself is released before returning.  eventID is left for the pipeline.
 */
#include "ht_build.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "crypto.h"
#include "ingest_parse.h"
#include "jsonutil.h"
#include "record.h"
#include "util.h"

#define MAX_STRING 1024			/* every string field of eventData */

#define E_FIELD_NOT_FOUND "FieldNotFound"
#define E_FIELD_TOO_LONG "FieldTooLong"
#define E_INVALID_CHECKSUM "InvalidChecksum"
#define E_INVALID_DATA "InvalidData"
#define E_INVALID_RECIPIENT "InvalidRecipient"
#define E_INTERNAL_FAILURE "InternalFailure"

enum ev_kind {
	EV_STR,		/* string of at most MAX_STRING bytes */
	EV_TIME,	/* "yyyy-MM-ddTHH:mm:ssZ" */
	EV_OBJ,		/* object */
	EV_OBJ_NULL,	/* object or null (requestParameters, responseElements) */
	EV_IDENTITY,	/* userIdentity: {type, principalId, details?} */
};

struct ev_field {
	const char *name;
	enum ev_kind kind;
	bool required;
};

/* The integration event schema (cloudtrail.md §12), in its own order. */
static const struct ev_field ev_fields[] = {
	{ "version", EV_STR, true },
	{ "userIdentity", EV_IDENTITY, true },
	{ "userAgent", EV_STR, false },
	{ "eventSource", EV_STR, true },
	{ "eventName", EV_STR, true },
	{ "eventTime", EV_TIME, true },
	{ "UID", EV_STR, true },
	{ "requestParameters", EV_OBJ_NULL, false },
	{ "responseElements", EV_OBJ_NULL, false },
	{ "errorCode", EV_STR, false },
	{ "errorMessage", EV_STR, false },
	{ "sourceIPAddress", EV_STR, false },
	{ "recipientAccountId", EV_STR, true },
	{ "additionalEventData", EV_OBJ, false },
};

#define N_EV_FIELDS (sizeof(ev_fields) / sizeof(ev_fields[0]))

static void req_error(struct ht_ingest_error *err, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int item_fail(struct ht_ingest_item *item, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
req_error(struct ht_ingest_error *err, const char *type, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	err->type = type;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* Records a per-event failure.  0, or -ENOMEM. */
static int
item_fail(struct ht_ingest_item *item, const char *code, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&item->error_message, fmt, ap);
	va_end(ap);
	if (n < 0) {
		item->error_message = NULL;
		return -ENOMEM;
	}
	item->error_code = code;
	return 0;
}

/*
 * Parses exactly len bytes of strict, UTF-8-valid JSON.  Returns the value
 * (caller puts it) or NULL when the text is not one JSON value; *ret_oom is
 * set when the failure was an allocation.
 */
static struct json_object *
json_parse_exact(const char *text, size_t len, bool *ret_oom)
{
	struct json_tokener *tok;
	struct json_object *obj;

	*ret_oom = false;
	tok = json_tokener_new();
	if (tok == NULL) {
		*ret_oom = true;
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	/* Strict mode refuses trailing text, except after a NUL byte. */
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

/* ---- one event ----
 *
 * The check_* helpers return -ENOMEM or 0; a 0 may have recorded the
 * event's failure in item (item->error_code set), and callers stop at the
 * first one so each failed event reports exactly one reason.
 */

static bool
id_chars_valid(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_'))
			return false;
	}
	return true;
}

static int
check_id(struct ht_ingest_item *item, struct json_object *jid)
{
	size_t len;

	if (jid == NULL)
		return item_fail(item, E_FIELD_NOT_FOUND, "Field id not found");
	if (!json_object_is_type(jid, json_type_string))
		return item_fail(item, E_INVALID_DATA, "Field id must be a string");
	len = (size_t)json_object_get_string_len(jid);
	if (len > HT_INGEST_MAX_ID)
		return item_fail(item, E_FIELD_TOO_LONG, "Field id is longer than %d characters",
		    HT_INGEST_MAX_ID);
	if (len == 0 || !id_chars_valid(json_object_get_string(jid), len))
		return item_fail(item, E_INVALID_DATA,
		    "Field id must be 1-%d characters of [-_A-Za-z0-9]", HT_INGEST_MAX_ID);
	return 0;
}

/* eventDataChecksum: base64 of SHA-256 of the eventData bytes.  Compared as
 * text, so only the one canonical encoding matches. */
static int
check_checksum(struct ht_ingest_item *item, struct json_object *jdata, struct json_object *jsum)
{
	uint8_t digest[HT_SHA256_LEN];
	char *want;
	int r;

	if (!json_object_is_type(jsum, json_type_string))
		return item_fail(item, E_INVALID_DATA, "Field eventDataChecksum must be a string");
	if (ht_sha256(json_object_get_string(jdata), (size_t)json_object_get_string_len(jdata),
	    digest) < 0)
		return item_fail(item, E_INTERNAL_FAILURE, "Could not compute the checksum");
	want = ht_base64_encode(digest, sizeof(digest));
	if (want == NULL)
		return -ENOMEM;
	if ((size_t)json_object_get_string_len(jsum) != strlen(want) ||
	    strcmp(json_object_get_string(jsum), want) != 0)
		r = item_fail(item, E_INVALID_CHECKSUM,
		    "Field eventDataChecksum does not match the SHA-256 of eventData");
	else
		r = 0;
	free(want);
	return r;
}

/* A string member: type, NULs and length. */
static int
check_string(struct ht_ingest_item *item, const char *name, struct json_object *val)
{
	size_t len;

	if (!json_object_is_type(val, json_type_string))
		return item_fail(item, E_INVALID_DATA, "Field %s must be a string", name);
	len = (size_t)json_object_get_string_len(val);
	if (len > MAX_STRING)
		return item_fail(item, E_FIELD_TOO_LONG, "Field %s is longer than %d bytes", name,
		    MAX_STRING);
	if (strlen(json_object_get_string(val)) != len)
		return item_fail(item, E_INVALID_DATA, "Field %s contains U+0000", name);
	return 0;
}

static int
check_object(struct ht_ingest_item *item, const char *name, struct json_object *val,
    bool null_ok)
{
	if (null_ok && json_object_is_type(val, json_type_null))
		return 0;
	if (!json_object_is_type(val, json_type_object))
		return item_fail(item, E_INVALID_DATA, "Field %s must be an object%s", name,
		    null_ok ? " or null" : "");
	if (ht_record_check_value(val) < 0)
		return item_fail(item, E_INVALID_DATA, "Field %s holds NaN or Infinity", name);
	return 0;
}

static int
check_identity(struct ht_ingest_item *item, struct json_object *ui)
{
	static const char *const req[] = { "type", "principalId" };
	struct json_object *val;
	size_t i;
	int r;

	if (!json_object_is_type(ui, json_type_object))
		return item_fail(item, E_INVALID_DATA, "Field userIdentity must be an object");
	for (i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
		char name[32];

		snprintf(name, sizeof(name), "userIdentity.%s", req[i]);
		if (!json_object_object_get_ex(ui, req[i], &val))
			return item_fail(item, E_FIELD_NOT_FOUND, "Field %s not found", name);
		if ((r = check_string(item, name, val)) < 0 || item->error_code != NULL)
			return r;
	}
	if (json_object_object_get_ex(ui, "details", &val) &&
	    ((r = check_object(item, "userIdentity.details", val, false)) < 0 ||
	    item->error_code != NULL))
		return r;
	json_object_object_foreach(ui, key, member) {
		(void)member;
		if (strcmp(key, "type") != 0 && strcmp(key, "principalId") != 0 &&
		    strcmp(key, "details") != 0)
			return item_fail(item, E_INVALID_DATA,
			    "Field userIdentity.%.64s is not allowed", key);
	}
	return 0;
}

static int
check_field(struct ht_ingest_item *item, const struct ev_field *f, struct json_object *val)
{
	time_t t;
	int r;

	switch (f->kind) {
	case EV_STR:
		r = check_string(item, f->name, val);
		if (r == 0 && item->error_code == NULL && f->required &&
		    json_object_get_string_len(val) == 0)
			r = item_fail(item, E_INVALID_DATA, "Field %s is empty", f->name);
		return r;
	case EV_TIME:
		if ((r = check_string(item, f->name, val)) < 0 || item->error_code != NULL)
			return r;
		if (ht_time_parse_iso8601(json_object_get_string(val), &t) < 0)
			return item_fail(item, E_INVALID_DATA,
			    "Field %s is not yyyy-MM-ddTHH:mm:ssZ", f->name);
		return 0;
	case EV_OBJ:
	case EV_OBJ_NULL:
		return check_object(item, f->name, val, f->kind == EV_OBJ_NULL);
	case EV_IDENTITY:
		return check_identity(item, val);
	}
	return 0;
}

static bool
ev_field_known(const char *key)
{
	size_t i;

	for (i = 0; i < N_EV_FIELDS; i++)
		if (strcmp(ev_fields[i].name, key) == 0)
			return true;
	return false;
}

/* Validates the parsed eventData object.  0 (failure, if any, recorded in
 * item) or -ENOMEM. */
static int
check_event_data(struct ht_ingest_item *item, struct json_object *ed,
    const struct ht_ingest_context *ctx)
{
	struct json_object *val;
	size_t i;
	int r;

	for (i = 0; i < N_EV_FIELDS; i++) {
		const struct ev_field *f = &ev_fields[i];

		if (!json_object_object_get_ex(ed, f->name, &val)) {
			if (f->required)
				return item_fail(item, E_FIELD_NOT_FOUND, "Field %s not found",
				    f->name);
			continue;
		}
		if ((r = check_field(item, f, val)) < 0 || item->error_code != NULL)
			return r;
	}
	json_object_object_foreach(ed, key, member) {
		(void)member;
		if (!ev_field_known(key))
			return item_fail(item, E_INVALID_DATA, "Field %.64s is not allowed", key);
	}
	json_object_object_get_ex(ed, "recipientAccountId", &val);
	if (ctx->account_id == NULL || strcmp(json_object_get_string(val), ctx->account_id) != 0)
		return item_fail(item, E_INVALID_RECIPIENT,
		    "Field recipientAccountId does not match the channel's account");
	return 0;
}

/* ---- the record ---- */

static int
set_str(char **dst, const char *s)
{
	if (s == NULL)
		return 0;
	*dst = strdup(s);
	return *dst != NULL ? 0 : -ENOMEM;
}

/* Copies the string member key of ed, if present, into *dst. */
static int
copy_str(struct json_object *ed, const char *key, char **dst)
{
	struct json_object *val;

	if (!json_object_object_get_ex(ed, key, &val))
		return 0;
	return set_str(dst, json_object_get_string(val));
}

/* Takes a reference on the object member key of ed, if present; JSON null
 * becomes HT_JSON_NULL. */
static void
copy_obj(struct json_object *ed, const char *key, struct json_object **dst)
{
	struct json_object *val;

	if (!json_object_object_get_ex(ed, key, &val))
		return;
	*dst = val == NULL ? HT_JSON_NULL : json_object_get(val);
}

/* userIdentity in the schema's order: type, principalId, details. */
static int
build_identity(struct json_object *ui, struct json_object **ret)
{
	struct json_object *obj, *val;
	int r;

	obj = json_object_new_object();
	if (obj == NULL)
		return -ENOMEM;
	json_object_object_get_ex(ui, "type", &val);
	if ((r = ht_json_add_str(obj, "type", json_object_get_string(val))) < 0)
		goto out;
	json_object_object_get_ex(ui, "principalId", &val);
	if ((r = ht_json_add_str(obj, "principalId", json_object_get_string(val))) < 0)
		goto out;
	if (json_object_object_get_ex(ui, "details", &val) &&
	    json_object_object_add(obj, "details", json_object_get(val)) < 0) {
		json_object_put(val);
		r = -ENOMEM;
		goto out;
	}
	*ret = obj;
	obj = NULL;
out:
	json_object_put(obj);
	return r;
}

static int
build_metadata(const struct ht_ingest_context *ctx, struct json_object **ret)
{
	char when[HT_ISO8601_LEN];
	struct json_object *obj;
	int r;

	obj = json_object_new_object();
	if (obj == NULL)
		return -ENOMEM;
	ht_time_iso8601((time_t)(ctx->now_ms / 1000), when);
	if ((r = ht_json_add_str(obj, "ingestionTime", when)) < 0)
		goto out;
	if (ctx->channel_arn != NULL &&
	    (r = ht_json_add_str(obj, "channelARN", ctx->channel_arn)) < 0)
		goto out;
	*ret = obj;
	obj = NULL;
out:
	json_object_put(obj);
	return r;
}

/* The record for a validated eventData ed.  0 or -ENOMEM. */
static int
build_record(struct json_object *ed, const struct ht_ingest_context *ctx,
    struct ht_record **ret)
{
	struct ht_record *rec;
	struct json_object *ui;
	const char *when;
	int r;

	rec = ht_record_new();
	if (rec == NULL)
		return -ENOMEM;
	json_object_object_get_ex(ed, "userIdentity", &ui);
	when = json_object_get_string(json_object_object_get(ed, "eventTime"));
	if ((r = ht_time_parse_iso8601(when, &rec->event_time)) < 0 ||
	    (r = set_str(&rec->event_version, HT_EVENT_VERSION)) < 0 ||
	    (r = build_identity(ui, &rec->user_identity)) < 0 ||
	    (r = copy_str(ed, "userAgent", &rec->user_agent)) < 0 ||
	    (r = copy_str(ed, "eventSource", &rec->event_source)) < 0 ||
	    (r = copy_str(ed, "eventName", &rec->event_name)) < 0 ||
	    (r = copy_str(ed, "sourceIPAddress", &rec->source_ip_address)) < 0 ||
	    (r = copy_str(ed, "errorCode", &rec->error_code)) < 0 ||
	    (r = copy_str(ed, "errorMessage", &rec->error_message)) < 0 ||
	    (r = copy_str(ed, "UID", &rec->request_id)) < 0 ||
	    (r = set_str(&rec->aws_region, ctx->region)) < 0 ||
	    (r = set_str(&rec->recipient_account_id, ctx->account_id)) < 0 ||
	    (r = set_str(&rec->event_category, "ActivityAuditLog")) < 0 ||
	    (r = set_str(&rec->event_type, "ActivityLog")) < 0 ||
	    (r = build_metadata(ctx, &rec->metadata)) < 0)
		goto out;
	copy_obj(ed, "requestParameters", &rec->request_parameters);
	copy_obj(ed, "responseElements", &rec->response_elements);
	copy_obj(ed, "additionalEventData", &rec->additional_event_data);
	*ret = rec;
	rec = NULL;
out:
	ht_record_free(rec);
	return r;
}

/* Fills item for one AuditEvent object.  0 (accepted or failed) or
 * -ENOMEM. */
static int
item_parse(struct ht_ingest_item *item, struct json_object *jev,
    const struct ht_ingest_context *ctx)
{
	struct json_object *jid = NULL, *jdata = NULL, *jsum = NULL, *ed = NULL;
	bool oom;
	int r;

	json_object_object_get_ex(jev, "id", &jid);
	json_object_object_get_ex(jev, "eventData", &jdata);
	json_object_object_get_ex(jev, "eventDataChecksum", &jsum);
	/* Keep the caller's id even for a failed event: the response names it. */
	if (json_object_is_type(jid, json_type_string) &&
	    (r = set_str(&item->id, json_object_get_string(jid))) < 0)
		return r;

	if ((r = check_id(item, jid)) < 0 || item->error_code != NULL)
		return r;
	if (jdata == NULL)
		return item_fail(item, E_FIELD_NOT_FOUND, "Field eventData not found");
	if (!json_object_is_type(jdata, json_type_string))
		return item_fail(item, E_INVALID_DATA, "Field eventData must be a string");
	if (json_object_get_string_len(jdata) > HT_INGEST_MAX_EVENT_DATA)
		return item_fail(item, E_FIELD_TOO_LONG, "Field eventData is longer than %d bytes",
		    HT_INGEST_MAX_EVENT_DATA);
	json_object_object_foreach(jev, key, member) {
		(void)member;
		if (strcmp(key, "id") != 0 && strcmp(key, "eventData") != 0 &&
		    strcmp(key, "eventDataChecksum") != 0)
			return item_fail(item, E_INVALID_DATA, "Field %.64s is not allowed", key);
	}
	if (jsum != NULL && ((r = check_checksum(item, jdata, jsum)) < 0 ||
	    item->error_code != NULL))
		return r;

	ed = json_parse_exact(json_object_get_string(jdata),
	    (size_t)json_object_get_string_len(jdata), &oom);
	if (ed == NULL && oom)
		return -ENOMEM;
	if (!json_object_is_type(ed, json_type_object)) {
		r = item_fail(item, E_INVALID_DATA, "Field eventData is not a JSON object");
		goto out;
	}
	if ((r = check_event_data(item, ed, ctx)) < 0 || item->error_code != NULL)
		goto out;
	r = build_record(ed, ctx, &item->rec);
out:
	json_object_put(ed);
	return r;
}

/* ---- the request ---- */

/* The auditEvents array of a request body, or NULL with err filled. */
static struct json_object *
request_events(struct json_object *body, struct ht_ingest_error *err)
{
	struct json_object *events = NULL;
	size_t i, n;

	if (!json_object_is_type(body, json_type_object)) {
		req_error(err, "SerializationException", "Request body is not a JSON object");
		return NULL;
	}
	json_object_object_foreach(body, key, val) {
		if (strcmp(key, "auditEvents") != 0) {
			req_error(err, "ValidationException", "Unknown field %.64s", key);
			return NULL;
		}
		events = val;
	}
	if (!json_object_is_type(events, json_type_array)) {
		req_error(err, "ValidationException", events == NULL ?
		    "Field auditEvents not found" : "Field auditEvents must be a list");
		return NULL;
	}
	n = json_object_array_length(events);
	if (n < 1 || n > HT_INGEST_MAX_EVENTS) {
		req_error(err, "ValidationException",
		    "auditEvents must hold 1 to %d events, not %zu", HT_INGEST_MAX_EVENTS, n);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (!json_object_is_type(json_object_array_get_idx(events, i),
		    json_type_object)) {
			req_error(err, "ValidationException",
			    "auditEvents[%zu] is not an object", i);
			return NULL;
		}
	}
	return events;
}

/* An event's id, if it is a string, with its length. */
static const char *
event_id(struct json_object *events, size_t i, size_t *len)
{
	struct json_object *jid;

	if (!json_object_object_get_ex(json_object_array_get_idx(events, i), "id", &jid) ||
	    !json_object_is_type(jid, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(jid);
	return json_object_get_string(jid);
}

/* -EINVAL with err filled if two events share an id.  At most 100 events,
 * so comparing every pair costs less than hashing. */
static int
check_duplicates(struct json_object *events, struct ht_ingest_error *err)
{
	size_t i, j, n = json_object_array_length(events), li, lj;
	const char *a, *b;

	for (i = 0; i < n; i++) {
		if ((a = event_id(events, i, &li)) == NULL)
			continue;
		for (j = i + 1; j < n; j++) {
			b = event_id(events, j, &lj);
			if (b != NULL && li == lj && memcmp(a, b, li) == 0) {
				req_error(err, "DuplicatedAuditEventId",
				    "Event id %.128s appears more than once", a);
				return -EINVAL;
			}
		}
	}
	return 0;
}

int
ht_ingest_parse(const char *body, size_t len, const struct ht_ingest_context *ctx,
    struct ht_ingest_batch **ret, struct ht_ingest_error *err)
{
	struct json_object *root = NULL, *events;
	struct ht_ingest_batch *batch = NULL;
	size_t i;
	bool oom;
	int r;

	if (len > HT_INGEST_MAX_BODY) {
		req_error(err, "ValidationException", "Request body is larger than %d bytes",
		    HT_INGEST_MAX_BODY);
		return -EINVAL;
	}
	root = json_parse_exact(body, len, &oom);
	if (root == NULL) {
		if (oom)
			return -ENOMEM;
		req_error(err, "SerializationException", "Request body is not valid JSON");
		return -EINVAL;
	}
	events = request_events(root, err);
	if (events == NULL || check_duplicates(events, err) < 0) {
		r = -EINVAL;
		goto out;
	}

	r = -ENOMEM;
	batch = calloc(1, sizeof(*batch));
	if (batch == NULL)
		goto out;
	batch->n_items = json_object_array_length(events);
	batch->items = calloc(batch->n_items, sizeof(*batch->items));
	if (batch->items == NULL)
		goto out;
	for (i = 0; i < batch->n_items; i++)
		if ((r = item_parse(&batch->items[i], json_object_array_get_idx(events, i),
		    ctx)) < 0)
			goto out;
	*ret = batch;
	batch = NULL;
	r = 0;
out:
	ht_ingest_batch_free(batch);
	json_object_put(root);
	return r;
}

void
ht_ingest_batch_free(struct ht_ingest_batch *batch)
{
	size_t i;

	if (batch == NULL)
		return;
	for (i = 0; i < batch->n_items && batch->items != NULL; i++) {
		free(batch->items[i].id);
		ht_record_free(batch->items[i].rec);
		free(batch->items[i].error_message);
	}
	free(batch->items);
	free(batch);
}

/*
 * test_ingest_parse.c - daemon/sources/ingest_parse.c: PutAuditEvents bodies
 * against every per-event errorCode and every request-level error, always
 * with good events around a bad one so that "only the bad event fails" is
 * checked each time, plus the limits at their exact edges and the exact
 * record an accepted event becomes.
 */
#include "ht_build.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "crypto.h"
#include "sources/ingest_parse.h"
#include "record.h"

#define ACCOUNT "111122223333"
#define REGION "onprem-eu-1"
#define CHANNEL "arn:aws:cloudtrail:onprem-eu-1:111122223333:channel/c1"

static const struct ht_ingest_context ctx = {
	.channel_arn = CHANNEL,
	.region = REGION,
	.account_id = ACCOUNT,
	.now_ms = 1714558273999,	/* 2024-05-01T10:11:13.999Z */
};

/* Every field of the integration schema. */
static const char full_event_data[] =
    "{\"version\":\"1.0\","
    "\"userIdentity\":{\"type\":\"CustomUser\",\"principalId\":\"alice\","
    "\"details\":{\"team\":\"ops\",\"level\":3}},"
    "\"userAgent\":\"deployer/1.0\","
    "\"eventSource\":\"deploy.example.com\","
    "\"eventName\":\"Deploy\","
    "\"eventTime\":\"2024-05-01T10:11:12Z\","
    "\"UID\":\"uid-0001\","
    "\"requestParameters\":{\"app\":\"web\",\"replicas\":3},"
    "\"responseElements\":null,"
    "\"errorCode\":\"Conflict\","
    "\"errorMessage\":\"already \\\"running\\\"\","
    "\"sourceIPAddress\":\"192.0.2.10\","
    "\"recipientAccountId\":\"" ACCOUNT "\","
    "\"additionalEventData\":{\"ticket\":\"OPS-1\"}}";

/* What full_event_data becomes: eventID is the pipeline's to add. */
static const char full_record[] =
    "{\"eventVersion\":\"1.11\","
    "\"userIdentity\":{\"type\":\"CustomUser\",\"principalId\":\"alice\","
    "\"details\":{\"team\":\"ops\",\"level\":3}},"
    "\"eventTime\":\"2024-05-01T10:11:12Z\","
    "\"eventSource\":\"deploy.example.com\","
    "\"eventName\":\"Deploy\","
    "\"awsRegion\":\"" REGION "\","
    "\"sourceIPAddress\":\"192.0.2.10\","
    "\"userAgent\":\"deployer/1.0\","
    "\"errorCode\":\"Conflict\","
    "\"errorMessage\":\"already \\\"running\\\"\","
    "\"requestParameters\":{\"app\":\"web\",\"replicas\":3},"
    "\"responseElements\":null,"
    "\"additionalEventData\":{\"ticket\":\"OPS-1\"},"
    "\"requestID\":\"uid-0001\","
    "\"eventType\":\"ActivityLog\","
    "\"recipientAccountId\":\"" ACCOUNT "\","
    "\"eventCategory\":\"ActivityAuditLog\","
    "\"metadata\":{\"ingestionTime\":\"2024-05-01T10:11:13Z\","
    "\"channelARN\":\"" CHANNEL "\"}}";

/* Only the required fields. */
static const char min_event_data[] =
    "{\"version\":\"1.0\",\"userIdentity\":{\"type\":\"T\",\"principalId\":\"p\"},"
    "\"eventSource\":\"s\",\"eventName\":\"n\",\"eventTime\":\"2024-05-01T10:11:12Z\","
    "\"UID\":\"u\",\"recipientAccountId\":\"" ACCOUNT "\"}";

static const char min_record[] =
    "{\"eventVersion\":\"1.11\",\"userIdentity\":{\"type\":\"T\",\"principalId\":\"p\"},"
    "\"eventTime\":\"2024-05-01T10:11:12Z\",\"eventSource\":\"s\",\"eventName\":\"n\","
    "\"awsRegion\":\"" REGION "\",\"requestID\":\"u\",\"eventType\":\"ActivityLog\","
    "\"recipientAccountId\":\"" ACCOUNT "\",\"eventCategory\":\"ActivityAuditLog\","
    "\"metadata\":{\"ingestionTime\":\"2024-05-01T10:11:13Z\",\"channelARN\":\"" CHANNEL
    "\"}}";

/* ---- helpers ---- */

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

static char *
json_text(struct json_object *obj)
{
	return xstrdup(json_object_to_json_string_ext(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static char *
checksum_of(const char *data, size_t len)
{
	uint8_t d[HT_SHA256_LEN];
	char *s;

	assert_int_equal(ht_sha256(data, len, d), 0);
	s = ht_base64_encode(d, sizeof(d));
	assert_non_null(s);
	return s;
}

/* An AuditEvent object; NULL members are left out. */
static struct json_object *
audit_event(const char *id, const char *data, const char *checksum)
{
	struct json_object *ev = json_object_new_object();

	assert_non_null(ev);
	if (id != NULL)
		json_object_object_add(ev, "id", json_object_new_string(id));
	if (data != NULL)
		json_object_object_add(ev, "eventData", json_object_new_string(data));
	if (checksum != NULL)
		json_object_object_add(ev, "eventDataChecksum", json_object_new_string(checksum));
	return ev;
}

/* {"auditEvents": events} as text; takes events. */
static char *
body_of(struct json_object *events)
{
	struct json_object *body = json_object_new_object();
	char *s;

	json_object_object_add(body, "auditEvents", events);
	s = json_text(body);
	json_object_put(body);
	return s;
}

/* A body holding the one AuditEvent ev (taken). */
static char *
body_of_one(struct json_object *ev)
{
	struct json_object *events = json_object_new_array();

	json_object_array_add(events, ev);
	return body_of(events);
}

static struct ht_ingest_batch *
parse_ok(const char *body, size_t len)
{
	struct ht_ingest_batch *batch = NULL;
	struct ht_ingest_error err = { 0 };
	int r;

	r = ht_ingest_parse(body, len, &ctx, &batch, &err);
	if (r != 0)
		fail_msg("parse: %d %s: %s", r, err.type ? err.type : "", err.message);
	assert_non_null(batch);
	return batch;
}

static void
expect_accepted(const struct ht_ingest_item *item, const char *id)
{
	if (item->rec == NULL)
		fail_msg("event %s failed: %s %s", id, item->error_code, item->error_message);
	assert_null(item->error_code);
	assert_null(item->error_message);
	assert_string_equal(item->id, id);
}

static void
expect_failed(const struct ht_ingest_item *item, const char *code, const char *needle)
{
	if (item->rec != NULL)
		fail_msg("event %s accepted, wanted %s", item->id, code);
	assert_non_null(item->error_code);
	assert_non_null(item->error_message);
	if (strcmp(item->error_code, code) != 0)
		fail_msg("got %s (%s), want %s", item->error_code, item->error_message, code);
	if (strstr(item->error_message, needle) == NULL)
		fail_msg("message \"%s\" does not name %s", item->error_message, needle);
}

/*
 * Runs [good, bad, good] where bad is an AuditEvent (taken) and checks that
 * only the middle one fails, with code and a message containing needle.
 */
static void
expect_event_error(struct json_object *bad, const char *code, const char *needle)
{
	struct json_object *events = json_object_new_array();
	struct ht_ingest_batch *batch;
	char *body;

	json_object_array_add(events, audit_event("good-1", min_event_data, NULL));
	json_object_array_add(events, bad);
	json_object_array_add(events, audit_event("good-2", full_event_data, NULL));
	body = body_of(events);
	batch = parse_ok(body, strlen(body));
	assert_int_equal(batch->n_items, 3);
	expect_accepted(&batch->items[0], "good-1");
	expect_failed(&batch->items[1], code, needle);
	expect_accepted(&batch->items[2], "good-2");
	ht_ingest_batch_free(batch);
	free(body);
}

/* full_event_data with member path ("a" or "a.b") deleted, or set to the
 * JSON value json when that is not NULL. */
static char *
mutate(const char *path, const char *json)
{
	struct json_object *ed = json_tokener_parse(full_event_data), *parent = ed, *val;
	const char *dot = strchr(path, '.');
	char head[64];
	char *s;

	assert_non_null(ed);
	if (dot != NULL) {
		snprintf(head, sizeof(head), "%.*s", (int)(dot - path), path);
		assert_true(json_object_object_get_ex(ed, head, &parent));
		path = dot + 1;
	}
	if (json == NULL) {
		json_object_object_del(parent, path);
	} else {
		val = json_tokener_parse(json);
		assert_true(val != NULL || strcmp(json, "null") == 0);
		json_object_object_add(parent, path, val);
	}
	s = json_text(ed);
	json_object_put(ed);
	return s;
}

static void
expect_data_error(const char *path, const char *json, const char *code, const char *needle)
{
	char *data = mutate(path, json);

	expect_event_error(audit_event("bad", data, NULL), code, needle);
	free(data);
}

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* ---- accepted events ---- */

static void
test_record_shape(void **state)
{
	struct ht_ingest_batch *batch;
	struct printbuf *pb = printbuf_new();
	struct json_object *events = json_object_new_array();
	char *body;

	(void)state;
	json_object_array_add(events, audit_event("ev-1", full_event_data, NULL));
	json_object_array_add(events, audit_event("ev_2", min_event_data, NULL));
	body = body_of(events);
	batch = parse_ok(body, strlen(body));
	assert_int_equal(batch->n_items, 2);
	expect_accepted(&batch->items[0], "ev-1");
	expect_accepted(&batch->items[1], "ev_2");

	assert_null(batch->items[0].rec->event_id);
	assert_ptr_equal(batch->items[0].rec->response_elements, HT_JSON_NULL);
	assert_int_equal(ht_record_serialize(batch->items[0].rec, pb), 0);
	assert_string_equal(pb->buf, full_record);
	printbuf_reset(pb);
	assert_int_equal(ht_record_serialize(batch->items[1].rec, pb), 0);
	assert_string_equal(pb->buf, min_record);

	/* A record moved out is the caller's; the batch leaves it alone. */
	ht_record_free(batch->items[1].rec);
	batch->items[1].rec = NULL;
	ht_ingest_batch_free(batch);
	ht_ingest_batch_free(NULL);
	printbuf_free(pb);
	free(body);
}

static void
test_checksum(void **state)
{
	struct json_object *events = json_object_new_array();
	struct ht_ingest_batch *batch;
	char *good, *other, *body;

	(void)state;
	good = checksum_of(full_event_data, strlen(full_event_data));
	other = checksum_of(min_event_data, strlen(min_event_data));
	json_object_array_add(events, audit_event("right", full_event_data, good));
	json_object_array_add(events, audit_event("wrong", full_event_data, other));
	json_object_array_add(events, audit_event("none", full_event_data, NULL));
	body = body_of(events);
	batch = parse_ok(body, strlen(body));
	expect_accepted(&batch->items[0], "right");
	expect_failed(&batch->items[1], "InvalidChecksum", "eventDataChecksum");
	expect_accepted(&batch->items[2], "none");
	ht_ingest_batch_free(batch);
	free(body);

	/* Not the base64 of this SHA-256, in assorted ways. */
	expect_event_error(audit_event("bad", full_event_data, "garbage"), "InvalidChecksum",
	    "eventDataChecksum");
	expect_event_error(audit_event("bad", full_event_data, ""), "InvalidChecksum",
	    "eventDataChecksum");
	good[strlen(good) - 1] = '\0';		/* padding dropped */
	expect_event_error(audit_event("bad", full_event_data, good), "InvalidChecksum",
	    "eventDataChecksum");
	free(good);
	free(other);
	events = audit_event("bad", full_event_data, NULL);
	json_object_object_add(events, "eventDataChecksum", json_object_new_int(1));
	expect_event_error(events, "InvalidData", "eventDataChecksum");
}

/* ---- per-event errors ---- */

static void
test_field_not_found(void **state)
{
	static const char *const required[] = {
		"version", "userIdentity", "eventSource", "eventName", "eventTime", "UID",
		"recipientAccountId", "userIdentity.type", "userIdentity.principalId",
	};
	char msg[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		snprintf(msg, sizeof(msg), "Field %s not found", required[i]);
		expect_data_error(required[i], NULL, "FieldNotFound", msg);
	}
	expect_event_error(audit_event(NULL, full_event_data, NULL), "FieldNotFound",
	    "Field id not found");
	expect_event_error(audit_event("x", NULL, NULL), "FieldNotFound",
	    "Field eventData not found");
}

static void
test_optional_fields(void **state)
{
	static const char *const optional[] = {
		"userAgent", "requestParameters", "responseElements", "errorCode",
		"errorMessage", "sourceIPAddress", "additionalEventData", "userIdentity.details",
	};
	struct ht_ingest_batch *batch;
	char *data, *body;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
		data = mutate(optional[i], NULL);
		body = body_of_one(audit_event("e", data, NULL));
		batch = parse_ok(body, strlen(body));
		expect_accepted(&batch->items[0], "e");
		ht_ingest_batch_free(batch);
		free(body);
		free(data);
	}
}

static void
test_field_too_long(void **state)
{
	static const char *const strings[] = {
		"version", "userAgent", "eventSource", "eventName", "UID", "errorCode",
		"errorMessage", "sourceIPAddress", "recipientAccountId", "userIdentity.type",
		"userIdentity.principalId",
	};
	struct ht_ingest_batch *batch;
	char *s, *json, *data, *body, *id;
	size_t i;

	(void)state;
	s = repeat('a', 1025);
	json = malloc(1030);
	assert_non_null(json);
	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		snprintf(json, 1030, "\"%s\"", s);
		expect_data_error(strings[i], json, "FieldTooLong", strings[i]);
	}
	/* 1 KB itself is fine. */
	snprintf(json, 1030, "\"%.1024s\"", s);
	data = mutate("userAgent", json);
	body = body_of_one(audit_event("e", data, NULL));
	batch = parse_ok(body, strlen(body));
	expect_accepted(&batch->items[0], "e");
	assert_int_equal(strlen(batch->items[0].rec->user_agent), 1024);
	ht_ingest_batch_free(batch);
	free(body);
	free(data);
	free(json);
	free(s);

	/* id: 128 is the most. */
	id = repeat('i', HT_INGEST_MAX_ID + 1);
	expect_event_error(audit_event(id, full_event_data, NULL), "FieldTooLong", "id");
	id[HT_INGEST_MAX_ID] = '\0';
	body = body_of_one(audit_event(id, full_event_data, NULL));
	batch = parse_ok(body, strlen(body));
	expect_accepted(&batch->items[0], id);
	ht_ingest_batch_free(batch);
	free(body);
	free(id);
}

/* eventData of exactly n bytes: full_event_data padded with spaces. */
static char *
event_data_of_size(size_t n)
{
	char *s = repeat(' ', n);

	memcpy(s, full_event_data, strlen(full_event_data));
	return s;
}

static void
test_event_data_limit(void **state)
{
	struct ht_ingest_batch *batch;
	char *data, *body;

	(void)state;
	data = event_data_of_size(HT_INGEST_MAX_EVENT_DATA + 1);
	expect_event_error(audit_event("big", data, NULL), "FieldTooLong", "eventData");
	free(data);

	data = event_data_of_size(HT_INGEST_MAX_EVENT_DATA);
	body = body_of_one(audit_event("edge", data, NULL));
	batch = parse_ok(body, strlen(body));
	expect_accepted(&batch->items[0], "edge");
	ht_ingest_batch_free(batch);
	free(body);
	free(data);
}

static void
test_invalid_data(void **state)
{
	static const struct {
		const char *path, *json, *needle;
	} cases[] = {
		{ "eventTime", "\"2024-05-01T10:11:12.000Z\"", "eventTime" },
		{ "eventTime", "\"2024-05-01 10:11:12\"", "eventTime" },
		{ "eventTime", "\"2024-13-01T10:11:12Z\"", "eventTime" },
		{ "eventTime", "1714558272", "eventTime" },
		{ "version", "1", "version" },
		{ "eventSource", "{}", "eventSource" },
		{ "eventSource", "\"\"", "eventSource" },
		{ "eventName", "null", "eventName" },
		{ "UID", "[]", "UID" },
		{ "userAgent", "true", "userAgent" },
		{ "errorCode", "1", "errorCode" },
		{ "errorMessage", "\"a\\u0000b\"", "errorMessage" },
		{ "sourceIPAddress", "1", "sourceIPAddress" },
		{ "recipientAccountId", "111122223333", "recipientAccountId" },
		{ "userIdentity", "\"alice\"", "userIdentity" },
		{ "userIdentity.type", "1", "userIdentity.type" },
		{ "userIdentity.details", "\"x\"", "userIdentity.details" },
		{ "userIdentity.arn", "\"arn:x\"", "userIdentity.arn" },
		{ "requestParameters", "\"x\"", "requestParameters" },
		{ "requestParameters", "[1]", "requestParameters" },
		{ "requestParameters", "{\"n\":NaN}", "requestParameters" },
		{ "responseElements", "1", "responseElements" },
		{ "additionalEventData", "null", "additionalEventData" },
		{ "additionalEventData", "{\"x\":[-Infinity]}", "additionalEventData" },
		{ "eventID", "\"e\"", "eventID" },
		{ "awsRegion", "\"r\"", "awsRegion" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_data_error(cases[i].path, cases[i].json, "InvalidData", cases[i].needle);
}

static void
test_invalid_wrapper(void **state)
{
	static const char *const not_objects[] = {
		"", "{", "[]", "\"x\"", "1", "null", "{} {}", "{\"version\":\"1.0\",}",
	};
	static const char *const bad_ids[] = { "", "a b", "a.b", "a/b", "\xc3\xa9" };
	struct json_object *ev;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(not_objects) / sizeof(not_objects[0]); i++)
		expect_event_error(audit_event("bad", not_objects[i], NULL), "InvalidData",
		    "eventData");
	for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++)
		expect_event_error(audit_event(bad_ids[i], full_event_data, NULL), "InvalidData",
		    "id");

	ev = audit_event(NULL, full_event_data, NULL);
	json_object_object_add(ev, "id", json_object_new_int(7));
	expect_event_error(ev, "InvalidData", "id");
	ev = audit_event("bad", NULL, NULL);
	json_object_object_add(ev, "eventData", json_tokener_parse(full_event_data));
	expect_event_error(ev, "InvalidData", "eventData");
	ev = audit_event("bad", full_event_data, NULL);
	json_object_object_add(ev, "extra", json_object_new_string("x"));
	expect_event_error(ev, "InvalidData", "extra");
}

static void
test_invalid_recipient(void **state)
{
	(void)state;
	expect_data_error("recipientAccountId", "\"999999999999\"", "InvalidRecipient",
	    "recipientAccountId");
}

/* Several bad events among good ones, each with its own outcome, in order. */
static void
test_mixed_batch(void **state)
{
	struct json_object *events = json_object_new_array();
	struct ht_ingest_batch *batch;
	char *no_source, *wrong_acct, *body, *sum;

	(void)state;
	no_source = mutate("eventSource", NULL);
	wrong_acct = mutate("recipientAccountId", "\"000000000000\"");
	sum = checksum_of(min_event_data, strlen(min_event_data));
	json_object_array_add(events, audit_event("a", full_event_data, NULL));
	json_object_array_add(events, audit_event("b", no_source, NULL));
	json_object_array_add(events, audit_event("c", min_event_data, sum));
	json_object_array_add(events, audit_event("d", wrong_acct, NULL));
	json_object_array_add(events, audit_event("e", full_event_data, sum));
	json_object_array_add(events, audit_event("f", "not json", NULL));
	body = body_of(events);
	batch = parse_ok(body, strlen(body));
	assert_int_equal(batch->n_items, 6);
	expect_accepted(&batch->items[0], "a");
	expect_failed(&batch->items[1], "FieldNotFound", "eventSource");
	assert_string_equal(batch->items[1].id, "b");
	expect_accepted(&batch->items[2], "c");
	expect_failed(&batch->items[3], "InvalidRecipient", "recipientAccountId");
	expect_failed(&batch->items[4], "InvalidChecksum", "eventDataChecksum");
	expect_failed(&batch->items[5], "InvalidData", "eventData");
	assert_string_equal(batch->items[5].id, "f");
	ht_ingest_batch_free(batch);
	free(body);
	free(sum);
	free(no_source);
	free(wrong_acct);
}

/* ---- request-level errors ---- */

static void
expect_request_error(const char *body, size_t len, const char *type, const char *needle)
{
	struct ht_ingest_batch *batch = (struct ht_ingest_batch *)&ctx;	/* sentinel */
	struct ht_ingest_error err = { 0 };
	int r;

	r = ht_ingest_parse(body, len, &ctx, &batch, &err);
	if (r != -EINVAL)
		fail_msg("got %d, want -EINVAL %s for %.200s", r, type, body);
	assert_ptr_equal(batch, (struct ht_ingest_batch *)&ctx);
	assert_non_null(err.type);
	if (strcmp(err.type, type) != 0)
		fail_msg("got %s (%s), want %s", err.type, err.message, type);
	if (strstr(err.message, needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.message, needle);
}

static void
test_request_errors(void **state)
{
	static const char one[] = "{\"auditEvents\":[{\"id\":\"a\",\"eventData\":\"{}\"}]";
	char *body;

	(void)state;
	expect_request_error("", 0, "SerializationException", "JSON");
	expect_request_error("not json", 8, "SerializationException", "JSON");
	expect_request_error(one, strlen(one), "SerializationException", "JSON");
	expect_request_error("{\"auditEvents\":[]} x", 20, "SerializationException", "JSON");
	expect_request_error("[]", 2, "SerializationException", "object");
	expect_request_error("\"auditEvents\"", 13, "SerializationException", "object");
	expect_request_error("{}", 2, "ValidationException", "auditEvents");
	expect_request_error("{\"auditEvents\":{}}", 18, "ValidationException", "auditEvents");
	expect_request_error("{\"auditEvents\":null}", 20, "ValidationException", "auditEvents");
	expect_request_error("{\"auditEvents\":[]}", 18, "ValidationException", "auditEvents");
	expect_request_error("{\"auditEvents\":[1]}", 19, "ValidationException", "auditEvents[0]");

	body = xstrdup("{\"auditEvents\":[{\"id\":\"a\",\"eventData\":\"{}\"}],"
	    "\"channelArn\":\"x\"}");
	expect_request_error(body, strlen(body), "ValidationException", "channelArn");
	free(body);
}

static char *
body_of_n(size_t n)
{
	struct json_object *events = json_object_new_array();
	char id[32];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "ev%zu", i);
		json_object_array_add(events, audit_event(id, min_event_data, NULL));
	}
	return body_of(events);
}

static void
test_event_count_limit(void **state)
{
	struct ht_ingest_batch *batch;
	char *body;
	size_t i;

	(void)state;
	body = body_of_n(HT_INGEST_MAX_EVENTS);
	batch = parse_ok(body, strlen(body));
	assert_int_equal(batch->n_items, HT_INGEST_MAX_EVENTS);
	for (i = 0; i < batch->n_items; i++)
		assert_non_null(batch->items[i].rec);
	ht_ingest_batch_free(batch);
	free(body);

	body = body_of_n(HT_INGEST_MAX_EVENTS + 1);
	expect_request_error(body, strlen(body), "ValidationException", "101");
	free(body);
}

/* A body of exactly size bytes: four large events, then spaces. */
static char *
body_of_size(size_t size)
{
	struct json_object *events = json_object_new_array();
	char *data, *body, *padded;
	char id[8];
	int i;

	data = event_data_of_size(HT_INGEST_MAX_EVENT_DATA - 4096);
	for (i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "big%d", i);
		json_object_array_add(events, audit_event(id, data, NULL));
	}
	free(data);
	body = body_of(events);
	assert_true(strlen(body) <= size);
	padded = repeat(' ', size);
	memcpy(padded, body, strlen(body));
	free(body);
	return padded;
}

static void
test_body_size_limit(void **state)
{
	struct ht_ingest_batch *batch;
	char *body;

	(void)state;
	body = body_of_size(HT_INGEST_MAX_BODY);
	batch = parse_ok(body, HT_INGEST_MAX_BODY);
	assert_int_equal(batch->n_items, 4);
	expect_accepted(&batch->items[3], "big3");
	ht_ingest_batch_free(batch);
	free(body);

	body = body_of_size(HT_INGEST_MAX_BODY + 1);
	expect_request_error(body, HT_INGEST_MAX_BODY + 1, "ValidationException", "1048576");
	free(body);
}

static void
test_duplicate_ids(void **state)
{
	struct json_object *events = json_object_new_array();
	char *body;

	(void)state;
	json_object_array_add(events, audit_event("one", min_event_data, NULL));
	json_object_array_add(events, audit_event("two", min_event_data, NULL));
	/* Even when the second copy's event would fail on its own. */
	json_object_array_add(events, audit_event("one", "not json", NULL));
	body = body_of(events);
	expect_request_error(body, strlen(body), "DuplicatedAuditEventId", "one");
	free(body);

	/* Side by side, too. */
	events = json_object_new_array();
	json_object_array_add(events, audit_event("x", min_event_data, NULL));
	json_object_array_add(events, audit_event("y", min_event_data, NULL));
	json_object_array_add(events, audit_event("y", min_event_data, NULL));
	body = body_of(events);
	expect_request_error(body, strlen(body), "DuplicatedAuditEventId", "y");
	free(body);

	/* Ids differing only in case are different ids. */
	events = json_object_new_array();
	json_object_array_add(events, audit_event("One", min_event_data, NULL));
	json_object_array_add(events, audit_event("one", min_event_data, NULL));
	body = body_of(events);
	ht_ingest_batch_free(parse_ok(body, strlen(body)));
	free(body);
}

/* The body is read for len bytes only and need not end in a NUL. */
static void
test_body_not_terminated(void **state)
{
	struct ht_ingest_batch *batch;
	char *body, *copy;
	size_t len;

	(void)state;
	body = body_of_n(2);
	len = strlen(body);
	copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, body, len);
	batch = parse_ok(copy, len);
	assert_int_equal(batch->n_items, 2);
	ht_ingest_batch_free(batch);
	free(copy);
	free(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_shape),
		cmocka_unit_test(test_checksum),
		cmocka_unit_test(test_field_not_found),
		cmocka_unit_test(test_optional_fields),
		cmocka_unit_test(test_field_too_long),
		cmocka_unit_test(test_event_data_limit),
		cmocka_unit_test(test_invalid_data),
		cmocka_unit_test(test_invalid_wrapper),
		cmocka_unit_test(test_invalid_recipient),
		cmocka_unit_test(test_mixed_batch),
		cmocka_unit_test(test_request_errors),
		cmocka_unit_test(test_event_count_limit),
		cmocka_unit_test(test_body_size_limit),
		cmocka_unit_test(test_duplicate_ids),
		cmocka_unit_test(test_body_not_terminated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

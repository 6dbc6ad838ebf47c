/*
 * test_record.c - common/record.c: every field of a 1.11 record survives
 * JSON -> struct -> JSON byte for byte and in CloudTrail's order, the fast
 * serializer and the json-c tree agree, bad input is refused with the field
 * named, and LookupEvents' Username is picked as CloudTrail picks it.
 */
#include "ht_build.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "record.h"

/* Every field, compact, in CloudTrail's order: what serialize must emit. */
static const char full_record[] =
    "{\"eventVersion\":\"1.11\","
    "\"userIdentity\":{\"type\":\"AssumedRole\",\"principalId\":\"AROAEXAMPLE:alice\","
    "\"arn\":\"arn:aws:sts::111122223333:assumed-role/Admin/alice\","
    "\"accountId\":\"111122223333\",\"accessKeyId\":\"ASIAEXAMPLE\","
    "\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"userName\":\"Admin\"},"
    "\"attributes\":{\"creationDate\":\"2024-05-01T10:00:00Z\",\"mfaAuthenticated\":\"false\"}}},"
    "\"eventTime\":\"2024-05-01T10:11:12Z\","
    "\"eventSource\":\"sshd.hosttrail.local\","
    "\"eventName\":\"Login\","
    "\"awsRegion\":\"onprem-eu-1\","
    "\"sourceIPAddress\":\"192.0.2.7\","
    "\"userAgent\":\"OpenSSH_9.2p1 Debian-2\","
    "\"errorCode\":\"AccessDenied\","
    "\"errorMessage\":\"Permission denied (publickey)\\n\\\"quoted\\\" back\\\\slash /path\","
    "\"requestParameters\":{\"user\":\"alice\",\"port\":22,\"keys\":[1,2.5,true,null]},"
    "\"responseElements\":{\"session\":\"s-1\"},"
    "\"additionalEventData\":{\"MFAUsed\":\"No\"},"
    "\"requestID\":\"req-123\","
    "\"eventID\":\"0e6c3b4a-3f0c-4d5e-9d6b-2b7f2f1d2c3a\","
    "\"readOnly\":false,"
    "\"resources\":[{\"ARN\":\"arn:aws:iam::111122223333:role/Admin\","
    "\"accountId\":\"111122223333\",\"type\":\"AWS::IAM::Role\"}],"
    "\"eventType\":\"AwsApiCall\","
    "\"apiVersion\":\"2012-10-17\","
    "\"recipientAccountId\":\"111122223333\","
    "\"sharedEventID\":\"5a9b5d36-87b1-4a1a-8e8d-2e1e3c0b7f6d\","
    "\"vpcEndpointId\":\"vpce-1234\","
    "\"vpcEndpointAccountId\":\"444455556666\","
    "\"serviceEventDetails\":{\"snapshotId\":\"snap-1\"},"
    "\"managementEvent\":true,"
    "\"eventCategory\":\"Management\","
    "\"addendum\":{\"reason\":\"DELIVERY_DELAY\",\"originalEventID\":\"e-0\"},"
    "\"sessionCredentialFromConsole\":\"true\","
    "\"edgeDeviceDetails\":{\"deviceID\":\"d-1\"},"
    "\"tlsDetails\":{\"tlsVersion\":\"TLSv1.3\",\"cipherSuite\":\"TLS_AES_128_GCM_SHA256\","
    "\"clientProvidedHostHeader\":\"host.example\",\"keyExchange\":\"x25519\"},"
    "\"eventContext\":{\"requestContext\":{},\"tagContext\":{}},"
    "\"insightDetails\":{\"state\":\"Start\"},"
    "\"metadata\":{\"ingestionTime\":\"2024-05-01T10:11:13Z\","
    "\"channelARN\":\"arn:aws:cloudtrail:onprem-eu-1:111122223333:channel/c1\"}}";

/* The keys of full_record in order, for the order tests. */
static const char *const key_order[] = {
	"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
	"sourceIPAddress", "userAgent", "errorCode", "errorMessage", "requestParameters",
	"responseElements", "additionalEventData", "requestID", "eventID", "readOnly",
	"resources", "eventType", "apiVersion", "recipientAccountId", "sharedEventID",
	"vpcEndpointId", "vpcEndpointAccountId", "serviceEventDetails", "managementEvent",
	"eventCategory", "addendum", "sessionCredentialFromConsole", "edgeDeviceDetails",
	"tlsDetails", "eventContext", "insightDetails", "metadata",
};

static struct ht_record *
parse_ok(const char *text)
{
	struct ht_record *rec = NULL;
	char err[256] = "";
	int r;

	r = ht_record_parse(text, strlen(text), &rec, err, sizeof(err));
	if (r != 0)
		fail_msg("parse failed (%d): %s\n%s", r, err, text);
	assert_non_null(rec);
	return rec;
}

/* rec serialized into a new malloc'd string. */
static char *
serialize(const struct ht_record *rec)
{
	struct printbuf *pb = printbuf_new();
	char *s;

	assert_non_null(pb);
	assert_int_equal(ht_record_serialize(rec, pb), 0);
	assert_int_equal((size_t)printbuf_length(pb), strlen(pb->buf));
	s = strdup(pb->buf);
	printbuf_free(pb);
	assert_non_null(s);
	return s;
}

/* The json-c tree of rec, as text. */
static char *
tree_text(const struct ht_record *rec)
{
	struct json_object *obj = ht_record_to_json(rec);
	char *s;

	assert_non_null(obj);
	s = strdup(json_object_to_json_string_ext(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
	assert_non_null(s);
	return s;
}

static void
test_round_trip_every_field(void **state)
{
	struct ht_record *rec, *again;
	char *out, *tree;

	(void)state;
	rec = parse_ok(full_record);
	assert_string_equal(rec->event_version, "1.11");
	assert_int_equal(rec->event_time, 1714558272);
	assert_int_equal(rec->read_only, HT_FALSE);
	assert_int_equal(rec->management_event, HT_TRUE);
	assert_true(rec->session_credential_from_console);
	assert_string_equal(rec->request_id, "req-123");
	assert_string_equal(rec->error_message,
	    "Permission denied (publickey)\n\"quoted\" back\\slash /path");
	assert_true(json_object_is_type(rec->resources, json_type_array));

	out = serialize(rec);
	assert_string_equal(out, full_record);
	tree = tree_text(rec);
	assert_string_equal(tree, full_record);

	again = parse_ok(out);
	free(out);
	out = serialize(again);
	assert_string_equal(out, full_record);

	free(out);
	free(tree);
	ht_record_free(again);
	ht_record_free(rec);
}

/* Members set in an arbitrary order still come out in CloudTrail's. */
static void
test_field_order(void **state)
{
	struct ht_record *rec;
	const char *prev = NULL, *p;
	char *out, key[64];
	size_t i;

	(void)state;
	rec = parse_ok(
	    "{\"metadata\":{},\"insightDetails\":{},\"eventContext\":{},\"tlsDetails\":{},"
	    "\"edgeDeviceDetails\":{},\"sessionCredentialFromConsole\":\"true\","
	    "\"addendum\":{},\"eventCategory\":\"Data\",\"managementEvent\":false,"
	    "\"serviceEventDetails\":{},\"vpcEndpointAccountId\":\"1\",\"vpcEndpointId\":\"v\","
	    "\"sharedEventID\":\"s\",\"recipientAccountId\":\"1\",\"apiVersion\":\"a\","
	    "\"eventType\":\"AwsApiCall\",\"resources\":[],\"readOnly\":true,\"eventID\":\"e\","
	    "\"requestID\":\"r\",\"additionalEventData\":{},\"responseElements\":null,"
	    "\"requestParameters\":{},\"errorMessage\":\"m\",\"errorCode\":\"c\","
	    "\"userAgent\":\"u\",\"sourceIPAddress\":\"::1\",\"awsRegion\":\"r\","
	    "\"eventName\":\"n\",\"eventSource\":\"s\",\"eventTime\":\"2024-01-01T00:00:00Z\","
	    "\"userIdentity\":{\"type\":\"Root\"},\"eventVersion\":\"1.11\"}");
	out = serialize(rec);
	for (i = 0; i < sizeof(key_order) / sizeof(key_order[0]); i++) {
		snprintf(key, sizeof(key), "\"%s\":", key_order[i]);
		p = strstr(out, key);
		if (p == NULL || (prev != NULL && p <= prev))
			fail_msg("%s out of place in %s", key_order[i], out);
		prev = p;
	}
	/* metadata last, then nothing but the closing brace. */
	assert_string_equal(strstr(out, "\"metadata\":"), "\"metadata\":{}}");
	free(out);
	ht_record_free(rec);
}

static void
test_explicit_null(void **state)
{
	struct ht_record *rec;
	char *out, *tree;

	(void)state;
	rec = parse_ok("{\"eventVersion\":\"1.11\",\"requestParameters\":null}");
	assert_ptr_equal(rec->request_parameters, HT_JSON_NULL);
	assert_null(rec->response_elements);
	out = serialize(rec);
	assert_string_equal(out, "{\"eventVersion\":\"1.11\",\"requestParameters\":null}");
	tree = tree_text(rec);
	assert_string_equal(tree, out);
	free(out);
	free(tree);

	/* Set by hand: both null, and omitted when NULL. */
	rec->response_elements = HT_JSON_NULL;
	out = serialize(rec);
	assert_string_equal(out, "{\"eventVersion\":\"1.11\",\"requestParameters\":null,"
	    "\"responseElements\":null}");
	free(out);
	ht_record_free(rec);
}

static void
test_empty_and_defaults(void **state)
{
	struct ht_record *rec;
	char *out;

	(void)state;
	ht_record_free(NULL);
	rec = ht_record_new();
	assert_non_null(rec);
	assert_int_equal(rec->read_only, HT_UNSET);
	assert_int_equal(rec->management_event, HT_UNSET);
	out = serialize(rec);
	assert_string_equal(out, "{}");
	free(out);
	ht_record_free(rec);

	/* readOnly false is written, sessionCredentialFromConsole false is not. */
	rec = parse_ok("{\"readOnly\":false,\"sessionCredentialFromConsole\":\"false\"}");
	assert_false(rec->session_credential_from_console);
	out = serialize(rec);
	assert_string_equal(out, "{\"readOnly\":false}");
	free(out);
	ht_record_free(rec);
}

/* Serialize appends: what was already in the buffer stays. */
static void
test_serialize_appends(void **state)
{
	struct printbuf *pb = printbuf_new();
	struct ht_record *rec;

	(void)state;
	assert_non_null(pb);
	rec = parse_ok("{\"eventName\":\"A\",\"eventTime\":\"2016-01-26T21:42:12Z\"}");
	printbuf_strappend(pb, "{\"Records\":[");
	assert_int_equal(ht_record_serialize(rec, pb), 0);
	printbuf_strappend(pb, ",");
	assert_int_equal(ht_record_serialize(rec, pb), 0);
	printbuf_strappend(pb, "]}");
	assert_string_equal(pb->buf, "{\"Records\":["
	    "{\"eventTime\":\"2016-01-26T21:42:12Z\",\"eventName\":\"A\"},"
	    "{\"eventTime\":\"2016-01-26T21:42:12Z\",\"eventName\":\"A\"}]}");
	printbuf_free(pb);
	ht_record_free(rec);
}

/* Our string escaping must be json-c's, byte for byte, for every byte. */
static void
test_escaping_matches_json_c(void **state)
{
	struct ht_record *rec, *back;
	char all[256 + 16], *out, *tree;
	size_t i, n = 0;

	(void)state;
	for (i = 1; i < 128; i++)
		all[n++] = (char)i;
	memcpy(all + n, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);	/* é € 😀 */
	n += 9;
	all[n] = '\0';

	rec = ht_record_new();
	assert_non_null(rec);
	rec->user_agent = strdup(all);
	rec->request_parameters = json_object_new_object();
	json_object_object_add(rec->request_parameters, "s", json_object_new_string(all));
	out = serialize(rec);
	tree = tree_text(rec);
	assert_string_equal(out, tree);
	assert_non_null(strstr(out, "\\u0001"));
	assert_non_null(strstr(out, "\\u001f"));
	assert_non_null(strstr(out, "\\n\\u000b\\f\\r"));
	assert_non_null(strstr(out, "./0"));	/* no slash escaping */

	back = parse_ok(out);
	assert_string_equal(back->user_agent, all);
	free(out);
	free(tree);
	ht_record_free(back);
	ht_record_free(rec);
}

static void
expect_error(const char *text, const char *needle)
{
	struct ht_record *rec = NULL;
	char err[256] = "";
	int r;

	r = ht_record_parse(text, strlen(text), &rec, err, sizeof(err));
	if (r != -EINVAL)
		fail_msg("expected -EINVAL, got %d for %s", r, text);
	assert_null(rec);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" does not name \"%s\" (input %s)", err, needle, text);
}

static void
test_wrong_types(void **state)
{
	static const struct {
		const char *field, *value;
	} bad[] = {
		{ "eventVersion", "1.11" },
		{ "eventVersion", "null" },
		{ "userIdentity", "\"Root\"" },
		{ "userIdentity", "[]" },
		{ "userIdentity", "null" },
		{ "eventTime", "1714558272" },
		{ "eventTime", "\"2024-05-01 10:11:12\"" },
		{ "eventTime", "\"2024-05-01T10:11:12.000Z\"" },
		{ "eventTime", "\"2024-02-30T10:11:12Z\"" },
		{ "eventSource", "{}" },
		{ "eventName", "true" },
		{ "awsRegion", "[\"x\"]" },
		{ "sourceIPAddress", "1" },
		{ "userAgent", "\"a\\u0000b\"" },
		{ "errorCode", "0" },
		{ "errorMessage", "false" },
		{ "requestParameters", "\"x\"" },
		{ "requestParameters", "[]" },
		{ "requestParameters", "{\"n\":NaN}" },
		{ "responseElements", "1" },
		{ "additionalEventData", "null" },
		{ "additionalEventData", "{\"x\":[Infinity]}" },
		{ "requestID", "1" },
		{ "eventID", "null" },
		{ "readOnly", "\"true\"" },
		{ "readOnly", "1" },
		{ "resources", "{}" },
		{ "resources", "[\"arn\"]" },
		{ "eventType", "1" },
		{ "apiVersion", "1" },
		{ "recipientAccountId", "111122223333" },
		{ "sharedEventID", "1" },
		{ "vpcEndpointId", "1" },
		{ "vpcEndpointAccountId", "1" },
		{ "serviceEventDetails", "\"x\"" },
		{ "managementEvent", "\"true\"" },
		{ "eventCategory", "1" },
		{ "addendum", "[]" },
		{ "sessionCredentialFromConsole", "true" },
		{ "sessionCredentialFromConsole", "\"yes\"" },
		{ "edgeDeviceDetails", "1" },
		{ "tlsDetails", "\"TLSv1.3\"" },
		{ "eventContext", "1" },
		{ "insightDetails", "1" },
		{ "metadata", "[]" },
	};
	char text[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "{\"eventName\":\"ok\",\"%s\":%s}", bad[i].field,
		    bad[i].value);
		expect_error(text, bad[i].field);
	}
}

static void
test_bad_documents(void **state)
{
	struct ht_record *rec = NULL;
	char err[64];

	(void)state;
	expect_error("{\"eventName\":\"x\",\"eventname\":\"y\"}", "eventname");
	expect_error("{\"Records\":[]}", "Records");
	expect_error("[]", "not a JSON object");
	expect_error("\"x\"", "not a JSON object");
	expect_error("", "not JSON");
	expect_error("{", "not JSON");
	expect_error("{\"eventName\":\"x\"} x", "not JSON");
	expect_error("{\"eventName\":\"x\",}", "not JSON");
	expect_error("{'eventName':'x'}", "not JSON");

	/* Only len bytes are read, and a NUL inside them is not JSON. */
	assert_int_equal(ht_record_parse("{\"eventName\":\"x\"}garbage", 17, &rec, NULL, 0), 0);
	assert_string_equal(rec->event_name, "x");
	ht_record_free(rec);
	rec = NULL;
	assert_int_equal(ht_record_parse("{\"eventName\":\"x\"}\0", 18, &rec, err, sizeof(err)),
	    -EINVAL);
	assert_null(rec);
}

static void
test_from_json_borrows(void **state)
{
	struct json_object *obj;
	struct ht_record *rec = NULL, *untouched = (struct ht_record *)&rec;
	char err[128];

	(void)state;
	obj = json_tokener_parse("{\"userIdentity\":{\"type\":\"Root\"},\"eventName\":\"x\"}");
	assert_non_null(obj);
	assert_int_equal(ht_record_from_json(obj, &rec, err, sizeof(err)), 0);
	json_object_put(obj);	/* the record keeps what it needs */
	assert_string_equal(json_object_get_string(json_object_object_get(rec->user_identity,
	    "type")), "Root");
	ht_record_free(rec);

	rec = untouched;
	obj = json_object_new_array();
	assert_int_equal(ht_record_from_json(obj, &rec, err, sizeof(err)), -EINVAL);
	assert_ptr_equal(rec, untouched);
	json_object_put(obj);
}

static const char *
username_of(const char *identity, struct ht_record **keep)
{
	char text[512];

	snprintf(text, sizeof(text), "{\"userIdentity\":%s}", identity);
	*keep = parse_ok(text);
	return ht_record_username(*keep);
}

static void
test_username(void **state)
{
	static const struct {
		const char *identity, *want;
	} cases[] = {
		{ "{\"type\":\"IAMUser\",\"userName\":\"bob\","
		  "\"arn\":\"arn:aws:iam::111122223333:user/dev/alice\",\"principalId\":\"P\"}",
		  "bob" },
		{ "{\"type\":\"IAMUser\",\"arn\":\"arn:aws:iam::111122223333:user/dev/alice\","
		  "\"principalId\":\"P\"}", "alice" },
		{ "{\"type\":\"AssumedRole\","
		  "\"arn\":\"arn:aws:sts::111122223333:assumed-role/Admin/sess-1\","
		  "\"principalId\":\"AROA:sess-1\"}", "sess-1" },
		{ "{\"type\":\"Root\",\"arn\":\"arn:aws:iam::111122223333:root\"}", "root" },
		{ "{\"type\":\"AWSService\",\"principalId\":\"P123\"}", "P123" },
		{ "{\"type\":\"IAMUser\",\"userName\":\"\",\"principalId\":\"P\"}", "P" },
		{ "{\"type\":\"IAMUser\",\"arn\":\"arn:aws:iam::1:user/\",\"principalId\":\"P\"}",
		  "P" },
		{ "{\"type\":\"IAMUser\",\"userName\":7,\"principalId\":\"P\"}", "P" },
		{ "{\"type\":\"Unknown\"}", NULL },
	};
	struct ht_record *rec;
	const char *got;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = username_of(cases[i].identity, &rec);
		if (cases[i].want == NULL)
			assert_null(got);
		else if (got == NULL || strcmp(got, cases[i].want) != 0)
			fail_msg("%s: got %s, want %s", cases[i].identity, got ? got : "NULL",
			    cases[i].want);
		ht_record_free(rec);
	}
	rec = ht_record_new();
	assert_non_null(rec);
	assert_null(ht_record_username(rec));
	ht_record_free(rec);
}

static void
test_check_value(void **state)
{
	struct json_object *v;

	(void)state;
	v = json_tokener_parse("{\"a\":[1,2.5,{\"b\":-3e10}],\"c\":null,\"d\":\"NaN\"}");
	assert_int_equal(ht_record_check_value(v), 0);
	json_object_put(v);
	v = json_tokener_parse("{\"a\":[1,{\"b\":-Infinity}]}");
	assert_int_equal(ht_record_check_value(v), -EINVAL);
	json_object_put(v);
	v = json_object_new_double(NAN);
	assert_int_equal(ht_record_check_value(v), -EINVAL);
	json_object_put(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_every_field),
		cmocka_unit_test(test_field_order),
		cmocka_unit_test(test_explicit_null),
		cmocka_unit_test(test_empty_and_defaults),
		cmocka_unit_test(test_serialize_appends),
		cmocka_unit_test(test_escaping_matches_json_c),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_bad_documents),
		cmocka_unit_test(test_from_json_borrows),
		cmocka_unit_test(test_username),
		cmocka_unit_test(test_check_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * record.c - the CloudTrail record: lifetime, JSON in, JSON out.
 *
 * One static table lists every top-level field of eventVersion 1.11 in
 * CloudTrail's own order (shared/reference/cloudtrail.md §7, metadata last)
 * with its JSON kind and its offset in struct ht_record.  Freeing, parsing,
 * building a json-c tree and serializing all walk that table, so a new field
 * is one line here plus one member in record.h, and the two JSON writers can
 * never disagree on order.
 *
 * ht_record_serialize is the hot path (every record a trail writes goes
 * through it), so it appends straight to the caller's printbuf: scalars are
 * escaped here, byte for byte as json-c would escape them, and only the
 * nested objects go through json_object_to_json_string_ext.  That call
 * caches its text inside the json-c object, so serializing one record from
 * two threads at the same time is a data race even though rec is const;
 * records are handed between threads, never shared.
 *
 * Nested objects are shared by reference count: ht_record_from_json takes a
 * reference on the caller's members instead of copying them, and
 * ht_record_to_json's tree references the record's.  Neither side may modify
 * a shared member afterwards.
 *
 * Strings are C strings, so a JSON string holding U+0000 cannot be stored
 * and is refused on input rather than silently cut short.  eventTime 0 means
 * absent (record.h), so "1970-01-01T00:00:00Z" reads back as no eventTime.
 */
#include "ht_build.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "record.h"
#include "util.h"

const char ht_json_null_marker = 0;

/* Nested objects are written compactly and without "\/", like CloudTrail. */
#define NESTED_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

enum field_kind {
	F_STR,		/* char *, JSON string */
	F_TIME,		/* time_t, "YYYY-MM-DDTHH:MM:SSZ"; 0 is absent */
	F_OBJ,		/* json_object *, JSON object */
	F_OBJ_NULL,	/* json_object *, JSON object or null (HT_JSON_NULL) */
	F_LIST,		/* json_object *, JSON array of objects */
	F_BOOL,		/* enum ht_tristate, JSON boolean */
	F_CONSOLE,	/* bool, the string "true" when true, else absent */
};

struct field {
	const char *name;
	const char *key;	/* "\"name\":", ready to append */
	int key_len;
	enum field_kind kind;
	size_t off;
};

#define FIELD(n, k, m) \
	{ n, "\"" n "\":", (int)sizeof("\"" n "\":") - 1, k, offsetof(struct ht_record, m) }

/* CloudTrail's order; the serializers rely on it. */
static const struct field fields[] = {
	FIELD("eventVersion", F_STR, event_version),
	FIELD("userIdentity", F_OBJ, user_identity),
	FIELD("eventTime", F_TIME, event_time),
	FIELD("eventSource", F_STR, event_source),
	FIELD("eventName", F_STR, event_name),
	FIELD("awsRegion", F_STR, aws_region),
	FIELD("sourceIPAddress", F_STR, source_ip_address),
	FIELD("userAgent", F_STR, user_agent),
	FIELD("errorCode", F_STR, error_code),
	FIELD("errorMessage", F_STR, error_message),
	FIELD("requestParameters", F_OBJ_NULL, request_parameters),
	FIELD("responseElements", F_OBJ_NULL, response_elements),
	FIELD("additionalEventData", F_OBJ, additional_event_data),
	FIELD("requestID", F_STR, request_id),
	FIELD("eventID", F_STR, event_id),
	FIELD("readOnly", F_BOOL, read_only),
	FIELD("resources", F_LIST, resources),
	FIELD("eventType", F_STR, event_type),
	FIELD("apiVersion", F_STR, api_version),
	FIELD("recipientAccountId", F_STR, recipient_account_id),
	FIELD("sharedEventID", F_STR, shared_event_id),
	FIELD("vpcEndpointId", F_STR, vpc_endpoint_id),
	FIELD("vpcEndpointAccountId", F_STR, vpc_endpoint_account_id),
	FIELD("serviceEventDetails", F_OBJ, service_event_details),
	FIELD("managementEvent", F_BOOL, management_event),
	FIELD("eventCategory", F_STR, event_category),
	FIELD("addendum", F_OBJ, addendum),
	FIELD("sessionCredentialFromConsole", F_CONSOLE, session_credential_from_console),
	FIELD("edgeDeviceDetails", F_OBJ, edge_device_details),
	FIELD("tlsDetails", F_OBJ, tls_details),
	FIELD("eventContext", F_OBJ, event_context),
	FIELD("insightDetails", F_OBJ, insight_details),
	FIELD("metadata", F_OBJ, metadata),
};

#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

/* Typed views of one field's member in a record. */
#define F_PTR(rec, f, type) ((type *)(void *)((char *)(rec) + (f)->off))
#define F_CPTR(rec, f, type) ((type const *)(const void *)((const char *)(rec) + (f)->off))

struct ht_record *
ht_record_new(void)
{
	struct ht_record *rec;

	rec = calloc(1, sizeof(*rec));
	if (rec == NULL)
		return NULL;
	rec->read_only = HT_UNSET;
	rec->management_event = HT_UNSET;
	return rec;
}

static void
obj_release(struct json_object *obj)
{
	if (obj != NULL && obj != HT_JSON_NULL)
		json_object_put(obj);
}

void
ht_record_free(struct ht_record *rec)
{
	size_t i;

	if (rec == NULL)
		return;
	for (i = 0; i < N_FIELDS; i++) {
		const struct field *f = &fields[i];

		if (f->kind == F_STR)
			free(*F_PTR(rec, f, char *));
		else if (f->kind == F_OBJ || f->kind == F_OBJ_NULL || f->kind == F_LIST)
			obj_release(*F_PTR(rec, f, struct json_object *));
	}
	free(rec);
}

/* ---- parsing ---- */

static const struct field *
field_find(const char *name)
{
	size_t i;

	for (i = 0; i < N_FIELDS; i++)
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	return NULL;
}

static const char *
kind_want(enum field_kind kind)
{
	switch (kind) {
	case F_STR:
	case F_TIME:
		return "a string";
	case F_OBJ:
		return "an object";
	case F_OBJ_NULL:
		return "an object or null";
	case F_LIST:
		return "an array of objects";
	case F_BOOL:
		return "a boolean";
	case F_CONSOLE:
		return "the string \"true\" or \"false\"";
	}
	return "?";
}

/* Why a value was refused, for the caller's error message. */
#define WHY_NUL "contains U+0000"
#define WHY_TIME "not YYYY-MM-DDTHH:MM:SSZ"
#define WHY_NUMBER "NaN or Infinity is not JSON"

/* A copy of a JSON string.  -EINVAL (embedded NUL) or -ENOMEM. */
static int
str_dup(struct json_object *val, char **ret, const char **why)
{
	const char *s = json_object_get_string(val);
	char *copy;

	if (strlen(s) != (size_t)json_object_get_string_len(val)) {
		*why = WHY_NUL;
		return -EINVAL;
	}
	copy = strdup(s);
	if (copy == NULL)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

static int
list_of_objects(struct json_object *val)
{
	size_t i, n = json_object_array_length(val);

	for (i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(val, i), json_type_object))
			return 0;
	return 1;
}

static int
set_time(struct ht_record *rec, const struct field *f, struct json_object *val,
    const char **why)
{
	const char *s = json_object_get_string(val);
	time_t t;

	if (strlen(s) != (size_t)json_object_get_string_len(val) ||
	    ht_time_parse_iso8601(s, &t) < 0) {
		*why = WHY_TIME;
		return -EINVAL;
	}
	*F_PTR(rec, f, time_t) = t;
	return 0;
}

static int
set_console(struct ht_record *rec, const struct field *f, struct json_object *val)
{
	const char *s = json_object_get_string(val);

	if (strcmp(s, "true") == 0)
		*F_PTR(rec, f, bool) = true;
	else if (strcmp(s, "false") == 0)
		*F_PTR(rec, f, bool) = false;
	else
		return -EINVAL;
	return 0;
}

int
ht_record_check_value(struct json_object *val)
{
	size_t i, n;

	switch (json_object_get_type(val)) {
	case json_type_double:
		return isfinite(json_object_get_double(val)) ? 0 : -EINVAL;
	case json_type_array:
		n = json_object_array_length(val);
		for (i = 0; i < n; i++)
			if (ht_record_check_value(json_object_array_get_idx(val, i)) < 0)
				return -EINVAL;
		return 0;
	case json_type_object: {
		json_object_object_foreach(val, key, member) {
			(void)key;
			if (ht_record_check_value(member) < 0)
				return -EINVAL;
		}
		return 0;
	}
	default:
		return 0;
	}
}

static int
set_obj(struct ht_record *rec, const struct field *f, struct json_object *val,
    const char **why)
{
	enum json_type t = json_object_get_type(val);
	struct json_object **slot = F_PTR(rec, f, struct json_object *);

	if (t == json_type_null && f->kind == F_OBJ_NULL) {
		val = HT_JSON_NULL;
	} else {
		if (f->kind == F_LIST ? (t != json_type_array || !list_of_objects(val)) :
		    t != json_type_object)
			return -EINVAL;
		if (ht_record_check_value(val) < 0) {
			*why = WHY_NUMBER;
			return -EINVAL;
		}
		json_object_get(val);
	}
	obj_release(*slot);
	*slot = val;
	return 0;
}

/* Store val (a member of the caller's tree) into rec's field f.  0,
 * -EINVAL (*why set, or left alone for a value of the wrong JSON type) or
 * -ENOMEM. */
static int
field_set(struct ht_record *rec, const struct field *f, struct json_object *val,
    const char **why)
{
	enum json_type t = json_object_get_type(val);
	char **str;

	switch (f->kind) {
	case F_STR:
		if (t != json_type_string)
			return -EINVAL;
		/* A key repeated in the text is seen once (json-c keeps the
		 * last), but a caller-built tree is not ours to trust. */
		str = F_PTR(rec, f, char *);
		free(*str);
		*str = NULL;
		return str_dup(val, str, why);
	case F_TIME:
		return t == json_type_string ? set_time(rec, f, val, why) : -EINVAL;
	case F_OBJ_NULL:
	case F_OBJ:
	case F_LIST:
		return set_obj(rec, f, val, why);
	case F_BOOL:
		if (t != json_type_boolean)
			return -EINVAL;
		*F_PTR(rec, f, enum ht_tristate) = json_object_get_boolean(val) ? HT_TRUE :
		    HT_FALSE;
		return 0;
	case F_CONSOLE:
		return t == json_type_string ? set_console(rec, f, val) : -EINVAL;
	}
	return -EINVAL;
}

int
ht_record_from_json(struct json_object *obj, struct ht_record **ret, char *errbuf,
    size_t errlen)
{
	struct ht_record *rec;
	const char *why;
	int r = 0;

	if (!json_object_is_type(obj, json_type_object)) {
		ht_seterr(errbuf, errlen, "record is not a JSON object");
		return -EINVAL;
	}
	rec = ht_record_new();
	if (rec == NULL)
		return -ENOMEM;

	json_object_object_foreach(obj, key, val) {
		const struct field *f = field_find(key);

		if (f == NULL) {
			ht_seterr(errbuf, errlen, "unknown field %.64s", key);
			r = -EINVAL;
			goto out;
		}
		why = NULL;
		r = field_set(rec, f, val, &why);
		if (r == -EINVAL && why != NULL)
			ht_seterr(errbuf, errlen, "field %s: %s", f->name, why);
		else if (r == -EINVAL)
			ht_seterr(errbuf, errlen, "field %s: expected %s", f->name,
			    kind_want(f->kind));
		if (r < 0)
			goto out;
	}
	*ret = rec;
	rec = NULL;
out:
	ht_record_free(rec);
	return r;
}

int
ht_record_parse(const char *text, size_t len, struct ht_record **ret, char *errbuf,
    size_t errlen)
{
	struct json_tokener *tok;
	struct json_object *obj = NULL;
	enum json_tokener_error jerr;
	int r;

	if (len > INT_MAX) {
		ht_seterr(errbuf, errlen, "record too large");
		return -EINVAL;
	}
	tok = json_tokener_new();
	if (tok == NULL)
		return -ENOMEM;
	/*
	 * Strict, so only standard JSON gets in.  UTF-8 is not validated:
	 * history holds what the sources wrote, and a record must always be
	 * readable back from there.
	 */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr != json_tokener_success) {
		ht_seterr(errbuf, errlen, "not JSON: %s",
		    jerr == json_tokener_continue ? "unexpected end of text" :
		    json_tokener_error_desc(jerr));
		r = -EINVAL;
		goto out;
	}
	/* Strict mode refuses trailing text, except after a NUL. */
	if (json_tokener_get_parse_end(tok) != len) {
		ht_seterr(errbuf, errlen, "not JSON: text after the record");
		r = -EINVAL;
		goto out;
	}
	r = ht_record_from_json(obj, ret, errbuf, errlen);
out:
	json_object_put(obj);
	json_tokener_free(tok);
	return r;
}

/* ---- JSON tree ---- */

/* A new json-c value for field f of rec, or NULL with *absent set when the
 * field is absent.  NULL without *absent is ENOMEM. */
static struct json_object *
field_value(const struct ht_record *rec, const struct field *f, int *absent)
{
	char tbuf[HT_ISO8601_LEN];
	struct json_object *obj;

	*absent = 0;
	switch (f->kind) {
	case F_STR:
		if (*F_CPTR(rec, f, char *) != NULL)
			return json_object_new_string(*F_CPTR(rec, f, char *));
		break;
	case F_TIME:
		if (*F_CPTR(rec, f, time_t) != 0) {
			ht_time_iso8601(*F_CPTR(rec, f, time_t), tbuf);
			return json_object_new_string(tbuf);
		}
		break;
	case F_OBJ:
	case F_OBJ_NULL:
	case F_LIST:
		obj = *F_CPTR(rec, f, struct json_object *);
		if (obj == HT_JSON_NULL)
			return NULL;	/* json-c's null; *absent stays 0 */
		if (obj != NULL)
			return json_object_get(obj);
		break;
	case F_BOOL:
		if (*F_CPTR(rec, f, enum ht_tristate) != HT_UNSET)
			return json_object_new_boolean(*F_CPTR(rec, f, enum ht_tristate) ==
			    HT_TRUE);
		break;
	case F_CONSOLE:
		if (*F_CPTR(rec, f, bool))
			return json_object_new_string("true");
		break;
	}
	*absent = 1;
	return NULL;
}

/* HT_JSON_NULL is only produced for F_OBJ_NULL fields, but a caller may
 * set it in any object field; it is then written as null everywhere. */
static int
field_is_null(const struct ht_record *rec, const struct field *f)
{
	return (f->kind == F_OBJ || f->kind == F_OBJ_NULL || f->kind == F_LIST) &&
	    *F_CPTR(rec, f, struct json_object *) == HT_JSON_NULL;
}

struct json_object *
ht_record_to_json(const struct ht_record *rec)
{
	struct json_object *obj, *val;
	size_t i;
	int absent;

	obj = json_object_new_object();
	if (obj == NULL)
		return NULL;
	for (i = 0; i < N_FIELDS; i++) {
		val = field_value(rec, &fields[i], &absent);
		if (absent)
			continue;
		if (val == NULL && !field_is_null(rec, &fields[i]))
			goto fail;
		/* Keys are our literals and each is added once. */
		if (json_object_object_add_ex(obj, fields[i].name, val,
		    JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT) < 0) {
			json_object_put(val);
			goto fail;
		}
	}
	return obj;
fail:
	json_object_put(obj);
	return NULL;
}

/* ---- serialization ---- */

static int
pb_append(struct printbuf *pb, const void *buf, size_t len)
{
	if (len > INT_MAX || printbuf_memappend(pb, buf, (int)len) < 0)
		return -ENOMEM;
	return 0;
}

/* Appends s as a JSON string, escaped exactly as json-c escapes with
 * JSON_C_TO_STRING_NOSLASHESCAPE, so both writers give identical bytes. */
static int
pb_append_str(struct printbuf *pb, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *run;
	char esc[6] = { '\\', 'u', '0', '0', 0, 0 };
	size_t esc_len;

	if (pb_append(pb, "\"", 1) < 0)
		return -ENOMEM;
	for (run = p; *p != '\0'; p++) {
		if (*p >= 0x20 && *p != '"' && *p != '\\')
			continue;
		esc_len = 2;
		switch (*p) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 0xf];
			esc_len = 6;
			break;
		}
		if (pb_append(pb, run, (size_t)(p - run)) < 0 || pb_append(pb, esc, esc_len) < 0)
			return -ENOMEM;
		run = p + 1;
	}
	if (pb_append(pb, run, (size_t)(p - run)) < 0 || pb_append(pb, "\"", 1) < 0)
		return -ENOMEM;
	return 0;
}

static int
pb_append_obj(struct printbuf *pb, struct json_object *obj)
{
	const char *s;
	size_t len;

	if (obj == HT_JSON_NULL)
		return pb_append(pb, "null", 4);
	s = json_object_to_json_string_length(obj, NESTED_FLAGS, &len);
	if (s == NULL)
		return -ENOMEM;
	return pb_append(pb, s, len);
}

/* Appends the value of field f; *absent is set when it has none. */
static int
pb_append_field(struct printbuf *pb, const struct ht_record *rec, const struct field *f,
    int *absent)
{
	char tbuf[1 + HT_ISO8601_LEN + 1];
	struct json_object *obj;
	enum ht_tristate b;
	size_t len;

	*absent = 0;
	switch (f->kind) {
	case F_STR:
		if (*F_CPTR(rec, f, char *) == NULL)
			break;
		return pb_append_str(pb, *F_CPTR(rec, f, char *));
	case F_TIME:
		if (*F_CPTR(rec, f, time_t) == 0)
			break;
		/* Digits and punctuation only: nothing to escape. */
		tbuf[0] = '"';
		ht_time_iso8601(*F_CPTR(rec, f, time_t), tbuf + 1);
		len = strlen(tbuf);
		tbuf[len++] = '"';
		return pb_append(pb, tbuf, len);
	case F_OBJ:
	case F_OBJ_NULL:
	case F_LIST:
		obj = *F_CPTR(rec, f, struct json_object *);
		if (obj == NULL)
			break;
		return pb_append_obj(pb, obj);
	case F_BOOL:
		b = *F_CPTR(rec, f, enum ht_tristate);
		if (b == HT_UNSET)
			break;
		return b == HT_TRUE ? pb_append(pb, "true", 4) : pb_append(pb, "false", 5);
	case F_CONSOLE:
		if (!*F_CPTR(rec, f, bool))
			break;
		return pb_append(pb, "\"true\"", 6);
	}
	*absent = 1;
	return 0;
}

int
ht_record_serialize(const struct ht_record *rec, struct printbuf *pb)
{
	int start = pb->bpos, r, absent, first = 1;
	size_t i;

	if ((r = pb_append(pb, "{", 1)) < 0)
		goto fail;
	for (i = 0; i < N_FIELDS; i++) {
		const struct field *f = &fields[i];
		int mark = pb->bpos;

		/* Write the separator and key first and take them back if the
		 * field turns out absent: cheaper than testing twice. */
		if ((!first && (r = pb_append(pb, ",", 1)) < 0) ||
		    (r = pb_append(pb, f->key, (size_t)f->key_len)) < 0 ||
		    (r = pb_append_field(pb, rec, f, &absent)) < 0)
			goto fail;
		if (absent) {
			pb->bpos = mark;
			pb->buf[mark] = '\0';
		} else {
			first = 0;
		}
	}
	if ((r = pb_append(pb, "}", 1)) < 0)
		goto fail;
	return 0;
fail:
	/* Leave pb as it was so a caller can retry or skip this record. */
	pb->bpos = start;
	pb->buf[start] = '\0';
	return r;
}

/* ---- LookupEvents Username ---- */

static const char *
obj_str(struct json_object *obj, const char *key)
{
	struct json_object *val;
	const char *s;

	if (!json_object_object_get_ex(obj, key, &val) ||
	    !json_object_is_type(val, json_type_string))
		return NULL;
	s = json_object_get_string(val);
	return *s != '\0' ? s : NULL;
}

const char *
ht_record_username(const struct ht_record *rec)
{
	struct json_object *ui = rec->user_identity;
	const char *s, *cut;

	if (ui == NULL || !json_object_is_type(ui, json_type_object))
		return NULL;
	if ((s = obj_str(ui, "userName")) != NULL)
		return s;
	/*
	 * "arn:aws:iam::123456789012:user/dev/alice" -> "alice",
	 * "arn:aws:sts::123456789012:assumed-role/Admin/alice" -> "alice";
	 * an ARN without a path ("arn:aws:iam::123456789012:root") gives its
	 * last ':' part, as CloudTrail shows "root".
	 */
	if ((s = obj_str(ui, "arn")) != NULL) {
		cut = strrchr(s, '/');
		if (cut == NULL)
			cut = strrchr(s, ':');
		s = cut != NULL ? cut + 1 : s;
		if (*s != '\0')
			return s;
	}
	return obj_str(ui, "principalId");
}

bool
ht_record_is_global(const struct ht_record *rec)
{
	static const char *const global[] = {
		HT_GLOBAL_EVENT_SOURCE, "iam.amazonaws.com", "sts.amazonaws.com",
		"cloudfront.amazonaws.com", "route53.amazonaws.com",
	};

	static const char suffix[] = ".identity";
	size_t len;

	if (rec->event_source == NULL)
		return false;
	len = strlen(rec->event_source);
	if (len >= sizeof(suffix) - 1 &&
	    strcmp(rec->event_source + len - (sizeof(suffix) - 1), suffix) == 0)
		return true;
	for (size_t i = 0; i < sizeof(global) / sizeof(global[0]); i++)
		if (strcmp(rec->event_source, global[i]) == 0)
			return true;
	return false;
}

unsigned
ht_record_flags(const struct ht_record *rec)
{
	unsigned f = HT_RF_KNOWN;

	if (rec->event_category && strcmp(rec->event_category, "Data") == 0)
		f |= HT_RF_DATA;
	if (rec->read_only == HT_TRUE)
		f |= HT_RF_READ;
	else if (rec->read_only == HT_FALSE)
		f |= HT_RF_WRITE;
	if (ht_record_is_global(rec))
		f |= HT_RF_GLOBAL;
	return f;
}

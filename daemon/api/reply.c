/*
 * reply.c - see reply.h.
 */
#include "ht_build.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <json-c/json.h>

#include "api/reply.h"
#include "util.h"

static const char *
reason_of(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 503:
		return "Service Unavailable";
	default:
		return status >= 500 ? "Internal Server Error" : "Error";
	}
}

static void
reply_send(struct evhttp_request *req, int status, const char *body, size_t len)
{
	struct evkeyvalq *hdrs = evhttp_request_get_output_headers(req);
	struct evbuffer *buf = evhttp_request_get_output_buffer(req);
	char id[HT_UUID_LEN];

	if (ht_uuid_v4(id) < 0)
		strcpy(id, "00000000-0000-4000-8000-000000000000");
	evhttp_add_header(hdrs, "Content-Type", "application/x-amz-json-1.1");
	evhttp_add_header(hdrs, "x-amzn-RequestId", id);
	evbuffer_add(buf, body, len);
	evhttp_send_reply(req, status, reason_of(status), NULL);
}

void
ht_reply_json(struct evhttp_request *req, int status, struct json_object *obj)
{
	const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);

	if (text == NULL) {
		static const char oom[] =
		    "{\"__type\":\"InternalFailure\",\"message\":\"out of memory\"}";

		reply_send(req, 500, oom, sizeof(oom) - 1);
		return;
	}
	reply_send(req, status, text, strlen(text));
}

void
ht_reply_error(struct evhttp_request *req, int status, const char *type, const char *fmt, ...)
{
	struct json_object *o;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = json_object_new_object();
	if (o) {
		json_object_object_add(o, "__type", json_object_new_string(type));
		json_object_object_add(o, "message", json_object_new_string(msg));
	}
	ht_reply_json(req, status, o);
	json_object_put(o);
}

int
ht_api_fail(struct ht_api_error *e, const char *type, const char *fmt, ...)
{
	va_list ap;

	e->type = type;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void
ht_reply_refused(struct evhttp_request *req, const struct ht_api_error *e)
{
	ht_reply_error(req, 400, e->type, "%s", e->msg);
}

/*
 * reply.h - answering API requests the way AWS does: JSON bodies, an
 * x-amzn-RequestId header on every reply, and errors as
 * {"__type":"<ExceptionName>","message":"..."} (HTTP 400 for client errors,
 * 500 for internal faults).
 */
#ifndef HT_REPLY_H
#define HT_REPLY_H

struct evhttp_request;
struct json_object;

/* A refused request: the exception name and message, answered with 400. */
struct ht_api_error {
	const char *type;
	char msg[512];
};

/* Fill e and return -EINVAL (so a check can `return ht_api_fail(...)`). */
int ht_api_fail(struct ht_api_error *e, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Answer req with e (HTTP 400). */
void ht_reply_refused(struct evhttp_request *req, const struct ht_api_error *e);

/* Send obj (borrowed) as the reply body with status (200, ...). */
void ht_reply_json(struct evhttp_request *req, int status, struct json_object *obj);
/* Send an AWS-style error. */
void ht_reply_error(struct evhttp_request *req, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif

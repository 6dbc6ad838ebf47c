/*
 * fetch.h - an asynchronous HTTP(S) client on the daemon's libevent loop,
 * for the delivery targets that speak HTTP: S3 PutObject (deliver/s3.c) and
 * SNS-style webhook POSTs.
 *
 * One client owns one libcurl multi handle driven through the multi socket
 * interface: curl says which sockets to watch (one struct event each) and
 * when to wake it (one timer event); the loop calls back into curl and
 * finished transfers are reported through each request's done callback.
 * Any number of requests run concurrently; none blocks the loop once
 * started (opening a body file in ht_fetch_start() is the only disk access
 * outside the upload itself).
 *
 * What every request gets, whatever the caller asks for:
 *  - http:// and https:// only; redirects are never followed (a 3xx is the
 *    answer); TLS peer certificate and host name are always verified;
 *  - curl's verbose mode is never enabled, so request headers (signatures,
 *    tokens) are never printed;
 *  - the standard proxy variables (http_proxy, https_proxy, no_proxy, ...)
 *    are honoured, as curl does by default;
 *  - no "Expect: 100-continue": our bodies are small, and a server that
 *    never answers 100 would cost a second per request;
 *  - the body is sent with a Content-Length, never chunked; a POST carries
 *    no Content-Type unless the caller gives one (curl's form type is not
 *    sent); User-Agent is "hosttraild/VERSION" unless the caller gives one.
 */
#ifndef HT_DELIVER_FETCH_H
#define HT_DELIVER_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct ht_fetch_client;

/* Most headers one request may send. */
#define HT_FETCH_HEADERS_MAX 64
/* Most response headers one request may capture (keep_headers). */
#define HT_FETCH_KEEP_MAX 16
/* Longest header name accepted, in bytes. */
#define HT_FETCH_NAME_MAX 127
/* A captured header value is cut to this many bytes less one. */
#define HT_FETCH_VALUE_MAX 512
/* Response body kept when ht_fetch_req.max_response is 0, and the most
 * that may be asked for. */
#define HT_FETCH_RESPONSE_DEFAULT (16 * 1024)
#define HT_FETCH_RESPONSE_MAX (64 * 1024 * 1024)

/* One request header.  name is an HTTP token (no ':', spaces or controls);
 * value must not hold CR or LF.  value NULL means "do not send the header
 * curl would add under this name" (e.g. Accept).  Host, when given, is
 * sent as given instead of the URL's.  Content-Length, Transfer-Encoding
 * and Expect are the client's own: giving them is an error. */
struct ht_fetch_header {
	const char *name;
	const char *value;
};

/* One request.  Every pointer is borrowed and copied by ht_fetch_start(),
 * except body, which must stay valid and unchanged until the done callback
 * (curl may read it again after a rewind). */
struct ht_fetch_req {
	const char *method; /* "PUT" or "POST" */
	const char *url;    /* "https://host[:port]/path?query", encoded */
	const struct ht_fetch_header *headers;
	size_t n_headers; /* <= HT_FETCH_HEADERS_MAX */
	/* The body: body/body_len, or the file at path, which must be a regular
	 * file of exactly file_size bytes, read while uploading (a file that
	 * shrinks meanwhile aborts the transfer).  Neither: an empty body. */
	const void *body;
	size_t body_len;
	const char *path;
	uint64_t file_size;
	const char *ca_file; /* NULL: the system's CAs */
	/* NULL, or an address ("127.0.0.1") the URL's host name resolves to,
	 * whatever DNS says (curl's CURLOPT_RESOLVE, for the URL's port). */
	const char *resolve_to;
	long connect_timeout_ms; /* <= 0: 10 s */
	long timeout_ms;	 /* <= 0: 300 s for the whole request */
	size_t max_response;	 /* body bytes kept, <= HT_FETCH_RESPONSE_MAX; 0: the default */
	/* Response headers to capture (names matched in any case), e.g.
	 * "ETag".  When a header comes more than once, the last one wins. */
	const char *const *keep_headers;
	size_t n_keep_headers; /* <= HT_FETCH_KEEP_MAX */
};

/* What a finished request gave; all of it describes the final response
 * (interim 1xx answers and retried attempts are forgotten).  Pointers are
 * never NULL, except header_values when no header was asked for, and are
 * valid only during the callback. */
struct ht_fetch_result {
	/* A CURLcode: 0 when a whole response arrived (any status);
	 * CURLE_OUT_OF_MEMORY also when the transfer's socket could not be
	 * watched (only that transfer fails). */
	int curl_code;
	const char *curl_error; /* why the transfer failed; "" when curl_code is 0 */
	long http_status;	/* 0 when no response was received */
	const char *body;	/* the first max_response bytes of the body, NUL-terminated */
	size_t body_len;
	bool body_truncated; /* more body came (or memory ran short) and was dropped */
	/* Parallel to ht_fetch_req.keep_headers: the value with surrounding
	 * blanks removed and control bytes made spaces, "" when absent. */
	const char *const *header_values;
	/* The client was freed first: curl_code is CURLE_ABORTED_BY_CALLBACK,
	 * curl_error "cancelled", status 0, body and header values "". */
	bool cancelled;
};

/* Called exactly once per accepted request, on the loop thread: from the
 * loop's dispatch, or from ht_fetch_client_free() with cancelled set; never
 * from inside ht_fetch_start() or a curl callback.  ht_fetch_pending()
 * already leaves this request out.  It may start requests on the same
 * client (refused with -ECANCELED while the client is being freed) and may
 * free the client. */
typedef void (*ht_fetch_done_fn)(const struct ht_fetch_result *res, void *arg);

/* A client bound to base (borrowed; it must outlive the client).  0 with
 * *ret set; -EINVAL, -ENOMEM, or -EIO when libcurl cannot be initialised. */
int ht_fetch_client_new(struct event_base *base, struct ht_fetch_client **ret);

/* Start req.  On 0, done(res, arg) will be called exactly once, later.
 * Otherwise done is never called: -EINVAL when req is unusable (method,
 * URL, a header, keep_headers, max_response, both body and path, body NULL
 * with a length, path not a regular file), -ENOENT/-EACCES/... when the
 * body file cannot be opened, -EFBIG when its size is not file_size,
 * -ECANCELED while the client is being freed, -ENOMEM, -EIO when curl
 * refuses the request. */
int ht_fetch_start(struct ht_fetch_client *client, const struct ht_fetch_req *req,
    ht_fetch_done_fn done, void *arg);

/* Requests accepted whose callback has not started yet (0 for NULL). */
unsigned ht_fetch_pending(const struct ht_fetch_client *client);

/* Cancel every request in flight (each callback runs once, with cancelled
 * set, before this returns) and free the client's events and curl state.
 * From inside a done callback the memory goes when that callback returns.
 * NULL, or a client already being freed, is a no-op. */
void ht_fetch_client_free(struct ht_fetch_client *client);

#endif

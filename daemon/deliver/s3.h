/*
 * s3.h - an asynchronous S3 PutObject client on the daemon's libevent loop.
 *
 * One client owns one HTTP client of deliver/fetch.h (a libcurl multi
 * handle driven through the multi socket interface by the loop); this
 * module adds what is S3's own: the request's URL, headers and signature,
 * the body's digests, and reading and classifying the answer.  Any number
 * of PUTs run concurrently; none blocks the loop once started.
 *
 * Requests are signed with ht_sigv4_sign() in S3 mode (X-Amz-Content-SHA256
 * is the body's SHA-256, Content-MD5 is sent and signed), so a corrupted
 * body is refused by the server (BadDigest).  Hashing a body is CPU work and,
 * for a file, disk reads: callers on the loop should hash on a worker
 * (ht_s3_put.payload_sha256 / content_md5) and pass the digests in; when
 * they are absent ht_s3_client_put() computes them itself, blocking.
 *
 * Nothing here logs a secret: the secret key and session token are only
 * handed to the signer and (the token) to fetch's header list; curl's
 * verbose mode is never enabled.  Standard proxy variables (http_proxy,
 * https_proxy, no_proxy) are honoured, as curl does by default; redirects
 * are not followed and TLS is always verified (fetch.h lists the rest).
 */
#ifndef HT_DELIVER_S3_H
#define HT_DELIVER_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct ht_s3_client;

/* How much of an error response body is kept to find <Code> and <Message>. */
#define HT_S3_ERROR_BODY_MAX (16 * 1024)
/* Most x-amz-meta-* pairs one request may carry. */
#define HT_S3_META_MAX 16

enum ht_s3_addressing {
	HT_S3_PATH_STYLE = 0, /* http://endpoint/bucket/key */
	HT_S3_VIRTUAL_HOSTED, /* http://bucket.endpoint/key */
};

enum ht_s3_sse {
	HT_S3_SSE_NONE = 0,
	HT_S3_SSE_AES256, /* x-amz-server-side-encryption: AES256 */
	HT_S3_SSE_KMS,	  /* aws:kms, with sse_kms_key_id when set */
};

/* What the caller should do about a finished request. */
enum ht_s3_outcome {
	HT_S3_OK = 0,	    /* 2xx: the object is stored */
	HT_S3_RETRY_SOON,   /* throttling, 5xx, timeouts, network errors */
	HT_S3_RETRY_SLOWLY, /* refused: credentials, permissions, bucket, other 4xx */
	HT_S3_CANCELLED,    /* the client was freed before the request finished */
};

/* One x-amz-meta-NAME: VALUE pair (name without the prefix). */
struct ht_s3_meta {
	const char *name;
	const char *value;
};

/* One PUT.  Every pointer is borrowed; ht_s3_client_put() copies what it
 * needs except body, which must stay valid and unchanged until done_cb. */
struct ht_s3_put {
	const char *endpoint; /* "https://s3.us-east-1.amazonaws.com", "http://127.0.0.1:8080" */
	const char *bucket;
	const char *key; /* the object key, not encoded */
	enum ht_s3_addressing addressing;
	const char *region; /* "us-east-1" */
	const char *access_key_id;
	const void *secret; /* 1..HT_SIGV4_SECRET_MAX bytes */
	size_t secret_len;
	const char *session_token; /* NULL when none */
	/* The body: body/body_len, or (body NULL) the file at path holding
	 * exactly file_size bytes, read while uploading. */
	const void *body;
	size_t body_len;
	const char *path;
	uint64_t file_size;
	/* NULL, or precomputed digests of the body: 64 hex digits and the
	 * 24-character base64 MD5.  Both or neither. */
	const char *payload_sha256;
	const char *content_md5;
	const char *content_type;     /* NULL: none sent */
	const char *content_encoding; /* NULL: none sent ("gzip" for CloudTrail files) */
	enum ht_s3_sse sse;
	const char *sse_kms_key_id; /* NULL: the bucket's default KMS key */
	const char *storage_class;  /* NULL: the bucket's default */
	const struct ht_s3_meta *meta;
	size_t n_meta;	     /* <= HT_S3_META_MAX */
	const char *ca_file; /* NULL: the system's CAs */
	/* NULL, or an address ("127.0.0.1") the request's host name resolves
	 * to, whatever DNS says (curl's CURLOPT_RESOLVE) - how virtual-hosted
	 * names are tested without DNS. */
	const char *resolve_to;
	long connect_timeout_ms; /* 0: 10 s */
	long timeout_ms;	 /* 0: 300 s for the whole request */
};

/* What a finished request gave.  Strings are never NULL ("" when absent)
 * and valid only during the callback. */
struct ht_s3_result {
	enum ht_s3_outcome outcome;
	long http_status;	/* 0 when no response was received */
	const char *code;	/* S3 error Code, e.g. "SignatureDoesNotMatch" */
	const char *message;	/* S3 error Message */
	const char *curl_error; /* why the transfer failed, for network errors */
	const char *etag;	/* the ETag header of a 2xx */
	const char *request_id; /* x-amz-request-id / x-openstack-request-id */
};

/* Called once per accepted PUT, on the loop thread (or from
 * ht_s3_client_free() with HT_S3_CANCELLED).  It may start new PUTs on the
 * same client except while the client is being freed. */
typedef void (*ht_s3_done_fn)(const struct ht_s3_result *res, void *arg);

/* A client bound to base.  0 with *ret set; -ENOMEM, or -EIO when libcurl
 * cannot be initialised. */
int ht_s3_client_new(struct event_base *base, struct ht_s3_client **ret);

/* Start req.  On 0, done_cb(res, arg) will be called exactly once, later
 * (never from inside this call).  -EINVAL when req is unusable (endpoint,
 * bucket or key malformed, signing refused), -ENOENT/-EACCES/... when the
 * body file cannot be opened or hashed, -EFBIG when its size is not
 * file_size, -ENOMEM, -EIO (curl refused the handle): then done_cb is never
 * called. */
int ht_s3_client_put(struct ht_s3_client *client, const struct ht_s3_put *req,
    ht_s3_done_fn done_cb, void *arg);

/* Requests accepted whose callback has not run yet. */
unsigned ht_s3_client_pending(const struct ht_s3_client *client);

/* Cancel every request in flight (each callback runs with HT_S3_CANCELLED),
 * free the client's events and curl state.  May be called from a done_cb;
 * then the rest happens when that callback returns.  NULL is a no-op. */
void ht_s3_client_free(struct ht_s3_client *client);

/* How to treat an answer: exposed for tests and for status reporting.
 * curl_code is a CURLcode (0 when a response was received). */
enum ht_s3_outcome ht_s3_classify(int curl_code, long http_status, const char *code);

/* Short name of an outcome: "ok", "retry-soon", "retry-slowly", "cancelled". */
const char *ht_s3_outcome_name(enum ht_s3_outcome o);

/* Copy the text of the first <tag>...</tag> in an XML body into out (cap
 * bytes, NUL-terminated, truncated, XML's five entities decoded).  Returns
 * true if found.  Tolerant: no XML parsing beyond that. */
bool ht_s3_xml_extract(const char *xml, size_t len, const char *tag, char *out, size_t cap);

#endif

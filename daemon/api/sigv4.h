/*
 * sigv4.h - AWS Signature Version 4 verification for the API's TCP listener.
 *
 * Three parts:
 *  - a credential store: access key ID -> secret bytes + access level, built
 *    from api.credentials (each secret read from its secret_file).  A store
 *    is immutable once built; a reload builds a new one and swaps the
 *    pointer, so verification may run on any thread without locks.
 *  - ht_sigv4_verify(): checks one request signed in the Authorization
 *    header (what the aws CLI and every SDK send) and answers with the exact
 *    AWS error code and message a JSON service returns.
 *  - ht_sigv4_authorize(): what a key's access level may call.
 *
 * Decisions (evidence in sigv4.c's header comment):
 *  - X-Amz-Date must be within 15 minutes of now either way; outside it the
 *    error is InvalidSignatureException "Signature expired: ..." (or "Signature
 *    not yet current: ..."), what AWS JSON services return.
 *  - host and x-amz-date must both be signed; the payload hash is always the
 *    SHA-256 of the body received (an X-Amz-Content-SHA256 header must equal it).
 *  - No STS here: any X-Amz-Security-Token is refused (UnrecognizedClientException).
 *  - Query-string (presigned) authentication is refused: the CLI never uses it
 *    for these APIs and a presigned URL is a bearer credential that ends up in logs.
 *  - Canonical URI as botocore and AWS do for every service but S3: the raw
 *    path's dot segments and empty segments removed, then every byte but
 *    unreserved characters and '/' percent-encoded (so "%2F" on the wire is
 *    signed as "%252F").
 *  - Canonical query: split on '&', decode (with '+' as a space, as libevent's
 *    evhttp_parse_query_str does, so the signature covers what handlers read),
 *    re-encode per RFC 3986, sort by key then value.
 */
#ifndef HT_API_SIGV4_H
#define HT_API_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "crypto.h"

#define HT_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
/* How far X-Amz-Date may be from the server's clock, either way. */
#define HT_SIGV4_MAX_SKEW_S (15 * 60)
/* Longest access key ID (conf.c allows 16-128 of [A-Z0-9]). */
#define HT_SIGV4_KEY_ID_MAX 128
/* Longest secret a secret_file may hold, in bytes. */
#define HT_SIGV4_SECRET_MAX 1024
#define HT_SIGV4_SERVICE_MAX 63
#define HT_SIGV4_MESSAGE_MAX 1024

struct ht_sigv4_store;

/* One request header as received (name in any case, value untrimmed).  A
 * header sent twice appears twice, in the order received. */
struct ht_sigv4_header {
	const char *name;
	const char *value;
};

/* The request to check; everything is borrowed. */
struct ht_sigv4_request {
	const char *method; /* "POST" */
	const char *uri;    /* raw request-target as received: "/path?query" */
	const struct ht_sigv4_header *headers;
	size_t n_headers;
	const void *body; /* NULL when body_len is 0 */
	size_t body_len;
};

/* What the server accepts. */
struct ht_sigv4_expect {
	const char *region;	     /* config region */
	const char *const *services; /* NULL-terminated, at least one; errors name the first */
	int64_t now;		     /* wall clock, epoch seconds */
};

/* Who signed a verified request. */
struct ht_sigv4_identity {
	char access_key_id[HT_SIGV4_KEY_ID_MAX + 1];
	enum ht_access access;
	char service[HT_SIGV4_SERVICE_MAX + 1]; /* the credential scope's service */
};

/* Why a request was refused, ready for ht_reply_error(req, status, code, "%s", message). */
struct ht_sigv4_error {
	int status;			    /* 400 for a refusal, 500 for an internal failure */
	const char *code;		    /* static string, e.g. "InvalidSignatureException" */
	char message[HT_SIGV4_MESSAGE_MAX]; /* printable ASCII only */
};

/* An empty store.  0 or -ENOMEM. */
int ht_sigv4_store_new(struct ht_sigv4_store **ret);
/* Add a key; the secret (1..HT_SIGV4_SECRET_MAX bytes) is copied.  0, -EINVAL
 * (empty or over-long key ID or secret), -EEXIST (key ID already present),
 * -ENOMEM. */
int ht_sigv4_store_add(struct ht_sigv4_store *store, const char *access_key_id, const void *secret,
    size_t secret_len, enum ht_access access);
/* Build a store from api->credentials, reading each secret_file: one trailing
 * "\n" (or "\r\n") is removed; the file must be a regular file, hold 1 to
 * HT_SIGV4_SECRET_MAX bytes with no NUL or line break inside, and must not be
 * readable or writable by others (group access is how the service user reads
 * it after dropping privileges; group-writable only draws a warning).  On
 * failure returns -errno (-EINVAL for content, -EPERM for permissions,
 * -EFBIG for size, -ENOMEM) and writes one line naming the credential and
 * the file, never the secret, into errbuf; *ret is written only on success.
 * No credentials give an empty store (every signed request is then refused). */
int ht_sigv4_store_load(const struct ht_conf_api *api, struct ht_sigv4_store **ret, char *errbuf,
    size_t errlen);
/* Number of keys in store (0 for NULL). */
size_t ht_sigv4_store_count(const struct ht_sigv4_store *store);
/* Wipe the secrets and free.  NULL is a no-op. */
void ht_sigv4_store_free(struct ht_sigv4_store *store);

/* Verify req's Signature V4.  store NULL acts as an empty store.  Returns 0
 * and fills *ret_id when the signature is valid; -EACCES when the request is
 * refused, -ENOMEM or -EIO on an internal failure: then *err says what to
 * answer (code and message as AWS JSON services give them) and *ret_id is
 * untouched.  Does not log. */
int ht_sigv4_verify(const struct ht_sigv4_store *store, const struct ht_sigv4_request *req,
    const struct ht_sigv4_expect *expect, struct ht_sigv4_identity *ret_id,
    struct ht_sigv4_error *err);

/* True if operation only reads: Describe*, Get*, List*, LookupEvents. */
bool ht_sigv4_operation_is_read(const char *operation);
/* May id call operation?  0 if so; else -EACCES with *err set to
 * AccessDeniedException "User: arn:aws:iam::ACCOUNT:user/KEYID is not
 * authorized to perform: SERVICE:OPERATION". */
int ht_sigv4_authorize(const struct ht_sigv4_identity *id, const char *account_id,
    const char *operation, struct ht_sigv4_error *err);

/* SigV4 signing key: HMAC chain over "AWS4"+secret, date (YYYYMMDD), region,
 * service, "aws4_request".  0 or -EIO. */
int ht_sigv4_signing_key(const void *secret, size_t secret_len, const char *date,
    const char *region, const char *service, uint8_t out[HT_SHA256_LEN]);
/* The canonical request and string to sign of req as its Authorization
 * header describes them (for tests and for a debug log after a mismatch;
 * neither contains a secret).  Both malloc'd.  0, -EINVAL when the
 * Authorization header or X-Amz-Date is missing or unusable, -ENOMEM. */
int ht_sigv4_canonical(const struct ht_sigv4_request *req, char **ret_creq, char **ret_sts);

#endif

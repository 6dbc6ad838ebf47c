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
 * And the other direction, for delivery to S3-compatible stores:
 *  - ht_sigv4_sign(): the headers that sign one outgoing request, built with
 *    the verifier's own canonicalization (so what we sign, we would accept),
 *    in S3 mode (path signed as sent, X-Amz-Content-SHA256 always) or in the
 *    normalizing mode every other service and AWS's test suite use;
 *  - ht_s3_uri_encode_key() / ht_s3_path(): an object key as a path segment,
 *    path-style or virtual-hosted; ht_s3_content_md5() /
 *    ht_s3_checksum_sha256(): the body integrity headers.
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

/* ---- signing ---- */

#define HT_SIGV4_AMZ_DATE_LEN 16 /* YYYYMMDDTHHMMSSZ */
/* S3's literal payload hash for a body left out of the signature. */
#define HT_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* What replaces the session token's value in the debug canonical request. */
#define HT_SIGV4_REDACTED "(redacted)"
/* Most headers ht_sigv4_sign() gives back. */
#define HT_SIGV4_SIGNED_HEADERS_MAX 4
/* Base64 lengths of a Content-MD5 and an x-amz-checksum-sha256 value. */
#define HT_S3_CONTENT_MD5_LEN 24
#define HT_S3_CHECKSUM_SHA256_LEN 44

/* How the path becomes the canonical URI. */
enum ht_sigv4_uri_mode {
	/* S3 (botocore's S3SigV4Auth): the path is already percent-encoded as
	 * it goes on the wire (ht_s3_path()) and is signed exactly so: no
	 * dot-segment removal, no second encoding.  X-Amz-Content-SHA256 is
	 * always sent and signed. */
	HT_SIGV4_URI_S3 = 0,
	/* Every other service (SigV4Auth, AWS's test suite, our own API): dot
	 * and empty segments removed, then every byte but unreserved ones and
	 * '/' encoded, a '%' included (so an encoded path is encoded twice).
	 * No X-Amz-Content-SHA256 header. */
	HT_SIGV4_URI_NORMALIZE,
};

/* One query parameter, not encoded: the signer encodes it (RFC 3986). */
struct ht_sigv4_param {
	const char *name;  /* non-empty */
	const char *value; /* NULL: sent as "name" alone (S3's "?uploads"), signed as "name=" */
};

/* One request to sign; everything is borrowed. */
struct ht_sigv4_sign_params {
	enum ht_sigv4_uri_mode uri_mode;
	const char *method; /* "PUT" */
	/* The Host header the request will carry, ":port" included unless it is
	 * the scheme's default: "bucket.s3.example.net:9000" virtual-hosted,
	 * "s3.example.net:9000" path-style.  The caller sends it (curl does, from
	 * the URL) exactly so. */
	const char *host;
	/* Starts with '/'.  S3 mode: as on the wire ("%XX" escapes, printable
	 * ASCII, no '?' or '#').  Normalize mode: as the server will see it
	 * before decoding. */
	const char *path;
	const struct ht_sigv4_param *query; /* sent in this order */
	size_t n_query;
	/* Further headers to send and sign (content-type, content-md5,
	 * x-amz-server-side-encryption, x-amz-storage-class, x-amz-meta-*...).
	 * A name given twice is signed as one "v1,v2" in the order given.  None
	 * may be Host, Authorization or one of the X-Amz-* headers added here. */
	const struct ht_sigv4_header *headers;
	size_t n_headers;
	/* The body, hashed here unless payload_sha256 is set; NULL when
	 * payload_len is 0. */
	const void *payload;
	size_t payload_len;
	/* NULL, or the body's SHA-256 as 64 hex digits (either case), or in S3
	 * mode HT_SIGV4_UNSIGNED_PAYLOAD. */
	const char *payload_sha256;
	const char *region;  /* "us-east-1" */
	const char *service; /* "s3" */
	const char *access_key_id;
	const void *secret; /* 1..HT_SIGV4_SECRET_MAX bytes */
	size_t secret_len;
	const char *session_token; /* NULL or "" when there is none */
	int64_t now;		   /* epoch seconds, 1970..9999 */
};

/* What signing produced.  Every pointer is owned by the struct (free with
 * ht_sigv4_signed_clear()), so it may be copied by value. */
struct ht_sigv4_signed {
	/* To add to the request: X-Amz-Date, X-Amz-Content-SHA256 (S3 mode),
	 * X-Amz-Security-Token (with a token), Authorization, in this order.
	 * Names are static strings. */
	struct ht_sigv4_header headers[HT_SIGV4_SIGNED_HEADERS_MAX];
	size_t n_headers;
	char *target; /* the request-target to send: path, then "?query" if any */
	/* For debug logs: no secret in either (the token's value is replaced by
	 * HT_SIGV4_REDACTED; the string to sign hashes the real one). */
	char *canonical_request;
	char *string_to_sign;
};

/* Sign p.  Returns 0 and fills *ret; -EINVAL when p is unusable (a field
 * missing or malformed, a header value holding CR or LF, a header the
 * signer owns, a bad payload hash, a time out of range); -ENOMEM; -EIO if
 * libcrypto fails.  *ret is written only on success.  Thread-safe; does not
 * log. */
int ht_sigv4_sign(const struct ht_sigv4_sign_params *p, struct ht_sigv4_signed *ret);
/* The value of the header ht_sigv4_sign() gave back under name (any case),
 * or NULL. */
const char *ht_sigv4_signed_header(const struct ht_sigv4_signed *s, const char *name);
/* Free what ht_sigv4_sign() put in *s and zero it.  NULL or an already
 * cleared struct is a no-op. */
void ht_sigv4_signed_clear(struct ht_sigv4_signed *s);

/* An S3 object key as it goes in a request path: every byte but unreserved
 * ones (A-Z a-z 0-9 - . _ ~) and '/' becomes %XX (uppercase hex), as
 * botocore's serializer does.  *ret is malloc'd.  0, -EINVAL (key NULL),
 * -ENOMEM. */
int ht_s3_uri_encode_key(const char *key, char **ret);
/* The request path of an object, or of the bucket itself when key is NULL:
 * "/BUCKET/KEY" and "/BUCKET" path-style, "/KEY" and "/" virtual-hosted
 * (the bucket is then in the host name).  The key is encoded with
 * ht_s3_uri_encode_key().  *ret is malloc'd.  0, -EINVAL (bucket empty or
 * holding '/', key ""), -ENOMEM. */
int ht_s3_path(const char *bucket, const char *key, bool virtual_hosted, char **ret);
/* Content-MD5: standard base64 of the body's MD5 (an integrity check, not
 * security).  0 or -EIO. */
int ht_s3_content_md5(const void *data, size_t len, char out[HT_S3_CONTENT_MD5_LEN + 1]);
/* x-amz-checksum-sha256: standard base64 of the body's SHA-256.  0 or -EIO. */
int ht_s3_checksum_sha256(const void *data, size_t len, char out[HT_S3_CHECKSUM_SHA256_LEN + 1]);

#endif

/*
 * sigv4.c - verify AWS Signature Version 4 (Authorization header form) and
 * keep the keys to do it with.
 *
 * A store is a flat array of {key ID, secret, access}: a handful of keys,
 * looked up by a linear scan (key IDs are not secret; only the signature
 * comparison must be constant-time).  Secrets live only here, are wiped on
 * free and never appear in a message or a log line.
 *
 * ht_sigv4_verify() checks in the order AWS's JSON services do and answers
 * with their codes and messages.  Sources: the coral error texts recorded
 * by the DynamoDB and Kinesis emulators dynalite/kinesalite (kinesalite
 * speaks JSON 1.1 like CloudTrail), and real responses quoted in SDK issues:
 *  1. Authorization header and X-Amz-Algorithm query parameter -> Invalid-
 *     SignatureException "Found both ..."; neither, or a header not starting
 *     "AWS4-" -> MissingAuthenticationTokenException "Missing Authentication
 *     Token" (kinesalite).  A query-string signature alone gets the same code
 *     with a reason appended: presigning is deliberately not supported.
 *  2. a parameter without '=', or no Credential / Signature / SignedHeaders /
 *     X-Amz-Date -> IncompleteSignatureException, messages concatenated and
 *     "Authorization=<header>" appended (aws-sdk-js-v3, cloud9-sync issues).
 *  3. X-Amz-Date not YYYYMMDDTHHMMSSZ -> IncompleteSignatureException "Date
 *     must be in ISO-8601 'basic format'..."; more than 15 minutes old or
 *     ahead -> InvalidSignatureException "Signature expired: D is now earlier
 *     than L (N - 15 min.)" / "Signature not yet current: D is still later
 *     than L (N + 15 min.)".  This, not RequestExpired, is what JSON services
 *     return (aws-sdk-js#254, ECR in registry-creds#24, dynalite); botocore
 *     1.43 (aws CLI v1) has no clock-skew correction at all (nothing in
 *     retries/ or handlers.py reads these codes), and the SDKs that do correct
 *     skew list InvalidSignatureException among their skew codes (aws-sdk-js-v3
 *     service-error-classification CLOCK_SKEW_ERROR_CODES).
 *  4. host not signed -> InvalidSignatureException "'Host' or ':authority'
 *     must be a 'SignedHeader' in the AWS Authorization." (DynamoDB, aws-sdk-
 *     php#2469); x-amz-date or x-amz-target not signed: the same shape, our
 *     own rules (the date bounds replay; the target names the operation);
 *     a signed header the request lacks -> IncompleteSignatureException "'x'
 *     is named as a SignedHeader, but it does not exist in the HTTP request."
 *  5. algorithm -> IncompleteSignatureException "Unsupported AWS 'algorithm'
 *     ..."; Credential not 5 parts -> IncompleteSignatureException "Credential
 *     must have exactly 5 slash-delimited elements ..."; wrong region, service,
 *     terminator or date -> InvalidSignatureException with the messages
 *     concatenated ("Credential should be scoped to a valid region, not 'x'. "
 *     as aws-sdk-js-v3#5576, "Credential should be scoped to correct service:
 *     'cloudtrail'. " as SageMaker and EMR answer, trailing space included).
 *  6. unknown key -> UnrecognizedClientException "The security token
 *     included in the request is invalid."
 *  7. X-Amz-Content-SHA256 not the body's hash -> InvalidSignatureException
 *     with S3's wording; then the signature itself (constant-time compare).
 *     AWS appends the canonical request to the mismatch message; we do not:
 *     ht_sigv4_canonical() gives it to whoever wants to log it.
 *  8. X-Amz-Security-Token, checked after the signature as AWS does: there
 *     is no STS here, so every token is invalid (UnrecognizedClientException).
 *
 * Canonicalization follows botocore (auth.py SigV4Auth, utils.py
 * remove_dot_segments) and the AWS test suite; the query is decoded the way
 * libevent's evhttp_parse_query_str decodes values ('+' is a space) so a
 * signature covers what the handlers will read, and a raw '#' is refused
 * because evhttp_uri_parse would drop what follows it from the query.
 *
 * ht_sigv4_sign() does not canonicalize on its own: it assembles the request
 * as it will go out (its headers, the query encoded strictly per RFC 3986 so
 * that decoding and re-encoding it is the identity) and runs it through the
 * same build_canonical() and compute_signature() the verifier uses.  The one
 * switch is the canonical URI: S3 signs the path as sent (botocore's
 * S3SigV4Auth._normalize_url_path returns it untouched), everything else
 * normalizes and re-encodes it.  Header values with CR or LF are refused:
 * they would be a header injection, not a signed value.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "api/sigv4.h"
#include "crypto.h"
#include "log.h"

#define AMZ_DATE_LEN HT_SIGV4_AMZ_DATE_LEN
#define SCOPE_DATE_LEN 8 /* YYYYMMDD */
#define SIG_HEX_LEN (2 * HT_SHA256_LEN)
#define QUOTE_MAX 256 /* bytes of client text quoted in one message */
#define TERMINATOR "aws4_request"
#define STR_(x) #x
#define STR(x) STR_(x)

#define E_MISSING "MissingAuthenticationTokenException"
#define E_INCOMPLETE "IncompleteSignatureException"
#define E_INVALID "InvalidSignatureException"
#define E_UNRECOGNIZED "UnrecognizedClientException"
#define E_DENIED "AccessDeniedException"
#define E_INTERNAL "InternalFailure"

#define MSG_MISSING "Missing Authentication Token"
#define MSG_BAD_TOKEN "The security token included in the request is invalid."
#define MSG_MISMATCH                                                                      \
	"The request signature we calculated does not match the signature you provided. " \
	"Check your AWS Secret Access Key and signing method. "                           \
	"Consult the service documentation for details."
#define MSG_INTERNAL \
	"The request processing has failed because of an unknown error, exception or failure."

struct key {
	char *id;
	uint8_t *secret;
	size_t secret_len;
	enum ht_access access;
};

struct ht_sigv4_store {
	struct key *keys;
	size_t n, cap;
};

/* A piece of a request string, not NUL-terminated. */
struct span {
	const char *p;
	size_t n;
};

/* The Authorization header, taken apart.  Spans point into the header. */
struct auth {
	const char *header;
	struct span algorithm, credential, signed_headers, signature;
	bool has_credential, has_signed_headers, has_signature;
	/* Credential's parts */
	struct span key_id, date, region, service, terminator;
	/* the X-Amz-Date header's value, borrowed */
	const char *amz_date;
};

/* Growable NUL-terminated string; an allocation failure sticks. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

/* ---- small helpers ---- */

static bool
is_alnum(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool
is_unreserved(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Whitespace as botocore's str.split() sees it in an ASCII header value. */
static bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static unsigned char
to_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static int
hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ASCII case-insensitive equality of span a and NUL-terminated b. */
static bool
span_caseeq(struct span a, const char *b)
{
	size_t i;

	for (i = 0; i < a.n; i++)
		if (b[i] == '\0' ||
		    to_lower((unsigned char)a.p[i]) != to_lower((unsigned char)b[i]))
			return false;
	return b[i] == '\0';
}

static bool
span_eq(struct span a, const char *b)
{
	return strlen(b) == a.n && memcmp(a.p, b, a.n) == 0;
}

static struct span
span_of(const char *s)
{
	return (struct span){ s, strlen(s) };
}

static void
sb_add(struct sbuf *b, const void *s, size_t n)
{
	size_t cap;
	char *p;

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1) {
			if (cap > SIZE_MAX / 2) {
				b->oom = true;
				return;
			}
			cap *= 2;
		}
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_adds(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void
sb_addc(struct sbuf *b, char c)
{
	sb_add(b, &c, 1);
}

/* RFC 3986 encoding as SigV4 wants it: unreserved bytes as they are (and '/'
 * when keep_slash), everything else %XX in uppercase. */
static void
sb_encode_byte(struct sbuf *b, unsigned char c, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3] = { '%', hex[c >> 4], hex[c & 15] };

	if (is_unreserved(c) || (keep_slash && c == '/'))
		sb_addc(b, (char)c);
	else
		sb_add(b, e, 3);
}

static void
sb_encode(struct sbuf *b, const char *s, bool keep_slash)
{
	sb_add(b, "", 0);
	for (; *s != '\0'; s++)
		sb_encode_byte(b, (unsigned char)*s, keep_slash);
}

/* Decode n bytes of a query key or value ('+' is a space, a '%' not followed
 * by two hex digits stands for itself, as in evhttp) and re-encode them. */
static void
sb_reencode(struct sbuf *b, const char *s, size_t n)
{
	size_t i;

	sb_add(b, "", 0);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%' && i + 2 < n && hex_val((unsigned char)s[i + 1]) >= 0 &&
		    hex_val((unsigned char)s[i + 2]) >= 0) {
			c = (unsigned char)(hex_val((unsigned char)s[i + 1]) * 16 +
			    hex_val((unsigned char)s[i + 2]));
			i += 2;
		}
		sb_encode_byte(b, c, false);
	}
}

static void
hex_sha256(const void *data, size_t len, char out[SIG_HEX_LEN + 1], int *r)
{
	uint8_t d[HT_SHA256_LEN];

	if (ht_sha256(data, len, d) < 0) {
		*r = -EIO;
		out[0] = '\0';
		return;
	}
	ht_hex(d, sizeof(d), out);
}

/* ---- errors ---- */

static int
err_begin(struct ht_sigv4_error *err, int status, const char *code)
{
	err->status = status;
	err->code = code;
	err->message[0] = '\0';
	return status >= 500 ? -EIO : -EACCES;
}

static void
err_add(struct ht_sigv4_error *err, const char *s)
{
	size_t len = strlen(err->message);

	snprintf(err->message + len, sizeof(err->message) - len, "%s", s);
}

/* Append client text: printable ASCII only, at most QUOTE_MAX bytes. */
static void
err_quote(struct ht_sigv4_error *err, struct span s)
{
	char buf[QUOTE_MAX + 4];
	size_t i, n = s.n > QUOTE_MAX ? QUOTE_MAX : s.n;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		buf[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (n < s.n) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	err_add(err, buf);
}

static int
err_internal(struct ht_sigv4_error *err, int r)
{
	err_begin(err, 500, E_INTERNAL);
	err_add(err, MSG_INTERNAL);
	return r == -ENOMEM ? -ENOMEM : -EIO;
}

/* ---- dates ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Parse exactly YYYYMMDDTHHMMSSZ (UTC). 0 or -EINVAL. */
static int
parse_amz_date(const char *s, int64_t *ret)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int v[6], i, k, leap;
	static const int pos[6] = { 0, 4, 6, 9, 11, 13 }, len[6] = { 4, 2, 2, 2, 2, 2 };

	if (strlen(s) != AMZ_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		v[i] = 0;
		for (k = 0; k < len[i]; k++) {
			char c = s[pos[i] + k];

			if (c < '0' || c > '9')
				return -EINVAL;
			v[i] = v[i] * 10 + (c - '0');
		}
	}
	leap = (v[0] % 4 == 0 && v[0] % 100 != 0) || v[0] % 400 == 0;
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > mdays[v[1] - 1] ||
	    (v[1] == 2 && v[2] == 29 && !leap) || v[3] > 23 || v[4] > 59 || v[5] > 59)
		return -EINVAL;
	*ret = days_from_civil(v[0], v[1], v[2]) * 86400 + v[3] * 3600 + v[4] * 60 + v[5];
	return 0;
}

static void
fmt_amz_date(int64_t t, char out[AMZ_DATE_LEN + 1])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) != AMZ_DATE_LEN)
		snprintf(out, AMZ_DATE_LEN + 1, "?");
}

/* ---- request access ---- */

/* Number of headers called name (any case); *ret_first gets the first value. */
static size_t
header_find(const struct ht_sigv4_request *req, struct span name, const char **ret_first)
{
	size_t i, count = 0;

	for (i = 0; i < req->n_headers; i++) {
		if (!span_caseeq(name, req->headers[i].name))
			continue;
		if (count++ == 0 && ret_first != NULL)
			*ret_first = req->headers[i].value;
	}
	return count;
}

/* The request-target's path and query (origin-form, or absolute-form with
 * the scheme and authority skipped). */
static void
split_uri(const char *uri, struct span *ret_path, const char **ret_query)
{
	const char *p = uri, *s = strstr(uri, "://");
	size_t n;

	if (s != NULL && s < uri + strcspn(uri, "/?")) {
		p = s + 3;
		p += strcspn(p, "/?");
	}
	n = strcspn(p, "?");
	*ret_path = (struct span){ p, n };
	*ret_query = p[n] == '?' ? p + n + 1 : NULL;
}

/* Does the raw query have a parameter whose decoded name is key? */
static bool
query_has_key(const char *q, const char *key)
{
	struct sbuf k = { 0 }, want = { 0 };
	bool found = false;

	if (q == NULL)
		return false;
	sb_reencode(&want, key, strlen(key));
	while (!found && !want.oom) {
		size_t len = strcspn(q, "&"), klen = strcspn(q, "=&");

		k.len = 0;
		sb_reencode(&k, q, klen < len ? klen : len);
		found = !k.oom && strcmp(k.p, want.p) == 0;
		if (q[len] == '\0')
			break;
		q += len + 1;
	}
	free(k.p);
	free(want.p);
	return found;
}

/* ---- canonical request ---- */

/* botocore's normalize_url_path + quote(safe='/~'): drop empty and "."
 * segments, let ".." remove the one before, keep a trailing '/', encode
 * every byte of each segment but unreserved ones. */
static void
canonical_path(struct sbuf *b, struct span path)
{
	size_t start = b->len, i = 0;

	while (i < path.n) {
		size_t n = 0;

		while (i + n < path.n && path.p[i + n] != '/')
			n++;
		if (n == 2 && path.p[i] == '.' && path.p[i + 1] == '.') {
			/* each kept segment starts with '/': cut back to the last one */
			while (b->len > start && !b->oom && b->p[b->len - 1] != '/')
				b->len--;
			if (b->len > start)
				b->len--;
			if (!b->oom)
				b->p[b->len] = '\0';
		} else if (n > 0 && !(n == 1 && path.p[i] == '.')) {
			sb_addc(b, '/');
			for (size_t k = 0; k < n; k++)
				sb_encode_byte(b, (unsigned char)path.p[i + k], false);
		}
		i += n + 1;
	}
	if (b->len == start)
		sb_addc(b, '/');
	else if (path.n > 0 && path.p[path.n - 1] == '/')
		sb_addc(b, '/');
}

struct qpair {
	char *k, *v;
};

static int
qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c != 0 ? c : strcmp(x->v, y->v);
}

/* Split q on '&' (empty parts skipped), decode and re-encode each name and
 * value, sort by name then value, join as "k=v&k=v". 0 or -ENOMEM. */
static int
canonical_query(struct sbuf *b, const char *q)
{
	struct qpair *pairs;
	size_t cap = 1, n = 0, i;
	const char *p;
	int r = 0;

	if (q == NULL || *q == '\0')
		return 0;
	for (p = q; *p != '\0'; p++)
		cap += *p == '&';
	pairs = calloc(cap, sizeof(*pairs));
	if (pairs == NULL)
		return -ENOMEM;
	for (p = q;; p += strcspn(p, "&") + 1) {
		size_t len = strcspn(p, "&"), klen = strcspn(p, "=&");
		struct sbuf k = { 0 }, v = { 0 };

		if (len > 0) {
			sb_reencode(&k, p, klen);
			sb_reencode(&v, p + klen + (klen < len), len - klen - (klen < len));
			pairs[n].k = k.p;
			pairs[n++].v = v.p;
			if (k.oom || v.oom)
				r = -ENOMEM;
		}
		if (p[len] == '\0' || r < 0)
			break;
	}
	if (r == 0) {
		qsort(pairs, n, sizeof(*pairs), qpair_cmp);
		for (i = 0; i < n; i++) {
			if (i > 0)
				sb_addc(b, '&');
			sb_adds(b, pairs[i].k);
			sb_addc(b, '=');
			sb_adds(b, pairs[i].v);
		}
	}
	for (i = 0; i < n; i++) {
		free(pairs[i].k);
		free(pairs[i].v);
	}
	free(pairs);
	return r;
}

/* "name:v1,v2\n" with each value trimmed and inner whitespace runs collapsed
 * to one space; the name lowercased. */
static void
canonical_header(struct sbuf *b, const struct ht_sigv4_request *req, struct span name)
{
	size_t i, k, count = 0;

	for (k = 0; k < name.n; k++)
		sb_addc(b, (char)to_lower((unsigned char)name.p[k]));
	sb_addc(b, ':');
	for (i = 0; i < req->n_headers; i++) {
		const unsigned char *v = (const unsigned char *)req->headers[i].value;
		bool gap = false;

		if (!span_caseeq(name, req->headers[i].name))
			continue;
		if (count++ > 0)
			sb_addc(b, ',');
		while (*v != '\0' && is_space(*v))
			v++;
		for (; *v != '\0'; v++) {
			if (is_space(*v)) {
				gap = true;
				continue;
			}
			if (gap)
				sb_addc(b, ' ');
			gap = false;
			sb_addc(b, (char)*v);
		}
	}
	sb_addc(b, '\n');
}

/* Next ';'-separated name of a SignedHeaders list; false at the end. */
static bool
next_signed(struct span list, size_t *pos, struct span *ret)
{
	size_t n = 0;

	if (*pos > list.n)
		return false;
	while (*pos + n < list.n && list.p[*pos + n] != ';')
		n++;
	*ret = (struct span){ list.p + *pos, n };
	*pos += n + 1;
	return true;
}

/* The canonical request of req as signed by a, with payload_hex as the
 * payload hash; s3_uri signs the path as it is (S3), else it is normalized.
 * 0 or -ENOMEM. */
static int
build_canonical(const struct ht_sigv4_request *req, const struct auth *a, bool s3_uri,
    const char *payload_hex, struct sbuf *b)
{
	struct span path, name;
	const char *query;
	size_t pos = 0, k;
	int r;

	split_uri(req->uri, &path, &query);
	sb_adds(b, req->method);
	sb_addc(b, '\n');
	if (s3_uri && path.n > 0)
		sb_add(b, path.p, path.n);
	else
		canonical_path(b, path);
	sb_addc(b, '\n');
	r = canonical_query(b, query);
	sb_addc(b, '\n');
	while (next_signed(a->signed_headers, &pos, &name))
		canonical_header(b, req, name);
	sb_addc(b, '\n');
	for (k = 0; k < a->signed_headers.n; k++)
		sb_addc(b, (char)to_lower((unsigned char)a->signed_headers.p[k]));
	sb_addc(b, '\n');
	sb_adds(b, payload_hex);
	return r < 0 || b->oom ? -ENOMEM : 0;
}

/* "AWS4-HMAC-SHA256\n<date>\n<scope>\n<hex sha256(creq)>" */
static int
build_string_to_sign(const struct auth *a, const char *creq, struct sbuf *b)
{
	char hash[SIG_HEX_LEN + 1];
	int r = 0;

	hex_sha256(creq, strlen(creq), hash, &r);
	sb_add(b, a->algorithm.p, a->algorithm.n);
	sb_addc(b, '\n');
	sb_adds(b, a->amz_date);
	sb_addc(b, '\n');
	sb_add(b, a->date.p, a->date.n);
	sb_addc(b, '/');
	sb_add(b, a->region.p, a->region.n);
	sb_addc(b, '/');
	sb_add(b, a->service.p, a->service.n);
	sb_addc(b, '/');
	sb_add(b, a->terminator.p, a->terminator.n);
	sb_addc(b, '\n');
	sb_adds(b, hash);
	if (r == 0 && b->oom)
		r = -ENOMEM;
	return r;
}

/* ---- the Authorization header ---- */

/* Take the header apart: the algorithm, then key=value parameters separated
 * by commas and/or spaces.  -EACCES with *err set on a parameter without
 * '=' or a repeated one. */
static int
parse_params(struct auth *a, struct ht_sigv4_error *err)
{
	const char *p = a->header;
	struct span tok, key, *dst;
	bool *has;

	p += strspn(p, " \t");
	a->algorithm = (struct span){ p, strcspn(p, " \t,") };
	p += a->algorithm.n;
	for (;;) {
		p += strspn(p, " \t,");
		if (*p == '\0')
			return 0;
		tok = (struct span){ p, strcspn(p, " \t,") };
		p += tok.n;
		key.p = tok.p;
		key.n = strcspn(tok.p, "=");
		if (key.n >= tok.n) {
			err_begin(err, 400, E_INCOMPLETE);
			err_add(err, "'");
			err_quote(err, tok);
			err_add(err,
			    "' not a valid key=value pair (missing equal-sign) in "
			    "Authorization header: '");
			err_quote(err, span_of(a->header));
			err_add(err, "'.");
			return -EACCES;
		}
		if (span_eq(key, "Credential"))
			dst = &a->credential, has = &a->has_credential;
		else if (span_eq(key, "SignedHeaders"))
			dst = &a->signed_headers, has = &a->has_signed_headers;
		else if (span_eq(key, "Signature"))
			dst = &a->signature, has = &a->has_signature;
		else
			continue;
		if (*has) {
			err_begin(err, 400, E_INCOMPLETE);
			err_add(err, "Authorization header has more than one '");
			err_quote(err, key);
			err_add(err, "' parameter. Authorization=");
			err_quote(err, span_of(a->header));
			return -EACCES;
		}
		*has = true;
		*dst = (struct span){ tok.p + key.n + 1, tok.n - key.n - 1 };
	}
}

/* Credential = keyid/date/region/service/terminator (trailing '/'s ignored).
 * 0, or -EINVAL if it does not have exactly five parts. */
static int
split_credential(struct auth *a)
{
	struct span *parts[5] = { &a->key_id, &a->date, &a->region, &a->service, &a->terminator };
	struct span c = a->credential;
	size_t i = 0, n;

	while (c.n > 0 && c.p[c.n - 1] == '/')
		c.n--;
	for (i = 0; i < 5; i++) {
		for (n = 0; n < c.n && c.p[n] != '/'; n++)
			;
		*parts[i] = (struct span){ c.p, n };
		if (n == c.n && i < 4)
			return -EINVAL;
		c.p += n < c.n ? n + 1 : n;
		c.n -= n < c.n ? n + 1 : n;
	}
	return c.n == 0 && a->credential.n > 0 ? 0 : -EINVAL;
}

/* ---- verification steps ---- */

static void
err_need(struct ht_sigv4_error *err, bool *any, const char *what)
{
	err_add(err, what);
	*any = true;
}

/* Step 2's second half: the three parameters and X-Amz-Date. */
static int
check_required(const struct ht_sigv4_request *req, const struct auth *a, struct ht_sigv4_error *err)
{
	size_t n_date = header_find(req, span_of("X-Amz-Date"), NULL);
	bool any = false;

	err_begin(err, 400, E_INCOMPLETE);
	if (n_date > 1) {
		err_add(err, "The request has more than one X-Amz-Date header.");
		return -EACCES;
	}
	if (!a->has_credential || a->credential.n == 0)
		err_need(err, &any, "Authorization header requires 'Credential' parameter. ");
	if (!a->has_signature || a->signature.n == 0)
		err_need(err, &any, "Authorization header requires 'Signature' parameter. ");
	/* AWS lets an empty SignedHeaders through to the host check. */
	if (!a->has_signed_headers)
		err_need(err, &any, "Authorization header requires 'SignedHeaders' parameter. ");
	if (n_date == 0 && header_find(req, span_of("Date"), NULL) > 0)
		err_need(err, &any,
		    "Authorization header requires existence of a 'X-Amz-Date' "
		    "header; this service does not accept 'Date' instead. ");
	else if (n_date == 0)
		err_need(err, &any,
		    "Authorization header requires existence of either a "
		    "'X-Amz-Date' or a 'Date' header. ");
	if (!any)
		return 0;
	err_add(err, "Authorization=");
	err_quote(err, span_of(a->header));
	return -EACCES;
}

/* Steps 1 and 2: is there a usable Authorization header at all? */
static int
check_presence(const struct ht_sigv4_request *req, struct auth *a, struct ht_sigv4_error *err)
{
	struct span path;
	const char *query;
	size_t n_auth = header_find(req, span_of("Authorization"), &a->header);
	bool presigned;
	int r;

	split_uri(req->uri, &path, &query);
	presigned = query_has_key(query, "X-Amz-Algorithm");
	if (n_auth > 0 && presigned) {
		err_begin(err, 400, E_INVALID);
		err_add(err,
		    "Found both 'X-Amz-Algorithm' as a query-string param and "
		    "'Authorization' as HTTP header.");
		return -EACCES;
	}
	if (n_auth == 0 || strncmp(a->header + strspn(a->header, " \t"), "AWS4-", 5) != 0) {
		err_begin(err, 400, E_MISSING);
		err_add(err, MSG_MISSING);
		if (n_auth == 0 && presigned)
			err_add(err,
			    " (query-string authentication is not supported: sign the "
			    "request with an Authorization header)");
		return -EACCES;
	}
	if (n_auth > 1) {
		err_begin(err, 400, E_INCOMPLETE);
		err_add(err, "The request has more than one Authorization header.");
		return -EACCES;
	}
	if (strchr(req->uri, '#') != NULL) {
		err_begin(err, 400, E_INCOMPLETE);
		err_add(err,
		    "The request URI holds a raw '#', which cannot be signed: send it as %23.");
		return -EACCES;
	}
	r = parse_params(a, err);
	if (r == 0)
		r = check_required(req, a, err);
	if (r == 0)
		header_find(req, span_of("X-Amz-Date"), &a->amz_date);
	return r;
}

/* Step 3: the date's form, then the 15-minute window either way. */
static int
check_date(const struct auth *a, const struct ht_sigv4_expect *x, struct ht_sigv4_error *err)
{
	char lim[AMZ_DATE_LEN + 1], now[AMZ_DATE_LEN + 1];
	int64_t t;

	if (parse_amz_date(a->amz_date, &t) < 0) {
		err_begin(err, 400, E_INCOMPLETE);
		err_add(err, "Date must be in ISO-8601 'basic format'. Got '");
		err_quote(err, span_of(a->amz_date));
		err_add(err, "'. See http://en.wikipedia.org/wiki/ISO_8601");
		return -EACCES;
	}
	fmt_amz_date(x->now, now);
	if (t < x->now - HT_SIGV4_MAX_SKEW_S) {
		fmt_amz_date(x->now - HT_SIGV4_MAX_SKEW_S, lim);
		err_begin(err, 400, E_INVALID);
		snprintf(err->message, sizeof(err->message),
		    "Signature expired: %s is now earlier than %s (%s - 15 min.)", a->amz_date, lim,
		    now);
		return -EACCES;
	}
	if (t > x->now + HT_SIGV4_MAX_SKEW_S) {
		fmt_amz_date(x->now + HT_SIGV4_MAX_SKEW_S, lim);
		err_begin(err, 400, E_INVALID);
		snprintf(err->message, sizeof(err->message),
		    "Signature not yet current: %s is still later than %s (%s + 15 min.)",
		    a->amz_date, lim, now);
		return -EACCES;
	}
	return 0;
}

static bool
is_signed(const struct auth *a, const char *lname)
{
	struct span name;
	size_t pos = 0;

	while (next_signed(a->signed_headers, &pos, &name))
		if (span_caseeq(name, lname))
			return true;
	return false;
}

static int
refuse_unsigned(struct ht_sigv4_error *err, const char *header)
{
	err_begin(err, 400, E_INVALID);
	err_add(err, header);
	err_add(err, " must be a 'SignedHeader' in the AWS Authorization.");
	return -EACCES;
}

/* Step 4: host, x-amz-date (and x-amz-target when sent) must be signed, and
 * every signed header must be in the request. */
static int
check_signed_headers(const struct ht_sigv4_request *req, const struct auth *a,
    struct ht_sigv4_error *err)
{
	struct span name;
	size_t pos = 0;

	if (!is_signed(a, "host"))
		return refuse_unsigned(err, "'Host' or ':authority'");
	if (!is_signed(a, "x-amz-date"))
		return refuse_unsigned(err, "'X-Amz-Date'");
	if (header_find(req, span_of("X-Amz-Target"), NULL) > 0 && !is_signed(a, "x-amz-target"))
		return refuse_unsigned(err, "'X-Amz-Target'");
	while (next_signed(a->signed_headers, &pos, &name)) {
		if (header_find(req, name, NULL) > 0)
			continue;
		err_begin(err, 400, E_INCOMPLETE);
		err_add(err, "'");
		err_quote(err, name);
		err_add(err,
		    "' is named as a SignedHeader, but it does not exist in the HTTP request.");
		return -EACCES;
	}
	return 0;
}

/* Step 5: algorithm, the credential's shape, then its scope against what we
 * accept (all scope mismatches reported at once, as AWS does).  *ret_service
 * is the accepted service the scope names. */
static int
check_scope(struct auth *a, const struct ht_sigv4_expect *x, const char **ret_service,
    struct ht_sigv4_error *err)
{
	const char *const *s;

	if (!span_eq(a->algorithm, HT_SIGV4_ALGORITHM)) {
		err_begin(err, 400, E_INCOMPLETE);
		err_add(err, "Unsupported AWS 'algorithm': '");
		err_quote(err, a->algorithm);
		err_add(err, "' (only AWS4-HMAC-SHA256 for now). ");
		return -EACCES;
	}
	if (split_credential(a) < 0) {
		err_begin(err, 400, E_INCOMPLETE);
		err_add(err,
		    "Credential must have exactly 5 slash-delimited elements, e.g. "
		    "keyid/date/region/service/term, got '");
		err_quote(err, a->credential);
		err_add(err, "'");
		return -EACCES;
	}
	err_begin(err, 400, E_INVALID);
	if (!span_eq(a->region, x->region)) {
		err_add(err, "Credential should be scoped to a valid region, not '");
		err_quote(err, a->region);
		err_add(err, "'. ");
	}
	*ret_service = NULL;
	for (s = x->services; *s != NULL && *ret_service == NULL; s++)
		if (span_eq(a->service, *s))
			*ret_service = *s;
	if (*ret_service == NULL) {
		err_add(err, "Credential should be scoped to correct service: '");
		err_add(err, x->services[0]);
		err_add(err, "'. ");
	}
	if (!span_eq(a->terminator, TERMINATOR)) {
		err_add(err,
		    "Credential should be scoped with a valid terminator: 'aws4_request', not '");
		err_quote(err, a->terminator);
		err_add(err, "'. ");
	}
	if (a->date.n != SCOPE_DATE_LEN || memcmp(a->date.p, a->amz_date, SCOPE_DATE_LEN) != 0) {
		err_add(err,
		    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
		    "of date from HTTP: '");
		err_quote(err, a->date);
		err_add(err, "' != '");
		err_quote(err, (struct span){ a->amz_date, SCOPE_DATE_LEN });
		err_add(err, "', from '");
		err_add(err, a->amz_date);
		err_add(err, "'.");
	}
	return err->message[0] != '\0' ? -EACCES : 0;
}

static const struct key *
store_find(const struct ht_sigv4_store *store, struct span id)
{
	size_t i;

	for (i = 0; store != NULL && i < store->n; i++)
		if (span_eq(id, store->keys[i].id))
			return &store->keys[i];
	return NULL;
}

static int
refuse_token(struct ht_sigv4_error *err)
{
	err_begin(err, 400, E_UNRECOGNIZED);
	err_add(err, MSG_BAD_TOKEN);
	return -EACCES;
}

/* An X-Amz-Content-SHA256 header, if sent once, must name the body's hash. */
static bool
content_hash_ok(const struct ht_sigv4_request *req, const char *payload_hex)
{
	const char *claimed = NULL;
	size_t n = header_find(req, span_of("X-Amz-Content-SHA256"), &claimed), i;

	if (n == 0)
		return true;
	if (n > 1 || strlen(claimed) != SIG_HEX_LEN)
		return false;
	for (i = 0; i < SIG_HEX_LEN; i++)
		if (to_lower((unsigned char)claimed[i]) != (unsigned char)payload_hex[i])
			return false;
	return true;
}

/* Who signs, in which scope, and how the path is signed. */
struct signer {
	const void *secret;
	size_t secret_len;
	const char *region, *service;
	bool s3_uri;
};

/* The canonical request, string to sign and signature (lowercase hex) of req
 * as a describes it (a->date must be SCOPE_DATE_LEN long).  Both sides use
 * it, so what ht_sigv4_sign() signs verifies here by construction.  creq
 * and sts are the caller's to free, whatever the result. */
static int
compute_signature(const struct ht_sigv4_request *req, const struct auth *a, const struct signer *s,
    const char *payload_hex, struct sbuf *creq, struct sbuf *sts, char out[SIG_HEX_LEN + 1])
{
	uint8_t key[HT_SHA256_LEN], mac[HT_SHA256_LEN];
	char date[SCOPE_DATE_LEN + 1];
	int r;

	memcpy(date, a->date.p, SCOPE_DATE_LEN);
	date[SCOPE_DATE_LEN] = '\0';
	r = build_canonical(req, a, s->s3_uri, payload_hex, creq);
	if (r == 0)
		r = build_string_to_sign(a, creq->p, sts);
	if (r == 0)
		r = ht_sigv4_signing_key(s->secret, s->secret_len, date, s->region, s->service,
		    key);
	if (r == 0)
		r = ht_hmac_sha256(key, sizeof(key), sts->p, sts->len, mac);
	if (r == 0)
		ht_hex(mac, sizeof(mac), out);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(mac, sizeof(mac));
	return r;
}

/* Step 7: payload hash, then the signature in constant time. */
static int
check_signature(const struct ht_sigv4_request *req, const struct auth *a, const struct key *k,
    const char *region, const char *service, struct ht_sigv4_error *err)
{
	const struct signer sg = { k->secret, k->secret_len, region, service, false };
	char payload[SIG_HEX_LEN + 1], want[SIG_HEX_LEN + 1];
	struct sbuf creq = { 0 }, sts = { 0 };
	bool ok;
	int r = 0;

	hex_sha256(req->body, req->body_len, payload, &r);
	if (r < 0)
		return err_internal(err, r);
	if (!content_hash_ok(req, payload)) {
		err_begin(err, 400, E_INVALID);
		err_add(err,
		    "The provided 'x-amz-content-sha256' header does not match what was "
		    "computed.");
		return -EACCES;
	}
	r = compute_signature(req, a, &sg, payload, &creq, &sts, want);
	free(creq.p);
	free(sts.p);
	if (r < 0)
		return err_internal(err, r);
	ok = a->signature.n == SIG_HEX_LEN && ht_memeq_consttime(want, a->signature.p, SIG_HEX_LEN);
	OPENSSL_cleanse(want, sizeof(want));
	if (ok)
		return 0;
	err_begin(err, 400, E_INVALID);
	err_add(err, MSG_MISMATCH);
	return -EACCES;
}

int
ht_sigv4_verify(const struct ht_sigv4_store *store, const struct ht_sigv4_request *req,
    const struct ht_sigv4_expect *expect, struct ht_sigv4_identity *ret_id,
    struct ht_sigv4_error *err)
{
	const struct key *k = NULL;
	const char *service = NULL;
	struct auth a;
	int r;

	memset(&a, 0, sizeof(a));
	r = check_presence(req, &a, err);
	if (r == 0)
		r = check_date(&a, expect, err);
	if (r == 0)
		r = check_signed_headers(req, &a, err);
	if (r == 0)
		r = check_scope(&a, expect, &service, err);
	if (r == 0 && (k = store_find(store, a.key_id)) == NULL)
		r = refuse_token(err);
	if (r == 0)
		r = check_signature(req, &a, k, expect->region, service, err);
	/* No STS: a session token cannot be valid (AWS checks it after the signature). */
	if (r == 0 && header_find(req, span_of("X-Amz-Security-Token"), NULL) > 0)
		r = refuse_token(err);
	if (r < 0)
		return r;
	snprintf(ret_id->access_key_id, sizeof(ret_id->access_key_id), "%s", k->id);
	snprintf(ret_id->service, sizeof(ret_id->service), "%s", service);
	ret_id->access = k->access;
	return 0;
}

int
ht_sigv4_canonical(const struct ht_sigv4_request *req, char **ret_creq, char **ret_sts)
{
	struct ht_sigv4_error err;
	struct sbuf creq = { 0 }, sts = { 0 };
	char payload[SIG_HEX_LEN + 1];
	struct auth a;
	int r = 0;

	memset(&a, 0, sizeof(a));
	if (check_presence(req, &a, &err) < 0 || split_credential(&a) < 0)
		return -EINVAL;
	hex_sha256(req->body, req->body_len, payload, &r);
	if (r == 0)
		r = build_canonical(req, &a, false, payload, &creq);
	if (r == 0)
		r = build_string_to_sign(&a, creq.p, &sts);
	if (r < 0) {
		free(creq.p);
		free(sts.p);
		return r;
	}
	*ret_creq = creq.p;
	*ret_sts = sts.p;
	return 0;
}

int
ht_sigv4_signing_key(const void *secret, size_t secret_len, const char *date, const char *region,
    const char *service, uint8_t out[HT_SHA256_LEN])
{
	uint8_t k[4 + HT_SIGV4_SECRET_MAX], a[HT_SHA256_LEN], b[HT_SHA256_LEN];
	int r;

	if (secret_len > HT_SIGV4_SECRET_MAX)
		return -EINVAL;
	memcpy(k, "AWS4", 4);
	if (secret_len > 0)
		memcpy(k + 4, secret, secret_len);
	r = ht_hmac_sha256(k, 4 + secret_len, date, strlen(date), a);
	if (r == 0)
		r = ht_hmac_sha256(a, sizeof(a), region, strlen(region), b);
	if (r == 0)
		r = ht_hmac_sha256(b, sizeof(b), service, strlen(service), a);
	if (r == 0)
		r = ht_hmac_sha256(a, sizeof(a), TERMINATOR, strlen(TERMINATOR), out);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	return r;
}

/* ---- access levels ---- */

bool
ht_sigv4_operation_is_read(const char *op)
{
	static const char *const prefixes[] = { "Describe", "Get", "List", NULL };
	size_t i, n;

	if (op == NULL)
		return false;
	if (strcmp(op, "LookupEvents") == 0)
		return true;
	for (i = 0; prefixes[i] != NULL; i++) {
		n = strlen(prefixes[i]);
		if (strncmp(op, prefixes[i], n) == 0 && op[n] >= 'A' && op[n] <= 'Z')
			return true;
	}
	return false;
}

int
ht_sigv4_authorize(const struct ht_sigv4_identity *id, const char *account_id,
    const char *operation, struct ht_sigv4_error *err)
{
	if (id->access == HT_ACCESS_ADMIN || ht_sigv4_operation_is_read(operation))
		return 0;
	err_begin(err, 400, E_DENIED);
	err_add(err, "User: arn:aws:iam::");
	err_add(err, account_id);
	err_add(err, ":user/");
	err_add(err, id->access_key_id);
	err_add(err, " is not authorized to perform: ");
	err_add(err, id->service);
	err_add(err, ":");
	err_quote(err, span_of(operation != NULL ? operation : ""));
	return -EACCES;
}

/* ---- the store ---- */

int
ht_sigv4_store_new(struct ht_sigv4_store **ret)
{
	struct ht_sigv4_store *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int
ht_sigv4_store_add(struct ht_sigv4_store *store, const char *access_key_id, const void *secret,
    size_t secret_len, enum ht_access access)
{
	struct key *keys, k = { .access = access, .secret_len = secret_len };
	size_t idlen = strlen(access_key_id);

	if (idlen == 0 || idlen > HT_SIGV4_KEY_ID_MAX || secret_len == 0 ||
	    secret_len > HT_SIGV4_SECRET_MAX)
		return -EINVAL;
	if (store_find(store, span_of(access_key_id)) != NULL)
		return -EEXIST;
	if (store->n == store->cap) {
		size_t cap = store->cap ? store->cap * 2 : 4;

		keys = reallocarray(store->keys, cap, sizeof(*keys));
		if (keys == NULL)
			return -ENOMEM;
		store->keys = keys;
		store->cap = cap;
	}
	k.id = strdup(access_key_id);
	k.secret = malloc(secret_len);
	if (k.id == NULL || k.secret == NULL) {
		free(k.id);
		free(k.secret);
		return -ENOMEM;
	}
	memcpy(k.secret, secret, secret_len);
	store->keys[store->n++] = k;
	return 0;
}

size_t
ht_sigv4_store_count(const struct ht_sigv4_store *store)
{
	return store != NULL ? store->n : 0;
}

void
ht_sigv4_store_free(struct ht_sigv4_store *store)
{
	size_t i;

	if (store == NULL)
		return;
	for (i = 0; i < store->n; i++) {
		OPENSSL_cleanse(store->keys[i].secret, store->keys[i].secret_len);
		free(store->keys[i].secret);
		free(store->keys[i].id);
	}
	free(store->keys);
	free(store);
}

/* Read path's secret into buf (HT_SIGV4_SECRET_MAX + 3 bytes).  0 with the
 * length and file mode, or -errno with *why set to a static reason. */
static int
read_secret(const char *path, uint8_t *buf, size_t *ret_len, mode_t *ret_mode, const char **why)
{
	size_t cap = HT_SIGV4_SECRET_MAX + 3, n = 0;
	struct stat st;
	ssize_t got;
	int fd, r = 0;

	memset(&st, 0, sizeof(st));
	/* O_NONBLOCK: a FIFO put there must not hang the daemon. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		*why = strerror(-r);
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		*why = strerror(-r);
	} else if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		*why = "not a regular file";
	} else if (st.st_mode & (S_IROTH | S_IWOTH)) {
		r = -EPERM;
		*why = "readable or writable by others (chmod o-rw it; the group may read it)";
	}
	while (r == 0 && n < cap) {
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			*why = strerror(-r);
		} else if (got == 0) {
			break;
		}
		n += got > 0 ? (size_t)got : 0;
	}
	close(fd);
	if (r == 0 && n == cap) {
		r = -EFBIG;
		*why = "longer than " STR(HT_SIGV4_SECRET_MAX) " bytes";
	}
	*ret_len = n;
	*ret_mode = st.st_mode;
	return r;
}

/* One trailing "\n" or "\r\n" goes; what is left must be 1..MAX bytes with
 * no NUL or line break.  0 or -EINVAL/-EFBIG with *why. */
static int
trim_secret(const uint8_t *buf, size_t *len, const char **why)
{
	size_t n = *len;

	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0) {
		*why = "is empty";
		return -EINVAL;
	}
	if (n > HT_SIGV4_SECRET_MAX) {
		*why = "longer than " STR(HT_SIGV4_SECRET_MAX) " bytes";
		return -EFBIG;
	}
	if (memchr(buf, '\0', n) != NULL || memchr(buf, '\n', n) != NULL ||
	    memchr(buf, '\r', n) != NULL) {
		*why = "holds a NUL or a line break inside the secret (one trailing newline is "
		       "allowed)";
		return -EINVAL;
	}
	*len = n;
	return 0;
}

static int
load_one(struct ht_sigv4_store *s, const struct ht_conf_credential *c, size_t idx, char *errbuf,
    size_t errlen)
{
	uint8_t buf[HT_SIGV4_SECRET_MAX + 3];
	const char *why = NULL;
	mode_t mode = 0;
	size_t len = 0;
	int r;

	r = read_secret(c->secret_file, buf, &len, &mode, &why);
	if (r == 0)
		r = trim_secret(buf, &len, &why);
	if (r == 0) {
		r = ht_sigv4_store_add(s, c->access_key_id, buf, len, c->access);
		if (r < 0)
			why = r == -EEXIST ? "duplicate access key ID" : strerror(-r);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	if (r < 0) {
		snprintf(errbuf, errlen, "api.credentials[%zu] (%s): secret_file %s: %s", idx,
		    c->access_key_id, c->secret_file, why);
		return r;
	}
	if (mode & S_IWGRP)
		log_warnx("api.credentials[%zu] (%s): secret_file %s is writable by its group", idx,
		    c->access_key_id, c->secret_file);
	return 0;
}

int
ht_sigv4_store_load(const struct ht_conf_api *api, struct ht_sigv4_store **ret, char *errbuf,
    size_t errlen)
{
	struct ht_sigv4_store *s;
	size_t i;
	int r;

	r = ht_sigv4_store_new(&s);
	if (r < 0) {
		snprintf(errbuf, errlen, "api.credentials: %s", strerror(-r));
		return r;
	}
	for (i = 0; i < api->n_credentials; i++) {
		r = load_one(s, &api->credentials[i], i, errbuf, errlen);
		if (r < 0) {
			ht_sigv4_store_free(s);
			return r;
		}
	}
	*ret = s;
	return 0;
}

/* ---- signing ---- */

/* The headers ht_sigv4_sign() sets itself; a caller may not pass them. */
static const char *const owned_headers[] = { "host", "authorization", "x-amz-date",
	"x-amz-content-sha256", "x-amz-security-token", NULL };

/* An RFC 7230 token: what a method or a header name is made of. */
static bool
is_token(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!is_alnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return false;
	return true;
}

/* Non-empty printable ASCII without spaces and without any byte of deny. */
static bool
is_visible(const char *s, const char *deny)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c >= 0x7f || strchr(deny, c) != NULL)
			return false;
	}
	return true;
}

/* S3 mode wants the path as on the wire: printable ASCII, escapes complete.
 * Either mode: a leading '/', no '?' or '#' (the query is separate), no
 * control byte. */
static bool
path_ok(const char *path, enum ht_sigv4_uri_mode mode)
{
	const unsigned char *p = (const unsigned char *)path;
	bool s3 = mode == HT_SIGV4_URI_S3;

	if (p == NULL || *p != '/')
		return false;
	for (; *p != '\0'; p++) {
		if (*p == '?' || *p == '#' || *p < 0x20 || *p == 0x7f)
			return false;
		if (s3 && (*p == ' ' || *p >= 0x80))
			return false;
		if (s3 && *p == '%' && (hex_val(p[1]) < 0 || hex_val(p[2]) < 0))
			return false;
	}
	return true;
}

static bool
header_ok(const struct ht_sigv4_header *h)
{
	size_t i;

	if (!is_token(h->name) || h->value == NULL || strpbrk(h->value, "\r\n") != NULL)
		return false;
	for (i = 0; owned_headers[i] != NULL; i++)
		if (strcasecmp(h->name, owned_headers[i]) == 0)
			return false;
	return true;
}

/* Everything ht_sigv4_sign() refuses with -EINVAL but the payload hash. */
static int
check_sign_params(const struct ht_sigv4_sign_params *p)
{
	const char *tok = p->session_token;
	size_t i;

	if (p->uri_mode != HT_SIGV4_URI_S3 && p->uri_mode != HT_SIGV4_URI_NORMALIZE)
		return -EINVAL;
	if (!is_token(p->method) || !is_visible(p->host, "/") || !path_ok(p->path, p->uri_mode))
		return -EINVAL;
	/* scope parts and the key ID end up '/'-separated in Credential= */
	if (!is_visible(p->region, "/") || strlen(p->region) > HT_SIGV4_SERVICE_MAX ||
	    !is_visible(p->service, "/") || strlen(p->service) > HT_SIGV4_SERVICE_MAX ||
	    !is_visible(p->access_key_id, "/,") || strlen(p->access_key_id) > HT_SIGV4_KEY_ID_MAX)
		return -EINVAL;
	if (p->secret == NULL || p->secret_len == 0 || p->secret_len > HT_SIGV4_SECRET_MAX)
		return -EINVAL;
	if (tok != NULL && *tok != '\0' && !is_visible(tok, ""))
		return -EINVAL;
	if (p->now < 0 || p->now > 253402300799LL) /* 9999-12-31T23:59:59Z */
		return -EINVAL;
	if ((p->n_query > 0 && p->query == NULL) || (p->n_headers > 0 && p->headers == NULL) ||
	    (p->payload == NULL && p->payload_len > 0))
		return -EINVAL;
	for (i = 0; i < p->n_query; i++)
		if (p->query[i].name == NULL || p->query[i].name[0] == '\0')
			return -EINVAL;
	for (i = 0; i < p->n_headers; i++)
		if (!header_ok(&p->headers[i]))
			return -EINVAL;
	return 0;
}

/* The payload hash to sign: the body's, or the caller's (lowercased). */
static int
payload_hash(const struct ht_sigv4_sign_params *p, char out[SIG_HEX_LEN + 1])
{
	const char *h = p->payload_sha256;
	int r = 0;
	size_t i;

	if (h == NULL) {
		hex_sha256(p->payload, p->payload_len, out, &r);
		return r;
	}
	if (p->uri_mode == HT_SIGV4_URI_S3 && strcmp(h, HT_SIGV4_UNSIGNED_PAYLOAD) == 0) {
		snprintf(out, SIG_HEX_LEN + 1, "%s", h);
		return 0;
	}
	if (strlen(h) != SIG_HEX_LEN)
		return -EINVAL;
	for (i = 0; i < SIG_HEX_LEN; i++) {
		if (hex_val((unsigned char)h[i]) < 0)
			return -EINVAL;
		out[i] = (char)to_lower((unsigned char)h[i]);
	}
	out[SIG_HEX_LEN] = '\0';
	return 0;
}

/* The request-target: the path, then "?k=v&k" with every name and value
 * RFC 3986-encoded, in the caller's order. */
static void
build_target(const struct ht_sigv4_sign_params *p, struct sbuf *b)
{
	size_t i;

	sb_adds(b, p->path);
	for (i = 0; i < p->n_query; i++) {
		sb_addc(b, i == 0 ? '?' : '&');
		sb_encode(b, p->query[i].name, false);
		if (p->query[i].value != NULL) {
			sb_addc(b, '=');
			sb_encode(b, p->query[i].value, false);
		}
	}
}

static int
name_cmp(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* SignedHeaders: the names of h lowercased, sorted, each once. 0 or -ENOMEM. */
static int
build_signed_names(const struct ht_sigv4_header *h, size_t n, struct sbuf *b)
{
	const char **names = calloc(n, sizeof(*names));
	const char *c;
	size_t i;

	if (names == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		names[i] = h[i].name;
	qsort(names, n, sizeof(*names), name_cmp);
	sb_add(b, "", 0);
	for (i = 0; i < n; i++) {
		if (i > 0 && strcasecmp(names[i], names[i - 1]) == 0)
			continue;
		if (i > 0)
			sb_addc(b, ';');
		for (c = names[i]; *c != '\0'; c++)
			sb_addc(b, (char)to_lower((unsigned char)*c));
	}
	free(names);
	return b->oom ? -ENOMEM : 0;
}

/* Every header that will be signed: the caller's, Host, X-Amz-Date, then
 * X-Amz-Content-SHA256 (S3) and X-Amz-Security-Token (if any).  *ret_h is
 * malloc'd; its values are borrowed from p, date and payload. */
static int
signed_header_list(const struct ht_sigv4_sign_params *p, const char *date, const char *payload,
    struct ht_sigv4_header **ret_h, size_t *ret_n)
{
	const char *tok = p->session_token;
	struct ht_sigv4_header *h;
	size_t n = p->n_headers;

	h = calloc(n + 4, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	if (n > 0)
		memcpy(h, p->headers, n * sizeof(*h));
	h[n++] = (struct ht_sigv4_header){ "Host", p->host };
	h[n++] = (struct ht_sigv4_header){ "X-Amz-Date", date };
	if (p->uri_mode == HT_SIGV4_URI_S3)
		h[n++] = (struct ht_sigv4_header){ "X-Amz-Content-SHA256", payload };
	if (tok != NULL && *tok != '\0')
		h[n++] = (struct ht_sigv4_header){ "X-Amz-Security-Token", tok };
	*ret_h = h;
	*ret_n = n;
	return 0;
}

/* A copy of creq with the session token's value replaced: the debug text
 * must hold no credential.  The header is lowercase there, at a line start. */
static char *
redact_token(const char *creq)
{
	static const char line[] = "\nx-amz-security-token:";
	const char *at = strstr(creq, line), *end;
	struct sbuf b = { 0 };

	if (at == NULL)
		return strdup(creq);
	at += strlen(line);
	end = at + strcspn(at, "\n");
	sb_add(&b, creq, (size_t)(at - creq));
	sb_adds(&b, HT_SIGV4_REDACTED);
	sb_adds(&b, end);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* "AWS4-HMAC-SHA256 Credential=K/D/R/S/aws4_request, SignedHeaders=...,
 * Signature=...", botocore's spelling to the byte. */
static char *
build_authorization(const struct ht_sigv4_sign_params *p, const char *date, const char *names,
    const char *sig)
{
	struct sbuf b = { 0 };

	sb_adds(&b, HT_SIGV4_ALGORITHM " Credential=");
	sb_adds(&b, p->access_key_id);
	sb_addc(&b, '/');
	sb_add(&b, date, SCOPE_DATE_LEN);
	sb_addc(&b, '/');
	sb_adds(&b, p->region);
	sb_addc(&b, '/');
	sb_adds(&b, p->service);
	sb_adds(&b, "/" TERMINATOR ", SignedHeaders=");
	sb_adds(&b, names);
	sb_adds(&b, ", Signature=");
	sb_adds(&b, sig);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

static void
signed_add(struct ht_sigv4_signed *out, const char *name, char *value, int *r)
{
	out->headers[out->n_headers].name = name;
	out->headers[out->n_headers++].value = value;
	if (value == NULL)
		*r = -ENOMEM;
}

/* The headers to send, in the order the header file promises. */
static int
signed_fill(const struct ht_sigv4_sign_params *p, const char *date, const char *payload,
    const char *auth_value, struct ht_sigv4_signed *out)
{
	const char *tok = p->session_token;
	int r = 0;

	signed_add(out, "X-Amz-Date", strdup(date), &r);
	if (p->uri_mode == HT_SIGV4_URI_S3)
		signed_add(out, "X-Amz-Content-SHA256", strdup(payload), &r);
	if (tok != NULL && *tok != '\0')
		signed_add(out, "X-Amz-Security-Token", strdup(tok), &r);
	signed_add(out, "Authorization", strdup(auth_value), &r);
	return r;
}

/* The scope and SignedHeaders of the request being signed, in the shape
 * the verifier takes apart from an Authorization header. */
static void
auth_for(const struct ht_sigv4_sign_params *p, const char *date, const struct sbuf *names,
    struct auth *a)
{
	memset(a, 0, sizeof(*a));
	a->algorithm = span_of(HT_SIGV4_ALGORITHM);
	a->signed_headers = (struct span){ names->p, names->len };
	a->date = (struct span){ date, SCOPE_DATE_LEN };
	a->region = span_of(p->region);
	a->service = span_of(p->service);
	a->terminator = span_of(TERMINATOR);
	a->amz_date = date;
}

/* Canonical request, string to sign, signature and Authorization of p; the
 * request-target is already in target.  Fills out on success. */
static int
sign_request(const struct ht_sigv4_sign_params *p, const char *date, const char *payload,
    struct sbuf *target, struct ht_sigv4_signed *out)
{
	const struct signer sg = { p->secret, p->secret_len, p->region, p->service,
		p->uri_mode == HT_SIGV4_URI_S3 };
	struct sbuf names = { 0 }, creq = { 0 }, sts = { 0 };
	struct ht_sigv4_header *h = NULL;
	struct ht_sigv4_request req = { .method = p->method, .uri = target->p };
	char sig[SIG_HEX_LEN + 1], *auth_value = NULL;
	struct auth a;
	int r;

	r = signed_header_list(p, date, payload, &h, &req.n_headers);
	req.headers = h;
	if (r == 0)
		r = build_signed_names(h, req.n_headers, &names);
	auth_for(p, date, &names, &a);
	if (r == 0)
		r = compute_signature(&req, &a, &sg, payload, &creq, &sts, sig);
	if (r == 0 && (auth_value = build_authorization(p, date, names.p, sig)) == NULL)
		r = -ENOMEM;
	if (r == 0)
		r = signed_fill(p, date, payload, auth_value, out);
	if (r == 0 && (out->canonical_request = redact_token(creq.p)) == NULL)
		r = -ENOMEM;
	if (r == 0) {
		out->string_to_sign = sts.p;
		sts.p = NULL;
	}
	OPENSSL_cleanse(sig, sizeof(sig));
	if (creq.p != NULL)
		OPENSSL_cleanse(creq.p, creq.len); /* may hold the session token */
	free(auth_value);
	free(creq.p);
	free(sts.p);
	free(names.p);
	free(h);
	return r;
}

int
ht_sigv4_sign(const struct ht_sigv4_sign_params *p, struct ht_sigv4_signed *ret)
{
	char payload[SIG_HEX_LEN + 1], date[AMZ_DATE_LEN + 1];
	struct ht_sigv4_signed out;
	struct sbuf target = { 0 };
	int r;

	memset(&out, 0, sizeof(out));
	r = check_sign_params(p);
	if (r == 0)
		r = payload_hash(p, payload);
	if (r < 0)
		return r;
	fmt_amz_date(p->now, date);
	build_target(p, &target);
	r = target.oom ? -ENOMEM : sign_request(p, date, payload, &target, &out);
	if (r < 0) {
		free(target.p);
		ht_sigv4_signed_clear(&out);
		return r;
	}
	out.target = target.p;
	*ret = out;
	return 0;
}

const char *
ht_sigv4_signed_header(const struct ht_sigv4_signed *s, const char *name)
{
	size_t i;

	for (i = 0; s != NULL && i < s->n_headers; i++)
		if (strcasecmp(s->headers[i].name, name) == 0)
			return s->headers[i].value;
	return NULL;
}

void
ht_sigv4_signed_clear(struct ht_sigv4_signed *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_headers; i++) {
		char *v = (char *)s->headers[i].value;

		if (v != NULL)
			OPENSSL_cleanse(v, strlen(v)); /* the token, the signature */
		free(v);
	}
	free(s->target);
	free(s->canonical_request);
	free(s->string_to_sign);
	memset(s, 0, sizeof(*s));
}

/* ---- S3 helpers ---- */

int
ht_s3_uri_encode_key(const char *key, char **ret)
{
	struct sbuf b = { 0 };

	if (key == NULL)
		return -EINVAL;
	sb_encode(&b, key, true);
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	*ret = b.p;
	return 0;
}

int
ht_s3_path(const char *bucket, const char *key, bool virtual_hosted, char **ret)
{
	struct sbuf b = { 0 };

	if (bucket == NULL || bucket[0] == '\0' || strchr(bucket, '/') != NULL ||
	    (key != NULL && key[0] == '\0'))
		return -EINVAL;
	sb_addc(&b, '/');
	if (!virtual_hosted) {
		sb_encode(&b, bucket, false);
		if (key != NULL)
			sb_addc(&b, '/');
	}
	if (key != NULL)
		sb_encode(&b, key, true);
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	*ret = b.p;
	return 0;
}

/* Standard base64 of data's md digest into out (cap bytes with the NUL). */
static int
b64_digest(const EVP_MD *md, const void *data, size_t len, char *out, size_t cap)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (md == NULL || EVP_Digest(len > 0 ? data : "", len, d, &dlen, md, NULL) != 1)
		return -EIO;
	if ((size_t)(dlen + 2) / 3 * 4 + 1 > cap)
		return -EIO;
	EVP_EncodeBlock((unsigned char *)out, d, (int)dlen);
	return 0;
}

int
ht_s3_content_md5(const void *data, size_t len, char out[HT_S3_CONTENT_MD5_LEN + 1])
{
	return b64_digest(EVP_md5(), data, len, out, HT_S3_CONTENT_MD5_LEN + 1);
}

int
ht_s3_checksum_sha256(const void *data, size_t len, char out[HT_S3_CHECKSUM_SHA256_LEN + 1])
{
	return b64_digest(EVP_sha256(), data, len, out, HT_S3_CHECKSUM_SHA256_LEN + 1);
}

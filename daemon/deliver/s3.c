/*
 * s3.c - S3 PutObject on top of deliver/fetch.c: what is S3's own.
 *
 * A PUT becomes one signed fetch request: the endpoint is parsed into the
 * URL and Host header, the body's SHA-256 and Content-MD5 are taken from the
 * caller or computed here, the S3 headers (content type and encoding, SSE,
 * storage class, x-amz-meta-*) are built and signed with ht_sigv4_sign() in
 * S3 mode.  The answer is classified (ht_s3_classify()) after reading S3's
 * <Code> and <Message> from an error body; ETag and the request ID come from
 * the response headers.  Transport, timeouts, TLS, proxies and the loop
 * plumbing are fetch's.
 *
 * Invariants:
 *  - the client owns one fetch client; every accepted PUT is one fetch
 *    request whose s3_call record (the caller's callback) is freed right
 *    after that callback runs;
 *  - busy counts the frames inside this module that still use the client
 *    (a user callback running, ht_s3_client_free() cancelling): a client
 *    freed meanwhile is only marked dying and goes when busy drops to 0, so
 *    no frame above touches freed memory.
 *
 * The Host header is set explicitly to the string that was signed, so what
 * curl sends cannot differ from it (default ports, proxies, resolve
 * overrides).
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "api/sigv4.h"
#include "crypto.h"
#include "deliver/fetch.h"
#include "deliver/s3.h"

/* The headers of s3_build_headers(); then those plus Host and the signer's. */
#define S3_HDR_MAX (8 + HT_S3_META_MAX)
#define S3_FETCH_HDR_MAX (1 + S3_HDR_MAX + HT_SIGV4_SIGNED_HEADERS_MAX)
#define S3_FIELD_MAX 256

struct ht_s3_client {
	struct ht_fetch_client *fetch; /* NULL once freeing started */
	unsigned busy;
	bool dying;
};

/* One accepted PUT: whom to tell. */
struct s3_call {
	struct ht_s3_client *client;
	ht_s3_done_fn cb;
	void *arg;
};

/* A parsed endpoint: scheme://host[:port][/]. */
struct s3_endpoint {
	bool https;
	char host[256];
	unsigned port;
	bool ipv6;
};

/* A signed PUT, ready for ht_fetch_start(); s3_request_clear() frees it. */
struct s3_request {
	char *url;
	char hosthdr[544];
	struct ht_fetch_header headers[S3_FETCH_HDR_MAX];
	size_t n_headers;
	/* Header values that live as long as the headers do. */
	char metanames[HT_S3_META_MAX][S3_FIELD_MAX];
	char md5[HT_S3_CONTENT_MD5_LEN + 1];
	struct ht_sigv4_signed sig;
};

/* The response headers kept, in this order. */
enum { S3_KEEP_ETAG, S3_KEEP_AMZ_ID, S3_KEEP_OPENSTACK_ID, S3_N_KEEP };
static const char *const s3_keep_headers[S3_N_KEEP] = { "ETag", "x-amz-request-id",
	"x-openstack-request-id" };

/* ---- classification and error bodies ---- */

static const char *const s3_soon_codes[] = { "SlowDown", "Throttling", "ThrottlingException",
	"RequestLimitExceeded", "TooManyRequests", "RequestTimeout", "InternalError",
	"ServiceUnavailable", "OperationAborted", NULL };
static const char *const s3_slow_codes[] = { "AccessDenied", "NoSuchBucket", "InvalidAccessKeyId",
	"SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "AllAccessDisabled",
	"AccountProblem", "RequestTimeTooSkewed", NULL };

static bool
s3_code_in(const char *code, const char *const *list)
{
	for (; code != NULL && *list != NULL; list++)
		if (strcmp(code, *list) == 0)
			return true;
	return false;
}

enum ht_s3_outcome
ht_s3_classify(int curl_code, long http_status, const char *code)
{
	if (curl_code != CURLE_OK) {
		/* Local or configuration faults do not heal by retrying soon. */
		switch (curl_code) {
		case CURLE_READ_ERROR:
		case CURLE_ABORTED_BY_CALLBACK:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_URL_MALFORMAT:
			return HT_S3_RETRY_SLOWLY;
		default:
			return HT_S3_RETRY_SOON;
		}
	}
	if (http_status >= 200 && http_status < 300)
		return HT_S3_OK;
	if (s3_code_in(code, s3_soon_codes))
		return HT_S3_RETRY_SOON;
	if (s3_code_in(code, s3_slow_codes))
		return HT_S3_RETRY_SLOWLY;
	if (http_status == 0 || http_status == 408 || http_status == 429 || http_status >= 500)
		return HT_S3_RETRY_SOON;
	return HT_S3_RETRY_SLOWLY;
}

const char *
ht_s3_outcome_name(enum ht_s3_outcome o)
{
	switch (o) {
	case HT_S3_OK:
		return "ok";
	case HT_S3_RETRY_SOON:
		return "retry-soon";
	case HT_S3_RETRY_SLOWLY:
		return "retry-slowly";
	case HT_S3_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}

/* Decode one XML entity at s (after '&'); returns its length or 0. */
static size_t
s3_xml_entity(const char *s, size_t left, char *ret)
{
	static const struct {
		const char *name;
		char c;
	} ents[] = { { "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' },
		{ "apos;", '\'' } };

	for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
		size_t n = strlen(ents[i].name);
		if (left >= n && memcmp(s, ents[i].name, n) == 0) {
			*ret = ents[i].c;
			return n;
		}
	}
	return 0;
}

bool
ht_s3_xml_extract(const char *xml, size_t len, const char *tag, char *out, size_t cap)
{
	char open[64], close[64];
	const char *start, *end;
	size_t o = 0;

	if (xml == NULL || cap == 0 ||
	    snprintf(open, sizeof(open), "<%s>", tag) >= (int)sizeof(open))
		return false;
	snprintf(close, sizeof(close), "</%s>", tag);
	start = memmem(xml, len, open, strlen(open));
	if (start == NULL)
		return false;
	start += strlen(open);
	end = memmem(start, len - (size_t)(start - xml), close, strlen(close));
	if (end == NULL)
		return false;
	for (const char *p = start; p < end && o + 1 < cap; p++) {
		char ch = *p;
		if (ch == '&') {
			size_t n = s3_xml_entity(p + 1, (size_t)(end - p - 1), &ch);
			p += n;
		}
		/* Keep it one printable line: it ends up in logs and status. */
		out[o++] = ((unsigned char)ch < 0x20 || ch == 0x7f) ? ' ' : ch;
	}
	out[o] = '\0';
	return true;
}

/* ---- digests ---- */

/* Does req send the file at path rather than memory?  (body wins.) */
static bool
s3_body_is_file(const struct ht_s3_put *req)
{
	return req->body == NULL && req->path != NULL;
}

static int
s3_digest_mem(const void *data, size_t len, char sha_hex[2 * HT_SHA256_LEN + 1],
    char md5[HT_S3_CONTENT_MD5_LEN + 1])
{
	uint8_t sha[HT_SHA256_LEN];
	int r;

	if ((r = ht_sha256(data, len, sha)) < 0 || (r = ht_s3_content_md5(data, len, md5)) < 0)
		return r;
	ht_hex(sha, sizeof(sha), sha_hex);
	return 0;
}

/* Hash the file through a read-only mapping; it must be a regular file of
 * exactly size bytes, as fetch will check again when it opens it. */
static int
s3_digest_file(const char *path, uint64_t size, char sha_hex[2 * HT_SHA256_LEN + 1],
    char md5[HT_S3_CONTENT_MD5_LEN + 1])
{
	void *map = NULL;
	struct stat st;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	r = !S_ISREG(st.st_mode) ? -EINVAL : (uint64_t)st.st_size != size ? -EFBIG : 0;
	if (r == 0 && size > SIZE_MAX)
		r = -EFBIG;
	if (r < 0)
		goto out;
	if (size > 0) {
		map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			map = NULL;
			r = -errno;
			goto out;
		}
	}
	r = s3_digest_mem(map != NULL ? map : "", (size_t)size, sha_hex, md5);
out:
	if (map != NULL)
		munmap(map, (size_t)size);
	close(fd);
	return r;
}

/* The body's digests: from req, or computed here (blocking). */
static int
s3_digests(const struct ht_s3_put *req, char sha_hex[2 * HT_SHA256_LEN + 1],
    char md5[HT_S3_CONTENT_MD5_LEN + 1])
{
	if ((req->payload_sha256 == NULL) != (req->content_md5 == NULL))
		return -EINVAL;
	if (req->payload_sha256 != NULL) {
		if (strlen(req->payload_sha256) != 2 * HT_SHA256_LEN ||
		    strlen(req->content_md5) != HT_S3_CONTENT_MD5_LEN)
			return -EINVAL;
		memcpy(sha_hex, req->payload_sha256, 2 * HT_SHA256_LEN + 1);
		memcpy(md5, req->content_md5, HT_S3_CONTENT_MD5_LEN + 1);
		return 0;
	}
	if (s3_body_is_file(req))
		return s3_digest_file(req->path, req->file_size, sha_hex, md5);
	if (req->body == NULL && req->body_len > 0)
		return -EINVAL;
	return s3_digest_mem(req->body != NULL ? req->body : "", req->body_len, sha_hex, md5);
}

/* ---- building a request ---- */

static int
s3_parse_endpoint(const char *url, struct s3_endpoint *ep)
{
	const char *p, *hend;
	size_t hl;

	memset(ep, 0, sizeof(*ep));
	if (url == NULL)
		return -EINVAL;
	if (strncasecmp(url, "https://", 8) == 0) {
		ep->https = true;
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else {
		return -EINVAL;
	}
	if (*p == '[') {
		hend = strchr(p, ']');
		if (hend == NULL)
			return -EINVAL;
		hend++;
		ep->ipv6 = true;
	} else {
		hend = p + strcspn(p, ":/");
	}
	hl = (size_t)(hend - p);
	if (hl == 0 || hl >= sizeof(ep->host))
		return -EINVAL;
	memcpy(ep->host, p, hl);
	ep->host[hl] = '\0';
	for (size_t i = 0; i < hl; i++)
		if ((unsigned char)ep->host[i] <= ' ' || strchr("@?#%\\", ep->host[i]) != NULL)
			return -EINVAL;
	ep->port = ep->https ? 443 : 80;
	p = hend;
	if (*p == ':') {
		char *end;
		unsigned long port = strtoul(p + 1, &end, 10);
		if (end == p + 1 || port == 0 || port > 65535)
			return -EINVAL;
		ep->port = (unsigned)port;
		p = end;
	}
	if (!(*p == '\0' || (p[0] == '/' && p[1] == '\0')))
		return -EINVAL;
	return 0;
}

/* A metadata name S3 accepts: an HTTP token, kept to [A-Za-z0-9_-]. */
static bool
s3_meta_name_ok(const char *n)
{
	if (n == NULL || *n == '\0' || strlen(n) > 128)
		return false;
	for (; *n != '\0'; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
			(*n >= '0' && *n <= '9') || *n == '-' || *n == '_'))
			return false;
	return true;
}

/* The headers to sign and send besides the signer's own.  Meta names are
 * written into names[] (each S3_FIELD_MAX bytes). */
static int
s3_build_headers(const struct ht_s3_put *req, const char *md5, struct ht_sigv4_header *h,
    size_t *ret_n, char (*names)[S3_FIELD_MAX])
{
	size_t n = 0;

	if (req->n_meta > HT_S3_META_MAX || (req->n_meta > 0 && req->meta == NULL))
		return -EINVAL;
	h[n++] = (struct ht_sigv4_header){ "Content-MD5", md5 };
	if (req->content_type != NULL)
		h[n++] = (struct ht_sigv4_header){ "Content-Type", req->content_type };
	if (req->content_encoding != NULL)
		h[n++] = (struct ht_sigv4_header){ "Content-Encoding", req->content_encoding };
	if (req->sse == HT_S3_SSE_AES256)
		h[n++] = (struct ht_sigv4_header){ "x-amz-server-side-encryption", "AES256" };
	else if (req->sse == HT_S3_SSE_KMS) {
		h[n++] = (struct ht_sigv4_header){ "x-amz-server-side-encryption", "aws:kms" };
		if (req->sse_kms_key_id != NULL)
			h[n++] =
			    (struct ht_sigv4_header){ "x-amz-server-side-encryption-aws-kms-key-id",
				    req->sse_kms_key_id };
	}
	if (req->storage_class != NULL)
		h[n++] = (struct ht_sigv4_header){ "x-amz-storage-class", req->storage_class };
	for (size_t i = 0; i < req->n_meta; i++) {
		if (!s3_meta_name_ok(req->meta[i].name) || req->meta[i].value == NULL)
			return -EINVAL;
		snprintf(names[i], S3_FIELD_MAX, "x-amz-meta-%s", req->meta[i].name);
		h[n++] = (struct ht_sigv4_header){ names[i], req->meta[i].value };
	}
	*ret_n = n;
	return 0;
}

static void
s3_request_clear(struct s3_request *sr)
{
	ht_sigv4_signed_clear(&sr->sig);
	free(sr->url);
	sr->url = NULL;
}

/* The Host header and the URL's authority: the bucket goes in front of the
 * endpoint's host when virtual-hosted; the port is left out of Host when it
 * is the scheme's default, as clients do and servers sign. */
static int
s3_host(const struct ht_s3_put *req, const struct s3_endpoint *ep, char *reqhost, size_t cap,
    char *hosthdr, size_t hcap)
{
	bool vh = req->addressing == HT_S3_VIRTUAL_HOSTED;
	bool defport = ep->port == (ep->https ? 443u : 80u);

	if (snprintf(reqhost, cap, "%s%s%s", vh ? req->bucket : "", vh ? "." : "", ep->host) >=
	    (int)cap)
		return -EINVAL;
	snprintf(hosthdr, hcap, defport ? "%s" : "%s:%u", reqhost, ep->port);
	return 0;
}

/* The signed request's URL and headers: Host, ours, the signer's. */
static int
s3_fill_request(const struct s3_endpoint *ep, const char *reqhost, const struct ht_sigv4_header *h,
    size_t nh, struct s3_request *sr)
{
	if (asprintf(&sr->url, "%s://%s:%u%s", ep->https ? "https" : "http", reqhost, ep->port,
		sr->sig.target) < 0) {
		sr->url = NULL;
		return -ENOMEM;
	}
	sr->headers[sr->n_headers++] = (struct ht_fetch_header){ "Host", sr->hosthdr };
	for (size_t i = 0; i < nh; i++)
		sr->headers[sr->n_headers++] = (struct ht_fetch_header){ h[i].name, h[i].value };
	for (size_t i = 0; i < sr->sig.n_headers; i++)
		sr->headers[sr->n_headers++] =
		    (struct ht_fetch_header){ sr->sig.headers[i].name, sr->sig.headers[i].value };
	return 0;
}

/* Digest, build and sign req into sr. */
static int
s3_sign_request(const struct ht_s3_put *req, struct s3_request *sr)
{
	struct s3_endpoint ep;
	struct ht_sigv4_header h[S3_HDR_MAX];
	char sha_hex[2 * HT_SHA256_LEN + 1];
	char reqhost[512];
	struct ht_sigv4_sign_params p;
	bool vh = req->addressing == HT_S3_VIRTUAL_HOSTED;
	char *path = NULL;
	size_t nh = 0;
	int r;

	if ((r = s3_parse_endpoint(req->endpoint, &ep)) < 0)
		return r;
	if (req->key == NULL || req->key[0] == '\0' || req->region == NULL || (vh && ep.ipv6))
		return -EINVAL;
	if ((r = s3_host(req, &ep, reqhost, sizeof(reqhost), sr->hosthdr, sizeof(sr->hosthdr))) < 0)
		return r;
	if ((r = s3_digests(req, sha_hex, sr->md5)) < 0 ||
	    (r = s3_build_headers(req, sr->md5, h, &nh, sr->metanames)) < 0 ||
	    (r = ht_s3_path(req->bucket, req->key, vh, &path)) < 0)
		goto out;
	p = (struct ht_sigv4_sign_params){
		.uri_mode = HT_SIGV4_URI_S3,
		.method = "PUT",
		.host = sr->hosthdr,
		.path = path,
		.headers = h,
		.n_headers = nh,
		.payload_sha256 = sha_hex,
		.region = req->region,
		.service = "s3",
		.access_key_id = req->access_key_id,
		.secret = req->secret,
		.secret_len = req->secret_len,
		.session_token = req->session_token,
		.now = (int64_t)time(NULL),
	};
	if ((r = ht_sigv4_sign(&p, &sr->sig)) < 0)
		goto out;
	r = s3_fill_request(&ep, reqhost, h, nh, sr);
out:
	free(path);
	return r;
}

/* The fetch request carrying sr and req's body and transport settings. */
static void
s3_fetch_req(const struct ht_s3_put *req, const struct s3_request *sr, struct ht_fetch_req *fr)
{
	*fr = (struct ht_fetch_req){
		.method = "PUT",
		.url = sr->url,
		.headers = sr->headers,
		.n_headers = sr->n_headers,
		.ca_file = req->ca_file,
		.resolve_to = req->resolve_to,
		.connect_timeout_ms = req->connect_timeout_ms,
		.timeout_ms = req->timeout_ms,
		.max_response = HT_S3_ERROR_BODY_MAX,
		.keep_headers = s3_keep_headers,
		.n_keep_headers = S3_N_KEEP,
	};
	if (s3_body_is_file(req)) {
		fr->path = req->path;
		fr->file_size = req->file_size;
	} else {
		fr->body = req->body;
		fr->body_len = req->body_len;
	}
}

/* ---- results ---- */

/* Drop one use of c; the last one frees a dying client. */
static void
s3_client_release(struct ht_s3_client *c)
{
	if (--c->busy == 0 && c->dying)
		free(c);
}

/* fetch's done callback: an S3 result for the caller. */
static void
s3_done_cb(const struct ht_fetch_result *fr, void *arg)
{
	struct s3_call *call = arg;
	struct ht_s3_client *c = call->client;
	const char *const *hv = fr->header_values;
	char code[128] = "", message[512] = "";
	struct ht_s3_result res = { 0 };

	if (!fr->cancelled && fr->http_status >= 300) {
		ht_s3_xml_extract(fr->body, fr->body_len, "Code", code, sizeof(code));
		ht_s3_xml_extract(fr->body, fr->body_len, "Message", message, sizeof(message));
	}
	res.http_status = fr->http_status;
	res.code = code;
	res.message = message;
	res.curl_error = fr->curl_error;
	res.etag = hv[S3_KEEP_ETAG];
	res.request_id = hv[S3_KEEP_AMZ_ID];
	if (res.request_id[0] == '\0')
		res.request_id = hv[S3_KEEP_OPENSTACK_ID];
	res.outcome = fr->cancelled ? HT_S3_CANCELLED :
				      ht_s3_classify(fr->curl_code, fr->http_status, code);
	c->busy++;
	call->cb(&res, call->arg);
	free(call);
	s3_client_release(c);
}

int
ht_s3_client_put(struct ht_s3_client *c, const struct ht_s3_put *req, ht_s3_done_fn done_cb,
    void *arg)
{
	struct s3_request sr = { 0 };
	struct ht_fetch_req fr;
	struct s3_call *call = NULL;
	int r;

	if (c == NULL || req == NULL || done_cb == NULL || req->bucket == NULL)
		return -EINVAL;
	if (c->dying)
		return -ECANCELED;
	if ((r = s3_sign_request(req, &sr)) < 0)
		goto out;
	call = calloc(1, sizeof(*call));
	if (call == NULL) {
		r = -ENOMEM;
		goto out;
	}
	*call = (struct s3_call){ c, done_cb, arg };
	s3_fetch_req(req, &sr, &fr);
	if ((r = ht_fetch_start(c->fetch, &fr, s3_done_cb, call)) == 0)
		call = NULL; /* fetch's until s3_done_cb */
out:
	free(call);
	s3_request_clear(&sr);
	return r;
}

unsigned
ht_s3_client_pending(const struct ht_s3_client *c)
{
	return c != NULL && c->fetch != NULL ? ht_fetch_pending(c->fetch) : 0;
}

/* ---- client lifetime ---- */

int
ht_s3_client_new(struct event_base *base, struct ht_s3_client **ret)
{
	struct ht_s3_client *c;
	int r;

	if (base == NULL || ret == NULL)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	if ((r = ht_fetch_client_new(base, &c->fetch)) < 0) {
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

void
ht_s3_client_free(struct ht_s3_client *c)
{
	if (c == NULL || c->dying)
		return;
	c->dying = true;
	/* The cancelled callbacks run inside; c must outlive them. */
	c->busy++;
	ht_fetch_client_free(c->fetch);
	c->fetch = NULL;
	s3_client_release(c);
}

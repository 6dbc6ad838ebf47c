/*
 * s3.c - asynchronous S3 PutObject over libcurl's multi socket interface.
 *
 * Data structures: a client holds the curl multi handle, one timer event
 * (curl's single timeout, CURLMOPT_TIMERFUNCTION) and a list of socket
 * records (one struct event per socket curl asks us to watch,
 * CURLMOPT_SOCKETFUNCTION; the record is attached to the socket with
 * curl_multi_assign() so curl hands it back).  Each PUT is a transfer
 * record on the client's list, reachable from its easy handle through
 * CURLOPT_PRIVATE.
 *
 * Invariants:
 *  - a transfer is on the list exactly while its easy handle is in the
 *    multi handle; its done callback runs once, after both are undone;
 *  - user callbacks run only from s3_check_info() (never from inside a
 *    curl callback, where re-entering curl is not allowed) or from
 *    ht_s3_client_free();
 *  - a client freed from inside a callback is only marked (dying): its
 *    transfers are cancelled at once and the memory goes when the outermost
 *    dispatch returns, so no frame above touches freed memory.
 *
 * The Host header is set explicitly to the string that was signed, so what
 * curl sends cannot differ from it (default ports, proxies, resolve
 * overrides).  "Expect:" is cleared: CloudTrail files are small and a
 * server that never answers 100 would cost a second per request.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "api/sigv4.h"
#include "crypto.h"
#include "deliver/s3.h"

#define S3_HDR_MAX (8 + HT_S3_META_MAX)
#define S3_FIELD_MAX 256
#define S3_DEFAULT_CONNECT_MS 10000L
#define S3_DEFAULT_TIMEOUT_MS 300000L

struct s3_sock {
	TAILQ_ENTRY(s3_sock) entry;
	struct event *ev;
	curl_socket_t fd;
};

struct s3_xfer {
	TAILQ_ENTRY(s3_xfer) entry;
	struct ht_s3_client *client;
	CURL *easy;
	struct curl_slist *headers;
	struct curl_slist *resolve;
	char *url;
	const uint8_t *body; /* borrowed; NULL when reading fd */
	int fd;
	uint64_t size;
	uint64_t off;
	char *resp; /* first HT_S3_ERROR_BODY_MAX bytes of the reply */
	size_t resp_len;
	char etag[S3_FIELD_MAX];
	char request_id[S3_FIELD_MAX];
	char errbuf[CURL_ERROR_SIZE];
	ht_s3_done_fn cb;
	void *arg;
};

struct ht_s3_client {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	TAILQ_HEAD(, s3_xfer) xfers;
	TAILQ_HEAD(, s3_sock) socks;
	unsigned pending;
	int dispatching;
	bool dying;
};

/* A parsed endpoint: scheme://host[:port][/]. */
struct s3_endpoint {
	bool https;
	char host[256];
	unsigned port;
	bool ipv6;
};

static void s3_client_destroy(struct ht_s3_client *c);

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

/* ---- libevent <-> curl glue ---- */

static void s3_check_info(struct ht_s3_client *c);

static void
s3_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ht_s3_client *c = arg;
	int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
	    ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	int running;

	curl_multi_socket_action(c->multi, fd, action, &running);
	s3_check_info(c);
}

static void
s3_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ht_s3_client *c = arg;
	int running;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	s3_check_info(c);
}

static void
s3_sock_free(struct ht_s3_client *c, struct s3_sock *sk)
{
	TAILQ_REMOVE(&c->socks, sk, entry);
	if (sk->ev != NULL)
		event_free(sk->ev);
	free(sk);
}

/* CURLMOPT_SOCKETFUNCTION: (re)register the event watching s. */
static int
s3_multi_sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct ht_s3_client *c = userp;
	struct s3_sock *sk = socketp;
	short kind;

	if (what == CURL_POLL_REMOVE) {
		if (sk != NULL)
			s3_sock_free(c, sk);
		return 0;
	}
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (sk == NULL) {
		sk = calloc(1, sizeof(*sk));
		if (sk == NULL)
			return -1;
		sk->fd = s;
		TAILQ_INSERT_TAIL(&c->socks, sk, entry);
		curl_multi_assign(c->multi, s, sk);
	} else if (sk->ev != NULL) {
		event_free(sk->ev);
		sk->ev = NULL;
	}
	sk->ev = event_new(c->base, s, kind, s3_event_cb, c);
	if (sk->ev == NULL || event_add(sk->ev, NULL) < 0)
		return -1;
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: curl's one timeout; -1 removes it.  Never calls
 * back into curl from here (not allowed); a 0 timeout fires on the next
 * loop iteration. */
static int
s3_multi_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct ht_s3_client *c = userp;
	struct timeval tv;

	if (timeout_ms < 0)
		return event_del(c->timer) < 0 ? -1 : 0;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return event_add(c->timer, &tv) < 0 ? -1 : 0;
}

/* ---- transfers ---- */

static void
s3_xfer_free(struct s3_xfer *x)
{
	if (x == NULL)
		return;
	if (x->easy != NULL)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	curl_slist_free_all(x->resolve);
	if (x->fd >= 0)
		close(x->fd);
	free(x->url);
	free(x->resp);
	free(x);
}

/* Take x out of the client and curl, tell its owner, free it. */
static void
s3_xfer_finish(struct s3_xfer *x, CURLcode cc, bool cancelled)
{
	struct ht_s3_client *c = x->client;
	struct ht_s3_result res = { 0 };
	char code[128] = "", message[512] = "";
	long status = 0;

	TAILQ_REMOVE(&c->xfers, x, entry);
	c->pending--;
	curl_multi_remove_handle(c->multi, x->easy);
	if (!cancelled)
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 300 && x->resp != NULL) {
		ht_s3_xml_extract(x->resp, x->resp_len, "Code", code, sizeof(code));
		ht_s3_xml_extract(x->resp, x->resp_len, "Message", message, sizeof(message));
	}
	res.http_status = status;
	res.code = code;
	res.message = message;
	res.etag = x->etag;
	res.request_id = x->request_id;
	res.curl_error = "";
	if (cancelled) {
		res.outcome = HT_S3_CANCELLED;
		res.curl_error = "cancelled";
	} else {
		if (cc != CURLE_OK)
			res.curl_error = x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(cc);
		res.outcome = ht_s3_classify(cc, status, code);
	}
	x->cb(&res, x->arg);
	s3_xfer_free(x);
}

static void
s3_check_info(struct ht_s3_client *c)
{
	CURLMsg *msg;
	int left;

	c->dispatching++;
	while (!c->dying && (msg = curl_multi_info_read(c->multi, &left)) != NULL) {
		struct s3_xfer *x = NULL;
		CURLcode cc;

		if (msg->msg != CURLMSG_DONE)
			continue;
		cc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x != NULL)
			s3_xfer_finish(x, cc, false);
	}
	c->dispatching--;
	if (c->dying && c->dispatching == 0)
		s3_client_destroy(c);
}

static size_t
s3_read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct s3_xfer *x = arg;
	uint64_t left = x->size - x->off;
	size_t want = size * nitems;
	ssize_t n;

	if (want > left)
		want = (size_t)left;
	if (want == 0)
		return 0;
	if (x->body != NULL) {
		memcpy(buf, x->body + x->off, want);
		n = (ssize_t)want;
	} else {
		n = pread(x->fd, buf, want, (off_t)x->off);
		/* A file that shrank would send a short body: abort instead. */
		if (n <= 0)
			return CURL_READFUNC_ABORT;
	}
	x->off += (uint64_t)n;
	return (size_t)n;
}

/* Rewind for a resend (curl rewinds after some auth or connection reuse
 * failures). */
static int
s3_seek_cb(void *arg, curl_off_t offset, int origin)
{
	struct s3_xfer *x = arg;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->size)
		return CURL_SEEKFUNC_FAIL;
	x->off = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

static size_t
s3_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct s3_xfer *x = arg;
	size_t n = size * nmemb, take;

	if (x->resp == NULL) {
		x->resp = malloc(HT_S3_ERROR_BODY_MAX + 1);
		if (x->resp == NULL)
			return n; /* the error text is a nicety: drop it */
	}
	take = HT_S3_ERROR_BODY_MAX - x->resp_len;
	if (take > n)
		take = n;
	memcpy(x->resp + x->resp_len, data, take);
	x->resp_len += take;
	x->resp[x->resp_len] = '\0';
	return n;
}

/* Copy header value into out if line is "name: value". */
static void
s3_header_take(const char *line, size_t len, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name), o = 0;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	line += nl + 1;
	len -= nl + 1;
	while (len > 0 && (*line == ' ' || *line == '\t'))
		line++, len--;
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	for (; o < len && o + 1 < cap; o++)
		out[o] = ((unsigned char)line[o] < 0x20) ? ' ' : line[o];
	out[o] = '\0';
}

static size_t
s3_header_cb(char *line, size_t size, size_t nitems, void *arg)
{
	struct s3_xfer *x = arg;
	size_t n = size * nitems;

	s3_header_take(line, n, "ETag", x->etag, sizeof(x->etag));
	s3_header_take(line, n, "x-amz-request-id", x->request_id, sizeof(x->request_id));
	if (x->request_id[0] == '\0')
		s3_header_take(line, n, "x-openstack-request-id", x->request_id,
		    sizeof(x->request_id));
	return n;
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

/* The body's digests: from req, or computed here (blocking). */
static int
s3_digests(const struct ht_s3_put *req, struct s3_xfer *x, char sha_hex[2 * HT_SHA256_LEN + 1],
    char md5[HT_S3_CONTENT_MD5_LEN + 1])
{
	uint8_t sha[HT_SHA256_LEN];
	const void *data = x->body != NULL ? (const void *)x->body : "";
	void *map = NULL;
	int r;

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
	if (x->body == NULL && x->size > 0) {
		if (x->size > SIZE_MAX)
			return -EFBIG;
		map = mmap(NULL, (size_t)x->size, PROT_READ, MAP_PRIVATE, x->fd, 0);
		if (map == MAP_FAILED)
			return -errno;
		data = map;
	}
	r = ht_sha256(data, (size_t)x->size, sha);
	if (r == 0)
		r = ht_s3_content_md5(data, (size_t)x->size, md5);
	if (map != NULL)
		munmap(map, (size_t)x->size);
	if (r < 0)
		return r;
	ht_hex(sha, sizeof(sha), sha_hex);
	return 0;
}

static int
s3_open_body(const struct ht_s3_put *req, struct s3_xfer *x)
{
	struct stat st;

	if (req->body != NULL || req->path == NULL) {
		if (req->body == NULL && req->body_len > 0)
			return -EINVAL;
		x->body = req->body;
		x->size = req->body_len;
		return 0;
	}
	x->fd = open(req->path, O_RDONLY | O_CLOEXEC);
	if (x->fd < 0)
		return -errno;
	if (fstat(x->fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size != req->file_size)
		return -EFBIG;
	x->size = req->file_size;
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

/* Append "Name: value" to *list. */
static int
s3_slist_add(struct curl_slist **list, const char *name, const char *value)
{
	struct curl_slist *l;
	char *line;

	if (asprintf(&line, "%s: %s", name, value) < 0)
		return -ENOMEM;
	l = curl_slist_append(*list, line);
	free(line);
	if (l == NULL)
		return -ENOMEM;
	*list = l;
	return 0;
}

/* Sign the request and fill x->url and x->headers (and x->resolve). */
static int
s3_sign_request(const struct ht_s3_put *req, struct s3_xfer *x)
{
	struct s3_endpoint ep;
	struct ht_sigv4_header h[S3_HDR_MAX];
	char metanames[HT_S3_META_MAX][S3_FIELD_MAX];
	char sha_hex[2 * HT_SHA256_LEN + 1], md5[HT_S3_CONTENT_MD5_LEN + 1];
	char reqhost[512], hosthdr[544];
	struct ht_sigv4_signed sig = { 0 };
	struct ht_sigv4_sign_params p;
	bool vh = req->addressing == HT_S3_VIRTUAL_HOSTED;
	bool defport;
	char *path = NULL;
	size_t nh = 0;
	int r;

	if ((r = s3_parse_endpoint(req->endpoint, &ep)) < 0)
		return r;
	if (req->key == NULL || req->key[0] == '\0' || req->region == NULL || (vh && ep.ipv6))
		return -EINVAL;
	if ((r = s3_digests(req, x, sha_hex, md5)) < 0)
		return r;
	if ((r = s3_build_headers(req, md5, h, &nh, metanames)) < 0)
		return r;
	if ((r = ht_s3_path(req->bucket, req->key, vh, &path)) < 0)
		return r;
	if (snprintf(reqhost, sizeof(reqhost), "%s%s%s", vh ? req->bucket : "", vh ? "." : "",
		ep.host) >= (int)sizeof(reqhost)) {
		r = -EINVAL;
		goto out;
	}
	defport = ep.port == (ep.https ? 443u : 80u);
	snprintf(hosthdr, sizeof(hosthdr), defport ? "%s" : "%s:%u", reqhost, ep.port);

	p = (struct ht_sigv4_sign_params){
		.uri_mode = HT_SIGV4_URI_S3,
		.method = "PUT",
		.host = hosthdr,
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
	if ((r = ht_sigv4_sign(&p, &sig)) < 0)
		goto out;
	if (asprintf(&x->url, "%s://%s:%u%s", ep.https ? "https" : "http", reqhost, ep.port,
		sig.target) < 0) {
		x->url = NULL;
		r = -ENOMEM;
		goto out;
	}
	r = s3_slist_add(&x->headers, "Host", hosthdr);
	for (size_t i = 0; r == 0 && i < nh; i++)
		r = s3_slist_add(&x->headers, h[i].name, h[i].value);
	for (size_t i = 0; r == 0 && i < sig.n_headers; i++)
		r = s3_slist_add(&x->headers, sig.headers[i].name, sig.headers[i].value);
	if (r == 0 && (x->headers = curl_slist_append(x->headers, "Expect:")) == NULL)
		r = -ENOMEM;
	if (r == 0 && req->resolve_to != NULL) {
		char line[600];
		if (snprintf(line, sizeof(line), "%s:%u:%s", reqhost, ep.port, req->resolve_to) >=
		    (int)sizeof(line))
			r = -EINVAL;
		else if ((x->resolve = curl_slist_append(NULL, line)) == NULL)
			r = -ENOMEM;
	}
out:
	ht_sigv4_signed_clear(&sig);
	free(path);
	return r;
}

static int
s3_setup_easy(const struct ht_s3_put *req, struct s3_xfer *x)
{
	CURL *e = curl_easy_init();
	CURLcode cc = CURLE_OK;

	if (e == NULL)
		return -ENOMEM;
	x->easy = e;
#define S3_SET(opt, val)                                    \
	do {                                                \
		if (cc == CURLE_OK)                         \
			cc = curl_easy_setopt(e, opt, val); \
	} while (0)
	S3_SET(CURLOPT_URL, x->url);
	S3_SET(CURLOPT_PROTOCOLS_STR, "http,https");
	S3_SET(CURLOPT_NOSIGNAL, 1L);
	S3_SET(CURLOPT_UPLOAD, 1L);
	S3_SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->size);
	S3_SET(CURLOPT_READFUNCTION, s3_read_cb);
	S3_SET(CURLOPT_READDATA, x);
	S3_SET(CURLOPT_SEEKFUNCTION, s3_seek_cb);
	S3_SET(CURLOPT_SEEKDATA, x);
	S3_SET(CURLOPT_WRITEFUNCTION, s3_write_cb);
	S3_SET(CURLOPT_WRITEDATA, x);
	S3_SET(CURLOPT_HEADERFUNCTION, s3_header_cb);
	S3_SET(CURLOPT_HEADERDATA, x);
	S3_SET(CURLOPT_HTTPHEADER, x->headers);
	S3_SET(CURLOPT_ERRORBUFFER, x->errbuf);
	S3_SET(CURLOPT_PRIVATE, x);
	S3_SET(CURLOPT_USERAGENT, "hosttraild/" PACKAGE_VERSION);
	S3_SET(CURLOPT_CONNECTTIMEOUT_MS,
	    req->connect_timeout_ms > 0 ? req->connect_timeout_ms : S3_DEFAULT_CONNECT_MS);
	S3_SET(CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : S3_DEFAULT_TIMEOUT_MS);
	if (x->resolve != NULL)
		S3_SET(CURLOPT_RESOLVE, x->resolve);
	if (req->ca_file != NULL)
		S3_SET(CURLOPT_CAINFO, req->ca_file);
#undef S3_SET
	if (cc == CURLE_OUT_OF_MEMORY)
		return -ENOMEM;
	return cc == CURLE_OK ? 0 : -EIO;
}

int
ht_s3_client_put(struct ht_s3_client *c, const struct ht_s3_put *req, ht_s3_done_fn done_cb,
    void *arg)
{
	struct s3_xfer *x;
	int r;

	if (c == NULL || req == NULL || done_cb == NULL || req->bucket == NULL)
		return -EINVAL;
	if (c->dying)
		return -ECANCELED;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -ENOMEM;
	x->fd = -1;
	x->client = c;
	x->cb = done_cb;
	x->arg = arg;
	if ((r = s3_open_body(req, x)) < 0 || (r = s3_sign_request(req, x)) < 0 ||
	    (r = s3_setup_easy(req, x)) < 0)
		goto fail;
	if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) {
		r = -EIO;
		goto fail;
	}
	TAILQ_INSERT_TAIL(&c->xfers, x, entry);
	c->pending++;
	return 0;
fail:
	s3_xfer_free(x);
	return r;
}

unsigned
ht_s3_client_pending(const struct ht_s3_client *c)
{
	return c != NULL ? c->pending : 0;
}

/* ---- client lifetime ---- */

int
ht_s3_client_new(struct event_base *base, struct ht_s3_client **ret)
{
	struct ht_s3_client *c;

	if (base == NULL || ret == NULL)
		return -EINVAL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->base = base;
	TAILQ_INIT(&c->xfers);
	TAILQ_INIT(&c->socks);
	c->timer = evtimer_new(base, s3_timer_cb, c);
	c->multi = curl_multi_init();
	if (c->timer == NULL || c->multi == NULL)
		goto fail;
	if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, s3_multi_sock_cb) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, s3_multi_timer_cb) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK)
		goto fail;
	*ret = c;
	return 0;
fail:
	if (c != NULL) {
		if (c->multi != NULL)
			curl_multi_cleanup(c->multi);
		if (c->timer != NULL)
			event_free(c->timer);
		free(c);
	}
	curl_global_cleanup();
	return -ENOMEM;
}

static void
s3_client_destroy(struct ht_s3_client *c)
{
	struct s3_sock *sk;

	/* curl may still report socket removals while closing connections. */
	curl_multi_cleanup(c->multi);
	while ((sk = TAILQ_FIRST(&c->socks)) != NULL)
		s3_sock_free(c, sk);
	event_free(c->timer);
	free(c);
	curl_global_cleanup();
}

void
ht_s3_client_free(struct ht_s3_client *c)
{
	struct s3_xfer *x;

	if (c == NULL || c->dying)
		return;
	c->dying = true;
	c->dispatching++;
	while ((x = TAILQ_FIRST(&c->xfers)) != NULL)
		s3_xfer_finish(x, CURLE_OK, true);
	c->dispatching--;
	if (c->dispatching == 0)
		s3_client_destroy(c);
}

/*
 * fetch.c - asynchronous HTTP(S) requests over libcurl's multi socket
 * interface, driven by a libevent loop.
 *
 * Data structures: a client holds the curl multi handle, one timer event
 * (curl's single timeout, CURLMOPT_TIMERFUNCTION) and a list of socket
 * records (one struct event per socket curl asks us to watch,
 * CURLMOPT_SOCKETFUNCTION; the record is attached to the socket with
 * curl_multi_assign() so curl hands it back).  Each request is a transfer
 * record on the client's list, reachable from its easy handle through
 * CURLOPT_PRIVATE; it owns its header lists, body file descriptor, response
 * buffer (grown on demand up to max_response) and captured header values.
 *
 * Invariants:
 *  - a transfer is on the list exactly while its easy handle is in the
 *    multi handle; its done callback runs once, after both are undone;
 *  - done callbacks run only from fetch_check_info() (never from inside a
 *    curl callback, where re-entering curl is not allowed) or from
 *    ht_fetch_client_free();
 *  - a client freed from inside a callback is only marked (dying): its
 *    transfers are cancelled at once and the memory goes when the outermost
 *    dispatch returns, so no frame above touches freed memory;
 *  - our curl callbacks never return an error to the multi handle (that
 *    would stop every transfer on it for good): a transfer whose socket
 *    cannot be watched is marked and finished by the next sweep, a timer
 *    that cannot be armed fires at once.
 *
 * Every safety setting is made here, per request, and none is exposed:
 * see fetch.h for the list.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "deliver/fetch.h"

#define FETCH_DEFAULT_CONNECT_MS 10000L
#define FETCH_DEFAULT_TIMEOUT_MS 300000L
/* First allocation of a response buffer; it doubles up to max_response. */
#define FETCH_RESP_FIRST 4096

struct fetch_sock {
	TAILQ_ENTRY(fetch_sock) entry;
	struct event *ev;
	curl_socket_t fd;
};

struct fetch_keep {
	char name[HT_FETCH_NAME_MAX + 1];
	char value[HT_FETCH_VALUE_MAX];
};

struct fetch_xfer {
	TAILQ_ENTRY(fetch_xfer) entry;
	struct ht_fetch_client *client;
	CURL *easy;
	struct curl_slist *headers;
	struct curl_slist *resolve;
	const uint8_t *body; /* borrowed; NULL when reading fd */
	int fd;
	uint64_t size;
	uint64_t off;
	char *resp; /* NUL-terminated; resp_cap counts the NUL */
	size_t resp_len;
	size_t resp_cap;
	size_t resp_max;
	bool truncated;
	struct fetch_keep *keep;
	size_t n_keep;
	bool oom; /* its socket could not be watched: finish it at the next sweep */
	char errbuf[CURL_ERROR_SIZE];
	ht_fetch_done_fn done;
	void *arg;
};

struct ht_fetch_client {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct event *sweep; /* activated to fail transfers marked oom */
	TAILQ_HEAD(, fetch_xfer) xfers;
	TAILQ_HEAD(, fetch_sock) socks;
	unsigned pending;
	int dispatching;
	bool dying;
};

static void fetch_client_destroy(struct ht_fetch_client *c);
static void fetch_check_info(struct ht_fetch_client *c);

/* ---- libevent <-> curl glue ---- */

static void
fetch_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ht_fetch_client *c = arg;
	int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
	    ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	int running;

	curl_multi_socket_action(c->multi, fd, action, &running);
	fetch_check_info(c);
}

static void
fetch_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	fetch_check_info(arg);
}

static void
fetch_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ht_fetch_client *c = arg;
	int running;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	fetch_check_info(c);
}

static void
fetch_sock_free(struct ht_fetch_client *c, struct fetch_sock *sk)
{
	TAILQ_REMOVE(&c->socks, sk, entry);
	if (sk->ev != NULL)
		event_free(sk->ev);
	free(sk);
}

/* The socket of easy's transfer cannot be watched (out of memory).  Telling
 * curl (returning -1) would make the whole multi handle unusable, with
 * every transfer hanging; instead that one transfer is failed with
 * CURLE_OUT_OF_MEMORY on the next loop iteration, outside curl. */
static int
fetch_sock_failed(struct ht_fetch_client *c, CURL *easy)
{
	struct fetch_xfer *x = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
	if (x != NULL) {
		x->oom = true;
		event_active(c->sweep, EV_TIMEOUT, 1);
	}
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION: (re)register the event watching s. */
static int
fetch_multi_sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct ht_fetch_client *c = userp;
	struct fetch_sock *sk = socketp;
	short kind;

	if (what == CURL_POLL_REMOVE) {
		if (sk != NULL)
			fetch_sock_free(c, sk);
		return 0;
	}
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (sk == NULL) {
		sk = calloc(1, sizeof(*sk));
		if (sk == NULL)
			return fetch_sock_failed(c, easy);
		sk->fd = s;
		TAILQ_INSERT_TAIL(&c->socks, sk, entry);
		curl_multi_assign(c->multi, s, sk);
	} else if (sk->ev != NULL) {
		event_free(sk->ev);
		sk->ev = NULL;
	}
	sk->ev = event_new(c->base, s, kind, fetch_event_cb, c);
	if (sk->ev == NULL || event_add(sk->ev, NULL) < 0)
		return fetch_sock_failed(c, easy);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: curl's one timeout; -1 removes it.  Never calls
 * back into curl from here (not allowed); a 0 timeout fires on the next
 * loop iteration.  Never returns -1 (that would kill the multi handle): a
 * timer that cannot be armed fires at once instead, and curl re-arms it. */
static int
fetch_multi_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct ht_fetch_client *c = userp;
	struct timeval tv;

	if (timeout_ms < 0) {
		event_del(c->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	if (event_add(c->timer, &tv) < 0)
		event_active(c->timer, EV_TIMEOUT, 1);
	return 0;
}

/* ---- transfers ---- */

static void
fetch_xfer_free(struct fetch_xfer *x)
{
	if (x == NULL)
		return;
	if (x->easy != NULL)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	curl_slist_free_all(x->resolve);
	if (x->fd >= 0)
		close(x->fd);
	free(x->resp);
	free(x->keep);
	free(x);
}

/* Take x out of the client and curl, tell its owner, free it. */
static void
fetch_xfer_finish(struct fetch_xfer *x, CURLcode cc, bool cancelled)
{
	struct ht_fetch_client *c = x->client;
	const char *values[HT_FETCH_KEEP_MAX];
	struct ht_fetch_result res = { 0 };

	TAILQ_REMOVE(&c->xfers, x, entry);
	c->pending--;
	curl_multi_remove_handle(c->multi, x->easy);
	res.cancelled = cancelled;
	res.curl_code = cancelled ? CURLE_ABORTED_BY_CALLBACK : cc;
	res.curl_error = "";
	res.body = "";
	if (cancelled) {
		res.curl_error = "cancelled";
		for (size_t i = 0; i < x->n_keep; i++)
			x->keep[i].value[0] = '\0';
	} else {
		if (cc != CURLE_OK)
			res.curl_error = x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(cc);
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &res.http_status);
		if (x->resp != NULL) {
			res.body = x->resp;
			res.body_len = x->resp_len;
		}
		res.body_truncated = x->truncated;
	}
	for (size_t i = 0; i < x->n_keep; i++)
		values[i] = x->keep[i].value;
	res.header_values = x->n_keep > 0 ? values : NULL;
	x->done(&res, x->arg);
	fetch_xfer_free(x);
}

/* The first transfer marked oom, or NULL. */
static struct fetch_xfer *
fetch_first_oom(struct ht_fetch_client *c)
{
	struct fetch_xfer *x;

	TAILQ_FOREACH(x, &c->xfers, entry)
		if (x->oom)
			return x;
	return NULL;
}

/* Report finished transfers.  A callback may start transfers or free the
 * client, so the list is searched afresh after each one. */
static void
fetch_check_info(struct ht_fetch_client *c)
{
	struct fetch_xfer *x;
	CURLMsg *msg;
	int left;

	c->dispatching++;
	while (!c->dying && (msg = curl_multi_info_read(c->multi, &left)) != NULL) {
		CURLcode cc;

		x = NULL;
		if (msg->msg != CURLMSG_DONE)
			continue;
		cc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x != NULL)
			fetch_xfer_finish(x, cc, false);
	}
	while (!c->dying && (x = fetch_first_oom(c)) != NULL)
		fetch_xfer_finish(x, CURLE_OUT_OF_MEMORY, false);
	c->dispatching--;
	if (c->dying && c->dispatching == 0)
		fetch_client_destroy(c);
}

static size_t
fetch_read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct fetch_xfer *x = arg;
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

/* Rewind for a resend (curl rewinds when a reused connection died before
 * answering, and after some auth exchanges). */
static int
fetch_seek_cb(void *arg, curl_off_t offset, int origin)
{
	struct fetch_xfer *x = arg;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->size)
		return CURL_SEEKFUNC_FAIL;
	x->off = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* Room for need bytes and a NUL; false when memory ran short. */
static bool
fetch_resp_reserve(struct fetch_xfer *x, size_t need)
{
	size_t cap = x->resp_cap > 0 ? x->resp_cap : FETCH_RESP_FIRST;
	char *p;

	if (need < x->resp_cap)
		return true;
	while (cap <= need)
		cap *= 2;
	if (cap > x->resp_max + 1)
		cap = x->resp_max + 1;
	p = realloc(x->resp, cap);
	if (p == NULL)
		return false;
	x->resp = p;
	x->resp_cap = cap;
	return true;
}

/* Keep the first resp_max bytes; the rest is read and dropped, so the
 * connection stays usable and the status is still reported. */
static size_t
fetch_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct fetch_xfer *x = arg;
	size_t n = size * nmemb, take = x->resp_max - x->resp_len;

	if (take > n)
		take = n;
	if (take < n)
		x->truncated = true;
	if (take == 0)
		return n;
	if (!fetch_resp_reserve(x, x->resp_len + take)) {
		x->truncated = true;
		return n;
	}
	memcpy(x->resp + x->resp_len, data, take);
	x->resp_len += take;
	x->resp[x->resp_len] = '\0';
	return n;
}

/* Copy the header value into out if line is "name: value". */
static void
fetch_header_take(const char *line, size_t len, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name), o = 0;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	line += nl + 1;
	len -= nl + 1;
	while (len > 0 && (*line == ' ' || *line == '\t'))
		line++, len--;
	while (len > 0 && memchr(" \t\r\n", line[len - 1], 4) != NULL)
		len--;
	/* Keep it one printable line: values end up in logs and status. */
	for (; o < len && o + 1 < cap; o++)
		out[o] = ((unsigned char)line[o] < 0x20 || line[o] == 0x7f) ? ' ' : line[o];
	out[o] = '\0';
}

static size_t
fetch_header_cb(char *line, size_t size, size_t nitems, void *arg)
{
	struct fetch_xfer *x = arg;
	size_t n = size * nitems;

	/* A status line starts a new response (after a 1xx or a retry): what
	 * was captured belongs to one the caller will not see. */
	if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		for (size_t i = 0; i < x->n_keep; i++)
			x->keep[i].value[0] = '\0';
		x->resp_len = 0;
		x->truncated = false;
		if (x->resp != NULL)
			x->resp[0] = '\0';
		return n;
	}
	for (size_t i = 0; i < x->n_keep; i++)
		fetch_header_take(line, n, x->keep[i].name, x->keep[i].value,
		    sizeof(x->keep[i].value));
	return n;
}

/* ---- checking and building a request ---- */

/* An HTTP field name (RFC 9110 token) of at most HT_FETCH_NAME_MAX bytes. */
static bool
fetch_token_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL || *s == '\0')
		return false;
	for (; s[n] != '\0'; n++) {
		unsigned char ch = (unsigned char)s[n];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			(ch >= '0' && ch <= '9') || strchr("!#$%&'*+-.^_`|~", ch) != NULL))
			return false;
	}
	return n <= HT_FETCH_NAME_MAX;
}

/* Headers this module owns: the body's framing and the 100-continue dance. */
static bool
fetch_header_reserved(const char *name)
{
	return strcasecmp(name, "Content-Length") == 0 ||
	    strcasecmp(name, "Transfer-Encoding") == 0 || strcasecmp(name, "Expect") == 0;
}

/* Append "Name: value" (or curl's "Name;" for an empty value, "Name:" to
 * suppress curl's own header) to x->headers. */
static int
fetch_header_add(struct fetch_xfer *x, const char *name, const char *value)
{
	struct curl_slist *l;
	char *line;
	int n;

	if (value == NULL)
		n = asprintf(&line, "%s:", name);
	else if (value[strspn(value, " \t")] == '\0')
		n = asprintf(&line, "%s;", name);
	else
		n = asprintf(&line, "%s: %s", name, value);
	if (n < 0)
		return -ENOMEM;
	l = curl_slist_append(x->headers, line);
	free(line);
	if (l == NULL)
		return -ENOMEM;
	x->headers = l;
	return 0;
}

static int
fetch_build_headers(const struct ht_fetch_req *req, bool post, struct fetch_xfer *x)
{
	bool has_ctype = false;
	int r;

	if (req->n_headers > HT_FETCH_HEADERS_MAX || (req->n_headers > 0 && req->headers == NULL))
		return -EINVAL;
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct ht_fetch_header *h = &req->headers[i];
		if (!fetch_token_ok(h->name) || fetch_header_reserved(h->name) ||
		    (h->value != NULL && strpbrk(h->value, "\r\n") != NULL))
			return -EINVAL;
		has_ctype |= strcasecmp(h->name, "Content-Type") == 0;
		if ((r = fetch_header_add(x, h->name, h->value)) < 0)
			return r;
	}
	if ((r = fetch_header_add(x, "Expect", NULL)) < 0)
		return r;
	/* curl would label a POST body a form (application/x-www-form-urlencoded). */
	if (post && !has_ctype && (r = fetch_header_add(x, "Content-Type", NULL)) < 0)
		return r;
	return 0;
}

static int
fetch_keep_init(const struct ht_fetch_req *req, struct fetch_xfer *x)
{
	size_t n = req->n_keep_headers;

	if (n == 0)
		return 0;
	if (n > HT_FETCH_KEEP_MAX || req->keep_headers == NULL)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!fetch_token_ok(req->keep_headers[i]))
			return -EINVAL;
	x->keep = calloc(n, sizeof(*x->keep));
	if (x->keep == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		strcpy(x->keep[i].name, req->keep_headers[i]); /* length checked above */
	x->n_keep = n;
	return 0;
}

static int
fetch_curlu_errno(CURLUcode uc)
{
	return uc == CURLUE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
}

/* Check the URL is http(s) with a host, and build the CURLOPT_RESOLVE entry
 * "host:port:address" when the caller pins the address. */
static int
fetch_check_url(const struct ht_fetch_req *req, struct fetch_xfer *x)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *line = NULL;
	CURLU *u;
	CURLUcode uc;
	int r = 0;

	if (req->url == NULL)
		return -EINVAL;
	if ((u = curl_url()) == NULL)
		return -ENOMEM;
	if ((uc = curl_url_set(u, CURLUPART_URL, req->url, 0)) != CURLUE_OK ||
	    (uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0)) != CURLUE_OK ||
	    (uc = curl_url_get(u, CURLUPART_HOST, &host, 0)) != CURLUE_OK ||
	    (uc = curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)) != CURLUE_OK) {
		r = fetch_curlu_errno(uc);
		goto out;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		r = -EINVAL;
		goto out;
	}
	if (req->resolve_to == NULL)
		goto out;
	if (*req->resolve_to == '\0' || strpbrk(req->resolve_to, ", \t\r\n") != NULL) {
		r = -EINVAL;
		goto out;
	}
	if (asprintf(&line, "%s:%s:%s", host, port, req->resolve_to) < 0) {
		line = NULL;
		r = -ENOMEM;
	} else if ((x->resolve = curl_slist_append(NULL, line)) == NULL) {
		r = -ENOMEM;
	}
out:
	free(line);
	curl_free(port);
	curl_free(host);
	curl_free(scheme);
	curl_url_cleanup(u);
	return r;
}

static int
fetch_open_body(const struct ht_fetch_req *req, struct fetch_xfer *x)
{
	struct stat st;

	if (req->path == NULL) {
		if (req->body == NULL && req->body_len > 0)
			return -EINVAL;
		x->body = req->body;
		x->size = req->body_len;
		return 0;
	}
	if (req->body != NULL)
		return -EINVAL;
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

static int
fetch_setup_easy(const struct ht_fetch_req *req, bool post, struct fetch_xfer *x)
{
	CURL *e = curl_easy_init();
	CURLcode cc = CURLE_OK;

	if (e == NULL)
		return -ENOMEM;
	x->easy = e;
#define FETCH_SET(opt, val)                                 \
	do {                                                \
		if (cc == CURLE_OK)                         \
			cc = curl_easy_setopt(e, opt, val); \
	} while (0)
	FETCH_SET(CURLOPT_URL, req->url);
	FETCH_SET(CURLOPT_PROTOCOLS_STR, "http,https");
	FETCH_SET(CURLOPT_FOLLOWLOCATION, 0L);
	FETCH_SET(CURLOPT_SSL_VERIFYPEER, 1L);
	FETCH_SET(CURLOPT_SSL_VERIFYHOST, 2L);
	FETCH_SET(CURLOPT_VERBOSE, 0L);
	FETCH_SET(CURLOPT_NOSIGNAL, 1L);
	/* A proxy's CONNECT answer is not the server's: keep it out of keep_headers. */
	FETCH_SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	if (post) {
		FETCH_SET(CURLOPT_POST, 1L);
		FETCH_SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->size);
	} else {
		FETCH_SET(CURLOPT_UPLOAD, 1L);
		FETCH_SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->size);
	}
	FETCH_SET(CURLOPT_READFUNCTION, fetch_read_cb);
	FETCH_SET(CURLOPT_READDATA, x);
	FETCH_SET(CURLOPT_SEEKFUNCTION, fetch_seek_cb);
	FETCH_SET(CURLOPT_SEEKDATA, x);
	FETCH_SET(CURLOPT_WRITEFUNCTION, fetch_write_cb);
	FETCH_SET(CURLOPT_WRITEDATA, x);
	FETCH_SET(CURLOPT_HEADERFUNCTION, fetch_header_cb);
	FETCH_SET(CURLOPT_HEADERDATA, x);
	FETCH_SET(CURLOPT_HTTPHEADER, x->headers);
	FETCH_SET(CURLOPT_ERRORBUFFER, x->errbuf);
	FETCH_SET(CURLOPT_PRIVATE, x);
	FETCH_SET(CURLOPT_USERAGENT, "hosttraild/" PACKAGE_VERSION);
	FETCH_SET(CURLOPT_CONNECTTIMEOUT_MS,
	    req->connect_timeout_ms > 0 ? req->connect_timeout_ms : FETCH_DEFAULT_CONNECT_MS);
	FETCH_SET(CURLOPT_TIMEOUT_MS,
	    req->timeout_ms > 0 ? req->timeout_ms : FETCH_DEFAULT_TIMEOUT_MS);
	if (x->resolve != NULL)
		FETCH_SET(CURLOPT_RESOLVE, x->resolve);
	if (req->ca_file != NULL)
		FETCH_SET(CURLOPT_CAINFO, req->ca_file);
#undef FETCH_SET
	if (cc == CURLE_OUT_OF_MEMORY)
		return -ENOMEM;
	return cc == CURLE_OK ? 0 : -EIO;
}

int
ht_fetch_start(struct ht_fetch_client *c, const struct ht_fetch_req *req, ht_fetch_done_fn done,
    void *arg)
{
	struct fetch_xfer *x;
	bool post;
	int r;

	if (c == NULL || req == NULL || done == NULL || req->method == NULL)
		return -EINVAL;
	if (c->dying)
		return -ECANCELED;
	post = strcmp(req->method, "POST") == 0;
	if ((!post && strcmp(req->method, "PUT") != 0) || req->max_response > HT_FETCH_RESPONSE_MAX)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -ENOMEM;
	x->fd = -1;
	x->client = c;
	x->done = done;
	x->arg = arg;
	x->resp_max = req->max_response > 0 ? req->max_response : HT_FETCH_RESPONSE_DEFAULT;
	if ((r = fetch_check_url(req, x)) < 0 || (r = fetch_build_headers(req, post, x)) < 0 ||
	    (r = fetch_keep_init(req, x)) < 0 || (r = fetch_open_body(req, x)) < 0 ||
	    (r = fetch_setup_easy(req, post, x)) < 0)
		goto fail;
	if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) {
		r = -EIO;
		goto fail;
	}
	TAILQ_INSERT_TAIL(&c->xfers, x, entry);
	c->pending++;
	return 0;
fail:
	fetch_xfer_free(x);
	return r;
}

unsigned
ht_fetch_pending(const struct ht_fetch_client *c)
{
	return c != NULL ? c->pending : 0;
}

/* ---- client lifetime ---- */

int
ht_fetch_client_new(struct event_base *base, struct ht_fetch_client **ret)
{
	struct ht_fetch_client *c;

	if (base == NULL || ret == NULL)
		return -EINVAL;
	/* Reference-counted by curl; undone in fetch_client_destroy(). */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->base = base;
	TAILQ_INIT(&c->xfers);
	TAILQ_INIT(&c->socks);
	c->timer = evtimer_new(base, fetch_timer_cb, c);
	c->sweep = event_new(base, -1, 0, fetch_sweep_cb, c);
	c->multi = curl_multi_init();
	if (c->timer == NULL || c->sweep == NULL || c->multi == NULL)
		goto fail;
	if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, fetch_multi_sock_cb) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, fetch_multi_timer_cb) != CURLM_OK ||
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
		if (c->sweep != NULL)
			event_free(c->sweep);
		free(c);
	}
	curl_global_cleanup();
	return -ENOMEM;
}

static void
fetch_client_destroy(struct ht_fetch_client *c)
{
	struct fetch_sock *sk;

	/* curl may still report socket removals while closing connections. */
	curl_multi_cleanup(c->multi);
	while ((sk = TAILQ_FIRST(&c->socks)) != NULL)
		fetch_sock_free(c, sk);
	event_free(c->timer);
	event_free(c->sweep);
	free(c);
	curl_global_cleanup();
}

void
ht_fetch_client_free(struct ht_fetch_client *c)
{
	struct fetch_xfer *x;

	if (c == NULL || c->dying)
		return;
	c->dying = true;
	c->dispatching++;
	while ((x = TAILQ_FIRST(&c->xfers)) != NULL)
		fetch_xfer_finish(x, CURLE_OK, true);
	c->dispatching--;
	if (c->dispatching == 0)
		fetch_client_destroy(c);
}

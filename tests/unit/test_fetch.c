/*
 * test_fetch.c - daemon/deliver/fetch.c against a tiny HTTP/1.1 server run
 * inside the test (one thread accepting on 127.0.0.1:0, one thread per
 * connection, canned answers, every request recorded): a POST from memory
 * arrives with its method, target, headers and bytes; a PUT from a file
 * arrives byte for byte, also when curl has to rewind it (a reused
 * connection closed before answering); a 500 gives its status and body;
 * long bodies are cut at max_response; keep_headers are captured (in any
 * case, interim 1xx headers forgotten); a silent server hits timeout_ms; a
 * closed port is a curl error with status 0; redirects are not followed;
 * resolve_to and the http_proxy variable are honoured; freeing the client
 * (from a timer or from a done callback) reports each request in flight
 * exactly once as cancelled; unusable requests are refused at start and
 * never call back; and each allocation of ours failing in turn (when linked
 * with -Wl,--wrap=..., see Makefile.am).
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>

#include "deliver/fetch.h"

/* Allocation failures, active only with --wrap (see Makefile.am). */
#include "alloc_fail.h"
/* head_find() and loopback_socket(); the server below is this file's own. */
#include "http_stub.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define SRV_MAX_CONN 64
#define SRV_MAX_REQ 16
#define OK_CLOSE "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
#define OK_KEEP "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

/* ---- the server ---- */

enum srv_mode {
	SRV_ANSWER, /* read each request, send the canned response */
	SRV_SILENT, /* accept, read, never answer */
};

struct srv_req {
	char method[16];
	char target[512];
	char *head; /* the header lines, each ending "\r\n" */
	char *body;
	size_t body_len;
	unsigned conn; /* which connection carried it */
};

struct srv_conn {
	struct srv *s;
	unsigned idx;
	char *buf;
	size_t len;
	size_t cap;
};

/* Nothing on the accept and silent paths allocates, so allocation failures
 * injected by test_alloc_failures() only hit the client. */
struct srv {
	bool running;
	int lfd;
	unsigned port;
	enum srv_mode mode;
	const char *response;
	unsigned drop_nth; /* request number (1-based) answered by closing instead */
	pthread_t acceptor;
	pthread_mutex_t mu;
	int conn_fd[SRV_MAX_CONN];
	pthread_t conn_thread[SRV_MAX_CONN];
	struct srv_conn conn[SRV_MAX_CONN];
	unsigned n_conn;
	struct srv_req req[SRV_MAX_REQ];
	unsigned n_req;
};

/* Read more into c's buffer; the byte count, 0 at EOF or on error. */
static ssize_t
srv_fill(struct srv_conn *c)
{
	ssize_t n;

	if (c->cap - c->len < 4096) {
		char *p = realloc(c->buf, c->cap + 65536);
		if (p == NULL)
			return 0;
		c->buf = p;
		c->cap += 65536;
	}
	n = read(c->s->conn_fd[c->idx], c->buf + c->len, c->cap - c->len);
	if (n <= 0)
		return 0;
	c->len += (size_t)n;
	return n;
}

/* Read one request into *r; false at EOF. */
static bool
srv_read_request(struct srv_conn *c, struct srv_req *r)
{
	char *end, cl[32], *line_end;
	size_t head_len, clen = 0;

	while (c->buf == NULL || (end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL)
		if (srv_fill(c) == 0)
			return false;
	head_len = (size_t)(end - c->buf) + 4;
	if (sscanf(c->buf, "%15s %511s", r->method, r->target) != 2)
		return false;
	line_end = memmem(c->buf, head_len, "\r\n", 2);
	r->head = strndup(line_end + 2, (size_t)(end + 2 - (line_end + 2)));
	if (r->head == NULL)
		return false;
	if (head_find(r->head, "Content-Length", cl, sizeof(cl)) != NULL)
		clen = strtoul(cl, NULL, 10);
	while (c->len < head_len + clen)
		if (srv_fill(c) == 0)
			return false;
	r->body = malloc(clen + 1);
	if (r->body == NULL)
		return false;
	memcpy(r->body, c->buf + head_len, clen);
	r->body_len = clen;
	r->conn = c->idx;
	memmove(c->buf, c->buf + head_len + clen, c->len - head_len - clen);
	c->len -= head_len + clen;
	return true;
}

/* One connection: answer until EOF, the drop, or a "Connection: close". */
static void *
srv_conn_main(void *arg)
{
	struct srv_conn *c = arg;
	struct srv *s = c->s;
	int fd = s->conn_fd[c->idx];

	for (;;) {
		struct srv_req r = { 0 };
		unsigned n;

		if (s->mode == SRV_SILENT) {
			char sink[4096];
			while (read(fd, sink, sizeof(sink)) > 0)
				continue;
			break;
		}
		if (!srv_read_request(c, &r)) {
			free(r.head);
			free(r.body);
			break;
		}
		pthread_mutex_lock(&s->mu);
		n = s->n_req < SRV_MAX_REQ ? ++s->n_req : 0;
		if (n > 0)
			s->req[n - 1] = r;
		pthread_mutex_unlock(&s->mu);
		if (n == 0 || n == s->drop_nth) {
			shutdown(fd, SHUT_RDWR);
			break;
		}
		send(fd, s->response, strlen(s->response), MSG_NOSIGNAL);
		if (strstr(s->response, "Connection: close") != NULL) {
			shutdown(fd, SHUT_WR);
			break;
		}
	}
	free(c->buf);
	c->buf = NULL;
	return NULL;
}

static void *
srv_accept_main(void *arg)
{
	struct srv *s = arg;

	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		struct srv_conn *c;

		if (fd < 0)
			break; /* shut down by srv_stop() */
		pthread_mutex_lock(&s->mu);
		if (s->n_conn == SRV_MAX_CONN) {
			pthread_mutex_unlock(&s->mu);
			close(fd);
			continue;
		}
		c = &s->conn[s->n_conn];
		*c = (struct srv_conn){ .s = s, .idx = s->n_conn };
		s->conn_fd[c->idx] = fd;
		if (pthread_create(&s->conn_thread[c->idx], NULL, srv_conn_main, c) == 0)
			s->n_conn++;
		else
			close(fd);
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

static void
srv_start(struct srv *s, enum srv_mode mode, const char *response, unsigned drop_nth)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->response = response;
	s->drop_nth = drop_nth;
	pthread_mutex_init(&s->mu, NULL);
	s->lfd = loopback_socket(&s->port, 64);
	assert_true(s->lfd >= 0);
	assert_int_equal(pthread_create(&s->acceptor, NULL, srv_accept_main, s), 0);
	s->running = true;
}

static void
srv_stop(struct srv *s)
{
	if (!s->running)
		return;
	s->running = false;
	shutdown(s->lfd, SHUT_RDWR); /* wakes accept() */
	pthread_join(s->acceptor, NULL);
	close(s->lfd);
	for (unsigned i = 0; i < s->n_conn; i++) {
		shutdown(s->conn_fd[i], SHUT_RDWR);
		pthread_join(s->conn_thread[i], NULL);
		close(s->conn_fd[i]);
	}
	for (unsigned i = 0; i < s->n_req; i++) {
		free(s->req[i].head);
		free(s->req[i].body);
	}
	pthread_mutex_destroy(&s->mu);
}

static unsigned
srv_count(struct srv *s, bool conns)
{
	unsigned n;

	pthread_mutex_lock(&s->mu);
	n = conns ? s->n_conn : s->n_req;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* ---- the client side ---- */

/* What one done callback saw, and what it should do. */
struct rec {
	unsigned calls;
	bool cancelled;
	int curl_code;
	char curl_error[CURL_ERROR_SIZE];
	long status;
	char body[32 * 1024];
	size_t body_len;
	bool truncated;
	size_t n_hv; /* how many header values to copy */
	bool hv_null;
	char hv[4][HT_FETCH_VALUE_MAX];
	unsigned pending_at_cb;
	bool free_client;		  /* free the client from this callback */
	const struct ht_fetch_req *again; /* start this from the callback */
	int again_rc;
};

static struct {
	struct event_base *base;
	struct ht_fetch_client *client;
	struct srv srv[2];
	unsigned got;
	unsigned want;
	bool timed_out;
} G;

static void
rec_done_cb(const struct ht_fetch_result *res, void *arg)
{
	struct rec *r = arg;

	r->calls++;
	r->cancelled = res->cancelled;
	r->curl_code = res->curl_code;
	snprintf(r->curl_error, sizeof(r->curl_error), "%s", res->curl_error);
	r->status = res->http_status;
	r->body_len = res->body_len < sizeof(r->body) ? res->body_len : sizeof(r->body);
	memcpy(r->body, res->body, r->body_len);
	r->truncated = res->body_truncated;
	r->hv_null = res->header_values == NULL;
	for (size_t i = 0; i < r->n_hv && !r->hv_null; i++)
		snprintf(r->hv[i], sizeof(r->hv[i]), "%s", res->header_values[i]);
	r->pending_at_cb = ht_fetch_pending(G.client);
	if (r->again != NULL) {
		const struct ht_fetch_req *again = r->again;
		r->again = NULL;
		r->again_rc = ht_fetch_start(G.client, again, rec_done_cb, r);
	}
	if (r->free_client) {
		ht_fetch_client_free(G.client);
		G.client = NULL;
	}
	if (++G.got >= G.want)
		event_base_loopbreak(G.base);
}

static void
safety_cb(evutil_socket_t fd, short what, void *arg)
{
	G.timed_out = true;
	event_base_loopbreak(G.base);
}

/* Run the loop until G.got reaches want (at most max_ms). */
static void
run_until(unsigned want, long max_ms)
{
	struct event *safety = evtimer_new(G.base, safety_cb, NULL);
	struct timeval tv = { max_ms / 1000, (max_ms % 1000) * 1000 };

	assert_non_null(safety);
	G.want = want;
	if (G.got < want) {
		assert_int_equal(evtimer_add(safety, &tv), 0);
		event_base_dispatch(G.base);
	}
	event_free(safety);
	assert_false(G.timed_out);
	assert_int_equal(G.got, want);
}

static void
url_for(char *out, size_t cap, const struct srv *s, const char *path)
{
	snprintf(out, cap, "http://127.0.0.1:%u%s", s->port, path);
}

static int
setup(void **state)
{
	memset(&G, 0, sizeof(G));
	G.base = event_base_new();
	if (G.base == NULL || ht_fetch_client_new(G.base, &G.client) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	ht_fetch_client_free(G.client);
	srv_stop(&G.srv[0]);
	srv_stop(&G.srv[1]);
	event_base_free(G.base);
	return 0;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- tests ---- */

static void
test_post_memory(void **state)
{
	static const char body[] = "{\"Type\":\"Notification\",\"Message\":\"m\"}\0\xff\r\n";
	const struct ht_fetch_header h[] = {
		{ "x-amz-sns-message-type", "Notification" },
		{ "Content-Type", "text/plain; charset=UTF-8" },
		{ "User-Agent", "Amazon Simple Notification Service Agent" },
		{ "X-Empty", "" },
		{ "Accept", NULL },
	};
	struct ht_fetch_req req = { .method = "POST",
		.headers = h,
		.n_headers = N(h),
		.body = body,
		.body_len = sizeof(body) - 1 };
	struct rec *r = calloc(1, sizeof(*r));
	char url[128], v[256];
	struct srv_req *got;

	assert_non_null(r);
	srv_start(&G.srv[0], SRV_ANSWER, OK_CLOSE, 0);
	url_for(url, sizeof(url), &G.srv[0], "/hook/notify?topic=a%2Fb");
	req.url = url;
	assert_int_equal(ht_fetch_start(G.client, &req, rec_done_cb, r), 0);
	/* Never from inside start. */
	assert_int_equal(r->calls, 0);
	assert_int_equal(ht_fetch_pending(G.client), 1);
	run_until(1, 5000);

	assert_int_equal(r->calls, 1);
	assert_false(r->cancelled);
	assert_int_equal(r->curl_code, 0);
	assert_string_equal(r->curl_error, "");
	assert_int_equal(r->status, 200);
	assert_int_equal(r->body_len, 2);
	assert_memory_equal(r->body, "ok", 2);
	assert_false(r->truncated);
	assert_true(r->hv_null);
	assert_int_equal(r->pending_at_cb, 0);
	assert_int_equal(ht_fetch_pending(G.client), 0);

	assert_int_equal(srv_count(&G.srv[0], false), 1);
	got = &G.srv[0].req[0];
	assert_string_equal(got->method, "POST");
	assert_string_equal(got->target, "/hook/notify?topic=a%2Fb");
	assert_int_equal(got->body_len, sizeof(body) - 1);
	assert_memory_equal(got->body, body, sizeof(body) - 1);
	assert_string_equal(head_find(got->head, "x-amz-sns-message-type", v, sizeof(v)),
	    "Notification");
	assert_string_equal(head_find(got->head, "content-type", v, sizeof(v)),
	    "text/plain; charset=UTF-8");
	assert_string_equal(head_find(got->head, "User-Agent", v, sizeof(v)),
	    "Amazon Simple Notification Service Agent");
	assert_string_equal(head_find(got->head, "X-Empty", v, sizeof(v)), "");
	snprintf(url, sizeof(url), "%zu", sizeof(body) - 1);
	assert_string_equal(head_find(got->head, "Content-Length", v, sizeof(v)), url);
	assert_null(head_find(got->head, "Accept", v, sizeof(v)));
	assert_null(head_find(got->head, "Expect", v, sizeof(v)));
	assert_null(head_find(got->head, "Transfer-Encoding", v, sizeof(v)));
	free(r);
}

/* A POST without Content-Type must not be labelled a form. */
static void
test_post_no_content_type(void **state)
{
	struct ht_fetch_req req = { .method = "POST", .body = "x=1", .body_len = 3 };
	struct rec *r = calloc(1, sizeof(*r));
	char url[128], v[256];

	assert_non_null(r);
	srv_start(&G.srv[0], SRV_ANSWER, OK_CLOSE, 0);
	url_for(url, sizeof(url), &G.srv[0], "/");
	req.url = url;
	assert_int_equal(ht_fetch_start(G.client, &req, rec_done_cb, r), 0);
	run_until(1, 5000);
	assert_int_equal(r->status, 200);
	assert_null(head_find(G.srv[0].req[0].head, "Content-Type", v, sizeof(v)));
	assert_string_equal(head_find(G.srv[0].req[0].head, "User-Agent", v, sizeof(v)),
	    "hosttraild/" PACKAGE_VERSION);
	free(r);
}

/* A temporary file of n pseudo-random bytes; its contents in *ret_data. */
static void
make_file(char *path, size_t cap, size_t n, uint8_t **ret_data)
{
	uint8_t *d = malloc(n);
	uint32_t x = 2463534242u;
	int fd;

	assert_non_null(d);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		d[i] = (uint8_t)x;
	}
	snprintf(path, cap, "/tmp/test_fetch.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, d, n), (ssize_t)n);
	close(fd);
	*ret_data = d;
}

static void
test_put_file(void **state)
{
	const size_t size = 1536 * 1024 + 7; /* over curl's 1 MiB Expect threshold */
	struct ht_fetch_req req = { .method = "PUT", .file_size = size };
	struct rec *r = calloc(1, sizeof(*r));
	char url[128], path[64], v[256];
	struct srv_req *got;
	uint8_t *data;

	assert_non_null(r);
	make_file(path, sizeof(path), size, &data);
	srv_start(&G.srv[0], SRV_ANSWER, OK_CLOSE, 0);
	url_for(url, sizeof(url), &G.srv[0], "/bucket/dir/obj.json.gz");
	req.url = url;
	req.path = path;
	assert_int_equal(ht_fetch_start(G.client, &req, rec_done_cb, r), 0);
	/* Copied: the caller's strings may go at once. */
	memset(url, 'x', sizeof(url) - 1);
	run_until(1, 5000);

	assert_int_equal(r->curl_code, 0);
	assert_int_equal(r->status, 200);
	assert_int_equal(srv_count(&G.srv[0], false), 1);
	got = &G.srv[0].req[0];
	assert_string_equal(got->method, "PUT");
	assert_string_equal(got->target, "/bucket/dir/obj.json.gz");
	assert_int_equal(got->body_len, size);
	assert_memory_equal(got->body, data, size);
	assert_null(head_find(got->head, "Content-Type", v, sizeof(v)));
	assert_null(head_find(got->head, "Expect", v, sizeof(v)));
	unlink(path);
	free(data);
	free(r);
}

/* The server reads the second request on a kept-alive connection and
 * closes without answering: curl retries on a new connection, which needs
 * the body rewound (the seek callback), and it must arrive whole again. */
static void
test_put_rewind(void **state)
{
	const size_t size = 100 * 1024;
	struct ht_fetch_req first = { .method = "PUT", .body = "first", .body_len = 5 };
	struct ht_fetch_req second = { .method = "PUT", .file_size = size };
	struct rec *r = calloc(2, sizeof(*r));
	char url[128], path[64];
	uint8_t *data;

	assert_non_null(r);
	make_file(path, sizeof(path), size, &data);
	srv_start(&G.srv[0], SRV_ANSWER, OK_KEEP, 2);
	url_for(url, sizeof(url), &G.srv[0], "/o");
	first.url = second.url = url;
	second.path = path;
	r[0].again = &second; /* on the connection the first one leaves open */
	assert_int_equal(ht_fetch_start(G.client, &first, rec_done_cb, &r[0]), 0);
	run_until(2, 5000);

	assert_int_equal(r[0].again_rc, 0);
	assert_int_equal(r[0].calls, 2);
	assert_int_equal(r[0].curl_code, 0);
	assert_int_equal(r[0].status, 200);
	assert_int_equal(srv_count(&G.srv[0], false), 3);
	assert_int_equal(G.srv[0].req[0].conn, G.srv[0].req[1].conn);
	assert_int_not_equal(G.srv[0].req[1].conn, G.srv[0].req[2].conn);
	for (unsigned i = 1; i <= 2; i++) {
		assert_int_equal(G.srv[0].req[i].body_len, size);
		assert_memory_equal(G.srv[0].req[i].body, data, size);
	}
	unlink(path);
	free(data);
	free(r);
}

static void
test_status_500(void **state)
{
	static const char resp[] = "HTTP/1.1 500 Internal Server Error\r\n"
				   "Content-Type: application/xml\r\nContent-Length: 33\r\n"
				   "Connection: close\r\n\r\n<Error><Code>Boom</Code></Error>\n";
	struct ht_fetch_req req = { .method = "PUT", .body = "b", .body_len = 1 };
	struct rec *r = calloc(1, sizeof(*r));
	char url[128];

	assert_non_null(r);
	srv_start(&G.srv[0], SRV_ANSWER, resp, 0);
	url_for(url, sizeof(url), &G.srv[0], "/");
	req.url = url;
	assert_int_equal(ht_fetch_start(G.client, &req, rec_done_cb, r), 0);
	run_until(1, 5000);
	assert_int_equal(r->curl_code, 0);
	assert_string_equal(r->curl_error, "");
	assert_int_equal(r->status, 500);
	assert_int_equal(r->body_len, 33);
	assert_memory_equal(r->body, "<Error><Code>Boom</Code></Error>\n", 33);
	assert_false(r->truncated);
	free(r);
}

/* Bodies over max_response are cut (and the default is 16 KiB). */
static void
test_max_response(void **state)
{
	const size_t blen = 20000;
	char *resp = malloc(blen + 128);
	struct ht_fetch_req req = { .method = "POST", .max_response = 1000 };
	struct rec *r = calloc(2, sizeof(*r));
	char url[128];
	int n;

	assert_non_null(resp);
	assert_non_null(r);
	n = snprintf(resp, 128,
	    "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", blen);
	for (size_t i = 0; i < blen; i++)
		resp[n + (int)i] = (char)('a' + i % 26);
	resp[n + (int)blen] = '\0';
	srv_start(&G.srv[0], SRV_ANSWER, resp, 0);
	url_for(url, sizeof(url), &G.srv[0], "/");
	req.url = url;
	assert_int_equal(ht_fetch_start(G.client, &req, rec_done_cb, &r[0]), 0);
	req.max_response = 0;
	assert_int_equal(ht_fetch_start(G.client, &req, rec_done_cb, &r[1]), 0);
	run_until(2, 5000);
	assert_int_equal(r[0].status, 200);
	assert_int_equal(r[0].curl_code, 0);
	assert_int_equal(r[0].body_len, 1000);
	assert_true(r[0].truncated);
	assert_memory_equal(r[0].body, resp + n, 1000);
	assert_int_equal(r[1].body_len, HT_FETCH_RESPONSE_DEFAULT);
	assert_true(r[1].truncated);
	assert_memory_equal(r[1].body, resp + n, HT_FETCH_RESPONSE_DEFAULT);
	srv_stop(&G.srv[0]);
	free(resp);
	free(r);
}

static void
test_keep_headers(void **state)
{
	static const char resp[] = "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n"
				   "HTTP/1.1 201 Created\r\nETag: \"abc123\"\r\n"
				   "x-request-id: \t r-1 \t\r\nX-Multi: one\r\nX-Multi: two\r\n"
				   "Content-Length: 0\r\nConnection: close\r\n\r\n";
	static const char *const keep[] = { "etag", "X-REQUEST-ID", "x-multi", "X-Interim" };
	struct ht_fetch_req req = { .method = "PUT", .keep_headers = keep, .n_keep_headers = 4 };
	struct rec *r = calloc(1, sizeof(*r));
	char url[128];

	assert_non_null(r);
	r->n_hv = 4;
	srv_start(&G.srv[0], SRV_ANSWER, resp, 0);
	url_for(url, sizeof(url), &G.srv[0], "/");
	req.url = url;
	assert_int_equal(ht_fetch_start(G.client, &req, rec_done_cb, r), 0);
	run_until(1, 5000);
	assert_int_equal(r->status, 201);
	assert_false(r->hv_null);
	assert_string_equal(r->hv[0], "\"abc123\"");
	assert_string_equal(r->hv[1], "r-1");
	assert_string_equal(r->hv[2], "two");
	assert_string_equal(r->hv[3], ""); /* only on the interim 100 */
	free(r);
}

static void
test_timeout(void **state)
{
	struct ht_fetch_req req = { .method = "PUT", .body = "b", .body_len = 1, .timeout_ms = 300 };
	struct rec *r = calloc(1, sizeof(*r));
	char url[128];
	double t0, ms;

	assert_non_null(r);
	srv_start(&G.srv[0], SRV_SILENT, NULL, 0);
	url_for(url, sizeof(url), &G.srv[0], "/");
	req.url = url;
	t0 = now_ms();
	assert_int_equal(ht_fetch_start(G.client, &req, rec_done_cb, r), 0);
	run_until(1, 5000);
	ms = now_ms() - t0;
	assert_int_equal(r->curl_code, CURLE_OPERATION_TIMEDOUT);
	assert_true(r->curl_error[0] != '\0');
	assert_int_equal(r->status, 0);
	assert_false(r->cancelled);
	assert_true(ms >= 280 && ms < 3000);
	assert_int_equal(srv_count(&G.srv[0], true), 1);
	free(r);
}

static void
test_refused(void **state)
{
	struct ht_fetch_req req = { .method = "POST", .body = "b", .body_len = 1 };
	struct rec *r = calloc(1, sizeof(*r));
	char url[128];
	unsigned port;
	int fd = loopback_socket(&port, 0); /* a port nobody listens on */

	assert_non_null(r);
	assert_true(fd >= 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	req.url = url;
	assert_int_equal(ht_fetch_start(G.client, &req, rec_done_cb, r), 0);
	run_until(1, 5000);
	assert_int_equal(r->curl_code, CURLE_COULDNT_CONNECT);
	assert_true(r->curl_error[0] != '\0');
	assert_int_equal(r->status, 0);
	assert_false(r->cancelled);
	free(r);
}

static void
test_redirect_not_followed(void **state)
{
	static const char resp[] = "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n"
				   "Content-Length: 0\r\nConnection: close\r\n\r\n";
	struct ht_fetch_req req = { .method = "POST", .body = "b", .body_len = 1 };
	struct rec *r = calloc(1, sizeof(*r));
	char url[128];

	assert_non_null(r);
	srv_start(&G.srv[0], SRV_ANSWER, resp, 0);
	url_for(url, sizeof(url), &G.srv[0], "/here");
	req.url = url;
	assert_int_equal(ht_fetch_start(G.client, &req, rec_done_cb, r), 0);
	run_until(1, 5000);
	assert_int_equal(r->curl_code, 0);
	assert_int_equal(r->status, 302);
	assert_int_equal(srv_count(&G.srv[0], false), 1);
	free(r);
}

/* resolve_to pins a name; the Host header keeps the name. */
static void
test_resolve_to(void **state)
{
	struct ht_fetch_req req = { .method = "PUT", .resolve_to = "127.0.0.1" };
	struct rec *r = calloc(1, sizeof(*r));
	char url[128], v[256], want[64];

	assert_non_null(r);
	srv_start(&G.srv[0], SRV_ANSWER, OK_CLOSE, 0);
	snprintf(url, sizeof(url), "http://hook.invalid:%u/x", G.srv[0].port);
	snprintf(want, sizeof(want), "hook.invalid:%u", G.srv[0].port);
	req.url = url;
	assert_int_equal(ht_fetch_start(G.client, &req, rec_done_cb, r), 0);
	run_until(1, 5000);
	assert_int_equal(r->status, 200);
	assert_string_equal(head_find(G.srv[0].req[0].head, "Host", v, sizeof(v)), want);
	free(r);
}

/* http_proxy from the environment is used: the "proxy" sees the whole URL. */
static void
test_proxy_env(void **state)
{
	struct ht_fetch_req req = { .method = "POST",
		.url = "http://webhook.example.invalid/p?q=1",
		.body = "b",
		.body_len = 1 };
	struct rec *r = calloc(1, sizeof(*r));
	char proxy[128];

	assert_non_null(r);
	srv_start(&G.srv[0], SRV_ANSWER, OK_CLOSE, 0);
	url_for(proxy, sizeof(proxy), &G.srv[0], "");
	setenv("http_proxy", proxy, 1);
	assert_int_equal(ht_fetch_start(G.client, &req, rec_done_cb, r), 0);
	run_until(1, 5000);
	unsetenv("http_proxy");
	assert_int_equal(r->status, 200);
	assert_int_equal(srv_count(&G.srv[0], false), 1);
	assert_string_equal(G.srv[0].req[0].target, "http://webhook.example.invalid/p?q=1");
	free(r);
}

static void
free_when_connected_cb(evutil_socket_t fd, short what, void *arg)
{
	if (srv_count(&G.srv[0], true) < 3)
		return;
	ht_fetch_client_free(G.client);
	G.client = NULL;
}

/* Freed with three requests in flight (from a timer): each is reported
 * once, cancelled, before free returns; starting more meanwhile is refused. */
static void
test_free_cancels(void **state)
{
	struct ht_fetch_req req = { .method = "PUT", .body = "b", .body_len = 1 };
	static const char *const keep[] = { "ETag" };
	struct rec *r = calloc(3, sizeof(*r));
	struct event *poll;
	struct timeval tv = { 0, 5000 };
	char url[128];

	assert_non_null(r);
	srv_start(&G.srv[0], SRV_SILENT, NULL, 0);
	url_for(url, sizeof(url), &G.srv[0], "/");
	req.url = url;
	req.keep_headers = keep;
	req.n_keep_headers = 1;
	for (int i = 0; i < 3; i++) {
		r[i].n_hv = 1;
		r[i].again = &req;
		assert_int_equal(ht_fetch_start(G.client, &req, rec_done_cb, &r[i]), 0);
	}
	assert_int_equal(ht_fetch_pending(G.client), 3);
	poll = event_new(G.base, -1, EV_PERSIST, free_when_connected_cb, NULL);
	assert_non_null(poll);
	assert_int_equal(event_add(poll, &tv), 0);
	run_until(3, 5000);
	event_free(poll);
	assert_null(G.client);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_true(r[i].cancelled);
		assert_int_equal(r[i].curl_code, CURLE_ABORTED_BY_CALLBACK);
		assert_string_equal(r[i].curl_error, "cancelled");
		assert_int_equal(r[i].status, 0);
		assert_int_equal(r[i].body_len, 0);
		assert_string_equal(r[i].hv[0], "");
		assert_int_equal(r[i].pending_at_cb, 2 - i);
		assert_int_equal(r[i].again_rc, -ECANCELED);
	}
	free(r);
}

/* Freed from a done callback: the others are cancelled inside that call,
 * the memory goes after it returns, and nothing fires afterwards. */
static void
test_free_from_callback(void **state)
{
	struct ht_fetch_req req = { .method = "POST", .body = "b", .body_len = 1 };
	struct rec *r = calloc(3, sizeof(*r));
	char silent[128], answer[128];

	assert_non_null(r);
	srv_start(&G.srv[0], SRV_SILENT, NULL, 0);
	srv_start(&G.srv[1], SRV_ANSWER, OK_CLOSE, 0);
	url_for(silent, sizeof(silent), &G.srv[0], "/");
	url_for(answer, sizeof(answer), &G.srv[1], "/");
	req.url = silent;
	assert_int_equal(ht_fetch_start(G.client, &req, rec_done_cb, &r[0]), 0);
	assert_int_equal(ht_fetch_start(G.client, &req, rec_done_cb, &r[1]), 0);
	req.url = answer;
	r[2].free_client = true;
	assert_int_equal(ht_fetch_start(G.client, &req, rec_done_cb, &r[2]), 0);
	run_until(3, 5000);
	assert_null(G.client);
	assert_int_equal(r[2].calls, 1);
	assert_false(r[2].cancelled);
	assert_int_equal(r[2].status, 200);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_true(r[i].cancelled);
	}
	/* Nothing of the client is left on the loop. */
	assert_int_equal(event_base_loop(G.base, EVLOOP_NONBLOCK), 1);
	assert_int_equal(G.got, 3);
	free(r);
}

/* Each allocation of ours failing in turn (when linked with
 * -Wl,--wrap=...): creating the client and starting return -ENOMEM and
 * never call back; a socket that cannot be watched fails only its own
 * transfer, with CURLE_OUT_OF_MEMORY, instead of wedging the multi handle;
 * ASan sees no leak. */
static void
test_alloc_failures(void **state)
{
	static const char *const keep[] = { "ETag" };
	const struct ht_fetch_header h[] = { { "X-A", "1" }, { "X-B", "2" } };
	struct ht_fetch_req req = { .method = "PUT",
		.headers = h,
		.n_headers = N(h),
		.body = "b",
		.body_len = 1,
		.resolve_to = "127.0.0.1",
		.keep_headers = keep,
		.n_keep_headers = N(keep),
		.timeout_ms = 150 };
	struct rec *r = malloc(sizeof(*r));
	unsigned n, in_loop = 0;
	char url[128];

	assert_non_null(r);
	if (__real_malloc == NULL) {
		free(r);
		print_message("allocation wrappers not linked (-Wl,--wrap=...); skipping\n");
		skip();
	}
	srv_start(&G.srv[0], SRV_SILENT, NULL, 0);
	snprintf(url, sizeof(url), "http://hook.invalid:%u/", G.srv[0].port);
	req.url = url;
	ht_fetch_client_free(G.client);
	G.client = NULL;
	for (n = 1;; n++) {
		int rc;

		memset(r, 0, sizeof(*r));
		alloc_calls = 0;
		alloc_fail_at = n;
		rc = ht_fetch_client_new(G.base, &G.client);
		if (rc == 0 && (rc = ht_fetch_start(G.client, &req, rec_done_cb, r)) == 0)
			run_until(G.got + 1, 5000);
		alloc_fail_at = 0;
		ht_fetch_client_free(G.client);
		G.client = NULL;
		if (alloc_calls < n) { /* nothing failed: the request ran to its timeout */
			assert_int_equal(rc, 0);
			assert_int_equal(r->curl_code, CURLE_OPERATION_TIMEDOUT);
			break;
		}
		if (rc != 0) {
			assert_int_equal(rc, -ENOMEM);
			assert_int_equal(r->calls, 0);
			continue;
		}
		assert_int_equal(r->calls, 1);
		assert_int_equal(r->curl_code, CURLE_OUT_OF_MEMORY);
		assert_int_equal(r->status, 0);
		in_loop++;
	}
	assert_true(n > 6);
	assert_int_equal(in_loop, 1);
	print_message("failed each of %u allocations\n", n - 1);
	free(r);
}

static void
test_start_refused(void **state)
{
	static const char *const many[HT_FETCH_KEEP_MAX + 1] = { "a", "b", "c", "d", "e", "f", "g",
		"h", "i", "j", "k", "l", "m", "n", "o", "p", "q" };
	static const char *const bad_keep[] = { "ETag:" };
	const struct ht_fetch_header bad_name[] = { { "Bad Name", "v" } };
	const struct ht_fetch_header crlf[] = { { "X-A", "v\r\nX-Injected: 1" } };
	const struct ht_fetch_header framing[] = { { "content-length", "5" } };
	const struct ht_fetch_header expect[] = { { "Expect", "100-continue" } };
	const struct ht_fetch_req good = { .method = "PUT", .url = "http://127.0.0.1:9/" };
	struct ht_fetch_client *c = (struct ht_fetch_client *)&good;
	char path[64];
	struct rec r = { 0 };
	uint8_t *data;
	struct ht_fetch_req q;

#define REFUSED(rc, ...)                                                             \
	do {                                                                         \
		q = (struct ht_fetch_req){ __VA_ARGS__ };                            \
		assert_int_equal(ht_fetch_start(G.client, &q, rec_done_cb, &r), rc); \
	} while (0)
	REFUSED(-EINVAL, .method = "GET", .url = good.url);
	REFUSED(-EINVAL, .method = NULL, .url = good.url);
	REFUSED(-EINVAL, .method = "PUT", .url = NULL);
	REFUSED(-EINVAL, .method = "PUT", .url = "ftp://127.0.0.1/x");
	REFUSED(-EINVAL, .method = "PUT", .url = "file:///etc/passwd");
	REFUSED(-EINVAL, .method = "PUT", .url = "not a url");
	REFUSED(-EINVAL, .method = "PUT", .url = good.url, .headers = bad_name, .n_headers = 1);
	REFUSED(-EINVAL, .method = "PUT", .url = good.url, .headers = crlf, .n_headers = 1);
	REFUSED(-EINVAL, .method = "PUT", .url = good.url, .headers = framing, .n_headers = 1);
	REFUSED(-EINVAL, .method = "PUT", .url = good.url, .headers = expect, .n_headers = 1);
	REFUSED(-EINVAL, .method = "PUT", .url = good.url, .headers = NULL, .n_headers = 1);
	REFUSED(-EINVAL, .method = "PUT", .url = good.url, .keep_headers = many,
	    .n_keep_headers = N(many));
	REFUSED(-EINVAL, .method = "PUT", .url = good.url, .keep_headers = bad_keep,
	    .n_keep_headers = 1);
	REFUSED(-EINVAL, .method = "PUT", .url = good.url,
	    .max_response = HT_FETCH_RESPONSE_MAX + 1);
	REFUSED(-EINVAL, .method = "PUT", .url = good.url, .body = NULL, .body_len = 3);
	REFUSED(-EINVAL, .method = "PUT", .url = good.url, .resolve_to = "");
	REFUSED(-ENOENT, .method = "PUT", .url = good.url, .path = "/nonexistent/x");
	REFUSED(-EINVAL, .method = "PUT", .url = good.url, .path = "/tmp");
	make_file(path, sizeof(path), 10, &data);
	REFUSED(-EFBIG, .method = "PUT", .url = good.url, .path = path, .file_size = 11);
	REFUSED(-EINVAL, .method = "PUT", .url = good.url, .path = path, .file_size = 10,
	    .body = "x", .body_len = 1);
#undef REFUSED
	unlink(path);
	free(data);
	assert_int_equal(ht_fetch_start(G.client, &good, NULL, NULL), -EINVAL);
	assert_int_equal(ht_fetch_start(NULL, &good, rec_done_cb, &r), -EINVAL);
	assert_int_equal(ht_fetch_start(G.client, NULL, rec_done_cb, &r), -EINVAL);
	assert_int_equal(ht_fetch_pending(G.client), 0);
	assert_int_equal(ht_fetch_pending(NULL), 0);
	event_base_loop(G.base, EVLOOP_NONBLOCK);
	assert_int_equal(r.calls, 0);
	assert_int_equal(ht_fetch_client_new(NULL, &c), -EINVAL);
	assert_ptr_equal(c, (struct ht_fetch_client *)&good); /* untouched on failure */
	ht_fetch_client_free(NULL);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_post_memory),
		T(test_post_no_content_type),
		T(test_put_file),
		T(test_put_rewind),
		T(test_status_500),
		T(test_max_response),
		T(test_keep_headers),
		T(test_timeout),
		T(test_refused),
		T(test_redirect_not_followed),
		T(test_resolve_to),
		T(test_proxy_env),
		T(test_free_cancels),
		T(test_free_from_callback),
		T(test_start_refused),
		T(test_alloc_failures),
	};
#undef T
	/* Requests to 127.0.0.1 go direct whatever the caller's environment. */
	static const char *const proxy_vars[] = { "http_proxy", "https_proxy", "all_proxy",
		"no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY" };

	for (size_t i = 0; i < N(proxy_vars); i++)
		unsetenv(proxy_vars[i]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

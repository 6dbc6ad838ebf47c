/*
 * http_stub.h - a tiny HTTP server thread standing in for a remote end
 * (an S3 bucket, a topic's subscribers), and the fixture helpers that go
 * with it: a gate threads wait at, a socket on 127.0.0.1, reading a header
 * out of a recorded request, a temporary directory, and driving an
 * event_base until a condition holds.  test_outbox.c and test_notify.c use
 * the server; test_fetch.c only the helpers, as its server needs what this
 * one does not (keep-alive, several connections at once, canned answers,
 * no allocation on the accept path).  Include it in exactly one file of a
 * test program.
 *
 * The server: one thread on 127.0.0.1 accepts a connection, reads one
 * request (head and Content-Length body), records it, waits while its gate
 * is closed, then answers status (plus any extra header lines) with
 * "Connection: close".  Connections are served one at a time, which is all
 * these tests need.
 *
 * What a test may call is static and marked unused (STUB_FN), so each test
 * uses what it needs without warnings.
 */
#ifndef HT_TEST_HTTP_STUB_H
#define HT_TEST_HTTP_STUB_H

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "util.h"

#define STUB_FN static __attribute__((unused))

/* ---- a gate ---- */

/* Threads calling gate_wait() block until the gate opens; waiting counts
 * them, so a test can tell when they are all held. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool is_open;
	int waiting;
};

STUB_FN void
gate_init(struct gate *g, bool is_open)
{
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->is_open = is_open;
	g->waiting = 0;
}

STUB_FN void
gate_destroy(struct gate *g)
{
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
}

/* Open (true) or close (false) the gate; opening it releases every waiter. */
STUB_FN void
gate_set(struct gate *g, bool is_open)
{
	pthread_mutex_lock(&g->mu);
	g->is_open = is_open;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

STUB_FN void
gate_wait(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->waiting++;
	while (!g->is_open)
		pthread_cond_wait(&g->cv, &g->mu);
	g->waiting--;
	pthread_mutex_unlock(&g->mu);
}

/* How many threads wait at the gate now. */
STUB_FN int
gate_waiting(struct gate *g)
{
	int n;

	pthread_mutex_lock(&g->mu);
	n = g->waiting;
	pthread_mutex_unlock(&g->mu);
	return n;
}

/* ---- sockets and directories ---- */

/* A TCP socket bound to 127.0.0.1 on a free port, listening with backlog,
 * or never listening if backlog is 0 (connections to it are refused); its
 * port into *ret_port.  The fd, -1 on failure. */
STUB_FN int
loopback_socket(unsigned *ret_port, int backlog)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (backlog > 0 && listen(fd, backlog) < 0) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		close(fd);
		return -1;
	}
	*ret_port = ntohs(sa.sin_port);
	return fd;
}

/* A new directory /tmp/<name>.XXXXXX, its path into dir; -1 on failure. */
STUB_FN int
tmpdir_make(char *dir, size_t cap, const char *name)
{
	if ((size_t)snprintf(dir, cap, "/tmp/%s.XXXXXX", name) >= cap)
		return -1;
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Remove dir and everything below it, ignoring what cannot be removed. */
STUB_FN void
rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the loop ---- */

struct fixture;			/* the including test's; only passed on here */

static void
loop_tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* Run base until cond(fx) holds; false if it did not within limit_ms.
 * A 5 ms tick keeps EVLOOP_ONCE from blocking past the deadline. */
STUB_FN bool
loop_until(struct event_base *base, bool (*cond)(struct fixture *), struct fixture *fx,
    int64_t limit_ms)
{
	int64_t deadline = ht_mono_ms() + limit_ms;
	struct timeval tick = { 0, 5000 };
	struct event *ev = event_new(base, -1, EV_PERSIST, loop_tick_cb, NULL);
	bool met;

	assert_non_null(ev);
	event_add(ev, &tick);
	while (!(met = cond(fx)) && ht_mono_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(ev);
	return met;
}

static bool
loop_never(struct fixture *fx)
{
	return false;
}

/* Let base run for ms (to show that something does not happen). */
STUB_FN void
loop_for(struct event_base *base, int64_t ms)
{
	(void)loop_until(base, loop_never, NULL, ms);
}

/* ---- the server ---- */

#define STUB_MAX_REQ 32

struct stub_req {
	char method[16];
	char target[1024];
	char *head;			/* header lines, each ending "\r\n" */
	char *body;
	size_t body_len;
	int64_t at_ms;			/* ht_mono_ms() when it arrived */
};

struct stub {
	bool running;
	int lfd;
	unsigned port;
	int status;			/* every answer's */
	const char *headers;		/* extra answer header lines ("\r\n" each), or NULL */
	pthread_t thread;
	struct gate gate;		/* answers wait here while it is closed */
	pthread_mutex_t mu;		/* guards what follows */
	int conn_fd;			/* the connection being served, -1 */
	unsigned n_req;
	struct stub_req req[STUB_MAX_REQ];
};

/* One request from fd into r; false at EOF or on a malformed request. */
static bool
stub_read(int fd, struct stub_req *r)
{
	size_t cap = 1 << 16, len = 0, head_len = 0, clen = 0;
	char *buf = malloc(cap), *end, *cl, *line_end;
	ssize_t n;

	if (buf == NULL)
		return false;
	for (;;) {
		if (len > 0 && (end = memmem(buf, len, "\r\n\r\n", 4)) != NULL) {
			char *head = strndup(buf, (size_t)(end - buf) + 2);

			if (head == NULL)
				goto fail;
			head_len = (size_t)(end - buf) + 4;
			cl = strcasestr(head, "\r\nContent-Length:");
			clen = cl ? strtoul(cl + 17, NULL, 10) : 0;
			free(head);
			if (len >= head_len + clen)
				break;
		}
		if (cap - len < 4096) {
			char *p = realloc(buf, cap * 2);

			if (p == NULL)
				goto fail;
			buf = p;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n <= 0)
			goto fail;
		len += (size_t)n;
	}
	if (sscanf(buf, "%15s %1023s", r->method, r->target) != 2)
		goto fail;
	line_end = memmem(buf, head_len, "\r\n", 2);
	r->head = strndup(line_end + 2, head_len - 2 - (size_t)(line_end + 2 - buf));
	r->body = malloc(clen + 1);
	if (r->head == NULL || r->body == NULL)
		goto fail;
	memcpy(r->body, buf + head_len, clen);
	r->body[clen] = '\0';
	r->body_len = clen;
	r->at_ms = ht_mono_ms();
	free(buf);
	return true;
fail:
	free(r->head);
	free(r->body);
	r->head = r->body = NULL;
	free(buf);
	return false;
}

/* Keep r (up to STUB_MAX_REQ requests), else free it. */
static void
stub_record(struct stub *s, struct stub_req *r)
{
	pthread_mutex_lock(&s->mu);
	if (s->n_req < STUB_MAX_REQ) {
		s->req[s->n_req++] = *r;
	} else {
		free(r->head);
		free(r->body);
	}
	pthread_mutex_unlock(&s->mu);
}

static void
stub_set_conn(struct stub *s, int fd)
{
	pthread_mutex_lock(&s->mu);
	s->conn_fd = fd;
	pthread_mutex_unlock(&s->mu);
}

static void *
stub_main(void *arg)
{
	struct stub *s = arg;
	char answer[512];

	for (;;) {
		struct stub_req r = { .body = NULL };
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			break;	/* stub_stop() shut the socket down */
		stub_set_conn(s, fd);
		if (stub_read(fd, &r)) {
			stub_record(s, &r);
			gate_wait(&s->gate);
			snprintf(answer, sizeof(answer), "HTTP/1.1 %d Answer\r\n"
			    "Content-Length: 0\r\n%sConnection: close\r\n\r\n", s->status,
			    s->headers != NULL ? s->headers : "");
			(void)send(fd, answer, strlen(answer), MSG_NOSIGNAL);
		}
		stub_set_conn(s, -1);
		shutdown(fd, SHUT_RDWR);
		close(fd);
	}
	return NULL;
}

/* Start s answering status, with the extra header lines headers (NULL for
 * none); answers are held until stub_open_gate() unless gate_open. */
STUB_FN void
stub_start(struct stub *s, int status, bool gate_open, const char *headers)
{
	memset(s, 0, sizeof(*s));
	s->status = status;
	s->headers = headers;
	s->conn_fd = -1;
	gate_init(&s->gate, gate_open);
	pthread_mutex_init(&s->mu, NULL);
	s->lfd = loopback_socket(&s->port, 16);
	assert_true(s->lfd >= 0);
	assert_int_equal(pthread_create(&s->thread, NULL, stub_main, s), 0);
	s->running = true;
}

STUB_FN void
stub_open_gate(struct stub *s)
{
	gate_set(&s->gate, true);
}

/* Requests recorded so far. */
STUB_FN unsigned
stub_count(struct stub *s)
{
	unsigned n;

	pthread_mutex_lock(&s->mu);
	n = s->n_req;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* Stop s (a no-op if it never started): a held answer is let go into a
 * connection that is shut down, so the client sees the connection fail. */
STUB_FN void
stub_stop(struct stub *s)
{
	if (!s->running)
		return;
	s->running = false;
	pthread_mutex_lock(&s->mu);
	if (s->conn_fd >= 0)
		shutdown(s->conn_fd, SHUT_RDWR);
	pthread_mutex_unlock(&s->mu);
	gate_set(&s->gate, true);
	shutdown(s->lfd, SHUT_RDWR);	/* wakes accept() */
	pthread_join(s->thread, NULL);
	close(s->lfd);
	for (unsigned i = 0; i < s->n_req; i++) {
		free(s->req[i].head);
		free(s->req[i].body);
	}
	gate_destroy(&s->gate);
	pthread_mutex_destroy(&s->mu);
}

/* The value of header name in a recorded head, into out; NULL if absent. */
STUB_FN const char *
head_find(const char *head, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);

	for (const char *l = head; l != NULL && *l != '\0';) {
		const char *eol = strstr(l, "\r\n"), *v;

		if (eol == NULL)
			break;
		if ((size_t)(eol - l) > nl && strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			v = l + nl + 1;
			while (*v == ' ')
				v++;
			snprintf(out, cap, "%.*s", (int)(eol - v), v);
			return out;
		}
		l = eol + 2;
	}
	return NULL;
}

#endif

/*
 * http.c - see http.h.
 */
#include "ht_build.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <grp.h>
#include <pwd.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <json-c/json.h>

#include "api/http.h"
#include "api/reply.h"
#include "api/sigv4.h"
#include "util.h"
#include "log.h"

struct api_op {
	char *name;
	ht_api_op_fn fn;
	void *arg;
};

/* A token bucket per access key and kind of operation. */
struct rate_bucket {
	char key[129];
	double tokens[3];
	int64_t last_ms[3];
	int64_t used_ms;		/* for replacing the least recently used */
};

#define RATE_BUCKETS 64

struct ht_api {
	struct event_base *base;
	gid_t admin_gid;		/* the hosttrail group, or (gid_t)-1 */
	struct evhttp_bound_socket *tcp;
	char *account_id, *region;
	struct ht_sigv4_store *keys;
	struct ht_api_rates rates;
	struct rate_bucket buckets[RATE_BUCKETS];
	struct api_op *ops;
	size_t n_ops;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	char *unix_path;
};

static void
api_fallback_cb(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);

	ht_reply_error(req, 404, "UnknownOperationException",
	    "no operation at %.200s", uri ? uri : "?");
}

/* The operation an X-Amz-Target names (full prefix, or the short
 * "CloudTrail_20131101.Op" form), or NULL. */
static const struct api_op *
api_find_op(const struct ht_api *api, const char *target)
{
	static const char short_prefix[] = "CloudTrail_20131101.";
	const char *name;

	if (strncmp(target, HT_API_TARGET_PREFIX, strlen(HT_API_TARGET_PREFIX)) == 0)
		name = target + strlen(HT_API_TARGET_PREFIX);
	else if (strncmp(target, short_prefix, strlen(short_prefix)) == 0)
		name = target + strlen(short_prefix);
	else
		return NULL;
	for (size_t i = 0; i < api->n_ops; i++)
		if (strcmp(api->ops[i].name, name) == 0)
			return &api->ops[i];
	return NULL;
}

/* Parse the body as one JSON object ({} when empty); NULL if it is not. */
static struct json_object *
api_parse_body(struct evhttp_request *req)
{
	struct evbuffer *buf = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(buf);
	struct json_tokener *tok;
	struct json_object *obj;

	if (len == 0)
		return json_object_new_object();
	tok = json_tokener_new();
	if (tok == NULL)
		return NULL;
	obj = json_tokener_parse_ex(tok, (const char *)evbuffer_pullup(buf, -1), (int)len);
	if (obj && (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len || !json_object_is_type(obj, json_type_object))) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

/* Is uid (primary group gid) root, us, or in the hosttrail group? */
static bool
api_local_admin(const struct ht_api *api, uid_t uid, gid_t gid)
{
	gid_t groups[256];
	int n = 256;
	struct passwd *pw;

	if (uid == 0 || uid == geteuid())
		return true;
	if (api->admin_gid == (gid_t)-1)
		return false;
	if (gid == api->admin_gid)
		return true;
	pw = getpwuid(uid);
	if (pw == NULL || getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == api->admin_gid)
			return true;
	return false;
}

/* Take one token for key and the kind of op; false when over the rate. */
static bool
api_rate_take(struct ht_api *api, const char *key, const char *op)
{
	int kind = strcmp(op, "LookupEvents") == 0 ? 0 : ht_sigv4_operation_is_read(op) ? 1 : 2;
	double rate = kind == 0 ? api->rates.lookup : kind == 1 ? api->rates.read : api->rates.write;
	int64_t now = ht_mono_ms();
	struct rate_bucket *b = NULL, *lru = &api->buckets[0];

	for (size_t i = 0; i < RATE_BUCKETS && b == NULL; i++) {
		if (strcmp(api->buckets[i].key, key) == 0)
			b = &api->buckets[i];
		else if (api->buckets[i].used_ms < lru->used_ms)
			lru = &api->buckets[i];
	}
	if (b == NULL) {
		b = lru;
		memset(b, 0, sizeof(*b));
		snprintf(b->key, sizeof(b->key), "%s", key);
		for (int k = 0; k < 3; k++) {
			b->tokens[k] = -1;
			b->last_ms[k] = now;
		}
	}
	b->used_ms = now;
	/* Capacity is one second's worth: a burst of `rate` requests. */
	if (b->tokens[kind] < 0)
		b->tokens[kind] = rate;
	b->tokens[kind] += rate * (double)(now - b->last_ms[kind]) / 1000.0;
	if (b->tokens[kind] > rate)
		b->tokens[kind] = rate;
	b->last_ms[kind] = now;
	if (b->tokens[kind] < 1.0)
		return false;
	b->tokens[kind] -= 1.0;
	return true;
}

/* Verify a TCP request's signature, its key's right to call op, and its
 * rate. */
static int
api_authorize_signed(struct ht_api *api, struct evhttp_request *req, const char *service,
    const char *op, struct ht_api_caller *ret)
{
	struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	struct ht_sigv4_header hv[64];
	const char *services[] = { service, NULL };
	struct ht_sigv4_identity id;
	struct ht_sigv4_error err = { 0 };
	struct ht_sigv4_request sr;
	struct ht_sigv4_expect ex;
	struct evkeyval *kv;
	size_t n = 0;

	TAILQ_FOREACH(kv, hdrs, next) {
		if (n == sizeof(hv) / sizeof(hv[0])) {
			ht_reply_error(req, 400, "InvalidSignatureException", "too many headers");
			return -EACCES;
		}
		hv[n++] = (struct ht_sigv4_header){ kv->key, kv->value };
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		ht_reply_error(req, 400, "UnsupportedOperationException",
		    "the API takes POST requests only");
		return -EACCES;
	}
	sr = (struct ht_sigv4_request){
		.method = "POST",
		.uri = evhttp_request_get_uri(req), .headers = hv, .n_headers = n,
		.body = evbuffer_get_length(body) ? evbuffer_pullup(body, -1) : NULL,
		.body_len = evbuffer_get_length(body) };
	ex = (struct ht_sigv4_expect){ .region = api->region, .services = services,
		.now = (int64_t)time(NULL) };
	if (ht_sigv4_verify(api->keys, &sr, &ex, &id, &err) < 0 ||
	    ht_sigv4_authorize(&id, api->account_id, op, &err) < 0) {
		ht_reply_error(req, err.status ? err.status : 400, err.code, "%s", err.message);
		return -EACCES;
	}
	snprintf(ret->access_key, sizeof(ret->access_key), "%s", id.access_key_id);
	ret->access = (int)id.access;
	if (strcmp(service, "cloudtrail") == 0 && !api_rate_take(api, id.access_key_id, op)) {
		ht_reply_error(req, 400, "ThrottlingException", "Rate exceeded");
		return -EACCES;
	}
	return 0;
}

int
ht_api_authorize(struct ht_api *api, struct evhttp_request *req, const char *service,
    const char *op, struct ht_api_caller *ret)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct ucred cred;
	socklen_t cl = sizeof(cred);

	memset(ret, 0, sizeof(*ret));
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		ht_reply_error(req, 500, "InternalFailure", "cannot identify the connection");
		return -EACCES;
	}
	if (ss.ss_family != AF_UNIX)
		return api_authorize_signed(api, req, service, op, ret);
	ret->local = true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    !api_local_admin(api, cred.uid, cred.gid)) {
		ht_reply_error(req, 400, "AccessDeniedException", "uid %d may not use hosttraild's "
		    "API socket: only root and members of the hosttrail group may",
		    cl == sizeof(cred) ? (int)cred.uid : -1);
		return -EACCES;
	}
	ret->uid = cred.uid;
	ret->access = HT_ACCESS_ADMIN;
	return 0;
}

static void
api_dispatch_cb(struct evhttp_request *req, void *arg)
{
	struct ht_api *api = arg;
	const char *target = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-Amz-Target");
	struct ht_api_caller caller;
	const struct api_op *op;
	struct json_object *body;


	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		ht_reply_error(req, 400, "UnsupportedOperationException",
		    "CloudTrail operations are POST /");
		return;
	}
	op = target ? api_find_op(api, target) : NULL;
	/* Who asks comes first: an unsigned caller learns nothing. */
	if (ht_api_authorize(api, req, "cloudtrail", op ? op->name : "Unknown", &caller) < 0)
		return;
	if (op == NULL) {
		ht_reply_error(req, 400, "UnknownOperationException", "%s%.200s%s",
		    target ? "unknown or unsupported operation \"" : "missing X-Amz-Target header",
		    target ? target : "", target ? "\"" : "");
		return;
	}
	body = api_parse_body(req);
	if (body == NULL) {
		ht_reply_error(req, 400, "SerializationException",
		    "the request body is not a JSON object");
		return;
	}
	op->fn(req, body, op->arg);
	json_object_put(body);
}

int
ht_api_op(struct ht_api *api, const char *name, ht_api_op_fn fn, void *arg)
{
	struct api_op *n;

	for (size_t i = 0; i < api->n_ops; i++)
		if (strcmp(api->ops[i].name, name) == 0)
			return -EEXIST;
	n = realloc(api->ops, (api->n_ops + 1) * sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	api->ops = n;
	n[api->n_ops].name = strdup(name);
	if (n[api->n_ops].name == NULL)
		return -ENOMEM;
	n[api->n_ops].fn = fn;
	n[api->n_ops].arg = arg;
	api->n_ops++;
	return 0;
}

int
ht_api_new(struct event_base *base, struct ht_api **ret)
{
	struct ht_api *api = calloc(1, sizeof(*api));

	if (api == NULL)
		return -ENOMEM;
	api->base = base;
	{
		struct group *gr = getgrnam("hosttrail");

		api->admin_gid = gr ? gr->gr_gid : (gid_t)-1;
	}
	api->http = evhttp_new(base);
	if (api->http == NULL) {
		free(api);
		return -ENOMEM;
	}
	evhttp_set_max_body_size(api->http, HT_API_MAX_BODY);
	evhttp_set_max_headers_size(api->http, 64 * 1024);
	evhttp_set_timeout(api->http, HT_API_TIMEOUT_S);
	evhttp_set_allowed_methods(api->http, EVHTTP_REQ_POST | EVHTTP_REQ_GET);
	evhttp_set_gencb(api->http, api_fallback_cb, api);
	if (evhttp_set_cb(api->http, "/", api_dispatch_cb, api) != 0) {
		evhttp_free(api->http);
		free(api);
		return -ENOMEM;
	}
	*ret = api;
	return 0;
}

/* Remove path if it is a leftover socket; refuse to touch anything else. */
static int
api_clear_stale(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	return unlink(path) < 0 ? -errno : 0;
}

int
ht_api_listen_unix(struct ht_api *api, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct evconnlistener *lev;
	int fd = -1, v;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_warnx("api: socket path %s is longer than %zu bytes", path,
		    sizeof(sun.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	v = api_clear_stale(path);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "api: %s exists and is not a socket", path);
		return v;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, 0660) < 0 || listen(fd, 128) < 0) {
		v = -errno;
		log_msg(HT_LOG_ERR, -v, "api: cannot listen on %s", path);
		goto fail;
	}
	/* Members of the hosttrail group may connect (the unit runs with that
	 * group already; this covers a daemon started by hand as root). */
	if (api->admin_gid != (gid_t)-1 && chown(path, (uid_t)-1, api->admin_gid) < 0)
		log_debug("api: cannot give %s to the hosttrail group: %s", path, strerror(errno));
	lev = evconnlistener_new(api->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
	    0, fd);
	if (lev == NULL) {
		v = -ENOMEM;
		goto fail;
	}
	api->bound = evhttp_bind_listener(api->http, lev);
	if (api->bound == NULL) {
		evconnlistener_free(lev);
		unlink(path);
		return -ENOMEM;
	}
	api->unix_path = strdup(path);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(path);
	return v;
}

int
ht_api_listen_tcp(struct ht_api *api, const char *hostport)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	size_t hl;
	long port;

	if (colon == NULL || (hl = (size_t)(colon - hostport)) == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	if (host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	port = strtol(colon + 1, NULL, 10);
	api->tcp = evhttp_bind_socket_with_handle(api->http, host, (ev_uint16_t)port);
	if (api->tcp == NULL) {
		log_msg(HT_LOG_ERR, errno, "api: cannot listen on %s", hostport);
		return errno ? -errno : -EADDRINUSE;
	}
	return 0;
}

void
ht_api_set_auth(struct ht_api *api, const char *account_id, const char *region,
    struct ht_sigv4_store *store, const struct ht_api_rates *rates)
{
	char *a = strdup(account_id), *r = strdup(region);

	if (a == NULL || r == NULL) {
		free(a);
		free(r);
		ht_sigv4_store_free(store);
		log_warnx("api: out of memory applying new credentials; keeping the old ones");
		return;
	}
	free(api->account_id);
	free(api->region);
	api->account_id = a;
	api->region = r;
	ht_sigv4_store_free(api->keys);
	api->keys = store;
	api->rates = *rates;
}

int
ht_api_route(struct ht_api *api, const char *path, ht_api_handler fn, void *arg)
{
	int v = evhttp_set_cb(api->http, path, fn, arg);

	return v == 0 ? 0 : (v == -1 ? -EEXIST : -ENOMEM);
}

void
ht_api_unroute(struct ht_api *api, const char *path)
{
	evhttp_del_cb(api->http, path);
}

void
ht_api_stop_listening(struct ht_api *api)
{
	if (api->tcp) {
		evhttp_del_accept_socket(api->http, api->tcp);
		api->tcp = NULL;
	}
	if (api->bound) {
		evhttp_del_accept_socket(api->http, api->bound);
		api->bound = NULL;
	}
	if (api->unix_path) {
		unlink(api->unix_path);
		free(api->unix_path);
		api->unix_path = NULL;
	}
}

void
ht_api_free(struct ht_api *api)
{
	if (api == NULL)
		return;
	ht_api_stop_listening(api);
	evhttp_free(api->http);
	for (size_t i = 0; i < api->n_ops; i++)
		free(api->ops[i].name);
	free(api->ops);
	ht_sigv4_store_free(api->keys);
	free(api->account_id);
	free(api->region);
	free(api);
}

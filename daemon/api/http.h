/*
 * http.h - the API's HTTP server (libevent's evhttp) on the unix socket.
 * Operations register a handler per path; anything else gets an AWS-style
 * error.  Requests are bounded: body size, header size and an idle timeout,
 * so a client that stalls cannot hold the daemon.
 */
#ifndef HT_HTTP_H
#define HT_HTTP_H

struct event_base;
struct evhttp_request;
struct ht_api;

#define HT_API_MAX_BODY (8 * 1024 * 1024)
#define HT_API_TIMEOUT_S 30

#include <stdbool.h>
#include <sys/types.h>

struct json_object;
struct ht_sigv4_store;

typedef void (*ht_api_handler)(struct evhttp_request *req, void *arg);
/* An AWS JSON 1.1 operation: body is the parsed request object (borrowed;
 * {} for an empty body).  The handler must reply (now or later). */
typedef void (*ht_api_op_fn)(struct evhttp_request *req, struct json_object *body, void *arg);

/* X-Amz-Target prefix of CloudTrail's operations. */
#define HT_API_TARGET_PREFIX "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."

/* Who is calling: from the unix socket, the peer's credentials decide
 * (root, the daemon's own user and members of the hosttrail group are
 * admins; anyone else is refused); on TCP, the request's SigV4 signature
 * (api/sigv4.h), and requests per second are limited per access key. */
struct ht_api_caller {
	bool local;			/* came through the unix socket */
	uid_t uid;			/* local only */
	char access_key[129];		/* TCP only: the signing key */
	int access;			/* TCP only: enum ht_access */
};

/* Check who sent req, for an operation of service ("cloudtrail" or
 * "cloudtrail-data") named op (for the access level and the rate limit).
 * 0 with *ret filled, or -EACCES when refused (the reply has been sent). */
int ht_api_authorize(struct ht_api *api, struct evhttp_request *req, const char *service,
    const char *op, struct ht_api_caller *ret);

/* Requests per second allowed per access key on TCP (CloudTrail's: 2 for
 * LookupEvents, 10 for Get/Describe/List, 1 for the rest). */
struct ht_api_rates {
	double lookup, read, write;
};

/* A server on base. 0 or -ENOMEM. */
int ht_api_new(struct event_base *base, struct ht_api **ret);
/* Listen on the unix socket path (a stale socket there is replaced; any other
 * file is an error), mode 0660.  0 or -errno (logged). */
int ht_api_listen_unix(struct ht_api *api, const char *path);
/* Route POST requests for path (exact match, query string ignored). */
int ht_api_route(struct ht_api *api, const char *path, ht_api_handler fn, void *arg);
/* Listen on TCP at "HOST:PORT" ("[::1]:8149" for IPv6).  0 or -errno
 * (logged). */
int ht_api_listen_tcp(struct ht_api *api, const char *hostport);
/* Identity for signed requests: account, region, the key store (taken
 * over; the old one is freed) and rates.  Call again on reload. */
void ht_api_set_auth(struct ht_api *api, const char *account_id, const char *region,
    struct ht_sigv4_store *store, const struct ht_api_rates *rates);

/* Serve operation name (e.g. "LookupEvents") at POST / with X-Amz-Target.
 * 0, -EEXIST, -ENOMEM. */
int ht_api_op(struct ht_api *api, const char *name, ht_api_op_fn fn, void *arg);
/* Remove the route for path; later requests get UnknownOperationException. */
void ht_api_unroute(struct ht_api *api, const char *path);
/* Stop accepting connections; requests in progress finish. */
void ht_api_stop_listening(struct ht_api *api);
/* Close everything and remove the socket file. NULL is a no-op. */
void ht_api_free(struct ht_api *api);

#endif

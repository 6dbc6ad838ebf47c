/*
 * hosttrailctl - talk to hosttraild over its unix socket.
 *
 *   hosttrailctl [-s SOCKET] put-audit-events --channel NAME --file F|-
 *
 * put-audit-events reads a JSON list of audit events ([{"id","eventData",
 * "eventDataChecksum"}], or {"auditEvents":[...]}), sends them in requests
 * of at most 100 (the API's limit) and prints the combined reply in
 * PutAuditEvents' shape.  eventData may be given as a JSON object for
 * convenience; it is sent as the string the API expects.
 */
#include "ht_build.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "sources/ingest_parse.h"

#define DEFAULT_SOCKET LOCALSTATEDIR "/lib/hosttrail/api.sock"
#define CTL_MAX_INPUT (256 * 1024 * 1024)

struct reply {
	char *data;
	size_t len;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: hosttrailctl [-s SOCKET] COMMAND [OPTIONS]\n"
	    "\n"
	    "  -s, --socket PATH   hosttraild's API socket (default %s,\n"
	    "                      or $HOSTTRAIL_SOCKET)\n"
	    "\n"
	    "commands:\n"
	    "  put-audit-events --channel NAME --file F|-\n"
	    "      post audit events (a JSON list of {id, eventData, eventDataChecksum})\n"
	    "      to an ingest channel; prints {\"successful\":[...],\"failed\":[...]}.\n"
	    "      Exit status 0 when every event was accepted, 1 when some failed,\n"
	    "      2 when a request was refused.\n",
	    DEFAULT_SOCKET);
}

static size_t
reply_write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct reply *r = arg;
	size_t n = size * nmemb;
	char *nd = realloc(r->data, r->len + n + 1);

	if (nd == NULL)
		return 0;
	memcpy(nd + r->len, ptr, n);
	r->len += n;
	nd[r->len] = '\0';
	r->data = nd;
	return n;
}

/* POST body to path on the socket. Returns the HTTP status, or -1. */
static long
http_post(const char *sock, const char *path, const char *body, struct reply *r)
{
	struct curl_slist *hdrs = NULL;
	char url[600];
	long status = -1;
	CURLcode cc;
	CURL *c;

	c = curl_easy_init();
	if (c == NULL)
		return -1;
	snprintf(url, sizeof(url), "http://localhost%s", path);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK)
		fprintf(stderr, "hosttrailctl: %s: %s\n", sock, curl_easy_strerror(cc));
	else
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return status;
}

static struct json_object *
read_events(const char *file)
{
	struct json_object *root, *list = NULL;
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	char *buf;
	size_t len = 0, n;

	if (f == NULL) {
		fprintf(stderr, "hosttrailctl: %s: %s\n", file, strerror(errno));
		return NULL;
	}
	buf = malloc(CTL_MAX_INPUT + 1);
	while (buf && (n = fread(buf + len, 1, CTL_MAX_INPUT - len, f)) > 0)
		len += n;
	if (f != stdin)
		fclose(f);
	if (buf == NULL)
		return NULL;
	buf[len] = '\0';
	root = json_tokener_parse(buf);
	free(buf);
	if (root && json_object_is_type(root, json_type_object) &&
	    json_object_object_get_ex(root, "auditEvents", &list))
		list = json_object_get(list);
	else if (root && json_object_is_type(root, json_type_array))
		list = json_object_get(root);
	json_object_put(root);
	if (list == NULL || !json_object_is_type(list, json_type_array)) {
		fprintf(stderr, "hosttrailctl: %s: expected a JSON list of audit events\n", file);
		json_object_put(list);
		return NULL;
	}
	return list;
}

/* eventData given as an object is sent as its JSON text. */
static void
stringify_event_data(struct json_object *ev)
{
	struct json_object *data;

	if (!json_object_object_get_ex(ev, "eventData", &data) ||
	    json_object_is_type(data, json_type_string))
		return;
	json_object_object_add(ev, "eventData", json_object_new_string(
	    json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN)));
}

/* Send events [from, to) and merge the reply; returns 0, 1 (events failed)
 * or 2 (request refused). */
static int
send_chunk(const char *sock, const char *path, struct json_object *events, size_t from,
    size_t to, struct json_object *ok, struct json_object *failed)
{
	struct json_object *body = json_object_new_object(), *list = json_object_new_array();
	struct json_object *res = NULL, *part;
	struct reply r = { 0 };
	int rc = 2;
	long st;

	for (size_t i = from; i < to; i++) {
		struct json_object *ev = json_object_array_get_idx(events, i);

		stringify_event_data(ev);
		json_object_array_add(list, json_object_get(ev));
	}
	json_object_object_add(body, "auditEvents", list);
	st = http_post(sock, path, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN), &r);
	json_object_put(body);
	if (st < 0)
		goto out;
	res = r.data ? json_tokener_parse(r.data) : NULL;
	if (st != 200 || res == NULL) {
		fprintf(stderr, "hosttrailctl: refused (HTTP %ld): %s\n", st, r.data ? r.data : "");
		goto out;
	}
	rc = 0;
	if (json_object_object_get_ex(res, "successful", &part))
		for (size_t i = 0; i < json_object_array_length(part); i++)
			json_object_array_add(ok, json_object_get(json_object_array_get_idx(part, i)));
	if (json_object_object_get_ex(res, "failed", &part))
		for (size_t i = 0; i < json_object_array_length(part); i++, rc = 1)
			json_object_array_add(failed,
			    json_object_get(json_object_array_get_idx(part, i)));
out:
	json_object_put(res);
	free(r.data);
	return rc;
}

static int
cmd_put_audit_events(const char *sock, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "channel", required_argument, NULL, 'C' },
		{ "file", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *channel = NULL, *file = NULL;
	struct json_object *events, *out, *ok, *failed;
	char *esc, path[512];
	int c, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'C')
			channel = optarg;
		else if (c == 'F')
			file = optarg;
		else
			return 2;
	}
	if (channel == NULL || file == NULL) {
		fprintf(stderr, "hosttrailctl: put-audit-events needs --channel and --file\n");
		return 2;
	}
	events = read_events(file);
	if (events == NULL)
		return 2;
	esc = curl_easy_escape(NULL, channel, 0);
	snprintf(path, sizeof(path), "/PutAuditEvents?channelArn=%s", esc ? esc : "");
	curl_free(esc);
	out = json_object_new_object();
	ok = json_object_new_array();
	failed = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(events) && rc < 2;
	     i += HT_INGEST_MAX_EVENTS) {
		size_t end = i + HT_INGEST_MAX_EVENTS;
		int r;

		if (end > json_object_array_length(events))
			end = json_object_array_length(events);
		r = send_chunk(sock, path, events, i, end, ok, failed);
		rc = r > rc ? r : rc;
	}
	json_object_object_add(out, "successful", ok);
	json_object_object_add(out, "failed", failed);
	printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(out);
	json_object_put(events);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = getenv("HOSTTRAIL_SOCKET");
	int c, rc;

	if (sock == NULL)
		sock = DEFAULT_SOCKET;
	while ((c = getopt_long(argc, argv, "+s:h", longopts, NULL)) != -1) {
		if (c == 's') {
			sock = optarg;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (strcmp(argv[optind], "put-audit-events") == 0) {
		rc = cmd_put_audit_events(sock, argc - optind, argv + optind);
	} else {
		fprintf(stderr, "hosttrailctl: unknown command \"%s\"\n", argv[optind]);
		usage(stderr);
		rc = 2;
	}
	curl_global_cleanup();
	return rc;
}

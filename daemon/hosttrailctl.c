/*
 * hosttrailctl - talk to hosttraild over its unix socket.
 *
 *   hosttrailctl [-s SOCKET] put-audit-events --channel NAME --file F|-
 *   hosttrailctl [-s SOCKET] lookup-events [--lookup-attributes ...] ...
 *   hosttrailctl [-s SOCKET] create-trail --name N --s3-bucket-name B ...
 *   (and the other trail verbs: see the verb table near the end)
 *
 * put-audit-events reads a JSON list of audit events ([{"id","eventData",
 * "eventDataChecksum"}], or {"auditEvents":[...]}), sends them in requests
 * of at most 100 (the API's limit) and prints the combined reply in
 * PutAuditEvents' shape.  eventData may be given as a JSON object for
 * convenience; it is sent as the string the API expects.
 *
 * lookup-events sends CloudTrail's LookupEvents (AWS JSON 1.1, POST / with
 * X-Amz-Target) and prints the events as a table, as JSON in the API's
 * response shape, or as CSV with the columns of CloudTrail console's
 * download.  With --all it follows NextToken to the end.  Memory stays
 * bounded however many events there are: one curl handle and one reply
 * buffer are reused, and each page is parsed, printed and freed before the
 * next one is asked for.  Output is therefore streamed, so the table's
 * column widths come from the first page.
 *
 * The trail verbs (create-trail, describe-trails, get-trail-status,
 * start-logging, put-event-selectors, add-tags, ...) mirror the aws CLI's
 * cloudtrail commands, option names included.  Each is a row of a table:
 * its operation, its options (each mapped to a request member) and how its
 * reply is shown; one parser, one request function and a few printers
 * (key/value lines, columns) serve them all.  --output json prints the
 * daemon's reply as it is, pretty; table, the default, shows epoch times as
 * ISO 8601.
 *
 * Exit status: 0 done, 1 the daemon refused a request (or some events
 * failed), 2 usage, connection or output error.
 */
#include "ht_build.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "sources/ingest_parse.h"
#include "util.h"

#define DEFAULT_SOCKET LOCALSTATEDIR "/lib/hosttrail/api.sock"
#define CTL_MAX_INPUT (256 * 1024 * 1024)
/* A LookupEvents page is at most 50 events of at most 256 KiB each; a reply
 * beyond this bound is refused rather than buffered. */
#define CTL_MAX_REPLY (64 * 1024 * 1024)
#define CT_TARGET_PREFIX "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
#define MAX_EPOCH 253402300799LL	/* 9999-12-31T23:59:59Z */
#define JSON_OUT (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

struct reply {
	char *data;
	size_t len, cap;
	bool too_big;
};

/* One connection to the daemon: a curl handle kept across requests (so
 * keep-alive reuses the socket) and a reply buffer that only grows to the
 * largest reply seen. */
struct api {
	const char *sock;
	CURL *curl;
	struct reply r;
};

struct verb;

/* ---- HTTP over the unix socket ---- */

static size_t
reply_write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct reply *r = arg;
	size_t n = size * nmemb, cap;
	char *nd;

	if (r->len + n + 1 > CTL_MAX_REPLY) {
		r->too_big = true;
		return 0;
	}
	if (r->len + n + 1 > r->cap) {
		cap = r->cap ? r->cap : 16384;
		while (cap < r->len + n + 1)
			cap *= 2;
		nd = realloc(r->data, cap);
		if (nd == NULL)
			return 0;
		r->data = nd;
		r->cap = cap;
	}
	memcpy(r->data + r->len, ptr, n);
	r->len += n;
	r->data[r->len] = '\0';
	return n;
}

/* 0, or -ENOMEM. */
static int
api_open(struct api *a, const char *sock)
{
	memset(a, 0, sizeof(*a));
	a->sock = sock;
	a->curl = curl_easy_init();
	if (a->curl == NULL)
		return -ENOMEM;
	curl_easy_setopt(a->curl, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, reply_write_cb);
	curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, &a->r);
	curl_easy_setopt(a->curl, CURLOPT_TIMEOUT, 120L);
	return 0;
}

static void
api_close(struct api *a)
{
	if (a->curl != NULL)
		curl_easy_cleanup(a->curl);
	free(a->r.data);
	memset(a, 0, sizeof(*a));
}

/* The request headers: AWS JSON 1.1 with X-Amz-Target when target is not
 * NULL, plain JSON otherwise; never "Expect: 100-continue".  NULL on
 * -ENOMEM. */
static struct curl_slist *
api_headers(const char *target)
{
	struct curl_slist *hdrs = NULL, *h;
	char tgt[200];
	const char *line[3] = {
		target ? "Content-Type: application/x-amz-json-1.1" :
		    "Content-Type: application/json",
		"Expect:",
		target ? tgt : NULL,
	};

	snprintf(tgt, sizeof(tgt), "X-Amz-Target: %s", target ? target : "");
	for (size_t i = 0; i < sizeof(line) / sizeof(line[0]) && line[i] != NULL; i++) {
		h = curl_slist_append(hdrs, line[i]);
		if (h == NULL) {
			curl_slist_free_all(hdrs);
			return NULL;
		}
		hdrs = h;
	}
	return hdrs;
}

/* POST body to path, with X-Amz-Target: target when target is not NULL.
 * The reply body is in a->r (NUL-terminated; data NULL when there was
 * none).  Returns the HTTP status, or -1 (printed). */
static long
api_post(struct api *a, const char *path, const char *target, const char *body)
{
	struct curl_slist *hdrs = api_headers(target);
	char url[600];
	long status = -1;
	CURLcode cc;

	if (hdrs == NULL) {
		fprintf(stderr, "hosttrailctl: out of memory\n");
		return -1;
	}
	a->r.len = 0;
	a->r.too_big = false;
	if (a->r.data != NULL)
		a->r.data[0] = '\0';
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(a->curl, CURLOPT_URL, url);
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, body);
	cc = curl_easy_perform(a->curl);
	if (cc != CURLE_OK && a->r.too_big)
		fprintf(stderr, "hosttrailctl: %s: reply larger than %d bytes\n", a->sock,
		    CTL_MAX_REPLY);
	else if (cc != CURLE_OK)
		fprintf(stderr, "hosttrailctl: %s: %s\n", a->sock, curl_easy_strerror(cc));
	else
		curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	return status;
}

/* ---- put-audit-events ---- */

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
send_chunk(struct api *a, const char *path, struct json_object *events, size_t from,
    size_t to, struct json_object *ok, struct json_object *failed)
{
	struct json_object *body = json_object_new_object(), *list = json_object_new_array();
	struct json_object *res = NULL, *part;
	int rc = 2;
	long st;

	for (size_t i = from; i < to; i++) {
		struct json_object *ev = json_object_array_get_idx(events, i);

		stringify_event_data(ev);
		json_object_array_add(list, json_object_get(ev));
	}
	json_object_object_add(body, "auditEvents", list);
	st = api_post(a, path, NULL, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
	json_object_put(body);
	if (st < 0)
		goto out;
	res = a->r.data ? json_tokener_parse(a->r.data) : NULL;
	if (st != 200 || res == NULL) {
		fprintf(stderr, "hosttrailctl: refused (HTTP %ld): %s\n", st,
		    a->r.data ? a->r.data : "");
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
	return rc;
}

static int
cmd_put_audit_events(const struct verb *v, const char *sock, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "channel", required_argument, NULL, 'C' },
		{ "file", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *channel = NULL, *file = NULL;
	struct json_object *events, *out, *ok, *failed;
	struct api a;
	char *esc, path[512];
	int c, rc = 0;

	(void)v;
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
	if (api_open(&a, sock) < 0) {
		fprintf(stderr, "hosttrailctl: out of memory\n");
		json_object_put(events);
		return 2;
	}
	esc = curl_easy_escape(a.curl, channel, 0);
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
		r = send_chunk(&a, path, events, i, end, ok, failed);
		rc = r > rc ? r : rc;
	}
	api_close(&a);
	json_object_object_add(out, "successful", ok);
	json_object_object_add(out, "failed", failed);
	printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(out);
	json_object_put(events);
	return rc;
}

/* ---- lookup-events: arguments ---- */

enum out_fmt { OUT_TABLE, OUT_JSON, OUT_CSV };

struct lookup_args {
	struct json_object *req;	/* the request body, without NextToken */
	const char *next_token;		/* first page's token, or NULL */
	bool all;
	enum out_fmt fmt;
};

/* n decimal digits at s into *ret; false if any is not a digit. */
static bool
digits(const char *s, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

static int
days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

/* "[+-]hh[:mm]" at s into *ret (seconds east of UTC); the rest at *end. */
static bool
parse_offset(const char *s, long *ret, const char **end)
{
	int hh, mm = 0;
	int sign = *s == '-' ? -1 : 1;

	if ((*s != '+' && *s != '-') || !digits(s + 1, 2, &hh))
		return false;
	s += 3;
	if (*s == ':')
		s++;
	if (*s != '\0' && !digits(s, 2, &mm))
		return false;
	if (*s != '\0')
		s += 2;
	if (hh > 23 || mm > 59)
		return false;
	*ret = sign * (hh * 3600L + mm * 60L);
	*end = s;
	return true;
}

/* "hh:mm[:ss[.frac]]" then "Z", an offset or nothing (UTC) at s. */
static bool
parse_clock(const char *s, struct tm *tm, long *ret_off)
{
	if (!digits(s, 2, &tm->tm_hour) || s[2] != ':' || !digits(s + 3, 2, &tm->tm_min))
		return false;
	s += 5;
	if (*s == ':') {
		if (!digits(s + 1, 2, &tm->tm_sec))
			return false;
		s += 3;
		if (*s == '.' && s[1] >= '0' && s[1] <= '9')
			for (s++; *s >= '0' && *s <= '9'; s++)
				;
	}
	if (tm->tm_hour > 23 || tm->tm_min > 59 || tm->tm_sec > 59)
		return false;
	*ret_off = 0;
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (*s == '+' || *s == '-')
		return parse_offset(s, ret_off, &s) && *s == '\0';
	return *s == '\0';
}

/* Epoch seconds, or ISO 8601: "2026-01-02", "2026-01-02T03:04[:05[.fff]]"
 * with "Z", "+hh:mm" or nothing (UTC); ' ' may stand for 'T'.  0 or
 * -EINVAL. */
static int
parse_time(const char *s, int64_t *ret)
{
	struct tm tm = { 0 };
	long off = 0;
	char *end;
	int y, mo, d;

	if (*s >= '0' && *s <= '9' && strspn(s, "0123456789") == strlen(s)) {
		long long v;

		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno != 0 || v > MAX_EPOCH)
			return -EINVAL;
		*ret = v;
		return 0;
	}
	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return -EINVAL;
	if (s[10] != '\0' && ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !parse_clock(s + 11, &tm, &off)))
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	*ret = (int64_t)timegm(&tm) - off;
	return 0;
}

/* A span of a string: len bytes at p (p NULL: absent). */
struct span {
	const char *p;
	size_t len;
};

/* "A=x,B=y" or "B=y,A=x" into *ret_a and *ret_b, spans of s; whichever
 * part comes last may hold commas.  When b_optional, "A=x" alone is taken
 * with ret_b->p NULL.  0 or -EINVAL. */
static int
split_pair(const char *s, const char *a, const char *b, bool b_optional, struct span *ret_a,
    struct span *ret_b)
{
	char a_eq[40], b_eq[40], sep_a[40], sep_b[40];
	struct span x = { NULL, 0 }, y = { NULL, 0 };
	const char *sep;

	snprintf(a_eq, sizeof(a_eq), "%s=", a);
	snprintf(b_eq, sizeof(b_eq), "%s=", b);
	snprintf(sep_a, sizeof(sep_a), ",%s=", a);
	snprintf(sep_b, sizeof(sep_b), ",%s=", b);
	if (strncmp(s, a_eq, strlen(a_eq)) == 0) {
		x.p = s + strlen(a_eq);
		sep = strstr(x.p, sep_b);
		if (sep == NULL && !b_optional)
			return -EINVAL;
		x.len = sep ? (size_t)(sep - x.p) : strlen(x.p);
		y.p = sep ? sep + strlen(sep_b) : NULL;
		y.len = sep ? strlen(y.p) : 0;
	} else if (strncmp(s, b_eq, strlen(b_eq)) == 0) {
		y.p = s + strlen(b_eq);
		sep = strstr(y.p, sep_a);
		if (sep == NULL)
			return -EINVAL;
		y.len = (size_t)(sep - y.p);
		x.p = sep + strlen(sep_a);
		x.len = strlen(x.p);
	} else {
		return -EINVAL;
	}
	*ret_a = x;
	*ret_b = y;
	return 0;
}

/* "AttributeKey=K,AttributeValue=V" (either order; V may hold commas when
 * it comes last) appended to the list of the request.  0 or -EINVAL. */
static int
parse_attribute(const char *s, struct json_object *list)
{
	struct span k, v;
	struct json_object *a;

	if (split_pair(s, "AttributeKey", "AttributeValue", false, &k, &v) < 0)
		return -EINVAL;
	a = json_object_new_object();
	if (a == NULL)
		return -EINVAL;
	json_object_object_add(a, "AttributeKey", json_object_new_string_len(k.p, (int)k.len));
	json_object_object_add(a, "AttributeValue", json_object_new_string_len(v.p, (int)v.len));
	json_object_array_add(list, a);
	return 0;
}

static int
parse_output(const char *s, enum out_fmt *ret)
{
	if (strcmp(s, "table") == 0)
		*ret = OUT_TABLE;
	else if (strcmp(s, "json") == 0)
		*ret = OUT_JSON;
	else if (strcmp(s, "csv") == 0)
		*ret = OUT_CSV;
	else
		return -EINVAL;
	return 0;
}

/* --lookup-attributes: one more item of LookupAttributes.  0 or 2. */
static int
opt_attribute(const char *arg, struct lookup_args *la)
{
	struct json_object *list;

	if (!json_object_object_get_ex(la->req, "LookupAttributes", &list)) {
		list = json_object_new_array();
		json_object_object_add(la->req, "LookupAttributes", list);
	}
	if (list != NULL && parse_attribute(arg, list) == 0)
		return 0;
	fprintf(stderr, "hosttrailctl: --lookup-attributes wants "
	    "AttributeKey=KEY,AttributeValue=VALUE, not \"%s\"\n", arg);
	return 2;
}

/* --start-time / --end-time into member (StartTime / EndTime).  0 or 2. */
static int
opt_time(const char *arg, const char *member, struct lookup_args *la)
{
	int64_t t;

	if (parse_time(arg, &t) == 0) {
		json_object_object_add(la->req, member, json_object_new_int64(t));
		return 0;
	}
	fprintf(stderr, "hosttrailctl: --%s-time: \"%s\" is neither ISO 8601 "
	    "(2026-01-02T03:04:05Z) nor epoch seconds\n", *member == 'S' ? "start" : "end", arg);
	return 2;
}

/* --max-results: any integer; the daemon checks the range.  0 or 2. */
static int
opt_max_results(const char *arg, struct lookup_args *la)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(arg, &end, 10);
	if (errno == 0 && end != arg && *end == '\0' && n >= INT32_MIN && n <= INT32_MAX) {
		json_object_object_add(la->req, "MaxResults", json_object_new_int64(n));
		return 0;
	}
	fprintf(stderr, "hosttrailctl: --max-results: \"%s\" is not a number\n", arg);
	return 2;
}

static int
opt_output(const char *arg, struct lookup_args *la)
{
	if (parse_output(arg, &la->fmt) == 0)
		return 0;
	fprintf(stderr, "hosttrailctl: --output is table, json or csv, not \"%s\"\n", arg);
	return 2;
}

/* One option into la; 0, or 2 (usage error, printed). */
static int
lookup_option(int c, const char *arg, struct lookup_args *la)
{
	switch (c) {
	case 'a':
		return opt_attribute(arg, la);
	case 's':
		return opt_time(arg, "StartTime", la);
	case 'e':
		return opt_time(arg, "EndTime", la);
	case 'm':
		return opt_max_results(arg, la);
	case 'c':
		json_object_object_add(la->req, "EventCategory", json_object_new_string(arg));
		return 0;
	case 'n':
		la->next_token = arg;
		return 0;
	case 'A':
		la->all = true;
		return 0;
	case 'o':
		return opt_output(arg, la);
	default:
		return 2;
	}
}

/* Fill la from the command line (la->req is allocated here; the caller
 * frees it in any case).  0, or 2 (usage error, printed). */
static int
lookup_parse_args(int argc, char **argv, struct lookup_args *la)
{
	static const struct option longopts[] = {
		{ "lookup-attributes", required_argument, NULL, 'a' },
		{ "start-time", required_argument, NULL, 's' },
		{ "end-time", required_argument, NULL, 'e' },
		{ "max-results", required_argument, NULL, 'm' },
		{ "event-category", required_argument, NULL, 'c' },
		{ "next-token", required_argument, NULL, 'n' },
		{ "all", no_argument, NULL, 'A' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	memset(la, 0, sizeof(*la));
	la->req = json_object_new_object();
	if (la->req == NULL)
		return 2;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
		if ((rc = lookup_option(c, optarg, la)) != 0)
			return rc;
	if (optind < argc) {
		fprintf(stderr, "hosttrailctl: lookup-events: unexpected \"%s\"\n", argv[optind]);
		return 2;
	}
	return 0;
}

/* ---- lookup-events: printing ---- */

#define TABLE_COLS 6
#define TABLE_CAP 40		/* widest a column gets from the first page */

struct printer {
	enum out_fmt fmt;
	size_t n;			/* events printed so far */
	bool started;
	int width[TABLE_COLS];
};

static const char *
ev_str(struct json_object *ev, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(ev, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* EventTime (an epoch number, maybe with a fraction) as ISO 8601, or ""
 * when there is none. */
static void
ev_time(struct json_object *ev, char buf[HT_ISO8601_LEN])
{
	struct json_object *v;

	buf[0] = '\0';
	if (!json_object_object_get_ex(ev, "EventTime", &v))
		return;
	if (json_object_is_type(v, json_type_int))
		ht_time_iso8601((time_t)json_object_get_int64(v), buf);
	else if (json_object_is_type(v, json_type_double))
		ht_time_iso8601((time_t)json_object_get_double(v), buf);
}

/* Resources[i].key, or NULL. */
static const char *
ev_resource(struct json_object *ev, size_t i, const char *key)
{
	struct json_object *res;

	if (!json_object_object_get_ex(ev, "Resources", &res) ||
	    !json_object_is_type(res, json_type_array) || i >= json_object_array_length(res))
		return NULL;
	return ev_str(json_object_array_get_idx(res, i), key);
}

/* The table's cells of ev; time is the caller's buffer. */
static void
table_cells(struct json_object *ev, char time[HT_ISO8601_LEN], const char *cell[TABLE_COLS])
{
	ev_time(ev, time);
	cell[0] = time;
	cell[1] = ev_str(ev, "EventName");
	cell[2] = ev_str(ev, "EventSource");
	cell[3] = ev_str(ev, "Username");
	cell[4] = ev_resource(ev, 0, "ResourceName");
	cell[5] = ev_str(ev, "EventId");
}

/* Display width of UTF-8 s: its code points. */
static int
utf8_width(const char *s)
{
	int n = 0;

	for (; s != NULL && *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* Print s in a column of width (padded unless last; a longer value is cut
 * at a code point and ends in "..."), control characters as '?'. */
static void
table_cell(FILE *f, const char *s, int width, bool last)
{
	int w = utf8_width(s), shown = 0, keep = w > width && !last ? width - 3 : INT_MAX;

	if (s == NULL)
		s = "";
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch & 0xc0) != 0x80 && shown++ == keep)
			break;
		putc(ch < 0x20 || ch == 0x7f ? '?' : ch, f);
	}
	if (keep != INT_MAX)
		fputs("...", f);
	if (!last)
		fprintf(f, "%*s", (w > width ? 0 : width - w) + 2, "");
	else
		putc('\n', f);
}

/* Column widths from the header and the first page's events. */
static void
table_begin(struct printer *p, struct json_object *events)
{
	static const char *const title[TABLE_COLS] = {
		"Time", "Event name", "Source", "User", "Resource", "Event ID",
	};
	char time[HT_ISO8601_LEN];
	const char *cell[TABLE_COLS];

	for (int c = 0; c < TABLE_COLS; c++)
		p->width[c] = utf8_width(title[c]);
	p->width[0] = HT_ISO8601_LEN - 1;
	for (size_t i = 0; i < json_object_array_length(events); i++) {
		table_cells(json_object_array_get_idx(events, i), time, cell);
		for (int c = 1; c < TABLE_COLS - 1; c++) {
			int w = utf8_width(cell[c]);

			if (w > p->width[c])
				p->width[c] = w > TABLE_CAP ? TABLE_CAP : w;
		}
	}
	for (int c = 0; c < TABLE_COLS; c++)
		table_cell(stdout, title[c], p->width[c], c == TABLE_COLS - 1);
}

static void
table_event(struct printer *p, struct json_object *ev)
{
	char time[HT_ISO8601_LEN];
	const char *cell[TABLE_COLS];

	table_cells(ev, time, cell);
	for (int c = 0; c < TABLE_COLS; c++)
		table_cell(stdout, cell[c], p->width[c], c == TABLE_COLS - 1);
}

/* One CSV field per RFC 4180: quoted when it holds '"', ',', CR or LF. */
static void
csv_field(FILE *f, const char *s, bool last)
{
	if (s == NULL)
		s = "";
	if (strpbrk(s, "\",\r\n") == NULL) {
		fputs(s, f);
	} else {
		putc('"', f);
		for (; *s != '\0'; s++) {
			if (*s == '"')
				putc('"', f);
			putc(*s, f);
		}
		putc('"', f);
	}
	fputs(last ? "\r\n" : ",", f);
}

/* Every Resources[].key joined with ", " as one CSV field. */
static void
csv_resources(FILE *f, struct json_object *ev, const char *key)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	const char *s;

	if (m == NULL) {
		csv_field(f, ev_resource(ev, 0, key), false);
		return;
	}
	for (size_t i = 0; ev_resource(ev, i, "ResourceName") != NULL ||
	     ev_resource(ev, i, "ResourceType") != NULL; i++) {
		s = ev_resource(ev, i, key);
		fprintf(m, "%s%s", i > 0 ? ", " : "", s ? s : "");
	}
	fclose(m);
	csv_field(f, buf, false);
	free(buf);
}

static void
csv_begin(void)
{
	fputs("Event ID,Event time,User name,Event name,Resource type,Resource name,"
	    "Event source,AWS access key,Source IP address,Error code,Read-only,AWS region\r\n",
	    stdout);
}

/* A CSV row; source IP, error code and region come from the record. */
static void
csv_event(struct json_object *ev)
{
	const char *ct = ev_str(ev, "CloudTrailEvent");
	struct json_object *rec = ct ? json_tokener_parse(ct) : NULL;
	char time[HT_ISO8601_LEN];

	ev_time(ev, time);
	csv_field(stdout, ev_str(ev, "EventId"), false);
	csv_field(stdout, time, false);
	csv_field(stdout, ev_str(ev, "Username"), false);
	csv_field(stdout, ev_str(ev, "EventName"), false);
	csv_resources(stdout, ev, "ResourceType");
	csv_resources(stdout, ev, "ResourceName");
	csv_field(stdout, ev_str(ev, "EventSource"), false);
	csv_field(stdout, ev_str(ev, "AccessKeyId"), false);
	csv_field(stdout, rec ? ev_str(rec, "sourceIPAddress") : NULL, false);
	csv_field(stdout, rec ? ev_str(rec, "errorCode") : NULL, false);
	csv_field(stdout, ev_str(ev, "ReadOnly"), false);
	csv_field(stdout, rec ? ev_str(rec, "awsRegion") : NULL, true);
	json_object_put(rec);
}

/* fputs s with indent after every newline. */
static void
put_indented(const char *s, const char *indent)
{
	for (; *s != '\0'; s++) {
		putchar(*s);
		if (*s == '\n')
			fputs(indent, stdout);
	}
}

static void
json_event(struct printer *p, struct json_object *ev)
{
	fputs(p->n == 0 ? "\n    " : ",\n    ", stdout);
	put_indented(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	    JSON_C_TO_STRING_NOSLASHESCAPE), "    ");
}

/* Print one page's events (the first page also starts the output). */
static void
print_page(struct printer *p, struct json_object *events)
{
	if (!p->started) {
		p->started = true;
		if (p->fmt == OUT_TABLE)
			table_begin(p, events);
		else if (p->fmt == OUT_CSV)
			csv_begin();
		else
			fputs("{\n  \"Events\": [", stdout);
	}
	for (size_t i = 0; i < json_object_array_length(events); i++, p->n++) {
		struct json_object *ev = json_object_array_get_idx(events, i);

		if (p->fmt == OUT_TABLE)
			table_event(p, ev);
		else if (p->fmt == OUT_CSV)
			csv_event(ev);
		else
			json_event(p, ev);
	}
}

/* End the output; token: where the next page starts, or NULL. */
static void
print_end(struct printer *p, const char *token)
{
	if (p->fmt == OUT_JSON) {
		fputs(p->n > 0 ? "\n  ]" : "]", stdout);
		if (token != NULL) {
			struct json_object *t = json_object_new_string(token);

			printf(",\n  \"NextToken\": %s", json_object_to_json_string_ext(t, JSON_OUT));
			json_object_put(t);
		}
		fputs("\n}\n", stdout);
	} else if (token != NULL) {
		fprintf(stderr, "NextToken: %s\n", token);
	}
}

/* ---- lookup-events: requests ---- */

/* "hosttrailctl: <__type>: <message>" for a refused request. */
static void
print_refusal(long status, const char *body)
{
	struct json_object *err = body ? json_tokener_parse(body) : NULL;
	const char *type = err ? ev_str(err, "__type") : NULL;
	const char *msg = err ? ev_str(err, "message") : NULL;

	if (err != NULL && msg == NULL)
		msg = ev_str(err, "Message");
	if (type != NULL && strrchr(type, '#') != NULL)
		type = strrchr(type, '#') + 1;
	if (type != NULL)
		fprintf(stderr, "hosttrailctl: %s: %s\n", type, msg ? msg : "");
	else
		fprintf(stderr, "hosttrailctl: HTTP %ld: %.500s\n", status, body ? body : "");
	json_object_put(err);
}

/* One LookupEvents request.  *ret: the parsed reply, with an Events
 * array.  0, 1 (refused, printed) or 2 (connection error, printed). */
static int
lookup_page(struct api *a, struct json_object *req, struct json_object **ret)
{
	struct json_object *res, *events;
	long st;

	st = api_post(a, "/", CT_TARGET_PREFIX "LookupEvents",
	    json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
	if (st < 0)
		return 2;
	if (st != 200) {
		print_refusal(st, a->r.data);
		return 1;
	}
	res = a->r.data ? json_tokener_parse(a->r.data) : NULL;
	if (res == NULL || !json_object_object_get_ex(res, "Events", &events) ||
	    !json_object_is_type(events, json_type_array)) {
		fprintf(stderr, "hosttrailctl: not a LookupEvents reply: %.500s\n",
		    a->r.data ? a->r.data : "");
		json_object_put(res);
		return 1;
	}
	*ret = res;
	return 0;
}

/* Ask for pages from la->next_token on: one, or all with --all, each printed
 * and freed before the next is asked for.  A failure after some output
 * leaves it incomplete (json unterminated), so that with exit status 1 or 2
 * it cannot pass for a whole answer. */
static int
lookup_run(struct api *a, struct lookup_args *la)
{
	struct printer p = { .fmt = la->fmt };
	struct json_object *res = NULL, *events, *tok;
	char *token = la->next_token ? strdup(la->next_token) : NULL;
	int rc;

	do {
		if (token != NULL)
			json_object_object_add(la->req, "NextToken", json_object_new_string(token));
		free(token);
		token = NULL;
		if ((rc = lookup_page(a, la->req, &res)) != 0)
			break;
		json_object_object_get_ex(res, "Events", &events);
		print_page(&p, events);
		if (json_object_object_get_ex(res, "NextToken", &tok) &&
		    json_object_is_type(tok, json_type_string) &&
		    (token = strdup(json_object_get_string(tok))) == NULL)
			rc = 2;
		json_object_put(res);
		if (fflush(stdout) != 0 || ferror(stdout)) {
			fprintf(stderr, "hosttrailctl: stdout: %s\n", strerror(errno));
			rc = 2;
		}
	} while (rc == 0 && la->all && token != NULL);
	if (rc == 0)
		print_end(&p, token);
	free(token);
	if (rc == 0 && fflush(stdout) != 0) {
		fprintf(stderr, "hosttrailctl: stdout: %s\n", strerror(errno));
		rc = 2;
	}
	return rc;
}

static int
cmd_lookup_events(const struct verb *v, const char *sock, int argc, char **argv)
{
	struct lookup_args la;
	struct api a;
	int rc;

	(void)v;
	rc = lookup_parse_args(argc, argv, &la);
	if (rc != 0) {
		json_object_put(la.req);
		return rc;
	}
	if (api_open(&a, sock) < 0) {
		fprintf(stderr, "hosttrailctl: out of memory\n");
		json_object_put(la.req);
		return 2;
	}
	rc = lookup_run(&a, &la);
	api_close(&a);
	json_object_put(la.req);
	return rc;
}

/* ---- trail verbs: the command line ----
 *
 * Every CloudTrail trail operation is one row of the verb table below: its
 * options (named as the aws CLI names them) and how its reply is shown as a
 * table.  One parser builds the request from the options, one function
 * sends it, and the reply is printed as JSON or by the verb's table
 * printer, so a new operation is a new row, not new code.
 */

enum opt_kind {
	OPT_STR,	/* --x VALUE: a string member */
	OPT_BOOL,	/* --x / --no-x: a boolean member */
	OPT_LIST,	/* --x V [V ...]: a list of strings */
	OPT_TAGS,	/* --x Key=K[,Value=V] [...]: a list of Tag */
	OPT_JSON,	/* --x JSON|file://PATH: any JSON value */
};

enum opt_need {
	OPT_OPTIONAL,
	OPT_REQUIRED,
	OPT_ONE_OF,	/* at least one of the verb's OPT_ONE_OF options */
};

struct opt_spec {
	const char *name;	/* without "--"; NULL ends a table */
	enum opt_kind kind;
	const char *member;	/* the request member it sets */
	enum opt_need need;
};

struct verb {
	const char *name;
	/* argv[0] is the verb; 0, 1 (refused) or 2 (usage or connection error). */
	int (*run)(const struct verb *v, const char *sock, int argc, char **argv);
	const char *op;			/* CloudTrail operation, for trail verbs */
	const struct opt_spec *opts;
	void (*table)(struct json_object *reply);	/* NULL: nothing to show */
	const char *synopsis;
	const char *help;
};

/* The options both CreateTrail and UpdateTrail take, after Name and
 * S3BucketName. */
#define TRAIL_SETTINGS \
	{ "s3-key-prefix", OPT_STR, "S3KeyPrefix", OPT_OPTIONAL }, \
	{ "sns-topic-name", OPT_STR, "SnsTopicName", OPT_OPTIONAL }, \
	{ "is-multi-region-trail", OPT_BOOL, "IsMultiRegionTrail", OPT_OPTIONAL }, \
	{ "include-global-service-events", OPT_BOOL, "IncludeGlobalServiceEvents", \
	    OPT_OPTIONAL }, \
	{ "enable-log-file-validation", OPT_BOOL, "EnableLogFileValidation", OPT_OPTIONAL }, \
	{ "cloud-watch-logs-log-group-arn", OPT_STR, "CloudWatchLogsLogGroupArn", \
	    OPT_OPTIONAL }, \
	{ "cloud-watch-logs-role-arn", OPT_STR, "CloudWatchLogsRoleArn", OPT_OPTIONAL }, \
	{ "kms-key-id", OPT_STR, "KmsKeyId", OPT_OPTIONAL }, \
	{ "is-organization-trail", OPT_BOOL, "IsOrganizationTrail", OPT_OPTIONAL }

#define TRAIL_SETTINGS_SYNOPSIS \
	"\n      [--s3-key-prefix P] [--sns-topic-name T] [--kms-key-id K]" \
	"\n      [--[no-]is-multi-region-trail] [--[no-]include-global-service-events]" \
	"\n      [--[no-]enable-log-file-validation] [--[no-]is-organization-trail]" \
	"\n      [--cloud-watch-logs-log-group-arn A] [--cloud-watch-logs-role-arn A]"

static const struct opt_spec create_opts[] = {
	{ "name", OPT_STR, "Name", OPT_REQUIRED },
	{ "s3-bucket-name", OPT_STR, "S3BucketName", OPT_REQUIRED },
	TRAIL_SETTINGS,
	{ "tags-list", OPT_TAGS, "TagsList", OPT_OPTIONAL },
	{ NULL, 0, NULL, 0 },
};

static const struct opt_spec update_opts[] = {
	{ "name", OPT_STR, "Name", OPT_REQUIRED },
	{ "s3-bucket-name", OPT_STR, "S3BucketName", OPT_OPTIONAL },
	TRAIL_SETTINGS,
	{ NULL, 0, NULL, 0 },
};

static const struct opt_spec name_opts[] = {
	{ "name", OPT_STR, "Name", OPT_REQUIRED },
	{ NULL, 0, NULL, 0 },
};

static const struct opt_spec describe_opts[] = {
	{ "trail-name-list", OPT_LIST, "trailNameList", OPT_OPTIONAL },
	{ "include-shadow-trails", OPT_BOOL, "includeShadowTrails", OPT_OPTIONAL },
	{ NULL, 0, NULL, 0 },
};

static const struct opt_spec no_opts[] = {
	{ NULL, 0, NULL, 0 },
};

static const struct opt_spec put_selectors_opts[] = {
	{ "trail-name", OPT_STR, "TrailName", OPT_REQUIRED },
	{ "event-selectors", OPT_JSON, "EventSelectors", OPT_ONE_OF },
	{ "advanced-event-selectors", OPT_JSON, "AdvancedEventSelectors", OPT_ONE_OF },
	{ NULL, 0, NULL, 0 },
};

static const struct opt_spec get_selectors_opts[] = {
	{ "trail-name", OPT_STR, "TrailName", OPT_REQUIRED },
	{ NULL, 0, NULL, 0 },
};

static const struct opt_spec tags_opts[] = {
	{ "resource-id", OPT_STR, "ResourceId", OPT_REQUIRED },
	{ "tags-list", OPT_TAGS, "TagsList", OPT_REQUIRED },
	{ NULL, 0, NULL, 0 },
};

static const struct opt_spec list_tags_opts[] = {
	{ "resource-id-list", OPT_LIST, "ResourceIdList", OPT_REQUIRED },
	{ NULL, 0, NULL, 0 },
};

/* What a value of each kind should look like, for usage errors. */
static const char *const opt_wants[] = {
	[OPT_STR] = "a value",
	[OPT_BOOL] = "no value",
	[OPT_LIST] = "one or more values (or a JSON list)",
	[OPT_TAGS] = "Key=KEY[,Value=VALUE] ... (or a JSON list of {\"Key\",\"Value\"})",
	[OPT_JSON] = "JSON, inline or file://PATH",
};

/* "hosttrailctl: VERB: ..." and the verb's synopsis on stderr; returns 2. */
static int
usage_error(const struct verb *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
usage_error(const struct verb *v, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hosttrailctl: %s: ", v->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: hosttrailctl %s%s%s\n", v->name, *v->synopsis ? " " : "",
	    v->synopsis);
	return 2;
}

/* The spec of option name (len bytes, without "--"); *ret_neg when it is
 * the "--no-" form of a boolean.  NULL when the verb has no such option. */
static const struct opt_spec *
opt_find(const struct verb *v, const char *name, size_t len, bool *ret_neg)
{
	for (int neg = 0; neg < 2; neg++) {
		const char *n = neg ? name + 3 : name;
		size_t l = neg ? len - 3 : len;

		if (neg && (len <= 3 || strncmp(name, "no-", 3) != 0))
			break;
		for (const struct opt_spec *o = v->opts; o->name != NULL; o++) {
			if (strlen(o->name) != l || strncmp(o->name, n, l) != 0 ||
			    (neg && o->kind != OPT_BOOL))
				continue;
			*ret_neg = neg;
			return o;
		}
	}
	return NULL;
}

/* The whole of file (at most 16 MiB) as a NUL-terminated string in *ret.
 * 0 or -errno. */
static int
read_text(const char *file, char **ret)
{
	const size_t max = 16 * 1024 * 1024;
	FILE *f = fopen(file, "r");
	char *buf;
	size_t len;
	int err;

	if (f == NULL)
		return -errno;
	buf = malloc(max + 1);
	if (buf == NULL) {
		fclose(f);
		return -ENOMEM;
	}
	len = fread(buf, 1, max + 1, f);
	err = ferror(f) ? -EIO : len > max ? -EFBIG : 0;
	fclose(f);
	if (err < 0) {
		free(buf);
		return err;
	}
	buf[len] = '\0';
	*ret = buf;
	return 0;
}

/* Exactly one JSON value in s (whitespace around it allowed).  NULL if s
 * is not that. */
static struct json_object *
parse_json_text(const char *s)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	size_t len = strlen(s);

	if (tok == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, s, (int)len);
	if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
	    strspn(s + json_tokener_get_parse_end(tok), " \t\r\n") !=
	    len - json_tokener_get_parse_end(tok))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* An OPT_JSON value: the text itself or file://PATH.  0, -EINVAL (not
 * JSON) or -errno (the file). */
static int
json_value(const char *arg, struct json_object **ret)
{
	char *text = NULL;
	int v = 0;

	if (strncmp(arg, "file://", 7) == 0 && (v = read_text(arg + 7, &text)) < 0)
		return v;
	*ret = parse_json_text(text ? text : arg);
	free(text);
	return *ret ? 0 : -EINVAL;
}

/* One tag, "Key=K[,Value=V]" (either order; the last part may hold
 * commas), added to list.  0 or -EINVAL. */
static int
tag_value(const char *arg, struct json_object *list)
{
	struct span k, v;
	struct json_object *tag;

	if (split_pair(arg, "Key", "Value", true, &k, &v) < 0 || k.len == 0 ||
	    (tag = json_object_new_object()) == NULL)
		return -EINVAL;
	json_object_object_add(tag, "Key", json_object_new_string_len(k.p, (int)k.len));
	if (v.p != NULL)
		json_object_object_add(tag, "Value", json_object_new_string_len(v.p, (int)v.len));
	json_object_array_add(list, tag);
	return 0;
}

/* One value of a list option added to its list: a JSON list's items when
 * arg starts with '[', else one string (OPT_LIST) or tag (OPT_TAGS).
 * 0 or -EINVAL. */
static int
list_value(const struct opt_spec *o, const char *arg, struct json_object *req)
{
	struct json_object *list, *items;

	if (!json_object_object_get_ex(req, o->member, &list)) {
		list = json_object_new_array();
		if (list == NULL)
			return -EINVAL;
		json_object_object_add(req, o->member, list);
	}
	if (*arg != '[' && o->kind == OPT_TAGS)
		return tag_value(arg, list);
	if (*arg != '[')
		return json_object_array_add(list, json_object_new_string(arg)) == 0 ? 0 : -ENOMEM;
	items = parse_json_text(arg);
	if (items == NULL || !json_object_is_type(items, json_type_array)) {
		json_object_put(items);
		return -EINVAL;
	}
	for (size_t i = 0; i < json_object_array_length(items); i++)
		json_object_array_add(list, json_object_get(json_object_array_get_idx(items, i)));
	json_object_put(items);
	return 0;
}

/* Option o's values argv[*i + 1 ...] (or val, given as --x=val) into req;
 * *i is left on the last argument used.  0 or 2 (printed). */
static int
opt_values(const struct verb *v, const struct opt_spec *o, const char *val, int argc,
    char **argv, int *i, struct json_object *req)
{
	struct json_object *j = NULL;
	int n = 0, r = 0;

	do {
		if (val == NULL && (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0))
			break;
		if (val == NULL)
			val = argv[++*i];
		if (o->kind == OPT_STR)
			json_object_object_add(req, o->member, json_object_new_string(val));
		else if (o->kind == OPT_JSON && (r = json_value(val, &j)) == 0)
			json_object_object_add(req, o->member, j);
		else if (o->kind == OPT_LIST || o->kind == OPT_TAGS)
			r = list_value(o, val, req);
		if (r == -EINVAL)
			return usage_error(v, "--%s wants %s, not \"%s\"", o->name,
			    opt_wants[o->kind], val);
		if (r < 0)
			return usage_error(v, "--%s: %s: %s", o->name, val, strerror(-r));
		n++;
		val = NULL;
	} while (o->kind == OPT_LIST || o->kind == OPT_TAGS);
	return n > 0 ? 0 : usage_error(v, "--%s wants %s", o->name, opt_wants[o->kind]);
}

/* One "--x[=val]" at argv[*i] (moving *i past its values) into req or
 * *fmt.  0, or 2 (usage error, printed). */
static int
trail_option(const struct verb *v, int argc, char **argv, int *i, struct json_object *req,
    enum out_fmt *fmt)
{
	const char *name = argv[*i] + 2, *eq, *val;
	const struct opt_spec *o;
	bool neg = false;
	size_t len;

	if (strncmp(argv[*i], "--", 2) != 0 || argv[*i][2] == '\0' || argv[*i][2] == '=')
		return usage_error(v, "unexpected \"%s\"", argv[*i]);
	eq = strchr(name, '=');
	val = eq ? eq + 1 : NULL;
	len = eq ? (size_t)(eq - name) : strlen(name);
	if (len == 6 && strncmp(name, "output", 6) == 0) {
		if (val == NULL && *i + 1 < argc)
			val = argv[++*i];
		if (val != NULL && parse_output(val, fmt) == 0 && *fmt != OUT_CSV)
			return 0;
		return usage_error(v, "--output is table or json, not \"%s\"", val ? val : "");
	}
	o = opt_find(v, name, len, &neg);
	if (o == NULL)
		return usage_error(v, "unknown option \"--%.*s\"", (int)len, name);
	if (o->kind != OPT_BOOL)
		return opt_values(v, o, val, argc, argv, i, req);
	if (val != NULL)
		return usage_error(v, "--%.*s takes no value", (int)len, name);
	json_object_object_add(req, o->member, json_object_new_boolean(!neg));
	return 0;
}

/* Missing required options (or none of the OPT_ONE_OF ones).  0 or 2. */
static int
check_required(const struct verb *v, struct json_object *req)
{
	const char *one_of[2] = { NULL, NULL };
	bool have_one = false;

	for (const struct opt_spec *o = v->opts; o->name != NULL; o++) {
		bool set = json_object_object_get_ex(req, o->member, NULL);

		if (o->need == OPT_REQUIRED && !set)
			return usage_error(v, "--%s is required", o->name);
		if (o->need == OPT_ONE_OF) {
			one_of[one_of[0] != NULL] = o->name;
			have_one |= set;
		}
	}
	if (one_of[0] != NULL && !have_one)
		return usage_error(v, "--%s or --%s is required", one_of[0],
		    one_of[1] ? one_of[1] : one_of[0]);
	return 0;
}

/* The request body of verb v from its command line into *ret (allocated
 * here, the caller frees it in any case).  0, 2 (usage error, printed) or
 * -1 (--help, printed). */
static int
trail_request(const struct verb *v, int argc, char **argv, struct json_object **ret,
    enum out_fmt *fmt)
{
	int rc = 0;

	*ret = json_object_new_object();
	if (*ret == NULL)
		return usage_error(v, "out of memory");
	for (int i = 1; i < argc && rc == 0; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: hosttrailctl %s%s%s\n      %s\n", v->name,
			    *v->synopsis ? " " : "", v->synopsis, v->help);
			return -1;
		}
		rc = trail_option(v, argc, argv, &i, *ret, fmt);
	}
	return rc ? rc : check_required(v, *ret);
}

/* ---- trail verbs: replies as tables ---- */

/* v as text: strings as they are, numbers under a key ending in "Time"
 * (epoch seconds) as ISO 8601, lists of scalars joined with ", ", null as
 * "".  The result may live in buf; a list is shortened to fit. */
static const char *
cell_text(const char *key, struct json_object *v, char *buf, size_t size)
{
	size_t klen = key ? strlen(key) : 0, len = 0;

	buf[0] = '\0';
	switch (json_object_get_type(v)) {
	case json_type_string:
		return json_object_get_string(v);
	case json_type_null:
		return "";
	case json_type_int:
	case json_type_double:
		if (klen >= 4 && strcmp(key + klen - 4, "Time") == 0 && size >= HT_ISO8601_LEN) {
			ht_time_iso8601((time_t)json_object_get_double(v), buf);
			return buf;
		}
		return json_object_get_string(v);
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v) && len < size; i++) {
			char one[HT_ISO8601_LEN];

			len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
			    cell_text(NULL, json_object_array_get_idx(v, i), one, sizeof(one)));
		}
		return buf;
	default:
		return json_object_to_json_string_ext(v, JSON_OUT);
	}
}

/* Objects, and lists holding objects or lists, go below their key. */
static bool
is_nested(struct json_object *v)
{
	if (json_object_is_type(v, json_type_object))
		return true;
	for (size_t i = 0; json_object_is_type(v, json_type_array) &&
	     i < json_object_array_length(v); i++) {
		struct json_object *e = json_object_array_get_idx(v, i);

		if (json_object_is_type(e, json_type_object) ||
		    json_object_is_type(e, json_type_array))
			return true;
	}
	return false;
}

static void kv_nested(struct json_object *v, int indent);

/* Object o as "Key  value" lines, keys padded to the widest, each line
 * indented by indent; lead ("- " for a list item, or "") starts the first
 * line and is matched by spaces on the others. */
static void
kv_object(struct json_object *o, int indent, const char *lead)
{
	char buf[4096];
	int w = 0, first = 1;

	json_object_object_foreach(o, k0, v0) {
		(void)v0;
		if (utf8_width(k0) > w)
			w = utf8_width(k0);
	}
	json_object_object_foreach(o, k, v) {
		printf("%*s%s", indent, "", first ? lead : lead[0] ? "  " : "");
		first = 0;
		if (is_nested(v)) {
			printf("%s\n", k);
			kv_nested(v, indent + (int)strlen(lead) + 2);
			continue;
		}
		table_cell(stdout, k, w, false);
		table_cell(stdout, cell_text(k, v, buf, sizeof(buf)), 0, true);
	}
}

/* A nested object, or a list's items each starting with "- ". */
static void
kv_nested(struct json_object *v, int indent)
{
	char buf[4096];

	if (json_object_is_type(v, json_type_object)) {
		kv_object(v, indent, "");
		return;
	}
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		struct json_object *e = json_object_array_get_idx(v, i);

		if (json_object_is_type(e, json_type_object)) {
			kv_object(e, indent, "- ");
		} else {
			printf("%*s- ", indent, "");
			table_cell(stdout, cell_text(NULL, e, buf, sizeof(buf)), 0, true);
		}
	}
}

static void
table_kv(struct json_object *reply)
{
	kv_object(reply, 0, "");
}

/* GetTrail: the Trail's members. */
static void
table_trail(struct json_object *reply)
{
	struct json_object *t;

	if (json_object_object_get_ex(reply, "Trail", &t) &&
	    json_object_is_type(t, json_type_object))
		kv_object(t, 0, "");
	else
		kv_object(reply, 0, "");
}

struct column {
	const char *title;
	const char *member;
};

#define MAX_COLUMNS 8

/* The text of column col in row i of rows. */
static const char *
row_cell(struct json_object *rows, size_t i, const struct column *col, char *buf, size_t size)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(json_object_array_get_idx(rows, i), col->member, &v);
	return cell_text(col->member, v, buf, size);
}

/* rows (a list of objects) as columns, each as wide as its widest cell. */
static void
columns_print(const struct column *cols, int ncols, struct json_object *rows)
{
	int width[MAX_COLUMNS];
	char buf[4096];
	size_t n = json_object_is_type(rows, json_type_array) ? json_object_array_length(rows) : 0;

	if (ncols > MAX_COLUMNS)
		ncols = MAX_COLUMNS;
	for (int c = 0; c < ncols; c++)
		width[c] = utf8_width(cols[c].title);
	for (size_t i = 0; i < n; i++) {
		for (int c = 0; c < ncols; c++) {
			int w = utf8_width(row_cell(rows, i, &cols[c], buf, sizeof(buf)));

			width[c] = w > width[c] ? w : width[c];
		}
	}
	for (int c = 0; c < ncols; c++)
		table_cell(stdout, cols[c].title, width[c], c == ncols - 1);
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < ncols; c++)
			table_cell(stdout, row_cell(rows, i, &cols[c], buf, sizeof(buf)), width[c],
			    c == ncols - 1);
}

/* The list reply[member], or NULL. */
static struct json_object *
reply_list(struct json_object *reply, const char *member)
{
	struct json_object *l;

	if (!json_object_object_get_ex(reply, member, &l) ||
	    !json_object_is_type(l, json_type_array))
		return NULL;
	return l;
}

/* DescribeTrails: one trail a row, with DescribeTrails' own members. */
static void
table_describe_trails(struct json_object *reply)
{
	static const struct column cols[] = {
		{ "Name", "Name" },
		{ "Bucket", "S3BucketName" },
		{ "Prefix", "S3KeyPrefix" },
		{ "Multi-region", "IsMultiRegionTrail" },
		{ "Global", "IncludeGlobalServiceEvents" },
		{ "Validation", "LogFileValidationEnabled" },
		{ "Selectors", "HasCustomEventSelectors" },
		{ "Home region", "HomeRegion" },
	};

	columns_print(cols, sizeof(cols) / sizeof(cols[0]), reply_list(reply, "trailList"));
}

static void
table_list_trails(struct json_object *reply)
{
	static const struct column cols[] = {
		{ "Name", "Name" },
		{ "Home region", "HomeRegion" },
		{ "Trail ARN", "TrailARN" },
	};

	columns_print(cols, sizeof(cols) / sizeof(cols[0]), reply_list(reply, "Trails"));
}

/* Resource r of a ListTags reply as rows {ResourceId, Key, Value}: one a
 * tag, or one without Key when r has no tags. */
static void
tag_rows(struct json_object *r, struct json_object *rows)
{
	struct json_object *tags = reply_list(r, "TagsList"), *id = NULL, *row;
	size_t n = tags ? json_object_array_length(tags) : 0;

	json_object_object_get_ex(r, "ResourceId", &id);
	for (size_t k = 0; k < (n ? n : 1); k++) {
		row = n ? json_object_array_get_idx(tags, k) : NULL;
		row = row ? json_object_get(row) : json_object_new_object();
		if (row == NULL || !json_object_is_type(row, json_type_object)) {
			json_object_put(row);
			continue;
		}
		json_object_object_add(row, "ResourceId", json_object_get(id));
		json_object_array_add(rows, row);
	}
}

/* ListTags: one tag a row. */
static void
table_list_tags(struct json_object *reply)
{
	static const struct column cols[] = {
		{ "Resource", "ResourceId" },
		{ "Key", "Key" },
		{ "Value", "Value" },
	};
	struct json_object *res = reply_list(reply, "ResourceTagList");
	struct json_object *rows = json_object_new_array();

	for (size_t i = 0; res != NULL && rows != NULL && i < json_object_array_length(res); i++)
		tag_rows(json_object_array_get_idx(res, i), rows);
	columns_print(cols, sizeof(cols) / sizeof(cols[0]), rows);
	json_object_put(rows);
}

/* ---- trail verbs: requests ---- */

/* Operation op with body req; *ret: the reply object.  0, 1 (refused or
 * not a JSON object, printed) or 2 (connection error, printed). */
static int
call_op(const char *sock, const char *op, struct json_object *req, struct json_object **ret)
{
	char target[200];
	struct json_object *res = NULL;
	struct api a;
	long st;
	int rc = 2;

	if (api_open(&a, sock) < 0) {
		fprintf(stderr, "hosttrailctl: out of memory\n");
		return 2;
	}
	snprintf(target, sizeof(target), "%s%s", CT_TARGET_PREFIX, op);
	st = api_post(&a, "/", target, json_object_to_json_string_ext(req, JSON_OUT));
	if (st < 0)
		goto out;
	rc = 1;
	if (st != 200) {
		print_refusal(st, a.r.data);
		goto out;
	}
	res = a.r.data ? json_tokener_parse(a.r.data) : NULL;
	if (res == NULL || !json_object_is_type(res, json_type_object)) {
		fprintf(stderr, "hosttrailctl: not a %s reply: %.500s\n", op,
		    a.r.data ? a.r.data : "");
		json_object_put(res);
		goto out;
	}
	*ret = res;
	rc = 0;
out:
	api_close(&a);
	return rc;
}

/* A trail verb: the request from the command line, the call, the reply
 * printed (json: the reply as it came, pretty).  0, 1 or 2. */
static int
cmd_trail(const struct verb *v, const char *sock, int argc, char **argv)
{
	struct json_object *req = NULL, *res = NULL;
	enum out_fmt fmt = OUT_TABLE;
	int rc;

	rc = trail_request(v, argc, argv, &req, &fmt);
	if (rc == 0)
		rc = call_op(sock, v->op, req, &res);
	if (rc == 0 && fmt == OUT_JSON)
		printf("%s\n", json_object_to_json_string_ext(res, JSON_C_TO_STRING_PRETTY |
		    JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	else if (rc == 0 && v->table != NULL)
		v->table(res);
	if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
		fprintf(stderr, "hosttrailctl: stdout: %s\n", strerror(errno));
		rc = 2;
	}
	json_object_put(req);
	json_object_put(res);
	return rc < 0 ? 0 : rc;
}

/* ---- the verbs ---- */

static const struct verb verbs[] = {
	{ "put-audit-events", cmd_put_audit_events, NULL, NULL, NULL,
	    "--channel NAME --file F|-", "" },
	{ "lookup-events", cmd_lookup_events, NULL, NULL, NULL,
	    "[--lookup-attributes ...] ...", "" },
	{ "create-trail", cmd_trail, "CreateTrail", create_opts, table_kv,
	    "--name N --s3-bucket-name B" TRAIL_SETTINGS_SYNOPSIS
	    "\n      [--tags-list Key=K,Value=V ...]",
	    "create a trail (CreateTrail); shows the trail's settings" },
	{ "update-trail", cmd_trail, "UpdateTrail", update_opts, table_kv,
	    "--name N [--s3-bucket-name B]" TRAIL_SETTINGS_SYNOPSIS,
	    "change the settings given (UpdateTrail)" },
	{ "delete-trail", cmd_trail, "DeleteTrail", name_opts, NULL, "--name N",
	    "delete a trail (DeleteTrail)" },
	{ "describe-trails", cmd_trail, "DescribeTrails", describe_opts, table_describe_trails,
	    "[--trail-name-list N ...] [--[no-]include-shadow-trails]",
	    "the settings of the trails named, or of every trail (DescribeTrails)" },
	{ "get-trail", cmd_trail, "GetTrail", name_opts, table_trail, "--name N",
	    "one trail's settings (GetTrail)" },
	{ "list-trails", cmd_trail, "ListTrails", no_opts, table_list_trails, "",
	    "names, ARNs and home regions of the trails (ListTrails)" },
	{ "get-trail-status", cmd_trail, "GetTrailStatus", name_opts, table_kv, "--name N",
	    "whether the trail logs and its latest deliveries (GetTrailStatus)" },
	{ "start-logging", cmd_trail, "StartLogging", name_opts, NULL, "--name N",
	    "start delivering events to the trail (StartLogging)" },
	{ "stop-logging", cmd_trail, "StopLogging", name_opts, NULL, "--name N",
	    "stop delivering events to the trail (StopLogging)" },
	{ "put-event-selectors", cmd_trail, "PutEventSelectors", put_selectors_opts, table_kv,
	    "--trail-name N\n      (--event-selectors J | --advanced-event-selectors J)",
	    "which events reach the trail (PutEventSelectors); J: JSON or file://PATH" },
	{ "get-event-selectors", cmd_trail, "GetEventSelectors", get_selectors_opts, table_kv,
	    "--trail-name N", "the trail's event selectors (GetEventSelectors)" },
	{ "add-tags", cmd_trail, "AddTags", tags_opts, NULL,
	    "--resource-id ARN --tags-list Key=K,Value=V ...",
	    "add or overwrite tags of a trail (AddTags)" },
	{ "remove-tags", cmd_trail, "RemoveTags", tags_opts, NULL,
	    "--resource-id ARN --tags-list Key=K[,Value=V] ...",
	    "remove tags from a trail (RemoveTags)" },
	{ "list-tags", cmd_trail, "ListTags", list_tags_opts, table_list_tags,
	    "--resource-id-list ARN ...", "the tags of up to 20 trails (ListTags)" },
};

#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

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
	    "      2 when a request was refused.\n"
	    "\n"
	    "  lookup-events [--lookup-attributes AttributeKey=K,AttributeValue=V]\n"
	    "                [--start-time T] [--end-time T] [--max-results N]\n"
	    "                [--event-category insight] [--next-token TOKEN] [--all]\n"
	    "                [--output table|json|csv]\n"
	    "      search the event history (CloudTrail's LookupEvents), newest first.\n"
	    "      K is EventId, EventName, ReadOnly, Username, ResourceType,\n"
	    "      ResourceName, EventSource or AccessKeyId.  T is ISO 8601\n"
	    "      (2026-01-02T03:04:05Z, without Z = UTC, or a date alone) or epoch\n"
	    "      seconds; the daemon's defaults are the last 90 days.  N: 1-50 events\n"
	    "      per page (default 50).  Without --all one page is printed and a\n"
	    "      NextToken, if any, goes to stderr (in the object for json); --all\n"
	    "      follows NextToken to the end, streaming.  table is for people; json\n"
	    "      is CloudTrail's response shape; csv has the columns of CloudTrail\n"
	    "      console's download.  Exit status 0, 1 when the daemon refused the\n"
	    "      request (\"hosttrailctl: <exception>: <message>\" on stderr), 2 on\n"
	    "      a usage, connection or output error.\n"
	    "\n"
	    "trail commands: CloudTrail's operations, with the options the aws CLI\n"
	    "gives them (N: a trail name or ARN; Key=K,Value=V and list options take\n"
	    "several values or a JSON list).  Each also takes --output table|json:\n"
	    "table (the default) is for people, json is the daemon's reply as it is.\n"
	    "Exit status 0, 1 when the daemon refused the request (\"hosttrailctl:\n"
	    "<exception>: <message>\" on stderr), 2 on a usage or connection error.\n",
	    DEFAULT_SOCKET);
	for (size_t i = 0; i < N_VERBS; i++)
		if (verbs[i].op != NULL)
			fprintf(f, "\n  %s%s%s\n      %s\n", verbs[i].name,
			    *verbs[i].synopsis ? " " : "", verbs[i].synopsis, verbs[i].help);
}

static const struct verb *
verb_find(const char *name)
{
	for (size_t i = 0; i < N_VERBS; i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
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
	const struct verb *v;
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
	v = verb_find(argv[optind]);
	if (v == NULL) {
		fprintf(stderr, "hosttrailctl: unknown command \"%s\" (hosttrailctl --help lists "
		    "them)\n", argv[optind]);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = v->run(v, sock, argc - optind, argv + optind);
	curl_global_cleanup();
	return rc;
}

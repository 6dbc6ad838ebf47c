/*
 * notify.c - see notify.h.
 *
 * An entry (one delivered file) fans out to one "send" per subscription the
 * topic had when the entry was loaded; each send follows its subscription's
 * delivery policy on its own clock.  A send is signed on the worker pool
 * (RSA), then POSTed by the notifier's own HTTP client.  The signer is
 * reference-counted so a reload can replace it while signatures are being
 * made with the old one.  Everything else lives on the loop thread.
 */
#include "ht_build.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "conf.h"
#include "deliver/fetch.h"
#include "deliver/notify.h"
#include "deliver/sns.h"
#include "fileio.h"
#include "log.h"
#include "util.h"
#include "worker.h"

/* POSTs at once per subscription: each has its own, so an endpoint that
 * hangs until the timeout cannot hold up the others (SNS delivers to each
 * subscription independently). */
#define NTF_IN_FLIGHT 4
#define NTF_ENTRY_MAX (16 * 1024)	/* bytes of one queue file */
#define NTF_SUFFIX ".json"

struct ntf_signer {
	struct ht_sns_signer *s;
	unsigned refs;
};

struct ntf_sub {
	char *url;
	char *arn;
	struct ht_sns_policy policy;
	unsigned in_flight;		/* busy sends to url */
};

/* The topic as configured; replaced whole on reload. */
struct ntf_topic {
	char *name;
	char *arn;
	char *region, *account;
	struct ntf_signer *signer;
	enum ht_sns_sigver version;
	char *ca_file;
	long timeout_ms;
	struct ntf_sub *subs;
	size_t n_subs;
};

struct ntf_entry;

struct ntf_send {
	struct ntf_entry *e;
	char *url;
	char *arn;
	struct ht_sns_policy policy;
	unsigned attempt;		/* attempts made so far */
	int64_t not_before;		/* mono ms */
	bool busy, done;
};

struct ntf_entry {
	TAILQ_ENTRY(ntf_entry) link;
	char *name;
	char *bucket, *key;
	char message_id[HT_UUID_LEN];
	int64_t published_ms;		/* the Timestamp, the same on every retry */
	struct ntf_send *sends;
	size_t n_sends;
	size_t left;			/* sends not done */
};
TAILQ_HEAD(ntf_list, ntf_entry);

struct ht_notify {
	struct ht_notify_env env;
	char *trail;
	char *dir;
	struct ntf_list entries;
	uint64_t n_entries;
	struct ntf_topic *topic;	/* NULL: none configured */
	bool configured;		/* configure() ran at least once */
	struct ht_fetch_client *http;
	struct event *timer;
	unsigned jobs;
	bool dead;
	struct ht_notify_stats st;
};

/* Signing one send, on the pool. */
struct ntf_job {
	struct ht_notify *n;
	struct ntf_send *send;		/* not touched on the pool */
	struct ntf_signer *signer;	/* a reference */
	struct ht_sns_message_params p;	/* strings below are owned */
	char *region, *account, *topic, *sub_arn, *message;
	char message_id[HT_UUID_LEN];
	struct ht_sns_message msg;
	int err;
	/* POST state */
	struct ht_fetch_header headers[HT_SNS_N_HEADERS];
	char *url, *ca_file;
	long timeout_ms;
};

static void ntf_pump(struct ht_notify *n);
static void ntf_destroy(struct ht_notify *n);

/* ---- signer and topic ---- */

static void
signer_unref(struct ntf_signer *s)
{
	if (s != NULL && --s->refs == 0) {
		ht_sns_signer_free(s->s);
		free(s);
	}
}

static void
topic_free(struct ntf_topic *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n_subs; i++) {
		free(t->subs[i].url);
		free(t->subs[i].arn);
	}
	free(t->subs);
	signer_unref(t->signer);
	free(t->name);
	free(t->arn);
	free(t->region);
	free(t->account);
	free(t->ca_file);
	free(t);
}

static void
policy_from_conf(struct ht_sns_policy *p, const struct ht_conf_delivery_policy *c)
{
	static const enum ht_sns_backoff map[] = {
		[HT_CONF_BACKOFF_LINEAR] = HT_SNS_BACKOFF_LINEAR,
		[HT_CONF_BACKOFF_ARITHMETIC] = HT_SNS_BACKOFF_ARITHMETIC,
		[HT_CONF_BACKOFF_GEOMETRIC] = HT_SNS_BACKOFF_GEOMETRIC,
		[HT_CONF_BACKOFF_EXPONENTIAL] = HT_SNS_BACKOFF_EXPONENTIAL,
	};

	memset(p, 0, sizeof(*p));
	p->num_retries = c->num_retries;
	p->num_no_delay_retries = c->num_no_delay_retries;
	p->num_min_delay_retries = c->num_min_delay_retries;
	p->num_max_delay_retries = c->num_max_delay_retries;
	p->min_delay_ms = c->min_delay_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)c->min_delay_ms;
	p->max_delay_ms = c->max_delay_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)c->max_delay_ms;
	p->backoff = (unsigned)c->backoff < sizeof(map) / sizeof(map[0]) ? map[c->backoff] :
	    HT_SNS_BACKOFF_LINEAR;
}

static int
topic_from_conf(const char *trail, const struct ht_conf *conf, const struct ht_conf_topic *c,
    struct ntf_topic **ret)
{
	struct ntf_topic *t = calloc(1, sizeof(*t));
	char err[512];
	const char *bad;
	int v = -ENOMEM;

	if (t == NULL)
		return -ENOMEM;
	t->name = strdup(c->name);
	t->region = strdup(conf->region);
	t->account = strdup(conf->account_id);
	t->ca_file = c->ca_file ? strdup(c->ca_file) : NULL;
	t->version = c->signature_version == 1 ? HT_SNS_SIGV1 : HT_SNS_SIGV2;
	t->timeout_ms = c->timeout_ms ? (long)c->timeout_ms : 15000;
	if (!t->name || !t->region || !t->account || (c->ca_file && !t->ca_file) ||
	    asprintf(&t->arn, "arn:aws:sns:%s:%s:%s", conf->region, conf->account_id,
	    c->name) < 0) {
		t->arn = NULL;
		goto fail;
	}
	if (c->n_subscriptions > 0) {
		t->signer = calloc(1, sizeof(*t->signer));
		if (t->signer == NULL)
			goto fail;
		t->signer->refs = 1;
		v = ht_sns_signer_load(c->signing_key_file, c->signing_cert_url, &t->signer->s,
		    err, sizeof(err));
		if (v < 0) {
			log_warnx("trail %s: topic %s: %s; notifications wait in the queue until "
			    "it is fixed (then SIGHUP)", trail, c->name, err);
			free(t->signer);
			t->signer = NULL;
			goto fail;
		}
	}
	t->subs = calloc(c->n_subscriptions ? c->n_subscriptions : 1, sizeof(*t->subs));
	if (t->subs == NULL) {
		v = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < c->n_subscriptions; i++) {
		struct ntf_sub *s = &t->subs[i];

		t->n_subs++;
		policy_from_conf(&s->policy, &c->subscriptions[i].delivery_policy);
		bad = ht_sns_policy_invalid(&s->policy);
		if (bad != NULL) {
			log_warnx("trail %s: topic %s: subscriptions[%zu].delivery_policy: %s", trail,
			    c->name, i, bad);
			v = -EINVAL;
			goto fail;
		}
		s->url = strdup(c->subscriptions[i].url);
		if (s->url == NULL) {
			v = -ENOMEM;
			goto fail;
		}
		v = ht_sns_subscription_arn(t->arn, s->url, &s->arn);
		if (v < 0)
			goto fail;
	}
	*ret = t;
	return 0;
fail:
	topic_free(t);
	return v;
}

static struct ntf_sub *
topic_sub(const struct ntf_topic *t, const char *url)
{
	for (size_t i = 0; t != NULL && i < t->n_subs; i++)
		if (strcmp(t->subs[i].url, url) == 0)
			return &t->subs[i];
	return NULL;
}

int
ht_notify_check_conf(const struct ht_conf *conf, char *err, size_t len)
{
	struct ht_sns_signer *signer;
	struct ht_sns_policy p;
	char why[512];
	const char *bad;
	int v;

	for (size_t i = 0; i < conf->n_topics; i++) {
		const struct ht_conf_topic *c = &conf->topics[i];

		for (size_t k = 0; k < c->n_subscriptions; k++) {
			policy_from_conf(&p, &c->subscriptions[k].delivery_policy);
			bad = ht_sns_policy_invalid(&p);
			if (bad != NULL) {
				snprintf(err, len, "%s: topics.%s.subscriptions[%zu].delivery_policy: %s",
				    conf->path, c->name, k, bad);
				return -EINVAL;
			}
		}
		if (c->n_subscriptions == 0)
			continue;
		v = ht_sns_signer_load(c->signing_key_file, c->signing_cert_url, &signer, why,
		    sizeof(why));
		if (v < 0) {
			snprintf(err, len, "%s: topics.%s.signing_key_file: %s", conf->path, c->name,
			    why);
			return -EINVAL;
		}
		ht_sns_signer_free(signer);
	}
	return 0;
}

/* ---- queue files ---- */

int
ht_notify_entry_write(const char *dir, const char *bucket, const char *key, char *name,
    size_t len)
{
	char path[PATH_MAX], uuid[HT_UUID_LEN], uniq[9];
	struct json_object *j;
	const char *text;
	int64_t now;
	int v;

	v = ht_uuid_v4(uuid);
	if (v == 0)
		v = ht_random_alnum(uniq, 8);
	if (v < 0)
		return v;
	/* Names sort by time: entries load oldest first. */
	now = ht_now_ms();
	if (snprintf(name, len, "%013lld-%s%s", (long long)now, uniq, NTF_SUFFIX) >=
	    (int)len || snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	j = json_object_new_object();
	if (j == NULL)
		return -ENOMEM;
	json_object_object_add(j, "bucket", json_object_new_string(bucket));
	json_object_object_add(j, "key", json_object_new_string(key));
	json_object_object_add(j, "messageId", json_object_new_string(uuid));
	json_object_object_add(j, "publishedMs", json_object_new_int64(now));
	text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	v = text ? ht_write_file_atomic(path, text, strlen(text), 0640) : -ENOMEM;
	json_object_put(j);
	return v;
}

static void
entry_free(struct ntf_entry *e)
{
	for (size_t i = 0; i < e->n_sends; i++) {
		free(e->sends[i].url);
		free(e->sends[i].arn);
	}
	free(e->sends);
	free(e->name);
	free(e->bucket);
	free(e->key);
	free(e);
}

/* Fan the entry out to the topic's subscriptions. */
static int
entry_attach(struct ht_notify *n, struct ntf_entry *e)
{
	const struct ntf_topic *t = n->topic;

	e->sends = calloc(t->n_subs ? t->n_subs : 1, sizeof(*e->sends));
	if (e->sends == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_subs; i++) {
		struct ntf_send *s = &e->sends[i];

		s->e = e;
		s->url = strdup(t->subs[i].url);
		s->arn = strdup(t->subs[i].arn);
		s->policy = t->subs[i].policy;
		e->n_sends++;
		if (s->url == NULL || s->arn == NULL)
			return -ENOMEM;
	}
	e->left = e->n_sends;
	return 0;
}

static void
entry_drop(struct ht_notify *n, struct ntf_entry *e)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", n->dir, e->name);
	/* No fsync: a removal lost to a crash re-sends with the same
	 * MessageId, which subscribers may see from SNS too. */
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("trail %s: cannot remove %s, ignoring", n->trail, path);
	TAILQ_REMOVE(&n->entries, e, link);
	n->n_entries--;
	entry_free(e);
}

/* Read the entry file name; NULL (logged, file removed) if it is unusable. */
static struct ntf_entry *
entry_load(struct ht_notify *n, const char *name)
{
	struct json_object *j = NULL, *b, *k, *m;
	struct ntf_entry *e = NULL;
	char path[PATH_MAX];
	char *text = NULL;
	size_t len;
	int v;

	snprintf(path, sizeof(path), "%s/%s", n->dir, name);
	v = ht_read_file(path, NTF_ENTRY_MAX, &text, &len);
	if (v < 0) {
		log_msg(HT_LOG_WARNING, -v, "trail %s: cannot read notification %s, skipping it",
		    n->trail, path);
		if (v == -EFBIG)
			unlink(path);
		return NULL;
	}
	j = json_tokener_parse(text);
	if (j == NULL || !json_object_object_get_ex(j, "bucket", &b) ||
	    !json_object_object_get_ex(j, "key", &k) ||
	    !json_object_object_get_ex(j, "messageId", &m) ||
	    !json_object_is_type(b, json_type_string) || !json_object_is_type(k, json_type_string) ||
	    !json_object_is_type(m, json_type_string) ||
	    json_object_get_string_len(m) != HT_UUID_LEN - 1) {
		log_warnx("trail %s: notification %s is damaged (not the JSON hosttraild writes); "
		    "removing it", n->trail, path);
		unlink(path);
		goto out;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL || (e->name = strdup(name)) == NULL ||
	    (e->bucket = strdup(json_object_get_string(b))) == NULL ||
	    (e->key = strdup(json_object_get_string(k))) == NULL) {
		if (e)
			entry_free(e);
		e = NULL;
		log_warnx("trail %s: out of memory loading notification %s", n->trail, path);
		goto out;
	}
	memcpy(e->message_id, json_object_get_string(m), HT_UUID_LEN);
	/* SNS's Timestamp is when the message was published: a retry or a
	 * resend after a restart carries the first one. */
	if (json_object_object_get_ex(j, "publishedMs", &b) && json_object_is_type(b, json_type_int))
		e->published_ms = json_object_get_int64(b);
	if (e->published_ms <= 0)
		e->published_ms = ht_now_ms();
out:
	json_object_put(j);
	free(text);
	return e;
}

static void
ntf_enqueue(struct ht_notify *n, struct ntf_entry *e)
{
	TAILQ_INSERT_TAIL(&n->entries, e, link);
	n->n_entries++;
	if (n->topic != NULL && entry_attach(n, e) < 0) {
		log_warnx("trail %s: out of memory queueing notification %s; it is sent after "
		    "the next restart", n->trail, e->name);
		TAILQ_REMOVE(&n->entries, e, link);
		n->n_entries--;
		entry_free(e);
		return;
	}
	if (n->configured && n->topic == NULL)
		entry_drop(n, e);	/* the trail has no topic */
}

void
ht_notify_entry_added(struct ht_notify *n, const char *name)
{
	struct ntf_entry *e = entry_load(n, name);

	if (e == NULL)
		return;
	ntf_enqueue(n, e);
	ntf_pump(n);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
ntf_scan(struct ht_notify *n)
{
	char **names = NULL, **grown;
	size_t count = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int v = 0;

	d = opendir(n->dir);
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (de->d_name[0] == '.' || l <= strlen(NTF_SUFFIX) ||
		    strcmp(de->d_name + l - strlen(NTF_SUFFIX), NTF_SUFFIX) != 0)
			continue;	/* ".tmp" files of an interrupted write, strangers */
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(names, cap * sizeof(*names));
			if (grown == NULL) {
				v = -ENOMEM;
				break;
			}
			names = grown;
		}
		if ((names[count] = strdup(de->d_name)) == NULL) {
			v = -ENOMEM;
			break;
		}
		count++;
	}
	closedir(d);
	if (v == 0 && count > 0)	/* names is NULL for an empty queue */
		qsort(names, count, sizeof(*names), name_cmp);
	for (size_t i = 0; i < count; i++) {
		struct ntf_entry *e = v == 0 ? entry_load(n, names[i]) : NULL;

		if (e != NULL) {
			TAILQ_INSERT_TAIL(&n->entries, e, link);
			n->n_entries++;
		}
		free(names[i]);
	}
	free(names);
	return v;
}

/* ---- sending ---- */

static void
ntf_arm(struct ht_notify *n, int64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000),
		.tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	evtimer_del(n->timer);
	evtimer_add(n->timer, &tv);
}

static void
ntf_job_free(struct ntf_job *j)
{
	ht_sns_message_clear(&j->msg);
	signer_unref(j->signer);
	free(j->region);
	free(j->account);
	free(j->topic);
	free(j->sub_arn);
	free(j->message);
	free(j->url);
	free(j->ca_file);
	free(j);
}

static void
send_finished(struct ht_notify *n, struct ntf_send *s)
{
	struct ntf_entry *e = s->e;

	s->done = true;
	if (--e->left == 0)
		entry_drop(n, e);
}

static void
send_result(struct ht_notify *n, struct ntf_send *s, bool ok, const char *why)
{
	struct ntf_sub *sub = topic_sub(n->topic, s->url);
	int64_t delay;

	s->busy = false;
	if (sub != NULL && sub->in_flight > 0)
		sub->in_flight--;	/* see ht_notify_configure() for reloads */
	s->attempt++;
	n->st.latest_attempt_time = (int64_t)time(NULL);
	n->st.latest_attempt_succeeded = ok;
	if (ok) {
		n->st.sent++;
		n->st.latest_notification_time = n->st.latest_attempt_time;
		n->st.latest_error[0] = '\0';
		log_debug("trail %s: notified %s of %s", n->trail, s->url, s->e->key);
		send_finished(n, s);
		return;
	}
	n->st.failures++;
	snprintf(n->st.latest_error, sizeof(n->st.latest_error), "%s: %s", s->url, why);
	if (sub == NULL) {
		send_finished(n, s);	/* no longer subscribed (or no topic) */
		return;
	}
	delay = ht_sns_retry_delay(&s->policy, s->attempt);
	if (delay < 0) {
		n->st.dropped++;
		log_warnx("trail %s: notification of %s to %s dropped after %u attempt(s), as its "
		    "delivery policy says (last error: %s)", n->trail, s->e->key, s->url,
		    s->attempt, why);
		send_finished(n, s);
		return;
	}
	log_info("trail %s: notifying %s failed (%s); retry %u of %u in %.1f s", n->trail, s->url,
	    why, s->attempt, s->policy.num_retries, (double)delay / 1000.0);
	s->not_before = ht_mono_ms() + delay;
}

static void
ntf_post_done(const struct ht_fetch_result *res, void *arg)
{
	struct ntf_job *j = arg;
	struct ht_notify *n = j->n;
	char why[300];

	if (res->cancelled) {
		ntf_job_free(j);
		return;	/* the notifier is being freed; the entry stays queued */
	}
	/* SNS counts 200-499 as delivered: a 4xx will not heal by retrying. */
	if (res->http_status >= 200 && res->http_status < 500) {
		send_result(n, j->send, true, NULL);
	} else {
		if (res->http_status == 0)
			snprintf(why, sizeof(why), "%s", res->curl_error[0] ? res->curl_error :
			    "network error");
		else
			snprintf(why, sizeof(why), "HTTP %ld", res->http_status);
		send_result(n, j->send, false, why);
	}
	ntf_job_free(j);
	ntf_pump(n);
}

static void
ntf_sign_work(void *arg)
{
	struct ntf_job *j = arg;

	j->err = ht_sns_notification(j->signer->s, &j->p, &j->msg);
}

static void
ntf_sign_done(void *arg)
{
	struct ntf_job *j = arg;
	struct ht_notify *n = j->n;
	struct ht_fetch_req req;
	int v;

	n->jobs--;
	if (n->dead) {
		ntf_job_free(j);
		if (n->jobs == 0)
			ntf_destroy(n);
		return;
	}
	if (j->err < 0) {
		send_result(n, j->send, false, "cannot sign the notification");
		ntf_job_free(j);
		ntf_pump(n);
		return;
	}
	for (size_t i = 0; i < HT_SNS_N_HEADERS; i++) {
		j->headers[i].name = j->msg.headers[i].name;
		j->headers[i].value = j->msg.headers[i].value;
	}
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = j->url;
	req.headers = j->headers;
	req.n_headers = HT_SNS_N_HEADERS;
	req.body = j->msg.body;
	req.body_len = j->msg.body_len;
	req.ca_file = j->ca_file;
	req.timeout_ms = j->timeout_ms;
	v = ht_fetch_start(n->http, &req, ntf_post_done, j);
	if (v < 0) {
		send_result(n, j->send, false, v == -EINVAL ? "the URL is unusable" :
		    strerror(-v));
		ntf_job_free(j);
		ntf_pump(n);
	}
}

static int
ntf_start(struct ht_notify *n, struct ntf_send *s, struct ntf_sub *sub)
{
	const struct ntf_topic *t = n->topic;
	struct ntf_job *j = calloc(1, sizeof(*j));
	const char *key = s->e->key;

	if (j == NULL)
		return -ENOMEM;
	j->n = n;
	j->send = s;
	j->signer = t->signer;
	t->signer->refs++;
	memcpy(j->message_id, s->e->message_id, HT_UUID_LEN);
	j->region = strdup(t->region);
	j->account = strdup(t->account);
	j->topic = strdup(t->name);
	j->sub_arn = strdup(s->arn);
	j->url = strdup(s->url);
	j->ca_file = t->ca_file ? strdup(t->ca_file) : NULL;
	j->timeout_ms = t->timeout_ms;
	if (!j->region || !j->account || !j->topic || !j->sub_arn || !j->url ||
	    (t->ca_file && !j->ca_file) ||
	    ht_sns_cloudtrail_message(s->e->bucket, &key, 1, &j->message) < 0)
		goto fail;
	j->p.region = j->region;
	j->p.account = j->account;
	j->p.topic = j->topic;
	j->p.subscription_arn = j->sub_arn;
	j->p.message = j->message;
	j->p.message_id = j->message_id;
	j->p.now_ms = s->e->published_ms;
	j->p.version = t->version;
	if (ht_worker_submit(n->env.io, ntf_sign_work, ntf_sign_done, j) < 0)
		goto fail;
	n->jobs++;
	s->busy = true;
	sub->in_flight++;
	return 0;
fail:
	ntf_job_free(j);
	return -ENOMEM;
}

static void
ntf_pump(struct ht_notify *n)
{
	int64_t now = ht_mono_ms(), next = INT64_MAX;
	const struct ntf_topic *t = n->topic;
	struct ntf_entry *e, *tmp;

	if (n->dead || t == NULL || (t->signer == NULL && t->n_subs > 0))
		return;
	for (e = TAILQ_FIRST(&n->entries); e != NULL; e = tmp) {
		size_t full = 0;

		tmp = TAILQ_NEXT(e, link);
		if (e->sends == NULL && entry_attach(n, e) < 0)
			break;
		if (e->left == 0) {
			entry_drop(n, e);	/* the topic has no subscriptions */
			continue;
		}
		for (size_t i = 0; i < e->n_sends; i++) {
			struct ntf_send *s = &e->sends[i];
			struct ntf_sub *sub;

			if (s->busy || s->done)
				continue;
			/* Only a subscription's own POSTs hold it back: a
			 * finishing one pumps again. */
			sub = topic_sub(t, s->url);
			if (sub == NULL || sub->in_flight >= NTF_IN_FLIGHT)
				continue;
			if (s->not_before > now) {
				if (s->not_before < next)
					next = s->not_before;
				continue;
			}
			if (ntf_start(n, s, sub) < 0) {
				next = now + 1000;
				goto out;
			}
		}
		for (size_t i = 0; i < t->n_subs; i++)
			full += t->subs[i].in_flight >= NTF_IN_FLIGHT;
		if (t->n_subs > 0 && full == t->n_subs)
			return;	/* every subscription is busy */
	}
out:
	if (next != INT64_MAX)
		ntf_arm(n, next - now);
}

static void
ntf_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	ntf_pump(arg);
}

/* ---- public ---- */

int
ht_notify_new(const struct ht_notify_env *env, const char *trail, struct ht_notify **ret)
{
	struct ht_notify *n = calloc(1, sizeof(*n));
	int v;

	if (n == NULL)
		return -ENOMEM;
	n->env = *env;
	TAILQ_INIT(&n->entries);
	n->trail = strdup(trail);
	if (n->trail == NULL || asprintf(&n->dir, "%s/outbox/%s/notify", env->state_dir,
	    trail) < 0) {
		n->dir = NULL;
		v = -ENOMEM;
		goto fail;
	}
	v = ht_mkdir_p(n->dir, 0750);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "trail %s: cannot create %s", trail, n->dir);
		goto fail;
	}
	n->timer = evtimer_new(env->base, ntf_timer_cb, n);
	if (n->timer == NULL) {
		v = -ENOMEM;
		goto fail;
	}
	v = ht_fetch_client_new(env->base, &n->http);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "trail %s: cannot set up the notification client", trail);
		goto fail;
	}
	v = ntf_scan(n);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "trail %s: cannot read the notification queue %s", trail,
		    n->dir);
		goto fail;
	}
	if (n->n_entries > 0)
		log_info("trail %s: %llu notification(s) waiting from before", trail,
		    (unsigned long long)n->n_entries);
	*ret = n;
	return 0;
fail:
	ntf_destroy(n);
	return v;
}

const char *
ht_notify_dir(const struct ht_notify *n)
{
	return n->dir;
}

int
ht_notify_configure(struct ht_notify *n, const struct ht_conf *conf, const char *topic)
{
	const struct ht_conf_topic *c = topic ? ht_conf_topic(conf, topic) : NULL;
	struct ntf_topic *t = NULL;
	struct ntf_entry *e, *tmp;
	int v;

	if (topic != NULL && c == NULL)
		return -EINVAL;	/* the config validator refused this already */
	if (c != NULL) {
		v = topic_from_conf(n->trail, conf, c, &t);
		if (v < 0) {
			if (v == -ENOMEM)
				log_warnx("trail %s: out of memory setting up topic %s", n->trail,
				    topic);
			return v;
		}
	}
	topic_free(n->topic);
	n->topic = t;
	n->configured = true;
	for (e = TAILQ_FIRST(&n->entries); e != NULL; e = tmp) {
		tmp = TAILQ_NEXT(e, link);
		if (t == NULL) {
			/* Busy sends finish on their own: keep the entry until then. */
			bool busy = false;

			for (size_t i = 0; i < e->n_sends; i++)
				busy |= e->sends[i].busy;
			if (!busy)
				entry_drop(n, e);
			continue;
		}
		/* Subscriptions removed since the entry fanned out are done. */
		for (size_t i = 0; i < e->n_sends; i++) {
			struct ntf_send *s = &e->sends[i];
			struct ntf_sub *sub = topic_sub(t, s->url);

			/* The new topic's counts: POSTs still running count,
			 * and send_result() takes them off by URL. */
			if (s->busy && sub != NULL)
				sub->in_flight++;
			if (s->done || s->busy)
				continue;
			if (sub != NULL) {
				s->policy = sub->policy;
			} else {
				bool last = e->left == 1;

				send_finished(n, s);	/* the last one frees e */
				if (last)
					break;
			}
		}
	}
	if (t != NULL && t->n_subs > 0)
		log_debug("trail %s: notifying topic %s (%zu subscription(s))", n->trail, t->name,
		    t->n_subs);
	ntf_pump(n);
	return 0;
}

bool
ht_notify_active(const struct ht_notify *n)
{
	return n->topic != NULL && n->topic->n_subs > 0;
}

void
ht_notify_stats(const struct ht_notify *n, struct ht_notify_stats *ret)
{
	*ret = n->st;
	ret->queued = n->n_entries;
}

static void
ntf_destroy(struct ht_notify *n)
{
	struct ntf_entry *e;

	if (n == NULL)
		return;
	ht_fetch_client_free(n->http);
	while ((e = TAILQ_FIRST(&n->entries)) != NULL) {
		TAILQ_REMOVE(&n->entries, e, link);
		entry_free(e);
	}
	topic_free(n->topic);
	if (n->timer)
		event_free(n->timer);
	free(n->trail);
	free(n->dir);
	free(n);
}

void
ht_notify_free(struct ht_notify *n)
{
	if (n == NULL)
		return;
	n->dead = true;
	/* Cancelled POSTs call back with cancelled set and touch only their job. */
	ht_fetch_client_free(n->http);
	n->http = NULL;
	evtimer_del(n->timer);
	if (n->jobs == 0)
		ntf_destroy(n);
}

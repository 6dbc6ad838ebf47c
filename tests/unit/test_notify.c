/*
 * test_notify.c - daemon/deliver/notify.c with its real collaborators: an
 * event_base, a worker pool for signing, configs from ht_conf_load_string,
 * an RSA key generated at run time into a temporary directory, and a tiny
 * HTTP server thread on 127.0.0.1 standing in for a topic's subscribers
 * (http_stub.h).
 *
 * Entries written with ht_notify_entry_write are loaded at start (names sort
 * by time; damaged files are removed, ".tmp" leftovers ignored).  A queued
 * entry becomes one signed SNS Notification POST per subscription, with the
 * entry's MessageId, CloudTrail's Message and a signature the public key
 * verifies; the entry goes after a 2xx or 4xx (SNS's rule).  A 5xx is
 * retried as the delivery policy says (same MessageId and Timestamp, the
 * policy's delays) and then dropped.  No topic discards the queue, also an
 * entry whose POST was in flight; so does a removed subscription, and a
 * topic without subscriptions.  A topic whose key cannot be loaded keeps the
 * queue.  Freeing with a POST in flight keeps the entry for the next start,
 * which resends the same message.  ht_notify_check_conf refuses what the
 * parser cannot see.
 *
 * The loop is driven with EVLOOP_ONCE until a condition holds or a deadline
 * passes, so a missing notification fails the test instead of hanging it.
 */
#include "ht_build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "conf.h"
#include "deliver/notify.h"
#include "deliver/sns.h"
#include "util.h"
#include "worker.h"

/* The subscribers' stand-in, the loop and the temporary directory. */
#include "http_stub.h"

#define TRAIL "trail-one"
#define TOPIC "ct-topic"
#define REGION "onprem-1"
#define ACCOUNT "123456789012"
#define TOPIC_ARN "arn:aws:sns:" REGION ":" ACCOUNT ":" TOPIC
#define CERT_URL "https://127.0.0.1/cert.pem"
#define LIMIT_MS 10000		/* bound on any wait that should succeed */
#define ENTRY_NAME_LEN 128	/* room for an entry's file name */

/* ---- fixture ---- */

/* One RSA key for the whole run (generation is the slow part). */
static char key_dir[64];
static char key_path[128];
static EVP_PKEY *key_pub;

struct fixture {
	char dir[64];
	char state[128];
	char qdir[192];			/* state/outbox/TRAIL/notify */
	struct event_base *base;
	struct ht_worker *io;
	struct ht_conf *conf;
	struct ht_notify *n;
	struct ht_notify_env env;
	struct stub stub;
};

static int
group_setup(void **state)
{
	EVP_PKEY *key = EVP_RSA_gen(2048);
	unsigned char *der = NULL;
	const unsigned char *p;
	BIO *bio;
	int len, ok;

	(void)state;
	if (key == NULL || tmpdir_make(key_dir, sizeof(key_dir), "test_notify_key") < 0)
		return -1;
	snprintf(key_path, sizeof(key_path), "%s/signing.key", key_dir);
	bio = BIO_new_file(key_path, "w");
	if (bio == NULL)
		return -1;
	ok = PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
	BIO_free(bio);
	chmod(key_path, 0600);
	/* Only the public half is kept, as a subscriber holds it. */
	len = i2d_PUBKEY(key, &der);
	if (ok != 1 || len <= 0)
		return -1;
	p = der;
	key_pub = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	EVP_PKEY_free(key);
	return key_pub != NULL ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key_pub);
	unlink(key_path);
	rmdir(key_dir);
	return 0;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL || tmpdir_make(fx->dir, sizeof(fx->dir), "test_notify") < 0)
		return -1;
	snprintf(fx->state, sizeof(fx->state), "%s/state", fx->dir);
	snprintf(fx->qdir, sizeof(fx->qdir), "%s/outbox/%s/notify", fx->state, TRAIL);
	fx->base = event_base_new();
	if (fx->base == NULL || ht_worker_new(fx->base, 2, "t-ntf", &fx->io) < 0)
		return -1;
	fx->env.base = fx->base;
	fx->env.io = fx->io;
	fx->env.state_dir = fx->state;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	ht_notify_free(fx->n);
	ht_worker_free(fx->io);
	stub_stop(&fx->stub);
	ht_conf_free(fx->conf);
	event_base_free(fx->base);
	rm_tree(fx->dir);
	free(fx);
	return 0;
}

/* (Re)load the config: topic TOPIC with the given subscriptions (YAML list
 * items, already indented) and signing key file. */
static void
load_conf_with(struct fixture *fx, const char *subscriptions, const char *key_file)
{
	char yaml[8192], err[512];
	struct ht_conf *c = NULL;
	int v;

	snprintf(yaml, sizeof(yaml),
	    "account_id: \"" ACCOUNT "\"\n"
	    "region: " REGION "\n"
	    "state_dir: %s\n"
	    "buckets:\n"
	    "  local-spool:\n"
	    "    type: spool\n"
	    "    path: spool\n"
	    "topics:\n"
	    "  " TOPIC ":\n"
	    "    signing_key_file: %s\n"
	    "    signing_cert_url: " CERT_URL "\n"
	    "    timeout: 5s\n"
	    "    subscriptions:\n"
	    "%s"
	    "trails:\n"
	    "  - name: " TRAIL "\n"
	    "    s3_bucket_name: local-spool\n"
	    "    sns_topic_name: " TOPIC "\n",
	    fx->state, key_file, subscriptions);
	v = ht_conf_load_string("test_notify.yaml", yaml, strlen(yaml), &c, err, sizeof(err));
	if (v < 0)
		fail_msg("config: %s\n%s", err, yaml);
	ht_conf_free(fx->conf);
	fx->conf = c;
}

/* One subscription at the server's path, retrying num_retries times delay
 * apart. */
static void
load_conf(struct fixture *fx, const char *path, unsigned num_retries, const char *delay)
{
	char subs[1024];

	snprintf(subs, sizeof(subs),
	    "      - url: http://127.0.0.1:%u%s\n"
	    "        delivery_policy:\n"
	    "          num_retries: %u\n"
	    "          min_delay: %s\n"
	    "          max_delay: %s\n",
	    fx->stub.port, path, num_retries, delay, delay);
	load_conf_with(fx, subs, key_path);
}

static void
open_notify(struct fixture *fx)
{
	fx->n = NULL;
	assert_int_equal(ht_notify_new(&fx->env, TRAIL, &fx->n), 0);
	assert_non_null(fx->n);
	assert_string_equal(ht_notify_dir(fx->n), fx->qdir);
}

static void
close_notify(struct fixture *fx)
{
	ht_notify_free(fx->n);
	fx->n = NULL;
	ht_worker_drain(fx->io);
}

static void
configure(struct fixture *fx)
{
	assert_int_equal(ht_notify_configure(fx->n, fx->conf, TOPIC), 0);
}

/* ---- the loop ---- */

static struct ht_notify_stats
stats(struct fixture *fx)
{
	struct ht_notify_stats st;

	ht_notify_stats(fx->n, &st);
	return st;
}

/* The count the conditions below wait for; await_n() sets it. */
static unsigned want_n;

static bool
sent_n(struct fixture *fx)
{
	return stats(fx).sent >= want_n;
}

static bool
dropped_n(struct fixture *fx)
{
	return stats(fx).dropped >= want_n;
}

static bool
stub_n(struct fixture *fx)
{
	return stub_count(&fx->stub) >= want_n;
}

/* Run the loop until cond holds for want_n = n; false if it did not
 * within LIMIT_MS. */
static bool
await_n(struct fixture *fx, bool (*cond)(struct fixture *), unsigned n)
{
	want_n = n;
	return loop_until(fx->base, cond, fx, LIMIT_MS);
}

/* ---- queue files ---- */

static bool
exists_in(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

/* Files in dir whose names end in ".json" and do not start with '.'. */
static int
count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (de->d_name[0] != '.' && l > 5 && strcmp(de->d_name + l - 5, ".json") == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void
write_text(const char *dir, const char *name, const char *text, size_t len)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* An entry's messageId, read from its file. */
static void
entry_message_id(const char *dir, const char *name, char out[HT_UUID_LEN])
{
	struct json_object *j, *m;
	char path[PATH_MAX], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	j = json_tokener_parse(buf);
	assert_non_null(j);
	assert_true(json_object_object_get_ex(j, "messageId", &m));
	assert_int_equal(json_object_get_string_len(m), HT_UUID_LEN - 1);
	memcpy(out, json_object_get_string(m), HT_UUID_LEN);
	json_object_put(j);
}

/* Write an entry into the queue directory (creating it). */
static void
write_entry(struct fixture *fx, const char *bucket, const char *key, char *name, size_t len)
{
	char dir[PATH_MAX];

	mkdir(fx->state, 0750);
	snprintf(dir, sizeof(dir), "%s/outbox", fx->state);
	mkdir(dir, 0750);
	snprintf(dir, sizeof(dir), "%s/outbox/%s", fx->state, TRAIL);
	mkdir(dir, 0750);
	mkdir(fx->qdir, 0750);
	assert_int_equal(ht_notify_entry_write(fx->qdir, bucket, key, name, len), 0);
}

/* A subscriber at path answering status (held until stub_open_gate() unless
 * gate_open; two retries 100 ms apart) and one entry for "b"/"k", loaded
 * and on its way: the entry's name into name, its MessageId into id (if
 * not NULL). */
static void
send_one(struct fixture *fx, int status, bool gate_open, const char *path,
    char name[ENTRY_NAME_LEN], char *id)
{
	stub_start(&fx->stub, status, gate_open, NULL);
	load_conf(fx, path, 2, "100ms");
	write_entry(fx, "b", "k", name, ENTRY_NAME_LEN);
	if (id != NULL)
		entry_message_id(fx->qdir, name, id);
	open_notify(fx);
	configure(fx);
}

/* ---- checking a notification ---- */

static const char *
jstr(struct json_object *j, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(j, key, &v) || !json_object_is_type(v, json_type_string))
		fail_msg("body has no string %s", key);
	return json_object_get_string(v);
}

/* The body's signature, checked with the public key only. */
static void
assert_signed(struct json_object *body)
{
	struct ht_sns_fields f = {
		.message = jstr(body, "Message"),
		.message_id = jstr(body, "MessageId"),
		.subject = NULL,
		.timestamp = jstr(body, "Timestamp"),
		.topic_arn = jstr(body, "TopicArn"),
		.type = jstr(body, "Type"),
	};
	const char *sig64 = jstr(body, "Signature");
	unsigned char sig[1024];
	size_t sts_len, b64 = strlen(sig64);
	char *sts = ht_sns_string_to_sign(&f, &sts_len);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int sig_len;

	assert_non_null(sts);
	assert_non_null(ctx);
	assert_true(b64 > 0 && b64 * 3 / 4 <= sizeof(sig));
	sig_len = EVP_DecodeBlock(sig, (const unsigned char *)sig64, (int)b64);
	assert_true(sig_len > 0);
	sig_len -= (sig64[b64 - 1] == '=') + (sig64[b64 - 2] == '=');
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key_pub), 1);
	assert_int_equal(EVP_DigestVerify(ctx, sig, (size_t)sig_len, (unsigned char *)sts,
	    sts_len), 1);
	EVP_MD_CTX_free(ctx);
	free(sts);
}

/* Request r is the Notification of key in bucket with message_id. */
static void
assert_notification(const struct stub_req *r, const char *path, const char *bucket,
    const char *key, const char *message_id)
{
	char v[512], message[1024], sub_prefix[256];
	struct json_object *body;

	assert_string_equal(r->method, "POST");
	assert_string_equal(r->target, path);
	assert_non_null(head_find(r->head, "x-amz-sns-message-type", v, sizeof(v)));
	assert_string_equal(v, "Notification");
	assert_non_null(head_find(r->head, "x-amz-sns-topic-arn", v, sizeof(v)));
	assert_string_equal(v, TOPIC_ARN);
	assert_non_null(head_find(r->head, "x-amz-sns-message-id", v, sizeof(v)));
	assert_string_equal(v, message_id);
	assert_non_null(head_find(r->head, "x-amz-sns-subscription-arn", v, sizeof(v)));
	snprintf(sub_prefix, sizeof(sub_prefix), "%s:", TOPIC_ARN);
	assert_true(strncmp(v, sub_prefix, strlen(sub_prefix)) == 0);
	assert_non_null(head_find(r->head, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, HT_SNS_CONTENT_TYPE);

	body = json_tokener_parse(r->body);
	if (body == NULL)
		fail_msg("the body is not JSON: %s", r->body);
	assert_string_equal(jstr(body, "Type"), "Notification");
	assert_string_equal(jstr(body, "MessageId"), message_id);
	assert_string_equal(jstr(body, "TopicArn"), TOPIC_ARN);
	snprintf(message, sizeof(message), "{\"s3Bucket\":\"%s\",\"s3ObjectKey\":[\"%s\"]}", bucket,
	    key);
	assert_string_equal(jstr(body, "Message"), message);
	assert_string_equal(jstr(body, "SignatureVersion"), "2");
	assert_string_equal(jstr(body, "SigningCertURL"), CERT_URL);
	assert_signed(body);
	json_object_put(body);
}

/* A string member of request r's JSON body, into out. */
static void
body_field(const struct stub_req *r, const char *key, char *out, size_t len)
{
	struct json_object *body = json_tokener_parse(r->body);

	if (body == NULL)
		fail_msg("the body is not JSON: %s", r->body);
	snprintf(out, len, "%s", jstr(body, key));
	json_object_put(body);
}

/* ---- tests ---- */

/* A first start: the queue is created, empty, and loads as such (under
 * UBSan too: the scan of an empty directory once passed NULL to qsort()). */
static void
test_empty_start(void **state)
{
	struct fixture *fx = *state;

	open_notify(fx);
	assert_int_equal(stats(fx).queued, 0);
	assert_int_equal(count_entries(fx->qdir), 0);
	close_notify(fx);
	open_notify(fx);
	assert_int_equal(stats(fx).queued, 0);
}

/* Entries written, then loaded at start; names sort by time. */
static void
test_entry_write_load(void **state)
{
	struct fixture *fx = *state;
	char name1[128], name2[128], id1[HT_UUID_LEN], id2[HT_UUID_LEN];
	int64_t t0 = ht_now_ms(), t;
	long long stamp;

	write_entry(fx, "b", "k1", name1, sizeof(name1));
	/* The next millisecond, so the second name is strictly later. */
	for (t = ht_now_ms(); ht_now_ms() == t;)
		;
	write_entry(fx, "b", "k2", name2, sizeof(name2));
	assert_true(strcmp(name1, name2) < 0);
	/* "<13-digit epoch ms>-<8 alnum>.json" */
	assert_int_equal(strlen(name1), 13 + 1 + 8 + 5);
	assert_int_equal(sscanf(name1, "%13lld-", &stamp), 1);
	assert_true(stamp >= t0 && stamp <= ht_now_ms());
	assert_string_equal(name1 + strlen(name1) - 5, ".json");
	entry_message_id(fx->qdir, name1, id1);
	entry_message_id(fx->qdir, name2, id2);
	assert_string_not_equal(id1, id2);
	/* Too small a name buffer is refused, nothing written. */
	assert_int_equal(ht_notify_entry_write(fx->qdir, "b", "k3", name1, 10), -ENAMETOOLONG);
	assert_int_equal(count_entries(fx->qdir), 2);

	open_notify(fx);
	assert_int_equal(stats(fx).queued, 2);
	assert_int_equal(stats(fx).sent, 0);
	assert_false(ht_notify_active(fx->n));
	/* Not configured: nothing is sent or dropped. */
	loop_for(fx->base, 100);
	assert_int_equal(stats(fx).queued, 2);
	assert_int_equal(count_entries(fx->qdir), 2);
}

/* Damaged entries are removed at load; .tmp leftovers and dot files are
 * not entries. */
static void
test_damaged_entries(void **state)
{
	struct fixture *fx = *state;
	static const char *const damaged[] = {
		"1700000000001-garbage1.json",
		"1700000000002-wrongtyp.json",
		"1700000000003-shortid0.json",
		"1700000000004-empty000.json",
		"1700000000005-noid0000.json",
		"1700000000006-array000.json",
	};
	static const char *const texts[] = {
		"this is not JSON {",
		"{\"bucket\":1,\"key\":\"k\","
		"\"messageId\":\"00000000-0000-4000-8000-000000000000\"}",
		"{\"bucket\":\"b\",\"key\":\"k\",\"messageId\":\"abc\"}",
		"",
		"{\"bucket\":\"b\",\"key\":\"k\"}",
		"[1,2,3]",
	};
	const char *tmp = "1700000000007-leftover.json.tmp", *dot = ".1700000000008-hidden00.json";
	char good[128], id[HT_UUID_LEN];

	write_entry(fx, "b", "k", good, sizeof(good));
	for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++)
		write_text(fx->qdir, damaged[i], texts[i], strlen(texts[i]));
	write_text(fx->qdir, tmp, "{\"bucket\":", 10);
	write_text(fx->qdir, dot, "{}", 2);

	open_notify(fx);
	assert_int_equal(stats(fx).queued, 1);
	for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++)
		if (exists_in(fx->qdir, damaged[i]))
			fail_msg("damaged entry %s was not removed", damaged[i]);
	assert_true(exists_in(fx->qdir, good));
	assert_true(exists_in(fx->qdir, tmp));
	assert_true(exists_in(fx->qdir, dot));

	/* The good one still goes out. */
	stub_start(&fx->stub, 200, true, NULL);
	load_conf(fx, "/hook", 0, "1s");
	entry_message_id(fx->qdir, good, id);
	configure(fx);
	assert_true(await_n(fx, sent_n, 1));
	assert_int_equal(stub_count(&fx->stub), 1);
	assert_notification(&fx->stub.req[0], "/hook", "b", "k", id);
	assert_false(exists_in(fx->qdir, good));
	assert_true(exists_in(fx->qdir, tmp));
}

/* An entry file too big to be one hosttraild wrote is damaged too: it
 * must go, not be skipped (and warned about) at every start forever. */
static void
test_oversize_entry_removed(void **state)
{
	struct fixture *fx = *state;
	const char *big = "1700000000001-big00000.json";
	size_t len = 20 * 1024;
	char *text = malloc(len), good[128];

	assert_non_null(text);
	memset(text, ' ', len);
	text[0] = '{';
	text[len - 1] = '}';
	write_entry(fx, "b", "k", good, sizeof(good));
	write_text(fx->qdir, big, text, len);
	free(text);
	open_notify(fx);
	assert_int_equal(stats(fx).queued, 1);
	if (exists_in(fx->qdir, big))
		fail_msg("the oversize entry %s was skipped but not removed", big);
}

/* Sending: the POST, its headers and signed body; the entry goes after a
 * 200; loaded entries and added ones alike. */
static void
test_send(void **state)
{
	struct fixture *fx = *state;
	char name1[128], name2[128], id1[HT_UUID_LEN], id2[HT_UUID_LEN];
	int64_t t0 = (int64_t)time(NULL);
	struct ht_notify_stats st;

	stub_start(&fx->stub, 200, true, NULL);
	load_conf(fx, "/hook", 3, "1s");
	write_entry(fx, "b", "k", name1, sizeof(name1));
	entry_message_id(fx->qdir, name1, id1);
	open_notify(fx);
	assert_int_equal(stats(fx).queued, 1);
	configure(fx);
	assert_true(ht_notify_active(fx->n));
	assert_true(await_n(fx, sent_n, 1));
	assert_int_equal(stub_count(&fx->stub), 1);
	assert_notification(&fx->stub.req[0], "/hook", "b", "k", id1);
	assert_false(exists_in(fx->qdir, name1));
	st = stats(fx);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.dropped, 0);
	assert_true(st.latest_attempt_succeeded);
	assert_string_equal(st.latest_error, "");
	assert_true(st.latest_notification_time >= t0 && st.latest_notification_time <= time(NULL));

	/* Added while running, as the outbox does after a delivery. */
	assert_int_equal(ht_notify_entry_write(ht_notify_dir(fx->n), "trail-logs",
	    "AWSLogs/" ACCOUNT "/CloudTrail/" REGION "/2024/01/01/x.json.gz", name2,
	    sizeof(name2)), 0);
	entry_message_id(fx->qdir, name2, id2);
	ht_notify_entry_added(fx->n, name2);
	assert_true(await_n(fx, sent_n, 2));
	assert_int_equal(stub_count(&fx->stub), 2);
	assert_notification(&fx->stub.req[1], "/hook", "trail-logs",
	    "AWSLogs/" ACCOUNT "/CloudTrail/" REGION "/2024/01/01/x.json.gz", id2);
	assert_false(exists_in(fx->qdir, name2));
	assert_int_equal(stats(fx).queued, 0);
	loop_for(fx->base, 100);
	assert_int_equal(stub_count(&fx->stub), 2);
}

/* Two subscriptions: one POST each, same MessageId, own subscription ARN;
 * the entry goes once both took it. */
static void
test_fan_out(void **state)
{
	struct fixture *fx = *state;
	char subs[1024], name[128], id[HT_UUID_LEN], arn0[256], arn1[256];
	int a;

	stub_start(&fx->stub, 200, true, NULL);
	snprintf(subs, sizeof(subs),
	    "      - url: http://127.0.0.1:%u/a\n"
	    "      - url: http://127.0.0.1:%u/b\n", fx->stub.port, fx->stub.port);
	load_conf_with(fx, subs, key_path);
	write_entry(fx, "b", "k", name, sizeof(name));
	entry_message_id(fx->qdir, name, id);
	open_notify(fx);
	configure(fx);
	assert_true(await_n(fx, sent_n, 2));
	assert_int_equal(stub_count(&fx->stub), 2);
	a = strcmp(fx->stub.req[0].target, "/a") == 0 ? 0 : 1;
	assert_notification(&fx->stub.req[a], "/a", "b", "k", id);
	assert_notification(&fx->stub.req[1 - a], "/b", "b", "k", id);
	assert_non_null(head_find(fx->stub.req[0].head, "x-amz-sns-subscription-arn", arn0,
	    sizeof(arn0)));
	assert_non_null(head_find(fx->stub.req[1].head, "x-amz-sns-subscription-arn", arn1,
	    sizeof(arn1)));
	assert_string_not_equal(arn0, arn1);
	assert_false(exists_in(fx->qdir, name));
	assert_int_equal(stats(fx).queued, 0);
}

/* 500: retried num_retries times, min_delay apart, with the same
 * MessageId, then dropped. */
static void
test_retry_then_drop(void **state)
{
	struct fixture *fx = *state;
	char name[ENTRY_NAME_LEN], id[HT_UUID_LEN], url[128], ts0[64], ts[64];
	struct ht_notify_stats st;

	send_one(fx, 500, true, "/hook", name, id);
	assert_true(await_n(fx, dropped_n, 1));
	st = stats(fx);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.failures, 3);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.queued, 0);
	assert_false(st.latest_attempt_succeeded);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", fx->stub.port);
	if (strstr(st.latest_error, url) == NULL || strstr(st.latest_error, "500") == NULL)
		fail_msg("latest_error should name %s and HTTP 500: \"%s\"", url, st.latest_error);
	assert_false(exists_in(fx->qdir, name));

	/* Exactly 3 attempts, the same message, the policy's delay apart. */
	loop_for(fx->base, 300);
	assert_int_equal(stub_count(&fx->stub), 3);
	for (int i = 0; i < 3; i++)
		assert_notification(&fx->stub.req[i], "/hook", "b", "k", id);
	/* SNS's Timestamp is the publication's: the same on every retry. */
	body_field(&fx->stub.req[0], "Timestamp", ts0, sizeof(ts0));
	for (int i = 1; i < 3; i++) {
		body_field(&fx->stub.req[i], "Timestamp", ts, sizeof(ts));
		assert_string_equal(ts, ts0);
	}
	for (int i = 1; i < 3; i++) {
		int64_t gap = fx->stub.req[i].at_ms - fx->stub.req[i - 1].at_ms;

		if (gap < 90 || gap > 2000)
			fail_msg("attempt %d came %lld ms after the previous one; the policy says "
			    "100 ms", i + 1, (long long)gap);
	}
}

/* 4xx is delivered, as SNS counts it: no retry. */
static void
test_4xx_delivered(void **state)
{
	struct fixture *fx = *state;
	char name[ENTRY_NAME_LEN], id[HT_UUID_LEN];
	struct ht_notify_stats st;

	send_one(fx, 404, true, "/hook", name, id);
	assert_true(await_n(fx, sent_n, 1));
	loop_for(fx->base, 300);
	st = stats(fx);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.dropped, 0);
	assert_true(st.latest_attempt_succeeded);
	assert_int_equal(stub_count(&fx->stub), 1);
	assert_notification(&fx->stub.req[0], "/hook", "b", "k", id);
	assert_false(exists_in(fx->qdir, name));
}

/* No topic: queued entries and new ones are discarded. */
static void
test_no_topic_discards(void **state)
{
	struct fixture *fx = *state;
	char name1[128], name2[128], name3[128];

	stub_start(&fx->stub, 200, true, NULL);
	load_conf(fx, "/hook", 2, "100ms");
	write_entry(fx, "b", "k1", name1, sizeof(name1));
	write_entry(fx, "b", "k2", name2, sizeof(name2));
	open_notify(fx);
	assert_int_equal(stats(fx).queued, 2);
	assert_int_equal(ht_notify_configure(fx->n, fx->conf, NULL), 0);
	assert_false(ht_notify_active(fx->n));
	assert_int_equal(stats(fx).queued, 0);
	assert_int_equal(count_entries(fx->qdir), 0);

	assert_int_equal(ht_notify_entry_write(fx->qdir, "b", "k3", name3, sizeof(name3)), 0);
	ht_notify_entry_added(fx->n, name3);
	assert_int_equal(stats(fx).queued, 0);
	assert_int_equal(count_entries(fx->qdir), 0);
	loop_for(fx->base, 100);
	assert_int_equal(stub_count(&fx->stub), 0);
	assert_int_equal(stats(fx).sent, 0);
}

/* A topic whose key cannot be loaded: refused, entries wait; a working
 * config sends them. */
static void
test_broken_key_waits(void **state)
{
	struct fixture *fx = *state;
	char name[128], id[HT_UUID_LEN], subs[512], missing[192];

	stub_start(&fx->stub, 200, true, NULL);
	snprintf(subs, sizeof(subs), "      - url: http://127.0.0.1:%u/hook\n", fx->stub.port);
	snprintf(missing, sizeof(missing), "%s/no-such.key", fx->dir);
	load_conf_with(fx, subs, missing);
	write_entry(fx, "b", "k", name, sizeof(name));
	entry_message_id(fx->qdir, name, id);
	open_notify(fx);
	assert_true(ht_notify_configure(fx->n, fx->conf, TOPIC) < 0);
	loop_for(fx->base, 100);
	assert_int_equal(stats(fx).queued, 1);
	assert_true(exists_in(fx->qdir, name));
	assert_int_equal(stub_count(&fx->stub), 0);

	load_conf_with(fx, subs, key_path);
	configure(fx);
	assert_true(await_n(fx, sent_n, 1));
	assert_notification(&fx->stub.req[0], "/hook", "b", "k", id);
	assert_false(exists_in(fx->qdir, name));
}

/* The topic is removed while a POST is in flight: once that POST is over,
 * whatever its answer, the entry is discarded like the rest ("NULL:
 * entries are then discarded as they come"), not kept until a restart. */
static void
test_no_topic_while_busy(void **state)
{
	struct fixture *fx = *state;
	char name[ENTRY_NAME_LEN];

	send_one(fx, 500, false, "/hook", name, NULL);
	assert_true(await_n(fx, stub_n, 1));
	assert_int_equal(ht_notify_configure(fx->n, fx->conf, NULL), 0);
	stub_open_gate(&fx->stub);
	loop_for(fx->base, 500);
	assert_int_equal(stub_count(&fx->stub), 1);
	assert_int_equal(stats(fx).failures, 1);
	if (stats(fx).queued != 0 || exists_in(fx->qdir, name))
		fail_msg("the entry is still queued (%llu) after its last POST, with no topic",
		    (unsigned long long)stats(fx).queued);
}

/* Same for a subscription removed by a reload while its POST is in flight:
 * removed subscriptions are done ("Subscriptions removed since the entry
 * fanned out are done"), so once that POST fails the entry goes. */
static void
test_sub_removed_while_busy(void **state)
{
	struct fixture *fx = *state;
	char name[ENTRY_NAME_LEN];

	send_one(fx, 500, false, "/old", name, NULL);
	assert_true(await_n(fx, stub_n, 1));
	load_conf(fx, "/new", 2, "100ms");
	configure(fx);
	stub_open_gate(&fx->stub);
	loop_for(fx->base, 500);
	assert_int_equal(stub_count(&fx->stub), 1);
	assert_string_equal(fx->stub.req[0].target, "/old");
	if (stats(fx).queued != 0 || exists_in(fx->qdir, name))
		fail_msg("the entry is still queued (%llu) after the last POST to a removed "
		    "subscription", (unsigned long long)stats(fx).queued);
}

/* A topic with no subscriptions (valid: the key is only required with
 * subscriptions) notifies nobody, so its entries - loaded or added, and
 * the trail's outbox does add them when sns_topic_name is set - must not
 * pile up in the queue for ever. */
static void
test_no_subscriptions(void **state)
{
	struct fixture *fx = *state;
	char name1[128], name2[128];

	load_conf_with(fx, "      []\n", key_path);
	assert_int_equal(fx->conf->topics[0].n_subscriptions, 0);
	write_entry(fx, "b", "k1", name1, sizeof(name1));
	open_notify(fx);
	assert_int_equal(stats(fx).queued, 1);
	configure(fx);
	assert_false(ht_notify_active(fx->n));
	assert_int_equal(ht_notify_entry_write(fx->qdir, "b", "k2", name2, sizeof(name2)), 0);
	ht_notify_entry_added(fx->n, name2);
	loop_for(fx->base, 100);
	if (stats(fx).queued != 0 || count_entries(fx->qdir) != 0)
		fail_msg("%llu entries queued, %d files left for a topic without subscriptions",
		    (unsigned long long)stats(fx).queued, count_entries(fx->qdir));
}

/* Freed with a POST in flight: the entry stays and the next instance sends
 * it with the same MessageId. */
static void
test_free_in_flight(void **state)
{
	struct fixture *fx = *state;
	char name[ENTRY_NAME_LEN], id[HT_UUID_LEN], ts0[64], ts[64];

	send_one(fx, 200, false, "/hook", name, id);
	assert_true(await_n(fx, stub_n, 1));
	close_notify(fx);
	assert_true(exists_in(fx->qdir, name));

	stub_open_gate(&fx->stub);
	open_notify(fx);
	assert_int_equal(stats(fx).queued, 1);
	configure(fx);
	assert_true(await_n(fx, sent_n, 1));
	assert_int_equal(stub_count(&fx->stub), 2);
	assert_notification(&fx->stub.req[1], "/hook", "b", "k", id);
	assert_false(exists_in(fx->qdir, name));
	/* The resend is the same publication: same Timestamp. */
	body_field(&fx->stub.req[0], "Timestamp", ts0, sizeof(ts0));
	body_field(&fx->stub.req[1], "Timestamp", ts, sizeof(ts));
	assert_string_equal(ts, ts0);
}

/* Two subscriptions, the second with num_retries retries 100 s apart. */
static void
load_conf_two_subs(struct fixture *fx, unsigned num_retries)
{
	char subs[1024];

	snprintf(subs, sizeof(subs),
	    "      - url: http://127.0.0.1:9/a\n"
	    "      - url: http://127.0.0.1:9/b\n"
	    "        delivery_policy:\n"
	    "          num_retries: %u\n"
	    "          min_delay: 100s\n"
	    "          max_delay: 100s\n", num_retries);
	load_conf_with(fx, subs, key_path);
}

/* ht_notify_check_conf refuses the config, naming the file and where. */
static void
assert_conf_refused(struct fixture *fx, const char *where)
{
	char err[512] = "";

	assert_int_equal(ht_notify_check_conf(fx->conf, err, sizeof(err)), -EINVAL);
	if (strncmp(err, "test_notify.yaml: ", 18) != 0 || strstr(err, where) == NULL)
		fail_msg("unexpected message: %s", err);
}

/* ht_notify_check_conf: what the parser cannot judge. */
static void
test_check_conf(void **state)
{
	struct fixture *fx = *state;
	char err[512], missing[192];

	/* Good: a default policy, and one totalling exactly an hour. */
	load_conf_two_subs(fx, 36);
	err[0] = '\0';
	if (ht_notify_check_conf(fx->conf, err, sizeof(err)) != 0)
		fail_msg("a good config was refused: %s", err);

	/* 40 retries 100 s apart: every field within the parser's limits, but
	 * 4000 s of waiting in all. */
	load_conf_two_subs(fx, 40);
	assert_conf_refused(fx, "topics." TOPIC ".subscriptions[1].delivery_policy");

	/* The signing key file is missing. */
	snprintf(missing, sizeof(missing), "%s/no-such.key", fx->dir);
	load_conf_with(fx, "      - url: http://127.0.0.1:9/a\n", missing);
	assert_conf_refused(fx, "topics." TOPIC ".signing_key_file");
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_empty_start),
		T(test_entry_write_load),
		T(test_damaged_entries),
		T(test_oversize_entry_removed),
		T(test_send),
		T(test_fan_out),
		T(test_retry_then_drop),
		T(test_4xx_delivered),
		T(test_no_topic_discards),
		T(test_no_topic_while_busy),
		T(test_sub_removed_while_busy),
		T(test_no_subscriptions),
		T(test_broken_key_waits),
		T(test_free_in_flight),
		T(test_check_conf),
	};
#undef T

	/* TEST_FILTER=test_send runs one test (cmocka's glob). */
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

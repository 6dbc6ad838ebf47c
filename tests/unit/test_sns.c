/*
 * test_sns.c - daemon/deliver/sns.c: SNS's string to sign byte for byte,
 * signatures checked with libcrypto's verifier and the public half of the
 * key only (versions 1 and 2), the body's exact keys, order and values, the
 * headers, MessageId kept across retries, the Timestamp format, the
 * delivery-policy tables (each backoff function and every phase boundary,
 * expected values computed independently in Python from the formulas in
 * sns.c's header), key files that must be refused, and every allocation of
 * ours failing in turn (when linked with -Wl,--wrap=...).
 *
 * The keys are generated at run time into a temporary directory; nothing
 * secret is committed.  tests/integration/test_sns_validator.sh checks the
 * same messages with an independent validator (npm sns-validator).
 */
#include "ht_build.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "deliver/sns.h"
#include "util.h"

#define UNUSED __attribute__((unused))
#define N(a) (sizeof(a) / sizeof((a)[0]))

#define CERT_URL "https://127.0.0.1:8443/SimpleNotificationService-test.pem"
#define TOPIC_ARN "arn:aws:sns:us-east-1:123456789012:ct-topic"
#define SUB_ARN TOPIC_ARN ":21184e02-01ff-5c6f-b5ac-037bbb758006"
#define MSG_ID "7d5e2a4c-1b3f-4e6a-9c8d-0123456789ab"
#define NOW_MS 1702686071830LL /* 2023-12-16T00:21:11.830Z */
#define CT_MESSAGE                                      \
	"{\"s3Bucket\":\"ct-bucket\",\"s3ObjectKey\":[" \
	"\"AWSLogs/123456789012/CloudTrail/us-east-1/2023/12/16/k1.json.gz\"]}"

/* Allocation failures, active only with --wrap (see Makefile.am). */
#include "alloc_fail.h"

/* ---- fixture: keys in a temporary directory ---- */

struct fixture {
	char dir[64];
	char key[96];	   /* RSA 2048, PKCS#8 */
	char key_trad[96]; /* the same key, "BEGIN RSA PRIVATE KEY" */
	char other[96];	   /* another RSA 2048 key */
	EVP_PKEY *pub;	   /* public half of key, via DER */
	EVP_PKEY *other_pub;
	struct ht_sns_signer *signer;
};

static struct fixture fx;

static void
path_in(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", fx.dir, name);
}

/* Write key to dir/name in the given form; 0 or -1. */
enum key_form { PKCS8, TRADITIONAL, ENCRYPTED, PUBLIC };

static int
write_key(EVP_PKEY *key, const char *name, enum key_form form)
{
	char path[96];
	BIO *bio;
	int ok;

	path_in(path, sizeof(path), name);
	bio = BIO_new_file(path, "w");
	if (bio == NULL)
		return -1;
	switch (form) {
	case TRADITIONAL:
		ok = PEM_write_bio_PrivateKey_traditional(bio, key, NULL, NULL, 0, NULL, NULL);
		break;
	case ENCRYPTED:
		ok = PEM_write_bio_PrivateKey(bio, key, EVP_aes_256_cbc(),
		    (const unsigned char *)"secret", 6, NULL, NULL);
		break;
	case PUBLIC:
		ok = PEM_write_bio_PUBKEY(bio, key);
		break;
	case PKCS8:
	default:
		ok = PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
		break;
	}
	BIO_free(bio);
	return ok == 1 ? 0 : -1;
}

/* Only the public half of key, as a subscriber holds it. */
static EVP_PKEY *
public_half(EVP_PKEY *key)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub;
	int len;

	len = i2d_PUBKEY(key, &der);
	if (len <= 0)
		return NULL;
	p = der;
	pub = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	return pub;
}

static int
setup(void **state UNUSED)
{
	EVP_PKEY *rsa = EVP_RSA_gen(2048), *rsa2 = EVP_RSA_gen(2048);
	EVP_PKEY *small = EVP_RSA_gen(1024), *ec = EVP_EC_gen("P-256");
	char errbuf[256];
	int r = -1;

	strcpy(fx.dir, "/tmp/ht_test_sns.XXXXXX");
	if (rsa == NULL || rsa2 == NULL || small == NULL || ec == NULL || mkdtemp(fx.dir) == NULL)
		goto out;
	path_in(fx.key, sizeof(fx.key), "signing.key");
	path_in(fx.key_trad, sizeof(fx.key_trad), "signing-trad.key");
	path_in(fx.other, sizeof(fx.other), "other.key");
	if (write_key(rsa, "signing.key", PKCS8) < 0 ||
	    write_key(rsa, "signing-trad.key", TRADITIONAL) < 0 ||
	    write_key(rsa2, "other.key", PKCS8) < 0 ||
	    write_key(rsa, "encrypted.key", ENCRYPTED) < 0 ||
	    write_key(rsa, "public.pem", PUBLIC) < 0 || write_key(small, "small.key", PKCS8) < 0 ||
	    write_key(ec, "ec.key", PKCS8) < 0)
		goto out;
	fx.pub = public_half(rsa);
	fx.other_pub = public_half(rsa2);
	if (fx.pub == NULL || fx.other_pub == NULL)
		goto out;
	if (ht_sns_signer_load(fx.key, CERT_URL, &fx.signer, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "setup: %s\n", errbuf);
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(rsa2);
	EVP_PKEY_free(small);
	EVP_PKEY_free(ec);
	return r;
}

static int
teardown(void **state UNUSED)
{
	const char *names[] = { "signing.key", "signing-trad.key", "other.key", "encrypted.key",
		"public.pem", "small.key", "ec.key", "garbage.key", "empty.key", "big.key" };
	char path[96];

	ht_sns_signer_free(fx.signer);
	EVP_PKEY_free(fx.pub);
	EVP_PKEY_free(fx.other_pub);
	for (size_t i = 0; i < N(names); i++) {
		path_in(path, sizeof(path), names[i]);
		unlink(path);
	}
	path_in(path, sizeof(path), "subdir");
	rmdir(path);
	rmdir(fx.dir);
	return 0;
}

/* ---- helpers ---- */

static struct ht_sns_message_params
params(void)
{
	struct ht_sns_message_params p = {
		.region = "us-east-1",
		.account = "123456789012",
		.topic = "ct-topic",
		.subscription_arn = SUB_ARN,
		.message = CT_MESSAGE,
		.message_id = MSG_ID,
		.now_ms = NOW_MS,
	};

	return p;
}

static const char *
get(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Verify body the way a subscriber does: decode the JSON, rebuild the string
 * to sign from the decoded values, check Signature with pub.  1 if valid. */
static int
subscriber_verifies(const char *body, EVP_PKEY *pub)
{
	struct json_object *o = json_tokener_parse(body);
	struct ht_sns_fields f;
	const char *ver, *sig64;
	unsigned char sig[1024];
	size_t siglen = 0, len = 0;
	EVP_MD_CTX *ctx;
	char *sts;
	int ok;

	assert_non_null(o);
	f = (struct ht_sns_fields){ .message = get(o, "Message"),
		.message_id = get(o, "MessageId"),
		.subject = get(o, "Subject"),
		.timestamp = get(o, "Timestamp"),
		.topic_arn = get(o, "TopicArn"),
		.type = get(o, "Type") };
	ver = get(o, "SignatureVersion");
	sig64 = get(o, "Signature");
	assert_non_null(ver);
	assert_non_null(sig64);
	assert_int_equal(ht_base64_decode(sig64, sig, sizeof(sig), &siglen), 0);
	sts = ht_sns_string_to_sign(&f, &len);
	assert_non_null(sts);
	ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL,
			     strcmp(ver, "1") == 0 ? EVP_sha1() : EVP_sha256(), NULL, pub),
	    1);
	ok = EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)sts, len) == 1;
	EVP_MD_CTX_free(ctx);
	free(sts);
	json_object_put(o);
	return ok;
}

static struct ht_sns_message
notify(const struct ht_sns_message_params *p)
{
	struct ht_sns_message m = { 0 };

	assert_int_equal(ht_sns_notification(fx.signer, p, &m), 0);
	assert_non_null(m.body);
	assert_int_equal(strlen(m.body), m.body_len);
	return m;
}

/* ---- the string to sign ---- */

static void
test_string_to_sign(void **state UNUSED)
{
	struct ht_sns_fields f = { .message = "hello",
		.message_id = MSG_ID,
		.subject = NULL,
		.timestamp = "2023-12-16T00:21:11.830Z",
		.topic_arn = TOPIC_ARN,
		.type = "Notification" };
	const char *want = "Message\nhello\nMessageId\n" MSG_ID "\nTimestamp\n"
			   "2023-12-16T00:21:11.830Z\nTopicArn\n" TOPIC_ARN
			   "\nType\nNotification\n";
	size_t len = 0;
	char *s;

	s = ht_sns_string_to_sign(&f, &len);
	assert_string_equal(s, want);
	assert_int_equal(len, strlen(want));
	free(s);

	/* A Subject sits between MessageId and Timestamp; unicode and newlines
	 * are signed as the raw UTF-8 bytes, not escaped. */
	f.message = "line 1\nline \"2\"\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x93\x9c\n";
	f.subject = "Sujet \xc3\xa0\nsuite";
	s = ht_sns_string_to_sign(&f, &len);
	assert_string_equal(s,
	    "Message\nline 1\nline \"2\"\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x93\x9c\n\n"
	    "MessageId\n" MSG_ID "\nSubject\nSujet \xc3\xa0\nsuite\n"
	    "Timestamp\n2023-12-16T00:21:11.830Z\nTopicArn\n" TOPIC_ARN "\nType\nNotification\n");
	free(s);

	/* An empty Subject is present and signed. */
	f.message = "m";
	f.subject = "";
	s = ht_sns_string_to_sign(&f, &len);
	assert_non_null(strstr(s, "MessageId\n" MSG_ID "\nSubject\n\nTimestamp\n"));
	free(s);

	f.timestamp = NULL;
	assert_null(ht_sns_string_to_sign(&f, &len));
}

/* ---- the body and headers ---- */

static void
test_body_exact(void **state UNUSED)
{
	static const char *const keys[] = { "Type", "MessageId", "TopicArn", "Message", "Timestamp",
		"SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL" };
	struct ht_sns_message_params p = params();
	struct ht_sns_message m = notify(&p);
	struct json_object *o = json_tokener_parse(m.body);
	char want[4096];
	size_t i = 0;

	assert_non_null(o);
	json_object_object_foreach(o, k, v) {
		assert_true(i < N(keys));
		assert_string_equal(k, keys[i]);
		assert_true(json_object_is_type(v, json_type_string));
		i++;
	}
	assert_int_equal(i, N(keys));
	assert_string_equal(get(o, "Message"), CT_MESSAGE);
	/* The whole body, byte for byte, around the (deterministic) signature. */
	snprintf(want, sizeof(want),
	    "{\"Type\":\"Notification\",\"MessageId\":\"" MSG_ID "\",\"TopicArn\":\"" TOPIC_ARN
	    "\","
	    "\"Message\":\"{\\\"s3Bucket\\\":\\\"ct-bucket\\\",\\\"s3ObjectKey\\\":[\\\"AWSLogs/"
	    "123456789012/CloudTrail/us-east-1/2023/12/16/k1.json.gz\\\"]}\","
	    "\"Timestamp\":\"2023-12-16T00:21:11.830Z\",\"SignatureVersion\":\"2\","
	    "\"Signature\":\"%s\",\"SigningCertURL\":\"" CERT_URL "\","
	    "\"UnsubscribeURL\":\"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&"
	    "SubscriptionArn=" SUB_ARN "\"}",
	    get(o, "Signature"));
	assert_string_equal(m.body, want);
	assert_int_equal(strlen(get(o, "Signature")), 344); /* 256 bytes, base64 */
	assert_string_equal(m.message_id, MSG_ID);

	/* Headers, in order. */
	assert_string_equal(m.headers[0].name, "x-amz-sns-message-type");
	assert_string_equal(m.headers[0].value, "Notification");
	assert_string_equal(m.headers[1].name, "x-amz-sns-message-id");
	assert_string_equal(m.headers[1].value, MSG_ID);
	assert_string_equal(m.headers[2].name, "x-amz-sns-topic-arn");
	assert_string_equal(m.headers[2].value, TOPIC_ARN);
	assert_string_equal(m.headers[3].name, "x-amz-sns-subscription-arn");
	assert_string_equal(m.headers[3].value, SUB_ARN);
	assert_string_equal(m.headers[4].name, "Content-Type");
	assert_string_equal(m.headers[4].value, "text/plain; charset=UTF-8");
	assert_string_equal(m.headers[5].name, "User-Agent");
	assert_string_equal(m.headers[5].value, "Amazon Simple Notification Service Agent");
	json_object_put(o);
	ht_sns_message_clear(&m);
	ht_sns_message_clear(&m); /* a cleared message clears again */
}

static void
test_body_subject_and_options(void **state UNUSED)
{
	struct ht_sns_message_params p = params();
	struct ht_sns_message m;
	struct json_object *o;
	const char *want_keys[] = { "Type", "MessageId", "TopicArn", "Subject", "Message" };
	size_t i = 0;

	p.subject = "Log \xe2\x80\x94 \"file\"\ndelivered";
	p.message = "multi\nline \xe6\x97\xa5\xe6\x9c\xac\\ \x01 \xf0\x9f\x98\x80";
	p.version = HT_SNS_SIGV1;
	p.unsubscribe_base = "https://hosttrail.example:8443/sns/";
	p.content_type = "application/json";
	m = notify(&p);
	o = json_tokener_parse(m.body);
	assert_non_null(o);
	json_object_object_foreach(o, k, v) {
		(void)v;
		if (i < N(want_keys))
			assert_string_equal(k, want_keys[i]);
		i++;
	}
	assert_int_equal(i, 10);
	assert_string_equal(get(o, "Subject"), p.subject);
	assert_string_equal(get(o, "Message"), p.message);
	assert_string_equal(get(o, "SignatureVersion"), "1");
	assert_string_equal(get(o, "UnsubscribeURL"),
	    "https://hosttrail.example:8443/sns/?Action=Unsubscribe&SubscriptionArn=" SUB_ARN);
	assert_string_equal(m.headers[4].value, "application/json");
	/* Non-ASCII goes out as raw UTF-8, control characters escaped. */
	assert_non_null(strstr(m.body, "\xe6\x97\xa5\xe6\x9c\xac\\\\ \\u0001 \xf0\x9f\x98\x80"));
	assert_true(subscriber_verifies(m.body, fx.pub));
	json_object_put(o);
	ht_sns_message_clear(&m);
}

static void
test_timestamp(void **state UNUSED)
{
	char ts[HT_SNS_TIMESTAMP_LEN];
	struct ht_sns_message_params p = params();
	struct ht_sns_message m;
	struct json_object *o;
	int64_t before, after;

	assert_int_equal(ht_sns_timestamp(NOW_MS, ts), 0);
	assert_string_equal(ts, "2023-12-16T00:21:11.830Z");
	assert_int_equal(ht_sns_timestamp(0, ts), 0);
	assert_string_equal(ts, "1970-01-01T00:00:00.000Z");
	assert_int_equal(ht_sns_timestamp(951782400001LL, ts), 0);
	assert_string_equal(ts, "2000-02-29T00:00:00.001Z");
	assert_int_equal(ht_sns_timestamp(253402300799999LL, ts), 0);
	assert_string_equal(ts, "9999-12-31T23:59:59.999Z");
	assert_int_equal(ht_sns_timestamp(253402300800000LL, ts), -ERANGE);
	assert_int_equal(ht_sns_timestamp(-1, ts), -ERANGE);

	/* now_ms = 0 reads the wall clock. */
	p.now_ms = 0;
	before = ht_now_ms();
	m = notify(&p);
	after = ht_now_ms();
	o = json_tokener_parse(m.body);
	assert_int_equal(strlen(get(o, "Timestamp")), 24);
	{
		char lo[HT_SNS_TIMESTAMP_LEN], hi[HT_SNS_TIMESTAMP_LEN];

		ht_sns_timestamp(before, lo);
		ht_sns_timestamp(after, hi);
		assert_true(strcmp(get(o, "Timestamp"), lo) >= 0);
		assert_true(strcmp(get(o, "Timestamp"), hi) <= 0);
	}
	json_object_put(o);
	ht_sns_message_clear(&m);
}

/* ---- signatures ---- */

static void
test_signature_verifies(void **state UNUSED)
{
	struct ht_sns_message_params p = params();
	struct ht_sns_message m;
	char *tampered;

	for (int v = 0; v <= 2; v++) {
		p.version = (enum ht_sns_sigver)v;
		m = notify(&p);
		assert_non_null(strstr(m.body,
		    v == 1 ? "\"SignatureVersion\":\"1\"" : "\"SignatureVersion\":\"2\""));
		assert_true(subscriber_verifies(m.body, fx.pub));
		assert_false(subscriber_verifies(m.body, fx.other_pub));
		/* Any signed value changed: refused. */
		tampered = strdup(m.body);
		assert_non_null(tampered);
		memcpy(strstr(tampered, "ct-bucket"), "cx", 2);
		assert_false(subscriber_verifies(tampered, fx.pub));
		free(tampered);
		tampered = strdup(m.body);
		assert_non_null(tampered);
		strstr(tampered, "11.830Z")[5] = '1';
		assert_false(subscriber_verifies(tampered, fx.pub));
		free(tampered);
		/* The version says which hash: changing it breaks the signature. */
		tampered = strdup(m.body);
		assert_non_null(tampered);
		strstr(tampered, "\"SignatureVersion\":\"")[20] = v == 1 ? '2' : '1';
		assert_false(subscriber_verifies(tampered, fx.pub));
		free(tampered);
		ht_sns_message_clear(&m);
	}
}

static void
test_traditional_key_same_signature(void **state UNUSED)
{
	struct ht_sns_message_params p = params();
	struct ht_sns_signer *s = NULL;
	struct ht_sns_message a, b = { 0 };
	char errbuf[256];

	assert_int_equal(ht_sns_signer_load(fx.key_trad, CERT_URL, &s, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(ht_sns_signer_cert_url(s), CERT_URL);
	a = notify(&p);
	assert_int_equal(ht_sns_notification(s, &p, &b), 0);
	/* PKCS#1 v1.5 is deterministic: same key, same input, same bytes. */
	assert_string_equal(a.body, b.body);
	ht_sns_message_clear(&a);
	ht_sns_message_clear(&b);
	ht_sns_signer_free(s);
	ht_sns_signer_free(NULL);
}

/* ---- MessageId ---- */

static void
test_message_id(void **state UNUSED)
{
	struct ht_sns_message_params p = params();
	struct ht_sns_message first, again, other;
	struct json_object *o;

	/* Without one, a fresh UUID v4 each time. */
	p.message_id = NULL;
	first = notify(&p);
	other = notify(&p);
	assert_string_not_equal(first.message_id, other.message_id);
	assert_int_equal(strlen(first.message_id), 36);
	assert_int_equal(first.message_id[14], '4');
	assert_non_null(strchr("89ab", first.message_id[19]));
	o = json_tokener_parse(first.body);
	assert_string_equal(get(o, "MessageId"), first.message_id);
	assert_string_equal(first.headers[1].value, first.message_id);
	json_object_put(o);

	/* A retry passes it back: same MessageId in body and header, new
	 * Timestamp, still a valid signature. */
	p.message_id = first.message_id;
	p.now_ms = NOW_MS + 20000;
	again = notify(&p);
	assert_string_equal(again.message_id, first.message_id);
	assert_string_equal(again.headers[1].value, first.message_id);
	o = json_tokener_parse(again.body);
	assert_string_equal(get(o, "MessageId"), first.message_id);
	assert_string_equal(get(o, "Timestamp"), "2023-12-16T00:21:31.830Z");
	assert_true(subscriber_verifies(again.body, fx.pub));
	json_object_put(o);
	ht_sns_message_clear(&first);
	ht_sns_message_clear(&again);
	ht_sns_message_clear(&other);
}

/* ---- refusals ---- */

static void
expect_refused(const struct ht_sns_message_params *p)
{
	struct ht_sns_message m;

	memset(&m, 0x5a, sizeof(m));
	assert_int_equal(ht_sns_notification(fx.signer, p, &m), -EINVAL);
	for (size_t i = 0; i < sizeof(m); i++) /* untouched */
		assert_int_equal(((unsigned char *)&m)[i], 0x5a);
}

static void
test_params_refused(void **state UNUSED)
{
	struct ht_sns_message_params p;
	struct ht_sns_message m = { 0 };

#define REFUSE(field, value)        \
	do {                        \
		p = params();       \
		p.field = value;    \
		expect_refused(&p); \
	} while (0)
	REFUSE(region, NULL);
	REFUSE(region, "US-EAST-1");
	REFUSE(account, "12345678901");
	REFUSE(topic, "bad.topic");
	REFUSE(topic, "");
	REFUSE(subscription_arn, NULL);
	REFUSE(subscription_arn, SUB_ARN "\r\nX-Injected: 1");
	REFUSE(message, NULL);
	REFUSE(message, "bad \xc3\x28 utf-8");
	REFUSE(message, "overlong \xc0\xaf");
	REFUSE(message, "surrogate \xed\xa0\x80");
	REFUSE(message, "past U+10FFFF \xf4\x90\x80\x80");
	REFUSE(message, "truncated \xe2\x82");
	REFUSE(subject, "\xff");
	REFUSE(message_id, "not-a-uuid");
	REFUSE(message_id, MSG_ID "0");
	REFUSE(content_type, "text/plain\n");
	REFUSE(unsubscribe_base, "https://x/?a=b");
	REFUSE(version, (enum ht_sns_sigver)3);
	REFUSE(now_ms, 253402300800000LL);
	REFUSE(now_ms, -5);
#undef REFUSE
	p = params();
	assert_int_equal(ht_sns_notification(NULL, &p, &m), -EINVAL);
	assert_int_equal(ht_sns_notification(fx.signer, NULL, &m), -EINVAL);
}

/* ---- key files ---- */

static void
write_file(const char *name, const char *text, size_t len)
{
	char path[96];
	FILE *f;

	path_in(path, sizeof(path), name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

/* Load name (in the fixture dir, or an absolute path) and expect r with a
 * reason naming the file and containing why. */
static void
expect_bad_key(const char *name, const char *url, int r, const char *why)
{
	struct ht_sns_signer *s = (struct ht_sns_signer *)&fx; /* must stay untouched */
	char path[96], errbuf[256];

	path_in(path, sizeof(path), name);
	memset(errbuf, 0, sizeof(errbuf));
	assert_int_equal(ht_sns_signer_load(path, url, &s, errbuf, sizeof(errbuf)), r);
	assert_ptr_equal(s, (struct ht_sns_signer *)&fx);
	if (strstr(errbuf, path) != errbuf || strstr(errbuf, why) == NULL)
		fail_msg("%s: reason \"%s\" lacks \"%s\"", name, errbuf, why);
	assert_null(strchr(errbuf, '\n'));
	/* No key material: no PEM armour, no long base64 run. */
	assert_null(strstr(errbuf, "-----"));
	assert_null(strstr(errbuf, "MII"));
}

static void
test_bad_key_files(void **state UNUSED)
{
	struct ht_sns_signer *s = NULL;
	char path[96], *big;

	expect_bad_key("missing.key", CERT_URL, -ENOENT, "No such file or directory");
	path_in(path, sizeof(path), "subdir");
	assert_int_equal(mkdir(path, 0700), 0);
	expect_bad_key("subdir", CERT_URL, -EISDIR, "Is a directory");
	write_file("garbage.key", "this is not a key\n", 18);
	expect_bad_key("garbage.key", CERT_URL, -EINVAL, "no PEM private key found");
	write_file("empty.key", "", 0);
	expect_bad_key("empty.key", CERT_URL, -EINVAL, "no PEM private key found");
	expect_bad_key("public.pem", CERT_URL, -EINVAL, "no PEM private key found");
	expect_bad_key("encrypted.key", CERT_URL, -EINVAL, "encrypted");
	expect_bad_key("ec.key", CERT_URL, -EINVAL, "not an RSA key");
	expect_bad_key("small.key", CERT_URL, -EINVAL, "shorter than 2048 bits");
	big = malloc(70000);
	assert_non_null(big);
	memset(big, 'A', 70000);
	write_file("big.key", big, 70000);
	free(big);
	expect_bad_key("big.key", CERT_URL, -EINVAL, "too large");

	/* The certificate URL must be one subscribers accept. */
	expect_bad_key("signing.key", "http://127.0.0.1/x.pem", -EINVAL, "https://");
	expect_bad_key("signing.key", "https://127.0.0.1/x.crt", -EINVAL, ".pem");
	expect_bad_key("signing.key", "https:///x.pem", -EINVAL, "https://");
	expect_bad_key("signing.key", "https://127.0.0.1", -EINVAL, "https://");
	expect_bad_key("signing.key", "https://h/a b.pem", -EINVAL, "https://");
	assert_int_equal(ht_sns_signer_load(fx.key, NULL, &s, NULL, 0), -EINVAL);
	assert_int_equal(ht_sns_signer_load(NULL, CERT_URL, &s, NULL, 0), -EINVAL);
	assert_null(s);
	/* errlen 0: nothing written, still the error. */
	assert_int_equal(ht_sns_signer_load("/nonexistent/k", CERT_URL, &s, NULL, 0), -ENOENT);
}

/* ---- payloads and names ---- */

static void
test_cloudtrail_message(void **state UNUSED)
{
	const char *one[] = { "AWSLogs/123456789012/CloudTrail/us-east-1/2023/12/16/k1.json.gz" };
	const char *odd[] = { "a/\"q\"\\b", "\xc3\xa9t\xc3\xa9/x", "c" };
	char *m = NULL;

	assert_int_equal(ht_sns_cloudtrail_message("ct-bucket", one, 1, &m), 0);
	assert_string_equal(m, CT_MESSAGE);
	free(m);
	assert_int_equal(ht_sns_cloudtrail_message("b", odd, 3, &m), 0);
	assert_string_equal(m,
	    "{\"s3Bucket\":\"b\",\"s3ObjectKey\":[\"a/\\\"q\\\"\\\\b\","
	    "\"\xc3\xa9t\xc3\xa9/x\",\"c\"]}");
	free(m);
	m = NULL;
	assert_int_equal(ht_sns_cloudtrail_message("b", odd, 0, &m), -EINVAL);
	assert_int_equal(ht_sns_cloudtrail_message(NULL, odd, 1, &m), -EINVAL);
	odd[1] = NULL;
	assert_int_equal(ht_sns_cloudtrail_message("b", odd, 3, &m), -EINVAL);
	assert_null(m);
}

static void
test_subscription_arn(void **state UNUSED)
{
	char *a = NULL, *b = NULL;

	/* Python: uuid.uuid5(uuid.NAMESPACE_URL, TOPIC_ARN + " " + url) */
	assert_int_equal(ht_sns_subscription_arn(TOPIC_ARN, "http://127.0.0.1:8080/hook", &a), 0);
	assert_string_equal(a, SUB_ARN);
	assert_int_equal(ht_sns_subscription_arn(TOPIC_ARN, "http://127.0.0.1:8081/hook", &b), 0);
	assert_string_equal(b, TOPIC_ARN ":a6687ed9-32be-5307-a798-7d27e33f3462");
	free(a);
	free(b);
	assert_int_equal(ht_sns_subscription_arn(NULL, "u", &a), -EINVAL);
	assert_int_equal(ht_sns_subscription_arn("a\nb", "u", &a), -EINVAL);
}

/* ---- delivery policy ---- */

static void
expect_delays(const struct ht_sns_policy *p, const int64_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t got = ht_sns_retry_delay(p, (unsigned)i + 1);

		if (got != want[i])
			fail_msg("%s: retry %zu: %lld ms, want %lld",
			    ht_sns_backoff_name(p->backoff), i + 1, (long long)got,
			    (long long)want[i]);
	}
	assert_int_equal(ht_sns_retry_delay(p, 0), 0);
	assert_int_equal(ht_sns_retry_delay(p, (unsigned)n + 1), -1);
	assert_int_equal(ht_sns_retry_delay(p, 1000), -1);
}

static void
test_retry_default(void **state UNUSED)
{
	const struct ht_sns_policy d = HT_SNS_POLICY_DEFAULT;
	const int64_t want[] = { 20000, 20000, 20000 };

	expect_delays(&d, want, N(want));
	assert_null(ht_sns_policy_invalid(&d));
}

/* Every function from 1 s to 20 s over 10 backoff retries (values from
 * Python, rounded half up). */
static void
test_retry_backoff_functions(void **state UNUSED)
{
	static const int64_t want[4][10] = {
		[HT_SNS_BACKOFF_LINEAR] = { 1000, 3111, 5222, 7333, 9444, 11556, 13667, 15778,
		    17889, 20000 },
		[HT_SNS_BACKOFF_ARITHMETIC] = { 1000, 1422, 2267, 3533, 5222, 7333, 9867, 12822,
		    16200, 20000 },
		[HT_SNS_BACKOFF_GEOMETRIC] = { 1000, 1395, 1946, 2714, 3786, 5282, 7368, 10278,
		    14337, 20000 },
		[HT_SNS_BACKOFF_EXPONENTIAL] = { 1000, 1037, 1112, 1260, 1558, 2153, 3342, 5722,
		    10481, 20000 },
	};
	struct ht_sns_policy p = { .num_retries = 10, .min_delay_ms = 1000, .max_delay_ms = 20000 };

	for (int f = 0; f < 4; f++) {
		p.backoff = (enum ht_sns_backoff)f;
		expect_delays(&p, want[f], 10);
		assert_null(ht_sns_policy_invalid(&p));
	}
}

/* 2 immediate, 3 at min, 5 backoff, 2 at max: each boundary. */
static void
test_retry_phases(void **state UNUSED)
{
	static const int64_t want[4][12] = {
		[HT_SNS_BACKOFF_LINEAR] = { 0, 0, 2000, 2000, 2000, 2000, 9000, 16000, 23000, 30000,
		    30000, 30000 },
		[HT_SNS_BACKOFF_ARITHMETIC] = { 0, 0, 2000, 2000, 2000, 2000, 4800, 10400, 18800,
		    30000, 30000, 30000 },
		[HT_SNS_BACKOFF_GEOMETRIC] = { 0, 0, 2000, 2000, 2000, 2000, 3936, 7746, 15244,
		    30000, 30000, 30000 },
		[HT_SNS_BACKOFF_EXPONENTIAL] = { 0, 0, 2000, 2000, 2000, 2000, 3867, 7600, 15067,
		    30000, 30000, 30000 },
	};
	struct ht_sns_policy p = { .num_retries = 12,
		.num_no_delay_retries = 2,
		.num_min_delay_retries = 3,
		.num_max_delay_retries = 2,
		.min_delay_ms = 2000,
		.max_delay_ms = 30000 };

	for (int f = 0; f < 4; f++) {
		p.backoff = (enum ht_sns_backoff)f;
		expect_delays(&p, want[f], 12);
		assert_null(ht_sns_policy_invalid(&p));
	}
}

static void
test_retry_edges(void **state UNUSED)
{
	struct ht_sns_policy p = { 0 };
	const int64_t none[] = { 0 };

	/* No retries at all: the initial delivery only. */
	p.min_delay_ms = p.max_delay_ms = 1000;
	expect_delays(&p, none, 0);
	/* A backoff phase of one retry waits min. */
	p.num_retries = 1;
	p.max_delay_ms = 9000;
	for (int f = 0; f < 4; f++) {
		const int64_t want[] = { 1000 };

		p.backoff = (enum ht_sns_backoff)f;
		expect_delays(&p, want, 1);
	}
	/* Only fixed phases, no backoff phase. */
	{
		struct ht_sns_policy q = { .num_retries = 4,
			.num_no_delay_retries = 1,
			.num_min_delay_retries = 1,
			.num_max_delay_retries = 2,
			.min_delay_ms = 5,
			.max_delay_ms = 7 };
		const int64_t want[] = { 0, 5, 7, 7 };

		expect_delays(&q, want, N(want));
	}
	/* Phases that overflow num_retries are filled in order. */
	{
		struct ht_sns_policy q = { .num_retries = 7,
			.num_no_delay_retries = 5,
			.num_min_delay_retries = 5,
			.num_max_delay_retries = 5,
			.min_delay_ms = 10,
			.max_delay_ms = 20 };
		const int64_t want[] = { 0, 0, 0, 0, 0, 10, 10 };

		expect_delays(&q, want, N(want));
		assert_non_null(ht_sns_policy_invalid(&q));
	}
	/* min > max reads as max = min; a zero min still gives a geometric curve. */
	{
		struct ht_sns_policy q = { .num_retries = 3,
			.min_delay_ms = 500,
			.max_delay_ms = 100,
			.backoff = HT_SNS_BACKOFF_GEOMETRIC };
		const int64_t want[] = { 500, 500, 500 };
		const int64_t want0[] = { 1, 10, 100 };

		expect_delays(&q, want, N(want));
		q.min_delay_ms = 0;
		expect_delays(&q, want0, N(want0));
	}
	/* 100 exponential retries stay finite and end at max. */
	{
		struct ht_sns_policy q = { .num_retries = 100,
			.min_delay_ms = 1,
			.max_delay_ms = 3600001,
			.backoff = HT_SNS_BACKOFF_EXPONENTIAL };

		assert_int_equal(ht_sns_retry_delay(&q, 1), 1);
		assert_int_equal(ht_sns_retry_delay(&q, 2), 1);
		assert_int_equal(ht_sns_retry_delay(&q, 99), 1800001);
		assert_int_equal(ht_sns_retry_delay(&q, 100), 3600001);
		assert_int_equal(ht_sns_retry_delay(&q, 101), -1);
	}
}

static void
test_policy_invalid(void **state UNUSED)
{
	struct ht_sns_policy ok = { .num_retries = 100,
		.num_no_delay_retries = 50,
		.min_delay_ms = 1000,
		.max_delay_ms = 3600000,
		.backoff = HT_SNS_BACKOFF_EXPONENTIAL };
	struct ht_sns_policy p;
	enum ht_sns_backoff b;

	/* 49 retries of 1 s then ~1800 s then 3600 s: over the hour. */
	assert_non_null(ht_sns_policy_invalid(&ok));
	ok.max_delay_ms = 1000;
	assert_null(ht_sns_policy_invalid(&ok));
	p = ok, p.num_retries = 101, p.num_no_delay_retries = 0;
	assert_string_equal(ht_sns_policy_invalid(&p), "numRetries must be at most 100");
	p = ok, p.num_min_delay_retries = 30, p.num_max_delay_retries = 21;
	assert_non_null(strstr(ht_sns_policy_invalid(&p), "exceed numRetries"));
	p = ok, p.min_delay_ms = 0;
	assert_non_null(ht_sns_policy_invalid(&p));
	p = ok, p.min_delay_ms = 2000;
	assert_non_null(strstr(ht_sns_policy_invalid(&p), "at least minDelayTarget"));
	p = ok, p.max_delay_ms = 3600001;
	assert_non_null(ht_sns_policy_invalid(&p));
	p = ok, p.backoff = (enum ht_sns_backoff)9;
	assert_non_null(ht_sns_policy_invalid(&p));
	/* Exactly 3600 s in total is allowed. */
	p = (struct ht_sns_policy){ .num_retries = 3,
		.min_delay_ms = 1200000,
		.max_delay_ms = 1200000 };
	assert_null(ht_sns_policy_invalid(&p));
	p.max_delay_ms = p.min_delay_ms = 1200001;
	assert_non_null(strstr(ht_sns_policy_invalid(&p), "3600 seconds"));

	for (int f = 0; f < 4; f++) {
		assert_int_equal(ht_sns_backoff_parse(ht_sns_backoff_name((enum ht_sns_backoff)f),
				     &b),
		    0);
		assert_int_equal(b, f);
	}
	assert_string_equal(ht_sns_backoff_name(HT_SNS_BACKOFF_GEOMETRIC), "geometric");
	assert_string_equal(ht_sns_backoff_name((enum ht_sns_backoff)7), "?");
	assert_int_equal(ht_sns_backoff_parse("Linear", &b), -EINVAL);
	assert_int_equal(ht_sns_backoff_parse(NULL, &b), -EINVAL);
}

/* ---- out of memory ---- */

static void
test_out_of_memory(void **state UNUSED)
{
	struct ht_sns_message_params p = params();
	struct ht_sns_message m;
	struct ht_sns_signer *s;
	const char *keys[] = { "k1", "k2" };
	char errbuf[256], *text;
	unsigned n, total[3] = { 0 };
	int r;

	if (__real_malloc == NULL) {
		print_message("allocation wrappers not linked (-Wl,--wrap=...); skipping\n");
		skip();
	}
	p.subject = "s";
	for (int what = 0; what < 3; what++) {
		for (n = 1;; n++) {
			s = NULL;
			text = NULL;
			memset(&m, 0, sizeof(m));
			alloc_calls = 0;
			alloc_fail_at = n;
			if (what == 0)
				r = ht_sns_notification(fx.signer, &p, &m);
			else if (what == 1)
				r = ht_sns_signer_load(fx.key, CERT_URL, &s, errbuf,
				    sizeof(errbuf));
			else
				r = ht_sns_cloudtrail_message("b", keys, 2, &text);
			alloc_fail_at = 0;
			if (alloc_calls < n) { /* nothing left to fail */
				assert_int_equal(r, 0);
				break;
			}
			assert_int_equal(r, -ENOMEM);
			assert_null(m.body);
			assert_null(s);
			assert_null(text);
		}
		total[what] = n - 1;
		ht_sns_message_clear(&m);
		ht_sns_signer_free(s);
		free(text);
	}
	assert_true(total[0] >= 8 && total[1] >= 2 && total[2] >= 1);
	print_message("failed each of %u, %u and %u allocations\n", total[0], total[1], total[2]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string_to_sign),
		cmocka_unit_test(test_body_exact),
		cmocka_unit_test(test_body_subject_and_options),
		cmocka_unit_test(test_timestamp),
		cmocka_unit_test(test_signature_verifies),
		cmocka_unit_test(test_traditional_key_same_signature),
		cmocka_unit_test(test_message_id),
		cmocka_unit_test(test_params_refused),
		cmocka_unit_test(test_bad_key_files),
		cmocka_unit_test(test_cloudtrail_message),
		cmocka_unit_test(test_subscription_arn),
		cmocka_unit_test(test_retry_default),
		cmocka_unit_test(test_retry_backoff_functions),
		cmocka_unit_test(test_retry_phases),
		cmocka_unit_test(test_retry_edges),
		cmocka_unit_test(test_policy_invalid),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

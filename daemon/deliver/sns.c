/*
 * sns.c - SNS-style notifications: signing, body, headers, retry policy.
 *
 * Wire format (shared/reference/cloudtrail.md section 10; checked end to end
 * against the npm sns-validator by tests/integration/test_sns_validator.sh):
 *  - the body is one JSON object with the keys in SNS's order: Type,
 *    MessageId, TopicArn, [Subject,] Message, Timestamp, SignatureVersion,
 *    Signature, SigningCertURL, UnsubscribeURL.  We write it compact (AWS
 *    pretty-prints; no subscriber cares) with '/' unescaped, as AWS does;
 *  - the string to sign is "Key\nvalue\n" over the decoded values of
 *    Message, MessageId, Subject (when present), Timestamp, TopicArn, Type,
 *    trailing newline included; version 1 hashes it with SHA-1, version 2
 *    with SHA-256, both RSASSA-PKCS1-v1_5, base64 with padding;
 *  - a subscriber decodes the JSON and re-encodes each value as UTF-8 before
 *    verifying, so a Message or Subject that is not valid UTF-8 could never
 *    verify: it is refused here (-EINVAL) rather than sent;
 *  - header values are checked for control characters so nothing a caller
 *    passes can split a header.
 *
 * Delivery policy: SNS documents the four phases and their parameters but
 * gives the backoff curves only as a picture (dg/images/backoff-graph.png),
 * so the formulas are ours.  Every curve runs from min_delay (the first
 * backoff retry) to max_delay (the last), is non-decreasing, and the four
 * differ in how late the delay grows.  With n backoff retries, i = 0..n-1,
 * lo = min_delay, hi = max_delay:
 *   linear       lo + (hi - lo) * i / (n - 1)               equal steps
 *   arithmetic   lo + (hi - lo) * i(i+1) / (n(n-1))         steps grow by a
 *                                                           constant amount
 *   geometric    lo * (hi / lo) ^ (i / (n - 1))             each delay a
 *                                                           constant multiple
 *   exponential  lo + (hi - lo) * (2^i - 1) / (2^(n-1) - 1) each step twice
 *                                                           the last
 * For lo=1 s, hi=20 s, n=10 the 5th delay is 9.4, 5.2, 3.8 and 1.6 s: the
 * curves nest in that order.  A backoff phase of one retry waits lo.
 * Results are rounded to the nearest millisecond.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "jsonutil.h"
#include "crypto.h"
#include "deliver/sns.h"
#include "util.h"

/* A PEM private key is a few kB; anything far larger is not one. */
#define KEY_FILE_MAX (64 * 1024)
/* 9999-12-31T23:59:59.999Z */
#define TIMESTAMP_MAX_MS 253402300799999LL
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
/* Message, MessageId, Subject, Timestamp, TopicArn, Type */
#define N_SIGNED 6

struct ht_sns_signer {
	EVP_PKEY *key;
	char *cert_url;
};

/* ---- loading the key ---- */

/* "PATH: why" into errbuf. */
static void
set_err(char *errbuf, size_t errlen, const char *path, const char *why)
{
	if (errlen > 0)
		snprintf(errbuf, errlen, "%s: %s", path, why);
}

/* "https://HOST/....pem", nothing a header or a JSON reader could trip on. */
static bool
cert_url_valid(const char *url)
{
	size_t len = strlen(url);
	const char *host = url + strlen("https://");

	if (strncmp(url, "https://", strlen("https://")) != 0 || *host == '\0' || *host == '/')
		return false;
	if (strchr(host, '/') == NULL || len < 4 || strcmp(url + len - 4, ".pem") != 0)
		return false;
	for (const char *c = url; *c != '\0'; c++) {
		if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '"' || *c == '\\')
			return false;
	}
	return true;
}

/* Read at most KEY_FILE_MAX bytes of path into a malloc'd buffer. */
static int
read_key_file(const char *path, char **ret_buf, size_t *ret_len)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode) || !S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto out;
	}
	buf = malloc(KEY_FILE_MAX + 1);
	if (buf == NULL) {
		r = -ENOMEM;
		goto out;
	}
	while (len <= KEY_FILE_MAX) {
		ssize_t n = read(fd, buf + len, KEY_FILE_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > KEY_FILE_MAX)
		r = -EFBIG;
out:
	close(fd);
	if (r < 0) {
		if (buf != NULL)
			OPENSSL_clear_free(buf, KEY_FILE_MAX + 1);
		return r;
	}
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

/* Never prompt for a passphrase (hosttraild has no terminal): note that one
 * was asked for and fail the decryption. */
static int
no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
	*(int *)u = 1;
	return -1;
}

/* Decode the first private key in buf; its problems as a static reason. */
static EVP_PKEY *
decode_key(const char *buf, size_t len, const char **ret_why)
{
	EVP_PKEY *key = NULL;
	BIO *bio;
	int asked = 0;

	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio == NULL) {
		*ret_why = "out of memory";
		return NULL;
	}
	key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase_cb, &asked);
	BIO_free(bio);
	ERR_clear_error();
	if (key == NULL) {
		*ret_why = asked ? "the key is encrypted (a passphrase is not supported)" :
				   "no PEM private key found";
		return NULL;
	}
	if (!EVP_PKEY_is_a(key, "RSA")) {
		*ret_why = "not an RSA key (SNS signatures are RSA)";
	} else if (EVP_PKEY_get_bits(key) < HT_SNS_MIN_KEY_BITS) {
		*ret_why = "RSA key shorter than 2048 bits";
	} else {
		return key;
	}
	EVP_PKEY_free(key);
	return NULL;
}

int
ht_sns_signer_load(const char *key_pem_path, const char *signing_cert_url,
    struct ht_sns_signer **ret, char *errbuf, size_t errlen)
{
	struct ht_sns_signer *s = NULL;
	const char *why = NULL;
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (key_pem_path == NULL) {
		set_err(errbuf, errlen, "(signing key)", "no key file given");
		return -EINVAL;
	}
	if (signing_cert_url == NULL || !cert_url_valid(signing_cert_url)) {
		set_err(errbuf, errlen, key_pem_path,
		    "signing_cert_url must be an https:// URL whose path ends in .pem");
		return -EINVAL;
	}
	r = read_key_file(key_pem_path, &buf, &len);
	if (r == -EFBIG || r == -EINVAL) {
		set_err(errbuf, errlen, key_pem_path,
		    r == -EFBIG ? "too large for a PEM key" : "not a regular file");
		return -EINVAL;
	}
	if (r < 0) {
		set_err(errbuf, errlen, key_pem_path, strerror(-r));
		return r;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->cert_url = strdup(signing_cert_url)) == NULL) {
		r = -ENOMEM;
		set_err(errbuf, errlen, key_pem_path, strerror(ENOMEM));
		goto out;
	}
	s->key = decode_key(buf, len, &why);
	if (s->key == NULL) {
		r = -EINVAL;
		set_err(errbuf, errlen, key_pem_path, why);
		goto out;
	}
	*ret = s;
	s = NULL;
	r = 0;
out:
	OPENSSL_clear_free(buf, KEY_FILE_MAX + 1);
	ht_sns_signer_free(s);
	return r;
}

void
ht_sns_signer_free(struct ht_sns_signer *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_free(s->key);
	free(s->cert_url);
	free(s);
}

const char *
ht_sns_signer_cert_url(const struct ht_sns_signer *s)
{
	return s->cert_url;
}

/* ---- signing ---- */

char *
ht_sns_string_to_sign(const struct ht_sns_fields *f, size_t *ret_len)
{
	const char *keys[N_SIGNED] = { "Message", "MessageId", "Subject", "Timestamp", "TopicArn",
		"Type" };
	const char *vals[N_SIGNED] = { f->message, f->message_id, f->subject, f->timestamp,
		f->topic_arn, f->type };
	size_t len = 0, pos = 0;
	char *out;

	for (size_t i = 0; i < N_SIGNED; i++) {
		if (vals[i] == NULL && i != 2) /* only Subject is optional */
			return NULL;
		if (vals[i] != NULL)
			len += strlen(keys[i]) + strlen(vals[i]) + 2;
	}
	out = malloc(len + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < N_SIGNED; i++) {
		if (vals[i] == NULL)
			continue;
		pos += (size_t)sprintf(out + pos, "%s\n%s\n", keys[i], vals[i]);
	}
	*ret_len = pos;
	return out;
}

/* base64 of the RSASSA-PKCS1-v1_5 signature of data under key. */
static int
rsa_sign_base64(EVP_PKEY *key, enum ht_sns_sigver v, const char *data, size_t len, char **ret)
{
	const EVP_MD *md = v == HT_SNS_SIGV1 ? EVP_sha1() : EVP_sha256();
	unsigned char *sig = NULL;
	EVP_MD_CTX *ctx;
	size_t siglen = 0;
	int r = -EIO;

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return -ENOMEM;
	/* The key is only read: OpenSSL 3 lets threads share an EVP_PKEY as
	 * long as none of them modifies it. */
	if (EVP_DigestSignInit(ctx, NULL, md, NULL, key) != 1 ||
	    EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)data, len) != 1)
		goto out;
	sig = malloc(siglen);
	if (sig == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if (EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)data, len) != 1)
		goto out;
	*ret = ht_base64_encode(sig, siglen);
	r = *ret != NULL ? 0 : -ENOMEM;
out:
	ERR_clear_error();
	free(sig);
	EVP_MD_CTX_free(ctx);
	return r;
}

/* ---- checks on what a caller passes ---- */

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static bool
utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s != '\0') {
		unsigned c = *s, n, cp;

		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		for (unsigned i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

/* Printable ASCII only, so a value cannot end or split a header line. */
static bool
header_value_valid(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	}
	return true;
}

/* 8-4-4-4-12 hex digits. */
static bool
uuid_shaped(const char *s)
{
	static const char hex[] = "0123456789abcdefABCDEF";

	if (strlen(s) != HT_UUID_LEN - 1)
		return false;
	for (size_t i = 0; i < HT_UUID_LEN - 1; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : strchr(hex, s[i]) == NULL)
			return false;
	}
	return true;
}

static bool
region_valid(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == len;
}

static int
params_check(const struct ht_sns_message_params *p)
{
	if (p->region == NULL || !region_valid(p->region) || p->account == NULL ||
	    !ht_account_id_valid(p->account) || p->topic == NULL || !ht_topic_name_valid(p->topic))
		return -EINVAL;
	if (p->subscription_arn == NULL || !header_value_valid(p->subscription_arn))
		return -EINVAL;
	if (p->message == NULL || !utf8_valid(p->message) ||
	    (p->subject != NULL && !utf8_valid(p->subject)))
		return -EINVAL;
	if (p->message_id != NULL && !uuid_shaped(p->message_id))
		return -EINVAL;
	if (p->content_type != NULL && !header_value_valid(p->content_type))
		return -EINVAL;
	if (p->unsubscribe_base != NULL &&
	    (!header_value_valid(p->unsubscribe_base) || strchr(p->unsubscribe_base, '?') != NULL))
		return -EINVAL;
	if (p->version != HT_SNS_SIGV_DEFAULT && p->version != HT_SNS_SIGV1 &&
	    p->version != HT_SNS_SIGV2)
		return -EINVAL;
	return p->now_ms < 0 ? -EINVAL : 0;
}

/* ---- the notification ---- */

int
ht_sns_timestamp(int64_t ms, char out[HT_SNS_TIMESTAMP_LEN])
{
	time_t t;
	struct tm tm;

	if (ms < 0 || ms > TIMESTAMP_MAX_MS)
		return -ERANGE;
	t = (time_t)(ms / 1000);
	if (gmtime_r(&t, &tm) == NULL)
		return -ERANGE;
	if (strftime(out, HT_SNS_TIMESTAMP_LEN, "%Y-%m-%dT%H:%M:%S", &tm) != 19)
		return -ERANGE;
	snprintf(out + 19, HT_SNS_TIMESTAMP_LEN - 19, ".%03dZ", (int)(ms % 1000));
	return 0;
}

/* Everything a notification says besides its signature, all owned. */
struct draft {
	char topic_arn[512];
	char message_id[HT_UUID_LEN];
	char timestamp[HT_SNS_TIMESTAMP_LEN];
	char *unsubscribe_url;
	char *signature;
};

static int
draft_fill(const struct ht_sns_message_params *p, struct draft *d)
{
	int64_t now = p->now_ms != 0 ? p->now_ms : ht_now_ms();
	const char *base = p->unsubscribe_base;
	int r;

	snprintf(d->topic_arn, sizeof(d->topic_arn), "arn:aws:sns:%s:%s:%s", p->region, p->account,
	    p->topic);
	if (p->message_id != NULL) {
		memcpy(d->message_id, p->message_id, HT_UUID_LEN);
	} else {
		r = ht_uuid_v4(d->message_id);
		if (r < 0)
			return r;
	}
	r = ht_sns_timestamp(now, d->timestamp);
	if (r < 0)
		return -EINVAL;
	if (base != NULL)
		r = asprintf(&d->unsubscribe_url, "%s?Action=Unsubscribe&SubscriptionArn=%s", base,
		    p->subscription_arn);
	else
		r = asprintf(&d->unsubscribe_url,
		    "https://sns.%s.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=%s",
		    p->region, p->subscription_arn);
	if (r < 0) {
		d->unsubscribe_url = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int
draft_sign(const struct ht_sns_signer *s, const struct ht_sns_message_params *p, struct draft *d)
{
	struct ht_sns_fields f = {
		.message = p->message,
		.message_id = d->message_id,
		.subject = p->subject,
		.timestamp = d->timestamp,
		.topic_arn = d->topic_arn,
		.type = "Notification",
	};
	size_t len = 0;
	char *sts;
	int r;

	sts = ht_sns_string_to_sign(&f, &len);
	if (sts == NULL)
		return -ENOMEM;
	r = rsa_sign_base64(s->key, p->version, sts, len, &d->signature);
	free(sts);
	return r;
}

/* The JSON body, keys in the order SNS writes them. */
static int
body_build(const struct ht_sns_signer *s, const struct ht_sns_message_params *p,
    const struct draft *d, char **ret, size_t *ret_len)
{
	const char *version = p->version == HT_SNS_SIGV1 ? "1" : "2";
	struct json_object *o;
	const char *text;
	size_t len = 0;
	int r = 0;

	o = json_object_new_object();
	if (o == NULL)
		return -ENOMEM;
	if (ht_json_add_str(o, "Type", "Notification") < 0 || ht_json_add_str(o, "MessageId", d->message_id) < 0 ||
	    ht_json_add_str(o, "TopicArn", d->topic_arn) < 0 ||
	    (p->subject != NULL && ht_json_add_str(o, "Subject", p->subject) < 0) ||
	    ht_json_add_str(o, "Message", p->message) < 0 || ht_json_add_str(o, "Timestamp", d->timestamp) < 0 ||
	    ht_json_add_str(o, "SignatureVersion", version) < 0 ||
	    ht_json_add_str(o, "Signature", d->signature) < 0 ||
	    ht_json_add_str(o, "SigningCertURL", s->cert_url) < 0 ||
	    ht_json_add_str(o, "UnsubscribeURL", d->unsubscribe_url) < 0) {
		r = -ENOMEM;
		goto out;
	}
	text = json_object_to_json_string_length(o, JSON_FLAGS, &len);
	if (text == NULL || (*ret = strndup(text, len)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	*ret_len = len;
out:
	json_object_put(o);
	return r;
}

static int
headers_build(const struct ht_sns_message_params *p, const struct draft *d,
    struct ht_sns_header h[HT_SNS_N_HEADERS])
{
	const char *names[HT_SNS_N_HEADERS] = { "x-amz-sns-message-type", "x-amz-sns-message-id",
		"x-amz-sns-topic-arn", "x-amz-sns-subscription-arn", "Content-Type", "User-Agent" };
	const char *values[HT_SNS_N_HEADERS] = { "Notification", d->message_id, d->topic_arn,
		p->subscription_arn, p->content_type ? p->content_type : HT_SNS_CONTENT_TYPE,
		HT_SNS_USER_AGENT };

	for (size_t i = 0; i < HT_SNS_N_HEADERS; i++) {
		h[i].name = names[i];
		h[i].value = strdup(values[i]);
		if (h[i].value == NULL)
			return -ENOMEM;
	}
	return 0;
}

int
ht_sns_notification(const struct ht_sns_signer *s, const struct ht_sns_message_params *p,
    struct ht_sns_message *ret)
{
	struct ht_sns_message m = { 0 };
	struct draft d = { 0 };
	int r;

	if (s == NULL || p == NULL)
		return -EINVAL;
	r = params_check(p);
	if (r < 0)
		return r;
	r = draft_fill(p, &d);
	if (r < 0)
		goto out;
	r = draft_sign(s, p, &d);
	if (r < 0)
		goto out;
	r = body_build(s, p, &d, &m.body, &m.body_len);
	if (r < 0)
		goto out;
	r = headers_build(p, &d, m.headers);
	if (r < 0)
		goto out;
	memcpy(m.message_id, d.message_id, HT_UUID_LEN);
	*ret = m;
	memset(&m, 0, sizeof(m));
out:
	ht_sns_message_clear(&m);
	free(d.unsubscribe_url);
	free(d.signature);
	return r;
}

void
ht_sns_message_clear(struct ht_sns_message *m)
{
	free(m->body);
	for (size_t i = 0; i < HT_SNS_N_HEADERS; i++)
		free(m->headers[i].value);
	memset(m, 0, sizeof(*m));
}

/* ---- payloads and names ---- */

int
ht_sns_cloudtrail_message(const char *bucket, const char *const *keys, size_t n, char **ret)
{
	struct json_object *o = NULL, *arr;
	const char *text;
	size_t len = 0;
	int r = -ENOMEM;

	if (bucket == NULL || keys == NULL || n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (keys[i] == NULL)
			return -EINVAL;
	}
	o = json_object_new_object();
	arr = json_object_new_array_ext((int)n);
	if (o == NULL || arr == NULL || ht_json_add_str(o, "s3Bucket", bucket) < 0 ||
	    json_object_object_add(o, "s3ObjectKey", arr) < 0) {
		json_object_put(arr);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *k = json_object_new_string(keys[i]);

		if (k == NULL || json_object_array_add(arr, k) < 0) {
			json_object_put(k);
			goto out;
		}
	}
	text = json_object_to_json_string_length(o, JSON_FLAGS, &len);
	if (text != NULL && (*ret = strndup(text, len)) != NULL)
		r = 0;
out:
	json_object_put(o);
	return r;
}

int
ht_sns_subscription_arn(const char *topic_arn, const char *endpoint_url, char **ret)
{
	/* RFC 4122 appendix C: the URL namespace, 6ba7b811-9dad-11d1-80b4-00c04fd430c8 */
	static const unsigned char ns_url[16] = { 0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
		0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8 };
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[33];
	EVP_MD_CTX *ctx;
	int ok;

	if (topic_arn == NULL || endpoint_url == NULL || !header_value_valid(topic_arn))
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, ns_url, sizeof(ns_url)) == 1 &&
	    EVP_DigestUpdate(ctx, topic_arn, strlen(topic_arn)) == 1 &&
	    EVP_DigestUpdate(ctx, " ", 1) == 1 &&
	    EVP_DigestUpdate(ctx, endpoint_url, strlen(endpoint_url)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen >= 16;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ERR_clear_error();
		return -EIO;
	}
	md[6] = (md[6] & 0x0f) | 0x50; /* version 5 */
	md[8] = (md[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	ht_hex(md, 16, hex);
	if (asprintf(ret, "%s:%.8s-%.4s-%.4s-%.4s-%.12s", topic_arn, hex, hex + 8, hex + 12,
		hex + 16, hex + 20) < 0)
		return -ENOMEM;
	return 0;
}

/* ---- delivery policy ---- */

static const char *const backoff_names[] = {
	[HT_SNS_BACKOFF_LINEAR] = "linear",
	[HT_SNS_BACKOFF_ARITHMETIC] = "arithmetic",
	[HT_SNS_BACKOFF_GEOMETRIC] = "geometric",
	[HT_SNS_BACKOFF_EXPONENTIAL] = "exponential",
};

int
ht_sns_backoff_parse(const char *name, enum ht_sns_backoff *ret)
{
	for (size_t i = 0; i < sizeof(backoff_names) / sizeof(backoff_names[0]); i++) {
		if (name != NULL && strcmp(name, backoff_names[i]) == 0) {
			*ret = (enum ht_sns_backoff)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
ht_sns_backoff_name(enum ht_sns_backoff b)
{
	if ((unsigned)b >= sizeof(backoff_names) / sizeof(backoff_names[0]))
		return "?";
	return backoff_names[b];
}

/* Delay of backoff retry i (0-based) of n, lo..hi (see the file header). */
static double
backoff_curve(enum ht_sns_backoff f, unsigned i, unsigned n, double lo, double hi)
{
	double t;

	if (n <= 1)
		return lo;
	t = (double)i / (double)(n - 1);
	switch (f) {
	case HT_SNS_BACKOFF_ARITHMETIC:
		return lo + (hi - lo) * ((double)i * (i + 1)) / ((double)n * (n - 1));
	case HT_SNS_BACKOFF_GEOMETRIC:
		/* lo is at least 1 ms here; see ht_sns_retry_delay() */
		return lo * pow(hi / lo, t);
	case HT_SNS_BACKOFF_EXPONENTIAL:
		return lo + (hi - lo) * (ldexp(1.0, (int)i) - 1.0) / (ldexp(1.0, (int)n - 1) - 1.0);
	case HT_SNS_BACKOFF_LINEAR:
	default:
		return lo + (hi - lo) * t;
	}
}

int64_t
ht_sns_retry_delay(const struct ht_sns_policy *p, unsigned attempt)
{
	unsigned left = p->num_retries, no_delay, min_phase, max_phase, backoff;
	double lo = p->min_delay_ms, hi = p->max_delay_ms;

	if (attempt == 0)
		return 0;
	if (attempt > p->num_retries)
		return -1;
	if (hi < lo)
		hi = lo;
	/* The fixed phases take their share in order; backoff gets the rest. */
	no_delay = p->num_no_delay_retries < left ? p->num_no_delay_retries : left;
	left -= no_delay;
	min_phase = p->num_min_delay_retries < left ? p->num_min_delay_retries : left;
	left -= min_phase;
	max_phase = p->num_max_delay_retries < left ? p->num_max_delay_retries : left;
	backoff = left - max_phase;

	if (attempt <= no_delay)
		return 0;
	attempt -= no_delay;
	if (attempt <= min_phase)
		return (int64_t)p->min_delay_ms;
	attempt -= min_phase;
	if (attempt > backoff)
		return (int64_t)hi;
	if (p->backoff == HT_SNS_BACKOFF_GEOMETRIC && lo < 1)
		lo = 1;
	return llround(backoff_curve(p->backoff, attempt - 1, backoff, lo, hi));
}

const char *
ht_sns_policy_invalid(const struct ht_sns_policy *p)
{
	uint64_t fixed;
	int64_t total = 0;

	if (p->num_retries > HT_SNS_MAX_RETRIES)
		return "numRetries must be at most 100";
	fixed =
	    (uint64_t)p->num_no_delay_retries + p->num_min_delay_retries + p->num_max_delay_retries;
	if (fixed > p->num_retries)
		return "numNoDelayRetries + numMinDelayRetries + numMaxDelayRetries exceed numRetries";
	if (p->min_delay_ms == 0)
		return "minDelayTarget must be positive";
	if (p->max_delay_ms < p->min_delay_ms)
		return "maxDelayTarget must be at least minDelayTarget";
	if (p->max_delay_ms > HT_SNS_MAX_POLICY_MS)
		return "maxDelayTarget must be at most 3600 seconds";
	if ((unsigned)p->backoff > HT_SNS_BACKOFF_EXPONENTIAL)
		return "backoffFunction must be linear, arithmetic, geometric or exponential";
	for (unsigned a = 1; a <= p->num_retries; a++)
		total += ht_sns_retry_delay(p, a);
	if (total > HT_SNS_MAX_POLICY_MS)
		return "the retries of the policy must total at most 3600 seconds";
	return NULL;
}

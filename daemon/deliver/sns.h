/*
 * sns.h - SNS-style HTTP/S notifications: what hosttraild POSTs to a topic's
 * webhooks after each delivered log file, built the way Amazon SNS builds
 * them, so that an SNS subscriber's signature check (e.g. the npm
 * sns-validator) accepts them unchanged - provided it is told to trust the
 * certificate URL's host: stock AWS validators only fetch certificates from
 * sns.REGION.amazonaws.com, so a self-hosted SigningCertURL needs their
 * host pattern widened.
 *
 *  - a signer: the topic's RSA private key (loaded once, shared read-only by
 *    any number of threads) and the https URL of its X.509 certificate;
 *  - ht_sns_notification(): one signed Notification (JSON body + headers);
 *  - ht_sns_retry_delay(): SNS's HTTP/S delivery-policy arithmetic.
 *
 * Nothing here does I/O except ht_sns_signer_load() reading the key file,
 * and nothing logs: errors are returned (and, for the loader, described).
 * Signing is CPU work: per STYLE rule 8 the caller runs it off the loop.
 */
#ifndef HT_DELIVER_SNS_H
#define HT_DELIVER_SNS_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Keys below this size are refused (SNS's own keys are 2048-bit RSA). */
#define HT_SNS_MIN_KEY_BITS 2048
/* The headers of one notification, in this order: x-amz-sns-message-type,
 * x-amz-sns-message-id, x-amz-sns-topic-arn, x-amz-sns-subscription-arn,
 * Content-Type, User-Agent. */
#define HT_SNS_N_HEADERS 6
#define HT_SNS_USER_AGENT "Amazon Simple Notification Service Agent"
#define HT_SNS_CONTENT_TYPE "text/plain; charset=UTF-8"
/* SNS's limits on an HTTP/S delivery policy. */
#define HT_SNS_MAX_RETRIES 100
#define HT_SNS_MAX_POLICY_MS (3600 * 1000)
/* "2023-12-16T00:21:11.830Z" and its NUL */
#define HT_SNS_TIMESTAMP_LEN sizeof("YYYY-MM-DDTHH:MM:SS.mmmZ")

struct ht_sns_signer;

/* Which SNS signature: "1" is SHA1withRSA (the topic default at AWS, still
 * required by some subscribers), "2" SHA256withRSA (hosttrail's default). */
enum ht_sns_sigver { HT_SNS_SIGV_DEFAULT = 0, HT_SNS_SIGV1 = 1, HT_SNS_SIGV2 = 2 };

/* The keys SNS signs, as decoded strings (not JSON-escaped).  subject NULL
 * means no Subject key at all (CloudTrail's notifications have none); an
 * empty string is a present, empty Subject. */
struct ht_sns_fields {
	const char *message;
	const char *message_id;
	const char *subject;
	const char *timestamp;
	const char *topic_arn;
	const char *type;
};

/* What one notification is about; everything borrowed. */
struct ht_sns_message_params {
	const char *region;	      /* topic's region, e.g. "us-east-1" */
	const char *account;	      /* 12 digits */
	const char *topic;	      /* topic name (1-256 of [A-Za-z0-9_-]) */
	const char *subscription_arn; /* x-amz-sns-subscription-arn and UnsubscribeURL;
				       * see ht_sns_subscription_arn() */
	const char *message;	      /* Message, valid UTF-8 (ht_sns_cloudtrail_message()) */
	const char *subject;	      /* NULL: no Subject (CloudTrail) */
	const char *message_id;	      /* NULL: a fresh UUID v4; on a retry pass the
				       * first attempt's ret->message_id */
	int64_t now_ms;		      /* Timestamp, epoch ms; 0 = the wall clock */
	enum ht_sns_sigver version;   /* HT_SNS_SIGV_DEFAULT means "2" */
	/* UnsubscribeURL is this base followed by "?Action=Unsubscribe&
	 * SubscriptionArn=ARN" (ARN unencoded, as SNS writes it).  NULL gives
	 * AWS's "https://sns.REGION.amazonaws.com/", which knows nothing of a
	 * hosttrail subscription: a self-hosted deployment should name an
	 * endpoint of its own that handles Action=Unsubscribe. */
	const char *unsubscribe_base;
	const char *content_type; /* NULL: HT_SNS_CONTENT_TYPE (SNS's
				   * requestPolicy.headerContentType) */
};

struct ht_sns_header {
	const char *name; /* static */
	char *value;	  /* owned by the message */
};

/* One signed notification, ready to POST.  Owned by the caller; release
 * with ht_sns_message_clear(). */
struct ht_sns_message {
	char *body; /* JSON, NUL-terminated */
	size_t body_len;
	char message_id[HT_UUID_LEN]; /* keep it for retries */
	struct ht_sns_header headers[HT_SNS_N_HEADERS];
};

/* Load the PEM RSA private key at key_pem_path (PKCS#8 or traditional,
 * unencrypted, at least HT_SNS_MIN_KEY_BITS) and remember signing_cert_url,
 * which must be "https://HOST/...pem" (subscribers refuse anything else).
 * 0 with *ret set; else -errno (-ENOENT, -EACCES, ... from opening the file,
 * -EINVAL for a bad URL or a file that is not a usable key, -ENOMEM) and a
 * one-line reason naming the file in errbuf (errlen bytes, may be 0).  The
 * reason never contains key material. */
int ht_sns_signer_load(const char *key_pem_path, const char *signing_cert_url,
    struct ht_sns_signer **ret, char *errbuf, size_t errlen);
/* Free a signer (its key is wiped by libcrypto).  NULL is a no-op. */
void ht_sns_signer_free(struct ht_sns_signer *s);
/* The signer's certificate URL (borrowed, lives as long as s). */
const char *ht_sns_signer_cert_url(const struct ht_sns_signer *s);

/* SNS's string to sign for f: "Key\nvalue\n" for Message, MessageId,
 * Subject (only when f->subject is not NULL), Timestamp, TopicArn and Type,
 * in that order.  Returns a malloc'd string (*ret_len bytes, NUL-terminated),
 * or NULL on ENOMEM or a NULL mandatory field. */
char *ht_sns_string_to_sign(const struct ht_sns_fields *f, size_t *ret_len);

/* Build and sign one Notification for p with s.  0 with *ret filled (ret is
 * untouched on failure); -EINVAL for a bad or missing parameter (region,
 * account, topic, a message_id that is not a UUID, text that is not UTF-8,
 * control characters in a header value, a Timestamp past year 9999), -ENOMEM,
 * -EIO when libcrypto fails, or -errno from reading the clock or the random
 * source. */
int ht_sns_notification(const struct ht_sns_signer *s, const struct ht_sns_message_params *p,
    struct ht_sns_message *ret);
/* Free what m owns and zero it.  Safe on a zeroed or cleared message. */
void ht_sns_message_clear(struct ht_sns_message *m);

/* CloudTrail's Message: compact {"s3Bucket":"B","s3ObjectKey":["K",...]}
 * for n >= 1 keys.  0 with a malloc'd string in *ret, -EINVAL (no bucket,
 * n == 0, a NULL key) or -ENOMEM. */
int ht_sns_cloudtrail_message(const char *bucket, const char *const *keys, size_t n, char **ret);
/* A subscription ARN as SNS writes one, "TOPIC_ARN:UUID", the UUID being
 * the RFC 4122 version 5 UUID (URL namespace) of "TOPIC_ARN endpoint_url":
 * stable across restarts and reloads, different per endpoint.  0 with a
 * malloc'd string in *ret, -EINVAL, -ENOMEM or -EIO. */
int ht_sns_subscription_arn(const char *topic_arn, const char *endpoint_url, char **ret);
/* "2023-12-16T00:21:11.830Z" for epoch milliseconds ms (0 .. year 9999).
 * 0, or -ERANGE. */
int ht_sns_timestamp(int64_t ms, char out[HT_SNS_TIMESTAMP_LEN]);

/*
 * Delivery policy (SNS's healthyRetryPolicy for HTTP/S).  Retries run in
 * four phases: num_no_delay_retries at once, num_min_delay_retries
 * min_delay_ms apart, the backoff phase (whatever num_retries leaves after
 * the other three), then num_max_delay_retries max_delay_ms apart.  Delays
 * are in milliseconds (SNS counts whole seconds; finer delays are a
 * hosttrail extension, handy for tests).  No jitter: the caller adds it.
 */
enum ht_sns_backoff {
	HT_SNS_BACKOFF_LINEAR = 0,
	HT_SNS_BACKOFF_ARITHMETIC,
	HT_SNS_BACKOFF_GEOMETRIC,
	HT_SNS_BACKOFF_EXPONENTIAL,
};

struct ht_sns_policy {
	unsigned num_retries;
	unsigned num_no_delay_retries;
	unsigned num_min_delay_retries;
	unsigned num_max_delay_retries;
	uint32_t min_delay_ms;
	uint32_t max_delay_ms;
	enum ht_sns_backoff backoff;
};

/* SNS's default HTTP/S policy: 3 retries, 20 s apart. */
#define HT_SNS_POLICY_DEFAULT                                                   \
	{                                                                       \
		.num_retries = 3, .min_delay_ms = 20000, .max_delay_ms = 20000, \
		.backoff = HT_SNS_BACKOFF_LINEAR                                \
	}

/* "linear", "arithmetic", "geometric", "exponential" (SNS's spelling) to
 * *ret.  0 or -EINVAL. */
int ht_sns_backoff_parse(const char *name, enum ht_sns_backoff *ret);
/* SNS's name for b ("linear", ...); "?" for an unknown value. */
const char *ht_sns_backoff_name(enum ht_sns_backoff b);
/* NULL when p is a policy SNS would accept (num_retries <= 100, the three
 * fixed phases fit in num_retries, 0 < min_delay <= max_delay <= 3600 s, all
 * delays together <= 3600 s, a known backoff), else a static reason. */
const char *ht_sns_policy_invalid(const struct ht_sns_policy *p);
/* Delay in ms to wait before retry number attempt (1 = the first retry after
 * the initial delivery failed; attempt 0, the initial delivery, gets 0), or
 * -1 once attempt > num_retries: the policy is used up.  Pure and defined
 * for any p, even one ht_sns_policy_invalid() refuses (phases are then
 * filled in order until num_retries runs out; min > max is read as max =
 * min). */
int64_t ht_sns_retry_delay(const struct ht_sns_policy *p, unsigned attempt);

#endif

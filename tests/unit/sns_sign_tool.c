/*
 * sns_sign_tool.c - sign one SNS Notification with daemon/deliver/sns.c and
 * print it, so that tests/integration/test_sns_validator.sh can hand the
 * exact bytes hosttraild would POST to an independent validator.
 *
 *   sns_sign_tool --key FILE --cert-url URL [--region R] [--account A]
 *       [--topic T] [--endpoint URL | --subscription-arn ARN]
 *       (--bucket B --object-key K [--object-key K ...] | --message TEXT)
 *       [--subject TEXT] [--message-id UUID] [--timestamp-ms MS]
 *       [--signature-version 1|2] [--unsubscribe-base URL] [--headers]
 *
 * Prints the JSON body and a newline; with --headers, first the headers as
 * "Name: value" lines and an empty line, like an HTTP request.  Exit 0, or
 * 1 with the reason on stderr, 2 for bad usage.
 */
#include "ht_build.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/sns.h"

#define MAX_KEYS 64

struct args {
	const char *key, *cert_url, *endpoint, *bucket;
	const char *keys[MAX_KEYS];
	size_t n_keys;
	bool headers;
	struct ht_sns_message_params p;
};

static int
usage(void)
{
	fprintf(stderr,
	    "usage: sns_sign_tool --key FILE --cert-url URL [--region R] "
	    "[--account A] [--topic T] [--endpoint URL | --subscription-arn ARN] "
	    "(--bucket B --object-key K... | --message TEXT) [--subject TEXT] "
	    "[--message-id UUID] [--timestamp-ms MS] [--signature-version 1|2] "
	    "[--unsubscribe-base URL] [--headers]\n");
	return 2;
}

/* Fill a from argv; 0, or 2 for bad usage. */
static int
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "cert-url", required_argument, NULL, 'c' },
		{ "region", required_argument, NULL, 'r' },
		{ "account", required_argument, NULL, 'a' },
		{ "topic", required_argument, NULL, 't' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "subscription-arn", required_argument, NULL, 'S' },
		{ "bucket", required_argument, NULL, 'b' },
		{ "object-key", required_argument, NULL, 'o' },
		{ "message", required_argument, NULL, 'm' },
		{ "subject", required_argument, NULL, 's' },
		{ "message-id", required_argument, NULL, 'i' },
		{ "timestamp-ms", required_argument, NULL, 'T' },
		{ "signature-version", required_argument, NULL, 'v' },
		{ "unsubscribe-base", required_argument, NULL, 'u' },
		{ "headers", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	a->p.region = "us-east-1";
	a->p.account = "123456789012";
	a->p.topic = "hosttrail-test";
	a->endpoint = "http://127.0.0.1/";
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			a->key = optarg;
			break;
		case 'c':
			a->cert_url = optarg;
			break;
		case 'r':
			a->p.region = optarg;
			break;
		case 'a':
			a->p.account = optarg;
			break;
		case 't':
			a->p.topic = optarg;
			break;
		case 'e':
			a->endpoint = optarg;
			break;
		case 'S':
			a->p.subscription_arn = optarg;
			break;
		case 'b':
			a->bucket = optarg;
			break;
		case 'm':
			a->p.message = optarg;
			break;
		case 's':
			a->p.subject = optarg;
			break;
		case 'i':
			a->p.message_id = optarg;
			break;
		case 'T':
			a->p.now_ms = strtoll(optarg, NULL, 10);
			break;
		case 'u':
			a->p.unsubscribe_base = optarg;
			break;
		case 'H':
			a->headers = true;
			break;
		case 'o':
			if (a->n_keys == MAX_KEYS)
				return usage();
			a->keys[a->n_keys++] = optarg;
			break;
		case 'v':
			if (strcmp(optarg, "1") != 0 && strcmp(optarg, "2") != 0)
				return usage();
			a->p.version = optarg[0] == '1' ? HT_SNS_SIGV1 : HT_SNS_SIGV2;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc || a->key == NULL || a->cert_url == NULL ||
	    (a->p.message == NULL) == (a->bucket == NULL) || (a->bucket != NULL && a->n_keys == 0))
		return usage();
	return 0;
}

static int
run(struct args *a, const struct ht_sns_signer *s)
{
	struct ht_sns_message m = { 0 };
	char topic_arn[400], *sub = NULL, *msg = NULL;
	int r;

	if (a->p.subscription_arn == NULL) {
		snprintf(topic_arn, sizeof(topic_arn), "arn:aws:sns:%s:%s:%s", a->p.region,
		    a->p.account, a->p.topic);
		r = ht_sns_subscription_arn(topic_arn, a->endpoint, &sub);
		if (r < 0)
			goto out;
		a->p.subscription_arn = sub;
	}
	if (a->bucket != NULL) {
		r = ht_sns_cloudtrail_message(a->bucket, a->keys, a->n_keys, &msg);
		if (r < 0)
			goto out;
		a->p.message = msg;
	}
	r = ht_sns_notification(s, &a->p, &m);
	if (r < 0)
		goto out;
	if (a->headers) {
		for (size_t i = 0; i < HT_SNS_N_HEADERS; i++)
			printf("%s: %s\n", m.headers[i].name, m.headers[i].value);
		printf("\n");
	}
	printf("%s\n", m.body);
	r = fflush(stdout) == 0 ? 0 : -errno;
out:
	if (r < 0)
		fprintf(stderr, "sns_sign_tool: %s\n", strerror(-r));
	ht_sns_message_clear(&m);
	free(sub);
	free(msg);
	return r;
}

int
main(int argc, char **argv)
{
	struct args a = { 0 };
	struct ht_sns_signer *s = NULL;
	char errbuf[512];
	int r;

	r = parse_args(argc, argv, &a);
	if (r != 0)
		return r;
	if (ht_sns_signer_load(a.key, a.cert_url, &s, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "sns_sign_tool: %s\n", errbuf);
		return 1;
	}
	r = run(&a, s);
	ht_sns_signer_free(s);
	return r < 0 ? 1 : 0;
}

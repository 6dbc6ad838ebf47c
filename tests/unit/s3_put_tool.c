/*
 * s3_put_tool.c - PUT one file to an S3-compatible store with the daemon's
 * own S3 client (daemon/deliver/s3.c) on a libevent loop, print the result
 * as one line of key=value pairs, exit 0 on a 2xx, 1 on any other answer,
 * 2 on a usage or local error.  Used by tests/integration/test_s3_swift.sh.
 *
 * The secret comes from --secret-file or $HT_S3_SECRET (never argv, which
 * other users can read in /proc).  --memory sends the body from memory
 * instead of streaming the file; --puts N sends N copies concurrently
 * (keys KEY, KEY.1, ...) to exercise the multi handle; --cancel-ms N frees
 * the client after N ms, which must report every unfinished PUT as
 * cancelled.  --payload-sha256/--content-md5 pass precomputed digests (as
 * the outbox will), right or deliberately wrong.
 */
#include "ht_build.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "deliver/s3.h"

struct tool {
	struct event_base *base;
	struct ht_s3_client *client;
	unsigned left;
	int failed;
	long cancel_ms;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: s3_put_tool --endpoint URL --bucket B --key K --access-key ID\n"
	    "    [--secret-file F] [--session-token T] [--region R] [--virtual-hosted]\n"
	    "    [--resolve-to ADDR] [--content-type T] [--content-encoding E]\n"
	    "    [--sse AES256|aws:kms] [--kms-key-id ID] [--storage-class C]\n"
	    "    [--meta NAME=VALUE]... [--ca-file F] [--timeout-ms N] [--memory]\n"
	    "    [--puts N] [--cancel-ms N] [--payload-sha256 HEX --content-md5 B64] FILE\n"
	    "  secret: --secret-file or $HT_S3_SECRET\n");
	exit(2);
}

static void
done_cb(const struct ht_s3_result *res, void *arg)
{
	struct tool *t = arg;

	printf("status=%ld outcome=%s code=%s message=\"%s\" curl_error=\"%s\" etag=%s "
	       "request_id=%s\n",
	    res->http_status, ht_s3_outcome_name(res->outcome), res->code, res->message,
	    res->curl_error, res->etag, res->request_id);
	fflush(stdout);
	if (res->outcome != HT_S3_OK)
		t->failed = 1;
	if (--t->left == 0)
		event_base_loopexit(t->base, NULL);
}

static char *
read_secret(const char *file)
{
	char *s = NULL, *env = getenv("HT_S3_SECRET");
	size_t n = 0;
	FILE *f;

	if (file == NULL)
		return env != NULL ? strdup(env) : NULL;
	f = fopen(file, "re");
	if (f == NULL)
		return NULL;
	if (getline(&s, &n, f) < 0) {
		free(s);
		s = NULL;
	} else {
		s[strcspn(s, "\r\n")] = '\0';
	}
	fclose(f);
	return s;
}

static char *
slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	struct stat st;

	if (f == NULL || fstat(fileno(f), &st) < 0)
		goto out;
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		free(buf);
		buf = NULL;
		goto out;
	}
	*ret_len = (size_t)st.st_size;
out:
	if (f != NULL)
		fclose(f);
	return buf;
}

enum {
	O_ENDPOINT = 256,
	O_BUCKET,
	O_KEY,
	O_AK,
	O_SECRETF,
	O_TOKEN,
	O_REGION,
	O_VH,
	O_RESOLVE,
	O_CTYPE,
	O_CENC,
	O_SSE,
	O_KMS,
	O_SC,
	O_META,
	O_CA,
	O_TMO,
	O_MEM,
	O_PUTS,
	O_CANCEL,
	O_SHA,
	O_MD5
};

static const struct option opts[] = {
	{ "endpoint", required_argument, NULL, O_ENDPOINT },
	{ "bucket", required_argument, NULL, O_BUCKET },
	{ "key", required_argument, NULL, O_KEY },
	{ "access-key", required_argument, NULL, O_AK },
	{ "secret-file", required_argument, NULL, O_SECRETF },
	{ "session-token", required_argument, NULL, O_TOKEN },
	{ "region", required_argument, NULL, O_REGION },
	{ "virtual-hosted", no_argument, NULL, O_VH },
	{ "resolve-to", required_argument, NULL, O_RESOLVE },
	{ "content-type", required_argument, NULL, O_CTYPE },
	{ "content-encoding", required_argument, NULL, O_CENC },
	{ "sse", required_argument, NULL, O_SSE },
	{ "kms-key-id", required_argument, NULL, O_KMS },
	{ "storage-class", required_argument, NULL, O_SC },
	{ "meta", required_argument, NULL, O_META },
	{ "ca-file", required_argument, NULL, O_CA },
	{ "timeout-ms", required_argument, NULL, O_TMO },
	{ "memory", no_argument, NULL, O_MEM },
	{ "puts", required_argument, NULL, O_PUTS },
	{ "cancel-ms", required_argument, NULL, O_CANCEL },
	{ "payload-sha256", required_argument, NULL, O_SHA },
	{ "content-md5", required_argument, NULL, O_MD5 },
	{ NULL, 0, NULL, 0 },
};

/* Fill req from argv; returns the FILE operand. */
static const char *
parse_args(int argc, char **argv, struct ht_s3_put *req, struct ht_s3_meta *meta,
    const char **secret_file, bool *memory, unsigned *puts, long *cancel_ms)
{
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case O_ENDPOINT:
			req->endpoint = optarg;
			break;
		case O_BUCKET:
			req->bucket = optarg;
			break;
		case O_KEY:
			req->key = optarg;
			break;
		case O_AK:
			req->access_key_id = optarg;
			break;
		case O_SECRETF:
			*secret_file = optarg;
			break;
		case O_TOKEN:
			req->session_token = optarg;
			break;
		case O_REGION:
			req->region = optarg;
			break;
		case O_VH:
			req->addressing = HT_S3_VIRTUAL_HOSTED;
			break;
		case O_RESOLVE:
			req->resolve_to = optarg;
			break;
		case O_CTYPE:
			req->content_type = optarg;
			break;
		case O_CENC:
			req->content_encoding = optarg;
			break;
		case O_SSE:
			req->sse = strcmp(optarg, "aws:kms") == 0 ? HT_S3_SSE_KMS :
								    HT_S3_SSE_AES256;
			break;
		case O_KMS:
			req->sse_kms_key_id = optarg;
			break;
		case O_SC:
			req->storage_class = optarg;
			break;
		case O_META: {
			char *eq = strchr(optarg, '=');
			if (eq == NULL || req->n_meta >= HT_S3_META_MAX)
				usage();
			*eq = '\0';
			meta[req->n_meta].name = optarg;
			meta[req->n_meta++].value = eq + 1;
			break;
		}
		case O_CA:
			req->ca_file = optarg;
			break;
		case O_TMO:
			req->timeout_ms = atol(optarg);
			break;
		case O_MEM:
			*memory = true;
			break;
		case O_PUTS:
			*puts = (unsigned)atoi(optarg);
			break;
		case O_CANCEL:
			*cancel_ms = atol(optarg);
			break;
		case O_SHA:
			req->payload_sha256 = optarg;
			break;
		case O_MD5:
			req->content_md5 = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || req->endpoint == NULL || req->bucket == NULL ||
	    req->key == NULL || req->access_key_id == NULL || *puts == 0 || *puts > 64)
		usage();
	return argv[optind];
}

/* --cancel-ms: free the client with its PUTs in flight. */
static void
cancel_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tool *t = arg;

	printf("cancelling %u\n", ht_s3_client_pending(t->client));
	ht_s3_client_free(t->client);
	t->client = NULL;
	event_base_loopexit(t->base, NULL);
}

/* Start t->left PUTs of req (key, key.1, key.2, ...). */
static int
start_puts(struct tool *t, struct ht_s3_put *req)
{
	const char *base_key = req->key;
	char key[1024];
	unsigned n = t->left;
	int r;

	for (unsigned i = 0; i < n; i++) {
		if (i > 0)
			snprintf(key, sizeof(key), "%s.%u", base_key, i);
		req->key = i > 0 ? key : base_key;
		r = ht_s3_client_put(t->client, req, done_cb, t);
		if (r < 0) {
			fprintf(stderr, "s3_put_tool: put %s: %s\n", req->key, strerror(-r));
			return r;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct ht_s3_meta meta[HT_S3_META_MAX];
	struct ht_s3_put req = { .region = "us-east-1" };
	struct tool t = { 0 };
	const char *secret_file = NULL, *file;
	char *secret, *body = NULL;
	bool memory = false;
	unsigned puts = 1;
	struct stat st;
	int r, rc = 2;

	file = parse_args(argc, argv, &req, meta, &secret_file, &memory, &puts, &t.cancel_ms);
	req.meta = meta;
	secret = read_secret(secret_file);
	if (secret == NULL || *secret == '\0') {
		fprintf(stderr, "s3_put_tool: no secret (--secret-file or $HT_S3_SECRET)\n");
		return 2;
	}
	req.secret = secret;
	req.secret_len = strlen(secret);
	if (memory) {
		body = slurp(file, &req.body_len);
		if (body == NULL) {
			fprintf(stderr, "s3_put_tool: %s: %s\n", file, strerror(errno));
			goto out;
		}
		req.body = body;
	} else {
		if (stat(file, &st) < 0) {
			fprintf(stderr, "s3_put_tool: %s: %s\n", file, strerror(errno));
			goto out;
		}
		req.path = file;
		req.file_size = (uint64_t)st.st_size;
	}
	t.base = event_base_new();
	if (t.base == NULL || (r = ht_s3_client_new(t.base, &t.client)) < 0) {
		fprintf(stderr, "s3_put_tool: cannot create the client\n");
		goto out;
	}
	t.left = puts;
	if (start_puts(&t, &req) == 0) {
		struct timeval tv = { t.cancel_ms / 1000, (t.cancel_ms % 1000) * 1000 };
		struct event *cancel = evtimer_new(t.base, cancel_cb, &t);
		if (cancel == NULL || (t.cancel_ms > 0 && evtimer_add(cancel, &tv) < 0))
			goto out;
		event_base_dispatch(t.base);
		event_free(cancel);
		rc = t.failed ? 1 : 0;
	}
out:
	/* Cancels whatever is left (after a failed start_puts). */
	ht_s3_client_free(t.client);
	if (t.base != NULL)
		event_base_free(t.base);
	if (secret != NULL)
		explicit_bzero(secret, strlen(secret));
	free(secret);
	free(body);
	return rc;
}

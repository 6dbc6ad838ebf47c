/*
 * bench_gzip.c - `make bench`: the gzip cost of building a log file, against
 * `gzip -6` on the same bytes in the same run.  Target (the issue's): ours
 * at most 1.2x gzip -6.
 *
 * Builds N (default 10000) realistic CloudTrail records with common/record.h
 * (IAM users and assumed roles with session contexts, 40 API calls over 8
 * services, request parameters, responseElements null for read-only calls,
 * STS credentials, S3 additionalEventData, resources, TLS details, 5%
 * errors, random request and event ids), serializes each with
 * ht_record_serialize as the ingest path stores them, and joins them into
 * one {"Records":[...]} document.  Then, for R rounds (alternating which
 * goes first), times:
 *   ours    common/gz.h exactly as daemon/trail/batch.c drives it: level 6,
 *           the document head, then one ht_gz_write per record with a
 *           ht_gz_write of "," between records, the tail, ht_gz_finish, into
 *           a file (no fsync), wall clock and thread CPU time;
 *   gzip    `gzip -6 -c DOC > FILE` as a child process (fork to exit, so
 *           its start-up is included; CPU time from wait4), plus the same
 *           command on an empty file, whose time is the start-up taken out
 *           of the per-MB figure.
 * Both outputs are inflated and compared with the document.  Reported: the
 * medians (and minima) of each, MB/s (MB = 10^6 bytes of JSON), the ratios
 * ours/gzip for wall time, CPU time and output size, and PASS/MISS: PASS
 * when the median wall and the median CPU ratios are both <= 1.2.
 * Then (unless --no-build) the whole build path: the records appended to a
 * history (ht_history_append_records), and ht_batch_build over that range
 * into a spool directory (history read, gzip, stage, fsync, rename), timed
 * the same way; its output must be byte-identical to ours above.
 * Exit status 1 only when something failed; a MISS is not an error.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <json-c/printbuf.h>
#include <zlib.h>

#include "conf.h"
#include "gz.h"
#include "history/history.h"
#include "log.h"
#include "record.h"
#include "trail/batch.h"

#define GZIP_LEVEL	6		/* batch.c's BATCH_GZIP_LEVEL */
#define TARGET_RATIO	1.2
#define BASE_TIME	1735689600	/* 2025-01-01T00:00:00Z */
#define ACCOUNT		"123456789012"
#define HOME_REGION	"us-east-1"
#define APPEND_BATCH	100
#define MAX_ROUNDS	101

struct opts {
	size_t records;
	unsigned rounds;
	const char *dir;
	const char *gzip;
	bool build;
	bool keep;
	uint64_t seed;
};

/* The document and where each record is in it. */
struct doc {
	char *buf;
	size_t len, cap;
	size_t head_len;		/* {"Records":[ */
	size_t n;
	size_t *off, *rlen;		/* record i: buf + off[i], rlen[i] bytes */
	struct ht_record **recs;
};

/* One side's timings over the rounds. */
struct series {
	double wall[MAX_ROUNDS], cpu[MAX_ROUNDS];
	unsigned n;
	uint64_t out_bytes;
};

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(const double *v, unsigned n)
{
	double s[MAX_ROUNDS];

	if (n == 0)
		return 0;
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double
minimum(const double *v, unsigned n)
{
	double m = n ? v[0] : 0;

	for (unsigned i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

/* ---- random numbers (as bench_history) ---- */

static uint64_t
mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

struct rng {
	uint64_t s;
};

static uint64_t
rng_next(struct rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return mix64(r->s);
}

static uint32_t
rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)((double)(rng_next(r) >> 11) * 0x1.0p-53 * n);
}

/* A skewed pick in [0, n): small values are more popular. */
static uint32_t
rng_skewed(struct rng *r, uint32_t n)
{
	uint32_t a = rng_below(r, n), b = rng_below(r, n);

	return a < b ? a : b;
}

static void
uuid_of(struct rng *r, char out[37])
{
	uint64_t x = rng_next(r), y = rng_next(r);

	snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012" PRIx64, (unsigned)(x >> 32),
	    (unsigned)(x >> 16) & 0xffff, (unsigned)x & 0xfff,
	    0x8000 | ((unsigned)(y >> 48) & 0x3fff), y & UINT64_C(0xffffffffffff));
}

/* n characters of alphabet into out (NUL-terminated). */
static void
rand_chars(struct rng *r, const char *alphabet, size_t n, char *out)
{
	size_t k = strlen(alphabet);

	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[rng_below(r, (uint32_t)k)];
	out[n] = '\0';
}

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- value pools ---- */

struct api {
	const char *source, *name;
	bool read_only;
	int kind;		/* which request parameters */
};

enum { K_EC2, K_S3, K_IAM, K_STS, K_KMS, K_LOGS, K_DDB, K_LAMBDA };

static const struct api apis[] = {
	{ "ec2.amazonaws.com", "DescribeInstances", true, K_EC2 },
	{ "ec2.amazonaws.com", "DescribeVolumes", true, K_EC2 },
	{ "ec2.amazonaws.com", "DescribeSecurityGroups", true, K_EC2 },
	{ "ec2.amazonaws.com", "RunInstances", false, K_EC2 },
	{ "ec2.amazonaws.com", "StopInstances", false, K_EC2 },
	{ "ec2.amazonaws.com", "CreateTags", false, K_EC2 },
	{ "s3.amazonaws.com", "GetBucketAcl", true, K_S3 },
	{ "s3.amazonaws.com", "GetBucketPolicy", true, K_S3 },
	{ "s3.amazonaws.com", "ListBuckets", true, K_S3 },
	{ "s3.amazonaws.com", "PutBucketPolicy", false, K_S3 },
	{ "s3.amazonaws.com", "GetBucketLocation", true, K_S3 },
	{ "iam.amazonaws.com", "GetUser", true, K_IAM },
	{ "iam.amazonaws.com", "ListRoles", true, K_IAM },
	{ "iam.amazonaws.com", "ListAttachedRolePolicies", true, K_IAM },
	{ "iam.amazonaws.com", "CreateAccessKey", false, K_IAM },
	{ "iam.amazonaws.com", "AttachRolePolicy", false, K_IAM },
	{ "sts.amazonaws.com", "AssumeRole", true, K_STS },
	{ "sts.amazonaws.com", "GetCallerIdentity", true, K_STS },
	{ "sts.amazonaws.com", "AssumeRoleWithWebIdentity", true, K_STS },
	{ "kms.amazonaws.com", "Decrypt", true, K_KMS },
	{ "kms.amazonaws.com", "GenerateDataKey", true, K_KMS },
	{ "kms.amazonaws.com", "Encrypt", true, K_KMS },
	{ "kms.amazonaws.com", "DescribeKey", true, K_KMS },
	{ "logs.amazonaws.com", "CreateLogStream", false, K_LOGS },
	{ "logs.amazonaws.com", "DescribeLogGroups", true, K_LOGS },
	{ "logs.amazonaws.com", "PutRetentionPolicy", false, K_LOGS },
	{ "dynamodb.amazonaws.com", "DescribeTable", true, K_DDB },
	{ "dynamodb.amazonaws.com", "ListTables", true, K_DDB },
	{ "dynamodb.amazonaws.com", "UpdateTable", false, K_DDB },
	{ "lambda.amazonaws.com", "GetFunction20150331v2", true, K_LAMBDA },
	{ "lambda.amazonaws.com", "ListFunctions20150331", true, K_LAMBDA },
	{ "lambda.amazonaws.com", "UpdateFunctionCode20150331v2", false, K_LAMBDA },
};
#define N_APIS (sizeof(apis) / sizeof(apis[0]))

static const char *const first_names[16] = {
	"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
	"mallory", "niaj", "olivia", "peggy", "rupert", "sybil",
};
static const char *const last_names[8] = {
	"smith", "jones", "garcia", "miller", "davis", "lopez", "wilson", "moore",
};
static const char *const roles[8] = {
	"AdminRole", "ReadOnly", "ci-deployer", "lambda-exec-orders", "ecs-task-api",
	"DataPipeline", "AWSServiceRoleForSupport", "terraform",
};
static const char *const agents[7] = {
	"aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0-18-amd64 exe/x86_64.debian.12 prompt/off "
	    "command/ec2.describe-instances",
	"Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.2 "
	    "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
	"aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/sts#1.28.5",
	"console.amazonaws.com",
	"Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.42.0 "
	    "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.51.1",
	"aws-sdk-java/2.25.16 Linux/6.1.0 OpenJDK_64-Bit_Server_VM/17.0.10+7 Java/17.0.10 "
	    "vendor/Eclipse_Adoptium io/sync http/Apache cfg/retry-mode/legacy",
	"AWS Internal",
};
static const char *const error_codes[3] = { "AccessDenied", "Client.UnauthorizedOperation",
	"ThrottlingException" };

/* ---- building records ---- */

static int
jstr(struct json_object *obj, const char *key, const char *val)
{
	struct json_object *s = json_object_new_string(val);

	if (s == NULL || json_object_object_add(obj, key, s) < 0) {
		json_object_put(s);
		return -ENOMEM;
	}
	return 0;
}

static int
jadd(struct json_object *obj, const char *key, struct json_object *val)
{
	if (val == NULL || json_object_object_add(obj, key, val) < 0) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

static int
rec_str(char **field, const char *val)
{
	*field = strdup(val);
	return *field ? 0 : -ENOMEM;
}

static void
iso_time(int64_t t, char out[21])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* userIdentity: an IAM user (70%) or an assumed role with its session
 * context.  Its ARN goes to user_arn, for error messages. */
static struct json_object *
gen_identity(struct rng *r, int64_t t, char *user_arn, size_t arn_len)
{
	struct json_object *o = json_object_new_object(), *ctx, *iss, *attr;
	uint32_t u = rng_skewed(r, 128);
	char pid[64], key[21], name[48], arn[160], when[21];
	int v = 0;

	if (o == NULL)
		return NULL;
	snprintf(key, sizeof(key), "AKIA");
	rand_chars(&(struct rng){ mix64(u ^ 0xacce55) }, B32, 16, key + 4);
	if (rng_below(r, 10) < 7) {
		snprintf(name, sizeof(name), "%s.%s", first_names[u % 16], last_names[u / 16 % 8]);
		snprintf(pid, sizeof(pid), "AIDA");
		rand_chars(&(struct rng){ mix64(u ^ 0x5eed) }, B32, 17, pid + 4);
		snprintf(arn, sizeof(arn), "arn:aws:iam::" ACCOUNT ":user/%s", name);
		v |= jstr(o, "type", "IAMUser");
		v |= jstr(o, "principalId", pid);
		v |= jstr(o, "arn", arn);
		v |= jstr(o, "accountId", ACCOUNT);
		v |= jstr(o, "accessKeyId", key);
		v |= jstr(o, "userName", name);
	} else {
		const char *role = roles[u % 8];
		char rid[22] = "AROA", sess[40];

		rand_chars(&(struct rng){ mix64(u % 8 ^ 0x201e) }, B32, 17, rid + 4);
		snprintf(sess, sizeof(sess), "%s-%u", first_names[u % 16], 1700000000u + u * 37);
		snprintf(pid, sizeof(pid), "%s:%s", rid, sess);
		snprintf(arn, sizeof(arn), "arn:aws:sts::" ACCOUNT ":assumed-role/%s/%s", role, sess);
		key[0] = 'A', key[1] = 'S', key[2] = 'I', key[3] = 'A';
		rand_chars(r, B32, 16, key + 4);	/* temporary keys change */
		v |= jstr(o, "type", "AssumedRole");
		v |= jstr(o, "principalId", pid);
		v |= jstr(o, "arn", arn);
		v |= jstr(o, "accountId", ACCOUNT);
		v |= jstr(o, "accessKeyId", key);
		ctx = json_object_new_object();
		iss = json_object_new_object();
		attr = json_object_new_object();
		if (ctx == NULL || iss == NULL || attr == NULL) {
			json_object_put(ctx);
			json_object_put(iss);
			json_object_put(attr);
			json_object_put(o);
			return NULL;
		}
		snprintf(arn, sizeof(arn), "arn:aws:iam::" ACCOUNT ":role/%s", role);
		v |= jstr(iss, "type", "Role");
		v |= jstr(iss, "principalId", rid);
		v |= jstr(iss, "arn", arn);
		v |= jstr(iss, "accountId", ACCOUNT);
		v |= jstr(iss, "userName", role);
		v |= jadd(ctx, "sessionIssuer", iss);
		v |= jadd(ctx, "webIdFederationData", json_object_new_object());
		iso_time(t - rng_below(r, 3600), when);
		v |= jstr(attr, "creationDate", when);
		v |= jstr(attr, "mfaAuthenticated", rng_below(r, 4) ? "false" : "true");
		v |= jadd(ctx, "attributes", attr);
		v |= jadd(o, "sessionContext", ctx);
		snprintf(arn, sizeof(arn), "arn:aws:sts::" ACCOUNT ":assumed-role/%s/%s", role, sess);
	}
	snprintf(user_arn, arn_len, "%s", arn);
	if (v) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *
gen_params(struct rng *r, const struct api *a, char *res_arn, size_t res_len,
    const char **res_type)
{
	struct json_object *o = json_object_new_object(), *x, *items, *it;
	char id[64], tok[37];
	uint32_t n = rng_skewed(r, 400);
	int v = 0;

	if (o == NULL)
		return NULL;
	res_arn[0] = '\0';
	switch (a->kind) {
	case K_EC2:
		snprintf(id, sizeof(id), "i-0%08x%08x", (unsigned)mix64(n), (unsigned)n * 2654435761u);
		snprintf(res_arn, res_len, "arn:aws:ec2:" HOME_REGION ":" ACCOUNT ":instance/%s", id);
		*res_type = "AWS::EC2::Instance";
		x = json_object_new_object();
		items = json_object_new_array();
		it = json_object_new_object();
		v |= it ? jstr(it, "instanceId", id) : -ENOMEM;
		v |= items && it ? json_object_array_add(items, it) : -ENOMEM;
		v |= x ? jadd(x, "items", items) : -ENOMEM;
		v |= jadd(o, "instancesSet", x);
		v |= jadd(o, "filterSet", json_object_new_object());
		if (!a->read_only) {
			uuid_of(r, tok);
			v |= jstr(o, "clientToken", tok);
		}
		break;
	case K_S3:
		snprintf(id, sizeof(id), "data-%s-%u", last_names[n % 8], n % 61);
		snprintf(res_arn, res_len, "arn:aws:s3:::%s", id);
		*res_type = "AWS::S3::Bucket";
		v |= jstr(o, "bucketName", id);
		snprintf(id + strlen(id), sizeof(id) - strlen(id), ".s3.amazonaws.com");
		v |= jstr(o, "Host", id);
		v |= jstr(o, strstr(a->name, "Acl") ? "acl" : strstr(a->name, "Policy") ? "policy" :
		    "location", "");
		break;
	case K_IAM:
		snprintf(id, sizeof(id), "%s", roles[n % 8]);
		snprintf(res_arn, res_len, "arn:aws:iam::" ACCOUNT ":role/%s", id);
		*res_type = "AWS::IAM::Role";
		v |= jstr(o, "roleName", id);
		if (!a->read_only)
			v |= jstr(o, "policyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess");
		else
			v |= jadd(o, "maxItems", json_object_new_int(100));
		break;
	case K_STS:
		snprintf(res_arn, res_len, "arn:aws:iam::" ACCOUNT ":role/%s", roles[n % 8]);
		*res_type = "AWS::IAM::Role";
		if (strcmp(a->name, "GetCallerIdentity") == 0) {
			json_object_put(o);
			return HT_JSON_NULL;
		}
		v |= jstr(o, "roleArn", res_arn);
		snprintf(id, sizeof(id), "session-%u", (unsigned)rng_below(r, 1000000));
		v |= jstr(o, "roleSessionName", id);
		v |= jadd(o, "durationSeconds", json_object_new_int(3600));
		break;
	case K_KMS:
		uuid_of(&(struct rng){ n % 20 }, tok);
		snprintf(res_arn, res_len, "arn:aws:kms:" HOME_REGION ":" ACCOUNT ":key/%s", tok);
		*res_type = "AWS::KMS::Key";
		v |= jstr(o, "keyId", res_arn);
		v |= jstr(o, "encryptionAlgorithm", "SYMMETRIC_DEFAULT");
		x = json_object_new_object();
		snprintf(id, sizeof(id), "arn:aws:s3:::data-%s-%u", last_names[n % 8], n % 61);
		v |= x ? jstr(x, "aws:s3:arn", id) : -ENOMEM;
		v |= jadd(o, "encryptionContext", x);
		break;
	case K_LOGS:
		snprintf(id, sizeof(id), "/aws/lambda/orders-%u", n % 40);
		snprintf(res_arn, res_len, "arn:aws:logs:" HOME_REGION ":" ACCOUNT ":log-group:%s",
		    id);
		*res_type = "AWS::Logs::LogGroup";
		v |= jstr(o, "logGroupName", id);
		if (!a->read_only) {
			snprintf(id, sizeof(id), "2025/01/01/[$LATEST]%016" PRIx64, rng_next(r));
			v |= jstr(o, "logStreamName", id);
		}
		break;
	case K_DDB:
		snprintf(id, sizeof(id), "orders-%s", last_names[n % 8]);
		snprintf(res_arn, res_len, "arn:aws:dynamodb:" HOME_REGION ":" ACCOUNT ":table/%s", id);
		*res_type = "AWS::DynamoDB::Table";
		v |= jstr(o, "tableName", id);
		break;
	default:
		snprintf(id, sizeof(id), "orders-fn-%u", n % 30);
		snprintf(res_arn, res_len, "arn:aws:lambda:" HOME_REGION ":" ACCOUNT ":function:%s",
		    id);
		*res_type = "AWS::Lambda::Function";
		v |= jstr(o, "functionName", id);
		break;
	}
	if (v) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *
gen_response(struct rng *r, const struct api *a, int64_t t)
{
	struct json_object *o, *c;
	char buf[512], when[21];
	int v = 0;

	if (a->kind == K_STS && strncmp(a->name, "AssumeRole", 10) == 0) {
		o = json_object_new_object();
		c = json_object_new_object();
		if (o == NULL || c == NULL) {
			json_object_put(o);
			json_object_put(c);
			return NULL;
		}
		snprintf(buf, sizeof(buf), "ASIA");
		rand_chars(r, B32, 16, buf + 4);
		v |= jstr(c, "accessKeyId", buf);
		rand_chars(r, B64, 356, buf);
		v |= jstr(c, "sessionToken", buf);
		iso_time(t + 3600, when);
		v |= jstr(c, "expiration", when);
		v |= jadd(o, "credentials", c);
		v |= jstr(o, "packedPolicySize", "6");
		if (v) {
			json_object_put(o);
			return NULL;
		}
		return o;
	}
	if (a->read_only)
		return HT_JSON_NULL;
	o = json_object_new_object();
	if (o == NULL)
		return NULL;
	uuid_of(r, buf);
	v |= jstr(o, "requestId", buf);
	v |= jadd(o, "_return", json_object_new_boolean(1));
	if (v) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Record k, a new record.  0 or -ENOMEM. */
static int
gen_record(uint64_t seed, size_t k, struct ht_record **ret)
{
	struct rng r = { mix64(seed ^ mix64(k)) };
	struct ht_record *rec = ht_record_new();
	const struct api *a = &apis[rng_skewed(&r, N_APIS)];
	int64_t t = BASE_TIME + (int64_t)k * 3 / 10;
	char id[37], ip[40], user_arn[160], res_arn[160], msg[1024];
	const char *res_type = NULL;
	struct json_object *res, *ro, *x;
	int v = 0;

	if (rec == NULL)
		return -ENOMEM;
	rec->event_time = (time_t)t;
	v |= rec_str(&rec->event_version, HT_EVENT_VERSION);
	rec->user_identity = gen_identity(&r, t, user_arn, sizeof(user_arn));
	v |= rec_str(&rec->event_source, a->source);
	v |= rec_str(&rec->event_name, a->name);
	v |= rec_str(&rec->aws_region, rng_below(&r, 10) ? HOME_REGION : "eu-west-1");
	if (rng_below(&r, 5) == 0)
		snprintf(ip, sizeof(ip), "%s", a->kind == K_LOGS ? "lambda.amazonaws.com" :
		    "AWS Internal");
	else
		snprintf(ip, sizeof(ip), "%u.%u.%u.%u", 10 + rng_skewed(&r, 3) * 82,
		    rng_skewed(&r, 256), rng_below(&r, 256), 1 + rng_below(&r, 254));
	v |= rec_str(&rec->source_ip_address, ip);
	v |= rec_str(&rec->user_agent, agents[rng_skewed(&r, 7)]);
	rec->request_parameters = gen_params(&r, a, res_arn, sizeof(res_arn), &res_type);
	if (rng_below(&r, 20) == 0) {
		const char *code = error_codes[rng_below(&r, 3)];

		v |= rec_str(&rec->error_code, code);
		snprintf(msg, sizeof(msg), "User: %s is not authorized to perform: %.*s:%s on "
		    "resource: %s because no identity-based policy allows the %.*s:%s action",
		    user_arn, (int)strcspn(a->source, "."), a->source, a->name,
		    res_arn[0] ? res_arn : "*", (int)strcspn(a->source, "."), a->source, a->name);
		v |= rec_str(&rec->error_message, msg);
		rec->response_elements = HT_JSON_NULL;
	} else {
		rec->response_elements = gen_response(&r, a, t);
	}
	if (a->kind == K_S3) {
		x = json_object_new_object();
		rand_chars(&r, B64, 76, msg);
		if (x == NULL)
			v = -ENOMEM;
		else {
			v |= jstr(x, "SignatureVersion", "SigV4");
			v |= jstr(x, "CipherSuite", "TLS_AES_128_GCM_SHA256");
			v |= jadd(x, "bytesTransferredIn", json_object_new_int(0));
			v |= jstr(x, "AuthenticationMethod", "AuthHeader");
			v |= jstr(x, "x-amz-id-2", msg);
			v |= jadd(x, "bytesTransferredOut", json_object_new_int(
			    (int)rng_below(&r, 4000)));
		}
		rec->additional_event_data = x;
	}
	uuid_of(&r, id);
	v |= rec_str(&rec->request_id, id);
	uuid_of(&r, id);
	v |= rec_str(&rec->event_id, id);
	rec->read_only = a->read_only ? HT_TRUE : HT_FALSE;
	if (res_arn[0] && res_type && rng_below(&r, 10) < 6) {
		res = json_object_new_array();
		ro = json_object_new_object();
		if (res == NULL || ro == NULL) {
			json_object_put(res);
			json_object_put(ro);
			v = -ENOMEM;
		} else {
			v |= jstr(ro, "accountId", ACCOUNT);
			v |= jstr(ro, "type", res_type);
			v |= jstr(ro, "ARN", res_arn);
			v |= json_object_array_add(res, ro);
			rec->resources = res;
		}
	}
	v |= rec_str(&rec->event_type, "AwsApiCall");
	rec->management_event = HT_TRUE;
	v |= rec_str(&rec->recipient_account_id, ACCOUNT);
	v |= rec_str(&rec->event_category, "Management");
	if (rng_below(&r, 10) < 7) {
		x = json_object_new_object();
		snprintf(msg, sizeof(msg), "%.*s.%s.amazonaws.com", (int)strcspn(a->source, "."),
		    a->source, HOME_REGION);
		if (x == NULL)
			v = -ENOMEM;
		else {
			v |= jstr(x, "tlsVersion", rng_below(&r, 4) ? "TLSv1.3" : "TLSv1.2");
			v |= jstr(x, "cipherSuite", "TLS_AES_128_GCM_SHA256");
			v |= jstr(x, "clientProvidedHostHeader", msg);
		}
		rec->tls_details = x;
	}
	if (v || rec->user_identity == NULL || rec->request_parameters == NULL ||
	    rec->response_elements == NULL) {
		ht_record_free(rec);
		return -ENOMEM;
	}
	*ret = rec;
	return 0;
}

static int
doc_append(struct doc *d, const char *p, size_t n)
{
	if (d->len + n > d->cap) {
		size_t cap = d->cap ? d->cap : 1 << 20;
		char *nb;

		while (cap < d->len + n)
			cap *= 2;
		nb = realloc(d->buf, cap);
		if (nb == NULL)
			return -ENOMEM;
		d->buf = nb;
		d->cap = cap;
	}
	memcpy(d->buf + d->len, p, n);
	d->len += n;
	return 0;
}

static int
doc_build(struct doc *d, size_t n, uint64_t seed)
{
	static const char head[] = "{\"Records\":[", tail[] = "]}";
	struct printbuf *pb = printbuf_new();
	int v;

	d->off = calloc(n, sizeof(*d->off));
	d->rlen = calloc(n, sizeof(*d->rlen));
	d->recs = calloc(n, sizeof(*d->recs));
	if (pb == NULL || d->off == NULL || d->rlen == NULL || d->recs == NULL) {
		printbuf_free(pb);
		return -ENOMEM;
	}
	v = doc_append(d, head, sizeof(head) - 1);
	d->head_len = d->len;
	for (size_t i = 0; v == 0 && i < n; i++) {
		v = gen_record(seed, i, &d->recs[i]);
		if (v < 0)
			break;
		d->n++;
		printbuf_reset(pb);
		v = ht_record_serialize(d->recs[i], pb);
		if (v == 0 && i > 0)
			v = doc_append(d, ",", 1);
		d->off[i] = d->len;
		d->rlen[i] = (size_t)pb->bpos;
		if (v == 0)
			v = doc_append(d, pb->buf, (size_t)pb->bpos);
	}
	if (v == 0)
		v = doc_append(d, tail, sizeof(tail) - 1);
	printbuf_free(pb);
	return v;
}

static void
doc_free(struct doc *d)
{
	for (size_t i = 0; d->recs && i < d->n; i++)
		ht_record_free(d->recs[i]);
	free(d->recs);
	free(d->off);
	free(d->rlen);
	free(d->buf);
}

/* ---- the two compressors ---- */

/* ours: as batch_fill does it. */
static int
run_ours(const struct doc *d, const char *out, double *wall, double *cpu, uint64_t *out_bytes)
{
	static const char tail[] = "]}";
	struct ht_gz *gz = NULL;
	double t0, c0;
	int fd, v;

	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	t0 = mono_s();
	c0 = thread_cpu_s();
	v = ht_gz_new(fd, GZIP_LEVEL, &gz);
	if (v == 0)
		v = ht_gz_write(gz, d->buf, d->head_len);
	for (size_t i = 0; v == 0 && i < d->n; i++) {
		if (i > 0)
			v = ht_gz_write(gz, ",", 1);
		if (v == 0)
			v = ht_gz_write(gz, d->buf + d->off[i], d->rlen[i]);
	}
	if (v == 0)
		v = ht_gz_write(gz, tail, sizeof(tail) - 1);
	if (v == 0)
		v = ht_gz_finish(gz, out_bytes);
	ht_gz_free(gz);
	*cpu = thread_cpu_s() - c0;
	*wall = mono_s() - t0;
	close(fd);
	return v;
}

/* gzip -6 -c in > out, from fork to exit.  0, -errno, or -EIO if gzip
 * failed. */
static int
run_gzip(const char *gzip, const char *in, const char *out, double *wall, double *cpu)
{
	struct rusage ru;
	double t0;
	pid_t pid;
	int fd, st;

	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	t0 = mono_s();
	pid = fork();
	if (pid < 0) {
		close(fd);
		return -errno;
	}
	if (pid == 0) {
		if (dup2(fd, STDOUT_FILENO) < 0)
			_exit(126);
		execlp(gzip, gzip, "-6", "-c", in, (char *)NULL);
		_exit(127);
	}
	close(fd);
	if (wait4(pid, &st, 0, &ru) < 0)
		return -errno;
	*wall = mono_s() - t0;
	*cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "bench_gzip: %s -6 -c %s: %s %d\n", gzip, in,
		    WIFEXITED(st) ? "exit status" : "signal",
		    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		return -EIO;
	}
	return 0;
}

/* Does the gzip file at path inflate to exactly want[0..len)? */
static bool
inflates_to(const char *path, const char *want, size_t len)
{
	static unsigned char in[1 << 16], outb[1 << 16];
	z_stream zs = { 0 };
	size_t pos = 0;
	bool ok = true, end = false;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), zr = Z_OK;

	if (fd < 0 || inflateInit2(&zs, 15 + 16) != Z_OK) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while (ok && !end && (n = read(fd, in, sizeof(in))) > 0) {
		zs.next_in = in;
		zs.avail_in = (uInt)n;
		do {
			size_t have;

			zs.next_out = outb;
			zs.avail_out = sizeof(outb);
			zr = inflate(&zs, Z_NO_FLUSH);
			if (zr != Z_OK && zr != Z_STREAM_END) {
				ok = false;
				break;
			}
			have = sizeof(outb) - zs.avail_out;
			if (pos + have > len || memcmp(want + pos, outb, have) != 0)
				ok = false;
			pos += have;
			if (zr == Z_STREAM_END)
				end = true;
		} while (ok && !end && zs.avail_out == 0);
	}
	inflateEnd(&zs);
	close(fd);
	return ok && end && pos == len;
}

static bool
same_file(const char *a, const char *b)
{
	static char ba[1 << 16], bb[1 << 16];
	int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);
	bool same = fa >= 0 && fb >= 0;
	ssize_t na, nb;

	while (same) {
		na = read(fa, ba, sizeof(ba));
		nb = read(fb, bb, sizeof(bb));
		if (na != nb || na < 0 || memcmp(ba, bb, (size_t)na) != 0)
			same = false;
		if (na <= 0)
			break;
	}
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	return same;
}

static int
write_file(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -errno;
		}
		off += (size_t)w;
	}
	return close(fd) < 0 ? -errno : 0;
}

static uint64_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* ---- the whole build path ---- */

static size_t build_acked;
static int build_err;

static void
build_durable_cb(int err, void *arg)
{
	if (err < 0 && build_err == 0)
		build_err = err;
	if (err == 0)
		build_acked += (size_t)(uintptr_t)arg;
}

/* Append the document's records to a new history under dir; the range
 * they occupy in *from, *to. */
static int
history_load(const struct doc *d, const char *dir, struct ht_history_pos *from,
    struct ht_history_pos *to)
{
	struct ht_conf_history conf = { .retention_days = 36500, .fsync = HT_FSYNC_INTERVAL,
		.fsync_interval_ms = 1000 };
	struct event_base *base = event_base_new();
	struct ht_history *h = NULL;
	struct iovec iov[APPEND_BATCH];
	int v;

	if (base == NULL)
		return -ENOMEM;
	v = ht_history_open(dir, &conf, base, NULL, &h);
	if (v < 0) {
		event_base_free(base);
		return v;
	}
	ht_history_end(h, from);
	for (size_t i = 0; v == 0 && i < d->n; i += APPEND_BATCH) {
		size_t n = d->n - i < APPEND_BATCH ? d->n - i : APPEND_BATCH;

		for (size_t j = 0; j < n; j++)
			iov[j] = (struct iovec){ d->buf + d->off[i + j], d->rlen[i + j] };
		v = ht_history_append_records(h, iov,
		    (const struct ht_record *const *)(d->recs + i), n, build_durable_cb,
		    (void *)(uintptr_t)n);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	for (int k = 0; v == 0 && build_acked < d->n && build_err == 0 && k < 1000; k++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	ht_history_end(h, to);
	ht_history_close(h);
	event_base_free(base);
	if (v == 0 && build_err < 0)
		v = build_err;
	if (v == 0 && build_acked < d->n)
		v = -ETIMEDOUT;
	return v;
}

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL) {
		fprintf(stderr, "bench_gzip: out of memory\n");
		exit(1);
	}
	return p;
}

/* One ht_batch_build of the whole range. */
static int
run_build(const char *hist, const char *spool, const char *key, const struct ht_history_pos *from,
    const struct ht_history_pos *to, size_t want, double *wall, double *cpu, uint64_t *out_bytes)
{
	struct ht_batch_job *j = calloc(1, sizeof(*j));
	double t0, c0;
	int v;

	if (j == NULL)
		return -ENOMEM;
	j->history_dir = xstrdup(hist);
	j->spool_root = xstrdup(spool);
	j->key = xstrdup(key);
	j->home_region = xstrdup(HOME_REGION);
	j->from = *from;
	j->to = *to;
	j->max_events = 1000000;
	j->max_bytes = UINT64_MAX;
	j->include_global = true;
	t0 = mono_s();
	c0 = thread_cpu_s();
	ht_batch_build(j);
	*cpu = thread_cpu_s() - c0;
	*wall = mono_s() - t0;
	v = j->err;
	if (v < 0)
		fprintf(stderr, "bench_gzip: ht_batch_build: %s\n", j->errmsg);
	else if (j->events != want) {
		fprintf(stderr, "bench_gzip: ht_batch_build put %" PRIu64 " records in the file, "
		    "want %zu (%" PRIu64 " skipped, %" PRIu64 " damaged)\n", j->events, want,
		    j->skipped, j->damaged);
		v = -EIO;
	}
	*out_bytes = j->bytes_out;
	ht_batch_job_free(j);
	return v;
}

/* ---- main ---- */

static void
usage(FILE *f)
{
	fprintf(f, "usage: bench_gzip [--records N] [--rounds R] [--dir DIR] [--gzip PROG] "
	    "[--no-build] [--keep] [--seed S]\n"
	    "  --records N  records in the document (default 10000)\n"
	    "  --rounds R   timed rounds of each (default 7, at most %d)\n"
	    "  --dir DIR    where the scratch directory goes (default $TMPDIR, else /tmp)\n"
	    "  --gzip PROG  the gzip to compare with (default gzip, from PATH)\n"
	    "  --no-build   skip the ht_batch_build measurement\n", MAX_ROUNDS);
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "records", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "dir", required_argument, NULL, 'd' },
		{ "gzip", required_argument, NULL, 'g' },
		{ "no-build", no_argument, NULL, 'B' },
		{ "keep", no_argument, NULL, 'k' },
		{ "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .records = 10000, .rounds = 7, .gzip = "gzip", .build = true,
		.seed = 1 };
	o->dir = getenv("TMPDIR");
	if (o->dir == NULL || o->dir[0] == '\0')
		o->dir = "/tmp";
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->records = (size_t)strtoull(optarg, NULL, 10);
			break;
		case 'r':
			o->rounds = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			o->dir = optarg;
			break;
		case 'g':
			o->gzip = optarg;
			break;
		case 'B':
			o->build = false;
			break;
		case 'k':
			o->keep = true;
			break;
		case 's':
			o->seed = strtoull(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc || o->records == 0 || o->rounds == 0 || o->rounds > MAX_ROUNDS) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

static void
rm_tree(const char *dir)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		execlp("rm", "rm", "-rf", "--", dir, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		(void)waitpid(pid, &st, 0);
}

#define MB(x) ((double)(x) / 1e6)

int
main(int argc, char **argv)
{
	struct opts o;
	struct doc d = { 0 };
	struct series ours = { 0 }, gz = { 0 }, empty = { 0 }, build = { 0 };
	char dir[PATH_MAX], in[PATH_MAX + 16], out_ours[PATH_MAX + 16], out_gzip[PATH_MAX + 16];
	char in_empty[PATH_MAX + 16], out_empty[PATH_MAX + 16], hist[PATH_MAX + 16];
	char spool[PATH_MAX + 16], key[512], built[PATH_MAX + 600];
	struct ht_history_pos from, to;
	double t0, w, c, gen_s;
	double m_ours_w, m_gz_w, m_ours_c, m_gz_c, m_empty_w, m_empty_c, r_w, r_c, r_s;
	bool ok = true, pass;
	int v;

	setvbuf(stdout, NULL, _IOLBF, 0);
	log_init("bench_gzip", HT_LOG_WARNING, 0);
	if (parse_opts(argc, argv, &o) < 0)
		return 2;
	if (snprintf(dir, sizeof(dir), "%s/bench_gzip.XXXXXX", o.dir) >= (int)sizeof(dir) ||
	    mkdtemp(dir) == NULL) {
		fprintf(stderr, "bench_gzip: cannot make a directory under %s: %s\n", o.dir,
		    strerror(errno));
		return 1;
	}
	snprintf(in, sizeof(in), "%s/doc.json", dir);
	snprintf(in_empty, sizeof(in_empty), "%s/empty.json", dir);
	snprintf(out_ours, sizeof(out_ours), "%s/ours.json.gz", dir);
	snprintf(out_gzip, sizeof(out_gzip), "%s/gzip.json.gz", dir);
	snprintf(out_empty, sizeof(out_empty), "%s/empty.json.gz", dir);
	snprintf(hist, sizeof(hist), "%s/history", dir);
	snprintf(spool, sizeof(spool), "%s/spool", dir);

	t0 = mono_s();
	v = doc_build(&d, o.records, o.seed);
	gen_s = mono_s() - t0;
	if (v == 0)
		v = write_file(in, d.buf, d.len);
	if (v == 0)
		v = write_file(in_empty, "", 0);
	if (v < 0) {
		fprintf(stderr, "bench_gzip: preparing the document: %s\n", strerror(-v));
		ok = false;
		goto out;
	}
	printf("bench_gzip: %zu records, %.2f MB of JSON (%.0f bytes/record, built in %.1f s), "
	    "level %d, %u rounds, %ld CPUs, files in %s\n", d.n, MB(d.len),
	    (double)d.len / (double)d.n, gen_s, GZIP_LEVEL, o.rounds,
	    sysconf(_SC_NPROCESSORS_ONLN), dir);

	/* Warm-up (page cache, the gzip binary, allocator), not counted. */
	v = run_ours(&d, out_ours, &w, &c, &ours.out_bytes);
	if (v == 0)
		v = run_gzip(o.gzip, in, out_gzip, &w, &c);
	if (v < 0) {
		fprintf(stderr, "bench_gzip: warm-up failed: %s\n", strerror(-v));
		ok = false;
		goto out;
	}
	for (unsigned r = 0; r < o.rounds; r++) {
		for (int side = 0; side < 2 && v == 0; side++) {
			if ((side == 0) == (r % 2 == 0)) {
				v = run_ours(&d, out_ours, &ours.wall[ours.n], &ours.cpu[ours.n],
				    &ours.out_bytes);
				ours.n++;
			} else {
				v = run_gzip(o.gzip, in, out_gzip, &gz.wall[gz.n], &gz.cpu[gz.n]);
				gz.n++;
			}
		}
		if (v == 0)
			v = run_gzip(o.gzip, in_empty, out_empty, &empty.wall[empty.n],
			    &empty.cpu[empty.n]);
		empty.n++;
		if (v < 0)
			break;
	}
	if (v < 0) {
		fprintf(stderr, "bench_gzip: a round failed: %s\n", strerror(-v));
		ok = false;
		goto out;
	}
	gz.out_bytes = file_size(out_gzip);

	m_ours_w = median(ours.wall, ours.n);
	m_ours_c = median(ours.cpu, ours.n);
	m_gz_w = median(gz.wall, gz.n);
	m_gz_c = median(gz.cpu, gz.n);
	m_empty_w = median(empty.wall, empty.n);
	m_empty_c = median(empty.cpu, empty.n);
	r_w = m_ours_w / m_gz_w;
	r_c = m_gz_c > 0 ? m_ours_c / m_gz_c : 0;
	r_s = (double)ours.out_bytes / (double)gz.out_bytes;
	pass = r_w <= TARGET_RATIO && r_c <= TARGET_RATIO;

	printf("\n== gzip of one {\"Records\":[...]} document: ours vs gzip -6 (medians of %u "
	    "rounds; min in brackets) ==\n", o.rounds);
	printf("%-34s %10s %10s %10s %12s %12s\n", "", "wall ms", "CPU ms", "MB/s wall",
	    "out bytes", "ratio");
	printf("%-34s %10.1f %10.1f %10.1f %12" PRIu64 " %11.2fx\n",
	    "ours (ht_gz, per record, as batch)", m_ours_w * 1e3, m_ours_c * 1e3,
	    MB(d.len) / m_ours_w, ours.out_bytes, (double)d.len / (double)ours.out_bytes);
	printf("%-34s [%8.1f] [%8.1f]\n", "", minimum(ours.wall, ours.n) * 1e3,
	    minimum(ours.cpu, ours.n) * 1e3);
	printf("%-34s %10.1f %10.1f %10.1f %12" PRIu64 " %11.2fx\n",
	    "gzip -6 -c (process, incl. start)", m_gz_w * 1e3, m_gz_c * 1e3, MB(d.len) / m_gz_w,
	    gz.out_bytes, (double)d.len / (double)gz.out_bytes);
	printf("%-34s [%8.1f] [%8.1f]\n", "", minimum(gz.wall, gz.n) * 1e3,
	    minimum(gz.cpu, gz.n) * 1e3);
	printf("%-34s %10.1f %10.1f\n", "gzip -6 -c of an empty file", m_empty_w * 1e3,
	    m_empty_c * 1e3);
	printf("%-34s %10.2f %10.2f   (ms per MB of JSON)\n", "ours per MB", m_ours_w * 1e3 /
	    MB(d.len), m_ours_c * 1e3 / MB(d.len));
	printf("%-34s %10.2f %10.2f   (ms per MB, empty-file start-up taken out)\n",
	    "gzip -6 per MB", (m_gz_w - m_empty_w) * 1e3 / MB(d.len),
	    (m_gz_c - m_empty_c) * 1e3 / MB(d.len));
	printf("\nratio ours / gzip -6:  wall %.2fx  CPU %.2fx  (start-up excluded: wall %.2fx, "
	    "CPU %.2fx)  output size %.3fx\n", r_w, r_c, m_ours_w / (m_gz_w - m_empty_w),
	    m_gz_c - m_empty_c > 0 ? m_ours_c / (m_gz_c - m_empty_c) : 0, r_s);
	printf("target <= %.1fx (median wall and CPU, gzip with its start-up): %s\n",
	    TARGET_RATIO, pass ? "PASS" : "MISS");

	if (!inflates_to(out_ours, d.buf, d.len)) {
		printf("check: FAILED: our output does not inflate to the document\n");
		ok = false;
	} else if (!inflates_to(out_gzip, d.buf, d.len)) {
		printf("check: FAILED: gzip's output does not inflate to the document\n");
		ok = false;
	} else {
		printf("check: both outputs inflate to the document byte for byte\n");
	}

	if (!o.build)
		goto out;
	/* ---- the whole build path ---- */
	v = history_load(&d, hist, &from, &to);
	if (v < 0) {
		fprintf(stderr, "bench_gzip: loading the history: %s\n", strerror(-v));
		ok = false;
		goto out;
	}
	v = ht_batch_key(key, sizeof(key), NULL, NULL, ACCOUNT, HOME_REGION, BASE_TIME);
	if (v < 0) {
		ok = false;
		goto out;
	}
	snprintf(built, sizeof(built), "%s/%s", spool, key);
	v = run_build(hist, spool, key, &from, &to, d.n, &w, &c, &build.out_bytes); /* warm-up */
	for (unsigned r = 0; v == 0 && r < o.rounds; r++) {
		v = run_build(hist, spool, key, &from, &to, d.n, &build.wall[build.n],
		    &build.cpu[build.n], &build.out_bytes);
		build.n++;
	}
	if (v < 0) {
		fprintf(stderr, "bench_gzip: ht_batch_build failed: %s\n", strerror(-v));
		ok = false;
		goto out;
	}
	printf("\n== the whole build path: ht_batch_build of the %zu records from history "
	    "(read, gzip, stage, fsync, rename) ==\n", d.n);
	printf("%-34s %10s %10s %10s %12s\n", "", "wall ms", "CPU ms", "MB/s wall", "out bytes");
	printf("%-34s %10.1f %10.1f %10.1f %12" PRIu64 "\n", "ht_batch_build",
	    median(build.wall, build.n) * 1e3, median(build.cpu, build.n) * 1e3,
	    MB(d.len) / median(build.wall, build.n), build.out_bytes);
	printf("%-34s [%8.1f] [%8.1f]\n", "", minimum(build.wall, build.n) * 1e3,
	    minimum(build.cpu, build.n) * 1e3);
	printf("gzip share of the build: %.0f%% of its CPU time; build / gzip -6: wall %.2fx, "
	    "CPU %.2fx\n", 100.0 * m_ours_c / median(build.cpu, build.n),
	    median(build.wall, build.n) / m_gz_w, median(build.cpu, build.n) / m_gz_c);
	if (same_file(built, out_ours))
		printf("check: the built file is byte-identical to ours above\n");
	else {
		printf("check: FAILED: the built file %s differs from %s\n", built, out_ours);
		ok = false;
	}
out:
	doc_free(&d);
	if (o.keep)
		printf("kept %s\n", dir);
	else
		rm_tree(dir);
	return ok ? 0 : 1;
}

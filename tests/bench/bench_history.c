/*
 * bench_history.c - `make bench`: the 90-day event history at N events.
 *
 * Generates N CloudTrail records spread over D days with realistic attribute
 * cardinalities (8 EventSources, 300 EventNames, 3000 Usernames, 5000
 * ResourceNames of 20 ResourceTypes, 50 AccessKeyIds, Zipf-like
 * popularity), appends them through ht_history_append_records in batches of
 * 100 under an injected clock that walks day by day (fsync=interval), then
 * measures, each as a table:
 *   a. append rate (wall clock of the append calls and loop turns only),
 *   b. bytes on disk per event (segments + index runs),
 *   c. cold start: ht_history_open until ready to serve, and the first
 *      lookups, with the history files evicted from the page cache and warm,
 *   d. LookupEvents latency, first page and page 20, per attribute kind and
 *      per time window,
 *   e. RSS while loading and while serving.
 * Issue 3's targets are printed next to the figures; missing one is not an
 * error: the exit status is 1 only when something failed.
 *
 * Event k is a pure function of (seed, k): its fields come from a PRNG
 * seeded with a hash of both.  So the bench holds one chunk of events at a
 * time, and a query can regenerate any event (an EventId to look up) without
 * having stored it.
 */
#include "ht_build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <json-c/printbuf.h>

#include "conf.h"
#include "fileio.h"
#include "history/history.h"
#include "history/index.h"
#include "history/lookup.h"
#include "log.h"
#include "record.h"

#define BATCH		100		/* events per append call, as ingest batches them */
#define CHUNK		2000		/* events generated ahead of each timed stretch */
#define PAGE		50		/* MaxResults */
#define DEEP_PAGE	20		/* the deep page measured */
#define DAY_S		86400
#define BASE_TIME	1735689600	/* 2025-01-01T00:00:00Z: fixed, so runs compare */
#define ACCOUNT		"123456789012"
#define STALL_S		10		/* index jobs made no progress for this long: done */

#define N_SOURCES	8
#define N_VERBS		8
#define N_NOUNS		5
#define N_NAMES		300
#define N_USERS		3000
#define N_RESOURCES	5000
#define N_TYPES		20
#define N_KEYS		50

/* Issue 3's targets. */
#define TARGET_APPEND_EPS	100000.0
#define TARGET_COLD_MS		1000.0
#define TARGET_P99_MS		5.0
#define TARGET_RSS_MB		64.0

struct opts {
	uint64_t events;
	unsigned days;
	const char *dir;
	bool keep;
	bool reuse;			/* dir holds the history of an earlier --keep run */
	unsigned queries;
	unsigned deep_queries;
	uint64_t seed;
};

/* A set of attribute values with Zipf-like popularity: value i is drawn
 * with weight 1/(i + shift), so a low shift makes a steep head. */
struct pool {
	size_t n;
	char **vals;
	double *cdf;
};

struct bench {
	struct opts o;
	char dir[PATH_MAX];
	struct event_base *base;
	struct ht_conf_history conf;
	struct ht_history *h;
	struct pool names, users, resources, keys;
	uint64_t acked;			/* events acknowledged durable */
	size_t appending;		/* events in the append call being made */
	int ack_err;
	int64_t span_end;		/* last second of the generated days */
};

/* The injected clock: history asks it for "now", the loader moves it
 * through the days.  now_fn takes no argument, hence a global. */
static int64_t bench_clock;

static int64_t
bench_now(void)
{
	return bench_clock;
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the calling thread. */
static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- random numbers ---- */

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

static double
rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static uint32_t
rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(rng_unit(r) * n);
}

/* ---- value pools ---- */

static const char *const sources[N_SOURCES] = {
	"ec2.amazonaws.com", "s3.amazonaws.com", "iam.amazonaws.com", "sts.amazonaws.com",
	"lambda.amazonaws.com", "dynamodb.amazonaws.com", "kms.amazonaws.com",
	"logs.amazonaws.com",
};
static const char *const verbs[N_VERBS] = {
	"Describe", "Get", "List", "Create", "Delete", "Update", "Put", "Modify",
};
static const char *const nouns[N_SOURCES][N_NOUNS] = {
	{ "Instances", "Volumes", "SecurityGroups", "Snapshots", "NetworkInterfaces" },
	{ "BucketPolicy", "Object", "BucketAcl", "BucketTagging", "ObjectRetention" },
	{ "User", "Role", "Policy", "AccessKey", "Group" },
	{ "CallerIdentity", "SessionToken", "FederationToken", "AccessKeyInfo", "Credentials" },
	{ "Function", "Alias", "EventSourceMapping", "Layer", "FunctionConfiguration" },
	{ "Table", "Item", "Backup", "GlobalTable", "TimeToLive" },
	{ "Key", "KeyPolicy", "Grant", "KeyRotationStatus", "KeyAlias" },
	{ "LogGroup", "LogStream", "LogEvents", "SubscriptionFilter", "MetricFilter" },
};
static const char *const first_names[20] = {
	"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
	"mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter",
	"yolanda",
};
static const char *const last_names[15] = {
	"smith", "jones", "garcia", "miller", "davis", "lopez", "wilson", "anderson", "thomas",
	"moore", "martin", "lee", "walker", "hall", "young",
};
/* ResourceType, and the ARN of its resources around their id. */
static const char *const res_types[N_TYPES][3] = {
	{ "AWS::EC2::Instance", "arn:aws:ec2:us-east-1:" ACCOUNT ":instance/i-0", "" },
	{ "AWS::EC2::Volume", "arn:aws:ec2:us-east-1:" ACCOUNT ":volume/vol-0", "" },
	{ "AWS::EC2::SecurityGroup", "arn:aws:ec2:us-east-1:" ACCOUNT ":security-group/sg-", "" },
	{ "AWS::EC2::Snapshot", "arn:aws:ec2:us-east-1:" ACCOUNT ":snapshot/snap-", "" },
	{ "AWS::EC2::NetworkInterface", "arn:aws:ec2:us-east-1:" ACCOUNT ":network-interface/eni-",
	    "" },
	{ "AWS::EC2::Image", "arn:aws:ec2:us-east-1::image/ami-", "" },
	{ "AWS::S3::Bucket", "arn:aws:s3:::data-", "" },
	{ "AWS::S3::Object", "arn:aws:s3:::logs-archive/2025/", ".json.gz" },
	{ "AWS::IAM::User", "arn:aws:iam::" ACCOUNT ":user/u-", "" },
	{ "AWS::IAM::Role", "arn:aws:iam::" ACCOUNT ":role/service-role/r-", "" },
	{ "AWS::IAM::Policy", "arn:aws:iam::" ACCOUNT ":policy/p-", "" },
	{ "AWS::IAM::Group", "arn:aws:iam::" ACCOUNT ":group/g-", "" },
	{ "AWS::Lambda::Function", "arn:aws:lambda:us-east-1:" ACCOUNT ":function:fn-", "" },
	{ "AWS::DynamoDB::Table", "arn:aws:dynamodb:us-east-1:" ACCOUNT ":table/t-", "" },
	{ "AWS::KMS::Key", "arn:aws:kms:us-east-1:" ACCOUNT ":key/", "-5c1e-4a3b-9f2d-0e6b" },
	{ "AWS::KMS::Alias", "arn:aws:kms:us-east-1:" ACCOUNT ":alias/a-", "" },
	{ "AWS::Logs::LogGroup", "arn:aws:logs:us-east-1:" ACCOUNT ":log-group:/app/", "" },
	{ "AWS::SNS::Topic", "arn:aws:sns:us-east-1:" ACCOUNT ":topic-", "" },
	{ "AWS::SQS::Queue", "arn:aws:sqs:us-east-1:" ACCOUNT ":queue-", "" },
	{ "AWS::STS::AssumedRole", "arn:aws:sts::" ACCOUNT ":assumed-role/r-", "/session" },
};
static const char *const agents[6] = {
	"aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0-18-amd64 exe/x86_64.debian.12",
	"Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.0 lang/python#3.11.2",
	"aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64",
	"console.amazonaws.com",
	"Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.42.0",
	"aws-sdk-java/2.25.16 Linux/6.1.0 OpenJDK_64-Bit_Server_VM/17.0.10",
};
static const char *const regions[4] = { "us-east-1", "us-west-2", "eu-west-1", "ap-south-1" };

static void
pool_free(struct pool *p)
{
	for (size_t i = 0; p->vals && i < p->n; i++)
		free(p->vals[i]);
	free(p->vals);
	free(p->cdf);
}

/* n values, vals[i] from name(i); weights 1/(i + shift). 0 or -ENOMEM. */
static int
pool_init(struct pool *p, size_t n, double shift, char *(*name)(size_t i, uint64_t seed),
    uint64_t seed)
{
	double sum = 0, acc = 0;

	p->n = n;
	p->vals = calloc(n, sizeof(*p->vals));
	p->cdf = calloc(n, sizeof(*p->cdf));
	if (p->vals == NULL || p->cdf == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		p->vals[i] = name(i, seed);
		if (p->vals[i] == NULL)
			return -ENOMEM;
		sum += 1.0 / ((double)i + shift);
	}
	for (size_t i = 0; i < n; i++) {
		acc += 1.0 / ((double)i + shift) / sum;
		p->cdf[i] = acc;
	}
	p->cdf[n - 1] = 1.0;
	return 0;
}

/* An index drawn with the pool's popularity. */
static size_t
pool_zipf(const struct pool *p, struct rng *r)
{
	double u = rng_unit(r);
	size_t lo = 0, hi = p->n - 1;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (p->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static char *
fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *
fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	int v;

	va_start(ap, f);
	v = vasprintf(&s, f, ap);
	va_end(ap);
	return v < 0 ? NULL : s;
}

/* Name i's source is i % N_SOURCES: every source has verbs x nouns. */
static char *
name_event(size_t i, uint64_t seed)
{
	size_t j = i / N_SOURCES;

	return fmt("%s%s", verbs[j % N_VERBS], nouns[i % N_SOURCES][j / N_VERBS % N_NOUNS]);
}

static char *
name_user(size_t i, uint64_t seed)
{
	if (i < 300)
		return fmt("%s.%s", first_names[i % 20], last_names[i / 20]);
	return fmt("%s.%s%zu", first_names[i % 20], last_names[i / 20 % 15], i / 300);
}

/* Resource i has type i % N_TYPES; ids are a bijection of i, so unique. */
static char *
name_resource(size_t i, uint64_t seed)
{
	return fmt("%s%08x%s", res_types[i % N_TYPES][1], (unsigned)((uint32_t)i * 2654435761u),
	    res_types[i % N_TYPES][2]);
}

static char *
name_key(size_t i, uint64_t seed)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	uint64_t x = mix64(seed ^ (0xacce55ULL + i));
	char k[21] = "AKIA";

	for (int c = 0; c < 16; c++, x >>= 5)
		k[4 + c] = alpha[x & 31];
	return strdup(k);
}

static int
pools_init(struct bench *b)
{
	int v;

	v = pool_init(&b->names, N_NAMES, 1, name_event, b->o.seed);
	if (v == 0)
		v = pool_init(&b->users, N_USERS, 5, name_user, b->o.seed);
	if (v == 0)
		v = pool_init(&b->resources, N_RESOURCES, 5, name_resource, b->o.seed);
	if (v == 0)
		v = pool_init(&b->keys, N_KEYS, 1, name_key, b->o.seed);
	return v;
}

/* ---- event generation ---- */

static uint64_t
day_first(const struct bench *b, unsigned d)
{
	return b->o.events * d / b->o.days;
}

static unsigned
day_of_event(const struct bench *b, uint64_t k)
{
	unsigned d = (unsigned)(k * b->o.days / b->o.events);

	while (d + 1 < b->o.days && day_first(b, d + 1) <= k)
		d++;
	while (d > 0 && day_first(b, d) > k)
		d--;
	return d;
}

/* Spread evenly over the day, with a little jitter (so not strictly in
 * order), never outside the day. */
static int64_t
event_time(const struct bench *b, uint64_t k, struct rng *r)
{
	unsigned d = day_of_event(b, k);
	uint64_t first = day_first(b, d), n = day_first(b, d + 1) - first;
	int64_t start = BASE_TIME + (int64_t)d * DAY_S;
	int64_t t = start + (int64_t)((k - first) * DAY_S / n) + (int64_t)rng_below(r, 5) - 2;

	return t < start ? start : t > start + DAY_S - 1 ? start + DAY_S - 1 : t;
}

static void
uuid_of(uint64_t x, uint64_t y, char out[37])
{
	snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012" PRIx64, (unsigned)(x >> 32),
	    (unsigned)(x >> 16) & 0xffff, (unsigned)x & 0xfff,
	    0x8000 | ((unsigned)(y >> 48) & 0x3fff), y & UINT64_C(0xffffffffffff));
}

static void
event_id(const struct bench *b, uint64_t k, char out[37])
{
	uint64_t x = mix64(b->o.seed ^ mix64(k ^ 0x1d1d1d1dULL));

	uuid_of(x, mix64(x), out);
}

/* Add key: value (a new string) to obj; -ENOMEM on failure. */
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

static struct json_object *
gen_identity(const struct bench *b, size_t user, size_t key)
{
	struct json_object *o = json_object_new_object();
	char pid[22] = "AIDA", *arn;
	uint64_t x = mix64(b->o.seed ^ (0x5eed0000ULL + user));
	int v = 0;

	if (o == NULL)
		return NULL;
	for (int c = 0; c < 17; c++, x >>= 3)
		pid[4 + c] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[(x & 7) + (c & 3) * 8];
	arn = fmt("arn:aws:iam::" ACCOUNT ":user/%s", b->users.vals[user]);
	v |= jstr(o, "type", "IAMUser");
	v |= jstr(o, "principalId", pid);
	v |= arn ? jstr(o, "arn", arn) : -ENOMEM;
	v |= jstr(o, "accountId", ACCOUNT);
	v |= jstr(o, "accessKeyId", b->keys.vals[key]);
	v |= jstr(o, "userName", b->users.vals[user]);
	free(arn);
	if (v) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* 0-2 resources: 40% none, 50% one, 10% two. */
static struct json_object *
gen_resources(const struct bench *b, struct rng *r)
{
	uint32_t u = rng_below(r, 20), n = u < 8 ? 0 : u < 18 ? 1 : 2;
	struct json_object *a = json_object_new_array();

	for (uint32_t i = 0; a && i < n; i++) {
		size_t res = pool_zipf(&b->resources, r);
		struct json_object *o = json_object_new_object();
		int v = 0;

		if (o == NULL) {
			json_object_put(a);
			return NULL;
		}
		v |= jstr(o, "accountId", ACCOUNT);
		v |= jstr(o, "type", res_types[res % N_TYPES][0]);
		v |= jstr(o, "ARN", b->resources.vals[res]);
		if (v || json_object_array_add(a, o) < 0) {
			json_object_put(o);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

/* A few fields, as the API calls would carry them. */
static struct json_object *
gen_params(const struct bench *b, struct rng *r, bool ro)
{
	struct json_object *o = json_object_new_object(), *f;
	char tok[37];
	int v = 0;

	if (o == NULL)
		return NULL;
	if (ro) {
		v |= jadd(o, "maxResults", json_object_new_int(10 * (int)(1 + rng_below(r, 100))));
		if (rng_below(r, 2))
			goto out;
		f = json_object_new_object();
		v |= f ? jstr(f, "name", "tag:team") : -ENOMEM;
		v |= f ? jstr(f, "value", first_names[rng_below(r, 20)]) : 0;
		v |= jadd(o, "filter", f);
	} else {
		uint64_t x = rng_next(r), y = rng_next(r);

		uuid_of(x, y, tok);
		v |= jstr(o, "clientToken", tok);
		v |= jadd(o, "dryRun", json_object_new_boolean(0));
	}
out:
	if (v) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static int
rec_str(char **field, const char *val)
{
	*field = strdup(val);
	return *field ? 0 : -ENOMEM;
}

/* The scalar fields of event k. */
static int
gen_scalars(const struct bench *b, uint64_t k, struct rng *r, size_t name, bool ro, bool data,
    struct ht_record *rec)
{
	uint64_t x = rng_next(r), y = rng_next(r);
	uint32_t ip1 = rng_below(r, 256), ip2 = rng_below(r, 256), ip3 = 1 + rng_below(r, 254);
	char id[37], ip[16];
	int v = 0;

	uuid_of(x, y, id);
	v |= rec_str(&rec->request_id, id);
	event_id(b, k, id);
	v |= rec_str(&rec->event_id, id);
	snprintf(ip, sizeof(ip), "10.%u.%u.%u", ip1, ip2, ip3);
	v |= rec_str(&rec->event_version, HT_EVENT_VERSION);
	v |= rec_str(&rec->event_source, sources[name % N_SOURCES]);
	v |= rec_str(&rec->event_name, b->names.vals[name]);
	v |= rec_str(&rec->aws_region, regions[rng_below(r, 4)]);
	v |= rec_str(&rec->source_ip_address, ip);
	v |= rec_str(&rec->user_agent, agents[rng_below(r, 6)]);
	v |= rec_str(&rec->event_type, "AwsApiCall");
	v |= rec_str(&rec->recipient_account_id, ACCOUNT);
	v |= rec_str(&rec->event_category, data ? "Data" : "Management");
	rec->read_only = ro ? HT_TRUE : HT_FALSE;
	rec->management_event = data ? HT_FALSE : HT_TRUE;
	return v ? -ENOMEM : 0;
}

/* Event k, a new record.  0 or -ENOMEM. */
static int
gen_event(const struct bench *b, uint64_t k, struct ht_record **ret)
{
	struct rng r = { mix64(b->o.seed ^ mix64(k)) };
	struct ht_record *rec = ht_record_new();
	size_t name, user, key;
	bool ro, data;
	int v;

	if (rec == NULL)
		return -ENOMEM;
	rec->event_time = (time_t)event_time(b, k, &r);
	name = pool_zipf(&b->names, &r);
	user = pool_zipf(&b->users, &r);
	key = pool_zipf(&b->keys, &r);
	ro = rng_below(&r, 100) < 70;
	data = rng_below(&r, 100) < 10;
	v = gen_scalars(b, k, &r, name, ro, data, rec);
	rec->user_identity = gen_identity(b, user, key);
	rec->resources = gen_resources(b, &r);
	rec->request_parameters = gen_params(b, &r, ro);
	rec->response_elements = ro ? HT_JSON_NULL : json_object_new_object();
	if (v < 0 || !rec->user_identity || !rec->resources || !rec->request_parameters ||
	    !rec->response_elements) {
		ht_record_free(rec);
		return -ENOMEM;
	}
	*ret = rec;
	return 0;
}

/* ---- files ---- */

typedef int (*walk_fn)(const char *path, const struct stat *st, void *arg);

/* Call fn for every file under dir (recursively), and for every directory
 * after its contents.  0 or the first error. */
static int
walk(const char *dir, walk_fn fn, void *arg)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int v = 0;

	if (d == NULL)
		return -errno;
	while (v == 0 && (de = readdir(d)) != NULL) {
		char path[PATH_MAX];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) < 0)
			v = -errno;
		else if (S_ISDIR(st.st_mode))
			v = walk(path, fn, arg);
		else
			v = fn(path, &st, arg);
	}
	closedir(d);
	if (v == 0) {
		struct stat st;

		v = lstat(dir, &st) < 0 ? -errno : fn(dir, &st, arg);
	}
	return v;
}

static int
walk_remove(const char *path, const struct stat *st, void *arg)
{
	return remove(path) < 0 ? -errno : 0;
}

static int
walk_du(const char *path, const struct stat *st, void *arg)
{
	if (S_ISREG(st->st_mode))
		*(uint64_t *)arg += (uint64_t)st->st_blocks * 512;
	return 0;
}

/* Evict a file from the page cache, as after a reboot (written back first:
 * only clean pages can be dropped). */
static int
walk_evict(const char *path, const struct stat *st, void *arg)
{
	int fd;

	if (!S_ISREG(st->st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	(void)fdatasync(fd);
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
	return 0;
}

/* Read a file through, so the lookups that follow find it in the page
 * cache.  *arg counts the bytes. */
static int
walk_warm(const char *path, const struct stat *st, void *arg)
{
	static char buf[1 << 20];
	ssize_t n;
	int fd;

	if (!S_ISREG(st->st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		*(uint64_t *)arg += (uint64_t)n;
	close(fd);
	return 0;
}

/* ---- memory ---- */

struct mem {
	long rss_kb, hwm_kb;
};

static void
mem_read(struct mem *m)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	m->rss_kb = m->hwm_kb = -1;
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			m->rss_kb = strtol(line + 6, NULL, 10);
		else if (strncmp(line, "VmHWM:", 6) == 0)
			m->hwm_kb = strtol(line + 6, NULL, 10);
	}
	fclose(f);
}

/* Restart the peak (VmHWM) from the current RSS.  false if the kernel
 * refused. */
static bool
mem_reset_peak(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, "5", 1) == 1;
	close(fd);
	return ok;
}

static double
mb(long kb)
{
	return (double)kb / 1024.0;
}

static const char *
verdict(bool ok)
{
	return ok ? "OK" : "MISS";
}

/* ---- a. append ---- */

static void
bench_durable_cb(int err, void *arg)
{
	struct bench *b = arg;

	if (err < 0 && b->ack_err == 0)
		b->ack_err = err;
	if (err == 0)
		b->acked += b->appending;
}

struct chunk {
	struct ht_record *recs[CHUNK];
	struct iovec iov[CHUNK];
	size_t off[CHUNK + 1];
	struct printbuf *pb;
	size_t n;
};

static void
chunk_clear(struct chunk *c)
{
	for (size_t i = 0; i < c->n; i++)
		ht_record_free(c->recs[i]);
	c->n = 0;
	printbuf_reset(c->pb);
}

/* Generate and serialize events [k, k + n) into the empty c.  0 or -ENOMEM
 * (c then holds the events made so far; chunk_clear frees them). */
static int
chunk_fill(const struct bench *b, struct chunk *c, uint64_t k, size_t n)
{
	struct ht_record *rec;
	int v;

	while (c->n < n) {
		c->off[c->n] = (size_t)c->pb->bpos;
		v = gen_event(b, k + c->n, &rec);
		if (v < 0)
			return v;
		v = ht_record_serialize(rec, c->pb);
		if (v < 0) {
			ht_record_free(rec);
			return v;
		}
		c->recs[c->n++] = rec;
	}
	c->off[c->n] = (size_t)c->pb->bpos;
	/* The printbuf may have moved while growing: point into it only now. */
	for (size_t i = 0; i < c->n; i++)
		c->iov[i] = (struct iovec){ c->pb->buf + c->off[i], c->off[i + 1] - c->off[i] };
	return 0;
}

/* Append c in batches, the clock at each batch's newest event. */
static int
chunk_append(struct bench *b, struct chunk *c)
{
	for (size_t i = 0; i < c->n; i += BATCH) {
		size_t n = c->n - i < BATCH ? c->n - i : BATCH;
		int64_t newest = 0;
		int v;

		for (size_t j = i; j < i + n; j++)
			if ((int64_t)c->recs[j]->event_time > newest)
				newest = (int64_t)c->recs[j]->event_time;
		bench_clock = newest;
		b->appending = n;
		v = ht_history_append_records(b->h, c->iov + i,
		    (const struct ht_record *const *)(c->recs + i), n, bench_durable_cb, b);
		if (v < 0) {
			log_msg(HT_LOG_ERR, -v, "bench: append failed");
			return v;
		}
	}
	/* Let finished index jobs install their runs, and the fsync timer run. */
	event_base_loop(b->base, EVLOOP_NONBLOCK);
	return b->ack_err;
}

struct settle {
	size_t unsettled;
	uint64_t progress;
	char first[160];		/* the first few unsettled, for the report */
};

struct load_result {
	double append_s, gen_s, wall_s, drain_s;
	uint64_t bytes, min_len, max_len;
	struct settle unsettled;	/* after the drain */
};

static void
load_note_sizes(const struct chunk *c, struct load_result *lr)
{
	for (size_t i = 0; i < c->n; i++) {
		uint64_t len = c->iov[i].iov_len;

		lr->bytes += len;
		if (lr->min_len == 0 || len < lr->min_len)
			lr->min_len = len;
		if (len > lr->max_len)
			lr->max_len = len;
	}
}

/* Day by day, chunk by chunk: generate (not timed), append (timed). */
static int
load_days(struct bench *b, struct chunk *c, struct load_result *lr)
{
	double t0 = mono_s(), t;
	int v = 0;

	for (unsigned d = 0; d < b->o.days && v == 0; d++) {
		uint64_t k = day_first(b, d), end = day_first(b, d + 1);

		while (k < end && v == 0) {
			size_t n = end - k < CHUNK ? (size_t)(end - k) : CHUNK;

			t = mono_s();
			v = chunk_fill(b, c, k, n);
			lr->gen_s += mono_s() - t;
			if (v < 0)
				break;
			load_note_sizes(c, lr);
			t = mono_s();
			v = chunk_append(b, c);
			lr->append_s += mono_s() - t;
			chunk_clear(c);
			k += n;
		}
		if ((d + 1) % 10 == 0 || d + 1 == b->o.days)
			fprintf(stderr, "  loaded day %u/%u: %" PRIu64 " events, %.1f s\n", d + 1,
			    b->o.days, end, mono_s() - t0);
	}
	lr->wall_s = mono_s() - t0;
	return v;
}

/* Sealed segments whose index is not yet one run covering the whole
 * segment (the compaction that follows the end of a day has not run), and
 * a fingerprint of every index's progress. */
static void
index_settle(struct ht_history *h, struct settle *s)
{
	size_t n = ht_history_segments(h), len = 0;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < n; i++) {
		struct ht_seg_index_info in;
		struct ht_seg_index *x;
		uint32_t day;

		x = ht_history_segment_index(h, i, &day);
		if (x == NULL)
			continue;
		ht_seg_index_info(x, &in);
		s->progress = mix64(s->progress ^ in.runs ^ (in.covered << 8) ^ in.run_bytes);
		if (i + 1 == n || (in.runs == 1 && in.covered == in.indexed))
			continue;
		s->unsettled++;
		if (s->unsettled <= 3 && len < sizeof(s->first))
			len += (size_t)snprintf(s->first + len, sizeof(s->first) - len,
			    "%s%08u: %zu runs, %" PRIu64 " of %" PRIu64 " B in runs",
			    len ? "; " : "", day, in.runs, in.covered, in.indexed);
	}
}

/* Let the index jobs queued by the load finish: until every sealed day is
 * one run, or nothing has moved for STALL_S (a compaction that was never
 * scheduled; reported, and done by the next open). */
static int
load_drain(struct bench *b, struct load_result *lr)
{
	double t0 = mono_s(), moved = t0;
	struct settle s;
	uint64_t last;

	index_settle(b->h, &s);
	last = s.progress;
	while (s.unsettled > 0 && mono_s() - moved < STALL_S) {
		event_base_loop(b->base, EVLOOP_NONBLOCK);
		usleep(5000);
		index_settle(b->h, &s);
		if (s.progress != last) {
			last = s.progress;
			moved = mono_s();
		}
	}
	lr->drain_s = mono_s() - t0;
	lr->unsettled = s;
	return 0;
}

static void
print_load(const struct bench *b, const struct load_result *lr, const struct mem *m)
{
	double eps = (double)b->o.events / lr->append_s;

	printf("\n== a. Append: %" PRIu64 " events over %u days, batches of %d, "
	    "fsync=interval (phase %.1f s) ==\n", b->o.events, b->o.days, BATCH,
	    lr->wall_s + lr->drain_s);
	printf("  %-38s %" PRIu64 " (acknowledged %" PRIu64 ")\n", "events appended",
	    b->o.events, b->acked);
	printf("  %-38s %" PRIu64 " B mean, %" PRIu64 "-%" PRIu64 " B\n", "record size (JSON)",
	    lr->bytes / b->o.events, lr->min_len, lr->max_len);
	printf("  %-38s %.2f s\n", "append calls + loop turns", lr->append_s);
	printf("  %-38s %.0f events/s   target >= %.0f   %s\n", "append rate", eps,
	    TARGET_APPEND_EPS, verdict(eps >= TARGET_APPEND_EPS));
	printf("  %-38s %.2f s (not timed above)\n", "generating + serializing", lr->gen_s);
	printf("  %-38s %.0f events/s (incl. generation)\n", "end to end", (double)b->o.events /
	    lr->wall_s);
	printf("  %-38s %.2f s\n", "index jobs still running after load", lr->drain_s);
	printf("  %-38s %zu of %u", "sealed days not compacted after that",
	    lr->unsettled.unsettled, b->o.days - 1);
	if (lr->unsettled.unsettled)
		printf(" (no progress for %d s; e.g. %s)", STALL_S, lr->unsettled.first);
	printf("\n");
	printf("  %-38s %.1f MB peak (VmHWM), %.1f MB now (VmRSS)\n", "RSS while loading",
	    mb(m->hwm_kb), mb(m->rss_kb));
}

static int
phase_load(struct bench *b, struct load_result *lr)
{
	struct chunk *c = calloc(1, sizeof(*c));
	struct mem m;
	int v;

	if (c == NULL || (c->pb = printbuf_new()) == NULL) {
		free(c);
		return -ENOMEM;
	}
	bench_clock = BASE_TIME;
	v = ht_history_open(b->dir, &b->conf, b->base, bench_now, &b->h);
	if (v == 0)
		v = load_days(b, c, lr);
	if (v == 0)
		v = load_drain(b, lr);
	chunk_clear(c);
	printbuf_free(c->pb);
	free(c);
	if (v < 0)
		return v;
	mem_read(&m);
	print_load(b, lr, &m);
	return 0;
}

/* ---- b. bytes on disk ---- */

static void
print_disk(const struct bench *b)
{
	struct ht_history_stats st;
	uint64_t du = 0, n = b->o.events, runs = 0;
	double per;

	ht_history_stats(b->h, &st);
	for (size_t i = 0; i < ht_history_segments(b->h); i++) {
		struct ht_seg_index_info in;
		uint32_t day;
		struct ht_seg_index *x = ht_history_segment_index(b->h, i, &day);

		if (x) {
			ht_seg_index_info(x, &in);
			runs += in.runs;
		}
	}
	(void)walk(b->dir, walk_du, &du);
	per = (double)(st.segment_bytes + st.index_bytes) / (double)n;
	printf("\n== b. Bytes on disk (after reopening) ==\n");
	printf("  %-38s %zu segments, %" PRIu64 " index runs\n", "history", st.segments, runs);
	printf("  %-38s %" PRIu64 " of %" PRIu64 " (damaged %" PRIu64 ")\n", "indexed records",
	    st.records, n, st.damaged);
	printf("  %-38s %10.1f MB  %7.1f B/event\n", "segments", st.segment_bytes / 1048576.0,
	    (double)st.segment_bytes / (double)n);
	printf("  %-38s %10.1f MB  %7.1f B/event\n", "index runs", st.index_bytes / 1048576.0,
	    (double)st.index_bytes / (double)n);
	printf("  %-38s %10.1f MB  %7.1f B/event\n", "total", (st.segment_bytes +
	    st.index_bytes) / 1048576.0, per);
	printf("  %-38s %10.1f MB  %7.1f B/event\n", "allocated (du)", du / 1048576.0,
	    (double)du / (double)n);
}

/* ---- lookups ---- */

struct page {
	double ms, cpu_ms;
	size_t n;
	bool more;
	int64_t last_time;
	uint64_t last_seq;
};

/* One timed ht_lookup (the results are freed outside the timing). */
static int
lookup_page(struct bench *b, const struct ht_index_query *q, size_t limit, struct page *p)
{
	struct ht_lookup_event *evs = NULL;
	double t = mono_s(), c = cpu_s();
	int v;

	v = ht_lookup(b->h, q, limit, &evs, &p->n, &p->more);
	p->ms = (mono_s() - t) * 1000.0;
	p->cpu_ms = (cpu_s() - c) * 1000.0;
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "bench: lookup failed");
		return v;
	}
	if (p->n > 0) {
		p->last_time = evs[p->n - 1].time;
		p->last_seq = evs[p->n - 1].seq;
	}
	ht_lookup_free(evs, p->n);
	return 0;
}

/* LookupEvents' default: every generated day, management events only. */
static struct ht_index_query
query_all(const struct bench *b)
{
	return (struct ht_index_query){ .start = BASE_TIME, .end = b->span_end,
		.max_seq = UINT64_MAX };
}

/* ---- c. cold start ---- */

struct cold {
	double open_ms, first_ms, attr_ms;
	size_t first_n, attr_n;
};

/* Open the history (after evicting its files from the page cache if
 * evict), then time the first lookups a console would make: the newest
 * page, and a rare Username (which has to visit every day). */
static int
cold_open(struct bench *b, bool evict, const char *user, struct cold *c)
{
	struct ht_index_query q = query_all(b);
	struct page p;
	double t;
	int v;

	if (evict)
		(void)walk(b->dir, walk_evict, NULL);
	t = mono_s();
	v = ht_history_open(b->dir, &b->conf, b->base, bench_now, &b->h);
	c->open_ms = (mono_s() - t) * 1000.0;
	if (v < 0)
		return v;
	v = lookup_page(b, &q, PAGE, &p);
	c->first_ms = p.ms;
	c->first_n = p.n;
	q.has_attr = true;
	q.attr = HT_ATTR_USERNAME;
	q.value = user;
	if (v == 0)
		v = lookup_page(b, &q, PAGE, &p);
	c->attr_ms = p.ms;
	c->attr_n = p.n;
	return v;
}

struct cold_result {
	struct cold evicted, warm;
	double close_ms, phase_s;
	bool reused;			/* --reuse: nothing was loaded (or closed) */
	uint64_t warmed;		/* bytes read to warm the page cache */
	double warm_s;
};

static void
print_cold(const struct cold_result *cr)
{
	const struct cold *c[2] = { &cr->evicted, &cr->warm };
	const char *label[2] = { "files evicted from page cache", "page cache warm" };

	printf("\n== c. Cold start: ht_history_open until ready, then the first lookups "
	    "(phase %.1f s) ==\n", cr->phase_s);
	printf("  evicted: fadvise(DONTNEED) on every history file; warm: every file read "
	    "through first\n  (%.0f MB in %.1f s); both then open a new ht_history and query "
	    "the newest page\n  and the rarest Username\n", cr->warmed / 1048576.0, cr->warm_s);

	printf("  %-32s %9s %18s %24s\n", "", "open ms", "newest page ms (n)",
	    "rare Username ms (n)");
	for (int i = 0; i < 2; i++)
		printf("  %-32s %9.1f %12.1f (%3zu) %18.1f (%3zu)\n", label[i], c[i]->open_ms,
		    c[i]->first_ms, c[i]->first_n, c[i]->attr_ms, c[i]->attr_n);
	printf("  %-32s %9.1f   target <= %.0f ms   %s\n", "open, files evicted",
	    cr->evicted.open_ms, TARGET_COLD_MS, verdict(cr->evicted.open_ms <= TARGET_COLD_MS));
	if (!cr->reused)
		printf("  %-32s %9.1f ms (sync, write the live tail's run)\n", "close after load",
		    cr->close_ms);
}

/* Close the loaded history, open it with its files evicted from the page
 * cache, close, and open it again warm (left open for the lookups). */
static int
phase_cold(struct bench *b, struct cold_result *cr, bool *ret_peak_reset)
{
	double t0 = mono_s(), tw;
	int v;

	ht_history_close(b->h);
	b->h = NULL;
	cr->close_ms = (mono_s() - t0) * 1000.0;
	/* From here on, the peak RSS is the serving process's. */
	*ret_peak_reset = mem_reset_peak();
	v = cold_open(b, true, b->users.vals[N_USERS - 1], &cr->evicted);
	ht_history_close(b->h);
	b->h = NULL;
	if (v < 0)
		return v;
	/* Warm: every history file read through first.  The lookup phase
	 * then runs on this warm page cache too. */
	tw = mono_s();
	(void)walk(b->dir, walk_warm, &cr->warmed);
	cr->warm_s = mono_s() - tw;
	v = cold_open(b, false, b->users.vals[N_USERS - 1], &cr->warm);
	cr->phase_s = mono_s() - t0;
	return v;
}

/* ---- d. lookup latency ---- */

struct kind {
	const char *label;
	bool has_attr;
	enum ht_attr attr;
	int64_t window;			/* time-range-only queries: seconds */
};

static const struct kind kinds[] = {
	{ "EventName", true, HT_ATTR_EVENT_NAME, 0 },
	{ "Username", true, HT_ATTR_USERNAME, 0 },
	{ "EventSource", true, HT_ATTR_EVENT_SOURCE, 0 },
	{ "ResourceName", true, HT_ATTR_RESOURCE_NAME, 0 },
	{ "ResourceType", true, HT_ATTR_RESOURCE_TYPE, 0 },
	{ "AccessKeyId", true, HT_ATTR_ACCESS_KEY_ID, 0 },
	{ "EventId", true, HT_ATTR_EVENT_ID, 0 },
	{ "ReadOnly", true, HT_ATTR_READ_ONLY, 0 },
	{ "time 1 hour", false, 0, 3600 },
	{ "time 1 day", false, 0, DAY_S },
	{ "time 7 days", false, 0, 7 * DAY_S },
	{ "time 90 days", false, 0, 90 * DAY_S },
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

/* The EventId of a random management event (data events are not shown,
 * so looking one up would find nothing). */
static const char *
pick_event_id(const struct bench *b, struct rng *r, char buf[64])
{
	for (int tries = 0; tries < 1000; tries++) {
		struct ht_record *rec;
		bool data;

		if (gen_event(b, rng_next(r) % b->o.events, &rec) < 0)
			return NULL;
		data = strcmp(rec->event_category, "Data") == 0;
		snprintf(buf, 64, "%s", rec->event_id);
		ht_record_free(rec);
		if (!data)
			return buf;
	}
	return buf;
}

/* A value of attr: weighted picks come as often as in the data, the others
 * uniformly from the pool, so rare values are tested too.  NULL on ENOMEM. */
static const char *
pick_value(const struct bench *b, enum ht_attr attr, struct rng *r, bool weighted, char buf[64])
{
	switch (attr) {
	case HT_ATTR_EVENT_NAME:
		return b->names.vals[weighted ? pool_zipf(&b->names, r) : rng_below(r, N_NAMES)];
	case HT_ATTR_USERNAME:
		return b->users.vals[weighted ? pool_zipf(&b->users, r) : rng_below(r, N_USERS)];
	case HT_ATTR_EVENT_SOURCE:
		return sources[(weighted ? pool_zipf(&b->names, r) : rng_below(r, N_SOURCES)) %
		    N_SOURCES];
	case HT_ATTR_RESOURCE_NAME:
		return b->resources.vals[weighted ? pool_zipf(&b->resources, r) :
		    rng_below(r, N_RESOURCES)];
	case HT_ATTR_RESOURCE_TYPE:
		return res_types[(weighted ? pool_zipf(&b->resources, r) : rng_below(r, N_TYPES)) %
		    N_TYPES][0];
	case HT_ATTR_ACCESS_KEY_ID:
		return b->keys.vals[weighted ? pool_zipf(&b->keys, r) : rng_below(r, N_KEYS)];
	case HT_ATTR_READ_ONLY:
		if (weighted)
			return rng_below(r, 100) < 70 ? "true" : "false";
		return rng_below(r, 2) == 0 ? "true" : "false";
	case HT_ATTR_EVENT_ID:
		return pick_event_id(b, r, buf);
	default:
		return NULL;
	}
}

/* Query i of kind k.  -ENOMEM if no value could be made. */
static int
make_query(const struct bench *b, const struct kind *k, struct rng *r, unsigned i,
    char buf[64], struct ht_index_query *q)
{
	int64_t span = b->span_end - BASE_TIME + 1;

	*q = query_all(b);
	if (k->has_attr) {
		q->has_attr = true;
		q->attr = k->attr;
		q->value = pick_value(b, k->attr, r, i % 2 == 0, buf);
		return q->value ? 0 : -ENOMEM;
	}
	if (k->window < span)
		q->start = BASE_TIME + (int64_t)(rng_unit(r) * (double)(span - k->window));
	q->end = q->start + (k->window < span ? k->window : span) - 1;
	return 0;
}

/* The latencies of one kind's pages (first pages, or pages 20). */
struct lat {
	double *ms, *cpu_ms;		/* wall clock; thread CPU time */
	size_t n;
	uint64_t hits;
	uint64_t misses;		/* index block cache misses (first pages) */
	double slowest_ms;		/* the slowest query, for the report */
	size_t slowest_hits;
	char slowest[80];
};

/* Record one page's latency; remember the slowest query. */
static void
lat_add(struct lat *l, const struct ht_index_query *q, const struct page *p)
{
	l->cpu_ms[l->n] = p->cpu_ms;
	l->ms[l->n++] = p->ms;
	l->hits += p->n;
	if (p->ms <= l->slowest_ms)
		return;
	l->slowest_ms = p->ms;
	l->slowest_hits = p->n;
	if (q->has_attr)
		snprintf(l->slowest, sizeof(l->slowest), "%s", q->value);
	else
		snprintf(l->slowest, sizeof(l->slowest), "from +%.2f days",
		    (double)(q->start - BASE_TIME) / DAY_S);
}

/* Page 20: the position after page 19 comes from one untimed lookup of 19
 * pages (the same events, hence the same last one, as paging 19 times);
 * only page 20 itself is timed.  Nothing is recorded when there are fewer
 * than 20 pages. */
static int
deep_page(struct bench *b, struct ht_index_query q, struct lat *deep)
{
	struct page p;
	int v;

	v = lookup_page(b, &q, (DEEP_PAGE - 1) * PAGE, &p);
	if (v < 0 || !p.more)
		return v;
	q.has_after = true;
	q.after_time = p.last_time;
	q.after_seq = p.last_seq;
	v = lookup_page(b, &q, PAGE, &p);
	if (v == 0)
		lat_add(deep, &q, &p);
	return v;
}

/* Query i of kind k: its first page, and page 20 for the first
 * deep_queries. */
static int
run_query(struct bench *b, const struct kind *k, struct rng *r, unsigned i, struct lat *first,
    struct lat *deep)
{
	struct ht_run_cache_stats c0, c1;
	struct ht_index_query q;
	struct page p;
	char buf[64];
	int v;

	v = make_query(b, k, r, i, buf, &q);
	ht_run_cache_stats(&c0);
	if (v == 0)
		v = lookup_page(b, &q, PAGE, &p);
	if (v < 0)
		return v;
	ht_run_cache_stats(&c1);
	first->misses += c1.misses - c0.misses;
	lat_add(first, &q, &p);
	if (i < b->o.deep_queries && p.more)
		v = deep_page(b, q, deep);
	return v;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile num/den of sorted v[n]. */
static double
pct(const double *v, size_t n, size_t num, size_t den)
{
	size_t rank = (num * n + den - 1) / den;

	return n ? v[rank ? rank - 1 : 0] : 0;
}

struct worst {
	double p99, cpu_p99;
	char what[48];
};

/* The 1-minute load average, or -1. */
static double
loadavg(void)
{
	double l;

	return getloadavg(&l, 1) == 1 ? l : -1;
}

/* Print "n p50 p99 p99-cpu" of l (sorting it); note a new worst p99. */
static void
print_lat(struct lat *l, const char *label, const char *page, struct worst *w)
{
	double p99, cpu_p99;

	if (l->n == 0) {
		printf(" %6s %8s %8s %8s", "0", "-", "-", "-");
		return;
	}
	qsort(l->ms, l->n, sizeof(*l->ms), cmp_double);
	qsort(l->cpu_ms, l->n, sizeof(*l->cpu_ms), cmp_double);
	p99 = pct(l->ms, l->n, 99, 100);
	cpu_p99 = pct(l->cpu_ms, l->n, 99, 100);
	printf(" %6zu %8.3f %8.3f %8.3f", l->n, pct(l->ms, l->n, 1, 2), p99, cpu_p99);
	if (cpu_p99 > w->cpu_p99)
		w->cpu_p99 = cpu_p99;
	if (p99 > w->p99) {
		w->p99 = p99;
		snprintf(w->what, sizeof(w->what), "%s, %s", label, page);
	}
}

static void
print_kind(const struct kind *k, struct lat *first, struct lat *deep, struct worst *w)
{
	struct worst mine = { 0 };
	double cpu = w->cpu_p99;

	printf("  %-13s %7.1f %7.1f", k->label, first->n ? (double)first->hits / (double)first->n :
	    0, first->n ? (double)first->misses / (double)first->n : 0);
	print_lat(first, k->label, "first page", &mine);
	printf("  ");
	print_lat(deep, k->label, "page 20", &mine);
	printf("   %s\n", verdict(mine.p99 <= TARGET_P99_MS));
	if (mine.p99 > w->p99)
		*w = mine;
	w->cpu_p99 = mine.cpu_p99 > cpu ? mine.cpu_p99 : cpu;
}

/* Append "kind: first page value (ms, hits); page 20 value (ms, hits)"
 * to buf. */
static void
print_slowest(const struct kind *k, const struct lat *first, const struct lat *deep, char *buf,
    size_t cap, size_t *len)
{
	int n;

	n = snprintf(buf + *len, cap - *len, "    %-13s first page %s: %.3f ms, %zu", k->label,
	    first->slowest, first->slowest_ms, first->slowest_hits);
	if (n > 0 && (size_t)n < cap - *len)
		*len += (size_t)n;
	if (deep->n)
		n = snprintf(buf + *len, cap - *len, "; page 20 %s: %.3f ms\n", deep->slowest,
		    deep->slowest_ms);
	else
		n = snprintf(buf + *len, cap - *len, "\n");
	if (n > 0 && (size_t)n < cap - *len)
		*len += (size_t)n;
}

static void
print_lookups_head(const struct bench *b)
{
	struct ht_run_cache_stats cache;

	ht_run_cache_stats(&cache);
	printf("\n== d. LookupEvents, MaxResults %d: %u queries per kind (half with values "
	    "weighted like the data, half uniform), page 20 on up to %u ==\n", PAGE,
	    b->o.queries, b->o.deep_queries);
	printf("  attribute kinds: window = all %u days; data events hidden (the default); "
	    "page cache warm\n  (see c.); kinds take turns, so a burst of load elsewhere "
	    "spreads over all; cpu: thread\n  CPU time (not disturbed by other processes); "
	    "miss/pg: index block cache misses per\n  first page (cache limit %.0f MB)\n",
	    b->o.days, cache.limit / 1048576.0);
	printf("  %-13s %7s %7s %6s %8s %8s %8s   %6s %8s %8s %8s   p99<=%.0fms\n", "kind",
	    "hits/pg", "miss/pg", "n", "p50 ms", "p99 ms", "p99 cpu", "n", "p50 ms", "p99 ms",
	    "p99 cpu", TARGET_P99_MS);
	printf("  %-13s %-49s   %-33s\n", "",
	    "---------------------- first page ---------------------",
	    "------------- page 20 -------------");
}

/* One array of latencies per kind and page, queries capacity each. */
static struct lat *
lats_new(size_t queries)
{
	struct lat *l = calloc(2 * N_KINDS, sizeof(*l));

	for (size_t i = 0; l && i < 2 * N_KINDS; i++) {
		l[i].ms = calloc(queries, sizeof(double));
		l[i].cpu_ms = calloc(queries, sizeof(double));
		if (l[i].ms == NULL || l[i].cpu_ms == NULL)
			return l;	/* lats_ok() says no */
	}
	return l;
}

static bool
lats_ok(const struct lat *l)
{
	for (size_t i = 0; l && i < 2 * N_KINDS; i++)
		if (l[i].ms == NULL || l[i].cpu_ms == NULL)
			return false;
	return l != NULL;
}

static void
lats_free(struct lat *l)
{
	for (size_t i = 0; l && i < 2 * N_KINDS; i++) {
		free(l[i].ms);
		free(l[i].cpu_ms);
	}
	free(l);
}

static int
phase_lookups(struct bench *b, struct worst *w)
{
	struct rng r = { mix64(b->o.seed ^ 0x100c0b5ULL) };
	struct lat *lat = lats_new(b->o.queries);
	char slowest[N_KINDS * 240] = "";
	double t0 = mono_s(), load0 = loadavg();
	size_t len = 0;
	int v = lats_ok(lat) ? 0 : -ENOMEM;

	print_lookups_head(b);
	/* Round robin over the kinds: lat[2k] first pages, lat[2k + 1] pages 20. */
	for (unsigned i = 0; i < b->o.queries && v == 0; i++)
		for (size_t k = 0; k < N_KINDS && v == 0; k++)
			v = run_query(b, &kinds[k], &r, i, &lat[2 * k], &lat[2 * k + 1]);
	for (size_t k = 0; k < N_KINDS && v == 0; k++) {
		print_kind(&kinds[k], &lat[2 * k], &lat[2 * k + 1], w);
		print_slowest(&kinds[k], &lat[2 * k], &lat[2 * k + 1], slowest, sizeof(slowest),
		    &len);
	}
	if (v == 0)
		printf("  slowest query of each kind (value: ms, hits):\n%s", slowest);
	printf("  (phase %.1f s; load average before %.2f, after %.2f on %ld CPUs: other "
	    "processes disturb the wall-clock p99)\n", mono_s() - t0, load0, loadavg(),
	    sysconf(_SC_NPROCESSORS_ONLN));
	lats_free(lat);
	return v;
}

/* ---- e. memory, summary ---- */

struct summary {
	double eps, bytes_per_event, cold_ms, serving_peak_mb;
	struct worst worst;
};

static void
print_mem(const struct mem *load, const struct mem *before, const struct mem *after,
    bool peak_reset, struct summary *s)
{
	s->serving_peak_mb = mb(after->hwm_kb);
	printf("\n== e. Memory ==\n");
	if (s->eps > 0) {
		printf("  %-46s %7.1f MB\n", "peak RSS while loading (VmHWM)", mb(load->hwm_kb));
		printf("  %-46s %7.1f MB\n", "RSS after loading, history open (VmRSS)",
		    mb(load->rss_kb));
	}
	printf("  %-46s %7.1f MB\n", "RSS before lookups (VmRSS)", mb(before->rss_kb));
	printf("  %-46s %7.1f MB\n", "RSS after lookups (VmRSS)", mb(after->rss_kb));
	printf("  %-46s %7.1f MB   target <= %.0f MB   %s\n", peak_reset ?
	    "peak RSS while serving (VmHWM since reopen)" :
	    "peak RSS since start (could not reset VmHWM)", s->serving_peak_mb, TARGET_RSS_MB,
	    verdict(s->serving_peak_mb <= TARGET_RSS_MB));
}

static void
print_summary(const struct bench *b, const struct summary *s)
{
	char append[64] = "append skipped (--reuse)";

	if (s->eps > 0)
		snprintf(append, sizeof(append), "append %.0f events/s (%s)", s->eps,
		    verdict(s->eps >= TARGET_APPEND_EPS));
	printf("\nSUMMARY bench_history events=%" PRIu64 " days=%u: %s, "
	    "disk %.0f B/event, cold start %.0f ms (%s), worst p99 %.2f ms [%s] (%s; worst "
	    "CPU-time p99 %.2f ms), serving peak RSS %.1f MB (%s)\n", b->o.events, b->o.days,
	    append, s->bytes_per_event, s->cold_ms,
	    verdict(s->cold_ms <= TARGET_COLD_MS), s->worst.p99, s->worst.what,
	    verdict(s->worst.p99 <= TARGET_P99_MS), s->worst.cpu_p99, s->serving_peak_mb,
	    verdict(s->serving_peak_mb <= TARGET_RSS_MB));
}

static int
bench_run(struct bench *b)
{
	struct load_result lr = { 0 };
	struct summary s = { 0 };
	struct mem load, before, after;
	struct ht_history_stats st;
	struct cold_result cr = { 0 };
	bool peak_reset = false;
	int v;

	if (b->o.reuse) {
		printf("\n== a. Append: skipped (--reuse) ==\n");
	} else {
		v = phase_load(b, &lr);
		if (v < 0)
			return v;
		s.eps = (double)b->o.events / lr.append_s;
	}
	mem_read(&load);
	cr.reused = b->o.reuse;
	v = phase_cold(b, &cr, &peak_reset);
	if (v < 0)
		return v;
	s.cold_ms = cr.evicted.open_ms;
	print_disk(b);
	print_cold(&cr);
	ht_history_stats(b->h, &st);
	s.bytes_per_event = (double)(st.segment_bytes + st.index_bytes) / (double)b->o.events;
	mem_read(&before);
	v = phase_lookups(b, &s.worst);
	mem_read(&after);
	if (v < 0)
		return v;
	print_mem(&load, &before, &after, peak_reset, &s);
	print_summary(b, &s);
	return 0;
}

/* ---- setup ---- */

static void
usage(FILE *f)
{
	fprintf(f, "usage: bench_history [--events N] [--days D] [--dir DIR] [--keep] "
	    "[--queries N] [--deep-queries N] [--seed S]\n"
	    "  --events N        events to generate (default 1000000)\n"
	    "  --days D          days they spread over (default 90)\n"
	    "  --dir DIR         history directory, new or empty (default: a temp dir under "
	    "$TMPDIR or /var/tmp)\n"
	    "  --keep            keep the directory afterwards\n"
	    "  --reuse           skip the append phase: --dir holds what a --keep run with the\n"
	    "                    same --events, --days and --seed left (to iterate on lookups)\n"
	    "  --queries N       queries per kind (default 2000)\n"
	    "  --deep-queries N  of those, how many also measure page 20 (default: all)\n"
	    "  --seed S          PRNG seed (default 1)\n");
}

static int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || x < min || x > max) {
		fprintf(stderr, "bench_history: bad number \"%s\" (%" PRIu64 "-%" PRIu64 ")\n", s,
		    min, max);
		return -EINVAL;
	}
	*ret = x;
	return 0;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "events", required_argument, NULL, 'n' },
		{ "days", required_argument, NULL, 'd' },
		{ "dir", required_argument, NULL, 'D' }, { "keep", no_argument, NULL, 'k' },
		{ "reuse", no_argument, NULL, 'r' },
		{ "queries", required_argument, NULL, 'q' },
		{ "deep-queries", required_argument, NULL, 'Q' },
		{ "seed", required_argument, NULL, 's' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t x, deep = UINT64_MAX;
	int c, v = 0;

	*o = (struct opts){ .events = 1000000, .days = 90, .queries = 2000, .seed = 1 };
	while (v == 0 && (c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'n': v = parse_u64(optarg, 1, UINT64_C(1) << 40, &o->events); break;
		case 'd': v = parse_u64(optarg, 1, 3650, &x); o->days = (unsigned)x; break;
		case 'D': o->dir = optarg; break;
		case 'k': o->keep = true; break;
		case 'r': o->reuse = o->keep = true; break;
		case 'q': v = parse_u64(optarg, 1, 10000000, &x); o->queries = (unsigned)x; break;
		case 'Q': v = parse_u64(optarg, 0, 10000000, &deep); break;
		case 's': v = parse_u64(optarg, 0, UINT64_MAX, &o->seed); break;
		case 'h': usage(stdout); exit(0);
		default: v = -EINVAL;
		}
	}
	o->deep_queries = deep < o->queries ? (unsigned)deep : o->queries;
	if (v == 0 && (optind < argc || o->events < o->days || (o->reuse && !o->dir))) {
		fprintf(stderr, "bench_history: need at least one event per day, no operands, "
		    "and --dir with --reuse\n");
		v = -EINVAL;
	}
	if (v < 0)
		usage(stderr);
	return v;
}

/* --dir must be new or empty: the bench deletes it afterwards. */
static int
setup_dir(struct bench *b)
{
	const char *tmp = getenv("TMPDIR");
	struct dirent *de;
	DIR *d;

	if (b->o.dir == NULL) {
		snprintf(b->dir, sizeof(b->dir), "%s/bench_history.XXXXXX", tmp && *tmp ? tmp :
		    "/var/tmp");
		return mkdtemp(b->dir) ? 0 : -errno;
	}
	snprintf(b->dir, sizeof(b->dir), "%s", b->o.dir);
	if (b->o.reuse)
		return access(b->dir, R_OK | W_OK | X_OK) < 0 ? -errno : 0;
	if (ht_mkdir_p(b->dir, 0750) < 0 || (d = opendir(b->dir)) == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			break;
	closedir(d);
	if (de != NULL) {
		fprintf(stderr, "bench_history: %s is not empty\n", b->dir);
		b->dir[0] = '\0';	/* not ours to delete */
		return -EEXIST;
	}
	return 0;
}

static int
bench_setup(struct bench *b)
{
	int v;

	b->conf = (struct ht_conf_history){ .retention_days = b->o.days > 90 ? b->o.days + 1 : 90,
		.fsync = HT_FSYNC_INTERVAL, .fsync_interval_ms = 1000 };
	b->span_end = BASE_TIME + (int64_t)b->o.days * DAY_S - 1;
	bench_clock = b->span_end;	/* --reuse: "now" is the end of the data */
	b->base = event_base_new();
	if (b->base == NULL)
		return -ENOMEM;
	v = pools_init(b);
	if (v == 0)
		v = setup_dir(b);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "bench: setup failed");
		return v;
	}
	printf("bench_history: %" PRIu64 " events over %u days, seed %" PRIu64 ", %ld CPUs, "
	    "history in %s\n", b->o.events, b->o.days, b->o.seed, sysconf(_SC_NPROCESSORS_ONLN),
	    b->dir);
	fflush(stdout);
	return 0;
}

static void
bench_teardown(struct bench *b)
{
	ht_history_close(b->h);
	if (b->dir[0] && !b->o.keep)
		(void)walk(b->dir, walk_remove, NULL);
	else if (b->dir[0])
		printf("kept %s\n", b->dir);
	pool_free(&b->names);
	pool_free(&b->users);
	pool_free(&b->resources);
	pool_free(&b->keys);
	if (b->base)
		event_base_free(b->base);
}

int
main(int argc, char **argv)
{
	struct bench b = { 0 };
	int v;

	setvbuf(stdout, NULL, _IOLBF, 0);
	log_init("bench_history", HT_LOG_WARNING, 0);
	if (parse_opts(argc, argv, &b.o) < 0)
		return 2;
	v = bench_setup(&b);
	if (v == 0)
		v = bench_run(&b);
	bench_teardown(&b);
	return v < 0 ? 1 : 0;
}

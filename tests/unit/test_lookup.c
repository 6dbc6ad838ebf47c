/*
 * test_lookup.c - daemon/history/lookup.c (and the index under it) over a
 * real history in /tmp, against a brute-force model of the same events.
 *
 * Every test generates seeded random CloudTrail records (attributes drawn
 * from small pools so values are shared, several resources per event,
 * readOnly set or unset, data events, event times not in arrival order) and
 * keeps, next to history, its own list of what each event carries: the
 * eight lookup attributes are derived here from what was generated, not
 * with ht_index_attrs, so the index's extraction is checked too.  A query
 * is answered by filtering and sorting that list (newest first: eventTime
 * desc, seq desc), and ht_lookup must return exactly those events, page by
 * page, following has_after to the end.
 *
 * What it shows (issue 3, must-show 1, 2, 4, 5 at unit level):
 *   - property: thousands of random queries equal brute force while live
 *     (runs, frozen tails being written, tails), after the index jobs are
 *     drained, and after close + reopen (runs read from disk through a
 *     small block cache);
 *   - paging through a snapshot (max_seq) while appending yields every
 *     event of the window exactly once and nothing appended later;
 *   - retention: day 91 goes (files and lookups), day 90 stays; max_disk
 *     drops the oldest day first; a clock that jumps back loses nothing; the
 *     live segment survives a 200-day jump; the stats count drops;
 *   - damage: a torn newest segment, a flipped record in a sealed segment,
 *     a flipped / truncated / deleted run file (with and without reopen),
 *     damaged runs in two days at once, never change an answer beyond the
 *     damaged record itself;
 *   - and two index.h contracts the above lean on: a sealed day ends as one
 *     run (also when a tail flush was running at midnight), and the stats
 *     count each indexed record once.
 *
 * Answers longer than MAX_PAGES pages are checked over their first pages
 * and then resumed from an event near their end, to keep the run short;
 * full_walk() pages through everything with no such shortcut.
 *
 * The seed is fixed; HT_LOOKUP_SEED=<n> in the environment varies it to
 * explore, HT_LOOKUP_FILTER=<glob> runs only matching tests, HT_LOOKUP_LOG
 * shows history's logs.  Fixtures live in /tmp/test_lookup.XXXXXX and are
 * removed.
 */
#include "ht_build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
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
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <json-c/printbuf.h>

#include "conf.h"
#include "history/history.h"
#include "history/index.h"
#include "history/index_run.h"
#include "history/lookup.h"
#include "history/segment.h"
#include "log.h"
#include "record.h"

#define DAY_S 86400
#define MAX_EV_VALS 16
#define BATCH_MAX 64
#define MAX_PAGES 10		/* longer answers are resumed near their end */
#define CACHE_DEFAULT ((size_t)8 << 20)

/* ---- the injected clock ---- */

static int64_t fake_now;

static int64_t
fake_clock(void)
{
	return fake_now;
}

static int64_t
day_epoch(uint32_t day)
{
	struct tm tm = { .tm_year = (int)(day / 10000) - 1900,
		.tm_mon = (int)(day / 100 % 100) - 1, .tm_mday = (int)(day % 100) };

	return (int64_t)timegm(&tm);
}

/* ---- a seeded generator (splitmix64) ---- */

struct rng {
	uint64_t s;
};

static uint64_t
rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t
rng_below(struct rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}

static bool
rng_pct(struct rng *r, unsigned pct)
{
	return rng_below(r, 100) < pct;
}

static void
rng_seed(struct rng *r, uint64_t seed)
{
	const char *env = getenv("HT_LOOKUP_SEED");

	if (env != NULL && *env != '\0')
		seed = strtoull(env, NULL, 0) * 1000003u + seed;
	r->s = seed;
	print_message("seed %" PRIu64 "\n", seed);
}

/* ---- value pools (shared values: every pool is small) ---- */

static const char *const pool_names[] = {
	"GetObject", "PutObject", "DeleteObject", "ConsoleLogin", "AssumeRole", "CreateUser",
	"DeleteUser", "ListBuckets", "DescribeInstances", "RunInstances", "TerminateInstances",
	"StartSession", "getobject", "GETOBJECT", "Exec", "OpenFile", "Login", "Logout", "sudo",
	"ssh:Accept", "ChangePassword", "AddUserToGroup", "GetCallerIdentity", "Decrypt",
	"Encrypt", "GenerateDataKey", "PutEvents", "UpdateTrail", "StopLogging", "StartLogging",
	"LookupEvents", "CreateBucket", "PutBucketPolicy", "AttachRolePolicy", "CreateAccessKey",
	"DeleteAccessKey", "ListUsers", "GetUser", "\xc3\x89v\xc3\xa9nement", "x y \"z\"",
};
static const char *const pool_sources[] = {
	"s3.amazonaws.com", "iam.amazonaws.com", "sts.amazonaws.com", "ec2.amazonaws.com",
	"signin.amazonaws.com", "hosttrail.local", "kms.amazonaws.com",
};
static const char *const pool_types[] = {
	"AWS::S3::Object", "AWS::S3::Bucket", "AWS::IAM::User", "AWS::EC2::Instance",
	"AWS::KMS::Key", "Host::File", "Host::Process", "aws::s3::object",
};

#define N_USERS 48
#define N_KEYS 30
#define N_ARNS 100
static char pool_users[N_USERS][24];
static char pool_keys[N_KEYS][24];
static char pool_arns[N_ARNS][64];

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void
pools_init(void)
{
	static const char *const special[] = { "Alice", "alice", "bob/ops", "root", "\xe5\x90\x8d",
		"ec2.amazonaws.com" };

	for (size_t i = 0; i < N_USERS; i++) {
		if (i < NELEM(special))
			snprintf(pool_users[i], sizeof(pool_users[i]), "%s", special[i]);
		else
			snprintf(pool_users[i], sizeof(pool_users[i]), "user%02zu", i);
	}
	for (size_t i = 0; i < N_KEYS; i++)
		snprintf(pool_keys[i], sizeof(pool_keys[i]), "%s%016zu", i % 3 ? "AKIA" : "ASIA",
		    i * 7919);
	for (size_t i = 0; i < N_ARNS; i++) {
		if (i % 4 == 0)
			snprintf(pool_arns[i], sizeof(pool_arns[i]), "arn:aws:s3:::bucket-%zu", i);
		else if (i % 4 == 1)
			snprintf(pool_arns[i], sizeof(pool_arns[i]),
			    "arn:aws:s3:::bucket-%zu/key/%zu.txt", i % 7, i);
		else if (i % 4 == 2)
			snprintf(pool_arns[i], sizeof(pool_arns[i]),
			    "arn:aws:iam::123456789012:user/u%zu", i);
		else
			snprintf(pool_arns[i], sizeof(pool_arns[i]), "host:/var/log/f%zu", i);
	}
}

/* ---- the model: what history holds, kept independently ---- */

struct mev {
	int64_t time;
	uint64_t seq;
	uint32_t day;			/* segment (arrival day) */
	uint64_t offset;		/* frame offset in that segment */
	bool data;			/* eventCategory "Data" */
	bool gone;			/* dropped or damaged: must not be returned */
	uint8_t n_vals;
	uint8_t attr[MAX_EV_VALS];
	const char *val[MAX_EV_VALS];	/* pool strings or id */
	uint64_t vhash[MAX_EV_VALS];
	char *id;			/* eventID, owned */
	char *json;			/* as appended, owned */
	size_t len;
};

/* What the brute force scans: small, so that a scan stays in cache. */
struct mkey {
	int64_t time;
	uint64_t seq;
	uint64_t bloom;			/* bloom_bit() of every value the event has */
	uint32_t idx;			/* into model.ev */
	bool data;
};

struct model {
	struct mev *ev;
	size_t n, cap;
	struct mkey *keys;		/* events not gone, newest first; unless dirty */
	size_t n_keys;
	bool dirty;
	int64_t t_lo, t_hi;		/* range of event times */
};

struct ivec {
	uint32_t *v;
	size_t n, cap;
};

static void
ivec_push(struct ivec *iv, uint32_t x)
{
	if (iv->n == iv->cap) {
		iv->cap = iv->cap ? iv->cap * 2 : 256;
		iv->v = realloc(iv->v, iv->cap * sizeof(*iv->v));
		assert_non_null(iv->v);
	}
	iv->v[iv->n++] = x;
}

/* FNV-1a: the model's own hash, unrelated to the index's. */
static uint64_t
fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void
mev_put(struct mev *e, enum ht_attr a, const char *v)
{
	if (v == NULL || *v == '\0')
		return;
	assert_true(e->n_vals < MAX_EV_VALS);
	e->attr[e->n_vals] = (uint8_t)a;
	e->val[e->n_vals] = v;
	e->vhash[e->n_vals++] = fnv(v);
}

static struct mev *
model_add(struct model *m)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 1024;
		m->ev = realloc(m->ev, m->cap * sizeof(*m->ev));
		assert_non_null(m->ev);
	}
	memset(&m->ev[m->n], 0, sizeof(m->ev[0]));
	m->dirty = true;
	return &m->ev[m->n++];
}

static void
model_free(struct model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->ev[i].id);
		free(m->ev[i].json);
	}
	free(m->ev);
	free(m->keys);
	memset(m, 0, sizeof(*m));
}

/* A filter in front of the exact comparison: an event without the bit
 * cannot have the value (no false negatives). */
static uint64_t
bloom_bit(unsigned attr, uint64_t vhash)
{
	return UINT64_C(1) << ((vhash ^ (attr * 0x9E3779B97F4A7C15ull)) >> 58);
}

static int
newest_first(const void *a, const void *b)
{
	const struct mkey *x = a, *y = b;

	if (x->time != y->time)
		return x->time > y->time ? -1 : 1;
	return x->seq > y->seq ? -1 : x->seq < y->seq;
}

static void
model_sort(struct model *m)
{
	if (!m->dirty)
		return;
	free(m->keys);
	m->keys = malloc((m->n ? m->n : 1) * sizeof(*m->keys));
	assert_non_null(m->keys);
	m->n_keys = 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct mev *e = &m->ev[i];
		struct mkey *k;

		if (e->gone)
			continue;
		if (m->n_keys == 0 || e->time < m->t_lo)
			m->t_lo = e->time;
		if (m->n_keys == 0 || e->time > m->t_hi)
			m->t_hi = e->time;
		k = &m->keys[m->n_keys++];
		*k = (struct mkey){ .time = e->time, .seq = e->seq, .idx = (uint32_t)i,
			.data = e->data };
		for (unsigned v = 0; v < e->n_vals; v++)
			k->bloom |= bloom_bit(e->attr[v], e->vhash[v]);
	}
	qsort(m->keys, m->n_keys, sizeof(*m->keys), newest_first);
	m->dirty = false;
}

static bool
mev_has(const struct mev *e, const struct ht_index_query *q, uint64_t qhash)
{
	for (unsigned i = 0; i < e->n_vals; i++)
		if (e->attr[i] == q->attr && e->vhash[i] == qhash &&
		    strcmp(e->val[i], q->value) == 0)
			return true;
	return false;
}

/* Does (time, seq, data) pass q's window, snapshot, data and after rules? */
static bool
key_matches(int64_t time, uint64_t seq, bool data, const struct ht_index_query *q)
{
	if (time < q->start || time > q->end || seq > q->max_seq)
		return false;
	if (data && !q->include_data)
		return false;
	return !q->has_after || time < q->after_time ||
	    (time == q->after_time && seq < q->after_seq);
}

static bool
mev_matches(const struct mev *e, const struct ht_index_query *q, uint64_t qhash)
{
	return !e->gone && key_matches(e->time, e->seq, e->data, q) &&
	    (!q->has_attr || mev_has(e, q, qhash));
}

/* The brute-force answer to q, newest first, into *ret (indices). */
static void
model_expect(struct model *m, const struct ht_index_query *q, struct ivec *ret)
{
	uint64_t qhash = q->has_attr ? fnv(q->value) : 0;
	uint64_t qbit = q->has_attr ? bloom_bit(q->attr, qhash) : 0;
	size_t lo = 0, hi;

	model_sort(m);
	hi = m->n_keys;
	/* The first event not newer than q->end (keys are by time desc). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->keys[mid].time > q->end)
			lo = mid + 1;
		else
			hi = mid;
	}
	ret->n = 0;
	for (const struct mkey *k = m->keys + lo; k < m->keys + m->n_keys; k++) {
		if (k->time < q->start)
			break;
		if (!key_matches(k->time, k->seq, k->data, q))
			continue;
		if (q->has_attr && ((k->bloom & qbit) == 0 || !mev_has(&m->ev[k->idx], q, qhash)))
			continue;
		ivec_push(ret, k->idx);
	}
}

/* Mark the events of segment day gone (dropped by retention). */
static size_t
model_drop_day(struct model *m, uint32_t day)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++) {
		if (m->ev[i].day == day && !m->ev[i].gone) {
			m->ev[i].gone = true;
			n++;
		}
	}
	m->dirty = true;
	return n;
}

static size_t
model_live(const struct model *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++)
		n += !m->ev[i].gone;
	return n;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the fixture ---- */

struct fx {
	char dir[64];
	char hdir[128];
	char idir[160];
	struct event_base *base;
	struct ht_history *h;
	struct ht_conf_history conf;
	struct model m;
	struct rng r;
	/* left behind by a failed assertion; teardown frees them */
	struct ht_lookup_event *pend_evs;
	size_t pend_n;
	struct ivec exp;
	const void *param;		/* the test's initial state (a case) */
	uint64_t started_ms;
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	fx->param = *state;
	fx->started_ms = now_ms();
	pools_init();
	strcpy(fx->dir, "/tmp/test_lookup.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->hdir, sizeof(fx->hdir), "%s/history", fx->dir);
	snprintf(fx->idir, sizeof(fx->idir), "%s/index", fx->hdir);
	fx->base = event_base_new();
	if (fx->base == NULL)
		return -1;
	fx->conf.retention_days = 90;
	fx->conf.max_disk = 0;
	fx->conf.fsync = HT_FSYNC_OFF;
	fx->conf.fsync_interval_ms = 1000;
	/* Retention and damage are logged as warnings; the tests that want
	 * them raise the level. */
	log_setlevel(getenv("HT_LOOKUP_LOG") ? HT_LOG_DEBUG : HT_LOG_ERR);
	ht_run_cache_limit(CACHE_DEFAULT);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	ht_history_close(fx->h);
	event_base_free(fx->base);
	ht_lookup_free(fx->pend_evs, fx->pend_n);
	free(fx->exp.v);
	model_free(&fx->m);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	ht_run_cache_limit(CACHE_DEFAULT);
	print_message("(%" PRIu64 " ms)\n", now_ms() - fx->started_ms);
	free(fx);
	return 0;
}

static void
hist_open(struct fx *fx)
{
	fx->h = NULL;
	assert_int_equal(ht_history_open(fx->hdir, &fx->conf, fx->base, fake_clock, &fx->h), 0);
	assert_non_null(fx->h);
}

static void
hist_close(struct fx *fx)
{
	ht_history_close(fx->h);
	fx->h = NULL;
}

static void
hist_reopen(struct fx *fx)
{
	hist_close(fx);
	hist_open(fx);
}

/* ---- generating events ---- */

struct gen {
	int64_t t_lo, t_hi;		/* event times uniform in [t_lo, t_hi] */
	unsigned tie_pct;		/* share reusing an earlier event's time */
	unsigned data_pct;		/* share of data events */
};

static void
obj_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

/* A userIdentity in one of CloudTrail's shapes; the Username it implies
 * (userName, else the ARN's last part, else principalId) into *ret_user. */
static struct json_object *
gen_identity(struct rng *r, const char **ret_user, const char **ret_key)
{
	const char *u = pool_users[rng_below(r, N_USERS)];
	unsigned k = (unsigned)rng_below(r, 100);
	struct json_object *o;
	char buf[128];

	*ret_user = NULL;
	*ret_key = NULL;
	if (k < 8)
		return NULL;
	o = json_object_new_object();
	if (k < 43) {			/* userName wins over a different ARN */
		obj_str(o, "type", "IAMUser");
		obj_str(o, "principalId", "AIDAEXAMPLE");
		snprintf(buf, sizeof(buf), "arn:aws:iam::123456789012:user/dev/%s-x", u);
		obj_str(o, "arn", buf);
		obj_str(o, "userName", u);
		*ret_user = u;
	} else if (k < 68) {		/* the ARN's last '/' part */
		obj_str(o, "type", "AssumedRole");
		snprintf(buf, sizeof(buf), "AROAEXAMPLE:%s", u);
		obj_str(o, "principalId", buf);
		snprintf(buf, sizeof(buf), "arn:aws:sts::123456789012:assumed-role/Admin/%s", u);
		obj_str(o, "arn", buf);
		*ret_user = strrchr(u, '/') ? strrchr(u, '/') + 1 : u;
	} else if (k < 76) {		/* no '/': the last ':' part */
		obj_str(o, "type", "Root");
		obj_str(o, "principalId", "123456789012");
		obj_str(o, "arn", "arn:aws:iam::123456789012:root");
		*ret_user = "root";
	} else if (k < 88) {		/* principalId alone */
		obj_str(o, "type", "AWSService");
		obj_str(o, "principalId", u);
		*ret_user = u;
	} else if (k < 92) {		/* an ARN with nothing after '/' */
		obj_str(o, "type", "IAMUser");
		obj_str(o, "arn", "arn:aws:iam::123456789012:user/");
		obj_str(o, "principalId", u);
		*ret_user = u;
	}				/* else: an identity with no name at all */
	if (rng_pct(r, 60)) {
		*ret_key = pool_keys[rng_below(r, N_KEYS)];
		obj_str(o, "accessKeyId", *ret_key);
	}
	return o;
}

static struct json_object *
gen_resources(struct rng *r, struct mev *e)
{
	unsigned n = rng_pct(r, 40) ? 0 : 1 + (unsigned)rng_below(r, 3);
	struct json_object *a;

	if (n == 0)
		return NULL;
	a = json_object_new_array();
	for (unsigned i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();
		const char *arn = pool_arns[rng_below(r, N_ARNS)];
		const char *type = pool_types[rng_below(r, NELEM(pool_types))];

		if (!rng_pct(r, 10)) {
			obj_str(o, "ARN", arn);
			mev_put(e, HT_ATTR_RESOURCE_NAME, arn);
		}
		obj_str(o, "accountId", "123456789012");
		if (!rng_pct(r, 10)) {
			obj_str(o, "type", type);
			mev_put(e, HT_ATTR_RESOURCE_TYPE, type);
		}
		json_object_array_add(a, o);
	}
	return a;
}

static int64_t
gen_time(struct fx *fx, const struct gen *g)
{
	if (fx->m.n > 0 && rng_pct(&fx->r, g->tie_pct))
		return fx->m.ev[rng_below(&fx->r, fx->m.n)].time;
	return g->t_lo + (int64_t)rng_below(&fx->r, (uint64_t)(g->t_hi - g->t_lo + 1));
}

static char *
gen_id(struct fx *fx)
{
	uint64_t a = rng_next(&fx->r), b = rng_next(&fx->r);
	char buf[40];

	if (fx->m.n > 1 && rng_pct(&fx->r, 2))	/* a shared eventID */
		return strdup(fx->m.ev[rng_below(&fx->r, fx->m.n - 1)].id);
	snprintf(buf, sizeof(buf), "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-8%03" PRIx64
	    "-%012" PRIx64, a >> 32, (a >> 16) & 0xffff, a & 0xfff, b >> 52,
	    b & (uint64_t)0xffffffffffff);
	return strdup(buf);
}

static void
gen_fields(struct fx *fx, struct mev *e, struct ht_record *rec)
{
	struct rng *r = &fx->r;
	const char *src = pool_sources[rng_below(r, NELEM(pool_sources))];
	const char *name = pool_names[rng_below(r, NELEM(pool_names))];
	const char *user, *key;

	rec->event_version = strdup(HT_EVENT_VERSION);
	rec->user_identity = gen_identity(r, &user, &key);
	rec->event_source = strdup(src);
	rec->event_name = strdup(name);
	rec->aws_region = strdup("eu-west-1");
	rec->source_ip_address = strdup("192.0.2.7");
	rec->event_id = strdup(e->id);
	rec->read_only = rng_pct(r, 20) ? HT_UNSET : rng_pct(r, 50) ? HT_TRUE : HT_FALSE;
	rec->event_type = strdup("AwsApiCall");
	rec->recipient_account_id = strdup("123456789012");
	mev_put(e, HT_ATTR_EVENT_ID, e->id);
	mev_put(e, HT_ATTR_EVENT_NAME, name);
	mev_put(e, HT_ATTR_EVENT_SOURCE, src);
	mev_put(e, HT_ATTR_USERNAME, user);
	mev_put(e, HT_ATTR_ACCESS_KEY_ID, key);
	if (rec->read_only != HT_UNSET)
		mev_put(e, HT_ATTR_READ_ONLY, rec->read_only == HT_TRUE ? "true" : "false");
}

/* A new random event, added to the model (seq and place come with the
 * append); returns its record (caller frees). */
static struct ht_record *
gen_event(struct fx *fx, const struct gen *g)
{
	struct ht_record *rec = ht_record_new();
	struct printbuf *pb = printbuf_new();
	int64_t t = gen_time(fx, g);
	char *id = gen_id(fx);
	struct mev *e;

	assert_non_null(rec);
	assert_non_null(pb);
	assert_non_null(id);
	e = model_add(&fx->m);
	e->id = id;
	e->time = t;
	rec->event_time = (time_t)t;
	gen_fields(fx, e, rec);
	rec->resources = gen_resources(&fx->r, e);
	e->data = rng_pct(&fx->r, g->data_pct);
	if (e->data) {
		rec->event_category = strdup("Data");
		rec->management_event = HT_FALSE;
	} else if (rng_pct(&fx->r, 70)) {
		rec->event_category = strdup("Management");
		rec->management_event = HT_TRUE;
	}
	if (rng_pct(&fx->r, 40)) {
		rec->request_parameters = json_object_new_object();
		obj_str(rec->request_parameters, "bucketName", "example-bucket");
		json_object_object_add(rec->request_parameters, "n",
		    json_object_new_int64((int64_t)rng_below(&fx->r, 1000000)));
	}
	assert_int_equal(ht_record_serialize(rec, pb), 0);
	e->json = strndup(pb->buf, (size_t)pb->bpos);
	e->len = (size_t)pb->bpos;
	assert_non_null(e->json);
	printbuf_free(pb);
	return rec;
}

struct ack {
	int calls;
	int err;
};

static void
durable_cb(int err, void *arg)
{
	struct ack *a = arg;

	a->calls++;
	a->err = err;
}

/* Generate n events and append them as one batch (with their parsed form
 * when parsed, else the index parses the JSON); note seq, day, offset. */
static void
append_batch(struct fx *fx, const struct gen *g, size_t n, bool parsed)
{
	struct ht_record *recs[BATCH_MAX];
	struct iovec iov[BATCH_MAX];
	struct ht_history_pos end;
	struct ack ack = { 0 };
	size_t first = fx->m.n;
	uint64_t seq = ht_history_next_seq(fx->h), off;

	assert_true(n > 0 && n <= BATCH_MAX);
	for (size_t i = 0; i < n; i++)
		recs[i] = gen_event(fx, g);
	for (size_t i = 0; i < n; i++)
		iov[i] = (struct iovec){ fx->m.ev[first + i].json, fx->m.ev[first + i].len };
	assert_int_equal(ht_history_append_records(fx->h, iov,
	    parsed ? (const struct ht_record *const *)recs : NULL, n, durable_cb, &ack), 0);
	assert_int_equal(ack.calls, 1);
	assert_int_equal(ack.err, 0);
	ht_history_end(fx->h, &end);
	off = end.offset;
	for (size_t i = n; i-- > 0;) {
		struct mev *e = &fx->m.ev[first + i];

		off -= HT_SEG_FRAME_LEN + e->len;
		e->offset = off;
		e->day = end.day;
		e->seq = seq + i;
	}
	for (size_t i = 0; i < n; i++)
		ht_record_free(recs[i]);
}

/* Append count events in random batches while the clock walks through the
 * day starting at day_start; the loop runs now and then, as in the
 * daemon, so index jobs finish at random points. */
static void
append_day(struct fx *fx, int64_t day_start, size_t count, const struct gen *g)
{
	size_t done = 0, batches = 0;

	while (done < count) {
		size_t n = 1 + rng_below(&fx->r, BATCH_MAX);

		if (n > count - done)
			n = count - done;
		fake_now = day_start + 60 + (int64_t)(done * (DAY_S - 120) / count);
		append_batch(fx, g, n, rng_pct(&fx->r, 50));
		done += n;
		if (++batches % 8 == 0)
			event_base_loop(fx->base, EVLOOP_NONBLOCK);
	}
}

/* ---- letting the index settle ---- */


/* Is every sealed segment one run covering all of it, and the live one's
 * first run written if it has that many records?  *ret_fp summarizes the
 * state so that callers can tell when it stops changing. */
static bool
index_settled(struct ht_history *h, uint64_t *ret_fp)
{
	size_t n = ht_history_segments(h);
	uint64_t fp = n;
	bool ok = true;

	for (size_t i = 0; i < n; i++) {
		struct ht_seg_index_info in;
		struct ht_seg_index *x;
		uint32_t day;

		x = ht_history_segment_index(h, i, &day);
		if (x == NULL)
			continue;
		ht_seg_index_info(x, &in);
		fp = fp * 31 + in.runs * 1000003 + in.covered + in.indexed * 7 + in.run_bytes;
		if (in.indexed <= HT_SEG_HEADER_LEN)
			continue;
		if (i + 1 < n && (in.runs != 1 || in.covered != in.indexed))
			ok = false;
		if (i + 1 == n && in.count >= HT_INDEX_TAIL_MAX && in.covered <= HT_SEG_HEADER_LEN)
			ok = false;
	}
	*ret_fp = fp;
	return ok;
}

/* Index jobs run on the indexer thread and are installed on the loop: run
 * it until the index is settled and quiet, or has not changed for 1.5 s
 * (a job that will never come), at most 10 s. */
static void
drain(struct fx *fx)
{
	uint64_t start = now_ms(), since = start, fp, last = 0;

	for (;;) {
		bool ok;

		event_base_loop(fx->base, EVLOOP_NONBLOCK);
		ok = index_settled(fx->h, &fp);
		if (fp != last) {
			last = fp;
			since = now_ms();
		}
		if ((ok && now_ms() - since >= 20) || now_ms() - since >= 1500 ||
		    now_ms() - start >= 10000)
			return;
		usleep(1000);
	}
}

/* ---- asking and checking ---- */

static const char *const attr_names[HT_ATTR_COUNT] = {
	"EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName",
	"EventSource", "AccessKeyId",
};

static void
describe(const struct ht_index_query *q, size_t limit, size_t page, size_t pos, size_t n_exp)
{
	print_message("query: attr=%s value=\"%s\" start=%" PRId64 " end=%" PRId64
	    " max_seq=%" PRIu64 " include_data=%d after=%s(%" PRId64 ",%" PRIu64 ") limit=%zu;"
	    " page %zu at %zu of %zu expected\n",
	    q->has_attr ? attr_names[q->attr] : "-", q->has_attr ? q->value : "", q->start, q->end,
	    q->max_seq, q->include_data, q->has_after ? "" : "none", q->after_time, q->after_seq,
	    limit, page, pos, n_exp);
}

struct page_ctx {
	const struct ht_index_query *q;	/* the query as first asked */
	size_t limit, page, pos;
	const struct ivec *exp;
};

static void
check_page(struct fx *fx, const struct page_ctx *c, const struct ht_lookup_event *evs,
    size_t n, bool more)
{
	size_t left = c->exp->n - c->pos, want = left < c->limit ? left : c->limit;

	if (n != want || more != (left > want)) {
		describe(c->q, c->limit, c->page, c->pos, c->exp->n);
		for (size_t i = 0; i < n && i < 8; i++)
			print_message("  got seq %" PRIu64 " time %" PRId64 " / expected %s%" PRIu64
			    "\n", evs[i].seq, evs[i].time, i < left ? "seq " : "none ",
			    i < left ? fx->m.ev[c->exp->v[c->pos + i]].seq : 0);
		fail_msg("page of %zu events (more=%d), expected %zu (more=%d)", n, more, want,
		    left > want);
	}
	for (size_t i = 0; i < n; i++) {
		const struct mev *e = &fx->m.ev[c->exp->v[c->pos + i]];

		if (evs[i].seq == e->seq && evs[i].time == e->time && evs[i].len == e->len &&
		    evs[i].json != NULL && memcmp(evs[i].json, e->json, e->len) == 0 &&
		    evs[i].rec != NULL)
			continue;
		describe(c->q, c->limit, c->page, c->pos, c->exp->n);
		fail_msg("event %zu of the page: got seq %" PRIu64 " time %" PRId64
		    ", expected seq %" PRIu64 " time %" PRId64 "%s", i, evs[i].seq, evs[i].time,
		    e->seq, e->time, evs[i].seq == e->seq ? " (same seq, different record or parse)" : "");
	}
}

/* One lookup; the result is parked in fx so a failed check frees it. */
static void
lookup_page(struct fx *fx, const struct page_ctx *c, const struct ht_index_query *q,
    bool *ret_more)
{
	int v;

	ht_lookup_free(fx->pend_evs, fx->pend_n);
	fx->pend_evs = NULL;
	fx->pend_n = 0;
	v = ht_lookup(fx->h, q, c->limit, &fx->pend_evs, &fx->pend_n, ret_more);
	if (v != 0) {
		describe(c->q, c->limit, c->page, c->pos, c->exp->n);
		fail_msg("ht_lookup returned %d (%s)", v, strerror(-v));
	}
	check_page(fx, c, fx->pend_evs, fx->pend_n, *ret_more);
}

/*
 * Ask q with page size limit, following has_after to the end, comparing
 * every page with the brute-force answer.  Unless full, an answer of more
 * than MAX_PAGES pages is checked over its first three pages and then
 * resumed from an event near its end (resuming after any event is part of
 * the contract), to keep the run short.
 */
static void
run_query(struct fx *fx, const struct ht_index_query *q, size_t limit, bool full)
{
	struct page_ctx c = { .q = q, .limit = limit, .exp = &fx->exp };
	struct ht_index_query qq = *q;
	bool more = true;

	model_expect(&fx->m, q, &fx->exp);
	while (more) {
		const struct mev *e;

		assert_true(c.page <= fx->exp.n / limit + 2);
		lookup_page(fx, &c, &qq, &more);
		c.pos += fx->pend_n;
		c.page++;
		if (!more)
			break;
		qq.has_after = true;
		qq.after_time = fx->pend_evs[fx->pend_n - 1].time;
		qq.after_seq = fx->pend_evs[fx->pend_n - 1].seq;
		if (full || c.page != 3 || fx->exp.n - c.pos <= MAX_PAGES * limit)
			continue;
		c.pos = fx->exp.n - rng_below(&fx->r, 3 * limit + 1);
		e = &fx->m.ev[fx->exp.v[c.pos - 1]];
		qq.after_time = e->time;
		qq.after_seq = e->seq;
	}
	assert_int_equal(c.pos, fx->exp.n);
}

/* A value for attr a: mostly one that some event has, else from a pool, a
 * case variant or one nobody has. */
static const char *
pick_value(struct fx *fx, enum ht_attr a)
{
	struct rng *r = &fx->r;
	unsigned k = (unsigned)rng_below(r, 100);

	if (k < 85 && fx->m.n > 0) {
		for (int tries = 0; tries < 16; tries++) {
			const struct mev *e = &fx->m.ev[rng_below(r, fx->m.n)];
			unsigned at = (unsigned)rng_below(r, MAX_EV_VALS);

			for (unsigned i = 0; i < e->n_vals; i++)
				if (e->attr[(at + i) % e->n_vals] == a)
					return e->val[(at + i) % e->n_vals];
		}
	}
	switch (a) {
	case HT_ATTR_READ_ONLY:
		return k % 3 == 0 ? "True" : k % 2 ? "true" : "false";
	case HT_ATTR_EVENT_NAME:
		return pool_names[rng_below(r, NELEM(pool_names))];
	case HT_ATTR_USERNAME:
		return k % 2 ? pool_users[rng_below(r, N_USERS)] : "nobody";
	case HT_ATTR_RESOURCE_NAME:
		return k % 2 ? pool_arns[rng_below(r, N_ARNS)] : "arn:aws:s3:::bucket-";
	case HT_ATTR_RESOURCE_TYPE:
		return pool_types[rng_below(r, NELEM(pool_types))];
	case HT_ATTR_ACCESS_KEY_ID:
		return pool_keys[rng_below(r, N_KEYS)];
	default:
		return k % 2 ? "S3.amazonaws.com" : "00000000-0000-4000-8000-000000000000";
	}
}

static int64_t
some_time(struct fx *fx)
{
	const struct model *m = &fx->m;

	if (m->n > 0 && rng_pct(&fx->r, 60))
		return m->ev[rng_below(&fx->r, m->n)].time;
	return m->t_lo + (int64_t)rng_below(&fx->r, (uint64_t)(m->t_hi - m->t_lo + 1));
}

/* A random window: everything, one second, an empty or inverted one, or a
 * log-uniform length placed at, before or around an event's time. */
static void
gen_window(struct fx *fx, struct ht_index_query *q)
{
	struct rng *r = &fx->r;
	unsigned k = (unsigned)rng_below(r, 100);
	int64_t len = (int64_t)1 << rng_below(r, 24), c = some_time(fx);

	len += (int64_t)rng_below(r, (uint64_t)len);
	if (k < 8) {
		q->start = fx->m.t_lo - (int64_t)rng_below(r, 2);
		q->end = fx->m.t_hi + (int64_t)rng_below(r, 2);
	} else if (k < 12) {
		q->start = q->end = c;
	} else if (k < 14) {
		q->end = c;
		q->start = c + 1 + (int64_t)rng_below(r, 1000);
	} else if (k < 45) {
		q->start = c;
		q->end = c + len;
	} else if (k < 75) {
		q->end = c;
		q->start = c - len;
	} else {
		q->start = c - len / 2;
		q->end = q->start + len;
	}
}

static void
gen_query(struct fx *fx, struct ht_index_query *q, size_t *ret_limit)
{
	struct rng *r = &fx->r;
	uint64_t last = ht_history_next_seq(fx->h) - 1;

	model_sort(&fx->m);
	memset(q, 0, sizeof(*q));
	gen_window(fx, q);
	q->has_attr = !rng_pct(r, 25);
	if (q->has_attr) {
		q->attr = (enum ht_attr)rng_below(r, HT_ATTR_COUNT);
		q->value = pick_value(fx, q->attr);
	}
	q->max_seq = rng_pct(r, 85) ? last : rng_below(r, last + 1);
	q->include_data = rng_pct(r, 50);
	if (rng_pct(r, 10)) {
		/* Resume after an arbitrary point, not necessarily an event. */
		q->has_after = true;
		q->after_time = some_time(fx) + (int64_t)rng_below(r, 3) - 1;
		q->after_seq = rng_pct(r, 20) ? 0 : rng_pct(r, 20) ? UINT64_MAX :
		    rng_below(r, last + 2);
	}
	*ret_limit = 1 + rng_below(r, 50);
}

/* n random queries; the loop runs every 64 when live. */
static void
property_round(struct fx *fx, unsigned n, bool run_loop)
{
	for (unsigned i = 0; i < n; i++) {
		struct ht_index_query q;
		size_t limit;

		gen_query(fx, &q, &limit);
		run_query(fx, &q, limit, false);
		if (run_loop && i % 64 == 63)
			event_base_loop(fx->base, EVLOOP_NONBLOCK);
	}
}

/* Every event history holds, page by page (50) to the end. */
static void
full_walk(struct fx *fx, bool include_data)
{
	struct ht_index_query q = { .start = INT64_MIN, .end = INT64_MAX, .max_seq = UINT64_MAX,
		.include_data = include_data };

	run_query(fx, &q, 50, true);
}

/* ---- files ---- */

/* Run files of day under the index directory: count and bytes; the path of
 * the last one seen into path (if not NULL). */
static size_t
run_files(struct fx *fx, uint32_t day, uint64_t *ret_bytes, char *path, size_t len)
{
	char prefix[16];
	struct dirent *de;
	uint64_t bytes = 0;
	size_t n = 0;
	DIR *d;

	snprintf(prefix, sizeof(prefix), "%08" PRIu32 "-", day);
	d = opendir(fx->idir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char p[PATH_MAX];
		struct stat st;

		if (strncmp(de->d_name, prefix, 9) != 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", fx->idir, de->d_name);
		if (stat(p, &st) == 0)
			bytes += (uint64_t)st.st_size;
		if (path != NULL)
			snprintf(path, len, "%s", p);
		n++;
	}
	closedir(d);
	if (ret_bytes != NULL)
		*ret_bytes = bytes;
	return n;
}

static uint64_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static bool
seg_exists(struct fx *fx, uint32_t day)
{
	char path[PATH_MAX];
	struct stat st;

	ht_history_segment_path(fx->hdir, day, path, sizeof(path));
	return stat(path, &st) == 0;
}

/* Bytes of day on disk: its segment and its run files. */
static uint64_t
day_bytes(struct fx *fx, uint32_t day)
{
	char path[PATH_MAX];
	uint64_t runs;

	ht_history_segment_path(fx->hdir, day, path, sizeof(path));
	run_files(fx, day, &runs, NULL, 0);
	return file_size(path) + runs;
}

static void
flip_byte(const char *path, uint64_t off)
{
	unsigned char c;
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
	c ^= 0x01;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)off), 1);
	close(fd);
}

static uint64_t
read_u64(const char *path, uint64_t off)
{
	unsigned char b[8];
	uint64_t v = 0;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, b, 8, (off_t)off), 8);
	close(fd);
	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* Events of the model in segment day, in append order (indices). */
static void
day_events(struct fx *fx, uint32_t day, struct ivec *ret)
{
	ret->n = 0;
	for (size_t i = 0; i < fx->m.n; i++)
		if (fx->m.ev[i].day == day && !fx->m.ev[i].gone)
			ivec_push(ret, (uint32_t)i);
}

static void
check_records(struct fx *fx)
{
	struct ht_history_stats st;

	ht_history_stats(fx->h, &st);
	assert_int_equal(st.records, model_live(&fx->m));
}

/* ---- must-show 1: random queries equal brute force ---- */

/* Per phase.  Under ASan every allocation costs several times more, and
 * what the sanitizers look for needs paths, not numbers: fewer there. */
#if defined(__SANITIZE_ADDRESS__)
#define QUERIES 250
#else
#define QUERIES 700
#endif

static void
test_property(void **state)
{
	static const size_t per_day[] = { 8600, 1200, 16700, 150, 8900 };
	struct fx *fx = *state;
	int64_t base = day_epoch(20240101);
	struct gen g = { .t_lo = base, .t_hi = base + 100 * DAY_S - 1, .tie_pct = 15,
		.data_pct = 15 };
	struct ht_history_stats st;

	rng_seed(&fx->r, 1);
	fake_now = base + 95 * DAY_S;
	hist_open(fx);
	/* Five days of arrivals (clock days 95-99); event times span all 100
	 * days, so most are older than their arrival and some are newer. */
	for (size_t d = 0; d < NELEM(per_day); d++)
		append_day(fx, base + (int64_t)(95 + d) * DAY_S, per_day[d], &g);
	assert_int_equal(ht_history_segments(fx->h), NELEM(per_day));

	/* Live: runs, frozen tails still being written, tails. */
	property_round(fx, QUERIES, true);
	full_walk(fx, true);

	/* Every index job installed. */
	drain(fx);
	property_round(fx, QUERIES, false);
	full_walk(fx, false);

	/* From disk, through a block cache much smaller than the runs. */
	hist_reopen(fx);
	ht_run_cache_limit(64 * 1024);
	ht_history_stats(fx->h, &st);
	assert_int_equal(st.records, fx->m.n);
	assert_int_equal(st.damaged, 0);
	assert_true(st.index_bytes > 0);
	property_round(fx, QUERIES, false);
	full_walk(fx, true);
}

/* ---- must-show 2: paging a snapshot while appending ---- */

/* Append a few events between two pages: some in the window (some at the
 * very time of the page's last event), some newer, some older. */
static void
append_between(struct fx *fx, const struct ht_index_query *q, int64_t cursor_time)
{
	unsigned k = (unsigned)rng_below(&fx->r, 4);
	struct gen g = { .tie_pct = 0, .data_pct = 20 };
	size_t n = 1 + rng_below(&fx->r, 12);

	if (k == 0) {
		g.t_lo = g.t_hi = cursor_time;
	} else if (k == 1) {
		g.t_lo = q->start;
		g.t_hi = q->end;
	} else if (k == 2) {
		g.t_lo = q->end + 1;
		g.t_hi = q->end + DAY_S;
	} else {
		g.t_lo = q->start - DAY_S;
		g.t_hi = q->start - 1;
	}
	append_batch(fx, &g, n, rng_pct(&fx->r, 50));
}

/* Every few pages something bigger happens: a day rolls over (a new
 * segment, the old one compacted), or 8300 events arrive (a run flush). */
static void
append_event(struct fx *fx, const struct ht_index_query *q, size_t page)
{
	struct gen g = { .t_lo = q->start, .t_hi = q->end, .tie_pct = 10, .data_pct = 20 };

	if (page % 25 == 24)
		fake_now += DAY_S;
	if (page == 5 && !q->has_attr) {
		for (size_t done = 0; done < 8300; done += BATCH_MAX)
			append_batch(fx, &g, BATCH_MAX, true);
	}
}

/*
 * Page through q (limit per page) while appending.  With snapshot, q's
 * max_seq is the last seq at the first page and the pages must be exactly
 * the brute-force answer at that moment.  Without (max_seq = all), no
 * event may come twice and every event of the window that existed at the
 * first page must come once; later ones may or may not.
 */
static void
page_while_appending(struct fx *fx, struct ht_index_query q, size_t limit, bool snapshot)
{
	uint64_t last = ht_history_next_seq(fx->h) - 1;
	struct ivec exp0 = { 0 };
	struct page_ctx c = { .q = &q, .limit = limit, .exp = &exp0 };
	struct ht_index_query qq, qs = q;
	unsigned char *seen;
	bool more = true;
	size_t extra = 0;

	qs.max_seq = last;
	model_expect(&fx->m, &qs, &fx->exp);
	for (size_t i = 0; i < fx->exp.n; i++)
		ivec_push(&exp0, fx->exp.v[i]);
	q.max_seq = snapshot ? last : UINT64_MAX;
	qq = q;
	seen = calloc(1, 1 << 20);
	assert_non_null(seen);
	while (more) {
		int v;

		ht_lookup_free(fx->pend_evs, fx->pend_n);
		fx->pend_evs = NULL;
		fx->pend_n = 0;
		v = ht_lookup(fx->h, &qq, limit, &fx->pend_evs, &fx->pend_n, &more);
		assert_int_equal(v, 0);
		if (snapshot)
			check_page(fx, &c, fx->pend_evs, fx->pend_n, more);
		for (size_t i = 0; i < fx->pend_n; i++) {
			uint64_t s = fx->pend_evs[i].seq;

			assert_true(s > 0 && s < (1u << 20));
			if (seen[s])
				fail_msg("seq %" PRIu64 " returned twice (page %zu)", s, c.page);
			seen[s] = 1;
			extra += s > last;
			if (s > last)
				assert_true(mev_matches(&fx->m.ev[s - 1], &q, fnv(q.has_attr ?
				    q.value : "")));
		}
		c.pos += fx->pend_n;
		if (!more)
			break;
		qq.has_after = true;
		qq.after_time = fx->pend_evs[fx->pend_n - 1].time;
		qq.after_seq = fx->pend_evs[fx->pend_n - 1].seq;
		append_between(fx, &q, qq.after_time);
		append_event(fx, &q, c.page++);
		event_base_loop(fx->base, EVLOOP_NONBLOCK);
	}
	for (size_t i = 0; i < exp0.n; i++)
		if (!seen[fx->m.ev[exp0.v[i]].seq])
			fail_msg("seq %" PRIu64 " of the window never came",
			    fx->m.ev[exp0.v[i]].seq);
	if (snapshot) {
		assert_int_equal(c.pos, exp0.n);
		assert_int_equal(extra, 0);
	}
	print_message("paged %zu events in %zu pages (%zu appended later came too)\n", c.pos,
	    c.page + 1, extra);
	free(seen);
	free(exp0.v);
}

static void
test_page_while_appending(void **state)
{
	struct fx *fx = *state;
	int64_t base = day_epoch(20240301);
	struct gen g = { .t_lo = base, .t_hi = base + 4 * DAY_S, .tie_pct = 30, .data_pct = 15 };
	struct ht_index_query q = { .start = base + DAY_S, .end = base + 3 * DAY_S };

	rng_seed(&fx->r, 2);
	fx->conf.fsync = HT_FSYNC_INTERVAL;
	fake_now = base + 5 * DAY_S + 3600;
	hist_open(fx);
	for (size_t done = 0; done < 3000; done += 50)
		append_batch(fx, &g, 50, rng_pct(&fx->r, 50));
	/* Fresh history: seq i + 1 is model event i (page_while_appending
	 * relies on it). */
	for (size_t i = 0; i < fx->m.n; i++)
		assert_int_equal(fx->m.ev[i].seq, i + 1);

	page_while_appending(fx, q, 7, true);
	q.has_attr = true;
	q.attr = HT_ATTR_EVENT_SOURCE;
	q.value = "s3.amazonaws.com";
	q.include_data = true;
	page_while_appending(fx, q, 3, true);
	q.attr = HT_ATTR_READ_ONLY;
	q.value = "false";
	page_while_appending(fx, q, 11, false);
	for (size_t i = 0; i < fx->m.n; i++)
		assert_int_equal(fx->m.ev[i].seq, i + 1);
	assert_true(ht_history_segments(fx->h) > 1);
}

/* ---- must-show 4: retention with the injected clock ---- */

/* count events arriving on day (clock mid-day), event times that day. */
static void
fill_day(struct fx *fx, uint32_t day, size_t count)
{
	int64_t t = day_epoch(day);
	struct gen g = { .t_lo = t, .t_hi = t + DAY_S - 1, .tie_pct = 10, .data_pct = 15 };

	append_day(fx, t, count, &g);
}

static uint32_t
day_plus(uint32_t day, int n)
{
	return ht_history_day_of(day_epoch(day) + (int64_t)n * DAY_S);
}

static void
assert_day_gone(struct fx *fx, uint32_t day)
{
	assert_false(seg_exists(fx, day));
	if (run_files(fx, day, NULL, NULL, 0) != 0)
		fail_msg("run files of dropped day %08" PRIu32 " are still in %s", day, fx->idir);
	model_drop_day(&fx->m, day);
}

static void
assert_stats(struct fx *fx, size_t segs, uint64_t by_days, uint64_t by_disk)
{
	struct ht_history_stats st;

	ht_history_stats(fx->h, &st);
	assert_int_equal(st.segments, segs);
	assert_int_equal(ht_history_segments(fx->h), segs);
	assert_int_equal(st.dropped_retention, by_days);
	assert_int_equal(st.dropped_disk, by_disk);
	assert_int_equal(st.records, model_live(&fx->m));
}

static void
test_retention_days(void **state)
{
	struct fx *fx = *state;
	uint32_t d0 = 20240110, d1 = day_plus(d0, 1), d2 = day_plus(d0, 2);
	int64_t t0 = day_epoch(d0);

	rng_seed(&fx->r, 3);
	fake_now = t0 + 3600;
	hist_open(fx);
	fill_day(fx, d0, 300);
	fill_day(fx, d1, 300);
	fill_day(fx, d2, 300);
	drain(fx);
	assert_true(run_files(fx, d0, NULL, NULL, 0) > 0);

	/* d0 is 90 days and 86399 s old: whole days, so day 90: it stays. */
	fake_now = t0 + 91 * DAY_S - 1;
	ht_history_enforce_retention(fx->h);
	assert_stats(fx, 3, 0, 0);
	assert_true(seg_exists(fx, d0));
	full_walk(fx, true);

	/* 91 days old: dropped, segment and run files; d1 (90 days) stays. */
	fake_now = t0 + 91 * DAY_S;
	ht_history_enforce_retention(fx->h);
	assert_day_gone(fx, d0);
	assert_true(seg_exists(fx, d1));
	assert_true(run_files(fx, d1, NULL, NULL, 0) > 0);
	assert_stats(fx, 2, 1, 0);
	full_walk(fx, true);
	property_round(fx, 150, false);

	/* Retention also runs at open: a day later d1 is 91 days old.  The
	 * clock is past d2, so a new live segment opens and d2 (90) stays. */
	fake_now += DAY_S;
	hist_reopen(fx);
	drain(fx);
	assert_day_gone(fx, d1);
	assert_true(seg_exists(fx, d2));
	assert_stats(fx, 2, 1, 0);
	full_walk(fx, false);
	property_round(fx, 100, false);
}

/* A day dropped while its index job runs must leave no run file behind
 * (the job writes after the drop unless it notices). */
static void
test_retention_drop_during_job(void **state)
{
	struct fx *fx = *state;
	uint32_t d0 = 20240210, d1 = day_plus(d0, 1);
	struct gen g;

	rng_seed(&fx->r, 4);
	fake_now = day_epoch(d0) + 3600;
	hist_open(fx);
	g = (struct gen){ .t_lo = fake_now, .t_hi = fake_now + 3600, .data_pct = 10 };
	/* Cross HT_INDEX_TAIL_MAX in one batch burst: a flush job starts... */
	for (size_t done = 0; done < HT_INDEX_TAIL_MAX; done += BATCH_MAX)
		append_batch(fx, &g, BATCH_MAX, true);
	/* ...and before the loop ever runs, the day ends and is 200 days
	 * old: retention drops it while the job writes its run. */
	fake_now = day_epoch(d1) + 60;
	append_batch(fx, &g, 1, true);
	fake_now += 200 * DAY_S;
	ht_history_enforce_retention(fx->h);
	drain(fx);
	hist_close(fx);		/* every job done */
	assert_day_gone(fx, d0);
	hist_open(fx);		/* d1, sealed now and 200 days old, goes too */
	drain(fx);
	assert_day_gone(fx, d1);
	full_walk(fx, true);
}

/* A clock that goes back appends to the newest segment, drops nothing and
 * keeps every event retrievable; days start again only past the newest. */
static void
test_retention_backwards_clock(void **state)
{
	struct fx *fx = *state;
	uint32_t b0 = 20240601, b2 = day_plus(b0, 2), b3 = day_plus(b0, 3);
	int64_t t2 = day_epoch(b2);
	struct gen g = { .t_lo = t2 - 10 * DAY_S, .t_hi = t2 + 10 * DAY_S, .tie_pct = 10,
		.data_pct = 10 };

	rng_seed(&fx->r, 5);
	fake_now = day_epoch(b0) + 3600;
	hist_open(fx);
	fill_day(fx, b0, 200);
	fill_day(fx, day_plus(b0, 1), 200);
	fill_day(fx, b2, 200);
	/* Back three days, then forward day by day up to b2 again. */
	for (int back = 3; back >= 0; back--) {
		append_day(fx, t2 - back * DAY_S, 100, &g);
		ht_history_enforce_retention(fx->h);
		assert_stats(fx, 3, 0, 0);
	}
	for (size_t i = 0; i < fx->m.n; i++)
		if (fx->m.ev[i].gone == false && fx->m.ev[i].seq > 600)
			assert_int_equal(fx->m.ev[i].day, b2);
	full_walk(fx, true);
	property_round(fx, 100, false);

	/* Restart while the clock is still behind: same segments, seq goes on. */
	fake_now = t2 - 3 * DAY_S;
	hist_reopen(fx);
	append_day(fx, t2 - 3 * DAY_S, 50, &g);
	fake_now = t2 - 100 * DAY_S;
	ht_history_enforce_retention(fx->h);
	assert_stats(fx, 3, 0, 0);
	full_walk(fx, false);

	/* Past the newest day: a new segment. */
	append_day(fx, day_epoch(b3), 50, &g);
	assert_stats(fx, 4, 0, 0);
	full_walk(fx, true);
	property_round(fx, 100, false);
}

/* The live segment stays whatever the clock says. */
static void
test_retention_live_forward(void **state)
{
	struct fx *fx = *state;
	uint32_t l0 = 20240701, l1 = day_plus(l0, 1);

	rng_seed(&fx->r, 6);
	fake_now = day_epoch(l0) + 3600;
	hist_open(fx);
	fill_day(fx, l0, 200);
	fill_day(fx, l1, 200);
	drain(fx);
	fake_now = day_epoch(l1) + 200 * DAY_S;
	ht_history_enforce_retention(fx->h);
	assert_day_gone(fx, l0);
	assert_true(seg_exists(fx, l1));
	assert_stats(fx, 1, 1, 0);
	full_walk(fx, true);

	/* The next append opens today's segment; l1, sealed, goes next. */
	append_day(fx, fake_now - fake_now % DAY_S, 20, &(struct gen){ .t_lo = fake_now,
		.t_hi = fake_now + 100 });
	assert_stats(fx, 2, 1, 0);
	ht_history_enforce_retention(fx->h);
	model_drop_day(&fx->m, l1);
	assert_stats(fx, 1, 2, 0);
	hist_reopen(fx);	/* every index job done (l1's compaction ran) */
	assert_day_gone(fx, l1);
	assert_stats(fx, 1, 0, 0);
	full_walk(fx, true);
}

/* max_disk drops the oldest day first, never the live one, and counts. */
static void
test_retention_max_disk(void **state)
{
	static const size_t sizes[] = { 150, 300, 450, 600 };
	struct fx *fx = *state;
	uint32_t day[4];
	uint64_t total = 0;
	struct ht_history_stats st;

	rng_seed(&fx->r, 7);
	day[0] = 20240801;
	fake_now = day_epoch(day[0]) + 3600;
	hist_open(fx);
	for (size_t i = 0; i < 4; i++) {
		day[i] = day_plus(day[0], (int)i);
		fill_day(fx, day[i], sizes[i]);
	}
	drain(fx);
	for (size_t i = 0; i < 4; i++)
		total += day_bytes(fx, day[i]);
	ht_history_stats(fx->h, &st);
	assert_int_equal(st.segment_bytes + st.index_bytes, total);

	/* One byte over: the oldest (and smallest) day goes, nothing else. */
	fx->conf.max_disk = total - 1;
	ht_history_set_conf(fx->h, &fx->conf);
	ht_history_enforce_retention(fx->h);
	assert_day_gone(fx, day[0]);
	assert_stats(fx, 3, 0, 1);
	full_walk(fx, true);

	/* Room for the two newest exactly: day 1 goes, day 2 stays. */
	fx->conf.max_disk = day_bytes(fx, day[2]) + day_bytes(fx, day[3]);
	ht_history_set_conf(fx->h, &fx->conf);
	ht_history_enforce_retention(fx->h);
	assert_day_gone(fx, day[1]);
	assert_true(seg_exists(fx, day[2]));
	assert_stats(fx, 2, 0, 2);

	/* No room at all: everything but the live day. */
	fx->conf.max_disk = 1;
	ht_history_set_conf(fx->h, &fx->conf);
	ht_history_enforce_retention(fx->h);
	assert_day_gone(fx, day[2]);
	assert_true(seg_exists(fx, day[3]));
	assert_stats(fx, 1, 0, 3);
	full_walk(fx, true);
	property_round(fx, 100, false);
}

/* ---- must-show 5: damage ---- */

/* Three days of events spread over 100 days; sealed days compacted. */
static void
damage_setup(struct fx *fx, uint32_t *days, const size_t *sizes, size_t n)
{
	int64_t base = day_epoch(days[0]);
	struct gen g = { .t_lo = base - 99 * DAY_S, .t_hi = base + DAY_S, .tie_pct = 15,
		.data_pct = 15 };

	fake_now = base + 3600;
	hist_open(fx);
	for (size_t i = 0; i < n; i++) {
		days[i] = day_plus(days[0], (int)i);
		append_day(fx, day_epoch(days[i]), sizes[i], &g);
	}
	drain(fx);
}

/* Everything still in history is found by a scan of the segments too. */
static int
count_cb(uint64_t seq, uint32_t flags, const char *data, size_t len, void *arg)
{
	(void)seq;
	(void)flags;
	(void)data;
	(void)len;
	(*(size_t *)arg)++;
	return HT_SCAN_NEXT;
}

static void
check_scan(struct fx *fx)
{
	struct ht_history_pos from = { 0, 0 }, to, reached;
	size_t n = 0;

	ht_history_end(fx->h, &to);
	assert_int_equal(ht_history_scan(fx->hdir, &from, &to, count_cb, &n, &reached, NULL), 0);
	assert_int_equal(n, model_live(&fx->m));
}

static void
cut_file(const char *path, uint64_t len)
{
	assert_int_equal(truncate(path, (off_t)len), 0);
}

/* (a) The newest segment torn mid-record: that record goes, all others
 * stay, and the index agrees with the segments. */
static void
test_torn_newest_segment(void **state)
{
	static const size_t sizes[] = { 3000, 9000 };
	struct fx *fx = *state;
	uint32_t days[2] = { 20240901 };
	char path[PATH_MAX];
	struct ivec ev = { 0 };
	struct mev *e;
	struct gen g;

	rng_seed(&fx->r, 8);
	damage_setup(fx, days, sizes, 2);
	hist_close(fx);
	ht_history_segment_path(fx->hdir, days[1], path, sizeof(path));
	day_events(fx, days[1], &ev);
	e = &fx->m.ev[ev.v[ev.n - 1]];
	cut_file(path, e->offset + HT_SEG_FRAME_LEN + e->len / 2);
	e->gone = true;
	fx->m.dirty = true;
	hist_open(fx);
	check_records(fx);
	check_scan(fx);
	property_round(fx, 150, false);
	full_walk(fx, true);

	/* Torn again, inside what the first run file covers: that run can no
	 * longer be used, and everything from the torn record on is gone. */
	hist_close(fx);
	e = &fx->m.ev[ev.v[ev.n / 3]];
	cut_file(path, e->offset + 7);
	for (size_t i = ev.n / 3; i < ev.n; i++)
		fx->m.ev[ev.v[i]].gone = true;
	fx->m.dirty = true;
	hist_open(fx);
	check_records(fx);
	check_scan(fx);
	property_round(fx, 100, false);

	/* Appends go on (the torn records' seqs are reused). */
	g = (struct gen){ .t_lo = fx->m.t_lo, .t_hi = fx->m.t_hi, .tie_pct = 20, .data_pct = 15 };
	append_day(fx, day_epoch(days[1]), 500, &g);
	drain(fx);
	check_records(fx);
	property_round(fx, 100, false);
	full_walk(fx, false);
	free(ev.v);
}

/* ht_lookup(q) with stderr going to a file; returns what was logged (free
 * it), the events are left in fx->pend_evs. */
static char *
capture_lookup(struct fx *fx, const struct ht_index_query *q, size_t limit, bool *ret_more)
{
	char path[128], *text;
	int saved, fd, v;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/stderr", fx->dir);
	fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
	assert_true(fd >= 0);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	log_setlevel(HT_LOG_WARNING);
	v = ht_lookup(fx->h, q, limit, &fx->pend_evs, &fx->pend_n, ret_more);
	log_setlevel(getenv("HT_LOOKUP_LOG") ? HT_LOG_DEBUG : HT_LOG_ERR);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	assert_int_equal(v, 0);
	f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return text;
}

/* (b) A flipped byte inside a record of a sealed segment: exactly that
 * record is skipped (and reported), before and after a reopen, and when
 * the index is rebuilt from the damaged segment. */
static void
test_flipped_record(void **state)
{
	static const size_t sizes[] = { 4000, 3000, 500 };
	struct fx *fx = *state;
	uint32_t days[3] = { 20241001 };
	struct ht_index_query q = { .max_seq = UINT64_MAX, .include_data = true };
	struct ht_history_stats st;
	char path[PATH_MAX], want[64], *log;
	struct ivec ev = { 0 };
	bool more;
	struct mev *e;

	rng_seed(&fx->r, 9);
	damage_setup(fx, days, sizes, 3);
	day_events(fx, days[1], &ev);
	e = &fx->m.ev[ev.v[ev.n / 2]];
	ht_history_segment_path(fx->hdir, days[1], path, sizeof(path));
	flip_byte(path, e->offset + HT_SEG_FRAME_LEN + e->len / 2);
	e->gone = true;
	fx->m.dirty = true;

	/* The lookup that reaches it says so. */
	q.start = q.end = e->time;
	log = capture_lookup(fx, &q, 50, &more);
	for (size_t i = 0; i < fx->pend_n; i++)
		assert_true(fx->pend_evs[i].seq != e->seq);
	snprintf(want, sizeof(want), "record %" PRIu64 " is damaged", e->seq);
	if (strstr(log, want) == NULL)
		fail_msg("the damaged record was not reported; log: %s", log);
	free(log);
	property_round(fx, 150, false);
	full_walk(fx, true);

	hist_reopen(fx);
	property_round(fx, 100, false);
	full_walk(fx, false);

	/* Without its run files the segment is indexed again, the damaged
	 * frame skipped and counted. */
	hist_close(fx);
	while (run_files(fx, days[1], NULL, path, sizeof(path)) > 0)
		assert_int_equal(unlink(path), 0);
	hist_open(fx);
	ht_history_stats(fx->h, &st);
	assert_int_equal(st.damaged, 1);
	check_records(fx);
	property_round(fx, 150, false);
	full_walk(fx, true);
	free(ev.v);
}

/* (c) Damage to a run file. */
enum run_damage {
	RD_HEADER,		/* a byte of the header */
	RD_ENTRY_FIRST,		/* the first entries block (read by every scan) */
	RD_ENTRY_MID,		/* the middle entry (binary search by time) */
	RD_KEY_MID,		/* the middle key (binary search by value) */
	RD_POST_MID,		/* the middle posting */
	RD_CRC_TABLE,		/* the block-CRC table */
	RD_CUT_LAST,		/* truncated by one byte */
	RD_CUT_HALF,		/* truncated to half */
	RD_DELETE,
	RD_COUNT
};

static const char *const rd_names[RD_COUNT] = { "header", "first entry block", "middle entry",
	"middle key", "middle posting", "CRC table", "cut by one byte", "cut to half", "deleted" };

static void
damage_run(const char *path, enum run_damage d)
{
	uint64_t n_ents = read_u64(path, 40), n_keys = read_u64(path, 48);
	uint64_t n_posts = read_u64(path, 56), keys = read_u64(path, 104);
	uint64_t posts = read_u64(path, 112), end = read_u64(path, 120);

	switch (d) {
	case RD_HEADER:
		flip_byte(path, 30);
		break;
	case RD_ENTRY_FIRST:
		flip_byte(path, 256 + 32 + 3);
		break;
	case RD_ENTRY_MID:
		flip_byte(path, 256 + n_ents / 2 * 32 + 1);
		break;
	case RD_KEY_MID:
		flip_byte(path, keys + n_keys / 2 * 16 + 2);
		break;
	case RD_POST_MID:
		flip_byte(path, posts + n_posts / 2 * 4);
		break;
	case RD_CRC_TABLE:
		flip_byte(path, end + 1);
		break;
	case RD_CUT_LAST:
		cut_file(path, file_size(path) - 1);
		break;
	case RD_CUT_HALF:
		cut_file(path, file_size(path) / 2);
		break;
	default:
		assert_int_equal(unlink(path), 0);
		break;
	}
}

/* Queries aimed at every way a cursor reads a run: a full scan, binary
 * searches by time (window end, has_after), by value, by posting. */
static void
aimed_queries(struct fx *fx)
{
	struct ht_index_query q = { .start = INT64_MIN, .end = INT64_MAX, .max_seq = UINT64_MAX,
		.include_data = true };

	run_query(fx, &q, 50, false);
	q.include_data = false;
	q.end = fx->m.t_lo + (fx->m.t_hi - fx->m.t_lo) / 2;
	run_query(fx, &q, 20, false);
	for (enum ht_attr a = 0; a < HT_ATTR_COUNT; a++) {
		q.has_attr = true;
		q.attr = a;
		q.value = pick_value(fx, a);
		q.end = INT64_MAX;
		q.has_after = a % 2;
		q.after_time = fx->m.t_lo + (fx->m.t_hi - fx->m.t_lo) / 3;
		q.after_seq = UINT64_MAX / 2;
		run_query(fx, &q, 1 + a * 6, false);
	}
}

struct run_case {
	enum run_damage d;
	bool reopen;		/* else damaged under a running history */
};

/* A run file of a sealed day damaged in one way, found either at open or
 * (with no block cache) by the lookup that reads the damaged part. */
static void
test_damaged_run_file(void **state)
{
	static const size_t sizes[] = { 300, 1500, 100 };
	struct fx *fx = *state;
	const struct run_case *rc = fx->param;
	uint32_t days[3] = { 20241101 };
	char path[PATH_MAX];

	rng_seed(&fx->r, 10 + (uint64_t)rc->d);
	print_message("run file: %s, %s\n", rd_names[rc->d], rc->reopen ? "reopened" : "live");
	damage_setup(fx, days, sizes, 3);
	assert_int_equal(run_files(fx, days[1], NULL, path, sizeof(path)), 1);
	if (rc->reopen)
		hist_close(fx);
	else
		ht_run_cache_limit(0);	/* every block read from disk */
	damage_run(path, rc->d);
	if (rc->reopen)
		hist_open(fx);
	aimed_queries(fx);
	check_records(fx);
	property_round(fx, 25, false);
	full_walk(fx, false);
	ht_run_cache_limit(CACHE_DEFAULT);
	drain(fx);
	hist_reopen(fx);
	property_round(fx, 15, false);
}

/* Two segments whose runs are damaged at once: one lookup must still
 * rebuild both and answer. */
static void
test_damaged_runs_two_days(void **state)
{
	static const size_t sizes[] = { 3000, 3000, 300 };
	struct fx *fx = *state;
	uint32_t days[3] = { 20241201 };
	char path[PATH_MAX];

	rng_seed(&fx->r, 11);
	damage_setup(fx, days, sizes, 3);
	ht_run_cache_limit(0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(run_files(fx, days[i], NULL, path, sizeof(path)), 1);
		damage_run(path, RD_ENTRY_FIRST);
	}
	full_walk(fx, true);
	property_round(fx, 100, false);
}

/* ---- the day's end compacts the sealed segment ---- */

/* index.h: "when the day is over, the whole segment is re-indexed into one
 * run".  Here a tail flush is still running when the day ends. */
static void
test_sealed_day_compacted(void **state)
{
	struct fx *fx = *state;
	uint32_t d0 = 20250101;
	struct ht_seg_index_info in;
	struct gen g;
	uint32_t day;

	rng_seed(&fx->r, 12);
	fake_now = day_epoch(d0) + 3600;
	hist_open(fx);
	g = (struct gen){ .t_lo = fake_now - 5 * DAY_S, .t_hi = fake_now, .data_pct = 10 };
	for (size_t done = 0; done < HT_INDEX_TAIL_MAX + 128; done += BATCH_MAX)
		append_batch(fx, &g, BATCH_MAX, true);
	fake_now += DAY_S;
	append_batch(fx, &g, 1, true);
	drain(fx);
	assert_int_equal(ht_history_segments(fx->h), 2);
	ht_seg_index_info(ht_history_segment_index(fx->h, 0, &day), &in);
	assert_int_equal(day, d0);
	full_walk(fx, true);
	if (in.runs != 1 || in.covered != in.indexed)
		fail_msg("sealed %08" PRIu32 ": %zu runs cover %" PRIu64 " of %" PRIu64
		    " bytes; the rest stays in memory until a restart", day, in.runs, in.covered,
		    in.indexed);
}

/* The stats count each indexed record once, also once a tail was written
 * as a run. */
static void
test_stats_records(void **state)
{
	struct fx *fx = *state;
	struct gen g;

	rng_seed(&fx->r, 13);
	fake_now = day_epoch(20250201) + 3600;
	hist_open(fx);
	g = (struct gen){ .t_lo = fake_now - 5 * DAY_S, .t_hi = fake_now, .data_pct = 10 };
	for (size_t done = 0; done < HT_INDEX_TAIL_MAX + 128; done += BATCH_MAX)
		append_batch(fx, &g, BATCH_MAX, true);
	check_records(fx);
	drain(fx);
	full_walk(fx, true);
	check_records(fx);
}

#define RC(dmg, r) (&(const struct run_case){ .d = (dmg), .reopen = (r) })
#define TR(dmg, r, how) { "test_damaged_run_file(" #dmg ", " how ")", test_damaged_run_file, \
	setup, teardown, (void *)RC(dmg, r) }

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_property),
		T(test_page_while_appending),
		T(test_retention_days),
		T(test_retention_drop_during_job),
		T(test_retention_backwards_clock),
		T(test_retention_live_forward),
		T(test_retention_max_disk),
		T(test_torn_newest_segment),
		T(test_flipped_record),
		TR(RD_HEADER, true, "reopen"),
		TR(RD_ENTRY_FIRST, true, "reopen"), TR(RD_ENTRY_FIRST, false, "live"),
		TR(RD_ENTRY_MID, true, "reopen"), TR(RD_ENTRY_MID, false, "live"),
		TR(RD_KEY_MID, true, "reopen"), TR(RD_KEY_MID, false, "live"),
		TR(RD_POST_MID, true, "reopen"), TR(RD_POST_MID, false, "live"),
		TR(RD_CRC_TABLE, true, "reopen"),
		TR(RD_CUT_LAST, true, "reopen"),
		TR(RD_CUT_HALF, true, "reopen"), TR(RD_CUT_HALF, false, "live"),
		TR(RD_DELETE, true, "reopen"), TR(RD_DELETE, false, "live"),
		T(test_damaged_runs_two_days),
		T(test_sealed_day_compacted),
		T(test_stats_records),
	};
#undef T

	if (getenv("HT_LOOKUP_FILTER") != NULL)
		cmocka_set_test_filter(getenv("HT_LOOKUP_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_index_run.c - daemon/history/index_run.c, checked against a brute
 * force filter + sort of the same records.
 *
 * Property: seeded random records (attributes drawn from small and large
 * pools, several ResourceNames per record, repeats, long values, times over
 * 100 days with many ties, a few before 1970, some data events) are queried
 * on an unfrozen builder, a frozen one and the run file it writes, with
 * random attribute/time/max_seq/include_data queries followed page by page
 * through has_after; every answer must equal the brute force one.  The same
 * on runs of 1 to 24 records, on a run 100x the cache (64 KiB), with the
 * cache off, and from several threads at once (also while a worker writes
 * the frozen builder).
 * Cost: counted block reads show O(log n) cursor creation and O(1) per hit,
 * and a cursor stops at its window's start.
 * Freeze under a capped address space fails with -ENOMEM and leaves the
 * builder whole, at whatever allocation it fails.
 * Corruption: a flipped bit in the header or CRC table fails open with
 * -EBADMSG; one in the entries, keys or postings makes the cursors that
 * touch it fail with -EBADMSG (some must) after a correct prefix, never
 * with wrong data; truncated or extended files fail open.  Empty builders
 * and runs; the hash is pinned to fixed constants; argument errors.
 *
 * HT_TEST_SEED=n in the environment replays a failing seed.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "history/index_run.h"

#define DAY 20240501u
#define T0 INT64_C(1700000000)
#define SPAN_DAYS 100
#define MAX_VALS 16
#define HDR_LEN 256

struct rng {
	uint64_t s;
};

static uint64_t
rnd(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * UINT64_C(2685821657736338717);
}

static uint64_t
below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

static uint64_t
test_seed(uint64_t dflt)
{
	const char *s = getenv("HT_TEST_SEED");
	uint64_t v = s ? strtoull(s, NULL, 0) : dflt;

	print_message("seed %llu\n", (unsigned long long)v);
	return v ? v : 1;
}

/* ---- records ---- */

struct trec {
	int64_t time;
	uint64_t seq, offset;
	uint32_t flags;
	size_t n_vals;
	struct ht_attr_value vals[MAX_VALS];
	char evid[24];
};

/* Value pools per attribute; EventId is per record instead. */
static const size_t pool_size[HT_ATTR_COUNT] = {
	[HT_ATTR_EVENT_NAME] = 300,
	[HT_ATTR_READ_ONLY] = 2,
	[HT_ATTR_USERNAME] = 2000,
	[HT_ATTR_RESOURCE_TYPE] = 10,
	[HT_ATTR_RESOURCE_NAME] = 3000,
	[HT_ATTR_EVENT_SOURCE] = 5,
	[HT_ATTR_ACCESS_KEY_ID] = 50,
};

struct set {
	char **pool[HT_ATTR_COUNT];
	struct trec *recs;
	size_t n;
};

/* Every 40th ResourceName is long (up to 2000 bytes), to cover the hash's
 * long path; Username and ResourceName share some strings, which must
 * still be told apart by attribute. */
static char *
pool_value(struct rng *r, int attr, size_t i)
{
	size_t len = 8 + below(r, 40), at;
	char *s;

	if (attr == HT_ATTR_READ_ONLY)
		return strdup(i ? "true" : "false");
	if (i % 100 == 7)
		len = 16;
	if (attr == HT_ATTR_RESOURCE_NAME && i % 40 == 39)
		len = 100 + below(r, 1900);
	s = malloc(len + 1);
	if (s == NULL)
		return NULL;
	if (i % 100 == 7) {
		snprintf(s, len + 1, "shared-%zu", i);
		return s;
	}
	/* "a<attr>-<i>-" is at most 8 bytes, so values stay distinct. */
	at = (size_t)snprintf(s, len + 1, "a%d-%zu-", attr, i);
	for (; at < len; at++)
		s[at] = (char)('a' + below(r, 26));
	s[len] = '\0';
	return s;
}

static void
pools_make(struct set *st, struct rng *r)
{
	for (int a = 0; a < HT_ATTR_COUNT; a++) {
		if (pool_size[a] == 0)
			continue;
		st->pool[a] = calloc(pool_size[a], sizeof(char *));
		assert_non_null(st->pool[a]);
		for (size_t i = 0; i < pool_size[a]; i++) {
			st->pool[a][i] = pool_value(r, a, i);
			assert_non_null(st->pool[a][i]);
		}
	}
}

/* Skewed: half the picks come from the first five values. */
static const char *
pick(struct set *st, struct rng *r, int attr)
{
	size_t n = pool_size[attr];

	return st->pool[attr][rnd(r) & 1 ? below(r, n < 5 ? n : 5) : below(r, n)];
}

static void
add_val(struct trec *t, int attr, const char *v)
{
	t->vals[t->n_vals].attr = (enum ht_attr)attr;
	t->vals[t->n_vals++].value = v;
}

static int64_t
rand_time(struct rng *r)
{
	int64_t day = (int64_t)below(r, SPAN_DAYS);

	if (below(r, 100) == 0)
		return -(int64_t)below(r, 1000);
	if (rnd(r) & 1)
		return T0 + day * 86400 + (int64_t)below(r, 20) * 3600; /* ties */
	return T0 + day * 86400 + (int64_t)below(r, 86400);
}

static void
rec_make(struct set *st, struct rng *r, struct trec *t, uint64_t seq)
{
	size_t n_rn = below(r, 5);

	t->time = rand_time(r);
	t->seq = seq;
	t->offset = seq * 100 + below(r, 50);
	t->flags = (below(r, 10) < 3 ? HT_ENTRY_DATA : 0) | (rnd(r) & 1 ? 0x100u : 0);
	snprintf(t->evid, sizeof(t->evid), "ev-%llu", (unsigned long long)seq);
	add_val(t, HT_ATTR_EVENT_ID, t->evid);
	add_val(t, HT_ATTR_EVENT_NAME, pick(st, r, HT_ATTR_EVENT_NAME));
	add_val(t, HT_ATTR_READ_ONLY, pick(st, r, HT_ATTR_READ_ONLY));
	if (below(r, 10) > 0)
		add_val(t, HT_ATTR_USERNAME, pick(st, r, HT_ATTR_USERNAME));
	add_val(t, HT_ATTR_EVENT_SOURCE, pick(st, r, HT_ATTR_EVENT_SOURCE));
	if (below(r, 10) < 7)
		add_val(t, HT_ATTR_ACCESS_KEY_ID, pick(st, r, HT_ATTR_ACCESS_KEY_ID));
	for (size_t i = 0; i < n_rn; i++) {
		add_val(t, HT_ATTR_RESOURCE_TYPE, pick(st, r, HT_ATTR_RESOURCE_TYPE));
		add_val(t, HT_ATTR_RESOURCE_NAME, pick(st, r, HT_ATTR_RESOURCE_NAME));
	}
	if (n_rn > 0 && below(r, 4) == 0) /* a value repeated in one record */
		add_val(t, HT_ATTR_RESOURCE_NAME, t->vals[t->n_vals - 1].value);
}

static void
set_make(struct set *st, struct rng *r, size_t n)
{
	uint64_t seq = 1000 + below(r, 1000);

	memset(st, 0, sizeof(*st));
	pools_make(st, r);
	st->recs = calloc(n, sizeof(*st->recs));
	assert_non_null(st->recs);
	st->n = n;
	for (size_t i = 0; i < n; i++) {
		seq += 1 + below(r, 3);
		rec_make(st, r, &st->recs[i], seq);
	}
}

static void
set_free(struct set *st)
{
	for (int a = 0; a < HT_ATTR_COUNT; a++) {
		for (size_t i = 0; st->pool[a] && i < pool_size[a]; i++)
			free(st->pool[a][i]);
		free(st->pool[a]);
	}
	free(st->recs);
}

static void
rec_add(struct ht_run_builder *b, const struct trec *t)
{
	struct ht_index_rec ir = { .time = t->time,
		.seq = t->seq,
		.offset = t->offset,
		.flags = t->flags,
		.vals = t->vals,
		.n_vals = t->n_vals };

	assert_int_equal(ht_run_builder_add(b, &ir), 0);
}

/* Add recs[from, to), in seq order, or with 10% of neighbours swapped. */
static void
add_range(struct ht_run_builder *b, const struct set *st, size_t from, size_t to, struct rng *r,
    bool jumble)
{
	for (size_t i = from; i < to; i++) {
		if (jumble && i + 1 < to && below(r, 10) == 0) {
			rec_add(b, &st->recs[i + 1]);
			rec_add(b, &st->recs[i]);
			i++;
			continue;
		}
		rec_add(b, &st->recs[i]);
	}
}

/* ---- brute force ---- */

static bool
older(int64_t t, uint64_t s, int64_t at, uint64_t as)
{
	return t != at ? t < at : s < as;
}

static bool
rec_matches(const struct trec *t, const struct ht_index_query *q)
{
	bool found = !q->has_attr;

	if (t->time < q->start || t->time > q->end || t->seq > q->max_seq)
		return false;
	if ((t->flags & HT_ENTRY_DATA) && !q->include_data)
		return false;
	if (q->has_after && !older(t->time, t->seq, q->after_time, q->after_seq))
		return false;
	for (size_t i = 0; i < t->n_vals && !found; i++)
		found = t->vals[i].attr == q->attr && strcmp(t->vals[i].value, q->value) == 0;
	return found;
}

static int
cmp_newest(const void *a, const void *b)
{
	const struct ht_index_hit *x = a, *y = b;

	if (x->time != y->time)
		return x->time > y->time ? -1 : 1;
	return x->seq > y->seq ? -1 : x->seq < y->seq;
}

static size_t
brute(const struct trec *recs, size_t n, const struct ht_index_query *q, struct ht_index_hit *out)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (rec_matches(&recs[i], q))
			out[m++] = (struct ht_index_hit){ .time = recs[i].time,
				.seq = recs[i].seq,
				.offset = recs[i].offset,
				.flags = recs[i].flags };
	qsort(out, m, sizeof(*out), cmp_newest);
	return m;
}

/* ---- queries ---- */

struct src {
	struct ht_run_builder *b;
	struct ht_run *run;
};

static int
src_query(const struct src *s, const struct ht_index_query *q, struct ht_run_cursor **ret)
{
	if (s->run)
		return ht_run_query(s->run, q, ret);
	return ht_run_builder_query(s->b, q, ret);
}

static int64_t
rand_instant(struct rng *r)
{
	return T0 - 2000 + (int64_t)below(r, (SPAN_DAYS + 1) * 86400);
}

static void
rand_window(struct rng *r, const struct set *st, struct ht_index_query *q)
{
	int64_t a = rand_instant(r), b = rand_instant(r), t;

	switch (below(r, 6)) {
	case 0:
		q->start = INT64_MIN;
		q->end = INT64_MAX;
		return;
	case 1: /* a single instant that has records */
		q->start = q->end = st->recs[below(r, st->n)].time;
		return;
	case 2: /* inverted: nothing */
		q->start = a > b ? a : b;
		q->end = a > b ? b : a;
		if (q->start == q->end)
			q->start++;
		return;
	case 3:
		t = st->recs[below(r, st->n)].time;
		q->start = t - (int64_t)below(r, 86400);
		q->end = t + (int64_t)below(r, 86400);
		return;
	default:
		q->start = a < b ? a : b;
		q->end = a < b ? b : a;
	}
}

static void
rand_attr(struct rng *r, const struct set *st, struct ht_index_query *q)
{
	const struct trec *t = &st->recs[below(r, st->n)];
	size_t i;

	if (rnd(r) & 1)
		return;
	q->has_attr = true;
	if (below(r, 10) == 0) {
		q->attr = (enum ht_attr)below(r, HT_ATTR_COUNT);
		q->value = below(r, 2) ? "no-such-value" : "shared-7";
		return;
	}
	i = below(r, t->n_vals);
	q->attr = t->vals[i].attr;
	q->value = t->vals[i].value;
}

static void
rand_query(struct rng *r, const struct set *st, struct ht_index_query *q)
{
	const struct trec *t;

	memset(q, 0, sizeof(*q));
	rand_attr(r, st, q);
	rand_window(r, st, q);
	q->max_seq = below(r, 10) < 7 ? UINT64_MAX : st->recs[below(r, st->n)].seq;
	q->include_data = rnd(r) & 1;
	if (below(r, 5) == 0) {
		t = &st->recs[below(r, st->n)];
		q->has_after = true;
		q->after_time = t->time;
		q->after_seq = t->seq + below(r, 3) - 1;
	}
}

/* Pages of at most page hits, each page a new cursor after the last hit
 * (as LookupEvents' NextToken does).  Count, or a negative error. */
static long
paged(const struct src *s, const struct ht_index_query *q0, size_t page, struct ht_index_hit *out,
    size_t cap)
{
	struct ht_index_query q = *q0;
	struct ht_run_cursor *c;
	size_t n = 0, got;
	int v;

	for (;;) {
		v = src_query(s, &q, &c);
		if (v < 0)
			return v;
		for (got = 0; got < page; got++) {
			v = ht_run_cursor_next(c, &out[n]);
			if (v <= 0)
				break;
			if (++n == cap) {
				ht_run_cursor_free(c);
				return -E2BIG;
			}
		}
		ht_run_cursor_free(c);
		if (v < 0)
			return v;
		if (got < page)
			return (long)n;
		q.has_after = true;
		q.after_time = out[n - 1].time;
		q.after_seq = out[n - 1].seq;
	}
}

static bool
hits_equal(const struct ht_index_hit *a, const struct ht_index_hit *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].time != b[i].time || a[i].seq != b[i].seq || a[i].offset != b[i].offset ||
		    a[i].flags != b[i].flags)
			return false;
	return true;
}

/* One random query against s and the brute force over recs[0, n).
 * Returns true if they agree (safe to call from any thread). */
static bool
check_one(const struct src *s, const struct set *st, size_t n, struct rng *r,
    struct ht_index_hit *want, struct ht_index_hit *got)
{
	struct ht_index_query q;
	size_t m, page;
	long k;

	rand_query(r, st, &q);
	m = brute(st->recs, n, &q, want);
	page = 1 + below(r, 50);
	if (m > 400)
		page = m / (5 + below(r, 10)) + 1;
	k = paged(s, &q, page, got, n + 1);
	return k >= 0 && (size_t)k == m && hits_equal(want, got, m);
}

static void
check_many(const struct src *s, const struct set *st, size_t n, struct rng *r, int count)
{
	struct ht_index_hit *want = malloc((n + 1) * sizeof(*want));
	struct ht_index_hit *got = malloc((n + 1) * sizeof(*got));

	assert_non_null(want);
	assert_non_null(got);
	for (int i = 0; i < count; i++) {
		uint64_t saved = r->s;

		if (!check_one(s, st, n, r, want, got))
			fail_msg("query %d disagrees with brute force (rng state %llu)", i,
			    (unsigned long long)saved);
	}
	free(want);
	free(got);
}

/* ---- fixture ---- */

struct fixture {
	char dir[64];
	char path[PATH_MAX];
	char path2[PATH_MAX];
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
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	strcpy(fx->dir, "/tmp/test_index_run.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/a.run", fx->dir);
	snprintf(fx->path2, sizeof(fx->path2), "%s/b.run", fx->dir);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	ht_run_cache_limit(8u << 20);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static struct ht_run_builder *
build(const struct set *st, struct rng *r, bool jumble)
{
	struct ht_run_builder *b;

	assert_int_equal(ht_run_builder_new(DAY, &b), 0);
	add_range(b, st, 0, st->n, r, jumble);
	return b;
}

/* ---- tests ---- */

static void
test_hash_stable(void **state)
{
	static const char long_value[] = "arn:aws:iam::123456789012:user/"
					 "a-rather-long-user-name-for-the-tail";

	(void)state;
	/* The first two are XXH64(value, seed = attr + 1) from libxxhash. */
	assert_true(ht_attr_hash(HT_ATTR_USERNAME, "alice") == UINT64_C(0xb888279fa117840e));
	assert_true(ht_attr_hash(HT_ATTR_EVENT_ID, "") == UINT64_C(0xd5afba1336a3be4b));
	assert_true(
	    ht_attr_hash(HT_ATTR_RESOURCE_NAME, long_value) == UINT64_C(0xa52880b648300010));
	assert_true(ht_attr_hash(HT_ATTR_USERNAME, "alice") !=
	    ht_attr_hash(HT_ATTR_RESOURCE_NAME, "alice"));
	assert_true(
	    ht_attr_hash(HT_ATTR_USERNAME, "alice") != ht_attr_hash(HT_ATTR_USERNAME, "alicf"));
}

static void
expect_empty(const struct src *s)
{
	struct ht_index_query q = { .start = INT64_MIN,
		.end = INT64_MAX,
		.max_seq = UINT64_MAX,
		.include_data = true };
	struct ht_run_cursor *c;
	struct ht_index_hit h;

	assert_int_equal(src_query(s, &q, &c), 0);
	assert_int_equal(ht_run_cursor_next(c, &h), 0);
	assert_int_equal(ht_run_cursor_next(c, &h), 0);
	ht_run_cursor_free(c);
	q.has_attr = true;
	q.attr = HT_ATTR_USERNAME;
	q.value = "alice";
	assert_int_equal(src_query(s, &q, &c), 0);
	assert_int_equal(ht_run_cursor_next(c, &h), 0);
	ht_run_cursor_free(c);
}

static void
test_empty(void **state)
{
	struct fixture *fx = *state;
	struct ht_run_builder *b;
	struct ht_run_info info;
	struct ht_run *run;

	assert_int_equal(ht_run_builder_new(DAY, &b), 0);
	assert_int_equal(ht_run_builder_count(b), 0);
	expect_empty(&(struct src){ .b = b });
	assert_int_equal(ht_run_builder_freeze(b), 0);
	assert_int_equal(ht_run_builder_freeze(b), 0);
	expect_empty(&(struct src){ .b = b });
	assert_int_equal(ht_run_builder_write(b, fx->path, 16, 16), 0);
	ht_run_builder_free(b);
	assert_int_equal(ht_run_open(fx->path, &run), 0);
	ht_run_info(run, &info);
	assert_int_equal(info.day, DAY);
	assert_int_equal(info.seg_from, 16);
	assert_int_equal(info.seg_to, 16);
	assert_int_equal(info.count, 0);
	assert_int_equal(info.min_time, 0);
	assert_int_equal(info.max_time, 0);
	assert_int_equal(info.file_bytes, HDR_LEN + 4);
	expect_empty(&(struct src){ .run = run });
	ht_run_close(run);
	ht_run_builder_free(NULL);
	ht_run_close(NULL);
	ht_run_cursor_free(NULL);
}

/* A hand-made case: repeated values, a value shared between attributes,
 * ties, and a data event. */
static void
test_small_exact(void **state)
{
	struct fixture *fx = *state;
	const struct ht_attr_value v1[] = { { HT_ATTR_USERNAME, "bob" },
		{ HT_ATTR_RESOURCE_NAME, "x" }, { HT_ATTR_RESOURCE_NAME, "x" } };
	const struct ht_attr_value v2[] = { { HT_ATTR_RESOURCE_NAME, "bob" } };
	const struct ht_index_rec recs[] = {
		{ .time = 100, .seq = 1, .offset = 16, .vals = v1, .n_vals = 3 },
		{ .time = 100, .seq = 2, .offset = 50, .vals = v2, .n_vals = 1 },
		{ .time = 90,
		    .seq = 3,
		    .offset = 90,
		    .flags = HT_ENTRY_DATA,
		    .vals = v1,
		    .n_vals = 3 },
	};
	struct ht_index_query q = { .start = 0,
		.end = 1000,
		.max_seq = UINT64_MAX,
		.has_attr = true,
		.attr = HT_ATTR_RESOURCE_NAME,
		.value = "x" };
	struct ht_run_builder *b;
	struct ht_run_cursor *c;
	struct ht_index_hit h;
	struct ht_run *run;

	assert_int_equal(ht_run_builder_new(DAY, &b), 0);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(ht_run_builder_add(b, &recs[i]), 0);
	assert_int_equal(ht_run_builder_freeze(b), 0);
	assert_int_equal(ht_run_builder_write(b, fx->path, 16, 130), 0);
	assert_int_equal(ht_run_open(fx->path, &run), 0);
	/* "x" twice in seq 1: one hit; seq 3 is data: hidden. */
	assert_int_equal(ht_run_query(run, &q, &c), 0);
	assert_int_equal(ht_run_cursor_next(c, &h), 1);
	assert_int_equal(h.seq, 1);
	assert_int_equal(h.offset, 16);
	assert_int_equal(ht_run_cursor_next(c, &h), 0);
	ht_run_cursor_free(c);
	/* Username "bob" is not ResourceName "bob". */
	q.value = "bob";
	q.include_data = true;
	assert_int_equal(ht_run_query(run, &q, &c), 0);
	assert_int_equal(ht_run_cursor_next(c, &h), 1);
	assert_int_equal(h.seq, 2);
	assert_int_equal(ht_run_cursor_next(c, &h), 0);
	ht_run_cursor_free(c);
	/* Time only, with data: 2, 1 (tie broken by seq), then 3. */
	q.has_attr = false;
	assert_int_equal(ht_run_query(run, &q, &c), 0);
	assert_int_equal(ht_run_cursor_next(c, &h), 1);
	assert_int_equal(h.seq, 2);
	assert_int_equal(ht_run_cursor_next(c, &h), 1);
	assert_int_equal(h.seq, 1);
	assert_int_equal(ht_run_cursor_next(c, &h), 1);
	assert_int_equal(h.seq, 3);
	assert_int_equal(h.flags, HT_ENTRY_DATA);
	assert_int_equal(ht_run_cursor_next(c, &h), 0);
	ht_run_cursor_free(c);
	ht_run_close(run);
	ht_run_builder_free(b);
}

static void
test_property(void **state)
{
	struct fixture *fx = *state;
	struct rng r = { test_seed(20240501) };
	struct ht_index_hit *want, *got;
	struct ht_index_query all = { .start = INT64_MIN,
		.end = INT64_MAX,
		.max_seq = UINT64_MAX,
		.include_data = true };
	struct ht_run_builder *b;
	struct ht_run_cursor *c;
	struct ht_run_info info;
	struct ht_run *run;
	struct set st;
	size_t half, m, k = 0;

	set_make(&st, &r, 4000);
	half = st.n / 2;
	want = malloc((st.n + 1) * sizeof(*want));
	got = malloc((st.n + 1) * sizeof(*got));
	assert_non_null(want);
	assert_non_null(got);
	assert_int_equal(ht_run_builder_new(DAY, &b), 0);
	add_range(b, &st, 0, half, &r, true);
	/* A tail cursor sees the records added before it was made, only. */
	assert_int_equal(ht_run_builder_query(b, &all, &c), 0);
	add_range(b, &st, half, st.n, &r, true);
	assert_int_equal(ht_run_builder_count(b), st.n);
	m = brute(st.recs, half, &all, want);
	while (ht_run_cursor_next(c, &got[k]) == 1)
		k++;
	ht_run_cursor_free(c);
	assert_int_equal(k, m);
	assert_true(hits_equal(want, got, m));

	check_many(&(struct src){ .b = b }, &st, st.n, &r, 1500);
	assert_int_equal(ht_run_builder_freeze(b), 0);
	check_many(&(struct src){ .b = b }, &st, st.n, &r, 1500);
	assert_int_equal(ht_run_builder_write(b, fx->path, 16, 999999), 0);
	assert_int_equal(ht_run_open(fx->path, &run), 0);
	ht_run_info(run, &info);
	assert_int_equal(info.count, st.n);
	assert_int_equal(info.seg_to, 999999);
	assert_int_equal(info.min_seq, st.recs[0].seq);
	assert_int_equal(info.max_seq, st.recs[st.n - 1].seq);
	check_many(&(struct src){ .run = run }, &st, st.n, &r, 1500);
	ht_run_close(run);
	ht_run_builder_free(b);
	free(want);
	free(got);
	set_free(&st);
}

/* Runs of 1 to 24 records: single-block files, one-entry posting lists,
 * runs with no, one or only management events. */
static void
test_tiny(void **state)
{
	struct fixture *fx = *state;
	struct rng r = { test_seed(11) };
	struct ht_run_builder *b;
	struct ht_run *run;
	struct set st;

	for (size_t n = 1; n <= 24; n++) {
		set_make(&st, &r, n);
		/* All data or none; exactly one management event; random. */
		for (size_t i = 0; i < n && n % 3 != 2; i++)
			st.recs[i].flags = n % 3 == 0 ? (n % 2 ? HT_ENTRY_DATA : 0) :
							(i == n / 2 ? 0 : HT_ENTRY_DATA);
		b = build(&st, &r, n % 2 == 0);
		check_many(&(struct src){ .b = b }, &st, st.n, &r, 60);
		assert_int_equal(ht_run_builder_freeze(b), 0);
		check_many(&(struct src){ .b = b }, &st, st.n, &r, 60);
		assert_int_equal(ht_run_builder_write(b, fx->path, 16, 17), 0);
		assert_int_equal(ht_run_open(fx->path, &run), 0);
		check_many(&(struct src){ .run = run }, &st, st.n, &r, 60);
		ht_run_close(run);
		ht_run_builder_free(b);
		set_free(&st);
	}
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NO_RLIMIT_AS 1 /* the sanitizers reserve terabytes of address space */
#endif

#ifndef NO_RLIMIT_AS
static size_t
vm_bytes(void)
{
	unsigned long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f != NULL) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return pages * (size_t)sysconf(_SC_PAGESIZE);
}
#endif

/* Freeze with the address space capped a little above what is in use, at
 * growing headroom, so allocations fail at different points: each failure
 * is -ENOMEM with the builder still whole (it answers as an unfrozen one),
 * and once there is room the freeze succeeds and answers correctly. */
static void
test_freeze_enomem(void **state)
{
#ifdef NO_RLIMIT_AS
	(void)state;
	skip();
#else
	struct rng r = { test_seed(123) };
	struct ht_run_builder *b;
	struct rlimit old, cap;
	int v = -ENOMEM, fails = 0;
	struct set st;

	(void)state;
	/* Valgrind's own memory lives under the same cap. */
	if (getenv("LD_PRELOAD") && strstr(getenv("LD_PRELOAD"), "vgpreload")) {
		skip();
		return;
	}
	set_make(&st, &r, 30000);
	b = build(&st, &r, true);
	assert_int_equal(getrlimit(RLIMIT_AS, &old), 0);
	for (size_t room = 64 * 1024; v == -ENOMEM && room < (64u << 20); room += room / 2) {
		cap = (struct rlimit){ .rlim_cur = vm_bytes() + room, .rlim_max = old.rlim_max };
		assert_int_equal(setrlimit(RLIMIT_AS, &cap), 0);
		v = ht_run_builder_freeze(b);
		assert_int_equal(setrlimit(RLIMIT_AS, &old), 0);
		if (v == -ENOMEM) {
			fails++;
			check_many(&(struct src){ .b = b }, &st, st.n, &r, 10);
		}
	}
	print_message("freeze failed %d times before it had room\n", fails);
	assert_int_equal(v, 0);
	assert_true(fails > 0);
	check_many(&(struct src){ .b = b }, &st, st.n, &r, 100);
	ht_run_builder_free(b);
	set_free(&st);
#endif
}

/* A run far larger than the cache, and with no cache at all. */
static void
test_small_cache(void **state)
{
	struct fixture *fx = *state;
	struct rng r = { test_seed(777) };
	struct ht_run_cache_stats cs;
	struct ht_run_builder *b;
	struct ht_run_info info;
	struct ht_run *run;
	struct set st;

	ht_run_cache_limit(64 * 1024);
	set_make(&st, &r, 40000);
	b = build(&st, &r, false);
	assert_int_equal(ht_run_builder_freeze(b), 0);
	assert_int_equal(ht_run_builder_write(b, fx->path, 16, 17), 0);
	ht_run_builder_free(b);
	assert_int_equal(ht_run_open(fx->path, &run), 0);
	ht_run_info(run, &info);
	assert_true(info.file_bytes > 40 * 64 * 1024);
	check_many(&(struct src){ .run = run }, &st, st.n, &r, 300);
	ht_run_cache_stats(&cs);
	assert_true(cs.bytes <= 64 * 1024);
	assert_true(cs.bytes > 0);
	assert_true(cs.evictions > 0);
	assert_true(cs.hits > 0);
	ht_run_cache_limit(0);
	ht_run_cache_stats(&cs);
	assert_int_equal(cs.bytes, 0);
	check_many(&(struct src){ .run = run }, &st, st.n, &r, 40);
	ht_run_cache_stats(&cs);
	assert_int_equal(cs.bytes, 0);
	ht_run_cache_limit(1 << 20);
	check_many(&(struct src){ .run = run }, &st, st.n, &r, 20);
	ht_run_close(run);
	/* Closing a run gives its blocks back. */
	ht_run_cache_stats(&cs);
	assert_int_equal(cs.bytes, 0);
	set_free(&st);
}

/* Block reads (cache hits + misses) since the last call. */
static uint64_t
reads_since(uint64_t *last)
{
	struct ht_run_cache_stats cs;
	uint64_t d;

	ht_run_cache_stats(&cs);
	d = cs.hits + cs.misses - *last;
	*last = cs.hits + cs.misses;
	return d;
}

/* Open a cursor after the middle of q's answer and take 50 hits, counting
 * block reads: creation must be O(log n), each hit O(1). */
static void
check_cost(struct ht_run *run, struct ht_index_query *q, const struct set *st,
    struct ht_index_hit *all)
{
	size_t m = brute(st->recs, st->n, q, all);
	struct ht_run_cursor *c;
	struct ht_index_hit h;
	uint64_t last = 0, made, walked;

	assert_true(m > 1000);
	q->has_after = true;
	q->after_time = all[m / 2].time;
	q->after_seq = all[m / 2].seq;
	reads_since(&last);
	assert_int_equal(ht_run_query(run, q, &c), 0);
	made = reads_since(&last);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(ht_run_cursor_next(c, &h), 1);
		assert_int_equal(h.seq, all[m / 2 + 1 + (size_t)i].seq);
	}
	walked = reads_since(&last);
	ht_run_cursor_free(c);
	print_message("cursor: %llu block reads to create, %llu for 50 hits\n",
	    (unsigned long long)made, (unsigned long long)walked);
	assert_true(made <= 3 * 17); /* three binary searches over <= 2^17 items */
	assert_true(walked <= 2 * 50 + 2);
}

/* A narrow window in the middle: the cursor stops at the window's start
 * instead of reading on to the oldest entry. */
static void
check_window_cost(struct ht_run *run, const struct set *st, struct ht_index_hit *all)
{
	struct ht_index_query q = { .start = T0 + 50 * 86400,
		.end = T0 + 50 * 86400 + 7200,
		.max_seq = UINT64_MAX,
		.include_data = true };
	size_t m = brute(st->recs, st->n, &q, all), k = 0;
	struct ht_run_cursor *c;
	struct ht_index_hit h;
	uint64_t last = 0, reads;

	reads_since(&last);
	assert_int_equal(ht_run_query(run, &q, &c), 0);
	while (ht_run_cursor_next(c, &h) == 1)
		assert_int_equal(h.seq, all[k++].seq);
	reads = reads_since(&last);
	ht_run_cursor_free(c);
	assert_int_equal(k, m);
	print_message("window: %zu hits, %llu block reads\n", m, (unsigned long long)reads);
	assert_true(reads <= 17 + m / 64 + 4);
}

static void
test_costs(void **state)
{
	struct fixture *fx = *state;
	struct rng r = { test_seed(31337) };
	struct ht_index_query q = { .start = INT64_MIN, .end = INT64_MAX, .max_seq = UINT64_MAX };
	struct ht_run_builder *b;
	struct ht_index_hit *all;
	struct ht_run *run;
	struct set st;

	set_make(&st, &r, 40000);
	all = malloc(st.n * sizeof(*all));
	assert_non_null(all);
	b = build(&st, &r, false);
	assert_int_equal(ht_run_builder_freeze(b), 0);
	assert_int_equal(ht_run_builder_write(b, fx->path, 16, 17), 0);
	ht_run_builder_free(b);
	assert_int_equal(ht_run_open(fx->path, &run), 0);
	check_cost(run, &q, &st, all); /* time only, management events */
	q.has_after = false;
	q.include_data = true;
	check_cost(run, &q, &st, all); /* time only, everything */
	q.has_after = false;
	q.has_attr = true;
	q.attr = HT_ATTR_EVENT_SOURCE;
	q.value = st.pool[HT_ATTR_EVENT_SOURCE][0];
	check_cost(run, &q, &st, all); /* a frequent value */
	check_window_cost(run, &st, all);
	ht_run_close(run);
	free(all);
	set_free(&st);
}

/* ---- threads ---- */

struct worker {
	const struct src *s;
	const struct set *st;
	uint64_t seed;
	int queries;
	int bad;
	const char *path; /* writer: write s->b here */
	int err;
};

static void *
query_thread(void *arg)
{
	struct worker *w = arg;
	struct rng r = { w->seed };
	struct ht_index_hit *want = malloc((w->st->n + 1) * sizeof(*want));
	struct ht_index_hit *got = malloc((w->st->n + 1) * sizeof(*got));

	for (int i = 0; i < w->queries && want && got; i++)
		w->bad += !check_one(w->s, w->st, w->st->n, &r, want, got);
	if (want == NULL || got == NULL)
		w->bad++;
	free(want);
	free(got);
	return NULL;
}

static void *
write_thread(void *arg)
{
	struct worker *w = arg;

	w->err = ht_run_builder_write(w->s->b, w->path, 16, 32);
	return NULL;
}

static void
test_threads(void **state)
{
	struct fixture *fx = *state;
	struct rng r = { test_seed(4242) };
	struct worker ws[3], wr;
	struct src bsrc = { 0 }, rsrc = { 0 };
	pthread_t th[3], tw;
	struct ht_run_builder *b;
	struct ht_run *run;
	struct set st;

	ht_run_cache_limit(64 * 1024);
	set_make(&st, &r, 6000);
	b = build(&st, &r, false);
	assert_int_equal(ht_run_builder_freeze(b), 0);
	/* The worker writes the frozen builder while the loop queries it. */
	bsrc.b = b;
	wr = (struct worker){ .s = &bsrc, .path = fx->path };
	assert_int_equal(pthread_create(&tw, NULL, write_thread, &wr), 0);
	check_many(wr.s, &st, st.n, &r, 200);
	assert_int_equal(pthread_join(tw, NULL), 0);
	assert_int_equal(wr.err, 0);
	ht_run_builder_free(b);
	/* Several threads share one run through a small cache. */
	assert_int_equal(ht_run_open(fx->path, &run), 0);
	rsrc.run = run;
	for (int i = 0; i < 3; i++) {
		ws[i] =
		    (struct worker){ .s = &rsrc, .st = &st, .seed = rnd(&r) | 1, .queries = 150 };
		assert_int_equal(pthread_create(&th[i], NULL, query_thread, &ws[i]), 0);
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(ws[i].bad, 0);
	}
	ht_run_close(run);
	set_free(&st);
}

/* ---- corruption ---- */

static unsigned char *
slurp(const char *path, size_t *ret_len)
{
	struct stat sb;
	unsigned char *p;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	p = malloc((size_t)sb.st_size + 1);
	assert_non_null(p);
	assert_int_equal(read(fd, p, (size_t)sb.st_size), sb.st_size);
	close(fd);
	*ret_len = (size_t)sb.st_size;
	return p;
}

static void
spit(const char *path, const unsigned char *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	close(fd);
}

static uint64_t
le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* All hits of q on s into out; returns the count, and in *ret_err the
 * error (0 or negative) that ended it. */
static size_t
drain(const struct src *s, const struct ht_index_query *q, struct ht_index_hit *out, int *ret_err)
{
	struct ht_run_cursor *c;
	size_t n = 0;
	int v;

	*ret_err = src_query(s, q, &c);
	if (*ret_err < 0)
		return 0;
	while ((v = ht_run_cursor_next(c, &out[n])) == 1)
		n++;
	*ret_err = v;
	if (v < 0) /* sticky */
		assert_int_equal(ht_run_cursor_next(c, &out[n]), v);
	ht_run_cursor_free(c);
	return n;
}

/* Query damaged and good with q: the damaged run gives a prefix of the
 * good answer and then -EBADMSG, or all of it.  Returns 1 on -EBADMSG. */
static int
compare_damaged(struct ht_run *good, struct ht_run *bad, const struct ht_index_query *q,
    struct ht_index_hit *a, struct ht_index_hit *b)
{
	int ea, eb;
	size_t na = drain(&(struct src){ .run = good }, q, a, &ea);
	size_t nb = drain(&(struct src){ .run = bad }, q, b, &eb);

	assert_int_equal(ea, 0);
	if (eb == 0)
		assert_int_equal(nb, na);
	else
		assert_int_equal(eb, -EBADMSG);
	assert_true(nb <= na);
	assert_true(hits_equal(a, b, nb));
	return eb < 0;
}

/* Time queries plus one query per distinct (attr, value). */
static int
sweep_damaged(struct ht_run *good, struct ht_run *bad, const struct set *st)
{
	struct ht_index_query q = { .start = INT64_MIN, .end = INT64_MAX, .max_seq = UINT64_MAX };
	struct ht_index_hit *a = malloc((st->n + 1) * sizeof(*a));
	struct ht_index_hit *b = malloc((st->n + 1) * sizeof(*b));
	int n_bad = 0;

	assert_non_null(a);
	assert_non_null(b);
	n_bad += compare_damaged(good, bad, &q, a, b);
	q.include_data = true;
	n_bad += compare_damaged(good, bad, &q, a, b);
	q.has_attr = true;
	for (int at = 0; at < HT_ATTR_COUNT; at++) {
		q.attr = (enum ht_attr)at;
		for (size_t i = 0; i < pool_size[at]; i++) {
			q.value = st->pool[at][i];
			n_bad += compare_damaged(good, bad, &q, a, b);
		}
	}
	q.attr = HT_ATTR_EVENT_ID;
	for (size_t i = 0; i < st->n; i += 7) {
		q.value = st->recs[i].evid;
		n_bad += compare_damaged(good, bad, &q, a, b);
	}
	free(a);
	free(b);
	return n_bad;
}

static void
flip_and_open(struct fixture *fx, const unsigned char *img, size_t len, size_t at,
    struct ht_run **ret)
{
	unsigned char *copy = malloc(len);

	assert_non_null(copy);
	memcpy(copy, img, len);
	copy[at] ^= (unsigned char)(1u << (at % 8));
	spit(fx->path2, copy, len);
	free(copy);
	assert_int_equal(ht_run_open(fx->path2, ret), 0);
}

static void
test_corruption(void **state)
{
	struct fixture *fx = *state;
	struct rng r = { test_seed(99) };
	struct ht_run_cache_stats before, after;
	struct ht_run *good, *bad;
	struct ht_run_builder *b;
	unsigned char *img;
	uint64_t keys, posts, end;
	size_t len;
	struct set st;

	set_make(&st, &r, 3000);
	b = build(&st, &r, true);
	assert_int_equal(ht_run_builder_freeze(b), 0);
	assert_int_equal(ht_run_builder_write(b, fx->path, 16, 17), 0);
	ht_run_builder_free(b);
	assert_int_equal(ht_run_open(fx->path, &good), 0);
	img = slurp(fx->path, &len);
	keys = le64(img + 104);
	posts = le64(img + 112);
	end = le64(img + 120);
	assert_int_equal(len, end + 4 * ((end + 4095) / 4096));
	assert_true(posts - keys > 3 * 4096);

	/* Body: entries (first and a middle one), keys, postings (middle, last). */
	const size_t body[] = { HDR_LEN + 3, (HDR_LEN + keys) / 2, (keys + posts) / 2,
		(posts + end) / 2, end - 1 };
	for (size_t i = 0; i < sizeof(body) / sizeof(body[0]); i++) {
		ht_run_cache_stats(&before);
		flip_and_open(fx, img, len, body[i], &bad);
		assert_true(sweep_damaged(good, bad, &st) > 0);
		ht_run_cache_stats(&after);
		assert_true(after.bad_blocks > before.bad_blocks);
		ht_run_close(bad);
	}
	/* Header fields, reserved bytes, its CRC; the CRC table: open fails. */
	const size_t head[] = { 0, 9, 20, 45, 70, 121, 130, 133, 137, 141, 200, 252, 255, end,
		len - 1 };
	for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++) {
		unsigned char *copy = malloc(len);

		memcpy(copy, img, len);
		copy[head[i]] ^= 0x10;
		spit(fx->path2, copy, len);
		free(copy);
		bad = NULL;
		assert_int_equal(ht_run_open(fx->path2, &bad), -EBADMSG);
		assert_null(bad);
	}
	ht_run_close(good);
	free(img);
	set_free(&st);
}

static void
test_truncation(void **state)
{
	struct fixture *fx = *state;
	struct rng r = { test_seed(5) };
	struct ht_run_builder *b;
	struct ht_run *run = NULL;
	unsigned char *img, *big;
	uint64_t end;
	size_t len;
	struct set st;

	set_make(&st, &r, 1000);
	b = build(&st, &r, false);
	assert_int_equal(ht_run_builder_freeze(b), 0);
	assert_int_equal(ht_run_builder_write(b, fx->path, 16, 17), 0);
	ht_run_builder_free(b);
	img = slurp(fx->path, &len);
	end = le64(img + 120);
	const size_t cuts[] = { len - 1, len - 4, end + 1, end, end - 1, 4096, HDR_LEN, HDR_LEN - 1,
		100, 0 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		spit(fx->path2, img, cuts[i]);
		assert_int_equal(ht_run_open(fx->path2, &run), -EBADMSG);
		assert_null(run);
	}
	big = calloc(1, len + 4096);
	assert_non_null(big);
	memcpy(big, img, len);
	spit(fx->path2, big, len + 1);
	assert_int_equal(ht_run_open(fx->path2, &run), -EBADMSG);
	spit(fx->path2, big, len + 4096);
	assert_int_equal(ht_run_open(fx->path2, &run), -EBADMSG);
	/* The intact file still opens. */
	spit(fx->path2, img, len);
	assert_int_equal(ht_run_open(fx->path2, &run), 0);
	ht_run_close(run);
	free(big);
	free(img);
	set_free(&st);
}

static void
test_errors(void **state)
{
	struct fixture *fx = *state;
	const struct ht_attr_value bad_attr[] = { { HT_ATTR_COUNT, "x" } };
	const struct ht_attr_value null_val[] = { { HT_ATTR_USERNAME, NULL } };
	struct ht_index_rec rec = { .time = 1, .seq = 1, .vals = bad_attr, .n_vals = 1 };
	struct ht_index_query q = { .start = 0,
		.end = 10,
		.max_seq = UINT64_MAX,
		.has_attr = true,
		.attr = HT_ATTR_USERNAME,
		.value = NULL };
	struct ht_run_builder *b;
	struct ht_run_cursor *c = NULL;
	struct ht_run *run = NULL;
	unsigned char junk[300];
	char path[PATH_MAX];

	assert_int_equal(ht_run_builder_new(DAY, &b), 0);
	assert_int_equal(ht_run_builder_add(b, &rec), -EINVAL);
	rec.vals = null_val;
	assert_int_equal(ht_run_builder_add(b, &rec), -EINVAL);
	rec.vals = NULL;
	assert_int_equal(ht_run_builder_add(b, &rec), -EINVAL);
	rec.n_vals = 0;
	assert_int_equal(ht_run_builder_add(b, &rec), 0);
	assert_int_equal(ht_run_builder_count(b), 1);
	assert_int_equal(ht_run_builder_write(b, fx->path, 0, 0), -EINVAL);
	assert_int_equal(ht_run_builder_query(b, &q, &c), -EINVAL);
	assert_null(c);
	assert_int_equal(ht_run_builder_freeze(b), 0);
	assert_int_equal(ht_run_builder_add(b, &rec), -EINVAL);
	assert_int_equal(ht_run_builder_query(b, &q, &c), -EINVAL);
	snprintf(path, sizeof(path), "%s/no/such/dir.run", fx->dir);
	assert_int_equal(ht_run_builder_write(b, path, 0, 0), -ENOENT);
	assert_int_equal(ht_run_builder_write(b, fx->path, 0, 0), 0);
	assert_int_equal(ht_run_open(path, &run), -ENOENT);
	assert_int_equal(ht_run_open(fx->path, &run), 0);
	q.attr = HT_ATTR_COUNT;
	q.value = "x";
	assert_int_equal(ht_run_query(run, &q, &c), -EINVAL);
	assert_null(c);
	ht_run_close(run);
	ht_run_builder_free(b);
	/* Not a run at all: a segment's magic, then filler. */
	memset(junk, '.', sizeof(junk));
	memcpy(junk, "HTSEG001", 8);
	spit(fx->path2, junk, sizeof(junk));
	assert_int_equal(ht_run_open(fx->path2, &run), -EBADMSG);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_hash_stable),
		T(test_empty),
		T(test_small_exact),
		T(test_property),
		T(test_tiny),
		T(test_freeze_enomem),
		T(test_small_cache),
		T(test_costs),
		T(test_threads),
		T(test_corruption),
		T(test_truncation),
		T(test_errors),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * index_run.c - see index_run.h.
 *
 * Workload.  Every appended record goes through ht_run_builder_add (hot:
 * 100k+ records/s with everything else), so a builder only appends the
 * entry and one 64-bit hash per attribute value to two growable arrays; all
 * sorting waits for freeze.  A LookupEvents page opens a cursor on every run
 * of every day that may match (~90 days x a few runs) and merges them with
 * a heap, so a cursor costs O(log n) block reads to create and amortized
 * O(1) per hit.  Memory must stay flat however much history there is, so
 * run files are never mapped: they are read with pread in 4 KiB blocks
 * through one bounded LRU cache shared by all runs.
 *
 * Run file (all integers little-endian; every table starts at a multiple
 * of its element size and 4096 is a multiple of each, so no element ever
 * straddles a block):
 *
 *   0     header, 256 bytes
 *           0  "HTIDXRUN"         8  u32 version (1)   12  u32 block size (4096)
 *          16  u32 day           20  u32 zero
 *          24  u64 seg_from      32  u64 seg_to
 *          40  u64 n_entries     48  u64 n_keys       56  u64 n_postings
 *          64  i64 min_time      72  i64 max_time     80  u64 min_seq   88  u64 max_seq
 *          96  u64 entries_off  104  u64 keys_off    112  u64 postings_off
 *         120  u64 crc_off (= end of the body, start of the block-CRC table)
 *         128  u32 n_blocks     132  u32 crc32 of the block-CRC table
 *         136  u32 first posting, 140 u32 posting count of MGMT_HASH (0/0 if none)
 *         144  zero ...         252  u32 crc32 of bytes [0, 252)
 *   256   entries, 32 bytes each, newest first (time desc, seq desc):
 *           i64 time | u64 seq | u64 offset | u32 flags | u32 zero
 *         keys, 16 bytes each, ascending by hash, one per distinct hash:
 *           u64 hash | u32 first posting | u32 posting count (>= 1)
 *         postings, u32 entry index each; a key's postings ascend (= newest
 *           first) and are unique
 *   crc_off  block-CRC table: n_blocks x u32, crc32 of the body bytes of
 *         each 4 KiB block of [0, crc_off); block 0's CRC leaves out the
 *         header, which has its own CRC (a header CRC inside a checksummed
 *         block would be circular).  The file ends right after the table.
 *
 * The sections follow each other without padding, so every offset is
 * implied by the counts; open insists the stored ones agree, and that the
 * file size is exactly crc_off + 4 * n_blocks (a truncated or extended file
 * is not a run).  One reserved key, the hash of attribute 0xff with an
 * empty value (MGMT_HASH), lists every entry without HT_ENTRY_DATA: a
 * time-range query that hides data events walks that list instead of
 * skipping through what may be mostly data events.  The header repeats its
 * place, so such a query skips the key search.
 *
 * A hash collision only adds entries to a posting list (the caller checks
 * the record); the cursor still checks flags, seq and time itself, so even
 * a collision with MGMT_HASH cannot leak a data event.
 *
 * Threads: a frozen builder and an open run are immutable, so any number of
 * threads may query them; the cache has one mutex, held only to look up or
 * insert a block and to copy it out, never across a pread.  A cursor copies
 * the blocks it is walking into its own two windows, so eviction never
 * pulls data from under it.
 */
#include "ht_build.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fileio.h"
#include "le.h"
#include "history/index_run.h"

#define RUN_MAGIC "HTIDXRUN"
#define RUN_VERSION 1u
#define BLOCK 4096u
#define HDR_LEN 256u
#define HDR_CRC_AT 252u
#define ENTRY_LEN 32u
#define KEY_LEN 16u
#define POST_LEN 4u
#define MAX_ITEMS ((size_t)UINT32_MAX) /* entry indices and postings are u32 */
#define WRITE_BUF (64u * 1024u)	       /* a multiple of BLOCK */
#define CACHE_DEFAULT ((size_t)8 << 20)
#define MGMT_ATTR 0xffu

#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)
#define RADIX_PASSES 6 /* 6 x 11 bits >= 64 */

/* An entry, in memory (builder) and decoded from a file. */
struct ent {
	int64_t time;
	uint64_t seq;
	uint64_t offset;
	uint32_t flags;
	uint32_t n_hashes; /* builder before freeze: values of this record */
};

struct key {
	uint64_t hash;
	uint32_t first, count;
};

/*
 * Before freeze: ents in add order, hashes holds each record's value hashes
 * back to back in the same order.  After: ents sorted newest first, the
 * key table as two arrays (key_first has a sentinel = n_posts), postings.
 */
struct ht_run_builder {
	uint32_t day;
	bool frozen;
	struct ent *ents;
	size_t n_ents, cap_ents;
	uint64_t *hashes;
	size_t n_hashes, cap_hashes;
	uint64_t *key_hash;
	uint32_t *key_first;
	size_t n_keys;
	uint32_t *posts;
	size_t n_posts;
	struct key mgmt; /* MGMT_HASH's postings, count 0 if none */
	int64_t min_time, max_time;
	uint64_t min_seq, max_seq;
};

struct ht_run {
	int fd;
	uint64_t id; /* names the run's blocks in the cache; never reused */
	struct ht_run_info info;
	uint64_t n_keys, n_posts;
	struct key mgmt;
	uint64_t keys_off, posts_off, body_end;
	uint32_t n_blocks;
	uint32_t *crcs; /* block-CRC table, host order */
};

/* What a cursor reads from: a run file, or a frozen builder's arrays. */
struct view {
	struct ht_run *run;
	const struct ht_run_builder *b;
	uint64_t n_ents, n_keys;
	struct key mgmt;
	int64_t min_time, max_time;
	uint64_t min_seq;
};

/* A cursor's private copy of one block. */
struct window {
	uint64_t blk;	 /* UINT64_MAX: empty */
	uint64_t peeked; /* block of the last probe served by the cache */
	unsigned char data[BLOCK];
};

/* A query reduced to: entries not newer than (bt, bs), time >= start, ... */
struct plan {
	bool empty;
	int64_t start, bt;
	uint64_t bs, max_seq;
	bool include_data;
	bool attr;  /* hash is an attribute value's */
	bool posts; /* walk the posting list of hash */
	uint64_t hash;
};

enum cur_mode { CUR_EMPTY, CUR_SCAN, CUR_POSTS, CUR_HITS };

struct ht_run_cursor {
	enum cur_mode mode;
	struct view v;
	struct plan p;
	uint64_t pos, end;	/* SCAN: entries, POSTS: postings, HITS: hits */
	int err;		/* sticky: a damaged block stays damaged */
	struct ent *hits;	/* HITS: a sorted snapshot of an unfrozen builder */
	struct window *ew, *aw; /* run only: entries; keys and postings */
};

/* One slot of the block cache: a verified copy of one block of one run. */
struct slot {
	struct slot *hnext;
	struct slot *prev, *next; /* LRU list, most recent first */
	uint64_t run_id, blk;
	uint32_t len;
	unsigned char data[BLOCK];
};

static struct {
	pthread_mutex_t lock;
	size_t limit;
	size_t n_slots;
	struct slot **buckets;
	size_t n_buckets; /* a power of two, or 0 */
	struct slot *first, *last;
	uint64_t next_id;
	uint64_t hits, misses, evictions, bad_blocks;
} cache = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.limit = CACHE_DEFAULT,
	.next_id = 1,
};

/* ---- encoding ---- */

static uint32_t
crc(const void *p, size_t len)
{
	return (uint32_t)crc32(0L, p, (uInt)len);
}

/* ---- hash ---- */

#define H_P1 0x9E3779B185EBCA87ull
#define H_P2 0xC2B2AE3D27D4EB4Full
#define H_P3 0x165667B19E3779F9ull
#define H_P4 0x85EBCA77C2B2AE63ull
#define H_P5 0x27D4EB2F165667C5ull

static uint64_t
rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

/*
 * XXH64 seeded with attr + 1, so equal values of different attributes get
 * different keys.  Values under 32 bytes (most of them) hash exactly as
 * XXH64 does (checked against libxxhash); longer ones go on with its
 * single-lane steps instead of switching to four lanes, which keeps this
 * short.  About 1 ns per 8 bytes.  Stored in run files: changing it needs
 * a new RUN_VERSION.
 */
static uint64_t
hash_bytes(uint32_t attr, const unsigned char *p, size_t len)
{
	uint64_t h = (uint64_t)attr + 1 + H_P5 + (uint64_t)len;
	uint64_t w;
	uint32_t w32;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		h ^= rotl64(le64toh(w) * H_P2, 31) * H_P1;
		h = rotl64(h, 27) * H_P1 + H_P4;
	}
	if (len >= 4) {
		memcpy(&w32, p, 4);
		h ^= (uint64_t)le32toh(w32) * H_P1;
		h = rotl64(h, 23) * H_P2 + H_P3;
		p += 4;
		len -= 4;
	}
	for (; len > 0; p++, len--) {
		h ^= *p * H_P5;
		h = rotl64(h, 11) * H_P1;
	}
	h ^= h >> 33;
	h *= H_P2;
	h ^= h >> 29;
	h *= H_P3;
	h ^= h >> 32;
	return h;
}

uint64_t
ht_attr_hash(enum ht_attr attr, const char *value)
{
	return hash_bytes((uint32_t)attr, (const unsigned char *)value, strlen(value));
}

static uint64_t
mgmt_hash(void)
{
	return hash_bytes(MGMT_ATTR, (const unsigned char *)"", 0);
}

/* ---- order ---- */

/* Is a newer than (t, s) in newest-first order? */
static bool
newer_than(const struct ent *a, int64_t t, uint64_t s)
{
	return a->time != t ? a->time > t : a->seq > s;
}

struct radix {
	uint64_t *tk;
	uint32_t *tv;
	uint32_t (*cnt)[RADIX_SIZE];
};

static int
radix_init(struct radix *rs, size_t n)
{
	size_t m = n ? n : 1;

	rs->tk = malloc(m * sizeof(*rs->tk));
	rs->tv = malloc(m * sizeof(*rs->tv));
	rs->cnt = malloc(RADIX_PASSES * sizeof(*rs->cnt));
	if (rs->tk == NULL || rs->tv == NULL || rs->cnt == NULL)
		return -ENOMEM;
	return 0;
}

static void
radix_fini(struct radix *rs)
{
	free(rs->tk);
	free(rs->tv);
	free(rs->cnt);
}

/*
 * Stable LSD radix sort of (key[i], val[i]) by key, ascending.  A digit that
 * is the same in every key costs no pass, so keys with a narrow range
 * (times of one day, seqs of one run) take two or three passes.  O(n), no
 * comparator calls: an 8192-record tail (~40k values) freezes in ~0.6 ms on
 * the loop thread, a million records of 8 values in ~1.2 s.
 */
static void
radix_sort(uint64_t *key, uint32_t *val, size_t n, struct radix *rs)
{
	uint64_t *sk = key, *dk = rs->tk, *xk;
	uint32_t *sv = val, *dv = rs->tv, *xv;

	memset(rs->cnt, 0, RADIX_PASSES * sizeof(*rs->cnt));
	for (size_t i = 0; i < n; i++)
		for (int d = 0; d < RADIX_PASSES; d++)
			rs->cnt[d][(key[i] >> (d * RADIX_BITS)) & (RADIX_SIZE - 1)]++;
	for (int d = 0; d < RADIX_PASSES; d++) {
		uint32_t *c = rs->cnt[d], sum = 0;

		if (n == 0 || c[(key[0] >> (d * RADIX_BITS)) & (RADIX_SIZE - 1)] == n)
			continue;
		for (size_t b = 0; b < RADIX_SIZE; b++) {
			uint32_t t = c[b];

			c[b] = sum;
			sum += t;
		}
		for (size_t i = 0; i < n; i++) {
			uint32_t at = c[(sk[i] >> (d * RADIX_BITS)) & (RADIX_SIZE - 1)]++;

			dk[at] = sk[i];
			dv[at] = sv[i];
		}
		xk = sk, sk = dk, dk = xk;
		xv = sv, sv = dv, dv = xv;
	}
	if (sk != key) {
		memcpy(key, sk, n * sizeof(*key));
		memcpy(val, sv, n * sizeof(*val));
	}
}

/* Reorder ids (indices into ents) newest first: a stable sort by seq
 * descending, then one by time descending.  0 or -ENOMEM. */
static int
order_newest_first(const struct ent *ents, uint32_t *ids, size_t m)
{
	struct radix rs;
	uint64_t *k = malloc((m ? m : 1) * sizeof(*k));
	bool ascending = true;
	int v;

	v = radix_init(&rs, m);
	if (v < 0 || k == NULL) {
		v = -ENOMEM;
		goto out;
	}
	for (size_t i = 1; i < m && ascending; i++)
		ascending = ents[ids[i]].seq > ents[ids[i - 1]].seq;
	if (ascending) {
		/* Records usually arrive in seq order: reversing is the first sort. */
		for (size_t i = 0; i < m / 2; i++) {
			uint32_t t = ids[i];

			ids[i] = ids[m - 1 - i];
			ids[m - 1 - i] = t;
		}
	} else {
		for (size_t i = 0; i < m; i++)
			k[i] = ~ents[ids[i]].seq;
		radix_sort(k, ids, m, &rs);
	}
	for (size_t i = 0; i < m; i++)
		k[i] = ~((uint64_t)ents[ids[i]].time ^ (UINT64_C(1) << 63));
	radix_sort(k, ids, m, &rs);
out:
	radix_fini(&rs);
	free(k);
	return v;
}

/* ---- builder ---- */

static int
grow(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need) {
		if (n > SIZE_MAX / 2 / size)
			return -ENOMEM;
		n *= 2;
	}
	p = realloc(*arr, n * size);
	if (p == NULL)
		return -ENOMEM;
	*arr = p;
	*cap = n;
	return 0;
}

int
ht_run_builder_new(uint32_t day, struct ht_run_builder **ret)
{
	struct ht_run_builder *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return -ENOMEM;
	b->day = day;
	*ret = b;
	return 0;
}

size_t
ht_run_builder_count(const struct ht_run_builder *b)
{
	return b->n_ents;
}

static void
builder_bounds(struct ht_run_builder *b, const struct ht_index_rec *rec)
{
	if (b->n_ents == 0) {
		b->min_time = b->max_time = rec->time;
		b->min_seq = b->max_seq = rec->seq;
		return;
	}
	if (rec->time < b->min_time)
		b->min_time = rec->time;
	if (rec->time > b->max_time)
		b->max_time = rec->time;
	if (rec->seq < b->min_seq)
		b->min_seq = rec->seq;
	if (rec->seq > b->max_seq)
		b->max_seq = rec->seq;
}

int
ht_run_builder_add(struct ht_run_builder *b, const struct ht_index_rec *rec)
{
	struct ent *e;
	uint64_t *h;
	int v;

	if (b->frozen || (rec->n_vals > 0 && rec->vals == NULL))
		return -EINVAL;
	/* Entry indices and postings (values + one MGMT posting per entry)
	 * are u32. */
	if (rec->n_vals > MAX_ITEMS || b->n_hashes + b->n_ents + rec->n_vals + 1 > MAX_ITEMS)
		return -E2BIG;
	v = grow((void **)&b->ents, &b->cap_ents, b->n_ents + 1, sizeof(*b->ents));
	if (v == 0)
		v = grow((void **)&b->hashes, &b->cap_hashes, b->n_hashes + rec->n_vals,
		    sizeof(*b->hashes));
	if (v < 0)
		return v;
	h = b->hashes + b->n_hashes;
	for (size_t i = 0; i < rec->n_vals; i++) {
		const struct ht_attr_value *av = &rec->vals[i];

		if ((unsigned)av->attr >= HT_ATTR_COUNT || av->value == NULL)
			return -EINVAL;
		h[i] = ht_attr_hash(av->attr, av->value);
	}
	builder_bounds(b, rec);
	e = &b->ents[b->n_ents++];
	*e = (struct ent){ .time = rec->time,
		.seq = rec->seq,
		.offset = rec->offset,
		.flags = rec->flags,
		.n_hashes = (uint32_t)rec->n_vals };
	b->n_hashes += rec->n_vals;
	return 0;
}

/* Everything freeze allocates, so that it can fail before touching b. */
struct freeze {
	uint32_t *ids;	  /* new position -> add-order index */
	uint32_t *pfirst; /* add-order index -> first hash */
	struct ent *ents;
	uint64_t *pk; /* (hash, entry) pairs; later the key hashes */
	uint32_t *pv; /* later the postings */
	struct radix rs;
	size_t n_pairs;
};

static void
freeze_fini(struct freeze *f)
{
	free(f->ids);
	free(f->pfirst);
	free(f->ents);
	free(f->pk);
	free(f->pv);
	radix_fini(&f->rs);
}

static int
freeze_prepare(struct ht_run_builder *b, struct freeze *f)
{
	size_t n = b->n_ents, np = b->n_hashes, m = n ? n : 1;
	size_t nmgmt = 0;
	void *p;

	for (size_t i = 0; i < n; i++)
		nmgmt += !(b->ents[i].flags & HT_ENTRY_DATA);
	f->n_pairs = np + nmgmt;
	f->ids = malloc(m * sizeof(*f->ids));
	f->pfirst = malloc(m * sizeof(*f->pfirst));
	f->ents = malloc(m * sizeof(*f->ents));
	f->pk = malloc((f->n_pairs + 1) * sizeof(*f->pk));
	f->pv = malloc((f->n_pairs + 1) * sizeof(*f->pv));
	/* The hash array becomes the sort's key scratch (rs.tk, set later). */
	f->rs.tv = malloc((f->n_pairs + 1) * sizeof(*f->rs.tv));
	f->rs.cnt = malloc(RADIX_PASSES * sizeof(*f->rs.cnt));
	if (f->ids == NULL || f->pfirst == NULL || f->ents == NULL || f->pk == NULL ||
	    f->pv == NULL || f->rs.tv == NULL || f->rs.cnt == NULL)
		return -ENOMEM;
	p = realloc(b->hashes, (f->n_pairs + 1) * sizeof(*b->hashes));
	if (p == NULL)
		return -ENOMEM;
	b->hashes = p;
	b->cap_hashes = f->n_pairs + 1;
	for (size_t i = 0; i < n; i++)
		f->ids[i] = (uint32_t)i;
	return order_newest_first(b->ents, f->ids, n);
}

/* Pairs (hash, new entry index) in entry order, so the stable sort by hash
 * leaves each key's postings ascending. */
static void
freeze_pairs(const struct ht_run_builder *b, struct freeze *f)
{
	uint64_t mgmt = mgmt_hash();
	size_t w = 0, at = 0;

	for (size_t i = 0; i < b->n_ents; i++) {
		f->pfirst[i] = (uint32_t)at;
		at += b->ents[i].n_hashes;
	}
	for (size_t k = 0; k < b->n_ents; k++) {
		const struct ent *e = &b->ents[f->ids[k]];
		const uint64_t *h = b->hashes + f->pfirst[f->ids[k]];

		f->ents[k] = *e;
		for (uint32_t j = 0; j < e->n_hashes; j++) {
			f->pk[w] = h[j];
			f->pv[w++] = (uint32_t)k;
		}
		if (!(e->flags & HT_ENTRY_DATA)) {
			f->pk[w] = mgmt;
			f->pv[w++] = (uint32_t)k;
		}
	}
}

/* In place over the sorted pairs: distinct hashes to the front of pk, their
 * first posting to kf (plus a sentinel), deduplicated postings to the front
 * of pv (a record may repeat a value).  Returns the number of keys. */
static size_t
freeze_keys(uint64_t *pk, uint32_t *pv, size_t n, uint32_t *kf, size_t *ret_posts)
{
	size_t nk = 0, np = 0;

	for (size_t i = 0; i < n; i++) {
		if (nk == 0 || pk[i] != pk[nk - 1]) {
			pk[nk] = pk[i];
			kf[nk++] = (uint32_t)np;
			pv[np++] = pv[i];
		} else if (pv[i] != pv[np - 1]) {
			pv[np++] = pv[i];
		}
	}
	kf[nk] = (uint32_t)np;
	*ret_posts = np;
	return nk;
}

/* The key for hash in a frozen builder's table; count 0 if absent. */
static struct key
key_lookup(const uint64_t *kh, const uint32_t *kf, size_t n, uint64_t hash)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (kh[mid] == hash)
			return (struct key){ .hash = hash,
				.first = kf[mid],
				.count = kf[mid + 1] - kf[mid] };
		if (kh[mid] < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (struct key){ .hash = hash };
}

static void *
shrink(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);

	return q ? q : p;
}

int
ht_run_builder_freeze(struct ht_run_builder *b)
{
	struct freeze f = { 0 };
	size_t nk, np;
	int v;

	if (b->frozen)
		return 0;
	v = freeze_prepare(b, &f);
	if (v < 0)
		goto out;
	freeze_pairs(b, &f);
	/* From here on nothing can fail: b's old arrays become scratch. */
	f.rs.tk = b->hashes;
	radix_sort(f.pk, f.pv, f.n_pairs, &f.rs);
	f.rs.tk = NULL;
	nk = freeze_keys(f.pk, f.pv, f.n_pairs, (uint32_t *)b->hashes, &np);
	b->key_first = shrink(b->hashes, (nk + 1) * sizeof(*b->key_first));
	b->hashes = NULL;
	b->n_hashes = b->cap_hashes = 0;
	b->key_hash = shrink(f.pk, nk * sizeof(*b->key_hash));
	b->posts = shrink(f.pv, np * sizeof(*b->posts));
	f.pk = NULL;
	f.pv = NULL;
	b->n_keys = nk;
	b->n_posts = np;
	b->mgmt = key_lookup(b->key_hash, b->key_first, nk, mgmt_hash());
	free(b->ents);
	b->ents = f.ents;
	f.ents = NULL;
	b->cap_ents = b->n_ents;
	b->frozen = true;
out:
	freeze_fini(&f);
	return v;
}

void
ht_run_builder_free(struct ht_run_builder *b)
{
	if (b == NULL)
		return;
	free(b->ents);
	free(b->hashes);
	free(b->key_hash);
	free(b->key_first);
	free(b->posts);
	free(b);
}

/* ---- writing ---- */

/* Streams the body through a buffer of whole blocks, taking each block's
 * CRC as it goes out. */
struct bw {
	int fd;
	unsigned char *buf;
	size_t len;
	uint64_t base; /* file offset of buf[0], a multiple of BLOCK */
	uint32_t *crcs;
};

static int
bw_flush(struct bw *w)
{
	int v;

	for (size_t at = 0; at < w->len; at += BLOCK) {
		uint64_t blk = (w->base + at) / BLOCK;
		size_t end = w->len - at < BLOCK ? w->len - at : BLOCK;
		size_t skip = blk == 0 ? HDR_LEN : 0;

		w->crcs[blk] = crc(w->buf + at + skip, end - skip);
	}
	v = ht_write_all(w->fd, w->buf, w->len);
	if (v < 0)
		return v;
	w->base += w->len;
	w->len = 0;
	return 0;
}

/* Element sizes divide WRITE_BUF, so an element never splits across
 * flushes and every flush but the last is whole blocks. */
static int
bw_put(struct bw *w, const void *p, size_t n)
{
	int v;

	if (w->len + n > WRITE_BUF) {
		v = bw_flush(w);
		if (v < 0)
			return v;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	return 0;
}

static int
write_body(struct bw *w, const struct ht_run_builder *b)
{
	unsigned char e[ENTRY_LEN] = { 0 }, k[KEY_LEN], p[POST_LEN];
	int v = bw_put(w, (unsigned char[HDR_LEN]){ 0 }, HDR_LEN);

	for (size_t i = 0; i < b->n_ents && v == 0; i++) {
		ht_le_put64(e, (uint64_t)b->ents[i].time);
		ht_le_put64(e + 8, b->ents[i].seq);
		ht_le_put64(e + 16, b->ents[i].offset);
		ht_le_put32(e + 24, b->ents[i].flags);
		v = bw_put(w, e, ENTRY_LEN);
	}
	for (size_t i = 0; i < b->n_keys && v == 0; i++) {
		ht_le_put64(k, b->key_hash[i]);
		ht_le_put32(k + 8, b->key_first[i]);
		ht_le_put32(k + 12, b->key_first[i + 1] - b->key_first[i]);
		v = bw_put(w, k, KEY_LEN);
	}
	for (size_t i = 0; i < b->n_posts && v == 0; i++) {
		ht_le_put32(p, b->posts[i]);
		v = bw_put(w, p, POST_LEN);
	}
	if (v == 0)
		v = bw_flush(w);
	return v;
}

static void
header_build(unsigned char *h, const struct ht_run_builder *b, uint64_t seg_from, uint64_t seg_to,
    uint32_t n_blocks, uint32_t table_crc)
{
	uint64_t keys_off = HDR_LEN + (uint64_t)b->n_ents * ENTRY_LEN;
	uint64_t posts_off = keys_off + (uint64_t)b->n_keys * KEY_LEN;

	memset(h, 0, HDR_LEN);
	memcpy(h, RUN_MAGIC, 8);
	ht_le_put32(h + 8, RUN_VERSION);
	ht_le_put32(h + 12, BLOCK);
	ht_le_put32(h + 16, b->day);
	ht_le_put64(h + 24, seg_from);
	ht_le_put64(h + 32, seg_to);
	ht_le_put64(h + 40, b->n_ents);
	ht_le_put64(h + 48, b->n_keys);
	ht_le_put64(h + 56, b->n_posts);
	if (b->n_ents > 0) {
		ht_le_put64(h + 64, (uint64_t)b->min_time);
		ht_le_put64(h + 72, (uint64_t)b->max_time);
		ht_le_put64(h + 80, b->min_seq);
		ht_le_put64(h + 88, b->max_seq);
	}
	ht_le_put64(h + 96, HDR_LEN);
	ht_le_put64(h + 104, keys_off);
	ht_le_put64(h + 112, posts_off);
	ht_le_put64(h + 120, posts_off + (uint64_t)b->n_posts * POST_LEN);
	ht_le_put32(h + 128, n_blocks);
	ht_le_put32(h + 132, table_crc);
	ht_le_put32(h + 136, b->mgmt.first);
	ht_le_put32(h + 140, b->mgmt.count);
	ht_le_put32(h + HDR_CRC_AT, crc(h, HDR_CRC_AT));
}

static uint64_t
builder_body_end(const struct ht_run_builder *b)
{
	return HDR_LEN + (uint64_t)b->n_ents * ENTRY_LEN + (uint64_t)b->n_keys * KEY_LEN +
	    (uint64_t)b->n_posts * POST_LEN;
}

/* Body, CRC table, then the header over the placeholder. */
static int
write_file(int fd, const struct ht_run_builder *b, uint64_t seg_from, uint64_t seg_to)
{
	uint32_t n_blocks = (uint32_t)((builder_body_end(b) + BLOCK - 1) / BLOCK);
	struct bw w = { .fd = fd };
	unsigned char *table = NULL, hdr[HDR_LEN];
	ssize_t n;
	int v = -ENOMEM;

	w.buf = malloc(WRITE_BUF);
	w.crcs = malloc(n_blocks * sizeof(*w.crcs));
	table = malloc((size_t)n_blocks * 4);
	if (w.buf == NULL || w.crcs == NULL || table == NULL)
		goto out;
	v = write_body(&w, b);
	if (v < 0)
		goto out;
	for (uint32_t i = 0; i < n_blocks; i++)
		ht_le_put32(table + 4 * (size_t)i, w.crcs[i]);
	v = ht_write_all(fd, table, (size_t)n_blocks * 4);
	if (v < 0)
		goto out;
	header_build(hdr, b, seg_from, seg_to, n_blocks, crc(table, (size_t)n_blocks * 4));
	n = pwrite(fd, hdr, HDR_LEN, 0);
	if (n != (ssize_t)HDR_LEN)
		v = n < 0 ? -errno : -EIO;
out:
	free(w.buf);
	free(w.crcs);
	free(table);
	return v;
}

int
ht_run_builder_write(struct ht_run_builder *b, const char *path, uint64_t seg_from, uint64_t seg_to)
{
	char tmp[PATH_MAX];
	int fd, v;

	if (!b->frozen)
		return -EINVAL;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	v = write_file(fd, b, seg_from, seg_to);
	if (v == 0 && fsync(fd) < 0)
		v = -errno;
	if (close(fd) < 0 && v == 0)
		v = -errno;
	if (v == 0 && rename(tmp, path) < 0)
		v = -errno;
	if (v < 0) {
		unlink(tmp);
		return v;
	}
	return ht_fsync_parent(path);
}

/* ---- block cache ---- */

static size_t
bucket_of(uint64_t run_id, uint64_t blk)
{
	uint64_t h = (run_id * H_P1) ^ (blk * H_P2);

	return (size_t)(h ^ (h >> 29)) & (cache.n_buckets - 1);
}

static struct slot *
cache_find(uint64_t run_id, uint64_t blk)
{
	struct slot *s;

	if (cache.n_buckets == 0)
		return NULL;
	for (s = cache.buckets[bucket_of(run_id, blk)]; s; s = s->hnext)
		if (s->run_id == run_id && s->blk == blk)
			return s;
	return NULL;
}

static void
lru_unlink(struct slot *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		cache.first = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		cache.last = s->prev;
}

static void
lru_push(struct slot *s)
{
	s->prev = NULL;
	s->next = cache.first;
	if (cache.first)
		cache.first->prev = s;
	else
		cache.last = s;
	cache.first = s;
}

static void
hash_unlink(struct slot *s)
{
	struct slot **pp = &cache.buckets[bucket_of(s->run_id, s->blk)];

	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
}

/* Resize the bucket array for the current limit; keeps the old one (with
 * longer chains) if memory is short. */
static void
cache_rehash(void)
{
	size_t want = 16;
	struct slot **nb;

	while (want < cache.limit / BLOCK && want < SIZE_MAX / 4)
		want *= 2;
	if (want == cache.n_buckets)
		return;
	nb = calloc(want, sizeof(*nb));
	if (nb == NULL)
		return;
	cache.n_buckets = want;
	for (struct slot *s = cache.first; s; s = s->next) {
		size_t i = bucket_of(s->run_id, s->blk);

		s->hnext = nb[i];
		nb[i] = s;
	}
	free(cache.buckets);
	cache.buckets = nb;
}

static void
cache_drop(struct slot *s)
{
	hash_unlink(s);
	lru_unlink(s);
	free(s);
	cache.n_slots--;
}

/* A slot for a new block: a fresh one while under the limit, else the
 * least recently used one.  NULL if the cache is off or memory is short. */
static struct slot *
cache_take(void)
{
	struct slot *s;

	if (cache.n_buckets == 0)
		cache_rehash();
	if (cache.n_buckets == 0 || cache.limit < BLOCK)
		return NULL;
	if ((cache.n_slots + 1) * BLOCK <= cache.limit) {
		s = malloc(sizeof(*s));
		if (s != NULL) {
			cache.n_slots++;
			return s;
		}
	}
	s = cache.last;
	if (s == NULL)
		return NULL;
	hash_unlink(s);
	lru_unlink(s);
	cache.evictions++;
	return s;
}

static void
cache_insert(uint64_t run_id, uint64_t blk, const unsigned char *data, uint32_t len)
{
	struct slot *s;
	size_t i;

	pthread_mutex_lock(&cache.lock);
	if (cache_find(run_id, blk) != NULL)
		goto out;
	s = cache_take();
	if (s == NULL)
		goto out;
	s->run_id = run_id;
	s->blk = blk;
	s->len = len;
	memcpy(s->data, data, len);
	i = bucket_of(run_id, blk);
	s->hnext = cache.buckets[i];
	cache.buckets[i] = s;
	lru_push(s);
out:
	pthread_mutex_unlock(&cache.lock);
}

/* Copy len bytes at at of a cached block; false if it is not cached. */
static bool
cache_peek(uint64_t run_id, uint64_t blk, size_t at, void *dst, size_t len)
{
	struct slot *s;

	pthread_mutex_lock(&cache.lock);
	s = cache_find(run_id, blk);
	if (s != NULL) {
		lru_unlink(s);
		lru_push(s);
		memcpy(dst, s->data + at, len);
		cache.hits++;
	}
	pthread_mutex_unlock(&cache.lock);
	return s != NULL;
}

/* Read block blk of r from disk into dst and check its CRC. */
static int
block_load(struct ht_run *r, uint64_t blk, unsigned char *dst, uint32_t len)
{
	size_t got = 0, skip = blk == 0 ? HDR_LEN : 0;
	int v = ht_pread_all(r->fd, dst, len, blk * BLOCK, &got);

	if (v < 0)
		return v;
	if (got != len || crc(dst + skip, len - skip) != r->crcs[blk]) {
		pthread_mutex_lock(&cache.lock);
		cache.bad_blocks++;
		pthread_mutex_unlock(&cache.lock);
		return -EBADMSG;
	}
	return 0;
}

/* Copy block blk of r into dst, from the cache or verified from disk.  The
 * lock is not held across the pread, so a slow disk stalls only this
 * reader; two threads missing the same block both read it, and the second
 * insert finds it present. */
static int
block_read(struct ht_run *r, uint64_t blk, unsigned char *dst)
{
	uint64_t from = blk * BLOCK;
	uint32_t len = (uint32_t)(r->body_end - from < BLOCK ? r->body_end - from : BLOCK);
	struct slot *s;
	int v;

	pthread_mutex_lock(&cache.lock);
	s = cache_find(r->id, blk);
	if (s != NULL) {
		lru_unlink(s);
		lru_push(s);
		memcpy(dst, s->data, len);
		cache.hits++;
	} else {
		cache.misses++;
	}
	pthread_mutex_unlock(&cache.lock);
	if (s != NULL)
		return 0;
	v = block_load(r, blk, dst, len);
	if (v == 0)
		cache_insert(r->id, blk, dst, len);
	return v;
}

void
ht_run_cache_limit(size_t bytes)
{
	pthread_mutex_lock(&cache.lock);
	cache.limit = bytes;
	while (cache.n_slots > 0 && cache.n_slots * BLOCK > cache.limit)
		cache_drop(cache.last);
	if (cache.n_buckets > 0)
		cache_rehash();
	pthread_mutex_unlock(&cache.lock);
}

void
ht_run_cache_stats(struct ht_run_cache_stats *ret)
{
	pthread_mutex_lock(&cache.lock);
	*ret = (struct ht_run_cache_stats){ .limit = cache.limit,
		.bytes = cache.n_slots * BLOCK,
		.hits = cache.hits,
		.misses = cache.misses,
		.evictions = cache.evictions,
		.bad_blocks = cache.bad_blocks };
	pthread_mutex_unlock(&cache.lock);
}

/* ---- opening ---- */

/* Checks and decodes the header into r (not yet fd, crcs, id). */
static int
header_parse(const unsigned char *h, struct ht_run *r)
{
	struct ht_run_info *in = &r->info;
	uint64_t n_ents = ht_le_get64(h + 40);

	if (memcmp(h, RUN_MAGIC, 8) != 0 || ht_le_get32(h + 8) != RUN_VERSION || ht_le_get32(h + 12) != BLOCK ||
	    ht_le_get32(h + HDR_CRC_AT) != crc(h, HDR_CRC_AT))
		return -EBADMSG;
	in->day = ht_le_get32(h + 16);
	in->seg_from = ht_le_get64(h + 24);
	in->seg_to = ht_le_get64(h + 32);
	in->count = n_ents;
	r->n_keys = ht_le_get64(h + 48);
	r->n_posts = ht_le_get64(h + 56);
	in->min_time = (int64_t)ht_le_get64(h + 64);
	in->max_time = (int64_t)ht_le_get64(h + 72);
	in->min_seq = ht_le_get64(h + 80);
	in->max_seq = ht_le_get64(h + 88);
	r->keys_off = ht_le_get64(h + 104);
	r->posts_off = ht_le_get64(h + 112);
	r->body_end = ht_le_get64(h + 120);
	r->n_blocks = ht_le_get32(h + 128);
	r->mgmt =
	    (struct key){ .hash = mgmt_hash(), .first = ht_le_get32(h + 136), .count = ht_le_get32(h + 140) };
	if (n_ents > MAX_ITEMS || r->n_posts > MAX_ITEMS || r->n_keys > r->n_posts ||
	    ht_le_get64(h + 96) != HDR_LEN || r->keys_off != HDR_LEN + n_ents * ENTRY_LEN ||
	    r->posts_off != r->keys_off + r->n_keys * KEY_LEN ||
	    r->body_end != r->posts_off + r->n_posts * POST_LEN ||
	    r->n_blocks != (r->body_end + BLOCK - 1) / BLOCK || in->min_time > in->max_time ||
	    in->min_seq > in->max_seq || (uint64_t)r->mgmt.first + r->mgmt.count > r->n_posts)
		return -EBADMSG;
	return 0;
}

static int
crc_table_load(struct ht_run *r, uint32_t table_crc)
{
	size_t len = (size_t)r->n_blocks * 4, got = 0;
	unsigned char *raw = malloc(len);
	int v;

	if (raw == NULL)
		return -ENOMEM;
	v = ht_pread_all(r->fd, raw, len, r->body_end, &got);
	if (v == 0 && (got != len || crc(raw, len) != table_crc))
		v = -EBADMSG;
	if (v == 0) {
		/* Decode in place: each u32 overwrites only its own bytes. */
		r->crcs = (uint32_t *)(void *)raw;
		for (size_t i = 0; i < r->n_blocks; i++)
			r->crcs[i] = ht_le_get32(raw + 4 * i);
		raw = NULL;
	}
	free(raw);
	return v;
}

int
ht_run_open(const char *path, struct ht_run **ret)
{
	unsigned char h[HDR_LEN];
	struct ht_run *r;
	struct stat st;
	size_t got = 0;
	int v;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		v = -errno;
		goto fail;
	}
	v = fstat(r->fd, &st) < 0 ? -errno : 0;
	if (v == 0)
		v = ht_pread_all(r->fd, h, HDR_LEN, 0, &got);
	if (v == 0 && got != HDR_LEN)
		v = -EBADMSG;
	if (v == 0)
		v = header_parse(h, r);
	if (v == 0 && (uint64_t)st.st_size != r->body_end + (uint64_t)r->n_blocks * 4)
		v = -EBADMSG;
	if (v == 0)
		v = crc_table_load(r, ht_le_get32(h + 132));
	if (v < 0)
		goto fail;
	r->info.file_bytes = (uint64_t)st.st_size;
	pthread_mutex_lock(&cache.lock);
	r->id = cache.next_id++;
	pthread_mutex_unlock(&cache.lock);
	*ret = r;
	return 0;
fail:
	if (r->fd >= 0)
		close(r->fd);
	free(r);
	return v;
}

void
ht_run_info(const struct ht_run *r, struct ht_run_info *ret)
{
	*ret = r->info;
}

void
ht_run_close(struct ht_run *r)
{
	struct slot *s, *next;

	if (r == NULL)
		return;
	/* Its blocks can never be asked for again: give the room back now. */
	pthread_mutex_lock(&cache.lock);
	for (s = cache.first; s; s = next) {
		next = s->next;
		if (s->run_id == r->id)
			cache_drop(s);
	}
	pthread_mutex_unlock(&cache.lock);
	close(r->fd);
	free(r->crcs);
	free(r);
}

/* ---- cursor: element access ---- */

/*
 * Copy the len bytes at off (inside one block) of r to dst.  A sequential
 * reader (probe false) keeps the whole block in w and copies from there.  A
 * probe (a binary-search step, an entry behind a posting) copies only the
 * element when its block is cached, and loads w on a miss or on a second
 * probe in a row into the same block: a search touches ~log n blocks once
 * each, where copying 4 KiB per step would cost more than the search, while
 * a dense posting list reads runs of neighbouring entries.
 */
static int
elem_read(struct ht_run *r, struct window *w, uint64_t off, void *dst, size_t len, bool probe)
{
	uint64_t blk = off / BLOCK;
	int v;

	if (w->blk != blk && probe && w->peeked != blk &&
	    cache_peek(r->id, blk, off % BLOCK, dst, len)) {
		w->peeked = blk;
		return 0;
	}
	if (w->blk != blk) {
		v = block_read(r, blk, w->data);
		if (v < 0) {
			w->blk = UINT64_MAX;
			return v;
		}
		w->blk = blk;
	}
	memcpy(dst, w->data + off % BLOCK, len);
	return 0;
}

static int
get_entry(struct ht_run_cursor *c, uint64_t i, struct ent *ret, bool probe)
{
	unsigned char p[ENTRY_LEN];
	int v;

	if (c->v.run == NULL) {
		*ret = c->v.b->ents[i];
		return 0;
	}
	v = elem_read(c->v.run, c->ew, HDR_LEN + i * ENTRY_LEN, p, ENTRY_LEN, probe);
	if (v < 0)
		return v;
	ret->time = (int64_t)ht_le_get64(p);
	ret->seq = ht_le_get64(p + 8);
	ret->offset = ht_le_get64(p + 16);
	ret->flags = ht_le_get32(p + 24);
	return 0;
}

static int
get_key(struct ht_run_cursor *c, uint64_t k, struct key *ret)
{
	const struct ht_run_builder *b = c->v.b;
	unsigned char p[KEY_LEN];
	int v;

	if (c->v.run == NULL) {
		*ret = (struct key){ .hash = b->key_hash[k],
			.first = b->key_first[k],
			.count = b->key_first[k + 1] - b->key_first[k] };
		return 0;
	}
	v = elem_read(c->v.run, c->aw, c->v.run->keys_off + k * KEY_LEN, p, KEY_LEN, true);
	if (v < 0)
		return v;
	ret->hash = ht_le_get64(p);
	ret->first = ht_le_get32(p + 8);
	ret->count = ht_le_get32(p + 12);
	if (ret->count == 0 || (uint64_t)ret->first + ret->count > c->v.run->n_posts)
		return -EBADMSG;
	return 0;
}

static int
get_post(struct ht_run_cursor *c, uint64_t j, uint32_t *ret, bool probe)
{
	unsigned char p[POST_LEN];
	int v;

	if (c->v.run == NULL) {
		*ret = c->v.b->posts[j];
		return 0;
	}
	v = elem_read(c->v.run, c->aw, c->v.run->posts_off + j * POST_LEN, p, POST_LEN, probe);
	if (v < 0)
		return v;
	*ret = ht_le_get32(p);
	return *ret < c->v.n_ents ? 0 : -EBADMSG;
}

/* ---- cursor: positioning ---- */

/* First entry index not newer than (t, s). */
static int
find_entry(struct ht_run_cursor *c, int64_t t, uint64_t s, uint64_t *ret)
{
	uint64_t lo = 0, hi = c->v.n_ents;
	struct ent e;
	int v;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		v = get_entry(c, mid, &e, true);
		if (v < 0)
			return v;
		if (newer_than(&e, t, s))
			lo = mid + 1;
		else
			hi = mid;
	}
	*ret = lo;
	return 0;
}

/* The key for hash: 1 with *ret, 0 if absent, <0 on error. */
static int
find_key(struct ht_run_cursor *c, uint64_t n_keys, uint64_t hash, struct key *ret)
{
	uint64_t lo = 0, hi = n_keys;
	struct key k;
	int v;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		v = get_key(c, mid, &k);
		if (v < 0)
			return v;
		if (k.hash == hash) {
			*ret = k;
			return 1;
		}
		if (k.hash < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* First posting in [lo, hi) naming an entry index >= idx. */
static int
find_post(struct ht_run_cursor *c, uint64_t lo, uint64_t hi, uint64_t idx, uint64_t *ret)
{
	uint32_t p;
	int v;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		v = get_post(c, mid, &p, true);
		if (v < 0)
			return v;
		if (p < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	*ret = lo;
	return 0;
}

/* Reduce q to a plan; empty if no entry can match by q alone. */
static int
plan_make(const struct ht_index_query *q, struct plan *p)
{
	*p = (struct plan){ .start = q->start,
		.bt = q->end,
		.bs = UINT64_MAX,
		.max_seq = q->max_seq,
		.include_data = q->include_data };
	if (q->has_attr && ((unsigned)q->attr >= HT_ATTR_COUNT || q->value == NULL))
		return -EINVAL;
	if (q->has_after) {
		/* Strictly older than (at, as) = not newer than its predecessor. */
		int64_t at = q->after_time;
		uint64_t as = q->after_seq;

		if (as > 0) {
			as--;
		} else if (at > INT64_MIN) {
			at--;
			as = UINT64_MAX;
		} else {
			p->empty = true;
		}
		if (at < p->bt || (at == p->bt && as < p->bs)) {
			p->bt = at;
			p->bs = as;
		}
	}
	if (q->start > q->end || p->bt < q->start)
		p->empty = true;
	if (q->has_attr) {
		p->attr = p->posts = true;
		p->hash = ht_attr_hash(q->attr, q->value);
	} else if (!q->include_data) {
		p->posts = true;
		p->hash = mgmt_hash();
	}
	return 0;
}

static bool
plan_rejects(const struct plan *p, const struct view *v)
{
	return p->empty || v->n_ents == 0 || p->start > v->max_time || p->bt < v->min_time ||
	    p->max_seq < v->min_seq;
}

/* Position c (whose view is set) at the first candidate for its plan. */
static int
cursor_position(struct ht_run_cursor *c)
{
	uint64_t idx = 0;
	struct key k = { 0 };
	int v = 0;

	c->mode = CUR_EMPTY;
	if (plan_rejects(&c->p, &c->v))
		return 0;
	if (c->p.bt < c->v.max_time || (c->p.bt == c->v.max_time && c->p.bs != UINT64_MAX))
		v = find_entry(c, c->p.bt, c->p.bs, &idx);
	if (v < 0 || !c->p.posts) {
		c->mode = CUR_SCAN;
		c->pos = idx;
		c->end = c->v.n_ents;
		return v;
	}
	if (c->p.attr) {
		v = find_key(c, c->v.n_keys, c->p.hash, &k);
		if (v <= 0)
			return v;
	} else if (c->v.mgmt.count > 0) {
		k = c->v.mgmt;
	} else {
		return 0;
	}
	c->end = (uint64_t)k.first + k.count;
	c->mode = CUR_POSTS;
	if (idx == 0) {
		c->pos = k.first;
		return 0;
	}
	return find_post(c, k.first, c->end, idx, &c->pos);
}

static struct ht_run_cursor *
cursor_alloc(bool windows)
{
	size_t extra = windows ? 2 * sizeof(struct window) : 0;
	struct ht_run_cursor *c = malloc(sizeof(*c) + extra);

	if (c == NULL)
		return NULL;
	memset(c, 0, sizeof(*c));
	if (windows) {
		c->ew = (struct window *)(void *)(c + 1);
		c->aw = c->ew + 1;
		c->ew->blk = c->aw->blk = UINT64_MAX;
		c->ew->peeked = c->aw->peeked = UINT64_MAX;
	}
	return c;
}

int
ht_run_query(struct ht_run *r, const struct ht_index_query *q, struct ht_run_cursor **ret)
{
	struct ht_run_cursor *c = cursor_alloc(true);
	int v;

	if (c == NULL)
		return -ENOMEM;
	c->v = (struct view){ .run = r,
		.n_ents = r->info.count,
		.n_keys = r->n_keys,
		.mgmt = r->mgmt,
		.min_time = r->info.min_time,
		.max_time = r->info.max_time,
		.min_seq = r->info.min_seq };
	v = plan_make(q, &c->p);
	if (v == 0)
		v = cursor_position(c);
	if (v < 0) {
		free(c);
		return v;
	}
	*ret = c;
	return 0;
}

/* ---- cursor over an unfrozen builder ---- */

static bool
plan_accepts(const struct plan *p, const struct ent *e)
{
	return e->time >= p->start && !newer_than(e, p->bt, p->bs) && e->seq <= p->max_seq &&
	    (p->include_data || !(e->flags & HT_ENTRY_DATA));
}

static bool
has_hash(const uint64_t *h, uint32_t n, uint64_t hash)
{
	for (uint32_t i = 0; i < n; i++)
		if (h[i] == hash)
			return true;
	return false;
}

/* Filter the builder's records into a sorted copy: the builder may grow
 * (and move its arrays) while the cursor is alive. */
static int
snapshot(const struct ht_run_builder *b, struct ht_run_cursor *c)
{
	bool attr = c->p.attr;
	uint32_t *ids = malloc((b->n_ents ? b->n_ents : 1) * sizeof(*ids));
	size_t m = 0, at = 0;
	int v = -ENOMEM;

	if (ids == NULL)
		goto out;
	for (size_t i = 0; i < b->n_ents; i++) {
		const struct ent *e = &b->ents[i];

		at += e->n_hashes;
		if (plan_accepts(&c->p, e) &&
		    (!attr || has_hash(b->hashes + at - e->n_hashes, e->n_hashes, c->p.hash)))
			ids[m++] = (uint32_t)i;
	}
	c->hits = malloc((m ? m : 1) * sizeof(*c->hits));
	if (c->hits == NULL || order_newest_first(b->ents, ids, m) < 0)
		goto out;
	for (size_t i = 0; i < m; i++)
		c->hits[i] = b->ents[ids[i]];
	c->mode = CUR_HITS;
	c->end = m;
	v = 0;
out:
	free(ids);
	return v;
}

int
ht_run_builder_query(struct ht_run_builder *b, const struct ht_index_query *q,
    struct ht_run_cursor **ret)
{
	struct ht_run_cursor *c = cursor_alloc(false);
	int v;

	if (c == NULL)
		return -ENOMEM;
	c->v = (struct view){ .b = b,
		.n_ents = b->n_ents,
		.n_keys = b->n_keys,
		.mgmt = b->mgmt,
		.min_time = b->min_time,
		.max_time = b->max_time,
		.min_seq = b->min_seq };
	v = plan_make(q, &c->p);
	if (v == 0 && b->frozen)
		v = cursor_position(c);
	else if (v == 0 && !plan_rejects(&c->p, &c->v))
		v = snapshot(b, c);
	if (v < 0) {
		ht_run_cursor_free(c);
		return v;
	}
	*ret = c;
	return 0;
}

/* ---- cursor: iteration ---- */

/* The next candidate entry: 1, 0 at the end, <0 on error. */
static int
cursor_step(struct ht_run_cursor *c, struct ent *e)
{
	uint32_t p;
	int v;

	if (c->pos >= c->end || c->mode == CUR_EMPTY)
		return 0;
	if (c->mode == CUR_HITS) {
		*e = c->hits[c->pos++];
		return 1;
	}
	if (c->mode == CUR_SCAN) {
		v = get_entry(c, c->pos, e, false);
	} else {
		v = get_post(c, c->pos, &p, false);
		if (v == 0)
			v = get_entry(c, p, e, true);
	}
	if (v < 0)
		return v;
	c->pos++;
	return 1;
}

int
ht_run_cursor_next(struct ht_run_cursor *c, struct ht_index_hit *hit)
{
	struct ent e;
	int v;

	for (;;) {
		if (c->err < 0)
			return c->err;
		v = cursor_step(c, &e);
		if (v < 0) {
			c->err = v;
			return v;
		}
		if (v == 0 || e.time < c->p.start) {
			c->mode = CUR_EMPTY; /* sorted: nothing older can match */
			return 0;
		}
		if (plan_accepts(&c->p, &e)) {
			*hit = (struct ht_index_hit){ .time = e.time,
				.seq = e.seq,
				.offset = e.offset,
				.flags = e.flags };
			return 1;
		}
	}
}

void
ht_run_cursor_free(struct ht_run_cursor *c)
{
	if (c == NULL)
		return;
	free(c->hits);
	free(c);
}

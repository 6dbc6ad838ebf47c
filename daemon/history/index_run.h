/*
 * index_run.h - one immutable run of the LookupEvents index: the entries of
 * a stretch of one history segment, sorted newest first, with a posting
 * list per attribute value.  A segment's index is a few runs plus an
 * in-memory tail (history/index.h); a lookup merges their cursors.
 *
 * Order everywhere is "newest first": by eventTime descending, then by seq
 * descending (seq is unique, so the order is total).
 *
 * A run lives in a file, read with pread through a bounded block cache, so
 * memory stays flat however much history there is.  Every 4 KiB block of
 * the file has a CRC32 (table at the end, itself checksummed); a damaged
 * block makes reads fail with -EBADMSG, never return wrong data.
 */
#ifndef HT_INDEX_RUN_H
#define HT_INDEX_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* LookupEvents' eight lookup attributes, in the API's enum order. */
enum ht_attr {
	HT_ATTR_EVENT_ID,
	HT_ATTR_EVENT_NAME,
	HT_ATTR_READ_ONLY,
	HT_ATTR_USERNAME,
	HT_ATTR_RESOURCE_TYPE,
	HT_ATTR_RESOURCE_NAME,
	HT_ATTR_EVENT_SOURCE,
	HT_ATTR_ACCESS_KEY_ID,
	HT_ATTR_COUNT
};

/* Entry flags. */
#define HT_ENTRY_DATA 0x1u	/* a data event: hidden from lookups unless asked for */

struct ht_attr_value {
	enum ht_attr attr;
	const char *value;	/* NUL-terminated, 1-2000 bytes */
};

/* One record as the index sees it (input to the writer). */
struct ht_index_rec {
	int64_t time;		/* eventTime, epoch seconds */
	uint64_t seq;
	uint64_t offset;	/* frame offset in the segment */
	uint32_t flags;		/* HT_ENTRY_* */
	const struct ht_attr_value *vals;	/* any number, an attr may repeat */
	size_t n_vals;
};

/* One result of a query. */
struct ht_index_hit {
	int64_t time;
	uint64_t seq;
	uint64_t offset;
	uint32_t flags;
};

/* What a cursor yields: entries in newest-first order that satisfy all of: */
struct ht_index_query {
	int64_t start, end;		/* start <= time <= end */
	bool has_attr;			/* and has value for attr (exact, case-sensitive) */
	enum ht_attr attr;
	const char *value;
	uint64_t max_seq;		/* seq <= max_seq (a snapshot) */
	bool include_data;		/* else HT_ENTRY_DATA entries are skipped */
	bool has_after;			/* and strictly after (after_time, after_seq) in */
	int64_t after_time;		/* newest-first order (pagination) */
	uint64_t after_seq;
};

/* Hash used for attribute values (also by callers that verify hits).
 * Stable across versions: it is stored in files. */
uint64_t ht_attr_hash(enum ht_attr attr, const char *value);

/* ---- building ---- */

struct ht_run_builder;

/* A builder for a run covering segment bytes [seg_from, seg_to) of day. */
int ht_run_builder_new(uint32_t day, struct ht_run_builder **ret);
/* Add a record (values are copied or hashed; nothing is borrowed).
 * 0, -ENOMEM, -EINVAL (frozen builder, attr out of range, NULL value) or
 * -E2BIG (more than 2^32-1 entries + values in one run). */
int ht_run_builder_add(struct ht_run_builder *b, const struct ht_index_rec *rec);
/* Number of records added. */
size_t ht_run_builder_count(const struct ht_run_builder *b);
/* Sort and make immutable: no more adds.  After this, write (on a worker
 * thread) and queries (on the loop) may run at the same time.  0, or
 * -ENOMEM with the builder unchanged (still unfrozen: it can still be
 * queried, and freeze retried; write refuses it).  Frozen twice is a no-op.
 * Needs about 16 bytes per value + 40 per record on top of the builder's
 * own 8 + 32 while it runs (1M records of 8 values: ~180 MB, ~1.2 s). */
int ht_run_builder_freeze(struct ht_run_builder *b);
/* Write a frozen builder's run to path atomically (temp, fsync, rename,
 * fsync dir), recording that it covers segment bytes [seg_from, seg_to).
 * The builder stays usable for queries.  0, -EINVAL if not frozen, or
 * -errno. */
int ht_run_builder_write(struct ht_run_builder *b, const char *path, uint64_t seg_from,
    uint64_t seg_to);
void ht_run_builder_free(struct ht_run_builder *b);

/* ---- reading ---- */

struct ht_run;
struct ht_run_cursor;

struct ht_run_info {
	uint32_t day;
	uint64_t seg_from, seg_to;	/* segment bytes covered */
	uint64_t count;
	int64_t min_time, max_time;	/* over all entries; 0/0 if none */
	uint64_t min_seq, max_seq;
	uint64_t file_bytes;
};

/* Open a run file: checks the header and the block-CRC table (cheap: no
 * body read).  -EBADMSG if it is not a valid run, -errno otherwise. */
int ht_run_open(const char *path, struct ht_run **ret);
void ht_run_info(const struct ht_run *r, struct ht_run_info *ret);
/* Cursor over the entries of r matching q (q and q->value are copied;
 * the cursor holds ~8 KiB).  Free every cursor of r before closing r.
 * 0, -EINVAL (bad attr or NULL value), -EBADMSG if a block it needs is
 * damaged, or -errno. */
int ht_run_query(struct ht_run *r, const struct ht_index_query *q, struct ht_run_cursor **ret);
/* Same over a builder's records (the in-memory tail of a live segment):
 * the cursor sees the records added before this call.  On a builder that is
 * not frozen this sorts a snapshot (cost grows with the tail; keep tails
 * small).  Loop thread only for unfrozen builders.  A cursor on a frozen
 * builder reads its arrays: free it before the builder. */
int ht_run_builder_query(struct ht_run_builder *b, const struct ht_index_query *q,
    struct ht_run_cursor **ret);
/* Next hit: 1 with *hit, 0 at the end, -EBADMSG if the file is damaged,
 * -errno on I/O error.  An error is sticky: later calls return it again. */
int ht_run_cursor_next(struct ht_run_cursor *c, struct ht_index_hit *hit);
void ht_run_cursor_free(struct ht_run_cursor *c);
void ht_run_close(struct ht_run *r);

/* Bound the block cache shared by all open runs (bytes; default 8 MiB;
 * below 4096 turns caching off).  The cache is thread-safe. */
void ht_run_cache_limit(size_t bytes);

struct ht_run_cache_stats {
	size_t limit;			/* bytes allowed */
	size_t bytes;			/* bytes of blocks held (4 KiB each) */
	uint64_t hits, misses, evictions;
	uint64_t bad_blocks;		/* blocks that failed their CRC when read */
};

/* A snapshot of the cache's counters (for metrics, benches and tests). */
void ht_run_cache_stats(struct ht_run_cache_stats *ret);

#endif

/*
 * index.h - the LookupEvents index of one history segment: a chain of run
 * files (history/index_run.h) covering the segment from its start, plus an
 * in-memory tail of the records appended since.  When the tail reaches
 * HT_INDEX_TAIL_MAX records it is frozen and written as a run file by a
 * worker (it stays queryable meanwhile); when the day is over, the whole
 * segment is re-indexed into one run and the small ones are deleted.
 *
 * Run files are named DAY-FROM-TO.run (segment byte range, hex) under the
 * index directory.  At load, the longest contiguous chain from the segment
 * start is used, runs off the chain are deleted, and whatever the chain
 * does not cover is re-indexed from the segment: a missing, torn or damaged
 * run costs a rescan, never a wrong answer.
 *
 * Loop thread only, except the job functions marked "worker".
 */
#ifndef HT_INDEX_H
#define HT_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "history/index_run.h"

#define HT_INDEX_TAIL_MAX 8192

struct ht_record;
struct ht_seg_index;
struct ht_index_job;

struct ht_seg_index_info {
	uint32_t day;
	uint64_t count;
	int64_t min_time, max_time;	/* 0/0 when empty */
	uint64_t min_seq, max_seq;
	uint64_t covered;		/* segment bytes covered by run files */
	uint64_t indexed;		/* segment bytes indexed (runs + tail) */
	size_t runs;
	uint64_t run_bytes;		/* run files on disk */
	uint64_t damaged;		/* damaged frames skipped while indexing */
};

/* The attributes LookupEvents matches on, taken from rec (values borrowed
 * from rec; ReadOnly as "true"/"false").  Writes at most cap values and
 * returns how many; *ret_flags gets HT_ENTRY_DATA for data events. */
size_t ht_index_attrs(const struct ht_record *rec, struct ht_attr_value *vals, size_t cap,
    uint32_t *ret_flags);

/* Load the index of the segment of day (segment at seg_path, seg_end bytes
 * long), with run files under idx_dir.  0 or -errno. */
int ht_seg_index_load(const char *seg_path, const char *idx_dir, uint32_t day, uint64_t seg_end,
    struct ht_seg_index **ret);
/* Index one appended record (frame at offset, next frame at next).  rec may
 * be NULL: then json (len bytes) is parsed.  A record that does not parse is
 * counted and not indexed.  0 or -ENOMEM. */
int ht_seg_index_add(struct ht_seg_index *x, const struct ht_record *rec, const char *json,
    size_t len, uint64_t seq, uint64_t offset, uint64_t next);
/* A job writing the tail as a run file if it has at least min records (0:
 * any), or NULL if there is nothing to do (or a job is already running). */
struct ht_index_job *ht_seg_index_take_flush(struct ht_seg_index *x, size_t min);
/* A job re-indexing the whole segment into one run (day over), or NULL if
 * it already is one run covering everything. */
struct ht_index_job *ht_seg_index_take_compact(struct ht_seg_index *x);
/* worker: do the job. */
void ht_index_job_run(struct ht_index_job *job);
/* loop: install the job's result (or log its failure) and free it.
 * Returns a follow-up job to run (the compaction of a sealed day whose tail
 * write was in progress), or NULL. */
struct ht_index_job *ht_index_job_finish(struct ht_index_job *job);
/* The day is over: no more appends; compact now or when the running job
 * finishes (take_compact / job_finish hand out the job). */
void ht_seg_index_seal(struct ht_seg_index *x);
/* Retention: delete the day's run files, and any a running job writes. */
void ht_seg_index_drop(struct ht_seg_index *x);
/* Cursors over every part of the index for q (caller frees each and the
 * array).  Returns the count, or -errno. */
int ht_seg_index_cursors(struct ht_seg_index *x, const struct ht_index_query *q,
    struct ht_run_cursor ***ret);
void ht_seg_index_info(const struct ht_seg_index *x, struct ht_seg_index_info *ret);
/* Drop the caller's reference (a running job keeps its own).  NULL is a
 * no-op. */
void ht_seg_index_unref(struct ht_seg_index *x);
/* Delete every run file of day under idx_dir (retention). */
void ht_seg_index_remove_files(const char *idx_dir, uint32_t day);

#endif

/*
 * history.h - the single durable log: one segment file per UTC day under a
 * directory, records appended in order, each with a history-wide sequence
 * number.  Sources are acknowledged only once history says their records
 * are durable; trails read history back from their own positions.
 *
 * Durability follows history.fsync: "always" acknowledges after an fsync
 * that covers the records (group commit: one fsync on the syncer thread
 * serves every append made while the previous one ran); "interval" and "off"
 * acknowledge once the records are written to the file (safe against a crash
 * of the daemon, not of the machine), with a background fsync every
 * fsync_interval for "interval".
 *
 * Days never go backwards: if the clock jumps back, appends continue in the
 * newest segment, so positions stay ordered.
 */
#ifndef HT_HISTORY_H
#define HT_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct event_base;
struct ht_conf_history;
struct ht_history;
struct ht_record;
struct ht_seg_index;

/* A place in history: before the frame at offset in the segment of day. */
struct ht_history_pos {
	uint32_t day;		/* YYYYMMDD */
	uint64_t offset;
};

/* -1, 0, 1 as a is before, at, after b. */
int ht_history_pos_cmp(const struct ht_history_pos *a, const struct ht_history_pos *b);

/* Called (on the loop) when appended records are durable; err < 0 if the
 * write or fsync failed, in which case they must not be acknowledged. */
typedef void (*ht_history_durable_fn)(int err, void *arg);
/* Called (on the loop) after every successful append of n records totalling
 * bytes of JSON. */
typedef void (*ht_history_grew_fn)(size_t n, uint64_t bytes, void *arg);

/* Open (creating dir if needed) and recover: the newest segment's torn tail
 * is truncated and logged.  now_fn supplies wall-clock seconds (tests inject
 * a clock; NULL = time()).  0 with *ret set, or -errno (logged). */
int ht_history_open(const char *dir, const struct ht_conf_history *conf, struct event_base *base,
    int64_t (*now_fn)(void), struct ht_history **ret);
/* Apply a reloaded history config (fsync policy and interval). */
void ht_history_set_conf(struct ht_history *h, const struct ht_conf_history *conf);
/* Set the single listener told after each append (the daemon fans out to
 * trails). */
void ht_history_on_grow(struct ht_history *h, ht_history_grew_fn fn, void *arg);

/* Append n records (compact JSON each) as one write.  durable() is called
 * exactly once, possibly before this returns (policy interval/off).
 * Returns 0 if the append was accepted (durable() will report), or -errno
 * if nothing was written (durable() is not called). */
int ht_history_append(struct ht_history *h, const struct iovec *recs, size_t n,
    ht_history_durable_fn durable, void *arg);
/* Same, with each record's parsed form (parsed[i] is the record serialized
 * in recs[i]) so the index need not parse the JSON again.  parsed may be
 * NULL. */
int ht_history_append_records(struct ht_history *h, const struct iovec *recs,
    const struct ht_record *const *parsed, size_t n, ht_history_durable_fn durable, void *arg);
/* Position after the last appended record. */
void ht_history_end(const struct ht_history *h, struct ht_history_pos *ret);
/* Directory holding the segments (for readers on other threads). */
const char *ht_history_dir(const struct ht_history *h);
/* Records appended since open, and the next sequence number. */
uint64_t ht_history_appended(const struct ht_history *h);
uint64_t ht_history_next_seq(const struct ht_history *h);
/* fsync everything appended so far, blocking (shutdown). 0 or -errno. */
int ht_history_sync(struct ht_history *h);
/* Sync, stop timers and the syncer, close. NULL is a no-op. */
void ht_history_close(struct ht_history *h);

/* ---- retention and the index (loop thread) ---- */

/* Drop whole days older than retention_days (by the injected clock), then
 * the oldest days while history and its index exceed max_disk.  The live
 * segment is never dropped.  Runs every minute and at open. */
void ht_history_enforce_retention(struct ht_history *h);
/* Segments, oldest first (the last is live), and each one's index (NULL if
 * it could not be loaded).  For LookupEvents (history/lookup.h). */
size_t ht_history_segments(const struct ht_history *h);
struct ht_seg_index *ht_history_segment_index(const struct ht_history *h, size_t i,
    uint32_t *ret_day);

/* Throw away segment i's index files and index it again from the segment
 * (a run file turned out damaged).  Blocks while it rescans.  0 or -errno. */
int ht_history_reindex(struct ht_history *h, size_t i);

struct ht_history_stats {
	size_t segments;
	uint64_t records;		/* indexed records in all segments */
	uint64_t next_seq;
	uint64_t segment_bytes;		/* on disk */
	uint64_t index_bytes;		/* run files on disk */
	uint64_t damaged;		/* damaged records skipped by the index */
	uint64_t dropped_retention;	/* days dropped for retention_days */
	uint64_t dropped_disk;		/* days dropped for max_disk */
};
void ht_history_stats(const struct ht_history *h, struct ht_history_stats *ret);

/* ---- reading, from any thread (uses only the directory) ---- */

/* Called for each record (flags: HT_RF_* of record.h, 0 if unknown); return HT_SCAN_NEXT to go on, HT_SCAN_STOP to stop
 * after this record, HT_SCAN_STOP_BEFORE to stop without it (it is not
 * counted as reached), or -errno to abort. */
enum { HT_SCAN_NEXT = 0, HT_SCAN_STOP = 1, HT_SCAN_STOP_BEFORE = 2 };
typedef int (*ht_history_scan_fn)(uint64_t seq, uint32_t flags, const char *data, size_t len,
    void *arg);
/* Visit records from *from (inclusive) to *to (exclusive) in order.  On
 * return *ret_reached is the position after the last record visited (or to).
 * Damaged frames are skipped and counted in *ret_damaged (may be NULL).
 * 0 or -errno. */
int ht_history_scan(const char *dir, const struct ht_history_pos *from,
    const struct ht_history_pos *to, ht_history_scan_fn fn, void *arg,
    struct ht_history_pos *ret_reached, uint64_t *ret_damaged);

/* Segment file path for day into buf (PATH_MAX). */
void ht_history_segment_path(const char *dir, uint32_t day, char *buf, size_t len);
/* YYYYMMDD of a UTC time. */
uint32_t ht_history_day_of(int64_t t);
/* Where the next append goes at the earliest, from the files alone (a
 * source that must find its own records after a crash notes this before
 * it submits, on the loop, so nothing is being appended meanwhile).
 * *newest_day is the caller's memory of the newest day seen (0 at first):
 * days never go back in history, so a clock set back only makes the
 * position earlier than needed. */
void ht_history_end_pos(const char *dir, uint32_t *newest_day, struct ht_history_pos *ret);

#endif

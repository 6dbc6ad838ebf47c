/*
 * pipeline.h - where every source's records meet: fill what all records
 * share (eventID, eventTime, eventVersion, awsRegion, recipientAccountId),
 * serialize, and append to history.  Its callback is a source's signal that
 * its records are durable and may be acknowledged (checkpoints advanced,
 * HTTP answered).
 */
#ifndef HT_PIPELINE_H
#define HT_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ht_conf;
struct ht_history;
struct ht_pipeline;
struct ht_record;

typedef void (*ht_pipeline_done_fn)(int err, void *arg);

struct ht_pipeline_stats {
	uint64_t records;	/* appended to history */
	uint64_t bytes;		/* serialized JSON bytes appended */
	uint64_t failed;	/* records whose append failed */
};

/* A pipeline appending to h (borrowed), stamping from conf (borrowed; the
 * caller keeps it alive and swaps it with set_conf).  0 or -ENOMEM. */
int ht_pipeline_new(struct ht_history *h, const struct ht_conf *conf, struct ht_pipeline **ret);
void ht_pipeline_set_conf(struct ht_pipeline *p, const struct ht_conf *conf);
/* Stamp recs in place (eventID, and eventTime/eventVersion/awsRegion/
 * recipientAccountId where unset) and append them as one batch.  The records
 * stay the caller's.  done(err) is called once the batch is durable, or
 * failed; possibly before this returns.  Returns 0 if done() will be called,
 * or -errno if nothing was appended (done() is not called). */
int ht_pipeline_submit(struct ht_pipeline *p, struct ht_record *const *recs, size_t n,
    ht_pipeline_done_fn done, void *arg);
/* Back-pressure: gate(why, len, arg) returns true (with a reason) while
 * intake should be held back (a trail's outbox is full).  NULL: never. */
typedef bool (*ht_pipeline_gate_fn)(char *why, size_t len, void *arg);
void ht_pipeline_set_gate(struct ht_pipeline *p, ht_pipeline_gate_fn gate, void *arg);
/* Should sources hold back now?  The reason goes to why (len bytes).
 * Sources ask before accepting input; nothing already accepted is refused. */
bool ht_pipeline_blocked(const struct ht_pipeline *p, char *why, size_t len);
void ht_pipeline_stats(const struct ht_pipeline *p, struct ht_pipeline_stats *ret);
/* NULL is a no-op. */
void ht_pipeline_free(struct ht_pipeline *p);

#endif

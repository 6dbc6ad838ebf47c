/*
 * auditlog.h - the auditlog source: follows auditd's log file (raw or
 * ENRICHED format) and its rotations (audit.log -> audit.log.1 -> ...),
 * assembles the records into events (sources/audit_parse.h), maps each to
 * a CloudTrail record (sources/audit_map.h) and hands them to the
 * pipeline.  Its ops table is ht_src_auditlog_ops (sources/source.h).
 *
 * Where it is in the log survives restarts in a checkpoint file, advanced
 * only when the pipeline says the records before it are durable.  The
 * checkpoint format is exported for the unit tests.
 */
#ifndef HT_AUDITLOG_H
#define HT_AUDITLOG_H

#include <stddef.h>
#include <stdint.h>

#include "sources/source.h"

/* A file is known by its inode plus a hash of its first bytes: inodes are
 * reused once a file is deleted, and a checkpoint can outlive its file. */
#define HT_AUDITLOG_HEAD 256

struct ht_auditlog_file_id {
	uint64_t dev;			/* informational: device numbers change across boots */
	uint64_t ino;
	uint32_t head_len;		/* bytes hashed, at most HT_AUDITLOG_HEAD (a young
					 * file has fewer) */
	uint64_t head_hash;		/* ht_auditlog_head_hash of those bytes */
};

/* A byte offset in files[file] of the checkpoint. */
struct ht_auditlog_mark {
	size_t file;
	uint64_t off;
};

/* An event still being assembled at the checkpoint: audit(TIME:SERIAL),
 * its node, and where its first record is. */
struct ht_auditlog_open {
	int64_t time_ms;
	uint64_t serial;
	uint32_t node_hash;		/* ht_auditlog_node_hash of node=, 0 without one */
	struct ht_auditlog_mark first;
};

/*
 * Everything before low went into durable records.  Between low and high
 * only the records of the open events (from their first mark on) are
 * still wanted: every other record there already went into a durable
 * record.  From high on nothing has been read.  files[] runs from low's
 * file to high's, oldest first (usually one file).
 *
 * The checkpoint is written after history has the records it covers, so a
 * crash can leave later records in history that the checkpoint does not
 * cover yet: history from (hist_day, hist_off) on holds every record
 * submitted after this checkpoint's, and those events are not sent again.
 */
struct ht_auditlog_checkpoint {
	struct ht_auditlog_file_id *files;
	size_t n_files;
	struct ht_auditlog_mark low, high;
	struct ht_auditlog_open *open;
	size_t n_open;
	uint32_t hist_day;		/* YYYYMMDD; 0: unknown (no history scan) */
	uint64_t hist_off;
};

/* FNV-1a 64 of len bytes. */
uint64_t ht_auditlog_head_hash(const void *data, size_t len);
/* FNV-1a 32 of node, 0 for NULL. */
uint32_t ht_auditlog_node_hash(const char *node);
/* The checkpoint as text (path is informational).  0 with *ret (malloc'd,
 * NUL-terminated) and *ret_len, or -ENOMEM. */
int ht_auditlog_checkpoint_format(const struct ht_auditlog_checkpoint *cp, const char *path,
    char **ret, size_t *ret_len);
/* Parse text from ht_auditlog_checkpoint_format.  0 with *ret filled (free
 * with ht_auditlog_checkpoint_clear), -EINVAL if it is not a complete,
 * consistent checkpoint, -ENOMEM. */
int ht_auditlog_checkpoint_parse(const char *text, size_t len,
    struct ht_auditlog_checkpoint *ret);
/* Deep copy.  0 or -ENOMEM (*ret untouched). */
int ht_auditlog_checkpoint_copy(const struct ht_auditlog_checkpoint *cp,
    struct ht_auditlog_checkpoint *ret);
/* Free what cp holds and zero it. */
void ht_auditlog_checkpoint_clear(struct ht_auditlog_checkpoint *cp);

#endif

/*
 * batch.h - building one CloudTrail log file: read a range of history,
 * write {"Records":[...]} through gzip into the trail's target, named as
 * CloudTrail names it.  Runs on a worker thread; everything it needs is
 * copied into the job.
 */
#ifndef HT_BATCH_H
#define HT_BATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "history/history.h"

struct ht_select;

struct ht_batch_job {
	/* in (owned by the job) */
	char *history_dir;
	char *spool_root;
	char *key;			/* object key of the file */
	struct ht_history_pos from, to;
	uint64_t max_events;
	uint64_t max_bytes;		/* most uncompressed JSON bytes in the file (a
					 * single larger record still gets a file) */
	bool include_global;		/* include global service events */
	struct ht_select *select;	/* a reference, or NULL: CloudTrail's default */
	char *home_region;		/* for the selectors' scope */
	bool multi_region;
	/* out */
	int err;			/* 0 or -errno */
	char errmsg[256];		/* what failed, for the log and trail status */
	struct ht_history_pos reached;	/* records before this are in the file */
	uint64_t events;		/* 0: nothing in range, no file written */
	uint64_t bytes_in;		/* records and commas, without the document frame */
	uint64_t bytes_out;
	uint64_t damaged;		/* damaged history frames skipped */
	uint64_t skipped;		/* records the trail does not select */
};

/* Build the file described by job (a struct ht_batch_job *); a
 * ht_work_fn. */
void ht_batch_build(void *job);
/* Frees the job's strings and the job. NULL is a no-op. */
void ht_batch_job_free(struct ht_batch_job *job);

/* The object key CloudTrail would use:
 * [prefix/]AWSLogs/[orgid/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/
 *   ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE.json.gz
 * with the UTC delivery time t and a fresh 16-character UNIQUE.  prefix and
 * orgid may be NULL.  0 or -errno (-ENAMETOOLONG if len is too small). */
int ht_batch_key(char *buf, size_t len, const char *prefix, const char *orgid,
    const char *account, const char *region, time_t t);

#endif

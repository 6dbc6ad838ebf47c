/*
 * batch.c - see batch.h.  The same range and key always produce the same
 * bytes (records in history order, gzip without a timestamp), which is what
 * lets a rebuild after a crash replace the first attempt harmlessly.
 */
#include "ht_build.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/spool.h"
#include "gz.h"
#include "record.h"
#include "trail/batch.h"
#include "trail/select.h"
#include "util.h"

#define BATCH_GZIP_LEVEL 6
/* Bytes of {"Records":[ and ]} around the records. */
#define BATCH_FRAME_BYTES (sizeof("{\"Records\":[") - 1 + sizeof("]}") - 1)

struct build_state {
	struct ht_batch_job *job;
	struct ht_gz *gz;
};

int
ht_batch_key(char *buf, size_t len, const char *prefix, const char *orgid,
    const char *account, const char *region, time_t t)
{
	char uniq[17];
	struct tm tm;
	int n, v;

	v = ht_random_alnum(uniq, 16);
	if (v < 0)
		return v;
	gmtime_r(&t, &tm);
	n = snprintf(buf, len, "%s%sAWSLogs/%s%s%s/CloudTrail/%s/%04d/%02d/%02d/"
	    "%s_CloudTrail_%s_%04d%02d%02dT%02d%02dZ_%s.json.gz",
	    prefix && *prefix ? prefix : "", prefix && *prefix ? "/" : "",
	    orgid ? orgid : "", orgid ? "/" : "", account, region,
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	    account, region, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, uniq);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* Does the trail take this record?  Without custom selectors that is
 * CloudTrail's default: all management events (anything but eventCategory
 * "Data"), global service events only when the trail includes them; the
 * frame's flags answer it without parsing.  Custom selectors (or a record
 * stored without flags) need the parsed record. */
static bool
batch_selected(const struct ht_batch_job *j, uint32_t flags, const char *data, size_t len)
{
	struct ht_select_scope scope = { .home_region = j->home_region,
		.include_global = j->include_global, .multi_region = j->multi_region };
	struct ht_record *rec;
	char err[64];
	bool take;

	if ((flags & HT_RF_KNOWN) && j->select == NULL) {
		if (flags & HT_RF_DATA)
			return false;
		return j->include_global || !(flags & HT_RF_GLOBAL);
	}
	if (ht_record_parse(data, len, &rec, err, sizeof(err)) < 0)
		return true;	/* deliver what we cannot judge rather than lose it */
	take = ht_select_match(j->select, &scope, rec);
	ht_record_free(rec);
	return take;
}

static int
batch_record_cb(uint64_t seq, uint32_t flags, const char *data, size_t len, void *arg)
{
	struct build_state *s = arg;
	struct ht_batch_job *j = s->job;
	/* +1 for the comma; the head and tail of the document count too. */
	uint64_t add = len + (j->events > 0);
	int v;

	if (!batch_selected(j, flags, data, len)) {
		j->skipped++;
		return HT_SCAN_NEXT;
	}
	/* max_bytes is a ceiling: a record that would cross it starts the next
	 * file, unless it is the first (a single record always fits a file). */
	if (j->events > 0 && BATCH_FRAME_BYTES + j->bytes_in + add > j->max_bytes)
		return HT_SCAN_STOP_BEFORE;
	if (j->events > 0) {
		v = ht_gz_write(s->gz, ",", 1);
		if (v < 0)
			return v;
	}
	v = ht_gz_write(s->gz, data, len);
	if (v < 0)
		return v;
	j->events++;
	j->bytes_in += add;
	return j->events >= j->max_events ? HT_SCAN_STOP : HT_SCAN_NEXT;
}

static int
batch_fill(struct ht_batch_job *j, int fd)
{
	struct build_state s = { .job = j };
	static const char head[] = "{\"Records\":[", tail[] = "]}";
	int v;

	v = ht_gz_new(fd, BATCH_GZIP_LEVEL, &s.gz);
	if (v < 0)
		return v;
	v = ht_gz_write(s.gz, head, sizeof(head) - 1);
	if (v == 0)
		v = ht_history_scan(j->history_dir, &j->from, &j->to, batch_record_cb, &s,
		    &j->reached, &j->damaged);
	if (v == 0)
		v = ht_gz_write(s.gz, tail, sizeof(tail) - 1);
	if (v == 0)
		v = ht_gz_finish(s.gz, &j->bytes_out);
	ht_gz_free(s.gz);
	return v;
}

void
ht_batch_build(void *arg)
{
	struct ht_batch_job *j = arg;
	char tmp[PATH_MAX];
	int fd = -1, v;

	j->events = j->bytes_in = j->bytes_out = j->skipped = 0;
	v = ht_spool_stage(j->spool_root, tmp, sizeof(tmp), &fd);
	if (v < 0) {
		snprintf(j->errmsg, sizeof(j->errmsg), "cannot stage a file under %s: %s",
		    j->spool_root, strerror(-v));
		goto out;
	}
	v = batch_fill(j, fd);
	if (v < 0) {
		snprintf(j->errmsg, sizeof(j->errmsg), "building %s failed: %s", j->key,
		    strerror(-v));
		ht_spool_abort(fd, tmp);
		goto out;
	}
	if (j->events == 0) {
		/* Nothing in range (e.g. only damaged frames): no file. */
		ht_spool_abort(fd, tmp);
		goto out;
	}
	v = ht_spool_commit(j->spool_root, fd, tmp, j->key);
	if (v < 0)
		snprintf(j->errmsg, sizeof(j->errmsg), "delivering %s to %s failed: %s", j->key,
		    j->spool_root, strerror(-v));
out:
	j->err = v;
}

void
ht_batch_job_free(struct ht_batch_job *j)
{
	if (j == NULL)
		return;
	free(j->history_dir);
	free(j->spool_root);
	free(j->key);
	free(j->home_region);
	ht_select_free(j->select);
	free(j);
}

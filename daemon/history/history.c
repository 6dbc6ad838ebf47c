/*
 * history.c - see history.h.
 *
 * Acknowledgements under fsync "always" move through two queues: "waiting"
 * (written, not yet covered by a started fsync) and "inflight" (covered by
 * the fsync the syncer thread is running).  When that fsync completes,
 * inflight is acknowledged and, if anything waits, the next fsync starts at
 * once: every append is covered by at most one fsync after it, and fsyncs
 * never queue up behind each other.
 */
#include "ht_build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "fileio.h"
#include "history/history.h"
#include "history/index.h"
#include "history/segment.h"
#include "log.h"
#include "record.h"
#include "worker.h"

struct ack {
	struct ack *next;
	ht_history_durable_fn fn;
	void *arg;
};

struct ackq {
	struct ack *head, *tail;
};

/* One fsync run on the syncer thread. */
struct sync_job {
	struct ht_history *h;
	int fd;				/* current segment */
	struct ht_segment_writer *retired; /* previous segment: synced, then closed */
	int dir_fd;			/* >= 0 when a segment was created */
	int err;
};

struct ht_history {
	char *dir;
	struct ht_conf_history conf;
	int64_t (*now)(void);
	struct ht_segment_writer *seg;
	struct ht_segment_writer *retired;	/* waiting for the next sync */
	bool dir_dirty;
	uint64_t next_seq;
	uint64_t appended;
	bool dirty;				/* written since the last sync started */
	bool sync_running;
	struct ackq waiting, inflight;
	struct ht_worker *syncer;
	struct event *timer;
	ht_history_grew_fn grew;
	void *grew_arg;
	/* the read side */
	char *idx_dir;
	struct seg_entry *segs;			/* ascending by day; the last is live */
	size_t n_segs, cap_segs;
	struct ht_worker *indexer;		/* writes and compacts index runs */
	struct event *retention_timer;
	uint64_t dropped_retention, dropped_disk;
};

/* A segment of history and its LookupEvents index. */
struct seg_entry {
	uint32_t day;
	struct ht_seg_index *idx;	/* NULL if it could not be loaded */
};

#define RETENTION_PERIOD_S 60

static int64_t
history_default_now(void)
{
	return (int64_t)time(NULL);
}

uint32_t
ht_history_day_of(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	return (uint32_t)((tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday);
}

void
ht_history_segment_path(const char *dir, uint32_t day, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%08u.seg", dir, day);
}

void
ht_history_end_pos(const char *dir, uint32_t *newest_day, struct ht_history_pos *ret)
{
	uint32_t today = ht_history_day_of(time(NULL));
	char path[PATH_MAX];
	struct stat st;

	if (today > *newest_day)
		*newest_day = today;
	ht_history_segment_path(dir, *newest_day, path, sizeof(path));
	ret->day = *newest_day;
	ret->offset = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

int
ht_history_pos_cmp(const struct ht_history_pos *a, const struct ht_history_pos *b)
{
	if (a->day != b->day)
		return a->day < b->day ? -1 : 1;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	return 0;
}

static void
ackq_push(struct ackq *q, struct ack *a)
{
	a->next = NULL;
	if (q->tail)
		q->tail->next = a;
	else
		q->head = a;
	q->tail = a;
}

/* Acknowledge every entry of q with err and empty it. */
static void
ackq_fire(struct ackq *q, int err)
{
	struct ack *a = q->head;

	q->head = q->tail = NULL;
	while (a) {
		struct ack *next = a->next;

		a->fn(err, a->arg);
		free(a);
		a = next;
	}
}

/* ---- segment list ---- */

static int
day_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The days that have a segment file in dir, ascending; malloc'd. */
static int
history_list_days(const char *dir, uint32_t **ret_days, size_t *ret_n)
{
	uint32_t *days = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	d = opendir(dir);
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		uint32_t day = 0;
		int i;

		if (strlen(de->d_name) != 12 || strcmp(de->d_name + 8, ".seg") != 0)
			continue;
		for (i = 0; i < 8 && de->d_name[i] >= '0' && de->d_name[i] <= '9'; i++)
			day = day * 10 + (uint32_t)(de->d_name[i] - '0');
		if (i != 8)
			continue;
		if (n == cap) {
			uint32_t *nd = realloc(days, (cap ? cap * 2 : 16) * sizeof(*days));

			if (nd == NULL) {
				free(days);
				closedir(d);
				return -ENOMEM;
			}
			days = nd;
			cap = cap ? cap * 2 : 16;
		}
		days[n++] = day;
	}
	closedir(d);
	if (n > 1)
		qsort(days, n, sizeof(*days), day_cmp);
	*ret_days = days;
	*ret_n = n;
	return 0;
}

/* ---- syncer ---- */

static void
sync_work(void *arg)
{
	struct sync_job *j = arg;

	if (j->retired && fdatasync(ht_segment_fd(j->retired)) < 0)
		j->err = -errno;
	if (fdatasync(j->fd) < 0)
		j->err = -errno;
	if (j->dir_fd >= 0 && fsync(j->dir_fd) < 0)
		j->err = -errno;
}

static void history_sync_start(struct ht_history *h);
static void history_retention_cb(evutil_socket_t fd, short what, void *arg);

static void
sync_done(void *arg)
{
	struct sync_job *j = arg;
	struct ht_history *h = j->h;

	if (j->err < 0)
		log_msg(HT_LOG_ERR, -j->err, "history: fsync of %s failed; appends covered by it "
		    "are not acknowledged", h->dir);
	ht_segment_close(j->retired);
	if (j->dir_fd >= 0)
		close(j->dir_fd);
	h->sync_running = false;
	ackq_fire(&h->inflight, j->err);
	free(j);
	if (h->waiting.head || (h->dirty && h->conf.fsync == HT_FSYNC_ALWAYS))
		history_sync_start(h);
}

static void
history_sync_start(struct ht_history *h)
{
	struct sync_job *j;

	if (h->sync_running || h->seg == NULL)
		return;
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		/* Keep the acks waiting; the timer or next append retries. */
		log_warnx("history: out of memory starting fsync, will retry");
		return;
	}
	j->h = h;
	j->fd = ht_segment_fd(h->seg);
	j->retired = h->retired;
	j->dir_fd = -1;
	if (h->dir_dirty)
		j->dir_fd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ht_worker_submit(h->syncer, sync_work, sync_done, j) < 0) {
		if (j->dir_fd >= 0)
			close(j->dir_fd);
		free(j);
		log_warnx("history: out of memory starting fsync, will retry");
		return;
	}
	h->retired = NULL;
	h->dir_dirty = false;
	h->dirty = false;
	h->sync_running = true;
	h->inflight = h->waiting;
	h->waiting.head = h->waiting.tail = NULL;
}

static void
history_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ht_history *h = arg;

	if (h->dirty || h->retired || h->dir_dirty)
		history_sync_start(h);
}

static void
history_arm_timer(struct ht_history *h)
{
	struct timeval tv;

	evtimer_del(h->timer);
	if (h->conf.fsync != HT_FSYNC_INTERVAL)
		return;
	tv.tv_sec = (time_t)(h->conf.fsync_interval_ms / 1000);
	tv.tv_usec = (suseconds_t)(h->conf.fsync_interval_ms % 1000) * 1000;
	event_add(h->timer, &tv);
}

/* ---- open / recover ---- */

/* The last sequence number in an older, read-only segment. */
static uint64_t
segment_last_seq(const char *dir, uint32_t day)
{
	struct ht_segment_reader *r;
	char path[PATH_MAX];
	struct ht_frame f;
	uint64_t last = 0;
	int v;

	ht_history_segment_path(dir, day, path, sizeof(path));
	if (ht_segment_reader_open(path, 0, &r) < 0)
		return 0;
	while ((v = ht_segment_reader_next(r, UINT64_MAX, &f)) != 0) {
		if (v == 1)
			last = f.seq;
		else if (v != -EBADMSG)
			break;
	}
	ht_segment_reader_free(r);
	return last;
}

static int
history_open_segment(struct ht_history *h, uint32_t day)
{
	struct ht_segment_recovery rec;
	char path[PATH_MAX];
	struct stat st;
	bool existed;
	int v;

	ht_history_segment_path(h->dir, day, path, sizeof(path));
	existed = stat(path, &st) == 0;
	v = ht_segment_open(path, day, &h->seg, &rec);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "history: cannot open segment %s", path);
		return v;
	}
	if (rec.truncated)
		log_warnx("history: %s: truncated a torn tail of %llu bytes after %llu good "
		    "records (an append interrupted by a crash)", path,
		    (unsigned long long)rec.truncated, (unsigned long long)rec.records);
	if (!existed)
		h->dir_dirty = true;
	if (rec.last_seq >= h->next_seq)
		h->next_seq = rec.last_seq + 1;
	return 0;
}

/* ---- segment list and indexes ---- */

static void history_submit_index_job(struct ht_history *h, struct ht_index_job *j);

/* Jobs carry their history so a follow-up job can be queued. */
struct index_job_ctx {
	struct ht_history *h;
	struct ht_index_job *j;
};

static void
index_job_work(void *arg)
{
	ht_index_job_run(((struct index_job_ctx *)arg)->j);
}

static void
index_job_done(void *arg)
{
	struct index_job_ctx *c = arg;
	struct ht_index_job *next = ht_index_job_finish(c->j);

	history_submit_index_job(c->h, next);
	free(c);
}

static void
history_submit_index_job(struct ht_history *h, struct ht_index_job *j)
{
	struct index_job_ctx *c;

	while (j) {
		c = malloc(sizeof(*c));
		if (c) {
			*c = (struct index_job_ctx){ h, j };
			if (ht_worker_submit(h->indexer, index_job_work, index_job_done, c) == 0)
				return;
			free(c);
		}
		/* Out of memory: run it here rather than leave the index half-done. */
		ht_index_job_run(j);
		j = ht_index_job_finish(j);
	}
}

static int
history_add_segment(struct ht_history *h, uint32_t day, uint64_t size)
{
	char path[PATH_MAX];
	struct seg_entry *e;
	int v;

	if (h->n_segs == h->cap_segs) {
		size_t ncap = h->cap_segs ? h->cap_segs * 2 : 128;
		struct seg_entry *ns = realloc(h->segs, ncap * sizeof(*ns));

		if (ns == NULL)
			return -ENOMEM;
		h->segs = ns;
		h->cap_segs = ncap;
	}
	e = &h->segs[h->n_segs];
	e->day = day;
	e->idx = NULL;
	ht_history_segment_path(h->dir, day, path, sizeof(path));
	v = ht_seg_index_load(path, h->idx_dir, day, size, &e->idx);
	if (v == -ENOMEM)
		return v;
	/* Another failure is logged; the segment stays (trails read it) but
	 * lookups cannot see it until the next start. */
	h->n_segs++;
	return 0;
}

/* Load the index of every segment; re-index sealed ones that need it. */
static int
history_load_indexes(struct ht_history *h, const uint32_t *days, size_t n)
{
	uint32_t live = ht_segment_day(h->seg);
	int v;

	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];
		struct stat st;

		if (days[i] == live)
			continue;
		ht_history_segment_path(h->dir, days[i], path, sizeof(path));
		if (stat(path, &st) < 0)
			continue;
		v = history_add_segment(h, days[i], (uint64_t)st.st_size);
		if (v < 0)
			return v;
		if (h->segs[h->n_segs - 1].idx) {
			ht_seg_index_seal(h->segs[h->n_segs - 1].idx);
			history_submit_index_job(h, ht_seg_index_take_compact(
			    h->segs[h->n_segs - 1].idx));
		}
	}
	return history_add_segment(h, live, ht_segment_size(h->seg));
}

static struct ht_seg_index *
history_live_index(const struct ht_history *h)
{
	return h->n_segs ? h->segs[h->n_segs - 1].idx : NULL;
}

static int
history_recover(struct ht_history *h)
{
	uint32_t *days = NULL, today = ht_history_day_of(h->now());
	size_t n = 0;
	int v;

	v = history_list_days(h->dir, &days, &n);
	if (v < 0)
		return v;
	h->next_seq = 1;
	/* Opening the live segment scans it (torn-tail recovery) and yields its
	 * last sequence number; only when it holds none are older ones read. */
	v = history_open_segment(h, n && days[n - 1] > today ? days[n - 1] : today);
	for (size_t i = n; v == 0 && i-- > 0 && h->next_seq == 1;) {
		uint64_t last = segment_last_seq(h->dir, days[i]);

		if (last)
			h->next_seq = last + 1;
	}
	if (v == 0)
		v = history_load_indexes(h, days, n);
	free(days);
	return v;
}

int
ht_history_open(const char *dir, const struct ht_conf_history *conf, struct event_base *base,
    int64_t (*now_fn)(void), struct ht_history **ret)
{
	struct ht_history *h;
	int v;

	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	h->conf = *conf;
	h->now = now_fn ? now_fn : history_default_now;
	h->dir = strdup(dir);
	if (h->dir == NULL) {
		v = -ENOMEM;
		goto fail;
	}
	v = ht_mkdir_p(dir, 0750);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "history: cannot create %s", dir);
		goto fail;
	}
	if (asprintf(&h->idx_dir, "%s/index", dir) < 0) {
		h->idx_dir = NULL;
		v = -ENOMEM;
		goto fail;
	}
	v = ht_mkdir_p(h->idx_dir, 0750);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "history: cannot create %s", h->idx_dir);
		goto fail;
	}
	v = ht_worker_new(base, 1, "ht-sync", &h->syncer);
	if (v == 0)
		v = ht_worker_new(base, 1, "ht-index", &h->indexer);
	if (v < 0)
		goto fail;
	h->timer = event_new(base, -1, EV_PERSIST, history_timer_cb, h);
	h->retention_timer = event_new(base, -1, EV_PERSIST, history_retention_cb, h);
	if (h->timer == NULL || h->retention_timer == NULL) {
		v = -ENOMEM;
		goto fail;
	}
	v = history_recover(h);
	if (v < 0)
		goto fail;
	history_arm_timer(h);
	ht_history_enforce_retention(h);
	{
		struct timeval tv = { RETENTION_PERIOD_S, 0 };

		event_add(h->retention_timer, &tv);
	}
	*ret = h;
	return 0;
fail:
	ht_history_close(h);
	return v;
}

void
ht_history_set_conf(struct ht_history *h, const struct ht_conf_history *conf)
{
	h->conf = *conf;
	history_arm_timer(h);
}

void
ht_history_on_grow(struct ht_history *h, ht_history_grew_fn fn, void *arg)
{
	h->grew = fn;
	h->grew_arg = arg;
}

/* Move to a new day's segment when the UTC day changed (never backwards). */
static int
history_roll(struct ht_history *h)
{
	uint32_t today = ht_history_day_of(h->now());
	struct ht_segment_writer *old = h->seg;
	int v;

	if (today <= ht_segment_day(old))
		return 0;
	v = history_open_segment(h, today);
	if (v < 0) {
		h->seg = old;
		return v;
	}
	v = history_add_segment(h, today, ht_segment_size(h->seg));
	if (v < 0) {
		ht_segment_close(h->seg);
		h->seg = old;
		return v;
	}
	if (h->n_segs >= 2 && h->segs[h->n_segs - 2].idx) {
		ht_seg_index_seal(h->segs[h->n_segs - 2].idx);
		history_submit_index_job(h, ht_seg_index_take_compact(h->segs[h->n_segs - 2].idx));
	}
	if (h->retired) {
		/* Two rollovers without a sync in between: sync this one now. */
		(void)!fdatasync(ht_segment_fd(h->retired));
		ht_segment_close(h->retired);
	}
	h->retired = old;
	return 0;
}

int
ht_history_append(struct ht_history *h, const struct iovec *recs, size_t n,
    ht_history_durable_fn durable, void *arg)
{
	return ht_history_append_records(h, recs, NULL, n, durable, arg);
}

/* Feed the live segment's index with records just written at [start, ...). */
static void
history_index_appended(struct ht_history *h, const struct iovec *recs,
    const struct ht_record *const *parsed, size_t n, uint64_t seq, uint64_t start)
{
	struct ht_seg_index *x = history_live_index(h);
	uint64_t off = start;

	if (x == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		uint64_t next = off + HT_SEG_FRAME_LEN + recs[i].iov_len;

		if (ht_seg_index_add(x, parsed ? parsed[i] : NULL, recs[i].iov_base,
		    recs[i].iov_len, seq + i, off, next) < 0)
			log_warnx("history: out of memory indexing record %llu; it is stored but "
			    "lookups will not find it until the next start",
			    (unsigned long long)(seq + i));
		off = next;
	}
	history_submit_index_job(h, ht_seg_index_take_flush(x, HT_INDEX_TAIL_MAX));
}

int
ht_history_append_records(struct ht_history *h, const struct iovec *recs,
    const struct ht_record *const *parsed, size_t n, ht_history_durable_fn durable, void *arg)
{
	uint64_t seq = h->next_seq, start;
	struct ack *a = NULL;
	int v;

	if (history_roll(h) < 0)
		return -EIO;
	if (h->conf.fsync == HT_FSYNC_ALWAYS) {
		a = malloc(sizeof(*a));
		if (a == NULL)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		v = ht_segment_add_flags(h->seg, seq + i, parsed ? ht_record_flags(parsed[i]) : 0,
		    recs[i].iov_base, (uint32_t)recs[i].iov_len);
		if (v < 0)
			goto fail;
	}
	start = ht_segment_size(h->seg);
	v = ht_segment_flush(h->seg);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "history: write to %s failed", h->dir);
		goto fail;
	}
	history_index_appended(h, recs, parsed, n, seq, start);
	h->next_seq += n;
	h->appended += n;
	h->dirty = true;
	if (a) {
		a->fn = durable;
		a->arg = arg;
		ackq_push(&h->waiting, a);
		history_sync_start(h);
	} else {
		durable(0, arg);
	}
	if (h->grew) {
		uint64_t bytes = 0;

		for (size_t i = 0; i < n; i++)
			bytes += recs[i].iov_len;
		h->grew(n, bytes, h->grew_arg);
	}
	return 0;
fail:
	free(a);
	ht_segment_discard(h->seg);
	return v;
}

void
ht_history_end(const struct ht_history *h, struct ht_history_pos *ret)
{
	ret->day = ht_segment_day(h->seg);
	ret->offset = ht_segment_size(h->seg);
}

const char *
ht_history_dir(const struct ht_history *h)
{
	return h->dir;
}

uint64_t
ht_history_appended(const struct ht_history *h)
{
	return h->appended;
}

uint64_t
ht_history_next_seq(const struct ht_history *h)
{
	return h->next_seq;
}

int
ht_history_sync(struct ht_history *h)
{
	int v = 0;

	ht_worker_drain(h->syncer);
	if (h->retired) {
		if (fdatasync(ht_segment_fd(h->retired)) < 0)
			v = -errno;
		ht_segment_close(h->retired);
		h->retired = NULL;
	}
	if (h->seg && fdatasync(ht_segment_fd(h->seg)) < 0)
		v = -errno;
	h->dirty = false;
	ackq_fire(&h->waiting, v);
	return v;
}

void
ht_history_close(struct ht_history *h)
{
	struct ht_index_job *j;

	if (h == NULL)
		return;
	if (h->syncer && h->seg)
		ht_history_sync(h);
	ht_worker_free(h->syncer);
	if (h->indexer)
		ht_worker_drain(h->indexer);
	/* Write the live tail as a run, so the next start need not re-index. */
	if (history_live_index(h) && (j = ht_seg_index_take_flush(history_live_index(h), 0))) {
		ht_index_job_run(j);
		if ((j = ht_index_job_finish(j)) != NULL) {
			ht_index_job_run(j);
			(void)ht_index_job_finish(j);
		}
	}
	ht_worker_free(h->indexer);
	for (size_t i = 0; i < h->n_segs; i++)
		ht_seg_index_unref(h->segs[i].idx);
	free(h->segs);
	free(h->idx_dir);
	if (h->retention_timer)
		event_free(h->retention_timer);
	if (h->timer)
		event_free(h->timer);
	ht_segment_close(h->retired);
	ht_segment_close(h->seg);
	free(h->dir);
	free(h);
}

/* ---- retention ---- */

static int64_t
day_epoch(uint32_t day)
{
	struct tm tm = { .tm_year = (int)(day / 10000) - 1900, .tm_mon = (int)(day / 100 % 100) - 1,
		.tm_mday = (int)(day % 100) };

	return (int64_t)timegm(&tm);
}

static uint64_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Bytes of segment i and its index on disk. */
static uint64_t
history_seg_bytes(const struct ht_history *h, size_t i)
{
	struct ht_seg_index_info info = { 0 };
	char path[PATH_MAX];

	ht_history_segment_path(h->dir, h->segs[i].day, path, sizeof(path));
	if (h->segs[i].idx)
		ht_seg_index_info(h->segs[i].idx, &info);
	return file_size(path) + info.run_bytes;
}

static void
history_drop_oldest(struct ht_history *h, const char *why)
{
	struct seg_entry e = h->segs[0];
	char path[PATH_MAX];

	ht_history_segment_path(h->dir, e.day, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("history: cannot remove %s", path);
	if (e.idx)
		ht_seg_index_drop(e.idx);
	else
		ht_seg_index_remove_files(h->idx_dir, e.day);
	ht_seg_index_unref(e.idx);
	memmove(h->segs, h->segs + 1, (h->n_segs - 1) * sizeof(*h->segs));
	h->n_segs--;
	log_warnx("history: dropped the records of %08u (%s)", e.day, why);
}

void
ht_history_enforce_retention(struct ht_history *h)
{
	int64_t now = h->now();
	uint64_t total = 0;

	/* The live segment is never dropped, whatever the clock says. */
	while (h->n_segs > 1 &&
	    (now - day_epoch(h->segs[0].day)) / 86400 > (int64_t)h->conf.retention_days) {
		h->dropped_retention++;
		history_drop_oldest(h, "older than history.retention_days");
	}
	if (h->conf.max_disk == 0)
		return;
	for (size_t i = 0; i < h->n_segs; i++)
		total += history_seg_bytes(h, i);
	while (h->n_segs > 1 && total > h->conf.max_disk) {
		uint64_t b = history_seg_bytes(h, 0);

		h->dropped_disk++;
		history_drop_oldest(h, "history.max_disk reached: oldest day first");
		total -= b < total ? b : total;
	}
}

static void
history_retention_cb(evutil_socket_t fd, short what, void *arg)
{
	ht_history_enforce_retention(arg);
}

/* ---- the read side ---- */

size_t
ht_history_segments(const struct ht_history *h)
{
	return h->n_segs;
}

struct ht_seg_index *
ht_history_segment_index(const struct ht_history *h, size_t i, uint32_t *ret_day)
{
	*ret_day = h->segs[i].day;
	return h->segs[i].idx;
}

int
ht_history_reindex(struct ht_history *h, size_t i)
{
	struct seg_entry *e = &h->segs[i];
	struct ht_seg_index *x = NULL;
	char path[PATH_MAX];
	uint64_t size;
	int v;

	ht_history_segment_path(h->dir, e->day, path, sizeof(path));
	size = i == h->n_segs - 1 ? ht_segment_size(h->seg) : file_size(path);
	log_warnx("history: the index of %08u is damaged; re-indexing it from %s", e->day, path);
	ht_seg_index_unref(e->idx);
	e->idx = NULL;
	ht_seg_index_remove_files(h->idx_dir, e->day);
	v = ht_seg_index_load(path, h->idx_dir, e->day, size, &x);
	if (v < 0)
		return v;
	e->idx = x;
	if (i != h->n_segs - 1) {
		ht_seg_index_seal(x);
		history_submit_index_job(h, ht_seg_index_take_compact(x));
	}
	return 0;
}

void
ht_history_stats(const struct ht_history *h, struct ht_history_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->segments = h->n_segs;
	ret->next_seq = h->next_seq;
	ret->dropped_retention = h->dropped_retention;
	ret->dropped_disk = h->dropped_disk;
	for (size_t i = 0; i < h->n_segs; i++) {
		struct ht_seg_index_info info = { 0 };
		char path[PATH_MAX];

		ht_history_segment_path(h->dir, h->segs[i].day, path, sizeof(path));
		ret->segment_bytes += file_size(path);
		if (h->segs[i].idx == NULL)
			continue;
		ht_seg_index_info(h->segs[i].idx, &info);
		ret->records += info.count;
		ret->index_bytes += info.run_bytes;
		ret->damaged += info.damaged;
	}
}

/* ---- scan ---- */

struct scan_state {
	ht_history_scan_fn fn;
	void *arg;
	struct ht_history_pos reached;
	uint64_t damaged;
};

/* Scan one segment; 1 if fn asked to stop, 0 at the segment's end. */
static int
scan_segment(const char *dir, uint32_t day, uint64_t from, uint64_t limit, struct scan_state *s)
{
	struct ht_segment_reader *r;
	char path[PATH_MAX];
	struct ht_frame f;
	int v, stop = 0;

	ht_history_segment_path(dir, day, path, sizeof(path));
	v = ht_segment_reader_open(path, from, &r);
	if (v < 0)
		return v == -ENOENT ? 0 : v;	/* dropped by retention meanwhile */
	while (!stop && (v = ht_segment_reader_next(r, limit, &f)) != 0) {
		if (v == -EBADMSG) {
			s->damaged++;
			log_warnx("history: %s: damaged record at offset %llu skipped (bad CRC or "
			    "framing); %llu bytes passed over", path, (unsigned long long)f.offset,
			    (unsigned long long)(f.next - f.offset));
			continue;
		}
		if (v < 0)
			break;
		stop = s->fn(f.seq, f.flags, f.data, f.len, s->arg);
		if (stop < 0) {
			v = stop;
			break;
		}
		if (stop == HT_SCAN_STOP_BEFORE)
			break;
		s->reached.day = day;
		s->reached.offset = f.next;
	}
	ht_segment_reader_free(r);
	if (v < 0)
		return v;
	return stop ? 1 : 0;
}

int
ht_history_scan(const char *dir, const struct ht_history_pos *from,
    const struct ht_history_pos *to, ht_history_scan_fn fn, void *arg,
    struct ht_history_pos *ret_reached, uint64_t *ret_damaged)
{
	struct scan_state s = { .fn = fn, .arg = arg, .reached = *from };
	uint32_t *days = NULL;
	size_t n = 0;
	int v;

	if (ret_damaged)
		*ret_damaged = 0;
	if (ht_history_pos_cmp(from, to) >= 0) {
		*ret_reached = *from;
		return 0;
	}
	v = history_list_days(dir, &days, &n);
	if (v < 0)
		return v;
	for (size_t i = 0; i < n && v == 0; i++) {
		if (days[i] < from->day || days[i] > to->day)
			continue;
		v = scan_segment(dir, days[i], days[i] == from->day ? from->offset : 0,
		    days[i] == to->day ? to->offset : UINT64_MAX, &s);
	}
	free(days);
	if (v < 0)
		return v;
	if (v == 0)
		s.reached = *to;	/* read everything up to the snapshot */
	*ret_reached = s.reached;
	if (ret_damaged)
		*ret_damaged = s.damaged;
	return 0;
}

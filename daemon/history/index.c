/*
 * index.c - see index.h.
 *
 * Parts of a segment's index, oldest bytes first:
 *   runs[0..n)   run files, contiguous from the segment start to `covered`
 *   freezing     a frozen tail being written by a job ([covered, tail_from))
 *   tail         records appended since ([tail_from, indexed))
 * A job holds a reference to the index, so retention can drop a segment
 * while its run is being written; the job's result is then discarded.
 */
#include "ht_build.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "history/index.h"
#include "history/segment.h"
#include "log.h"
#include "record.h"

#define MAX_VALS 64

enum job_kind { JOB_FLUSH, JOB_COMPACT };

struct ht_seg_index {
	unsigned refs;
	uint32_t day;
	char *seg_path;
	char *idx_dir;
	struct ht_run **runs;
	size_t n_runs, cap_runs;
	uint64_t covered;
	struct ht_run_builder *freezing;
	uint64_t tail_from;
	struct ht_run_builder *tail;
	uint64_t indexed;
	bool job_busy;
	bool sealed;			/* the day is over: compact when idle */
	bool dropped;			/* retention removed the day: discard results */
	struct ht_seg_index_info info;	/* count, times, seqs, damaged */
};

struct ht_index_job {
	struct ht_seg_index *x;
	enum job_kind kind;
	struct ht_run_builder *b;	/* FLUSH: the frozen tail (owned by x) */
	uint64_t from, to;
	char path[PATH_MAX];
	char *seg_path;
	struct ht_run *run;		/* result */
	uint64_t damaged;
	int err;
};

size_t
ht_index_attrs(const struct ht_record *rec, struct ht_attr_value *vals, size_t cap,
    uint32_t *ret_flags)
{
	const char *s;
	size_t n = 0;

#define PUT(a, v)                                                                    \
	do {                                                                         \
		if ((v) != NULL && *(v) != '\0' && n < cap)                          \
			vals[n++] = (struct ht_attr_value){ (a), (v) };              \
	} while (0)
	PUT(HT_ATTR_EVENT_ID, rec->event_id);
	PUT(HT_ATTR_EVENT_NAME, rec->event_name);
	if (rec->read_only != HT_UNSET)
		PUT(HT_ATTR_READ_ONLY, rec->read_only == HT_TRUE ? "true" : "false");
	PUT(HT_ATTR_USERNAME, ht_record_username(rec));
	PUT(HT_ATTR_EVENT_SOURCE, rec->event_source);
	if (rec->user_identity) {
		struct json_object *ak;

		if (json_object_object_get_ex(rec->user_identity, "accessKeyId", &ak) &&
		    json_object_is_type(ak, json_type_string)) {
			s = json_object_get_string(ak);
			PUT(HT_ATTR_ACCESS_KEY_ID, s);
		}
	}
	if (rec->resources && json_object_is_type(rec->resources, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(rec->resources); i++) {
			struct json_object *r = json_object_array_get_idx(rec->resources, i), *v;

			if (json_object_object_get_ex(r, "type", &v) &&
			    json_object_is_type(v, json_type_string)) {
				s = json_object_get_string(v);
				PUT(HT_ATTR_RESOURCE_TYPE, s);
			}
			if ((json_object_object_get_ex(r, "ARN", &v) ||
			    json_object_object_get_ex(r, "ARNPrefix", &v)) &&
			    json_object_is_type(v, json_type_string)) {
				s = json_object_get_string(v);
				PUT(HT_ATTR_RESOURCE_NAME, s);
			}
		}
	}
#undef PUT
	*ret_flags = rec->event_category && strcmp(rec->event_category, "Data") == 0 ?
	    HT_ENTRY_DATA : 0;
	return n;
}

static void
info_note(struct ht_seg_index_info *in, int64_t time, uint64_t seq)
{
	if (in->count == 0 || time < in->min_time)
		in->min_time = time;
	if (in->count == 0 || time > in->max_time)
		in->max_time = time;
	if (in->count == 0 || seq < in->min_seq)
		in->min_seq = seq;
	if (in->count == 0 || seq > in->max_seq)
		in->max_seq = seq;
	in->count++;
}

/* Fold a run's bounds into in. */
static void
info_merge(struct ht_seg_index_info *in, const struct ht_run_info *ri)
{
	uint64_t count;

	if (ri->count == 0)
		return;
	count = in->count;
	info_note(in, ri->min_time, ri->min_seq);
	info_note(in, ri->max_time, ri->max_seq);
	in->count = count + ri->count;
}

/* Add one record to builder b; parses json when rec is NULL.  Returns 0,
 * 1 if the record could not be parsed (not indexed), or -ENOMEM. */
static int
builder_add(struct ht_run_builder *b, const struct ht_record *rec, const char *json, size_t len,
    uint64_t seq, uint64_t offset, int64_t *ret_time)
{
	struct ht_attr_value vals[MAX_VALS];
	struct ht_record *parsed = NULL;
	struct ht_index_rec ir;
	char err[128];
	int v;

	if (rec == NULL) {
		v = ht_record_parse(json, len, &parsed, err, sizeof(err));
		if (v == -ENOMEM)
			return v;
		if (v < 0)
			return 1;
		rec = parsed;
	}
	ir = (struct ht_index_rec){ .time = (int64_t)rec->event_time, .seq = seq,
		.offset = offset, .vals = vals };
	ir.n_vals = ht_index_attrs(rec, vals, MAX_VALS, &ir.flags);
	v = ht_run_builder_add(b, &ir);
	*ret_time = ir.time;
	ht_record_free(parsed);
	return v;
}

/* ---- run files ---- */

static void
run_path(char *buf, size_t len, const char *dir, uint32_t day, uint64_t from, uint64_t to)
{
	snprintf(buf, len, "%s/%08" PRIu32 "-%016" PRIx64 "-%016" PRIx64 ".run", dir, day, from,
	    to);
}

struct run_file {
	uint64_t from, to;
	char name[64];
};

/* The run files of day in dir (unsorted).  0 or -errno. */
static int
list_runs(const char *dir, uint32_t day, struct run_file **ret, size_t *ret_n)
{
	struct run_file *files = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	*ret = NULL;
	*ret_n = 0;
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		unsigned dd;
		uint64_t from, to;
		char tail[8];

		if (sscanf(de->d_name, "%8u-%16" SCNx64 "-%16" SCNx64 ".ru%1s", &dd, &from, &to,
		    tail) != 4 || dd != day || strlen(de->d_name) != 46)
			continue;
		if (n == cap) {
			struct run_file *nf = realloc(files, (cap ? cap * 2 : 8) * sizeof(*files));

			if (nf == NULL) {
				free(files);
				closedir(d);
				return -ENOMEM;
			}
			files = nf;
			cap = cap ? cap * 2 : 8;
		}
		files[n].from = from;
		files[n].to = to;
		snprintf(files[n].name, sizeof(files[n].name), "%.63s", de->d_name);
		n++;
	}
	closedir(d);
	*ret = files;
	*ret_n = n;
	return 0;
}

/* Append run to the chain.  count: its records are not counted yet (a run
 * loaded from disk), as opposed to a flushed tail already counted. */
static int
index_push_run(struct ht_seg_index *x, struct ht_run *run, bool count)
{
	struct ht_run_info ri;

	if (x->n_runs == x->cap_runs) {
		size_t ncap = x->cap_runs ? x->cap_runs * 2 : 4;
		struct ht_run **nr = realloc(x->runs, ncap * sizeof(*nr));

		if (nr == NULL)
			return -ENOMEM;
		x->runs = nr;
		x->cap_runs = ncap;
	}
	x->runs[x->n_runs++] = run;
	ht_run_info(run, &ri);
	x->covered = ri.seg_to;
	if (count)
		info_merge(&x->info, &ri);
	x->info.run_bytes += ri.file_bytes;
	return 0;
}

static void
unlink_run(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("index: cannot remove %s", path);
}

/* Open the longest contiguous chain of runs from the segment start; delete
 * the rest. */
static int
index_load_chain(struct ht_seg_index *x, uint64_t seg_end)
{
	struct run_file *files;
	size_t n;
	int v;

	v = list_runs(x->idx_dir, x->day, &files, &n);
	if (v < 0)
		return v;
	x->covered = HT_SEG_HEADER_LEN;
	for (;;) {
		ssize_t best = -1;
		struct ht_run *run;
		char path[PATH_MAX];

		for (size_t i = 0; i < n; i++)
			if (files[i].from == x->covered && files[i].to <= seg_end &&
			    files[i].to > files[i].from && (best < 0 || files[i].to > files[best].to))
				best = (ssize_t)i;
		if (best < 0)
			break;
		snprintf(path, sizeof(path), "%s/%s", x->idx_dir, files[best].name);
		v = ht_run_open(path, &run);
		if (v == -ENOMEM)
			break;
		if (v < 0) {
			log_warnx("index: %s is damaged or torn (%s); re-indexing that part of the "
			    "segment", path, strerror(-v));
			unlink_run(x->idx_dir, files[best].name);
			files[best].from = UINT64_MAX;
			v = 0;
			continue;
		}
		v = index_push_run(x, run, true);
		if (v < 0) {
			ht_run_close(run);
			break;
		}
		files[best].from = UINT64_MAX;	/* used */
	}
	for (size_t i = 0; i < n; i++)
		if (files[i].from != UINT64_MAX)
			unlink_run(x->idx_dir, files[i].name);
	free(files);
	return v < 0 ? v : 0;
}

/* Index segment bytes [from, to) into b.  Counts damaged frames. */
static int
index_scan(const char *seg_path, uint64_t from, uint64_t to, struct ht_run_builder *b,
    struct ht_seg_index_info *in, uint64_t *ret_damaged)
{
	struct ht_segment_reader *r;
	struct ht_frame f;
	int v;

	v = ht_segment_reader_open(seg_path, from, &r);
	if (v < 0)
		return v;
	while ((v = ht_segment_reader_next(r, to, &f)) != 0) {
		int64_t t;

		if (v == -EBADMSG) {
			(*ret_damaged)++;
			continue;
		}
		if (v < 0)
			break;
		v = builder_add(b, NULL, f.data, f.len, f.seq, f.offset, &t);
		if (v < 0)
			break;
		if (v == 1)
			(*ret_damaged)++;
		else if (in)
			info_note(in, t, f.seq);
	}
	ht_segment_reader_free(r);
	return v;
}

int
ht_seg_index_load(const char *seg_path, const char *idx_dir, uint32_t day, uint64_t seg_end,
    struct ht_seg_index **ret)
{
	struct ht_seg_index *x;
	int v;

	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -ENOMEM;
	x->refs = 1;
	x->day = day;
	x->info.day = day;
	x->seg_path = strdup(seg_path);
	x->idx_dir = strdup(idx_dir);
	if (x->seg_path == NULL || x->idx_dir == NULL) {
		v = -ENOMEM;
		goto fail;
	}
	v = ht_run_builder_new(day, &x->tail);
	if (v == 0)
		v = index_load_chain(x, seg_end);
	if (v < 0)
		goto fail;
	x->tail_from = x->covered;
	x->indexed = seg_end;
	if (x->covered < seg_end) {
		v = index_scan(seg_path, x->covered, seg_end, x->tail, &x->info, &x->info.damaged);
		if (v < 0)
			goto fail;
	}
	*ret = x;
	return 0;
fail:
	log_msg(HT_LOG_ERR, -v, "index: cannot load the index of %s", seg_path);
	ht_seg_index_unref(x);
	return v;
}

int
ht_seg_index_add(struct ht_seg_index *x, const struct ht_record *rec, const char *json,
    size_t len, uint64_t seq, uint64_t offset, uint64_t next)
{
	int64_t t;
	int v;

	v = builder_add(x->tail, rec, json, len, seq, offset, &t);
	if (v < 0)
		return v;
	if (v == 1)
		x->info.damaged++;
	else
		info_note(&x->info, t, seq);
	x->indexed = next;
	return 0;
}

/* ---- jobs ---- */

static struct ht_index_job *
job_new(struct ht_seg_index *x, enum job_kind kind, uint64_t from, uint64_t to)
{
	struct ht_index_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->seg_path = strdup(x->seg_path);
	if (j->seg_path == NULL) {
		free(j);
		return NULL;
	}
	j->x = x;
	j->kind = kind;
	j->from = from;
	j->to = to;
	run_path(j->path, sizeof(j->path), x->idx_dir, x->day, from, to);
	x->refs++;
	x->job_busy = true;
	return j;
}

struct ht_index_job *
ht_seg_index_take_flush(struct ht_seg_index *x, size_t min)
{
	struct ht_run_builder *nb;
	struct ht_index_job *j;

	if (x->job_busy)
		return NULL;
	if (x->freezing == NULL) {
		/* A failed write leaves freezing in place; otherwise freeze the tail. */
		if (ht_run_builder_count(x->tail) < (min ? min : 1))
			return NULL;
		if (ht_run_builder_new(x->day, &nb) < 0)
			return NULL;
		if (ht_run_builder_freeze(x->tail) < 0) {
			/* Out of memory: the tail stays as it is; try again later. */
			ht_run_builder_free(nb);
			return NULL;
		}
		x->freezing = x->tail;
		x->tail = nb;
		x->tail_from = x->indexed;
	}
	j = job_new(x, JOB_FLUSH, x->covered, x->tail_from);
	if (j)
		j->b = x->freezing;
	return j;
}

struct ht_index_job *
ht_seg_index_take_compact(struct ht_seg_index *x)
{
	if (x->job_busy || x->freezing)
		return NULL;
	if (x->n_runs == 1 && x->covered == x->indexed && ht_run_builder_count(x->tail) == 0)
		return NULL;
	if (x->indexed <= HT_SEG_HEADER_LEN)
		return NULL;
	return job_new(x, JOB_COMPACT, HT_SEG_HEADER_LEN, x->indexed);
}

void
ht_index_job_run(struct ht_index_job *j)
{
	struct ht_run_builder *b = NULL;

	if (j->kind == JOB_COMPACT) {
		j->err = ht_run_builder_new(j->x->day, &b);
		if (j->err == 0)
			j->err = index_scan(j->seg_path, j->from, j->to, b, NULL, &j->damaged);
		if (j->err == 0)
			j->err = ht_run_builder_freeze(b);
	} else {
		b = j->b;
	}
	if (j->err == 0)
		j->err = ht_run_builder_write(b, j->path, j->from, j->to);
	if (j->err == 0)
		j->err = ht_run_open(j->path, &j->run);
	if (j->kind == JOB_COMPACT)
		ht_run_builder_free(b);
}

static void
compact_install(struct ht_seg_index *x, struct ht_index_job *j)
{
	struct ht_run_builder *nb;
	struct ht_run_info ri;
	char name[64];

	if (ht_run_builder_new(x->day, &nb) < 0) {
		ht_run_close(j->run);
		return;
	}
	for (size_t i = 0; i < x->n_runs; i++) {
		ht_run_info(x->runs[i], &ri);
		if (ri.seg_from != j->from || ri.seg_to != j->to) {
			snprintf(name, sizeof(name), "%08" PRIu32 "-%016" PRIx64 "-%016" PRIx64 ".run",
			    x->day, ri.seg_from, ri.seg_to);
			unlink_run(x->idx_dir, name);
		}
		ht_run_close(x->runs[i]);
	}
	x->n_runs = 0;
	memset(&x->info, 0, sizeof(x->info));
	x->info.day = x->day;
	x->info.damaged = j->damaged;
	(void)index_push_run(x, j->run, true);
	ht_run_builder_free(x->tail);
	x->tail = nb;
	x->tail_from = x->indexed = j->to;
}

struct ht_index_job *
ht_index_job_finish(struct ht_index_job *j)
{
	struct ht_seg_index *x = j->x;
	struct ht_index_job *next = NULL;

	x->job_busy = false;
	if (x->dropped) {
		/* Retention removed the day while this ran: remove what it wrote. */
		ht_run_close(j->run);
		j->run = NULL;
		if (j->err == 0 && unlink(j->path) < 0 && errno != ENOENT)
			log_warn("index: cannot remove %s", j->path);
	} else if (x->refs == 1) {
		/* Let go of meanwhile (re-indexed): the file is valid, keep it. */
		ht_run_close(j->run);
	} else if (j->err < 0) {
		log_msg(HT_LOG_WARNING, -j->err, "index: cannot write %s; lookups still see these "
		    "records (kept in memory), will retry", j->path);
	} else if (j->kind == JOB_FLUSH) {
		if (index_push_run(x, j->run, false) < 0) {
			ht_run_close(j->run);
		} else {
			ht_run_builder_free(x->freezing);
			x->freezing = NULL;
		}
	} else {
		compact_install(x, j);
	}
	if (x->sealed && !x->dropped && x->refs > 1 && j->err == 0)
		next = ht_seg_index_take_compact(x);
	free(j->seg_path);
	free(j);
	ht_seg_index_unref(x);
	return next;
}

void
ht_seg_index_seal(struct ht_seg_index *x)
{
	x->sealed = true;
}

void
ht_seg_index_drop(struct ht_seg_index *x)
{
	x->dropped = true;
	ht_seg_index_remove_files(x->idx_dir, x->day);
}

/* ---- queries ---- */

int
ht_seg_index_cursors(struct ht_seg_index *x, const struct ht_index_query *q,
    struct ht_run_cursor ***ret)
{
	size_t cap = x->n_runs + 2, n = 0;
	struct ht_run_cursor **cs = calloc(cap, sizeof(*cs));
	int v = 0;

	if (cs == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < x->n_runs && v == 0; i++)
		v = ht_run_query(x->runs[i], q, &cs[n++]);
	if (v == 0 && x->freezing)
		v = ht_run_builder_query(x->freezing, q, &cs[n++]);
	if (v == 0 && ht_run_builder_count(x->tail) > 0)
		v = ht_run_builder_query(x->tail, q, &cs[n++]);
	if (v < 0) {
		for (size_t i = 0; i < n; i++)
			ht_run_cursor_free(cs[i]);
		free(cs);
		return v;
	}
	*ret = cs;
	return (int)n;
}

void
ht_seg_index_info(const struct ht_seg_index *x, struct ht_seg_index_info *ret)
{
	*ret = x->info;
	ret->covered = x->covered;
	ret->indexed = x->indexed;
	ret->runs = x->n_runs;
}

void
ht_seg_index_unref(struct ht_seg_index *x)
{
	if (x == NULL || --x->refs > 0)
		return;
	for (size_t i = 0; i < x->n_runs; i++)
		ht_run_close(x->runs[i]);
	free(x->runs);
	ht_run_builder_free(x->freezing);
	ht_run_builder_free(x->tail);
	free(x->seg_path);
	free(x->idx_dir);
	free(x);
}

void
ht_seg_index_remove_files(const char *idx_dir, uint32_t day)
{
	struct run_file *files;
	size_t n;

	if (list_runs(idx_dir, day, &files, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		unlink_run(idx_dir, files[i].name);
	free(files);
}

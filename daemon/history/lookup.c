/*
 * lookup.c - see lookup.h.
 *
 * A k-way merge: every part of every segment index whose bounds can hold a
 * match contributes one cursor; a binary max-heap keyed by (time, seq)
 * yields them newest first.  Only the records actually returned (plus one,
 * to know whether there are more) are read from the segments, one pread
 * pair each.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "history/history.h"
#include "history/index.h"
#include "history/lookup.h"
#include "history/segment.h"
#include "log.h"
#include "record.h"

#define MAX_VALS 64

struct source {
	struct ht_run_cursor *c;
	struct ht_index_hit hit;
	size_t seg;			/* index into the history's segments */
};

/* A segment not yet opened, and the newest time it can hold for the query. */
struct pending {
	size_t seg;
	int64_t bound;
};

struct merge {
	struct ht_history *h;
	const struct ht_index_query *q;
	struct source *heap;
	size_t n, cap;
	struct pending *pend;		/* newest bound first */
	size_t n_pend, next_pend;
	int *fds;			/* per segment, opened on first use */
	size_t n_fds;
	char *buf;
	size_t cap_buf;
	int damaged_seg;		/* segment whose index failed, or -1 */
};

static bool
newer(const struct ht_index_hit *a, const struct ht_index_hit *b)
{
	return a->time != b->time ? a->time > b->time : a->seq > b->seq;
}

static void
heap_up(struct source *h, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		struct source t;

		if (!newer(&h[i].hit, &h[p].hit))
			break;
		t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

static void
heap_down(struct source *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct source t;

		if (l < n && newer(&h[l].hit, &h[m].hit))
			m = l;
		if (r < n && newer(&h[r].hit, &h[m].hit))
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Advance s's cursor; keep it in the heap if it has a hit.  Returns 1 if
 * pushed, 0 if exhausted, <0 on error (the cursor is freed either way
 * unless pushed). */
static int
merge_feed(struct merge *m, struct source s)
{
	int v = ht_run_cursor_next(s.c, &s.hit);

	if (v <= 0) {
		ht_run_cursor_free(s.c);
		if (v == -EBADMSG)
			m->damaged_seg = (int)s.seg;
		return v;
	}
	m->heap[m->n] = s;
	heap_up(m->heap, m->n++);
	return 1;
}

static bool
seg_may_match(const struct ht_seg_index_info *in, const struct ht_index_query *q)
{
	return in->count > 0 && in->max_time >= q->start && in->min_time <= q->end &&
	    in->min_seq <= q->max_seq;
}

/* Open segment i's cursors into the heap. */
static int
merge_open_seg(struct merge *m, size_t i)
{
	struct ht_run_cursor **cs;
	struct ht_seg_index *x;
	uint32_t day;
	int n, v = 0;

	x = ht_history_segment_index(m->h, i, &day);
	n = x ? ht_seg_index_cursors(x, m->q, &cs) : 0;
	if (n == -EBADMSG) {
		m->damaged_seg = (int)i;	/* rebuilt by ht_lookup */
		return 0;
	}
	if (n <= 0)
		return n;
	if (m->n + (size_t)n > m->cap) {
		size_t ncap = (m->n + (size_t)n) * 2;
		struct source *nh = realloc(m->heap, ncap * sizeof(*nh));

		if (nh == NULL) {
			for (int k = 0; k < n; k++)
				ht_run_cursor_free(cs[k]);
			free(cs);
			return -ENOMEM;
		}
		m->heap = nh;
		m->cap = ncap;
	}
	for (int k = 0; k < n; k++) {
		int r = merge_feed(m, (struct source){ .c = cs[k], .seg = i });

		if (r < 0 && r != -EBADMSG)
			v = r;
	}
	free(cs);
	return v;
}

static int
pending_cmp(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	return x->bound != y->bound ? (x->bound < y->bound ? 1 : -1) : 0;
}

/* Which segments may hold matches, newest bound first; their cursors are
 * opened only when the merge reaches their time (merge_fill), so a first
 * page usually touches the newest day or two, not all ninety. */
static int
merge_open(struct merge *m, struct ht_history *h, const struct ht_index_query *q)
{
	size_t nseg = ht_history_segments(h);

	m->h = h;
	m->q = q;
	m->fds = malloc((nseg ? nseg : 1) * sizeof(*m->fds));
	m->pend = malloc((nseg ? nseg : 1) * sizeof(*m->pend));
	if (m->fds == NULL || m->pend == NULL)
		return -ENOMEM;
	m->n_fds = nseg;
	for (size_t i = 0; i < nseg; i++) {
		struct ht_seg_index_info info;
		struct ht_seg_index *x;
		uint32_t day;

		m->fds[i] = -1;
		x = ht_history_segment_index(h, i, &day);
		if (x == NULL)
			continue;
		ht_seg_index_info(x, &info);
		if (!seg_may_match(&info, q))
			continue;
		m->pend[m->n_pend].seg = i;
		m->pend[m->n_pend].bound = info.max_time < q->end ? info.max_time : q->end;
		m->n_pend++;
	}
	qsort(m->pend, m->n_pend, sizeof(*m->pend), pending_cmp);
	return 0;
}

/* Open every pending segment that may hold something at least as new as
 * the heap's top (ties included: seq then decides). */
static int
merge_fill(struct merge *m)
{
	while (m->next_pend < m->n_pend && m->damaged_seg < 0 &&
	    (m->n == 0 || m->pend[m->next_pend].bound >= m->heap[0].hit.time)) {
		int v = merge_open_seg(m, m->pend[m->next_pend++].seg);

		if (v < 0)
			return v;
	}
	return 0;
}

static void
merge_close(struct merge *m)
{
	for (size_t i = 0; i < m->n; i++)
		ht_run_cursor_free(m->heap[i].c);
	for (size_t i = 0; i < m->n_fds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	free(m->fds);
	free(m->pend);
	free(m->heap);
	free(m->buf);
}

/* Does rec carry value for attr?  (The index matched a hash.) */
static bool
rec_has(const struct ht_record *rec, const struct ht_index_query *q)
{
	struct ht_attr_value vals[MAX_VALS];
	uint32_t flags;
	size_t n = ht_index_attrs(rec, vals, MAX_VALS, &flags);

	for (size_t i = 0; i < n; i++)
		if (vals[i].attr == q->attr && strcmp(vals[i].value, q->value) == 0)
			return true;
	return false;
}

/* Read and check the record behind the heap's top.  1 with *ret (caller
 * frees), 0 if it is to be skipped, or -errno. */
static int
merge_read(struct merge *m, struct ht_history *h, const struct ht_index_query *q,
    const struct source *s, struct ht_frame *f, struct ht_record **ret)
{
	char path[PATH_MAX], err[128];
	uint32_t day;
	int v;

	if (m->fds[s->seg] < 0) {
		(void)ht_history_segment_index(h, s->seg, &day);
		ht_history_segment_path(ht_history_dir(h), day, path, sizeof(path));
		m->fds[s->seg] = open(path, O_RDONLY | O_CLOEXEC);
		if (m->fds[s->seg] < 0)
			return errno == ENOENT ? 0 : -errno;
	}
	v = ht_segment_read_frame(m->fds[s->seg], s->hit.offset, f, &m->buf, &m->cap_buf);
	if (v == -EBADMSG || (v == 1 && f->seq != s->hit.seq)) {
		log_warnx("history: record %llu is damaged on disk; skipped",
		    (unsigned long long)s->hit.seq);
		return 0;
	}
	if (v < 0)
		return v;
	v = ht_record_parse(f->data, f->len, ret, err, sizeof(err));
	if (v == -ENOMEM)
		return v;
	if (v < 0)
		return 0;
	if (q->has_attr && !rec_has(*ret, q)) {
		ht_record_free(*ret);
		return 0;	/* a hash collision */
	}
	return 1;
}

static int
lookup_once(struct ht_history *h, const struct ht_index_query *q, size_t limit,
    struct ht_lookup_event *out, size_t *ret_n, bool *ret_more, int *ret_damaged_seg)
{
	struct merge m = { .damaged_seg = -1 };
	size_t given = 0;
	int v;

	*ret_more = false;
	v = merge_open(&m, h, q);
	if (v == 0)
		v = merge_fill(&m);
	while (v == 0 && m.n > 0 && m.damaged_seg < 0) {
		struct source top = m.heap[0];
		struct ht_record *rec = NULL;
		struct ht_frame f;

		m.heap[0] = m.heap[--m.n];
		heap_down(m.heap, m.n, 0);
		v = merge_read(&m, h, q, &top, &f, &rec);
		if (v == 1 && given == limit) {
			*ret_more = true;
			ht_record_free(rec);
			ht_run_cursor_free(top.c);
			v = 0;
			break;
		}
		if (v == 1) {
			out[given] = (struct ht_lookup_event){ .time = top.hit.time,
				.seq = top.hit.seq, .json = strndup(f.data, f.len), .len = f.len,
				.rec = rec };
			v = out[given].json ? 0 : -ENOMEM;
			given++;
		}
		if (v == 0) {
			v = merge_feed(&m, top);
			v = v == -EBADMSG || v >= 0 ? 0 : v;
			if (v == 0)
				v = merge_fill(&m);
		} else {
			ht_run_cursor_free(top.c);
		}
	}
	*ret_damaged_seg = m.damaged_seg;
	*ret_n = given;
	merge_close(&m);
	return v;
}

void
ht_lookup_free(struct ht_lookup_event *evs, size_t n)
{
	if (evs == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(evs[i].json);
		ht_record_free(evs[i].rec);
	}
	free(evs);
}

int
ht_lookup(struct ht_history *h, const struct ht_index_query *q, size_t limit,
    struct ht_lookup_event **ret, size_t *ret_n, bool *ret_more)
{
	struct ht_lookup_event *out;
	int damaged, v = -EIO;
	size_t n = 0;

	if (limit == 0 || limit > 1000)
		return -EINVAL;
	out = calloc(limit, sizeof(*out));
	if (out == NULL)
		return -ENOMEM;
	/* A damaged index part: rebuild that segment's index, then start over,
	 * so the answer never misses what the damage hid.  Each attempt repairs
	 * one segment, so this ends. */
	for (size_t attempt = 0; attempt <= ht_history_segments(h); attempt++) {
		v = lookup_once(h, q, limit, out, &n, ret_more, &damaged);
		if (v < 0 || damaged < 0)
			break;
		ht_lookup_free(out, n);
		n = 0;
		out = calloc(limit, sizeof(*out));
		v = out ? ht_history_reindex(h, (size_t)damaged) : -ENOMEM;
		if (v < 0)
			break;
		v = -EIO;
	}
	if (v < 0) {
		ht_lookup_free(out, n);
		return v;
	}
	*ret = out;
	*ret_n = n;
	return 0;
}

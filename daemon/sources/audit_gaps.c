/*
 * audit_gaps.c - see audit_gaps.h.
 *
 * Open gaps are ranges [lo, hi] of missing serials, in an array sorted by
 * lo.  A gap only ever opens above every other one, and a gap split by a
 * late serial keeps its opening time, so the array is in opening order
 * too: expiry takes from the front.
 */
#include "ht_build.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sources/audit_gaps.h"

struct gap {
	uint64_t lo, hi;
	int64_t opened_ms;
};

struct ht_audit_gaps {
	struct gap *v;
	size_t n, max;
	uint64_t highest;
	bool have;
	uint64_t lost;
};

int
ht_audit_gaps_new(size_t max_ranges, struct ht_audit_gaps **ret)
{
	struct ht_audit_gaps *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return -ENOMEM;
	g->max = max_ranges ? max_ranges : 4096;
	g->v = calloc(g->max, sizeof(*g->v));
	if (g->v == NULL) {
		free(g);
		return -ENOMEM;
	}
	*ret = g;
	return 0;
}

static void
drop_front(struct ht_audit_gaps *g, size_t k)
{
	memmove(g->v, g->v + k, (g->n - k) * sizeof(*g->v));
	g->n -= k;
}

/* The index of the gap holding s, or g->n. */
static size_t
find(const struct ht_audit_gaps *g, uint64_t s)
{
	size_t lo = 0, hi = g->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (g->v[mid].hi < s)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < g->n && g->v[lo].lo <= s ? lo : g->n;
}

static void
open_gap(struct ht_audit_gaps *g, uint64_t lo, uint64_t hi, int64_t now_ms)
{
	if (g->n == g->max) {
		g->lost += g->v[0].hi - g->v[0].lo + 1;
		drop_front(g, 1);
	}
	g->v[g->n++] = (struct gap){ lo, hi, now_ms };
}

/* s arrived late: take it out of gap i. */
static void
close_one(struct ht_audit_gaps *g, size_t i, uint64_t s)
{
	struct gap *p = &g->v[i];

	if (p->lo == p->hi) {
		memmove(p, p + 1, (g->n - i - 1) * sizeof(*p));
		g->n--;
	} else if (s == p->lo) {
		p->lo++;
	} else if (s == p->hi) {
		p->hi--;
	} else {
		struct gap upper = { s + 1, p->hi, p->opened_ms };

		p->hi = s - 1;
		if (g->n == g->max) {
			/* no room to split: the lower part is counted now */
			g->lost += p->hi - p->lo + 1;
			*p = upper;
			return;
		}
		memmove(p + 2, p + 1, (g->n - i - 1) * sizeof(*p));
		p[1] = upper;
		g->n++;
	}
}

void
ht_audit_gaps_see(struct ht_audit_gaps *g, uint64_t serial, int64_t now_ms)
{
	size_t i;

	if (!g->have || (serial < g->highest && g->highest - serial > (1ULL << 31)) ||
	    (serial > g->highest && serial - g->highest > HT_AUDIT_GAPS_JUMP_MAX)) {
		g->n = 0;
		g->highest = serial;
		g->have = true;
		return;
	}
	if (serial > g->highest) {
		if (serial > g->highest + 1)
			open_gap(g, g->highest + 1, serial - 1, now_ms);
		g->highest = serial;
	} else if (serial < g->highest && (i = find(g, serial)) < g->n) {
		close_one(g, i, serial);
	}
}

uint64_t
ht_audit_gaps_expire(struct ht_audit_gaps *g, int64_t now_ms, int64_t grace_ms)
{
	uint64_t before = g->lost;
	size_t k = 0;

	while (k < g->n && g->v[k].opened_ms <= now_ms - grace_ms) {
		g->lost += g->v[k].hi - g->v[k].lo + 1;
		k++;
	}
	drop_front(g, k);
	return g->lost - before;
}

uint64_t
ht_audit_gaps_lost(const struct ht_audit_gaps *g)
{
	return g->lost;
}

uint64_t
ht_audit_gaps_pending(const struct ht_audit_gaps *g)
{
	uint64_t n = 0;

	for (size_t i = 0; i < g->n; i++)
		n += g->v[i].hi - g->v[i].lo + 1;
	return n;
}

void
ht_audit_gaps_reset(struct ht_audit_gaps *g)
{
	g->n = 0;
	g->have = false;
}

void
ht_audit_gaps_free(struct ht_audit_gaps *g)
{
	if (g == NULL)
		return;
	free(g->v);
	free(g);
}

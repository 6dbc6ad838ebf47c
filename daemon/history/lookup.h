/*
 * lookup.h - the LookupEvents engine: the events of history matching a
 * query, newest first, merged from every segment's index.  Knows nothing of
 * the API's JSON shapes (api/events.c does those); it finds records.
 *
 * Each hit is checked against the stored record before it is returned (its
 * seq, and its attribute value, since the index matches by hash), so a
 * damaged or colliding index entry is skipped, never shown.
 */
#ifndef HT_LOOKUP_H
#define HT_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>

#include "history/index_run.h"

struct ht_history;
struct ht_record;

/* One event found (owned by the result array). */
struct ht_lookup_event {
	int64_t time;
	uint64_t seq;
	char *json;			/* the record as stored, NUL-terminated */
	size_t len;
	struct ht_record *rec;		/* parsed */
};

/* The at most limit (1-1000) events matching q, newest first, in a new
 * array *ret of *ret_n (free with ht_lookup_free).  *ret_more is set when
 * at least one more matching event exists after the last one.  A damaged
 * index part is rebuilt from its segment and the lookup done again.
 * 0 or -errno. */
int ht_lookup(struct ht_history *h, const struct ht_index_query *q, size_t limit,
    struct ht_lookup_event **ret, size_t *ret_n, bool *ret_more);
void ht_lookup_free(struct ht_lookup_event *evs, size_t n);

#endif

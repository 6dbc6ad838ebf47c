/*
 * events.h - CloudTrail's LookupEvents operation (event history) in AWS
 * JSON 1.1: request checks with CloudTrail's exception names, the Event
 * shape, and NextToken.  The search itself is history/lookup.h.
 *
 * NextToken is opaque to clients: it carries the effective time window, a
 * snapshot of history (the newest seq at the first page, so pages stay
 * consistent while events arrive) and where the last page ended, bound to
 * the request's parameters and authenticated with an HMAC whose key lives
 * in state_dir/lookup-token.key (tokens survive a restart).
 */
#ifndef HT_API_EVENTS_H
#define HT_API_EVENTS_H

#include <stdint.h>

struct ht_api;
struct ht_api_events;
struct ht_conf;
struct ht_history;

/* Register LookupEvents on api.  conf is borrowed (swap with set_conf on
 * reload).  now_fn: wall clock in seconds (NULL = time()).  0 or -errno. */
int ht_api_events_new(struct ht_api *api, struct ht_history *h, const struct ht_conf *conf,
    int64_t (*now_fn)(void), struct ht_api_events **ret);
void ht_api_events_set_conf(struct ht_api_events *e, const struct ht_conf *conf);
/* NULL is a no-op. */
void ht_api_events_free(struct ht_api_events *e);

#endif

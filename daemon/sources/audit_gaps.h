/*
 * audit_gaps.h - serials the kernel stamped but we never received.
 *
 * The kernel numbers every audit event from one counter (audit(TIME:SERIAL))
 * as it is logged; a serial that never arrives was lost on the way
 * (socket overflow, rate limit, a full backlog after stamping).  Serials do
 * not arrive strictly in order (events from several CPUs interleave), so a
 * serial above the highest one seen opens a gap for the serials skipped,
 * a late arrival closes its part of the gap, and only serials still missing
 * after a grace period count as lost.
 *
 * The counter is 32 bits in the kernel: a serial far below the highest one
 * seen (more than 2^31 less) is a wrap and restarts the tracking, as does
 * a jump forward of more than HT_AUDIT_GAPS_JUMP_MAX (not a loss anyone
 * could have seen happen: a counter that moved without us, e.g. while the
 * socket was closed).  Pure, no I/O; one per source.
 */
#ifndef HT_AUDIT_GAPS_H
#define HT_AUDIT_GAPS_H

#include <stddef.h>
#include <stdint.h>

#define HT_AUDIT_GAPS_JUMP_MAX 100000000ULL

struct ht_audit_gaps;

/* A tracker holding at most max_ranges open gaps (0: 4096); past that the
 * oldest gap counts as lost at once.  0 or -ENOMEM. */
int ht_audit_gaps_new(size_t max_ranges, struct ht_audit_gaps **ret);
/* serial arrived at now_ms (any monotonic clock). */
void ht_audit_gaps_see(struct ht_audit_gaps *g, uint64_t serial, int64_t now_ms);
/* Count the serials missing since before now_ms - grace_ms as lost and
 * stop waiting for them; returns how many were added to the lost total. */
uint64_t ht_audit_gaps_expire(struct ht_audit_gaps *g, int64_t now_ms, int64_t grace_ms);
/* Serials counted lost so far, and serials still awaited. */
uint64_t ht_audit_gaps_lost(const struct ht_audit_gaps *g);
uint64_t ht_audit_gaps_pending(const struct ht_audit_gaps *g);
/* Forget the highest serial seen (the socket was reopened). */
void ht_audit_gaps_reset(struct ht_audit_gaps *g);
/* NULL is a no-op. */
void ht_audit_gaps_free(struct ht_audit_gaps *g);

#endif

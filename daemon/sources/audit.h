/*
 * audit.h - the kernel audit source (type: audit): audit records read from
 * NETLINK_AUDIT, assembled and mapped (audit_parse.h, audit_map.h), appended
 * to history.
 *
 * mode: multicast (default) listens on the audit multicast group beside
 * whatever audit daemon runs (needs CAP_AUDIT_READ, changes nothing in the
 * kernel).  mode: unicast makes hosttraild the host's audit daemon: it
 * refuses when another one holds the audit pid, sets the backlog limit,
 * rate limit and failure mode, loads the configured rules (audit_ctl.h),
 * enables audit, and restores what it found when it stops.
 *
 * Loss is counted, never fatal: socket overflows (ENOBUFS), the kernel's
 * lost counter (AUDIT_GET, polled on a second socket), serials that never
 * arrived (audit_gaps.h) and events dropped by the backpressure policy
 * appear in STATUS= and, at most once per loss_report_interval, as a
 * warning record (host.audit AuditRecordsLost) in history.
 *
 * Backpressure: the socket is always read promptly; records wait in a
 * queue while history is busy or trails hold intake back.  When queue_max
 * records wait, backpressure: drop discards new events (counted: audited
 * processes never wait for hosttrail), backpressure: block stops reading
 * until half the queue is stored (the kernel's backlog then fills and its
 * own backlog_limit / backlog_wait_time / failure policy applies: audited
 * processes may wait; in multicast mode the kernel drops for us instead).
 */
#ifndef HT_SOURCE_AUDIT_H
#define HT_SOURCE_AUDIT_H

#include "sources/source.h"

#endif

/*
 * audit_map.h - an assembled Linux audit event as a CloudTrail record.
 *
 * The mapping is one table (audit_map.c, and the README's copy, "Linux
 * audit mapping"): for each record family the eventSource, eventName,
 * eventType, eventCategory, readOnly, which fields make userIdentity (login
 * user from auid, effective user from uid, session from ses),
 * sourceIPAddress (addr=, hostname=), errorCode/errorMessage (res=failed,
 * success=no, exit<0), resources (files, processes, users, groups,
 * services), requestParameters and additionalEventData (the audit serial,
 * time, node and record types).  Identity changes (users, groups,
 * passwords) use HT_GLOBAL_EVENT_SOURCE: the host's global service events.
 * An event of a type the table does not know still becomes a record, under
 * a generic name (host.audit / AuditEvent): nothing is dropped, and records
 * of an event the mapping does not use are kept in requestParameters under
 * their type name.
 *
 * uid/gid/auid are named by the ENRICHED format's interpretation when the
 * line has one, else through NSS, cached (ht_audit_names).
 */
#ifndef HT_AUDIT_MAP_H
#define HT_AUDIT_MAP_H

#include <stdint.h>
#include <sys/types.h>

struct ht_audit_event;
struct ht_audit_names;
struct ht_record;

/* A cache of uid and gid names (getpwuid_r/getgrgid_r), entries kept for
 * ttl_ms (0: 60 s), misses too, at most max entries (0: 4096), the oldest
 * replaced first.  Not locked: one per source.  0 or -ENOMEM. */
int ht_audit_names_new(uint64_t ttl_ms, size_t max, struct ht_audit_names **ret);
/* The user name of uid, or NULL (unknown, unset: 4294967295, NSS failing,
 * out of memory, or n NULL).  Borrowed until the next call.  now_ms: any
 * monotonic clock. */
const char *ht_audit_names_user(struct ht_audit_names *n, uid_t uid, int64_t now_ms);
/* The group name of gid; as ht_audit_names_user. */
const char *ht_audit_names_group(struct ht_audit_names *n, gid_t gid, int64_t now_ms);
/* NULL is a no-op. */
void ht_audit_names_free(struct ht_audit_names *n);

struct ht_audit_map_ctx {
	struct ht_audit_names *names;	/* NULL: no NSS lookups (tests, fuzzing) */
	const char *source;		/* "auditlog" or "netlink": in additionalEventData */
	int64_t now_ms;			/* for the name cache */
};

/* A new record for e (borrowed): eventVersion, eventTime (the event's,
 * in seconds) and everything the mapping says; eventID, awsRegion and
 * recipientAccountId are left to the pipeline.  ctx NULL is all zero.
 * Deterministic for a given e when ctx->names is NULL.  0 with *ret (free
 * with ht_record_free), or -ENOMEM. */
int ht_audit_map(const struct ht_audit_event *e, const struct ht_audit_map_ctx *ctx,
    struct ht_record **ret);

#endif

/*
 * select.h - a trail's event selectors (PutEventSelectors/GetEventSelectors,
 * shared/reference/cloudtrail.md §6): parsed and validated once, compiled
 * into an immutable struct ht_select, then matched against every record on
 * a builder thread without allocating.
 *
 * A NULL struct ht_select * everywhere means "no custom selectors": the
 * trail logs all read and write management events and no data events
 * (CloudTrail's default), and GetEventSelectors shows that as one basic
 * selector {All, true, [], []}.  A trail has custom selectors
 * (HasCustomEventSelectors) exactly when it holds a non-NULL one.
 *
 * Host resource types (data events).  A record's resources name files and
 * processes by absolute path, with the path as the ARN:
 *   {"type":"Host::File","ARN":"/etc/shadow"}       a file read or written
 *   {"type":"Host::Process","ARN":"/usr/bin/sudo"}   a program executed
 *
 * ---- README: Event selectors (paste) ----
 * `aws cloudtrail put-event-selectors` takes CloudTrail's basic or advanced
 * selectors (not both; the new kind replaces the old).  A record reaches a
 * trail if it matches ANY selector.
 *
 * - Categories.  eventCategory "Data" records are data events (file reads
 *   and writes, process execution); "NetworkActivity" records are network
 *   activity events; "Insight" records are never selected by event
 *   selectors.  Everything else is a management event, including records
 *   ingested with PutAuditEvents (eventCategory "ActivityAuditLog") and
 *   records without an eventCategory.
 * - readOnly.  A record with readOnly true is a read; a record without
 *   readOnly counts as a write (ReadWriteType WriteOnly and advanced
 *   readOnly Equals false select it; ReadOnly and readOnly Equals true do
 *   not).  So a write-only trail never misses an action of unknown kind.
 * - Basic DataResources.  Type is Host::File or Host::Process; Values are
 *   absolute paths used as string prefixes, as CloudTrail's S3 ARN
 *   prefixes: "/etc/" is everything under /etc, "/etc/shadow" is that file
 *   (and "/etc/shadow-"), "/" is every file or process.  At most 250 values
 *   across a trail's selectors; "/" does not count (like arn:aws:s3).
 *   ReadWriteType applies to data events too.
 * - ExcludeManagementEventSources and advanced eventSource NotEquals on
 *   management selectors accept any event source (CloudTrail allows only
 *   kms.amazonaws.com and rdsdata.amazonaws.com; a host has its own noisy
 *   sources).
 * - Advanced fields.  Management: eventCategory, readOnly (Equals),
 *   eventSource (NotEquals).  Data: resources.type (required, Equals
 *   Host::File or Host::Process), resources.ARN (any operator; Equals,
 *   NotEquals, StartsWith, NotStartsWith values are absolute paths),
 *   readOnly, eventSource, eventName, eventType, userIdentity.arn,
 *   errorCode (a host addition: failed opens and execs), and
 *   sessionCredentialFromConsole (Equals/NotEquals true|false).
 *   NetworkActivity: eventSource (required, Equals one value), eventName,
 *   errorCode (Equals VpceAccessDenied), vpcEndpointId, userIdentity.arn.
 *   Conditions of one selector must all hold; within a condition, Equals,
 *   StartsWith and EndsWith hold if any value matches, NotEquals,
 *   NotStartsWith and NotEndsWith if no value matches; a field the record
 *   lacks matches no value.  resources.* conditions must all hold for the
 *   same resource of the record.  At most 500 values in all.
 * - Global service events are records whose eventSource ends in
 *   ".identity" (the host's user, group, password and sudoers changes,
 *   e.g. "hosttrail.identity") or is one of CloudTrail's global services
 *   (iam, sts, cloudfront, route53 .amazonaws.com).  Only trails with
 *   IncludeGlobalServiceEvents get them.
 * - Records whose awsRegion is not the trail's home region (ingested from
 *   elsewhere) go only to multi-region trails.
 * ---- end README ----
 */
#ifndef HT_SELECT_H
#define HT_SELECT_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;
struct ht_record;
struct ht_select;

#define HT_SELECT_MAX_BASIC 5		 /* basic selectors per trail */
#define HT_SELECT_MAX_DATA_RESOURCES 250 /* basic Values per trail, "/" excluded */
#define HT_SELECT_MAX_VALUES 500	 /* advanced values per trail */

#define HT_SELECT_INVALID "InvalidEventSelectorsException"
#define HT_SELECT_SERIALIZATION "SerializationException"

/* Why an input was refused: an AWS error name (HT_SELECT_INVALID for rule
 * and limit violations, HT_SELECT_SERIALIZATION for a member of the wrong
 * JSON type) and a message naming the member, e.g.
 * "AdvancedEventSelectors[0].FieldSelectors[1]: ...". */
struct ht_select_error {
	const char *type;
	char message[512];
};

/* The trail-level settings that decide delivery besides the selectors. */
struct ht_select_scope {
	const char *home_region; /* the trail's HomeRegion (NULL: any region) */
	bool include_global;	 /* IncludeGlobalServiceEvents */
	bool multi_region;	 /* IsMultiRegionTrail */
};

/* Parse PutEventSelectors' input: the request object req (borrowed) with
 * EventSelectors or AdvancedEventSelectors (other members, e.g. TrailName,
 * are ignored, as are unknown members of selectors; JSON null = absent).
 * An empty list is accepted and selects nothing.  0 with *ret set (one
 * reference, owned by the caller), -EINVAL with *err filled, or -ENOMEM.
 * *ret is written only on success. */
int ht_select_parse(struct json_object *req, struct ht_select **ret, struct ht_select_error *err);

/* Add GetEventSelectors' selector member to obj (a response object, e.g.
 * one already holding TrailARN): "EventSelectors" with every default
 * filled in, or "AdvancedEventSelectors".  s NULL adds the default basic
 * selector.  0 or -ENOMEM (obj may then hold a partial member). */
int ht_select_add_json(const struct ht_select *s, struct json_object *obj);

/* The persisted form of s (not NULL): {"version":1,"EventSelectors":[..]}
 * or {"version":1,"AdvancedEventSelectors":[..]}, normalized as
 * GetEventSelectors shows it.  0 with *ret a new object (caller puts it), or
 * -ENOMEM. */
int ht_select_to_state(const struct ht_select *s, struct json_object **ret);
/* Load what ht_select_to_state wrote (obj borrowed).  As ht_select_parse;
 * an unknown version is -EINVAL too. */
int ht_select_from_state(struct json_object *obj, struct ht_select **ret,
    struct ht_select_error *err);

/* Whether rec reaches a trail with selectors s (NULL = default) and scope
 * sc (NULL = no region or global-service filtering), by the rules in the
 * README block above.  Pure and allocation-free; safe to call from any
 * number of threads on the same s. */
bool ht_select_match(const struct ht_select *s, const struct ht_select_scope *sc,
    const struct ht_record *rec);

/* Whether rec is a global service event (eventSource rule above). */
bool ht_select_global_event(const struct ht_record *rec);

/* Whether s is advanced selectors (false for basic and for NULL). */
bool ht_select_is_advanced(const struct ht_select *s);

/* Another reference to s, for a reader (e.g. a build job) that may outlive
 * the trail's current selectors.  s NULL returns NULL.  Thread-safe. */
struct ht_select *ht_select_ref(struct ht_select *s);
/* Drop one reference; the last one frees s.  NULL is a no-op.
 * Thread-safe. */
void ht_select_free(struct ht_select *s);

#endif

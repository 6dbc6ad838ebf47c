/*
 * ingest_parse.h - CloudTrail Lake's PutAuditEvents request, parsed and
 * checked without any I/O: the body {"auditEvents":[{id, eventData,
 * eventDataChecksum}, ...]} becomes one outcome per event, either a
 * CloudTrail record (eventCategory ActivityAuditLog, eventType ActivityLog,
 * metadata {ingestionTime, channelARN}) or a per-event failure with the
 * documented errorCode.  The ingest source (ingest.c) does the HTTP side and
 * hands the records to the pipeline.
 *
 * Limits (shared/reference/cloudtrail.md §12): 1-100 events, 1 MB body,
 * id 1-128 chars of [-_A-Za-z0-9], eventData at most 256 KB.
 */
#ifndef HT_INGEST_PARSE_H
#define HT_INGEST_PARSE_H

#include <stddef.h>
#include <stdint.h>

struct ht_record;

#define HT_INGEST_MAX_EVENTS 100
#define HT_INGEST_MAX_BODY (1024 * 1024)
#define HT_INGEST_MAX_EVENT_DATA (256 * 1024)
#define HT_INGEST_MAX_ID 128

struct ht_ingest_item {
	char *id;			/* the caller's id (may be NULL if missing) */
	struct ht_record *rec;		/* accepted: owned record; NULL if failed */
	const char *error_code;		/* failed: "FieldNotFound", "InvalidChecksum", ... */
	char *error_message;		/* failed: malloc'd text naming the field */
};

struct ht_ingest_batch {
	struct ht_ingest_item *items;	/* in request order */
	size_t n_items;
};

/* A request-level failure: the whole request is refused with HTTP 400. */
struct ht_ingest_error {
	const char *type;		/* AWS error name, e.g. "ValidationException",
					 * "DuplicatedAuditEventId", "SerializationException" */
	char message[256];
};

struct ht_ingest_context {
	const char *channel_arn;	/* copied into metadata.channelARN */
	const char *region;		/* awsRegion */
	const char *account_id;		/* recipientAccountId must equal this, else
					 * InvalidRecipient */
	int64_t now_ms;			/* ingestion time */
};

/* Parse body (len bytes, not necessarily NUL-terminated).  Returns 0 with
 * *ret set (every event has an outcome), -EINVAL with *err filled for a
 * request-level error (bad JSON, no auditEvents, 0 or >100 events, body over
 * 1 MB, repeated id -> DuplicatedAuditEventId), or -ENOMEM. */
int ht_ingest_parse(const char *body, size_t len, const struct ht_ingest_context *ctx,
    struct ht_ingest_batch **ret, struct ht_ingest_error *err);
/* Frees the batch and every record still owned by it.  Records moved out
 * (item->rec set to NULL) are not touched.  NULL is a no-op. */
void ht_ingest_batch_free(struct ht_ingest_batch *batch);

#endif

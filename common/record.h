/*
 * record.h - one CloudTrail record (an element of a log file's "Records"),
 * with every field of eventVersion 1.11 (shared/reference/cloudtrail.md §7).
 *
 * Scalars are typed; nested objects (userIdentity, requestParameters, ...)
 * are json-c objects owned by the record.  A NULL string or object member
 * means "absent" and is omitted from JSON.  requestParameters and
 * responseElements can also be an explicit JSON null, which CloudTrail uses
 * for read-only calls: HT_JSON_NULL marks that.  The serialized field order
 * is CloudTrail's own (eventVersion, userIdentity, eventTime, ...).
 */
#ifndef HT_RECORD_H
#define HT_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct json_object;
struct printbuf;

#define HT_EVENT_VERSION "1.11"
/* Marks requestParameters/responseElements present as JSON null. */
#define HT_JSON_NULL ((struct json_object *)&ht_json_null_marker)
extern const char ht_json_null_marker;

/* Tri-state for optional booleans. */
enum ht_tristate { HT_UNSET = -1, HT_FALSE = 0, HT_TRUE = 1 };

struct ht_record {
	char *event_version;
	struct json_object *user_identity;		/* object */
	time_t event_time;				/* 0 = unset */
	char *event_source;
	char *event_name;
	char *aws_region;
	char *source_ip_address;
	char *user_agent;
	char *error_code;
	char *error_message;
	struct json_object *request_parameters;		/* object, HT_JSON_NULL or NULL */
	struct json_object *response_elements;		/* object, HT_JSON_NULL or NULL */
	struct json_object *additional_event_data;	/* object */
	char *request_id;
	char *event_id;
	enum ht_tristate read_only;
	struct json_object *resources;			/* array of {ARN,accountId,type} */
	char *event_type;
	char *api_version;
	char *recipient_account_id;
	char *shared_event_id;
	char *vpc_endpoint_id;
	char *vpc_endpoint_account_id;
	struct json_object *service_event_details;	/* object */
	enum ht_tristate management_event;
	char *event_category;
	struct json_object *addendum;			/* object */
	bool session_credential_from_console;		/* serialized as "true" only */
	struct json_object *edge_device_details;	/* object */
	struct json_object *tls_details;		/* object */
	struct json_object *event_context;		/* object (Lake only) */
	struct json_object *insight_details;		/* object */
	struct json_object *metadata;			/* object: Lake {ingestionTime, channelARN} */
};

/* What trails select on most, kept beside each record in history so a trail
 * with default selectors never parses records (history/segment.h). */
enum ht_record_flag {
	HT_RF_KNOWN = 0x01,	/* the other flags are set (0 = unknown: parse) */
	HT_RF_DATA = 0x02,	/* eventCategory "Data" */
	HT_RF_READ = 0x04,	/* readOnly true */
	HT_RF_WRITE = 0x08,	/* readOnly false */
	HT_RF_GLOBAL = 0x10,	/* a global service event (identity changes) */
};

/* eventSource of the host's identity changes (users, groups, passwords,
 * sudoers): hosttrail's global service events, like IAM's on AWS. */
#define HT_GLOBAL_EVENT_SOURCE "host.identity"

/* A global service event: an eventSource ending in ".identity" (such as
 * HT_GLOBAL_EVENT_SOURCE), or one of AWS's global services (iam, sts,
 * cloudfront, route53) for ingested events.  Such events go only to trails that include global service
 * events. */
bool ht_record_is_global(const struct ht_record *rec);
/* The HT_RF_* flags of rec (with HT_RF_KNOWN). */
unsigned ht_record_flags(const struct ht_record *rec);

/* A zeroed record with tri-states unset. NULL on ENOMEM. */
struct ht_record *ht_record_new(void);
/* Frees the record and everything it owns. NULL is a no-op. */
void ht_record_free(struct ht_record *rec);

/* Build a record from a parsed JSON object (borrowed).  Unknown top-level
 * keys are an error, as are members of the wrong JSON type; the message names
 * the field.  0 with *ret set, -EINVAL with errbuf filled, -ENOMEM. */
int ht_record_from_json(struct json_object *obj, struct ht_record **ret, char *errbuf,
    size_t errlen);
/* Parse a record from JSON text of length len. As ht_record_from_json. */
int ht_record_parse(const char *text, size_t len, struct ht_record **ret, char *errbuf,
    size_t errlen);
/* A new JSON object for rec (caller owns it; json_object_put to free).
 * NULL on ENOMEM. */
struct json_object *ht_record_to_json(const struct ht_record *rec);
/* Append rec as compact JSON (no spaces, CloudTrail field order) to pb.
 * 0 or -ENOMEM. */
int ht_record_serialize(const struct ht_record *rec, struct printbuf *pb);

/* 0 if the JSON value val (borrowed) may go into a record, else -EINVAL.
 * Today that means no NaN or Infinity anywhere inside it: json-c reads them
 * even in strict mode, but they are not JSON and would make the record
 * unreadable to everyone else. */
int ht_record_check_value(struct json_object *val);

/* The LookupEvents "Username" of a record: userIdentity.userName, else the
 * last path part of userIdentity.arn, else principalId; NULL if none.
 * Borrowed from rec. */
const char *ht_record_username(const struct ht_record *rec);

#endif

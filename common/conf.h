/*
 * conf.h - hosttrail's configuration: a plain-data struct filled by libyaml
 * from a file (or the embedded default), defaults first, then validated in a
 * separate pass.  Every error names file:line:column and the key path, e.g.
 *   hosttrail.yaml:14:9: trails[1].name: "a..b" is not a valid trail name: ...
 *
 * Key names are the snake_case of CloudTrail's own parameter names, so the
 * config and the API say the same thing.  A loaded ht_conf is immutable; a
 * reload builds a new one and main swaps it in only if it validated.
 */
#ifndef HT_CONF_H
#define HT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HT_CONF_DEFAULT_PATH "/etc/hosttrail/hosttrail.yaml"
#define HT_MAX_TRAILS_PER_REGION 5
#define HT_MAX_SOURCES 32		/* sources: entries */
#define HT_EX_CONFIG 78 /* EX_CONFIG: exit status for a bad config */

enum ht_fsync_policy { HT_FSYNC_ALWAYS, HT_FSYNC_INTERVAL, HT_FSYNC_OFF };
enum ht_bucket_type { HT_BUCKET_SPOOL, HT_BUCKET_S3 };
enum ht_source_type { HT_SOURCE_INGEST, HT_SOURCE_AUDITLOG, HT_SOURCE_AUDIT, HT_SOURCE_JOURNAL,
	HT_SOURCE_FILE, HT_SOURCE_FIM, HT_SOURCE_LOGINS };
/* How a type: file source reads its lines. */
enum ht_file_format { HT_FILE_SYSLOG, HT_FILE_DPKG };
/* Where an auditlog source starts when it has no checkpoint yet. */
enum ht_source_start { HT_SOURCE_START_END, HT_SOURCE_START_BEGINNING };
enum ht_access { HT_ACCESS_ADMIN, HT_ACCESS_READ };
/* The kernel audit source: a multicast listener beside auditd, or the
 * host's audit daemon itself. */
enum ht_audit_mode { HT_AUDIT_MULTICAST, HT_AUDIT_UNICAST };
/* What the audit source does when history cannot keep up and its queue is
 * full: drop (count, report; audited processes never wait) or block (stop
 * reading the socket; the kernel's backlog policy then applies). */
enum ht_audit_backpressure { HT_AUDIT_BP_DROP, HT_AUDIT_BP_BLOCK };
/* The kernel's audit failure mode (auditctl -f): -1 = leave as is. */
enum ht_audit_failure { HT_AUDIT_FAILURE_SILENT, HT_AUDIT_FAILURE_PRINTK,
	HT_AUDIT_FAILURE_PANIC };

struct ht_conf_history {
	unsigned retention_days;	/* default 90 */
	uint64_t max_disk;		/* bytes, 0 = no cap; default 0 */
	enum ht_fsync_policy fsync;	/* default interval */
	uint64_t fsync_interval_ms;	/* default 1000 */
	bool lookup_data_events;	/* show data events in LookupEvents; default false */
};

struct ht_conf_credential {
	char *access_key_id;
	char *secret_file;		/* absolute, or relative to the config file */
	enum ht_access access;		/* default admin */
};

struct ht_conf_rates {
	unsigned lookup_events;		/* per second, default 2 */
	unsigned read;			/* Get*, Describe*, List*: default 10 */
	unsigned write;			/* everything else: default 1 */
};

struct ht_conf_api {
	char *socket;			/* path; relative = under state_dir; default "api.sock" */
	char *listen;			/* "127.0.0.1:8149" or NULL for none; default NULL */
	struct ht_conf_credential *credentials;
	size_t n_credentials;
	struct ht_conf_rates rate_limits;	/* TCP listener, per access key */
};

enum ht_sse { HT_SSE_NONE, HT_SSE_AES256, HT_SSE_KMS };

/* Where an s3 bucket's keys come from.  Empty (all NULL): the standard AWS
 * environment variables, then [default] in the shared credentials file. */
struct ht_conf_s3_credentials {
	char *access_key_id;		/* with secret_file */
	char *secret_file;		/* the secret access key, alone in a file; absolute,
					 * or relative to the config file */
	char *session_token_file;	/* optional, with access_key_id */
	char *profile;			/* or: this [profile] of the shared credentials file */
	char *shared_credentials_file;	/* default $AWS_SHARED_CREDENTIALS_FILE, else
					 * ~/.aws/credentials */
};

struct ht_conf_bucket {
	char *name;			/* the map key */
	enum ht_bucket_type type;
	char *path;			/* spool: directory; relative = under state_dir */
	/* s3 only */
	char *bucket;			/* the bucket's real name; default name */
	char *endpoint;			/* "https://host[:port]"; default the AWS
					 * endpoint of region, https://s3.REGION.amazonaws.com */
	char *region;			/* signing region; default the top-level region */
	bool path_style;		/* endpoint/bucket/key rather than bucket.endpoint/key;
					 * default false */
	char *ca_file;			/* PEM CA bundle; NULL = the system's */
	enum ht_sse server_side_encryption;	/* default none; kms uses the trail's
						 * kms_key_id */
	char *storage_class;		/* NULL = the bucket's default */
	char *resolve_to;		/* connect to this IP whatever DNS says for the
					 * endpoint's host (curl's --resolve); NULL = DNS */
	uint64_t timeout_ms;		/* one upload, default 5m */
	unsigned concurrency;		/* uploads in flight per trail, default 4 */
	struct ht_conf_s3_credentials credentials;
};

enum ht_conf_backoff { HT_CONF_BACKOFF_LINEAR, HT_CONF_BACKOFF_ARITHMETIC,
	HT_CONF_BACKOFF_GEOMETRIC, HT_CONF_BACKOFF_EXPONENTIAL };

/* SNS's HTTP/S healthyRetryPolicy; same names, same limits.  Default:
 * SNS's own, 3 retries 20 s apart. */
struct ht_conf_delivery_policy {
	unsigned num_retries;		/* 0..100, default 3 */
	unsigned num_no_delay_retries;	/* default 0 */
	unsigned num_min_delay_retries;	/* default 0 */
	unsigned num_max_delay_retries;	/* default 0 */
	uint64_t min_delay_ms;		/* default 20s */
	uint64_t max_delay_ms;		/* default 20s */
	enum ht_conf_backoff backoff;	/* default linear */
};

struct ht_conf_subscription {
	char *url;			/* http:// or https:// */
	struct ht_conf_delivery_policy delivery_policy;
};

struct ht_conf_topic {
	char *name;			/* the map key */
	struct ht_conf_subscription *subscriptions;
	size_t n_subscriptions;
	char *signing_key_file;		/* PEM RSA key (>= 2048 bits); required when there
					 * are subscriptions; relative = to the config file */
	char *signing_cert_url;		/* an https URL of the PEM certificate; required with the key */
	unsigned signature_version;	/* 1 or 2, default 2 */
	char *ca_file;			/* CA bundle for https subscriptions; NULL = system */
	uint64_t timeout_ms;		/* one POST, default 15s (SNS's) */
};

#define HT_AUDITLOG_DEFAULT_PATH "/var/log/audit/audit.log"
#define HT_WTMP_DEFAULT_PATH "/var/log/wtmp"
#define HT_BTMP_DEFAULT_PATH "/var/log/btmp"

/* A key of one type is refused for the other; fields of the other type
 * stay zero/NULL. */
struct ht_conf_source {
	enum ht_source_type type;
	char **channels;		/* ingest: channel names; default [default] */
	size_t n_channels;
	/* auditlog */
	char *path;			/* absolute; default HT_AUDITLOG_DEFAULT_PATH */
	char *checkpoint;		/* relative = under state_dir; default
					 * sources/auditlog-BASENAME-HASH.checkpoint, HASH
					 * from path, so sources never share one */
	uint64_t eoe_timeout_ms;	/* end-of-event timeout, 100ms-60s; default 2s */
	uint32_t max_event_records;	/* records per event before it is cut, 8-65536;
					 * default 256 */
	enum ht_source_start start;	/* with no checkpoint: default end (no history
					 * replayed); beginning: the oldest rotated file */
	/* audit (kernel netlink); eoe_timeout_ms and max_event_records too */
	enum ht_audit_mode mode;	/* default multicast */
	uint64_t socket_buffer;		/* receive buffer, bytes; default 8 MiB */
	enum ht_audit_backpressure backpressure;	/* default drop */
	uint64_t queue_max;		/* events waiting for history; default 100000 */
	uint64_t loss_report_interval_ms;	/* warning record pace; default 60 s */
	uint64_t status_interval_ms;	/* AUDIT_GET (lost counter) poll; default 5 s */
	/* audit, mode unicast only */
	uint64_t backlog_limit;		/* default 8192 */
	uint64_t rate_limit;		/* messages/s, 0 = none; default 0 */
	enum ht_audit_failure failure;	/* default printk (the kernel's default) */
	char **rules;			/* auditctl syntax, one rule each */
	size_t n_rules;
	char *rules_file;		/* absolute; auditctl -R syntax; NULL = none */
	char *state_file;		/* relative = under state_dir; default
					 * sources/audit-kernel-state.json */
	/* journal; checkpoint (the cursor file) and start too */
	char **matches;			/* "FIELD=value" (sd_journal_add_match) or "+"
					 * (sd_journal_add_disjunction); none = all */
	size_t n_matches;
	char *directory;		/* absolute; NULL = the system journal */
	/* file: path (required), checkpoint, start */
	enum ht_file_format format;	/* default dpkg for dpkg.log*, else syslog */
	/* fim */
	char **paths;			/* absolute, watched recursively; required */
	size_t n_paths;
	char **exclude;			/* fnmatch(3) patterns on the full path */
	size_t n_exclude;
	uint64_t hash_max;		/* files larger than this are not hashed; 0 = never;
					 * default 16 MiB */
	/* logins: checkpoint, start */
	char *wtmp, *btmp;		/* absolute; defaults /var/log/wtmp, /var/log/btmp */
};

struct ht_conf_delivery {
	uint64_t interval_ms;		/* default 5m, minimum 1s */
	uint64_t max_events;		/* default 10000 */
	uint64_t max_bytes;		/* uncompressed JSON bytes, default 50MiB */
	uint64_t retry_min_ms;		/* first retry of a failed upload, default 1s */
	uint64_t retry_max_ms;		/* cap of the backoff, and the pace of retries
					 * refused for credentials/permissions; default 5m */
};

struct ht_conf_trail {
	char *name;
	char *s3_bucket_name;		/* must name a bucket in buckets: */
	char *s3_key_prefix;		/* NULL = none */
	char *sns_topic_name;		/* NULL = none; must name a topic in topics: */
	bool is_multi_region_trail;	/* default false */
	bool include_global_service_events; /* default true */
	bool enable_log_file_validation; /* default false */
	bool is_organization_trail;	/* default false; needs organization_id */
	bool start_logging;		/* default true */
	char *kms_key_id;		/* NULL = none; used with server_side_encryption: aws:kms */
	uint64_t outbox_max;		/* most files waiting for delivery before ingest is
					 * back-pressured; default 10000 */
	struct ht_conf_delivery delivery;
	/* event_selectors or advanced_event_selectors, as PutEventSelectors'
	 * request JSON: {"EventSelectors":[...]} or {"AdvancedEventSelectors":
	 * [...]} (keys turned to CloudTrail's names: read_write_type ->
	 * ReadWriteType).  Checked by the daemon (registry.h).  NULL =
	 * CloudTrail's default: management events only. */
	char *event_selectors;
};

struct ht_conf_trail_defaults {
	struct ht_conf_delivery delivery;	/* for trails created with CreateTrail */
	uint64_t outbox_max;
};

struct ht_conf {
	char *path;			/* file the config came from, or "<embedded default>" */
	char *account_id;		/* 12 digits */
	char *region;
	char *organization_id;		/* "o-..." or NULL */
	char *state_dir;		/* default /var/lib/hosttrail */
	struct ht_conf_history history;
	struct ht_conf_api api;
	struct ht_conf_bucket *buckets;
	size_t n_buckets;
	struct ht_conf_topic *topics;
	size_t n_topics;
	struct ht_conf_source *sources;
	size_t n_sources;
	struct ht_conf_trail *trails;
	size_t n_trails;
	struct ht_conf_trail_defaults trail_defaults;
};

/* The embedded default config's YAML text (conf/hosttrail.yaml, built in). */
extern const char ht_conf_default_yaml[];

/* Load and validate the config at path; path NULL loads the embedded
 * default.  On failure returns -EINVAL (or -errno if the file cannot be read,
 * -ENOMEM) and writes one line "FILE:LINE:COL: KEY.PATH: message" into
 * errbuf.  *ret is written only on success. */
int ht_conf_load(const char *path, struct ht_conf **ret, char *errbuf, size_t errlen);
/* Same, from YAML text in memory; name is used in error messages. */
int ht_conf_load_string(const char *name, const char *yaml, size_t len, struct ht_conf **ret,
    char *errbuf, size_t errlen);
/* Override state_dir (before relative paths are resolved).  Used by
 * hosttraild --state-dir.  0 or -ENOMEM. */
int ht_conf_set_state_dir(struct ht_conf *conf, const char *dir);
/* Resolve a path from the config: absolute paths as is, relative ones under
 * state_dir.  Returns a malloc'd string or NULL on ENOMEM. */
char *ht_conf_path(const struct ht_conf *conf, const char *path);
/* Look up by name; NULL if absent. Borrowed. */
const struct ht_conf_bucket *ht_conf_bucket(const struct ht_conf *conf, const char *name);
const struct ht_conf_topic *ht_conf_topic(const struct ht_conf *conf, const char *name);
/* Frees everything; NULL is a no-op. */
void ht_conf_free(struct ht_conf *conf);

#endif

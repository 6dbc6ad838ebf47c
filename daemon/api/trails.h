/*
 * trails.h - CloudTrail's trail operations in AWS JSON 1.1: CreateTrail,
 * UpdateTrail, DeleteTrail, DescribeTrails, GetTrail, ListTrails,
 * GetTrailStatus, StartLogging, StopLogging, AddTags, RemoveTags, ListTags.
 * Checks and exception names are CloudTrail's (shared/reference/cloudtrail.md
 * §2 and §4); the trail set itself is registry.h.
 *
 * On a host: S3BucketName names a bucket of the config's buckets:, and
 * SnsTopicName a topic of topics: (name or arn:aws:sns:REGION:ACCOUNT:NAME).
 * Members with no meaning here (CloudWatch Logs, KMS) are stored and
 * returned.  Trails declared in the config file cannot be changed, started,
 * stopped or deleted through the API (OperationNotPermittedException): the
 * file is their source of truth.
 */
#ifndef HT_API_TRAILS_H
#define HT_API_TRAILS_H

struct ht_api;
struct ht_api_trails;
struct ht_conf;
struct ht_registry;

/* Register the operations on api.  reg and conf are borrowed (swap conf
 * with set_conf on reload).  0 or -errno. */
int ht_api_trails_new(struct ht_api *api, struct ht_registry *reg, const struct ht_conf *conf,
    struct ht_api_trails **ret);
void ht_api_trails_set_conf(struct ht_api_trails *t, const struct ht_conf *conf);
/* NULL is a no-op. */
void ht_api_trails_free(struct ht_api_trails *t);

#endif

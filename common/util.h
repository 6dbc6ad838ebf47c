/*
 * util.h - small shared helpers: time formats, random identifiers, unit
 * parsing and CloudTrail's naming rules.  No allocation unless stated, no
 * logging, thread-safe.
 */
#ifndef HT_UTIL_H
#define HT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HT_ISO8601_LEN sizeof("YYYY-MM-DDTHH:MM:SSZ")
#define HT_UUID_LEN sizeof("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx")

/* Format t (UTC) as "YYYY-MM-DDTHH:MM:SSZ" into buf (HT_ISO8601_LEN bytes). */
void ht_time_iso8601(time_t t, char buf[HT_ISO8601_LEN]);
/* Parse exactly "YYYY-MM-DDTHH:MM:SSZ" (UTC).  Returns 0, or -EINVAL for any
 * other shape or an impossible date; *ret untouched on failure. */
int ht_time_parse_iso8601(const char *s, time_t *ret);
/* Wall-clock now in milliseconds since the epoch (CLOCK_REALTIME). */
int64_t ht_now_ms(void);
/* Monotonic milliseconds (CLOCK_MONOTONIC), for timers and ages. */
int64_t ht_mono_ms(void);

/* Fill buf with len cryptographically random bytes (getrandom). 0 or -errno. */
int ht_random_bytes(void *buf, size_t len);
/* A random RFC 4122 version 4 UUID, lowercase, NUL-terminated. 0 or -errno. */
int ht_uuid_v4(char out[HT_UUID_LEN]);
/* n random characters from [A-Za-z0-9] plus a NUL (CloudTrail's 16-character
 * UniqueString in file names). 0 or -errno. */
int ht_random_alnum(char *out, size_t n);

/* "200ms", "5s", "5m", "1h", "2d", or a bare number of seconds.  Returns 0
 * with milliseconds in *ret_ms, -EINVAL for bad syntax, -ERANGE on overflow. */
int ht_parse_duration_ms(const char *s, uint64_t *ret_ms);
/* "512", "64KiB", "50MiB", "2GiB", "10MB", "1kB" (SI units are 1000-based,
 * IEC ones 1024-based; bare numbers are bytes). 0, -EINVAL or -ERANGE. */
int ht_parse_size(const char *s, uint64_t *ret_bytes);

/* CloudTrail's trail-name rules (ASCII letters, digits, '.', '_', '-';
 * 3-128 chars; starts and ends alphanumeric; no two adjacent specials; not an
 * IPv4 address).  Returns NULL when valid, else a static reason. */
const char *ht_trail_name_invalid(const char *name);
/* S3's bucket-name rules (3-63 chars of lowercase letters, digits, '.', '-';
 * starts and ends alphanumeric; no ".."; not an IPv4 address; no "xn--"
 * prefix, no "-s3alias" suffix).  Returns NULL when valid, else a static
 * reason. */
const char *ht_bucket_name_invalid(const char *name);
/* SNS topic names: 1-256 chars of ASCII letters, digits, '_', '-'. */
bool ht_topic_name_valid(const char *name);
/* CloudTrail Lake channel names (and ids): 1-128 chars of [-_A-Za-z0-9]. */
bool ht_channel_name_valid(const char *name);
/* True for exactly 12 ASCII digits. */
bool ht_account_id_valid(const char *s);
/* ARN builders; return a malloc'd string or NULL on ENOMEM. */
/* strdup(s), or NULL for a NULL s; on ENOMEM returns NULL and sets *oom
 * (never clears it), so a run of copies is checked once at the end. */
char *ht_strdup_opt(const char *s, bool *oom);
char *ht_trail_arn(const char *region, const char *account, const char *name);
char *ht_channel_arn(const char *region, const char *account, const char *channel);

/* FNV-1a, for names of files and keys in memory (not for anything an
 * attacker chooses and a collision could hurt): of len bytes, or of a
 * NUL-terminated string. */
uint64_t ht_fnv1a64(const void *data, size_t len);
uint32_t ht_fnv1a32_str(const char *s);
/* vsnprintf into errbuf for functions that report errors as one line;
 * errbuf NULL or errlen 0 is fine (nothing written). */
void ht_seterr(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

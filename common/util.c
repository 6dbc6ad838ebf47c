/*
 * util.c - see util.h.  Pure functions over caller-owned buffers: nothing
 * here keeps state, so every helper is safe from any thread.
 *
 * Parsers are strict on purpose: a config value or API field either means
 * exactly one thing or is rejected, so "5 m", "+5m", "1.5s" and "5M" are
 * errors rather than guesses.  Randomness comes from getrandom(2), which
 * blocks only until the kernel pool is first seeded at boot.
 */
#include "ht_build.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util.h"

struct unit {
	const char *name;
	uint64_t mult;
};

static const struct unit duration_units[] = {
	{ "", 1000ULL },		/* a bare number is seconds */
	{ "ms", 1ULL },
	{ "s", 1000ULL },
	{ "m", 60ULL * 1000 },
	{ "h", 3600ULL * 1000 },
	{ "d", 86400ULL * 1000 },
	{ NULL, 0 },
};

static const struct unit size_units[] = {
	{ "", 1ULL },
	{ "B", 1ULL },
	{ "kB", 1000ULL },
	{ "KB", 1000ULL },
	{ "MB", 1000ULL * 1000 },
	{ "GB", 1000ULL * 1000 * 1000 },
	{ "TB", 1000ULL * 1000 * 1000 * 1000 },
	{ "KiB", 1ULL << 10 },
	{ "MiB", 1ULL << 20 },
	{ "GiB", 1ULL << 30 },
	{ "TiB", 1ULL << 40 },
	{ NULL, 0 },
};

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && is_leap(y))
		return 29;
	return days[m - 1];
}

/* Write v as exactly n decimal digits, zero-padded. */
static void
put_digits(char *p, int v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

void
ht_time_iso8601(time_t t, char buf[HT_ISO8601_LEN])
{
	struct tm tm;
	int year;

	/* Years outside 0000-9999 do not fit the fixed-width format; clamp
	 * rather than write a string other parsers would reject. */
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year > 9999 - 1900 || tm.tm_year < -1900) {
		memcpy(buf, t < 0 ? "0000-01-01T00:00:00Z" : "9999-12-31T23:59:59Z",
		    HT_ISO8601_LEN);
		return;
	}
	year = tm.tm_year + 1900;
	memcpy(buf, "0000-00-00T00:00:00Z", HT_ISO8601_LEN);
	put_digits(buf, year, 4);
	put_digits(buf + 5, tm.tm_mon + 1, 2);
	put_digits(buf + 8, tm.tm_mday, 2);
	put_digits(buf + 11, tm.tm_hour, 2);
	put_digits(buf + 14, tm.tm_min, 2);
	put_digits(buf + 17, tm.tm_sec, 2);
}

/* Digits at s[0..n-1] as an int; the caller has checked they are digits. */
static int
digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

int
ht_time_parse_iso8601(const char *s, time_t *ret)
{
	/* 'd' is any digit; everything else must match exactly, so offsets,
	 * fractions and lowercase separators are all refused. */
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec;

	if (s == NULL || strlen(s) != sizeof(shape) - 1)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == 'd' ? !is_digit(s[i]) : s[i] != shape[i])
			return -EINVAL;
	}
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	/* timegm() would silently normalise Feb 30 to Mar 2; refuse instead. */
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
	    sec > 59)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*ret = timegm(&tm);
	return 0;
}

static int64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) < 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
ht_now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int64_t
ht_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int
ht_random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;

	/* getrandom() may return fewer bytes than asked for large requests
	 * or when a signal arrives; keep going until the buffer is full. */
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
ht_uuid_v4(char out[HT_UUID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	size_t o = 0;
	int r;

	r = ht_random_bytes(b, sizeof(b));
	if (r < 0)
		return r;
	b[6] = (b[6] & 0x0f) | 0x40;	/* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	for (size_t i = 0; i < sizeof(b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 0x0f];
	}
	out[o] = '\0';
	return 0;
}

int
ht_random_alnum(char *out, size_t n)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char pool[64];
	size_t have = 0, used = 0, o = 0;
	int r;

	while (o < n) {
		if (used == have) {
			r = ht_random_bytes(pool, sizeof(pool));
			if (r < 0)
				return r;
			have = sizeof(pool);
			used = 0;
		}
		/* 248 = 4 * 62: rejecting the top 8 values keeps every
		 * character equally likely. */
		if (pool[used] < 248)
			out[o++] = set[pool[used] % 62];
		used++;
	}
	out[n] = '\0';
	return 0;
}

/* Split s into a decimal number and a unit suffix found in units; the product
 * goes to *ret.  -EINVAL for bad syntax or unit, -ERANGE on overflow. */
static int
parse_with_unit(const char *s, const struct unit *units, uint64_t *ret)
{
	uint64_t v = 0;
	bool overflow = false;
	const char *p = s;
	const struct unit *u;

	if (s == NULL || !is_digit(*s))
		return -EINVAL;
	for (; is_digit(*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			v = v * 10 + d;
	}
	for (u = units; u->name != NULL; u++)
		if (strcmp(p, u->name) == 0)
			break;
	/* Syntax first: "99999999999999999999x" is a typo, not a range error. */
	if (u->name == NULL)
		return -EINVAL;
	if (overflow || (v != 0 && u->mult > UINT64_MAX / v))
		return -ERANGE;
	*ret = v * u->mult;
	return 0;
}

int
ht_parse_duration_ms(const char *s, uint64_t *ret_ms)
{
	return parse_with_unit(s, duration_units, ret_ms);
}

int
ht_parse_size(const char *s, uint64_t *ret_bytes)
{
	return parse_with_unit(s, size_units, ret_bytes);
}

/* Four dot-separated groups of 1-3 digits: what CloudTrail and S3 mean by
 * "looks like an IP address" (the value range does not matter). */
static bool
looks_like_ipv4(const char *s)
{
	int groups = 0, len = 0;

	for (;; s++) {
		if (is_digit(*s)) {
			if (++len > 3)
				return false;
		} else if (*s == '.' || *s == '\0') {
			if (len == 0)
				return false;
			groups++;
			len = 0;
			if (*s == '\0')
				return groups == 4;
		} else {
			return false;
		}
	}
}

static bool
is_trail_special(char c)
{
	return c == '.' || c == '_' || c == '-';
}

/* Length first, then characters, then their arrangement: a name breaking
 * several rules gets the most basic reason. */
const char *
ht_trail_name_invalid(const char *name)
{
	size_t len = name != NULL ? strlen(name) : 0;

	if (len < 3 || len > 128)
		return "must be 3 to 128 characters";
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(name[i]) && !is_trail_special(name[i]))
			return "may contain only ASCII letters, numbers, periods, underscores and "
			       "dashes";
	if (!is_alnum(name[0]))
		return "must start with a letter or number";
	if (!is_alnum(name[len - 1]))
		return "must end with a letter or number";
	for (size_t i = 1; i < len; i++)
		if (is_trail_special(name[i]) && is_trail_special(name[i - 1]))
			return "must not contain adjacent special characters";
	if (looks_like_ipv4(name))
		return "must not look like an IPv4 address";
	return NULL;
}

static bool
is_bucket_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || c == '.' || c == '-';
}

const char *
ht_bucket_name_invalid(const char *name)
{
	static const char alias[] = "-s3alias";
	size_t len = name != NULL ? strlen(name) : 0;

	if (len < 3 || len > 63)
		return "must be 3 to 63 characters";
	for (size_t i = 0; i < len; i++)
		if (!is_bucket_char(name[i]))
			return "may contain only lowercase letters, numbers, periods and dashes";
	if (!is_alnum(name[0]) || !is_alnum(name[len - 1]))
		return "must start and end with a letter or number";
	if (strstr(name, "..") != NULL)
		return "must not contain two adjacent periods";
	if (looks_like_ipv4(name))
		return "must not look like an IPv4 address";
	if (strncmp(name, "xn--", 4) == 0)
		return "must not start with \"xn--\"";
	if (len >= sizeof(alias) - 1 && strcmp(name + len - (sizeof(alias) - 1), alias) == 0)
		return "must not end with \"-s3alias\"";
	return NULL;
}

/* 1..max characters, each alphanumeric, '_' or '-'. */
static bool
word_valid(const char *s, size_t max)
{
	size_t len = s != NULL ? strlen(s) : 0;

	if (len < 1 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

bool
ht_topic_name_valid(const char *name)
{
	return word_valid(name, 256);
}

bool
ht_channel_name_valid(const char *name)
{
	return word_valid(name, 128);
}

bool
ht_account_id_valid(const char *s)
{
	if (s == NULL)
		return false;
	for (int i = 0; i < 12; i++)
		if (!is_digit(s[i]))
			return false;
	return s[12] == '\0';
}

/* CloudTrail's ARN shape (shared/reference/cloudtrail.md section 4). */
static char *
arn(const char *region, const char *account, const char *kind, const char *name)
{
	char *s;

	if (asprintf(&s, "arn:aws:cloudtrail:%s:%s:%s/%s", region, account, kind, name) < 0)
		return NULL;
	return s;
}

char *
ht_trail_arn(const char *region, const char *account, const char *name)
{
	return arn(region, account, "trail", name);
}

char *
ht_channel_arn(const char *region, const char *account, const char *channel)
{
	return arn(region, account, "channel", channel);
}

char *
ht_strdup_opt(const char *s, bool *oom)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*oom = true;
	return d;
}

uint64_t
ht_fnv1a64(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

uint32_t
ht_fnv1a32_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

void
ht_seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

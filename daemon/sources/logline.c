/*
 * logline.c - one line of a classic log file split into time, host,
 * program, pid and message (logline.h has the formats).
 *
 * The format is told by the line's first bytes: a month name is the
 * traditional syslog stamp, "YYYY-MM-DD" followed by 'T' is RFC 3339 and
 * followed by a space is dpkg.log.  Every byte is checked before it is
 * used, so any input is either split or refused with the offset of the
 * first byte that did not fit; the result is one allocation holding the
 * struct and NUL-terminated copies of its strings.
 *
 * Times are computed by hand (days_from_civil) for UTC and fixed offsets,
 * so that path is pure and exact; only ctx->local_tz goes through
 * mktime/localtime_r, which know the zone's DST rules.
 */
#include "ht_build.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logline.h"

#define DAY_MS (86400 * 1000LL)
#define FEB29_YEARS 8		/* how far back a "Feb 29" may look for a leap year */
#define REF_MS_MAX 253402300799999LL	/* 9999-12-31T23:59:59.999Z */

static const char *const months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* The line being split; positions are offsets into the caller's line. */
struct cur {
	const char *s;
	size_t len;
	size_t base;		/* offset of s in the caller's line (NULs skipped) */
	char *errbuf;
	size_t errlen;
};

/* A broken-down time as written in the line. */
struct civil {
	int year, mon, day, hour, min, sec, ms;
};

static int seterr(const struct cur *c, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills errbuf with "<reason> at byte <at>"; returns -EINVAL. */
static int
seterr(const struct cur *c, size_t at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->errbuf == NULL || c->errlen == 0)
		return -EINVAL;
	va_start(ap, fmt);
	n = vsnprintf(c->errbuf, c->errlen, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < c->errlen)
		snprintf(c->errbuf + n, c->errlen - (size_t)n, " at byte %zu", c->base + at);
	return -EINVAL;
}

/* Exactly n digits at pos, as a number in *ret. */
static bool
digits(const struct cur *c, size_t pos, size_t n, int *ret)
{
	int v = 0;
	size_t i;

	if (pos > c->len || c->len - pos < n)
		return false;
	for (i = 0; i < n; i++) {
		if (c->s[pos + i] < '0' || c->s[pos + i] > '9')
			return false;
		v = v * 10 + (c->s[pos + i] - '0');
	}
	*ret = v;
	return true;
}

static bool
at_char(const struct cur *c, size_t pos, char ch)
{
	return pos < c->len && c->s[pos] == ch;
}

static bool
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's
 * algorithm: exact for every year, no table, no time zone). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The year of a day count (the inverse of days_from_civil, year only). */
static int64_t
year_of_days(int64_t z)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	return yoe + era * 400 + (mp >= 10);
}

static bool
civil_valid(const struct civil *t)
{
	return t->mon >= 1 && t->mon <= 12 && t->day >= 1 &&
	    t->day <= month_days(t->year, t->mon) && t->hour <= 23 && t->min <= 59 &&
	    t->sec <= 60;
}

/* t as Unix milliseconds at a fixed offset from UTC (a leap second 60
 * counts as the next second, as timegm does). */
static int64_t
civil_to_ms_offset(const struct civil *t, int64_t offset_s)
{
	int64_t s = days_from_civil(t->year, t->mon, t->day) * 86400 + t->hour * 3600 +
	    t->min * 60 + t->sec - offset_s;

	return s * 1000 + t->ms;
}

/* t as Unix milliseconds: local time per ctx.  false if the zone cannot
 * place it. */
static bool
civil_to_ms_local(const struct ht_logline_ctx *ctx, const struct civil *t, int64_t *ret)
{
	struct tm tm;
	time_t s;

	if (!ctx->local_tz) {
		*ret = civil_to_ms_offset(t, ctx->utc_offset_s);
		return true;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = t->year - 1900;
	tm.tm_mon = t->mon - 1;
	tm.tm_mday = t->day;
	tm.tm_hour = t->hour;
	tm.tm_min = t->min;
	tm.tm_sec = t->sec;
	tm.tm_isdst = -1;	/* the zone decides, as for the program that wrote it */
	tm.tm_wday = -1;
	s = mktime(&tm);
	if (s == (time_t)-1 && tm.tm_wday == -1)
		return false;
	*ret = (int64_t)s * 1000 + t->ms;
	return true;
}

/* The calendar year, in the zone of ctx, of ref_ms. */
static int
ref_year(const struct ht_logline_ctx *ctx)
{
	int64_t s = ctx->ref_ms / 1000 - (ctx->ref_ms % 1000 < 0);
	struct tm tm;
	time_t t = (time_t)s;
	int64_t z;

	if (ctx->local_tz && localtime_r(&t, &tm) != NULL)
		return tm.tm_year + 1900;
	s += ctx->utc_offset_s;
	z = s / 86400 - (s % 86400 < 0);
	return (int)year_of_days(z);
}

/* The traditional stamp has no year: the latest year in which the line
 * is no more than a day after the reference time (a clock a little
 * ahead, or a line written just after midnight on 1 January while the
 * reference is still 31 December).  Feb 29 looks back for a leap year. */
static int
syslog_year(const struct cur *c, const struct ht_logline_ctx *ctx, struct civil *t,
    int64_t *ret)
{
	int64_t ms;
	int y0 = ref_year(ctx), y;

	for (y = y0 + 1; y >= y0 - FEB29_YEARS; y--) {
		t->year = y;
		if (!civil_valid(t))
			continue;
		if (!civil_to_ms_local(ctx, t, &ms))
			return seterr(c, 0, "time not representable in the local zone");
		if (ms <= ctx->ref_ms + DAY_MS) {
			*ret = ms;
			return 0;
		}
	}
	return seterr(c, 4, "no such date");
}

/* "Nov 24 06:02:36 " (also "Nov  4", "Nov 4"): *pos past the space. */
static int
parse_syslog_stamp(const struct cur *c, const struct ht_logline_ctx *ctx, size_t *pos,
    int64_t *ret)
{
	struct civil t = { 0 };
	size_t p = 4;
	int m;

	for (m = 0; m < 12; m++)
		if (c->len >= 3 && memcmp(c->s, months[m], 3) == 0)
			break;
	if (m == 12 || !at_char(c, 3, ' '))
		return seterr(c, 0, "bad month");
	t.mon = m + 1;
	if (at_char(c, p, ' '))
		p++;
	if (digits(c, p, 2, &t.day))
		p += 2;
	else if (digits(c, p, 1, &t.day))
		p += 1;
	else
		return seterr(c, p, "bad day");
	if (!at_char(c, p, ' '))
		return seterr(c, p, "bad day");
	p++;
	if (!digits(c, p, 2, &t.hour) || !at_char(c, p + 2, ':') ||
	    !digits(c, p + 3, 2, &t.min) || !at_char(c, p + 5, ':') ||
	    !digits(c, p + 6, 2, &t.sec) || t.hour > 23 || t.min > 59 || t.sec > 60)
		return seterr(c, p, "bad time");
	if (t.day < 1 || t.day > 31)
		return seterr(c, 4, "bad day");
	p += 8;
	if (!at_char(c, p, ' '))
		return seterr(c, p, "expected a space after the time");
	*pos = p + 1;
	return syslog_year(c, ctx, &t, ret);
}

/* "YYYY-MM-DD" then sep then "HH:MM:SS" at the start of the line. */
static int
parse_date_time(const struct cur *c, struct civil *t)
{
	if (!digits(c, 0, 4, &t->year) || !at_char(c, 4, '-') || !digits(c, 5, 2, &t->mon) ||
	    !at_char(c, 7, '-') || !digits(c, 8, 2, &t->day))
		return seterr(c, 0, "bad date");
	if (t->year < 1970)
		return seterr(c, 0, "year before 1970");
	if (t->mon < 1 || t->mon > 12)
		return seterr(c, 5, "bad month");
	if (t->day < 1 || t->day > month_days(t->year, t->mon))
		return seterr(c, 8, "bad day");
	if (!digits(c, 11, 2, &t->hour) || !at_char(c, 13, ':') || !digits(c, 14, 2, &t->min) ||
	    !at_char(c, 16, ':') || !digits(c, 17, 2, &t->sec) || t->hour > 23 ||
	    t->min > 59 || t->sec > 60)
		return seterr(c, 11, "bad time");
	return 0;
}

/* ".123456" (any number of digits, milliseconds kept): *pos past it. */
static int
parse_fraction(const struct cur *c, size_t *pos, int *ms)
{
	size_t p = *pos, n = 0;
	int scale = 100;

	if (!at_char(c, p, '.'))
		return 0;
	for (p++; p < c->len && c->s[p] >= '0' && c->s[p] <= '9'; p++, n++) {
		*ms += (c->s[p] - '0') * scale;
		scale /= 10;
	}
	if (n == 0)
		return seterr(c, p, "no digits after the decimal point");
	*pos = p;
	return 0;
}

/* "Z", "+HH:MM" or "+HHMM": the offset east of UTC in *ret. */
static int
parse_offset(const struct cur *c, size_t *pos, int64_t *ret)
{
	size_t p = *pos;
	int h, m, sign;

	if (at_char(c, p, 'Z') || at_char(c, p, 'z')) {
		*ret = 0;
		*pos = p + 1;
		return 0;
	}
	if (!at_char(c, p, '+') && !at_char(c, p, '-'))
		return seterr(c, p, "expected a UTC offset");
	sign = c->s[p] == '-' ? -1 : 1;
	if (!digits(c, p + 1, 2, &h))
		return seterr(c, p, "bad UTC offset");
	p += 3;
	if (at_char(c, p, ':'))
		p++;
	if (!digits(c, p, 2, &m) || h > 23 || m > 59)
		return seterr(c, *pos, "bad UTC offset");
	*ret = sign * (h * 3600 + m * 60);
	*pos = p + 2;
	return 0;
}

/* "2026-11-24T06:02:36.123456+00:00 ": *pos past the space. */
static int
parse_rfc3339_stamp(const struct cur *c, size_t *pos, int64_t *ret)
{
	struct civil t = { 0 };
	int64_t off = 0;
	size_t p = 19;
	int r;

	if ((r = parse_date_time(c, &t)) < 0)
		return r;
	if (!at_char(c, 10, 'T') && !at_char(c, 10, 't'))
		return seterr(c, 10, "expected 'T' after the date");
	if ((r = parse_fraction(c, &p, &t.ms)) < 0 || (r = parse_offset(c, &p, &off)) < 0)
		return r;
	if (!at_char(c, p, ' '))
		return seterr(c, p, "expected a space after the time");
	*ret = civil_to_ms_offset(&t, off);
	*pos = p + 1;
	return 0;
}

/* "2026-11-24 06:02:36 ": local time; *pos past the space (or at the end). */
static int
parse_dpkg_stamp(const struct cur *c, const struct ht_logline_ctx *ctx, size_t *pos,
    int64_t *ret)
{
	struct civil t = { 0 };
	int r;

	if ((r = parse_date_time(c, &t)) < 0)
		return r;
	if (c->len > 19 && !at_char(c, 19, ' '))
		return seterr(c, 19, "expected a space after the time");
	if (!civil_to_ms_local(ctx, &t, ret))
		return seterr(c, 0, "time not representable in the local zone");
	*pos = c->len > 19 ? 20 : 19;
	return 0;
}

/* What the pieces of a syslog line are, as offsets. */
struct parts {
	size_t host, host_len;
	size_t ident, ident_len;	/* ident_len 0: no tag */
	size_t msg;
	int64_t pid;
};

/* "ident[pid]:" or "ident:" at p; false if there is no tag there. */
static bool
parse_tag(const struct cur *c, size_t p, struct parts *pt)
{
	size_t q = p, d;
	int64_t pid = 0;

	while (q < c->len && c->s[q] != ':' && c->s[q] != '[' && c->s[q] != ' ')
		q++;
	if (q == p || q == c->len || c->s[q] == ' ')
		return false;
	pt->ident = p;
	pt->ident_len = q - p;
	pt->pid = -1;
	if (c->s[q] == '[') {
		for (d = q + 1; d < c->len && c->s[d] >= '0' && c->s[d] <= '9' && d - q <= 10; d++)
			pid = pid * 10 + (c->s[d] - '0');
		if (d == q + 1 || !at_char(c, d, ']') || !at_char(c, d + 1, ':'))
			return false;
		pt->pid = pid;
		q = d + 1;
	}
	q++;				/* the colon */
	if (at_char(c, q, ' '))
		q++;
	pt->msg = q;
	return true;
}

/* "host tag: msg" from p on. */
static int
parse_host_tag(const struct cur *c, size_t p, struct parts *pt)
{
	size_t q = p;

	while (q < c->len && c->s[q] != ' ')
		q++;
	if (q == p)
		return seterr(c, p, "no hostname");
	pt->host = p;
	pt->host_len = q - p;
	pt->pid = -1;
	pt->ident_len = 0;
	if (q == c->len) {
		pt->msg = q;
		return 0;
	}
	q++;
	if (!parse_tag(c, q, pt)) {
		pt->ident_len = 0;
		pt->pid = -1;
		pt->msg = q;
	}
	return 0;
}

/* The result: the struct with copies of its strings behind it. */
static int
build(const struct cur *c, enum ht_logline_format fmt, int64_t time_ms,
    const struct parts *pt, struct ht_logline **ret)
{
	size_t msg_len = c->len - pt->msg;
	struct ht_logline *l;
	char *p;

	l = malloc(sizeof(*l) + pt->host_len + 1 + pt->ident_len + 1 + msg_len + 1);
	if (l == NULL)
		return -ENOMEM;
	p = (char *)(l + 1);
	l->format = fmt;
	l->time_ms = time_ms;
	l->pid = pt->pid;
	l->hostname = NULL;
	l->ident = NULL;
	if (fmt != HT_LOGLINE_DPKG) {
		memcpy(p, c->s + pt->host, pt->host_len);
		p[pt->host_len] = '\0';
		l->hostname = p;
		p += pt->host_len + 1;
	}
	if (pt->ident_len > 0) {
		memcpy(p, c->s + pt->ident, pt->ident_len);
		p[pt->ident_len] = '\0';
		l->ident = p;
		p += pt->ident_len + 1;
	}
	memcpy(p, c->s + pt->msg, msg_len);
	p[msg_len] = '\0';
	l->message = p;
	l->message_len = msg_len;
	*ret = l;
	return 0;
}

/* The format the line's first bytes announce, or 0 for none. */
static enum ht_logline_format
detect(const struct cur *c)
{
	int v, m;

	if (digits(c, 0, 4, &v) && at_char(c, 4, '-'))
		return at_char(c, 10, ' ') ? HT_LOGLINE_DPKG : HT_LOGLINE_RFC3339;
	for (m = 0; m < 12; m++)
		if (c->len >= 3 && memcmp(c->s, months[m], 3) == 0)
			return HT_LOGLINE_SYSLOG;
	return 0;
}

static const char *
format_name(enum ht_logline_format f)
{
	switch (f) {
	case HT_LOGLINE_SYSLOG:
		return "syslog";
	case HT_LOGLINE_RFC3339:
		return "RFC 3339 syslog";
	case HT_LOGLINE_DPKG:
		return "dpkg.log";
	}
	return "?";
}

static int
split(const struct cur *c, const struct ht_logline_ctx *ctx, struct ht_logline **ret)
{
	enum ht_logline_format fmt = detect(c);
	struct parts pt = { 0 };
	size_t pos = 0;
	int64_t ms = 0;
	int r;

	if (fmt == 0)
		return seterr(c, 0, "no syslog, RFC 3339 or dpkg.log timestamp");
	if (ctx->formats != 0 && (ctx->formats & fmt) == 0)
		return seterr(c, 0, "a %s line, not expected here", format_name(fmt));
	switch (fmt) {
	case HT_LOGLINE_SYSLOG:
		r = parse_syslog_stamp(c, ctx, &pos, &ms);
		break;
	case HT_LOGLINE_RFC3339:
		r = parse_rfc3339_stamp(c, &pos, &ms);
		break;
	case HT_LOGLINE_DPKG:
		r = parse_dpkg_stamp(c, ctx, &pos, &ms);
		break;
	default:
		r = seterr(c, 0, "unknown format");
		break;
	}
	if (r < 0)
		return r;
	if (fmt == HT_LOGLINE_DPKG) {
		pt.pid = -1;
		pt.msg = pos;
	} else if ((r = parse_host_tag(c, pos, &pt)) < 0) {
		return r;
	}
	return build(c, fmt, ms, &pt, ret);
}

int
ht_logline_parse(const char *line, size_t len, const struct ht_logline_ctx *ctx,
    struct ht_logline **ret, char *errbuf, size_t errlen)
{
	static const struct ht_logline_ctx utc;
	struct ht_logline_ctx cx;
	struct cur c = { line, len, 0, errbuf, errlen };
	const char *nul;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	cx = ctx != NULL ? *ctx : utc;
	/* Years 1970-9999 keep every computation far from overflow. */
	if (cx.ref_ms < 0)
		cx.ref_ms = 0;
	if (cx.ref_ms > REF_MS_MAX)
		cx.ref_ms = REF_MS_MAX;
	if (c.len > 0 && c.s[c.len - 1] == '\n')
		c.len--;
	if (c.len > 0 && c.s[c.len - 1] == '\r')
		c.len--;
	if (c.len > HT_LOGLINE_MAX) {
		(void)seterr(&c, HT_LOGLINE_MAX, "line longer than %d bytes", HT_LOGLINE_MAX);
		return -E2BIG;
	}
	while (c.base < c.len && c.s[c.base] == '\0')
		c.base++;
	if ((nul = memchr(c.s + c.base, '\0', c.len - c.base)) != NULL)
		return seterr(&c, (size_t)(nul - c.s) - c.base, "NUL byte");
	if (c.base == c.len)
		return seterr(&c, 0, "empty line");
	c.s += c.base;
	c.len -= c.base;
	return split(&c, &cx, ret);
}

void
ht_logline_free(struct ht_logline *l)
{
	free(l);
}

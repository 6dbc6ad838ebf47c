/*
 * test_logline.c - daemon/sources/logline.c: the three line formats as
 * Debian 12 and RHEL 9 write them (rsyslog's RFC 3339 and traditional
 * stamps, dpkg.log), the year of a traditional stamp around the reference
 * time, time zones (fixed offsets and the process's zone), tags with and
 * without a pid, lines without a tag, and every refusal with its reason
 * and byte offset.
 */
#include "ht_build.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sources/logline.h"

#define UNUSED __attribute__((unused))

/* 2026-11-24T06:02:36Z and a few references around it. */
#define T_1124 1795500156000LL
#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)

static const struct ht_logline_ctx utc_now = { 0, T_1124 + HOUR_MS, false, 0 };

static struct ht_logline *
parse_ok(const char *line, const struct ht_logline_ctx *ctx)
{
	struct ht_logline *l = NULL;
	char err[256] = "";
	int r = ht_logline_parse(line, strlen(line), ctx, &l, err, sizeof(err));

	if (r != 0) {
		print_error("'%s': %d %s\n", line, r, err);
		fail();
	}
	assert_non_null(l);
	assert_int_equal(l->message_len, strlen(l->message));
	return l;
}

/* line is refused with errno r and exactly the reason want. */
static void
check_err(const char *line, size_t len, const struct ht_logline_ctx *ctx, int want_r,
    const char *want)
{
	struct ht_logline *l = NULL;
	char err[256] = "x";
	int r = ht_logline_parse(line, len, ctx, &l, err, sizeof(err));

	if (r != want_r || strcmp(err, want) != 0) {
		print_error("'%.60s': want %d \"%s\", got %d \"%s\"\n", line, want_r, want, r,
		    err);
		fail();
	}
	assert_null(l);
}

#define parse_err(line, want) check_err(line, strlen(line), &utc_now, -EINVAL, want)

static void
assert_parts(const struct ht_logline *l, enum ht_logline_format fmt, int64_t time_ms,
    const char *host, const char *ident, int64_t pid, const char *msg)
{
	assert_int_equal(l->format, fmt);
	assert_int_equal(l->time_ms, time_ms);
	if (host == NULL)
		assert_null(l->hostname);
	else
		assert_string_equal(l->hostname, host);
	if (ident == NULL)
		assert_null(l->ident);
	else
		assert_string_equal(l->ident, ident);
	assert_int_equal(l->pid, pid);
	assert_string_equal(l->message, msg);
}

/* ---- RFC 3339 (Debian 12's rsyslog) ---- */

static void
test_rfc3339(void **state UNUSED)
{
	static const struct {
		const char *line;
		int64_t ms;
	} stamps[] = {
		{ "2026-11-24T06:02:36.123456+00:00 h x: m", T_1124 + 123 },
		{ "2026-11-24T06:02:36+00:00 h x: m", T_1124 },
		{ "2026-11-24T06:02:36Z h x: m", T_1124 },
		{ "2026-11-24t06:02:36z h x: m", T_1124 },
		{ "2026-11-24T06:02:36.5Z h x: m", T_1124 + 500 },
		{ "2026-11-24T06:02:36.999999999Z h x: m", T_1124 + 999 },
		{ "2026-11-24T07:02:36.123+01:00 h x: m", T_1124 + 123 },
		{ "2026-11-24T00:32:36-05:30 h x: m", T_1124 },
		{ "2026-11-24T06:02:36+0000 h x: m", T_1124 },	/* journalctl -o short-iso */
		{ "2026-11-24T08:02:36+0200 h x: m", T_1124 },
		{ "2026-11-25T05:02:36+23:00 h x: m", T_1124 },
		{ "1970-01-01T00:00:00Z h x: m", 0 },
		{ "2024-02-29T12:00:00Z h x: m", 1709208000000LL },
		{ "2016-12-31T23:59:60Z h x: m", 1483228800000LL },	/* leap second */
	};
	struct ht_logline *l;
	size_t i;

	l = parse_ok("2026-11-24T06:02:36.123456+00:00 deb12 sshd[1234]: Accepted publickey "
	    "for alice from 192.0.2.7 port 50522 ssh2: ED25519 SHA256:abc", &utc_now);
	assert_parts(l, HT_LOGLINE_RFC3339, T_1124 + 123, "deb12", "sshd", 1234,
	    "Accepted publickey for alice from 192.0.2.7 port 50522 ssh2: ED25519 SHA256:abc");
	ht_logline_free(l);
	for (i = 0; i < sizeof(stamps) / sizeof(stamps[0]); i++) {
		l = parse_ok(stamps[i].line, &utc_now);
		if (l->time_ms != stamps[i].ms) {
			print_error("%s: want %lld, got %lld\n", stamps[i].line,
			    (long long)stamps[i].ms, (long long)l->time_ms);
			fail();
		}
		ht_logline_free(l);
	}
	/* The zone of ctx does not apply: the line says its offset. */
	{
		struct ht_logline_ctx ctx = { 0, 0, false, 7200 };

		l = parse_ok("2026-11-24T06:02:36Z h x: m", &ctx);
		assert_int_equal(l->time_ms, T_1124);
		ht_logline_free(l);
	}
	/* ctx NULL: all formats, UTC */
	l = parse_ok("2026-11-24T06:02:36Z host sudo: x", NULL);
	assert_parts(l, HT_LOGLINE_RFC3339, T_1124, "host", "sudo", -1, "x");
	ht_logline_free(l);
}

/* ---- traditional stamps (RHEL 9's /var/log/secure) ---- */

static void
test_syslog(void **state UNUSED)
{
	struct ht_logline_ctx ctx = utc_now;
	struct ht_logline *l;

	l = parse_ok("Nov 24 06:02:36 rhel9 sshd[1234]: Failed password for invalid user bob "
	    "from 192.0.2.9 port 4242 ssh2", &ctx);
	assert_parts(l, HT_LOGLINE_SYSLOG, T_1124, "rhel9", "sshd", 1234,
	    "Failed password for invalid user bob from 192.0.2.9 port 4242 ssh2");
	ht_logline_free(l);

	/* space-padded, zero-padded and one-digit days */
	l = parse_ok("Nov  4 06:02:36 h x: m", &ctx);
	assert_int_equal(l->time_ms, T_1124 - 20 * DAY_MS);
	ht_logline_free(l);
	l = parse_ok("Nov 04 06:02:36 h x: m", &ctx);
	assert_int_equal(l->time_ms, T_1124 - 20 * DAY_MS);
	ht_logline_free(l);
	l = parse_ok("Nov 4 06:02:36 h x: m", &ctx);
	assert_int_equal(l->time_ms, T_1124 - 20 * DAY_MS);
	ht_logline_free(l);

	/* a fixed offset: the stamp is local time */
	ctx.utc_offset_s = 3600;
	l = parse_ok("Nov 24 07:02:36 h x: m", &ctx);
	assert_int_equal(l->time_ms, T_1124);
	ht_logline_free(l);
	ctx.utc_offset_s = -5 * 3600;
	l = parse_ok("Nov 24 01:02:36 h x: m", &ctx);
	assert_int_equal(l->time_ms, T_1124);
	ht_logline_free(l);
}

/* The year: the latest that puts the line no more than a day after the
 * reference. */
static void
test_syslog_year(void **state UNUSED)
{
	struct ht_logline_ctx ctx = { 0, 0, false, 0 };
	struct ht_logline *l;

	ctx.ref_ms = T_1124 - 23 * HOUR_MS;		/* a day ahead at most: this year */
	l = parse_ok("Nov 24 06:02:36 h x: m", &ctx);
	assert_int_equal(l->time_ms, T_1124);
	ht_logline_free(l);
	ctx.ref_ms = T_1124 - 25 * HOUR_MS;		/* more: last year's */
	l = parse_ok("Nov 24 06:02:36 h x: m", &ctx);
	assert_int_equal(l->time_ms, 1763964156000LL);	/* 2025-11-24T06:02:36Z */
	ht_logline_free(l);
	ctx.ref_ms = 1798761610000LL;			/* 2027-01-01T00:00:10Z */
	l = parse_ok("Dec 31 23:59:59 h x: m", &ctx);
	assert_int_equal(l->time_ms, 1798761599000LL);	/* 2026-12-31 */
	ht_logline_free(l);
	ctx.ref_ms = 1798761599000LL;			/* 2026-12-31T23:59:59Z */
	l = parse_ok("Jan  1 00:00:05 h x: m", &ctx);
	assert_int_equal(l->time_ms, 1798761605000LL);	/* 2027-01-01, just after */
	ht_logline_free(l);
	ctx.ref_ms = 1803859200000LL;			/* 2027-03-01T00:00:00Z */
	l = parse_ok("Feb 29 12:00:00 h x: m", &ctx);
	assert_int_equal(l->time_ms, 1709208000000LL);	/* 2024-02-29, the last leap day */
	ht_logline_free(l);
	/* the reference in a zone east of UTC: it is already 2027 there */
	ctx.ref_ms = 1798758000000LL;			/* 2026-12-31T23:00:00Z */
	ctx.utc_offset_s = 2 * 3600;
	l = parse_ok("Jan  1 00:30:00 h x: m", &ctx);
	assert_int_equal(l->time_ms, 1798756200000LL);	/* 2027-01-01T00:30+02:00 */
	ht_logline_free(l);
}

/* The process's zone, DST and all (a POSIX rule: no tzdata needed). */
static void
test_local_tz(void **state UNUSED)
{
	struct ht_logline_ctx ctx = { 0, T_1124, true, 0 };
	char *old = getenv("TZ") != NULL ? strdup(getenv("TZ")) : NULL;
	struct ht_logline *l;

	setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
	tzset();
	l = parse_ok("Jul  1 12:00:00 h x: m", &ctx);
	assert_int_equal(l->time_ms, 1782900000000LL);	/* 2026-07-01T10:00Z (CEST) */
	ht_logline_free(l);
	l = parse_ok("Nov 24 07:02:36 h x: m", &ctx);
	assert_int_equal(l->time_ms, T_1124);		/* CET */
	ht_logline_free(l);
	l = parse_ok("2026-07-01 12:00:00 install a:amd64 <none> 1", &ctx);
	assert_int_equal(l->time_ms, 1782900000000LL);
	ht_logline_free(l);
	/* RFC 3339 says its offset: the zone does not matter */
	l = parse_ok("2026-11-24T06:02:36Z h x: m", &ctx);
	assert_int_equal(l->time_ms, T_1124);
	ht_logline_free(l);
	if (old != NULL)
		setenv("TZ", old, 1);
	else
		unsetenv("TZ");
	free(old);
	tzset();
}

/* ---- dpkg.log ---- */

static void
test_dpkg(void **state UNUSED)
{
	struct ht_logline_ctx ctx = { HT_LOGLINE_DPKG, 0, false, 0 };
	struct ht_logline *l;

	l = parse_ok("2026-11-24 06:02:36 install curl:amd64 <none> 7.88.1-10+deb12u5", &ctx);
	assert_parts(l, HT_LOGLINE_DPKG, T_1124, NULL, NULL, -1,
	    "install curl:amd64 <none> 7.88.1-10+deb12u5");
	ht_logline_free(l);
	l = parse_ok("2026-11-24 06:02:36 status half-configured curl:amd64 7.88.1-10\n", &ctx);
	assert_string_equal(l->message, "status half-configured curl:amd64 7.88.1-10");
	ht_logline_free(l);
	l = parse_ok("2026-11-24 06:02:36", &ctx);	/* nothing after the time */
	assert_string_equal(l->message, "");
	ht_logline_free(l);
	ctx.utc_offset_s = 3600;			/* local time at +01:00 */
	l = parse_ok("2026-11-24 07:02:36 startup archives unpack", &ctx);
	assert_int_equal(l->time_ms, T_1124);
	assert_string_equal(l->message, "startup archives unpack");
	ht_logline_free(l);
	/* a dpkg.log source refuses other lines, and the other way round */
	check_err("Nov 24 06:02:36 h x: m", 22, &ctx, -EINVAL,
	    "a syslog line, not expected here at byte 0");
	ctx.formats = HT_LOGLINE_SYSLOG | HT_LOGLINE_RFC3339;
	check_err("2026-11-24 06:02:36 install x", 29, &ctx, -EINVAL,
	    "a dpkg.log line, not expected here at byte 0");
}

/* ---- tags ---- */

static void
test_tags(void **state UNUSED)
{
	static const struct {
		const char *rest;	/* after "Nov 24 06:02:36 " */
		const char *host, *ident;
		int64_t pid;
		const char *msg;
	} rows[] = {
		{ "h kernel: [ 12.345] usb 1-1: new device", "h", "kernel", -1,
		  "[ 12.345] usb 1-1: new device" },
		{ "h sudo:    alice : TTY=pts/0", "h", "sudo", -1, "   alice : TTY=pts/0" },
		{ "h sshd[1]:msg", "h", "sshd", 1, "msg" },
		{ "h systemd-logind[812]: New session 3 of user alice.", "h", "systemd-logind", 812,
		  "New session 3 of user alice." },
		{ "h postfix/smtpd[77]: connect", "h", "postfix/smtpd", 77, "connect" },
		{ "h (sd-pam)[5]: x", "h", "(sd-pam)", 5, "x" },
		{ "h sshd[1234]:", "h", "sshd", 1234, "" },
		{ "h sshd[1234]: ", "h", "sshd", 1234, "" },
		{ "h sshd[4294967295]: x", "h", "sshd", 4294967295LL, "x" },
		/* no tag: the rest is the message */
		{ "h -- MARK --", "h", NULL, -1, "-- MARK --" },
		{ "h message without a tag: here", "h", NULL, -1, "message without a tag: here" },
		{ "h sshd[12345678901]: x", "h", NULL, -1, "sshd[12345678901]: x" },
		{ "h sshd[abc]: x", "h", NULL, -1, "sshd[abc]: x" },
		{ "h sshd[12] x", "h", NULL, -1, "sshd[12] x" },
		{ "h :x", "h", NULL, -1, ":x" },
		{ "h ", "h", NULL, -1, "" },
		{ "h", "h", NULL, -1, "" },
		{ "192.0.2.1 x: \xff\xfe binary", "192.0.2.1", "x", -1, "\xff\xfe binary" },
	};
	struct ht_logline *l;
	char line[256];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(line, sizeof(line), "Nov 24 06:02:36 %s", rows[i].rest);
		l = parse_ok(line, &utc_now);
		assert_parts(l, HT_LOGLINE_SYSLOG, T_1124, rows[i].host, rows[i].ident,
		    rows[i].pid, rows[i].msg);
		ht_logline_free(l);
	}
}

/* ---- line ends, NULs, length ---- */

static void
test_framing(void **state UNUSED)
{
	static const char crash[] = "\0\0\0\0Nov 24 06:02:36 h x: m";
	static const char nul[] = "Nov 24 06:02:36 h x: m\0m";
	struct ht_logline *l = NULL;
	char err[64];
	char *big;

	l = parse_ok("Nov 24 06:02:36 h x: m\r\n", &utc_now);
	assert_string_equal(l->message, "m");
	ht_logline_free(l);
	l = parse_ok("Nov 24 06:02:36 h x: m\n", &utc_now);
	assert_string_equal(l->message, "m");
	ht_logline_free(l);
	/* the NULs a crash leaves before the next line are skipped */
	assert_int_equal(ht_logline_parse(crash, sizeof(crash) - 1, &utc_now, &l, err,
	    sizeof(err)), 0);
	assert_parts(l, HT_LOGLINE_SYSLOG, T_1124, "h", "x", -1, "m");
	ht_logline_free(l);
	check_err(nul, sizeof(nul) - 1, &utc_now, -EINVAL, "NUL byte at byte 22");
	check_err("\0\0Nov 99", 8, &utc_now, -EINVAL, "bad day at byte 8");
	check_err("\0\0", 2, &utc_now, -EINVAL, "empty line at byte 2");
	check_err("", 0, &utc_now, -EINVAL, "empty line at byte 0");
	check_err("\n", 1, &utc_now, -EINVAL, "empty line at byte 0");

	/* HT_LOGLINE_MAX bytes (plus a newline) pass, one more does not */
	big = malloc(HT_LOGLINE_MAX + 2);
	assert_non_null(big);
	memcpy(big, "Nov 24 06:02:36 h x: ", 21);
	memset(big + 21, 'a', HT_LOGLINE_MAX - 21);
	big[HT_LOGLINE_MAX] = '\n';
	assert_int_equal(ht_logline_parse(big, HT_LOGLINE_MAX + 1, &utc_now, &l, err,
	    sizeof(err)), 0);
	assert_int_equal(l->message_len, HT_LOGLINE_MAX - 21);
	ht_logline_free(l);
	big[HT_LOGLINE_MAX] = 'a';
	check_err(big, HT_LOGLINE_MAX + 1, &utc_now, -E2BIG,
	    "line longer than 65536 bytes at byte 65536");
	free(big);
}

/* ---- refusals ---- */

static void
test_errors(void **state UNUSED)
{
	struct ht_logline *l = NULL;
	char tiny[8];

	parse_err("garbage", "no syslog, RFC 3339 or dpkg.log timestamp at byte 0");
	parse_err("nov 24 06:02:36 h x: m", "no syslog, RFC 3339 or dpkg.log timestamp at byte 0");
	parse_err("Nov-24 06:02:36 h x: m", "bad month at byte 0");
	parse_err("Nov 32 06:02:36 h x: m", "bad day at byte 4");
	parse_err("Nov 00 06:02:36 h x: m", "bad day at byte 4");
	parse_err("Nov xx 06:02:36 h x: m", "bad day at byte 4");
	parse_err("Nov 240 06:02:36 h x: m", "bad day at byte 6");
	parse_err("Nov 24 24:02:36 h x: m", "bad time at byte 7");
	parse_err("Nov 24 06:60:36 h x: m", "bad time at byte 7");
	parse_err("Nov 24 06:02:61 h x: m", "bad time at byte 7");
	parse_err("Nov 24 06:02 h x: m", "bad time at byte 7");
	parse_err("Nov 24 06:02:36", "expected a space after the time at byte 15");
	parse_err("Nov 24 06:02:36.123 h x: m", "expected a space after the time at byte 15");
	parse_err("Nov 24 06:02:36  h x: m", "no hostname at byte 16");
	parse_err("Nov 24 06:02:36 ", "no hostname at byte 16");
	parse_err("Nov 31 06:02:36 h x: m", "no such date at byte 4");
	parse_err("2026-13-01T00:00:00Z h x: m", "bad month at byte 5");
	parse_err("2026-02-29T00:00:00Z h x: m", "bad day at byte 8");
	parse_err("2026-11-24T06:02:36+00:00", "expected a space after the time at byte 25");
	parse_err("2026-11-24T06:02:36", "expected a UTC offset at byte 19");
	parse_err("2026-11-24T06:02:36 h x: m", "expected a UTC offset at byte 19");
	parse_err("2026-11-24T06:02:36.Z h x: m", "no digits after the decimal point at byte 20");
	parse_err("2026-11-24T06:02:36+24:00 h x: m", "bad UTC offset at byte 19");
	parse_err("2026-11-24T06:02:36+05:60 h x: m", "bad UTC offset at byte 19");
	parse_err("2026-11-24T06:02:36+5 h x: m", "bad UTC offset at byte 19");
	parse_err("2026-11-24T06:02:36+05: h x: m", "bad UTC offset at byte 19");
	parse_err("2026-11-24T6:02:36Z h x: m", "bad time at byte 11");
	parse_err("2026-11-24X06:02:36Z h x: m", "expected 'T' after the date at byte 10");
	parse_err("2026-11-24T06:02:36Z ", "no hostname at byte 21");
	parse_err("1969-12-31T23:59:59Z h x: m", "year before 1970 at byte 0");
	parse_err("2026-1-24T06:02:36Z h x: m", "bad date at byte 0");
	parse_err("2026-11-24 06:02:36x", "expected a space after the time at byte 19");
	parse_err("2026-11-24 06:02", "bad time at byte 11");

	/* a short errbuf is cut, a NULL one is fine */
	assert_int_equal(ht_logline_parse("garbage", 7, NULL, &l, tiny, sizeof(tiny)), -EINVAL);
	assert_string_equal(tiny, "no sysl");
	assert_int_equal(ht_logline_parse("garbage", 7, NULL, &l, NULL, 0), -EINVAL);
	assert_null(l);
	ht_logline_free(NULL);
}

/* Extreme reference times are clamped, not overflowed. */
static void
test_extreme_ref(void **state UNUSED)
{
	struct ht_logline_ctx ctx = { 0, INT64_MAX, false, 0 };
	struct ht_logline *l;

	l = parse_ok("Dec 31 23:59:59 h x: m", &ctx);
	assert_int_equal(l->time_ms, 253402300799000LL);	/* 9999-12-31T23:59:59Z */
	ht_logline_free(l);
	ctx.ref_ms = INT64_MIN;
	l = parse_ok("Jan  1 00:00:00 h x: m", &ctx);
	assert_int_equal(l->time_ms, 0);
	ht_logline_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_syslog),
		cmocka_unit_test(test_syslog_year),
		cmocka_unit_test(test_local_tz),
		cmocka_unit_test(test_dpkg),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_extreme_ref),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_util.c - common/util.c: time formats, randomness, unit parsing and
 * CloudTrail's naming rules.  Each parser gets tables of inputs it must take
 * (with the exact value) and inputs it must refuse (with the exact error),
 * and every refusal also checks that the output was left untouched.
 */
#include "ht_build.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
test_iso8601_format(void **state __attribute__((unused)))
{
	char buf[HT_ISO8601_LEN];

	ht_time_iso8601(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	ht_time_iso8601(1704067200, buf);
	assert_string_equal(buf, "2024-01-01T00:00:00Z");
	ht_time_iso8601(1709210096, buf);
	assert_string_equal(buf, "2024-02-29T12:34:56Z");
	ht_time_iso8601(-1, buf);
	assert_string_equal(buf, "1969-12-31T23:59:59Z");
	/* Past year 9999 the fixed-width form cannot hold it: clamped. */
	ht_time_iso8601((time_t)400000000000LL, buf);
	assert_string_equal(buf, "9999-12-31T23:59:59Z");
	assert_int_equal(strlen(buf), HT_ISO8601_LEN - 1);
}

static void
test_iso8601_parse_good(void **state __attribute__((unused)))
{
	static const struct { const char *s; time_t t; } good[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2024-01-01T00:00:00Z", 1704067200 },
		{ "2024-02-29T12:34:56Z", 1709210096 },
		{ "2000-02-29T00:00:00Z", 951782400 },
		{ "1969-12-31T23:59:59Z", -1 },
		{ "2023-12-31T23:59:59Z", 1704067199 },
	};
	char buf[HT_ISO8601_LEN];
	time_t t;

	for (size_t i = 0; i < N(good); i++) {
		t = 42;
		assert_int_equal(ht_time_parse_iso8601(good[i].s, &t), 0);
		assert_int_equal(t, good[i].t);
		ht_time_iso8601(t, buf);
		assert_string_equal(buf, good[i].s);
	}
}

static void
test_iso8601_parse_bad(void **state __attribute__((unused)))
{
	static const char *const bad[] = {
		"2023-02-29T00:00:00Z",	/* not a leap year */
		"1900-02-29T00:00:00Z",	/* century, not a leap year */
		"2024-02-30T00:00:00Z",
		"2024-04-31T00:00:00Z",
		"2024-00-10T00:00:00Z",
		"2024-13-01T00:00:00Z",
		"2024-01-00T00:00:00Z",
		"2024-01-01T24:00:00Z",
		"2024-01-01T00:60:00Z",
		"2024-01-01T00:00:60Z",
		"2024-01-01T00:00:00z",
		"2024-01-01t00:00:00Z",
		"2024-01-01T00:00:00",
		"2024-01-01T00:00:00+00:00",
		"2024-01-01T00:00:00.000Z",
		"2024-01-01 00:00:00Z",
		"2024-1-01T00:00:00Z",
		" 2024-01-01T00:00:00Z",
		"2024-01-01T00:00:00Z ",
		"+024-01-01T00:00:00Z",
		"",
		"garbage",
	};
	time_t t = 42;

	for (size_t i = 0; i < N(bad); i++) {
		assert_int_equal(ht_time_parse_iso8601(bad[i], &t), -EINVAL);
		assert_int_equal(t, 42);
	}
	assert_int_equal(ht_time_parse_iso8601(NULL, &t), -EINVAL);
}

static void
test_clocks(void **state __attribute__((unused)))
{
	int64_t now = ht_now_ms(), m1, m2;

	assert_true(now > 1577836800000LL);		/* after 2020 */
	assert_true(now < 4102444800000LL);		/* before 2100 */
	m1 = ht_mono_ms();
	m2 = ht_mono_ms();
	assert_true(m1 > 0);
	assert_true(m2 >= m1);
}

static void
test_random_bytes(void **state __attribute__((unused)))
{
	unsigned char a[32] = { 0 }, b[32] = { 0 }, zero[32] = { 0 };
	unsigned char *big = malloc(1 << 20);

	assert_int_equal(ht_random_bytes(a, sizeof(a)), 0);
	assert_int_equal(ht_random_bytes(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_int_equal(ht_random_bytes(a, 0), 0);
	/* More than one getrandom() call can return. */
	assert_non_null(big);
	memset(big, 0, 1 << 20);
	assert_int_equal(ht_random_bytes(big, 1 << 20), 0);
	assert_memory_not_equal(big + (1 << 20) - 32, zero, 32);
	free(big);
}

static void
test_uuid(void **state __attribute__((unused)))
{
	char a[HT_UUID_LEN], b[HT_UUID_LEN];

	for (int n = 0; n < 200; n++) {
		assert_int_equal(ht_uuid_v4(a), 0);
		assert_int_equal(strlen(a), 36);
		for (int i = 0; i < 36; i++) {
			if (i == 8 || i == 13 || i == 18 || i == 23)
				assert_int_equal(a[i], '-');
			else
				assert_non_null(strchr("0123456789abcdef", a[i]));
		}
		assert_int_equal(a[14], '4');
		assert_non_null(strchr("89ab", a[19]));
	}
	assert_int_equal(ht_uuid_v4(b), 0);
	assert_string_not_equal(a, b);
}

static void
test_random_alnum(void **state __attribute__((unused)))
{
	static const char set[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	char s[17], t[17], big[20001];
	int seen[256] = { 0 };

	memset(s, 'x', sizeof(s));
	assert_int_equal(ht_random_alnum(s, 16), 0);
	assert_int_equal(strlen(s), 16);
	assert_int_equal(ht_random_alnum(t, 16), 0);
	assert_string_not_equal(s, t);
	assert_int_equal(ht_random_alnum(s, 0), 0);
	assert_string_equal(s, "");
	/* Every one of the 62 characters turns up, and nothing else does. */
	assert_int_equal(ht_random_alnum(big, 20000), 0);
	assert_int_equal(strlen(big), 20000);
	for (int i = 0; i < 20000; i++)
		seen[(unsigned char)big[i]]++;
	for (int c = 0; c < 256; c++) {
		if (c != 0 && strchr(set, c) != NULL)
			assert_true(seen[c] > 0);
		else
			assert_int_equal(seen[c], 0);
	}
}

/* Mapping a random byte straight onto 62 characters would favour the first
 * 8 (256 % 62) by a quarter.  Over 62000 draws they should total about 8000
 * (sd ~85); the biased mapping gives ~9700, past the 6-sd bound. */
static void
test_random_alnum_uniform(void **state __attribute__((unused)))
{
	enum { DRAWS = 62000 };
	char *buf = malloc(DRAWS + 1);
	int first8 = 0;

	assert_non_null(buf);
	assert_int_equal(ht_random_alnum(buf, DRAWS), 0);
	for (int i = 0; i < DRAWS; i++)
		if (buf[i] >= 'A' && buf[i] <= 'H')
			first8++;
	free(buf);
	assert_in_range(first8, 7500, 8500);
}

struct num_case {
	const char *s;
	int ret;
	uint64_t v;
};

static void
check_nums(int (*fn)(const char *, uint64_t *), const struct num_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = 12345;
		int r = fn(c[i].s, &v);

		if (r != c[i].ret || v != (c[i].ret == 0 ? c[i].v : 12345))
			print_message("failing case: \"%s\"\n", c[i].s != NULL ? c[i].s : "(null)");
		assert_int_equal(r, c[i].ret);
		assert_int_equal(v, c[i].ret == 0 ? c[i].v : 12345);
	}
}

static void
test_duration(void **state __attribute__((unused)))
{
	static const struct num_case cases[] = {
		{ "200ms", 0, 200 },
		{ "0ms", 0, 0 },
		{ "5s", 0, 5000 },
		{ "5", 0, 5000 },
		{ "0", 0, 0 },
		{ "5m", 0, 300000 },
		{ "1h", 0, 3600000 },
		{ "2d", 0, 172800000 },
		{ "010s", 0, 10000 },
		{ "18446744073709551615ms", 0, UINT64_MAX },
		{ "18446744073709551616ms", -ERANGE, 0 },
		{ "18446744073709552s", -ERANGE, 0 },
		{ "99999999999999999999999d", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
		{ "-5s", -EINVAL, 0 },
		{ "+5s", -EINVAL, 0 },
		{ "5 s", -EINVAL, 0 },
		{ " 5s", -EINVAL, 0 },
		{ "5s ", -EINVAL, 0 },
		{ "1.5s", -EINVAL, 0 },
		{ "5M", -EINVAL, 0 },
		{ "5sec", -EINVAL, 0 },
		{ "5w", -EINVAL, 0 },
		{ "s", -EINVAL, 0 },
		{ "5ms5", -EINVAL, 0 },
		{ "0x10", -EINVAL, 0 },
		{ NULL, -EINVAL, 0 },
	};

	check_nums(ht_parse_duration_ms, cases, N(cases));
}

static void
test_size(void **state __attribute__((unused)))
{
	static const struct num_case cases[] = {
		{ "512", 0, 512 },
		{ "0", 0, 0 },
		{ "512B", 0, 512 },
		{ "1kB", 0, 1000 },
		{ "1KB", 0, 1000 },
		{ "10MB", 0, 10000000 },
		{ "2GB", 0, 2000000000 },
		{ "3TB", 0, 3000000000000ULL },
		{ "64KiB", 0, 65536 },
		{ "50MiB", 0, 52428800 },
		{ "2GiB", 0, 2147483648ULL },
		{ "1TiB", 0, 1099511627776ULL },
		{ "16777215TiB", 0, 16777215ULL << 40 },
		{ "16777216TiB", -ERANGE, 0 },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ "1 KiB", -EINVAL, 0 },
		{ "1kib", -EINVAL, 0 },
		{ "1Kb", -EINVAL, 0 },
		{ "1mb", -EINVAL, 0 },
		{ "1.5MiB", -EINVAL, 0 },
		{ "MiB", -EINVAL, 0 },
		{ "1MiBx", -EINVAL, 0 },
		{ "1PB", -EINVAL, 0 },
		{ NULL, -EINVAL, 0 },
	};

	check_nums(ht_parse_size, cases, N(cases));
}

static void
test_trail_name(void **state __attribute__((unused)))
{
	static const char *const good[] = {
		"abc", "My.Trail_1-x", "a1b", "1.2.3", "1.2.3.4.5", "1.2.3.a", "1234.1.1.1",
		"a-b.c_d",
	};
	static const struct { const char *name, *why; } bad[] = {
		{ "ab", "must be 3 to 128 characters" },
		{ "", "must be 3 to 128 characters" },
		{ "a b", "may contain only ASCII letters, numbers, periods, underscores and "
			"dashes" },
		{ "caf\xc3\xa9", "may contain only ASCII letters, numbers, periods, underscores "
			"and dashes" },
		{ "-abc", "must start with a letter or number" },
		{ "_abc", "must start with a letter or number" },
		{ "abc.", "must end with a letter or number" },
		{ "a..b", "must not contain adjacent special characters" },
		{ "my-_namespace", "must not contain adjacent special characters" },
		{ "my--namespace", "must not contain adjacent special characters" },
		{ "192.168.5.4", "must not look like an IPv4 address" },
		{ "999.1.1.1", "must not look like an IPv4 address" },
	};
	char name[130];

	for (size_t i = 0; i < N(good); i++)
		assert_null(ht_trail_name_invalid(good[i]));
	for (size_t i = 0; i < N(bad); i++) {
		const char *why = ht_trail_name_invalid(bad[i].name);

		assert_non_null(why);
		assert_string_equal(why, bad[i].why);
	}
	memset(name, 'a', 128);
	name[128] = '\0';
	assert_null(ht_trail_name_invalid(name));
	name[128] = 'a';
	name[129] = '\0';
	assert_string_equal(ht_trail_name_invalid(name), "must be 3 to 128 characters");
	assert_non_null(ht_trail_name_invalid(NULL));
}

static void
test_bucket_name(void **state __attribute__((unused)))
{
	static const char *const good[] = { "abc", "local-spool", "my.bucket-1", "1bucket" };
	static const struct { const char *name, *why; } bad[] = {
		{ "ab", "must be 3 to 63 characters" },
		{ "Local", "may contain only lowercase letters, numbers, periods and dashes" },
		{ "a_b", "may contain only lowercase letters, numbers, periods and dashes" },
		{ "-ab", "must start and end with a letter or number" },
		{ "ab.", "must start and end with a letter or number" },
		{ "a..b", "must not contain two adjacent periods" },
		{ "10.0.0.1", "must not look like an IPv4 address" },
		{ "xn--abc", "must not start with \"xn--\"" },
		{ "foo-s3alias", "must not end with \"-s3alias\"" },
	};
	char name[65];

	for (size_t i = 0; i < N(good); i++)
		assert_null(ht_bucket_name_invalid(good[i]));
	for (size_t i = 0; i < N(bad); i++)
		assert_string_equal(ht_bucket_name_invalid(bad[i].name), bad[i].why);
	memset(name, 'b', 63);
	name[63] = '\0';
	assert_null(ht_bucket_name_invalid(name));
	name[63] = 'b';
	name[64] = '\0';
	assert_non_null(ht_bucket_name_invalid(name));
}

static void
test_topic_channel_names(void **state __attribute__((unused)))
{
	char big[258];

	assert_true(ht_topic_name_valid("a"));
	assert_true(ht_topic_name_valid("log_Delivered-1"));
	assert_false(ht_topic_name_valid(""));
	assert_false(ht_topic_name_valid("a.b"));
	assert_false(ht_topic_name_valid("a b"));
	assert_false(ht_topic_name_valid(NULL));
	memset(big, 'x', 256);
	big[256] = '\0';
	assert_true(ht_topic_name_valid(big));
	big[256] = 'x';
	big[257] = '\0';
	assert_false(ht_topic_name_valid(big));

	assert_true(ht_channel_name_valid("default"));
	assert_true(ht_channel_name_valid("-_x9"));
	assert_false(ht_channel_name_valid(""));
	assert_false(ht_channel_name_valid("a/b"));
	assert_false(ht_channel_name_valid(NULL));
	big[128] = '\0';
	assert_true(ht_channel_name_valid(big));
	big[128] = 'x';
	big[129] = '\0';
	assert_false(ht_channel_name_valid(big));
}

static void
test_account_id(void **state __attribute__((unused)))
{
	assert_true(ht_account_id_valid("000000000000"));
	assert_true(ht_account_id_valid("123456789012"));
	assert_false(ht_account_id_valid("12345678901"));
	assert_false(ht_account_id_valid("1234567890123"));
	assert_false(ht_account_id_valid("12345678901a"));
	assert_false(ht_account_id_valid(" 23456789012"));
	assert_false(ht_account_id_valid(""));
	assert_false(ht_account_id_valid(NULL));
}

static void
test_arns(void **state __attribute__((unused)))
{
	char *a = ht_trail_arn("us-east-2", "123456789012", "MyTrail");
	char *c = ht_channel_arn("onprem-1", "000000000000", "default");

	assert_non_null(a);
	assert_string_equal(a, "arn:aws:cloudtrail:us-east-2:123456789012:trail/MyTrail");
	assert_non_null(c);
	assert_string_equal(c, "arn:aws:cloudtrail:onprem-1:000000000000:channel/default");
	free(a);
	free(c);
}

static void
test_fnv1a(void **state __attribute__((unused)))
{
	/* the published FNV-1a test vectors: names on disk depend on them */
	assert_true(ht_fnv1a64("", 0) == 0xcbf29ce484222325ULL);
	assert_true(ht_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(ht_fnv1a64("foobar", 6) == 0x85944171f73967e8ULL);
	assert_int_equal(ht_fnv1a32_str(""), 0x811c9dc5u);
	assert_int_equal(ht_fnv1a32_str("a"), 0xe40c292cu);
	assert_int_equal(ht_fnv1a32_str("foobar"), 0xbf9cf968u);
}

static void
test_seterr(void **state __attribute__((unused)))
{
	char buf[8];

	ht_seterr(buf, sizeof(buf), "%s %d", "abc", 12345);
	assert_string_equal(buf, "abc 123");	/* cut, terminated */
	ht_seterr(NULL, 0, "%s", "nowhere");	/* no buffer: nothing happens */
	buf[0] = 'x';
	ht_seterr(buf, 0, "%s", "zero");
	assert_int_equal(buf[0], 'x');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fnv1a),
		cmocka_unit_test(test_seterr),
		cmocka_unit_test(test_iso8601_format),
		cmocka_unit_test(test_iso8601_parse_good),
		cmocka_unit_test(test_iso8601_parse_bad),
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_random_alnum),
		cmocka_unit_test(test_random_alnum_uniform),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_trail_name),
		cmocka_unit_test(test_bucket_name),
		cmocka_unit_test(test_topic_channel_names),
		cmocka_unit_test(test_account_id),
		cmocka_unit_test(test_arns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

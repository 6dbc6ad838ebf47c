/*
 * test_cursor.c - daemon/trail/cursor.c: a stored cursor loads back field
 * for field, with and without a plan and a stopAt; a missing file is
 * -ENOENT; garbage or JSON of the wrong shape is -EBADMSG with the path in
 * the message; a store leaves no temporary file behind and replaces the old
 * content whole.
 */
#include "ht_build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "trail/cursor.h"

struct fixture {
	char dir[64];
	char path[PATH_MAX];
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	strcpy(fx->dir, "/tmp/test_cursor.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/default.cursor", fx->dir);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static void
write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* Only the cursor file is in dir (no .tmp or other leftovers). */
static void
expect_only_cursor(const struct fixture *fx)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(fx->dir);

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		assert_string_equal(de->d_name, "default.cursor");
		n++;
	}
	closedir(d);
	assert_int_equal(n, 1);
}

static void
expect_equal(const struct ht_cursor *a, const struct ht_cursor *b)
{
	assert_int_equal(a->pos.day, b->pos.day);
	assert_int_equal(a->pos.offset, b->pos.offset);
	assert_int_equal(a->logging, b->logging);
	assert_int_equal(a->start_logging_time, b->start_logging_time);
	assert_int_equal(a->stop_logging_time, b->stop_logging_time);
	assert_int_equal(a->has_plan, b->has_plan);
	if (a->has_plan) {
		assert_string_equal(a->plan_key, b->plan_key);
		assert_int_equal(a->plan_to.day, b->plan_to.day);
		assert_int_equal(a->plan_to.offset, b->plan_to.offset);
	}
	assert_int_equal(a->has_stop, b->has_stop);
	if (a->has_stop) {
		assert_int_equal(a->stop_at.day, b->stop_at.day);
		assert_int_equal(a->stop_at.offset, b->stop_at.offset);
	}
}

static void
round_trip(const struct fixture *fx, const struct ht_cursor *c)
{
	struct ht_cursor back;
	char err[512] = "";

	assert_int_equal(ht_cursor_store(fx->path, c), 0);
	expect_only_cursor(fx);
	memset(&back, 0x5a, sizeof(back));
	assert_int_equal(ht_cursor_load(fx->path, &back, err, sizeof(err)), 0);
	expect_equal(c, &back);
}

static void
test_round_trip_plain(void **state)
{
	struct ht_cursor c;

	memset(&c, 0, sizeof(c));
	c.pos.day = 20240501;
	c.pos.offset = 16;
	c.logging = true;
	c.start_logging_time = 1714521600;
	round_trip(*state, &c);
}

static void
test_round_trip_plan(void **state)
{
	struct ht_cursor c;

	memset(&c, 0, sizeof(c));
	c.pos.day = 20240501;
	c.pos.offset = 4096;
	c.logging = true;
	c.start_logging_time = 1714521600;
	c.stop_logging_time = 1714500000;
	c.has_plan = true;
	/* Slashes and the like survive (no "\/" escaping surprises). */
	snprintf(c.plan_key, sizeof(c.plan_key), "pre/fix/AWSLogs/o-abc/123456789012/CloudTrail/"
	    "onprem-1/2024/05/01/123456789012_CloudTrail_onprem-1_20240501T0102Z_"
	    "AbCdEfGh12345678.json.gz");
	c.plan_to.day = 20240502;
	c.plan_to.offset = (uint64_t)1 << 40;	/* beyond 32 bits */
	round_trip(*state, &c);
}

static void
test_round_trip_stop(void **state)
{
	struct ht_cursor c;

	memset(&c, 0, sizeof(c));
	c.pos.day = 20240501;
	c.pos.offset = 100;
	c.logging = false;
	c.start_logging_time = 1714521600;
	c.stop_logging_time = 1714525200;
	c.has_stop = true;
	c.stop_at.day = 20240501;
	c.stop_at.offset = 9000;
	round_trip(*state, &c);
	/* Both a stop and a plan. */
	c.has_plan = true;
	strcpy(c.plan_key, "AWSLogs/x.json.gz");
	c.plan_to = c.stop_at;
	round_trip(*state, &c);
}

/* A store replaces everything: a plan or stopAt from before is gone. */
static void
test_store_replaces(void **state)
{
	struct fixture *fx = *state;
	struct ht_cursor c, back;
	char err[256];

	memset(&c, 0, sizeof(c));
	c.pos.day = 20240501;
	c.pos.offset = 16;
	c.logging = false;
	c.has_plan = true;
	strcpy(c.plan_key, "AWSLogs/first.json.gz");
	c.plan_to.day = 20240501;
	c.plan_to.offset = 500;
	c.has_stop = true;
	c.stop_at = c.plan_to;
	round_trip(fx, &c);
	c.has_plan = false;
	c.has_stop = false;
	c.logging = true;
	c.pos.offset = 500;
	round_trip(fx, &c);
	assert_int_equal(ht_cursor_load(fx->path, &back, err, sizeof(err)), 0);
	assert_false(back.has_plan);
	assert_false(back.has_stop);
	assert_true(back.logging);
}

static void
test_missing(void **state)
{
	struct fixture *fx = *state;
	struct ht_cursor c, orig;
	char err[512] = "";

	memset(&c, 0x33, sizeof(c));
	orig = c;
	assert_int_equal(ht_cursor_load(fx->path, &c, err, sizeof(err)), -ENOENT);
	assert_memory_equal(&c, &orig, sizeof(c));
}

/* Each text is refused with -EBADMSG, the path named, *ret untouched. */
static void
test_bad_content(void **state)
{
	static const char *const bad[] = {
		"",
		"garbage",
		"\x01\x02\xff\xfe",
		"null",
		"[]",
		"42",
		"\"position\"",
		"{",
		"{}",
		"{\"position\":null}",
		"{\"position\":{}}",
		"{\"position\":{\"day\":20240501}}",
		"{\"position\":{\"offset\":16}}",
		"{\"position\":{\"day\":\"20240501\",\"offset\":16}}",
		"{\"position\":{\"day\":20240501,\"offset\":\"16\"}}",
		"{\"position\":{\"day\":20240501,\"offset\":-1}}",
		"{\"position\":{\"day\":0,\"offset\":16}}",
		"{\"position\":[20240501,16]}",
		"{\"position\":{\"day\":20240501,\"offset\":16},\"plan\":{}}",
		"{\"position\":{\"day\":20240501,\"offset\":16},\"plan\":{\"key\":\"k\"}}",
		"{\"position\":{\"day\":20240501,\"offset\":16},"
		    "\"plan\":{\"to\":{\"day\":20240501,\"offset\":16}}}",
		"{\"position\":{\"day\":20240501,\"offset\":16},"
		    "\"plan\":{\"key\":\"\",\"to\":{\"day\":20240501,\"offset\":16}}}",
		"{\"position\":{\"day\":20240501,\"offset\":16},"
		    "\"plan\":{\"key\":7,\"to\":{\"day\":20240501,\"offset\":16}}}",
		"{\"position\":{\"day\":20240501,\"offset\":16},"
		    "\"plan\":{\"key\":\"k\",\"to\":\"later\"}}",
		"{\"position\":{\"day\":20240501,\"offset\":16},\"stopAt\":{\"day\":1}}",
		"{\"position\":{\"day\":20240501,\"offset\":16},\"stopAt\":5}",
	};
	struct fixture *fx = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ht_cursor c, orig;
		char err[PATH_MAX + 256];
		int v;

		write_text(fx->path, bad[i]);
		memset(&c, 0x44, sizeof(c));
		orig = c;
		err[0] = '\0';
		v = ht_cursor_load(fx->path, &c, err, sizeof(err));
		if (v != -EBADMSG)
			fail_msg("case %zu (%s): %d, not -EBADMSG", i, bad[i], v);
		if (strstr(err, fx->path) == NULL)
			fail_msg("case %zu: message \"%s\" does not name the file", i, err);
		assert_memory_equal(&c, &orig, sizeof(c));
	}
}

/* Optional fields of the wrong type are wrong shape too: "logging":"no"
 * must not load as logging=true, nor a string as a time. */
static void
test_wrong_field_types(void **state)
{
	static const char *const bad[] = {
		"{\"position\":{\"day\":20240501,\"offset\":16},\"logging\":\"no\"}",
		"{\"position\":{\"day\":20240501,\"offset\":16},\"logging\":1}",
		"{\"position\":{\"day\":20240501,\"offset\":16},\"startLoggingTime\":\"soon\"}",
		"{\"position\":{\"day\":20240501,\"offset\":16},\"stopLoggingTime\":[]}",
	};
	struct fixture *fx = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ht_cursor c;
		char err[PATH_MAX + 256];
		int v;

		write_text(fx->path, bad[i]);
		v = ht_cursor_load(fx->path, &c, err, sizeof(err));
		if (v != -EBADMSG)
			fail_msg("case %zu (%s): %d, not -EBADMSG", i, bad[i], v);
	}
}

/* A plan key too long for plan_key is refused, not cut. */
static void
test_key_too_long(void **state)
{
	struct fixture *fx = *state;
	size_t klen = HT_CURSOR_KEY_MAX;
	char *text = malloc(klen + 256), err[PATH_MAX + 256];
	struct ht_cursor c;
	int n;

	assert_non_null(text);
	n = sprintf(text, "{\"position\":{\"day\":20240501,\"offset\":16},\"plan\":{\"key\":\"");
	memset(text + n, 'k', klen);
	sprintf(text + n + klen, "\",\"to\":{\"day\":20240501,\"offset\":99}}}");
	write_text(fx->path, text);
	assert_int_equal(ht_cursor_load(fx->path, &c, err, sizeof(err)), -EBADMSG);
	/* One shorter fits exactly. */
	memset(text + n, 'k', klen - 1);
	sprintf(text + n + klen - 1, "\",\"to\":{\"day\":20240501,\"offset\":99}}}");
	write_text(fx->path, text);
	assert_int_equal(ht_cursor_load(fx->path, &c, err, sizeof(err)), 0);
	assert_true(c.has_plan);
	assert_int_equal(strlen(c.plan_key), klen - 1);
	free(text);
}

/* A hand-written file in the documented format loads, and optional fields
 * take their defaults. */
static void
test_documented_format(void **state)
{
	struct fixture *fx = *state;
	struct ht_cursor c;
	char err[512];

	write_text(fx->path, "{\"position\":{\"day\":20261124,\"offset\":4096},\"logging\":true,"
	    "\"startLoggingTime\":1795000000,\"stopLoggingTime\":0,"
	    "\"plan\":{\"key\":\"AWSLogs/a.json.gz\",\"to\":{\"day\":20261124,\"offset\":8192}}}");
	assert_int_equal(ht_cursor_load(fx->path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.pos.day, 20261124);
	assert_int_equal(c.pos.offset, 4096);
	assert_true(c.logging);
	assert_int_equal(c.start_logging_time, 1795000000);
	assert_true(c.has_plan);
	assert_string_equal(c.plan_key, "AWSLogs/a.json.gz");
	assert_int_equal(c.plan_to.offset, 8192);
	assert_false(c.has_stop);

	write_text(fx->path, "{\"position\":{\"day\":20261124,\"offset\":16},\"plan\":null}");
	assert_int_equal(ht_cursor_load(fx->path, &c, err, sizeof(err)), 0);
	assert_true(c.logging);
	assert_false(c.has_plan);
	assert_false(c.has_stop);
	assert_int_equal(c.start_logging_time, 0);
}

/* A store into a directory that does not exist fails and leaves nothing. */
static void
test_store_error(void **state)
{
	struct fixture *fx = *state;
	struct ht_cursor c;
	char path[PATH_MAX + 32];

	memset(&c, 0, sizeof(c));
	c.pos.day = 20240501;
	c.pos.offset = 16;
	snprintf(path, sizeof(path), "%s/missing/x.cursor", fx->dir);
	assert_int_equal(ht_cursor_store(path, &c), -ENOENT);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_round_trip_plain),
		T(test_round_trip_plan),
		T(test_round_trip_stop),
		T(test_store_replaces),
		T(test_missing),
		T(test_bad_content),
		T(test_wrong_field_types),
		T(test_key_too_long),
		T(test_documented_format),
		T(test_store_error),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_auditlog.c - the auditlog source's checkpoint file (sources/auditlog.h):
 * what it writes reads back the same, and a file that is cut short, edited
 * into something inconsistent or not a checkpoint at all is refused rather
 * than trusted (the source then starts as on a first run).  Reading the log
 * itself, rotation and restarts are tests/integration/test_auditlog.py.
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

#include <cmocka.h>

#include "sources/auditlog.h"

#define UNUSED __attribute__((unused))

static struct ht_auditlog_file_id files[] = {
	{ 2049, 131074, 256, 0x0123456789abcdefULL },
	{ 2049, 131099, 17, 0xfedcba9876543210ULL },
};
static struct ht_auditlog_open opens[] = {
	{ 1700000000123, 4567, 0, { 0, 900 } },
	{ 1700000001000, 18446744073709551615ULL, 0xdeadbeef, { 1, 0 } },
};

static struct ht_auditlog_checkpoint
sample(void)
{
	return (struct ht_auditlog_checkpoint){ .files = files, .n_files = 2,
		.low = { 0, 900 }, .high = { 1, 4096 }, .open = opens, .n_open = 2,
		.hist_day = 20261124, .hist_off = 123456 };
}

static char *
format(const struct ht_auditlog_checkpoint *cp, const char *path)
{
	char *text;
	size_t len;

	assert_int_equal(ht_auditlog_checkpoint_format(cp, path, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	return text;
}

static int
parse(const char *text, struct ht_auditlog_checkpoint *ret)
{
	return ht_auditlog_checkpoint_parse(text, strlen(text), ret);
}

static void
test_round_trip(void **state UNUSED)
{
	struct ht_auditlog_checkpoint cp = sample(), got, copy;
	char *text = format(&cp, "/var/log/audit/audit.log");

	assert_int_equal(parse(text, &got), 0);
	assert_int_equal(got.n_files, 2);
	assert_memory_equal(got.files, files, sizeof(files));
	assert_int_equal(got.low.file, 0);
	assert_int_equal(got.low.off, 900);
	assert_int_equal(got.high.file, 1);
	assert_int_equal(got.high.off, 4096);
	assert_int_equal(got.n_open, 2);
	assert_memory_equal(got.open, opens, sizeof(opens));
	assert_int_equal(got.hist_day, 20261124);
	assert_int_equal(got.hist_off, 123456);
	assert_int_equal(ht_auditlog_checkpoint_copy(&got, &copy), 0);
	assert_memory_equal(copy.open, opens, sizeof(opens));
	ht_auditlog_checkpoint_clear(&copy);
	ht_auditlog_checkpoint_clear(&got);
	assert_null(got.files);
	free(text);
}

/* No open events, no history position, a path with a newline: still one
 * line each. */
static void
test_minimal(void **state UNUSED)
{
	struct ht_auditlog_checkpoint cp = { .files = files, .n_files = 1,
		.low = { 0, 77 }, .high = { 0, 77 } }, got;
	char *text = format(&cp, "/odd\npath");

	assert_non_null(strstr(text, "path /odd?path\n"));
	assert_null(strstr(text, "history"));
	assert_int_equal(parse(text, &got), 0);
	assert_int_equal(got.n_open, 0);
	assert_int_equal(got.hist_day, 0);
	assert_int_equal(got.low.off, 77);
	ht_auditlog_checkpoint_clear(&got);
	free(text);
}

/* Every prefix of a good file is refused: a torn write is never trusted. */
static void
test_truncated(void **state UNUSED)
{
	struct ht_auditlog_checkpoint cp = sample(), got;
	char *text = format(&cp, "/var/log/audit/audit.log");
	size_t len = strlen(text);

	for (size_t n = 0; n < len; n++)
		assert_int_equal(ht_auditlog_checkpoint_parse(text, n, &got), -EINVAL);
	assert_int_equal(ht_auditlog_checkpoint_parse(text, len, &got), 0);
	ht_auditlog_checkpoint_clear(&got);
	free(text);
}

static void
test_refused(void **state UNUSED)
{
	static const char *const bad[] = {
		"",
		"end\n",
		"hosttrail-auditlog-checkpoint 2\nfile 1 2 3 4\nlow 0 0\nhigh 0 0\nend\n",
		/* no file, no low, no high */
		"hosttrail-auditlog-checkpoint 1\nlow 0 0\nhigh 0 0\nend\n",
		"hosttrail-auditlog-checkpoint 1\nfile 1 2 3 4\nhigh 0 0\nend\n",
		"hosttrail-auditlog-checkpoint 1\nfile 1 2 3 4\nlow 0 0\nend\n",
		/* indexes out of range, low after high, head longer than 256 */
		"hosttrail-auditlog-checkpoint 1\nfile 1 2 3 4\nlow 0 0\nhigh 1 0\nend\n",
		"hosttrail-auditlog-checkpoint 1\nfile 1 2 3 4\nlow 0 9\nhigh 0 8\nend\n",
		"hosttrail-auditlog-checkpoint 1\nfile 1 2 257 4\nlow 0 0\nhigh 0 0\nend\n",
		/* an open event outside [low, high) */
		"hosttrail-auditlog-checkpoint 1\nfile 1 2 3 4\nlow 0 10\nhigh 0 20\n"
		"open 1 2 0 0 20\nend\n",
		"hosttrail-auditlog-checkpoint 1\nfile 1 2 3 4\nlow 0 10\nhigh 0 20\n"
		"open 1 2 0 0 9\nend\n",
		/* junk: trailing text, an unknown line, a repeated low, files after low */
		"hosttrail-auditlog-checkpoint 1\nfile 1 2 3 4\nlow 0 0\nhigh 0 0\nend\nx\n",
		"hosttrail-auditlog-checkpoint 1\nfile 1 2 3 4\nlow 0 0\nhigh 0 0\nnew 1\nend\n",
		"hosttrail-auditlog-checkpoint 1\nfile 1 2 3 4\nlow 0 0\nlow 0 0\nhigh 0 0\nend\n",
		"hosttrail-auditlog-checkpoint 1\nfile 1 2 3 4\nlow 0 0\nfile 1 2 3 4\nhigh 0 0\n"
		"end\n",
		"hosttrail-auditlog-checkpoint 1\nfile 1 2 3 4 5\nlow 0 0\nhigh 0 0\nend\n",
		"hosttrail-auditlog-checkpoint 1\nfile 1 2 3 4\nlow 0 0\nhigh 0 0\nhistory 0 5\n"
		"end\n",
		"hosttrail-auditlog-checkpoint 1\nfile 1 2 3 4\nlow 0 0\nhigh 0 0\nend",
	};
	struct ht_auditlog_checkpoint got;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &got) != -EINVAL)
			print_message("accepted: %s\n", bad[i]);
		assert_int_equal(parse(bad[i], &got), -EINVAL);
	}
	/* a NUL inside is refused too */
	assert_int_equal(ht_auditlog_checkpoint_parse("hosttrail-auditlog-checkpoint 1\n"
	    "file 1 2 3 4\nlow 0 0\0\nhigh 0 0\nend\n", 61, &got), -EINVAL);
}

static void
test_hashes(void **state UNUSED)
{
	/* FNV-1a's published values */
	assert_true(ht_auditlog_head_hash("", 0) == 0xcbf29ce484222325ULL);
	assert_true(ht_auditlog_head_hash("a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_int_equal(ht_auditlog_node_hash(NULL), 0);
	assert_int_equal(ht_auditlog_node_hash("a"), 0xe40c292c);
	assert_int_not_equal(ht_auditlog_node_hash("web-1"), ht_auditlog_node_hash("web-2"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_hashes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

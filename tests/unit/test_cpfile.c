/*
 * test_cpfile.c - daemon/sources/cpfile.c: a burst of dirty positions is
 * one write of the latest text, off the loop; sync writes at once; a write
 * that fails is retried until the directory appears; nothing is written
 * while nothing is dirty; the file's directory is made at start.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "fileio.h"
#include "sources/cpfile.h"
#include "util.h"

#define UNUSED __attribute__((unused))

struct pos {
	unsigned value;		/* the position the "source" stands at */
	unsigned formats;	/* how often the text was asked for */
};

static int
format(void *arg, char **ret_text, size_t *ret_len)
{
	struct pos *p = arg;

	p->formats++;
	if (asprintf(ret_text, "position %u\n", p->value) < 0)
		return -ENOMEM;
	*ret_len = strlen(*ret_text);
	return 0;
}

static void
run_for(struct event_base *base, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Run the loop until c has nothing pending (or 5 s passed: the caller's
 * assertion then fails). */
static void
run_until_written(struct event_base *base, struct ht_cpfile *c)
{
	for (int i = 0; i < 50 && ht_cpfile_pending(c); i++)
		run_for(base, 100);
	run_for(base, 100);	/* the write's completion on the loop */
}

static char *
slurp(const char *path)
{
	char *text = NULL;
	size_t len;

	if (ht_read_file(path, 4096, &text, &len) < 0)
		return NULL;
	return text;
}

static void
test_burst_is_one_write(void **state UNUSED)
{
	char dir[] = "/tmp/test_cpfile.XXXXXX", path[64], *text;
	struct event_base *base = event_base_new();
	struct pos p = { 0, 0 };
	struct ht_cpfile *c = NULL;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cp", dir);
	assert_int_equal(ht_cpfile_new(base, path, "test", format, &p, &c), 0);
	run_for(base, 300);
	assert_int_equal(p.formats, 0);		/* nothing dirty, nothing written */
	for (p.value = 1; p.value <= 50; p.value++)
		ht_cpfile_dirty(c);
	p.value = 50;
	assert_true(ht_cpfile_pending(c));
	run_until_written(base, c);
	assert_int_equal(p.formats, 1);
	assert_false(ht_cpfile_pending(c));
	text = slurp(path);
	assert_string_equal(text, "position 50\n");
	free(text);
	p.value = 51;
	assert_int_equal(ht_cpfile_sync(c), 0);
	text = slurp(path);
	assert_string_equal(text, "position 51\n");
	free(text);
	ht_cpfile_free(c);
	unlink(path);
	rmdir(dir);
	event_base_free(base);
}

static void
test_failed_write_is_retried(void **state UNUSED)
{
	char dir[] = "/tmp/test_cpfile.XXXXXX", sub[64], path[80], *text;
	struct event_base *base = event_base_new();
	struct pos p = { 7, 0 };
	struct ht_cpfile *c = NULL;

	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/later", dir);
	snprintf(path, sizeof(path), "%s/cp", sub);
	assert_int_equal(ht_cpfile_new(base, path, "test", format, &p, &c), 0);
	assert_int_equal(access(sub, F_OK), 0);		/* made by new */
	assert_int_equal(rmdir(sub), 0);		/* and gone again */
	assert_int_equal(ht_cpfile_sync(c), -EIO);
	ht_cpfile_dirty(c);
	run_for(base, 400);
	assert_true(ht_cpfile_pending(c));		/* failed, waiting to retry */
	assert_true(p.formats >= 2);
	assert_int_equal(mkdir(sub, 0750), 0);
	run_until_written(base, c);
	assert_false(ht_cpfile_pending(c));
	text = slurp(path);
	assert_string_equal(text, "position 7\n");
	free(text);
	ht_cpfile_free(c);
	unlink(path);
	rmdir(sub);
	rmdir(dir);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_is_one_write),
		cmocka_unit_test(test_failed_write_is_retried),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

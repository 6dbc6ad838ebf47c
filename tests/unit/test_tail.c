/*
 * test_tail.c - the log follower (sources/tail.h) on files in a temporary
 * directory, driven by hand: appends, lines that wait for their newline,
 * over-long lines, rename rotation (including writes to the renamed file
 * before the writer reopens, and the grace period), copytruncate (the rest
 * read from the copy, the offsets unchanged), truncation without a copy
 * (also one written past our offset again before we look), where a first
 * run starts, a file that appears late, and positions: text round trip,
 * reopening at a position (also after the file was renamed or truncated
 * meanwhile), and skipping past a line already delivered.  The source on
 * top of it is tests/integration/test_filetail.py.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
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

#include "sources/tail.h"

#define UNUSED __attribute__((unused))
#define MAX_LINES 256

/* What the callback saw. */
struct got {
	char *line[MAX_LINES];
	struct ht_tail_line info[MAX_LINES];
	struct ht_tail_pos after[MAX_LINES];	/* ht_tail_tell inside the callback */
	size_t n;
	size_t stop_at;				/* return 1 once n reaches it (0: never) */
	struct ht_tail *t;
};

static char dir[64];
static size_t chunk = 64;	/* small: lines cross reads */

static void
got_clear(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->line[i]);
	g->n = 0;
	g->stop_at = 0;
}

static int
line_cb(const char *line, size_t len, const struct ht_tail_line *info, void *arg)
{
	struct got *g = arg;

	assert_true(g->n < MAX_LINES);
	g->line[g->n] = strndup(line, len);
	assert_non_null(g->line[g->n]);
	g->info[g->n] = *info;
	ht_tail_tell(g->t, &g->after[g->n]);
	g->n++;
	return g->stop_at != 0 && g->n >= g->stop_at ? 1 : 0;
}

/* Read until the follower is idle (at most a bounded number of passes). */
static void
drain(struct ht_tail *t, struct got *g)
{
	int v = 1;

	g->t = t;
	for (int i = 0; i < 1000 && v == 1; i++) {
		v = ht_tail_read(t, line_cb, g);
		if (g->stop_at != 0 && g->n >= g->stop_at)
			return;
	}
	assert_int_equal(v, 0);
}

static char *
path_of(const char *name)
{
	static char buf[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

static void
append(const char *name, const char *text)
{
	int fd = open(path_of(name), O_WRONLY | O_APPEND | O_CREAT, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static uint64_t
ino_of(const char *name)
{
	struct stat st;

	assert_int_equal(stat(path_of(name), &st), 0);
	return (uint64_t)st.st_ino;
}

static void
copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(path_of(from), O_RDONLY), out;
	ssize_t n;

	out = open(path_of(to), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

static struct ht_tail *
open_tail(const struct ht_tail_pos *from, enum ht_tail_start start, int want, size_t max_line,
    unsigned grace)
{
	struct ht_tail_conf c = { .path = path_of("log"), .chunk = chunk, .max_line = max_line,
		.rotate_grace_ms = grace, .watch = true };
	struct ht_tail *t = NULL;

	assert_int_equal(ht_tail_open(&c, from, start, &t), want);
	assert_non_null(t);
	return t;
}

static void
expect_lines(const struct got *g, const char *const *want, size_t n)
{
	assert_int_equal(g->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(g->line[i], want[i]);
}

static int
setup(void **state UNUSED)
{
	snprintf(dir, sizeof(dir), "/tmp/ht-test-tail-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
teardown(void **state UNUSED)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* ---- tests ---- */

static void
test_appends_and_partial_lines(void **state UNUSED)
{
	static const char *const a[] = { "one", "two" }, *const b[] = { "three", "four" };
	struct got g = { 0 };
	struct ht_tail *t;
	struct ht_tail_pos pos;

	append("log", "one\ntwo\n");
	t = open_tail(NULL, HT_TAIL_START_BEGINNING, 0, 0, 0);
	assert_true(ht_tail_fd(t) >= 0);
	drain(t, &g);
	expect_lines(&g, a, 2);
	assert_int_equal(g.info[0].at.off, 0);
	assert_int_equal(g.info[0].end, 4);
	assert_int_equal(g.info[1].at.off, 4);
	assert_int_equal(g.after[1].off, 8);
	assert_int_equal(g.info[0].at.id.ino, ino_of("log"));
	assert_int_equal(g.info[0].at.id.head_len, 4);	/* "one\n" */
	got_clear(&g);

	append("log", "thr");			/* a line being written waits */
	drain(t, &g);
	assert_int_equal(g.n, 0);
	ht_tail_tell(t, &pos);
	assert_int_equal(pos.off, 8);
	append("log", "ee\nfour\nfi");
	drain(t, &g);
	expect_lines(&g, b, 2);
	assert_int_equal(g.info[0].at.off, 8);
	assert_false(g.info[0].unterminated);
	ht_tail_tell(t, &pos);
	assert_int_equal(pos.off, 19);		/* before "fi" */
	got_clear(&g);
	ht_tail_free(t);
}

static void
test_stop_and_resume_in_buffer(void **state UNUSED)
{
	struct got g = { .stop_at = 2 };
	struct ht_tail *t;

	append("log", "a\nb\nc\nd\n");
	t = open_tail(NULL, HT_TAIL_START_BEGINNING, 0, 0, 0);
	drain(t, &g);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.after[1].off, 4);	/* tell inside the callback: after "b" */
	g.stop_at = 0;
	drain(t, &g);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.line[2], "c");
	assert_int_equal(g.info[3].at.off, 6);
	got_clear(&g);
	ht_tail_free(t);
}

static void
test_long_lines_cut(void **state UNUSED)
{
	struct got g = { 0 };
	struct ht_tail *t;
	char big[300];

	memset(big, 'x', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	append("log", "short\n");
	append("log", big);
	append("log", "after\n");
	t = open_tail(NULL, HT_TAIL_START_BEGINNING, 0, 16, 0);
	drain(t, &g);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.line[1], "xxxxxxxxxxxxxxxx");
	assert_true(g.info[1].cut);
	assert_int_equal(g.info[1].full_len, 298);
	assert_int_equal(g.info[1].at.off, 6);
	assert_int_equal(g.info[1].end, 6 + 299);
	assert_string_equal(g.line[2], "after");
	assert_false(g.info[2].cut);
	assert_int_equal(g.info[2].at.off, 305);
	got_clear(&g);
	ht_tail_free(t);

	/* a long line that arrives whole in one read is cut the same way */
	chunk = 4096;
	t = open_tail(NULL, HT_TAIL_START_END, 0, 40, 0);
	chunk = 64;
	append("log", big);
	append("log", "tail\n");
	drain(t, &g);
	assert_int_equal(g.n, 2);
	assert_int_equal(strlen(g.line[0]), 40);
	assert_true(g.info[0].cut);
	assert_int_equal(g.info[0].full_len, 298);
	assert_int_equal(g.info[1].at.off, 311 + 299);
	assert_string_equal(g.line[1], "tail");
	got_clear(&g);
	ht_tail_free(t);
}

static void
test_rename_rotation(void **state UNUSED)
{
	static const char *const want[] = { "old-1", "old-2", "old-3", "new-1", "new-2" };
	struct got g = { 0 };
	struct ht_tail *t;
	uint64_t old_ino;
	int fd;

	append("log", "old-1\n");
	old_ino = ino_of("log");
	t = open_tail(NULL, HT_TAIL_START_BEGINNING, 0, 0, 60000);
	drain(t, &g);
	assert_int_equal(g.n, 1);
	/* logrotate renames; the writer writes on to the old inode until it
	 * reopens, and only then to the new file */
	fd = open(path_of("log"), O_WRONLY | O_APPEND);
	assert_int_equal(rename(path_of("log"), path_of("log.1")), 0);
	append("log", "");
	drain(t, &g);
	assert_true(ht_tail_pending(t));
	assert_int_equal(write(fd, "old-2\nold-", 10), 10);
	drain(t, &g);
	assert_int_equal(g.n, 2);		/* the renamed file is not finished yet */
	assert_int_equal(write(fd, "3\n", 2), 2);
	close(fd);
	append("log", "new-1\nnew-2\n");
	drain(t, &g);
	expect_lines(&g, want, 5);
	assert_int_equal(g.info[2].at.id.ino, old_ino);
	assert_int_equal(g.info[3].at.id.ino, ino_of("log"));
	assert_int_equal(g.info[3].at.off, 0);
	assert_false(ht_tail_pending(t));
	got_clear(&g);
	ht_tail_free(t);
}

static void
test_rotation_grace(void **state UNUSED)
{
	struct got g = { 0 };
	struct ht_tail *t;
	struct ht_tail_stats st;

	append("log", "line\nunfinished");
	t = open_tail(NULL, HT_TAIL_START_BEGINNING, 0, 0, 50);
	drain(t, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(rename(path_of("log"), path_of("log.1")), 0);
	append("log", "");
	drain(t, &g);
	usleep(120 * 1000);
	drain(t, &g);
	/* nobody wrote to it for the grace period: its last bytes are a line */
	assert_int_equal(g.n, 2);
	assert_string_equal(g.line[1], "unfinished");
	assert_true(g.info[1].unterminated);
	assert_int_equal(g.info[1].end, 15);
	ht_tail_stats(t, &st);
	assert_int_equal(st.rotations, 1);
	assert_false(ht_tail_pending(t));
	got_clear(&g);
	ht_tail_free(t);
}

static void
test_copytruncate(void **state UNUSED)
{
	static const char *const want[] = { "l1", "l2", "l3", "l4", "l5", "n1", "n2" };
	struct got g = { .stop_at = 2 };
	struct ht_tail *t;
	struct ht_tail_stats st;
	struct ht_tail_pos pos;
	uint64_t ino;

	append("log", "l1\nl2\nl3\n");
	ino = ino_of("log");
	t = open_tail(NULL, HT_TAIL_START_BEGINNING, 0, 0, 0);
	drain(t, &g);				/* l1, l2: l3 is read but not passed */
	g.stop_at = 0;
	append("log", "l4\nl5");		/* l5 still being written at the copy */
	copy_file("log", "log.1");
	assert_int_equal(truncate(path_of("log"), 0), 0);
	append("log", "n1\nn2\n");
	drain(t, &g);
	expect_lines(&g, want, 7);
	/* l3 was read before the truncation; the rest comes from the copy,
	 * which has the original's offsets and head, another inode */
	assert_int_equal(g.info[2].at.id.ino, ino);
	assert_int_equal(g.info[3].at.off, 9);
	assert_int_equal(g.info[3].at.id.ino, ino_of("log.1"));
	assert_int_equal(g.info[3].at.id.head_hash, g.info[0].at.id.head_hash);
	assert_true(g.info[4].unterminated);
	assert_int_equal(g.info[5].at.id.ino, ino);
	assert_int_equal(g.info[5].at.off, 0);
	ht_tail_stats(t, &st);
	assert_int_equal(st.truncations, 1);
	assert_int_equal(st.copies, 1);
	ht_tail_tell(t, &pos);
	assert_int_equal(pos.id.ino, ino);
	assert_int_equal(pos.off, 6);
	got_clear(&g);
	ht_tail_free(t);
}

static void
test_truncation_without_copy(void **state UNUSED)
{
	struct got g = { 0 };
	struct ht_tail *t;
	struct ht_tail_stats st;
	int fd;

	append("log", "first line\nsecond line\n");
	t = open_tail(NULL, HT_TAIL_START_BEGINNING, 0, 0, 0);
	drain(t, &g);
	assert_int_equal(g.n, 2);
	/* shorter: noticed by size */
	assert_int_equal(truncate(path_of("log"), 0), 0);
	append("log", "x\n");
	drain(t, &g);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.line[2], "x");
	assert_int_equal(g.info[2].at.off, 0);
	/* rewritten past our offset before we look: noticed by the head */
	fd = open(path_of("log"), O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "another first\nand more\n", 23), 23);
	close(fd);
	drain(t, &g);
	assert_int_equal(g.n, 5);
	assert_string_equal(g.line[3], "another first");
	assert_string_equal(g.line[4], "and more");
	ht_tail_stats(t, &st);
	assert_int_equal(st.truncations, 2);
	assert_int_equal(st.copies, 0);
	got_clear(&g);
	ht_tail_free(t);
}

static void
test_start_end_and_beginning(void **state UNUSED)
{
	struct got g = { 0 };
	struct ht_tail *t;

	append("log", "rotated\n");
	assert_int_equal(rename(path_of("log"), path_of("log.1")), 0);
	append("log", "old\nbeing writ");
	/* a first run from the end: the line being written is read whole */
	t = open_tail(NULL, HT_TAIL_START_END, 0, 0, 0);
	append("log", "ten\nnew\n");
	drain(t, &g);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.line[0], "being written");
	assert_string_equal(g.line[1], "new");
	got_clear(&g);
	ht_tail_free(t);
	/* from the beginning: the rotated file first (not an editor's newer
	 * swap file, nor a compressed one) */
	usleep(20 * 1000);
	append("log.swp", "swap\n");
	append("log.2.gz", "gz\n");
	t = open_tail(NULL, HT_TAIL_START_BEGINNING, 0, 0, 0);
	drain(t, &g);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.line[0], "rotated");
	assert_string_equal(g.line[1], "old");
	got_clear(&g);
	ht_tail_free(t);
}

static void
test_file_appears_later(void **state UNUSED)
{
	struct got g = { 0 };
	struct ht_tail *t;

	t = open_tail(NULL, HT_TAIL_START_END, 0, 0, 0);
	assert_null(ht_tail_name(t));
	drain(t, &g);
	append("log", "hello\n");
	drain(t, &g);
	assert_int_equal(g.n, 1);		/* a file created after the start is all new */
	assert_string_equal(g.line[0], "hello");
	assert_non_null(ht_tail_name(t));
	got_clear(&g);
	ht_tail_free(t);
}

static void
test_pos_text(void **state UNUSED)
{
	struct ht_tail_pos p = { { 18446744073709551615ULL, 256, 0x0123456789abcdefULL }, 42 }, q;
	static const char *const bad[] = { "", "1 2 3", "1 2 0123456789abcdef 4 5",
		"1 257 0123456789abcdef 4", "-1 2 0123456789abcdef 4", "1 2 0123456789ABCDEF 4",
		"1 2 0123456789abcdef 4 ", " 1 2 0123456789abcdef 4", "1  2 0123456789abcdef 4",
		"18446744073709551616 2 0123456789abcdef 4", "1 2 0123456789abcdef0 4" };
	char buf[HT_TAIL_POS_LEN];

	ht_tail_pos_format(&p, buf, sizeof(buf));
	assert_string_equal(buf, "18446744073709551615 256 0123456789abcdef 42");
	assert_int_equal(ht_tail_pos_parse(buf, &q), 0);
	assert_true(ht_tail_id_eq(&p.id, &q.id));
	assert_int_equal(q.off, 42);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ht_tail_pos_parse(bad[i], &q), -EINVAL);
	assert_true(ht_tail_id_eq(&p.id, &q.id));
	q.id.head_len--;
	assert_false(ht_tail_id_eq(&p.id, &q.id));
}

static void
test_reopen_at_position(void **state UNUSED)
{
	struct got g = { .stop_at = 2 };
	struct ht_tail *t;
	struct ht_tail_pos pos;
	char text[HT_TAIL_POS_LEN];

	append("log", "a1\na2\na3\n");
	t = open_tail(NULL, HT_TAIL_START_BEGINNING, 0, 0, 0);
	drain(t, &g);
	ht_tail_tell(t, &pos);
	ht_tail_free(t);
	got_clear(&g);
	/* through its text form, as the checkpoint keeps it */
	ht_tail_pos_format(&pos, text, sizeof(text));
	assert_int_equal(ht_tail_pos_parse(text, &pos), 0);

	/* same file: on from there */
	t = open_tail(&pos, HT_TAIL_START_END, 1, 0, 0);
	drain(t, &g);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.line[0], "a3");
	ht_tail_free(t);
	got_clear(&g);

	/* renamed (twice) while we were away: that file first, then the newer ones */
	assert_int_equal(rename(path_of("log"), path_of("log.1")), 0);
	usleep(20 * 1000);			/* mtimes order the rotated files */
	append("log", "b1\n");
	assert_int_equal(rename(path_of("log.1"), path_of("log.2")), 0);
	assert_int_equal(rename(path_of("log"), path_of("log.1")), 0);
	usleep(20 * 1000);
	append("log", "c1\n");
	t = open_tail(&pos, HT_TAIL_START_END, 1, 0, 0);
	assert_string_equal(ht_tail_name(t), path_of("log.2"));
	drain(t, &g);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.line[0], "a3");
	assert_string_equal(g.line[1], "b1");
	assert_string_equal(g.line[2], "c1");
	ht_tail_free(t);
	got_clear(&g);
}

static void
test_reopen_after_copytruncate(void **state UNUSED)
{
	struct got g = { .stop_at = 1 };
	struct ht_tail *t;
	struct ht_tail_pos pos;

	append("log", "x1\nx2\n");
	t = open_tail(NULL, HT_TAIL_START_BEGINNING, 0, 0, 0);
	drain(t, &g);
	ht_tail_tell(t, &pos);
	ht_tail_free(t);
	got_clear(&g);
	/* copytruncate while we were away, then more lines */
	copy_file("log", "log.1");
	assert_int_equal(truncate(path_of("log"), 0), 0);
	append("log", "y1 a longer line than before\n");
	t = open_tail(&pos, HT_TAIL_START_END, 1, 0, 0);
	drain(t, &g);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.line[0], "x2");
	assert_string_equal(g.line[1], "y1 a longer line than before");
	ht_tail_free(t);
	got_clear(&g);

	/* the file rewritten in place with no copy: read again from its start */
	assert_int_equal(unlink(path_of("log.1")), 0);
	t = open_tail(&pos, HT_TAIL_START_END, 0, 0, 0);
	drain(t, &g);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.line[0], "y1 a longer line than before");
	ht_tail_free(t);
	got_clear(&g);
}

static void
test_position_gone(void **state UNUSED)
{
	struct ht_tail_pos pos = { { 1, 5, 77 }, 3 };
	struct got g = { 0 };
	struct ht_tail *t;

	append("log", "r\n");
	assert_int_equal(rename(path_of("log"), path_of("log.1")), 0);
	usleep(20 * 1000);
	append("log", "s\n");
	/* its file rotated away: everything still here is newer */
	t = open_tail(&pos, HT_TAIL_START_END, 0, 0, 0);
	drain(t, &g);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.line[0], "r");
	assert_string_equal(g.line[1], "s");
	ht_tail_free(t);
	got_clear(&g);
}

static void
test_skip_past(void **state UNUSED)
{
	struct got g = { 0 };
	struct ht_tail *t;
	struct ht_tail_pos start;
	struct ht_tail_line l2;

	append("log", "k1\nk2\nk3\n");
	t = open_tail(NULL, HT_TAIL_START_BEGINNING, 0, 0, 0);
	ht_tail_tell(t, &start);
	drain(t, &g);
	l2 = g.info[1];
	ht_tail_free(t);
	got_clear(&g);

	/* the records of k1 and k2 made it, the position did not */
	t = open_tail(&start, HT_TAIL_START_END, 1, 0, 0);
	assert_int_equal(ht_tail_skip_past(t, &l2.at.id, l2.at.off), 1);
	drain(t, &g);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.line[0], "k3");
	/* behind us already: nothing changes */
	assert_int_equal(ht_tail_skip_past(t, &l2.at.id, 0), 0);
	l2.at.id.head_hash ^= 1;
	assert_int_equal(ht_tail_skip_past(t, &l2.at.id, 3), -ENOENT);
	ht_tail_free(t);
	got_clear(&g);

	/* past a line of a renamed file: the rest of it, then the next file */
	t = open_tail(&start, HT_TAIL_START_END, 1, 0, 0);
	assert_int_equal(rename(path_of("log"), path_of("log.1")), 0);
	append("log", "m1\n");
	drain(t, &g);
	got_clear(&g);
	ht_tail_free(t);
	t = open_tail(&start, HT_TAIL_START_END, 1, 0, 0);
	l2.at.id.head_hash ^= 1;
	assert_int_equal(ht_tail_skip_past(t, &l2.at.id, 6), 1);	/* k3 */
	drain(t, &g);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.line[0], "m1");
	ht_tail_free(t);
	got_clear(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_appends_and_partial_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_and_resume_in_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_lines_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_grace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copytruncate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncation_without_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_end_and_beginning, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_appears_later, setup, teardown),
		cmocka_unit_test(test_pos_text),
		cmocka_unit_test_setup_teardown(test_reopen_at_position, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_after_copytruncate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_position_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skip_past, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

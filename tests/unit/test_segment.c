/*
 * test_segment.c - daemon/history/segment.c: frames written are read back
 * with their seq and offsets; the reader honours its start offset and limit;
 * reopening recovers a torn tail (cut mid-frame, or garbage appended) by
 * truncating it and reporting the bytes, keeping every record before it; a
 * flipped bit in a middle frame costs that frame only (-EBADMSG once, then
 * the reader resyncs); a wrong header is -EBADMSG; an empty file is a new
 * segment; discard drops unflushed frames; sizes outside 1..HT_SEG_MAX_RECORD
 * are -E2BIG.
 */
#include "ht_build.h"

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

#include "history/segment.h"

#define DAY 20240501u

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
	strcpy(fx->dir, "/tmp/test_segment.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/%08u.seg", fx->dir, DAY);
	*state = fx;
	return 0;
}

/* Readers a failed assertion left open, freed by teardown so that a
 * failing test does not also report leaks. */
static struct ht_segment_reader *live[8];

static struct ht_segment_reader *
reader_open(const char *path, uint64_t offset)
{
	struct ht_segment_reader *r = NULL;

	assert_int_equal(ht_segment_reader_open(path, offset, &r), 0);
	assert_non_null(r);
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		if (live[i] == NULL) {
			live[i] = r;
			return r;
		}
	}
	fail_msg("too many open readers");
	return NULL;
}

static void
reader_close(struct ht_segment_reader *r)
{
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (live[i] == r)
			live[i] = NULL;
	ht_segment_reader_free(r);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		ht_segment_reader_free(live[i]);
		live[i] = NULL;
	}
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static off_t
file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* The payload of record seq: its length varies with seq. */
static size_t
payload_of(uint64_t seq, char *buf, size_t len)
{
	int n = snprintf(buf, len, "{\"seq\":%llu,\"pad\":\"%.*s\"}", (unsigned long long)seq,
	    (int)(seq * 37 % 300), "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");

	return (size_t)n;
}

/* Append records first..last (one flush) and return their frame offsets in
 * offs[seq - first] (may be NULL). */
static void
append_range(struct ht_segment_writer *w, uint64_t first, uint64_t last, uint64_t *offs)
{
	uint64_t off = ht_segment_size(w);
	char buf[512];

	for (uint64_t s = first; s <= last; s++) {
		size_t n = payload_of(s, buf, sizeof(buf));

		if (offs)
			offs[s - first] = off;
		assert_int_equal(ht_segment_add(w, s, buf, (uint32_t)n), 0);
		off += HT_SEG_FRAME_LEN + n;
	}
	assert_int_equal(ht_segment_flush(w), 0);
	assert_int_equal(ht_segment_size(w), off);
}

/* Read path from offset up to limit and check it holds exactly records
 * first..last, in order; returns the offset after the last one. */
static uint64_t
expect_records(const char *path, uint64_t offset, uint64_t limit, uint64_t first, uint64_t last)
{
	struct ht_segment_reader *r = NULL;
	struct ht_frame f;
	uint64_t want_off = offset < HT_SEG_HEADER_LEN ? HT_SEG_HEADER_LEN : offset;
	char buf[512];
	int v;

	r = reader_open(path, offset);
	for (uint64_t s = first; s <= last; s++) {
		size_t n = payload_of(s, buf, sizeof(buf));

		v = ht_segment_reader_next(r, limit, &f);
		assert_int_equal(v, 1);
		assert_int_equal(f.seq, s);
		assert_int_equal(f.offset, want_off);
		assert_int_equal(f.next, want_off + HT_SEG_FRAME_LEN + n);
		assert_int_equal(f.len, n);
		assert_memory_equal(f.data, buf, n);
		want_off = f.next;
	}
	assert_int_equal(ht_segment_reader_next(r, limit, &f), 0);
	/* The end stays the end. */
	assert_int_equal(ht_segment_reader_next(r, limit, &f), 0);
	reader_close(r);
	return want_off;
}

static void
flip_byte(const char *path, uint64_t off)
{
	unsigned char c;
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
	c ^= 0x10;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)off), 1);
	close(fd);
}

static void
append_bytes(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static struct ht_segment_writer *
open_new(const char *path)
{
	struct ht_segment_writer *w = NULL;
	struct ht_segment_recovery rec;

	memset(&rec, 0xaa, sizeof(rec));
	assert_int_equal(ht_segment_open(path, DAY, &w, &rec), 0);
	assert_non_null(w);
	assert_int_equal(rec.records, 0);
	assert_int_equal(rec.last_seq, 0);
	assert_int_equal(rec.end, HT_SEG_HEADER_LEN);
	assert_int_equal(rec.truncated, 0);
	return w;
}

static void
test_create_append_read(void **state)
{
	struct fixture *fx = *state;
	struct ht_segment_writer *w = open_new(fx->path);
	uint64_t offs[10];

	assert_int_equal(ht_segment_day(w), DAY);
	assert_true(ht_segment_fd(w) >= 0);
	assert_int_equal(ht_segment_size(w), HT_SEG_HEADER_LEN);
	assert_int_equal(file_size(fx->path), HT_SEG_HEADER_LEN);

	/* Nothing reaches the file before flush. */
	assert_int_equal(ht_segment_add(w, 1, "{}", 2), 0);
	assert_int_equal(file_size(fx->path), HT_SEG_HEADER_LEN);
	assert_int_equal(ht_segment_size(w), HT_SEG_HEADER_LEN);
	ht_segment_discard(w);

	append_range(w, 1, 10, offs);
	assert_int_equal(offs[0], HT_SEG_HEADER_LEN);
	assert_int_equal(file_size(fx->path), (off_t)ht_segment_size(w));
	/* A flush with nothing queued writes nothing. */
	assert_int_equal(ht_segment_flush(w), 0);
	assert_int_equal(file_size(fx->path), (off_t)ht_segment_size(w));
	assert_int_equal(expect_records(fx->path, 0, UINT64_MAX, 1, 10), ht_segment_size(w));

	/* A reader starting at a frame boundary. */
	expect_records(fx->path, offs[4], UINT64_MAX, 5, 10);
	/* Offset 0 and any offset inside the header mean "first frame". */
	expect_records(fx->path, 5, UINT64_MAX, 1, 10);

	/* Appending more, then reopening: recovery sees all of it. */
	append_range(w, 11, 20, NULL);
	ht_segment_close(w);
	{
		struct ht_segment_recovery rec;
		off_t sz = file_size(fx->path);

		assert_int_equal(ht_segment_open(fx->path, DAY, &w, &rec), 0);
		assert_int_equal(rec.records, 20);
		assert_int_equal(rec.last_seq, 20);
		assert_int_equal(rec.end, (uint64_t)sz);
		assert_int_equal(rec.truncated, 0);
		assert_int_equal(ht_segment_size(w), (uint64_t)sz);
		append_range(w, 21, 25, NULL);
		ht_segment_close(w);
	}
	expect_records(fx->path, 0, UINT64_MAX, 1, 25);
	/* NULL recovery pointer is allowed. */
	assert_int_equal(ht_segment_open(fx->path, DAY, &w, NULL), 0);
	ht_segment_close(w);
	ht_segment_close(NULL);
	ht_segment_reader_free(NULL);
}

static void
test_reader_limit(void **state)
{
	struct fixture *fx = *state;
	struct ht_segment_writer *w = open_new(fx->path);
	uint64_t offs[6];

	append_range(w, 1, 6, offs);
	/* Limit at a frame boundary: exactly the frames before it. */
	expect_records(fx->path, 0, offs[3], 1, 3);
	/* Limit inside a frame: that frame is not returned (not an error). */
	expect_records(fx->path, 0, offs[3] + 7, 1, 3);
	expect_records(fx->path, 0, offs[3] + HT_SEG_FRAME_LEN + 1, 1, 3);
	/* Start and limit both in the middle. */
	expect_records(fx->path, offs[1], offs[5], 2, 5);
	/* Limit before the first frame ends: nothing. */
	{
		struct ht_segment_reader *r;
		struct ht_frame f;

		r = reader_open(fx->path, 0);
		assert_int_equal(ht_segment_reader_next(r, offs[1] - 1, &f), 0);
		/* The same reader with a larger limit goes on. */
		assert_int_equal(ht_segment_reader_next(r, offs[2], &f), 1);
		assert_int_equal(f.seq, 1);
		assert_int_equal(ht_segment_reader_next(r, offs[2], &f), 1);
		assert_int_equal(f.seq, 2);
		assert_int_equal(ht_segment_reader_next(r, offs[2], &f), 0);
		reader_close(r);
	}
	ht_segment_close(w);
}

static void
test_reader_follows_writer(void **state)
{
	struct fixture *fx = *state;
	struct ht_segment_writer *w = open_new(fx->path);
	struct ht_segment_reader *r;
	struct ht_frame f;

	append_range(w, 1, 2, NULL);
	r = reader_open(fx->path, 0);
	assert_int_equal(ht_segment_reader_next(r, UINT64_MAX, &f), 1);
	assert_int_equal(ht_segment_reader_next(r, UINT64_MAX, &f), 1);
	assert_int_equal(ht_segment_reader_next(r, UINT64_MAX, &f), 0);
	/* Unflushed frames are invisible; flushed ones appear. */
	assert_int_equal(ht_segment_add(w, 3, "{\"a\":3}", 7), 0);
	assert_int_equal(ht_segment_reader_next(r, UINT64_MAX, &f), 0);
	assert_int_equal(ht_segment_flush(w), 0);
	assert_int_equal(ht_segment_reader_next(r, UINT64_MAX, &f), 1);
	assert_int_equal(f.seq, 3);
	assert_int_equal(f.len, 7);
	assert_memory_equal(f.data, "{\"a\":3}", 7);
	assert_int_equal(ht_segment_reader_next(r, UINT64_MAX, &f), 0);
	reader_close(r);
	ht_segment_close(w);
}

static void
test_many_and_large(void **state)
{
	struct fixture *fx = *state;
	struct ht_segment_writer *w = open_new(fx->path);
	struct ht_segment_reader *r;
	struct ht_frame f;
	char *big = malloc(HT_SEG_MAX_RECORD);
	uint64_t big_off;

	assert_non_null(big);
	for (size_t i = 0; i < HT_SEG_MAX_RECORD; i++)
		big[i] = (char)('a' + i % 26);
	/* Many flushes, crossing the reader's read-ahead window many times. */
	for (uint64_t s = 1; s <= 3000; s += 100)
		append_range(w, s, s + 99, NULL);
	big_off = ht_segment_size(w);
	/* A maximal record (bigger than the read window). */
	assert_int_equal(ht_segment_add(w, 3001, big, HT_SEG_MAX_RECORD), 0);
	assert_int_equal(ht_segment_flush(w), 0);
	append_range(w, 3002, 3010, NULL);

	assert_int_equal(expect_records(fx->path, 0, big_off, 1, 3000), big_off);
	r = reader_open(fx->path, big_off);
	assert_int_equal(ht_segment_reader_next(r, UINT64_MAX, &f), 1);
	assert_int_equal(f.seq, 3001);
	assert_int_equal(f.len, HT_SEG_MAX_RECORD);
	assert_memory_equal(f.data, big, HT_SEG_MAX_RECORD);
	assert_int_equal(ht_segment_reader_next(r, UINT64_MAX, &f), 1);
	assert_int_equal(f.seq, 3002);
	reader_close(r);
	ht_segment_close(w);
	free(big);
}

/* Cut the file inside a frame (inside its header, then inside its payload):
 * recovery truncates to the last whole frame and reports the cut bytes. */
static void
test_torn_tail_cut(void **state)
{
	struct fixture *fx = *state;
	struct ht_segment_writer *w = open_new(fx->path);
	struct ht_segment_recovery rec;
	uint64_t offs[8], cuts[2];

	append_range(w, 1, 8, offs);
	ht_segment_close(w);
	cuts[0] = offs[7] + 10;				/* in the frame header */
	cuts[1] = offs[6] + HT_SEG_FRAME_LEN + 3;	/* in the payload */
	for (int i = 0; i < 2; i++) {
		uint64_t last = i == 0 ? 7 : 6;

		assert_int_equal(truncate(fx->path, (off_t)cuts[i]), 0);
		/* A reader stops cleanly before the torn frame. */
		expect_records(fx->path, 0, UINT64_MAX, 1, last);
		assert_int_equal(ht_segment_open(fx->path, DAY, &w, &rec), 0);
		assert_int_equal(rec.records, last);
		assert_int_equal(rec.last_seq, last);
		assert_int_equal(rec.end, offs[last]);
		assert_int_equal(rec.truncated, cuts[i] - offs[last]);
		assert_int_equal(file_size(fx->path), (off_t)offs[last]);
		assert_int_equal(ht_segment_size(w), offs[last]);
		ht_segment_close(w);
	}
	/* Appends after recovery follow the last good frame. */
	assert_int_equal(ht_segment_open(fx->path, DAY, &w, &rec), 0);
	assert_int_equal(rec.truncated, 0);
	append_range(w, 7, 9, NULL);
	ht_segment_close(w);
	expect_records(fx->path, 0, UINT64_MAX, 1, 9);
}

static void
test_torn_tail_garbage(void **state)
{
	struct fixture *fx = *state;
	static const char junk[] = "\x48\x54\x52\x31 not a frame at all, just junk";
	struct ht_segment_writer *w = open_new(fx->path);
	struct ht_segment_recovery rec;
	uint64_t end;
	off_t size;

	append_range(w, 1, 4, NULL);
	end = ht_segment_size(w);
	ht_segment_close(w);
	append_bytes(fx->path, junk, sizeof(junk));
	assert_int_equal(ht_segment_open(fx->path, DAY, &w, &rec), 0);
	assert_int_equal(rec.records, 4);
	assert_int_equal(rec.last_seq, 4);
	assert_int_equal(rec.end, end);
	assert_int_equal(rec.truncated, sizeof(junk));
	assert_int_equal(file_size(fx->path), (off_t)end);
	append_range(w, 5, 6, NULL);
	ht_segment_close(w);
	expect_records(fx->path, 0, UINT64_MAX, 1, 6);

	/* A whole frame with a bad CRC at the very end is a torn tail too. */
	assert_int_equal(ht_segment_open(fx->path, DAY, &w, &rec), 0);
	end = ht_segment_size(w);
	append_range(w, 7, 7, NULL);
	ht_segment_close(w);
	size = file_size(fx->path);
	flip_byte(fx->path, end + HT_SEG_FRAME_LEN + 2);
	assert_int_equal(ht_segment_open(fx->path, DAY, &w, &rec), 0);
	assert_int_equal(rec.records, 6);
	assert_int_equal(rec.last_seq, 6);
	assert_int_equal(rec.end, end);
	assert_int_equal(rec.truncated, (uint64_t)size - end);
	assert_int_equal(file_size(fx->path), (off_t)end);
	ht_segment_close(w);
	expect_records(fx->path, 0, UINT64_MAX, 1, 6);
}

/* A damaged middle frame: -EBADMSG exactly once, with the skipped range in
 * f->offset/next, then the following frames. */
static void
expect_skip_middle(const char *path, const uint64_t *offs, uint64_t bad_seq, uint64_t last)
{
	struct ht_segment_reader *r;
	struct ht_frame f;

	r = reader_open(path, 0);
	for (uint64_t s = 1; s <= last; s++) {
		int v = ht_segment_reader_next(r, UINT64_MAX, &f);

		if (s == bad_seq) {
			assert_int_equal(v, -EBADMSG);
			assert_int_equal(f.offset, offs[s - 1]);
			assert_int_equal(f.next, offs[s]);
			continue;
		}
		assert_int_equal(v, 1);
		assert_int_equal(f.seq, s);
		assert_int_equal(f.offset, offs[s - 1]);
	}
	assert_int_equal(ht_segment_reader_next(r, UINT64_MAX, &f), 0);
	reader_close(r);
}

static void
test_bit_flip_resync(void **state)
{
	struct fixture *fx = *state;
	struct ht_segment_writer *w = open_new(fx->path);
	struct ht_segment_recovery rec;
	uint64_t offs[9];
	off_t size;

	append_range(w, 1, 8, offs);
	offs[8] = ht_segment_size(w);
	ht_segment_close(w);
	size = file_size(fx->path);

	/* Payload bit flip in frame 3. */
	flip_byte(fx->path, offs[2] + HT_SEG_FRAME_LEN + 5);
	expect_skip_middle(fx->path, offs, 3, 8);
	flip_byte(fx->path, offs[2] + HT_SEG_FRAME_LEN + 5);
	expect_records(fx->path, 0, UINT64_MAX, 1, 8);

	/* The magic of frame 5. */
	flip_byte(fx->path, offs[4] + 1);
	expect_skip_middle(fx->path, offs, 5, 8);
	flip_byte(fx->path, offs[4] + 1);

	/* The length field of frame 4 (now claims ~1 MiB more: too long). */
	flip_byte(fx->path, offs[3] + 4 + 2);
	expect_skip_middle(fx->path, offs, 4, 8);

	/* Reopening for append keeps the frames after the damage: it is not a
	 * torn tail. */
	assert_int_equal(ht_segment_open(fx->path, DAY, &w, &rec), 0);
	assert_int_equal(rec.records, 7);
	assert_int_equal(rec.last_seq, 8);
	assert_int_equal(rec.end, (uint64_t)size);
	assert_int_equal(rec.truncated, 0);
	assert_int_equal(file_size(fx->path), size);
	ht_segment_close(w);

	/* The seq field of frame 2 (covered by the CRC). */
	flip_byte(fx->path, offs[3] + 4 + 2);
	flip_byte(fx->path, offs[1] + 12);
	expect_skip_middle(fx->path, offs, 2, 8);
}

/* A flipped bit in the length field that makes a middle frame claim more
 * bytes than the file holds is damage, not a torn tail: the frames after
 * it are good and must be neither hidden from readers nor truncated. */
static void
test_bit_flip_length_past_eof(void **state)
{
	struct fixture *fx = *state;
	struct ht_segment_writer *w = open_new(fx->path);
	struct ht_segment_recovery rec;
	uint64_t offs[9];
	off_t size;

	append_range(w, 1, 8, offs);
	offs[8] = ht_segment_size(w);
	ht_segment_close(w);
	size = file_size(fx->path);
	assert_true(size < 16384);

	/* len += 16 KiB: still <= HT_SEG_MAX_RECORD, but past the end of file. */
	flip_byte(fx->path, offs[3] + 4 + 1);
	expect_skip_middle(fx->path, offs, 4, 8);

	assert_int_equal(ht_segment_open(fx->path, DAY, &w, &rec), 0);
	assert_int_equal(rec.records, 7);
	assert_int_equal(rec.last_seq, 8);
	assert_int_equal(rec.end, (uint64_t)size);
	assert_int_equal(rec.truncated, 0);
	assert_int_equal(file_size(fx->path), size);
	ht_segment_close(w);
}

/* Resync after damage must not step past a good frame that merely ends
 * beyond the current limit: when the limit is raised, that frame is read. */
static void
test_resync_respects_limit(void **state)
{
	struct fixture *fx = *state;
	struct ht_segment_writer *w = open_new(fx->path);
	struct ht_segment_reader *r;
	struct ht_frame f;
	uint64_t offs[9];

	append_range(w, 1, 8, offs);
	offs[8] = ht_segment_size(w);
	ht_segment_close(w);
	flip_byte(fx->path, offs[3] + HT_SEG_FRAME_LEN + 3);

	r = reader_open(fx->path, 0);
	for (uint64_t s = 1; s <= 3; s++) {
		assert_int_equal(ht_segment_reader_next(r, offs[4] + 10, &f), 1);
		assert_int_equal(f.seq, s);
	}
	assert_int_equal(ht_segment_reader_next(r, offs[4] + 10, &f), -EBADMSG);
	assert_int_equal(f.offset, offs[3]);
	assert_int_equal(ht_segment_reader_next(r, offs[4] + 10, &f), 0);
	/* Frame 5 is intact: raising the limit must return it. */
	assert_int_equal(ht_segment_reader_next(r, UINT64_MAX, &f), 1);
	assert_int_equal(f.seq, 5);
	assert_int_equal(f.offset, offs[4]);
	reader_close(r);
}

static void
test_wrong_header(void **state)
{
	struct fixture *fx = *state;
	struct ht_segment_writer *w = NULL, *sentinel = (struct ht_segment_writer *)&w;
	struct ht_segment_recovery rec;
	unsigned char h[HT_SEG_HEADER_LEN];
	int fd;

	/* Not a segment at all. */
	fd = open(fx->path, O_WRONLY | O_CREAT, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "this is not a segment file", 26), 26);
	close(fd);
	w = sentinel;
	assert_int_equal(ht_segment_open(fx->path, DAY, &w, &rec), -EBADMSG);
	assert_ptr_equal(w, sentinel);
	/* The file is left alone. */
	assert_int_equal(file_size(fx->path), 26);

	/* A valid segment of another day. */
	unlink(fx->path);
	w = open_new(fx->path);
	append_range(w, 1, 2, NULL);
	ht_segment_close(w);
	w = sentinel;
	assert_int_equal(ht_segment_open(fx->path, DAY + 1, &w, &rec), -EBADMSG);
	assert_ptr_equal(w, sentinel);

	/* The right magic and day with a bad header CRC. */
	fd = open(fx->path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, h, sizeof(h), 0), (ssize_t)sizeof(h));
	h[15] ^= 1;
	assert_int_equal(pwrite(fd, h, sizeof(h), 0), (ssize_t)sizeof(h));
	close(fd);
	assert_int_equal(ht_segment_open(fx->path, DAY, &w, &rec), -EBADMSG);
}

static void
test_empty_and_short_file(void **state)
{
	struct fixture *fx = *state;
	struct ht_segment_writer *w;
	struct ht_segment_recovery rec;
	int fd;

	/* An empty file (created, crash before the header): a new segment. */
	fd = open(fx->path, O_WRONLY | O_CREAT | O_EXCL, 0640);
	assert_true(fd >= 0);
	close(fd);
	w = open_new(fx->path);
	assert_int_equal(file_size(fx->path), HT_SEG_HEADER_LEN);
	append_range(w, 1, 3, NULL);
	ht_segment_close(w);
	expect_records(fx->path, 0, UINT64_MAX, 1, 3);

	/* A partial header: also new, and the partial bytes are reported. */
	unlink(fx->path);
	fd = open(fx->path, O_WRONLY | O_CREAT, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "HTSEG0", 6), 6);
	close(fd);
	assert_int_equal(ht_segment_open(fx->path, DAY, &w, &rec), 0);
	assert_int_equal(rec.records, 0);
	assert_int_equal(rec.end, HT_SEG_HEADER_LEN);
	assert_int_equal(rec.truncated, 6);
	assert_int_equal(file_size(fx->path), HT_SEG_HEADER_LEN);
	ht_segment_close(w);
	/* The header written is valid. */
	w = open_new(fx->path);
	ht_segment_close(w);
}

static void
test_discard(void **state)
{
	struct fixture *fx = *state;
	struct ht_segment_writer *w = open_new(fx->path);
	uint64_t size;

	append_range(w, 1, 2, NULL);
	size = ht_segment_size(w);
	assert_int_equal(ht_segment_add(w, 3, "{\"dropped\":1}", 13), 0);
	assert_int_equal(ht_segment_add(w, 4, "{\"dropped\":2}", 13), 0);
	ht_segment_discard(w);
	assert_int_equal(ht_segment_size(w), size);
	assert_int_equal(ht_segment_flush(w), 0);
	assert_int_equal(file_size(fx->path), (off_t)size);
	append_range(w, 3, 4, NULL);
	ht_segment_close(w);
	expect_records(fx->path, 0, UINT64_MAX, 1, 4);
}

static void
test_e2big(void **state)
{
	struct fixture *fx = *state;
	struct ht_segment_writer *w = open_new(fx->path);
	char *big = calloc(1, HT_SEG_MAX_RECORD + 1);

	assert_non_null(big);
	assert_int_equal(ht_segment_add(w, 1, "x", 0), -E2BIG);
	assert_int_equal(ht_segment_add(w, 1, big, HT_SEG_MAX_RECORD + 1), -E2BIG);
	assert_int_equal(ht_segment_add(w, 1, big, UINT32_MAX), -E2BIG);
	/* Refused frames left nothing queued. */
	assert_int_equal(ht_segment_flush(w), 0);
	assert_int_equal(ht_segment_size(w), HT_SEG_HEADER_LEN);
	assert_int_equal(file_size(fx->path), HT_SEG_HEADER_LEN);
	/* The bounds themselves are fine. */
	assert_int_equal(ht_segment_add(w, 1, "x", 1), 0);
	assert_int_equal(ht_segment_add(w, 2, big, HT_SEG_MAX_RECORD), 0);
	assert_int_equal(ht_segment_flush(w), 0);
	assert_int_equal(ht_segment_size(w),
	    HT_SEG_HEADER_LEN + 2 * HT_SEG_FRAME_LEN + 1 + HT_SEG_MAX_RECORD);
	ht_segment_close(w);
	free(big);
}

static void
test_missing_and_errors(void **state)
{
	struct fixture *fx = *state;
	struct ht_segment_reader *r = NULL;
	struct ht_segment_writer *w = NULL;
	char path[PATH_MAX + 16];

	assert_int_equal(ht_segment_reader_open(fx->path, 0, &r), -ENOENT);
	assert_null(r);
	snprintf(path, sizeof(path), "%s/no/such/dir.seg", fx->dir);
	assert_int_equal(ht_segment_open(path, DAY, &w, NULL), -ENOENT);
	assert_null(w);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_create_append_read),
		T(test_reader_limit),
		T(test_reader_follows_writer),
		T(test_many_and_large),
		T(test_torn_tail_cut),
		T(test_torn_tail_garbage),
		T(test_bit_flip_resync),
		T(test_bit_flip_length_past_eof),
		T(test_resync_respects_limit),
		T(test_wrong_header),
		T(test_empty_and_short_file),
		T(test_discard),
		T(test_e2big),
		T(test_missing_and_errors),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}

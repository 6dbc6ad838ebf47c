/*
 * test_gz.c - common/gz.c: what the writer emits gunzips (zlib inflate with
 * windowBits 31, i.e. a gzip wrapper is required) to exactly the input, for
 * empty, small, 10 MB random and highly compressible inputs fed in many small
 * writes; the same input always gives the same bytes (mtime 0 in the
 * header); a dead fd is an error, not a crash.
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
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "gz.h"

/* An in-memory fd, so output can be read back without a file. */
static int
mem_fd(void)
{
	int fd = memfd_create("test_gz", MFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

/* Everything written to fd so far; *ret_len bytes, malloc'd. */
static unsigned char *
fd_contents(int fd, size_t *ret_len)
{
	off_t end = lseek(fd, 0, SEEK_END);
	unsigned char *buf;
	size_t got = 0;

	assert_true(end >= 0);
	buf = malloc((size_t)end + 1);
	assert_non_null(buf);
	while (got < (size_t)end) {
		ssize_t n = pread(fd, buf + got, (size_t)end - got, (off_t)got);

		assert_true(n > 0);
		got += (size_t)n;
	}
	*ret_len = got;
	return buf;
}

/* Inflate a gzip stream (and only a gzip stream: windowBits 31); must be
 * exactly one complete member.  Returns the output, malloc'd. */
static unsigned char *
gunzip(const unsigned char *in, size_t in_len, size_t expect_len, size_t *ret_len)
{
	size_t cap = expect_len + 64;
	unsigned char *out = malloc(cap);
	z_stream zs;
	int zr;

	assert_non_null(out);
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 31), Z_OK);
	zs.next_in = (unsigned char *)(uintptr_t)in;
	zs.avail_in = (uInt)in_len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	zr = inflate(&zs, Z_FINISH);
	assert_int_equal(zr, Z_STREAM_END);
	/* Nothing after the member. */
	assert_int_equal(zs.avail_in, 0);
	*ret_len = zs.total_out;
	inflateEnd(&zs);
	return out;
}

/* Compress data through ht_gz in writes of at most chunk bytes (varying, so
 * write boundaries fall everywhere); returns the file's bytes. */
static unsigned char *
compress_chunked(const unsigned char *data, size_t len, size_t chunk, size_t *ret_len)
{
	struct ht_gz *gz = NULL;
	uint64_t out_bytes = 0;
	unsigned char *file;
	size_t off = 0, i = 0;
	int fd = mem_fd();

	assert_int_equal(ht_gz_new(fd, 6, &gz), 0);
	assert_non_null(gz);
	while (off < len) {
		size_t n = 1 + (i++ * 7919) % chunk;

		if (n > len - off)
			n = len - off;
		assert_int_equal(ht_gz_write(gz, data + off, n), 0);
		off += n;
	}
	/* A zero-length write is harmless. */
	assert_int_equal(ht_gz_write(gz, data, 0), 0);
	assert_int_equal(ht_gz_finish(gz, &out_bytes), 0);
	ht_gz_free(gz);
	file = fd_contents(fd, ret_len);
	assert_int_equal(out_bytes, *ret_len);
	close(fd);
	return file;
}

static void
round_trip(const unsigned char *data, size_t len, size_t chunk, size_t *ret_gz_len)
{
	unsigned char *file, *back;
	size_t file_len, back_len;

	file = compress_chunked(data, len, chunk, &file_len);
	/* gzip magic, deflate, no flags, mtime 0. */
	assert_true(file_len >= 18);
	assert_int_equal(file[0], 0x1f);
	assert_int_equal(file[1], 0x8b);
	assert_int_equal(file[2], 8);
	assert_int_equal(file[3], 0);
	assert_int_equal(file[4] | file[5] | file[6] | file[7], 0);
	back = gunzip(file, file_len, len, &back_len);
	assert_int_equal(back_len, len);
	if (len)
		assert_memory_equal(back, data, len);
	if (ret_gz_len)
		*ret_gz_len = file_len;
	free(back);
	free(file);
}

static void
test_empty(void **state)
{
	(void)state;
	round_trip((const unsigned char *)"", 0, 1, NULL);
}

static void
test_small(void **state)
{
	static const char msg[] = "{\"Records\":[{\"eventName\":\"Login\"}]}";

	(void)state;
	round_trip((const unsigned char *)msg, sizeof(msg) - 1, 3, NULL);
	round_trip((const unsigned char *)"x", 1, 1, NULL);
}

static void
test_random_10mb(void **state)
{
	size_t len = 10 * 1024 * 1024, gz_len = 0;
	unsigned char *data = malloc(len);
	uint64_t x = 0x9e3779b97f4a7c15ull;

	(void)state;
	assert_non_null(data);
	/* xorshift64: incompressible, and the same on every run. */
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		data[i] = (unsigned char)(x >> 24);
	}
	round_trip(data, len, 4096, &gz_len);
	/* Random data does not shrink; the output crossed many buffer drains. */
	assert_true(gz_len > len);
	free(data);
}

static void
test_compressible(void **state)
{
	size_t len = 8 * 1024 * 1024, gz_len = 0;
	unsigned char *data = malloc(len);

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = "{\"eventName\":\"Login\"},"[i % 22];
	round_trip(data, len, 300, &gz_len);
	assert_true(gz_len < len / 100);
	free(data);
}

static void
test_deterministic(void **state)
{
	size_t len = 256 * 1024, a_len, b_len;
	unsigned char *data = malloc(len), *a, *b;

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)((i * 31) ^ (i >> 9));
	/* Different write boundaries, same input: same bytes. */
	a = compress_chunked(data, len, 17, &a_len);
	b = compress_chunked(data, len, 5000, &b_len);
	assert_int_equal(a_len, b_len);
	assert_memory_equal(a, b, a_len);
	free(a);
	free(b);
	free(data);
}

static void
test_closed_fd(void **state)
{
	static unsigned char big[512 * 1024];
	struct ht_gz *gz = NULL;
	uint64_t x = 1;
	int fd = mem_fd(), v;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		big[i] = (unsigned char)(x >> 56);
	}
	assert_int_equal(ht_gz_new(fd, 6, &gz), 0);
	close(fd);
	/* 512 KiB of random data overflows the 128 KiB buffer: the write must
	 * report the dead fd. */
	v = ht_gz_write(gz, big, sizeof(big));
	assert_int_equal(v, -EBADF);
	ht_gz_free(gz);

	/* Closed before anything reached the fd: finish reports it. */
	fd = mem_fd();
	assert_int_equal(ht_gz_new(fd, 6, &gz), 0);
	assert_int_equal(ht_gz_write(gz, "abc", 3), 0);
	close(fd);
	assert_int_equal(ht_gz_finish(gz, NULL), -EBADF);
	ht_gz_free(gz);
}

static void
test_bad_args(void **state)
{
	struct ht_gz *gz = (struct ht_gz *)&gz;

	(void)state;
	assert_int_equal(ht_gz_new(-1, 6, &gz), -EINVAL);
	assert_int_equal(ht_gz_new(1, 0, &gz), -EINVAL);
	assert_int_equal(ht_gz_new(1, 10, &gz), -EINVAL);
	/* ret untouched on failure. */
	assert_ptr_equal(gz, (struct ht_gz *)&gz);
	ht_gz_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_small),
		cmocka_unit_test(test_random_10mb),
		cmocka_unit_test(test_compressible),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_closed_fd),
		cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

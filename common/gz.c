/*
 * gz.c - see gz.h.  Output goes through a 128 KiB buffer so a 50 MB log file
 * costs a few hundred write(2) calls, not one per record.
 */
#include "ht_build.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "gz.h"

#define GZ_OUTBUF (128 * 1024)

struct ht_gz {
	int fd;
	z_stream zs;
	uint64_t out_bytes;
	unsigned char out[GZ_OUTBUF];
};

int
ht_gz_new(int fd, int level, struct ht_gz **ret)
{
	struct ht_gz *gz;

	if (fd < 0 || level < 1 || level > 9)
		return -EINVAL;
	gz = calloc(1, sizeof(*gz));
	if (gz == NULL)
		return -ENOMEM;
	gz->fd = fd;
	/* windowBits 15 + 16 selects the gzip wrapper. */
	if (deflateInit2(&gz->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(gz);
		return -ENOMEM;
	}
	gz->zs.next_out = gz->out;
	gz->zs.avail_out = GZ_OUTBUF;
	*ret = gz;
	return 0;
}

static int
gz_drain(struct ht_gz *gz)
{
	size_t have = GZ_OUTBUF - gz->zs.avail_out;
	size_t off = 0;

	while (off < have) {
		ssize_t w = write(gz->fd, gz->out + off, have - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)w;
	}
	gz->out_bytes += have;
	gz->zs.next_out = gz->out;
	gz->zs.avail_out = GZ_OUTBUF;
	return 0;
}

static int
gz_run(struct ht_gz *gz, int flush)
{
	int zr, r;

	for (;;) {
		zr = deflate(&gz->zs, flush);
		if (zr == Z_STREAM_ERROR)
			return -EIO;
		if (gz->zs.avail_out == 0 || (flush == Z_FINISH && gz->zs.avail_out < GZ_OUTBUF)) {
			r = gz_drain(gz);
			if (r < 0)
				return r;
		}
		if (flush == Z_FINISH) {
			if (zr == Z_STREAM_END)
				return 0;
		} else if (gz->zs.avail_in == 0 && gz->zs.avail_out > 0) {
			return 0;
		}
	}
}

int
ht_gz_write(struct ht_gz *gz, const void *data, size_t len)
{
	const unsigned char *p = data;

	/* avail_in is 32-bit: feed huge inputs in slices. */
	while (len > 0) {
		uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
		int r;

		gz->zs.next_in = (unsigned char *)(uintptr_t)p;
		gz->zs.avail_in = chunk;
		r = gz_run(gz, Z_NO_FLUSH);
		if (r < 0)
			return r;
		p += chunk;
		len -= chunk;
	}
	return 0;
}

int
ht_gz_finish(struct ht_gz *gz, uint64_t *ret_out_bytes)
{
	int r;

	gz->zs.next_in = NULL;
	gz->zs.avail_in = 0;
	r = gz_run(gz, Z_FINISH);
	if (r < 0)
		return r;
	if (ret_out_bytes)
		*ret_out_bytes = gz->out_bytes;
	return 0;
}

void
ht_gz_free(struct ht_gz *gz)
{
	if (gz == NULL)
		return;
	deflateEnd(&gz->zs);
	free(gz);
}

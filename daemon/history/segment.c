/*
 * segment.c - see segment.h.  The writer buffers frames so one pipeline
 * batch is one write(2); the reader reads ahead in 256 KiB windows so a
 * trail scanning a day costs few syscalls.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fileio.h"
#include "le.h"
#include "history/segment.h"

#define SEG_MAGIC "HTSEG002"
#define FRAME_MAGIC 0x31525448u /* "HTR1" */
#define READ_WINDOW (256 * 1024)

struct ht_segment_writer {
	int fd;
	uint32_t day;
	uint64_t size;		/* flushed bytes */
	char *buf;
	size_t len, cap;
};

struct ht_segment_reader {
	int fd;
	uint64_t pos;		/* next frame to read */
	char *buf;		/* window of the file starting at buf_off */
	uint64_t buf_off;
	size_t buf_len, buf_cap;
};

/* crc over len (4 bytes), seq (8 bytes), flags (4 bytes) and the payload. */
static uint32_t
frame_crc(uint32_t len, uint64_t seq, uint32_t flags, const void *payload)
{
	unsigned char hdr[16];
	uLong c;

	ht_le_put32(hdr, len);
	ht_le_put64(hdr + 4, seq);
	ht_le_put32(hdr + 12, flags);
	c = crc32(0L, hdr, sizeof(hdr));
	return (uint32_t)crc32(c, payload, len);
}

static void
header_build(unsigned char h[HT_SEG_HEADER_LEN], uint32_t day)
{
	memcpy(h, SEG_MAGIC, 8);
	ht_le_put32(h + 8, day);
	ht_le_put32(h + 12, (uint32_t)crc32(0L, h, 12));
}

/* ---- reader ---- */

int
ht_segment_reader_open(const char *path, uint64_t offset, struct ht_segment_reader **ret)
{
	struct ht_segment_reader *r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		close(fd);
		return -ENOMEM;
	}
	r->fd = fd;
	r->pos = offset < HT_SEG_HEADER_LEN ? HT_SEG_HEADER_LEN : offset;
	*ret = r;
	return 0;
}

/* Make bytes [off, off+len) available in the window; clipped to limit.
 * Returns a pointer, or NULL if the file (or limit) ends first. */
static const unsigned char *
reader_window(struct ht_segment_reader *r, uint64_t off, size_t len, uint64_t limit, int *err)
{
	size_t want, got;
	int e;

	*err = 0;
	if (off + len > limit)
		return NULL;
	if (off >= r->buf_off && off + len <= r->buf_off + r->buf_len)
		return (const unsigned char *)r->buf + (off - r->buf_off);
	want = len > READ_WINDOW ? len : READ_WINDOW;
	if (want > r->buf_cap) {
		char *nb = realloc(r->buf, want);

		if (nb == NULL) {
			*err = -ENOMEM;
			return NULL;
		}
		r->buf = nb;
		r->buf_cap = want;
	}
	e = ht_pread_all(r->fd, r->buf, want, off, &got);
	if (e < 0) {
		*err = e;
		return NULL;
	}
	r->buf_off = off;
	r->buf_len = got;
	if (got < len)
		return NULL;
	return (const unsigned char *)r->buf;
}

/* Is there a complete, valid frame at off?  Fills f when it is. */
static int
frame_at(struct ht_segment_reader *r, uint64_t off, uint64_t limit, struct ht_frame *f)
{
	const unsigned char *h, *payload;
	uint32_t len, crc, flags;
	uint64_t seq;
	int err;

	h = reader_window(r, off, HT_SEG_FRAME_LEN, limit, &err);
	if (h == NULL)
		return err ? err : 0;
	if (ht_le_get32(h) != FRAME_MAGIC)
		return -EBADMSG;
	len = ht_le_get32(h + 4);
	crc = ht_le_get32(h + 8);
	seq = ht_le_get64(h + 12);
	flags = ht_le_get32(h + 20);
	if (len == 0 || len > HT_SEG_MAX_RECORD)
		return -EBADMSG;
	payload = reader_window(r, off + HT_SEG_FRAME_LEN, len, limit, &err);
	if (payload == NULL)
		return err ? err : 0;
	if (frame_crc(len, seq, flags, payload) != crc)
		return -EBADMSG;
	f->seq = seq;
	f->flags = flags;
	f->offset = off;
	f->next = off + HT_SEG_FRAME_LEN + len;
	f->data = (const char *)payload;
	f->len = len;
	return 1;
}

/* After damage at bad: the offset of the next valid frame that starts before
 * the end (it may run past limit: the reader then stops in front of it and
 * finds it again once the limit moves), or the end if there is none. */
static uint64_t
reader_resync(struct ht_segment_reader *r, uint64_t bad, uint64_t end, bool *ret_found)
{
	struct ht_frame f;

	*ret_found = false;
	for (uint64_t off = bad + 1; off < end; off++) {
		const unsigned char *p;
		int err;

		p = reader_window(r, off, 4, UINT64_MAX, &err);
		if (p == NULL)
			break;
		if (ht_le_get32(p) == FRAME_MAGIC && frame_at(r, off, UINT64_MAX, &f) == 1) {
			*ret_found = true;
			return off;
		}
	}
	return end;
}

int
ht_segment_reader_next(struct ht_segment_reader *r, uint64_t limit, struct ht_frame *f)
{
	uint64_t bad, end;
	struct stat st;
	bool found;
	int v;

	v = frame_at(r, r->pos, limit, f);
	if (v == 1) {
		r->pos = f->next;
		return 1;
	}
	if (v < 0 && v != -EBADMSG)
		return v;
	if (fstat(r->fd, &st) < 0)
		return -errno;
	end = limit < (uint64_t)st.st_size ? limit : (uint64_t)st.st_size;
	if (r->pos + HT_SEG_FRAME_LEN > end)
		return 0;	/* nothing more (at most a torn frame header) */
	/* A frame that does not complete before the end is a torn tail only if
	 * no good frame follows it; otherwise its length field is damaged. */
	bad = r->pos;
	r->pos = reader_resync(r, bad, end, &found);
	if (v == 0 && !found) {
		r->pos = bad;
		return 0;
	}
	f->offset = bad;
	f->next = r->pos;
	f->data = NULL;
	f->len = 0;
	return -EBADMSG;
}

void
ht_segment_reader_free(struct ht_segment_reader *r)
{
	if (r == NULL)
		return;
	close(r->fd);
	free(r->buf);
	free(r);
}

int
ht_segment_read_frame(int fd, uint64_t offset, struct ht_frame *f, char **bufp, size_t *capp)
{
	unsigned char h[HT_SEG_FRAME_LEN];
	uint32_t len, crc, flags;
	uint64_t seq;
	size_t got;
	int v;

	v = ht_pread_all(fd, h, sizeof(h), offset, &got);
	if (v < 0)
		return v;
	if (got < sizeof(h) || ht_le_get32(h) != FRAME_MAGIC)
		return -EBADMSG;
	len = ht_le_get32(h + 4);
	crc = ht_le_get32(h + 8);
	seq = ht_le_get64(h + 12);
	flags = ht_le_get32(h + 20);
	if (len == 0 || len > HT_SEG_MAX_RECORD)
		return -EBADMSG;
	if (*capp < len) {
		char *nb = realloc(*bufp, len);

		if (nb == NULL)
			return -ENOMEM;
		*bufp = nb;
		*capp = len;
	}
	v = ht_pread_all(fd, *bufp, len, offset + HT_SEG_FRAME_LEN, &got);
	if (v < 0)
		return v;
	if (got < len || frame_crc(len, seq, flags, *bufp) != crc)
		return -EBADMSG;
	f->seq = seq;
	f->flags = flags;
	f->offset = offset;
	f->next = offset + HT_SEG_FRAME_LEN + len;
	f->data = *bufp;
	f->len = len;
	return 1;
}

/* ---- writer ---- */

/* Scan an existing segment to its last good frame. */
static int
segment_recover(const char *path, int fd, uint32_t day, struct ht_segment_recovery *rec)
{
	unsigned char h[HT_SEG_HEADER_LEN], want[HT_SEG_HEADER_LEN];
	struct ht_segment_reader *r = NULL;
	struct ht_frame f;
	size_t got;
	int v;

	memset(rec, 0, sizeof(*rec));
	v = ht_pread_all(fd, h, sizeof(h), 0, &got);
	if (v < 0)
		return v;
	header_build(want, day);
	if (got < sizeof(h) || memcmp(h, want, sizeof(h)) != 0)
		return -EBADMSG;
	rec->end = HT_SEG_HEADER_LEN;
	v = ht_segment_reader_open(path, 0, &r);
	if (v < 0)
		return v;
	while ((v = ht_segment_reader_next(r, UINT64_MAX, &f)) != 0) {
		if (v == -EBADMSG)
			continue;
		if (v < 0)
			break;
		rec->records++;
		rec->last_seq = f.seq;
		rec->end = f.next;
	}
	ht_segment_reader_free(r);
	return v;
}

static int
segment_init(int fd, uint32_t day, const char *path, struct ht_segment_recovery *rec)
{
	unsigned char h[HT_SEG_HEADER_LEN];
	struct stat st;
	int v;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size < HT_SEG_HEADER_LEN) {
		/* New, or torn before its header was complete. */
		memset(rec, 0, sizeof(*rec));
		rec->truncated = (uint64_t)st.st_size;
		if (ftruncate(fd, 0) < 0)
			return -errno;
		header_build(h, day);
		v = ht_write_all(fd, h, sizeof(h));
		if (v < 0)
			return v;
		rec->end = HT_SEG_HEADER_LEN;
		return 0;
	}
	v = segment_recover(path, fd, day, rec);
	if (v < 0)
		return v;
	if ((uint64_t)st.st_size > rec->end) {
		rec->truncated = (uint64_t)st.st_size - rec->end;
		if (ftruncate(fd, (off_t)rec->end) < 0)
			return -errno;
	}
	return 0;
}

int
ht_segment_open(const char *path, uint32_t day, struct ht_segment_writer **ret,
    struct ht_segment_recovery *ret_rec)
{
	struct ht_segment_recovery rec;
	struct ht_segment_writer *w;
	int fd, v;

	fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	v = segment_init(fd, day, path, &rec);
	if (v < 0) {
		close(fd);
		return v;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		close(fd);
		return -ENOMEM;
	}
	w->fd = fd;
	w->day = day;
	w->size = rec.end;
	*ret = w;
	if (ret_rec)
		*ret_rec = rec;
	return 0;
}

int
ht_segment_add(struct ht_segment_writer *w, uint64_t seq, const void *payload, uint32_t len)
{
	return ht_segment_add_flags(w, seq, 0, payload, len);
}

int
ht_segment_add_flags(struct ht_segment_writer *w, uint64_t seq, uint32_t flags,
    const void *payload, uint32_t len)
{
	size_t need = HT_SEG_FRAME_LEN + (size_t)len;
	unsigned char *p;

	if (len == 0 || len > HT_SEG_MAX_RECORD)
		return -E2BIG;
	if (w->len + need > w->cap) {
		size_t ncap = w->cap ? w->cap : 64 * 1024;
		char *nb;

		while (ncap < w->len + need)
			ncap *= 2;
		nb = realloc(w->buf, ncap);
		if (nb == NULL)
			return -ENOMEM;
		w->buf = nb;
		w->cap = ncap;
	}
	p = (unsigned char *)w->buf + w->len;
	ht_le_put32(p, FRAME_MAGIC);
	ht_le_put32(p + 4, len);
	ht_le_put32(p + 8, frame_crc(len, seq, flags, payload));
	ht_le_put64(p + 12, seq);
	ht_le_put32(p + 20, flags);
	memcpy(p + HT_SEG_FRAME_LEN, payload, len);
	w->len += need;
	return 0;
}

int
ht_segment_flush(struct ht_segment_writer *w)
{
	int v;

	if (w->len == 0)
		return 0;
	v = ht_write_all(w->fd, w->buf, w->len);
	if (v < 0) {
		/* Cut back a partial write so the file stays a sequence of whole
		 * frames; the caller fails the whole batch. */
		(void)!ftruncate(w->fd, (off_t)w->size);
		w->len = 0;
		return v;
	}
	w->size += w->len;
	w->len = 0;
	return 0;
}

void
ht_segment_discard(struct ht_segment_writer *w)
{
	w->len = 0;
}

uint64_t
ht_segment_size(const struct ht_segment_writer *w)
{
	return w->size;
}

uint32_t
ht_segment_day(const struct ht_segment_writer *w)
{
	return w->day;
}

int
ht_segment_fd(const struct ht_segment_writer *w)
{
	return w->fd;
}

void
ht_segment_close(struct ht_segment_writer *w)
{
	if (w == NULL)
		return;
	close(w->fd);
	free(w->buf);
	free(w);
}

/*
 * segment.h - one history segment file: the records of one UTC day,
 * appended in order, each in a self-checking frame.
 *
 * File layout:
 *   header  16 bytes  "HTSEG002" | u32 day (YYYYMMDD) | u32 crc32 of the first 12
 *   frame   24 bytes  u32 magic "HTR1" | u32 len | u32 crc | u64 seq | u32 flags
 *           len bytes payload (one CloudTrail record, compact JSON)
 * All integers little-endian.  crc is zlib's crc32 over len, seq, flags and
 * payload,
 * so a torn or flipped frame is detected; the magic lets a reader find the
 * next good frame after a damaged one.  seq is the record's number in the
 * whole history, strictly increasing.  flags (HT_RF_* in record.h) carry
 * what trails select on most, so a trail with default selectors never has
 * to parse a record.  The index refers to records by (day, offset).
 */
#ifndef HT_SEGMENT_H
#define HT_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#define HT_SEG_HEADER_LEN 16
#define HT_SEG_FRAME_LEN 24
#define HT_SEG_MAX_RECORD (1024 * 1024)

struct ht_segment_writer;
struct ht_segment_reader;

/* What opening an existing segment found. */
struct ht_segment_recovery {
	uint64_t records;	/* good frames */
	uint64_t last_seq;	/* seq of the last good frame, 0 if none */
	uint64_t end;		/* offset after the last good frame */
	uint64_t truncated;	/* bytes of torn tail cut off */
};

/* Open the segment for day at path for appending, creating it if missing.
 * An existing file is scanned and a torn tail is truncated (reported in
 * *ret_rec, never an error).  0, -EBADMSG if the header is not a segment's,
 * or -errno. */
int ht_segment_open(const char *path, uint32_t day, struct ht_segment_writer **ret,
    struct ht_segment_recovery *ret_rec);
/* Queue one frame in the writer's buffer (no syscall). 0, -E2BIG, -ENOMEM. */
int ht_segment_add_flags(struct ht_segment_writer *w, uint64_t seq, uint32_t flags,
    const void *payload, uint32_t len);
/* The same with flags 0 (unknown). */
int ht_segment_add(struct ht_segment_writer *w, uint64_t seq, const void *payload, uint32_t len);
/* Write the buffered frames with one write(2).  On failure the file is cut
 * back to the last complete write so no partial frame stays.  0 or -errno. */
int ht_segment_flush(struct ht_segment_writer *w);
/* Drop frames added since the last flush. */
void ht_segment_discard(struct ht_segment_writer *w);
/* Offset after the last flushed frame. */
uint64_t ht_segment_size(const struct ht_segment_writer *w);
uint32_t ht_segment_day(const struct ht_segment_writer *w);
/* The fd, for fsync from another thread. */
int ht_segment_fd(const struct ht_segment_writer *w);
/* Close (no fsync) and free. NULL is a no-op. */
void ht_segment_close(struct ht_segment_writer *w);

/* A record read back. data is valid until the next call on the reader. */
struct ht_frame {
	uint64_t seq;
	uint32_t flags;
	uint64_t offset;	/* where the frame starts */
	uint64_t next;		/* where the next frame starts */
	const char *data;
	uint32_t len;
};

/* Open path for reading from offset (0 = first frame).  Thread-safe with
 * respect to a concurrent writer: it only reads what was flushed. */
int ht_segment_reader_open(const char *path, uint64_t offset, struct ht_segment_reader **ret);
/* Next frame before limit (UINT64_MAX = end of file): 1 with *f filled, 0 at
 * the end, -EBADMSG for a damaged frame (the reader moves on to the next
 * good frame; *f->offset/next tell the skipped range), or -errno. */
int ht_segment_reader_next(struct ht_segment_reader *r, uint64_t limit, struct ht_frame *f);
void ht_segment_reader_free(struct ht_segment_reader *r);
/* Read the one frame at offset of the segment open as fd, into *bufp (grown
 * as needed; *capp is its size).  1 with *f filled (f->data points into
 * *bufp), -EBADMSG if there is no valid frame there, or -errno. */
int ht_segment_read_frame(int fd, uint64_t offset, struct ht_frame *f, char **bufp, size_t *capp);

#endif

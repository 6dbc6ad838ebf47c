/*
 * gz.h - a streaming gzip writer onto a file descriptor, through zlib.
 *
 * The gzip header is zlib's default (mtime 0, no name), so the same input
 * always produces the same bytes: a log file rebuilt after a crash under the
 * same name is byte-identical to the one it replaces.
 */
#ifndef HT_GZ_H
#define HT_GZ_H

#include <stddef.h>
#include <stdint.h>

struct ht_gz;

/* A writer that compresses at level (1-9, 6 = gzip's default) into fd, which
 * stays owned by the caller.  0 with *ret set, -ENOMEM, -EINVAL. */
int ht_gz_new(int fd, int level, struct ht_gz **ret);
/* Compress len bytes; output is written to fd as the internal buffer fills.
 * 0, -errno from write(2), or -EIO from zlib. */
int ht_gz_write(struct ht_gz *gz, const void *data, size_t len);
/* Finish the stream and write the trailer.  0 or -errno/-EIO.  Bytes written
 * to fd in all are in *ret_out_bytes (may be NULL). */
int ht_gz_finish(struct ht_gz *gz, uint64_t *ret_out_bytes);
/* Frees the writer (not the fd).  NULL is a no-op. */
void ht_gz_free(struct ht_gz *gz);

#endif

/*
 * spool.h - the local delivery target: a directory laid out exactly like an
 * S3 bucket (object key = relative path).  A file is staged under
 * ROOT/.tmp/ (same filesystem, so the final rename is atomic), fsynced, then
 * renamed to its key and the directory fsynced: a reader of the spool never
 * sees a partial file.  Delivering the same key twice replaces the object,
 * as a PUT to S3 does.
 */
#ifndef HT_SPOOL_H
#define HT_SPOOL_H

#include <stddef.h>

#define HT_SPOOL_STAGING ".tmp"

/* Create a staging file under root; its path goes into tmp_path (len
 * bytes).  0 with *ret_fd set, or -errno. */
int ht_spool_stage(const char *root, char *tmp_path, size_t len, int *ret_fd);
/* fsync and close fd, move tmp_path to root/key (creating directories),
 * fsync the directory.  fd is closed and tmp_path gone in every case.
 * 0 or -errno. */
int ht_spool_commit(const char *root, int fd, const char *tmp_path, const char *key);
/* Discard a staged file. */
void ht_spool_abort(int fd, const char *tmp_path);
/* Deliver the finished file at src (left in place) as root/key: a hard
 * link when src is on the same filesystem, else a copy, staged and renamed
 * like a commit; the directory is fsynced.  Replaces an existing root/key.
 * 0 or -errno. */
int ht_spool_place(const char *root, const char *src, const char *key);
/* Remove staging files left by a crash.  0 or -errno. */
int ht_spool_clean(const char *root);

#endif

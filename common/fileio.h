/*
 * fileio.h - the file operations durability depends on, done one way
 * everywhere: create directories, write a file atomically (temp, fsync,
 * rename, fsync directory), fsync a directory.
 */
#ifndef HT_FILEIO_H
#define HT_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* mkdir -p with mode for every directory created. 0 or -errno. */
int ht_mkdir_p(const char *path, mode_t mode);
/* fsync the directory at path. 0 or -errno. */
int ht_fsync_dir(const char *path);
/* fsync the directory that contains path. 0 or -errno. */
int ht_fsync_parent(const char *path);
/* Replace path with data: write "path.tmp", fsync, rename over path, fsync
 * the directory.  A crash leaves either the old or the new content, never a
 * mix.  0 or -errno. */
int ht_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* write(2) all of data, retrying short writes and EINTR.  0 or -errno. */
int ht_write_all(int fd, const void *data, size_t len);
/* pread(2) up to len bytes at off, retrying short reads and EINTR; stops at
 * end of file.  *ret_got is what was read.  0 or -errno. */
int ht_pread_all(int fd, void *buf, size_t len, uint64_t off, size_t *ret_got);
/* Read a whole (small) file, NUL-terminated; *ret is malloc'd.  max bounds
 * the size (-EFBIG past it).  0 or -errno. */
int ht_read_file(const char *path, size_t max, char **ret, size_t *ret_len);

#endif

/*
 * spool.c - see spool.h.  Runs on worker threads: no logging, no loop.
 */
#include "ht_build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deliver/spool.h"
#include "fileio.h"
#include "util.h"

int
ht_spool_stage(const char *root, char *tmp_path, size_t len, int *ret_fd)
{
	char dir[PATH_MAX], uniq[17];
	int fd, v;

	if (snprintf(dir, sizeof(dir), "%s/%s", root, HT_SPOOL_STAGING) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	v = ht_mkdir_p(dir, 0750);
	if (v < 0)
		return v;
	v = ht_random_alnum(uniq, 16);
	if (v < 0)
		return v;
	if (snprintf(tmp_path, len, "%s/%s.part", dir, uniq) >= (int)len)
		return -ENAMETOOLONG;
	fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

int
ht_spool_commit(const char *root, int fd, const char *tmp_path, const char *key)
{
	char dst[PATH_MAX], dir[PATH_MAX];
	char *slash;
	int v = 0;

	if (fsync(fd) < 0)
		v = -errno;
	if (close(fd) < 0 && v == 0)
		v = -errno;
	if (v == 0 && snprintf(dst, sizeof(dst), "%s/%s", root, key) >= (int)sizeof(dst))
		v = -ENAMETOOLONG;
	if (v < 0)
		goto fail;
	strcpy(dir, dst);
	slash = strrchr(dir, '/');
	*slash = '\0';
	v = ht_mkdir_p(dir, 0750);
	if (v < 0)
		goto fail;
	if (rename(tmp_path, dst) < 0) {
		v = -errno;
		goto fail;
	}
	return ht_fsync_dir(dir);
fail:
	unlink(tmp_path);
	return v;
}

static int
spool_copy(int in, int out)
{
	char buf[64 * 1024];
	ssize_t n;
	int v;

	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		v = ht_write_all(out, buf, (size_t)n);
		if (v < 0)
			return v;
	}
	return 0;
}

int
ht_spool_place(const char *root, const char *src, const char *key)
{
	char tmp[PATH_MAX], dst[PATH_MAX], dir[PATH_MAX], uniq[17];
	int in, fd, v;

	if (snprintf(dst, sizeof(dst), "%s/%s", root, key) >= (int)sizeof(dst) ||
	    snprintf(dir, sizeof(dir), "%s/%s", root, HT_SPOOL_STAGING) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	v = ht_mkdir_p(dir, 0750);
	if (v == 0)
		v = ht_random_alnum(uniq, 16);
	if (v < 0)
		return v;
	if (snprintf(tmp, sizeof(tmp), "%s/%s.part", dir, uniq) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	/* A link is already durable data (the outbox fsynced it); only the
	 * names need syncing, which ht_spool_commit does for the target. */
	if (link(src, tmp) == 0) {
		fd = open(tmp, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			v = -errno;
			unlink(tmp);
			return v;
		}
		return ht_spool_commit(root, fd, tmp, key);
	}
	if (errno != EXDEV && errno != EPERM && errno != EMLINK)
		return -errno;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	v = ht_spool_stage(root, tmp, sizeof(tmp), &fd);
	if (v < 0) {
		close(in);
		return v;
	}
	v = spool_copy(in, fd);
	close(in);
	if (v < 0) {
		ht_spool_abort(fd, tmp);
		return v;
	}
	return ht_spool_commit(root, fd, tmp, key);
}

void
ht_spool_abort(int fd, const char *tmp_path)
{
	if (fd >= 0)
		close(fd);
	unlink(tmp_path);
}

int
ht_spool_clean(const char *root)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", root, HT_SPOOL_STAGING);
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n > 5 && strcmp(de->d_name + n - 5, ".part") == 0 &&
		    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path))
			unlink(path);
	}
	closedir(d);
	return 0;
}

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

#include "fsio.h"

#include <crier/plugin_file.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *fsio_tmp_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	int dir_len = (int)(base - path);
	char *tmp;

	if (asprintf(&tmp, "%.*s.%s.crier-tmp", dir_len, path, base) < 0)
		return NULL;
	return tmp;
}

int fsio_write_aside(const char *path, const void *data, size_t len, mode_t mode)
{
	char *tmp = fsio_tmp_name(path);
	int fd = -1, ret = -1, saved;

	if (!tmp) {
		errno = ENOMEM;
		return -1;
	}
	/* O_NOFOLLOW: a link planted under the temporary name is not followed. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		goto out;
	/* The mode of an existing leftover is not reset by O_CREAT. */
	if (fchmod(fd, mode) != 0 || crier_write_all(fd, data, len) != 0 || fsync(fd) != 0)
		goto out;
	ret = 0;
out:
	saved = errno;
	if (fd >= 0 && close(fd) != 0 && ret == 0) {
		saved = errno;
		ret = -1;
	}
	if (ret != 0 && fd >= 0)
		unlink(tmp);
	free(tmp);
	errno = saved;
	return ret;
}

int fsio_commit(const char *path)
{
	char *tmp = fsio_tmp_name(path);
	int ret;

	if (!tmp) {
		errno = ENOMEM;
		return -1;
	}
	ret = rename(tmp, path);
	free(tmp);
	return ret;
}

void fsio_discard(const char *path)
{
	char *tmp = fsio_tmp_name(path);
	int saved = errno;

	if (tmp)
		unlink(tmp);
	free(tmp);
	errno = saved;
}

int fsio_replace(const char *path, const void *data, size_t len, mode_t mode)
{
	if (fsio_write_aside(path, data, len, mode) != 0)
		return -1;
	if (fsio_commit(path) != 0) {
		fsio_discard(path);
		return -1;
	}
	return crier_sync_parent(path);
}

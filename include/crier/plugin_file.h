/*
 * File helpers for plugins that keep files (a log, a published site):
 * writing a whole buffer, mkdir -p, and making a new name durable.
 *
 * Optional, like plugin_util.h: static inline, nothing of crierd's to
 * link. They need POSIX.1-2008: compile with -D_GNU_SOURCE (as crier does)
 * or -D_POSIX_C_SOURCE=200809L.
 */
#ifndef CRIER_PLUGIN_FILE_H
#define CRIER_PLUGIN_FILE_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200809L
#error "crier/plugin_file.h needs POSIX.1-2008: compile with -D_GNU_SOURCE or -D_POSIX_C_SOURCE=200809L"
#endif

/* Write len bytes of data to fd, going on after short writes and EINTR.
 * 0, or -1 with errno set (EIO when write() writes nothing yet reports no
 * error, which would otherwise loop for ever). */
static inline int crier_write_all(int fd, const void *data, size_t len)
{
	const char *p = (const char *)data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* mkdir -p dir, with mode for the folders it creates. 0, or -1 with errno
 * set. */
static inline int crier_mkdirs(const char *dir, mode_t mode)
{
	char *copy;
	int ret = -1;

	if (!*dir) {
		errno = ENOENT;
		return -1;
	}
	if (!(copy = strdup(dir))) {
		errno = ENOMEM;
		return -1;
	}
	for (char *p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(copy, mode) != 0 && errno != EEXIST)
			goto out;
		*p = c;
		if (!c)
			break;
	}
	ret = 0;
out:
	free(copy);
	return ret;
}

/* fsync the folder holding path, so that a name just created, renamed or
 * removed there survives a crash. 0, or -1 with errno set. */
static inline int crier_sync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, ret;

	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir) {
		errno = ENOMEM;
		return -1;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

#endif /* CRIER_PLUGIN_FILE_H */

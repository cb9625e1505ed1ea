/*
 * Files written so that a reader sees the old version or the new one,
 * never half of either: the content goes to a temporary file in the same
 * folder, is flushed to disk, and only then renamed over the real name.
 */
#ifndef STATUSPAGE_FSIO_H
#define STATUSPAGE_FSIO_H

#include <stddef.h>
#include <sys/types.h>

/* The temporary name fsio_write_aside uses for path: ".<name>.crier-tmp" in
 * the same folder. Returns a new string, or NULL when memory ran out. */
char *fsio_tmp_name(const char *path);

/* Write len bytes of data (borrowed) to fsio_tmp_name(path) with the given
 * mode, and fsync it. Nothing is renamed yet. Returns 0, or -1 with errno
 * set (the temporary file is removed). */
int fsio_write_aside(const char *path, const void *data, size_t len, mode_t mode);

/* Rename the file written aside for path over path. 0, or -1 with errno. */
int fsio_commit(const char *path);

/* Remove what fsio_write_aside left for path, if anything. */
void fsio_discard(const char *path);

/* fsio_write_aside, fsio_commit and crier_sync_parent in one. 0, or -1 with errno. */
int fsio_replace(const char *path, const void *data, size_t len, mode_t mode);

#endif

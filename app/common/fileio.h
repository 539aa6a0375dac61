/* fileio: whole-file reads and atomic, durable writes.
 *
 * Every file the appliance produces (keyring, signatures, payment files, journals) is
 * written to a temporary name in the same directory, fsync'ed, renamed over the target and
 * the directory fsync'ed, so a crash leaves the old file or the new one, never a torn one. */
#ifndef RL_FILEIO_H
#define RL_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Reads the whole file into a malloc'd buffer (NUL-terminated for convenience; *len
 * excludes the NUL). Refuses files larger than max bytes and symlinks at the last
 * component. The caller frees *buf. Returns 0, RL_EDATA (missing, too large) or RL_EIO. */
int file_read_all(const char *path, size_t max, char **buf, size_t *len)
    __attribute__((warn_unused_result));

/* Writes data to path atomically and durably with the given mode (e.g. 0600).
 * Returns 0 or RL_EIO with a message naming the path and the system error. */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
    __attribute__((warn_unused_result));

/* fsyncs the directory that contains path (after a rename or create in it). */
int file_sync_dir(const char *path) __attribute__((warn_unused_result));

/* Writes all len bytes with retries on EINTR and short writes. Returns 0 or RL_EIO. */
int file_write_full(int fd, const void *data, size_t len) __attribute__((warn_unused_result));

#endif

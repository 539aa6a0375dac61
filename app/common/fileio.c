/* fileio: whole-file reads and atomic, durable writes (see fileio.h). */
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/mem.h"

int file_read_all(const char *path, size_t max, char **buf, size_t *len)
{
    int rc = RL_EIO;
    char *data = NULL;
    size_t used = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    *buf = NULL;
    *len = 0;
    if (fd < 0) {
        rc = err_set(errno == ENOENT ? RL_EDATA : RL_EIO, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = err_set(RL_EIO, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = err_set(RL_EDATA, "%s: not a regular file", path);
        goto cleanup;
    }
    if ((size_t)st.st_size > max) {
        rc = err_set(RL_EDATA, "%s: file too large (%lld bytes, limit %zu)", path,
                     (long long)st.st_size, max);
        goto cleanup;
    }
    size_t cap = (size_t)st.st_size + 1;
    data = mem_big(cap); /* a snapshot's files are tens of MB: faulted in cheaply */
    if (data == NULL) {
        rc = err_set(RL_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    for (;;) {
        if (used + 1 >= cap) {
            if (cap > max) {
                rc = err_set(RL_EDATA, "%s: file too large (limit %zu)", path, max);
                goto cleanup;
            }
            char *grown = realloc(data, cap * 2);
            if (grown == NULL) {
                rc = err_set(RL_ENOMEM, "%s: out of memory", path);
                goto cleanup;
            }
            data = grown;
            cap *= 2;
        }
        ssize_t n = read(fd, data + used, cap - 1 - used);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = err_set(RL_EIO, "%s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    if (used > max) {
        rc = err_set(RL_EDATA, "%s: file too large (limit %zu)", path, max);
        goto cleanup;
    }
    data[used] = '\0';
    *buf = data;
    *len = used;
    data = NULL;
    rc = RL_OK;
cleanup:
    free(data);
    if (fd >= 0)
        close(fd);
    return rc;
}

int file_write_full(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return err_set(RL_EIO, "write: %s", strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    return RL_OK;
}

int file_sync_dir(const char *path)
{
    char copy[4096];
    int n = snprintf(copy, sizeof copy, "%s", path);
    if (n < 0 || (size_t)n >= sizeof copy)
        return err_set(RL_EIO, "path too long");
    const char *dir = dirname(copy);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_set(RL_EIO, "%s: %s", dir, strerror(errno));
    int rc = RL_OK;
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = err_set(RL_EIO, "%s: fsync: %s", dir, strerror(errno));
    close(fd);
    return rc;
}

int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    int rc = RL_EIO;
    char tmp[4096];
    int fd = -1;
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp)
        return err_set(RL_EIO, "%s: path too long", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        rc = err_set(RL_EIO, "%s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (file_write_full(fd, data, len) != 0) {
        rc = err_wrap(RL_EIO, "%s: ", tmp);
        goto cleanup;
    }
    if (fsync(fd) != 0) {
        rc = err_set(RL_EIO, "%s: fsync: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = err_set(RL_EIO, "%s: close: %s", tmp, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = err_set(RL_EIO, "%s: rename: %s", path, strerror(errno));
        goto cleanup;
    }
    rc = file_sync_dir(path);
cleanup:
    if (fd >= 0)
        close(fd);
    if (rc != RL_OK)
        unlink(tmp);
    return rc;
}

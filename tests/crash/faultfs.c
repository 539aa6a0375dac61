/* faultfs: an LD_PRELOAD fault layer that simulates a power cut (make crashtest,
 * docs/crashtest.md). Test-only: never linked into the appliance.
 *
 * It watches every file whose path lies under $FAULT_DIR (the vault directory): the
 * database, its WAL and the commit record, whatever opens them (SQLite's unix VFS under our
 * sealing shim, or vault.c's own open/pwrite/fdatasync). It keeps, per file, a shadow of the
 * durable state (the contents as of the last fsync/fdatasync) and the list of writes and
 * truncations since. Each write, sync, truncate, rename or unlink of a watched file is one
 * operation; operation number $FAULT_AT (1-based; 0 = never: only count) is not performed.
 * Instead the power is cut: every watched file is rewritten as its durable shadow plus
 *   FAULT_MODE=drop  (default) no unsynced write, but a random sector-aligned prefix of the
 *                    write being made at the cut (a torn write);
 *   FAULT_MODE=mix   each unsynced write or truncation independently kept or lost (the
 *                    page cache writes back in any order), and the torn prefix;
 * and the process stops at once with _exit(FAULT_EXIT_CODE = 86). The real fsync of a watched
 * file is skipped (the shadow models durability; the real one would only cost time). Randomness comes from
 * $FAULT_SEED. At a normal exit the number of operations is written to $FAULT_COUNT_OUT;
 * faultfs_ops() gives the count so far to the process (to mark a workload's phases).
 *
 * Not modelled: directory entries (creation, rename and unlink are taken as durable when
 * they return), the disk's own reordering of synced data, partial sector writes. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FAULT_EXIT_CODE 86
#define MAX_FILES 32
#define MAX_FD 4096
#define SECTOR 512

enum { OP_WRITE, OP_TRUNC };

typedef struct {
    int kind;
    long long off; /* write offset, or the new size */
    size_t len;
    unsigned char *data;
} op;

typedef struct {
    int used;
    char path[4096];
    unsigned char *img; /* durable contents */
    size_t size, cap;
    op *ops; /* since the last sync */
    size_t nops, capops;
} shadow;

static shadow files[MAX_FILES];
static int fd_file[MAX_FD];
static char dir[4096];
static size_t dir_len;
static unsigned long long at, count;
static int mode_mix;
static uint64_t rng = 88172645463325252ULL;
static int ready, in_cut;

static int (*r_open)(const char *, int, ...);
static int (*r_openat)(int, const char *, int, ...);
static int (*r_close)(int);
static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_pwrite)(int, const void *, size_t, off_t);
static int (*r_fsync)(int);
static int (*r_fdatasync)(int);
static int (*r_ftruncate)(int, off_t);
static int (*r_rename)(const char *, const char *);
static int (*r_unlink)(const char *);

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void die(const char *what)
{
    static const char m[] = "faultfs: fatal: ";
    ssize_t ignored = write(2, m, sizeof m - 1);
    ignored = write(2, what, strlen(what));
    ignored = write(2, "\n", 1);
    (void)ignored;
    _exit(97);
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(p, c * elem);
    if (q == NULL)
        die("out of memory");
    *cap = c;
    return q;
}

static void init(void)
{
    if (ready)
        return;
    r_open = dlsym(RTLD_NEXT, "open");
    r_openat = dlsym(RTLD_NEXT, "openat");
    r_close = dlsym(RTLD_NEXT, "close");
    r_write = dlsym(RTLD_NEXT, "write");
    r_pwrite = dlsym(RTLD_NEXT, "pwrite");
    r_fsync = dlsym(RTLD_NEXT, "fsync");
    r_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    r_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
    r_rename = dlsym(RTLD_NEXT, "rename");
    r_unlink = dlsym(RTLD_NEXT, "unlink");
    for (int i = 0; i < MAX_FD; i++)
        fd_file[i] = -1;
    const char *d = getenv("FAULT_DIR");
    if (d != NULL && d[0] == '/' && strlen(d) + 2 < sizeof dir) {
        snprintf(dir, sizeof dir, "%s/", d);
        dir_len = strlen(dir);
    }
    const char *s = getenv("FAULT_AT");
    at = s ? strtoull(s, NULL, 10) : 0;
    s = getenv("FAULT_MODE");
    mode_mix = s != NULL && strcmp(s, "mix") == 0;
    s = getenv("FAULT_SEED");
    if (s != NULL)
        rng ^= strtoull(s, NULL, 10) * 0x9E3779B97F4A7C15ULL;
    if (rng == 0)
        rng = 1;
    ready = 1;
}

/* The absolute path of name, if it lies under the watched directory. */
static int watched(int dirfd, const char *name, char *abs, size_t cap)
{
    if (dir_len == 0 || name == NULL)
        return 0;
    if (name[0] == '/')
        snprintf(abs, cap, "%s", name);
    else {
        char cwd[2048];
        if (dirfd != AT_FDCWD || getcwd(cwd, sizeof cwd) == NULL)
            return 0;
        snprintf(abs, cap, "%s/%s", cwd, name);
    }
    return strncmp(abs, dir, dir_len) == 0 && strchr(abs + dir_len, '/') == NULL;
}

static int find(const char *abs)
{
    for (int i = 0; i < MAX_FILES; i++)
        if (files[i].used && strcmp(files[i].path, abs) == 0)
            return i;
    return -1;
}

static void set_size(shadow *f, size_t n)
{
    f->img = grow(f->img, &f->cap, n + 1, 1);
    if (n > f->size)
        memset(f->img + f->size, 0, n - f->size);
    f->size = n;
}

static void apply(shadow *f, const op *o, size_t len)
{
    if (o->kind == OP_TRUNC) {
        set_size(f, (size_t)o->off);
        return;
    }
    size_t end = (size_t)o->off + len;
    if (end > f->size)
        set_size(f, end);
    memcpy(f->img + o->off, o->data, len);
}

/* Starts watching abs (its current contents are durable: nothing unsynced yet). */
static int track(const char *abs)
{
    int i = find(abs);
    if (i >= 0)
        return i;
    for (i = 0; i < MAX_FILES && files[i].used; i++)
        ;
    if (i == MAX_FILES)
        die("too many files");
    shadow *f = &files[i];
    memset(f, 0, sizeof *f);
    f->used = 1;
    snprintf(f->path, sizeof f->path, "%s", abs);
    int fd = r_open(abs, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        unsigned char buf[65536];
        ssize_t got;
        while ((got = read(fd, buf, sizeof buf)) > 0) {
            size_t old = f->size;
            set_size(f, old + (size_t)got);
            memcpy(f->img + old, buf, (size_t)got);
        }
        r_close(fd);
    }
    return i;
}

static void record(shadow *f, int kind, long long off, const void *data, size_t len)
{
    f->ops = grow(f->ops, &f->capops, f->nops + 1, sizeof *f->ops);
    op *o = &f->ops[f->nops++];
    o->kind = kind;
    o->off = off;
    o->len = len;
    o->data = NULL;
    if (kind == OP_WRITE) {
        o->data = malloc(len ? len : 1);
        if (o->data == NULL)
            die("out of memory");
        memcpy(o->data, data, len);
    }
}

static void synced(shadow *f)
{
    for (size_t i = 0; i < f->nops; i++) {
        apply(f, &f->ops[i], f->ops[i].len);
        free(f->ops[i].data);
    }
    f->nops = 0;
}

/* The power cut: torn is the file and write in progress (or NULL). Never returns. */
static void cut(shadow *torn, long long off, const void *data, size_t len)
{
    in_cut = 1;
    size_t keep = 0;
    if (torn != NULL && len > 0)
        keep = (size_t)(rnd() % (len / SECTOR + 1)) * SECTOR; /* 0 .. whole sectors */
    for (int i = 0; i < MAX_FILES; i++) {
        shadow *f = &files[i];
        if (!f->used)
            continue;
        if (mode_mix)
            for (size_t j = 0; j < f->nops; j++)
                if (rnd() & 1)
                    apply(f, &f->ops[j], f->ops[j].len);
        if (f == torn && keep > 0) {
            op o = {OP_WRITE, off, keep, (unsigned char *)data};
            apply(f, &o, keep);
        }
        int fd = r_open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
            die("cannot rewrite a file at the cut");
        size_t done = 0;
        while (done < f->size) {
            ssize_t w = r_write(fd, f->img + done, f->size - done);
            if (w <= 0)
                die("cannot rewrite a file at the cut");
            done += (size_t)w;
        }
        r_close(fd);
    }
    _exit(FAULT_EXIT_CODE);
}

/* Counts one operation on a watched file; cuts the power if it is operation FAULT_AT. */
static void step(shadow *f, long long off, const void *data, size_t len)
{
    count++;
    if (at != 0 && count == at)
        cut(f, off, data, len);
}

static shadow *of_fd(int fd)
{
    if (in_cut || fd < 0 || fd >= MAX_FD || fd_file[fd] < 0 || !files[fd_file[fd]].used)
        return NULL;
    return &files[fd_file[fd]];
}

static void opened(int fd, const char *abs, int flags)
{
    if (fd < 0 || fd >= MAX_FD)
        return;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    int i = track(abs);
    fd_file[fd] = i;
    if (flags & O_TRUNC)
        record(&files[i], OP_TRUNC, 0, NULL, 0);
}

/* --- interposed calls --------------------------------------------------------------------- */

static int do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    init();
    char abs[4096];
    int w = !in_cut && watched(dirfd, path, abs, sizeof abs);
    if (w && (flags & O_TRUNC))
        track(abs); /* the contents before the truncation are the durable ones */
    int fd = r_openat(dirfd, path, flags, mode);
    if (w)
        opened(fd, abs, flags);
    return fd;
}

#define MODE_ARG(flags, mode)                                                                      \
    mode_t mode = 0;                                                                               \
    if ((flags) & (O_CREAT | __O_TMPFILE)) {                                                       \
        va_list ap;                                                                                \
        va_start(ap, flags);                                                                       \
        mode = (mode_t)va_arg(ap, int);                                                            \
        va_end(ap);                                                                                \
    }

int open(const char *path, int flags, ...)
{
    MODE_ARG(flags, mode)
    return do_openat(AT_FDCWD, path, flags, mode);
}
int open64(const char *path, int flags, ...)
{
    MODE_ARG(flags, mode)
    return do_openat(AT_FDCWD, path, flags, mode);
}
int openat(int dirfd, const char *path, int flags, ...)
{
    MODE_ARG(flags, mode)
    return do_openat(dirfd, path, flags, mode);
}
int openat64(int dirfd, const char *path, int flags, ...)
{
    MODE_ARG(flags, mode)
    return do_openat(dirfd, path, flags, mode);
}
int __open_2(const char *path, int flags);
int __open_2(const char *path, int flags) { return do_openat(AT_FDCWD, path, flags, 0); }
int __open64_2(const char *path, int flags);
int __open64_2(const char *path, int flags) { return do_openat(AT_FDCWD, path, flags, 0); }

int close(int fd)
{
    init();
    if (fd >= 0 && fd < MAX_FD)
        fd_file[fd] = -1;
    return r_close(fd);
}

static ssize_t do_pwrite(int fd, const void *buf, size_t n, long long off, int positional)
{
    init();
    shadow *f = of_fd(fd);
    if (f == NULL)
        return positional ? r_pwrite(fd, buf, n, (off_t)off) : r_write(fd, buf, n);
    if (!positional) {
        off = (long long)lseek(fd, 0, SEEK_CUR);
        if (fcntl(fd, F_GETFL) & O_APPEND)
            off = (long long)lseek(fd, 0, SEEK_END);
    }
    step(f, off, buf, n);
    ssize_t w = positional ? r_pwrite(fd, buf, n, (off_t)off) : r_write(fd, buf, n);
    if (w > 0)
        record(f, OP_WRITE, off, buf, (size_t)w);
    return w;
}

ssize_t write(int fd, const void *buf, size_t n) { return do_pwrite(fd, buf, n, 0, 0); }
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return do_pwrite(fd, buf, n, (long long)off, 1);
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    return do_pwrite(fd, buf, n, (long long)off, 1);
}

static int do_sync(int fd, int data)
{
    init();
    shadow *f = of_fd(fd);
    if (f != NULL)
        step(NULL, 0, NULL, 0);
    if (f == NULL)
        return data ? r_fdatasync(fd) : r_fsync(fd);
    /* Durability is modelled here (the shadow), so the real sync is skipped: it would
     * only make each crash point slower. */
    synced(f);
    return 0;
}

int fsync(int fd) { return do_sync(fd, 0); }
int fdatasync(int fd) { return do_sync(fd, 1); }

static int do_ftruncate(int fd, long long size)
{
    init();
    shadow *f = of_fd(fd);
    if (f != NULL)
        step(NULL, 0, NULL, 0);
    int rc = r_ftruncate(fd, (off_t)size);
    if (f != NULL && rc == 0)
        record(f, OP_TRUNC, size, NULL, 0);
    return rc;
}

int ftruncate(int fd, off_t size) { return do_ftruncate(fd, (long long)size); }
int ftruncate64(int fd, off64_t size) { return do_ftruncate(fd, (long long)size); }

int rename(const char *from, const char *to)
{
    init();
    char a[4096], b[4096];
    int wa = !in_cut && watched(AT_FDCWD, from, a, sizeof a);
    int wb = !in_cut && watched(AT_FDCWD, to, b, sizeof b);
    if (wa || wb)
        step(NULL, 0, NULL, 0);
    int rc = r_rename(from, to);
    if (rc == 0 && (wa || wb)) {
        int j = wb ? find(b) : -1;
        if (j >= 0)
            files[j].used = 0; /* replaced (its open fds keep pointing at it: rare) */
        int i = wa ? find(a) : -1;
        if (i >= 0 && wb)
            snprintf(files[i].path, sizeof files[i].path, "%s", b);
        else if (i >= 0)
            files[i].used = 0;
    }
    return rc;
}

int unlink(const char *path)
{
    init();
    char a[4096];
    int w = !in_cut && watched(AT_FDCWD, path, a, sizeof a);
    if (w)
        step(NULL, 0, NULL, 0);
    int rc = r_unlink(path);
    if (rc == 0 && w) {
        int i = find(a);
        if (i >= 0)
            files[i].used = 0;
    }
    return rc;
}

/* The number of operations so far: the workload marks its phases with it (crashtest). */
unsigned long long faultfs_ops(void);
unsigned long long faultfs_ops(void) { return count; }

__attribute__((destructor)) static void report(void)
{
    const char *out = getenv("FAULT_COUNT_OUT");
    if (out == NULL || in_cut)
        return;
    FILE *f = fopen(out, "w");
    if (f != NULL) {
        fprintf(f, "%llu\n", count);
        fclose(f);
    }
}

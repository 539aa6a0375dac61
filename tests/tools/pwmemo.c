/* pwmemo: the memoised crypto_pwhash of the test tools (see pwmemo.h). TEST-ONLY. */
#include "pwmemo.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef int (*pwhash_fn)(unsigned char *, unsigned long long, const char *, unsigned long long,
                         const unsigned char *, unsigned long long, size_t, int);

#define MEMO_MAX 64
#define OUT_MAX 64 /* the keyring derives 32 bytes; longer outputs are not memoised */

static struct {
    uint8_t id[32];
    uint8_t out[OUT_MAX];
    unsigned long long outlen;
} memo[MEMO_MAX];
static size_t memo_n;
static unsigned long n_real, n_memo;
static char memo_dir[4096];

int pwmemo_use_dir(const char *dir)
{
    if (dir == NULL) {
        memo_dir[0] = '\0';
        return 0;
    }
    if (strlen(dir) + 80 > sizeof memo_dir) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -1;
    snprintf(memo_dir, sizeof memo_dir, "%s", dir);
    return 0;
}

void pwmemo_stats(unsigned long *real, unsigned long *memoised)
{
    *real = n_real;
    *memoised = n_memo;
}

/* Every input that decides the output, hashed: a file name that reveals nothing. */
static void memo_id(uint8_t id[32], unsigned long long outlen, const char *passwd,
                    unsigned long long passwdlen, const unsigned char *salt,
                    unsigned long long opslimit, size_t memlimit, int alg)
{
    static const char domain[] = "reservlon test pwmemo v1";
    uint64_t p[5] = {outlen, opslimit, memlimit, (uint64_t)(int64_t)alg, passwdlen};
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    crypto_generichash_update(&h, (const uint8_t *)domain, sizeof domain);
    crypto_generichash_update(&h, (const uint8_t *)p, sizeof p);
    crypto_generichash_update(&h, salt, crypto_pwhash_SALTBYTES);
    crypto_generichash_update(&h, (const uint8_t *)passwd, passwdlen);
    crypto_generichash_final(&h, id, 32);
}

static void memo_path(char *path, size_t cap, const uint8_t id[32])
{
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, id, 32);
    snprintf(path, cap, "%s/%s", memo_dir, hex);
}

/* The file entry for id, if there is one of exactly outlen bytes. */
static int file_get(const uint8_t id[32], unsigned char *out, unsigned long long outlen)
{
    char path[4200];
    uint8_t buf[OUT_MAX + 1];
    memo_path(path, sizeof path, id);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    size_t got = 0;
    ssize_t n;
    while (got < sizeof buf && (n = read(fd, buf + got, sizeof buf - got)) > 0)
        got += (size_t)n;
    close(fd);
    int ok = got == outlen;
    if (ok)
        memcpy(out, buf, got);
    sodium_memzero(buf, sizeof buf);
    return ok;
}

/* Writes the entry under a temporary name and renames it into place, so that a process
 * reading it concurrently sees the whole entry or none. Failure only costs a later real
 * call. */
static void file_put(const uint8_t id[32], const unsigned char *out, unsigned long long outlen)
{
    char path[4200], tmp[4300];
    memo_path(path, sizeof path, id);
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return;
    ssize_t n = write(fd, out, (size_t)outlen);
    if (close(fd) != 0 || n != (ssize_t)outlen || rename(tmp, path) != 0)
        unlink(tmp);
}

static void mem_put(const uint8_t id[32], const unsigned char *out, unsigned long long outlen)
{
    size_t slot = memo_n < MEMO_MAX ? memo_n++ : (size_t)(n_real % MEMO_MAX);
    memcpy(memo[slot].id, id, 32);
    memcpy(memo[slot].out, out, (size_t)outlen);
    memo[slot].outlen = outlen;
}

int crypto_pwhash(unsigned char *const out, unsigned long long outlen, const char *const passwd,
                  unsigned long long passwdlen, const unsigned char *const salt,
                  unsigned long long opslimit, size_t memlimit, int alg)
{
    uint8_t id[32];
    memo_id(id, outlen, passwd, passwdlen, salt, opslimit, memlimit, alg);
    for (size_t i = 0; i < memo_n; i++)
        if (memo[i].outlen == outlen && memcmp(memo[i].id, id, sizeof id) == 0) {
            memcpy(out, memo[i].out, (size_t)outlen);
            n_memo++;
            return 0;
        }
    if (outlen <= OUT_MAX && memo_dir[0] && file_get(id, out, outlen)) {
        mem_put(id, out, outlen);
        n_memo++;
        return 0;
    }
    static pwhash_fn real;
    if (real == NULL) {
        void *sym = dlsym(RTLD_NEXT, "crypto_pwhash");
        memcpy(&real, &sym, sizeof real);
    }
    if (real == NULL) {
        fprintf(stderr, "pwmemo: libsodium's crypto_pwhash not found\n");
        exit(2);
    }
    int rc = real(out, outlen, passwd, passwdlen, salt, opslimit, memlimit, alg);
    n_real++;
    if (rc == 0 && outlen <= OUT_MAX) {
        mem_put(id, out, outlen);
        if (memo_dir[0])
            file_put(id, out, outlen);
    }
    return rc;
}

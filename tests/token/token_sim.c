/* token-sim: plugs emulated USB tokens in for one command, for drills and manual tries.
 *
 *   umockdev-wrapper token-sim [--serial S [--state FILE]]... [--flash-mib N] [--packet 64|512]
 *                              [--stats FILE] -- CMD [ARGS...]
 *
 * Each token is the REAL firmware core on the host HAL behind umockdev (tests/token/emu.c, as
 * in tests/token/test_cli.c). CMD runs as a child process; it inherits umockdev's preload
 * (LD_PRELOAD, from umockdev-wrapper) and the testbed (UMOCKDEV_DIR), so `reservlon token ...`
 * in it finds the emulated devices through its unchanged libusb. token-sim waits for CMD and
 * exits with its status (128 + signal number if it was killed).
 *
 * Persistence: a token given `--state FILE` starts from the flash image in FILE when FILE
 * exists (its size is the flash size) and, after CMD has exited, its flash is written back to
 * FILE (temp file + rename). Between two token-sim runs the token is unplugged: RAM state and
 * any unfinished upload are lost, flash is kept, exactly as when a real token is pulled out
 * and plugged in again. A blank token (no FILE yet) has an erased flash: it has no enrolment
 * authority and no appliance key until `reservlon token enroll` provisions it.
 *
 * --flash-mib N   flash size of tokens without an existing state (default 64 MiB: 4 KiB erase
 *                 blocks, 256-byte pages); must agree with an existing state file if given
 * --packet P      bulk wMaxPacketSize: 64 (full speed) or 512 (high speed, default)
 * --stats FILE    appends one line after CMD: its wall time and the USB traffic per token
 *
 * TEST and DRILL use only: the emulated token verifies signatures exactly as the firmware does,
 * but it is software on the appliance's own host. Exit codes of its own: 125 (usage or
 * emulator failure, nothing run), 126 (CMD not executable), 127 (CMD not found). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../firmware/hal/host/hal_host.h"
#include "emu.h"

#define SIM_MAX_TOKENS 8
#define SIM_EXIT_OWN 125
#define SIM_BLOCK 4096u

typedef struct {
    const char *serial;
    const char *state; /* NULL: not persisted */
    emu_dev *dev;
    int loaded;   /* the flash came from the state file */
    uint64_t ops; /* flash operations before CMD ran */
} sim_token;

static volatile sig_atomic_t child_pid;

static void usage(void)
{
    fprintf(stderr,
            "usage: umockdev-wrapper token-sim [--serial S [--state FILE]]... [--flash-mib N]\n"
            "                                  [--packet 64|512] [--stats FILE] -- CMD [ARGS...]\n"
            "Plugs emulated tokens (firmware core + host HAL behind umockdev) in, runs CMD, waits,\n"
            "saves each token's flash to its --state FILE and exits with CMD's status.\n");
}

static void forward(int sig)
{
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_u32(const char *s, unsigned long lo, unsigned long hi, uint32_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Loads the state file into a freshly plugged token, then power-cycles it so the firmware
 * mounts the loaded flash (token_open ran on the erased flash when it was plugged). */
static int load_state(sim_token *t)
{
    emu_lock(t->dev);
    int rc = hal_host_flash_load(emu_hal(t->dev), t->state);
    emu_unlock(t->dev);
    if (rc != 0) {
        fprintf(stderr, "token-sim: cannot load %s: %s\n", t->state, strerror(errno));
        return -1;
    }
    emu_replug(t->dev);
    return 0;
}

static int save_state(sim_token *t)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", t->state) >= sizeof tmp) {
        fprintf(stderr, "token-sim: state path too long: %s\n", t->state);
        return -1;
    }
    /* The image holds the token's files (a payment file: names, accounts, amounts): the
     * temp file is made 0600 before hal_host_flash_save (which keeps an existing mode). */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0 || close(fd) != 0) {
        fprintf(stderr, "token-sim: cannot create %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    emu_lock(t->dev);
    int rc = hal_host_flash_save(emu_hal(t->dev), tmp);
    emu_unlock(t->dev);
    if (rc != 0 || rename(tmp, t->state) != 0) {
        fprintf(stderr, "token-sim: cannot save the flash of %s to %s: %s\n", t->serial, t->state,
                strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    sim_token toks[SIM_MAX_TOKENS];
    size_t ntoks = 0;
    uint32_t flash_mib = 64, packet = 512;
    int flash_given = 0;
    const char *stats_path = NULL;
    int i = 1;
    memset(toks, 0, sizeof toks);
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "token-sim: %s needs a value\n", a);
            usage();
            return SIM_EXIT_OWN;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--serial") == 0) {
            if (ntoks == SIM_MAX_TOKENS) {
                fprintf(stderr, "token-sim: at most %d tokens\n", SIM_MAX_TOKENS);
                return SIM_EXIT_OWN;
            }
            size_t n = strlen(v);
            int ok = n >= 1 && n <= 16;
            for (size_t k = 0; k < n && ok; k++)
                ok = v[k] > 0x20 && v[k] < 0x7F && v[k] != ',';
            if (!ok) {
                fprintf(stderr, "token-sim: serial '%s': 1-16 printable characters, no comma\n", v);
                return SIM_EXIT_OWN;
            }
            for (size_t k = 0; k < ntoks; k++)
                if (strcmp(toks[k].serial, v) == 0) {
                    fprintf(stderr, "token-sim: serial %s given twice\n", v);
                    return SIM_EXIT_OWN;
                }
            toks[ntoks++].serial = v;
        } else if (strcmp(a, "--state") == 0) {
            if (ntoks == 0 || toks[ntoks - 1].state != NULL) {
                fprintf(stderr, "token-sim: --state FILE follows the --serial it belongs to\n");
                return SIM_EXIT_OWN;
            }
            toks[ntoks - 1].state = v;
        } else if (strcmp(a, "--flash-mib") == 0) {
            if (parse_u32(v, 1, 1024, &flash_mib) != 0) {
                fprintf(stderr, "token-sim: --flash-mib: 1..1024\n");
                return SIM_EXIT_OWN;
            }
            flash_given = 1;
        } else if (strcmp(a, "--packet") == 0) {
            if (parse_u32(v, 64, 512, &packet) != 0 || (packet != 64 && packet != 512)) {
                fprintf(stderr, "token-sim: --packet: 64 or 512\n");
                return SIM_EXIT_OWN;
            }
        } else if (strcmp(a, "--stats") == 0) {
            stats_path = v;
        } else {
            fprintf(stderr, "token-sim: unknown option %s\n", a);
            usage();
            return SIM_EXIT_OWN;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "token-sim: no command given (after --)\n");
        usage();
        return SIM_EXIT_OWN;
    }
    if (ntoks == 0) {
        fprintf(stderr, "token-sim: no token: give --serial S\n");
        return SIM_EXIT_OWN;
    }
    char **cmd = argv + i;

    emu *e = emu_new(); /* prints "run under umockdev-wrapper" itself */
    if (e == NULL)
        return SIM_EXIT_OWN;
    int rc = SIM_EXIT_OWN;
    for (size_t k = 0; k < ntoks; k++) {
        sim_token *t = &toks[k];
        emu_dev_config c;
        emu_dev_config_default(&c);
        c.serial = t->serial;
        c.max_packet = packet;
        c.block_count = flash_mib * (1024u * 1024u / SIM_BLOCK);
        struct stat st;
        int have_state = t->state != NULL && stat(t->state, &st) == 0;
        if (have_state) {
            if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size % SIM_BLOCK != 0 ||
                st.st_size / SIM_BLOCK > 1024 * 256) {
                fprintf(stderr, "token-sim: %s is not a flash image (size %lld)\n", t->state,
                        (long long)st.st_size);
                goto out;
            }
            uint32_t blocks = (uint32_t)(st.st_size / SIM_BLOCK);
            if (flash_given && blocks != c.block_count) {
                fprintf(stderr, "token-sim: %s holds a %lld-byte flash, not --flash-mib %u\n",
                        t->state, (long long)st.st_size, flash_mib);
                goto out;
            }
            c.block_count = blocks;
        }
        t->dev = emu_add(e, &c);
        if (t->dev == NULL) {
            fprintf(stderr, "token-sim: cannot plug token %s\n", t->serial);
            goto out;
        }
        if (have_state) {
            if (load_state(t) != 0)
                goto out;
            t->loaded = 1;
        }
    }

    /* The flash operations so far: a token whose count has not moved when CMD is done was
     * only read, and its state file need not be written again. */
    for (size_t k = 0; k < ntoks; k++) {
        emu_lock(toks[k].dev);
        toks[k].ops = hal_host_flash_ops(emu_hal(toks[k].dev));
        emu_unlock(toks[k].dev);
    }
    double t0 = now();
    fflush(NULL);
    /* posix_spawn (vfork-like), not fork: no copy of the page tables of the flash images. */
    pid_t pid;
    int serr = posix_spawnp(&pid, cmd[0], NULL, NULL, cmd, environ);
    if (serr != 0) {
        fprintf(stderr, "token-sim: cannot run %s: %s\n", cmd[0], strerror(serr));
        rc = serr == ENOENT ? 127 : 126;
        goto out;
    }
    /* As system(3): a terminal's ^C reaches the child (same process group); token-sim stays
     * to save the flash. A TERM sent to token-sim is passed on. */
    child_pid = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    sa.sa_handler = forward;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "token-sim: waitpid: %s\n", strerror(errno));
            goto out;
        }
    }
    double secs = now() - t0;
    child_pid = 0;
    rc = WIFEXITED(status) ? WEXITSTATUS(status)
                           : (WIFSIGNALED(status) ? 128 + WTERMSIG(status) : SIM_EXIT_OWN);

    if (stats_path != NULL) {
        FILE *f = fopen(stats_path, "a");
        if (f == NULL) {
            fprintf(stderr, "token-sim: cannot write %s: %s\n", stats_path, strerror(errno));
            rc = rc != 0 ? rc : SIM_EXIT_OWN;
        } else {
            fprintf(f, "exit=%d seconds=%.6f", rc, secs);
            for (size_t k = 0; k < ntoks; k++) {
                emu_stats s;
                emu_get_stats(toks[k].dev, &s);
                fprintf(f, " %s.out_bytes=%llu %s.in_bytes=%llu %s.out_transfers=%llu"
                           " %s.in_transfers=%llu",
                        toks[k].serial, (unsigned long long)s.out_bytes, toks[k].serial,
                        (unsigned long long)s.in_bytes, toks[k].serial,
                        (unsigned long long)s.out_transfers, toks[k].serial,
                        (unsigned long long)s.in_transfers);
            }
            fputc('\n', f);
            if (fclose(f) != 0 && rc == 0)
                rc = SIM_EXIT_OWN;
        }
    }
    for (size_t k = 0; k < ntoks; k++) {
        if (toks[k].state == NULL)
            continue;
        emu_lock(toks[k].dev);
        uint64_t ops = hal_host_flash_ops(emu_hal(toks[k].dev));
        emu_unlock(toks[k].dev);
        if ((ops != toks[k].ops || !toks[k].loaded) && save_state(&toks[k]) != 0 && rc == 0)
            rc = SIM_EXIT_OWN;
    }
out:
    emu_free(e);
    return rc;
}

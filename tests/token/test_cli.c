/* End-to-end tests of the `reservlon token ...` commands: the REAL reservlon binary ($BIN,
 * as tests/run-all sets it; default build/bin/reservlon) runs as a child process against
 * emulated tokens. The emulator (emu.c: firmware core + host HAL, umockdev ioctl handler on
 * a worker thread) lives in this test process; the child inherits umockdev's preload
 * (LD_PRELOAD) and the testbed (UMOCKDEV_DIR), so its libusb enumerates the emulated
 * devices and its usbfs ioctls travel over umockdev's socket to this process's handler.
 * Checked: exit codes and the text each command prints, a put of a file signed with
 * keys/test/appliance-TEST.key, list with the counter, get round-trip byte-equal with a
 * .minisig that `minisign -V` accepts, refusals (tampered, replay, delete before
 * mark-collected), enrolment through the CLI, no token, several tokens, unknown serial,
 * missing allowlist, timeout, transfer cut by an unplug, token full, the progress bar on a
 * terminal, enrolment in two steps (statement signed by minisign). Run under
 * umockdev-wrapper; TOK_CLI_VERBOSE=1 shows every command with its output. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fileio.h"
#include "tokfix.h"

static tf_keys *keys;
static char tmpdir[256];
static char bin[1024];
static char out_buf[65536], err_buf[65536];

static int group_setup(void **state)
{
    (void)state;
    keys = tf_keys_load();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tok_cli.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    const char *b = getenv("BIN");
    if (b != NULL && b[0] != '\0')
        snprintf(bin, sizeof bin, "%s", b);
    else
        snprintf(bin, sizeof bin, "%s/build/bin/reservlon", tf_top());
    assert_int_equal(access(bin, X_OK), 0);
    unsetenv("RESERVLON_TOKEN_SERIALS");
    /* The authority's key files, for `token enroll ... --authority-key`. */
    char pub[512], sec[512], path[512];
    assert_int_equal(minisig_keygen("TEST enrolment authority", pub, sizeof pub, sec, sizeof sec),
                     0);
    snprintf(path, sizeof path, "%s/auth.pub", tmpdir);
    tf_ok(file_write_atomic(path, pub, strlen(pub), 0600));
    snprintf(path, sizeof path, "%s/auth.key", tmpdir);
    tf_ok(file_write_atomic(path, sec, strlen(sec), 0600));
    sodium_memzero(sec, sizeof sec);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", tmpdir);
    tf_keys_free(keys);
    return 0;
}

static void slurp(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs `$BIN token ARGS...` (NULL-terminated); stdout and stderr land in out_buf/err_buf.
 * Returns the exit status (-1 if it did not exit normally). */
static int run(const char *arg, ...)
{
    const char *argv[40];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "token";
    va_list ap;
    va_start(ap, arg);
    for (const char *s = arg; s != NULL && n < 39; s = va_arg(ap, const char *))
        argv[n++] = s;
    va_end(ap);
    argv[n] = NULL;
    char op[512], ep[512];
    snprintf(op, sizeof op, "%s/stdout", tmpdir);
    snprintf(ep, sizeof ep, "%s/stderr", tmpdir);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fo = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(127);
        execv(bin, (char *const *)(void *)argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        assert_int_equal(errno, EINTR);
    slurp(op, out_buf, sizeof out_buf);
    slurp(ep, err_buf, sizeof err_buf);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (getenv("TOK_CLI_VERBOSE") != NULL) { /* show every command and what it printed */
        fprintf(stderr, "$");
        for (int i = 1; i < n; i++)
            fprintf(stderr, " %s", argv[i]);
        fprintf(stderr, "  -> exit %d\n%s%s", code, out_buf, err_buf);
    }
    return code;
}

/* Runs `$BIN token put PATH --serial SERIAL` with its stderr on a pseudo-terminal (the
 * progress bar's condition); what the terminal showed lands in err_buf. */
static int run_put_on_tty(const char *path, const char *serial)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(master >= 0);
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    char slave_name[128];
    assert_int_equal(ptsname_r(master, slave_name, sizeof slave_name), 0);
    int slave = open(slave_name, O_RDWR | O_NOCTTY);
    assert_true(slave >= 0);
    char op[512];
    snprintf(op, sizeof op, "%s/stdout", tmpdir);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fo = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || dup2(fo, 1) < 0 || dup2(slave, 2) < 0)
            _exit(127);
        close(master);
        execl(bin, bin, "token", "put", path, "--serial", serial, (char *)NULL);
        _exit(127);
    }
    close(slave);
    size_t got = 0;
    for (;;) { /* read while it runs (a full pty would block it); EIO once it has exited */
        ssize_t r = read(master, err_buf + got, sizeof err_buf - 1 - got);
        if (r > 0 && got + (size_t)r < sizeof err_buf - 1)
            got += (size_t)r;
        else if (r < 0 && errno == EINTR)
            continue;
        else if (r <= 0)
            break;
    }
    err_buf[got] = '\0';
    close(master);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        assert_int_equal(errno, EINTR);
    slurp(op, out_buf, sizeof out_buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Asserts the last run's exit code and that `part` (NULL: anything) is in its stdout
 * (want 0) or stderr (otherwise). */
#define expect_run(code, want, part) expect_run_at((code), (want), (part), __LINE__)
static void expect_run_at(int code, int want, const char *part, int line)
{
    const char *where = want == 0 ? out_buf : err_buf;
    if (code != want || (part != NULL && strstr(where, part) == NULL)) {
        fprintf(stderr, "line %d: exit %d, wanted %d with \"%s\"\nstdout: %s\nstderr: %s\n",
                line, code, want, part != NULL ? part : "", out_buf, err_buf);
        fail();
    }
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
    tf_ok(file_write_atomic(path, data, len, 0600));
}

/* Writes data to tmpdir/name and signs it with the TEST appliance key (name.minisig). */
static void make_signed(const char *name, const uint8_t *data, size_t len, const char *tc,
                        char path[512])
{
    snprintf(path, 512, "%s/%s", tmpdir, name);
    write_file(path, data, len);
    tf_ok(minisig_sign_file(keys->app, path, tc));
}

static void tmp_path(char out[512], const char *name)
{
    snprintf(out, 512, "%s/%s", tmpdir, name);
}

/* One blank token; everything through the CLI, from provisioning to delete. */
static void test_cli_flow(void **state)
{
    (void)state;
    emu *e = emu_new();
    assert_non_null(e);
    emu_dev *d = tf_plug(e, "RLCLI0001", 0, 0);
    char auth_pub[512], auth_key[512], app_pub[512], path[512], back[512], cmd[2048];
    tmp_path(auth_pub, "auth.pub");
    tmp_path(auth_key, "auth.key");
    snprintf(app_pub, sizeof app_pub, "%s/keys/test/appliance-TEST.pub", tf_top());

    expect_run(run("info", "--serial", "RLCLI0001", NULL), 0, "token RLCLI0001");
    assert_non_null(strstr(out_buf, "enrolment authority: none"));
    assert_non_null(strstr(out_buf, "appliance keys: 0"));

    /* Without a key nothing is accepted. */
    uint8_t *data = tf_data(5000, 1);
    make_signed("pay-drill.xml", data, 5000, "mode=drill seq=1 file=pay-drill.xml", path);
    expect_run(run("put", path, "--serial", "RLCLI0001", NULL), 3, "refused");

    /* The key ceremony: provision the authority, enrol the appliance TEST key. */
    expect_run(run("enroll", "set-authority", auth_pub, "--authority-key", auth_key, "--serial",
                   "RLCLI0001", NULL),
               0, "enrolment accepted by token RLCLI0001: epoch 1, 0 appliance keys");
    expect_run(run("enroll", "add", app_pub, "--authority-key", auth_key, "--serial",
                   "RLCLI0001", NULL),
               0, "epoch 2, 1 appliance key");
    /* Signed by anything but the authority: refused. */
    char other_key[512];
    snprintf(other_key, sizeof other_key, "%s/keys/test/rules-TEST.key", tf_top());
    expect_run(run("enroll", "add", app_pub, "--authority-key", other_key, "--serial",
                   "RLCLI0001", NULL),
               3, "E_AUTHORITY");
    expect_run(run("info", "--serial", "RLCLI0001", NULL), 0, "appliance keys: 1");
    assert_non_null(strstr(out_buf, "6C8DBB43BD86B4CD"));
    expect_run(run("info", "--json", "--serial", "RLCLI0001", NULL), 0, "\"serial\":\"RLCLI0001\"");
    assert_non_null(strstr(out_buf, "\"counter\":0,"));
    assert_non_null(strstr(out_buf, "\"key_id\":\"6C8DBB43BD86B4CD\""));

    /* put (quiet: stderr is not a terminal), list, get. */
    expect_run(run("put", path, "--serial", "RLCLI0001", NULL), 0,
               "put pay-drill.xml on token RLCLI0001 (drill): counter 1; read back and verified");
    assert_string_equal(err_buf, "");
    expect_run(run("list", "--serial", "RLCLI0001", NULL), 0, "token RLCLI0001: 1 file, counter 1");
    assert_non_null(strstr(out_buf, "       1       5000  drill       no         pay-drill.xml"));
    expect_run(run("list", "--json", "--serial", "RLCLI0001", NULL), 0,
               "{\"name\":\"pay-drill.xml\",\"size\":5000,\"counter\":1,\"class\":\"drill\","
               "\"collected\":false,");
    tmp_path(back, "back.xml");
    expect_run(run("get", "pay-drill.xml", "--out", back, "--serial", "RLCLI0001", NULL), 0,
               "wrote ");
    char *got = NULL;
    size_t glen = 0;
    tf_ok(file_read_all(back, 1 << 20, &got, &glen));
    assert_int_equal(glen, 5000);
    assert_memory_equal(got, data, 5000);
    free(got);
    snprintf(cmd, sizeof cmd, "minisign -V -q -p '%s' -m '%s'", app_pub, back);
    assert_int_equal(system(cmd), 0);
    tf_ok(minisig_verify_file(&keys->app_pub, back, NULL, 0));

    /* A tampered file with the original's signature. */
    char tampered[512], sig_src[600], sig_dst[600];
    data[100] ^= 1;
    tmp_path(tampered, "tampered.xml");
    write_file(tampered, data, 5000);
    data[100] ^= 1;
    snprintf(sig_src, sizeof sig_src, "%s.minisig", path);
    snprintf(sig_dst, sizeof sig_dst, "%s.minisig", tampered);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", sig_src, sig_dst);
    assert_int_equal(system(cmd), 0);
    expect_run(run("put", tampered, "--serial", "RLCLI0001", NULL), 3,
               "refused");
    /* No signature beside the file. */
    unlink(sig_dst);
    expect_run(run("put", tampered, "--serial", "RLCLI0001", NULL), 3, "no signature");

    /* Production files: seq must increase (replay of a seq refused). */
    uint8_t *p1 = tf_data(3000, 2), *p2 = tf_data(3000, 3);
    char p1p[512], p2p[512];
    make_signed("p1.xml", p1, 3000, "mode=production seq=5 file=p1.xml", p1p);
    make_signed("p2.xml", p2, 3000, "mode=production seq=5 file=p2.xml", p2p);
    expect_run(run("put", p1p, "--serial", "RLCLI0001", NULL), 0, "(production): counter 2");
    expect_run(run("put", p2p, "--serial", "RLCLI0001", NULL), 3, "E_REPLAY");
    expect_run(run("info", "--serial", "RLCLI0001", NULL), 0, "last accepted seq 5");

    /* delete only after mark-collected; the same file again is a replay. */
    expect_run(run("delete", "pay-drill.xml", "--serial", "RLCLI0001", NULL), 1,
               "mark it collected first");
    expect_run(run("mark-collected", "pay-drill.xml", "--serial", "RLCLI0001", NULL), 0,
               "pay-drill.xml marked collected on token RLCLI0001");
    expect_run(run("list", "--serial", "RLCLI0001", NULL), 0, "yes        pay-drill.xml");
    expect_run(run("delete", "pay-drill.xml", "--serial", "RLCLI0001", NULL), 0,
               "pay-drill.xml deleted on token RLCLI0001");
    expect_run(run("put", path, "--serial", "RLCLI0001", NULL), 3, "E_REPLAY");
    expect_run(run("list", "--serial", "RLCLI0001", NULL), 0, "token RLCLI0001: 1 file, counter 2");
    assert_null(strstr(out_buf, "pay-drill.xml"));
    expect_run(run("get", "nope.xml", "--out", back, "--serial", "RLCLI0001", NULL), 1,
               "no such file");

    /* Allowlist from the environment; none at all; a serial that is not plugged in. */
    setenv("RESERVLON_TOKEN_SERIALS", "OTHER1, RLCLI0001", 1);
    expect_run(run("list", NULL), 0, "token RLCLI0001: 1 file");
    unsetenv("RESERVLON_TOKEN_SERIALS");
    expect_run(run("list", NULL), 2, "no token serial given");
    expect_run(run("info", NULL), 2, "plugged in: RLCLI0001");
    expect_run(run("list", "--serial", "NOPE", NULL), 3, "RLCLI0001");
    assert_non_null(strstr(err_buf, "not on"));

    /* Usage errors. */
    expect_run(run("get", "pay-drill.xml", "--serial", "RLCLI0001", NULL), 2, "--out");
    expect_run(run("frobnicate", "--serial", "RLCLI0001", NULL), 2, "unknown subcommand");
    expect_run(run("list", "--vid-pid", "zz", "--serial", "RLCLI0001", NULL), 2, "--vid-pid");
    expect_run(run("help", NULL), 0, "mark-collected NAME");
    /* Another VID:PID finds nothing. */
    expect_run(run("list", "--vid-pid", "1209:0002", "--serial", "RLCLI0001", NULL), 1,
               "no token found (USB 1209:0002)");

    /* On a terminal, put shows a progress bar (upload, then read-back) on stderr. */
    uint8_t *p3 = tf_data(20000, 6);
    char p3p[512];
    make_signed("p3.xml", p3, 20000, "mode=production seq=6 file=p3.xml", p3p);
    assert_int_equal(run_put_on_tty(p3p, "RLCLI0001"), 0);
    assert_non_null(strstr(out_buf, "put p3.xml on token RLCLI0001 (production): counter 3"));
    if (strstr(err_buf, "put    [##############################] 100% 20000/20000 bytes") == NULL ||
        strstr(err_buf, "verify [##############################] 100% 20000/20000 bytes") == NULL) {
        fprintf(stderr, "no progress bar on the terminal: \"%s\"\n", err_buf);
        fail();
    }
    free(p3);

    /* Enrolment in two steps: the statement out, signed offline by minisign, applied. */
    char stmt[512], stmt_sig[600];
    tmp_path(stmt, "remove.stmt");
    expect_run(run("enroll", "remove", app_pub, "--statement-out", stmt, "--serial", "RLCLI0001",
                   NULL),
               0, "(epoch 3)");
    snprintf(cmd, sizeof cmd, "minisign -S -q -s '%s' -m '%s' -t 'remove TEST key'", auth_key,
             stmt);
    assert_int_equal(system(cmd), 0);
    expect_run(run("enroll", "apply", stmt, "--serial", "RLCLI0001", NULL), 0,
               "epoch 3, 0 appliance keys");
    expect_run(run("enroll", "apply", stmt, "--serial", "RLCLI0001", NULL), 3, "E_REPLAY");
    snprintf(stmt_sig, sizeof stmt_sig, "%s.minisig", stmt);
    unlink(stmt_sig);
    expect_run(run("enroll", "apply", stmt, "--serial", "RLCLI0001", NULL), 3, "signature");
    expect_run(run("enroll", "apply", p1p, "--serial", "RLCLI0001", NULL), 1,
               "not an enrolment statement");
    /* The key is gone: its files are refused now. */
    uint8_t *p4 = tf_data(100, 7);
    char p4p[512];
    make_signed("p4.xml", p4, 100, "mode=production seq=7 file=p4.xml", p4p);
    expect_run(run("put", p4p, "--serial", "RLCLI0001", NULL), 3, "E_KEY");
    free(p4);

    /* A token that stops answering: timeout, exit 1. */
    emu_set_mute(d, 1);
    expect_run(run("list", "--serial", "RLCLI0001", "--timeout-ms", "100", NULL), 1,
               "no valid answer");
    emu_set_mute(d, 0);

    free(p1);
    free(p2);
    free(data);
    emu_free(e);
}

/* A token provisioned in-process as the other token tests do; a put cut by an unplug, then
 * puts until it is full. */
static void test_cli_full(void **state)
{
    (void)state;
    emu *e = emu_new();
    assert_non_null(e);
    emu_dev *d = tf_plug(e, "RLCLI0002", 0, 16);
    usbtoken *t = tf_open("RLCLI0002");
    tf_provision(t, keys);
    usbtoken_info info;
    tf_ok(usbtoken_get_info(t, &info));
    usbtoken_close(t);
    size_t half = info.capacity / 2 + 4096;
    uint8_t *d1 = tf_data(half, 4), *d2 = tf_data(half, 5);
    char p1[512], p2[512];
    make_signed("h1.xml", d1, half, "mode=drill seq=1 file=h1.xml", p1);
    make_signed("h2.xml", d2, half, "mode=drill seq=2 file=h2.xml", p2);
    /* A transfer cut mid-upload (the token is pulled out): exit 1, nothing stored; after
     * replugging, the same file goes on (it was never accepted, so it is no replay). */
    emu_cut_after_out(d, 6, EMU_CUT_UNPLUG);
    expect_run(run("put", p1, "--serial", "RLCLI0002", NULL), 1, "transfer cut");
    emu_replug(d);
    expect_run(run("list", "--serial", "RLCLI0002", NULL), 0, "token RLCLI0002: 0 files, counter 0");
    expect_run(run("put", p1, "--serial", "RLCLI0002", NULL), 0, "counter 1");
    expect_run(run("put", p2, "--serial", "RLCLI0002", NULL), 1, "token is full");
    free(d1);
    free(d2);
    emu_free(e);
}

static void test_cli_no_token(void **state)
{
    (void)state;
    emu *e = emu_new();
    assert_non_null(e);
    expect_run(run("list", "--serial", "RLCLI0001", NULL), 1, "no token found (USB 1209:0001)");
    expect_run(run("info", NULL), 1, "no token found");
    emu_free(e);
}

static void test_cli_two_tokens(void **state)
{
    (void)state;
    emu *e = emu_new();
    assert_non_null(e);
    tf_plug(e, "RLCLIA", 0, 0);
    tf_plug(e, "RLCLIB", 0, 0);
    expect_run(run("list", "--serial", "RLCLIA,RLCLIB", NULL), 2, "several allowlisted tokens");
    expect_run(run("list", "--serial", "RLCLIB", "--serial", "RLCLIX", NULL), 0,
               "token RLCLIB: 0 files, counter 0");
    expect_run(run("info", NULL), 2, "plugged in: ");
    assert_non_null(strstr(err_buf, "RLCLIA"));
    assert_non_null(strstr(err_buf, "RLCLIB"));
    expect_run(run("info", "--serial", "RLCLIX", NULL), 3, "not on");
    emu_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_flow),
        cmocka_unit_test(test_cli_full),
        cmocka_unit_test(test_cli_no_token),
        cmocka_unit_test(test_cli_two_tokens),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

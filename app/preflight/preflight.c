/* preflight: the workstation checklist (preflight.h; docs/preflight.md). */
#include "preflight/preflight.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/err.h"
#include "sig/minisig.h"
#include "signing/signing.h"
#include "token/usbtoken.h"
#include "vault/keyconf.h"
#include "vault/vault.h"

#define SYSFS_NET "/sys/class/net"
#define PROC_SWAPS "/proc/swaps"
/* The Linux interface flags (linux/if.h), spelled out so no network header is needed. */
#define PF_IFF_UP 0x1u
#define PF_IFF_LOOPBACK 0x8u
/* A clock more than this far past the build is wrong, not an old appliance. */
#define CLOCK_AHEAD_MAX ((int64_t)10 * 366 * 86400)
/* Timestamps a little in the future are clock drift between two runs, not a clock set back. */
#define CLOCK_SLACK 120
#define DISK_MIN ((uint64_t)1 << 30)

typedef enum { PF_OK, PF_WARN, PF_FAIL, PF_SKIP } pf_status;

typedef struct {
    FILE *out;
    unsigned count[4];
    int integrity; /* a FAIL that is tampering or a refused login: exit 3 */
} report;

static const char *const status_name[] = {"OK", "WARN", "FAIL", "SKIP"};

static void line(report *r, pf_status s, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void line(report *r, pf_status s, const char *check, const char *fmt, ...)
{
    va_list ap;
    r->count[s]++;
    fprintf(r->out, "%-4s  %-12s ", status_name[s], check);
    va_start(ap, fmt);
    vfprintf(r->out, fmt, ap);
    va_end(ap);
    fputc('\n', r->out);
}

static void fmt_time(int64_t t, char out[21])
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (gmtime_r(&tt, &tm) == NULL || strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 21, "(invalid time)");
}

/* "2026-12-05T10:00:00Z" to seconds; -1 if it is not exactly that shape. */
static int64_t parse_time(const char *s)
{
    struct tm tm = {0};
    int n = 0;
    if (s == NULL || strlen(s) != 20 ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
        n != 20 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

/* The day this file was compiled (__DATE__, "Dec  5 2026"), as seconds at 00:00 UTC. A
 * clock before it is certainly wrong: the program cannot run before it was built. */
static int64_t build_day(void)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *d = __DATE__;
    struct tm tm = {0};
    char mon[4] = {0};
    if (sscanf(d, "%3s %d %d", mon, &tm.tm_mday, &tm.tm_year) != 3)
        return 0;
    const char *m = strstr(months, mon);
    if (m == NULL)
        return 0;
    tm.tm_mon = (int)(m - months) / 3;
    tm.tm_year -= 1900;
    return (int64_t)timegm(&tm);
}

/* Reads a small sysfs or procfs file into buf (NUL-terminated, trailing newline cut). */
static int read_small(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return -1;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return 0;
}

/* Appends "sep text" to a bounded list, marking truncation once. */
static void list_add(char *list, size_t cap, const char *text)
{
    size_t len = strlen(list);
    if (len + 4 >= cap)
        return;
    int n = snprintf(list + len, cap - len, "%s%s", len ? ", " : "", text);
    if (n < 0 || (size_t)n >= cap - len)
        snprintf(list + cap - 4, 4, "...");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *source_note(const char *used, const char *real, char *buf, size_t cap)
{
    if (strcmp(used, real) == 0)
        return "";
    snprintf(buf, cap, " [test source %s, not %s]", used, real);
    return buf;
}

/* --- workstation ------------------------------------------------------------------------ */

static void check_network(report *r, const preflight_opts *o)
{
    char note[600];
    const char *src = source_note(o->sysfs_net, SYSFS_NET, note, sizeof note);
    char *names[256];
    size_t n = 0;
    DIR *d = opendir(o->sysfs_net);
    if (d == NULL) {
        line(r, PF_WARN, "network", "cannot read %s (%s): check by hand that 'ip link' shows "
                                    "only lo UP%s", o->sysfs_net, strerror(errno), src);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < sizeof names / sizeof names[0]) {
        if (e->d_name[0] == '.' || (names[n] = strdup(e->d_name)) == NULL)
            continue;
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_str);
    char up[400] = "", enabled[400] = "", first_up[64] = "";
    for (size_t i = 0; i < n; i++) {
        char path[4200], flags_text[32], state[32], item[200];
        unsigned long flags = 0;
        int have_flags = 0;
        snprintf(path, sizeof path, "%s/%s/flags", o->sysfs_net, names[i]);
        if (read_small(path, flags_text, sizeof flags_text) == 0) {
            char *end = NULL;
            flags = strtoul(flags_text, &end, 16);
            have_flags = end != flags_text;
        }
        snprintf(path, sizeof path, "%s/%s/operstate", o->sysfs_net, names[i]);
        if (read_small(path, state, sizeof state) != 0)
            snprintf(state, sizeof state, "unreadable");
        if (have_flags ? (flags & PF_IFF_LOOPBACK) != 0 : strcmp(names[i], "lo") == 0)
            continue;
        /* Administratively up and passing traffic ("unknown" is what virtual links such as
         * tun report while they work), or the kernel says up whatever the flags read. */
        int is_up = strcmp(state, "up") == 0 ||
                    (have_flags && (flags & PF_IFF_UP) && strcmp(state, "unknown") == 0);
        snprintf(item, sizeof item, "%.64s (operstate %.20s%s)", names[i], state,
                 have_flags ? ((flags & PF_IFF_UP) ? ", flag UP" : "") : ", flags unreadable");
        if (is_up) {
            list_add(up, sizeof up, item);
            if (!first_up[0])
                snprintf(first_up, sizeof first_up, "%.60s", names[i]);
        } else if (have_flags && (flags & PF_IFF_UP)) {
            list_add(enabled, sizeof enabled, item);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    if (up[0])
        line(r, PF_FAIL, "network",
             "up besides loopback: %s; the appliance must be offline: unplug the cable, switch "
             "wireless off and 'ip link set %s down'%s",
             up, first_up, src);
    else if (enabled[0])
        line(r, PF_WARN, "network",
             "enabled without a link: %s; a cable or wireless network would connect it: 'ip "
             "link set DEV down' or disable it in the firmware%s",
             enabled, src);
    else
        line(r, PF_OK, "network", "no interface up besides loopback (%zu checked)%s", n, src);
}

static void check_core_dumps(report *r)
{
    struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
    int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 || dumpable != 0) {
        line(r, PF_FAIL, "core dumps",
             "this process may be dumped (core limit %s, dumpable %d): secrets could reach a "
             "core file; run the appliance only as the reservlon program",
             rl.rlim_cur == 0 ? "0" : "not 0", dumpable);
        return;
    }
    /* fs.suid_dumpable=2 makes the kernel dump even non-dumpable processes (to a pipe or
     * as root), which undoes PR_SET_DUMPABLE. */
    char v[16];
    if (read_small("/proc/sys/fs/suid_dumpable", v, sizeof v) == 0 && strcmp(v, "2") == 0) {
        line(r, PF_WARN, "core dumps",
             "off for this process, but the kernel dumps non-dumpable processes "
             "(fs.suid_dumpable=2): 'sysctl fs.suid_dumpable=0'");
        return;
    }
    line(r, PF_OK, "core dumps", "disabled (core limit 0, process not dumpable)");
}

static void check_swap(report *r, const preflight_opts *o)
{
    char note[600];
    const char *src = source_note(o->proc_swaps, PROC_SWAPS, note, sizeof note);
    FILE *f = fopen(o->proc_swaps, "re");
    if (f == NULL) {
        line(r, PF_WARN, "swap", "cannot read %s (%s): check 'swapon --show' by hand%s",
             o->proc_swaps, strerror(errno), src);
        return;
    }
    char buf[512], first[128] = "";
    unsigned n = 0, lineno = 0;
    while (fgets(buf, sizeof buf, f) != NULL) {
        if (lineno++ == 0 || buf[strspn(buf, " \t\n")] == '\0')
            continue; /* the header */
        if (n++ == 0)
            sscanf(buf, "%127s", first);
    }
    fclose(f);
    if (n > 0)
        line(r, PF_WARN, "swap",
             "%u swap area(s) in use (%s): keys and passphrases are locked in memory and never "
             "swapped, but other personal data being worked on could be; 'swapoff -a', or use "
             "encrypted swap%s",
             n, first, src);
    else
        line(r, PF_OK, "swap", "no swap in use%s", src);
}

/* --- the vault directory --------------------------------------------------------------- */

typedef struct {
    int usable;         /* the directory passed the owner and mode checks */
    uint64_t bytes;     /* its files' total size */
    int64_t latest;     /* the latest modification time of its files, 0 if none */
    char latest_file[64];
} dir_facts;

static void check_vault_dir(report *r, const char *dir, dir_facts *df)
{
    struct stat st;
    memset(df, 0, sizeof *df);
    if (stat(dir, &st) != 0) {
        line(r, PF_FAIL, "vault dir", "%s: %s; give the vault's directory with --vault, or "
                                      "create a vault there with 'init'", dir, strerror(errno));
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        line(r, PF_FAIL, "vault dir", "%s is not a directory; give the vault's directory", dir);
        return;
    }
    uid_t me = geteuid();
    if (st.st_uid != me) {
        line(r, PF_FAIL, "vault dir", "%s belongs to uid %u, not to you (uid %u): run the "
                                      "appliance as the vault's owner", dir,
             (unsigned)st.st_uid, (unsigned)me);
        return;
    }
    if ((st.st_mode & 0077) != 0) {
        line(r, PF_FAIL, "vault dir", "%s is open to other users (mode %04o); the appliance "
                                      "refuses it until it is private: 'chmod 700 %s'",
             dir, (unsigned)(st.st_mode & 07777), dir);
        return;
    }
    DIR *d = opendir(dir);
    if (d == NULL) {
        line(r, PF_FAIL, "vault dir", "cannot list %s: %s", dir, strerror(errno));
        return;
    }
    char bad[400] = "";
    int keyring = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[4400];
        struct stat fs;
        if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || strcmp(e->d_name, "..") == 0))
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            lstat(path, &fs) != 0 || !S_ISREG(fs.st_mode))
            continue;
        keyring |= strcmp(e->d_name, "keyring") == 0;
        df->bytes += (uint64_t)fs.st_size;
        if ((int64_t)fs.st_mtime > df->latest) {
            df->latest = (int64_t)fs.st_mtime;
            snprintf(df->latest_file, sizeof df->latest_file, "%.60s", e->d_name);
        }
        if (fs.st_uid != me || (fs.st_mode & 0077) != 0) {
            char item[128];
            snprintf(item, sizeof item, "%.60s (mode %04o%s)", e->d_name,
                     (unsigned)(fs.st_mode & 07777), fs.st_uid != me ? ", not yours" : "");
            list_add(bad, sizeof bad, item);
        }
    }
    closedir(d);
    if (!keyring) {
        line(r, PF_FAIL, "vault dir", "%s holds no vault (no keyring): give the vault's "
                                      "directory, or create one with 'init'", dir);
        return;
    }
    if (bad[0]) {
        line(r, PF_FAIL, "vault dir", "files in %s others can reach or you do not own: %s; "
                                      "'chmod 600' them (and check who changed them)", dir, bad);
        return;
    }
    df->usable = 1;
    line(r, PF_OK, "vault dir", "%s is yours and private (mode 0700, files 0600)", dir);
}

static void check_disk(report *r, const char *dir, const dir_facts *df)
{
    struct statvfs sv;
    if (statvfs(dir, &sv) != 0) {
        line(r, PF_WARN, "disk space", "cannot measure free space at %s: %s", dir,
             strerror(errno));
        return;
    }
    uint64_t avail = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
    /* Room for the WAL of a large import or pay run, a --replace snapshot beside the old
     * one, and payment files and journals written next to the vault. */
    uint64_t need = df->bytes * 10 > DISK_MIN ? df->bytes * 10 : DISK_MIN;
    double mib = 1024.0 * 1024.0;
    if (avail < need)
        line(r, PF_WARN, "disk space",
             "%.0f MiB free at %s, less than %.0f MiB (1 GiB or 10x the vault's %.1f MiB): a "
             "full disk stops registrations; free some space",
             (double)avail / mib, dir, (double)need / mib, (double)df->bytes / mib);
    else
        line(r, PF_OK, "disk space", "%.0f MiB free (the vault uses %.1f MiB)",
             (double)avail / mib, (double)df->bytes / mib);
}

/* The build date, an absurd future, and (with a vault) the vault's own files: a clock set
 * back behind the last write would misdate every registration recorded now. */
static void check_clock(report *r, const preflight_opts *o, const dir_facts *df)
{
    char now_s[21], other[21];
    const char *src = o->fake_now ? " [test source RL_TEST_NOW]" : "";
    int64_t built = build_day();
    fmt_time(o->now, now_s);
    /* A day of slack: __DATE__ is the compiler's local date. */
    if (built > 0 && o->now < built - 86400) {
        fmt_time(built, other);
        line(r, PF_FAIL, "clock", "%s is before this program was built (%.10s): set the "
                                  "date and time before registering anything%s",
             now_s, other, src);
    } else if (built > 0 && o->now > built + CLOCK_AHEAD_MAX) {
        fmt_time(built, other);
        line(r, PF_FAIL, "clock", "%s is more than ten years after this program was built "
                                  "(%.10s): set the date and time%s",
             now_s, other, src);
    } else if (df != NULL && df->latest > o->now + CLOCK_SLACK) {
        fmt_time(df->latest, other);
        line(r, PF_FAIL, "clock", "%s is before the vault's last write (%s at %s): the clock "
                                  "was set back and would misdate registrations; set it right%s",
             now_s, df->latest_file, other, src);
    } else {
        line(r, PF_OK, "clock", "%s (UTC)%s%s", now_s, df ? ", after the vault's last write" : "",
             src);
    }
}

/* --- inside the vault (a login) -------------------------------------------------------- */

static void check_audit_time(report *r, const preflight_opts *o, vault *v)
{
    sqlite3_stmt *st = NULL;
    char at[32] = "";
    if (sqlite3_prepare_v2(vault_db(v), "SELECT at FROM audit ORDER BY seq DESC LIMIT 1", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
        snprintf(at, sizeof at, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    int64_t t = parse_time(at);
    if (t < 0)
        line(r, PF_WARN, "audit time", "cannot read the time of the last audit entry");
    else if (t > o->now + CLOCK_SLACK)
        line(r, PF_FAIL, "audit time", "the last audit entry is dated %s, after the clock: "
                                       "the clock was set back; set it right before "
                                       "registering anything", at);
    else
        line(r, PF_OK, "audit time", "the last audit entry (%s) is not after the clock", at);
}

/* Parses a stored key into *pk; 1 if present and sound, 0 if absent, -1 if damaged. */
static int config_key(vault *v, const char *key, minisig_pubkey *pk, char id[17])
{
    char text[1024];
    if (vault_config_get(v, key, text, sizeof text) != RL_OK)
        return 0;
    if (minisig_pubkey_parse(text, strlen(text), pk) != RL_OK)
        return -1;
    minisig_key_id_hex(pk->key_id, id);
    return 1;
}

static void check_keys(report *r, vault *v, const char *rules_path)
{
    char id[17];
    minisig_pubkey pk;
    int k = config_key(v, KEYCONF_EXPORT, &pk, id);
    if (k > 0)
        line(r, PF_OK, "export key", "the snapshot export key is set (key id %s)", id);
    else
        line(r, k < 0 ? PF_FAIL : PF_WARN, "export key",
             "%s: new snapshots cannot be imported (the one held still works); an "
             "administrator runs 'config set-export-key FILE'",
             k < 0 ? "the stored snapshot export key is damaged" : "no snapshot export key");

    minisig_pubkey sk_pub;
    char sk_text[1024];
    int rc = signing_pubkey(v, &sk_pub, sk_text, sizeof sk_text);
    if (rc == RL_OK) {
        minisig_key_id_hex(sk_pub.key_id, id);
        line(r, PF_OK, "signing key", "the appliance signing key exists (key id %s)", id);
    } else if (rc == RL_EDATA) {
        line(r, PF_FAIL, "signing key", "the appliance has no signing key: no payment file can "
                                        "be signed until two approvers run 'key create' "
                                        "(docs/signing.md)");
    } else {
        line(r, PF_FAIL, "signing key", "%s", err_msg());
    }

    k = config_key(v, KEYCONF_RULES, &pk, id);
    if (k <= 0) {
        line(r, PF_FAIL, "rules key", "%s: no pay run can be created; an administrator runs "
                                      "'config set-rules-key FILE'",
             k < 0 ? "the stored pay-rules key is damaged" : "no pay-rules key is configured");
        line(r, PF_SKIP, "rules file", "%s not checked: no pay-rules key", rules_path);
        return;
    }
    line(r, PF_OK, "rules key", "the pay-rules key is set (key id %s)", id);
    rc = minisig_verify_file(&pk, rules_path, NULL, 0);
    if (rc == RL_OK) {
        line(r, PF_OK, "rules file", "%s: signature valid for the pay-rules key", rules_path);
    } else {
        if (rc == RL_EINTEGRITY)
            r->integrity = 1;
        line(r, PF_FAIL, "rules file", "%s; pay runs refuse this file: restore the signed "
                                       "rule file and its .minisig", err_msg());
    }
}

/* Payment files for real payments without a bank status report yet: what a missing token
 * would hold up. */
static int64_t payfiles_waiting(vault *v)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(vault_db(v),
                           "SELECT count(*) FROM payfiles p WHERE drill = 0 AND NOT EXISTS "
                           "(SELECT 1 FROM payfile_status s WHERE s.msg_id = p.msg_id)",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* What the vault says about the payment files it issued: the MsgId counter (one for every
 * file, drill or not) and its signing keys. A token remembers, per enrolled key, the last
 * production seq= it accepted; a vault whose counter is behind that was put back to an
 * older copy (docs/threat-model.md, "Replay"). */
#define SEEN_KEYS 16
typedef struct {
    int known;
    uint64_t seq;
    size_t nkeys;
    char keys[SEEN_KEYS][17];
} vault_seen;

static void read_seen(vault *v, vault_seen *vs)
{
    char text[32] = "0";
    if (vault_config_get(v, "payfile.msgid_seq", text, sizeof text) != RL_OK) {
        err_clear();
        snprintf(text, sizeof text, "0");
    }
    vs->seq = strtoull(text, NULL, 10);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(vault_db(v), "SELECT key_id FROM signing_keys ORDER BY created_at",
                           -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return;
    }
    while (vs->nkeys < SEEN_KEYS && sqlite3_step(st) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        snprintf(vs->keys[vs->nkeys++], sizeof vs->keys[0], "%s", k ? k : "");
    }
    sqlite3_finalize(st);
    vs->known = 1;
}

/* The one token plugged in, asked (INFO only) whether it has seen a newer payment file from
 * this vault's keys than the vault has issued. */
static void check_token_counter(report *r, const char *serial, const vault_seen *vs)
{
    usbtoken_config cfg;
    usbtoken *t = NULL;
    usbtoken_info info;
    const char *allow[1] = {serial};
    usbtoken_config_default(&cfg);
    cfg.serials = allow;
    cfg.nserials = 1;
    if (usbtoken_open(&cfg, &t) != RL_OK || usbtoken_get_info(t, &info) != RL_OK) {
        line(r, PF_WARN, "token counter", "token %s could not be read (%s): its record of this "
                                          "vault's payment files was not compared",
             serial, err_msg());
        usbtoken_close(t);
        return;
    }
    usbtoken_close(t);
    int mine = 0;
    for (unsigned k = 0; k < info.nkeys && k < PROTO_MAX_APPLIANCE_KEYS; k++) {
        char id[17];
        minisig_key_id_hex(info.keys[k].key_id, id);
        for (size_t j = 0; j < vs->nkeys; j++) {
            if (strcmp(id, vs->keys[j]) != 0)
                continue;
            mine++;
            if (info.keys[k].last_seq > vs->seq) {
                r->integrity = 1;
                line(r, PF_FAIL, "token counter",
                     "token %s accepted payment file number %llu signed with this vault's key "
                     "%s, but the vault has issued only %llu: the vault is older than what "
                     "has left it (put back from an older copy?); do not write payment files "
                     "from it",
                     serial, (unsigned long long)info.keys[k].last_seq, id,
                     (unsigned long long)vs->seq);
                return;
            }
        }
    }
    if (mine == 0)
        line(r, PF_OK, "token counter", "token %s holds no key of this vault (nothing to "
                                        "compare)", serial);
    else
        line(r, PF_OK, "token counter", "token %s has seen no payment file newer than the "
                                        "vault's last (number %llu)",
             serial, (unsigned long long)vs->seq);
}

static void check_token(report *r, int64_t waiting, const vault_seen *vs)
{
    usbtoken_config cfg;
    char serials[4][PROTO_SERIAL_LEN + 1];
    size_t n = 0;
    usbtoken_config_default(&cfg);
    if (usbtoken_scan(&cfg, serials, 4, &n) != RL_OK) {
        line(r, PF_WARN, "token", "%s", err_msg());
        return;
    }
    if (n > 0) {
        line(r, PF_OK, "token", "%zu token(s) present (serial %s)", n, serials[0]);
        if (vs->known && n == 1 && strcmp(serials[0], "?") != 0)
            check_token_counter(r, serials[0], vs);
        else if (vs->known)
            line(r, PF_SKIP, "token counter", "%zu tokens plugged in: plug in one to compare "
                                              "its record with the vault", n);
    } else if (waiting > 0)
        line(r, PF_WARN, "token", "no token plugged in, and %lld payment file(s) have no bank "
                                  "status report yet: plug the token in to carry them out",
             (long long)waiting);
    else
        line(r, PF_OK, "token", "no token plugged in (needed only to carry a payment file out)");
}

static void check_vault_inside(report *r, const preflight_opts *o, int dir_usable,
                               int64_t *waiting, vault_seen *vs)
{
    vault *v = NULL;
    if (!dir_usable) {
        line(r, PF_SKIP, "integrity", "not attempted: fix the vault directory first");
        return;
    }
    int rc = vault_open(o->vault_dir, o->as, o->pass, o->pass_len, &v);
    if (rc != RL_OK) {
        if (rc == RL_EINTEGRITY || rc == RL_EAUTH)
            r->integrity = 1;
        line(r, PF_FAIL, rc == RL_EAUTH ? "login" : "integrity", "%s", err_msg());
        return;
    }
    rc = vault_check(v);
    if (rc == RL_OK) {
        line(r, PF_OK, "integrity", "every page authenticated, structure and audit chain "
                                    "intact (commit %llu)", (unsigned long long)vault_commits(v));
    } else {
        r->integrity |= rc == RL_EINTEGRITY;
        line(r, PF_FAIL, "integrity", "%s; do not use this vault: restore it from its last "
                                      "backup", err_msg());
        vault_close(v);
        return;
    }
    check_audit_time(r, o, v);
    check_keys(r, v, o->rules_path);
    *waiting = payfiles_waiting(v);
    read_seen(v, vs);
    vault_close(v);
}

/* --- entry points ----------------------------------------------------------------------- */

int preflight_opts_init(preflight_opts *o)
{
    memset(o, 0, sizeof *o);
    o->sysfs_net = SYSFS_NET;
    o->proc_swaps = PROC_SWAPS;
    o->now = (int64_t)time(NULL);
    const char *s = getenv("RL_TEST_SYSFS_NET");
    if (s != NULL && s[0] != '\0')
        o->sysfs_net = s;
    if ((s = getenv("RL_TEST_PROC_SWAPS")) != NULL && s[0] != '\0')
        o->proc_swaps = s;
    if ((s = getenv("RL_TEST_NOW")) != NULL && s[0] != '\0') {
        int64_t t = parse_time(s);
        if (t < 0)
            return err_set(RL_EUSAGE, "RL_TEST_NOW must be a UTC time such as "
                                      "2026-12-05T10:00:00Z");
        o->now = t;
        o->fake_now = 1;
    }
    return RL_OK;
}

int preflight_run(const preflight_opts *o, FILE *out)
{
    report r = {.out = out};
    dir_facts df;
    int64_t waiting = 0;
    vault_seen vs;
    memset(&vs, 0, sizeof vs);
    fprintf(out, "reservlon preflight%s%s\n", o->vault_dir ? ": vault " : " (no vault given)",
            o->vault_dir ? o->vault_dir : "");
    check_network(&r, o);
    check_core_dumps(&r);
    check_swap(&r, o);
    if (o->vault_dir != NULL) {
        check_vault_dir(&r, o->vault_dir, &df);
        if (df.usable)
            check_disk(&r, o->vault_dir, &df);
        check_clock(&r, o, df.usable ? &df : NULL);
        if (o->as != NULL) {
            check_vault_inside(&r, o, df.usable, &waiting, &vs);
        } else {
            line(&r, PF_SKIP, "integrity", "needs a login: 'reservlon --vault %s preflight --as "
                                           "NAME --passphrase-file FILE' (or 'check')",
                 o->vault_dir);
            line(&r, PF_SKIP, "keys", "the export, rules and signing keys and the rule file's "
                                      "signature need a login too");
        }
    } else {
        check_clock(&r, o, NULL);
        line(&r, PF_SKIP, "vault", "no --vault given: the vault's directory, disk space, "
                                   "integrity and keys were not checked");
    }
    check_token(&r, waiting, &vs);
    fprintf(out, "preflight: %u OK, %u WARN, %u FAIL, %u skipped\n", r.count[PF_OK],
            r.count[PF_WARN], r.count[PF_FAIL], r.count[PF_SKIP]);
    if (r.count[PF_FAIL] == 0) {
        err_clear();
        return RL_OK;
    }
    return err_set(r.integrity ? RL_EINTEGRITY : RL_EDATA,
                   "preflight: %u check(s) failed%s; fix what the FAIL lines say before "
                   "using the appliance", r.count[PF_FAIL],
                   r.integrity ? " (integrity or login)" : "");
}

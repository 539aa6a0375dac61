/* cmd_token: the `reservlon token ...` commands, on app/token (usbtoken.h).
 *
 * The token holds only signed files, so these commands need no vault and no operator:
 * global options --vault, --as and --passphrase-file are accepted and ignored. Every
 * failure is a negative RL_E* code with the message usbtoken (or this file) recorded;
 * main.c prints it and maps the exit code (0 ok, 1 data/transport, 2 usage, 3 integrity:
 * signature, replay or key refused, token not on the allowlist). docs/token-transport.md,
 * "Commands", documents the command line. */
#include "cli/cmd_token.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "sig/minisig.h"
#include "token/usbtoken.h"

#define MAX_SERIALS 16
#define MAX_POS 8

static const char help_text[] =
    "usage: reservlon token SUBCOMMAND [OPTIONS]\n"
    "\n"
    "subcommands:\n"
    "  info [--json]               model, firmware, serial, counter, space, enrolled keys\n"
    "  list [--json]               files on the token with their counters\n"
    "  put FILE [--name NAME]      store FILE, signed in FILE.minisig (trusted comment\n"
    "                              'mode=drill|production seq=N file=NAME'); read back and\n"
    "                              compared before success is reported\n"
    "  get NAME --out F            write the file to F and its signature to F.minisig\n"
    "                              (check with: minisign -Vm F -p appliance.pub)\n"
    "  mark-collected NAME         mark a file collected (the bank's station has it)\n"
    "  delete NAME                 delete a file marked collected\n"
    "  enroll add|remove KEY.pub --authority-key AUTH.key\n"
    "                              enrol (remove) an appliance public key, the statement\n"
    "                              signed with the enrolment authority's unencrypted key\n"
    "  enroll set-authority AUTH.pub --authority-key SIGNER.key\n"
    "                              provision a blank token (SIGNER = AUTH itself) or rotate\n"
    "                              the authority (SIGNER = the current authority)\n"
    "  enroll add|remove|set-authority KEY.pub --statement-out STMT\n"
    "                              only write the statement for this token, to be signed\n"
    "                              offline: minisign -S -s AUTH.key -m STMT\n"
    "  enroll apply STMT           send STMT with its signature STMT.minisig\n"
    "  help                        this text\n"
    "\n"
    "options:\n"
    "  --serial S[,S...]           allowlisted token serial(s), repeatable; default from\n"
    "                              RESERVLON_TOKEN_SERIALS (comma-separated)\n"
    "  --vid-pid VVVV:PPPP         USB id to look for (default 1209:0001)\n"
    "  --timeout-ms N              per-transfer timeout (default 2000)\n"
    "\n"
    "Exit codes: 0 ok, 1 no token, transfer or data error (token full, no such file, delete\n"
    "before mark-collected), 2 usage (also: several allowlisted tokens present),\n"
    "3 refused: signature, replay, key, or a token not on the allowlist.\n";

typedef struct {
    const char *pos[MAX_POS];
    int npos;
    const char *serial_opts[MAX_SERIALS];
    int nserial_opts;
    const char *vid_pid, *timeout, *out, *name, *authority_key, *statement_out;
    int json;
} targs;

static int tusage(const char *msg)
{
    return err_set(RL_EUSAGE, "token: %s (see 'reservlon token help')", msg);
}

static int parse(int argc, char **argv, targs *a)
{
    memset(a, 0, sizeof *a);
    int seen_token = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const char **slot = NULL;
        const char *ignored = NULL;
        if (strcmp(s, "--json") == 0) {
            a->json = 1;
            continue;
        }
        if (strcmp(s, "--serial") == 0) {
            if (a->nserial_opts >= MAX_SERIALS)
                return tusage("too many --serial options");
            slot = &a->serial_opts[a->nserial_opts++];
        } else if (strcmp(s, "--vid-pid") == 0)
            slot = &a->vid_pid;
        else if (strcmp(s, "--timeout-ms") == 0)
            slot = &a->timeout;
        else if (strcmp(s, "--out") == 0)
            slot = &a->out;
        else if (strcmp(s, "--name") == 0)
            slot = &a->name;
        else if (strcmp(s, "--authority-key") == 0)
            slot = &a->authority_key;
        else if (strcmp(s, "--statement-out") == 0)
            slot = &a->statement_out;
        else if (strcmp(s, "--vault") == 0 || strcmp(s, "--as") == 0 ||
                 strcmp(s, "--passphrase-file") == 0)
            slot = &ignored; /* global options: the token needs no vault */
        else if (strncmp(s, "--", 2) == 0)
            return err_set(RL_EUSAGE, "token: unknown option %s (see 'reservlon token help')",
                           s);
        if (slot != NULL) {
            if (i + 1 >= argc)
                return err_set(RL_EUSAGE, "token: %s needs a value", s);
            *slot = argv[++i];
            continue;
        }
        if (!seen_token) { /* main.c sends us here when the first word is "token" */
            if (strcmp(s, "token") != 0)
                return tusage("the command line does not start with 'token'");
            seen_token = 1;
            continue;
        }
        if (a->npos >= MAX_POS)
            return tusage("too many arguments");
        a->pos[a->npos++] = s;
    }
    if (!seen_token)
        return tusage("no 'token' command");
    return RL_OK;
}

/* ---- configuration -------------------------------------------------------------------------- */

typedef struct {
    char buf[MAX_SERIALS][PROTO_SERIAL_LEN + 1];
    const char *ptr[MAX_SERIALS];
    size_t n;
} serial_list;

/* Splits a comma-separated list into sl; each entry 1..16 printable characters. */
static int add_serials(serial_list *sl, const char *list, const char *from)
{
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        /* Trim blanks around entries ("A, B"). */
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len > 0) {
            if (len > PROTO_SERIAL_LEN)
                return err_set(RL_EUSAGE, "token: serial \"%.40s\" from %s is longer than %u "
                                          "characters",
                               p, from, PROTO_SERIAL_LEN);
            for (size_t i = 0; i < len; i++)
                if (p[i] < 0x21 || p[i] > 0x7e)
                    return err_set(RL_EUSAGE, "token: serial from %s has a character that is "
                                              "not printable ASCII",
                                   from);
            if (sl->n >= MAX_SERIALS)
                return err_set(RL_EUSAGE, "token: more than %d allowlisted serials",
                               MAX_SERIALS);
            memcpy(sl->buf[sl->n], p, len);
            sl->buf[sl->n][len] = '\0';
            sl->ptr[sl->n] = sl->buf[sl->n];
            sl->n++;
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return RL_OK;
}

static int parse_hex16(const char *s, size_t len, uint16_t *out)
{
    if (len == 0 || len > 4)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return -1;
        v = v * 16 + d;
    }
    *out = (uint16_t)v;
    return 0;
}

/* Fills cfg from the options; serials go into sl (which cfg points into). need_serials 0
 * leaves an empty allowlist allowed (the caller then scans). */
static int make_config(const targs *a, usbtoken_config *cfg, serial_list *sl, int need_serials)
{
    usbtoken_config_default(cfg);
    memset(sl, 0, sizeof *sl);
    int rc;
    for (int i = 0; i < a->nserial_opts; i++)
        if ((rc = add_serials(sl, a->serial_opts[i], "--serial")) != RL_OK)
            return rc;
    if (a->nserial_opts == 0) {
        const char *env = getenv("RESERVLON_TOKEN_SERIALS");
        if (env != NULL && (rc = add_serials(sl, env, "RESERVLON_TOKEN_SERIALS")) != RL_OK)
            return rc;
    }
    if (sl->n == 0 && need_serials)
        return err_set(RL_EUSAGE, "token: no token serial given: name the token with --serial S "
                                  "(or set RESERVLON_TOKEN_SERIALS=S1,S2); 'reservlon token info' "
                                  "lists the serials plugged in");
    cfg->serials = sl->ptr;
    cfg->nserials = sl->n;
    if (a->vid_pid != NULL) {
        const char *colon = strchr(a->vid_pid, ':');
        if (colon == NULL ||
            parse_hex16(a->vid_pid, (size_t)(colon - a->vid_pid), &cfg->vid) != 0 ||
            parse_hex16(colon + 1, strlen(colon + 1), &cfg->pid) != 0)
            return err_set(RL_EUSAGE, "token: --vid-pid wants VVVV:PPPP in hex (e.g. 1209:0001), "
                                      "not \"%.40s\"",
                           a->vid_pid);
    }
    if (a->timeout != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long ms = strtoul(a->timeout, &end, 10);
        if (end == a->timeout || *end != '\0' || errno != 0 || ms < 1 || ms > 600000 ||
            a->timeout[0] == '-')
            return err_set(RL_EUSAGE, "token: --timeout-ms wants a number of milliseconds "
                                      "1-600000, not \"%.40s\"",
                           a->timeout);
        cfg->timeout_ms = (unsigned)ms;
        if (cfg->commit_timeout_ms < cfg->timeout_ms)
            cfg->commit_timeout_ms = cfg->timeout_ms;
    }
    return RL_OK;
}

/* ---- progress bar (stderr, only on a terminal) ---------------------------------------------- */

typedef struct {
    char what[16];
    int last_pct;
} progress;

static void on_progress(void *ctx, const char *what, uint64_t done, uint64_t total)
{
    progress *p = ctx;
    int pct = total > 0 ? (int)(done * 100 / total) : 100;
    if (strncmp(p->what, what, sizeof p->what - 1) != 0) {
        snprintf(p->what, sizeof p->what, "%s", what);
        p->last_pct = -1;
    }
    if (pct == p->last_pct)
        return;
    p->last_pct = pct;
    char bar[31];
    int fill = pct * 30 / 100;
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r%-6s [%s] %3d%% %llu/%llu bytes", what, bar, pct,
            (unsigned long long)done, (unsigned long long)total);
    if (done >= total)
        fputc('\n', stderr);
    fflush(stderr);
}

/* ---- output helpers ------------------------------------------------------------------------- */

/* minisign shows a key id as the little-endian u64 in upper-case hex. */
static void key_id_str(const uint8_t id[8], char out[17])
{
    static const char hx[] = "0123456789ABCDEF";
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hx[id[7 - i] >> 4];
        out[2 * i + 1] = hx[id[7 - i] & 15];
    }
    out[16] = '\0';
}

static void hex_str(const uint8_t *b, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c < 0x20 || *c == 0x7f)
            fprintf(f, "\\u%04x", *c);
        else
            fputc(*c, f);
    }
    fputc('"', f);
}

static int all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

static const char *class_name(uint32_t flags)
{
    return (flags & PROTO_FILE_PRODUCTION) ? "production"
           : (flags & PROTO_FILE_DRILL)    ? "drill"
                                           : "?";
}

/* ---- subcommands ---------------------------------------------------------------------------- */

static int open_token(const targs *a, usbtoken_config *cfg, serial_list *sl, progress *pg,
                      usbtoken **t)
{
    int rc = make_config(a, cfg, sl, 1);
    if (rc != RL_OK)
        return rc;
    if (pg != NULL && isatty(STDERR_FILENO)) {
        cfg->progress = on_progress;
        cfg->progress_ctx = pg;
    }
    return usbtoken_open(cfg, t);
}

static void print_info_json(const usbtoken_info *in)
{
    char id[17];
    printf("{\"serial\":");
    json_str(stdout, in->serial);
    printf(",\"model\":");
    json_str(stdout, in->model);
    printf(",\"firmware\":\"%u.%u.%u\",\"protocol\":%u,\"counter\":%llu,\"files\":%u,"
           "\"max_files\":%u,\"free_bytes\":%lu,\"largest_file\":%lu,\"capacity\":%lu,"
           "\"uploading\":%s,\"epoch\":%lu,\"authority\":",
           in->fw_major, in->fw_minor, in->fw_patch, in->proto_version,
           (unsigned long long)in->counter, in->nfiles, in->max_files,
           (unsigned long)in->free_bytes, (unsigned long)in->largest_file,
           (unsigned long)in->capacity,
           (in->flags & PROTO_INFO_FLAG_UPLOADING) ? "true" : "false",
           (unsigned long)in->epoch);
    if ((in->flags & PROTO_INFO_FLAG_AUTHORITY) && !all_zero(in->authority_id, 8)) {
        key_id_str(in->authority_id, id);
        printf("\"%s\"", id);
    } else
        printf("null");
    printf(",\"appliance_keys\":[");
    for (unsigned i = 0; i < in->nkeys && i < PROTO_MAX_APPLIANCE_KEYS; i++) {
        key_id_str(in->keys[i].key_id, id);
        printf("%s{\"key_id\":\"%s\",\"last_seq\":%llu}", i ? "," : "", id,
               (unsigned long long)in->keys[i].last_seq);
    }
    printf("]}\n");
}

static void print_info_text(const usbtoken_info *in)
{
    char id[17];
    printf("token %s: %s, firmware %u.%u.%u, protocol %u\n", in->serial, in->model,
           in->fw_major, in->fw_minor, in->fw_patch, in->proto_version);
    printf("counter: %llu (accepted files, never decreases)\n",
           (unsigned long long)in->counter);
    /* The token's free_bytes counts whole free blocks, file headers included, so on a blank
     * token it exceeds the capacity for file contents: show what a user can store. */
    printf("files: %u of %u; free %lu of %lu bytes (largest new file %lu bytes)%s\n",
           in->nfiles, in->max_files,
           (unsigned long)(in->free_bytes < in->capacity ? in->free_bytes : in->capacity),
           (unsigned long)in->capacity, (unsigned long)in->largest_file,
           (in->flags & PROTO_INFO_FLAG_UPLOADING) ? "; an upload is in progress" : "");
    if (in->flags & PROTO_INFO_FLAG_AUTHORITY) {
        key_id_str(in->authority_id, id);
        printf("enrolment authority: %s (epoch %lu)\n", id, (unsigned long)in->epoch);
    } else
        printf("enrolment authority: none (a blank token: provision it in the key ceremony)\n");
    printf("appliance keys: %u\n", in->nkeys);
    for (unsigned i = 0; i < in->nkeys && i < PROTO_MAX_APPLIANCE_KEYS; i++) {
        key_id_str(in->keys[i].key_id, id);
        printf("  %s  last accepted seq %llu (drill and production)\n", id,
               (unsigned long long)in->keys[i].last_seq);
    }
}

static int do_info(const targs *a)
{
    usbtoken_config cfg;
    serial_list sl;
    usbtoken *t = NULL;
    usbtoken_info in;
    if (a->npos != 1)
        return tusage("info takes no arguments");
    int rc = make_config(a, &cfg, &sl, 0);
    if (rc != RL_OK)
        return rc;
    if (sl.n == 0) {
        /* No allowlist: say which tokens are plugged in, so the user can name one. */
        char found[8][PROTO_SERIAL_LEN + 1];
        size_t n = 0;
        if ((rc = usbtoken_scan(&cfg, found, 8, &n)) != RL_OK)
            return rc;
        char list[8 * (PROTO_SERIAL_LEN + 2) + 1] = "";
        for (size_t i = 0; i < n && i < 8; i++) {
            if (i)
                strcat(list, ", ");
            strcat(list, found[i]);
        }
        if (n == 0)
            return err_set(RL_EIO, "token: no token found (USB %04x:%04x): plug in the token",
                           cfg.vid, cfg.pid);
        return err_set(RL_EUSAGE, "token: no token serial given: plugged in: %s; name the token "
                                  "with --serial S (or RESERVLON_TOKEN_SERIALS)",
                       list);
    }
    if ((rc = usbtoken_open(&cfg, &t)) != RL_OK)
        return rc;
    rc = usbtoken_get_info(t, &in);
    usbtoken_close(t);
    if (rc != RL_OK)
        return rc;
    if (a->json)
        print_info_json(&in);
    else
        print_info_text(&in);
    return RL_OK;
}

static int do_list(const targs *a)
{
    usbtoken_config cfg;
    serial_list sl;
    usbtoken *t = NULL;
    usbtoken_entry files[PROTO_MAX_FILES];
    size_t n = 0;
    uint64_t counter = 0;
    if (a->npos != 1)
        return tusage("list takes no arguments");
    int rc = open_token(a, &cfg, &sl, NULL, &t);
    if (rc != RL_OK)
        return rc;
    char serial[PROTO_SERIAL_LEN + 1];
    snprintf(serial, sizeof serial, "%s", usbtoken_serial(t));
    rc = usbtoken_list(t, files, PROTO_MAX_FILES, &n, &counter);
    usbtoken_close(t);
    if (rc != RL_OK)
        return rc;
    if (n > PROTO_MAX_FILES)
        n = PROTO_MAX_FILES;
    char hid[2 * PROTO_HASH_ID_LEN + 1];
    if (a->json) {
        printf("{\"serial\":");
        json_str(stdout, serial);
        printf(",\"counter\":%llu,\"files\":[", (unsigned long long)counter);
        for (size_t i = 0; i < n; i++) {
            hex_str(files[i].hash_id, PROTO_HASH_ID_LEN, hid);
            printf("%s{\"name\":", i ? "," : "");
            json_str(stdout, files[i].name);
            printf(",\"size\":%lu,\"counter\":%llu,\"class\":\"%s\",\"collected\":%s,"
                   "\"hash_id\":\"%s\"}",
                   (unsigned long)files[i].size, (unsigned long long)files[i].counter,
                   class_name(files[i].flags),
                   (files[i].flags & PROTO_FILE_COLLECTED) ? "true" : "false", hid);
        }
        printf("]}\n");
        return RL_OK;
    }
    printf("token %s: %zu file%s, counter %llu\n", serial, n, n == 1 ? "" : "s",
           (unsigned long long)counter);
    if (n > 0)
        printf("%8s %10s  %-10s  %-9s  %s\n", "COUNTER", "SIZE", "CLASS", "COLLECTED", "NAME");
    for (size_t i = 0; i < n; i++)
        printf("%8llu %10lu  %-10s  %-9s  %s\n", (unsigned long long)files[i].counter,
               (unsigned long)files[i].size, class_name(files[i].flags),
               (files[i].flags & PROTO_FILE_COLLECTED) ? "yes" : "no", files[i].name);
    return RL_OK;
}

/* The class the signature's trusted comment names: "mode=drill" or "mode=production" as a
 * whitespace-separated word (the token's contract; the token checks it again). */
static int class_of_signature(const char *sig_path, usbtoken_class *cls)
{
    char *text = NULL;
    size_t len = 0;
    int rc = file_read_all(sig_path, 4096, &text, &len);
    if (rc != RL_OK)
        return err_wrap(RL_EINTEGRITY, "no signature beside the file: ");
    const char *tc = strstr(text, "\ntrusted comment: ");
    rc = err_set(RL_EDATA, "%s: the trusted comment names no mode=drill or mode=production "
                           "(the token's contract: 'mode=drill|production seq=N file=NAME')",
                 sig_path);
    if (tc != NULL) {
        tc += strlen("\ntrusted comment: ");
        size_t tl = strcspn(tc, "\r\n");
        const char *p = tc, *end = tc + tl;
        while (p < end) {
            while (p < end && *p == ' ')
                p++;
            size_t wl = 0;
            while (p + wl < end && p[wl] != ' ')
                wl++;
            if (wl == 10 && memcmp(p, "mode=drill", 10) == 0) {
                *cls = USBTOKEN_DRILL;
                rc = RL_OK;
                break;
            }
            if (wl == 15 && memcmp(p, "mode=production", 15) == 0) {
                *cls = USBTOKEN_PRODUCTION;
                rc = RL_OK;
                break;
            }
            p += wl;
        }
    }
    if (rc == RL_OK)
        err_clear();
    free(text);
    return rc;
}

static int do_put(const targs *a)
{
    usbtoken_config cfg;
    serial_list sl;
    usbtoken *t = NULL;
    progress pg = {"", -1};
    usbtoken_receipt r;
    usbtoken_class cls = USBTOKEN_DRILL;
    if (a->npos != 2)
        return tusage("put FILE [--name NAME] (the signature in FILE.minisig)");
    const char *path = a->pos[1];
    char sig_path[4096];
    if (snprintf(sig_path, sizeof sig_path, "%s.minisig", path) >= (int)sizeof sig_path)
        return err_set(RL_EUSAGE, "token: path too long");
    if (access(path, R_OK) != 0)
        return err_set(RL_EDATA, "put: cannot read %s: %s", path, strerror(errno));
    int rc = class_of_signature(sig_path, &cls);
    if (rc != RL_OK)
        return rc;
    if ((rc = open_token(a, &cfg, &sl, &pg, &t)) != RL_OK)
        return rc;
    const char *name = a->name;
    if (name == NULL) {
        const char *slash = strrchr(path, '/');
        name = slash != NULL ? slash + 1 : path;
    }
    rc = usbtoken_put_file(t, path, a->name, cls, &r);
    char serial[PROTO_SERIAL_LEN + 1];
    snprintf(serial, sizeof serial, "%s", usbtoken_serial(t));
    usbtoken_close(t);
    if (rc != RL_OK)
        return rc;
    char hid[2 * PROTO_HASH_ID_LEN + 1];
    hex_str(r.hash_id, PROTO_HASH_ID_LEN, hid);
    printf("put %s on token %s (%s): counter %llu; read back and verified\n", name, serial,
           cls == USBTOKEN_PRODUCTION ? "production" : "drill", (unsigned long long)r.counter);
    printf("hash id %s\n", hid);
    return RL_OK;
}

static int do_get(const targs *a)
{
    usbtoken_config cfg;
    serial_list sl;
    usbtoken *t = NULL;
    progress pg = {"", -1};
    if (a->npos != 2 || a->out == NULL)
        return tusage("get NAME --out FILE");
    int rc = open_token(a, &cfg, &sl, &pg, &t);
    if (rc != RL_OK)
        return rc;
    usbtoken_filestat st;
    if ((rc = usbtoken_stat(t, a->pos[1], &st)) == RL_OK)
        rc = usbtoken_get_file(t, a->pos[1], a->out);
    char serial[PROTO_SERIAL_LEN + 1];
    snprintf(serial, sizeof serial, "%s", usbtoken_serial(t));
    usbtoken_close(t);
    if (rc != RL_OK)
        return rc;
    printf("wrote %s (%lu bytes, counter %llu, %s) and %s.minisig from token %s\n", a->out,
           (unsigned long)st.size, (unsigned long long)st.counter, class_name(st.flags), a->out,
           serial);
    return RL_OK;
}

static int do_mark_or_delete(const targs *a, int del)
{
    usbtoken_config cfg;
    serial_list sl;
    usbtoken *t = NULL;
    if (a->npos != 2)
        return tusage(del ? "delete NAME" : "mark-collected NAME");
    int rc = open_token(a, &cfg, &sl, NULL, &t);
    if (rc != RL_OK)
        return rc;
    rc = del ? usbtoken_delete(t, a->pos[1]) : usbtoken_mark_collected(t, a->pos[1]);
    char serial[PROTO_SERIAL_LEN + 1];
    snprintf(serial, sizeof serial, "%s", usbtoken_serial(t));
    usbtoken_close(t);
    if (rc == RL_OK)
        printf("%s %s on token %s\n", a->pos[1], del ? "deleted" : "marked collected", serial);
    return rc;
}

static int enroll_op(const char *s, unsigned *op)
{
    if (strcmp(s, "add") == 0)
        *op = PROTO_ENROLL_ADD_APPLIANCE;
    else if (strcmp(s, "remove") == 0)
        *op = PROTO_ENROLL_REMOVE_APPLIANCE;
    else if (strcmp(s, "set-authority") == 0)
        *op = PROTO_ENROLL_SET_AUTHORITY;
    else
        return -1;
    return 0;
}

static int do_enroll(const targs *a)
{
    usbtoken_config cfg;
    serial_list sl;
    usbtoken *t = NULL;
    usbtoken_info in;
    uint8_t st[PROTO_ST_SIZE];
    unsigned op = 0;
    int rc;
    char *stmt_file = NULL, *sig_file = NULL;
    size_t stmt_len = 0, sig_len = 0;
    minisig_seckey *auth = NULL;
    minisig_pubkey key;
    static const char use[] = "enroll add|remove|set-authority KEY.pub --authority-key AUTH.key "
                              "| --statement-out STMT, or enroll apply STMT";

    if (a->npos != 3)
        return tusage(use);
    int apply = strcmp(a->pos[1], "apply") == 0;
    if (!apply) {
        if (enroll_op(a->pos[1], &op) != 0)
            return tusage(use);
        if ((a->authority_key == NULL) == (a->statement_out == NULL))
            return tusage("enroll needs exactly one of --authority-key FILE (sign here) and "
                          "--statement-out FILE (sign offline, then 'enroll apply')");
        if ((rc = minisig_pubkey_load(a->pos[2], &key)) != RL_OK)
            return err_wrap(rc, "%s: ", a->pos[2]);
        if (a->authority_key != NULL &&
            (rc = minisig_seckey_load(a->authority_key, &auth)) != RL_OK)
            return err_wrap(rc, "%s: ", a->authority_key);
    } else {
        char sig_path[4096];
        if (a->authority_key != NULL || a->statement_out != NULL)
            return tusage("enroll apply STMT takes the signature from STMT.minisig");
        if (snprintf(sig_path, sizeof sig_path, "%s.minisig", a->pos[2]) >= (int)sizeof sig_path)
            return err_set(RL_EUSAGE, "token: path too long");
        if ((rc = file_read_all(a->pos[2], 4096, &stmt_file, &stmt_len)) != RL_OK)
            return rc;
        if (stmt_len != PROTO_ST_SIZE || memcmp(stmt_file, "RLTKENR1", 8) != 0) {
            free(stmt_file);
            return err_set(RL_EDATA, "%s is not an enrolment statement (%u bytes starting "
                                     "\"RLTKENR1\")",
                           a->pos[2], PROTO_ST_SIZE);
        }
        memcpy(st, stmt_file, PROTO_ST_SIZE);
        free(stmt_file);
        if ((rc = file_read_all(sig_path, 4096, &sig_file, &sig_len)) != RL_OK) {
            return err_wrap(RL_EINTEGRITY, "the statement's signature: ");
        }
    }

    if ((rc = open_token(a, &cfg, &sl, NULL, &t)) != RL_OK)
        goto out;
    if (!apply) {
        if ((rc = usbtoken_get_info(t, &in)) != RL_OK)
            goto out;
        if ((rc = usbtoken_statement_build(st, in.serial, in.epoch + 1, op, key.key_id,
                                           key.pk)) != RL_OK)
            goto out;
        if (a->statement_out != NULL) {
            if ((rc = file_write_atomic(a->statement_out, st, sizeof st, 0644)) != RL_OK)
                goto out;
            printf("wrote enrolment statement %s for token %s (epoch %lu); sign it offline "
                   "with the authority key:\n  minisign -S -s AUTH.key -m %s\nthen: reservlon "
                   "token enroll apply %s\n",
                   a->statement_out, in.serial, (unsigned long)(in.epoch + 1),
                   a->statement_out, a->statement_out);
            goto out;
        }
        char tc[128];
        snprintf(tc, sizeof tc, "reservlon enrolment statement op=%s serial=%s epoch=%lu",
                 a->pos[1], in.serial, (unsigned long)(in.epoch + 1));
        sig_file = malloc(MINISIG_SIG_TEXT_MAX);
        if (sig_file == NULL) {
            rc = err_set(RL_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = minisig_sign(auth, st, sizeof st, tc, sig_file, MINISIG_SIG_TEXT_MAX)) !=
            RL_OK)
            goto out;
        sig_len = strlen(sig_file);
    }
    uint32_t epoch = 0;
    unsigned nkeys = 0;
    if ((rc = usbtoken_enroll(t, st, sig_file, sig_len, &epoch, &nkeys)) != RL_OK)
        goto out;
    printf("enrolment accepted by token %s: epoch %lu, %u appliance key%s\n", usbtoken_serial(t),
           (unsigned long)epoch, nkeys, nkeys == 1 ? "" : "s");
out:
    usbtoken_close(t);
    minisig_seckey_free(auth);
    free(sig_file);
    return rc;
}

int cmd_token(int argc, char **argv)
{
    targs a;
    int rc = parse(argc, argv, &a);
    if (rc != RL_OK)
        return rc;
    if (a.npos == 0) {
        fputs(help_text, stderr);
        return err_set(RL_EUSAGE, "token: which subcommand?");
    }
    const char *sub = a.pos[0];
    if (a.json && strcmp(sub, "info") != 0 && strcmp(sub, "list") != 0)
        return tusage("--json is for info and list");
    if (strcmp(sub, "help") == 0) {
        fputs(help_text, stdout);
        return RL_OK;
    }
    if (strcmp(sub, "info") == 0)
        return do_info(&a);
    if (strcmp(sub, "list") == 0)
        return do_list(&a);
    if (strcmp(sub, "put") == 0)
        return do_put(&a);
    if (strcmp(sub, "get") == 0)
        return do_get(&a);
    if (strcmp(sub, "mark-collected") == 0)
        return do_mark_or_delete(&a, 0);
    if (strcmp(sub, "delete") == 0)
        return do_mark_or_delete(&a, 1);
    if (strcmp(sub, "enroll") == 0)
        return do_enroll(&a);
    return err_set(RL_EUSAGE, "token: unknown subcommand '%.40s' (see 'reservlon token help')",
                   sub);
}

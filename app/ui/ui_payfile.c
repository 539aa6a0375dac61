/* ui_payfile: the payment file of a released pay run, from the review screen. Two approvers
 * sign it (the logged-in one and a second who logs in on this screen: payfile_write with a
 * signing session), into a directory the operator confirms; then it is put on the USB token
 * with a progress bar for the upload and the read-back (usbtoken_put_file), and the token's
 * own record of it is shown (usbtoken_stat). */
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/field.h"
#include "payfile/payfile.h"
#include "token/usbtoken.h"
#include "ui/ui_app.h"
#include "ui/ui_text.h"

#define ADD(...)                                                                                   \
    (o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, __VA_ARGS__), o = o < cap ? o : cap)

/* --- the form --------------------------------------------------------------------------- */

/* The token's rule for a file name (usbtoken_put), which payfile_write also signs as file=. */
static int token_name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 63 || n[0] == '.')
        return 0;
    for (const char *c = n; *c; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '-'))
            return 0;
    return 1;
}

static int check(void *ctx, const char *name, const char *value, char *msg, size_t cap)
{
    (void)ctx;
    struct stat sb;
    const char *bad = NULL;
    if (value[0] == '\0')
        bad = ui_t(T_NEED_VALUE);
    else if (strcmp(name, "dir") == 0 && (stat(value, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        bad = ui_t(T_NOT_A_DIR);
    else if (strcmp(name, "file") == 0 && !token_name_ok(value))
        bad = ui_t(T_FILENAME_BAD);
    else if ((strcmp(name, "drill") == 0 || strcmp(name, "leave_out") == 0) &&
             ui_answer(value) < 0)
        bad = ui_t(T_YESNO_BAD);
    if (bad == NULL)
        return 0;
    snprintf(msg, cap, "%s", bad);
    return 1;
}

/* --- the token -------------------------------------------------------------------------- */

/* The two bars (upload, read-back), kept so a redraw shows where they stopped. */
typedef struct {
    int y;
    uint64_t done[2], total[2];
    int seen[2];
} bars;

static void draw_bars(const bars *b)
{
    const char *label[2] = {ui_t(T_BAR_PUT), ui_t(T_BAR_VERIFY)};
    int w = COLS - 34;
    if (w < 10)
        w = 10;
    for (int i = 0; i < 2; i++) {
        if (!b->seen[i])
            continue;
        int y = b->y + i;
        uint64_t d = b->done[i], t = b->total[i];
        int pct = t ? (int)(d * 100 / t) : 100;
        int fill = pct * w / 100;
        move(y, 0);
        clrtoeol();
        ui_put(y, 1, 16, label[i], A_NORMAL);
        mvaddch(y, 18, '[');
        for (int k = 0; k < w; k++)
            addch(k < fill ? ('#' | A_BOLD) : '.');
        addch(']');
        char tail[16];
        snprintf(tail, sizeof tail, " %3d %%", pct);
        ui_put(y, 20 + w, 8, tail, A_NORMAL);
    }
}

static void on_progress(void *ctx, const char *what, uint64_t done, uint64_t total)
{
    bars *b = ctx;
    int i = strcmp(what, "put") == 0 ? 0 : 1;
    b->seen[i] = 1;
    b->done[i] = done;
    b->total[i] = total;
    draw_bars(b);
    refresh();
}

static const char *class_label(uint32_t flags)
{
    return (flags & PROTO_FILE_PRODUCTION) ? ui_t(T_CLASS_PROD)
           : (flags & PROTO_FILE_DRILL)    ? ui_t(T_CLASS_DRILL)
                                           : "?";
}

/* Puts path on the one token plugged in (or the one RESERVLON_TOKEN_SERIALS names), after
 * the operator confirmed its serial. Returns 1 done (result in out), 0 not done (msg in
 * out: the reason, or empty if the operator said no), UI_QUIT. */
static int put_on_token(const char *path, const char *name, usbtoken_class cls, bars *b,
                        char *out, size_t cap)
{
    usbtoken_config cfg;
    usbtoken_config_default(&cfg);
    char found[8][PROTO_SERIAL_LEN + 1], envbuf[200];
    const char *serials[8];
    size_t n = 0, o = 0;
    out[0] = '\0';
    if (usbtoken_scan(&cfg, found, 8, &n) != RL_OK) {
        err_clear();
        ADD("%s: %s", ui_t(T_TOKEN), ui_t(T_TOKEN_UNKNOWN));
        return 0;
    }
    if (n == 0) {
        ADD("%s", ui_t(T_NO_TOKEN));
        return 0;
    }
    /* The allowlist: the serials the site configured, else the one token present, which
     * the operator confirms by its serial (as the drill takes the token plugged in). */
    const char *env = getenv("RESERVLON_TOKEN_SERIALS");
    if (env != NULL && env[0]) {
        snprintf(envbuf, sizeof envbuf, "%s", env);
        char *save = NULL;
        for (char *t = strtok_r(envbuf, ",", &save); t && cfg.nserials < 8;
             t = strtok_r(NULL, ",", &save))
            serials[cfg.nserials++] = t;
    } else {
        if (n > 1) {
            ADD("%s", ui_t(T_TOKEN_MANY));
            return 0;
        }
        serials[0] = found[0];
        cfg.nserials = 1;
    }
    cfg.serials = serials;
    char q[200];
    snprintf(q, sizeof q, "%s %s?", ui_t(T_CONFIRM_TOKEN),
             cfg.nserials == 1 ? serials[0] : found[0]);
    int c = ui_confirm(q);
    if (c != 1)
        return c == UI_QUIT ? UI_QUIT : 0;
    cfg.progress = on_progress;
    cfg.progress_ctx = b;
    memset(b->seen, 0, sizeof b->seen);
    usbtoken *t = NULL;
    usbtoken_receipt r;
    usbtoken_filestat st;
    char serial[PROTO_SERIAL_LEN + 1] = "";
    int rc = usbtoken_open(&cfg, &t);
    if (rc == RL_OK) {
        snprintf(serial, sizeof serial, "%s", usbtoken_serial(t));
        /* usbtoken_put reads every byte back and compares before it reports success; the
         * STAT then shows what the token itself recorded. */
        rc = usbtoken_put_file(t, path, name, cls, &r);
        if (rc == RL_OK)
            rc = usbtoken_stat(t, name, &st);
    }
    usbtoken_close(t);
    if (rc != RL_OK) {
        char tr[600];
        ADD("%s: %s", ui_t(T_TOKEN_FAILED), ui_text_translate(err_msg(), tr, sizeof tr));
        return 0;
    }
    ADD("%s %s: %s, %s %lu %s, %s %llu, %s %s\n%s", ui_t(T_ON_TOKEN), serial, st.name,
        ui_t(T_SIZE), (unsigned long)st.size, ui_t(T_BYTES), ui_t(T_COUNTER), (unsigned long long)st.counter,
        ui_t(T_CLASS), class_label(st.flags), ui_t(T_TOKEN_DONE));
    return 1;
}

/* The written file's summary, then the token; left_out (may be empty) lists the people left
 * out of the file, shown on a key. Returns UI_BACK or UI_QUIT. */
static int token_screen(ui_session *s, const char *path, const char *name, usbtoken_class cls,
                        const char *summary, const char *left_out)
{
    int lo = left_out[0] != '\0';
    int lo_key = ui_t(T_KEY_WARNINGS)[0];
    bars b;
    memset(&b, 0, sizeof b);
    char result[800] = "", title[200];
    int done = 0, err = 0;
    ui_session_title(s, ui_t(T_PAYFILE_TITLE), title, sizeof title);
    for (;;) {
        ui_frame(title, done ? ui_t(lo ? T_KEYS_DONE_LO : T_KEYS_DONE)
                             : ui_t(lo ? T_KEYS_TOKEN_LO : T_KEYS_TOKEN));
        int y = 2 + ui_wrap(2, 1, COLS - 2, 10, summary, A_NORMAL) + 1;
        if (!done)
            y += ui_wrap(y, 1, COLS - 2, 3, ui_t(T_TOKEN_HELP), A_BOLD) + 1;
        b.y = y;
        draw_bars(&b);
        y += 3;
        if (result[0])
            ui_wrap(y, 1, COLS - 2, LINES - 4 - y, result,
                    err ? (A_BOLD | (has_colors() ? COLOR_PAIR(1) : 0)) : A_BOLD);
        move(LINES - 1, COLS - 1);
        int k = ui_key();
        if (k == UI_QUIT)
            return UI_QUIT;
        if (k == UI_ESC || k == UI_K(KEY_F(10)) || (done && k == UI_ENTER))
            return UI_BACK;
        if (lo && k == lo_key) {
            if (ui_pager(title, left_out, NULL, NULL) == UI_QUIT)
                return UI_QUIT;
            continue;
        }
        if (k != UI_ENTER)
            continue;
        ui_status(ui_t(T_WORKING), 0);
        refresh();
        int r = put_on_token(path, name, cls, &b, result, sizeof result);
        if (r == UI_QUIT)
            return UI_QUIT;
        done = r == 1;
        err = r == 0 && result[0];
    }
}

/* --- the screen ------------------------------------------------------------------------- */

int ui_screen_payfile(ui_session *s, int64_t id, const char *status)
{
    char title[200];
    ui_session_title(s, ui_t(T_PAYFILE_TITLE), title, sizeof title);
    if (strcmp(status, "approved") != 0)
        return ui_message(title, ui_t(T_NOT_RELEASED), 1) == UI_QUIT ? UI_QUIT : UI_BACK;
    minisig_pubkey pk;
    int rc = ui_require_signer(s, title, &pk);
    if (rc != 0)
        return rc == UI_QUIT ? UI_QUIT : UI_BACK;

    ui_secret pass;
    if (ui_secret_init(&pass, 1024) != 0)
        return UI_BACK;
    ui_form fm;
    memset(&fm, 0, sizeof fm);
    fm.title = title;
    fm.intro = ui_t(T_PAYFILE_HELP);
    fm.check = check;
    fm.enter_saves = 1;
    fm.leave_quietly = 1; /* nothing is kept: the defaults come back next time */
    ui_field *fd = ui_form_add(&fm, "dir", ui_t(T_DIRECTORY), ui_t(T_DIR_HINT));
    ui_field *ff = ui_form_add(&fm, "file", ui_t(T_FILENAME), ui_t(T_FILENAME_HINT));
    ui_field *fr = ui_form_add(&fm, "drill", ui_t(T_DRILL_FILE), ui_t(T_DRILL_HINT));
    ui_field *fl = ui_form_add(&fm, "leave_out", ui_t(T_LEAVE_OUT), ui_t(T_LEAVE_OUT_HINT));
    ui_form_add(&fm, "second", ui_t(T_SECOND), NULL);
    ui_field *fp = ui_form_add(&fm, "passphrase", ui_t(T_PASS), NULL);
    fp->secret = &pass;
    char cwd[PATH_MAX], fname[80];
    ui_edit_set(&fd->ed, getcwd(cwd, sizeof cwd) ? cwd : "");
    snprintf(fname, sizeof fname, "payrun-%lld.xml", (long long)id);
    ui_edit_set(&ff->ed, fname);
    ui_edit_set(&fr->ed, "n");
    ui_edit_set(&fl->ed, "n");
    int result = UI_BACK;
    for (;;) {
        int r = ui_form_run(&fm);
        if (r != 1) {
            result = r == UI_QUIT ? UI_QUIT : UI_BACK;
            break;
        }
        char dir[UI_VALUE_MAX], file[UI_VALUE_MAX], drill[8], leave[8], second[80];
        char path[UI_VALUE_MAX * 2 + 2], q[UI_VALUE_MAX * 2 + 200];
        ui_form_value(&fm, 0, dir, sizeof dir);
        ui_form_value(&fm, 1, file, sizeof file);
        ui_form_value(&fm, 2, drill, sizeof drill);
        ui_form_value(&fm, 3, leave, sizeof leave);
        ui_form_value(&fm, 4, second, sizeof second);
        size_t dl = strlen(dir);
        snprintf(path, sizeof path, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", file);
        struct stat sb;
        snprintf(q, sizeof q, "%s\n%s?%s%s", ui_t(T_CONFIRM_WRITE), path,
                 lstat(path, &sb) == 0 ? "\n" : "", lstat(path, &sb) == 0 ? ui_t(T_REPLACES) : "");
        int c = ui_confirm(q);
        if (c == UI_QUIT) {
            result = UI_QUIT;
            break;
        }
        if (c != 1)
            continue;
        ui_busy(ui_t(T_LOGGING_IN));
        signing_session *ss = NULL;
        rc = ui_pair_open(s, second, &pass, "signing a payment file", &ss);
        payfile_summary sum;
        ui_capture rep;
        memset(&rep, 0, sizeof rep);
        payfile_settings d;
        char key_id[40] = "";
        if (rc == RL_OK) {
            snprintf(key_id, sizeof key_id, "%s", signing_key_id(ss));
            payfile_options po;
            memset(&po, 0, sizeof po);
            payfile_settings_load(s->v, &d);
            payfile_settings_apply(&d, &po);
            po.drill = ui_answer(drill) == 1;
            po.leave_out_unpayable = ui_answer(leave) == 1;
            po.signer = ss;
            /* The people left out (masked) are listed on the report: kept for the summary. */
            po.report = ui_capture_open(&rep);
            ui_busy(ui_t(T_SIGNING));
            rc = po.report ? payfile_write(s->v, id, &po, path, &sum)
                           : err_set(RL_ENOMEM, "out of memory");
        }
        signing_close(ss);
        if (rc != RL_OK) {
            ui_capture_free(&rep);
            char tr[600];
            snprintf(fm.status, sizeof fm.status, "%s (%s)",
                     ui_text_translate(err_msg(), tr, sizeof tr), ui_t(T_NOTHING_SAVED));
            fm.status_err = 1;
            fm.focus = 5;
            continue;
        }
        char out[2048], total[40];
        size_t o = 0, cap = sizeof out;
        ui_money(sum.total_ore, total);
        ADD("%s: %s\n", ui_t(T_PAYFILE_WRITTEN), path);
        ADD("%s %lld, MsgId %s%s\n", ui_t(T_PAYRUN), (long long)id, sum.msg_id,
            ui_answer(drill) == 1 ? " (DRILL)" : "");
        ADD("%llu %s, %s %s SEK, %s %s\n", (unsigned long long)sum.count, ui_t(T_PAYMENTS),
            ui_t(T_TOTAL), total, ui_t(T_EXEC_DATE), sum.exec_date);
        ADD("%s %s + %s (%s %s)\n", ui_t(T_SIGNED_BY), s->op, second, ui_t(T_KEY), key_id);
        if (sum.left_out > 0) {
            ui_money(sum.left_out_ore, total);
            ADD("%llu %s (%s SEK; %s)\n", (unsigned long long)sum.left_out, ui_t(T_LEFT_OUT),
                total, ui_t(T_SHOW_LEFT_OUT));
        }
        const char *left = sum.left_out > 0 && ui_capture_close(&rep) == RL_OK && rep.buf
                               ? rep.buf
                               : "";
        result = token_screen(s, path, file,
                              ui_answer(drill) == 1 ? USBTOKEN_DRILL : USBTOKEN_PRODUCTION, out,
                              left);
        ui_capture_free(&rep); /* wipes: masked, but about people */
        break;
    }
    ui_secret_free(&pass);
    return result;
}

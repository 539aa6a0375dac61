/* ui_app: the terminal interface's main loop, login and home screens, and the helpers the
 * other screens share (see ui.h and ui_app.h). */
#include "ui/ui.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "payrun/payrun.h"
#include "signing/signing.h"
#include "snapshot/snapshot.h"
#include "token/usbtoken.h"
#include "ui/ui_app.h"
#include "ui/ui_text.h"

_Static_assert(UI_QUIT < RL_EBUSY, "UI_QUIT below every library return code (RL_EBUSY the lowest)");

/* --- shared helpers ------------------------------------------------------------------ */

FILE *ui_capture_open(ui_capture *c)
{
    memset(c, 0, sizeof *c);
    c->f = open_memstream(&c->buf, &c->len);
    return c->f;
}

int ui_capture_close(ui_capture *c)
{
    if (c->f == NULL)
        return RL_OK;
    int bad = fclose(c->f) != 0;
    c->f = NULL;
    if (bad || c->buf == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    return RL_OK;
}

int ui_capture_json(ui_capture *c, json_value **out)
{
    *out = NULL;
    int rc = ui_capture_close(c);
    if (rc != RL_OK)
        return rc;
    return json_parse(c->buf, c->len, out);
}

void ui_capture_free(ui_capture *c)
{
    if (c->f) {
        fclose(c->f);
        c->f = NULL;
    }
    if (c->buf) {
        sodium_memzero(c->buf, c->len);
        free(c->buf);
    }
    c->buf = NULL;
    c->len = 0;
}

int ui_show_error(int rc)
{
    char tr[1024];
    const char *m = err_msg();
    if (m[0] == '\0')
        m = rc == RL_ENOMEM ? "out of memory" : "error";
    return ui_message(ui_t(T_ERROR), ui_text_translate(m, tr, sizeof tr), 1);
}

int64_t ui_jint(const json_value *o, const char *key)
{
    int64_t x = 0;
    const json_value *v = json_get(o, key);
    if (v && json_typeof(v) == JSON_BOOL)
        return json_bool(v);
    return v && json_int64(v, &x) == RL_OK ? x : 0;
}

const char *ui_jstr(const json_value *o, const char *key)
{
    const char *s = json_string(json_get(o, key), NULL);
    return s ? s : "";
}

int ui_padw(const char *s, int w)
{
    int cols = 0;
    for (; *s; s++)
        cols += ((unsigned char)*s & 0xC0) != 0x80;
    return cols < w ? w - cols : 0;
}

void ui_money(int64_t ore, char out[40])
{
    /* Digit groups for reading totals at a glance; the sign, then whole kronor, then öre. */
    uint64_t a = ore < 0 ? (uint64_t)0 - (uint64_t)ore : (uint64_t)ore;
    char digits[24];
    snprintf(digits, sizeof digits, "%llu", (unsigned long long)(a / 100));
    size_t n = strlen(digits), o = 0;
    char sep = ui_text_english() ? ',' : ' ';
    if (ore < 0)
        out[o++] = '-';
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[o++] = sep;
        out[o++] = digits[i];
    }
    snprintf(out + o, 40 - o, "%c%02u", ui_text_english() ? '.' : ',', (unsigned)(a % 100));
}

static const char *role_label(vault_role r)
{
    int en = ui_text_english();
    switch (r) {
    case VAULT_ROLE_REGISTRAR: return en ? "registrar" : "registrerare";
    case VAULT_ROLE_APPROVER: return en ? "approver" : "attestant";
    case VAULT_ROLE_ADMIN: return en ? "administrator" : "administratör";
    }
    return "?";
}

int ui_require_signer(ui_session *s, const char *title, minisig_pubkey *pk)
{
    int rc = signing_pubkey(s->v, pk, NULL, 0);
    if (rc == RL_EDATA) {
        err_clear();
        return ui_message(title, ui_t(T_NO_KEY), 1) == UI_QUIT ? UI_QUIT : 1;
    }
    if (rc != RL_OK)
        return ui_show_error(rc) == UI_QUIT ? UI_QUIT : 1;
    if (vault_operator_role(s->v) != VAULT_ROLE_APPROVER)
        return ui_message(title, ui_t(T_NEED_APPROVER), 1) == UI_QUIT ? UI_QUIT : 1;
    return 0;
}

void ui_session_title(const ui_session *s, const char *screen, char *out, size_t cap)
{
    if (s->v)
        snprintf(out, cap, "%s — %s %s (%s)", screen, ui_t(T_LOGGED_IN_AS), s->op,
                 role_label(vault_operator_role(s->v)));
    else
        snprintf(out, cap, "%s", screen);
}

int ui_session_login(ui_session *s, const char *name, const char *pass, size_t len)
{
    vault_close(s->v);
    s->v = NULL;
    s->op[0] = '\0';
    int rc = vault_open(s->dir, name, pass, len, &s->v);
    /* vault_open may have told stderr about a login delay: repaint over it. */
    clearok(curscr, TRUE);
    if (rc == RL_OK)
        snprintf(s->op, sizeof s->op, "%s", name);
    return rc;
}

int ui_answer(const char *v)
{
    static const char *const yes[] = {"j", "J", "ja", "Ja", "y", "Y", "yes", "Yes"};
    static const char *const no[] = {"n", "N", "nej", "Nej", "no", "No"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (strcmp(v, yes[i]) == 0)
            return 1;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (strcmp(v, no[i]) == 0)
            return 0;
    return -1;
}

int ui_pair_open(ui_session *s, const char *second, ui_secret *pass, const char *action,
                 signing_session **out)
{
    *out = NULL;
    int rc = vault_require_role(s->v, VAULT_ROLE_APPROVER, action);
    if (rc == RL_OK)
        rc = signing_pair_open(s->v, second, pass->buf, pass->len, action, out);
    ui_secret_clear(pass);
    if (rc == RL_OK && (rc = signing_unlock(*out)) != RL_OK) {
        signing_close(*out);
        *out = NULL;
    }
    return rc;
}

/* --- login ---------------------------------------------------------------------------- */

static int nonempty(void *ctx, const char *name, const char *value, char *msg, size_t cap)
{
    (void)ctx;
    (void)name;
    if (value[0])
        return 0;
    snprintf(msg, cap, "%s", ui_t(T_NEED_VALUE));
    return 1;
}

/* Returns 1 logged in, 0 the user quit, UI_QUIT. */
static int screen_login(ui_session *s, const char *intro)
{
    ui_secret pass;
    if (ui_secret_init(&pass, 1024) != 0)
        return UI_QUIT;
    ui_form fm;
    memset(&fm, 0, sizeof fm);
    fm.title = ui_t(T_LOGIN);
    fm.intro = intro ? intro : ui_t(T_LOGIN_HELP);
    fm.hints = ui_t(T_KEYS_LOGIN);
    fm.check = nonempty;
    fm.enter_saves = 1;
    fm.leave_quietly = 1;
    ui_field *fv = ui_form_add(&fm, "vault", ui_t(T_VAULT), NULL);
    ui_field *fn = ui_form_add(&fm, "name", ui_t(T_NAME), NULL);
    ui_field *fp = ui_form_add(&fm, "passphrase", ui_t(T_PASS), NULL);
    fp->secret = &pass;
    ui_edit_set(&fv->ed, s->dir);
    fm.focus = s->dir[0] ? 1 : 0;
    int result;
    for (;;) {
        int r = ui_form_run(&fm);
        if (r != 1) {
            result = r == UI_QUIT ? UI_QUIT : 0;
            break;
        }
        char name[80];
        ui_edit_get(&fv->ed, s->dir, sizeof s->dir);
        ui_edit_get(&fn->ed, name, sizeof name);
        ui_busy(ui_t(T_LOGGING_IN));
        int rc = ui_session_login(s, name, pass.buf, pass.len);
        ui_secret_clear(&pass);
        if (rc == RL_OK) {
            result = 1;
            break;
        }
        char tr[600];
        snprintf(fm.status, sizeof fm.status, "%s: %s", ui_t(T_LOGIN_FAILED),
                 ui_text_translate(err_msg(), tr, sizeof tr));
        fm.status_err = 1;
        fm.focus = 2;
    }
    ui_secret_free(&pass);
    return result;
}

/* --- home ----------------------------------------------------------------------------- */

static void age_text(const char *iso, char *out, size_t cap)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    out[0] = '\0';
    if (sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    long long d = (long long)difftime(time(NULL), t);
    if (d < 0)
        d = 0;
    if (ui_text_english())
        snprintf(out, cap, "%lld d %lld h", d / 86400, d % 86400 / 3600);
    else
        snprintf(out, cap, "%lld d %lld tim", d / 86400, d % 86400 / 3600);
}

static const char *payrun_status_label(const char *st)
{
    if (strcmp(st, "created") == 0)
        return ui_t(T_PRS_CREATED);
    if (strcmp(st, "approved1") == 0)
        return ui_t(T_PRS_APPROVED1);
    if (strcmp(st, "approved") == 0)
        return ui_t(T_PRS_APPROVED);
    return st;
}

/* The state block of the home screen, into out (lines). pending gets the queue length. */
static int home_state(ui_session *s, char *out, size_t cap, int64_t *pending)
{
    ui_capture c;
    json_value *st = NULL, *runs = NULL;
    int rc = RL_ENOMEM;
    size_t o = 0;
    out[0] = '\0';
    if (ui_capture_open(&c) == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    if ((rc = snapshot_status(s->v, 1, c.f)) != RL_OK || (rc = ui_capture_json(&c, &st)) != RL_OK)
        goto cleanup;
    ui_capture_free(&c);
    if (ui_capture_open(&c) == NULL) {
        rc = err_set(RL_ENOMEM, "out of memory");
        goto cleanup;
    }
    if ((rc = payrun_list(s->v, c.f)) != RL_OK || (rc = ui_capture_json(&c, &runs)) != RL_OK)
        goto cleanup;
#define ADD(...)                                                                                   \
    (o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, __VA_ARGS__), o = o < cap ? o : cap)
    const json_value *snap = json_get(st, "snapshot");
    if (snap && json_typeof(snap) == JSON_OBJECT) {
        char age[40];
        age_text(ui_jstr(snap, "export_time"), age, sizeof age);
        ADD("%s%*s %s, %s %s (%s %s)\n", ui_t(T_SNAPSHOT), ui_padw(ui_t(T_SNAPSHOT), 16), "",
            ui_jstr(snap, "source_system"), ui_t(T_EXPORTED), ui_jstr(snap, "export_time"),
            ui_t(T_AGE), age);
    } else {
        ADD("%s%*s %s\n", ui_t(T_SNAPSHOT), ui_padw(ui_t(T_SNAPSHOT), 16), "", ui_t(T_NO_SNAPSHOT));
    }
    const json_value *cnt = json_get(st, "counts");
    ADD("%s%*s %lld, %lld %s\n", ui_t(T_EMPLOYEES), ui_padw(ui_t(T_EMPLOYEES), 16), "",
        (long long)ui_jint(cnt, "employees"), (long long)ui_jint(cnt, "employments"),
        ui_t(T_EMPLOYMENTS));
    const json_value *reg = json_get(st, "registrations");
    *pending = ui_jint(reg, "registered");
    ADD("%s%*s %lld %s, %lld %s, %lld %s, %lld %s\n", ui_t(T_REGISTRATIONS),
        ui_padw(ui_t(T_REGISTRATIONS), 16), "", (long long)ui_jint(reg, "registered"),
        ui_t(T_ST_REGISTERED), (long long)ui_jint(reg, "approved"), ui_t(T_ST_APPROVED),
        (long long)ui_jint(reg, "rejected"), ui_t(T_ST_REJECTED),
        (long long)ui_jint(reg, "exported"), ui_t(T_ST_EXPORTED));
    if (json_len(runs) == 0)
        ADD("%s%*s %s\n", ui_t(T_PAYRUNS), ui_padw(ui_t(T_PAYRUNS), 16), "", ui_t(T_NO_PAYRUNS));
    for (size_t i = 0; i < json_len(runs) && i < 2; i++) {
        const json_value *r = json_at(runs, i);
        char net[40];
        ui_money(ui_jint(r, "net_ore"), net);
        ADD("%s%*s #%lld %s, %s, %s SEK\n", i == 0 ? ui_t(T_PAYRUNS) : "",
            ui_padw(i == 0 ? ui_t(T_PAYRUNS) : "", 16), "", (long long)ui_jint(r, "id"),
            ui_jstr(r, "period"), payrun_status_label(ui_jstr(r, "status")), net);
    }
    /* The token: present or not, by its USB serial only (nothing is opened). */
    usbtoken_config cfg;
    usbtoken_config_default(&cfg);
    char serials[4][PROTO_SERIAL_LEN + 1];
    size_t n = 0;
    if (usbtoken_scan(&cfg, serials, 4, &n) != RL_OK)
        ADD("%s%*s %s\n", ui_t(T_TOKEN), ui_padw(ui_t(T_TOKEN), 16), "", ui_t(T_TOKEN_UNKNOWN));
    else if (n == 0)
        ADD("%s%*s %s\n", ui_t(T_TOKEN), ui_padw(ui_t(T_TOKEN), 16), "", ui_t(T_TOKEN_ABSENT));
    else
        ADD("%s%*s %s (%s)\n", ui_t(T_TOKEN), ui_padw(ui_t(T_TOKEN), 16), "", ui_t(T_TOKEN_PRESENT),
            serials[0]);
#undef ADD
    err_clear();
    rc = RL_OK;
cleanup:
    ui_capture_free(&c);
    json_free(st);
    json_free(runs);
    return rc;
}

/* Returns 1 switch operator, 0 quit, UI_QUIT. */
static int screen_home(ui_session *s)
{
    size_t sel = 0;
    for (;;) {
        char state[2048], title[200];
        int64_t pending = 0;
        int rc = home_state(s, state, sizeof state, &pending);
        if (rc != RL_OK && ui_show_error(rc) == UI_QUIT)
            return UI_QUIT;
        char queue[80];
        snprintf(queue, sizeof queue, "%s (%lld)", ui_t(T_MENU_QUEUE), (long long)pending);
        const char *items[] = {ui_t(T_MENU_REGISTER), ui_t(T_MENU_SEARCH),  queue,
                               ui_t(T_MENU_PAYRUNS),  ui_t(T_MENU_JOURNAL), ui_t(T_MENU_SWITCH),
                               ui_t(T_MENU_QUIT)};
        const char keys[] = {'1', '2', '3', '4', '5', '9', '0'};
        char rows[7][120];
        char *rowp[7];
        for (int i = 0; i < 7; i++) {
            snprintf(rows[i], sizeof rows[i], " %c  %s", keys[i], items[i]);
            rowp[i] = rows[i];
        }
        ui_session_title(s, ui_t(T_HOME), title, sizeof title);
        int k = ui_list(title, state, NULL, rowp, 7, &sel, "1234590", ui_t(T_KEYS_HOME));
        if (k == UI_QUIT)
            return UI_QUIT;
        if (k == UI_ENTER)
            k = keys[sel];
        int r = UI_BACK;
        if (k == '1')
            r = ui_screen_register(s);
        else if (k == '2')
            r = ui_screen_search(s);
        else if (k == '3')
            r = ui_screen_queue(s);
        else if (k == '4')
            r = ui_screen_payruns(s);
        else if (k == '5')
            r = ui_screen_journal(s);
        else if (k == '9' || k == UI_K(KEY_F(9)))
            return 1;
        else if (k == '0' || k == UI_K(KEY_F(10)))
            return 0;
        if (r == UI_QUIT)
            return UI_QUIT;
        if (s->v == NULL)
            return 1; /* a screen logged the operator out (a failed hand-over) */
    }
}

int ui_run(const char *vault_dir, const char *lang)
{
    if (ui_text_lang(lang) != 0)
        return err_set(RL_EUSAGE, "--lang must be sv or en");
    ui_session s;
    memset(&s, 0, sizeof s);
    if (vault_dir == NULL)
        vault_dir = getenv("RESERVLON_VAULT");
    snprintf(s.dir, sizeof s.dir, "%s", vault_dir ? vault_dir : "");
    if (ui_screen_begin() != 0)
        return err_set(RL_EUSAGE, "the terminal interface needs a terminal");
    int r;
    for (;;) {
        r = screen_login(&s, NULL);
        if (r != 1)
            break;
        r = screen_home(&s);
        vault_close(s.v);
        s.v = NULL;
        if (r != 1)
            break;
    }
    int ended = ui_ending();
    vault_close(s.v);
    ui_screen_end();
    err_clear();
    if (ended)
        return err_set(RL_EIO, "the terminal was closed or the program was stopped; nothing "
                               "unsaved was kept");
    return RL_OK;
}

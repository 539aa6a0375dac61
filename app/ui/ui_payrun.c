/* ui_payrun: pay runs: the list, creation (payrun_create), the review (payrun_show's JSON:
 * totals, differences, warnings, each changed employment's lines) and the two-person
 * release (payrun_approve), where each approver logs in on this same screen. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/field.h"
#include "payrun/payrun.h"
#include "snapshot/snapshot.h"
#include "ui/ui_app.h"
#include "ui/ui_text.h"

#ifndef RL_RULES_DIR
#define RL_RULES_DIR "app/rules"
#endif

static const char *status_label(const char *st)
{
    if (strcmp(st, "created") == 0)
        return ui_t(T_PRS_CREATED);
    if (strcmp(st, "approved1") == 0)
        return ui_t(T_PRS_APPROVED1);
    if (strcmp(st, "approved") == 0)
        return ui_t(T_PRS_APPROVED);
    return st;
}

/* --- creation ------------------------------------------------------------------------- */

static int check_create(void *ctx, const char *name, const char *value, char *msg, size_t cap)
{
    (void)ctx;
    int rc = RL_OK;
    if (value[0] == '\0') {
        snprintf(msg, cap, "%s", ui_t(T_NEED_VALUE));
        return 1;
    }
    if (strcmp(name, "period") == 0)
        rc = field_period(value, strlen(value));
    else if (strcmp(name, "pay_date") == 0)
        rc = field_date(value, strlen(value));
    else if (strcmp(name, "policy") == 0) {
        if (strcmp(value, "same-as-last") != 0 && strcmp(value, "recalculate") != 0) {
            snprintf(msg, cap, "%s", ui_t(T_POLICY_BAD));
            return 1;
        }
    } else if (strcmp(name, "pending") == 0 && ui_answer(value) < 0) {
        snprintf(msg, cap, "%s", ui_t(T_YESNO_BAD));
        return 1;
    }
    if (rc != RL_OK) {
        snprintf(msg, cap, "%s", err_msg());
        err_clear();
        return 1;
    }
    return 0;
}

/* The period after the snapshot's last pay run, else this month. */
static void default_period(ui_session *s, char out[16])
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(out, 16, "%Y-%m", &tm);
    ui_capture c;
    json_value *st = NULL;
    if (ui_capture_open(&c) == NULL)
        return;
    if (snapshot_status(s->v, 1, c.f) == RL_OK && ui_capture_json(&c, &st) == RL_OK) {
        const char *last = ui_jstr(json_get(st, "last_payrun"), "period");
        int y = 0, m = 0;
        if (sscanf(last, "%4d-%2d", &y, &m) == 2 && m >= 1 && m <= 12)
            snprintf(out, 16, "%04d-%02d", m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1);
    }
    err_clear();
    json_free(st);
    ui_capture_free(&c);
}

static int review(ui_session *s, int64_t id);

static int create(ui_session *s)
{
    ui_form fm;
    memset(&fm, 0, sizeof fm);
    char title[200];
    ui_session_title(s, ui_t(T_NEW_PAYRUN), title, sizeof title);
    fm.title = title;
    fm.check = check_create;
    fm.enter_saves = 1;
    ui_field *fp = ui_form_add(&fm, "period", ui_t(T_PERIOD), ui_t(T_PERIOD_HINT));
    ui_field *fd = ui_form_add(&fm, "pay_date", ui_t(T_PAY_DATE), ui_t(T_DATE_HINT));
    ui_field *fo = ui_form_add(&fm, "policy", ui_t(T_POLICY), ui_t(T_POLICY_HINT));
    ui_field *fi = ui_form_add(&fm, "pending", ui_t(T_INCLUDE_PENDING), ui_t(T_PENDING_HINT));
    char period[16], today[11];
    default_period(s, period);
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    ui_edit_set(&fp->ed, period);
    ui_edit_set(&fd->ed, today);
    ui_edit_set(&fo->ed, "same-as-last");
    ui_edit_set(&fi->ed, "n");
    for (;;) {
        int r = ui_form_run(&fm);
        if (r != 1)
            return r == UI_QUIT ? UI_QUIT : UI_BACK;
        char per[16], date[16], policy[32], pend[8];
        ui_form_value(&fm, 0, per, sizeof per);
        ui_form_value(&fm, 1, date, sizeof date);
        ui_form_value(&fm, 2, policy, sizeof policy);
        ui_form_value(&fm, 3, pend, sizeof pend);
        payrun_params p = {.period = per,
                           .pay_date = date,
                           .policy = policy,
                           .include_pending = ui_answer(pend) == 1,
                           .rules_path = RL_RULES_DIR "/payroll.lua"};
        int64_t id = 0;
        ui_busy(ui_t(T_COMPUTING));
        /* No progress stream: the library's progress line would write over the screen. */
        int rc = payrun_create(s->v, &p, NULL, &id);
        if (rc == RL_OK)
            return review(s, id);
        char tr[600];
        snprintf(fm.status, sizeof fm.status, "%s (%s)",
                 ui_text_translate(err_msg(), tr, sizeof tr), ui_t(T_NOTHING_SAVED));
        fm.status_err = 1;
    }
}

/* --- release -------------------------------------------------------------------------- */

/* The approver logs in on this screen: checked first against the open vault (so a wrong
 * passphrase leaves the current operator logged in), then the session becomes theirs and
 * the pay run is approved. */
static int release(ui_session *s, int64_t id)
{
    ui_secret pass;
    if (ui_secret_init(&pass, 1024) != 0)
        return UI_BACK;
    uint8_t *share = sodium_malloc(32);
    ui_form fm;
    memset(&fm, 0, sizeof fm);
    char title[200];
    ui_session_title(s, ui_t(T_RELEASE_TITLE), title, sizeof title);
    fm.title = title;
    fm.intro = ui_t(T_RELEASE_HELP);
    fm.enter_saves = 1;
    ui_field *fn = ui_form_add(&fm, "name", ui_t(T_NAME), NULL);
    ui_field *fp = ui_form_add(&fm, "passphrase", ui_t(T_PASS), NULL);
    fp->secret = &pass;
    int result = UI_BACK;
    for (;;) {
        if (share == NULL)
            break;
        int r = ui_form_run(&fm);
        if (r != 1) {
            result = r == UI_QUIT ? UI_QUIT : UI_BACK;
            break;
        }
        char name[80];
        ui_edit_get(&fn->ed, name, sizeof name);
        ui_busy(ui_t(T_LOGGING_IN));
        int rc = RL_OK;
        if (strcmp(name, s->op) != 0) {
            rc = vault_authenticate_second(s->v, name, pass.buf, pass.len, VAULT_ROLE_APPROVER,
                                           "pay run release: approver login", share);
            sodium_memzero(share, 32);
            if (rc == RL_OK)
                rc = ui_session_login(s, name, pass.buf, pass.len);
        }
        ui_secret_clear(&pass);
        if (rc == RL_OK) {
            char st[16] = "";
            rc = payrun_approve(s->v, id, st);
            if (rc == RL_OK) {
                char msg[300];
                snprintf(msg, sizeof msg, "%s %lld: %s\n%s: %s", ui_t(T_PAYRUN), (long long)id,
                         strcmp(st, "approved") == 0 ? ui_t(T_RELEASE_OK) : ui_t(T_RELEASE_OK1),
                         ui_t(T_NOW_LOGGED_IN), s->op);
                result = ui_message(ui_t(T_PAYRUN), msg, 0) == UI_QUIT ? UI_QUIT : UI_BACK;
                break;
            }
        }
        if (s->v == NULL) { /* the hand-over itself failed: back to the login screen */
            result = ui_show_error(rc) == UI_QUIT ? UI_QUIT : UI_BACK;
            break;
        }
        char tr[600];
        snprintf(fm.status, sizeof fm.status, "%s", ui_text_translate(err_msg(), tr, sizeof tr));
        fm.status_err = 1;
        fm.focus = 0;
        title[0] = '\0';
        ui_session_title(s, ui_t(T_RELEASE_TITLE), title, sizeof title);
    }
    sodium_free(share);
    ui_secret_free(&pass);
    return result;
}

/* --- review --------------------------------------------------------------------------- */

static void detail_text(const json_value *c, char *out, size_t cap)
{
    size_t o = 0;
    char a[40], b[40], d[40];
#define ADD(...)                                                                                   \
    (o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, __VA_ARGS__), o = o < cap ? o : cap)
    ui_money(ui_jint(c, "last_net_ore"), a);
    ui_money(ui_jint(c, "net_ore"), b);
    ui_money(ui_jint(c, "difference_ore"), d);
    ADD("%s%*s %s\n", ui_t(T_EMPLOYMENT), ui_padw(ui_t(T_EMPLOYMENT), 24), "",
        ui_jstr(c, "employment_id"));
    ADD("%s%*s %s\n", ui_t(T_PERSON), ui_padw(ui_t(T_PERSON), 24), "", ui_jstr(c, "personnummer"));
    ADD("%s%*s %14s SEK\n", ui_t(T_LAST_NET), ui_padw(ui_t(T_LAST_NET), 24), "", a);
    ADD("%s%*s %14s SEK\n", ui_t(T_NET), ui_padw(ui_t(T_NET), 24), "", b);
    ADD("%s%*s %14s SEK\n", ui_t(T_DIFFERENCE), ui_padw(ui_t(T_DIFFERENCE), 24), "", d);
    /* The reason can be long: its own lines, broken at spaces to fit 80 columns. */
    ADD("%s:\n", ui_t(T_WHY));
    const char *why = ui_jstr(c, "why");
    while (*why) {
        size_t n = strlen(why), cut = n;
        if (n > 74) {
            cut = 74;
            while (cut > 0 && why[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = 74;
        }
        ADD("  %.*s\n", (int)cut, why);
        why += cut;
        while (*why == ' ')
            why++;
    }
    ADD("\n%s:\n", ui_t(T_LINES));
    const json_value *lines = json_get(c, "lines");
    for (size_t i = 0; i < json_len(lines); i++) {
        const json_value *l = json_at(lines, i);
        ui_money(ui_jint(l, "amount_ore"), a);
        ADD("  %-16s %14s  %s\n", ui_jstr(l, "code"), a, ui_jstr(l, "text"));
    }
#undef ADD
}

static int review(ui_session *s, int64_t id)
{
    size_t sel = 0;
    for (;;) {
        ui_capture c;
        json_value *pr = NULL;
        if (ui_capture_open(&c) == NULL)
            return UI_BACK;
        int rc = payrun_show(s->v, id, 1, c.f);
        if (rc == RL_OK)
            rc = ui_capture_json(&c, &pr);
        ui_capture_free(&c);
        if (rc != RL_OK) {
            json_free(pr);
            return ui_show_error(rc) == UI_QUIT ? UI_QUIT : UI_BACK;
        }
        const json_value *t = json_get(pr, "totals");
        const json_value *changed = json_get(pr, "changed"), *warn = json_get(pr, "warnings");
        const char *st = ui_jstr(pr, "status");
        char top[2048], m[6][40];
        ui_money(ui_jint(t, "gross_ore"), m[0]);
        ui_money(ui_jint(t, "tax_ore"), m[1]);
        ui_money(ui_jint(t, "deductions_ore"), m[2]);
        ui_money(ui_jint(t, "net_ore"), m[3]);
        ui_money(ui_jint(t, "last_net_ore"), m[4]);
        ui_money(ui_jint(t, "difference_ore"), m[5]);
        const char *need = strcmp(st, "approved") == 0             ? ui_t(T_RELEASED)
                           : strcmp(st, "approved1") == 0          ? ui_t(T_RELEASE_SECOND)
                           : ui_jint(pr, "second_approval_needed") ? ui_t(T_RELEASE_TWO)
                                                                   : ui_t(T_RELEASE_ONE);
        int o = snprintf(top, sizeof top, "%s %lld: %s %s, %s %s, %s %s\n%s: %s (%s %s). %s\n",
                         ui_t(T_PAYRUN), (long long)id, ui_t(T_PERIOD), ui_jstr(pr, "period"),
                         ui_t(T_PAY_DATE), ui_jstr(pr, "pay_date"), ui_t(T_POLICY),
                         ui_jstr(pr, "policy"), ui_t(T_STATUS), status_label(st),
                         ui_t(T_CREATED_BY), ui_jstr(pr, "created_by"), need);
        const char *left[3] = {ui_t(T_GROSS), ui_t(T_TAX), ui_t(T_DEDUCTIONS)};
        const char *right[3] = {ui_t(T_NET), ui_t(T_LAST_NET), ui_t(T_DIFFERENCE)};
        for (int i = 0; i < 3 && o >= 0 && (size_t)o < sizeof top; i++)
            o += snprintf(top + o, sizeof top - (size_t)o, "%s%*s %14s   %s%*s %14s\n", left[i],
                          ui_padw(left[i], 8), "", m[i], right[i], ui_padw(right[i], 22), "",
                          m[i + 3]);
        if (o >= 0 && (size_t)o < sizeof top)
            snprintf(top + o, sizeof top - (size_t)o, "%s %lld, %s %zu, %s %zu",
                     ui_t(T_EMPLOYMENTS_N), (long long)ui_jint(pr, "employments"),
                     ui_t(T_CHANGED_N), json_len(changed), ui_t(T_WARNINGS_N), json_len(warn));
        size_t n = json_len(changed);
        char(*rows)[200] = calloc(n ? n : 1, sizeof *rows);
        char **rowp = calloc(n ? n : 1, sizeof *rowp);
        if (rows == NULL || rowp == NULL) {
            free(rows);
            free(rowp);
            json_free(pr);
            return UI_BACK;
        }
        for (size_t i = 0; i < n; i++) {
            const json_value *e = json_at(changed, i);
            char a[40], b[40], d[40];
            ui_money(ui_jint(e, "last_net_ore"), a);
            ui_money(ui_jint(e, "net_ore"), b);
            ui_money(ui_jint(e, "difference_ore"), d);
            snprintf(rows[i], sizeof rows[i], "%-14.14s %-15s %11s %11s %11s  %s",
                     ui_jstr(e, "employment_id"), ui_jstr(e, "personnummer"), a, b, d,
                     ui_jstr(e, "why"));
            rowp[i] = rows[i];
        }
        char title[200];
        ui_session_title(s, ui_t(T_REVIEW), title, sizeof title);
        char keys[4] = {ui_t(T_KEY_WARNINGS)[0], 's', ui_t(T_KEY_PAYFILE)[0], 0};
        /* The header in the rows' own columns (labels counted in characters, not bytes). */
        char header[300];
        const char *h[6] = {ui_t(T_EMPLOYMENT), ui_t(T_PERSON), ui_t(T_LAST),
                            ui_t(T_NOW),        ui_t(T_DIFFERENCE), ui_t(T_WHY)};
        snprintf(header, sizeof header, "%s%*s %s%*s %*s%s %*s%s %*s%s  %s", h[0],
                 ui_padw(h[0], 14), "", h[1], ui_padw(h[1], 15), "", ui_padw(h[2], 11), "", h[2],
                 ui_padw(h[3], 11), "", h[3], ui_padw(h[4], 11), "", h[4], h[5]);
        int k = ui_list(title, top, header, rowp, n, &sel, keys, ui_t(T_KEYS_REVIEW));
        int r = UI_BACK;
        if (k == UI_ENTER && n > 0) {
            char text[8192];
            detail_text(json_at(changed, sel), text, sizeof text);
            r = ui_pager(title, text, NULL, NULL);
        } else if (k == keys[0]) {
            char text[16384];
            size_t used = 0;
            for (size_t i = 0; i < json_len(warn) && used < sizeof text - 1; i++) {
                const json_value *w = json_at(warn, i);
                int k2 = snprintf(text + used, sizeof text - used, "%-14s %-15s %s\n",
                                  ui_jstr(w, "employment_id"), ui_jstr(w, "personnummer"),
                                  ui_jstr(w, "warning"));
                used = k2 < 0 ? used : used + (size_t)k2;
            }
            if (used == 0)
                snprintf(text, sizeof text, "-");
            r = ui_pager(title, text, NULL, NULL);
        } else if (k == keys[2]) {
            r = ui_screen_payfile(s, id, st);
        } else if (k == 's') {
            if (strcmp(st, "approved") == 0)
                r = ui_message(ui_t(T_PAYRUN), ui_t(T_ALREADY_RELEASED), 0);
            else
                r = release(s, id);
        }
        free(rows);
        free(rowp);
        json_free(pr);
        if (k == UI_QUIT || r == UI_QUIT)
            return UI_QUIT;
        if (s->v == NULL)
            return UI_BACK;
        if (k == UI_ESC || k == UI_K(KEY_F(9)) || k == UI_K(KEY_F(10)))
            return UI_BACK;
    }
}

/* --- the list ------------------------------------------------------------------------- */

int ui_screen_payruns(ui_session *s)
{
    size_t sel = 0;
    for (;;) {
        ui_capture c;
        json_value *list = NULL;
        if (ui_capture_open(&c) == NULL)
            return UI_BACK;
        int rc = payrun_list(s->v, c.f);
        if (rc == RL_OK)
            rc = ui_capture_json(&c, &list);
        ui_capture_free(&c);
        if (rc != RL_OK) {
            json_free(list);
            return ui_show_error(rc) == UI_QUIT ? UI_QUIT : UI_BACK;
        }
        size_t n = json_len(list);
        char(*rows)[160] = calloc(n ? n : 1, sizeof *rows);
        char **rowp = calloc(n ? n : 1, sizeof *rowp);
        int64_t *ids = calloc(n ? n : 1, sizeof *ids);
        if (rows == NULL || rowp == NULL || ids == NULL) {
            free(rows);
            free(rowp);
            free(ids);
            json_free(list);
            return UI_BACK;
        }
        for (size_t i = 0; i < n; i++) {
            const json_value *r = json_at(list, i);
            char net[40];
            ui_money(ui_jint(r, "net_ore"), net);
            ids[i] = ui_jint(r, "id");
            snprintf(rows[i], sizeof rows[i], "%4lld %-8s %-10s %-13s %-22s %14s",
                     (long long)ids[i], ui_jstr(r, "period"), ui_jstr(r, "pay_date"),
                     ui_jstr(r, "policy"), status_label(ui_jstr(r, "status")), net);
            rowp[i] = rows[i];
        }
        json_free(list);
        char title[200];
        ui_session_title(s, ui_t(T_PAYRUNS), title, sizeof title);
        int k = ui_list(title, n ? NULL : ui_t(T_NO_PAYRUNS), ui_t(T_COL_PAYRUNS), rowp, n, &sel,
                        "n", ui_t(T_KEYS_PAYRUNS));
        int64_t id = n > 0 ? ids[sel] : 0;
        free(rows);
        free(rowp);
        free(ids);
        int r = UI_BACK;
        if (k == UI_QUIT)
            return UI_QUIT;
        if (k == 'n')
            r = create(s);
        else if (k == UI_ENTER && id > 0)
            r = review(s, id);
        else if (k != UI_ENTER)
            return UI_BACK;
        if (r == UI_QUIT)
            return UI_QUIT;
        if (s->v == NULL)
            return UI_BACK;
    }
}

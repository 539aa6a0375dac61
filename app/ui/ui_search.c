/* ui_search: finding an employee by personnummer (registry_employee_show, masked for a
 * protected identity and audited by the library) or by name (registry_employee_find, which
 * never matches a protected identity), and showing their state and history. */
#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "registry/registry.h"
#include "ui/ui_app.h"
#include "ui/ui_text.h"

/* A personnummer starts with a digit; anything else is (part of) a name. */
static int is_pnr(const char *value)
{
    return isdigit((unsigned char)value[0]) != 0;
}

static int check(void *ctx, const char *name, const char *value, char *msg, size_t cap)
{
    (void)ctx;
    (void)name;
    if (value[0] == '\0') {
        snprintf(msg, cap, "%s", ui_t(T_NEED_VALUE));
        return 1;
    }
    if (!is_pnr(value)) {
        size_t chars = 0;
        for (const char *c = value; *c; c++)
            chars += ((unsigned char)*c & 0xC0) != 0x80 && *c != ' ';
        if (chars >= 2)
            return 0;
        snprintf(msg, cap, "%s", ui_t(T_NAME_SHORT));
        return 1;
    }
    /* A personnummer by the registry's own rule (any field of that kind will do). */
    int rc = registry_check_field("bank_change", "personnummer", value, msg, cap);
    err_clear();
    return rc != RL_OK;
}

static void person_text(const json_value *p, char *out, size_t cap)
{
    size_t o = 0;
#define ADD(...)                                                                                   \
    (o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, __VA_ARGS__), o = o < cap ? o : cap)
    int prot = ui_jint(p, "protected_identity") > 0;
    ADD("%s%*s %s  %s\n", ui_t(T_PERSON), ui_padw(ui_t(T_PERSON), 16), "",
        ui_jstr(p, "personnummer"), prot ? ui_t(T_PROTECTED_MASK) : ui_jstr(p, "name"));
    if (prot)
        ADD("%s\n", ui_t(T_PROTECTED_NOTE));
    ADD("%s%*s %s\n", ui_t(T_SOURCE), ui_padw(ui_t(T_SOURCE), 16), "", ui_jstr(p, "source"));
    ADD("%s%*s %s\n\n", ui_t(T_BANK), ui_padw(ui_t(T_BANK), 16), "", ui_jstr(p, "bank"));
    const json_value *emps = json_get(p, "employments");
    ADD("%s:\n", ui_t(T_EMPLOYMENTS_N));
    for (size_t i = 0; i < json_len(emps); i++) {
        const json_value *e = json_at(emps, i);
        int64_t sal = json_get(e, "monthly_salary_ore") ? ui_jint(e, "monthly_salary_ore")
                                                        : ui_jint(e, "hourly_rate_ore");
        char m[40];
        ui_money(sal, m);
        const char *end = ui_jstr(e, "end_date");
        ADD("  %s (%s), %s %s\n    %s %s SEK, %s %%, %s\n    %s %s %s %s\n",
            ui_jstr(e, "employment_id"), ui_jstr(e, "source"), ui_field_label("org_unit_id"),
            ui_jstr(e, "org_unit_id"), ui_jstr(e, "pay_type"), m, ui_jstr(e, "extent_pct"),
            ui_jstr(e, "tax"), ui_t(T_FROM_TO), ui_jstr(e, "start_date"), ui_t(T_TO),
            end[0] ? end : ui_t(T_OPEN_ENDED));
    }
    const json_value *h = json_get(p, "history");
    ADD("\n%s:\n", ui_t(T_HISTORY));
    for (size_t i = 0; i < json_len(h); i++) {
        const json_value *r = json_at(h, i);
        ADD("  %-10s %-24s %-10s %.8s  %s\n", ui_jstr(r, "effective_date"),
            ui_type_label(ui_jstr(r, "type")), ui_jstr(r, "status"), ui_jstr(r, "uuid"),
            ui_jstr(r, "author"));
    }
#undef ADD
}

/* One person's page (the library masks and audits). Returns UI_BACK or UI_QUIT; *failed is
 * set (err_msg says why) when the person cannot be shown. (RL_EDATA is -1, as UI_QUIT is:
 * the two never share a return value.) */
static int show(ui_session *s, const char *title, const char *pnr, int *failed)
{
    ui_capture c;
    json_value *p = NULL;
    *failed = 1;
    if (ui_capture_open(&c) == NULL)
        return UI_BACK;
    int rc = registry_employee_show(s->v, pnr, 1, 0, c.f);
    if (rc == RL_OK)
        rc = ui_capture_json(&c, &p);
    ui_capture_free(&c);
    if (rc != RL_OK) {
        json_free(p);
        return UI_BACK;
    }
    *failed = 0;
    int r = UI_BACK;
    char *text = malloc(65536);
    if (text) {
        person_text(p, text, 65536);
        r = ui_pager(title, text, NULL, NULL) == UI_QUIT ? UI_QUIT : UI_BACK;
        sodium_memzero(text, 65536);
        free(text);
    }
    json_free(p);
    return r;
}

/* The people whose name matches: a list; Enter shows one. Returns UI_BACK or UI_QUIT;
 * *failed as for show; *none is set when nobody matched. */
static int by_name(ui_session *s, const char *title, const char *name, int *failed, int *none)
{
    ui_capture c;
    json_value *res = NULL;
    *none = 0;
    *failed = 1;
    if (ui_capture_open(&c) == NULL)
        return UI_BACK;
    int rc = registry_employee_find(s->v, name, 200, c.f);
    if (rc == RL_OK)
        rc = ui_capture_json(&c, &res);
    ui_capture_free(&c);
    if (rc != RL_OK) {
        json_free(res);
        return UI_BACK;
    }
    *failed = 0;
    const json_value *m = json_get(res, "matches");
    size_t n = json_len(m);
    if (n == 0) {
        json_free(res);
        *none = 1;
        return UI_BACK;
    }
    char(*rows)[200] = calloc(n, sizeof *rows);
    char **rowp = calloc(n, sizeof *rowp);
    int r = UI_BACK;
    if (rows && rowp) {
        for (size_t i = 0; i < n; i++) {
            const json_value *e = json_at(m, i);
            const char *nm = ui_jstr(e, "name");
            snprintf(rows[i], sizeof rows[i], "%-14s %s%*s %s", ui_jstr(e, "personnummer"), nm,
                     ui_padw(nm, 40), "", ui_jstr(e, "source"));
            rowp[i] = rows[i];
        }
        char top[200];
        snprintf(top, sizeof top, "%s: %zu%s%s", ui_t(T_MATCHES), n,
                 ui_jint(res, "more") ? ". " : "", ui_jint(res, "more") ? ui_t(T_MORE_MATCHES) : "");
        size_t sel = 0;
        for (;;) {
            int k = ui_list(title, top, ui_t(T_COL_MATCHES), rowp, n, &sel, NULL,
                            ui_t(T_KEYS_LIST));
            if (k == UI_QUIT) {
                r = UI_QUIT;
                break;
            }
            if (k != UI_ENTER)
                break;
            r = show(s, title, ui_jstr(json_at(m, sel), "personnummer"), failed);
            if (r != UI_BACK || *failed)
                break;
        }
        sodium_memzero(rows, n * sizeof *rows);
    }
    free(rows);
    free(rowp);
    json_free(res);
    return r;
}

int ui_screen_search(ui_session *s)
{
    ui_form fm;
    memset(&fm, 0, sizeof fm);
    char title[200];
    ui_session_title(s, ui_t(T_SEARCH), title, sizeof title);
    fm.title = title;
    fm.intro = ui_t(T_SEARCH_INTRO);
    fm.check = check;
    fm.enter_saves = 1;
    fm.leave_quietly = 1;
    fm.hints = ui_t(T_KEYS_SEARCH);
    ui_form_add(&fm, "query", ui_t(T_SEARCH_FIELD), ui_t(T_SEARCH_HINT));
    for (;;) {
        int r = ui_form_run(&fm);
        if (r != 1)
            return r == UI_QUIT ? UI_QUIT : UI_BACK;
        char q[UI_VALUE_MAX];
        ui_form_value(&fm, 0, q, sizeof q);
        int none = 0, failed = 0;
        fm.status[0] = '\0';
        fm.status_err = 0;
        r = is_pnr(q) ? show(s, title, q, &failed) : by_name(s, title, q, &failed, &none);
        if (r == UI_QUIT)
            return UI_QUIT;
        if (none) {
            snprintf(fm.status, sizeof fm.status, "%s", ui_t(T_NO_MATCH));
            fm.status_err = 1;
        } else if (failed) {
            char tr[600];
            snprintf(fm.status, sizeof fm.status, "%s",
                     ui_text_translate(err_msg(), tr, sizeof tr));
            fm.status_err = 1;
        }
    }
}

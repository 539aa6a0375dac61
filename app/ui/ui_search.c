/* ui_search: finding an employee by personnummer (registry_employee_show, masked for a
 * protected identity and audited by the library) and showing their state and history. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "registry/registry.h"
#include "ui/ui_app.h"
#include "ui/ui_text.h"

static int check(void *ctx, const char *name, const char *value, char *msg, size_t cap)
{
    (void)ctx;
    (void)name;
    if (value[0] == '\0') {
        snprintf(msg, cap, "%s", ui_t(T_NEED_VALUE));
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

int ui_screen_search(ui_session *s)
{
    ui_form fm;
    memset(&fm, 0, sizeof fm);
    char title[200];
    ui_session_title(s, ui_t(T_SEARCH), title, sizeof title);
    fm.title = title;
    fm.check = check;
    fm.enter_saves = 1;
    fm.leave_quietly = 1;
    fm.hints = ui_t(T_KEYS_LOGIN);
    ui_form_add(&fm, "personnummer", ui_field_label("personnummer"), ui_field_hint("personnummer"));
    for (;;) {
        int r = ui_form_run(&fm);
        if (r != 1)
            return r == UI_QUIT ? UI_QUIT : UI_BACK;
        char pnr[64];
        ui_form_value(&fm, 0, pnr, sizeof pnr);
        ui_capture c;
        json_value *p = NULL;
        if (ui_capture_open(&c) == NULL)
            return UI_BACK;
        int rc = registry_employee_show(s->v, pnr, 1, 0, c.f);
        if (rc == RL_OK)
            rc = ui_capture_json(&c, &p);
        ui_capture_free(&c);
        if (rc != RL_OK) {
            char tr[600];
            snprintf(fm.status, sizeof fm.status, "%s",
                     ui_text_translate(err_msg(), tr, sizeof tr));
            fm.status_err = 1;
            json_free(p);
            continue;
        }
        char *text = malloc(65536);
        if (text) {
            person_text(p, text, 65536);
            r = ui_pager(title, text, NULL, NULL);
            free(text);
        }
        json_free(p);
        fm.status[0] = '\0';
        if (r == UI_QUIT)
            return UI_QUIT;
    }
}

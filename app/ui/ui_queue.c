/* ui_queue: the approval queue: registrations awaiting a decision, each opened to read
 * its fields and approved or rejected (registry_approve / registry_reject). */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "registry/registry.h"
#include "ui/ui_app.h"
#include "ui/ui_text.h"

/* The document's fields, one per line, with the interface's labels. */
static void describe(const json_value *r, char *out, size_t cap)
{
    size_t o = 0;
#define ADD(...)                                                                                   \
    (o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, __VA_ARGS__), o = o < cap ? o : cap)
    ADD("%s%*s %s\n", ui_t(T_DOCUMENT), ui_padw(ui_t(T_DOCUMENT), 26), "",
        ui_type_label(ui_jstr(r, "type")));
    ADD("%s%*s %s\n", "UUID", ui_padw("UUID", 26), "", ui_jstr(r, "uuid"));
    ADD("%s%*s %s%s%s\n", ui_t(T_PERSON), ui_padw(ui_t(T_PERSON), 26), "",
        ui_jstr(r, "personnummer"), ui_jint(r, "protected_identity") ? "  " : "",
        ui_jint(r, "protected_identity") ? ui_t(T_PROTECTED_MASK) : "");
    ADD("%s%*s %s\n", ui_t(T_EFFECTIVE), ui_padw(ui_t(T_EFFECTIVE), 26), "",
        ui_jstr(r, "effective_date"));
    ADD("%s%*s %s, %s\n", ui_t(T_AUTHOR), ui_padw(ui_t(T_AUTHOR), 26), "", ui_jstr(r, "author"),
        ui_jstr(r, "recorded_at"));
    if (ui_jstr(r, "corrects")[0])
        ADD("%s%*s %s\n", ui_t(T_CORRECTS), ui_padw(ui_t(T_CORRECTS), 26), "",
            ui_jstr(r, "corrects"));
    ADD("\n");
    const json_value *f = json_get(r, "fields");
    if (json_typeof(f) == JSON_OBJECT) {
        for (size_t i = 0; i < json_len(f); i++) {
            const json_value *v = json_at(f, i);
            const char *s =
                json_typeof(v) == JSON_STRING ? json_string(v, NULL) : json_number_text(v);
            ADD("%s%*s %s\n", ui_field_label(json_key_at(f, i)),
                ui_padw(ui_field_label(json_key_at(f, i)), 26), "", s ? s : "");
        }
    } else {
        ADD("%s\n", ui_t(T_PROTECTED_NOTE));
    }
#undef ADD
}

/* Asks for a rejection reason; returns 1 with reason set, 0 cancelled, UI_QUIT. */
static int ask_reason(ui_session *s, char *reason, size_t cap)
{
    ui_form fm;
    memset(&fm, 0, sizeof fm);
    char title[200];
    ui_session_title(s, ui_t(T_REJECT_TITLE), title, sizeof title);
    fm.title = title;
    fm.enter_saves = 1;
    ui_form_add(&fm, "reason", ui_t(T_REASON), NULL);
    int r = ui_form_run(&fm);
    if (r == 1)
        ui_form_value(&fm, 0, reason, cap);
    return r;
}

static int open_item(ui_session *s, const json_value *r)
{
    char text[8192], title[200];
    describe(r, text, sizeof text);
    ui_session_title(s, ui_type_label(ui_jstr(r, "type")), title, sizeof title);
    char keys[3] = {ui_t(T_KEY_APPROVE)[0], ui_t(T_KEY_REJECT)[0], 0};
    for (;;) {
        int k = ui_pager(title, text, keys, ui_t(T_KEYS_QUEUE_ITEM));
        if (k == UI_QUIT)
            return UI_QUIT;
        if (k != keys[0] && k != keys[1])
            return UI_BACK;
        if (!(vault_operator_role(s->v) & VAULT_ROLE_APPROVER)) {
            if (ui_message(ui_t(T_ERROR), ui_t(T_NOT_APPROVER), 1) == UI_QUIT)
                return UI_QUIT;
            continue;
        }
        const char *uuid = ui_jstr(r, "uuid");
        int rc;
        if (k == keys[0]) {
            rc = registry_approve(s->v, uuid);
        } else {
            char reason[UI_VALUE_MAX];
            int a = ask_reason(s, reason, sizeof reason);
            if (a == UI_QUIT)
                return UI_QUIT;
            if (a != 1)
                continue;
            rc = registry_reject(s->v, uuid, reason);
        }
        if (rc != RL_OK) {
            if (ui_show_error(rc) == UI_QUIT)
                return UI_QUIT;
            continue;
        }
        char msg[200];
        snprintf(msg, sizeof msg, "%s %s", ui_type_label(ui_jstr(r, "type")), uuid);
        return ui_message(k == keys[0] ? ui_t(T_APPROVED_OK) : ui_t(T_REJECTED_OK), msg, 0) ==
                       UI_QUIT
                   ? UI_QUIT
                   : UI_BACK;
    }
}

int ui_screen_queue(ui_session *s)
{
    size_t sel = 0;
    for (;;) {
        ui_capture c;
        json_value *list = NULL;
        if (ui_capture_open(&c) == NULL)
            return UI_BACK;
        int rc = registry_list(s->v, "registered", NULL, 1, c.f);
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
        if (rows == NULL || rowp == NULL) {
            free(rows);
            free(rowp);
            json_free(list);
            return UI_BACK;
        }
        for (size_t i = 0; i < n; i++) {
            const json_value *r = json_at(list, i);
            char type[40];
            snprintf(type, sizeof type, "%s", ui_type_label(ui_jstr(r, "type")));
            snprintf(rows[i], sizeof rows[i], "%-14.14s %-14s %-10s %-10.10s %.8s", type,
                     ui_jstr(r, "personnummer"), ui_jstr(r, "effective_date"), ui_jstr(r, "author"),
                     ui_jstr(r, "uuid"));
            rowp[i] = rows[i];
        }
        char title[200];
        ui_session_title(s, ui_t(T_MENU_QUEUE), title, sizeof title);
        int k = ui_list(title, n ? NULL : ui_t(T_QUEUE_EMPTY), ui_t(T_COL_QUEUE), rowp, n, &sel,
                        NULL, ui_t(T_KEYS_LIST));
        int r = UI_BACK;
        if (k == UI_ENTER && n > 0)
            r = open_item(s, json_at(list, sel));
        free(rows);
        free(rowp);
        json_free(list);
        if (k == UI_QUIT || r == UI_QUIT)
            return UI_QUIT;
        if (k != UI_ENTER)
            return UI_BACK;
    }
}

/* ui_register: registering an employment document in a form (docs/ui.md).
 *
 * The form lists the type's fields from the registry itself; each is checked as it is
 * typed with registry_check_field, and the document is saved with registry_register, whose
 * report ("field F: problem", one line each) is put back on the fields. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "registry/registry.h"
#include "ui/ui_app.h"
#include "ui/ui_text.h"

typedef struct {
    const char *type;
} form_ctx;

static int check(void *ctx, const char *name, const char *value, char *msg, size_t cap)
{
    const form_ctx *c = ctx;
    if (strcmp(name, "corrects") == 0) {
        if (value[0] && strlen(value) != 36) {
            snprintf(msg, cap, "%s",
                     ui_text_english() ? "must be a registration UUID"
                                       : "måste vara en registrerings-UUID");
            return 1;
        }
        return 0;
    }
    int rc = registry_check_field(c->type, name, value, msg, cap);
    err_clear();
    return rc != RL_OK;
}

/* Puts each "field F: problem" line of the library's report on field F; other lines
 * (a duplicate, say) go to the form's message. */
static void report_to_form(ui_form *fm, const char *report, size_t problems)
{
    char general[600] = "";
    const char *p = report;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char line[600];
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        char *sp;
        if (strncmp(line, "field ", 6) == 0 && (sp = strstr(line + 6, ": ")) != NULL) {
            *sp = '\0';
            if (ui_form_set_error(fm, line + 6, sp + 2) != 0 && !general[0])
                snprintf(general, sizeof general, "%s: %s", line + 6, sp + 2);
        } else if (!general[0]) {
            char tr[600];
            snprintf(general, sizeof general, "%s", ui_text_translate(line, tr, sizeof tr));
        }
        p = nl ? nl + 1 : NULL;
    }
    if (general[0])
        snprintf(fm->status, sizeof fm->status, "%s", general);
    else
        snprintf(fm->status, sizeof fm->status, "%zu %s", problems, ui_t(T_PROBLEMS));
    fm->status_err = 1;
}

static int register_form(ui_session *s, const char *type)
{
    const char *names[UI_FORM_MAX];
    int required[UI_FORM_MAX];
    size_t n = registry_type_fields(type, names, required, UI_FORM_MAX - 1);
    ui_form *fm = calloc(1, sizeof *fm);
    if (fm == NULL)
        return UI_BACK;
    form_ctx ctx = {type};
    char title[200], screen[120];
    snprintf(screen, sizeof screen, "%s", ui_type_label(type));
    ui_session_title(s, screen, title, sizeof title);
    fm->title = title;
    fm->check = check;
    fm->ctx = &ctx;
    char labels[UI_FORM_MAX][64];
    for (size_t i = 0; i < n; i++) {
        snprintf(labels[i], sizeof labels[i], "%s%s", ui_field_label(names[i]),
                 required[i] ? " *" : "");
        ui_form_add(fm, names[i], labels[i], ui_field_hint(names[i]));
    }
    ui_form_add(fm, "corrects", ui_t(T_CORRECTS), ui_t(T_CORRECTS_HINT));
    int result = UI_BACK;
    for (;;) {
        int r = ui_form_run(fm);
        if (r != 1) {
            result = r == UI_QUIT ? UI_QUIT : UI_BACK;
            break;
        }
        /* Empty fields are absent, as on the command line. */
        reg_field fields[UI_FORM_MAX];
        char(*vals)[UI_VALUE_MAX] = calloc(UI_FORM_MAX, UI_VALUE_MAX);
        if (vals == NULL)
            break;
        size_t nf = 0;
        char corrects[64] = "";
        for (size_t i = 0; i < fm->n; i++) {
            ui_form_value(fm, i, vals[i], UI_VALUE_MAX);
            if (strcmp(fm->f[i].name, "corrects") == 0)
                snprintf(corrects, sizeof corrects, "%s", vals[i]);
            else if (vals[i][0])
                fields[nf++] = (reg_field){fm->f[i].name, vals[i]};
        }
        ui_capture cap;
        char uuid[37] = "";
        int rc = RL_ENOMEM;
        if (ui_capture_open(&cap) != NULL) {
            ui_busy(ui_t(T_SAVING));
            rc = registry_register(s->v, type, fields, nf, corrects[0] ? corrects : NULL, cap.f,
                                   uuid);
            if (ui_capture_close(&cap) != RL_OK && rc == RL_OK)
                rc = RL_ENOMEM;
        }
        free(vals);
        if (rc == RL_OK) {
            ui_capture_free(&cap);
            char msg[300];
            snprintf(msg, sizeof msg, "%s %s\n%s\n\n%s", ui_type_label(type), uuid,
                     ui_t(T_NEEDS_APPROVAL), "");
            result = ui_message(ui_t(T_REGISTERED_OK), msg, 0) == UI_QUIT ? UI_QUIT : UI_BACK;
            break;
        }
        if (rc == RL_EDATA && cap.buf && cap.buf[0]) {
            size_t problems = 0;
            for (const char *p = cap.buf; *p; p++)
                problems += *p == '\n';
            report_to_form(fm, cap.buf, problems);
            ui_capture_free(&cap);
            continue;
        }
        ui_capture_free(&cap);
        char tr[600];
        snprintf(fm->status, sizeof fm->status, "%s (%s)",
                 ui_text_translate(err_msg(), tr, sizeof tr), ui_t(T_NOTHING_SAVED));
        fm->status_err = 1;
    }
    free(fm);
    return result;
}

int ui_screen_register(ui_session *s)
{
    const char *const *types = registry_types();
    char rows[16][120];
    char *rowp[16];
    size_t n = 0;
    for (; types[n] && n < 16; n++) {
        snprintf(rows[n], sizeof rows[n], " %zu  %s", n + 1, ui_type_label(types[n]));
        rowp[n] = rows[n];
    }
    size_t sel = 0;
    char title[200];
    ui_session_title(s, ui_t(T_CHOOSE_TYPE), title, sizeof title);
    for (;;) {
        int k = ui_list(title, NULL, NULL, rowp, n, &sel, "12345678", ui_t(T_KEYS_LIST));
        if (k == UI_QUIT)
            return UI_QUIT;
        if (k == UI_ESC || k == UI_K(KEY_F(9)) || k == UI_K(KEY_F(10)))
            return UI_BACK;
        if (k >= '1' && k <= '8' && (size_t)(k - '1') < n)
            sel = (size_t)(k - '1');
        int r = register_form(s, types[sel]);
        if (r == UI_QUIT)
            return UI_QUIT;
        return UI_BACK;
    }
}

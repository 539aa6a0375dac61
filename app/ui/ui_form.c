/* ui_form: labelled fields checked as they are typed (see ui_form.h). */
#include "ui/ui_form.h"

#include <stdio.h>
#include <string.h>

#include "ui/ui_text.h"

ui_field *ui_form_add(ui_form *fm, const char *name, const char *label, const char *hint)
{
    if (fm->n >= UI_FORM_MAX)
        return NULL;
    ui_field *f = &fm->f[fm->n++];
    memset(f, 0, sizeof *f);
    f->name = name;
    f->label = label;
    f->hint = hint;
    return f;
}

ui_field *ui_form_find(ui_form *fm, const char *name)
{
    for (size_t i = 0; i < fm->n; i++)
        if (strcmp(fm->f[i].name, name) == 0)
            return &fm->f[i];
    return NULL;
}

void ui_form_value(const ui_form *fm, size_t i, char *out, size_t cap)
{
    ui_edit_get(&fm->f[i].ed, out, cap);
}

int ui_form_set_error(ui_form *fm, const char *name, const char *msg)
{
    for (size_t i = 0; i < fm->n; i++) {
        if (strcmp(fm->f[i].name, name) != 0)
            continue;
        char tr[300];
        ui_text_translate(msg, tr, sizeof tr);
        snprintf(fm->f[i].err, sizeof fm->f[i].err, "%s", tr);
        fm->f[i].touched = 1;
        /* the cursor goes to the first field with a problem */
        size_t first = i;
        for (size_t k = 0; k < fm->n; k++)
            if (fm->f[k].err[0]) {
                first = k;
                break;
            }
        fm->focus = first;
        return 0;
    }
    return -1;
}

void ui_form_clear_errors(ui_form *fm)
{
    for (size_t i = 0; i < fm->n; i++)
        fm->f[i].err[0] = '\0';
}

static void check_field(ui_form *fm, size_t i)
{
    ui_field *f = &fm->f[i];
    if (fm->check == NULL || f->secret)
        return;
    char v[UI_VALUE_MAX], msg[300], tr[300];
    ui_edit_get(&f->ed, v, sizeof v);
    msg[0] = '\0';
    if (fm->check(fm->ctx, f->name, v, msg, sizeof msg) != 0)
        snprintf(f->err, sizeof f->err, "%s", ui_text_translate(msg, tr, sizeof tr));
    else
        f->err[0] = '\0';
}

static void draw(ui_form *fm)
{
    ui_frame(fm->title, fm->hints ? fm->hints : ui_t(T_KEYS_FORM));
    int y0 = 2;
    if (fm->intro && fm->intro[0])
        y0 += ui_wrap(2, 1, COLS - 2, 3, fm->intro, A_NORMAL) + 1;
    int h = LINES - 4 - y0; /* rows for fields: above the two message rows */
    if (h < 1)
        h = 1;
    size_t off = fm->focus >= (size_t)h ? fm->focus - (size_t)h + 1 : 0;
    int lw = 27, vx = 30, vw = COLS - vx - 4;
    if (vw > 40)
        vw = 40;
    for (size_t i = off; i < fm->n && i < off + (size_t)h; i++) {
        ui_field *f = &fm->f[i];
        int y = y0 + (int)(i - off);
        ui_put(y, 1, lw, f->label, i == fm->focus ? A_BOLD : A_NORMAL);
        int bad = f->err[0] && (f->touched || f->ed.len > 0);
        if (!f->secret) {
            ui_edit_draw(&f->ed, y, vx, vw, 0);
            if (bad)
                ui_put(y, vx + vw + 1, 3, "✗", A_BOLD | (has_colors() ? COLOR_PAIR(1) : 0));
            else if (f->ed.len > 0 && fm->check)
                ui_put(y, vx + vw + 1, 3, "✓", has_colors() ? COLOR_PAIR(2) : 0);
        } else {
            attron(A_UNDERLINE);
            mvhline(y, vx, ' ', vw);
            attroff(A_UNDERLINE);
        }
    }
    if (fm->n > (size_t)h) {
        char more[32];
        snprintf(more, sizeof more, "%zu/%zu", fm->focus + 1, fm->n);
        ui_put(y0 + h, COLS - 10, 9, more, A_DIM);
    }
    /* The message line: the focused field's problem, else the form's status, else the
     * field's hint. */
    ui_field *f = &fm->f[fm->focus];
    char line[700];
    if (f->err[0] && (f->touched || f->ed.len > 0)) {
        /* The field's problem first; the form's message (what saving said) below it. */
        snprintf(line, sizeof line, "%s: %s%s%s", f->label, f->err, fm->status[0] ? "\n" : "",
                 fm->status);
        ui_status(line, 1);
    } else if (fm->status[0]) {
        ui_status(fm->status, fm->status_err);
    } else {
        ui_status(f->hint ? f->hint : "", 0);
    }
    int y = y0 + (int)(fm->focus - off);
    if (f->secret)
        move(y, vx);
    else
        ui_edit_draw(&f->ed, y, vx, vw, 1);
}

static int anything_typed(const ui_form *fm)
{
    for (size_t i = 0; i < fm->n; i++)
        if (fm->f[i].ed.len > 0 || (fm->f[i].secret && fm->f[i].secret->len > 0))
            return 1;
    return 0;
}

static void move_focus(ui_form *fm, int dir)
{
    fm->f[fm->focus].touched = 1;
    check_field(fm, fm->focus);
    if (dir > 0)
        fm->focus = fm->focus + 1 < fm->n ? fm->focus + 1 : 0;
    else
        fm->focus = fm->focus > 0 ? fm->focus - 1 : fm->n - 1;
}

int ui_form_run(ui_form *fm)
{
    if (fm->n == 0)
        return 0;
    for (size_t i = 0; i < fm->n; i++)
        if (fm->f[i].ed.len > 0 && !fm->f[i].err[0])
            check_field(fm, i);
    curs_set(1);
    for (;;) {
        draw(fm);
        int k = ui_key();
        if (k == UI_QUIT)
            return UI_QUIT;
        ui_field *f = &fm->f[fm->focus];
        if (k == UI_ESC || k == UI_K(KEY_F(10))) {
            if (fm->leave_quietly || !anything_typed(fm))
                return 0;
            int c = ui_confirm(ui_t(T_DISCARD));
            if (c == UI_QUIT)
                return UI_QUIT;
            if (c == 1)
                return 0; /* leave without saving (1 would mean save) */
            continue;
        }
        int save = k == UI_K(KEY_F(2)) || k == 19 /* Ctrl-S */ ||
                   (k == UI_ENTER && fm->enter_saves && fm->focus + 1 == fm->n);
        if (save) {
            /* Every field is checked once more; the first bad one gets the cursor. */
            size_t bad = fm->n;
            for (size_t i = 0; i < fm->n; i++) {
                fm->f[i].touched = 1;
                check_field(fm, i);
                if (fm->f[i].err[0] && bad == fm->n)
                    bad = i;
            }
            if (bad < fm->n) {
                fm->focus = bad;
                continue;
            }
            return 1;
        }
        if (k == UI_TAB || k == UI_K(KEY_DOWN) || k == UI_ENTER) {
            move_focus(fm, 1);
            continue;
        }
        if (k == UI_K(KEY_BTAB) || k == UI_K(KEY_UP)) {
            move_focus(fm, -1);
            continue;
        }
        int changed = f->secret ? ui_secret_key(f->secret, k) : ui_edit_key(&f->ed, k);
        if (changed == 1) {
            fm->status[0] = '\0';
            check_field(fm, fm->focus);
        }
    }
}

/* ui_form: a form of labelled one-line fields, checked as the user types.
 *
 * Each change of a field runs the form's check on that field alone and shows the problem
 * beside it; rules that need several fields or the vault are the caller's (it saves with
 * the library, which reports every problem, and puts each back on its field with
 * ui_form_set_error). Values live only in the form: leaving it without saving keeps
 * nothing. A secret field (ui_secret) is never drawn. */
#ifndef RL_UI_FORM_H
#define RL_UI_FORM_H

#include "ui/ui_screen.h"

#define UI_FORM_MAX 24
#define UI_VALUE_MAX 512

/* Checks value (UTF-8) of field name: 0, or non-zero with the problem in msg. */
typedef int (*ui_check_fn)(void *ctx, const char *name, const char *value, char *msg,
                           size_t cap);

typedef struct {
    const char *name;  /* the library's field name */
    const char *label; /* shown */
    const char *hint;  /* shown on the message line while the field has the cursor */
    ui_secret *secret; /* a passphrase: typed into this, never drawn */
    ui_edit ed;
    int touched;      /* edited or left once: its problem is shown */
    char err[300];    /* the field's current problem, empty if none */
} ui_field;

typedef struct {
    const char *title, *intro, *hints;
    ui_field f[UI_FORM_MAX];
    size_t n, focus;
    ui_check_fn check;
    void *ctx;
    int enter_saves;  /* Enter on the last field saves (as F2 does) */
    int leave_quietly; /* Esc leaves without asking (nothing worth keeping: a login, a search) */
    char status[600]; /* message line; error if status_err */
    int status_err;
} ui_form;

/* Adds a field; returns it (NULL if the form is full). */
ui_field *ui_form_add(ui_form *fm, const char *name, const char *label, const char *hint);
ui_field *ui_form_find(ui_form *fm, const char *name);
/* The field's value as UTF-8. */
void ui_form_value(const ui_form *fm, size_t i, char *out, size_t cap);
/* Puts a problem on the named field (and the cursor on the first field with one). Returns
 * 0, or -1 if the form has no such field. */
int ui_form_set_error(ui_form *fm, const char *name, const char *msg);
void ui_form_clear_errors(ui_form *fm);

/* Runs the form until the user saves (returns 1; F2, or Enter on the last field if
 * enter_saves), leaves (0; Esc, after a confirmation if anything was typed) or the program
 * must end (UI_QUIT). Saving is refused while a field shows a problem. */
int ui_form_run(ui_form *fm);

#endif

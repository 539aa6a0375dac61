/* ui_app: what the screens of the terminal interface share: the logged-in session, the
 * capture of library output, and each screen's entry point. Internal to app/ui. */
#ifndef RL_UI_APP_H
#define RL_UI_APP_H

#include <stdint.h>
#include <stdio.h>

#include "common/json.h"
#include "signing/signing.h"
#include "ui/ui_form.h"
#include "vault/vault.h"

typedef struct {
    vault *v; /* NULL when nobody is logged in */
    char dir[1024];
    char op[80];
} ui_session;

/* Screen results: back to the caller, or the program must end. */
#define UI_BACK 0

/* Library output captured in memory (the library prints; the screens parse its JSON).
 * The buffer may hold personal data: it is wiped when done. */
typedef struct {
    FILE *f;
    char *buf;
    size_t len;
} ui_capture;

FILE *ui_capture_open(ui_capture *c);
/* Closes the stream; buf holds the text (NUL-terminated). Returns 0 or RL_ENOMEM. */
int ui_capture_close(ui_capture *c);
/* Closes and parses the JSON; returns 0 and *out, or an RL_E* code. */
int ui_capture_json(ui_capture *c, json_value **out);
void ui_capture_free(ui_capture *c); /* wipes */

/* An error from the library (err_msg) in a message box, translated; returns UI_QUIT or 0. */
int ui_show_error(int rc);

/* Logs in operator name with the passphrase in s on the session's vault (closing any
 * open one first). Returns 0 or an RL_E* code with err_msg set. */
int ui_session_login(ui_session *s, const char *name, const char *pass, size_t len);
/* Title text "Screen — operator (role)". */
void ui_session_title(const ui_session *s, const char *screen, char *out, size_t cap);

/* Before a screen that signs with the appliance key (payment file, journal): the key
 * ceremony has been held and the operator is an approver. 0 if so (*pk gets the current
 * public key); else the reason was shown and 1 is returned (go back), or UI_QUIT. */
int ui_require_signer(ui_session *s, const char *title, minisig_pubkey *pk);

/* Spaces to pad s (UTF-8) to w columns, for "%s%*s" (s, ui_padw(s, w), ""): printf's
 * widths count bytes, and å, ä, ö are two. */
int ui_padw(const char *s, int w);

/* Money from öre as "12 345,67" (Swedish) or "12,345.67" (English) into out[40]. */
void ui_money(int64_t ore, char out[40]);
/* A JSON member's integer (0 if absent) and string ("" if absent). */
int64_t ui_jint(const json_value *o, const char *key);
const char *ui_jstr(const json_value *o, const char *key);

/* A yes/no answer typed in a field (j/ja/y/yes, n/nej/no): 1, 0, or -1 for neither. */
int ui_answer(const char *v);

/* Two approvers for the appliance's signing key: the logged-in operator (who must be an
 * approver) and second, whose passphrase is in pass (wiped here, used or not): both
 * authenticated (signing_pair_open, audited with action) and the key unlocked. Returns 0
 * and *out (the caller's to signing_close), or an RL_E* code with err_msg set. */
int ui_pair_open(ui_session *s, const char *second, ui_secret *pass, const char *action,
                 signing_session **out);

/* The screens; each returns UI_BACK or UI_QUIT. */
int ui_screen_register(ui_session *s);
int ui_screen_queue(ui_session *s);
int ui_screen_payruns(ui_session *s);
int ui_screen_search(ui_session *s);
int ui_screen_journal(ui_session *s);
/* The payment file of pay run id (its status as payrun_show gives it) and the token. */
int ui_screen_payfile(ui_session *s, int64_t id, const char *status);

#endif

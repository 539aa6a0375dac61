/* ui_journal: the restore journal's export from the interface. Two approvers sign it (the
 * logged-in one and a second who logs in on this screen: journal_export with a signing
 * session) into a file the operator confirms; the file is then checked as the main system
 * will check it (journal_verify_file with the appliance's public key) and summarised. */
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "journal/export.h"
#include "journal/journal.h"
#include "ui/ui_app.h"
#include "ui/ui_text.h"

static int check(void *ctx, const char *name, const char *value, char *msg, size_t cap)
{
    (void)ctx;
    const char *bad = NULL;
    if (value[0] == '\0')
        bad = ui_t(T_NEED_VALUE);
    else if (strcmp(name, "file") == 0) {
        char copy[UI_VALUE_MAX];
        struct stat sb;
        snprintf(copy, sizeof copy, "%s", value);
        const char *dir = dirname(copy);
        size_t n = strlen(value);
        if (value[n - 1] == '/' || (stat(value, &sb) == 0 && S_ISDIR(sb.st_mode)))
            bad = ui_t(T_IS_DIR);
        else if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
            bad = ui_t(T_PARENT_MISSING);
    }
    if (bad == NULL)
        return 0;
    snprintf(msg, cap, "%s", bad);
    return 1;
}

/* Labels by journal_kind; the header (0) is not counted. */
static const ui_text_id kind_label[JOURNAL_NKINDS] = {T_APP, T_K_SNAPSHOT, T_K_REGISTRATION,
                                                       T_K_DECISION, T_K_PAYRUN, T_K_PAYFILE};

static void summary(const char *path, const journal_export_summary *sum, const journal_info *in,
                    char *out, size_t cap)
{
    size_t o = 0;
#define ADD(...)                                                                                   \
    (o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, __VA_ARGS__), o = o < cap ? o : cap)
    uint64_t added = 0;
    for (int k = 0; k < JOURNAL_NKINDS; k++)
        added += sum->added[k];
    ADD("%s:\n  %s\n\n", ui_t(T_JOURNAL_DONE), path);
    ADD("%s%*s %llu", ui_t(T_JLINES), ui_padw(ui_t(T_JLINES), 18), "",
        (unsigned long long)sum->lines);
    if (added == 0)
        ADD(" (%s)\n", ui_t(T_NOTHING_NEW));
    else
        ADD(" (%llu %s: %llu-%llu)\n", (unsigned long long)added, ui_t(T_NEW),
            (unsigned long long)sum->first_new, (unsigned long long)sum->lines);
    /* Per kind: what the file holds and what this export added. */
    ADD("%s%*s %10s %6s\n", ui_t(T_CONTENTS), ui_padw(ui_t(T_CONTENTS), 18), "",
        ui_t(T_IN_FILE), ui_t(T_NEW));
    for (int k = 1; k < JOURNAL_NKINDS; k++)
        ADD("  %s%*s %10llu %6llu\n", ui_t(kind_label[k]), ui_padw(ui_t(kind_label[k]), 16), "",
            (unsigned long long)in->count[k], (unsigned long long)sum->added[k]);
    ADD("%s:\n  %s\n", ui_t(T_LAST_HASH), in->last);
    ADD("%s%*s %s, %s %s\n", ui_t(T_SIGNED_BY), ui_padw(ui_t(T_SIGNED_BY), 18), "", in->by,
        ui_t(T_KEY), in->key_id);
    ADD("%s%*s %s\n", ui_t(T_EXPORTED_AT), ui_padw(ui_t(T_EXPORTED_AT), 18), "", in->exported);
    ADD("%s%*s %s\n", ui_t(T_VAULT_ID), ui_padw(ui_t(T_VAULT_ID), 18), "", in->vault_id);
    ADD("%s:\n  %s\n", ui_t(T_CHECK), ui_t(T_VERIFY_OK));
#undef ADD
}

int ui_screen_journal(ui_session *s)
{
    char title[200];
    ui_session_title(s, ui_t(T_MENU_JOURNAL), title, sizeof title);
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
    fm.intro = ui_t(T_JOURNAL_HELP);
    fm.check = check;
    fm.enter_saves = 1;
    fm.leave_quietly = 1;
    ui_field *ff = ui_form_add(&fm, "file", ui_t(T_FILE), ui_t(T_JOURNAL_HINT));
    ui_form_add(&fm, "second", ui_t(T_SECOND), NULL);
    ui_field *fp = ui_form_add(&fm, "passphrase", ui_t(T_PASS), NULL);
    fp->secret = &pass;
    char cwd[PATH_MAX], def[PATH_MAX + 20];
    snprintf(def, sizeof def, "%s/journal.jsonl", getcwd(cwd, sizeof cwd) ? cwd : ".");
    ui_edit_set(&ff->ed, def);
    int result = UI_BACK;
    for (;;) {
        int r = ui_form_run(&fm);
        if (r != 1) {
            result = r == UI_QUIT ? UI_QUIT : UI_BACK;
            break;
        }
        char path[UI_VALUE_MAX], second[80], q[UI_VALUE_MAX + 200];
        ui_form_value(&fm, 0, path, sizeof path);
        ui_form_value(&fm, 1, second, sizeof second);
        struct stat sb;
        int exists = lstat(path, &sb) == 0;
        snprintf(q, sizeof q, "%s\n%s?%s%s", ui_t(T_CONFIRM_JOURNAL), path, exists ? "\n" : "",
                 exists ? ui_t(T_REPLACES) : "");
        int c = ui_confirm(q);
        if (c == UI_QUIT) {
            result = UI_QUIT;
            break;
        }
        if (c != 1)
            continue;
        ui_busy(ui_t(T_LOGGING_IN));
        signing_session *ss = NULL;
        journal_export_summary sum;
        journal_info info;
        rc = ui_pair_open(s, second, &pass, "signing the journal", &ss);
        if (rc == RL_OK) {
            ui_busy(ui_t(T_EXPORTING));
            rc = journal_export(s->v, ss, path, &sum);
        }
        signing_close(ss);
        /* The file as the main system will check it: on its own, with the public key. */
        if (rc == RL_OK)
            rc = journal_verify_file(path, &pk, &info);
        if (rc != RL_OK) {
            char tr[600];
            snprintf(fm.status, sizeof fm.status, "%s", ui_text_translate(err_msg(), tr, sizeof tr));
            fm.status_err = 1;
            fm.focus = 2;
            continue;
        }
        char text[4096];
        summary(path, &sum, &info, text, sizeof text);
        result = ui_pager(title, text, NULL, ui_t(T_KEYS_DONE)) == UI_QUIT ? UI_QUIT : UI_BACK;
        break;
    }
    ui_secret_free(&pass);
    return result;
}

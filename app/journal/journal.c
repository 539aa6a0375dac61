/* journal: the restore journal's format and its checks (see journal.h). */
#include "journal/journal.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/json.h"

static const char *const kind_names[JOURNAL_NKINDS] = {
    "header", "snapshot", "registration", "decision", "payrun", "payfile"};

const char *journal_kind_name(journal_kind k)
{
    return (unsigned)k < JOURNAL_NKINDS ? kind_names[k] : NULL;
}

/* Required fields per kind, as "name:type" with type S string, s string or null,
 * I integer, B boolean, O object. docs/journal-format.md lists the same fields; extra
 * fields are allowed (a later format version may add some; importers ignore them). */
static const char *const required[JOURNAL_NKINDS][24] = {
    [JOURNAL_HEADER] = {"format:S", "version:I", "vault_id:S", "snapshot_source:S",
                        "snapshot_export_time:S", "snapshot_manifest_sha256:S",
                        "snapshot_imported_at:S", NULL},
    [JOURNAL_SNAPSHOT] = {"source:S", "export_time:S", "manifest_sha256:S", "imported_at:S",
                          "imported_by:S", NULL},
    [JOURNAL_REGISTRATION] = {"type:S", "personnummer:S", "employment_id:s", "effective_date:S",
                              "end_date:s", "fields:O", "corrects:s", "content_hash:S",
                              "author:S", "recorded_at:S", "vault_seq:I", NULL},
    [JOURNAL_DECISION] = {"registration:S", "decision:S", "decided_by:S", "decided_at:S",
                          "reason:s", NULL},
    [JOURNAL_PAYRUN] = {"payrun:I", "period:S", "pay_date:S", "policy:S", "created_by:S",
                        "created_at:S", "approved_by:S", "approved_at:S", "approved2_by:s",
                        "approved2_at:s", "rules_sha256:S", "employments:I", "paid:I",
                        "gross_ore:I", "tax_ore:I", "deductions_ore:I", "net_ore:I",
                        "last_net_ore:I", "pending_ignored:I", NULL},
    [JOURNAL_PAYFILE] = {"msg_id:S", "payrun:I", "format:S", "profile:S", "count:I",
                         "total_ore:I", "left_out:I", "left_out_ore:I", "exec_date:S",
                         "sha256:S", "key_id:S", "written_by:S", "cosigned_by:S",
                         "written_at:S", "drill:B", NULL},
};

void journal_line_hash(const char *line, size_t len, char hex[65])
{
    uint8_t h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)line, len, NULL, 0);
    sodium_bin2hex(hex, 65, h, sizeof h);
}

static bool is_hex64(const char *s)
{
    if (s == NULL || strlen(s) != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool field_ok(const json_value *f, char type)
{
    int64_t n;
    switch (type) {
    case 'S': return f && json_typeof(f) == JSON_STRING;
    case 's': return f && (json_typeof(f) == JSON_STRING || json_typeof(f) == JSON_NULL);
    case 'I': return f && json_int64(f, &n) == RL_OK;
    case 'B': return f && json_typeof(f) == JSON_BOOL;
    case 'O': return f && json_typeof(f) == JSON_OBJECT;
    default: return false;
    }
}

static const char *type_words(char type)
{
    switch (type) {
    case 'S': return "a string";
    case 's': return "a string or null";
    case 'I': return "an integer";
    case 'B': return "true or false";
    default: return "an object";
    }
}

/* One parsed line against its number and the previous line's hash. */
static int check_line(const json_value *o, uint64_t n, const char *prev_hash, journal_info *info)
{
    if (json_typeof(o) != JSON_OBJECT)
        return err_set(RL_EINTEGRITY, "line %llu: not a JSON object", (unsigned long long)n);
    int64_t seq = 0;
    const json_value *f = json_get(o, "seq");
    if (f == NULL || json_int64(f, &seq) != RL_OK)
        return err_set(RL_EINTEGRITY, "line %llu: seq is missing or not an integer",
                       (unsigned long long)n);
    if (seq != (int64_t)n)
        return err_set(RL_EINTEGRITY, "line %llu: seq is %lld, expected %llu (a line was %s)",
                       (unsigned long long)n, (long long)seq, (unsigned long long)n,
                       seq < (int64_t)n ? "duplicated or moved" : "removed or moved");
    const char *prev = json_string(json_get(o, "prev"), NULL);
    if (!is_hex64(prev))
        return err_set(RL_EINTEGRITY, "line %llu: prev is missing or not 64 lowercase hex digits",
                       (unsigned long long)n);
    if (strcmp(prev, prev_hash) != 0) {
        if (n == 1)
            return err_set(RL_EINTEGRITY, "line 1: prev must be 64 zeros (the first line)");
        return err_set(RL_EINTEGRITY,
                       "line %llu: prev does not match line %llu (a line was removed, "
                       "reordered or edited)", (unsigned long long)n, (unsigned long long)(n - 1));
    }
    const char *id = json_string(json_get(o, "id"), NULL);
    if (id == NULL || id[0] == '\0')
        return err_set(RL_EINTEGRITY, "line %llu: id is missing or empty", (unsigned long long)n);
    const char *kind = json_string(json_get(o, "kind"), NULL);
    int k = 0;
    while (k < JOURNAL_NKINDS && (kind == NULL || strcmp(kind, kind_names[k]) != 0))
        k++;
    if (k == JOURNAL_NKINDS)
        return err_set(RL_EINTEGRITY, "line %llu: kind is missing or unknown (header, snapshot, "
                       "registration, decision, payrun, payfile)", (unsigned long long)n);
    if (n == 1 && k != JOURNAL_HEADER)
        return err_set(RL_EINTEGRITY, "line 1: the first line must be the header");
    if (n > 1 && k == JOURNAL_HEADER)
        return err_set(RL_EINTEGRITY, "line %llu: a header after line 1 (only the first line "
                       "is one)", (unsigned long long)n);
    for (const char *const *r = required[k]; *r; r++) {
        char name[40];
        const char *colon = strchr(*r, ':');
        snprintf(name, sizeof name, "%.*s", (int)(colon - *r), *r);
        if (!field_ok(json_get(o, name), colon[1]))
            return err_set(RL_EINTEGRITY, "line %llu: %s %s: %s is missing or not %s",
                           (unsigned long long)n, kind, id, name, type_words(colon[1]));
    }
    if (k == JOURNAL_HEADER) {
        int64_t version = 0;
        const char *fmt = json_string(json_get(o, "format"), NULL);
        if (strcmp(fmt, JOURNAL_FORMAT) != 0 ||
            json_int64(json_get(o, "version"), &version) != RL_OK || version != JOURNAL_VERSION)
            return err_set(RL_EINTEGRITY, "line 1: not a %s version %d header (this program "
                           "reads that version only)", JOURNAL_FORMAT, JOURNAL_VERSION);
        snprintf(info->vault_id, sizeof info->vault_id, "%s",
                 json_string(json_get(o, "vault_id"), NULL));
    }
    if (k == JOURNAL_DECISION) {
        const char *d = json_string(json_get(o, "decision"), NULL);
        if (strcmp(d, "approved") != 0 && strcmp(d, "rejected") != 0)
            return err_set(RL_EINTEGRITY, "line %llu: decision must be approved or rejected",
                           (unsigned long long)n);
    }
    info->count[k]++;
    return RL_OK;
}

int journal_check(const char *data, size_t len, journal_info *info)
{
    memset(info, 0, sizeof *info);
    char prev[65];
    memset(prev, '0', 64);
    prev[64] = '\0';
    if (len == 0)
        return err_set(RL_EINTEGRITY, "line 1: the journal is empty (no header)");
    size_t off = 0;
    uint64_t n = 0;
    while (off < len) {
        n++;
        const char *line = data + off;
        const char *nl = memchr(line, '\n', len - off);
        if (nl == NULL)
            return err_set(RL_EINTEGRITY, "line %llu: no newline at its end (the file was cut "
                           "short)", (unsigned long long)n);
        size_t ll = (size_t)(nl - line);
        json_value *o = NULL;
        if (json_parse(line, ll, &o) != RL_OK) {
            char why[200];
            snprintf(why, sizeof why, "%s", err_msg());
            return err_set(RL_EINTEGRITY, "line %llu: not valid JSON: %s", (unsigned long long)n,
                           why);
        }
        int rc = check_line(o, n, prev, info);
        json_free(o);
        if (rc != RL_OK)
            return rc;
        journal_line_hash(line, ll, prev);
        off += ll + 1;
    }
    info->lines = n;
    memcpy(info->last, prev, sizeof info->last);
    return RL_OK;
}

/* The value of " key=" in a trusted comment (up to the next space) into out. */
static bool tc_value(const char *tc, const char *key, char *out, size_t cap)
{
    char pat[24];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = strstr(tc, pat);
    if (p == NULL)
        return false;
    p += strlen(pat);
    size_t n = strcspn(p, " ");
    if (n == 0 || n >= cap)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

int journal_verify_file(const char *path, const minisig_pubkey *pk, journal_info *info)
{
    char *data = NULL, *sig = NULL, sig_path[4096];
    size_t len = 0, sig_len = 0;
    char tc[MINISIG_TC_MAX + 1] = "";
    int rc;
    memset(info, 0, sizeof *info);
    if ((rc = file_read_all(path, JOURNAL_MAX_BYTES, &data, &len)) != RL_OK)
        goto cleanup;
    int w = snprintf(sig_path, sizeof sig_path, "%s.minisig", path);
    if (w < 0 || (size_t)w >= sizeof sig_path) {
        rc = err_set(RL_EUSAGE, "%s: path too long", path);
        goto cleanup;
    }
    if (file_read_all(sig_path, 64 * 1024, &sig, &sig_len) != RL_OK) {
        rc = err_set(RL_EINTEGRITY, "%s: no usable signature: %s is missing or unreadable (a "
                     "journal is trusted only with its signature)", path, sig_path);
        goto cleanup;
    }
    if ((rc = minisig_verify(pk, (const uint8_t *)data, len, sig, sig_len, tc, sizeof tc)) !=
        RL_OK) {
        /* Say where the file was changed too, when the lines show it. */
        char why[600];
        snprintf(why, sizeof why, "%s", err_msg());
        journal_info tmp;
        if (journal_check(data, len, &tmp) != RL_OK) {
            char where[400];
            snprintf(where, sizeof where, "%s", err_msg());
            rc = err_set(RL_EINTEGRITY, "%s: %s; and %s", path, why, where);
        } else
            rc = err_set(RL_EINTEGRITY, "%s: %s", path, why);
        goto cleanup;
    }
    if ((rc = journal_check(data, len, info)) != RL_OK) {
        rc = err_wrap(rc, "%s: ", path);
        goto cleanup;
    }
    snprintf(info->trusted_comment, sizeof info->trusted_comment, "%s", tc);
    char lines[24], last[80];
    if (strncmp(tc, "reservlon journal ", 18) != 0 || !tc_value(tc, "lines", lines, sizeof lines) ||
        !tc_value(tc, "last", last, sizeof last)) {
        rc = err_set(RL_EINTEGRITY, "%s: the signature's trusted comment is not a journal's "
                     "(\"reservlon journal lines=N last=H ...\"): '%s'", path, tc);
        goto cleanup;
    }
    char have[24];
    snprintf(have, sizeof have, "%llu", (unsigned long long)info->lines);
    if (strcmp(lines, have) != 0) {
        rc = err_set(RL_EINTEGRITY, "%s: the signed comment says lines=%s but the file has %s "
                     "lines (lines were removed from the end or added)", path, lines, have);
        goto cleanup;
    }
    if (strcmp(last, info->last) != 0) {
        rc = err_set(RL_EINTEGRITY, "%s: line %s: its hash is not the signed comment's last= "
                     "(the last line was changed)", path, have);
        goto cleanup;
    }
    if (!tc_value(tc, "exported", info->exported, sizeof info->exported))
        info->exported[0] = '\0';
    if (!tc_value(tc, "by", info->by, sizeof info->by))
        info->by[0] = '\0';
    if (!tc_value(tc, "key", info->key_id, sizeof info->key_id))
        info->key_id[0] = '\0';
    rc = RL_OK;
cleanup:
    free(data);
    free(sig);
    return rc;
}

int journal_diff(const char *old_path, const char *new_path, journal_diff_info *d)
{
    char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    journal_info ia, ib;
    int rc;
    memset(d, 0, sizeof *d);
    if ((rc = file_read_all(old_path, JOURNAL_MAX_BYTES, &a, &alen)) != RL_OK ||
        (rc = file_read_all(new_path, JOURNAL_MAX_BYTES, &b, &blen)) != RL_OK)
        goto cleanup;
    if ((rc = journal_check(a, alen, &ia)) != RL_OK) {
        rc = err_wrap(rc, "%s: ", old_path);
        goto cleanup;
    }
    if ((rc = journal_check(b, blen, &ib)) != RL_OK) {
        rc = err_wrap(rc, "%s: ", new_path);
        goto cleanup;
    }
    d->old_lines = ia.lines;
    d->new_lines = ib.lines;
    /* Line by line, so the message names the first line that differs. */
    size_t pa = 0, pb = 0;
    for (uint64_t n = 1; n <= ia.lines; n++) {
        const char *ea = memchr(a + pa, '\n', alen - pa);
        size_t la = (size_t)(ea - (a + pa));
        if (n > ib.lines) {
            rc = err_set(RL_EINTEGRITY, "%s is not a prefix of %s: %s has %llu lines, %s only "
                         "%llu (line %llu is missing)", old_path, new_path, old_path,
                         (unsigned long long)ia.lines, new_path, (unsigned long long)ib.lines,
                         (unsigned long long)n);
            goto cleanup;
        }
        const char *eb = memchr(b + pb, '\n', blen - pb);
        size_t lb = (size_t)(eb - (b + pb));
        if (la != lb || memcmp(a + pa, b + pb, la) != 0) {
            rc = err_set(RL_EINTEGRITY, "%s is not a prefix of %s: line %llu differs%s", old_path,
                         new_path, (unsigned long long)n,
                         n == 1 ? " (another header: another vault, or a journal started again)"
                                : "");
            goto cleanup;
        }
        pa += la + 1;
        pb += lb + 1;
    }
    /* What NEW adds: the kinds of its lines after OLD's. */
    for (uint64_t n = ia.lines + 1; n <= ib.lines; n++) {
        const char *eb = memchr(b + pb, '\n', blen - pb);
        size_t lb = (size_t)(eb - (b + pb));
        json_value *o = NULL;
        if ((rc = json_parse(b + pb, lb, &o)) != RL_OK)
            goto cleanup; /* journal_check parsed it already */
        const char *kind = json_string(json_get(o, "kind"), NULL);
        for (int k = 0; k < JOURNAL_NKINDS; k++)
            if (kind && strcmp(kind, kind_names[k]) == 0)
                d->added[k]++;
        json_free(o);
        pb += lb + 1;
    }
    rc = RL_OK;
cleanup:
    free(a);
    free(b);
    return rc;
}

/* csv: the strict RFC 4180 reader (see csv.h). */
#include "snapshot/csv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"

struct csv_reader {
    const char *data;
    size_t len;
    size_t pos;
    size_t line;
    char name[64];
    char *scratch;
    size_t cap;
};

int csv_utf8_valid(const char *str, size_t n)
{
    /* The same RFC 3629 rules as the JSON reader: one implementation. */
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = json_utf8_seq(s + i, n - i, NULL);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

int csv_open(const char *data, size_t len, const char *name, csv_reader **out)
{
    *out = NULL;
    if (!csv_utf8_valid(data, len)) {
        /* Find the line for the message. */
        size_t line = 1, start = 0;
        for (size_t i = 0; i < len; i++)
            if (data[i] == '\n') {
                if (!csv_utf8_valid(data + start, i - start))
                    break;
                line++;
                start = i + 1;
            }
        return err_set(RL_EDATA, "%s line %zu: not valid UTF-8", name, line);
    }
    csv_reader *r = calloc(1, sizeof *r);
    if (r == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    r->data = data;
    r->len = len;
    r->line = 1;
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        r->pos = 3;
    snprintf(r->name, sizeof r->name, "%s", name);
    *out = r;
    return RL_OK;
}

void csv_close(csv_reader *r)
{
    if (r == NULL)
        return;
    free(r->scratch);
    free(r);
}

size_t csv_offset(const csv_reader *r) { return r->pos; }

static int grow(csv_reader *r, size_t need)
{
    if (need <= r->cap)
        return RL_OK;
    size_t cap = r->cap ? r->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(r->scratch, cap);
    if (p == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    r->scratch = p;
    r->cap = cap;
    return RL_OK;
}

int csv_next(csv_reader *r, csv_row *row)
{
    if (r->pos >= r->len)
        return 0;
    size_t out = 0;
    size_t offs[CSV_MAX_FIELDS];
    size_t start_line = r->line;
    row->n = 0;
    row->line = start_line;
    size_t field_start = 0;
    int quoted = 0;
    for (;;) {
        if (row->n >= CSV_MAX_FIELDS)
            return err_set(RL_EDATA, "%s line %zu: more than %d fields", r->name, start_line,
                           CSV_MAX_FIELDS);
        field_start = out;
        quoted = 0;
        if (r->pos < r->len && r->data[r->pos] == '"') {
            quoted = 1;
            r->pos++;
            for (;;) {
                if (r->pos >= r->len)
                    return err_set(RL_EDATA, "%s line %zu: unterminated quoted field", r->name,
                                   start_line);
                char c = r->data[r->pos++];
                if (c == '"') {
                    if (r->pos < r->len && r->data[r->pos] == '"') {
                        if (grow(r, out + 2) != RL_OK)
                            return RL_ENOMEM;
                        r->scratch[out++] = '"';
                        r->pos++;
                        continue;
                    }
                    break;
                }
                if (c == '\0')
                    return err_set(RL_EDATA, "%s line %zu: NUL byte", r->name, r->line);
                if (c == '\n')
                    r->line++;
                if (grow(r, out + 2) != RL_OK)
                    return RL_ENOMEM;
                r->scratch[out++] = c;
            }
        } else {
            while (r->pos < r->len) {
                char c = r->data[r->pos];
                if (c == ',' || c == '\n' || c == '\r')
                    break;
                if (c == '"')
                    return err_set(RL_EDATA, "%s line %zu: quote inside an unquoted field",
                                   r->name, r->line);
                if (c == '\0')
                    return err_set(RL_EDATA, "%s line %zu: NUL byte", r->name, r->line);
                if (grow(r, out + 2) != RL_OK)
                    return RL_ENOMEM;
                r->scratch[out++] = c;
                r->pos++;
            }
        }
        if (grow(r, out + 1) != RL_OK)
            return RL_ENOMEM;
        offs[row->n] = field_start;
        row->len[row->n] = out - field_start;
        r->scratch[out++] = '\0';
        row->n++;
        if (r->pos >= r->len)
            break;
        char c = r->data[r->pos];
        if (c == ',') {
            r->pos++;
            continue;
        }
        if (c == '\r' && r->pos + 1 < r->len && r->data[r->pos + 1] == '\n') {
            r->pos += 2;
            r->line++;
            break;
        }
        if (c == '\n') {
            r->pos++;
            r->line++;
            break;
        }
        return err_set(RL_EDATA, "%s line %zu: %s", r->name, r->line,
                       quoted ? "text after a closing quote" : "bare carriage return");
    }
    /* The scratch may have moved while the record grew: take pointers only now. */
    for (size_t i = 0; i < row->n; i++)
        row->f[i] = r->scratch + offs[i];
    return 1;
}

int csv_expect_header(csv_reader *r, const char *const *names, size_t n)
{
    csv_row row;
    int rc = csv_next(r, &row);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return err_set(RL_EDATA, "%s: empty file (no header row)", r->name);
    int ok = row.n == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = strcmp(row.f[i], names[i]) == 0;
    if (!ok) {
        char want[512] = "";
        for (size_t i = 0; i < n; i++) {
            if (i)
                strncat(want, ",", sizeof want - strlen(want) - 1);
            strncat(want, names[i], sizeof want - strlen(want) - 1);
        }
        return err_set(RL_EDATA, "%s line 1: header must be exactly: %s", r->name, want);
    }
    return RL_OK;
}

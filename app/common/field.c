/* field: the shared value parsers (see field.h). */
#include "common/field.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "ident/ident.h"

int field_id(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return err_set(RL_EDATA, "must be 1-64 characters");
    for (size_t k = 0; k < n; k++) {
        char c = s[k];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return err_set(RL_EDATA, "only letters, digits, '_', '.' and '-' are allowed");
    }
    return RL_OK;
}

int field_text(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return err_set(RL_EDATA, "must be 1-%zu bytes", max);
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c < 0x20 || c == 0x7f)
            return err_set(RL_EDATA, "contains a control character");
    }
    return RL_OK;
}

int field_int(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
    size_t k = 0;
    int neg = 0;
    if (n > 0 && s[0] == '-' && lo < 0) {
        neg = 1;
        k = 1;
    }
    if (n == k)
        return err_set(RL_EDATA, "is required");
    /* Digits first: "３５０００００" (full-width) is not a number, whatever its length. */
    for (size_t d = k; d < n; d++)
        if (s[d] < '0' || s[d] > '9')
            return err_set(RL_EDATA, "must be a whole number (digits only)");
    if (n - k > 18)
        return err_set(RL_EDATA, "is too long");
    int64_t v = 0;
    for (; k < n; k++)
        v = v * 10 + (s[k] - '0');
    if (neg)
        v = -v;
    if (v < lo || v > hi)
        return err_set(RL_EDATA, "must be between %lld and %lld", (long long)lo, (long long)hi);
    *out = v;
    return RL_OK;
}

int field_pct(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t whole = 0, frac = 0;
    size_t k = 0, digits = 0, fdigits = 0;
    while (k < n && s[k] >= '0' && s[k] <= '9' && digits < 4) {
        whole = whole * 10 + (s[k++] - '0');
        digits++;
    }
    if (k < n && s[k] == '.') {
        k++;
        while (k < n && s[k] >= '0' && s[k] <= '9' && fdigits < 2) {
            frac = frac * 10 + (s[k++] - '0');
            fdigits++;
        }
        if (fdigits == 0)
            digits = 0;
    }
    if (digits == 0 || k != n)
        return err_set(RL_EDATA, "must be a percentage like 75, 62.5 or 100.00");
    if (fdigits == 1)
        frac *= 10;
    int64_t v = whole * 100 + frac;
    if (v < lo || v > hi) {
        char a[24], b[24];
        field_pct_format(lo, a);
        field_pct_format(hi, b);
        return err_set(RL_EDATA, "must be between %s and %s percent", a, b);
    }
    *out = v;
    return RL_OK;
}

static int digits_at(const char *s, size_t n)
{
    int v = 0;
    for (size_t k = 0; k < n; k++)
        v = v * 10 + (s[k] - '0');
    return v;
}

int field_date(const char *s, size_t n)
{
    int ok = n == 10 && s[4] == '-' && s[7] == '-';
    for (size_t k = 0; ok && k < 10; k++)
        if (k != 4 && k != 7 && (s[k] < '0' || s[k] > '9'))
            ok = 0;
    if (ok) {
        int y = digits_at(s, 4), m = digits_at(s + 5, 2), d = digits_at(s + 8, 2);
        ok = y >= 1900 && y <= 2200 && ident_date_valid(y, m, d);
    }
    return ok ? RL_OK : err_set(RL_EDATA, "must be a date YYYY-MM-DD that exists");
}

int field_period(const char *s, size_t n)
{
    int ok = n == 7 && s[4] == '-';
    for (size_t k = 0; ok && k < 7; k++)
        if (k != 4 && (s[k] < '0' || s[k] > '9'))
            ok = 0;
    if (ok) {
        int y = digits_at(s, 4), m = digits_at(s + 5, 2);
        ok = y >= 1900 && y <= 2200 && m >= 1 && m <= 12;
    }
    return ok ? RL_OK : err_set(RL_EDATA, "must be a pay period YYYY-MM");
}

const char *field_message(const char *field, const char *msg)
{
    size_t fl = field ? strlen(field) : 0;
    if (field && strncmp(msg, field, fl) == 0 && msg[fl] == ':' && msg[fl + 1] == ' ')
        return msg + fl + 2;
    return msg;
}

void field_money_format(int64_t ore, char out[32])
{
    /* Without printf: payment files format 100 000 amounts. */
    uint64_t a = ore < 0 ? (uint64_t)0 - (uint64_t)ore : (uint64_t)ore;
    char t[32], *p = t + sizeof t;
    *--p = '\0';
    *--p = (char)('0' + a % 10);
    *--p = (char)('0' + a / 10 % 10);
    *--p = '.';
    a /= 100;
    do {
        *--p = (char)('0' + a % 10);
        a /= 10;
    } while (a);
    if (ore < 0)
        *--p = '-';
    memcpy(out, p, (size_t)(t + sizeof t - p));
}

void field_pct_format(int64_t h, char out[24])
{
    if (h % 100 == 0)
        snprintf(out, 24, "%lld", (long long)(h / 100));
    else if (h % 10 == 0)
        snprintf(out, 24, "%lld.%lld", (long long)(h / 100), (long long)(h % 100 / 10));
    else
        snprintf(out, 24, "%lld.%02lld", (long long)(h / 100), (long long)(h % 100));
}

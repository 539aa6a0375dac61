/* json: a small, strict RFC 8259 reader and string writer (see json.h).
 *
 * A recursive-descent parser over a byte buffer (not a NUL-terminated string, so an
 * embedded NUL is an error at its offset rather than a silent end of input). Recursion is
 * bounded by the depth limit, so hostile input cannot exhaust the stack. Every error names
 * the byte offset (0-based) plus line and column, and what was expected there, because
 * these inputs (manifests, registration batches, journals) are fixed by people reading
 * the message. */
#include "common/json.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define JSON_MAX_DEPTH 64

typedef struct {
    char *key;      /* decoded, NUL-terminated (may contain NUL: use klen) */
    size_t klen;
    size_t offset;  /* where the key starts in the input, for duplicate-key messages */
    json_value *val;
} member;

struct json_value {
    json_type type;
    union {
        bool b;
        struct {
            char *s; /* decoded string, or a number's source text; NUL-terminated */
            size_t len;
        } text;
        struct {
            json_value **items;
            size_t n, cap;
        } arr;
        struct {
            member *m;
            size_t n, cap;
        } obj;
    } u;
};

typedef struct {
    const unsigned char *p;
    size_t len;
    size_t pos;
} parser;

/* Records an error at offset off, with line and column (1-based, columns in bytes). */
static int fail_at(const parser *ps, size_t off, const char *what)
{
    size_t line = 1, col = 1;
    for (size_t i = 0; i < off && i < ps->len; i++) {
        if (ps->p[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return err_set(RL_EDATA, "json: offset %zu (line %zu, column %zu): %s", off, line, col, what);
}

static int fail_oom(void) { return err_set(RL_ENOMEM, "json: out of memory"); }

static void skip_ws(parser *ps)
{
    while (ps->pos < ps->len) {
        unsigned char c = ps->p[ps->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        ps->pos++;
    }
}

/* A human description of the byte at the current position, for "expected X, found Y". */
static void describe(const parser *ps, char *buf, size_t cap)
{
    if (ps->pos >= ps->len) {
        snprintf(buf, cap, "end of input");
        return;
    }
    unsigned char c = ps->p[ps->pos];
    if (c >= 0x21 && c < 0x7f)
        snprintf(buf, cap, "'%c'", c);
    else
        snprintf(buf, cap, "byte 0x%02x", c);
}

static int fail_expected(const parser *ps, const char *expected)
{
    char found[32], msg[160];
    describe(ps, found, sizeof found);
    snprintf(msg, sizeof msg, "expected %s, found %s", expected, found);
    return fail_at(ps, ps->pos, msg);
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 with *why set. RFC 3629: no
 * overlong forms, no surrogates (U+D800-DFFF), nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *p, size_t avail, const char **why)
{
    unsigned char c = p[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c < 0x80)
        return 1;
    if (c < 0xc0) {
        *why = "invalid UTF-8 (unexpected continuation byte)";
        return 0;
    }
    if (c < 0xc2) {
        *why = "invalid UTF-8 (overlong encoding)";
        return 0;
    }
    if (c < 0xe0) {
        need = 2;
    } else if (c < 0xf0) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0; /* below: overlong */
        else if (c == 0xed)
            hi = 0x9f; /* above: UTF-16 surrogates */
    } else if (c < 0xf5) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90; /* below: overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above: beyond U+10FFFF */
    } else {
        *why = "invalid UTF-8 (bytes 0xf5-0xff never occur)";
        return 0;
    }
    if (avail < need) {
        *why = "invalid UTF-8 (truncated sequence)";
        return 0;
    }
    if (p[1] < lo || p[1] > hi) {
        if (p[1] >= 0x80 && p[1] <= 0xbf)
            *why = c == 0xed ? "invalid UTF-8 (encoded surrogate)"
                 : c == 0xf4 ? "invalid UTF-8 (beyond U+10FFFF)"
                             : "invalid UTF-8 (overlong encoding)";
        else
            *why = "invalid UTF-8 (truncated sequence)";
        return 0;
    }
    for (size_t i = 2; i < need; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            *why = "invalid UTF-8 (truncated sequence)";
            return 0;
        }
    }
    return need;
}

size_t json_utf8_seq(const unsigned char *p, size_t avail, const char **why)
{
    const char *ignored;
    return utf8_seq(p, avail, why ? why : &ignored);
}

size_t json_utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Reads the 4 hex digits of a \u escape at p (bounds checked by the caller). */
int json_hex4(const unsigned char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (uint32_t)(c - 'A' + 10);
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* Parses a string literal at ps->pos (which is '"'); returns the decoded bytes in a
 * malloc'd buffer. Decoded text is never longer than its source, so one allocation of
 * the source length suffices. */
static int parse_string(parser *ps, char **out, size_t *out_len)
{
    int rc = RL_EDATA;
    size_t start = ps->pos + 1, end = start;
    char *buf = NULL;
    size_t n = 0;
    *out = NULL;
    /* Pass 1: find the closing quote (escapes are checked in pass 2). */
    while (end < ps->len && ps->p[end] != '"')
        end += ps->p[end] == '\\' ? 2 : 1;
    if (end >= ps->len) {
        rc = fail_at(ps, ps->pos, "unterminated string");
        goto cleanup;
    }
    buf = malloc(end - start + 1);
    if (buf == NULL) {
        rc = fail_oom();
        goto cleanup;
    }
    size_t i = start;
    while (i < end) {
        unsigned char c = ps->p[i];
        if (c < 0x20) {
            rc = fail_at(ps, i, "control character in string (must be escaped)");
            goto cleanup;
        }
        if (c != '\\') {
            const char *why = NULL;
            size_t k = utf8_seq(ps->p + i, end - i, &why);
            if (k == 0) {
                rc = fail_at(ps, i, why);
                goto cleanup;
            }
            memcpy(buf + n, ps->p + i, k);
            n += k;
            i += k;
            continue;
        }
        static const char esc[] = "\"\\/bfnrt";  /* after the backslash ... */
        static const char val[] = "\"\\/\b\f\n\r\t"; /* ... and what it stands for */
        unsigned char e = ps->p[i + 1];
        const char *simple = e != '\0' ? strchr(esc, e) : NULL;
        if (simple != NULL) {
            buf[n++] = val[simple - esc];
            i += 2;
            continue;
        }
        if (e != 'u') {
            rc = fail_at(ps, i, "invalid escape (allowed: \\\" \\\\ \\/ \\b \\f \\n \\r \\t "
                                "\\uXXXX)");
            goto cleanup;
        }
        uint32_t cp;
        if (end - i < 6 || json_hex4(ps->p + i + 2, &cp) != 0) {
            rc = fail_at(ps, i, "\\u must be followed by 4 hex digits");
            goto cleanup;
        }
        if (cp >= 0xdc00 && cp <= 0xdfff) {
            rc = fail_at(ps, i, "lone low surrogate in \\u escape");
            goto cleanup;
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t lo;
            if (end - i < 12 || ps->p[i + 6] != '\\' || ps->p[i + 7] != 'u' ||
                json_hex4(ps->p + i + 8, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff) {
                rc = fail_at(ps, i, "high surrogate in \\u escape not followed by a \\u low "
                                    "surrogate");
                goto cleanup;
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            i += 6;
        }
        n += json_utf8_put(buf + n, cp);
        i += 6;
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    buf = NULL;
    ps->pos = end + 1;
    rc = RL_OK;
cleanup:
    free(buf);
    return rc;
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Checks the RFC 8259 number grammar at ps->pos and returns its extent. */
static int scan_number(parser *ps, size_t *start)
{
    size_t i = *start = ps->pos;
    if (i < ps->len && ps->p[i] == '-')
        i++;
    if (i >= ps->len || !is_digit(ps->p[i])) {
        ps->pos = i;
        return fail_expected(ps, "a digit after '-'");
    }
    if (ps->p[i] == '0') {
        i++;
        if (i < ps->len && is_digit(ps->p[i]))
            return fail_at(ps, i - 1, "leading zero in number");
    } else {
        while (i < ps->len && is_digit(ps->p[i]))
            i++;
    }
    if (i < ps->len && ps->p[i] == '.') {
        i++;
        if (i >= ps->len || !is_digit(ps->p[i])) {
            ps->pos = i;
            return fail_expected(ps, "a digit after the decimal point");
        }
        while (i < ps->len && is_digit(ps->p[i]))
            i++;
    }
    if (i < ps->len && (ps->p[i] == 'e' || ps->p[i] == 'E')) {
        i++;
        if (i < ps->len && (ps->p[i] == '+' || ps->p[i] == '-'))
            i++;
        if (i >= ps->len || !is_digit(ps->p[i])) {
            ps->pos = i;
            return fail_expected(ps, "a digit in the exponent");
        }
        while (i < ps->len && is_digit(ps->p[i]))
            i++;
    }
    ps->pos = i;
    return RL_OK;
}

static json_value *new_value(json_type t)
{
    json_value *v = calloc(1, sizeof *v);
    if (v != NULL)
        v->type = t;
    return v;
}

static int parse_value(parser *ps, int depth, json_value **out);

static int parse_array(parser *ps, int depth, json_value **out)
{
    int rc = RL_EDATA;
    json_value *v = new_value(JSON_ARRAY);
    json_value *item = NULL;
    *out = NULL;
    if (v == NULL) {
        rc = fail_oom();
        goto cleanup;
    }
    ps->pos++; /* '[' */
    skip_ws(ps);
    if (ps->pos < ps->len && ps->p[ps->pos] == ']') {
        ps->pos++;
        *out = v;
        v = NULL;
        rc = RL_OK;
        goto cleanup;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->pos < ps->len && ps->p[ps->pos] == ']') {
            rc = fail_at(ps, ps->pos, "trailing comma in array");
            goto cleanup;
        }
        rc = parse_value(ps, depth, &item);
        if (rc != RL_OK)
            goto cleanup;
        if (v->u.arr.n == v->u.arr.cap) {
            size_t cap = v->u.arr.cap ? v->u.arr.cap * 2 : 4;
            json_value **grown = realloc(v->u.arr.items, cap * sizeof *grown);
            if (grown == NULL) {
                rc = fail_oom();
                goto cleanup;
            }
            v->u.arr.items = grown;
            v->u.arr.cap = cap;
        }
        v->u.arr.items[v->u.arr.n++] = item;
        item = NULL;
        skip_ws(ps);
        if (ps->pos < ps->len && ps->p[ps->pos] == ',') {
            ps->pos++;
            continue;
        }
        if (ps->pos < ps->len && ps->p[ps->pos] == ']') {
            ps->pos++;
            break;
        }
        rc = fail_expected(ps, "',' or ']' in array");
        goto cleanup;
    }
    *out = v;
    v = NULL;
    rc = RL_OK;
cleanup:
    json_free(item);
    json_free(v);
    return rc;
}

static int member_cmp(const void *a, const void *b)
{
    const member *x = *(const member *const *)a, *y = *(const member *const *)b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c != 0)
        return c;
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    /* Equal keys: order by position so the message names the first occurrence. */
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Refuses duplicate keys (compared after unescaping, so "a" and "\u0061" collide).
 * Sorting pointers is O(n log n): a hostile object with many members stays cheap. */
static int check_duplicates(parser *ps, const json_value *v)
{
    int rc = RL_OK;
    size_t n = v->u.obj.n;
    if (n < 2)
        return RL_OK;
    const member **sorted = malloc(n * sizeof *sorted);
    if (sorted == NULL)
        return fail_oom();
    for (size_t i = 0; i < n; i++)
        sorted[i] = &v->u.obj.m[i];
    qsort(sorted, n, sizeof *sorted, member_cmp);
    for (size_t i = 1; i < n; i++) {
        const member *a = sorted[i - 1], *b = sorted[i];
        if (a->klen == b->klen && memcmp(a->key, b->key, a->klen) == 0) {
            const member *later = a->offset > b->offset ? a : b;
            const member *first = a->offset > b->offset ? b : a;
            char msg[200];
            snprintf(msg, sizeof msg, "duplicate key \"%.60s\" (first at offset %zu)",
                     memchr(later->key, '\0', later->klen) ? "(contains NUL)" : later->key,
                     first->offset);
            rc = fail_at(ps, later->offset, msg);
            break;
        }
    }
    free(sorted);
    return rc;
}

static int parse_object(parser *ps, int depth, json_value **out)
{
    int rc = RL_EDATA;
    json_value *v = new_value(JSON_OBJECT);
    json_value *val = NULL;
    char *key = NULL;
    size_t klen = 0;
    *out = NULL;
    if (v == NULL) {
        rc = fail_oom();
        goto cleanup;
    }
    ps->pos++; /* '{' */
    skip_ws(ps);
    if (ps->pos < ps->len && ps->p[ps->pos] == '}') {
        ps->pos++;
        *out = v;
        v = NULL;
        rc = RL_OK;
        goto cleanup;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->pos < ps->len && ps->p[ps->pos] == '}') {
            rc = fail_at(ps, ps->pos, "trailing comma in object");
            goto cleanup;
        }
        if (ps->pos >= ps->len || ps->p[ps->pos] != '"') {
            rc = fail_expected(ps, "a string key in object");
            goto cleanup;
        }
        size_t koff = ps->pos;
        rc = parse_string(ps, &key, &klen);
        if (rc != RL_OK)
            goto cleanup;
        skip_ws(ps);
        if (ps->pos >= ps->len || ps->p[ps->pos] != ':') {
            rc = fail_expected(ps, "':' after object key");
            goto cleanup;
        }
        ps->pos++;
        skip_ws(ps);
        rc = parse_value(ps, depth, &val);
        if (rc != RL_OK)
            goto cleanup;
        if (v->u.obj.n == v->u.obj.cap) {
            size_t cap = v->u.obj.cap ? v->u.obj.cap * 2 : 4;
            member *grown = realloc(v->u.obj.m, cap * sizeof *grown);
            if (grown == NULL) {
                rc = fail_oom();
                goto cleanup;
            }
            v->u.obj.m = grown;
            v->u.obj.cap = cap;
        }
        v->u.obj.m[v->u.obj.n++] = (member){key, klen, koff, val};
        key = NULL;
        val = NULL;
        skip_ws(ps);
        if (ps->pos < ps->len && ps->p[ps->pos] == ',') {
            ps->pos++;
            continue;
        }
        if (ps->pos < ps->len && ps->p[ps->pos] == '}') {
            ps->pos++;
            break;
        }
        rc = fail_expected(ps, "',' or '}' in object");
        goto cleanup;
    }
    rc = check_duplicates(ps, v);
    if (rc != RL_OK)
        goto cleanup;
    *out = v;
    v = NULL;
cleanup:
    free(key);
    json_free(val);
    json_free(v);
    return rc;
}

static int parse_literal(parser *ps, const char *word, json_value **out, json_type t, bool b)
{
    size_t n = strlen(word);
    if (ps->len - ps->pos < n || memcmp(ps->p + ps->pos, word, n) != 0)
        return fail_expected(ps, "a JSON value");
    json_value *v = new_value(t);
    if (v == NULL)
        return fail_oom();
    v->u.b = b;
    ps->pos += n;
    *out = v;
    return RL_OK;
}

static int parse_string_value(parser *ps, json_value **out)
{
    int rc = RL_ENOMEM;
    json_value *v = new_value(JSON_STRING);
    *out = NULL;
    if (v == NULL) {
        rc = fail_oom();
        goto cleanup;
    }
    rc = parse_string(ps, &v->u.text.s, &v->u.text.len);
    if (rc != RL_OK)
        goto cleanup;
    *out = v;
    v = NULL;
cleanup:
    json_free(v);
    return rc;
}

static int parse_number_value(parser *ps, json_value **out)
{
    size_t start;
    json_value *v = NULL;
    *out = NULL;
    int rc = scan_number(ps, &start);
    if (rc != RL_OK)
        goto cleanup;
    size_t n = ps->pos - start;
    v = new_value(JSON_NUMBER);
    if (v == NULL || (v->u.text.s = malloc(n + 1)) == NULL) {
        rc = fail_oom();
        goto cleanup;
    }
    memcpy(v->u.text.s, ps->p + start, n);
    v->u.text.s[n] = '\0';
    v->u.text.len = n;
    *out = v;
    v = NULL;
cleanup:
    json_free(v);
    return rc;
}

/* Parses one value at ps->pos (whitespace already skipped). depth counts the containers
 * already open around it. */
static int parse_value(parser *ps, int depth, json_value **out)
{
    *out = NULL;
    if (ps->pos >= ps->len)
        return fail_expected(ps, "a JSON value");
    unsigned char c = ps->p[ps->pos];
    if (c == '{' || c == '[') {
        if (depth >= JSON_MAX_DEPTH) {
            char msg[64];
            snprintf(msg, sizeof msg, "nesting deeper than %d levels", JSON_MAX_DEPTH);
            return fail_at(ps, ps->pos, msg);
        }
        return c == '{' ? parse_object(ps, depth + 1, out) : parse_array(ps, depth + 1, out);
    }
    if (c == '"')
        return parse_string_value(ps, out);
    if (c == '-' || is_digit(c))
        return parse_number_value(ps, out);
    if (c == 't')
        return parse_literal(ps, "true", out, JSON_BOOL, true);
    if (c == 'f')
        return parse_literal(ps, "false", out, JSON_BOOL, false);
    if (c == 'n')
        return parse_literal(ps, "null", out, JSON_NULL, false);
    return fail_expected(ps, "a JSON value");
}

int json_parse(const char *text, size_t len, json_value **out)
{
    parser ps = {(const unsigned char *)text, len, 0};
    json_value *v = NULL;
    *out = NULL;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        return fail_at(&ps, 0, "byte order mark not allowed (RFC 8259 section 8.1)");
    skip_ws(&ps);
    int rc = parse_value(&ps, 0, &v);
    if (rc != RL_OK)
        goto cleanup;
    skip_ws(&ps);
    if (ps.pos != len) {
        rc = fail_expected(&ps, "end of input after the JSON value");
        goto cleanup;
    }
    *out = v;
    v = NULL;
cleanup:
    json_free(v);
    return rc;
}

void json_free(json_value *v)
{
    if (v == NULL)
        return;
    switch (v->type) {
    case JSON_STRING:
    case JSON_NUMBER:
        free(v->u.text.s);
        break;
    case JSON_ARRAY:
        for (size_t i = 0; i < v->u.arr.n; i++)
            json_free(v->u.arr.items[i]);
        free(v->u.arr.items);
        break;
    case JSON_OBJECT:
        for (size_t i = 0; i < v->u.obj.n; i++) {
            free(v->u.obj.m[i].key);
            json_free(v->u.obj.m[i].val);
        }
        free(v->u.obj.m);
        break;
    case JSON_NULL:
    case JSON_BOOL:
        break;
    }
    free(v);
}

/* NULL (an absent member) reads as JSON_NULL so a lookup chain needs no extra check;
 * callers that must tell absent from null test json_get's result first. */
json_type json_typeof(const json_value *v) { return v == NULL ? JSON_NULL : v->type; }

const json_value *json_get(const json_value *v, const char *key)
{
    if (v == NULL || v->type != JSON_OBJECT)
        return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < v->u.obj.n; i++) {
        const member *m = &v->u.obj.m[i];
        if (m->klen == kl && memcmp(m->key, key, kl) == 0)
            return m->val;
    }
    return NULL;
}

const char *json_string(const json_value *v, size_t *len)
{
    if (v == NULL || v->type != JSON_STRING)
        return NULL;
    if (len != NULL)
        *len = v->u.text.len;
    return v->u.text.s;
}

const char *json_number_text(const json_value *v)
{
    if (v == NULL || v->type != JSON_NUMBER)
        return NULL;
    return v->u.text.s;
}

int json_int64(const json_value *v, int64_t *out)
{
    *out = 0;
    if (v == NULL || v->type != JSON_NUMBER)
        return err_set(RL_EDATA, "json: expected an integer, found %s",
                       v == NULL ? "nothing" : "a non-number");
    const char *s = v->u.text.s;
    bool neg = s[0] == '-';
    const char *d = s + (neg ? 1 : 0);
    if (strspn(d, "0123456789") != strlen(d))
        return err_set(RL_EDATA, "json: %.40s is not an integer (fraction or exponent)", s);
    /* Accumulate as a negative number: INT64_MIN has no positive counterpart. */
    int64_t acc = 0;
    for (; *d != '\0'; d++) {
        int digit = *d - '0';
        if (acc < (INT64_MIN + digit) / 10)
            return err_set(RL_EDATA, "json: %.40s is out of the 64-bit integer range", s);
        acc = acc * 10 - digit;
    }
    if (!neg) {
        if (acc == INT64_MIN)
            return err_set(RL_EDATA, "json: %.40s is out of the 64-bit integer range", s);
        acc = -acc;
    }
    *out = acc;
    return RL_OK;
}

bool json_bool(const json_value *v) { return v != NULL && v->type == JSON_BOOL && v->u.b; }

size_t json_len(const json_value *v)
{
    if (v == NULL)
        return 0;
    if (v->type == JSON_ARRAY)
        return v->u.arr.n;
    if (v->type == JSON_OBJECT)
        return v->u.obj.n;
    return 0;
}

const json_value *json_at(const json_value *v, size_t i)
{
    if (v == NULL)
        return NULL;
    if (v->type == JSON_ARRAY && i < v->u.arr.n)
        return v->u.arr.items[i];
    if (v->type == JSON_OBJECT && i < v->u.obj.n)
        return v->u.obj.m[i].val;
    return NULL;
}

const char *json_key_at(const json_value *v, size_t i)
{
    if (v == NULL || v->type != JSON_OBJECT || i >= v->u.obj.n)
        return NULL;
    return v->u.obj.m[i].key;
}

void json_write_string(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    size_t i = 0;
    fputc('"', f);
    while (i < len) {
        unsigned char c = p[i];
        switch (c) {
        case '"': fputs("\\\"", f); i++; continue;
        case '\\': fputs("\\\\", f); i++; continue;
        case '\b': fputs("\\b", f); i++; continue;
        case '\f': fputs("\\f", f); i++; continue;
        case '\n': fputs("\\n", f); i++; continue;
        case '\r': fputs("\\r", f); i++; continue;
        case '\t': fputs("\\t", f); i++; continue;
        default: break;
        }
        if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c);
            i++;
            continue;
        }
        const char *why = NULL;
        size_t k = utf8_seq(p + i, len - i, &why);
        if (k == 0) {
            /* The writer cannot fail, and invalid UTF-8 cannot appear in JSON: write
             * U+FFFD so the output stays valid and the damage stays visible. */
            fputs("\\ufffd", f);
            i++;
            continue;
        }
        fwrite(p + i, 1, k, f);
        i += k;
    }
    fputc('"', f);
}

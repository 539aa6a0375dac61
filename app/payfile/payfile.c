/* payfile: writes pain.001.001.03 / .09 salary payment files (docs/payfile.md).
 *
 * Three phases, so that a refusal leaves nothing behind: (1) read and check everything
 * (the pay run's status, the options, every person's net and account) without writing;
 * (2) inside one vault transaction take the next MsgId number, build the XML in memory and
 * sign it; (3) write the file atomically, read it back and verify it, then record the
 * audit entry carrying the file's SHA-256 and commit. If anything fails before the commit
 * the files are removed again, so a file on disk always has its MsgId recorded in the vault
 * (and a MsgId is never issued twice). */
#include "payfile/payfile.h"

#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/field.h"
#include "common/fileio.h"
#include "common/mem.h"
#include "ident/ident.h"
#include "sig/minisig.h"

/* Approved (or exported) documents that count: not superseded by an approved correction
 * (the same rule as registry.c and payrun.c). */
#define LIVE_APPROVED                                                                          \
    "status IN ('approved','exported') AND uuid NOT IN (SELECT corrects FROM registrations"   \
    " WHERE corrects IS NOT NULL AND status IN ('approved','exported'))"

#define NAME_CAP 160 /* 70 characters of at most 2 bytes each, with room to spare */

/* --- a growable output buffer (an allocation failure is remembered, checked once) ------- */

typedef struct {
    char *p;
    size_t n, cap;
    bool oom;
} buf;

static void b_add(buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void b_str(buf *b, const char *s) { b_add(b, s, strlen(s)); }

static void b_fmt(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void b_fmt(buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->oom = true; /* every caller's values are bounded far below this */
        return;
    }
    b_add(b, tmp, (size_t)n);
}

/* XML character data and attribute values: the five predefined entities. */
static void b_esc(buf *b, const char *s)
{
    while (*s) {
        size_t n = strcspn(s, "&<>\"'"); /* a run that needs no escape goes in one piece */
        b_add(b, s, n);
        s += n;
        switch (*s) {
        case '&': b_str(b, "&amp;"); break;
        case '<': b_str(b, "&lt;"); break;
        case '>': b_str(b, "&gt;"); break;
        case '"': b_str(b, "&quot;"); break;
        case '\'': b_str(b, "&apos;"); break;
        default: continue; /* the end */
        }
        s++;
    }
}

/* <tag>escaped text</tag>, without printf: it runs several times per payment. */
static void b_el(buf *b, const char *tag, const char *text)
{
    b_str(b, "<");
    b_str(b, tag);
    b_str(b, ">");
    b_esc(b, text);
    b_str(b, "</");
    b_str(b, tag);
    b_str(b, ">");
}

/* --- transliteration ---------------------------------------------------------------------- */

/* U+00C0..U+00FF: '*' kept as is, '#' a two-letter replacement (multi[] below), '?' none. */
static const char latin1[] = "AAAA**#CE*EEIIIIDNOOOO*?OUUU*Y##aaaa**#ce*eeiiiidnoooo*?ouuu*y#y";
/* U+0100..U+017F, one base letter each ('#': multi[]). */
static const char latin_ext_a[] = "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi##JjKkk"
                                  "LlLlLlLlLlNnNnNnnNnOoOoOo##RrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUu"
                                  "WwYyYZzZzZzs";
_Static_assert(sizeof latin1 == 65, "one entry per code point U+00C0..U+00FF");
_Static_assert(sizeof latin_ext_a == 129, "one entry per code point U+0100..U+017F");

static const struct {
    uint32_t cp;
    const char *s;
} multi[] = {{0xC6, "AE"}, {0xDE, "TH"},  {0xDF, "ss"},  {0xE6, "ae"}, {0xFE, "th"},
             {0x132, "IJ"}, {0x133, "ij"}, {0x152, "OE"}, {0x153, "oe"}};

/* ASCII that Swedish banks' MIGs accept in names (the SEPA/EPC basic Latin set plus & < >
 * and ", which go out escaped). */
static bool ascii_ok(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr(" /-?:().,'+&<>\"", c) != NULL);
}

/* Decodes one UTF-8 sequence at s; returns its length (1 for an invalid byte, *cp = ~0). */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                         : (c & 0xF8) == 0xF0   ? 4 : 0;
    if (n == 0) {
        *cp = UINT32_MAX;
        return 1;
    }
    uint32_t v = n == 1 ? c : (uint32_t)(c & (0x7F >> n));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = UINT32_MAX;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return n;
}

size_t payfile_transliterate(const char *in, size_t max_chars, char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0, chars = 0;
    if (cap == 0)
        return 0;
    while (*s && chars < max_chars) {
        uint32_t cp;
        size_t n = utf8_next(s, &cp);
        char rep[4] = "?";
        const char *r = rep;
        size_t rlen = 1;
        if (cp < 0x80) {
            rep[0] = cp == '\t' ? ' ' : ascii_ok((unsigned char)cp) ? (char)cp : '?';
        } else if (cp >= 0xC0 && cp <= 0x17F) {
            char k = cp <= 0xFF ? latin1[cp - 0xC0] : latin_ext_a[cp - 0x100];
            if (k == '*') {
                r = (const char *)s; /* kept: copy the original two bytes */
                rlen = n;
            } else if (k == '#') {
                for (size_t i = 0; i < sizeof multi / sizeof multi[0]; i++)
                    if (multi[i].cp == cp)
                        r = multi[i].s;
                rlen = strlen(r);
            } else {
                rep[0] = k;
            }
        } else if (cp == 0xA0) {
            rep[0] = ' ';
        } else if (cp >= 0x2010 && cp <= 0x2015) {
            rep[0] = '-';
        } else if (cp == 0x2018 || cp == 0x2019) {
            rep[0] = '\'';
        } else if (cp == 0x201C || cp == 0x201D) {
            rep[0] = '"';
        }
        /* A kept letter is one character in two bytes; a replacement is rlen characters. */
        size_t rchars = r == (const char *)s ? 1 : rlen;
        if (chars + rchars > max_chars || o + rlen + 1 > cap)
            break;
        memcpy(out + o, r, rlen);
        o += rlen;
        chars += rchars;
        s += n;
    }
    out[o] = '\0';
    return chars;
}

/* --- reading the pay run ------------------------------------------------------------------ */

typedef struct {
    char pnr[13];
    int64_t net;
    char name[NAME_CAP];
    bool is_iban;
    char iban[35];
    char clearing[5], account[16];
    char e2e[36];
} payee;

/* The payees accepted so far: n of them, total their sum. While a builder runs (below) p is
 * a ring of cap slots that the builder empties in order (payee i in slot i % cap), so a
 * million payees need ~4.6 MB, not ~280 MB of fresh memory (zeroing it was a tenth of the
 * reading thread at 1,000,000); otherwise p holds every payee. expect: the pay run's
 * employments, at most one payee each. */
typedef struct {
    payee *p;
    size_t n, cap, expect;
    int64_t total;
} payees;

/* Slots while a builder runs: an eighth of the payees, within these bounds. The builder is
 * faster than the reading on average but may wake late; 16,384 (~4.6 MB) is ~50 ms of
 * reading. At least 4 of the builder's batches of 256. */
#define PAYEE_RING_MIN 1024
#define PAYEE_RING_MAX 16384

static void masked(const char *pnr, char out[16]) { snprintf(out, 16, "%.8s-****", pnr); }

static const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

/* Text into a fixed buffer, truncated (the values here are far shorter); without printf,
 * which was a tenth of reading the pay run at 100,000 payees. */
static void text_copy(char *dst, size_t cap, const char *t)
{
    size_t n = strnlen(t, cap - 1);
    memcpy(dst, t, n);
    dst[n] = '\0';
}

static void col_copy(char *dst, size_t cap, sqlite3_stmt *st, int i)
{
    text_copy(dst, cap, col(st, i));
}

/* The XML of the payments is built on a second thread while the payees are still being read
 * (see "the payments' XML, built alongside" below). */
typedef struct builder builder;
static void builder_publish(builder *w, size_t ready, bool end);
static void builder_room_wait(builder *w, size_t n, size_t cap);

typedef struct {
    vault *v;
    const payfile_profile *prof;
    const char *pay_date;
    int64_t ceiling;
    sqlite3_stmt *emp, *hire, *bank;
    bool leave_out;       /* people without a valid account are left out, not refused */
    FILE *report;         /* where each left-out person is listed (may be NULL) */
    void (*left_fn)(void *ctx, const char *pnr, int64_t net_ore); /* each one left out */
    void *left_ctx;
    uint64_t left_out;
    int64_t left_out_ore;
    bool unpayable;       /* set by resolve: the account is missing or invalid */
    /* The current person's snapshot row (joined into the pay run query), and the people
     * with an approved bank change (sorted): per-person queries only where they matter. */
    bool snap_found;
    char given[256], family[256], clr[32], acc[64], iban[64];
    char first_emp[65]; /* the current person's first employment, for messages */
    char (*banked)[13];
    size_t nbanked;
    builder *w; /* given the payees as they are accepted (NULL: nobody builds) */
} lookup;

static bool in_sorted(char (*a)[13], size_t n, const char *pnr)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(a[mid], pnr);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Fills name and account of p from the snapshot (or the approved hire), overridden by the
 * latest live approved bank change in force on the pay date. */
static int resolve(lookup *L, payee *p, int64_t n_emps)
{
    char who[16];
    /* The snapshot's row as read (in L), or copies of the hire's and the bank change's
     * columns: only what is overridden is copied. */
    char h_given[256], h_family[256], h_clr[32], h_acc[64], h_iban[64];
    char b_clr[32], b_acc[64], b_iban[64];
    const char *given = L->given, *family = L->family, *clr = L->clr, *acc = L->acc,
               *iban = L->iban;
    masked(p->pnr, who);
    if (!L->snap_found) {
        sqlite3_reset(L->hire);
        sqlite3_bind_text(L->hire, 1, p->pnr, -1, SQLITE_STATIC);
        int src = sqlite3_step(L->hire);
        if (src == SQLITE_DONE)
            return err_set(RL_EDATA, "employment %s (%s): the person is neither in the snapshot "
                                     "nor in an approved hire", L->first_emp, who);
        if (src != SQLITE_ROW)
            return vault_sql_error(L->v, src, "reading the pay run's employees");
        col_copy(h_given, sizeof h_given, L->hire, 0);
        col_copy(h_family, sizeof h_family, L->hire, 1);
        col_copy(h_clr, sizeof h_clr, L->hire, 2);
        col_copy(h_acc, sizeof h_acc, L->hire, 3);
        col_copy(h_iban, sizeof h_iban, L->hire, 4);
        given = h_given, family = h_family, clr = h_clr, acc = h_acc, iban = h_iban;
    }
    if (in_sorted(L->banked, L->nbanked, p->pnr)) {
        sqlite3_reset(L->bank);
        sqlite3_bind_text(L->bank, 1, p->pnr, -1, SQLITE_STATIC);
        sqlite3_bind_text(L->bank, 2, L->pay_date, -1, SQLITE_STATIC);
        int src = sqlite3_step(L->bank);
        if (src == SQLITE_ROW) {
            col_copy(b_clr, sizeof b_clr, L->bank, 0);
            col_copy(b_acc, sizeof b_acc, L->bank, 1);
            col_copy(b_iban, sizeof b_iban, L->bank, 2);
            clr = b_clr, acc = b_acc, iban = b_iban;
        } else if (src != SQLITE_DONE) {
            return vault_sql_error(L->v, src, "reading bank changes");
        }
    }
    const char *emps = n_emps > 1 ? " and the person's other employments" : "";
    L->unpayable = true; /* until an account is accepted below */
    /* A domestic clearing + account is what Swedish banks clear salaries on; an IBAN is
     * used where that is all the person has. */
    if (clr[0] && acc[0]) {
        ident_account a;
        if (ident_account_parse(clr, acc, &a) != RL_OK)
            return err_set(RL_EDATA, "employment %s%s (%s): the bank account is not valid (%s)",
                           L->first_emp, emps, who, err_msg());
        memcpy(p->clearing, a.clearing, sizeof p->clearing);
        memcpy(p->account, a.account, sizeof p->account);
        p->is_iban = false;
    } else if (iban[0]) {
        if (ident_iban_parse(iban, p->iban) != RL_OK)
            return err_set(RL_EDATA, "employment %s%s (%s): the IBAN is not valid (%s)",
                           L->first_emp, emps, who, err_msg());
        p->is_iban = true;
    } else {
        return err_set(RL_EDATA, "employment %s%s (%s): no bank account (register a bank_change"
                                 " and have it approved)", L->first_emp, emps, who);
    }
    L->unpayable = false;
    char full[520]; /* given and family are at most 255 bytes each */
    size_t gl = strnlen(given, 255), fl = strnlen(family, 255);
    memcpy(full, given, gl);
    full[gl] = ' ';
    memcpy(full + gl + 1, family, fl);
    full[gl + 1 + fl] = '\0';
    payfile_transliterate(full, L->prof->name_max, p->name, sizeof p->name);
    return RL_OK;
}

static int finish_person(lookup *L, payees *ps, payee *cur, int64_t n_emps)
{
    if (cur->pnr[0] == '\0' || cur->net == 0)
        return RL_OK; /* nothing to pay */
    if (cur->net > L->ceiling) {
        char who[16], a[32], c[32];
        masked(cur->pnr, who);
        field_money_format(cur->net, a);
        field_money_format(L->ceiling, c);
        return err_set(RL_EDATA, "employment %s%s (%s): payment %s SEK is above the ceiling "
                                 "%s SEK", L->first_emp,
                       n_emps > 1 ? " and the person's other employments" : "", who, a, c);
    }
    L->unpayable = false;
    int rc = resolve(L, cur, n_emps);
    if (rc == RL_EDATA && L->unpayable && L->leave_out) {
        /* Paid another way (a payment order, cash card): listed, counted, signed. */
        if (L->report) {
            char a[32];
            field_money_format(cur->net, a);
            fprintf(L->report, "left out: %s SEK: %s\n", a, err_msg());
        }
        if (L->left_fn)
            L->left_fn(L->left_ctx, cur->pnr, cur->net);
        L->left_out++;
        L->left_out_ore += cur->net;
        err_clear();
        return RL_OK;
    }
    if (rc != RL_OK)
        return rc;
    if (L->w) {
        /* The builder's tags and document were sized for expect payees. */
        if (ps->n == ps->expect)
            return err_set(RL_EDATA, "employment %s: the pay run pays more people than it has "
                                     "employments: the vault is inconsistent", L->first_emp);
        builder_room_wait(L->w, ps->n, ps->cap);
        ps->p[ps->n % ps->cap] = *cur;
        ps->n++;
        if (ps->n % 256 == 0)
            builder_publish(L->w, ps->n, false);
    } else {
        payee *p = mem_grow(ps->p, &ps->cap, ps->n + 1, sizeof *p, 64);
        if (p == NULL)
            return err_set(RL_ENOMEM, "out of memory");
        ps->p = p;
        ps->p[ps->n++] = *cur;
    }
    ps->total += cur->net; /* each <= 4 * FIELD_MAX_ORE: no overflow below 10^6 persons */
    return RL_OK;
}

/* The pay run's employment count in ps->expect, and the builder's ring (or room for all of
 * them, if fewer). */
static int reserve_payees(vault *v, int64_t run, payees *ps)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(vault_db(v), "SELECT employments FROM payruns WHERE id = ?1",
                                 -1, &st, NULL);
    int64_t n = 0;
    if (src == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, run);
        if ((src = sqlite3_step(st)) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return vault_sql_error(v, src, "reading the pay run");
    if (n <= 0 || (uint64_t)n > SIZE_MAX / sizeof *ps->p)
        return RL_OK; /* no builder then: finish_person grows the array */
    ps->expect = (size_t)n;
    size_t cap = ps->expect / 8;
    cap = cap < PAYEE_RING_MIN ? PAYEE_RING_MIN : cap > PAYEE_RING_MAX ? PAYEE_RING_MAX : cap;
    if (cap > ps->expect)
        cap = ps->expect;
    payee *p = mem_grow(ps->p, &ps->cap, cap, sizeof *p, cap);
    if (p == NULL)
        return err_set(RL_ENOMEM, "out of memory reading the pay run");
    ps->p = p;
    return RL_OK;
}

/* Every person paid, in personnummer order, with net, name and account; or the first
 * problem (negative net, above the ceiling, no valid account). */
static int load_payees(lookup *L, int64_t run, payees *ps)
{
    sqlite3 *db = vault_db(L->v);
    sqlite3_stmt *q = NULL;
    int rc = RL_OK;
    /* The results in person order, merged with the employees (same order, their primary
     * key): one pass over each instead of a lookup per person. */
    sqlite3_stmt *people = NULL;
    int people_row = SQLITE_DONE;
    int src = sqlite3_prepare_v2(db,
                                 "SELECT employment_id, pnr, net_ore FROM payrun_results WHERE"
                                 " payrun_id = ?1 ORDER BY pnr, employment_id",
                                 -1, &q, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(db,
                                 "SELECT pnr, given_name, family_name, clearing, account, iban"
                                 " FROM employees ORDER BY pnr",
                                 -1, &people, NULL);
    if (src == SQLITE_OK) {
        people_row = sqlite3_step(people);
        if (people_row == SQLITE_ROW || people_row == SQLITE_DONE)
            src = SQLITE_OK;
        else
            src = people_row;
    }
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(db,
                                 "SELECT DISTINCT pnr FROM registrations WHERE type ="
                                 " 'bank_change' AND " LIVE_APPROVED " ORDER BY pnr",
                                 -1, &L->emp, NULL);
    size_t bcap = 0;
    while (src == SQLITE_OK && (src = sqlite3_step(L->emp)) == SQLITE_ROW) {
        src = SQLITE_OK;
        if (L->nbanked == bcap) {
            bcap = bcap ? bcap * 2 : 64;
            char(*nb)[13] = realloc(L->banked, bcap * sizeof *nb);
            if (nb == NULL) {
                rc = err_set(RL_ENOMEM, "out of memory");
                goto cleanup;
            }
            L->banked = nb;
        }
        snprintf(L->banked[L->nbanked++], 13, "%s", col(L->emp, 0));
    }
    if (src == SQLITE_DONE)
        src = SQLITE_OK;
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(db,
                                 "SELECT json_extract(fields,'$.given_name'),"
                                 " json_extract(fields,'$.family_name'),"
                                 " json_extract(fields,'$.clearing'),"
                                 " json_extract(fields,'$.account'), json_extract(fields,'$.iban')"
                                 " FROM registrations WHERE type = 'hire' AND pnr = ?1 AND "
                                 LIVE_APPROVED " ORDER BY seq DESC LIMIT 1",
                                 -1, &L->hire, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(db,
                                 "SELECT coalesce(json_extract(fields,'$.clearing'),''),"
                                 " coalesce(json_extract(fields,'$.account'),''),"
                                 " coalesce(json_extract(fields,'$.iban'),'')"
                                 " FROM registrations WHERE type = 'bank_change' AND pnr = ?1"
                                 " AND effective_date <= ?2 AND " LIVE_APPROVED
                                 " ORDER BY effective_date DESC, seq DESC LIMIT 1",
                                 -1, &L->bank, NULL);
    if (src != SQLITE_OK) {
        rc = vault_sql_error(L->v, src, "reading the pay run");
        goto cleanup;
    }
    sqlite3_bind_int64(q, 1, run);
    /* The ring (or the start of the array) before the first payee, unless payfile_write
     * reserved it for its builder, which may be reading it already. */
    if (ps->expect == 0 && (rc = reserve_payees(L->v, run, ps)) != RL_OK)
        goto cleanup;
    payee cur;
    memset(&cur, 0, sizeof cur);
    int64_t n_emps = 0;
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        const char *emp = col(q, 0), *pnr = col(q, 1);
        int64_t net = sqlite3_column_int64(q, 2);
        if (net < 0 || net > FIELD_MAX_ORE) {
            char who[16], a[32];
            masked(pnr, who);
            field_money_format(net, a);
            rc = err_set(RL_EDATA, "employment %s (%s): net pay %s SEK cannot be paid (%s); "
                                   "correct it and create a new pay run", emp, who, a,
                         net < 0 ? "negative" : "out of range");
            goto cleanup;
        }
        if (strcmp(pnr, cur.pnr) != 0) {
            if ((rc = finish_person(L, ps, &cur, n_emps)) != RL_OK)
                goto cleanup;
            memset(&cur, 0, sizeof cur);
            text_copy(cur.pnr, sizeof cur.pnr, pnr);
            L->first_emp[0] = '\0';
            n_emps = 0;
            int c = 1;
            while (people_row == SQLITE_ROW && (c = strcmp(col(people, 0), pnr)) < 0)
                people_row = sqlite3_step(people);
            if (people_row != SQLITE_ROW && people_row != SQLITE_DONE) {
                rc = vault_sql_error(L->v, people_row, "reading the pay run's employees");
                goto cleanup;
            }
            L->snap_found = people_row == SQLITE_ROW && c == 0;
            if (L->snap_found) {
                col_copy(L->given, sizeof L->given, people, 1);
                col_copy(L->family, sizeof L->family, people, 2);
                col_copy(L->clr, sizeof L->clr, people, 3);
                col_copy(L->acc, sizeof L->acc, people, 4);
                col_copy(L->iban, sizeof L->iban, people, 5);
            }
        }
        n_emps++;
        if (L->first_emp[0] == '\0')
            text_copy(L->first_emp, sizeof L->first_emp, emp);
        cur.net += net; /* both <= FIELD_MAX_ORE per row and checked per person below */
        if (cur.net > FIELD_MAX_ORE * 4) {
            rc = err_set(RL_EDATA, "employment %s: the person's payments are out of range", emp);
            goto cleanup;
        }
    }
    if (src != SQLITE_DONE) {
        rc = vault_sql_error(L->v, src, "reading the pay run");
        goto cleanup;
    }
    rc = finish_person(L, ps, &cur, n_emps);
cleanup:
    sqlite3_finalize(q);
    sqlite3_finalize(L->emp);
    sqlite3_finalize(L->hire);
    sqlite3_finalize(L->bank);
    L->emp = L->hire = L->bank = NULL;
    sqlite3_finalize(people);
    free(L->banked);
    L->banked = NULL;
    L->nbanked = 0;
    return rc;
}

/* --- identifiers ----------------------------------------------------------------------------- */

/* The vault's secret for EndToEndIds; created (inside the caller's transaction) if create. */
static int e2e_key(vault *v, bool create, uint8_t key[32])
{
    char hex[80];
    int rc = vault_config_get(v, "payfile.e2e_key", hex, sizeof hex);
    if (rc == RL_EDATA && create) {
        randombytes_buf(key, 32);
        sodium_bin2hex(hex, sizeof hex, key, 32);
        rc = vault_config_set(v, "payfile.e2e_key", hex);
        sodium_memzero(hex, sizeof hex);
        return rc;
    }
    if (rc == RL_EDATA)
        return err_set(RL_EDATA, "no payment file has been written from this vault");
    if (rc != RL_OK)
        return rc;
    size_t len = 0;
    if (sodium_hex2bin(key, 32, hex, strlen(hex), NULL, &len, NULL) != 0 || len != 32)
        rc = err_set(RL_EINTEGRITY, "the vault's payfile.e2e_key is damaged");
    sodium_memzero(hex, sizeof hex);
    return rc;
}

/* The HMAC state after the key: the same for every id of a file, so it is computed once
 * (a 100,000-payment file then costs two SHA-256 blocks an id instead of four). */
static void e2e_prepare(const uint8_t key[32], crypto_auth_hmacsha256_state *st)
{
    crypto_auth_hmacsha256_init(st, key, 32);
}

/* "RL<run>-<first 12 hex digits of HMAC-SHA-256(key, "<pnr>|<run>")>"; the 48 bits also
 * come back in *tag (for the uniqueness check). */
static void e2e_from(const crypto_auth_hmacsha256_state *keyed, int64_t run, const char *pnr,
                     char out[36], uint64_t *tag)
{
    static const char hexd[] = "0123456789abcdef";
    char runs[24], msg[64];
    size_t rn = 0, pn = strnlen(pnr, 24);
    unsigned long long r = (unsigned long long)(run < 0 ? -run : run);
    do {
        runs[sizeof runs - 1 - rn++] = (char)('0' + r % 10);
        r /= 10;
    } while (r != 0 && rn < sizeof runs - 1);
    if (run < 0)
        runs[sizeof runs - 1 - rn++] = '-';
    const char *rs = runs + sizeof runs - rn;
    memcpy(msg, pnr, pn);
    msg[pn] = '|';
    memcpy(msg + pn + 1, rs, rn);
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st = *keyed;
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, pn + 1 + rn);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
    size_t o = 0;
    out[o++] = 'R';
    out[o++] = 'L';
    memcpy(out + o, rs, rn); /* at most 20 characters: 2 + 20 + 1 + 12 < 36 */
    o += rn;
    out[o++] = '-';
    uint64_t t = 0;
    for (size_t i = 0; i < 6; i++) {
        out[o++] = hexd[mac[i] >> 4];
        out[o++] = hexd[mac[i] & 15];
        t = t << 8 | mac[i];
    }
    out[o] = '\0';
    if (tag)
        *tag = t;
}

static void e2e_make(const uint8_t key[32], int64_t run, const char *pnr, char out[36])
{
    crypto_auth_hmacsha256_state st;
    e2e_prepare(key, &st);
    e2e_from(&st, run, pnr, out, NULL);
    sodium_memzero(&st, sizeof st);
}

int payfile_e2e_key(vault *v, uint8_t key[32]) { return e2e_key(v, false, key); }

void payfile_e2e_id(const uint8_t key[32], int64_t payrun_id, const char *pnr, char out[36])
{
    e2e_make(key, payrun_id, pnr, out);
}

int payfile_end_to_end_id(vault *v, int64_t payrun_id, const char *pnr, char out[36])
{
    uint8_t key[32];
    int rc = e2e_key(v, false, key);
    if (rc == RL_OK)
        e2e_make(key, payrun_id, pnr, out);
    sodium_memzero(key, sizeof key);
    return rc;
}

static int cmp_tag(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* --- the debtor settings kept in the vault ------------------------------------------------- */

const char *const payfile_setting_names[PAYFILE_SETTINGS] = {
    "debtor_name", "debtor_iban",  "debtor_clearing", "debtor_account",
    "debtor_bic",  "agreement_id", "initiator_id",    "profile"};

void payfile_settings_load(vault *v, payfile_settings *s)
{
    for (size_t i = 0; i < PAYFILE_SETTINGS; i++) {
        char key[64];
        snprintf(key, sizeof key, "payfile.%s", payfile_setting_names[i]);
        if (vault_config_get(v, key, s->v[i], sizeof s->v[i]) != RL_OK) {
            s->v[i][0] = '\0';
            err_clear();
        }
    }
}

int payfile_setting_index(const char *name)
{
    for (int i = 0; i < PAYFILE_SETTINGS; i++)
        if (strcmp(payfile_setting_names[i], name) == 0)
            return i;
    return -1;
}

static const char *setting(const payfile_settings *s, const char *name)
{
    int i = payfile_setting_index(name);
    return i >= 0 && s->v[i][0] ? s->v[i] : NULL;
}

void payfile_settings_apply(const payfile_settings *s, payfile_options *o)
{
    o->profile = setting(s, "profile");
    o->debtor_name = setting(s, "debtor_name");
    o->debtor_iban = setting(s, "debtor_iban");
    o->debtor_clearing = setting(s, "debtor_clearing");
    o->debtor_account = setting(s, "debtor_account");
    o->debtor_bic = setting(s, "debtor_bic");
    o->agreement_id = setting(s, "agreement_id");
    o->initiator_id = setting(s, "initiator_id");
}

/* --- option checks ----------------------------------------------------------------------------- */

static bool bic_ok(const char *s)
{
    size_t n = strlen(s);
    if (n != 8 && n != 11)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool up = c >= 'A' && c <= 'Z', dig = c >= '0' && c <= '9';
        if (i < 6 ? !up : i == 6 ? !(up || (dig && c >= '2')) : i == 7 ? !((up && c != 'O') || dig)
                                                                      : !(up || dig))
            return false;
    }
    return true;
}

/* An identifier for InitgPty: 1-35 of [A-Za-z0-9-]. */
static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 35 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789-") == n;
}

typedef struct {
    bool iban;
    char iban_s[35];
    ident_account acc;
    char name[NAME_CAP];
    const char *initg_id;
} debtor;

static int check_options(const payfile_options *o, const payfile_profile *prof, debtor *d)
{
    if (o->format != PAYFILE_PAIN001_03 && o->format != PAYFILE_PAIN001_09)
        return err_set(RL_EUSAGE, "unknown payment file format");
    if (prof == NULL)
        return err_set(RL_EDATA, "unknown bank profile '%s' (generic, seb, handelsbanken, "
                                 "nordea, swedbank)", o->profile);
    if (o->debtor_name == NULL || o->debtor_name[0] == '\0')
        return err_set(RL_EDATA, "the debtor (employer) name is not configured");
    payfile_transliterate(o->debtor_name, 70, d->name, sizeof d->name);
    bool has_bban = o->debtor_clearing && o->debtor_clearing[0];
    if (o->debtor_iban && o->debtor_iban[0]) {
        if (has_bban)
            return err_set(RL_EDATA, "configure the debtor account as an IBAN or as clearing + "
                                     "account, not both");
        if (ident_iban_parse(o->debtor_iban, d->iban_s) != RL_OK)
            return err_wrap(RL_EDATA, "debtor account: ");
        d->iban = true;
    } else if (has_bban) {
        if (ident_account_parse(o->debtor_clearing, o->debtor_account ? o->debtor_account : "",
                                &d->acc) != RL_OK)
            return err_wrap(RL_EDATA, "debtor account: ");
    } else {
        return err_set(RL_EDATA, "the debtor account (IBAN, or clearing + account) is not "
                                 "configured");
    }
    if (o->debtor_bic && o->debtor_bic[0] && !bic_ok(o->debtor_bic))
        return err_set(RL_EDATA, "debtor BIC: must be 8 or 11 characters (ISO 9362)");
    if (prof->initg_id_agreement && !(o->agreement_id && o->agreement_id[0]))
        return err_set(RL_EDATA, "bank profile %s identifies the sender by the bank agreement "
                                 "id: configure it", prof->name);
    if (o->agreement_id && o->agreement_id[0] && !id_ok(o->agreement_id))
        return err_set(RL_EDATA, "agreement id: 1-35 letters, digits or '-'");
    if (o->initiator_id && o->initiator_id[0] && !id_ok(o->initiator_id))
        return err_set(RL_EDATA, "initiator id: 1-35 letters, digits or '-'");
    if (o->ceiling_ore < 0 || o->ceiling_ore > FIELD_MAX_ORE)
        return err_set(RL_EDATA, "ceiling: 0 (default) to %lld ore", (long long)FIELD_MAX_ORE);
    return RL_OK;
}

/* --- XML -------------------------------------------------------------------------------------- */

static void b_bban(buf *b, const payfile_profile *prof, const char *clr, const char *acc)
{
    b_str(b, "<Othr><Id>");
    if (prof->othr_id_with_clearing)
        b_str(b, clr);
    b_str(b, acc);
    b_str(b, "</Id><SchmeNm><Cd>BBAN</Cd></SchmeNm></Othr>");
}

static void b_clearing_agent(buf *b, const char *clr)
{
    b_str(b, "<FinInstnId><ClrSysMmbId><ClrSysId><Cd>SESBA</Cd></ClrSysId><MmbId>");
    b_str(b, clr);
    b_str(b, "</MmbId></ClrSysMmbId></FinInstnId>");
}

typedef struct {
    const payfile_options *o;
    const payfile_profile *prof;
    const debtor *d;
    const char *msg_id, *cre_dt, *exec_date, *period;
    const payees *ps;
    int64_t total;
} doc;

/* Everything before the first payment. */
static void build_head(buf *b, const doc *x)
{
    bool v09 = x->o->format == PAYFILE_PAIN001_09;
    char amt[32];
    field_money_format(x->total, amt);
    b_fmt(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.%s\">\n"
             "<CstmrCdtTrfInitn>\n<GrpHdr>\n",
          v09 ? "09" : "03");
    b_el(b, "MsgId", x->msg_id);
    b_str(b, "\n");
    b_el(b, "CreDtTm", x->cre_dt);
    b_fmt(b, "\n<NbOfTxs>%zu</NbOfTxs>\n<CtrlSum>%s</CtrlSum>\n<InitgPty>", x->ps->n, amt);
    b_el(b, "Nm", x->d->name);
    b_str(b, "<Id><OrgId><Othr>");
    b_el(b, "Id", x->d->initg_id);
    b_fmt(b, "<SchmeNm><Cd>%s</Cd></SchmeNm></Othr></OrgId></Id></InitgPty>\n</GrpHdr>\n",
          x->prof->initg_scheme);

    b_str(b, "<PmtInf>\n");
    b_fmt(b, "<PmtInfId>%s-1</PmtInfId>\n<PmtMtd>TRF</PmtMtd>\n<BtchBookg>true</BtchBookg>\n",
          x->msg_id);
    b_fmt(b, "<NbOfTxs>%zu</NbOfTxs>\n<CtrlSum>%s</CtrlSum>\n<PmtTpInf>", x->ps->n, amt);
    if (x->prof->svc_lvl)
        b_fmt(b, "<SvcLvl><Cd>%s</Cd></SvcLvl>", x->prof->svc_lvl);
    b_str(b, "<CtgyPurp><Cd>SALA</Cd></CtgyPurp></PmtTpInf>\n");
    if (v09)
        b_fmt(b, "<ReqdExctnDt><Dt>%s</Dt></ReqdExctnDt>\n", x->exec_date);
    else
        b_fmt(b, "<ReqdExctnDt>%s</ReqdExctnDt>\n", x->exec_date);
    b_str(b, "<Dbtr>");
    b_el(b, "Nm", x->d->name);
    b_str(b, "</Dbtr>\n<DbtrAcct><Id>");
    if (x->d->iban)
        b_fmt(b, "<IBAN>%s</IBAN>", x->d->iban_s);
    else
        b_bban(b, x->prof, x->d->acc.clearing, x->d->acc.account);
    b_str(b, "</Id><Ccy>SEK</Ccy></DbtrAcct>\n<DbtrAgt>");
    if (x->o->debtor_bic && x->o->debtor_bic[0])
        b_fmt(b, "<FinInstnId><%s>%s</%s></FinInstnId>", v09 ? "BICFI" : "BIC",
              x->o->debtor_bic, v09 ? "BICFI" : "BIC");
    else if (!x->d->iban)
        b_clearing_agent(b, x->d->acc.clearing);
    else
        b_str(b, "<FinInstnId><Othr><Id>NOTPROVIDED</Id></Othr></FinInstnId>");
    b_str(b, "</DbtrAgt>\n");
}

/* One payment. */
static void build_tx(buf *b, const payfile_profile *prof, const char *rmtinf, const payee *p)
{
    char amt[32];
    field_money_format(p->net, amt);
    b_str(b, "<CdtTrfTxInf><PmtId>");
    b_el(b, "EndToEndId", p->e2e);
    b_str(b, "</PmtId><Amt><InstdAmt Ccy=\"SEK\">");
    b_str(b, amt);
    b_str(b, "</InstdAmt></Amt>");
    if (!p->is_iban) {
        b_str(b, "<CdtrAgt>");
        b_clearing_agent(b, p->clearing);
        b_str(b, "</CdtrAgt>");
    }
    /* Name only: no PstlAdr for anyone, so a protected identity's address can never
     * leave the appliance (the schema makes the address optional). */
    b_str(b, "<Cdtr>");
    b_el(b, "Nm", p->name);
    b_str(b, "</Cdtr><CdtrAcct><Id>");
    if (p->is_iban)
        b_el(b, "IBAN", p->iban);
    else
        b_bban(b, prof, p->clearing, p->account);
    b_str(b, "</Id></CdtrAcct>");
    if (prof->rmtinf_allowed)
        b_str(b, rmtinf);
    b_str(b, "</CdtTrfTxInf>\n");
}

static const char DOC_TAIL[] = "</PmtInf>\n</CstmrCdtTrfInitn>\n</Document>\n";

/* --- the payments' XML, built alongside ---------------------------------------------------
 * Reading the pay run (one thread: the database) and building the payments' XML with their
 * EndToEndIds take about as long each at 100,000 payments; the builder takes each payee as
 * soon as load_payees accepted it, so the two overlap on a 2-core workstation. The header,
 * which needs the count and the total, is built last into room kept before the payments. */

#define HEAD_ROOM 8192 /* the header is at most ~2 KiB (bounded names and ids, escaped) */

struct builder {
    pthread_mutex_t mu;
    pthread_cond_t cv, room;
    const payees *ps;   /* a ring that never moves while the builder runs (see payees) */
    size_t ready;       /* payees accepted so far */
    size_t consumed;    /* payees built so far: their slots may be reused */
    size_t seen;        /* consumed as the reading thread last saw it (its own, no lock) */
    bool end, stop;     /* no more will come / give up */
    buf body;           /* HEAD_ROOM bytes kept, then the payments */
    const crypto_auth_hmacsha256_state *keyed;
    int64_t run;
    uint64_t *tags;     /* each payment's EndToEndId as a number, for the uniqueness check */
    const payfile_profile *prof;
    char rmtinf[64];
    pthread_t thread;
    bool running;
};

static void builder_publish(builder *w, size_t ready, bool end)
{
    pthread_mutex_lock(&w->mu);
    w->ready = ready;
    w->end = w->end || end;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Waits until the slot of payee n is free (the builder has built payee n - cap), telling
 * the builder first that everything before n is ready. The lock is taken only when the
 * slots known to be free run out: once per payee, it cost a tenth of the reading. */
static void builder_room_wait(builder *w, size_t n, size_t cap)
{
    if (n - w->seen < cap)
        return;
    pthread_mutex_lock(&w->mu);
    if (n - w->consumed >= cap) {
        w->ready = n;
        pthread_cond_signal(&w->cv);
        while (n - w->consumed >= cap && !w->stop)
            pthread_cond_wait(&w->room, &w->mu);
    }
    w->seen = w->consumed;
    pthread_mutex_unlock(&w->mu);
}

static void *builder_main(void *arg)
{
    builder *w = arg;
    size_t done = 0;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        w->consumed = done;
        pthread_cond_signal(&w->room);
        while (w->ready == done && !w->end)
            pthread_cond_wait(&w->cv, &w->mu);
        size_t ready = w->ready;
        bool end = w->end, stop = w->stop;
        pthread_mutex_unlock(&w->mu);
        if (stop)
            break;
        for (; done < ready; done++) {
            payee *p = &w->ps->p[done % w->ps->cap];
            e2e_from(w->keyed, w->run, p->pnr, p->e2e, &w->tags[done]);
            build_tx(&w->body, w->prof, w->rmtinf, p);
        }
        if (end)
            break;
    }
    return NULL;
}

/* Room for n payments: their tags, and one allocation for the document (about 450 bytes a
 * payment: growing it by doubling copied and faulted in twice the memory), HEAD_ROOM
 * bytes kept in front for the header. */
static int builder_room(builder *w, size_t n)
{
    if (n > (SIZE_MAX - HEAD_ROOM - sizeof DOC_TAIL) / 512)
        return err_set(RL_ENOMEM, "out of memory building the payment file");
    uint64_t *t = realloc(w->tags, (n ? n : 1) * sizeof *t);
    if (t == NULL)
        return err_set(RL_ENOMEM, "out of memory building the payment file");
    w->tags = t;
    size_t cap = HEAD_ROOM + n * 512 + sizeof DOC_TAIL;
    if (cap > w->body.cap) {
        char *p = w->body.p ? realloc(w->body.p, cap) : mem_big(cap);
        if (p == NULL)
            return err_set(RL_ENOMEM, "out of memory building the payment file");
        w->body.p = p;
        w->body.cap = cap;
    }
    if (w->body.n < HEAD_ROOM)
        w->body.n = HEAD_ROOM;
    return RL_OK;
}

/* Waits for the builder to finish (or to stop, if stop); safe to call again. */
static void builder_join(builder *w, bool stop)
{
    if (!w->running)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = w->stop || stop;
    w->end = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->running = false;
}

/* --- work beside the signature ---------------------------------------------------------- */

/* The document's SHA-256 (for the audit entry) and the file's write with its sync run on
 * their own threads while this one computes the signature: the two hashes of 45 MB at
 * 100,000 payments were a fifth of the time, and the write is mostly the disk's. fn runs
 * there, or here if no thread can be had; its error message is carried back (err is per
 * thread). */
typedef struct side_job side_job;
struct side_job {
    int (*fn)(side_job *j);
    const char *path, *p; /* where the document goes (the write), the document */
    size_t n;
    uint8_t sha256[crypto_hash_sha256_BYTES];
    int rc;
    char msg[512];
    pthread_t thread;
    bool running;
};

static int hash_doc(side_job *j)
{
    crypto_hash_sha256(j->sha256, (const unsigned char *)j->p, j->n);
    return RL_OK;
}

static int write_doc(side_job *j) { return file_write_atomic(j->path, j->p, j->n, 0600); }

static void *side_main(void *arg)
{
    side_job *j = arg;
    j->rc = j->fn(j);
    if (j->rc != RL_OK)
        snprintf(j->msg, sizeof j->msg, "%s", err_msg());
    return NULL;
}

static void side_start(side_job *j, int (*fn)(side_job *), const char *path, const char *p,
                       size_t n)
{
    j->fn = fn;
    j->path = path;
    j->p = p;
    j->n = n;
    j->running = pthread_create(&j->thread, NULL, side_main, j) == 0;
    if (!j->running)
        side_main(j);
}

/* Waits for the job if it runs on its own thread and returns its outcome; safe to call
 * again (cleanup paths). what names the job in a message. */
static int side_join(side_job *j, const char *what)
{
    if (j->running) {
        j->running = false;
        if (pthread_join(j->thread, NULL) != 0)
            return err_set(RL_EIO, "%s failed", what);
    }
    return j->rc == RL_OK ? RL_OK : err_set(j->rc, "%s", j->msg);
}

/* --- the whole write ------------------------------------------------------------------------- */

static int read_run(vault *v, int64_t run, char status[16], char pay_date[11], char period[8])
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(vault_db(v),
                                 "SELECT status, pay_date, period FROM payruns WHERE id = ?1", -1,
                                 &st, NULL);
    int rc;
    if (src == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, run);
        src = sqlite3_step(st);
    }
    if (src == SQLITE_ROW) {
        snprintf(status, 16, "%s", col(st, 0));
        snprintf(pay_date, 11, "%s", col(st, 1));
        snprintf(period, 8, "%s", col(st, 2));
        rc = RL_OK;
    } else if (src == SQLITE_DONE) {
        rc = err_set(RL_EDATA, "no pay run %lld", (long long)run);
    } else {
        rc = vault_sql_error(v, src, "reading the pay run");
    }
    sqlite3_finalize(st);
    return rc;
}

static int read_text(vault *v, const char *sql, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(vault_db(v), sql, -1, &st, NULL);
    int rc = RL_EDATA;
    out[0] = '\0';
    if (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        snprintf(out, cap, "%s", col(st, 0));
        rc = RL_OK;
    } else if (src != SQLITE_DONE) {
        rc = vault_sql_error(v, src, "reading the vault");
    }
    sqlite3_finalize(st);
    return rc;
}

/* The payfiles row: what was written, by whom, and its signature (for status imports,
 * the journal and reconciliation). Inside the caller's transaction. */
static int record_payfile(vault *v, int64_t payrun_id, const payfile_options *o,
                          const payfile_profile *prof, const payfile_summary *sum,
                          const char *now, const char *sig)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(vault_db(v),
                                 "INSERT INTO payfiles(msg_id, payrun_id, format, profile, sha256,"
                                 " count, total_ore, exec_date, key_id, written_by, cosigned_by,"
                                 " written_at, drill, signature, left_out, left_out_ore)"
                                 " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                                 -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, sum->msg_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, payrun_id);
        sqlite3_bind_text(st, 3, o->format == PAYFILE_PAIN001_09 ? "pain.001.001.09"
                                                                 : "pain.001.001.03",
                          -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, prof->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, sum->sha256, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, (int64_t)sum->count);
        sqlite3_bind_int64(st, 7, sum->total_ore);
        sqlite3_bind_text(st, 8, sum->exec_date, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, signing_key_id(o->signer), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 10, vault_operator(v), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 11, signing_second(o->signer), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 12, now, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 13, o->drill ? 1 : 0);
        sqlite3_bind_text(st, 14, sig, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 15, (int64_t)sum->left_out);
        sqlite3_bind_int64(st, 16, sum->left_out_ore);
        src = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return src == SQLITE_DONE ? RL_OK : vault_sql_error(v, src, "recording the payment file");
}

int payfile_write(vault *v, int64_t payrun_id, const payfile_options *o, const char *out_path,
                  payfile_summary *sum)
{
    payees ps = {0};
    crypto_auth_hmacsha256_state keyed;
    side_job hj = {0}, wj = {0}; /* the hash, the write */
    uint8_t prehash[MINISIG_PREHASH_BYTES];
    builder w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
                 .room = PTHREAD_COND_INITIALIZER};
    buf head = {0};
    uint8_t key[32];
    bool in_tx = false, written = false;
    char sig[MINISIG_SIG_TEXT_MAX], sig_path[4200] = "";
    debtor d;
    memset(&d, 0, sizeof d);
    memset(sum, 0, sizeof *sum);
    int rc = vault_require_role(v, VAULT_ROLE_APPROVER | VAULT_ROLE_ADMIN,
                                "writing a payment file");
    if (rc != RL_OK)
        return rc;

    /* Phase 1: check everything, write nothing. */
    char status[16], pay_date[11], period[8];
    if ((rc = read_run(v, payrun_id, status, pay_date, period)) != RL_OK)
        return rc;
    if (strcmp(status, "approved") != 0)
        return err_set(RL_EDATA, "pay run %lld is not approved (status %s%s): only an approved "
                                 "pay run can be paid",
                       (long long)payrun_id, status,
                       strcmp(status, "approved1") == 0 ? ", a second approver must release it"
                                                        : "");
    const payfile_profile *prof = payfile_profile_find(o->profile ? o->profile : "generic");
    if ((rc = check_options(o, prof, &d)) != RL_OK)
        return rc;
    if (o->signer == NULL || signing_seckey(o->signer) == NULL)
        return err_set(RL_EAUTH, "a payment file is signed by two approvers: the signing key "
                                 "is not unlocked");
    char orgnr[16];
    if (read_text(v, "SELECT employer_orgnr FROM snapshot WHERE id = 1", orgnr, sizeof orgnr) !=
        RL_OK)
        return err_set(RL_EDATA, "the vault holds no snapshot (employer organisation number)");
    d.initg_id = prof->initg_id_agreement                  ? o->agreement_id
                 : (o->initiator_id && o->initiator_id[0]) ? o->initiator_id
                                                           : orgnr;
    lookup L = {.v = v, .prof = prof, .pay_date = pay_date,
                .ceiling = o->ceiling_ore ? o->ceiling_ore : PAYFILE_DEFAULT_CEILING_ORE,
                .leave_out = o->leave_out_unpayable, .report = o->report};

    /* The EndToEndId key may be created here: the transaction begins before the payees are
     * read, so that the builder has it; nothing is kept if anything below refuses. */
    if ((rc = vault_begin(v)) != RL_OK)
        goto cleanup;
    in_tx = true;
    if ((rc = e2e_key(v, true, key)) != RL_OK)
        goto cleanup;
    e2e_prepare(key, &keyed);
    w.ps = &ps;
    w.keyed = &keyed;
    w.run = payrun_id;
    w.prof = prof;
    snprintf(w.rmtinf, sizeof w.rmtinf, "<RmtInf><Ustrd>L\xc3\xb6n %s</Ustrd></RmtInf>", period);
    if ((rc = reserve_payees(v, payrun_id, &ps)) != RL_OK ||
        (rc = builder_room(&w, ps.expect)) != RL_OK)
        goto cleanup;
    if (ps.expect > 0 && pthread_create(&w.thread, NULL, builder_main, &w) == 0) {
        w.running = true;
        L.w = &w;
    }
    if ((rc = load_payees(&L, payrun_id, &ps)) != RL_OK)
        goto cleanup;
    if (w.running) {
        builder_publish(&w, ps.n, true);
        builder_join(&w, false);
    } else { /* no second thread (or no size known in advance): the same work here */
        if ((rc = builder_room(&w, ps.n)) != RL_OK)
            goto cleanup;
        w.ready = ps.n;
        w.end = true;
        builder_main(&w);
    }
    if (ps.n == 0) {
        rc = err_set(RL_EDATA, "pay run %lld pays nobody: no payment file", (long long)payrun_id);
        goto cleanup;
    }
    int64_t total = ps.total;
    /* Every id of the file has the same "RL<run>-" prefix: ids differ iff their tags do. */
    qsort(w.tags, ps.n, sizeof *w.tags, cmp_tag);
    for (size_t i = 1; i < ps.n; i++)
        if (w.tags[i - 1] == w.tags[i]) {
            /* 48 bits per id: practically impossible, but never send an ambiguous file. */
            rc = err_set(RL_EDATA, "two payments got the same EndToEndId; no file written");
            goto cleanup;
        }

    /* Phase 2: the MsgId, the header before the payments, the signature. */
    char seq_text[32] = "0", vid[80];
    if (vault_config_get(v, "payfile.msgid_seq", seq_text, sizeof seq_text) != RL_OK)
        snprintf(seq_text, sizeof seq_text, "0");
    if ((rc = read_text(v, "SELECT value FROM meta WHERE key = 'vault_id'", vid, sizeof vid)) !=
        RL_OK)
        goto cleanup;
    unsigned long long seq = strtoull(seq_text, NULL, 10) + 1;
    char now[21];
    vault_now(now);
    /* "RL" + the vault's id (unique per appliance) + the day (so a vault restored from an
     * older backup, whose counter went back, still does not repeat an earlier day's id) +
     * the counter. At most 6 + 2 + 8 + 1 + 6 + 1 + 10 = 34 characters. */
    snprintf(sum->msg_id, sizeof sum->msg_id, "%sRL%.8s-%.2s%.2s%.2s-%06llu",
             o->drill ? "DRILL-" : "", vid, now + 2, now + 5, now + 8, seq % 10000000000ULL);
    for (char *c = sum->msg_id; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
    snprintf(seq_text, sizeof seq_text, "%llu", seq);
    if ((rc = vault_config_set(v, "payfile.msgid_seq", seq_text)) != RL_OK)
        goto cleanup;
    doc x = {o, prof, &d, sum->msg_id, now, pay_date, period, &ps, total};
    build_head(&head, &x);
    b_str(&w.body, DOC_TAIL);
    if (head.oom || w.body.oom || head.n > HEAD_ROOM) {
        rc = err_set(RL_ENOMEM, "out of memory building the payment file");
        goto cleanup;
    }
    /* The header goes right before the payments, in the room kept for it. */
    const char *docp = w.body.p + HEAD_ROOM - head.n;
    size_t docn = w.body.n - (HEAD_ROOM - head.n);
    memcpy(w.body.p + HEAD_ROOM - head.n, head.p, head.n);
    /* The file's SHA-256 (for the audit entry and the record) on the second core while this
     * one signs, writes and reads the file back. */
    side_start(&hj, hash_doc, NULL, docp, docn);
    int n = snprintf(sig_path, sizeof sig_path, "%s.minisig", out_path);
    if (n < 0 || (size_t)n >= sizeof sig_path) {
        rc = err_set(RL_EDATA, "--out path too long");
        goto cleanup;
    }
    written = true; /* from here on, a refusal removes both files */
    side_start(&wj, write_doc, out_path, docp, docn);
    /* The signature by the two approvers' key, over the bytes about to be written. */
    const minisig_seckey *sk = signing_seckey(o->signer);
    char total_text[32], tc[500], file_kv[80] = "";
    field_money_format(total, total_text);
    /* The token reads mode=, seq= (the MsgId counter: newer files have higher numbers, so
     * the token refuses a replayed older file) and file= from this signed comment
     * (docs/token-protocol.md); the rest is for the bank and the auditor. */
    const char *base = strrchr(out_path, '/');
    base = base ? base + 1 : out_path;
    bool name_ok = base[0] != '.' && strlen(base) <= 63;
    for (const char *c = base; *c && name_ok; c++)
        name_ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                  (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-';
    if (name_ok && base[0] != '\0')
        snprintf(file_kv, sizeof file_kv, " file=%s", base);
    snprintf(tc, sizeof tc,
             "reservlon payfile mode=%s seq=%llu%s msgid=%s payrun=%lld total=%s SEK count=%zu "
             "left_out=%llu exec=%s signed=%s by=%s+%s key=%s",
             o->drill ? "drill" : "production", seq, file_kv, sum->msg_id, (long long)payrun_id,
             total_text, ps.n, (unsigned long long)L.left_out, pay_date, now, vault_operator(v),
             signing_second(o->signer), signing_key_id(o->signer));
    minisig_prehash((const uint8_t *)docp, docn, prehash);
    if ((rc = minisig_sign_prehash(sk, prehash, tc, sig, sizeof sig)) != RL_OK)
        goto cleanup;

    /* Phase 3: the file and its signature, read back and verified, then the commit (both
     * are removed if anything fails). */
    minisig_pubkey pk;
    minisig_seckey_pubkey(sk, &pk);
    if ((rc = file_write_atomic(sig_path, sig, strlen(sig), 0600)) != RL_OK ||
        (rc = side_join(&wj, "writing the payment file")) != RL_OK ||
        (rc = minisig_verify_written(&pk, out_path, (const uint8_t *)docp, docn, prehash)) !=
            RL_OK)
        goto cleanup;
    if ((rc = side_join(&hj, "hashing the payment file")) != RL_OK)
        goto cleanup;
    sodium_bin2hex(sum->sha256, sizeof sum->sha256, hj.sha256, sizeof hj.sha256);
    sum->count = ps.n;
    sum->total_ore = total;
    sum->left_out = L.left_out;
    sum->left_out_ore = L.left_out_ore;
    memcpy(sum->exec_date, pay_date, sizeof sum->exec_date);
    char detail[600];
    snprintf(detail, sizeof detail,
             "payment file for pay run %lld: msgid %s, pain.001.001.%s, profile %s, %zu payments,"
             " total %lld ore, %llu person(s) left out (no valid account, %lld ore), execution"
             " date %s, sha256 %s, signed by %s and %s with key %s%s",
             (long long)payrun_id, sum->msg_id, o->format == PAYFILE_PAIN001_09 ? "09" : "03",
             prof->name, ps.n, (long long)total, (unsigned long long)L.left_out,
             (long long)L.left_out_ore, pay_date, sum->sha256, vault_operator(v),
             signing_second(o->signer), signing_key_id(o->signer), o->drill ? ", drill" : "");
    if ((rc = vault_audit(v, "payfile.write", detail)) != RL_OK)
        goto cleanup;

    if ((rc = record_payfile(v, payrun_id, o, prof, sum, now, sig)) != RL_OK)
        goto cleanup;
    if ((rc = vault_commit(v)) != RL_OK)
        goto cleanup;
    in_tx = false;
cleanup:
    builder_join(&w, true); /* all three before the memory they use is freed */
    if (hj.running)
        (void)side_join(&hj, "hashing the payment file");
    if (wj.running) /* and before its file is removed */
        (void)side_join(&wj, "writing the payment file");
    if (in_tx)
        vault_rollback(v);
    if (rc != RL_OK) {
        if (written) {
            (void)unlink(out_path);
            (void)unlink(sig_path);
        }
        memset(sum, 0, sizeof *sum);
    }
    sodium_memzero(key, sizeof key);
    sodium_memzero(&keyed, sizeof keyed);
    free(w.tags);
    free(w.body.p);
    free(head.p);
    free(ps.p);
    return rc;
}

/* --- for the reconciliation ----------------------------------------------------------------- */

int payfile_left_out_now(vault *v, int64_t payrun_id,
                         void (*fn)(void *ctx, const char *pnr, int64_t net_ore), void *ctx)
{
    char status[16], pay_date[11], period[8];
    payees ps = {0};
    int rc = read_run(v, payrun_id, status, pay_date, period);
    if (rc != RL_OK)
        return rc;
    /* No ceiling here: a payment above it refuses the whole file, it leaves nobody out. */
    lookup L = {.v = v, .prof = payfile_profile_find("generic"), .pay_date = pay_date,
                .ceiling = FIELD_MAX_ORE * 4, .leave_out = true, .left_fn = fn,
                .left_ctx = ctx};
    rc = load_payees(&L, payrun_id, &ps);
    free(ps.p);
    return rc;
}

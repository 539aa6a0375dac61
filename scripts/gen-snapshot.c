/* gen-snapshot: writes a realistic synthetic snapshot (docs/snapshot-format.md), signed with
 * a TEST export key, for tests, drills and benchmarks.
 *
 *   gen-snapshot --employees N --seed S --out DIR [--key FILE] [--bad KIND]
 *                [--tax-source FILE] [--allow-any-key]
 *
 * Output depends only on N, S and KIND (own PRNG, fixed dates, integer arithmetic), so the
 * same arguments give byte-identical files on every machine, signature included (Ed25519
 * signatures are deterministic). Identity and account numbers are made by generating
 * candidates and keeping what app/ident accepts, so the generator and the importer can
 * never disagree about what is valid. Tax is computed from Skatteverket's real 2025
 * monthly tables (app/data), the same rows written to tax_tables.csv.
 *
 * --bad KIND plants exactly one bad record (pnr-checksum, account-checksum,
 * dangling-employment, net-mismatch, bad-date) in an otherwise valid, correctly hashed and
 * signed snapshot, and says on stderr which file and line it is: importer tests need a
 * snapshot that passes every integrity check and fails exactly one record check.
 *
 * Modelling choices (synthetic, but shaped like a Swedish municipality's payroll):
 *  - monthly_salary_ore is the full-time (100 %) monthly salary; the pay run pays
 *    salary x extent, prorated by calendar days for starts and ends inside the period;
 *  - the last pay run is October 2026 (paid Friday 23 October, the 25th being a Sunday),
 *    exported on 20 November 2026; ident checks use that export date as "today";
 *  - the only tax tables at hand are 2025's; they are used for the 2026 period too. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/json.h"
#include "ident/ident.h"
#include "sig/minisig.h"

#define TAX_SOURCE_REL "app/data/skattetabeller-2025-manad.csv"
#define KEY_REL "keys/test/export-TEST.key"
#define TODAY 20261120u          /* export date, the reference for ident checks */
#define PERIOD "2026-10"
#define PERIOD_FIRST 20261001
#define PERIOD_LAST 20261031
#define PERIOD_DAYS 31
#define PAY_DATE "2026-10-23"    /* the 25th is a Sunday: paid the Friday before */
#define MAX_EMPLOYEES 10000000L

/* ---- fatal errors --------------------------------------------------------------------
 * This is a tool, not library code: on out-of-memory or an internal inconsistency it
 * prints and exits (exit 1), like any command-line program. */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("gen-snapshot: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ---- PRNG: xoshiro256** seeded by splitmix64 -----------------------------------------
 * Not rand(): its sequence differs between C libraries, and determinism across machines
 * is the point. Each table gets its own stream so adding a column to one file does not
 * reshuffle every other file. */

typedef struct {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void rng_init(rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95u);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n) without modulo bias (Lemire's multiply-and-reject). n > 0. */
static uint32_t rng_below(rng *r, uint32_t n)
{
    uint64_t m = (rng_next(r) >> 32) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (0u - n) % n;
        while (low < threshold) {
            m = (rng_next(r) >> 32) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

static int rng_int(rng *r, int lo, int hi) { return lo + (int)rng_below(r, (uint32_t)(hi - lo + 1)); }

/* True with probability per100k / 100 000. */
static bool rng_chance(rng *r, uint32_t per100k) { return rng_below(r, 100000) < per100k; }

/* Index into weights[0..n) with probability proportional to the weight. */
static size_t rng_weighted(rng *r, const int *weights, size_t n)
{
    int total = 0;
    for (size_t i = 0; i < n; i++)
        total += weights[i];
    int x = (int)rng_below(r, (uint32_t)total);
    for (size_t i = 0; i < n; i++) {
        if (x < weights[i])
            return i;
        x -= weights[i];
    }
    return n - 1;
}

#define PICK(r, arr) ((arr)[rng_below((r), (uint32_t)(sizeof(arr) / sizeof((arr)[0])))])
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- growable text buffer -------------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t more)
{
    if (b->cap - b->n > more)
        return;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap - b->n <= more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL)
        die("out of memory");
    b->p = p;
    b->cap = cap;
}

static void sb_add(sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    sb_reserve(b, 256);
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (n < 0)
        die("formatting failed");
    if ((size_t)n >= b->cap - b->n) {
        sb_reserve(b, (size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
    }
    b->n += (size_t)n;
}

/* A CSV field (RFC 4180): quoted only when it has to be. */
static void sb_csv(sbuf *b, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        sb_str(b, s);
        return;
    }
    sb_add(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            sb_add(b, "\"", 1);
        sb_add(b, p, 1);
    }
    sb_add(b, "\"", 1);
}

static void sb_free(sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- a set of uint64 (personnummer uniqueness) --------------------------------------- */

typedef struct {
    uint64_t *slot; /* 0 = empty: no identity number is 0 */
    size_t mask;
} u64set;

static void set_init(u64set *s, size_t expected)
{
    size_t cap = 1024;
    while (cap < expected * 2 + 16)
        cap *= 2;
    s->slot = calloc(cap, sizeof *s->slot);
    if (s->slot == NULL)
        die("out of memory");
    s->mask = cap - 1;
}

/* Adds key; false if it was already there. The set is sized for the expected count up
 * front (2x), so it never needs to grow. */
static bool set_add(u64set *s, uint64_t key)
{
    size_t i = (size_t)((key * 0x9e3779b97f4a7c15u) >> 20) & s->mask;
    while (s->slot[i] != 0) {
        if (s->slot[i] == key)
            return false;
        i = (i + 1) & s->mask;
    }
    s->slot[i] = key;
    return true;
}

/* ---- dates ---------------------------------------------------------------------------- */

typedef struct {
    int y, m, d;
} date;

static int days_in_month(int y, int m)
{
    int d = 31;
    while (!ident_date_valid(y, m, d))
        d--;
    return d;
}

static int date_num(date x) { return x.y * 10000 + x.m * 100 + x.d; }

static date date_from_num(int n) { return (date){n / 10000, n / 100 % 100, n % 100}; }

static void date_fmt(date x, char out[16])
{
    snprintf(out, 16, "%04u-%02u-%02u", (unsigned)x.y % 10000u, (unsigned)x.m % 100u,
             (unsigned)x.d % 100u);
}

/* Days from 1 October to d within October (clamped), for proration. */
static int october_day(int n)
{
    if (n < PERIOD_FIRST)
        return 1;
    if (n > PERIOD_LAST)
        return PERIOD_DAYS;
    return n % 100;
}

/* ---- tax tables -------------------------------------------------------------------- */

typedef struct {
    int from, to; /* whole SEK, to = INT_MAX for the open-ended last row */
    bool pct;     /* "30%" row: the column is a percentage of the income */
    int col[6];   /* columns 1-6 (column 7 is unused by this generator) */
} band;

typedef struct {
    band *b;
    size_t n, cap;
} taxtab;

typedef struct {
    taxtab t[43]; /* indexed by table number 29-42 */
    sbuf csv;     /* tax_tables.csv, converted */
    size_t rows;
} taxdata;

static long parse_long_field(const char *s, size_t n, bool *ok)
{
    long v = 0;
    if (n == 0 || n > 9)
        *ok = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            *ok = false;
            return 0;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Reads Skatteverket's semicolon file and builds both the lookup tables and the
 * comma-separated tax_tables.csv with the English header of the snapshot format. */
static int tax_load(const char *path, taxdata *td)
{
    char *text = NULL;
    size_t len = 0;
    int rc = file_read_all(path, 16u << 20, &text, &len);
    if (rc != 0)
        goto cleanup;
    sb_str(&td->csv, "year,kind,table,income_from,income_to,col1,col2,col3,col4,col5,col6,col7\n");
    size_t pos = 0, lineno = 0;
    while (pos < len) {
        char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t ll = end - pos;
        if (ll > 0 && text[pos + ll - 1] == '\r')
            ll--;
        lineno++;
        const char *line = text + pos;
        pos = nl ? end + 1 : len;
        if (lineno == 1)
            continue; /* Swedish header */
        if (ll == 0)
            continue;
        const char *f[12];
        size_t fl[12], nf = 0;
        size_t s = 0;
        for (size_t i = 0; i <= ll; i++) {
            if (i == ll || line[i] == ';') {
                if (nf == 12) {
                    nf++;
                    break;
                }
                f[nf] = line + s;
                fl[nf] = i - s;
                nf++;
                s = i + 1;
            }
        }
        bool ok = nf == 12;
        long year = ok ? parse_long_field(f[0], fl[0], &ok) : 0;
        bool pct = ok && fl[1] == 3 && memcmp(f[1], "30%", 3) == 0;
        ok = ok && (pct || (fl[1] == 3 && memcmp(f[1], "30B", 3) == 0));
        long tno = ok ? parse_long_field(f[2], fl[2], &ok) : 0;
        long from = ok ? parse_long_field(f[3], fl[3], &ok) : 0;
        long to = ok && fl[4] > 0 ? parse_long_field(f[4], fl[4], &ok) : INT_MAX;
        band b = {(int)from, (int)to, pct, {0}};
        for (int c = 0; ok && c < 6; c++)
            b.col[c] = (int)parse_long_field(f[5 + c], fl[5 + c], &ok);
        if (!ok || year < 2000 || tno < 29 || tno > 42 || from > to || (!pct && fl[4] == 0)) {
            rc = err_set(RL_EDATA, "%s line %zu: not a tax table row", path, lineno);
            goto cleanup;
        }
        taxtab *t = &td->t[tno];
        if (t->n > 0 && t->b[t->n - 1].to >= b.from) {
            rc = err_set(RL_EDATA, "%s line %zu: bands out of order or overlapping", path,
                         lineno);
            goto cleanup;
        }
        if (t->n == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 1024;
            t->b = realloc(t->b, t->cap * sizeof *t->b);
            if (t->b == NULL)
                die("out of memory");
        }
        t->b[t->n++] = b;
        for (size_t i = 0; i < ll; i++)
            sb_add(&td->csv, line[i] == ';' ? "," : line + i, 1);
        sb_add(&td->csv, "\n", 1);
        td->rows++;
    }
    for (int tno = 29; tno <= 42 && rc == 0; tno++)
        if (td->t[tno].n == 0)
            rc = err_set(RL_EDATA, "%s: table %d missing", path, tno);
cleanup:
    free(text);
    return rc;
}

/* Tax in whole SEK for a monthly income in whole SEK, table tno, column col (1-6). */
static int64_t tax_lookup(const taxdata *td, int tno, int col, int64_t income)
{
    const taxtab *t = &td->t[tno];
    size_t lo = 0, hi = t->n;
    while (lo < hi) { /* first band whose 'to' >= income */
        size_t mid = (lo + hi) / 2;
        if (t->b[mid].to < income)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == t->n || t->b[lo].from > income)
        return 0; /* below the first band (income 0) */
    const band *b = &t->b[lo];
    if (b->pct)
        return income * b->col[col - 1] / 100;
    return b->col[col - 1];
}

/* ---- names and organisation ---------------------------------------------------------- */

static const char *const given_f[] = {
    "Anna", "Eva", "Maria", "Karin", "Kristina", "Lena", "Kerstin", "Sara", "Emma", "Ingrid",
    "Linnéa", "Marie", "Malin", "Ulla", "Elin", "Jenny", "Hanna", "Annika", "Birgitta",
    "Johanna", "Susanne", "Camilla", "Sofia", "Åsa", "Märta", "Maja", "Ebba", "Elsa", "Alva",
    "Agnes", "Wilma", "Saga", "Ella", "Alice", "Julia", "Ida", "Matilda", "Louise", "Helena",
    "Cecilia", "Therese", "Jessica", "Frida", "Josefin", "Ylva", "Gunilla", "Margareta", "Siv",
    "Britt", "Solveig", "Görel", "Désirée", "Fatima", "Amina", "Leyla", "Zeynep", "Aleksandra",
    "Katarzyna", "Tiina", "Mirjam", "Ingegärd", "Lovisa", "Stina", "Åsa-Lena"};
static const char *const given_f_hyph[] = {"Anna-Karin", "Eva-Lena", "Ann-Sofie", "Ann-Christin",
                                           "Lise-Lott", "Britt-Marie", "Maj-Britt", "Anna-Lena",
                                           "Mari-Louise", "Eva-Britt"};
static const char *const given_m[] = {
    "Lars", "Mikael", "Anders", "Johan", "Erik", "Per", "Karl", "Peter", "Thomas", "Jan",
    "Daniel", "Fredrik", "Hans", "Andreas", "Stefan", "Mats", "Magnus", "Mattias", "Jonas",
    "Niklas", "Björn", "Bengt", "Sven", "Göran", "Örjan", "Åke", "Jörgen", "Håkan", "Bo",
    "Leif", "Kjell", "Ulf", "Rolf", "Oskar", "Lucas", "William", "Liam", "Elias", "Hugo",
    "Noah", "Axel", "Viktor", "Filip", "Emil", "Albin", "Isak", "Linus", "Ludvig", "Måns",
    "Ahmed", "Mohammed", "Ali", "Omar", "Yusuf", "Piotr", "Mehmet", "Dragan", "Juha", "Tomás",
    "Östen", "Sölve"};
static const char *const given_m_hyph[] = {"Per-Olof", "Lars-Göran", "Carl-Johan", "Jan-Erik",
                                           "Karl-Åke", "Nils-Erik", "Lars-Erik", "Per-Anders",
                                           "Sven-Olov", "Hans-Åke"};
static const char *const family[] = {
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
    "Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson",
    "Bengtsson", "Jönsson", "Lindberg", "Jakobsson", "Magnusson", "Olofsson", "Lindström",
    "Lindqvist", "Lindgren", "Berg", "Axelsson", "Bergström", "Lundberg", "Lind", "Lundgren",
    "Lundqvist", "Mattsson", "Berglund", "Fredriksson", "Sandberg", "Henriksson", "Forsberg",
    "Sjöberg", "Ali", "Mohammed", "Wallin", "Engström", "Eklund", "Danielsson", "Lundin",
    "Håkansson", "Björk", "Bergman", "Gunnarsson", "Holm", "Wikström", "Samuelsson",
    "Isaksson", "Fransson", "Bergqvist", "Nyström", "Holmberg", "Arvidsson", "Löfgren",
    "Söderberg", "Nyberg", "Blomqvist", "Claesson", "Nordström", "Mårtensson", "Lundström",
    "Ahmed", "Viklund", "Björklund", "Eliasson", "Pålsson", "Berggren", "Sandström", "Lund",
    "Nordin", "Ström", "Åberg", "Hermansson", "Ekström", "Falk", "Holmgren", "Dahlberg",
    "Hellström", "Hedlund", "Sundberg", "Sjögren", "Ek", "Blom", "Abrahamsson", "Martinsson",
    "Öberg", "Andreasson", "Strömberg", "Månsson", "Åkesson", "Hansen", "Norberg",
    "Lindholm", "Dahl", "Jonasson", "Kowalski", "Yilmaz", "Nguyen", "Virtanen", "Hussein",
    "Östlund", "Älvström", "Ågren"};

typedef struct {
    const char *dept;        /* förvaltning (level 2) */
    int weight;              /* share of the level-3 units */
    const char *const *unit; /* level-3 unit name patterns, %s = a place */
    size_t nunit;
} dept_spec;

static const char *const u_forskola[] = {"Förskolan %s"};
static const char *const u_grundskola[] = {"%sskolan", "Skolområde %s"};
static const char *const u_gymnasie[] = {"%sgymnasiet", "Vuxenutbildningen %s"};
static const char *const u_social[] = {"Individ- och familjeomsorgen %s", "Socialkontor %s"};
static const char *const u_aldre[] = {"Hemtjänst %s", "Äldreboendet %s", "Hemsjukvården %s"};
static const char *const u_funk[] = {"Gruppbostad %s", "Daglig verksamhet %s"};
static const char *const u_kultur[] = {"Biblioteket %s", "Fritidsgården %s"};
static const char *const u_stad[] = {"Bygglov och lantmäteri %s"};
static const char *const u_miljo[] = {"Miljötillsyn %s"};
static const char *const u_service[] = {"Kostenheten %s", "Lokalvården %s"};
static const char *const u_arbete[] = {"Jobbcentrum %s"};
static const char *const u_ledning[] = {"Lönecentrum %s", "HR-avdelningen %s"};

/* In order of size: a small municipality (few units) gets the largest departments. */
static const dept_spec depts[] = {
    {"Grundskoleförvaltningen", 25, u_grundskola, NELEM(u_grundskola)},
    {"Äldreförvaltningen", 18, u_aldre, NELEM(u_aldre)},
    {"Förskoleförvaltningen", 20, u_forskola, NELEM(u_forskola)},
    {"Funktionsstödsförvaltningen", 10, u_funk, NELEM(u_funk)},
    {"Socialförvaltningen", 8, u_social, NELEM(u_social)},
    {"Gymnasie- och vuxenutbildningsförvaltningen", 6, u_gymnasie, NELEM(u_gymnasie)},
    {"Serviceförvaltningen", 5, u_service, NELEM(u_service)},
    {"Kultur- och fritidsförvaltningen", 3, u_kultur, NELEM(u_kultur)},
    {"Arbetsmarknadsförvaltningen", 2, u_arbete, NELEM(u_arbete)},
    {"Stadsledningskontoret", 1, u_ledning, NELEM(u_ledning)},
    {"Stadsbyggnadskontoret", 1, u_stad, NELEM(u_stad)},
    {"Miljöförvaltningen", 1, u_miljo, NELEM(u_miljo)},
};

static const char *const places[] = {
    "Solrosen", "Björkgården", "Ekbacken", "Lärkan", "Källan", "Ängen", "Tallåsen", "Granen",
    "Hagaberg", "Kvarnbacken", "Sjöstjärnan", "Äppelgården", "Rönnen", "Lönnen", "Måsen",
    "Östra", "Västra", "Norra", "Södra", "Centrum", "Åbacken", "Lindhaga", "Furulund",
    "Strandängen", "Örnäs", "Gläntan", "Backa", "Skogsbrynet", "Hästhagen", "Kullen"};

typedef struct {
    char id[32];
    char name[160];
    int parent; /* index, -1 for the root */
} org_unit;

/* Builds the hierarchy: the municipality, its departments, their units. Sized about one
 * unit per 500 employees, at least 5. */
static org_unit *org_build(rng *r, long employees, size_t *count)
{
    size_t n = (size_t)((employees + 250) / 500);
    if (n < 5)
        n = 5;
    org_unit *u = calloc(n, sizeof *u);
    if (u == NULL)
        die("out of memory");
    size_t nd = (n - 1) / 6;
    nd = nd < 3 ? 3 : nd > NELEM(depts) ? NELEM(depts) : nd;
    for (size_t i = 0; i < n; i++)
        snprintf(u[i].id, sizeof u[i].id, "OU%05zu", i + 1);
    snprintf(u[0].name, sizeof u[0].name, "Reservstads kommun");
    u[0].parent = -1;
    int weights[NELEM(depts)];
    for (size_t d = 0; d < nd; d++) {
        snprintf(u[1 + d].name, sizeof u[1 + d].name, "%s", depts[d].dept);
        u[1 + d].parent = 0;
        weights[d] = depts[d].weight;
    }
    size_t used[NELEM(depts)] = {0};
    for (size_t i = 1 + nd; i < n; i++) {
        size_t d = rng_weighted(r, weights, nd);
        const char *pat = depts[d].unit[rng_below(r, (uint32_t)depts[d].nunit)];
        size_t k = used[d]++;
        char place[64];
        if (k < NELEM(places))
            snprintf(place, sizeof place, "%s", places[(k * 7 + d) % NELEM(places)]);
        else
            snprintf(place, sizeof place, "%s %zu", places[(k * 7 + d) % NELEM(places)],
                     k / NELEM(places) + 1);
        /* The pattern is one of the constant strings above, with one %s. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(u[i].name, sizeof u[i].name, pat, place);
#pragma GCC diagnostic pop
        u[i].parent = (int)(1 + d);
    }
    /* One name that needs RFC 4180 quoting (comma and quotes), as real unit names do. */
    snprintf(u[n - 1].name, sizeof u[n - 1].name, "Hemtjänst, stöd och service \"Trygg hemma\"");
    *count = n;
    return u;
}

/* ---- people ------------------------------------------------------------------------ */

typedef struct {
    char pnr[13];
    int by, bm, bd; /* birth date (real day, also for samordningsnummer) */
    bool female, samordning;
    int protect;
    char given[64], family[96];
    char clearing[6], account[16], iban[35];
    bool type1_account; /* domestic account with a mod 11 check (for --bad account-checksum) */
    int tax_table, tax_column, tax_fixed; /* tax_fixed in hundredths of a percent, or 0 */
} person;

static uint64_t pnr_key(const char *digits)
{
    uint64_t k = 0;
    for (int i = 0; i < 12; i++)
        k = k * 10 + (uint64_t)(digits[i] - '0');
    return k;
}

/* Makes a unique, valid personnummer (or samordningsnummer): candidates from the birth
 * date and a random birth number with the Luhn digit from ident, kept only if
 * ident_pnr_parse accepts them and the set has not seen them. */
static void gen_pnr(rng *r, u64set *seen, person *p, bool samordning)
{
    static const int decade_w[] = {22, 24, 24, 20, 10}; /* born 1958-67, ..., 1998-2007 */
    for (;;) {
        size_t dec = rng_weighted(r, decade_w, NELEM(decade_w));
        p->by = 1958 + (int)dec * 10 + rng_int(r, 0, 9);
        p->bm = rng_int(r, 1, 12);
        p->bd = rng_int(r, 1, days_in_month(p->by, p->bm));
        int nn = rng_int(r, 0, 99);
        int g = rng_int(r, 0, 4) * 2 + (p->female ? 0 : 1); /* odd = man, even = woman */
        if (nn == 0 && g == 0)
            continue; /* birth number 000 is not used */
        char nine[16];
        snprintf(nine, sizeof nine, "%02u%02u%02u%02u%u", (unsigned)p->by % 100u,
                 (unsigned)p->bm % 100u, (unsigned)(p->bd + (samordning ? 60 : 0)) % 100u,
                 (unsigned)nn % 100u, (unsigned)g % 10u);
        int check = ident_luhn_digit(nine, 9);
        if (check < 0)
            die("internal: luhn of %s", nine);
        char cand[32];
        snprintf(cand, sizeof cand, "%02u%s%u", (unsigned)p->by / 100u % 100u, nine,
                 (unsigned)check % 10u);
        ident_pnr parsed;
        if (ident_pnr_parse(cand, TODAY, &parsed) != 0)
            continue;
        if (parsed.kind != (samordning ? IDENT_SAMORDNINGSNUMMER : IDENT_PERSONNUMMER))
            continue;
        if (!set_add(seen, pnr_key(parsed.digits)))
            continue;
        memcpy(p->pnr, parsed.digits, 13);
        p->samordning = samordning;
        return;
    }
}

/* A domestic account kind: a clearing range of one bank with its account length. */
typedef struct {
    int share; /* per mille of domestic accounts */
    int from, to;
    int len;            /* account digits */
    bool swedbank5;     /* Swedbank 8xxx: write the clearing's 5th check digit (mostly) */
    bool personkonto;   /* Nordea 3300: the holder's personnummer is the account */
    bool type1;         /* mod 11 over clearing + account */
} acct_kind;

/* Shares of salary accounts, roughly the big banks' share of private customers. */
static const acct_kind acct_kinds[] = {
    {170, 8000, 8999, 10, true, false, false},  /* Swedbank (and savings banks), 8xxx-x */
    {80, 7000, 7999, 7, false, false, true},    /* Swedbank 7xxx */
    {10, 9300, 9349, 10, false, false, false},  /* Swedbank 93xx */
    {170, 6000, 6999, 9, false, false, false},  /* Handelsbanken */
    {150, 5000, 5999, 7, false, false, true},   /* SEB */
    {150, 3300, 3300, 10, false, true, false},  /* Nordea personkonto */
    {20, 1100, 1199, 7, false, false, true},    /* Nordea */
    {40, 1400, 2099, 7, false, false, true},    /* Nordea */
    {30, 3000, 3299, 7, false, false, true},    /* Nordea */
    {10, 4000, 4999, 7, false, false, true},    /* Nordea (comment 2) */
    {30, 1200, 1399, 7, false, false, true},    /* Danske Bank */
    {10, 9180, 9189, 10, false, false, false},  /* Danske Bank */
    {30, 9270, 9279, 7, false, false, true},    /* ICA Banken */
    {40, 3400, 3409, 7, false, false, true},    /* Länsförsäkringar */
    {20, 9020, 9029, 7, false, false, true},    /* Länsförsäkringar */
    {10, 9060, 9069, 7, false, false, true},    /* Länsförsäkringar */
    {20, 9150, 9169, 7, false, false, true},    /* Skandiabanken */
    {10, 9570, 9579, 10, false, false, false},  /* Sparbanken Syd */
};

static void random_digits(rng *r, char *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = (char)('0' + rng_below(r, 10));
    out[n] = '\0';
}

/* Makes a domestic account: random digits, then the last digit that ident accepts (with
 * no warning). A prefix for which no digit works (mod 11 remainder 10) is redrawn. */
static void gen_domestic(rng *r, person *p, bool allow_personkonto)
{
    int shares[NELEM(acct_kinds)];
    for (size_t i = 0; i < NELEM(acct_kinds); i++)
        shares[i] = acct_kinds[i].personkonto && !allow_personkonto ? 0 : acct_kinds[i].share;
    const acct_kind *k = &acct_kinds[rng_weighted(r, shares, NELEM(acct_kinds))];
    ident_account a;
    for (int attempt = 0; attempt < 1000; attempt++) {
        int cl = rng_int(r, k->from, k->to);
        if (k->swedbank5 && rng_chance(r, 70000)) {
            char four[5];
            snprintf(four, sizeof four, "%04d", cl);
            snprintf(p->clearing, sizeof p->clearing, "%s%d", four, ident_luhn_digit(four, 4));
        } else {
            snprintf(p->clearing, sizeof p->clearing, "%04d", cl);
        }
        if (k->personkonto) {
            memcpy(p->account, p->pnr + 2, 10);
            p->account[10] = '\0';
            if (ident_account_parse(p->clearing, p->account, &a) == 0 && !a.warning)
                return;
            die("internal: personkonto refused: %s", err_msg());
        }
        random_digits(r, p->account, k->len);
        for (int d = 0; d < 10; d++) {
            p->account[k->len - 1] = (char)('0' + d);
            if (ident_account_parse(p->clearing, p->account, &a) == 0 && !a.warning) {
                p->type1_account = k->type1;
                return;
            }
        }
    }
    die("internal: no valid account found for clearing %d-%d", k->from, k->to);
}

/* A foreign IBAN (people paid to a Finnish, Norwegian, ... account): a random BBAN of
 * the country's format, then the check digits ident_iban_parse accepts. */
static void gen_iban(rng *r, person *p)
{
    static const struct {
        const char *cc;
        const char *bank; /* letters at the start of the BBAN, or "" */
        int digits;
        int weight;
    } c[] = {{"FI", "", 14, 30}, {"NO", "", 11, 15}, {"DK", "", 14, 10}, {"DE", "", 18, 15},
             {"PL", "", 24, 15}, {"EE", "", 16, 5},  {"LT", "", 16, 5},  {"NL", "INGB", 10, 5}};
    int w[NELEM(c)];
    for (size_t i = 0; i < NELEM(c); i++)
        w[i] = c[i].weight;
    size_t i = rng_weighted(r, w, NELEM(c));
    char bban[40], cand[64];
    size_t bl = strlen(c[i].bank);
    memcpy(bban, c[i].bank, bl);
    random_digits(r, bban + bl, c[i].digits);
    if (strcmp(c[i].cc, "NO") == 0) {
        /* A Norwegian kontonummer carries its own mod 11 check digit (weights 5,4,3,2,7,
         * 6,5,4,3,2); receivers check it, so a synthetic one must have it too. ident does
         * not check national rules, so this is the one check rule the generator knows. */
        static const int nw[10] = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
        int sum;
        do {
            random_digits(r, bban, 10);
            sum = 0;
            for (int k = 0; k < 10; k++)
                sum += nw[k] * (bban[k] - '0');
        } while (sum % 11 == 1); /* check digit would be 10: no such account */
        bban[10] = (char)('0' + (11 - sum % 11) % 11);
        bban[11] = '\0';
    }
    for (int cd = 2; cd <= 98; cd++) {
        snprintf(cand, sizeof cand, "%s%02d%s", c[i].cc, cd, bban);
        if (ident_iban_parse(cand, p->iban) == 0)
            return;
    }
    die("internal: no IBAN check digits for %s", c[i].cc);
}

static void gen_person(rng *r, u64set *seen, person *p)
{
    memset(p, 0, sizeof *p);
    p->female = rng_chance(r, 70000); /* municipal workforces are about 70 % women */
    bool samordning = rng_chance(r, 1000);
    gen_pnr(r, seen, p, samordning);
    const char *g = p->female ? (rng_chance(r, 4000) ? PICK(r, given_f_hyph) : PICK(r, given_f))
                              : (rng_chance(r, 4000) ? PICK(r, given_m_hyph) : PICK(r, given_m));
    snprintf(p->given, sizeof p->given, "%s", g);
    uint32_t f1 = rng_below(r, NELEM(family));
    if (rng_chance(r, 3000)) {
        /* Double-barrelled: two different names. */
        uint32_t f2 = (f1 + 1 + rng_below(r, NELEM(family) - 1)) % NELEM(family);
        snprintf(p->family, sizeof p->family, "%s-%s", family[f1], family[f2]);
    } else {
        snprintf(p->family, sizeof p->family, "%s", family[f1]);
    }
    if (rng_chance(r, 500)) {
        static const int lw[] = {50, 45, 5}; /* sekretessmarkering, skyddad folkbokföring, fingerad */
        p->protect = 1 + (int)rng_weighted(r, lw, NELEM(lw));
    }
    /* Bank account: ~1 % IBAN only (much more often for samordningsnummer holders, who are
     * often paid abroad), ~0.2 % none, the rest domestic. */
    uint32_t x = rng_below(r, 100000);
    if (samordning ? x < 40000 : x < 600)
        gen_iban(r, p);
    else if (x < (samordning ? 40200u : 800u))
        ; /* no account: the pay run warns */
    else
        gen_domestic(r, p, !samordning);
    /* Tax: where the person lives decides the table (29-42, around the mid 30s); age the
     * column (column 1 for wages below 66, column 3 for 66 and older at the start of the
     * year); ~2 % have a fixed percentage decided by Skatteverket. */
    static const int table_w[] = {1, 6, 10, 22, 30, 18, 8, 3, 1, 1, 1, 1, 1, 1}; /* 29..42 */
    p->tax_table = 29 + (int)rng_weighted(r, table_w, NELEM(table_w));
    static const int col_w[] = {9600, 60, 120, 100, 80, 40}; /* columns 1..6 */
    p->tax_column = 1 + (int)rng_weighted(r, col_w, NELEM(col_w));
    if (p->by <= 1959 && rng_chance(r, 90000))
        p->tax_column = 3;
    if (samordning && rng_chance(r, 30000)) {
        p->tax_fixed = rng_chance(r, 50000) ? 2500 : 2250; /* SINK */
    } else if (rng_chance(r, 1800)) {
        static const int fixed[] = {3000, 3000, 3000, 3500, 2500, 4000};
        p->tax_fixed = PICK(r, fixed);
    }
}

/* ---- employments and the last pay run ------------------------------------------------ */

typedef struct {
    char id[32];
    date start;
    bool has_end;
    date end;
    bool monthly;
    int64_t salary_ore; /* full-time monthly salary, or hourly rate */
    int extent;         /* hundredths of a percent */
    size_t unit;
} employment;

static int64_t monthly_salary_ore(rng *r)
{
    /* Full-time monthly salaries in a municipality (care, schools, social services,
     * administration, management), in SEK rounded to 100. */
    static const int w[] = {4, 30, 25, 25, 10, 4, 2};
    static const int lo[] = {22000, 25000, 30000, 36000, 44000, 52000, 62000};
    static const int hi[] = {25000, 32000, 38000, 46000, 55000, 64000, 75000};
    size_t g = rng_weighted(r, w, NELEM(w));
    return (int64_t)(rng_int(r, lo[g] / 100, hi[g] / 100)) * 100 * 100;
}

/* A pct value (hundredths) as the format writes it: "100", "62.5", "22.5", "33.33". */
static void pct_fmt(int hundredths, char out[16])
{
    unsigned h = (unsigned)hundredths % 100000u; /* 0..100 %: bounded for the compiler */
    if (h % 100 == 0)
        snprintf(out, 16, "%u", h / 100);
    else if (h % 10 == 0)
        snprintf(out, 16, "%u.%u", h / 100, h / 10 % 10);
    else
        snprintf(out, 16, "%u.%02u", h / 100, h % 100);
}

static void gen_employment(rng *r, const person *p, bool second, size_t nunits,
                           employment *e)
{
    memset(e, 0, sizeof *e);
    e->unit = nunits > 1 ? 1 + rng_below(r, (uint32_t)(nunits - 1)) : 0;
    e->monthly = second ? rng_chance(r, 30000) : rng_chance(r, 84000);
    /* Start: after the 19th birthday year, tenure spread over 0-40 years. */
    static const int tw[] = {25, 20, 20, 20, 15};
    static const int tlo[] = {0, 2, 5, 10, 20}, thi[] = {1, 4, 9, 19, 40};
    size_t tg = rng_weighted(r, tw, NELEM(tw));
    int y = 2026 - rng_int(r, tlo[tg], thi[tg]);
    if (y < p->by + 19)
        y = p->by + 19;
    if (y > 2026)
        y = 2026;
    int m = rng_int(r, 1, y == 2026 ? 10 : 12);
    int d = rng_chance(r, 70000) ? 1 : rng_int(r, 1, days_in_month(y, m));
    e->start = (date){y, m, d};
    if (!second && rng_chance(r, 300)) /* hired, starting after the export */
        e->start = rng_chance(r, 50000) ? (date){2026, 12, 1} : (date){2027, 1, 1};
    /* End: a few left within the last month, some fixed-term contracts end later. */
    uint32_t x = rng_below(r, 100000);
    if (x < (second ? 5000u : 1500u)) {
        int off = rng_int(r, 0, 30); /* 20 October .. 19 November */
        date end = off < 12 ? (date){2026, 10, 20 + off} : (date){2026, 11, off - 11};
        if (date_num(end) >= date_num(e->start)) {
            e->has_end = true;
            e->end = end;
        }
    } else if (x < (second ? 25000u : 5500u)) {
        static const int ends[] = {20261130, 20261231, 20270131, 20270228, 20270630, 20271231};
        e->end = date_from_num(PICK(r, ends));
        e->has_end = date_num(e->end) >= date_num(e->start);
    }
    if (e->monthly) {
        e->salary_ore = monthly_salary_ore(r);
        static const int pt_w[] = {30, 20, 20, 8, 8, 6, 4, 4};
        static const int pt[] = {7500, 5000, 8000, 6250, 9000, 6000, 8500, 4000};
        e->extent = rng_chance(r, 37000) ? pt[rng_weighted(r, pt_w, NELEM(pt_w))] : 10000;
    } else {
        e->salary_ore = (int64_t)rng_int(r, 300, 520) * 50; /* 150.00-260.00 SEK per hour */
        e->extent = 10000;
    }
}

typedef struct {
    int64_t gross, tax, ded, net;
} payline;

/* The October line of an employment, if it was paid: monthly pay prorated by calendar
 * days for a start or end inside the month, hours for most hourly employments. */
static bool gen_payline(rng *r, const taxdata *td, const person *p, const employment *e,
                        payline *pl)
{
    int s = date_num(e->start), en = e->has_end ? date_num(e->end) : 99991231;
    bool paid_hours = rng_chance(r, 85000); /* most hourly employees worked some hours */
    if (s > PERIOD_LAST || en < PERIOD_FIRST)
        return false;
    if (e->monthly) {
        int days = october_day(en) - october_day(s) + 1;
        pl->gross = (e->salary_ore * e->extent * days + 10000 * PERIOD_DAYS / 2) /
                    (10000 * PERIOD_DAYS);
    } else {
        if (!paid_hours)
            return false;
        int64_t quarters = rng_int(r, 16, 640); /* 4 to 160 hours */
        pl->gross = (e->salary_ore * quarters + 2) / 4;
    }
    if (pl->gross <= 0)
        return false;
    int64_t income = pl->gross / 100;
    int64_t tax_sek = p->tax_fixed ? income * p->tax_fixed / 10000
                                   : tax_lookup(td, p->tax_table, p->tax_column, income);
    pl->tax = tax_sek * 100;
    pl->ded = 0;
    if (rng_chance(r, 5000)) {
        int64_t room = (pl->gross - pl->tax) / 2;
        int64_t ded = (int64_t)rng_int(r, 150, 4000) * 100;
        pl->ded = ded < room ? ded : room / 100 * 100;
    }
    pl->net = pl->gross - pl->tax - pl->ded;
    return true;
}

/* ---- --bad ----------------------------------------------------------------------------- */

typedef enum { BAD_NONE, BAD_PNR, BAD_ACCOUNT, BAD_DANGLING, BAD_NET, BAD_DATE } bad_kind;

static const struct {
    const char *name;
    bad_kind kind;
} bad_names[] = {{"pnr-checksum", BAD_PNR},
                 {"account-checksum", BAD_ACCOUNT},
                 {"dangling-employment", BAD_DANGLING},
                 {"net-mismatch", BAD_NET},
                 {"bad-date", BAD_DATE}};

static const char *bad_name(bad_kind k)
{
    for (size_t i = 0; i < NELEM(bad_names); i++)
        if (bad_names[i].kind == k)
            return bad_names[i].name;
    return "";
}

/* ---- writing -------------------------------------------------------------------------- */

static void hex_sha256(const sbuf *b, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)(b->p ? b->p : ""), b->n);
    sodium_bin2hex(out, 65, h, sizeof h);
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s", path);
    if (n <= 0 || (size_t)n >= sizeof tmp)
        return err_set(RL_EUSAGE, "--out: path too long");
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return err_set(RL_EIO, "%s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return err_set(RL_EIO, "%s: %s", tmp, strerror(errno));
    struct stat st;
    if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(RL_EIO, "%s: not a directory", tmp);
    return 0;
}

static int write_out(const char *dir, const char *name, const sbuf *b)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n <= 0 || (size_t)n >= sizeof path)
        return err_set(RL_EUSAGE, "--out: path too long");
    /* 0600: synthetic, but handled like the real thing (personal data). */
    return file_write_atomic(path, b->p ? b->p : "", b->n, 0600);
}

/* Finds the repository root (for the default tax source and key): $TOP, the current
 * directory, or upwards from the executable (build/<variant>/bin/). */
static void find_root(char *out, size_t cap)
{
    char probe[4200];
    const char *top = getenv("TOP");
    if (top != NULL && top[0] != '\0') {
        snprintf(out, cap, "%s", top);
        return;
    }
    if (access(TAX_SOURCE_REL, R_OK) == 0) {
        snprintf(out, cap, ".");
        return;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        for (int up = 0; up < 6; up++) {
            char *slash = strrchr(exe, '/');
            if (slash == NULL || slash == exe)
                break;
            *slash = '\0';
            snprintf(probe, sizeof probe, "%s/%s", exe, TAX_SOURCE_REL);
            if (access(probe, R_OK) == 0) {
                snprintf(out, cap, "%s", exe);
                return;
            }
        }
    }
    snprintf(out, cap, ".");
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gen-snapshot --employees N --seed S --out DIR [--key FILE] [--bad KIND]\n"
            "                    [--tax-source FILE] [--allow-any-key]\n"
            "  Writes a synthetic, signed snapshot (docs/snapshot-format.md) into DIR.\n"
            "  --key         minisign secret key (default keys/test/export-TEST.key); its file\n"
            "                name must contain TEST unless --allow-any-key (synthetic data must\n"
            "                never carry a production signature)\n"
            "  --bad KIND    plant exactly one bad record: pnr-checksum, account-checksum,\n"
            "                dangling-employment, net-mismatch, bad-date\n"
            "  --tax-source  Skatteverket's monthly tables (default app/data/%s)\n",
            strrchr(TAX_SOURCE_REL, '/') + 1);
}

typedef struct {
    long employees;
    uint64_t seed;
    const char *out;
    const char *key;
    const char *tax_source;
    bad_kind bad;
    bool allow_any_key;
} options;

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->employees = -1;
    bool have_seed = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t u = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--allow-any-key") == 0) {
            o->allow_any_key = true;
            continue;
        }
        if (v == NULL)
            return err_set(RL_EUSAGE, "%s: missing value", a);
        i++;
        if (strcmp(a, "--employees") == 0) {
            if (!parse_u64(v, &u) || u < 1 || u > (uint64_t)MAX_EMPLOYEES)
                return err_set(RL_EUSAGE, "--employees: a number from 1 to %ld", MAX_EMPLOYEES);
            o->employees = (long)u;
        } else if (strcmp(a, "--seed") == 0) {
            if (!parse_u64(v, &o->seed))
                return err_set(RL_EUSAGE, "--seed: a non-negative integer");
            have_seed = true;
        } else if (strcmp(a, "--out") == 0) {
            o->out = v;
        } else if (strcmp(a, "--key") == 0) {
            o->key = v;
        } else if (strcmp(a, "--tax-source") == 0) {
            o->tax_source = v;
        } else if (strcmp(a, "--bad") == 0) {
            size_t k;
            for (k = 0; k < NELEM(bad_names); k++)
                if (strcmp(v, bad_names[k].name) == 0)
                    break;
            if (k == NELEM(bad_names))
                return err_set(RL_EUSAGE, "--bad: unknown kind '%s'", v);
            o->bad = bad_names[k].kind;
        } else {
            return err_set(RL_EUSAGE, "unknown option %s", a);
        }
    }
    if (o->employees < 0 || !have_seed || o->out == NULL)
        return err_set(RL_EUSAGE, "--employees, --seed and --out are required");
    return 0;
}

/* ---- main ------------------------------------------------------------------------------ */

typedef struct {
    sbuf org, emp, empl1, empl2, pay1, pay2, empl, pay, manifest;
    taxdata tax;
    u64set seen;
    org_unit *units;
    minisig_seckey *sk;
} state;

static void state_free(state *s)
{
    sbuf *bufs[] = {&s->org, &s->emp, &s->empl1, &s->empl2, &s->pay1,
                    &s->pay2, &s->empl, &s->pay, &s->manifest, &s->tax.csv};
    for (size_t i = 0; i < NELEM(bufs); i++)
        sb_free(bufs[i]);
    for (size_t t = 0; t < NELEM(s->tax.t); t++)
        free(s->tax.t[t].b);
    free(s->seen.slot);
    free(s->units);
    minisig_seckey_free(s->sk);
}

static void write_employee(sbuf *b, const person *p)
{
    sb_str(b, p->pnr);
    sb_add(b, ",", 1);
    sb_csv(b, p->given);
    sb_add(b, ",", 1);
    sb_csv(b, p->family);
    sb_printf(b, ",%d,%s,%s,%s\n", p->protect, p->clearing, p->account, p->iban);
}

static void write_employment(sbuf *b, const employment *e, const char *pnr, const org_unit *u,
                             const person *p, const char *start_override)
{
    char s[16], en[16] = "", ext[16], fixed[16] = "";
    date_fmt(e->start, s);
    if (e->has_end)
        date_fmt(e->end, en);
    pct_fmt(e->extent, ext);
    if (p->tax_fixed)
        pct_fmt(p->tax_fixed, fixed);
    sb_printf(b, "%s,%s,%s,%s,%s,%s,", e->id, pnr, u[e->unit].id,
              start_override ? start_override : s, en, e->monthly ? "monthly" : "hourly");
    if (e->monthly)
        sb_printf(b, "%" PRId64 ",,", e->salary_ore);
    else
        sb_printf(b, ",%" PRId64 ",", e->salary_ore);
    if (p->tax_fixed)
        sb_printf(b, "%s,,,%s\n", ext, fixed);
    else
        sb_printf(b, "%s,%d,%d,\n", ext, p->tax_table, p->tax_column);
}

int main(int argc, char **argv)
{
    int rc = 1;
    options o;
    state st;
    char root[4096], keypath[4400], taxpath[4400];
    struct timespec t0, t1;
    memset(&st, 0, sizeof st);
    clock_gettime(CLOCK_MONOTONIC, &t0);

    int prc = parse_args(argc, argv, &o);
    if (prc != 0) {
        fprintf(stderr, "gen-snapshot: %s\n", err_msg());
        usage(stderr);
        return err_exit_code(prc);
    }
    if (sodium_init() < 0)
        die("libsodium initialisation failed");
    find_root(root, sizeof root);
    snprintf(keypath, sizeof keypath, "%s", o.key ? o.key : "");
    if (o.key == NULL)
        snprintf(keypath, sizeof keypath, "%s/%s", root, KEY_REL);
    snprintf(taxpath, sizeof taxpath, "%s", o.tax_source ? o.tax_source : "");
    if (o.tax_source == NULL)
        snprintf(taxpath, sizeof taxpath, "%s/%s", root, TAX_SOURCE_REL);
    const char *kbase = strrchr(keypath, '/') ? strrchr(keypath, '/') + 1 : keypath;
    if (!o.allow_any_key && strstr(kbase, "TEST") == NULL) {
        fprintf(stderr, "gen-snapshot: refusing key %s: its name does not contain TEST "
                        "(synthetic data signed with a real export key would be importable "
                        "in production; use --allow-any-key for a throwaway test key)\n",
                keypath);
        return 2;
    }
    int r = minisig_seckey_load(keypath, &st.sk);
    if (r == 0)
        r = tax_load(taxpath, &st.tax);
    if (r == 0)
        r = mkdir_p(o.out);
    if (r != 0) {
        fprintf(stderr, "gen-snapshot: %s\n", err_msg());
        rc = err_exit_code(r);
        goto cleanup;
    }

    rng rorg, rpeople, remp, rpay, rbad;
    rng_init(&rorg, o.seed, 1);
    rng_init(&rpeople, o.seed, 2);
    rng_init(&remp, o.seed, 3);
    rng_init(&rpay, o.seed, 4);
    rng_init(&rbad, o.seed, 5);

    size_t nunits = 0;
    st.units = org_build(&rorg, o.employees, &nunits);
    sb_str(&st.org, "org_unit_id,name,parent_id\n");
    for (size_t i = 0; i < nunits; i++) {
        sb_printf(&st.org, "%s,", st.units[i].id);
        sb_csv(&st.org, st.units[i].name);
        sb_printf(&st.org, ",%s\n", st.units[i].parent < 0 ? "" : st.units[st.units[i].parent].id);
    }

    set_init(&st.seen, (size_t)o.employees + 16);
    sb_str(&st.emp, "personnummer,given_name,family_name,protected_identity,clearing,account,iban\n");
    sb_str(&st.empl1, "employment_id,personnummer,org_unit_id,start_date,end_date,pay_type,"
                      "monthly_salary_ore,hourly_rate_ore,extent_pct,tax_table,tax_column,"
                      "tax_fixed_pct\n");
    sb_str(&st.pay1, "employment_id,period,pay_date,gross_ore,tax_ore,deductions_ore,net_ore\n");

    /* The victim of --bad: somewhere in the middle, the first eligible person from there. */
    long victim = o.employees / 3 + (long)rng_below(&rbad, (uint32_t)(o.employees / 3 + 1));
    bool bad_done = false;
    char bad_msg[512] = "";
    size_t n_empl1 = 0, n_empl2 = 0, n_pay1 = 0, n_pay2 = 0;
    long second_seq = 0;
    /* Secondary employments get ids above N and go after all primary ones (a second
     * contract is registered later than the first), in their own buffers; --bad only
     * touches primary records, whose line numbers are known as they are written. */
    for (long i = 0; i < o.employees; i++) {
        person p;
        gen_person(&rpeople, &st.seen, &p);
        bool is_victim = o.bad != BAD_NONE && !bad_done && i >= victim;
        size_t emp_line = (size_t)i + 2;

        /* A bad record's dependants (employments of a bad person, the pay line of a bad
         * employment) are generated, so the random streams stay as in the good snapshot,
         * but not written: an importer that also rejects what refers to a rejected record
         * must still report exactly one line. */
        bool suppress = false;
        if (is_victim && o.bad == BAD_ACCOUNT && p.type1_account) {
            /* A one-digit change under a mod 11 check with weights 1-10 never passes;
             * checked with ident anyway. */
            size_t al = strlen(p.account);
            p.account[al - 1] = (char)('0' + (p.account[al - 1] - '0' + 1) % 10);
            ident_account a;
            if (ident_account_parse(p.clearing, p.account, &a) == 0)
                die("internal: corrupted account still valid");
            snprintf(bad_msg, sizeof bad_msg, "employees.csv line %zu: account check digit "
                     "wrong (clearing %s; the person has no employment)", emp_line, p.clearing);
            suppress = true;
            bad_done = true;
        }
        if (is_victim && o.bad == BAD_PNR && strcmp(p.clearing, "3300") != 0) {
            /* Wrong check digit; not a Nordea personkonto, whose account repeats the
             * number. */
            p.pnr[11] = (char)('0' + (p.pnr[11] - '0' + 1) % 10);
            ident_pnr chk;
            if (ident_pnr_parse(p.pnr, TODAY, &chk) == 0)
                die("internal: corrupted personnummer still valid");
            snprintf(bad_msg, sizeof bad_msg, "employees.csv line %zu: personnummer check "
                     "digit wrong (the person has no employment)", emp_line);
            suppress = true;
            bad_done = true;
        }
        write_employee(&st.emp, &p);

        int nemp = rng_chance(&remp, 4000) ? 2 : 1;
        for (int k = 0; k < nemp; k++) {
            employment e;
            bool second = k == 1;
            gen_employment(&remp, &p, second, nunits, &e);
            if (second)
                snprintf(e.id, sizeof e.id, "E%07ld", o.employees + ++second_seq);
            else
                snprintf(e.id, sizeof e.id, "E%07ld", i + 1);
            sbuf *eb = second ? &st.empl2 : &st.empl1;
            size_t *ecount = second ? &n_empl2 : &n_empl1;
            payline pl = {0, 0, 0, 0};
            bool paid = gen_payline(&rpay, &st.tax, &p, &e, &pl);
            const char *pnr = p.pnr;
            char other_pnr[13];
            const char *start_override = NULL;
            char bad_start[16];
            bool victim_here = is_victim && !bad_done && !second;
            if (victim_here && o.bad == BAD_DANGLING) {
                /* A valid, unused personnummer that is not in employees.csv. */
                person ghost;
                memset(&ghost, 0, sizeof ghost);
                gen_pnr(&rbad, &st.seen, &ghost, false);
                memcpy(other_pnr, ghost.pnr, 13);
                pnr = other_pnr;
                snprintf(bad_msg, sizeof bad_msg, "employments.csv line %zu (%s): "
                         "personnummer not in employees.csv (no pay line refers to it)",
                         n_empl1 + 2, e.id);
                paid = false;
                bad_done = true;
            }
            if (victim_here && o.bad == BAD_DATE) {
                /* A day that does not exist: 29 February of a common year or 31 April. */
                int y = e.start.y;
                if (ident_date_valid(y, 2, 29))
                    snprintf(bad_start, sizeof bad_start, "%04u-04-31", (unsigned)y % 10000u);
                else
                    snprintf(bad_start, sizeof bad_start, "%04u-02-29", (unsigned)y % 10000u);
                start_override = bad_start;
                snprintf(bad_msg, sizeof bad_msg, "employments.csv line %zu (%s): start_date "
                         "%s does not exist (no pay line refers to it)", n_empl1 + 2, e.id,
                         bad_start);
                paid = false;
                bad_done = true;
            }
            if (suppress)
                continue;
            write_employment(eb, &e, pnr, st.units, &p, start_override);
            (*ecount)++;
            if (!paid)
                continue;
            int64_t net = pl.net;
            if (victim_here && o.bad == BAD_NET) {
                net += 100; /* one krona too much */
                snprintf(bad_msg, sizeof bad_msg, "last_payrun.csv line %zu (%s): net_ore is "
                         "gross - tax - deductions + 100", n_pay1 + 2, e.id);
                bad_done = true;
            }
            sbuf *pb = second ? &st.pay2 : &st.pay1;
            sb_printf(pb, "%s," PERIOD "," PAY_DATE ",%" PRId64 ",%" PRId64 ",%" PRId64
                          ",%" PRId64 "\n",
                      e.id, pl.gross, pl.tax, pl.ded, net);
            (*(second ? &n_pay2 : &n_pay1))++;
        }
    }
    if (o.bad != BAD_NONE && !bad_done)
        die("could not place the bad record (too few employees?)");

    /* Assemble: primary employments then secondary ones, same for the pay run. */
    sb_add(&st.empl, st.empl1.p, st.empl1.n);
    if (st.empl2.n)
        sb_add(&st.empl, st.empl2.p, st.empl2.n);
    sb_add(&st.pay, st.pay1.p, st.pay1.n);
    if (st.pay2.n)
        sb_add(&st.pay, st.pay2.p, st.pay2.n);

    /* Manifest. */
    static const char *const names[] = {"org_units.csv", "employees.csv", "employments.csv",
                                        "last_payrun.csv", "tax_tables.csv"};
    const sbuf *files[] = {&st.org, &st.emp, &st.empl, &st.pay, &st.tax.csv};
    uint64_t rows[] = {nunits, (uint64_t)o.employees, n_empl1 + n_empl2, n_pay1 + n_pay2,
                       st.tax.rows};
    char orgnr[11], nine[10], cand[11];
    snprintf(nine, sizeof nine, "212000%03u", (unsigned)(o.seed % 1000));
    snprintf(cand, sizeof cand, "%s%d", nine, ident_luhn_digit(nine, 9));
    if (ident_orgnr_parse(cand, orgnr) != 0)
        die("internal: employer orgnr %s refused: %s", cand, err_msg());
    char export_time[32];
    snprintf(export_time, sizeof export_time, "2026-11-20T18:%02u:%02uZ",
             (unsigned)(o.seed / 60 % 60), (unsigned)(o.seed % 60));
    char source[128];
    snprintf(source, sizeof source, "gen-snapshot (synthetic TEST data, seed %" PRIu64 ")",
             o.seed);
    {
        char *mbuf = NULL;
        size_t mlen = 0;
        FILE *f = open_memstream(&mbuf, &mlen);
        if (f == NULL)
            die("out of memory");
        fputs("{\n  \"format\": \"reservlon-snapshot\",\n  \"version\": 1,\n  \"source_system\": ", f);
        json_write_string(f, source);
        fputs(",\n  \"export_time\": ", f);
        json_write_string(f, export_time);
        fputs(",\n  \"employer_orgnr\": ", f);
        json_write_string(f, orgnr);
        fputs(",\n  \"files\": {\n", f);
        for (size_t i = 0; i < NELEM(names); i++) {
            char hex[65];
            hex_sha256(files[i], hex);
            fputs("    ", f);
            json_write_string(f, names[i]);
            fprintf(f, ": {\"rows\": %" PRIu64 ", \"sha256\": \"%s\"}%s\n", rows[i], hex,
                    i + 1 < NELEM(names) ? "," : "");
        }
        fputs("  }\n}\n", f);
        if (fclose(f) != 0)
            die("out of memory");
        sb_add(&st.manifest, mbuf, mlen);
        free(mbuf);
    }
    /* The manifest must be what the importer's parser accepts. */
    json_value *check = NULL;
    if (json_parse(st.manifest.p, st.manifest.n, &check) != 0)
        die("internal: manifest is not valid JSON: %s", err_msg());
    json_free(check);

    for (size_t i = 0; i < NELEM(names) && r == 0; i++)
        r = write_out(o.out, names[i], files[i]);
    if (r == 0)
        r = write_out(o.out, "manifest.json", &st.manifest);
    char mpath[4200], tc[512];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", o.out);
    snprintf(tc, sizeof tc, "reservlon-snapshot manifest.json export_time:%s employees:%ld "
             "source:gen-snapshot SYNTHETIC TEST seed:%" PRIu64 "%s%s",
             export_time, o.employees, o.seed, o.bad ? " bad:" : "", bad_name(o.bad));
    if (r == 0)
        r = minisig_sign_file(st.sk, mpath, tc);
    if (r != 0) {
        fprintf(stderr, "gen-snapshot: %s\n", err_msg());
        rc = err_exit_code(r);
        goto cleanup;
    }
    if (o.bad != BAD_NONE)
        fprintf(stderr, "gen-snapshot: --bad %s: %s\n", bad_name(o.bad), bad_msg);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("gen-snapshot: %s: %zu org units, %ld employees, %zu employments, %zu pay lines, "
           "%zu tax rows (%.2f s)\n",
           o.out, nunits, o.employees, n_empl1 + n_empl2, n_pay1 + n_pay2, st.tax.rows,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    rc = 0;
cleanup:
    state_free(&st);
    return rc;
}

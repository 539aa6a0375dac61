/* ident: personnummer, samordningsnummer, organisationsnummer, Swedish bank accounts and
 * IBANs. The rules and their sources are in docs/identity-and-accounts.md; the clearing
 * table is in clearing_table.c.
 *
 * Every error message names the field and the problem but never echoes the whole number:
 * messages end up in logs and on screens, and an identity or account number is personal
 * data. Positions, lengths and the clearing number (a bank branch, not personal) may be
 * named. */
#include "ident/ident.h"

#include <string.h>

#include "common/err.h"

/* ---- small character and digit helpers ------------------------------------------- */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int digit_at(const char *s, size_t i) { return s[i] - '0'; }

/* Parses n decimal digits at s (the caller has checked they are digits). */
static int num_at(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

static bool all_zero(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '0')
            return false;
    return true;
}

/* Surrounding white space is what a CSV cell or a form field commonly carries; it is
 * trimmed. White space inside a number is only accepted where a contract says so. */
static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*s)[*n - 1]))
        (*n)--;
}

/* ---- Luhn ------------------------------------------------------------------------- */

/* Sum of the Luhn test over n digits, weights 1,2,1,2,... from the right. */
static int luhn_sum(const char *d, size_t n, int first_weight)
{
    int sum = 0, w = first_weight;
    for (size_t i = n; i-- > 0;) {
        int v = digit_at(d, i) * w;
        sum += v > 9 ? v - 9 : v;
        w = 3 - w;
    }
    return sum;
}

int ident_luhn_digit(const char *digits, size_t n)
{
    if (!digits || !all_digits(digits, n))
        return -1;
    /* The check digit will take weight 1, so the payload's last digit takes weight 2. */
    return (10 - luhn_sum(digits, n, 2) % 10) % 10;
}

bool ident_luhn_ok(const char *digits, size_t n)
{
    if (!digits || n == 0 || !all_digits(digits, n))
        return false;
    return luhn_sum(digits, n, 1) % 10 == 0;
}

/* Bankgirot's modulus 11: weights 1,2,...,10,1,2,... from the right (so 10,9,...,1 for a
 * 10-digit string and 1,10,9,...,1 for 11 digits). A zero sum means all zeros, which no
 * bank issues, so it fails (as npm kontonummer does). */
static bool mod11_ok(const char *d, size_t n)
{
    int sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += digit_at(d, n - 1 - i) * (int)(i % 10 + 1);
    return sum != 0 && sum % 11 == 0;
}

/* ---- dates ------------------------------------------------------------------------ */

static bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool ident_date_valid(int y, int m, int d)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    /* Year 0 does not exist in the civil calendar (1 BC is followed by AD 1). */
    if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1)
        return false;
    int max = mdays[m - 1] + (m == 2 && is_leap(y) ? 1 : 0);
    return d <= max;
}

/* ---- personnummer and samordningsnummer ------------------------------------------ */

/* The field name for messages: once the day shows a samordningsnummer, say so. */
static const char *pnr_field(int day) { return day > 60 ? "samordningsnummer" : "personnummer"; }

/* Checks the 10 digits YYMMDDNNNC of a number whose full year is `year`: the date (day - 60
 * for a samordningsnummer), the birth number and the check digit. */
static int pnr_check_body(const char *ten, int year, ident_kind *kind)
{
    int month = num_at(ten + 2, 2), day = num_at(ten + 4, 2);
    const char *field = pnr_field(day);
    int real_day = day > 60 ? day - 60 : day;
    if (!ident_date_valid(year, month, real_day))
        return err_set(RL_EDATA, "%s: no such date", field);
    if (num_at(ten + 6, 3) == 0)
        return err_set(RL_EDATA, "%s: birth number 000 is not used", field);
    if (!ident_luhn_ok(ten, 10))
        return err_set(RL_EDATA, "%s: check digit mismatch", field);
    *kind = day > 60 ? IDENT_SAMORDNINGSNUMMER : IDENT_PERSONNUMMER;
    return 0;
}

/* The full year for a 10-digit form: the latest century that puts the birth date on or
 * before today, 100 years earlier with '+'. Compares the whole date, not just the year, so
 * that on 2026-11-24 "261201-..." is 1926 (a birth date next week is not possible). */
static int pnr_infer_year(int yy, int mm, int real_day, uint32_t today, bool plus)
{
    int ty = (int)(today / 10000u);
    int year = ty - ty % 100 + yy;
    if ((long)year * 10000 + mm * 100 + real_day > (long)today)
        year -= 100;
    return plus ? year - 100 : year;
}

static bool today_valid(uint32_t today)
{
    return ident_date_valid((int)(today / 10000u), (int)(today / 100u % 100u),
                            (int)(today % 100u));
}

int ident_pnr_parse(const char *text, uint32_t today, ident_pnr *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!text || !out)
        return err_set(RL_EDATA, "personnummer: missing");
    const char *s = text;
    size_t n = strlen(text);
    trim(&s, &n);
    if (n == 0)
        return err_set(RL_EDATA, "personnummer: empty");
    /* A character that never belongs (an en dash pasted from a document, a letter) is named
     * as such, even in a value too long to be a number. */
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]) && s[i] != '-' && s[i] != '+')
            return err_set(RL_EDATA, "personnummer: unexpected character at position %zu", i + 1);
    if (n > 13)
        return err_set(RL_EDATA, "personnummer: too long (10 or 12 digits)");

    /* Split into the digits and an optional separator before the last four. */
    char digits[13];
    size_t nd = 0;
    char sep = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (is_digit(c)) {
            digits[nd++] = c;
        } else if ((c == '-' || c == '+') && sep == 0 && i + 5 == n) {
            sep = c;
        } else {
            return err_set(RL_EDATA, "personnummer: unexpected character at position %zu", i + 1);
        }
    }
    if (nd != 10 && nd != 12)
        return err_set(RL_EDATA, "personnummer: wrong length (10 or 12 digits)");
    digits[nd] = '\0';

    int year;
    const char *ten = digits + (nd - 10);
    if (nd == 12) {
        /* The century is explicit; '+' only means something when it is not. */
        if (sep == '+')
            return err_set(RL_EDATA, "personnummer: '+' is only used with the 10-digit form");
        year = num_at(digits, 4);
    } else {
        if (!today_valid(today))
            return err_set(RL_EDATA, "personnummer: invalid reference date for the century");
        int day = num_at(ten + 4, 2);
        int mm = num_at(ten + 2, 2);
        year = pnr_infer_year(num_at(ten, 2), mm, day > 60 ? day - 60 : day, today, sep == '+');
        if (year < 1)
            return err_set(RL_EDATA, "%s: no such date", pnr_field(day));
    }
    int rc = pnr_check_body(ten, year, &out->kind);
    if (rc)
        return rc;
    /* year is 1..9999 here (pnr_check_body checked the date). */
    out->digits[0] = (char)('0' + year / 1000);
    out->digits[1] = (char)('0' + year / 100 % 10);
    out->digits[2] = (char)('0' + year / 10 % 10);
    out->digits[3] = (char)('0' + year % 10);
    memcpy(out->digits + 4, ten + 2, 8);
    out->digits[12] = '\0';
    return 0;
}

/* ---- organisationsnummer ----------------------------------------------------------- */

int ident_orgnr_parse(const char *text, char out[11])
{
    if (out)
        memset(out, 0, 11);
    if (!text || !out)
        return err_set(RL_EDATA, "orgnr: missing");
    const char *s = text;
    size_t n = strlen(text);
    trim(&s, &n);
    if (n == 0)
        return err_set(RL_EDATA, "orgnr: empty");
    if (n > 13)
        return err_set(RL_EDATA, "orgnr: too long (10 digits)");

    /* "16" is the century-style prefix some systems (Skatteverket's AGI among them) put in
     * front to make orgnr and personnummer both 12 digits. */
    size_t ndig = 0;
    for (size_t i = 0; i < n; i++)
        ndig += is_digit(s[i]);
    if (ndig == 12 && n >= 2 && s[0] == '1' && s[1] == '6') {
        s += 2;
        n -= 2;
    }
    char d[11];
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_digit(s[i]) && nd < 10) {
            d[nd++] = s[i];
        } else if (s[i] == '-' && i == 6 && n == 11) {
            continue;
        } else if (is_digit(s[i])) {
            return err_set(RL_EDATA, "orgnr: wrong length (10 digits)");
        } else {
            return err_set(RL_EDATA, "orgnr: unexpected character at position %zu", i + 1);
        }
    }
    if (nd != 10)
        return err_set(RL_EDATA, "orgnr: wrong length (10 digits)");
    d[10] = '\0';
    /* The third digit is >= 2 for every legal person; a 0 or 1 there is a month, i.e. a
     * personnummer (a sole trader's), which must be registered as such. */
    if (d[2] < '2')
        return err_set(RL_EDATA, "orgnr: third digit must be 2 or more (a personnummer is not "
                                 "an organisationsnummer)");
    if (!ident_luhn_ok(d, 10))
        return err_set(RL_EDATA, "orgnr: check digit mismatch");
    memcpy(out, d, 11);
    return 0;
}

/* ---- bank accounts ---------------------------------------------------------------- */

/* Copies the digits of text into dst (at most cap digits), skipping the separators people
 * write in account numbers. *n gets the digit count; too many digits is an error. */
static int collect_digits(const char *text, char *dst, size_t cap, size_t *n, const char *field)
{
    size_t nd = 0;
    const char *s = text;
    size_t len = strlen(text);
    trim(&s, &len);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == ' ' || c == '-' || c == '.' || c == ',')
            continue;
        if (!is_digit(c))
            return err_set(RL_EDATA, "%s: unexpected character at position %zu", field, i + 1);
        if (nd == cap)
            return err_set(RL_EDATA, "%s: too long", field);
        dst[nd++] = c;
    }
    dst[nd] = '\0';
    *n = nd;
    return 0;
}

typedef struct {
    int from, to;
    const char *bank;
    int type, comment, len_min, len_max;
} clearing_info;

/* Finds the row for a clearing number. Where rows overlap (only 3400-3499 Länsförsäkringar
 * and 3410-3781 Nordea in the 2024 table) the row that starts latest wins: it is the more
 * specific allocation and reproduces Bankgirot's own boundary (Länsförsäkringar 3400-3409,
 * Nordea from 3410). Both rows are type 1 comment 1, so only the bank name depends on it.
 * See clearing_table.c. */
static bool clearing_find(int clearing, clearing_info *ci)
{
    bool found = false;
    size_t count = ident_clearing_count();
    for (size_t i = 0; i < count; i++) {
        clearing_info r;
        ident_clearing_row(i, &r.from, &r.to, &r.bank, &r.type, &r.comment, &r.len_min,
                           &r.len_max);
        if (clearing < r.from || clearing > r.to)
            continue;
        if (!found || r.from > ci->from)
            *ci = r;
        found = true;
    }
    return found;
}

static int account_length_error(const clearing_info *ci)
{
    if (ci->len_min == ci->len_max)
        return err_set(RL_EDATA, "account: wrong length for %s (%d digits)", ci->bank,
                       ci->len_min);
    return err_set(RL_EDATA, "account: wrong length for %s (%d-%d digits)", ci->bank,
                   ci->len_min, ci->len_max);
}

/* Nordea personkonto (clearing 3300): the account is the holder's personnummer (or
 * samordningsnummer) as YYMMDDNNNC. Without a reference date the century is unknown, so the
 * date is checked in the most permissive candidate century (2000 + YY: leap whenever YY is
 * a multiple of 4), which only matters for 29 February. */
static int nordea_personkonto_check(const char *acct)
{
    ident_kind kind;
    int rc = pnr_check_body(acct, 2000 + num_at(acct, 2), &kind);
    if (rc == 0)
        return 0;
    /* Re-label: the field is the account, the rule is the personnummer's. */
    return err_wrap(rc, "account (Nordea personkonto 3300): ");
}

int ident_account_parse(const char *clearing, const char *account, ident_account *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!out || !clearing)
        return err_set(RL_EDATA, "clearing: missing");
    if (!account)
        return err_set(RL_EDATA, "account: missing");

    char cl[6];
    size_t ncl;
    int rc = collect_digits(clearing, cl, 5, &ncl, "clearing");
    if (rc)
        return rc;
    if (ncl == 5) {
        /* Swedbank writes 8xxx-x: the 5th digit is a Luhn check on the 4 clearing digits,
         * which the bank's own systems drop. Other banks never have a 5th digit. */
        if (cl[0] != '8')
            return err_set(RL_EDATA, "clearing: 5 digits are only used for Swedbank 8xxx-x");
        if (ident_luhn_digit(cl, 4) != digit_at(cl, 4))
            return err_set(RL_EDATA, "clearing: Swedbank check digit (5th digit) mismatch");
    } else if (ncl != 4) {
        return err_set(RL_EDATA, "clearing: wrong length (4 digits, or 5 for Swedbank 8xxx-x)");
    }
    cl[4] = '\0';
    int clno = num_at(cl, 4);
    clearing_info ci = {0}; /* zeroed only to quiet -Wmaybe-uninitialized */
    if (!clearing_find(clno, &ci))
        return err_set(RL_EDATA, "clearing: %s is not a known clearing number", cl);

    char acct[16];
    size_t na;
    rc = collect_digits(account, acct, sizeof acct - 1, &na, "account");
    if (rc)
        return rc;
    if (na == 0)
        return err_set(RL_EDATA, "account: empty");

    bool swedbank8 = ci.type == 2 && ci.comment == 3 && ci.from == 8000;
    if (swedbank8 && na == 11) {
        /* The table allows 11 digits for Swedbank 8xxx because the 5-digit clearing is
         * often split as 4 + (check digit glued to the account). Accept exactly that. */
        if (ncl == 5 || ident_luhn_digit(cl, 4) != digit_at(acct, 0))
            return err_set(RL_EDATA, "account: wrong length for Swedbank (10 digits after the "
                                     "clearing's check digit)");
        memmove(acct, acct + 1, na);
        na--;
    }
    if ((int)na < ci.len_min || (int)na > ci.len_max || (swedbank8 && na != 10)) {
        if (swedbank8)
            return err_set(RL_EDATA, "account: wrong length for Swedbank (10 digits; pad "
                                     "shorter accounts with leading zeros)");
        return account_length_error(&ci);
    }
    if (all_zero(acct, na))
        return err_set(RL_EDATA, "account: all zeros");

    bool warning = false;
    if (ci.type == 1) {
        /* Comment 1: last 3 clearing digits + 7 account digits; comment 2: all 4 + 7. */
        char buf[11];
        size_t skip = ci.comment == 1 ? 1 : 0;
        memcpy(buf, cl + skip, 4 - skip);
        memcpy(buf + 4 - skip, acct, 7);
        if (!mod11_ok(buf, 11 - skip))
            return err_set(RL_EDATA, "account: check digit mismatch");
    } else if (ci.comment == 1 && clno == 3300) {
        rc = nordea_personkonto_check(acct);
        if (rc)
            return rc;
    } else if (ci.comment == 1) {
        if (!ident_luhn_ok(acct, na))
            return err_set(RL_EDATA, "account: check digit mismatch");
    } else if (ci.comment == 2) {
        /* Handelsbanken: 9 digits, an 8-digit account has a leading zero dropped. */
        char buf[9];
        size_t pad = 9 - na;
        memset(buf, '0', pad);
        memcpy(buf + pad, acct, na);
        if (!mod11_ok(buf, 9))
            return err_set(RL_EDATA, "account: check digit mismatch");
    } else {
        /* Comment 3: Luhn over the account digits. Some old Swedbank accounts carry no check
         * digit and cannot be told apart from a typo (Bankgirot; SOURCES.txt): they pass
         * with a warning so the user is told to double-check, instead of blocking a salary. */
        if (!ident_luhn_ok(acct, na)) {
            if (!swedbank8)
                return err_set(RL_EDATA, "account: check digit mismatch");
            warning = true;
        }
    }

    memcpy(out->clearing, cl, 5);
    memcpy(out->account, acct, na + 1);
    size_t bl = strlen(ci.bank);
    if (bl >= sizeof out->bank)
        bl = sizeof out->bank - 1;
    memcpy(out->bank, ci.bank, bl);
    out->bank[bl] = '\0';
    out->type = ci.type;
    out->comment = ci.comment;
    out->warning = warning;
    return 0;
}

/* ---- IBAN ------------------------------------------------------------------------- */

/* IBAN length and BBAN structure per country, from the SWIFT IBAN Registry (runs of n =
 * digits, a = upper-case letters, c = letters or digits, adjacent runs of one class merged),
 * as carried by python-stdnum 1.18's iban.dat; the e2e test cross-checks against it. */
typedef struct {
    char cc[3];
    unsigned char len;
    const char *bban;
} iban_country;

static const iban_country iban_countries[] = {
    {"AD", 24, "8n12c"}, {"AE", 23, "19n"}, {"AL", 28, "8n16c"}, {"AT", 20, "16n"},
    {"AZ", 28, "4a20c"}, {"BA", 20, "16n"}, {"BE", 16, "12n"}, {"BG", 22, "4a6n8c"},
    {"BH", 22, "4a14c"}, {"BI", 27, "23n"}, {"BR", 29, "23n1a1c"}, {"BY", 28, "4c4n16c"},
    {"CH", 21, "5n12c"}, {"CR", 22, "18n"}, {"CY", 28, "8n16c"}, {"CZ", 24, "20n"},
    {"DE", 22, "18n"}, {"DJ", 27, "23n"}, {"DK", 18, "14n"}, {"DO", 28, "4c20n"},
    {"EE", 20, "16n"}, {"EG", 29, "25n"}, {"ES", 24, "20n"}, {"FI", 18, "14n"},
    {"FO", 18, "14n"}, {"FR", 27, "10n11c2n"}, {"GB", 22, "4a14n"}, {"GE", 22, "2a16n"},
    {"GI", 23, "4a15c"}, {"GL", 18, "14n"}, {"GR", 27, "7n16c"}, {"GT", 28, "24c"},
    {"HR", 21, "17n"}, {"HU", 28, "24n"}, {"IE", 22, "4a14n"}, {"IL", 23, "19n"},
    {"IQ", 23, "4a15n"}, {"IS", 26, "22n"}, {"IT", 27, "1a10n12c"}, {"JO", 30, "4a4n18c"},
    {"KW", 30, "4a22c"}, {"KZ", 20, "3n13c"}, {"LB", 28, "4n20c"}, {"LC", 32, "4a24c"},
    {"LI", 21, "5n12c"}, {"LT", 20, "16n"}, {"LU", 20, "3n13c"}, {"LV", 21, "4a13c"},
    {"LY", 25, "21n"}, {"MC", 27, "10n11c2n"}, {"MD", 24, "20c"}, {"ME", 22, "18n"},
    {"MK", 19, "3n10c2n"}, {"MR", 27, "23n"}, {"MT", 31, "4a5n18c"}, {"MU", 30, "4a19n3a"},
    {"NL", 18, "4a10n"}, {"NO", 15, "11n"}, {"PK", 24, "4a16c"}, {"PL", 28, "24n"},
    {"PS", 29, "4a21c"}, {"PT", 25, "21n"}, {"QA", 29, "4a21c"}, {"RO", 24, "4a16c"},
    {"RS", 22, "18n"}, {"RU", 33, "14n15c"}, {"SA", 24, "2n18c"}, {"SC", 31, "4a20n3a"},
    {"SD", 18, "14n"}, {"SE", 24, "20n"}, {"SI", 19, "15n"}, {"SK", 24, "20n"},
    {"SM", 27, "1a10n12c"}, {"ST", 25, "21n"}, {"SV", 28, "4a20n"}, {"TL", 23, "19n"},
    {"TN", 24, "20n"}, {"TR", 26, "6n16c"}, {"UA", 29, "6n19c"}, {"VA", 22, "18n"},
    {"VG", 24, "4a16n"}, {"XK", 20, "16n"},
};

/* ISO 13616 caps an IBAN at 34 characters; no registered country is shorter than 15
 * (Norway), which is the floor we apply to countries not in the table. */
enum { IBAN_MAX = 34, IBAN_MIN = 15 };

static const iban_country *iban_country_find(const char *cc)
{
    for (size_t i = 0; i < sizeof iban_countries / sizeof iban_countries[0]; i++)
        if (iban_countries[i].cc[0] == cc[0] && iban_countries[i].cc[1] == cc[1])
            return &iban_countries[i];
    return NULL;
}

/* Checks the BBAN s[0..n) against a merged structure such as "4a14n". The lengths add up
 * to n (the caller checked the total length). */
static bool iban_bban_ok(const char *s, size_t n, const char *fmt)
{
    size_t pos = 0;
    while (*fmt) {
        size_t run = 0;
        while (is_digit(*fmt))
            run = run * 10 + (size_t)(*fmt++ - '0');
        char cls = *fmt++;
        for (size_t i = 0; i < run; i++, pos++) {
            if (pos >= n)
                return false;
            char c = s[pos];
            bool ok = cls == 'n' ? is_digit(c) : cls == 'a' ? is_upper(c)
                                                            : is_digit(c) || is_upper(c);
            if (!ok)
                return false;
        }
    }
    return pos == n;
}

/* ISO 7064 mod 97-10 over the rearranged IBAN (BBAN, then country and check digits), with
 * letters as 10..35, computed digit by digit so no big integers are needed. */
static int iban_mod97(const char *s, size_t n)
{
    int r = 0;
    for (size_t k = 0; k < n; k++) {
        char c = s[(k + 4) % n];
        if (is_digit(c)) {
            r = (r * 10 + (c - '0')) % 97;
        } else {
            int v = c - 'A' + 10;
            r = (r * 100 + v) % 97;
        }
    }
    return r;
}

int ident_iban_parse(const char *text, char out[35])
{
    if (out)
        memset(out, 0, 35);
    if (!text || !out)
        return err_set(RL_EDATA, "iban: missing");
    char s[IBAN_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; text[i]; i++) {
        char c = text[i];
        if (is_space(c))
            continue;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (!is_digit(c) && !is_upper(c))
            return err_set(RL_EDATA, "iban: unexpected character at position %zu", i + 1);
        if (n == IBAN_MAX)
            return err_set(RL_EDATA, "iban: too long (at most %d characters)", IBAN_MAX);
        s[n++] = c;
    }
    s[n] = '\0';
    if (n == 0)
        return err_set(RL_EDATA, "iban: empty");
    if (n < 4 || !is_upper(s[0]) || !is_upper(s[1]))
        return err_set(RL_EDATA, "iban: must start with a two-letter country code");
    if (!is_digit(s[2]) || !is_digit(s[3]))
        return err_set(RL_EDATA, "iban: the 3rd and 4th characters must be check digits");
    const iban_country *c = iban_country_find(s);
    if (c) {
        if (n != c->len)
            return err_set(RL_EDATA, "iban: wrong length for %.2s (%u characters)", s,
                           (unsigned)c->len);
        if (!iban_bban_ok(s + 4, n - 4, c->bban))
            return err_set(RL_EDATA, "iban: wrong format for %.2s", s);
    } else if (n < IBAN_MIN) {
        return err_set(RL_EDATA, "iban: too short (at least %d characters)", IBAN_MIN);
    }
    /* ISO 13616 check digits run 02..98; 00, 01 and 99 can satisfy mod 97 only as aliases
     * of 97, 98 and 02, so they are typos, not IBANs. */
    int cd = num_at(s + 2, 2);
    if (cd < 2 || cd > 98 || iban_mod97(s, n) != 1)
        return err_set(RL_EDATA, "iban: check digits mismatch");
    memcpy(out, s, n + 1);
    return 0;
}

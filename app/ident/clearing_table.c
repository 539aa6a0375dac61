/* clearing_table: Bankgirot's clearing-number ranges as a C table.
 *
 * Row for row the same as app/data/clearing-ranges.csv (Bankgirot, "Bankernas
 * kontonummeruppbyggnad", edition 2024-02-22, as encoded in npm kontonummer 6.0.1); the unit
 * test test_ident compares the two at test time, so change both together. The table is
 * compiled in rather than read at run time because the appliance must validate accounts
 * with no data files present, and a compiled table cannot be swapped behind our back.
 *
 * Overlap: the rows 3400-3499 (Länsförsäkringar Bank) and 3410-3781 (Nordea) overlap. Both
 * are type 1 comment 1, so the check is the same whichever row wins; only the bank name
 * differs. Bankgirot's own document and other published lists give Länsförsäkringar
 * 3400-3409 and Nordea from 3410, so ident.c picks, among matching rows, the one that starts
 * latest (the most specific allocation): 3400-3409 -> Länsförsäkringar, 3410-3499 -> Nordea.
 * The CSV keeps kontonummer's 3400-3499 so that it stays a faithful copy of its source. */
#include "ident/ident.h"

#include <stdlib.h>

typedef struct {
    int from, to;     /* inclusive clearing range */
    const char *bank; /* UTF-8, as in the CSV */
    int type;         /* Bankgirot account type 1 or 2 */
    int comment;      /* Bankgirot comment: which check-digit rule */
    int len_min;      /* account digits allowed (clearing excluded) */
    int len_max;
} clearing_row;

static const clearing_row clearing_rows[] = {
    {1100, 1199, "Nordea", 1, 1, 7, 7},
    {1200, 1399, "Danske Bank", 1, 1, 7, 7},
    {1400, 2099, "Nordea", 1, 1, 7, 7},
    {2300, 2399, "Ålandsbanken", 1, 2, 7, 7},
    {2400, 2499, "Danske Bank", 1, 1, 7, 7},
    {3000, 3299, "Nordea", 1, 1, 7, 7},
    {3300, 3300, "Nordea", 2, 1, 10, 10},
    {3301, 3399, "Nordea", 1, 1, 7, 7},
    {3400, 3499, "Länsförsäkringar Bank", 1, 1, 7, 7},
    {3410, 3781, "Nordea", 1, 1, 7, 7},
    {3782, 3782, "Nordea", 2, 1, 10, 10},
    {3783, 3999, "Nordea", 1, 1, 7, 7},
    {4000, 4999, "Nordea", 1, 2, 7, 7},
    {5000, 5999, "SEB", 1, 1, 7, 7},
    {6000, 6999, "Handelsbanken", 2, 2, 8, 9},
    {7000, 7999, "Swedbank", 1, 1, 7, 7},
    {8000, 8999, "Swedbank", 2, 3, 10, 11},
    {9020, 9029, "Länsförsäkringar Bank", 1, 2, 7, 7},
    {9040, 9049, "Citibank", 1, 2, 7, 7},
    {9060, 9069, "Länsförsäkringar Bank", 1, 1, 7, 7},
    {9070, 9079, "Multitude Bank", 1, 1, 7, 7},
    {9100, 9109, "Nordnet Bank", 1, 2, 7, 7},
    {9120, 9124, "SEB", 1, 1, 7, 7},
    {9130, 9149, "SEB", 1, 1, 7, 7},
    {9150, 9169, "Skandiabanken", 1, 2, 7, 7},
    {9170, 9179, "IKANO Bank", 1, 1, 7, 7},
    {9180, 9189, "Danske Bank", 2, 1, 10, 10},
    {9190, 9199, "DNB Bank", 1, 2, 7, 7},
    {9230, 9239, "Marginalen Bank", 1, 1, 7, 7},
    {9250, 9259, "SBAB", 1, 1, 7, 7},
    {9260, 9269, "DNB Bank", 1, 2, 7, 7},
    {9270, 9279, "ICA Banken", 1, 1, 7, 7},
    {9280, 9289, "Resurs Bank", 1, 1, 7, 7},
    {9300, 9349, "Swedbank", 2, 1, 10, 10},
    {9390, 9399, "Landshypotek", 1, 2, 7, 7},
    {9460, 9469, "Santander Consumer Bank", 1, 1, 7, 7},
    {9470, 9479, "BNP Paribas", 1, 2, 7, 7},
    {9500, 9549, "Nordea Plusgirot", 2, 3, 2, 8},
    {9550, 9569, "Avanza Bank", 1, 2, 7, 7},
    {9570, 9579, "Sparbanken Syd", 2, 1, 10, 10},
    {9580, 9589, "Aion Bank", 1, 1, 7, 7},
    {9590, 9599, "Erik Penser", 1, 2, 7, 7},
    {9630, 9639, "Lån & Spar Bank Sverige", 1, 1, 7, 7},
    {9640, 9649, "NOBA Bank Group AB", 1, 2, 7, 7},
    {9660, 9669, "Svea Bank", 1, 2, 7, 7},
    {9670, 9679, "JAK Medlemsbank", 1, 2, 7, 7},
    {9680, 9689, "BlueStep Finans", 1, 1, 7, 7},
    {9700, 9709, "Ekobanken", 1, 2, 7, 7},
    {9710, 9719, "Lunar Bank", 1, 2, 7, 7},
    {9750, 9759, "Northmill Bank", 1, 2, 7, 7},
    {9780, 9789, "Klarna Bank", 1, 2, 7, 7},
    {9880, 9889, "Riksgälden", 1, 2, 7, 7},
    {9890, 9899, "Riksgälden", 2, 1, 10, 10},
    {9960, 9969, "Nordea Plusgirot", 2, 3, 2, 8},
};

size_t ident_clearing_count(void) { return sizeof clearing_rows / sizeof clearing_rows[0]; }

void ident_clearing_row(size_t i, int *from, int *to, const char **bank, int *type,
                        int *comment, int *len_min, int *len_max)
{
    /* An index past the end is a programming error, not bad data: fail loudly. */
    if (i >= ident_clearing_count())
        abort();
    const clearing_row *r = &clearing_rows[i];
    if (from) *from = r->from;
    if (to) *to = r->to;
    if (bank) *bank = r->bank;
    if (type) *type = r->type;
    if (comment) *comment = r->comment;
    if (len_min) *len_min = r->len_min;
    if (len_max) *len_max = r->len_max;
}

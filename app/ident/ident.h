/* ident: Swedish identity, organisation and bank account numbers.
 *
 * Pure functions, no allocation, no I/O: the same rules validate the snapshot, every
 * registration and the payment file. Sources: Skatteverket (personnummer,
 * samordningsnummer), Bankgirot "Bankernas kontonummeruppbyggnad" 2024-02-22 (clearing
 * ranges and check digits, table copied to app/data/clearing-ranges.csv), ISO 13616 (IBAN).
 * On failure each function returns a negative RL_E* code and records a message naming the
 * field's problem (never the whole number, so messages can be logged). */
#ifndef RL_IDENT_H
#define RL_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    IDENT_PERSONNUMMER = 1,
    IDENT_SAMORDNINGSNUMMER = 2
} ident_kind;

/* A normalised identity number: 12 digits YYYYMMDDNNNC plus NUL. */
typedef struct {
    char digits[13];
    ident_kind kind;
} ident_pnr;

/* Parses a personnummer or samordningsnummer in any usual form: YYYYMMDD-NNNN,
 * YYYYMMDDNNNN, YYMMDD-NNNN, YYMMDDNNNN, YYMMDD+NNNN (the '+' marks 100 years or older).
 * For 10-digit forms the century is the latest one that puts the birth date on or before
 * `today` (YYYYMMDD as an integer, e.g. 20261124), minus 100 years with '+'.
 * Checks the Luhn check digit, that the date exists (day - 60 for samordningsnummer), and
 * that the birth number is not 000. Surrounding white space is trimmed; a '+' in the
 * 12-digit form is rejected (the century is explicit there). A 10-digit form needs a valid
 * `today`. Returns 0 and fills *out, or RL_EDATA (out cleared). */
int ident_pnr_parse(const char *text, uint32_t today, ident_pnr *out)
    __attribute__((warn_unused_result));

/* Organisationsnummer: 10 digits (an optional '-' after 6, optional "16" prefix), Luhn,
 * third digit >= 2. Writes 10 digits + NUL into out[11]. */
int ident_orgnr_parse(const char *text, char out[11]) __attribute__((warn_unused_result));

/* The Luhn (mod 10, weights 2,1 from the left of an odd-length payload) check digit for
 * n digits: the digit that makes digits||check pass the Luhn test; -1 if a character is not
 * a digit. */
int ident_luhn_digit(const char *digits, size_t n);

/* True if the n digits pass the Luhn test (the last digit being the check digit). */
bool ident_luhn_ok(const char *digits, size_t n);

/* A Swedish domestic bank account, normalised. */
typedef struct {
    char clearing[5];  /* 4 digits, the Swedbank 5th check digit dropped */
    char account[16];  /* the account digits as the bank writes them, no separators */
    char bank[48];     /* bank name from Bankgirot's table */
    int type;          /* Bankgirot account type 1 or 2 */
    int comment;       /* Bankgirot comment (which check-digit rule) */
    bool warning;      /* valid but unverifiable (old Swedbank account without check digit) */
} ident_account;

/* Validates clearing + account per Bankgirot's table: the clearing number must fall in a
 * known range (4 digits, or 5 for Swedbank 8xxx-x whose 5th digit is a Luhn check over the
 * clearing), the account length must fit the type, and the check digit must match the
 * range's rule. Separators ' ', '-', '.', ',' are ignored. Nordea personkonto (3300)
 * takes the holder's personnummer (10 digits) as account. Swedbank 8xxx accounts are 10
 * digits; 11 are accepted only when the first is the clearing's check digit (4 + 11 written
 * together), and a failed check digit gives warning = true instead of an error. Where table
 * rows overlap (3400-3499 / 3410-3781) the row starting latest names the bank. Returns 0 or
 * RL_EDATA with a message naming "clearing" or "account" (out cleared). */
int ident_account_parse(const char *clearing, const char *account, ident_account *out)
    __attribute__((warn_unused_result));

/* Validates an IBAN (any country: length per country where known, mod-97 == 1; spaces
 * ignored, letters case-insensitive). Writes the compact upper-case form into out[35]. */
int ident_iban_parse(const char *text, char out[35]) __attribute__((warn_unused_result));

/* Number of rows in the built-in clearing table and access to row i (for tests that
 * compare the table against app/data/clearing-ranges.csv). */
size_t ident_clearing_count(void);
void ident_clearing_row(size_t i, int *from, int *to, const char **bank, int *type,
                        int *comment, int *len_min, int *len_max);

/* True if the date YYYY, MM, DD exists in the Gregorian calendar. */
bool ident_date_valid(int y, int m, int d);

#endif

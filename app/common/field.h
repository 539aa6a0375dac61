/* field: parsers for the value types every input shares (snapshot files, registrations,
 * batches): ids, text, whole numbers, öre amounts, percentages and ISO dates.
 *
 * Each returns 0 and the parsed value, or RL_EDATA with a message that explains the rule
 * without echoing the value (callers prefix the file, line and field). Inputs are
 * (pointer, length) pairs and need not be NUL-terminated. */
#ifndef RL_FIELD_H
#define RL_FIELD_H

#include <stddef.h>
#include <stdint.h>

/* Largest amount accepted anywhere: 10^12 öre (10 000 000 000 SEK). */
#define FIELD_MAX_ORE 1000000000000LL

/* 1-64 characters [A-Za-z0-9_.-]. */
int field_id(const char *s, size_t n) __attribute__((warn_unused_result));

/* 1-max bytes of text without control characters (UTF-8 validity is checked by the
 * reader of the whole input). */
int field_text(const char *s, size_t n, size_t max) __attribute__((warn_unused_result));

/* A whole number in [lo, hi], digits only (a leading '-' only if lo < 0). */
int field_int(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out)
    __attribute__((warn_unused_result));

/* A percentage with at most two decimals, as hundredths ("62.5" -> 6250), in [lo, hi]
 * hundredths. */
int field_pct(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out)
    __attribute__((warn_unused_result));

/* An ISO 8601 calendar date YYYY-MM-DD that exists, years 1900-2200. */
int field_date(const char *s, size_t n) __attribute__((warn_unused_result));

/* A pay period YYYY-MM. */
int field_period(const char *s, size_t n) __attribute__((warn_unused_result));

/* Messages from these parsers and from ident start with a field's name ("account: check
 * digit mismatch"); a caller that prints "field account: ..." itself skips that prefix with
 * this. Returns msg after "field: ", or msg unchanged. */
const char *field_message(const char *field, const char *msg);

/* Formats öre as kronor with two decimals ("-1234.05") into out[32]. */
void field_money_format(int64_t ore, char out[32]);

/* Formats hundredths as a percentage ("7550" -> "75.5") into out[24]. */
void field_pct_format(int64_t hundredths, char out[24]);

#endif

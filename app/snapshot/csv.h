/* csv: a strict RFC 4180 reader over a buffer in memory.
 *
 * The snapshot's files come from another system: every malformation is reported with the
 * file name and line, never guessed around. UTF-8 is validated for the whole buffer up
 * front; a leading UTF-8 BOM is skipped; CRLF and LF line ends are accepted; a quoted
 * field may contain commas, quotes ("") and line breaks. */
#ifndef RL_CSV_H
#define RL_CSV_H

#include <stddef.h>

#define CSV_MAX_FIELDS 32

typedef struct csv_reader csv_reader;

typedef struct {
    size_t n;                        /* number of fields */
    const char *f[CSV_MAX_FIELDS];   /* NUL-terminated, valid until the next csv_next */
    size_t len[CSV_MAX_FIELDS];
    size_t line;                     /* line number where the record starts (1-based) */
} csv_row;

/* Reads from data[0..len) (not copied: must outlive the reader). name is used in
 * messages. Returns 0, or RL_EDATA if the buffer is not valid UTF-8 (naming the line). */
int csv_open(const char *data, size_t len, const char *name, csv_reader **out)
    __attribute__((warn_unused_result));
void csv_close(csv_reader *r);

/* Reads the next record: 1 and *row, 0 at end of input, or RL_EDATA (unterminated quote,
 * text after a closing quote, too many fields, NUL byte) with a message naming the line. */
int csv_next(csv_reader *r, csv_row *row) __attribute__((warn_unused_result));

/* Reads the header row and checks it equals the expected column names in order. */
int csv_expect_header(csv_reader *r, const char *const *names, size_t n)
    __attribute__((warn_unused_result));

/* Bytes consumed so far (for progress). */
size_t csv_offset(const csv_reader *r);

/* True if s[0..n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int csv_utf8_valid(const char *s, size_t n);

#endif

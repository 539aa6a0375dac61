/* lineset: the distinct (code, text) pairs of one pay run's lines, numbered 0, 1, 2 ... in
 * the order first seen. A pay run stores each employment's lines as numbers into this set
 * with their amounts (payrun.c), and the set once, in payrun_texts: "monthly salary,
 * extent and days" is written once per run, not once per employment (docs/payrun.md,
 * "How results are stored"). */
#ifndef RL_LINESET_H
#define RL_LINESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest code and text a pair can hold (the rules' limits, rules.h). */
#define LINESET_CODE_MAX 23
#define LINESET_TEXT_MAX 79

typedef struct lineset lineset;

/* A new, empty set; RL_ENOMEM. */
int lineset_new(lineset **out) __attribute__((warn_unused_result));

/* Accepts NULL. */
void lineset_free(lineset *s);

/* The number of (code, text) in *idx, adding the pair if it is new (*added tells which).
 * RL_EDATA if code or text is longer than the limits above, RL_ENOMEM. */
int lineset_intern(lineset *s, const char *code, const char *text, uint32_t *idx, bool *added)
    __attribute__((warn_unused_result));

size_t lineset_count(const lineset *s);

/* The pair numbered idx; NULL if there is none. */
const char *lineset_code(const lineset *s, uint32_t idx);
const char *lineset_text(const lineset *s, uint32_t idx);

#endif

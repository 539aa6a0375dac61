/* rules: the pay-rules engine, a Lua 5.4 sandbox that runs signed rule files.
 *
 * The pay calculation lives in Lua so payroll staff can read and review it, but the
 * appliance must stay in charge: a rule file runs only if its minisign signature verifies
 * with the rules key, it is loaded as text (never bytecode), it sees only a whitelisted
 * environment (safe base functions, string, math, table, utf8, and our tax()), and one
 * rules object (one pay run) is bounded in instructions, memory and, as a backstop,
 * wall-clock time. docs/pay-rules.md is the rule author's view of all this.
 *
 * One rules object serves one pay run: load once, call once per employment, free. The Lua
 * state and compiled chunk are kept across calls (that is what makes 100 000 employments
 * cheap), so limits accumulate over the whole run. Not thread-safe: one object per thread
 * (the pay run calls it from its rules thread only). */
#ifndef RL_RULES_H
#define RL_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "sig/minisig.h"

/* Defaults for a zero field in rules_limits (or a NULL limits pointer). 2e9 cost units is
 * a few seconds of Lua and about 20 000 units per employment for 100 000 employments. */
#define RULES_DEFAULT_INSTRUCTIONS 2000000000ULL
#define RULES_DEFAULT_MEMORY ((size_t)64 << 20)
#define RULES_DEFAULT_SECONDS 300u

/* Largest rule file accepted (rule files are a few hundred lines). */
#define RULES_MAX_FILE ((size_t)4 << 20)

typedef struct rules rules;

/* Limits for one pay run (one rules object); a zero field takes its default.
 * max_instructions bounds the cost units spent: one per Lua VM instruction (counted by a
 * hook every 1000 instructions), plus a charge for work C library functions do that the
 * hook cannot see (one unit per 8 bytes allocated, and the worst-case cost of string
 * searches and table shuffles, see docs/pay-rules.md). max_memory caps the bytes the Lua
 * state holds at any time. max_seconds is a wall-clock backstop for the few VM operations
 * whose cost no counter sees (comparing two huge strings); it is checked by the same hook.
 * Instruction and memory limits are deterministic: the same rules and inputs hit them at
 * the same point on any machine. The time limit is not, and exists only so a hostile rule
 * file cannot hang the appliance. */
typedef struct {
    uint64_t max_instructions;
    size_t max_memory;
    unsigned max_seconds;
} rules_limits;

/* The tax lookup the C side lends the rules, visible to them as the global function
 * tax(table, column, monthly_income_sek) -> tax_sek (an integer), or nil, message.
 * Returns 0 and *tax_sek, or a negative RL_E* code after err_set() with a message the
 * rules get as the second result. Pure data: it must not call back into this module, must
 * not longjmp, and should not touch the database (DESIGN: the rules never do). */
typedef int (*rules_tax_fn)(void *ctx, int table, int column, int64_t income_sek,
                            int64_t *tax_sek);

/* Reads the rule file at path and its signature path + ".minisig", verifies the signature
 * over the bytes read with pk, and only then compiles those same bytes (no second read,
 * so the file cannot change between check and use) as a text chunk in a fresh sandbox and
 * runs its top level (which defines the functions). The chunk name is the file's base
 * name, so Lua messages read "payroll.lua:12: ...". lim may be NULL (all defaults).
 * Returns 0 and *out (free with rules_free), or:
 *   RL_EINTEGRITY  the signature file is missing or malformed, was made by another key, or
 *                  the file was modified after signing;
 *   RL_EDATA       the file is missing or larger than RULES_MAX_FILE, is not UTF-8 text, is
 *                  a precompiled (bytecode) chunk, does not compile, or its top level fails
 *                  or hits a limit;
 *   RL_EIO, RL_ENOMEM.
 * *out is NULL on failure. */
int rules_load(const char *path, const minisig_pubkey *pk, const rules_limits *lim,
               rules **out) __attribute__((warn_unused_result));

/* Closes the Lua state and frees everything. Accepts NULL. */
void rules_free(rules *r);

/* Installs (or, with fn NULL, removes) the tax lookup behind tax(). Without one, tax()
 * returns nil, "no tax tables are available". ctx is borrowed and must outlive the calls. */
void rules_set_tax(rules *r, rules_tax_fn fn, void *ctx);

/* One pay line as the rules return it: code is ASCII [A-Za-z0-9_.-], 1-23 bytes; text is
 * UTF-8 without control characters, at most 79 bytes (empty if the rule gave none). Both
 * are NUL-terminated. */
typedef struct {
    char code[24];
    char text[80];
    int64_t amount_ore;
} rules_line;

/* Calls the global Lua function fn with one argument (two after rules_set_context below),
 * the table converted from input_json
 * (len bytes; parsed with our strict JSON reader): objects become tables with string keys,
 * arrays sequences 1..n, integer numbers integers (money is integer öre; an integer that
 * does not fit 64 bits is an error), other numbers floats unless integral, strings,
 * booleans; null becomes nil (an absent field). The top level must be an object or array.
 * fn must return one value: a sequence of lines {code = string, amount_ore = integer,
 * text = string or nil}. Writes the lines into out[0..*n).
 * Returns 0, or RL_EDATA with a message "pay rules: FN(): PROBLEM" for: malformed input
 * JSON, fn not a function, a Lua error (with its position), a wrong return shape (not a
 * table, more than cap lines, a line that is not a table, a bad or missing code, an
 * amount that is missing, a float (1.5 or 2.0: use //), or a string, a bad text), or a
 * limit: "pay rules: FN(): instruction limit (N) reached", "... memory limit (64 MiB)
 * reached", "... time limit (300 s) reached". After a limit the object is spent: every
 * later call fails with RL_EDATA and only rules_free is useful; after any other error it
 * stays usable. *n is 0 on failure (out may have been partly written). */
int rules_call(rules *r, const char *fn, const char *input_json, size_t len, rules_line *out,
               size_t cap, size_t *n) __attribute__((warn_unused_result));

/* The input table built directly, for a caller that would otherwise format JSON only for
 * rules_call to parse it again (the pay run: that round trip was a third of the rules
 * thread's time, performance.md). The build function pushes the table through the
 * rules_in_* calls, which make the same table rules_call makes from the equivalent JSON
 * text: the same members in the same order, created with the same sizes. It runs inside
 * the protected call, where building can meet the memory limit and unwind: it must not
 * allocate or hold anything itself (prepare its data before). */
typedef struct rules_input rules_input;
typedef void (*rules_build_fn)(rules_input *in, void *ctx);

/* As rules_call, with the input from build(in, ctx) instead of JSON text. */
int rules_call_build(rules *r, const char *fn, rules_build_fn build, void *ctx,
                     rules_line *out, size_t cap, size_t *n) __attribute__((warn_unused_result));

/* An object with n members or an array with n elements, as the member key of the enclosing
 * object (key NULL in an array, and for the table itself), closed by rules_in_end. n counts
 * as the JSON would, null members included: a member that would be null is left out, as
 * rules_call leaves it out. At most RULES_IN_DEPTH containers deep (else abort: misuse). */
#define RULES_IN_DEPTH 8
void rules_in_object(rules_input *in, const char *key, int n);
void rules_in_array(rules_input *in, const char *key, int n);
void rules_in_end(rules_input *in);
/* A member (key) or, in an array, the next element (key NULL). */
void rules_in_string(rules_input *in, const char *key, const char *s, size_t len);
void rules_in_int(rules_input *in, const char *key, int64_t v);
void rules_in_bool(rules_input *in, const char *key, int b);

/* Gives every later rules_call a second argument: the table converted from context_json
 * (as for rules_call's input), built once and shared by all calls. A pay run passes its
 * constants (period, dates, policy) this way instead of in each employment's input, which
 * saves building the same table 100 000 times. The rules must treat it as read-only (a
 * change would be seen by the later calls of the same run; the result stays deterministic
 * because the calls come in a fixed order). Calling it again replaces the table. Returns 0
 * or RL_EDATA ("pay rules: context: ..." for malformed JSON, a limit hit while building). */
int rules_set_context(rules *r, const char *context_json, size_t len)
    __attribute__((warn_unused_result));

/* Cost units spent so far (instructions plus charged work, as limited by max_instructions)
 * and the peak bytes the Lua state held, for reports and benchmarks. Either out-pointer may
 * be NULL. */
void rules_usage(const rules *r, uint64_t *instructions, size_t *peak_memory);

/* The SHA-256 of the exact bytes that were verified and loaded, to record in the pay run
 * (rereading the file to hash it could hash something else). */
void rules_sha256(const rules *r, uint8_t out[32]);

#endif

/* json: a small, strict JSON (RFC 8259) reader and string writer.
 *
 * Used for the snapshot manifest, registration batches and journals: inputs that come
 * from outside and must be rejected precisely when malformed. Strict: UTF-8 validated,
 * no duplicate keys, no trailing commas, no comments, nesting depth <= 64, numbers kept
 * as text so money never passes through a double. */
#ifndef RL_JSON_H
#define RL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value json_value;

/* Parses exactly one JSON value (surrounding whitespace allowed). On error returns
 * RL_EDATA with a message giving the byte offset and what was expected. The tree is
 * owned by the caller: free with json_free (accepts NULL). */
int json_parse(const char *text, size_t len, json_value **out) __attribute__((warn_unused_result));
void json_free(json_value *v);

json_type json_typeof(const json_value *v);
/* Object member by key, or NULL if absent or v is not an object. */
const json_value *json_get(const json_value *v, const char *key);
/* String contents (decoded, NUL-terminated; len may be NULL), or NULL if not a string. */
const char *json_string(const json_value *v, size_t *len);
/* The number's source text, or NULL if not a number. */
const char *json_number_text(const json_value *v);
/* An integer number without fraction or exponent that fits int64: 0, else RL_EDATA. */
int json_int64(const json_value *v, int64_t *out) __attribute__((warn_unused_result));
bool json_bool(const json_value *v);
size_t json_len(const json_value *v); /* elements of an array or members of an object */
const json_value *json_at(const json_value *v, size_t i); /* array element or member value */
const char *json_key_at(const json_value *v, size_t i);   /* member key, objects only */

/* For other strict readers of the same grammar (the rules engine's direct JSON-to-Lua
 * reader): the length of the valid UTF-8 sequence at p (avail bytes left; p[0] >= 0x80),
 * or 0 with *why (may be NULL) saying what is wrong; and the UTF-8 encoding of code
 * point cp written to out (1-4 bytes; returns the count). */
size_t json_utf8_seq(const unsigned char *p, size_t avail, const char **why);
size_t json_utf8_put(char *out, uint32_t cp);
/* The value of the 4 hex digits of a \u escape at p (4 bytes must be readable): 0, or -1
 * if one is not a hex digit. */
int json_hex4(const unsigned char *p, uint32_t *out);

/* Writes s as a JSON string literal (with quotes), escaping as RFC 8259 requires. */
void json_write_string(FILE *f, const char *s);

#endif

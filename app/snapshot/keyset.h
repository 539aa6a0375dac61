/* keyset: a set of short byte strings (ids, personnummer) held in memory, for the import's
 * duplicate and reference checks. At 1,000,000 employments an SQL probe of the table per
 * check cost more than reading the record (performance.md, "Growth").
 *
 * While keys arrive in increasing order (an export sorted by id) the set is a sorted array
 * and a lookup that follows the previous one costs a comparison or two; from the first key
 * out of order it is a hash table (one cache line per probe for keys up to 12 bytes), keyed
 * SipHash (libsodium's crypto_shorthash) with a random key per set, so crafted keys cannot
 * make probes degrade. Keys are copied; the set wipes them when freed. */
#ifndef RL_KEYSET_H
#define RL_KEYSET_H

#include <stdbool.h>
#include <stddef.h>

/* The longest key: ids are 1-64 characters (field_id), personnummer 12 digits. */
#define KEYSET_MAX_KEY 255

typedef struct keyset keyset;

/* A new, empty set sized for about expect keys (it grows past that). RL_OK or RL_ENOMEM. */
int keyset_create(size_t expect, keyset **out) __attribute__((warn_unused_result));

/* Wipes the keys and frees the set. Accepts NULL. */
void keyset_free(keyset *s);

/* Adds key[0..len) (len <= KEYSET_MAX_KEY, else abort: API misuse). Returns 1 if it was
 * added, 0 if the set already held it, or RL_ENOMEM. */
int keyset_add(keyset *s, const char *key, size_t len) __attribute__((warn_unused_result));

/* True if the set holds key[0..len). Not const: the set remembers where the last lookup
 * ended, to start the next one there. */
bool keyset_has(keyset *s, const char *key, size_t len);

/* The number of keys held. */
size_t keyset_count(const keyset *s);

#endif

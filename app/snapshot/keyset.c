/* keyset: the keys in the order added, searched by bisection while they arrive in order,
 * and through a hash table from the first key that does not (see keyset.h). */
#include "snapshot/keyset.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* Keys of up to INLINE bytes live in their slot, so a probe reads one cache line; longer
 * ones are compared in the key store. */
#define INLINE 12

/* meta: 0 for an empty slot, else 23 bits of the hash, a 1 bit, and the key's length. */
typedef struct {
    uint32_t meta;
    uint8_t k[INLINE]; /* the key, zero padded; for longer keys its index, then zeros */
} slot;

struct keyset {
    char *keys;     /* per key: a length byte, then its bytes */
    size_t used, cap;
    uint32_t *offs; /* offset of each key in keys, in the order added */
    size_t count, offs_cap;
    size_t expect;  /* the size the caller expects: the table is built for it at once */
    bool sorted;    /* each key was greater than the one before: bisection works */
    size_t hint;    /* the key found last (sorted mode): lookups tend to go in order */
    slot *slots;    /* the hash table, once the keys came out of order; else NULL */
    size_t mask;
    uint8_t hkey[crypto_shorthash_KEYBYTES];
};

static const char *key_at(const keyset *s, size_t i, size_t *len)
{
    const char *k = s->keys + s->offs[i];
    *len = (unsigned char)k[0];
    return k + 1;
}

/* SQLite's BINARY order (bytes, then the shorter first), so the order is the tables'. */
static int cmp_key(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static uint64_t hash(const keyset *s, const char *key, size_t len)
{
    uint8_t h[crypto_shorthash_BYTES];
    uint64_t v = 0;
    crypto_shorthash(h, (const unsigned char *)key, len, s->hkey);
    for (size_t i = 0; i < sizeof h; i++)
        v |= (uint64_t)h[i] << (8 * i);
    return v;
}

/* The slot image of a key: its meta word and inline bytes. */
static slot make_slot(const keyset *s, const char *key, size_t len, size_t index, uint64_t *h)
{
    slot sl;
    memset(&sl, 0, sizeof sl);
    *h = hash(s, key, len);
    sl.meta = ((uint32_t)(*h >> 32) & 0xFFFFFE00u) | 0x100u | (uint32_t)len;
    if (len <= INLINE) {
        memcpy(sl.k, key, len);
    } else {
        uint32_t ix = (uint32_t)index;
        memcpy(sl.k, &ix, sizeof ix);
    }
    return sl;
}

static bool slot_is(const keyset *s, const slot *in_table, const slot *want, const char *key,
                    size_t len)
{
    if (in_table->meta != want->meta)
        return false;
    if (len <= INLINE)
        return memcmp(in_table->k, want->k, INLINE) == 0;
    uint32_t ix;
    size_t n;
    memcpy(&ix, in_table->k, sizeof ix);
    const char *k = key_at(s, ix, &n);
    return n == len && memcmp(k, key, len) == 0;
}

/* The slot holding the key, or the empty one where it would go. */
static slot *probe(const keyset *s, const slot *want, const char *key, size_t len, uint64_t h)
{
    for (size_t i = (size_t)h & s->mask;; i = (i + 1) & s->mask) {
        slot *sl = &s->slots[i];
        if (sl->meta == 0 || slot_is(s, sl, want, key, len))
            return sl;
    }
}

/* A table for at least n keys at a load of at most one half, filled with every key. */
static int table_build(keyset *s, size_t n)
{
    size_t size = 16;
    while (size / 2 < n)
        size *= 2;
    slot *t = calloc(size, sizeof *t);
    if (t == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    free(s->slots);
    s->slots = t;
    s->mask = size - 1;
    for (size_t i = 0; i < s->count; i++) {
        size_t len;
        const char *k = key_at(s, i, &len);
        uint64_t h;
        slot want = make_slot(s, k, len, i, &h);
        *probe(s, &want, k, len, h) = want;
    }
    return RL_OK;
}

int keyset_create(size_t expect, keyset **out)
{
    *out = NULL;
    keyset *s = calloc(1, sizeof *s);
    if (s == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    s->sorted = true;
    s->expect = expect;
    s->offs_cap = expect > 16 ? expect : 16;
    s->cap = s->offs_cap * 16;
    s->offs = malloc(s->offs_cap * sizeof *s->offs);
    s->keys = malloc(s->cap);
    if (s->offs == NULL || s->keys == NULL) {
        keyset_free(s);
        return err_set(RL_ENOMEM, "out of memory");
    }
    crypto_shorthash_keygen(s->hkey);
    *out = s;
    return RL_OK;
}

void keyset_free(keyset *s)
{
    if (s == NULL)
        return;
    if (s->keys)
        sodium_memzero(s->keys, s->used);
    if (s->slots)
        sodium_memzero(s->slots, (s->mask + 1) * sizeof *s->slots);
    free(s->keys);
    free(s->offs);
    free(s->slots);
    sodium_memzero(s->hkey, sizeof s->hkey);
    free(s);
}

size_t keyset_count(const keyset *s) { return s->count; }

/* Room for one more key of len bytes (the store moves with a wipe of the old copy). */
static int grow(keyset *s, size_t len)
{
    if (s->count == s->offs_cap) {
        uint32_t *o = realloc(s->offs, s->offs_cap * 2 * sizeof *o);
        if (o == NULL)
            return err_set(RL_ENOMEM, "out of memory");
        s->offs = o;
        s->offs_cap *= 2;
    }
    if (s->used + 1 + len <= s->cap)
        return RL_OK;
    size_t cap = s->cap * 2;
    while (cap < s->used + 1 + len)
        cap *= 2;
    if (cap > UINT32_MAX)
        return err_set(RL_ENOMEM, "too many keys for one set");
    char *k = malloc(cap);
    if (k == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    memcpy(k, s->keys, s->used);
    sodium_memzero(s->keys, s->used);
    free(s->keys);
    s->keys = k;
    s->cap = cap;
    return RL_OK;
}

/* Bisection in sorted mode: the index of the key, or -1. Tries the key after the last one
 * found first, which is where the import's lookups usually go. */
static ptrdiff_t sorted_find(const keyset *s, const char *key, size_t len, size_t *hint)
{
    size_t n;
    const char *k;
    for (size_t i = *hint; i < *hint + 2 && i < s->count; i++) {
        k = key_at(s, i, &n);
        if (cmp_key(k, n, key, len) == 0) {
            *hint = i;
            return (ptrdiff_t)i;
        }
    }
    size_t lo = 0, hi = s->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        k = key_at(s, mid, &n);
        int c = cmp_key(k, n, key, len);
        if (c == 0) {
            *hint = mid;
            return (ptrdiff_t)mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

int keyset_add(keyset *s, const char *key, size_t len)
{
    if (len > KEYSET_MAX_KEY)
        abort(); /* API misuse: callers validate lengths first */
    int rc;
    if (s->sorted && s->count > 0) {
        size_t n;
        const char *last = key_at(s, s->count - 1, &n);
        int c = cmp_key(last, n, key, len);
        if (c == 0)
            return 0;
        if (c > 0) {
            /* Out of order. Was it seen before? Then it is a duplicate; else from here on
             * the keys go through the hash table. */
            size_t hint = s->hint;
            if (sorted_find(s, key, len, &hint) >= 0)
                return 0;
            if ((rc = table_build(s, s->count + 1 > s->expect ? s->count + 1 : s->expect)) !=
                RL_OK)
                return rc;
            s->sorted = false;
        }
    }
    slot *sl = NULL, want;
    uint64_t h = 0;
    if (!s->sorted) {
        want = make_slot(s, key, len, s->count, &h);
        sl = probe(s, &want, key, len, h);
        if (sl->meta != 0)
            return 0;
    }
    if ((rc = grow(s, len)) != RL_OK)
        return rc;
    s->offs[s->count] = (uint32_t)s->used;
    s->keys[s->used] = (char)len;
    memcpy(s->keys + s->used + 1, key, len);
    s->used += 1 + len;
    s->count++;
    if (!s->sorted) {
        if (s->count * 2 > s->mask + 1)
            return table_build(s, s->count) == RL_OK ? 1 : RL_ENOMEM;
        *sl = want;
    }
    return 1;
}

bool keyset_has(keyset *s, const char *key, size_t len)
{
    if (len > KEYSET_MAX_KEY)
        return false;
    if (s->sorted)
        return sorted_find(s, key, len, &s->hint) >= 0;
    uint64_t h;
    slot want = make_slot(s, key, len, 0, &h);
    return probe(s, &want, key, len, h)->meta != 0;
}

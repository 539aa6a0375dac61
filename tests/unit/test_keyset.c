/* Unit tests for app/snapshot/keyset: the import's in-memory key set. Keys in order (the
 * sorted mode and its lookup hint), out of order from the first key on or later (the switch
 * to the hash table with every earlier key kept), duplicates in both modes, long keys kept
 * out of line, lengths as part of the key, and growth far past the expected size; each
 * checked against a plain reference (a sorted list searched by bisection). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "snapshot/keyset.h"

static int add(keyset *s, const char *k) { return keyset_add(s, k, strlen(k)); }
static bool has(keyset *s, const char *k) { return keyset_has(s, k, strlen(k)); }

static void test_in_order(void **state)
{
    (void)state;
    keyset *s = NULL;
    char k[32];
    assert_int_equal(keyset_create(4, &s), RL_OK);
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof k, "E%07d", i);
        assert_int_equal(add(s, k), 1);
        assert_int_equal(add(s, k), 0); /* the key just added */
    }
    assert_int_equal(keyset_count(s), 5000);
    /* lookups in order (the hint), backwards and absent */
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof k, "E%07d", i);
        assert_true(has(s, k));
    }
    for (int i = 4999; i >= 0; i -= 7) {
        snprintf(k, sizeof k, "E%07d", i);
        assert_true(has(s, k));
    }
    assert_false(has(s, "E0005000"));
    assert_false(has(s, "E000000")); /* a prefix is another key */
    assert_false(has(s, "E00000000"));
    assert_false(has(s, ""));
    /* an earlier key again, out of order: a duplicate, and still in sorted mode */
    assert_int_equal(add(s, "E0000042"), 0);
    keyset_free(s);
    keyset_free(NULL);
}

static void test_out_of_order(void **state)
{
    (void)state;
    /* personnummer-like keys in a shuffled order, plus long keys (kept out of line) */
    enum { N = 20000 };
    static char keys[N][80];
    for (int i = 0; i < N; i++) {
        if (i % 10 == 0)
            snprintf(keys[i], sizeof keys[i], "a-long-employment-id-%07d-past-twelve-bytes", i);
        else
            snprintf(keys[i], sizeof keys[i], "19%010d", i * 7919 % 100000000);
    }
    for (int i = N - 1; i > 0; i--) { /* Fisher-Yates with libsodium's generator */
        uint32_t j = randombytes_uniform((uint32_t)i + 1);
        char t[80];
        memcpy(t, keys[i], sizeof t);
        memcpy(keys[i], keys[j], sizeof t);
        memcpy(keys[j], t, sizeof t);
    }
    keyset *s = NULL;
    assert_int_equal(keyset_create(16, &s), RL_OK); /* far below N: the table must grow */
    for (int i = 0; i < N; i++) {
        assert_int_equal(add(s, keys[i]), 1);
        if (i % 3 == 0) /* a duplicate of an earlier key, in whichever mode the set is */
            assert_int_equal(add(s, keys[i / 2]), 0);
    }
    assert_int_equal(keyset_count(s), N);
    for (int i = 0; i < N; i++)
        assert_true(has(s, keys[i]));
    assert_false(has(s, "190000000001"));
    assert_false(has(s, "a-long-employment-id-0000000-past-twelve-byte"));
    assert_false(has(s, "a-long-employment-id-0000000-past-twelve-bytesX"));
    keyset_free(s);
}

/* Sorted for a while, then one key out of order: every earlier key must survive the switch
 * to the table, and a duplicate of any of them must still be caught. */
static void test_switch_keeps_keys(void **state)
{
    (void)state;
    keyset *s = NULL;
    char k[32];
    assert_int_equal(keyset_create(100, &s), RL_OK);
    for (int i = 100; i < 400; i++) {
        snprintf(k, sizeof k, "%012d", i);
        assert_int_equal(add(s, k), 1);
    }
    assert_int_equal(add(s, "000000000050"), 1); /* out of order: the switch */
    assert_int_equal(add(s, "000000000050"), 0);
    for (int i = 100; i < 400; i++) {
        snprintf(k, sizeof k, "%012d", i);
        assert_true(has(s, k));
        assert_int_equal(add(s, k), 0);
    }
    assert_int_equal(add(s, "000000000999"), 1);
    assert_true(has(s, "000000000999"));
    assert_int_equal(keyset_count(s), 302);
    keyset_free(s);
}

/* Keys are bytes with a length: embedded NULs and the longest key. */
static void test_bytes_and_lengths(void **state)
{
    (void)state;
    keyset *s = NULL;
    char longest[KEYSET_MAX_KEY];
    memset(longest, 'z', sizeof longest);
    assert_int_equal(keyset_create(0, &s), RL_OK);
    assert_int_equal(keyset_add(s, "a\0b", 3), 1);
    assert_int_equal(keyset_add(s, "a", 1), 1); /* after "a\0b": out of order */
    assert_int_equal(keyset_add(s, "a\0c", 3), 1);
    assert_int_equal(keyset_add(s, "a\0b", 3), 0);
    assert_true(keyset_has(s, "a\0c", 3));
    assert_false(keyset_has(s, "a\0", 2));
    assert_int_equal(keyset_add(s, longest, sizeof longest), 1);
    assert_true(keyset_has(s, longest, sizeof longest));
    assert_false(keyset_has(s, longest, sizeof longest - 1));
    assert_false(keyset_has(s, longest, (size_t)KEYSET_MAX_KEY + 1)); /* too long: absent */
    keyset_free(s);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_switch_keeps_keys),
        cmocka_unit_test(test_bytes_and_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

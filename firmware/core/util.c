/* util.c: memory primitives for the freestanding core (see util.h). */
#include "util.h"

void tk_memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
}

void tk_memset(void *dst, uint8_t v, size_t n)
{
    uint8_t *d = dst;
    while (n--)
        *d++ = v;
}

int tk_memeq(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return 0;
    return 1;
}

secbool tk_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d = (uint8_t)(d | (x[i] ^ y[i]));
    /* d == 0 -> 0xAAAAAAAA; anything else -> 0: computed without a branch on the data. */
    uint32_t m = (uint32_t)d;
    m = (m | (0u - m)) >> 31; /* 1 if d != 0 */
    return (secbool)((m - 1u) & sectrue);
}

void tk_wipe(void *p, size_t n)
{
    volatile uint8_t *v = p;
    while (n--)
        *v++ = 0;
}

int tk_all(const void *p, uint8_t v, size_t n)
{
    const uint8_t *x = p;
    for (size_t i = 0; i < n; i++)
        if (x[i] != v)
            return 0;
    return 1;
}

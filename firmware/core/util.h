/* util.h: the few memory primitives the freestanding core needs.
 *
 * The core includes no libc header except the freestanding ones (stdint.h, stddef.h), so it
 * brings its own copy/fill/compare. Note for target builds: GCC may still emit calls to
 * memcpy, memmove, memset and memcmp for struct copies and recognised loops even with
 * -ffreestanding (documented GCC behaviour), so the target link must provide those four
 * symbols (newlib-nano, picolibc, or a tiny C file); on the host libc provides them. */
#ifndef TOKEN_CORE_UTIL_H
#define TOKEN_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "secbool.h"

void tk_memcpy(void *dst, const void *src, size_t n);
void tk_memset(void *dst, uint8_t v, size_t n);
/* Returns 1 if the n bytes are equal, 0 otherwise; early exit, for public data only. */
int tk_memeq(const void *a, const void *b, size_t n);
/* Constant-time comparison for values where timing must not leak (hashes being matched
 * against a signature). Returns sectrue if equal. */
secbool tk_ct_equal(const void *a, const void *b, size_t n);
/* Zeroes memory through a volatile pointer so the compiler cannot drop it. */
void tk_wipe(void *p, size_t n);
/* Returns 1 if all n bytes equal v. */
int tk_all(const void *p, uint8_t v, size_t n);

#define TK_MIN(a, b) ((a) < (b) ? (a) : (b))

#endif

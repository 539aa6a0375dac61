/* secbool: a glitch-resistant boolean for security decisions on the token.
 *
 * A fault injected into the MCU (voltage or clock glitch) most easily turns one bit or
 * skips one instruction. A plain C bool "true" is any non-zero value, so a single flipped
 * bit in a register can turn "signature bad" (0) into "signature good". secbool's true is
 * a wide bit pattern that no single flip reaches from false, and callers test with
 * `== sectrue` only (never `if (x)` or `!= secfalse`), so every value that is not exactly
 * sectrue counts as false. The idea is Trezor's (trezor-firmware core/embed/lib/secbool.h);
 * this file is our own. */
#ifndef TOKEN_SECBOOL_H
#define TOKEN_SECBOOL_H

#include <stdint.h>

typedef uint32_t secbool;

#define sectrue ((secbool)0xAAAAAAAAu)
#define secfalse ((secbool)0x00000000u)

#endif

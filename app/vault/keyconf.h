/* keyconf: the public keys a vault trusts (the main system's snapshot export key, the pay
 * rules key), kept as minisign public key text in the vault's configuration. Setting one is
 * an administrator's audited act; reading one needs any login. */
#ifndef RL_KEYCONF_H
#define RL_KEYCONF_H

#include <stddef.h>

#include "sig/minisig.h"
#include "vault/vault.h"

/* Config keys. */
#define KEYCONF_EXPORT "export_pubkey"
#define KEYCONF_RULES "rules_pubkey"

/* Parses text as a minisign public key and stores it under key (KEYCONF_*), audited as
 * "<what> set (key id ...)". Administrators only. RL_EDATA if text is not a public key. */
int keyconf_set(vault *v, const char *key, const char *text, size_t len, const char *what)
    __attribute__((warn_unused_result));

/* The same from a public key file. */
int keyconf_set_file(vault *v, const char *key, const char *path, const char *what)
    __attribute__((warn_unused_result));

/* The stored key. RL_EDATA naming what and the command that sets it if there is none. */
int keyconf_get(vault *v, const char *key, minisig_pubkey *pk) __attribute__((warn_unused_result));

#endif

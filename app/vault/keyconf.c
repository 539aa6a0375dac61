/* keyconf: trusted public keys in the vault's configuration (keyconf.h). */
#include "vault/keyconf.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"

int keyconf_set(vault *v, const char *key, const char *text, size_t len, const char *what)
{
    minisig_pubkey pk;
    char action[64], detail[200], id[17];
    snprintf(action, sizeof action, "setting the %s", what);
    int rc = vault_require_role(v, VAULT_ROLE_ADMIN, action);
    if (rc != RL_OK)
        return rc;
    if ((rc = minisig_pubkey_parse(text, len, &pk)) != RL_OK)
        return rc;
    /* The config value is text: a key file with a NUL inside is not a key file. */
    if (memchr(text, '\0', len) != NULL)
        return err_set(RL_EDATA, "the %s file contains a NUL byte", what);
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    memcpy(copy, text, len);
    copy[len] = '\0';
    sodium_bin2hex(id, sizeof id, pk.key_id, 8);
    snprintf(detail, sizeof detail, "%s set (key id %s)", what, id);
    if ((rc = vault_begin(v)) == RL_OK) {
        if ((rc = vault_config_set(v, key, copy)) != RL_OK ||
            (rc = vault_audit(v, "config.key", detail)) != RL_OK)
            vault_rollback(v);
        else
            rc = vault_commit(v);
    }
    free(copy);
    return rc;
}

int keyconf_set_file(vault *v, const char *key, const char *path, const char *what)
{
    char action[64];
    minisig_pubkey pk;
    char *text = NULL;
    size_t len = 0;
    snprintf(action, sizeof action, "setting the %s", what);
    /* The role first: an operator who may not set keys learns nothing about the file. */
    int rc = vault_require_role(v, VAULT_ROLE_ADMIN, action);
    if (rc != RL_OK)
        return rc;
    if ((rc = file_read_all(path, 4096, &text, &len)) != RL_OK)
        return rc;
    if ((rc = minisig_pubkey_parse(text, len, &pk)) != RL_OK)
        err_wrap(rc, "%s: ", path);
    else
        rc = keyconf_set(v, key, text, len, what);
    free(text);
    return rc;
}

int keyconf_get(vault *v, const char *key, minisig_pubkey *pk)
{
    char text[1024];
    int rc = vault_config_get(v, key, text, sizeof text);
    if (rc == RL_EDATA) {
        if (strcmp(key, KEYCONF_EXPORT) == 0)
            return err_set(RL_EDATA, "no snapshot export key is configured: an administrator "
                                     "sets it with 'config set-export-key FILE'");
        return err_set(RL_EDATA, "no pay-rules key is configured: an administrator sets it "
                                 "with 'config set-rules-key FILE'");
    }
    if (rc != RL_OK)
        return rc;
    return minisig_pubkey_parse(text, strlen(text), pk);
}

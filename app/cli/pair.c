/* pair: the operator's and the second approver's authentication (see pair.h). */
#include "cli/pair.h"

#include <sodium.h>
#include <stdio.h>

#include "cli/prompt.h"
#include "common/err.h"

int cli_open_vault(const char *dir, const char *as, const char *pass_file, vault **v)
{
    char *pass = NULL;
    size_t len = 0;
    int rc = cli_read_passphrase(pass_file, "passphrase: ", &pass, &len);
    if (rc != RL_OK)
        return rc;
    rc = vault_open(dir, as, pass, len, v);
    sodium_free(pass);
    return rc;
}

int cli_open_pair(vault *v, const char *second, const char *second_pass_file,
                  const char *action, signing_session **s)
{
    char *pass = NULL, prompt[128];
    size_t len = 0;
    snprintf(prompt, sizeof prompt, "passphrase of %.64s (second approver): ", second);
    int rc = cli_read_passphrase(second_pass_file, prompt, &pass, &len);
    if (rc != RL_OK)
        return rc;
    rc = signing_pair_open(v, second, pass, len, action, s);
    sodium_free(pass);
    return rc;
}

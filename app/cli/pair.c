/* pair: the operator's and the second approver's authentication (see pair.h). */
#include "cli/pair.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

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

int cli_parse(int argc, char **argv, const cli_opt *opts, size_t nopts, const char **pos,
              int maxpos, int *npos, const char *help)
{
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const cli_opt *o = NULL;
        for (size_t k = 0; k < nopts && o == NULL; k++)
            if (strcmp(s, opts[k].name) == 0)
                o = &opts[k];
        if (o == NULL && strncmp(s, "--", 2) == 0)
            return err_set(RL_EUSAGE, "%s: unknown option\n%s", s, help);
        if (o == NULL) {
            if (*npos >= maxpos)
                return err_set(RL_EUSAGE, "too many arguments\n%s", help);
            pos[(*npos)++] = s;
        } else if (o->flag != NULL) {
            *o->flag = 1;
        } else {
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
                return err_set(RL_EUSAGE, "%s needs a value", s);
            if (*o->value != NULL)
                return err_set(RL_EUSAGE, "%s is given twice", s);
            *o->value = argv[++i];
        }
    }
    return RL_OK;
}

/* cmd_token: the `reservlon token ...` commands (placeholder until wired to app/token). */
#include "cli/cmd_token.h"

#include "common/err.h"

int cmd_token(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return err_set(RL_EUSAGE, "token commands: not available yet");
}

/* reservlon: the command-line entry point of the appliance. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        puts("reservlon 0.1");
        return 0;
    }
    fprintf(stderr, "usage: reservlon --vault V COMMAND ...\n");
    return err_exit_code(RL_EUSAGE);
}

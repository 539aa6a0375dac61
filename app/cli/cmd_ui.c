/* cmd_ui: the command line of the terminal user interface (see cmd_ui.h). */
#include "cli/cmd_ui.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "ui/ui.h"

/* Reads --vault and --lang and the optional word `ui`; returns 1 if that is all there is,
 * 0 if anything else is on the line, and sets *word when `ui` was given. */
static int parse(int argc, char **argv, const char **vault, const char **lang, int *word)
{
    *vault = *lang = NULL;
    *word = 0;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--vault") == 0 || strcmp(argv[i], "--lang") == 0) &&
            i + 1 < argc) {
            const char **slot = argv[i][2] == 'v' ? vault : lang;
            if (*slot != NULL)
                return 0;
            *slot = argv[++i];
        } else if (strcmp(argv[i], "ui") == 0 && !*word) {
            *word = 1;
        } else {
            return 0;
        }
    }
    return 1;
}

int cmd_ui_wanted(int argc, char **argv)
{
    const char *vault, *lang;
    int word;
    /* The command word: the first argument that is not an option or an option's value. */
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0)
            return strcmp(argv[i], "ui") == 0; /* cmd_ui reports anything else on the line */
        if (strcmp(argv[i], "--vault") == 0 || strcmp(argv[i], "--lang") == 0 ||
            strcmp(argv[i], "--as") == 0 || strcmp(argv[i], "--passphrase-file") == 0)
            i++;
    }
    return parse(argc, argv, &vault, &lang, &word) && isatty(STDIN_FILENO) &&
           isatty(STDOUT_FILENO);
}

int cmd_ui(int argc, char **argv)
{
    const char *vault, *lang;
    int word;
    if (!parse(argc, argv, &vault, &lang, &word))
        return err_set(RL_EUSAGE, "usage: reservlon [--vault DIR] [--lang sv|en] ui");
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
        return err_set(RL_EUSAGE, "the terminal interface needs a terminal; use the commands "
                                  "(reservlon --help) in scripts");
    return ui_run(vault, lang);
}

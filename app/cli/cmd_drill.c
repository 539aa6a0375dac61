/* cmd_drill: `reservlon drill` (see cmd_drill.h). The drill makes its own vault and
 * operators, so it takes none of the global options; it asks for no passphrase. */
#include "cli/cmd_drill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/pair.h"
#include "common/err.h"
#include "drill/drill.h"

static const char help_text[] =
    "usage: reservlon drill --snapshot DIR --export-pubkey KEY.pub --rules-pubkey KEY.pub\n"
    "                       --out DIR [--mix N] [--rules FILE] [--token auto|require|skip]\n"
    "\n"
    "  Runs the whole outage chain on a new, throwaway vault in DIR (which must not exist or\n"
    "  be empty): import, registrations, approvals, pay run, two-person release, the signed\n"
    "  DRILL payment file, the USB token, the journal, the reference import, reconciliation.\n"
    "  Writes DIR/report.md and DIR/report.html. --mix: documents of each type (default 3).\n"
    "  --token auto (default) uses a plugged-in blank drill token and skips those steps if\n"
    "  there is none; require fails without one.\n";

int cmd_drill(int argc, char **argv)
{
    const char *pos[4], *mix = NULL, *token = NULL;
    int npos = 0;
    drill_options o;
    memset(&o, 0, sizeof o);
    const cli_opt opts[] = {{"--snapshot", &o.snapshot_dir, NULL},
                            {"--export-pubkey", &o.export_pubkey, NULL},
                            {"--rules-pubkey", &o.rules_pubkey, NULL},
                            {"--rules", &o.rules_path, NULL},
                            {"--out", &o.out_dir, NULL},
                            {"--mix", &mix, NULL},
                            {"--token", &token, NULL}};
    int rc = cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], pos,
                       (int)(sizeof pos / sizeof pos[0]), &npos, help_text);
    if (rc != RL_OK)
        return rc;
    if (npos != 1 || !o.snapshot_dir || !o.export_pubkey || !o.rules_pubkey || !o.out_dir)
        return err_set(RL_EUSAGE, "drill needs --snapshot, --export-pubkey, --rules-pubkey and "
                                  "--out\n%s",
                       help_text);
    if (mix != NULL) {
        char *end = NULL;
        long n = strtol(mix, &end, 10);
        if (end == mix || *end != '\0' || n < 1 || n > 50)
            return err_set(RL_EUSAGE, "--mix is a number of documents per type, 1-50");
        o.mix = (unsigned)n;
    }
    if (token == NULL || strcmp(token, "auto") == 0)
        o.token = DRILL_TOKEN_AUTO;
    else if (strcmp(token, "require") == 0)
        o.token = DRILL_TOKEN_REQUIRE;
    else if (strcmp(token, "skip") == 0)
        o.token = DRILL_TOKEN_SKIP;
    else
        return err_set(RL_EUSAGE, "--token is auto, require or skip");
    o.out = stdout;
    o.progress = isatty(STDERR_FILENO) ? stderr : NULL;
    drill_result r;
    rc = drill_run(&o, &r);
    if (r.report_md[0])
        printf("drill %s: %u steps, %u passed, %u failed or not run, %u skipped\nreport: %s\n"
               "       %s\n",
               rc == RL_OK ? "passed" : "FAILED", r.steps, r.passed, r.failed, r.skipped,
               r.report_md, r.report_html);
    return rc;
}

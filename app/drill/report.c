/* drill report: report.md and report.html of a continuity drill (report.h). */
#include "drill/report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/html.h"
#include "common/fileio.h"
#include "vault/vault.h"

void drill_report_begin(drill_report *r, const char *snapshot, unsigned mix)
{
    memset(r, 0, sizeof *r);
    vault_now(r->started);
    snprintf(r->snapshot, sizeof r->snapshot, "%s", snapshot);
    r->mix = mix;
}

void drill_report_step(drill_report *r, const char *name, double secs, drill_status st,
                       const char *detail)
{
    if (r->nsteps == DRILL_REPORT_STEPS)
        return;
    snprintf(r->steps[r->nsteps].name, sizeof r->steps[0].name, "%s", name);
    snprintf(r->steps[r->nsteps].detail, sizeof r->steps[0].detail, "%s", detail);
    r->steps[r->nsteps].secs = secs;
    r->steps[r->nsteps].st = st;
    r->nsteps++;
    r->total_secs += secs;
}

void drill_report_fact(drill_report *r, const char *label, const char *fmt, ...)
{
    if (r->nfacts == DRILL_REPORT_FACTS)
        return;
    va_list ap;
    va_start(ap, fmt);
    snprintf(r->facts[r->nfacts][0], sizeof r->facts[0][0], "%s", label);
    vsnprintf(r->facts[r->nfacts][1], sizeof r->facts[0][1], fmt, ap);
    va_end(ap);
    r->nfacts++;
}

void drill_report_warn(drill_report *r, const char *fmt, ...)
{
    if (r->nwarns == DRILL_REPORT_WARNS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->warns[r->nwarns++], sizeof r->warns[0], fmt, ap);
    va_end(ap);
}

const char *drill_status_name(drill_status st)
{
    static const char *const names[] = {"PASS", "FAIL", "SKIPPED", "NOT RUN"};
    return names[st];
}

const char *drill_report_first_failure(const drill_report *r)
{
    for (size_t i = 0; i < r->nsteps; i++)
        if (r->steps[i].st == DRILL_FAIL)
            return r->steps[i].name;
    return "";
}

void drill_report_counts(const drill_report *r, unsigned *steps, unsigned *passed,
                         unsigned *failed, unsigned *skipped)
{
    *steps = *passed = *failed = *skipped = 0;
    for (size_t i = 0; i < r->nsteps; i++) {
        (*steps)++;
        *passed += r->steps[i].st == DRILL_PASS;
        *failed += r->steps[i].st == DRILL_FAIL || r->steps[i].st == DRILL_NOT_RUN;
        *skipped += r->steps[i].st == DRILL_SKIPPED;
    }
}

/* What to practise: always the people-side skills the drill cannot exercise, plus what this
 * drill showed. */
static const char *const practise[] = {
    "Key ceremony: two approvers present together, each typing their own passphrase, and the "
    "holder of the token enrolment authority. The public key goes to the bank and onto every "
    "token; note its key id.",
    "Releasing the pay run and signing the payment file: the second approver compares the "
    "number of payments and the total with the pay run review before signing.",
    "The token hand-over: the receiving side reads the file back, checks it with `minisign -V` "
    "and the public key, and marks it collected.",
    "People left out of the payment file (no valid account): pay each another way the same "
    "day, write down how, and have a correct account registered before the next run.",
    "When the main system is back: export the journal, carry it over, and have the main "
    "system import it; give payroll the reconciliation so the next regular run settles the "
    "differences.",
};

static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

static bool passed_all(const drill_report *r)
{
    unsigned n, p, f, s;
    drill_report_counts(r, &n, &p, &f, &s);
    return f == 0;
}

static void write_md(const drill_report *r, FILE *f)
{
    unsigned n, p, fl, s;
    drill_report_counts(r, &n, &p, &fl, &s);
    fprintf(f, "# Reservlön continuity drill: %s\n\n", passed_all(r) ? "PASS" : "FAIL");
    fprintf(f, "- started: %s (UTC)\n- snapshot: ", r->started);
    md_cell(f, r->snapshot);
    fprintf(f, "\n- documents: %u of each type\n- steps: %u, passed %u, failed or not run %u, "
               "skipped %u; %.1f s in all\n",
            r->mix, n, p, fl, s, r->total_secs);
    fputs("- everything made is marked as a drill (DRILL- message ids and file names, "
          "mode=drill signatures, the token's drill class); nothing from a drill goes to a "
          "bank\n\n## Steps\n\n| # | step | seconds | result | details |\n|---|---|---:|---|---|\n",
          f);
    for (size_t i = 0; i < r->nsteps; i++) {
        fprintf(f, "| %zu | ", i + 1);
        md_cell(f, r->steps[i].name);
        if (r->steps[i].st == DRILL_NOT_RUN)
            fputs(" | - | ", f);
        else
            fprintf(f, " | %.2f | ", r->steps[i].secs);
        fprintf(f, "%s | ", drill_status_name(r->steps[i].st));
        md_cell(f, r->steps[i].detail);
        fputs(" |\n", f);
    }
    fputs("\n## Counts and totals\n\n| | |\n|---|---|\n", f);
    for (size_t i = 0; i < r->nfacts; i++) {
        fputs("| ", f);
        md_cell(f, r->facts[i][0]);
        fputs(" | ", f);
        md_cell(f, r->facts[i][1]);
        fputs(" |\n", f);
    }
    fputs("\n## Warnings\n\n", f);
    if (r->nwarns == 0)
        fputs("None.\n", f);
    for (size_t i = 0; i < r->nwarns; i++)
        fprintf(f, "- %s\n", r->warns[i]);
    fputs("\n## What to practise\n\n", f);
    const char *failed = drill_report_first_failure(r);
    if (failed[0])
        fprintf(f, "- **This drill failed at \"%s\".** Find the cause with the message above, "
                   "fix it and run the drill again before relying on the appliance.\n",
                failed);
    for (size_t i = 0; i < sizeof practise / sizeof practise[0]; i++)
        fprintf(f, "- %s\n", practise[i]);
}

static void write_html(const drill_report *r, FILE *f)
{
    unsigned n, p, fl, s;
    drill_report_counts(r, &n, &p, &fl, &s);
    bool ok = passed_all(r);
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<title>Reservlön continuity drill</title>\n<style>\n"
          "body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}\n"
          "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;"
          "padding:.3em .6em;text-align:left;vertical-align:top}\n"
          "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
          ".PASS{color:#060;font-weight:bold}.FAIL{color:#b00;font-weight:bold}"
          ".SKIPPED,.NOT{color:#a60;font-weight:bold}\n"
          ".banner{padding:.6em 1em;font-size:1.3em}.ok{background:#e4f4e4}.bad{background:#fbe3e3}\n"
          "</style>\n</head>\n<body>\n",
          f);
    fprintf(f, "<h1>Reservlön continuity drill</h1>\n<p class=\"banner %s\">%s: %u of %u steps "
               "passed",
            ok ? "ok" : "bad", ok ? "PASS" : "FAIL", p, n);
    if (s)
        fprintf(f, ", %u skipped", s);
    fprintf(f, " (%.1f s)</p>\n<ul>\n<li>started %s (UTC)</li>\n<li>snapshot: ", r->total_secs,
            r->started);
    html_write_text(f, r->snapshot);
    fprintf(f, "</li>\n<li>documents: %u of each type</li>\n<li>everything made is marked as a "
               "drill (DRILL- message ids and file names, mode=drill signatures, the token's "
               "drill class); nothing from a drill goes to a bank</li>\n</ul>\n",
            r->mix);
    fputs("<h2>Steps</h2>\n<table>\n<tr><th>#</th><th>step</th><th>seconds</th><th>result</th>"
          "<th>details</th></tr>\n",
          f);
    for (size_t i = 0; i < r->nsteps; i++) {
        const char *st = drill_status_name(r->steps[i].st);
        fprintf(f, "<tr><td class=\"n\">%zu</td><td>", i + 1);
        html_write_text(f, r->steps[i].name);
        if (r->steps[i].st == DRILL_NOT_RUN)
            fputs("</td><td class=\"n\">-</td>", f);
        else
            fprintf(f, "</td><td class=\"n\">%.2f</td>", r->steps[i].secs);
        fprintf(f, "<td class=\"%.4s\">%s</td><td>", st, st);
        html_write_text(f, r->steps[i].detail);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n<h2>Counts and totals</h2>\n<table>\n", f);
    for (size_t i = 0; i < r->nfacts; i++) {
        fputs("<tr><th>", f);
        html_write_text(f, r->facts[i][0]);
        fputs("</th><td>", f);
        html_write_text(f, r->facts[i][1]);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n<h2>Warnings</h2>\n", f);
    if (r->nwarns == 0)
        fputs("<p>None.</p>\n", f);
    else {
        fputs("<ul>\n", f);
        for (size_t i = 0; i < r->nwarns; i++) {
            fputs("<li>", f);
            html_write_text(f, r->warns[i]);
            fputs("</li>\n", f);
        }
        fputs("</ul>\n", f);
    }
    fputs("<h2>What to practise</h2>\n<ul>\n", f);
    const char *failed = drill_report_first_failure(r);
    if (failed[0]) {
        fputs("<li><strong>This drill failed at &quot;", f);
        html_write_text(f, failed);
        fputs("&quot;.</strong> Find the cause with the message in the table, fix it and run "
              "the drill again before relying on the appliance.</li>\n",
              f);
    }
    for (size_t i = 0; i < sizeof practise / sizeof practise[0]; i++) {
        fputs("<li>", f);
        html_write_text(f, practise[i]);
        fputs("</li>\n", f);
    }
    fputs("</ul>\n</body>\n</html>\n", f);
}

/* Renders into memory, then writes atomically: a report is whole or absent. */
static int write_one(const drill_report *r, const char *path, void (*fn)(const drill_report *, FILE *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return err_set(RL_ENOMEM, "out of memory");
    fn(r, f);
    int rc = fclose(f) == 0 ? RL_OK : err_set(RL_ENOMEM, "out of memory");
    if (rc == RL_OK)
        rc = file_write_atomic(path, buf, len, 0600);
    free(buf);
    return rc;
}

int drill_report_write(const drill_report *r, const char *dir, char *md, size_t md_cap,
                       char *html, size_t html_cap)
{
    if ((size_t)snprintf(md, md_cap, "%s/report.md", dir) >= md_cap ||
        (size_t)snprintf(html, html_cap, "%s/report.html", dir) >= html_cap)
        return err_set(RL_EUSAGE, "drill: the drill directory's path is too long");
    int rc = write_one(r, md, write_md);
    if (rc == RL_OK)
        rc = write_one(r, html, write_html);
    return rc;
}
